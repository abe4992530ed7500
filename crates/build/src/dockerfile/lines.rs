//! Physical lines to logical lines, as BuildKit's parser reads them:
//! comments dropped, the escape character at the end of a line joins the
//! next one (comment lines and blank lines inside such a continuation are
//! skipped), and heredoc bodies are read on request, raw.

use super::directives::Directives;

/// One instruction's text.
#[derive(Debug, Clone)]
pub(crate) struct Logical {
    /// The joined text (continuations removed, first line's indentation
    /// removed).
    pub text: String,
    /// 1-based first line (the last one is [`Lines::read`] after it).
    pub start: usize,
    /// 1-based column of the first character of the first line.
    pub column: usize,
    /// The first physical line as written, without its newline.
    pub first: String,
}

/// A cursor over a Dockerfile's physical lines.
pub(crate) struct Lines<'a> {
    lines: Vec<&'a str>,
    /// Lines consumed so far: the 1-based number of the last one read.
    pub read: usize,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Lines {
            lines: text.split_inclusive('\n').collect(),
            read: 0,
        }
    }

    fn next_raw(&mut self) -> Option<&'a str> {
        let line = self.lines.get(self.read).copied()?;
        self.read += 1;
        Some(line)
    }

    /// The next instruction's text, feeding every line to the directive
    /// parser on the way. An error is (line, message).
    pub fn next_logical(
        &mut self,
        directives: &mut Directives,
    ) -> Result<Option<Logical>, (usize, String)> {
        while let Some(raw) = self.next_raw() {
            let trimmed = trim_newline(raw);
            let stripped = trimmed.trim_start();
            directives.feed(stripped).map_err(|e| (self.read, e))?;
            let start = self.read;
            let content = if is_comment(stripped) { "" } else { stripped };
            let (first_part, mut done) = trim_continuation(content, directives.escape);
            if done && first_part.is_empty() {
                continue;
            }
            let mut text = first_part.to_string();
            while !done {
                let Some(raw) = self.next_raw() else { break };
                let line = trim_newline(raw);
                directives.feed(line).map_err(|e| (self.read, e))?;
                if is_comment(line) || line.trim_start().is_empty() {
                    continue;
                }
                let (part, end) = trim_continuation(line, directives.escape);
                text.push_str(part);
                done = end;
            }
            let indent = trimmed.chars().count() - stripped.chars().count();
            return Ok(Some(Logical {
                text,
                start,
                column: indent + 1,
                first: trimmed.to_string(),
            }));
        }
        Ok(None)
    }

    /// Reads a heredoc's body up to its terminator line (which may be
    /// indented with tabs when `chomp`); `None` when the file ends first.
    /// The body is raw: newlines kept, tabs not removed yet.
    pub fn heredoc_body(&mut self, name: &str, chomp: bool) -> Option<String> {
        let mut body = String::new();
        while let Some(raw) = self.next_raw() {
            let mut candidate = trim_newline(raw);
            if chomp {
                candidate = candidate.trim_start_matches('\t');
            }
            if candidate == name {
                return Some(body);
            }
            body.push_str(raw);
        }
        None
    }
}

fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Removes a continuation (the escape character, then only spaces and
/// tabs, at the end of the line, not itself escaped); true when the line
/// does not continue.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line, true);
    };
    // BuildKit's regex needs a non-escape character before it (or none),
    // so `\\` at the end is no continuation.
    if before.ends_with(escape) {
        return (line, true);
    }
    (before, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logical(text: &str) -> Vec<(String, usize, usize)> {
        let mut d = Directives::default();
        let mut lines = Lines::new(text);
        let mut out = Vec::new();
        while let Some(l) = lines.next_logical(&mut d).unwrap() {
            out.push((l.text, l.start, lines.read));
        }
        out
    }

    #[test]
    fn continuations_and_comments() {
        let got = logical(
            "FROM a\n\n  # c\nRUN a \\\n  b \\\n# inner comment\n\n   \n  c\nCMD x\\\\\nUSER u \\\t \n",
        );
        assert_eq!(
            got,
            vec![
                ("FROM a".to_string(), 1, 1),
                ("RUN a   b   c".to_string(), 4, 9),
                ("CMD x\\\\".to_string(), 10, 10),
                ("USER u ".to_string(), 11, 11),
            ]
        );
    }

    #[test]
    fn escape_on_its_own_line_and_crlf() {
        let got = logical("RUN a\\\r\n\\\r\nb\r\n");
        assert_eq!(got, vec![("RUN ab".to_string(), 1, 3)]);
    }

    #[test]
    fn backtick_and_bom() {
        let mut d = Directives::default();
        let mut lines = Lines::new("\u{feff}# escape=`\nRUN a `\n b\\\n");
        let l = lines.next_logical(&mut d).unwrap().unwrap();
        assert_eq!((l.text.as_str(), l.start, lines.read), ("RUN a  b\\", 2, 3));
    }

    #[test]
    fn heredoc_bodies() {
        let mut lines = Lines::new("x\n\tb\n\tEOF\nEOF\n");
        assert_eq!(
            lines.heredoc_body("EOF", false).as_deref(),
            Some("x\n\tb\n\tEOF\n")
        );
        let mut lines = Lines::new("x\n\tEOF\n");
        assert_eq!(lines.heredoc_body("EOF", true).as_deref(), Some("x\n"));
        let mut lines = Lines::new("x\n");
        assert_eq!(lines.heredoc_body("EOF", false), None);
    }
}

//! Parser directives: `# syntax=`, `# escape=`, `# check=` comments at the
//! very top of the file. The first line that is not one (an instruction,
//! another comment, an empty line) ends them; later ones are comments.

use std::collections::HashSet;

/// The directives read so far.
#[derive(Debug)]
pub(crate) struct Directives {
    pub escape: char,
    pub syntax: Option<String>,
    seen: HashSet<String>,
    done: bool,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
            seen: HashSet::new(),
            done: false,
        }
    }
}

impl Directives {
    /// Looks at a line (newline and leading whitespace removed) while
    /// directives may still come. Errors are BuildKit's words.
    pub fn feed(&mut self, line: &str) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Some((key, value)) = line.strip_prefix('#').and_then(directive) else {
            self.done = true;
            return Ok(());
        };
        let key = key.to_ascii_lowercase();
        if !matches!(key.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(());
        }
        if !self.seen.insert(key.clone()) {
            return Err(format!("only one {key} parser directive can be used"));
        }
        match key.as_str() {
            "escape" => {
                self.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err(format!(
                            "invalid escape token '{other}' does not match ` or \\"
                        ))
                    }
                }
            }
            "syntax" => self.syntax = Some(value.to_string()),
            // Lint configuration: berth has no linter.
            _ => {}
        }
        Ok(())
    }
}

/// `name = value` (BuildKit's `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
/// after the `#` and leading whitespace).
fn directive(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    let mut chars = text.char_indices();
    chars.next().filter(|(_, c)| c.is_ascii_alphabetic())?;
    let key_end = chars
        .find(|(_, c)| !c.is_ascii_alphanumeric())
        .map_or(text.len(), |(i, _)| i);
    let (key, rest) = text.split_at(key_end);
    let rest = rest.trim_start_matches(is_re_space).strip_prefix('=')?;
    let value = rest.trim_start_matches(is_re_space);
    let value = value.trim_end_matches(is_re_space);
    if !value.is_empty() {
        return Some((key, value));
    }
    // `.+?` needs one character: the regex backtracks into the spaces.
    rest.chars().last().map(|_| (key, &rest[rest.len() - 1..]))
}

fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_syntax() {
        assert_eq!(directive(" escape = `"), Some(("escape", "`")));
        assert_eq!(
            directive("syntax=docker/dockerfile:1 "),
            Some(("syntax", "docker/dockerfile:1"))
        );
        assert_eq!(directive("escape"), None);
        assert_eq!(directive("1escape=x"), None);
        assert_eq!(directive("esc ape=x"), None);
        assert_eq!(directive("escape=  "), Some(("escape", " ")));
        assert_eq!(directive("escape="), None);
    }

    #[test]
    fn first_non_directive_ends_them() {
        let mut d = Directives::default();
        d.feed("# syntax=a").unwrap();
        d.feed("# check=skip=all").unwrap();
        d.feed("# hello").unwrap();
        d.feed("# escape=`").unwrap();
        assert_eq!(d.escape, '\\');
        assert_eq!(d.syntax.as_deref(), Some("a"));
    }

    #[test]
    fn errors() {
        let mut d = Directives::default();
        d.feed("# ESCAPE=`").unwrap();
        assert_eq!(d.escape, '`');
        assert_eq!(
            d.feed("#escape=\\").unwrap_err(),
            "only one escape parser directive can be used"
        );
        let mut d = Directives::default();
        assert_eq!(
            d.feed("# escape=x").unwrap_err(),
            "invalid escape token 'x' does not match ` or \\"
        );
    }
}

//! Heredoc words (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) on `RUN`, `COPY`
//! and `ADD` lines, found as BuildKit finds them: the line is split into
//! shell words with quotes kept, and a word that is `[digits]<<[-]WORD`
//! as a whole starts a heredoc (so `"<<EOF"` or `a<<EOF` do not).

use super::expand::{self, Mode};

/// A heredoc word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// The terminator, quotes removed.
    pub name: String,
    /// `<<-`: leading tabs are removed from the body and the terminator.
    pub chomp: bool,
    /// False when any part of the word was quoted.
    pub expand: bool,
}

/// Parses one word; `None` when it is no heredoc.
pub(crate) fn parse_word(word: &str) -> Result<Option<Word>, String> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(rest) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches(['\t', '\n', '\x0c', '\r', ' ']);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    // Lexed with and without quote removal: a quote that disappears
    // means the word was quoted, and the body is taken literally.
    let lex = |raw_quotes| {
        let mode = Mode {
            raw_quotes,
            skip_unset: true,
            ..Mode::default()
        };
        expand::words_with(rest, '\\', mode, &expand::no_env).map_err(|e| e.to_string())
    };
    let words = lex(false)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    let raw = lex(true)?;
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    let expand = raw.len() == 1 && quotes(name) == quotes(&raw[0]);
    Ok(Some(Word {
        name: name.clone(),
        chomp,
        expand,
    }))
}

/// The heredocs a line starts, in order.
pub(crate) fn in_line(line: &str) -> Result<Vec<Word>, String> {
    if !line.contains("<<") {
        return Ok(Vec::new());
    }
    let mode = Mode {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset: true,
        ..Mode::default()
    };
    // A line that does not lex (an open quote) has no heredoc.
    let words = expand::words_with(line, '\\', mode, &expand::no_env).unwrap_or_default();
    let mut out = Vec::new();
    for word in words {
        out.extend(parse_word(&word)?);
    }
    Ok(out)
}

/// Removes the leading tabs of every line (`<<-`).
pub(crate) fn chomp(body: &str) -> String {
    body.split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(name: &str, chomp: bool, expand: bool) -> Word {
        Word {
            name: name.into(),
            chomp,
            expand,
        }
    }

    #[test]
    fn words() {
        assert_eq!(parse_word("<<EOF").unwrap(), Some(w("EOF", false, true)));
        assert_eq!(parse_word("<<-EOF").unwrap(), Some(w("EOF", true, true)));
        assert_eq!(parse_word("<<'EOF'").unwrap(), Some(w("EOF", false, false)));
        assert_eq!(
            parse_word("<<\"EOF\"").unwrap(),
            Some(w("EOF", false, false))
        );
        assert_eq!(
            parse_word("<<E\"O\"F").unwrap(),
            Some(w("EOF", false, false))
        );
        assert_eq!(parse_word("3<<EOF").unwrap(), Some(w("EOF", false, true)));
        assert_eq!(parse_word("<< EOF").unwrap(), Some(w("EOF", false, true)));
        assert_eq!(parse_word("<<").unwrap(), None);
        assert_eq!(parse_word("a<<EOF").unwrap(), None);
        assert_eq!(parse_word("<<EOF<<X").unwrap(), None);
        assert_eq!(parse_word("\"<<EOF\"").unwrap(), None);
        assert!(parse_word("<<'EOF").is_err());
    }

    #[test]
    fn lines() {
        let names = |l: &str| {
            in_line(l)
                .unwrap()
                .into_iter()
                .map(|w| w.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names("RUN cat <<EOF1 <<-EOF2 > x"), vec!["EOF1", "EOF2"]);
        assert_eq!(names("RUN echo \"<<EOF\" '<<X'"), Vec::<String>::new());
        assert_eq!(names("RUN echo a<<EOF"), Vec::<String>::new());
        assert_eq!(names("RUN 'open <<EOF"), Vec::<String>::new());
        assert_eq!(names("COPY << FILE /dest"), vec!["FILE"]);
        assert_eq!(names("RUN python3 <<'PY'"), vec!["PY"]);
    }

    #[test]
    fn chomping() {
        assert_eq!(chomp("\ta\n\t\tb\n  c\n"), "a\nb\n  c\n");
    }
}

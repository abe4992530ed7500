//! A logical line to a node: keyword, `--flags`, and the arguments split
//! the way each instruction's syntax wants (BuildKit's line parsers): JSON
//! or shell form, whitespace-separated words, `key=value` pairs with quotes
//! kept, the whole rest as one string, or a sub-instruction (`ONBUILD`).
//! Variables are not touched here.

use super::error::Problem;

/// One instruction before its arguments are checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    /// As written (case kept).
    pub keyword: String,
    /// `--name=value` words before the arguments, quotes removed.
    pub flags: Vec<String>,
    /// The arguments; `key, value, separator` triples for `ENV`/`LABEL`
    /// (separator `=` or empty for the old `ENV key value` form).
    pub args: Vec<String>,
    /// The arguments were a JSON array.
    pub json: bool,
    /// `ONBUILD`'s trigger.
    pub child: Option<Box<Node>>,
}

impl Node {
    pub fn lower(&self) -> String {
        self.keyword.to_ascii_lowercase()
    }

    /// Whether heredocs are looked for on the line (BuildKit's
    /// `canContainHeredoc`): `RUN`, `COPY`, `ADD`, also as `ONBUILD`
    /// triggers, not in JSON form.
    pub fn can_contain_heredoc(&self) -> bool {
        let node = match (&self.child, self.lower().as_str()) {
            (Some(child), "onbuild") => child,
            _ => self,
        };
        matches!(node.lower().as_str(), "run" | "copy" | "add") && !node.json
    }
}

/// BuildKit's `[\t\v\f\r ]+`.
fn is_sep(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Parses one logical line.
pub(crate) fn parse(line: &str, escape: char) -> Result<Node, Problem> {
    let line = line.trim();
    let (keyword, rest) = match line.find(is_sep) {
        Some(i) => (&line[..i], line[i..].trim_start_matches(is_sep)),
        None => (line, ""),
    };
    let (rest, flags) = extract_flags(rest, escape);
    let rest = rest.trim();
    let mut node = Node {
        keyword: keyword.to_string(),
        flags,
        ..Node::default()
    };
    match node.lower().as_str() {
        "add" | "copy" | "volume" => maybe_json_to_list(&mut node, rest)?,
        "arg" => node.args = words(rest, escape),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(&mut node, rest)?,
        "env" | "label" => {
            node.args = name_values(rest, &node.keyword.to_ascii_uppercase(), escape)?
        }
        "expose" | "from" => node.args = split_whitespace(rest),
        "healthcheck" => health(&mut node, rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" if !rest.is_empty() => {
            node.args = vec![rest.to_string()];
        }
        "onbuild" if !rest.is_empty() => {
            let child = parse(rest, escape)?;
            node.args = vec![child.keyword.clone()];
            node.args.extend(child.args.iter().cloned());
            node.child = Some(Box::new(child));
        }
        // Unknown instructions are refused when the node is read.
        _ => {}
    }
    Ok(node)
}

/// Takes the leading `--flag` words (quotes removed, escapes applied);
/// a `--` word ends them. Returns the rest of the line and the flags.
fn extract_flags(line: &str, escape: char) -> (&str, Vec<String>) {
    let mut flags = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &line[pos..];
        let start = rest.len() - rest.trim_start().len();
        pos += start;
        let rest = &line[pos..];
        if !rest.starts_with("--") {
            return (rest, flags);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut blank_ok = false;
        let mut chars = rest.char_indices().peekable();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            match quote {
                None if c.is_whitespace() => {
                    end = i;
                    break;
                }
                None if c == '\'' || c == '"' => {
                    quote = Some(c);
                    blank_ok = true;
                }
                Some(q) if c == q => quote = None,
                _ if c == escape => match chars.next() {
                    Some((_, e)) => word.push(e),
                    // An escape at the end is dropped (and closes a quote).
                    None => quote = None,
                },
                _ => word.push(c),
            }
        }
        pos += end;
        if word == "--" {
            return (&line[pos..], flags);
        }
        if blank_ok || !word.is_empty() {
            flags.push(word);
        }
        if pos >= line.len() {
            return ("", flags);
        }
    }
}

/// Words separated by whitespace, quotes and escapes kept (BuildKit's
/// `parseWords`).
pub(crate) fn words(rest: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if in_word && (blank_ok || !word.is_empty()) {
                    out.push(std::mem::take(&mut word));
                }
                in_word = false;
                blank_ok = false;
            }
            None => {
                in_word = true;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    if let Some(e) = chars.next() {
                        word.push(c);
                        word.push(e);
                    }
                    continue;
                }
                word.push(c);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
                if c == escape && q != '\'' {
                    match chars.next() {
                        Some(e) => {
                            word.push(c);
                            word.push(e);
                        }
                        None => quote = None,
                    }
                    continue;
                }
                word.push(c);
            }
        }
    }
    if blank_ok || !word.is_empty() {
        out.push(word);
    }
    out
}

fn split_whitespace(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    rest.split(is_sep)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

const NOT_STRINGS: &str = "when using JSON array syntax, arrays must be comprised of strings only";

/// A JSON array of strings; `Ok(None)` when the text is not a JSON array
/// (then it is shell form), an error when it is an array of other things.
fn json_array(rest: &str) -> Result<Option<Vec<String>>, Problem> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Ok(None);
    };
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(Problem::new(NOT_STRINGS)),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn maybe_json(node: &mut Node, rest: &str) -> Result<(), Problem> {
    if rest.is_empty() {
        return Ok(());
    }
    match json_array(rest)? {
        Some(args) => {
            node.args = args;
            node.json = true;
        }
        None => node.args = vec![rest.to_string()],
    }
    Ok(())
}

fn maybe_json_to_list(node: &mut Node, rest: &str) -> Result<(), Problem> {
    match json_array(rest)? {
        Some(args) => {
            node.args = args;
            node.json = true;
        }
        None => node.args = split_whitespace(rest),
    }
    Ok(())
}

/// `HEALTHCHECK TYPE rest`: the type, then `rest` as `CMD` would parse it.
fn health(node: &mut Node, rest: &str) -> Result<(), Problem> {
    let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if sep == 0 {
        return Ok(());
    }
    let (typ, cmd) = rest.split_at(sep);
    maybe_json(node, cmd.trim_start())?;
    node.args.insert(0, typ.to_string());
    Ok(())
}

/// `ENV`/`LABEL`: `k=v k2="v 2"` (quotes kept) or the old `k v w`, as
/// `key, value, separator` triples.
fn name_values(rest: &str, keyword: &str, escape: char) -> Result<Vec<String>, Problem> {
    let all = words(rest, escape);
    let Some(first) = all.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let mut parts = rest.splitn(2, is_sep);
        let key = parts.next().unwrap_or_default();
        let Some(value) = parts.next() else {
            return Err(Problem::new(format!("{keyword} must have two arguments")));
        };
        return Ok(vec![
            key.to_string(),
            value.trim_start_matches(is_sep).to_string(),
            String::new(),
        ]);
    }
    let mut out = Vec::new();
    for word in all {
        let Some((key, value)) = word.split_once('=') else {
            return Err(Problem::at(
                format!("Syntax error - can't find = in {word:?}. Must be of the form: name=value"),
                word,
            ));
        };
        out.extend([key.to_string(), value.to_string(), "=".to_string()]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Node {
        parse(line, '\\').unwrap()
    }

    #[test]
    fn flags() {
        let n = p("COPY --from=a --chown=\"u g\" --link -- --x y");
        assert_eq!(n.flags, vec!["--from=a", "--chown=u g", "--link"]);
        assert_eq!(n.args, vec!["--x", "y"]);
        let n = p("RUN --mount=type=cache,target=/x\\ y echo hi");
        assert_eq!(n.flags, vec!["--mount=type=cache,target=/x y"]);
        assert_eq!(n.args, vec!["echo hi"]);
        let n = p("RUN --network=none");
        assert_eq!(n.flags, vec!["--network=none"]);
        assert!(n.args.is_empty());
        let n = p("RUN -x --y");
        assert!(n.flags.is_empty());
        assert_eq!(n.args, vec!["-x --y"]);
    }

    #[test]
    fn json_or_shell() {
        let n = p("CMD [\"a\", \"b c\"]");
        assert!(n.json);
        assert_eq!(n.args, vec!["a", "b c"]);
        for shell in [
            "CMD [\"a\" \"b\"]",
            "CMD ['a']",
            "CMD [\"a\"] b",
            "CMD [\"a\"",
            "CMD [\"a\\\"]",
        ] {
            let n = p(shell);
            assert!(!n.json, "{shell}");
            assert_eq!(n.args, vec![shell[4..].to_string()]);
        }
        let n = p("CMD []");
        assert!(n.json && n.args.is_empty());
        assert_eq!(
            parse("CMD [ \"echo\", [ \"nested json\" ] ]", '\\')
                .unwrap_err()
                .message,
            NOT_STRINGS
        );
        let n = p("COPY a  b\tc");
        assert_eq!(n.args, vec!["a", "b", "c"]);
    }

    #[test]
    fn env_forms() {
        assert_eq!(p("ENV a b  c").args, vec!["a", "b  c", ""]);
        assert_eq!(
            p("ENV a=\"b c\" d=e\\ f g=").args,
            vec!["a", "\"b c\"", "=", "d", "e\\ f", "=", "g", "", "="]
        );
        assert_eq!(
            parse("ENV a", '\\').unwrap_err().message,
            "ENV must have two arguments"
        );
        assert_eq!(
            parse("LABEL a=b c", '\\').unwrap_err().message,
            "Syntax error - can't find = in \"c\". Must be of the form: name=value"
        );
        assert!(p("ENV").args.is_empty());
    }

    #[test]
    fn word_splitting_keeps_quotes() {
        assert_eq!(
            words("a \"b c\" 'd\\' e\\ f \"\"", '\\'),
            vec!["a", "\"b c\"", "'d\\'", "e\\ f", "\"\""]
        );
        assert_eq!(words("  ", '\\'), Vec::<String>::new());
    }

    #[test]
    fn others() {
        let n = p("HEALTHCHECK --interval=5s CMD [\"a\"]");
        assert_eq!(n.flags, vec!["--interval=5s"]);
        assert_eq!(n.args, vec!["CMD", "a"]);
        assert!(n.json);
        assert_eq!(p("HEALTHCHECK NONE").args, vec!["NONE"]);
        assert_eq!(p("USER a b").args, vec!["a b"]);
        assert_eq!(p("from  a  AS  b").args, vec!["a", "AS", "b"]);
        let n = p("ONBUILD RUN <<EOF");
        assert_eq!(n.args, vec!["RUN", "<<EOF"]);
        assert!(n.can_contain_heredoc());
        assert!(!p("RUN [\"<<EOF\"]").can_contain_heredoc());
        assert!(!p("CMD <<EOF").can_contain_heredoc());
    }
}

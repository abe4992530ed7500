//! Docker's variable substitution: the small shell lexer BuildKit runs on
//! an instruction's words at build time (quotes, the escape character,
//! `$VAR`, `${VAR}` and its `-`, `+`, `?`, `#`, `%`, `/` forms). It does no
//! command substitution, globbing or arithmetic, as Docker does none.
//!
//! The parser also uses it, in raw modes, to find heredoc words on a line.

mod pattern;

/// Looks a variable up: `None` when it is not set.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A word that cannot be substituted: `failed to process "<word>": <why>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {word:?}: {message}")]
pub struct ExpandError {
    /// The word as written.
    pub word: String,
    /// BuildKit's words for the problem.
    pub message: String,
}

/// Substitutes one word: quotes removed, escapes processed, variables
/// replaced; whitespace kept as is (Docker's `ProcessWord`).
pub fn word(raw: &str, escape: char, env: Env<'_>) -> Result<String, ExpandError> {
    Lexer::new(raw, escape, Mode::default(), env)
        .run(raw)
        .map(|(word, _)| word)
}

/// Substitutes then splits on unquoted whitespace (Docker's
/// `ProcessWords`): `a "b c"` is two words, `$X` with `X="1 2"` two.
/// Like Docker, an empty quoted word (`''`) makes no word.
pub fn words(raw: &str, escape: char, env: Env<'_>) -> Result<Vec<String>, ExpandError> {
    Lexer::new(raw, escape, Mode::default(), env)
        .run(raw)
        .map(|(_, words)| words)
}

/// Substitutes variables in a heredoc's body (`COPY <<EOF` with an
/// unquoted word): quotes are plain text there, `\` still escapes (`\$X`
/// stays `$X`), as BuildKit does.
pub fn heredoc(content: &str, env: Env<'_>) -> Result<String, ExpandError> {
    let mode = Mode {
        skip_quotes: true,
        ..Mode::default()
    };
    Lexer::new(content, '\\', mode, env)
        .run(content)
        .map(|(word, _)| word)
}

/// The lexer's switches (BuildKit's `RawQuotes`, `RawEscapes`,
/// `SkipProcessQuotes`, `SkipUnsetEnv`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mode {
    /// Keep quote characters in the result.
    pub raw_quotes: bool,
    /// Keep escape characters in the result.
    pub raw_escapes: bool,
    /// Quotes are ordinary characters.
    pub skip_quotes: bool,
    /// Leave unset variables as written instead of making them empty.
    pub skip_unset: bool,
}

/// Splits with the given mode; the parser's entry point.
pub(crate) fn words_with(
    raw: &str,
    escape: char,
    mode: Mode,
    env: Env<'_>,
) -> Result<Vec<String>, ExpandError> {
    Lexer::new(raw, escape, mode, env)
        .run(raw)
        .map(|(_, words)| words)
}

/// No variable is set (the parser's lexing).
pub(crate) fn no_env(_: &str) -> Option<String> {
    None
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    mode: Mode,
    env: Env<'a>,
}

/// Words being split: BuildKit drops empty words, even quoted ones.
#[derive(Default)]
struct Words {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.buf.push(ch);
        self.in_word = true;
    }

    fn add_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_str(&mut self, s: &str) {
        self.buf.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(self.buf);
        }
        self.words
    }
}

const MISSING_BRACE: &str = "syntax error: missing '}'";

impl<'a> Lexer<'a> {
    fn new(text: &str, escape: char, mode: Mode, env: Env<'a>) -> Self {
        Lexer {
            chars: text.chars().collect(),
            pos: 0,
            escape,
            mode,
            env,
        }
    }

    fn run(mut self, source: &str) -> Result<(String, Vec<String>), ExpandError> {
        let raw = self.mode.raw_escapes;
        self.stop_on(None, raw).map_err(|message| ExpandError {
            word: source.to_string(),
            message,
        })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    /// Reads up to `stop` (consumed) or the end; with `raw_escapes` the
    /// escape characters stay in the result.
    fn stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        let saved = self.mode.raw_escapes;
        self.mode.raw_escapes = raw_escapes;
        let out = self.stop_on_inner(stop);
        self.mode.raw_escapes = saved;
        out
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let value = self.dollar()?;
                    result.push_str(&value);
                    words.add_str(&value);
                }
                '<' => {
                    let text = self.possible_heredoc();
                    result.push_str(&text);
                    words.add_raw_str(&text);
                }
                '\'' if !self.mode.skip_quotes => {
                    let text = self.single_quote()?;
                    result.push_str(&text);
                    words.add_raw_str(&text);
                }
                '"' if !self.mode.skip_quotes => {
                    let text = self.double_quote()?;
                    result.push_str(&text);
                    words.add_raw_str(&text);
                }
                _ => {
                    self.next();
                    if ch == self.escape {
                        if self.mode.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        // An escape at the very end is dropped.
                        let Some(escaped) = self.next() else { break };
                        words.add_raw_char(escaped);
                        result.push(escaped);
                    } else {
                        words.add_char(ch);
                        result.push(ch);
                    }
                }
            }
        }
        match stop {
            Some(c) => Err(format!(
                "unexpected end of statement while looking for matching {c}"
            )),
            None => Ok((result, words.finish())),
        }
    }

    fn single_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let open = self.next();
        if self.mode.raw_quotes {
            out.extend(open);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if self.mode.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        let mut out = String::new();
        let open = self.next();
        if self.mode.raw_quotes {
            out.extend(open);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.next();
                    if self.mode.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.escape {
                        if self.mode.raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            // Only these are escaped inside double quotes;
                            // elsewhere the escape character is literal.
                            Some(c) if c == '"' || c == '$' || c == self.escape => {
                                ch = self.next().unwrap_or_default();
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.next();
        let mut out = String::from("<<");
        while let Some(c @ ('\t' | '\r' | ' ')) = self.peek() {
            out.push(c);
            self.next();
        }
        out
    }

    /// A name: letters, digits and `_`; or all digits (positional); or one
    /// special parameter character.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_numeric() {
                while let Some(d) = self.peek().filter(|c| c.is_numeric()) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get(&name) {
                Some(v) => v,
                None if self.mode.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err(MISSING_BRACE.into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let Some(ch) = self.next() else {
            return Err(MISSING_BRACE.into());
        };
        match ch {
            '}' => Ok(match self.get(&name) {
                Some(v) => v,
                None if self.mode.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            ':' => match self.next() {
                Some(op) => self.modifier(&name, op, true),
                None => Err(MISSING_BRACE.into()),
            },
            '+' | '-' | '?' | '#' | '%' => self.modifier(&name, ch, false),
            '/' => self.replace(&name),
            other => Err(format!("unsupported modifier ({other}) in substitution")),
        }
    }

    /// `${name<op>word}` and `${name:<op>word}`; `colon` makes an empty
    /// value count as unset.
    fn modifier(&mut self, name: &str, op: char, colon: bool) -> Result<String, String> {
        let shown = if colon {
            format!(":{op}")
        } else {
            op.to_string()
        };
        let pattern_op = op == '#' || op == '%';
        if colon && pattern_op {
            return Err(format!("unsupported modifier ({shown}) in substitution"));
        }
        let word = self.braced_word('}', pattern_op, MISSING_BRACE)?;
        let value = self.get(name);
        if self.mode.skip_unset && value.is_none() {
            return Ok(format!("${{{name}{shown}{word}}}"));
        }
        let unset = value.is_none() || (colon && value.as_deref() == Some(""));
        match op {
            '-' => Ok(if unset {
                word
            } else {
                value.unwrap_or_default()
            }),
            '+' => Ok(if unset { String::new() } else { word }),
            '?' => match value {
                None => Err(format!(
                    "{name}: {}",
                    or(word, "is not allowed to be unset")
                )),
                Some(v) if colon && v.is_empty() => Err(format!(
                    "{name}: {}",
                    or(word, "is not allowed to be empty")
                )),
                Some(v) => Ok(v),
            },
            '#' | '%' => {
                let value = value.unwrap_or_default();
                // `##`/`%%` remove the longest match, `#`/`%` the shortest.
                let (greedy, pat) = match word.strip_prefix(op) {
                    Some(rest) => (true, rest.to_string()),
                    None => (false, word),
                };
                let trimmed = if op == '#' {
                    pattern::trim_prefix(&pat, &value, greedy)
                } else {
                    pattern::trim_suffix(&pat, &value, greedy)
                };
                trimmed.map_err(|e| format!("invalid pattern ({pat}) in substitution: {e}"))
            }
            _ => Err(format!("unsupported modifier ({shown}) in substitution")),
        }
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`.
    fn replace(&mut self, name: &str) -> Result<String, String> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let pat = self.braced_word('/', true, "syntax error: missing '/' in ${}")?;
        let replacement = self.braced_word('}', true, MISSING_BRACE)?;
        let value = self.get(name);
        if self.mode.skip_unset && value.is_none() {
            return Ok(format!("${{{name}/{pat}/{replacement}}}"));
        }
        pattern::replace(&pat, &value.unwrap_or_default(), &replacement, all)
            .map_err(|e| format!("invalid pattern ({pat}) in substitution: {e}"))
    }

    /// The word inside `${...}` up to `stop`; running off the end is
    /// `missing`.
    fn braced_word(&mut self, stop: char, raw: bool, missing: &str) -> Result<String, String> {
        match self.stop_on(Some(stop), raw) {
            Ok((word, _)) => Ok(word),
            Err(_) if self.peek().is_none() => Err(missing.into()),
            Err(e) => Err(e),
        }
    }
}

fn or(word: String, default: &str) -> String {
    if word.is_empty() {
        default.into()
    } else {
        word
    }
}

#[cfg(test)]
mod tests;

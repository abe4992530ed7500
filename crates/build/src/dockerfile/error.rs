//! [`ParseError`]: where a Dockerfile is wrong and BuildKit's words for it.

/// A Dockerfile that cannot be parsed. Displays as
/// `<file>:<line>:<column>: <KEYWORD>: <message>`, or without the keyword
/// when there is none (directives, an unknown instruction).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {}{message}", keyword_prefix(.keyword))]
pub struct ParseError {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based: the instruction's keyword, or the offending token when it
    /// is on the instruction's first line.
    pub column: usize,
    /// The instruction's keyword, upper case.
    pub keyword: Option<String>,
    pub message: String,
}

fn keyword_prefix(keyword: &Option<String>) -> String {
    keyword
        .as_ref()
        .map(|k| format!("{k}: "))
        .unwrap_or_default()
}

/// A problem found in an instruction before it is located: the message
/// and, when one token is to blame, that token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub message: String,
    pub token: Option<String>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            token: None,
        }
    }

    pub fn at(message: impl Into<String>, token: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            token: Some(token.into()),
        }
    }
}

impl From<String> for Problem {
    fn from(message: String) -> Self {
        Problem::new(message)
    }
}

impl From<&str> for Problem {
    fn from(message: &str) -> Self {
        Problem::new(message)
    }
}

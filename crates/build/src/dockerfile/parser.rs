//! [`parse`]: the whole file. Two passes, as BuildKit's: every line to a
//! node first (directives, continuations, heredoc bodies, the syntax of
//! each instruction), then every node to an instruction (arguments,
//! flags) with the stage check, so errors come in Docker's order.

use super::ast::{Dockerfile, Instruction, Kind};
use super::directives::Directives;
use super::error::{ParseError, Problem};
use super::instructions::{self, Body, KEYWORDS};
use super::lines::{Lines, Logical};
use super::node::{self, Node};
use super::{heredoc, suggest};

/// A node with where it was and its heredocs.
struct Located {
    logical: Logical,
    node: Node,
    bodies: Vec<Body>,
    end: usize,
}

/// Parses a Dockerfile; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Dockerfile, ParseError> {
    let mut directives = Directives::default();
    let mut lines = Lines::new(text);
    let mut nodes = Vec::new();
    loop {
        let logical = match lines.next_logical(&mut directives) {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err((line, message)) => {
                return Err(ParseError {
                    file: file.to_string(),
                    line,
                    column: 1,
                    keyword: None,
                    message,
                })
            }
        };
        let keyword = logical.text.split_whitespace().next().unwrap_or_default();
        let keyword = keyword.to_ascii_uppercase();
        let fail = |p: Problem| locate(file, &logical, Some(&keyword), p);
        let node = node::parse(&logical.text, directives.escape).map_err(fail)?;
        let mut bodies = Vec::new();
        if node.can_contain_heredoc() {
            for word in heredoc::in_line(&logical.text).map_err(|e| fail(e.into()))? {
                let Some(body) = lines.heredoc_body(&word.name, word.chomp) else {
                    return Err(fail("unterminated heredoc".into()));
                };
                bodies.push(Body { word, body });
            }
        }
        nodes.push(Located {
            logical,
            node,
            bodies,
            end: lines.read,
        });
    }
    if nodes.is_empty() {
        return Err(ParseError {
            file: file.to_string(),
            line: lines.read.max(1),
            column: 1,
            keyword: None,
            message: "file with no instructions".into(),
        });
    }

    let mut instructions = Vec::with_capacity(nodes.len());
    let mut stages = 0;
    for located in nodes {
        let Located {
            logical,
            node,
            bodies,
            end,
        } = located;
        let keyword = node.keyword.to_ascii_uppercase();
        if !KEYWORDS.contains(&node.lower().as_str()) {
            let mut message = format!("unknown instruction: {}", node.keyword);
            if let Some(s) = suggest::search(&node.keyword, KEYWORDS, false) {
                message.push_str(&format!(" (did you mean {s}?)"));
            }
            return Err(locate(file, &logical, None, Problem::new(message)));
        }
        let kind = instructions::build(&node, &logical.text, &bodies)
            .map_err(|p| locate(file, &logical, Some(&keyword), p))?;
        match kind {
            Kind::From { .. } => stages += 1,
            Kind::Arg(_) => {}
            _ if stages == 0 => {
                let p = Problem::new("no build stage in current context");
                return Err(locate(file, &logical, Some(&keyword), p));
            }
            _ => {}
        }
        instructions.push(Instruction {
            line: logical.start,
            end_line: end,
            original: logical.text,
            kind,
        });
    }
    if stages == 0 {
        return Err(ParseError {
            file: file.to_string(),
            line: 1,
            column: 1,
            keyword: None,
            message: "dockerfile contains no stages to build".into(),
        });
    }
    Ok(Dockerfile {
        escape: directives.escape,
        syntax: directives.syntax,
        instructions,
    })
}

/// Places a problem: its token's column when the token is on the
/// instruction's first line after the keyword, else the keyword's.
fn locate(file: &str, logical: &Logical, keyword: Option<&str>, problem: Problem) -> ParseError {
    let start = logical.column - 1;
    let column = problem
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .and_then(|token| {
            let after: String = logical.first.chars().skip(start).collect();
            let byte = after.find(char::is_whitespace)?;
            let offset = after[byte..].find(token)?;
            Some(start + after[..byte + offset].chars().count() + 1)
        })
        .unwrap_or(logical.column);
    ParseError {
        file: file.to_string(),
        line: logical.start,
        column,
        keyword: keyword.map(str::to_string),
        message: problem.message,
    }
}

#[cfg(test)]
mod tests;

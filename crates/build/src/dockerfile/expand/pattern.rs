//! Shell patterns of `${v#p}`, `${v%p}` and `${v/p/r}`: `*`, `?` and `\`
//! escapes, no brackets. BuildKit turns them into Go regular expressions;
//! this matcher keeps their semantics: leftmost match, stars tried
//! longest-first (greedy) or shortest-first, and like Go's `.`, `*` and `?`
//! never match a newline.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Star,
    Any,
    Lit(char),
}

fn compile(pattern: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::Any),
            '\\' => {
                // `\}` and `\/` only protect the braces' syntax.
                if matches!(chars.peek(), Some('}' | '/')) {
                    continue;
                }
                match chars.next() {
                    Some(e @ ('*' | '?' | '\\')) => toks.push(Tok::Lit(e)),
                    Some(e) => return Err(format!("invalid escape '\\{e}'")),
                    None => return Err("invalid escape '\\'".into()),
                }
            }
            c => toks.push(Tok::Lit(c)),
        }
    }
    Ok(toks)
}

/// The end of the first match of `toks` starting at `at`, in the order a
/// backtracking regex engine tries alternatives.
fn match_at(toks: &[Tok], text: &[char], at: usize, greedy: bool) -> Option<usize> {
    let Some((tok, rest)) = toks.split_first() else {
        return Some(at);
    };
    match tok {
        Tok::Star => {
            let limit = text[at..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(text.len(), |n| at + n);
            if greedy {
                (at..=limit)
                    .rev()
                    .find_map(|k| match_at(rest, text, k, greedy))
            } else {
                (at..=limit).find_map(|k| match_at(rest, text, k, greedy))
            }
        }
        Tok::Any => match text.get(at) {
            Some(&c) if c != '\n' => match_at(rest, text, at + 1, greedy),
            _ => None,
        },
        Tok::Lit(l) => match text.get(at) {
            Some(c) if c == l => match_at(rest, text, at + 1, greedy),
            _ => None,
        },
    }
}

/// `${value#pattern}` (`greedy`: `##`).
pub(super) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let toks = compile(pattern)?;
    let text: Vec<char> = value.chars().collect();
    Ok(match match_at(&toks, &text, 0, greedy) {
        Some(end) => text[end..].iter().collect(),
        None => value.to_string(),
    })
}

/// `${value%pattern}` (`greedy`: `%%`): a prefix trim of both reversed.
pub(super) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let reversed: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// Reverses a pattern keeping each `\x` escape in order (`a\*c` → `c\*a`).
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            out.push([chars[i], chars[i + 1]]);
            i += 2;
        } else {
            out.push([chars[i], '\0']);
            i += 1;
        }
    }
    out.iter()
        .rev()
        .flat_map(|pair| pair.iter().copied().filter(|&c| c != '\0'))
        .collect()
}

/// `${value/pattern/replacement}` (first match) or `${value//...}` (every
/// non-overlapping match; an empty match right after a match is skipped,
/// as Go's `ReplaceAllString` does).
pub(super) fn replace(
    pattern: &str,
    value: &str,
    replacement: &str,
    all: bool,
) -> Result<String, String> {
    let toks = compile(pattern)?;
    let text: Vec<char> = value.chars().collect();
    let find = |from: usize| {
        (from..=text.len()).find_map(|s| match_at(&toks, &text, s, true).map(|e| (s, e)))
    };
    let mut out = String::new();
    let mut last_end = 0;
    let mut search = 0;
    while search <= text.len() {
        let Some((start, end)) = find(search) else {
            break;
        };
        out.extend(&text[last_end..start]);
        if end > last_end || start == 0 {
            out.push_str(replacement);
        }
        last_end = end;
        search = if search + 1 > end { search + 1 } else { end };
        if !all {
            break;
        }
    }
    out.extend(&text[last_end..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_suffix() {
        assert_eq!(trim_prefix("a*", "abcabc", false).unwrap(), "bcabc");
        assert_eq!(trim_prefix("a*", "abcabc", true).unwrap(), "");
        assert_eq!(trim_prefix("*c", "abcabc", false).unwrap(), "abc");
        assert_eq!(trim_prefix("x", "abc", false).unwrap(), "abc");
        assert_eq!(trim_suffix("c*", "abcabc", false).unwrap(), "abcab");
        assert_eq!(trim_suffix("b*", "abcabc", true).unwrap(), "a");
        assert_eq!(trim_suffix("?", "abc", false).unwrap(), "ab");
        assert_eq!(trim_suffix(".tar.gz", "x.tar.gz", false).unwrap(), "x");
        assert_eq!(trim_suffix("\\**", "a*b*c", false).unwrap(), "a*b");
        assert_eq!(trim_prefix("*/", "/usr/local/bin", true).unwrap(), "bin");
    }

    #[test]
    fn star_stops_at_newline() {
        assert_eq!(trim_prefix("a*", "ab\ncd", true).unwrap(), "\ncd");
    }

    #[test]
    fn replacement() {
        assert_eq!(replace("b", "abcb", "X", false).unwrap(), "aXcb");
        assert_eq!(replace("b", "abcb", "X", true).unwrap(), "aXcX");
        assert_eq!(replace("b*", "abcb", "X", false).unwrap(), "aX");
        assert_eq!(replace("", "ab", "-", true).unwrap(), "-a-b-");
        assert_eq!(replace("*", "ab", "-", true).unwrap(), "-");
        assert_eq!(replace("\\/", "a/b", "_", true).unwrap(), "a_b");
        assert_eq!(replace("z", "ab", "-", true).unwrap(), "ab");
    }

    #[test]
    fn bad_escape() {
        assert_eq!(compile("a\\b").unwrap_err(), "invalid escape '\\b'");
    }
}

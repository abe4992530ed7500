//! `.dockerignore`: which paths of the build context a build never sees,
//! as moby's `patternmatcher` (with `ignorefile.ReadAll`) decides.
//!
//! Each line is a pattern (`#` lines are comments, blank lines skipped, a
//! UTF-8 BOM dropped), cleaned with Go's `filepath.Clean` and stripped of a
//! leading `/`. `*` and `?` never match `/`, `**` matches any number of
//! directories, `[...]` and `\` are Go's. `!pattern` re-includes what an
//! earlier line excluded; the last matching line wins. A path is excluded
//! when it or one of its parent directories matches (patternmatcher's
//! `MatchesOrParentMatches`), so an excluded directory excludes its
//! children unless a later `!` line matches them.
//!
//! The matching rules are patternmatcher's, quirks included (its patterns
//! become regular expressions: `**foo` at the start is a plain suffix
//! test, a class `[^a]` can match `/`).

use crate::error::{Error, Result};
use crate::gomatch::{clean, go_match};

#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
    exceptions: bool,
}

#[derive(Debug, Clone)]
struct Pattern {
    exclusion: bool,
    /// Alternatives; the pattern matches when one matches the whole path.
    alts: Vec<Vec<Tok>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `?`: one character but `/`.
    Quest,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**/` or an inner `**`: any number of leading directories.
    AnyDirs,
    /// A trailing `**`: anything.
    AnyTail,
}

impl Ignore {
    /// Parses the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Result<Ignore> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = Vec::new();
        for line in text.lines() {
            // bufio.Scanner drops a trailing \r too.
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let invert = p.starts_with('!');
            if invert {
                p = p[1..].trim();
            }
            let mut p = if p.is_empty() {
                String::new()
            } else {
                clean(p)
            };
            if p.len() > 1 && p.starts_with('/') {
                p.remove(0);
            }
            lines.push(if invert { format!("!{p}") } else { p });
        }
        Ignore::from_patterns(&lines)
    }

    /// patternmatcher's `New`: patterns already read from a file.
    fn from_patterns(lines: &[String]) -> Result<Ignore> {
        let mut out = Ignore::default();
        for p in lines {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean(p);
            let exclusion = p.starts_with('!');
            if exclusion {
                if p.len() == 1 {
                    return Err(Error::IllegalExclusion);
                }
                p.remove(0);
                out.exceptions = true;
            }
            if go_match(&p, ".").is_err() {
                return Err(Error::BadPattern(p));
            }
            out.patterns.push(Pattern {
                exclusion,
                alts: compile(&p),
            });
        }
        Ok(out)
    }

    /// Whether the context path `rel` (slash-separated, relative to the
    /// context root) is left out of the build. The root itself never is.
    pub fn excluded(&self, rel: &str) -> bool {
        let file = clean(rel.trim_start_matches('/'));
        if file == "." || self.patterns.is_empty() {
            return false;
        }
        self.matches_path(&file)
    }

    /// patternmatcher's `MatchesOrParentMatches` on a path as given.
    fn matches_path(&self, file: &str) -> bool {
        let chars: Vec<char> = file.chars().collect();
        // Go's filepath.Dir, split: each parent directory, shortest first.
        let parent = match file.rfind('/') {
            Some(i) => clean(&file[..=i]),
            None => ".".to_owned(),
        };
        let mut parents: Vec<Vec<char>> = Vec::new();
        if parent != "." {
            let mut acc = String::new();
            for (i, comp) in parent.split('/').enumerate() {
                if i > 0 {
                    acc.push('/');
                }
                acc.push_str(comp);
                parents.push(acc.chars().collect());
            }
        }
        let mut matched = false;
        for pat in &self.patterns {
            if pat.exclusion != matched {
                continue;
            }
            if pat.matches(&chars) || parents.iter().any(|p| pat.matches(p)) {
                matched = !pat.exclusion;
            }
        }
        matched
    }

    /// Whether a `!` line could re-include something below the directory
    /// `rel`: if not, an excluded directory need not be read at all.
    pub fn may_include_under(&self, rel: &str) -> bool {
        if !self.exceptions {
            return false;
        }
        let mut dir: Vec<char> = clean(rel.trim_start_matches('/')).chars().collect();
        dir.push('/');
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| p.alts.iter().any(|toks| tok_match(toks, &dir, true)))
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

impl Pattern {
    fn matches(&self, path: &[char]) -> bool {
        self.alts.iter().any(|toks| tok_match(toks, path, false))
    }
}

#[derive(PartialEq)]
enum Kind {
    Exact,
    Prefix,
    Suffix,
    Regexp,
}

/// patternmatcher's `compile`: the same four kinds of match, as tokens.
fn compile(pattern: &str) -> Vec<Vec<Tok>> {
    let chars: Vec<char> = pattern.chars().collect();
    let lits = |s: &[char]| s.iter().map(|c| Tok::Lit(*c)).collect::<Vec<_>>();
    let mut toks = Vec::new();
    let mut kind = Kind::Exact;
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        toks.push(Tok::AnyTail);
                        kind = Kind::Regexp;
                    }
                } else {
                    toks.push(Tok::AnyDirs);
                    kind = Kind::Regexp;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                kind = Kind::Regexp;
            }
            '?' => {
                toks.push(Tok::Quest);
                kind = Kind::Regexp;
            }
            '\\' => {
                if let Some(&n) = chars.get(i) {
                    toks.push(Tok::Lit(n));
                    i += 1;
                    kind = Kind::Regexp;
                } else {
                    toks.push(Tok::Lit('\\'));
                }
            }
            '[' => {
                let (tok, next) = class(&chars, i);
                toks.push(tok);
                i = next;
                kind = Kind::Regexp;
            }
            ']' => {
                toks.push(Tok::Lit(']'));
                kind = Kind::Regexp;
            }
            c => toks.push(Tok::Lit(c)),
        }
        first = false;
    }
    match kind {
        Kind::Exact => vec![lits(&chars)],
        Kind::Prefix => {
            let mut t = lits(&chars[..chars.len() - 2]);
            t.push(Tok::AnyTail);
            vec![t]
        }
        Kind::Suffix => {
            let suffix = &chars[2..];
            let mut any = vec![Tok::AnyTail];
            any.extend(lits(suffix));
            let mut alts = vec![any];
            // `**/foo` matches "foo" too.
            if suffix.first() == Some(&'/') {
                alts.push(lits(&suffix[1..]));
            }
            alts
        }
        Kind::Regexp => vec![toks],
    }
}

/// A character class starting after its `[`; returns the token and the
/// index after its `]`. The pattern passed Go's syntax check already.
fn class(chars: &[char], mut i: usize) -> (Tok, usize) {
    let mut negated = false;
    if chars.get(i) == Some(&'^') {
        negated = true;
        i += 1;
    }
    let mut ranges = Vec::new();
    let esc = |i: &mut usize| -> Option<char> {
        let mut c = *chars.get(*i)?;
        if c == '\\' {
            *i += 1;
            c = *chars.get(*i)?;
        }
        *i += 1;
        Some(c)
    };
    while i < chars.len() && chars[i] != ']' {
        let Some(lo) = esc(&mut i) else { break };
        let mut hi = lo;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            i += 1;
            hi = esc(&mut i).unwrap_or(lo);
        }
        ranges.push((lo, hi));
    }
    (Tok::Class { negated, ranges }, (i + 1).min(chars.len()))
}

/// Matches `toks` against all of `s`; with `prefix`, reaching the end of
/// `s` is enough (something longer could match).
fn tok_match(toks: &[Tok], s: &[char], prefix: bool) -> bool {
    if prefix && s.is_empty() {
        return true;
    }
    let Some((tok, rest)) = toks.split_first() else {
        return s.is_empty();
    };
    match tok {
        Tok::Lit(c) => s.first() == Some(c) && tok_match(rest, &s[1..], prefix),
        Tok::Quest => s.first().is_some_and(|c| *c != '/') && tok_match(rest, &s[1..], prefix),
        Tok::Class { negated, ranges } => {
            s.first()
                .is_some_and(|c| ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
                && tok_match(rest, &s[1..], prefix)
        }
        Tok::Star => {
            for i in 0..=s.len() {
                if tok_match(rest, &s[i..], prefix) {
                    return true;
                }
                if i < s.len() && s[i] == '/' {
                    return false;
                }
            }
            false
        }
        Tok::AnyTail => (0..=s.len()).any(|i| tok_match(rest, &s[i..], prefix)),
        Tok::AnyDirs => {
            tok_match(rest, s, prefix)
                || (0..s.len()).any(|i| s[i] == '/' && tok_match(rest, &s[i + 1..], prefix))
        }
    }
}

#[cfg(test)]
mod tests;

//! Image references (`[domain/]path[:tag][@digest]`) normalized the way
//! Docker does: `busybox` is `docker.io/library/busybox:latest`, shown
//! back in its short ("familiar") form.

use std::fmt;

use crate::{Digest, Error, Result};

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// `docker.io/library/busybox`
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes; a reference with neither tag nor digest gets
    /// `latest`.
    pub fn parse(s: &str) -> Result<Reference> {
        let mut r = Reference::parse_name_only(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.into());
        }
        Ok(r)
    }

    /// Parses without adding a default tag.
    pub fn parse_name_only(s: &str) -> Result<Reference> {
        let bad = |why: &str| Error::InvalidReference(format!("{s:?}: {why}"));
        if s.is_empty() || s.len() > 255 + 128 + 72 {
            return Err(bad("empty or too long"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(Digest::parse(d).map_err(|_| bad("bad digest"))?)),
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            let ok = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return Err(bad("bad tag"));
            }
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let domain =
            if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
                let d = parts.remove(0);
                if !d
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
                {
                    return Err(bad("bad registry host"));
                }
                d.to_owned()
            } else {
                DEFAULT_DOMAIN.to_owned()
            };
        if parts
            .iter()
            .any(|p| p.chars().any(|c| c.is_ascii_uppercase()))
        {
            return Err(Error::InvalidReference(format!(
                "{s:?}: repository name must be lowercase"
            )));
        }
        if parts.is_empty() || !parts.iter().all(|p| valid_component(p)) {
            return Err(bad("bad repository name"));
        }
        let mut path = parts.join("/");
        if domain == DEFAULT_DOMAIN && parts.len() == 1 {
            path = format!("library/{path}");
        }
        Ok(Reference {
            name: format!("{domain}/{path}"),
            tag: tag.map(Into::into),
            digest,
        })
    }

    /// `busybox` for `docker.io/library/busybox`, the name Docker shows.
    pub fn familiar_name(&self) -> &str {
        familiar(&self.name)
    }

    /// `busybox:latest`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name().to_owned();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_str());
        }
        s
    }
}

/// Strips `docker.io/` and `library/` from a full name.
pub fn familiar(name: &str) -> &str {
    let short = name.strip_prefix("docker.io/").unwrap_or(name);
    match short.strip_prefix("library/") {
        Some(rest) if !rest.contains('/') => rest,
        _ => short,
    }
}

/// A path component: `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn valid_component(p: &str) -> bool {
    if p.is_empty() {
        return false;
    }
    let b = p.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &p[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-')) {
            return false;
        }
    }
    true
}

impl fmt::Display for Reference {
    /// The full form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.familiar(), "busybox:latest");
        let r = Reference::parse("localhost:5000/a/b-c:v1.2").unwrap();
        assert_eq!(r.name, "localhost:5000/a/b-c");
        assert_eq!(r.familiar(), "localhost:5000/a/b-c:v1.2");
        let r = Reference::parse("user/app").unwrap();
        assert_eq!(r.familiar(), "user/app:latest");
        assert_eq!(r.name, "docker.io/user/app");
        assert!(Reference::parse("Busybox").is_err());
        assert!(Reference::parse("a:b:c").is_err());
        assert!(Reference::parse("a/../b").is_err());
        assert!(Reference::parse("a:").is_err());
        let d = Digest::of(b"x");
        let r = Reference::parse(&format!("alpine@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.digest, Some(d));
    }
}

//! `images` with Docker's filters (`--filter` of the CLI, `filters=` of
//! the API): `dangling`, `label`, `reference`, `before`, `since`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::ops::images::ImageSummary;
use crate::Engine;

/// Parsed image filters.
#[derive(Debug, Clone, Default)]
pub struct ImageFilters {
    by: BTreeMap<String, Vec<String>>,
}

impl ImageFilters {
    /// Docker's `K=V` list, checked with dockerd's messages.
    pub fn parse(raw: &[String]) -> Result<ImageFilters> {
        let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in raw {
            let (k, v) = f.split_once('=').ok_or_else(|| {
                Error::BadRequest(format!("bad format of filter (expected name=value): {f}"))
            })?;
            let k = k.trim().to_ascii_lowercase();
            if !matches!(
                k.as_str(),
                "dangling" | "label" | "reference" | "before" | "since"
            ) {
                return Err(Error::BadRequest(format!("invalid filter '{k}'")));
            }
            if k == "dangling" && !matches!(v.to_lowercase().as_str(), "true" | "false" | "1" | "0")
            {
                return Err(Error::BadRequest(format!("invalid filter 'dangling={v}'")));
            }
            by.entry(k).or_default().push(v.to_owned());
        }
        Ok(ImageFilters { by })
    }

    fn get(&self, k: &str) -> &[String] {
        self.by.get(k).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Go's `path.Match` as `reference=` uses it: `*` and `?` stop at `/`.
pub fn reference_glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != '/')
                .any(|i| go(&p[1..], &n[i..])),
            Some('?') => n.first().is_some_and(|c| *c != '/') && go(&p[1..], &n[1..]),
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// An RFC 3339 time as seconds and nanoseconds, so that `before`/`since`
/// order images made within one second as dockerd does.
fn instant(rfc3339: &str) -> (i64, u32) {
    let secs = berth_image::time::parse_rfc3339(rfc3339).unwrap_or(0);
    let nanos = rfc3339
        .get(19..)
        .and_then(|r| r.strip_prefix('.'))
        .map(|r| {
            let digits: String = r.chars().take_while(char::is_ascii_digit).take(9).collect();
            format!("{digits:0<9}").parse().unwrap_or(0)
        })
        .unwrap_or(0);
    (secs, nanos)
}

/// `label=K` or `label=K=V` against an image's labels.
fn label_matches(labels: &BTreeMap<String, String>, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
        None => labels.contains_key(want),
    }
}

impl Engine {
    /// `images`: build steps' images only with `all`, then the filters;
    /// with `reference=`, each image's tags are those it matched (Docker
    /// shows only them).
    pub fn list_images_filtered(&self, all: bool, f: &ImageFilters) -> Result<Vec<ImageSummary>> {
        let images = self.list_images()?;
        let created_of = |name: &str| -> Result<(i64, u32)> {
            let (id, _) = self.images.resolve(name)?;
            let summary = images.iter().find(|i| i.id == id);
            Ok(summary.map_or((0, 0), |i| instant(&i.created)))
        };
        let before = f
            .get("before")
            .iter()
            .map(|n| created_of(n))
            .collect::<Result<Vec<_>>>()?;
        let since = f
            .get("since")
            .iter()
            .map(|n| created_of(n))
            .collect::<Result<Vec<_>>>()?;
        let patterns: Vec<&str> = f
            .get("reference")
            .iter()
            .map(|p| {
                p.strip_prefix("docker.io/")
                    .map(|s| s.strip_prefix("library/").unwrap_or(s))
                    .unwrap_or(p)
            })
            .collect();
        let dangling = f
            .get("dangling")
            .last()
            .map(|v| matches!(v.to_lowercase().as_str(), "true" | "1"));
        let mut out = Vec::new();
        for mut info in images.iter().cloned() {
            // Docker hides its builder's intermediate images unless asked.
            if info.intermediate && !all {
                continue;
            }
            if dangling.is_some_and(|d| info.tags.is_empty() != d) {
                continue;
            }
            if !f
                .get("label")
                .iter()
                .all(|l| label_matches(&info.labels, l))
            {
                continue;
            }
            let created = instant(&info.created);
            if before.iter().any(|b| created >= *b) || since.iter().any(|s| created <= *s) {
                continue;
            }
            if !patterns.is_empty() {
                info.tags.retain(|t| {
                    let repo = t.familiar_name();
                    let tagged = t.tag.as_deref().map(|tag| format!("{repo}:{tag}"));
                    patterns.iter().any(|p| {
                        reference_glob(p, repo)
                            || tagged.as_deref().is_some_and(|rt| reference_glob(p, rt))
                    })
                });
                if info.tags.is_empty() {
                    continue;
                }
            }
            out.push(info);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_globs_stop_at_slashes_as_go_path_match() {
        assert!(reference_glob("busy*", "busybox"));
        assert!(!reference_glob("*", "a/b"));
        assert!(reference_glob("*/*", "a/b"));
        assert!(reference_glob("bb:?", "bb:1"));
    }

    #[test]
    fn filters_are_checked_with_dockerds_words() {
        let parse =
            |v: &[&str]| ImageFilters::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(parse(&["dangling=true", "label=a=b", "reference=x*"]).is_ok());
        assert_eq!(
            parse(&["nope=1"]).unwrap_err().to_string(),
            "invalid filter 'nope'"
        );
        assert!(parse(&["dangling=maybe"]).is_err());
        let labels: BTreeMap<String, String> = [("a".to_owned(), "b".to_owned())].into();
        assert!(label_matches(&labels, "a"));
        assert!(label_matches(&labels, "a=b"));
        assert!(!label_matches(&labels, "a=c"));
    }

    #[test]
    fn creation_times_order_within_a_second() {
        assert_eq!(instant("2024-01-02T03:04:05.5Z"), (1704164645, 500_000_000));
        assert_eq!(instant("2024-01-02T03:04:05Z"), (1704164645, 0));
        assert!(instant("2024-01-02T03:04:05.000000001Z") > instant("2024-01-02T03:04:05Z"));
    }
}

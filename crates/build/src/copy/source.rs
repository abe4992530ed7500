//! A `COPY`/`ADD` source list into the paths it names: each source is
//! cleaned as Docker cleans it, globs (Go's `filepath.Match`, one path
//! component at a time, in name order) expanded, and in the context what
//! `.dockerignore` excludes is not there.

use std::os::fd::{AsFd, BorrowedFd};

use nix::dir::Dir;

use crate::copy::walk::clean_source;
use crate::error::{Error, Result};
use crate::fsops::{cstr, is_enoent, join, lstat_at, open_dir_in, split};
use crate::gomatch::{go_match, has_meta};
use crate::ignore::Ignore;

/// Whether a source names a URL (`ADD`'s remote form).
pub(crate) fn is_url(src: &str) -> bool {
    src.starts_with("http://") || src.starts_with("https://") || src.starts_with("git@")
}

/// The paths (clean, relative to the root) the source names, in order.
pub(crate) fn expand(
    root: BorrowedFd<'_>,
    ignore: Option<&Ignore>,
    src: &str,
) -> Result<Vec<String>> {
    let rel = clean_source(src);
    let excluded = |p: &str| ignore.is_some_and(|i| i.excluded(p));
    if !has_meta(&rel) {
        if excluded(&rel) {
            return Err(Error::NotFound(rel));
        }
        return Ok(vec![rel]);
    }
    let mut current = vec![String::new()];
    for comp in rel.split('/') {
        let mut next = Vec::new();
        for base in &current {
            if !has_meta(comp) {
                next.push(join(base, comp));
                continue;
            }
            let Ok(dir) = open_dir_in(root, base) else {
                continue;
            };
            let mut d = Dir::from_fd(dir)
                .map_err(|e| Error::io("read directory", format!("/{base}"), e))?;
            let mut names = Vec::new();
            for e in d.iter() {
                let e = e.map_err(|e| Error::io("read directory", format!("/{base}"), e))?;
                let n = String::from_utf8_lossy(e.file_name().to_bytes()).into_owned();
                if n == "." || n == ".." {
                    continue;
                }
                let ok = go_match(comp, &n).map_err(|_| Error::BadPattern(src.to_owned()))?;
                if ok {
                    names.push(n);
                }
            }
            names.sort();
            next.extend(names.into_iter().map(|n| join(base, &n)));
        }
        current = next;
    }
    // Go's Glob keeps only what exists; .dockerignore hides the rest.
    let mut out = Vec::new();
    for p in current {
        if excluded(&p) || !exists(root, &p)? {
            continue;
        }
        out.push(p);
    }
    if out.is_empty() {
        return Err(Error::NotFound(rel));
    }
    Ok(out)
}

fn exists(root: BorrowedFd<'_>, rel: &str) -> Result<bool> {
    let (dir, base) = split(rel);
    let parent = match open_dir_in(root, dir) {
        Ok(fd) => fd,
        Err(e) if is_enoent(&e) => return Ok(false),
        Err(e) => return Err(Error::io("open", format!("/{dir}"), e)),
    };
    match lstat_at(parent.as_fd(), &cstr(base)?) {
        Ok(_) => Ok(true),
        Err(e) if is_enoent(&e) => Ok(false),
        Err(e) => Err(Error::io("stat", format!("/{rel}"), e)),
    }
}

//! The build context: a directory (or a tar unpacked into a scratch
//! directory) and its `.dockerignore`. Files are read inside it with
//! `RESOLVE_IN_ROOT`, so a symlink in the context cannot reach the host.

use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;

use crate::copy::{extract, Extract};
use crate::error::{Error, Result};
use crate::fsops::{is_enoent, open_in, open_root};
use crate::gomatch::clean;
use crate::ignore::Ignore;

#[derive(Debug)]
pub struct Context {
    root: PathBuf,
    ignore: Ignore,
}

impl Context {
    /// A directory context; reads `<dir>/.dockerignore` if there is one.
    pub fn from_dir(dir: &Path) -> Result<Context> {
        let mut ctx = Context {
            root: dir.to_path_buf(),
            ignore: Ignore::default(),
        };
        match ctx.read_file(".dockerignore") {
            Ok(text) => ctx.ignore = Ignore::parse(&String::from_utf8_lossy(&text))?,
            Err(Error::Io { source, .. }) if is_enoent(&source) => {}
            Err(e) => return Err(e),
        }
        Ok(ctx)
    }

    /// A context sent as a tar (plain, gzip or zstd: `berth build - <
    /// ctx.tar`), unpacked into `scratch` (made if missing; the caller
    /// removes it). Entries cannot land outside `scratch`; device nodes
    /// are refused.
    pub fn from_tar(r: impl Read, scratch: &Path) -> Result<Context> {
        std::fs::create_dir_all(scratch)
            .map_err(|e| Error::io("create", scratch.display().to_string(), e))?;
        let root = open_root(scratch)?;
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        extract(
            r,
            root.as_fd(),
            &Extract {
                owner: Some((uid, gid)),
                implied_owner: (uid, gid),
                devices: false,
                what: "build context".to_owned(),
            },
        )?;
        Context::from_dir(scratch)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn ignore(&self) -> &Ignore {
        &self.ignore
    }

    /// Reads the context file `rel` (e.g. the Dockerfile), resolved inside
    /// the context. `.dockerignore` does not apply (Docker always sends
    /// the Dockerfile and `.dockerignore`).
    pub fn read_file(&self, rel: &str) -> Result<Vec<u8>> {
        let rel = clean(&format!("/{rel}")).trim_start_matches('/').to_owned();
        let root = open_root(&self.root)?;
        let fd = open_in(root.as_fd(), &rel, OFlag::O_RDONLY)
            .map_err(|e| Error::io("read", rel.clone(), e))?;
        let mut out = Vec::new();
        std::fs::File::from(fd)
            .read_to_end(&mut out)
            .map_err(|e| Error::io("read", rel, e))?;
        Ok(out)
    }

    /// The host path of context file or directory `rel`, resolved inside
    /// the context (a symlink cannot lead out of it): what `RUN
    /// --mount=type=bind` mounts.
    pub fn resolve(&self, rel: &str) -> Result<std::path::PathBuf> {
        let rel = clean(&format!("/{rel}")).trim_start_matches('/').to_owned();
        let root = open_root(&self.root)?;
        let fd = if rel.is_empty() {
            root
        } else {
            open_in(root.as_fd(), &rel, OFlag::O_PATH).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::NotFound(rel.clone()),
                _ => Error::io("open", rel.clone(), e),
            })?
        };
        std::fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&fd)
        ))
        .map_err(|e| Error::io("resolve", rel, e))
    }
}

//! Reading and writing cgroupfs files and directories, with errors that name
//! the path. Shared by the v1 and v2 drivers.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use crate::Error;

/// Reads a cgroup file, without the trailing newline.
pub(crate) fn read(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path)
        .map(|s| s.trim_end_matches('\n').to_string())
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes `value` to an existing cgroup file in one `write(2)`, as the kernel
/// expects (no `O_CREAT`: a missing file is `NotFound`, not a new file).
pub(crate) fn write(path: &Path, value: &str) -> Result<(), Error> {
    tracing::trace!(path = %path.display(), value, "writing cgroup file");
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|source| Error::Write {
            path: path.to_path_buf(),
            value: value.to_string(),
            source,
        })
}

/// `mkdir -p`; returns the directories it created, outermost first.
pub(crate) fn create_dir_all(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.is_dir() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    missing.reverse();
    let mut created = Vec::new();
    for d in missing {
        match fs::create_dir(&d) {
            Ok(()) => created.push(d),
            // raced with another runtime creating the same parent
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(Error::Create { path: d, source }),
        }
    }
    Ok(created)
}

/// Every cgroup at or below `dir`, parents before children. A missing `dir`
/// gives an empty list.
pub(crate) fn walk(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            // gone meanwhile (or never there): nothing below it
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::ReadDir { path: d, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| Error::ReadDir {
                path: d.clone(),
                source,
            })?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
        out.push(d);
    }
    // `stack` pops depth-first; sort by depth so parents come first.
    out.sort_by_key(|p| p.components().count());
    Ok(out)
}

/// Removes the cgroup `dir` and every cgroup below it, deepest first. A
/// missing directory is not an error. `rmdir` fails with `EBUSY` while the
/// cgroup still has processes, which happens for a moment while the last ones
/// are reaped: retry a few times with a growing delay (10 ms … 160 ms).
pub(crate) fn remove_tree(dir: &Path) -> Result<(), Error> {
    let mut dirs = walk(dir)?;
    dirs.reverse();
    for d in dirs {
        remove_dir_retrying(&d)?;
    }
    Ok(())
}

fn remove_dir_retrying(dir: &Path) -> Result<(), Error> {
    let mut delay = Duration::from_millis(10);
    for attempt in 0.. {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 5 => {
                tracing::debug!(path = %dir.display(), attempt, "cgroup busy, retrying rmdir");
                thread::sleep(delay);
                delay *= 2;
            }
            Err(source) => {
                return Err(Error::Remove {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
    unreachable!("the loop returns")
}

/// The PIDs in `cgroup.procs` of `dir` and of every cgroup below it, sorted,
/// without duplicates. A cgroup removed while walking is skipped.
pub(crate) fn procs_recursive(dir: &Path) -> Result<Vec<i32>, Error> {
    let mut pids = Vec::new();
    for d in walk(dir)? {
        let path = d.join("cgroup.procs");
        let text = match read(&path) {
            Ok(t) => t,
            Err(Error::Read { ref source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                continue
            }
            Err(e) => return Err(e),
        };
        for line in text.lines().filter(|l| !l.is_empty()) {
            let pid = line.trim().parse().map_err(|_| Error::Parse {
                path: path.clone(),
                line: line.to_string(),
            })?;
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// Sleeps between polls of a state file: starts at 1 ms, grows to 10 ms.
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub fn new() -> Self {
        Self(Duration::from_millis(1))
    }

    pub fn sleep(&mut self) {
        thread::sleep(self.0);
        self.0 = (self.0 * 2).min(Duration::from_millis(10));
    }
}

pub(crate) fn is_not_found(e: &Error) -> bool {
    match e {
        Error::Read { source, .. } | Error::Write { source, .. } => {
            source.kind() == io::ErrorKind::NotFound
        }
        _ => false,
    }
}

//! CRIU, the program that checkpoints a process tree to image files and
//! restores it: finding it, checking once that it works on this kernel,
//! and talking to it over its RPC socket ([`swrk`]). What the runtime asks
//! of it is in `container/checkpoint.rs` and `container/restore.rs`;
//! [`mounts`] says which of a container's mounts CRIU must treat as
//! external, and [`log`] finds the line that says why CRIU failed.
//!
//! berth never links CRIU: it runs `criu swrk 3` and exchanges protobuf
//! messages ([`proto`], compiled from CRIU's `images/rpc.proto`).

pub mod log;
pub mod mounts;
pub mod proto;
pub mod swrk;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The oldest CRIU berth drives: 3.15 has the RPC options runc's contract
/// needs (external pid namespaces, `status-ready`, the cgroup v2 freezer).
/// Whether it works on *this* kernel is `criu check`'s to say.
pub const MIN_VERSION: Version = Version(3, 15, 0);

/// The file under the runtime root that remembers the last check.
const CHECK_CACHE: &str = ".criu-check.json";

/// A CRIU version: major, minor, sublevel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.2 {
            0 => write!(f, "{}.{}", self.0, self.1),
            s => write!(f, "{}.{}.{s}", self.0, self.1),
        }
    }
}

/// A CRIU binary that passed the checks.
#[derive(Debug, Clone)]
pub struct Criu {
    pub path: PathBuf,
    pub version: Version,
}

/// What one check found, kept in [`CHECK_CACHE`] until the binary or the
/// kernel changes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct CheckRecord {
    path: PathBuf,
    size: u64,
    mtime: i64,
    kernel: String,
    version: Option<Version>,
    /// Why this CRIU cannot be used, or `None` when it can.
    refusal: Option<String>,
}

/// Finds CRIU (`explicit`, as `--criu` gives it, else `criu` on `PATH`)
/// and checks it: its version, then `criu check` on this kernel. Both
/// results are remembered under `state_root`, so a command pays for them
/// once per binary and kernel, not per call.
pub fn find(explicit: Option<&Path>, state_root: &Path) -> Result<Criu> {
    let path = match explicit {
        Some(p) if p.components().count() > 1 => p.to_path_buf(),
        Some(name) => lookup(name.as_os_str().to_str().unwrap_or("criu"))?,
        None => lookup("criu")?,
    };
    let meta = fs::metadata(&path).map_err(|e| {
        Error::HostLacks(format!(
            "checkpoint/restore needs CRIU: {} cannot be used: {e}",
            path.display()
        ))
    })?;
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let cache = state_root.join(CHECK_CACHE);
    let cached: Option<CheckRecord> = fs::read(&cache)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|r: &CheckRecord| {
            r.path == path && r.size == meta.size() && r.mtime == meta.mtime() && r.kernel == kernel
        });
    let record = match cached {
        Some(r) => r,
        None => {
            let r = check(&path, meta.size(), meta.mtime(), &kernel);
            // Best effort, and never making the root (`features` runs
            // before any container exists): a miss only costs a re-check.
            if let (Ok(bytes), true) = (serde_json::to_vec(&r), state_root.is_dir()) {
                let _ = berth_sys::replace_atomic(&cache, &bytes);
            }
            r
        }
    };
    match (record.refusal, record.version) {
        (Some(why), _) => Err(Error::HostLacks(why)),
        (None, Some(version)) => Ok(Criu { path, version }),
        (None, None) => Err(Error::HostLacks(format!(
            "cannot tell the version of CRIU at {}",
            path.display()
        ))),
    }
}

/// `name` on `PATH`, or the error that says CRIU is missing.
fn lookup(name: &str) -> Result<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
        })
        .ok_or_else(|| {
            Error::HostLacks(format!(
                "checkpoint/restore needs CRIU >= {MIN_VERSION}: no {name:?} on PATH (install it, or pass --criu PATH)"
            ))
        })
}

/// Runs `criu --version` and `criu check`.
fn check(path: &Path, size: u64, mtime: i64, kernel: &str) -> CheckRecord {
    let mut record = CheckRecord {
        path: path.to_path_buf(),
        size,
        mtime,
        kernel: kernel.to_string(),
        version: None,
        refusal: None,
    };
    let version = match Command::new(path).arg("--version").output() {
        Ok(out) => parse_version(&String::from_utf8_lossy(&out.stdout)),
        Err(e) => {
            record.refusal = Some(format!("cannot run CRIU at {}: {e}", path.display()));
            return record;
        }
    };
    let Some(version) = version else {
        record.refusal = Some(format!(
            "cannot tell the version of CRIU at {} (`criu --version` printed no \"Version:\" line)",
            path.display()
        ));
        return record;
    };
    record.version = Some(version);
    if version < MIN_VERSION {
        record.refusal = Some(format!(
            "CRIU {version} at {} is too old: berth-runtime needs CRIU >= {MIN_VERSION}",
            path.display()
        ));
        return record;
    }
    match Command::new(path).arg("check").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            let why = log::error_line(&text).unwrap_or_else(|| format!("exit {}", out.status));
            record.refusal = Some(format!(
                "CRIU {version} at {} does not work on this kernel ({kernel}): `criu check`: {why}",
                path.display()
            ));
        }
        Err(e) => {
            record.refusal = Some(format!("cannot run `{} check`: {e}", path.display()));
        }
    }
    record
}

/// Reads `Version: 4.2` (or `3.17.1`) from `criu --version`.
fn parse_version(text: &str) -> Option<Version> {
    let v = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))?
        .trim();
    let mut parts = v.split(['.', '-']).map(|p| p.parse::<u32>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().and_then(|p| p.ok()).unwrap_or(0);
    let sub = parts.next().and_then(|p| p.ok()).unwrap_or(0);
    Some(Version(major, minor, sub))
}

/// Why a memory-tracking feature is off, in CRIU's words:
/// `criu check --feature mem_dirty_track`'s complaint.
pub fn dirty_tracking_refusal(criu: &Criu) -> Option<String> {
    let out = Command::new(&criu.path)
        .args(["check", "--feature", "mem_dirty_track"])
        .output()
        .ok()?;
    if out.status.success() {
        return None;
    }
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    Some(
        log::warn_or_error_line(&text)
            .unwrap_or_else(|| "memory dirty tracking is not available".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_versions() {
        assert_eq!(parse_version("Version: 4.2\n"), Some(Version(4, 2, 0)));
        assert_eq!(
            parse_version("Version: 3.17.1\nGitID: v3.17.1\n"),
            Some(Version(3, 17, 1))
        );
        assert_eq!(parse_version("nothing"), None);
        assert!(Version(3, 17, 1) > MIN_VERSION);
        assert!(Version(3, 14, 9) < MIN_VERSION);
        assert_eq!(Version(4, 2, 0).to_string(), "4.2");
    }
}

//! Turning the OCI `linux.cgroupsPath` into a cgroup path, the way runc's
//! cgroupfs driver reads it.
//!
//! - absolute (`/a/b`): relative to the root of each hierarchy;
//! - relative (`a/b`): relative to the calling process's own cgroup in each
//!   hierarchy;
//! - missing or empty: `/berth/<container-id>`. runc's default is relative,
//!   `<container-id>` under its own cgroup; ours is absolute on purpose, so a
//!   runtime started from inside a machine- or service-owned cgroup never
//!   creates cgroups inside it.
//!
//! `.` and empty components are dropped and `..` is resolved lexically; a
//! path whose `..` climbs above its base, or that resolves to the base
//! itself, is rejected. This module does not touch the filesystem and does
//! not handle systemd's `slice:prefix:name` notation (a later driver's job):
//! such a string is taken as one directory name, as runc's cgroupfs driver
//! does.

use std::path::{Path, PathBuf};

use crate::Error;

/// Where the default cgroups of berth containers live (absolute).
pub const DEFAULT_PARENT: &str = "/berth";

/// The `cgroupsPath` of container `id` under `parent`: berth's one way of
/// naming a container's cgroup (the runtime's default below
/// [`DEFAULT_PARENT`], the engine's `--cgroup-parent`).
pub fn container_path(parent: &str, id: &str) -> String {
    format!("{}/{id}", parent.trim_end_matches('/'))
}

/// A validated, normalized cgroup path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CgroupPath {
    /// Components below the root of each hierarchy.
    Absolute(Vec<String>),
    /// Components below the calling process's own cgroup.
    Relative(Vec<String>),
}

impl CgroupPath {
    pub fn parse(cgroups_path: Option<&str>, container_id: &str) -> Result<Self, Error> {
        let raw = match cgroups_path {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => {
                check_container_id(container_id)?;
                container_path(DEFAULT_PARENT, container_id)
            }
        };
        let invalid = |reason: &'static str| Error::InvalidPath {
            path: raw.clone(),
            reason,
        };
        if raw.contains('\0') {
            return Err(invalid("contains a NUL byte"));
        }
        let mut parts: Vec<String> = Vec::new();
        for comp in raw.split('/') {
            match comp {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(invalid("`..` escapes its base cgroup"));
                    }
                }
                name => parts.push(name.to_string()),
            }
        }
        if parts.is_empty() {
            return Err(invalid(
                "resolves to its base cgroup, not a cgroup of its own",
            ));
        }
        Ok(if raw.starts_with('/') {
            Self::Absolute(parts)
        } else {
            Self::Relative(parts)
        })
    }

    /// The directory of this cgroup in a hierarchy mounted at `mount_point`,
    /// where the calling process is in `own_dir`.
    pub fn dir_in(&self, mount_point: &Path, own_dir: Option<&Path>) -> Result<PathBuf, Error> {
        let (base, parts) = match self {
            Self::Absolute(parts) => (mount_point, parts),
            Self::Relative(parts) => {
                let own = own_dir.ok_or_else(|| Error::InvalidPath {
                    path: parts.join("/"),
                    reason: "is relative, but this process's own cgroup is not visible under the \
                             cgroup mount",
                })?;
                (own, parts)
            }
        };
        let mut dir = base.to_path_buf();
        dir.extend(parts);
        Ok(dir)
    }
}

/// The container id becomes a directory name: it must be one.
fn check_container_id(id: &str) -> Result<(), Error> {
    let reason = if id.is_empty() {
        Some("is empty")
    } else if id == "." || id == ".." {
        Some("is `.` or `..`")
    } else if id.contains('/') || id.contains('\0') {
        Some("contains `/` or a NUL byte")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidContainerId {
            id: id.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn container_path_joins_parent_and_id() {
        assert_eq!(container_path("/berth", "c1"), "/berth/c1");
        assert_eq!(container_path("/a/b/", "c1"), "/a/b/c1");
        assert_eq!(container_path("rel", "c1"), "rel/c1");
        assert_eq!(
            CgroupPath::parse(None, "c1").unwrap(),
            CgroupPath::parse(Some(&container_path(DEFAULT_PARENT, "c1")), "x").unwrap()
        );
    }

    #[test]
    fn default_is_absolute_under_berth() {
        for p in [None, Some("")] {
            assert_eq!(
                CgroupPath::parse(p, "abc").unwrap(),
                CgroupPath::Absolute(parts(&["berth", "abc"]))
            );
        }
    }

    #[test]
    fn absolute_and_relative_are_normalized() {
        assert_eq!(
            CgroupPath::parse(Some("//a/./b/../c/"), "x").unwrap(),
            CgroupPath::Absolute(parts(&["a", "c"]))
        );
        assert_eq!(
            CgroupPath::parse(Some("a/b"), "x").unwrap(),
            CgroupPath::Relative(parts(&["a", "b"]))
        );
        // systemd notation is one literal name for the cgroupfs driver
        assert_eq!(
            CgroupPath::parse(Some("system.slice:berth:abc"), "x").unwrap(),
            CgroupPath::Relative(parts(&["system.slice:berth:abc"]))
        );
    }

    #[test]
    fn escaping_or_empty_paths_are_rejected() {
        for p in [
            "/..",
            "/a/../..",
            "../x",
            "a/../../b",
            "/",
            ".",
            "a/..",
            "/a\0b",
        ] {
            let err = CgroupPath::parse(Some(p), "x").unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{p}: {err}");
        }
    }

    #[test]
    fn bad_container_ids_are_rejected_for_the_default_path() {
        for id in ["", ".", "..", "a/b"] {
            assert!(CgroupPath::parse(None, id).is_err(), "{id:?}");
        }
        // with an explicit path the id is not used
        assert!(CgroupPath::parse(Some("/x"), "a/b").is_ok());
    }

    #[test]
    fn dir_in_joins_the_right_base() {
        let mnt = Path::new("/sys/fs/cgroup/memory");
        let own = Path::new("/sys/fs/cgroup/memory/machine/me");
        let abs = CgroupPath::parse(Some("/a/b"), "x").unwrap();
        assert_eq!(
            abs.dir_in(mnt, Some(own)).unwrap(),
            Path::new("/sys/fs/cgroup/memory/a/b")
        );
        let rel = CgroupPath::parse(Some("a/b"), "x").unwrap();
        assert_eq!(
            rel.dir_in(mnt, Some(own)).unwrap(),
            Path::new("/sys/fs/cgroup/memory/machine/me/a/b")
        );
        assert!(rel.dir_in(mnt, None).is_err());
    }
}

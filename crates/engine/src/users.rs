//! `-u user[:group]`, the image's `USER` and `--group-add`, resolved in the
//! container's own `/etc/passwd` and `/etc/group` the way Docker does
//! (moby/sys/user `GetResolvedUser`): a name must exist; a number need not
//! (then its group is 0); a matched user gets its primary group and, when
//! no group was given, the groups that list it as a member.
//!
//! The files are read when the container starts, from its mounted rootfs
//! (so a change in the container's layer counts, as in Docker); `create`
//! checks the spec with the numeric part only
//! ([`ResolvedUser::numeric`]).

use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

use crate::error::{Error, Result};

/// The user a process runs as, resolved in the container's files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

impl ResolvedUser {
    /// What is known without the image's files: numbers as given, names as
    /// root until the start resolves them.
    pub fn numeric(spec: &str) -> ResolvedUser {
        let (u, g) = spec.split_once(':').unwrap_or((spec, ""));
        ResolvedUser {
            uid: u.parse().unwrap_or(0),
            gid: g.parse().unwrap_or(0),
            additional_gids: Vec::new(),
        }
    }
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

fn split(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    }
}

/// Reads `file` (relative) in the container's root: every component,
/// symlinks included, resolved inside `rootfs` (an image's `/etc` or
/// `/etc/passwd` may be a symlink that would lead elsewhere on the host).
/// Only a regular file counts; at most 16 MiB is read.
fn read(rootfs: &Path, file: &str) -> Option<String> {
    let root = std::fs::File::open(rootfs).ok()?;
    let name = std::ffi::CString::new(file).ok()?;
    let fd = berth_sys::openat2(
        root.as_fd(),
        &name,
        libc::O_RDONLY | libc::O_NONBLOCK,
        0,
        berth_sys::resolve::IN_ROOT,
    )
    .ok()?;
    let f = std::fs::File::from(fd);
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    f.take(16 << 20).read_to_string(&mut text).ok()?;
    Some(text)
}

fn passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

fn groups(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn no_user(u: &str) -> Error {
    Error::invalid(
        "user",
        format!("unable to find user {u}: no matching entries in passwd file"),
    )
}

fn no_group(g: &str) -> Error {
    Error::invalid(
        "user",
        format!("unable to find group {g}: no matching entries in group file"),
    )
}

/// Resolves `spec` (`user[:group]`, names or ids; empty means root) and
/// `group_add` in the files under `rootfs`.
pub fn resolve(rootfs: &Path, spec: &str, group_add: &[String]) -> Result<ResolvedUser> {
    let (u, g) = split(spec);
    let u = if u.is_empty() { "0" } else { u };
    let users = read(rootfs, "etc/passwd")
        .map(|t| passwd(&t))
        .unwrap_or_default();
    let group_file = read(rootfs, "etc/group")
        .map(|t| groups(&t))
        .unwrap_or_default();
    let numeric_uid = u.parse::<u32>().ok();
    let matched = users.iter().find(|e| match numeric_uid {
        Some(n) => e.uid == n,
        None => e.name == u,
    });
    let mut user = match (matched, numeric_uid) {
        (Some(e), _) => ResolvedUser {
            uid: e.uid,
            gid: e.gid,
            additional_gids: Vec::new(),
        },
        (None, Some(n)) => ResolvedUser {
            uid: n,
            gid: 0,
            additional_gids: Vec::new(),
        },
        (None, None) => return Err(no_user(u)),
    };
    match g {
        Some(g) if !g.is_empty() => {
            user.gid = match group_file
                .iter()
                .find(|e| e.name == g || e.gid.to_string() == g)
            {
                Some(e) => e.gid,
                None => g.parse().map_err(|_| no_group(g))?,
            };
        }
        _ => {
            if let Some(e) = matched {
                user.additional_gids = group_file
                    .iter()
                    .filter(|grp| grp.members.contains(&e.name))
                    .map(|grp| grp.gid)
                    .collect();
            }
        }
    }
    for extra in group_add {
        let gid = match group_file.iter().find(|e| &e.name == extra) {
            Some(e) => e.gid,
            None => extra.parse().map_err(|_| no_group(extra))?,
        };
        user.additional_gids.push(gid);
    }
    // moby's getUser: the primary group first among the supplementary
    // ones (containerd's fix for CVE-2023-25173 does the same), so a
    // process keeps it after a setgid program or a newgrp.
    user.additional_gids.insert(0, user.gid);
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("berth-users-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:50::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("etc/group"),
            "root:x:0:\nstaff:x:50:\nalice:x:1000:\nwheel:x:10:alice,bob\naudio:x:29:alice\n",
        )
        .unwrap();
        dir
    }

    fn r(spec: &str, add: &[&str]) -> Result<ResolvedUser> {
        let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
        resolve(&rootfs(), spec, &add)
    }

    #[test]
    fn docker_rules() {
        let eu = |uid, gid, add: &[u32]| ResolvedUser {
            uid,
            gid,
            additional_gids: add.to_vec(),
        };
        // moby's rules: the primary group leads the supplementary ones.
        assert_eq!(r("", &[]).unwrap(), eu(0, 0, &[0]));
        assert_eq!(r("alice", &[]).unwrap(), eu(1000, 1000, &[1000, 10, 29]));
        assert_eq!(r("1000", &[]).unwrap(), eu(1000, 1000, &[1000, 10, 29]));
        assert_eq!(r("bob", &[]).unwrap(), eu(1001, 50, &[50, 10]));
        // An explicit group: no supplementary groups but it.
        assert_eq!(r("alice:staff", &[]).unwrap(), eu(1000, 50, &[50]));
        assert_eq!(r("alice:4242", &[]).unwrap(), eu(1000, 4242, &[4242]));
        // A number without an entry: group 0.
        assert_eq!(r("4242", &[]).unwrap(), eu(4242, 0, &[0]));
        assert_eq!(
            r("bob", &["audio", "77"]).unwrap(),
            eu(1001, 50, &[50, 10, 29, 77])
        );
        assert_eq!(
            r("nosuch", &[]).unwrap_err().to_string(),
            "invalid user: unable to find user nosuch: no matching entries in passwd file"
        );
        assert!(r("alice:nosuch", &[])
            .unwrap_err()
            .to_string()
            .contains("unable to find group nosuch"));
        assert!(r("alice", &["nosuch"]).is_err());
        std::fs::remove_dir_all(rootfs()).unwrap();
    }

    /// An image whose /etc is a symlink to a host path: the files are
    /// looked for under the rootfs, never on the host.
    #[test]
    fn symlinks_stay_in_the_rootfs() {
        let base = std::env::temp_dir().join(format!("berth-users-link-{}", std::process::id()));
        let host_etc = base.join("host-etc");
        std::fs::create_dir_all(&host_etc).unwrap();
        std::fs::write(host_etc.join("passwd"), "evil:x:7:7::/:/bin/sh\n").unwrap();
        let rootfs = base.join("rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        std::os::unix::fs::symlink(&host_etc, rootfs.join("etc")).unwrap();
        let err = resolve(&rootfs, "evil", &[]).unwrap_err().to_string();
        assert!(err.contains("unable to find user evil"), "{err}");
        // The same file inside the rootfs is found through the link.
        let inside = rootfs.join(host_etc.strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::write(inside.join("passwd"), "good:x:8:8::/:/bin/sh\n").unwrap();
        assert_eq!(resolve(&rootfs, "good", &[]).unwrap().uid, 8);
        std::fs::remove_dir_all(&base).unwrap();
    }
}

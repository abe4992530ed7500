//! Writing a new user namespace's uid and gid maps from outside it.
//!
//! The kernel takes a map in one write to `/proc/<pid>/uid_map`, from a
//! process with CAP_SETUID (CAP_SETGID for gids) over the parent namespace:
//! root writes any map directly. An unprivileged caller may write only one
//! line mapping its own effective id, and for gids only after
//! `/proc/<pid>/setgroups` says `deny` (otherwise the container could drop
//! groups that deny it access on the host). Any other map goes through the
//! setuid helpers `newuidmap`/`newgidmap` (Debian package `uidmap`), which
//! check it against `/etc/subuid` and `/etc/subgid`. As with runc: the
//! direct write is tried first and the helper used when the kernel says
//! EPERM, and setgroups is denied only for a single own-gid map written
//! without the helper.

use std::path::PathBuf;
use std::process::Command;

use oci_spec::runtime::{LinuxIdMapping, Spec};

use crate::error::{Error, Result};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Uid,
    Gid,
}

impl Kind {
    fn file(self) -> &'static str {
        match self {
            Kind::Uid => "uid_map",
            Kind::Gid => "gid_map",
        }
    }

    fn helper(self) -> &'static str {
        match self {
            Kind::Uid => "newuidmap",
            Kind::Gid => "newgidmap",
        }
    }

    fn subordinate_file(self) -> &'static str {
        match self {
            Kind::Uid => "/etc/subuid",
            Kind::Gid => "/etc/subgid",
        }
    }

    fn own_id(self) -> u32 {
        match self {
            Kind::Uid => nix::unistd::geteuid().as_raw(),
            Kind::Gid => nix::unistd::getegid().as_raw(),
        }
    }
}

/// Writes the uid and gid maps of process `pid`'s user namespace from the
/// config's `linux.uidMappings` and `linux.gidMappings`.
pub fn write_maps(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uid = linux
        .and_then(|l| l.uid_mappings().as_deref())
        .unwrap_or_default();
    let gid = linux
        .and_then(|l| l.gid_mappings().as_deref())
        .unwrap_or_default();
    write_id_maps(pid, uid, gid)
}

/// Writes the uid and gid maps of process `pid`'s user namespace (also the
/// namespaces made for idmapped mounts, `rootfs::idmapped`).
pub fn write_id_maps(pid: i32, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    write_map(pid, Kind::Uid, uid)?;
    if crate::rootless::unprivileged() && only_own_id(gid, Kind::Gid.own_id()) {
        deny_setgroups(pid)?;
    }
    write_map(pid, Kind::Gid, gid)
}

/// Exactly one id, the caller's own: the one map an unprivileged process
/// may write itself.
fn only_own_id(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id() == own && m.size() == 1)
}

fn map_lines(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn write_map(pid: i32, kind: Kind, maps: &[LinuxIdMapping]) -> Result<()> {
    let path = format!("/proc/{pid}/{}", kind.file());
    match std::fs::write(&path, map_lines(maps)) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => run_helper(pid, kind, maps, e),
        Err(e) => Err(Error::io("write", &path, e)),
    }
}

/// A permanent `deny` of setgroups(2) in the new namespace; the kernel
/// demands it before an unprivileged gid map.
fn deny_setgroups(pid: i32) -> Result<()> {
    let path = format!("/proc/{pid}/setgroups");
    std::fs::write(&path, "deny").map_err(|e| Error::io("write", &path, e))
}

/// `newuidmap <pid> <container-id> <host-id> <size>...` (or newgidmap).
fn run_helper(pid: i32, kind: Kind, maps: &[LinuxIdMapping], direct: std::io::Error) -> Result<()> {
    let map = map_lines(maps).trim_end().replace('\n', ", ");
    let Some(helper) = find_helper(kind.helper()) else {
        return Err(Error::Container(format!(
            "cannot write {} {map:?} as uid {}: the kernel refused ({direct}) and {} was not found; an unprivileged user \
             needs {} (package uidmap) and entries in {} for any map but its own id",
            kind.file(),
            nix::unistd::geteuid(),
            kind.helper(),
            kind.helper(),
            kind.subordinate_file(),
        )));
    };
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = Command::new(&helper)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io("run", &helper, e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Container(format!(
            "{} {} failed ({}): {} (is the map allowed by {}?)",
            helper.display(),
            args.join(" "),
            out.status,
            stderr.trim().replace('\n', "; "),
            kind.subordinate_file(),
        )));
    }
    Ok(())
}

/// The helper on `PATH`, or in `/usr/bin` where Debian puts it (a caller's
/// PATH may lack it).
fn find_helper(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/bin", "/bin"])
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file());
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(json: &str) -> Vec<LinuxIdMapping> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn one_own_id_is_the_direct_case() {
        assert!(only_own_id(
            &maps(r#"[{"containerID":0,"hostID":1000,"size":1}]"#),
            1000
        ));
        assert!(only_own_id(
            &maps(r#"[{"containerID":5,"hostID":1000,"size":1}]"#),
            1000
        ));
        assert!(!only_own_id(
            &maps(r#"[{"containerID":0,"hostID":1000,"size":2}]"#),
            1000
        ));
        assert!(!only_own_id(
            &maps(r#"[{"containerID":0,"hostID":1001,"size":1}]"#),
            1000
        ));
        assert!(!only_own_id(
            &maps(
                r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":200000,"size":10}]"#
            ),
            1000
        ));
    }

    #[test]
    fn map_lines_are_one_per_range() {
        let m = maps(
            r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":200000,"size":65536}]"#,
        );
        assert_eq!(map_lines(&m), "0 1000 1\n1 200000 65536\n");
    }
}

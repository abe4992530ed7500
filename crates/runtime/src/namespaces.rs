//! Which namespaces a container gets: new ones (clone flags), joined ones
//! (`path`), and the two that need special timing (cgroup: unshared by the
//! init after it sits in its cgroup, so the namespace's root is that cgroup;
//! time: unshared by an intermediate process, since only children enter it
//! and its offsets must be written before any process does).

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;

use nix::sched::{setns, unshare, CloneFlags};
use oci_spec::runtime::{Linux, LinuxNamespaceType};

use crate::error::{Error, Result};

/// The namespace plan of one container.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `CLONE_NEW*` flags for the clone of the init (no cgroup, no time).
    pub clone_flags: CloneFlags,
    pub new_cgroup: bool,
    pub new_time: bool,
    pub new_user: bool,
    /// Namespaces to join, in the order they are entered.
    pub joins: Vec<(LinuxNamespaceType, PathBuf)>,
    /// Every type the config lists (new or joined).
    pub listed: Vec<LinuxNamespaceType>,
}

pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

fn flag(t: LinuxNamespaceType) -> CloneFlags {
    CloneFlags::from_bits_retain(t as i32)
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            clone_flags: CloneFlags::empty(),
            new_cgroup: false,
            new_time: false,
            new_user: false,
            joins: Vec::new(),
            listed: Vec::new(),
        }
    }
}

impl Plan {
    pub fn from_config(linux: Option<&Linux>) -> Result<Self> {
        let mut plan = Plan::default();
        let namespaces = linux.and_then(|l| l.namespaces().as_ref());
        let mut seen = HashMap::new();
        for ns in namespaces.into_iter().flatten() {
            let t = ns.typ();
            if seen.insert(t, ()).is_some() {
                return Err(Error::InvalidConfig(format!(
                    "malformed spec file: duplicate namespace {:?}",
                    proc_name(t)
                )));
            }
            plan.listed.push(t);
            match ns.path() {
                Some(path) if !path.as_os_str().is_empty() => {
                    if !path.is_absolute() {
                        return Err(Error::InvalidConfig(format!(
                            "namespace path {} must be absolute",
                            path.display()
                        )));
                    }
                    plan.joins.push((t, path.clone()));
                }
                _ => match t {
                    LinuxNamespaceType::Cgroup => plan.new_cgroup = true,
                    LinuxNamespaceType::Time => plan.new_time = true,
                    other => {
                        plan.clone_flags |= flag(other);
                        if other == LinuxNamespaceType::User {
                            plan.new_user = true;
                        }
                    }
                },
            }
        }
        order_joins(&mut plan.joins, crate::rootless::unprivileged());
        Ok(plan)
    }

    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        self.listed.contains(&t)
    }

    /// Whether the init must be forked from an intermediate process that
    /// first joins namespaces or unshares the time namespace.
    pub fn needs_intermediate(&self) -> bool {
        !self.joins.is_empty() || self.new_time
    }
}

/// Puts the user namespace where joining it works. As host root, last: we
/// may join anything, and the user namespace only adds rights over what
/// it owns (first, we would lose our rights over namespaces the host's
/// user namespace owns). Unprivileged, first: only inside it do we hold
/// the capabilities the other joins need.
pub fn order_joins(joins: &mut [(LinuxNamespaceType, PathBuf)], unprivileged: bool) {
    joins.sort_by_key(|(t, _)| (*t == LinuxNamespaceType::User) != unprivileged);
}

/// Opens every namespace file first (paths may vanish from view once we
/// enter a mount namespace), then enters them in order.
pub fn join_all(joins: &[(LinuxNamespaceType, PathBuf)]) -> Result<()> {
    let mut files = Vec::with_capacity(joins.len());
    for (t, path) in joins {
        let file = File::open(path).map_err(|e| Error::io("open namespace", path, e))?;
        files.push((*t, path, file));
    }
    for (t, path, file) in &files {
        setns(file, flag(*t)).map_err(|e| Error::io("join namespace", *path, e.into()))?;
    }
    Ok(())
}

/// Unshares a new time namespace for our future children and writes its
/// clock offsets (`linux.timeOffsets`: "monotonic" and "boottime").
pub fn unshare_time(linux: Option<&Linux>) -> Result<()> {
    unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
        .map_err(|e| Error::sys("unshare time namespace", e))?;
    let Some(offsets) = linux.and_then(|l| l.time_offsets().as_ref()) else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        if clock != "monotonic" && clock != "boottime" {
            return Err(Error::InvalidConfig(format!(
                "linux.timeOffsets: unknown clock {clock:?} (want monotonic or boottime)"
            )));
        }
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    // The kernel takes one clock per write.
    for line in text.lines() {
        std::fs::write("/proc/self/timens_offsets", line)
            .map_err(|e| Error::io("write time offsets to", "/proc/self/timens_offsets", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(json: &str) -> Linux {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn plans_new_and_joined_namespaces() {
        let l = linux(
            r#"{"namespaces":[{"type":"pid"},{"type":"user"},{"type":"network","path":"/proc/1/ns/net"},
                {"type":"cgroup"},{"type":"mount"}]}"#,
        );
        let p = Plan::from_config(Some(&l)).unwrap();
        assert!(p.clone_flags.contains(
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS
        ));
        assert!(!p.clone_flags.contains(CloneFlags::CLONE_NEWNET));
        assert!(!p.clone_flags.contains(CloneFlags::CLONE_NEWCGROUP));
        assert!(p.new_cgroup && p.new_user && !p.new_time);
        assert_eq!(p.joins.len(), 1);
        assert!(p.needs_intermediate());
    }

    #[test]
    fn rejects_duplicates_and_relative_paths() {
        let dup = linux(r#"{"namespaces":[{"type":"pid"},{"type":"pid"}]}"#);
        assert!(Plan::from_config(Some(&dup)).is_err());
        let rel = linux(r#"{"namespaces":[{"type":"network","path":"net"}]}"#);
        assert!(Plan::from_config(Some(&rel)).is_err());
    }

    #[test]
    fn user_namespace_is_joined_last() {
        let l = linux(
            r#"{"namespaces":[{"type":"user","path":"/proc/1/ns/user"},{"type":"network","path":"/proc/1/ns/net"}]}"#,
        );
        let mut p = Plan::from_config(Some(&l)).unwrap();
        order_joins(&mut p.joins, false);
        assert_eq!(p.joins.last().unwrap().0, LinuxNamespaceType::User);
        order_joins(&mut p.joins, true);
        assert_eq!(p.joins.first().unwrap().0, LinuxNamespaceType::User);
    }
}

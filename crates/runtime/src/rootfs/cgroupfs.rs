//! The `cgroup` mount type: the container's own view of its cgroups.
//!
//! cgroup v2: one `cgroup2` mount, fresh when the container has a cgroup
//! namespace (its root is then the container's cgroup), else a bind of the
//! container's cgroup directory. cgroup v1 and hybrid hosts: a tmpfs with one
//! directory per hierarchy, as on the host (`cpu`, `memory`, `systemd`,
//! `unified`, ...), each a fresh mount inside a cgroup namespace or a bind of
//! the container's directory. v1 filesystems cannot be mounted inside a user
//! namespace, so there they are always binds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::options::MountOptions;
use super::resolve::{fd_path, Root};
use super::{do_mount, mount_err, Context};
use crate::error::{Error, Result};

/// One cgroup hierarchy mounted on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hierarchy {
    /// Where the host mounts it, e.g. `/sys/fs/cgroup/memory`.
    mount_point: PathBuf,
    /// The cgroup path the mount shows as its root (`/` unless nested).
    mount_root: String,
    /// `cgroup2`, or the v1 controllers as /proc/self/cgroup names them
    /// ("cpu,cpuacct", "name=systemd").
    controllers: String,
    v2: bool,
}

fn host_hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let (fstype, superopts) = (post[0], post[2]);
        let v2 = match fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let controllers = if v2 {
            String::new()
        } else {
            superopts
                .split(',')
                .filter(|o| {
                    !matches!(*o, "rw" | "ro")
                        && !o.starts_with("release_agent")
                        && *o != "xattr"
                        && *o != "clone_children"
                        && *o != "noprefix"
                        && *o != "cpuset_v2_mode"
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        out.push(Hierarchy {
            mount_point: PathBuf::from(pre[4]),
            mount_root: pre[3].to_string(),
            controllers,
            v2,
        });
    }
    out
}

/// Parses /proc/self/cgroup: controllers ("" for v2) → path.
pub fn own_cgroups(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
            Some((ctrl.to_string(), path.to_string()))
        })
        .collect()
}

fn same_controllers(a: &str, b: &str) -> bool {
    let mut a: Vec<&str> = a.split(',').collect();
    let mut b: Vec<&str> = b.split(',').collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// The host directory of the container's cgroup in `h`.
fn host_dir(h: &Hierarchy, own: &HashMap<String, String>) -> Option<PathBuf> {
    let path = own
        .iter()
        .find(|(c, _)| {
            if h.v2 {
                c.is_empty()
            } else {
                same_controllers(c, &h.controllers)
            }
        })?
        .1;
    let rel = path
        .strip_prefix(h.mount_root.trim_end_matches('/'))
        .unwrap_or(path);
    Some(h.mount_point.join(rel.trim_start_matches('/')))
}

pub fn mount(ctx: &Context<'_>, root: &Root, dest: &Path, opts: &MountOptions) -> Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("read", "/proc/self/mountinfo", e))?;
    let hierarchies: Vec<Hierarchy> = host_hierarchies(&info)
        .into_iter()
        .filter(|h| h.mount_point.starts_with("/sys/fs/cgroup"))
        .collect();
    let fresh = ctx.plan.new_cgroup;
    let userns = ctx.in_user_namespace();
    let flags = opts.flags - MsFlags::MS_RDONLY;
    let readonly = opts.flags.contains(MsFlags::MS_RDONLY);
    let pure_v2 = hierarchies.len() == 1
        && hierarchies[0].v2
        && hierarchies[0].mount_point == Path::new("/sys/fs/cgroup");
    if pure_v2 {
        return mount_one(
            &hierarchies[0],
            root,
            dest,
            fresh,
            userns,
            flags
                | if readonly {
                    MsFlags::MS_RDONLY
                } else {
                    MsFlags::empty()
                },
            ctx.own_cgroups,
        );
    }
    // v1 or hybrid: a tmpfs holding one directory per hierarchy.
    let target = root.mkdir_all(dest, 0o755)?;
    do_mount(
        Some(Path::new("tmpfs")),
        &fd_path(&target),
        Some("tmpfs"),
        flags,
        Some("mode=755"),
    )
    .map_err(|e| mount_err("mount tmpfs for cgroups", dest, e))?;
    for h in &hierarchies {
        let name = h
            .mount_point
            .strip_prefix("/sys/fs/cgroup")
            .unwrap_or(&h.mount_point);
        // On a hybrid host the unified hierarchy holds no controllers; like
        // runc, the container gets the v1 hierarchies only.
        if name.as_os_str().is_empty() || h.v2 {
            continue;
        }
        let sub = dest.join(name);
        // v1 filesystems cannot be mounted in a user namespace.
        let fresh_here = fresh && (h.v2 || !userns);
        mount_one(
            h,
            root,
            &sub,
            fresh_here,
            userns,
            flags
                | if readonly {
                    MsFlags::MS_RDONLY
                } else {
                    MsFlags::empty()
                },
            ctx.own_cgroups,
        )?;
        // Co-mounted controllers ("cpu,cpuacct") also get a link per name.
        let dir_name = name.to_string_lossy();
        if !h.v2 && dir_name.contains(',') {
            for c in dir_name.split(',') {
                let link = root
                    .path()
                    .join(dest.strip_prefix("/").unwrap_or(dest))
                    .join(c);
                let _ = std::os::unix::fs::symlink(&*dir_name, link);
            }
        }
    }
    if readonly {
        let top = root.lookup(dest).map_err(|e| Error::io("open", dest, e))?;
        do_mount(
            None,
            &fd_path(&top),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
            Some("mode=755"),
        )
        .map_err(|e| mount_err("remount read-only", dest, e))?;
    }
    Ok(())
}

fn mount_one(
    h: &Hierarchy,
    root: &Root,
    dest: &Path,
    fresh: bool,
    userns: bool,
    flags: MsFlags,
    own: &HashMap<String, String>,
) -> Result<()> {
    let target_fd = root.mkdir_all(dest, 0o755)?;
    let target = &fd_path(&target_fd);
    if fresh {
        let (fstype, data) = if h.v2 {
            ("cgroup2", String::new())
        } else {
            ("cgroup", h.controllers.clone())
        };
        match do_mount(
            Some(Path::new(fstype)),
            target,
            Some(fstype),
            flags,
            Some(&data),
        ) {
            Ok(()) => return Ok(()),
            // In a user namespace the kernel refuses a cgroup2 superblock
            // that the host's user namespace already mounted (EBUSY: the
            // cgroup namespace's root is the host's mounted root, as for a
            // rootless container without a cgroup of its own) or any it may
            // not make (EPERM). A bind of the same directory shows the
            // same tree (runc falls back the same way).
            Err(nix::errno::Errno::EBUSY | nix::errno::Errno::EPERM) if userns => {}
            Err(e) => return Err(mount_err(&format!("mount {fstype}"), dest, e)),
        }
    }
    let Some(source) = host_dir(h, own) else {
        return Err(Error::Container(format!(
            "cannot mount {}: the container has no cgroup in {}",
            dest.display(),
            h.mount_point.display()
        )));
    };
    do_mount(
        Some(&source),
        target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| mount_err(&format!("bind {}", source.display()), dest, e))?;
    // Remount the new mount, not the directory under it, keeping the
    // flags a user namespace may not clear.
    let top = root.lookup(dest).map_err(|e| Error::io("open", dest, e))?;
    let locked = if userns {
        super::locked_flags(&source)
    } else {
        MsFlags::empty()
    };
    do_mount(
        None,
        &fd_path(&top),
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | locked,
        None,
    )
    .map_err(|e| mount_err("remount cgroup bind", dest, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
30 24 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:7 - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/systemd rw shared:8 - cgroup cgroup rw,xattr,name=systemd
";

    #[test]
    fn finds_hierarchies_and_container_dirs() {
        let hs = host_hierarchies(INFO);
        assert_eq!(hs.len(), 3);
        assert!(hs[0].v2);
        assert_eq!(hs[1].controllers, "cpu,cpuacct");
        assert_eq!(hs[2].controllers, "name=systemd");
        let own = own_cgroups("0::/berth/c1\n3:cpuacct,cpu:/berth/c1\n1:name=systemd:/berth/c1\n");
        assert_eq!(
            host_dir(&hs[0], &own).unwrap(),
            Path::new("/sys/fs/cgroup/unified/berth/c1")
        );
        assert_eq!(
            host_dir(&hs[1], &own).unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/berth/c1")
        );
        assert_eq!(
            host_dir(&hs[2], &own).unwrap(),
            Path::new("/sys/fs/cgroup/systemd/berth/c1")
        );
    }
}

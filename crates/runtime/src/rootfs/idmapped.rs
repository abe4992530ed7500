//! Idmapped bind mounts: a `mounts` entry with `uidMappings`/`gidMappings`
//! or the option `idmap`/`ridmap` shows its files through a mapping of
//! ids (`mount_setattr(MOUNT_ATTR_IDMAP)`, Linux 5.12), so a host
//! directory owned by root is owned by root inside a user-namespaced
//! container, and what the container's root writes is the host's root's.
//!
//! As in runc 1.2: the mapping is the mount's own `uidMappings` and
//! `gidMappings` when it has them (written as they are to the uid and gid
//! maps of a user namespace made for the purpose), else the container's
//! (`linux.uidMappings`, or the user namespace it joins by path). The
//! kernel lets only a holder of CAP_SYS_ADMIN over the filesystem's user
//! namespace idmap a mount, which the init in its user namespace is not:
//! so the runtime makes each one, before it forks the init, as a detached
//! tree (`open_tree(OPEN_TREE_CLONE)`), and the init, a fork that inherits
//! the descriptors, attaches it at the destination with `move_mount`
//! ([`super::idmapped_bind`]). What this module does not do: idmapped
//! mounts of anything but bind mounts (runc refuses them too), and for a
//! rootless runtime (it lacks the capability; runc refuses that too).

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use berth_sys::fsmount::{self as fsm, MountAttr};
use nix::mount::MsFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use serde::Deserialize;

use super::options;
use crate::error::{Error, Result};
use crate::namespaces::Plan;

/// A mount's `uidMappings` and `gidMappings` (runtime-spec 1.1). oci-spec
/// 0.8's `Mount` lacks these fields, so `config::load` reads them from
/// `config.json` beside it, one per `mounts` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MountMappings {
    #[serde(default, rename = "uidMappings")]
    pub uid: Option<Vec<LinuxIdMapping>>,
    #[serde(default, rename = "gidMappings")]
    pub gid: Option<Vec<LinuxIdMapping>>,
}

impl MountMappings {
    fn given(&self) -> bool {
        self.uid.is_some() || self.gid.is_some()
    }
}

/// Whose mapping an idmapped mount applies.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Userns {
    /// A user namespace with these maps, made for the purpose.
    Maps {
        uid: Vec<LinuxIdMapping>,
        gid: Vec<LinuxIdMapping>,
    },
    /// The existing user namespace the container joins.
    Path(PathBuf),
}

/// One idmapped mount, checked, to be made before the init is forked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Its index in `mounts`.
    index: usize,
    source: PathBuf,
    destination: PathBuf,
    /// `rbind`: the mounts below the source come along.
    rbind: bool,
    /// `ridmap`: the mapping applies to those too, not just the top.
    ridmap: bool,
    userns: Userns,
}

/// Which `mounts` entries are idmapped, refusing what runc refuses, in
/// runc's words: mappings on anything but a bind mount, one of the two
/// mappings without the other, no mapping to use at all, a rootless
/// runtime. `mappings` is indexed like `spec.mounts()` (missing entries
/// have none).
pub fn plan(
    spec: &Spec,
    mappings: &[MountMappings],
    ns: &Plan,
    bundle: &Path,
) -> Result<Vec<Planned>> {
    let none = MountMappings::default();
    let mut planned = Vec::new();
    for (index, m) in spec.mounts().iter().flatten().enumerate() {
        let maps = mappings.get(index).unwrap_or(&none);
        let dest = m.destination();
        let opts = options::parse(m.options().as_deref().unwrap_or_default())
            .map_err(|e| Error::InvalidConfig(format!("mount {}: {e}", dest.display())))?;
        if opts.idmap.is_none() && !maps.given() {
            continue;
        }
        let invalid =
            |why: &str| Error::InvalidConfig(format!("invalid mount {}: {why}", dest.display()));
        let bind = opts.bind || m.typ().as_deref() == Some("bind");
        if !bind {
            return Err(invalid(
                "id-mapped mounts are only supported for bind-mounts",
            ));
        }
        if crate::rootless::unprivileged() {
            return Err(invalid(
                "id-mapped mounts are not supported for rootless containers",
            ));
        }
        let userns = if maps.given() {
            match (&maps.uid, &maps.gid) {
                (Some(uid), Some(gid)) if !uid.is_empty() && !gid.is_empty() => Userns::Maps {
                    uid: uid.clone(),
                    gid: gid.clone(),
                },
                _ => {
                    return Err(invalid(
                        "id-mapped mounts must have both uid and gid mappings specified",
                    ))
                }
            }
        } else {
            container_userns(spec, ns).ok_or_else(|| {
                invalid(
                    "id-mapped mounts must have both uid and gid mappings specified \
                     (the mount has none, and the container has no user namespace to take them from)",
                )
            })?
        };
        let source = m.source().as_deref().ok_or_else(|| {
            Error::InvalidConfig(format!("bind mount {} has no source", dest.display()))
        })?;
        let source = if source.is_absolute() {
            source.to_path_buf()
        } else {
            bundle.join(source)
        };
        planned.push(Planned {
            index,
            source,
            destination: dest.clone(),
            rbind: opts.flags.contains(MsFlags::MS_REC),
            ridmap: opts.idmap == Some(true),
            userns,
        });
    }
    Ok(planned)
}

/// The container's own mapping: its new user namespace's maps, or the
/// user namespace it joins.
fn container_userns(spec: &Spec, ns: &Plan) -> Option<Userns> {
    if let Some((_, path)) = ns
        .joins
        .iter()
        .find(|(t, _)| *t == LinuxNamespaceType::User)
    {
        return Some(Userns::Path(path.clone()));
    }
    if !ns.new_user {
        return None;
    }
    let linux = spec.linux().as_ref()?;
    Some(Userns::Maps {
        uid: linux.uid_mappings().clone()?,
        gid: linux.gid_mappings().clone()?,
    })
}

/// The idmapped trees, detached, by `mounts` index. The init inherits the
/// descriptors (it is forked after they are made) and attaches each; they
/// close at its `execve`, and in the runtime when `create` returns.
#[derive(Debug, Default)]
pub struct Sources {
    trees: Vec<(usize, OwnedFd)>,
}

impl Sources {
    /// The tree for `mounts[index]`, if that mount is idmapped.
    pub fn get(&self, index: usize) -> Option<BorrowedFd<'_>> {
        self.trees
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, fd)| fd.as_fd())
    }
}

/// Makes every planned mount as a detached, idmapped tree, in the
/// runtime's mount namespace (where the sources are), as host root.
pub fn make(planned: &[Planned], spec: &Spec) -> Result<Sources> {
    let mut sources = Sources::default();
    if planned.is_empty() {
        return Ok(sources);
    }
    let propagation = detached_propagation(spec);
    let mut namespaces: Vec<(Userns, OwnedFd)> = Vec::new();
    for p in planned {
        let tree = fsm::open_tree_clone(&p.source, p.rbind).map_err(|e| {
            Error::sys(
                format!(
                    "clone {} for the idmapped mount on {}",
                    p.source.display(),
                    p.destination.display()
                ),
                e,
            )
        })?;
        if let Some(flags) = propagation {
            let attr = MountAttr {
                propagation: flags.bits(),
                ..MountAttr::default()
            };
            fsm::mount_setattr(tree.as_fd(), true, &attr).map_err(|e| {
                Error::sys(
                    format!(
                        "set the propagation of the idmapped mount on {}",
                        p.destination.display()
                    ),
                    e,
                )
            })?;
        }
        let userns = match namespaces.iter().find(|(u, _)| *u == p.userns) {
            Some((_, fd)) => fd,
            None => {
                let fd = open_userns(&p.userns)?;
                namespaces.push((p.userns.clone(), fd));
                &namespaces.last().expect("just pushed").1
            }
        };
        let attr = MountAttr {
            attr_set: u64::from(fsm::MOUNT_ATTR_IDMAP),
            userns_fd: userns.as_raw_fd() as u64,
            ..MountAttr::default()
        };
        fsm::mount_setattr(tree.as_fd(), p.ridmap, &attr).map_err(|e| {
            if e.raw_os_error() == Some(libc::EINVAL) {
                let below = if p.ridmap && p.rbind {
                    filesystems_below(&p.source)
                } else {
                    Vec::new()
                };
                unsupported_filesystem(
                    &p.destination,
                    &p.source,
                    &filesystem_name(&p.source),
                    &below,
                )
            } else {
                Error::sys(
                    format!(
                        "idmap the mount of {} on {}",
                        p.source.display(),
                        p.destination.display()
                    ),
                    e,
                )
            }
        })?;
        sources.trees.push((p.index, tree));
    }
    Ok(sources)
}

/// The propagation a detached tree gets before it is attached: the same a
/// plain bind made inside the container's mount namespace would have. The
/// clone of a shared host mount is in its peer group; left so, a mount the
/// container later makes under it (a nested mount) would appear on the
/// host (crun issue 2097). With the default `rslave` it becomes a slave
/// (host mounts still show inside), with `[r]private` private; with
/// `[r]shared` it stays a peer, as asked.
fn detached_propagation(spec: &Spec) -> Option<MsFlags> {
    let linux = spec.linux().as_ref();
    match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        None | Some("") => Some(MsFlags::MS_SLAVE),
        Some(p) => match options::propagation_of(p) {
            Some(f) if f.contains(MsFlags::MS_SHARED) => None,
            Some(f) if f.contains(MsFlags::MS_SLAVE) => Some(MsFlags::MS_SLAVE),
            _ => Some(MsFlags::MS_PRIVATE),
        },
    }
}

fn open_userns(userns: &Userns) -> Result<OwnedFd> {
    match userns {
        Userns::Path(path) => File::open(path)
            .map(OwnedFd::from)
            .map_err(|e| Error::io("open user namespace", path, e)),
        Userns::Maps { uid, gid } => userns_with_maps(uid, gid),
    }
}

/// A user namespace with the maps `uid` and `gid`: a child is cloned into
/// a new one, the maps written, the namespace opened; then the child,
/// blocked reading a pipe only we write to, sees it close and exits (also
/// when we die first).
fn userns_with_maps(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::sys("create pipe", e))?;
    let pid = match berth_sys::clone_process(libc::CLONE_NEWUSER)
        .map_err(|e| Error::sys("clone a user namespace for an idmapped mount", e))?
    {
        berth_sys::Forked::Child => {
            drop(wr);
            let _ = nix::unistd::read(&rd, &mut [0u8; 1]);
            berth_sys::exit_now(0)
        }
        berth_sys::Forked::Parent(pid) => pid,
    };
    drop(rd);
    let opened = crate::idmap::write_id_maps(pid, uid, gid).and_then(|()| {
        let path = format!("/proc/{pid}/ns/user");
        File::open(&path)
            .map(OwnedFd::from)
            .map_err(|e| Error::io("open", path, e))
    });
    drop(wr);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    opened
}

/// The one-line refusal for a source whose filesystem cannot be idmapped
/// (the kernel's EINVAL), naming the filesystem and the mount.
/// `fs` is a filesystem type ("ext4") or a phrase ("a filesystem of type
/// 0x1234"); `below` the types mounted below the source when the mapping
/// was applied to them too (any of them may be the one refused).
pub fn unsupported_filesystem(dest: &Path, source: &Path, fs: &str, below: &[String]) -> Error {
    let (dest, source) = (dest.display(), source.display());
    Error::HostLacks(if below.is_empty() {
        format!(
            "idmapped mount on {dest}: {source} is on {fs}, which does not support idmapped mounts on this kernel"
        )
    } else {
        format!(
            "idmapped mount on {dest}: {source} is on {fs} and has {} mounted below it; \
             one of them does not support idmapped mounts on this kernel",
            below.join(", ")
        )
    })
}

/// The type of the filesystem `path` is on, as `/proc/self/mountinfo`
/// names it (it tells devtmpfs from tmpfs, which share a magic number);
/// from the magic number when that fails.
fn filesystem_name(path: &Path) -> String {
    let Ok(file) = File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)
    else {
        return "a filesystem of unknown type".into();
    };
    let mnt_id = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd()))
        .ok()
        .and_then(|info| parse_mnt_id(&info));
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if let Some(fs) = mnt_id.and_then(|id| mountinfo_fstype(&mountinfo, id)) {
        return fs;
    }
    match nix::sys::statfs::fstatfs(&file) {
        Ok(st) => magic_name(st.filesystem_type().0),
        Err(_) => "a filesystem of unknown type".into(),
    }
}

/// The distinct filesystem types mounted strictly below `path`.
fn filesystems_below(path: &Path) -> Vec<String> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut types: Vec<String> = mountinfo
        .lines()
        .filter_map(parse_mountinfo_line)
        .filter(|(_, point, _)| Path::new(point) != path && Path::new(point).starts_with(&path))
        .map(|(_, _, fs)| fs)
        .collect();
    types.sort();
    types.dedup();
    types
}

fn parse_mnt_id(fdinfo: &str) -> Option<u64> {
    fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
}

/// (mount id, mount point, filesystem type) of one mountinfo line.
fn parse_mountinfo_line(line: &str) -> Option<(u64, String, String)> {
    let (left, right) = line.split_once(" - ")?;
    let mut fields = left.split(' ');
    let id = fields.next()?.parse().ok()?;
    let point = fields.nth(3)?;
    let fs = right.split(' ').next()?;
    Some((id, unescape_octal(point), fs.to_owned()))
}

fn mountinfo_fstype(mountinfo: &str, id: u64) -> Option<String> {
    mountinfo
        .lines()
        .filter_map(parse_mountinfo_line)
        .find(|(i, _, _)| *i == id)
        .map(|(_, _, fs)| fs)
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// statfs(2) magic numbers of the filesystems a bind source is likely on.
fn magic_name(magic: i64) -> String {
    let name = match magic {
        0xef53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683e => "btrfs",
        0x0102_1994 => "tmpfs",
        0x8584_58f6 => "ramfs",
        0x794c_7630 => "overlay",
        0x6573_5546 => "fuse",
        0x0102_1997 => "9p",
        0x6969 => "nfs",
        0xff53_4d42 => "cifs",
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        0x1cd1 => "devpts",
        0x0027_e0eb => "cgroup",
        0x6367_7270 => "cgroup2",
        0x7366_7371 => "squashfs",
        0xe0f5_e1e2 => "erofs",
        0x4d44 => "vfat",
        0xf2f5_2010 => "f2fs",
        0x9584_58f6 => "hugetlbfs",
        _ => return format!("a filesystem of type {magic:#x}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        let mut base = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": { "args": ["true"], "cwd": "/", "user": { "uid": 0, "gid": 0 } },
            "root": { "path": "rootfs" },
            "linux": { "namespaces": [{ "type": "mount" }] }
        });
        for (k, v) in json.as_object().unwrap() {
            if k == "linux" {
                for (lk, lv) in v.as_object().unwrap() {
                    base["linux"][lk] = lv.clone();
                }
            } else {
                base[k] = v.clone();
            }
        }
        serde_json::from_value(base).unwrap()
    }

    fn userns_linux() -> serde_json::Value {
        let map = serde_json::json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        serde_json::json!({
            "namespaces": [{ "type": "mount" }, { "type": "user" }],
            "uidMappings": map, "gidMappings": map
        })
    }

    fn maps(json: serde_json::Value) -> Vec<MountMappings> {
        serde_json::from_value(json).unwrap()
    }

    fn planned(s: &Spec, m: &[MountMappings]) -> Result<Vec<Planned>> {
        let ns = Plan::from_config(s.linux().as_ref()).unwrap();
        plan(s, m, &ns, Path::new("/bundle"))
    }

    fn bind(dest: &str, opts: &[&str]) -> serde_json::Value {
        serde_json::json!({ "destination": dest, "type": "bind", "source": "/src", "options": opts })
    }

    fn unprivileged_skip() -> bool {
        // Rootless, every idmapped mount is refused first.
        crate::rootless::unprivileged()
    }

    #[test]
    fn idmap_without_mappings_takes_the_containers() {
        if unprivileged_skip() {
            return;
        }
        let s = spec(serde_json::json!({
            "mounts": [bind("/plain", &["rbind"]), bind("/a", &["rbind", "idmap"]), bind("/b", &["bind", "ridmap"])],
            "linux": userns_linux()
        }));
        let p = planned(&s, &[]).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].index, p[0].rbind, p[0].ridmap), (1, true, false));
        assert_eq!((p[1].index, p[1].rbind, p[1].ridmap), (2, false, true));
        let want = s.linux().as_ref().unwrap().uid_mappings().clone().unwrap();
        assert_eq!(
            p[0].userns,
            Userns::Maps {
                uid: want.clone(),
                gid: want
            }
        );
    }

    #[test]
    fn the_mounts_own_mappings_win_and_need_no_idmap_option() {
        if unprivileged_skip() {
            return;
        }
        let s = spec(serde_json::json!({ "mounts": [bind("/a", &["rbind"])] }));
        let m = maps(serde_json::json!([{
            "uidMappings": [{ "containerID": 0, "hostID": 2000, "size": 10 }],
            "gidMappings": [{ "containerID": 0, "hostID": 3000, "size": 10 }]
        }]));
        let p = planned(&s, &m).unwrap();
        let Userns::Maps { uid, gid } = &p[0].userns else {
            panic!("{p:?}")
        };
        assert_eq!((uid[0].host_id(), gid[0].host_id()), (2000, 3000));
    }

    #[test]
    fn a_joined_user_namespace_is_used_by_path() {
        if unprivileged_skip() {
            return;
        }
        let mut linux = userns_linux();
        linux["namespaces"] =
            serde_json::json!([{ "type": "mount" }, { "type": "user", "path": "/proc/1/ns/user" }]);
        let s = spec(
            serde_json::json!({ "mounts": [bind("/a", &["rbind", "idmap"])], "linux": linux }),
        );
        let p = planned(&s, &[]).unwrap();
        assert_eq!(p[0].userns, Userns::Path("/proc/1/ns/user".into()));
    }

    #[test]
    fn refusals_in_runcs_words() {
        if unprivileged_skip() {
            return;
        }
        let tmpfs = serde_json::json!({ "destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"] });
        let err = planned(
            &spec(serde_json::json!({ "mounts": [tmpfs], "linux": userns_linux() })),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "invalid mount /t: id-mapped mounts are only supported for bind-mounts"
        );

        let s = spec(serde_json::json!({ "mounts": [bind("/a", &["rbind", "idmap"])] }));
        let err = planned(&s, &[]).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "invalid mount /a: id-mapped mounts must have both uid and gid mappings specified"
            ),
            "{err}"
        );
        assert!(err.contains("no user namespace"), "{err}");

        let only_uid = maps(
            serde_json::json!([{ "uidMappings": [{ "containerID": 0, "hostID": 1, "size": 1 }] }]),
        );
        let err = planned(&s, &only_uid).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid mount /a: id-mapped mounts must have both uid and gid mappings specified"
        );
        let empty = maps(serde_json::json!([{ "uidMappings": [], "gidMappings": [] }]));
        assert!(planned(&s, &empty).is_err());
    }

    #[test]
    fn unsupported_filesystem_names_it_and_the_mount() {
        let e = unsupported_filesystem(Path::new("/data"), Path::new("/srv/vol"), "ramfs", &[]);
        assert_eq!(
            e.to_string(),
            "idmapped mount on /data: /srv/vol is on ramfs, which does not support idmapped mounts on this kernel"
        );
        assert_eq!(e.kind(), crate::error::ErrorKind::Unsupported);
        let e = unsupported_filesystem(
            Path::new("/data"),
            Path::new("/srv"),
            "ext4",
            &["proc".into(), "sysfs".into()],
        );
        assert_eq!(
            e.to_string(),
            "idmapped mount on /data: /srv is on ext4 and has proc, sysfs mounted below it; \
             one of them does not support idmapped mounts on this kernel"
        );
    }

    #[test]
    fn filesystem_names_from_mountinfo_and_magic() {
        let info = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
                    30 22 0:5 / /dev rw,nosuid - devtmpfs udev rw\n\
                    31 22 0:6 / /a\\040b rw - tmpfs tmpfs rw\n";
        assert_eq!(mountinfo_fstype(info, 30).as_deref(), Some("devtmpfs"));
        assert_eq!(mountinfo_fstype(info, 22).as_deref(), Some("ext4"));
        assert_eq!(mountinfo_fstype(info, 99), None);
        assert_eq!(
            parse_mountinfo_line(info.lines().nth(2).unwrap())
                .unwrap()
                .1,
            "/a b"
        );
        assert_eq!(
            parse_mnt_id("pos:\t0\nflags:\t02000000\nmnt_id:\t31\nino:\t5\n"),
            Some(31)
        );
        assert_eq!(magic_name(0x8584_58f6), "ramfs");
        assert_eq!(magic_name(0x1234), "a filesystem of type 0x1234");
        // This process's own root, through the real files.
        assert!(!filesystem_name(Path::new("/")).is_empty());
        assert_eq!(filesystem_name(Path::new("/proc/self")), "proc");
    }

    #[test]
    fn detached_trees_get_the_propagation_of_a_bind_made_inside() {
        let with = |p: &str| {
            let mut linux = serde_json::json!({});
            if !p.is_empty() {
                linux["rootfsPropagation"] = serde_json::json!(p);
            }
            detached_propagation(&spec(serde_json::json!({ "linux": linux })))
        };
        assert_eq!(with(""), Some(MsFlags::MS_SLAVE));
        assert_eq!(with("rslave"), Some(MsFlags::MS_SLAVE));
        assert_eq!(with("rprivate"), Some(MsFlags::MS_PRIVATE));
        assert_eq!(with("runbindable"), Some(MsFlags::MS_PRIVATE));
        assert_eq!(with("rshared"), None);
    }
}

//! Fixtures for the volume tests: mounts that go away on drop (before the
//! temp dir that holds them), and small file helpers.
#![allow(dead_code)]

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use berth_testutil::TempDir;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

/// A mount on `target`, detached on drop.
pub struct Mounted {
    pub target: PathBuf,
}

impl Mounted {
    pub fn new(source: &str, target: &Path, fstype: &str, data: &str) -> Mounted {
        fs::create_dir_all(target).unwrap();
        mount(
            Some(source),
            target,
            Some(fstype),
            MsFlags::empty(),
            Some(data),
        )
        .unwrap_or_else(|e| panic!("mount {fstype} on {}: {e}", target.display()));
        Mounted {
            target: target.to_owned(),
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = umount2(&self.target, MntFlags::MNT_DETACH);
    }
}

/// A container rootfs as the engine has one: an overlay of `lower`
/// (the image) and `upper` (the container's layer) on `merged`.
pub struct Rootfs {
    // Fields drop in order: the mount before the directory.
    pub mount: Mounted,
    pub dir: TempDir,
}

impl Rootfs {
    /// Calls `fill(lower, upper)` to make the layers, then mounts them.
    pub fn overlay(fill: impl FnOnce(&Path, &Path)) -> Rootfs {
        let dir = TempDir::new("berth-volume").unwrap();
        for d in ["lower", "upper", "work", "merged"] {
            fs::create_dir(dir.join(d)).unwrap();
        }
        fill(&dir.join("lower"), &dir.join("upper"));
        let data = format!(
            "lowerdir={},upperdir={},workdir={}",
            dir.join("lower").display(),
            dir.join("upper").display(),
            dir.join("work").display()
        );
        let mount = Mounted::new("overlay", &dir.join("merged"), "overlay", &data);
        Rootfs { mount, dir }
    }

    pub fn path(&self) -> &Path {
        &self.mount.target
    }
}

pub fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

pub fn set_xattr(p: &Path, name: &str, value: &[u8]) {
    let name = CString::new(name).unwrap();
    berth_sys::fs::set_xattr_nofollow(&cpath(p), &name, value)
        .unwrap_or_else(|e| panic!("set {name:?} on {}: {e}", p.display()));
}

pub fn get_xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let name = CString::new(name).unwrap();
    berth_sys::fs::get_xattr_nofollow(&cpath(p), &name).unwrap()
}

/// Sets a path's times (not following a symlink): (seconds, nanoseconds).
pub fn set_times(p: &Path, atime: (i64, i64), mtime: (i64, i64)) {
    utimensat(
        nix::fcntl::AT_FDCWD,
        p,
        &TimeSpec::new(atime.0, atime.1),
        &TimeSpec::new(mtime.0, mtime.1),
        UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

pub fn lchown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

pub fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
}

/// (uid, gid, mode with type, atime, atime_nsec, mtime, mtime_nsec).
pub fn meta(p: &Path) -> (u32, u32, u32, i64, i64, i64, i64) {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
    (
        m.uid(),
        m.gid(),
        m.mode(),
        m.atime(),
        m.atime_nsec(),
        m.mtime(),
        m.mtime_nsec(),
    )
}

/// Deterministic bytes (no randomness in tests, no compression luck).
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

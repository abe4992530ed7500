//! What unpacking keeps: ownership, modes, mtimes, xattrs, hard links,
//! symlinks, fifos, device nodes (as root), whiteouts and opaque markers.

mod common;

use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_image::unpack::{self, is_whiteout, Limits};
use berth_testutil::{require_root, TempDir};
use common::*;
use tar::EntryType;

fn unpack_into(layer: &[u8]) -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new("berth-unpack").unwrap();
    let dest = dir.join("fs");
    std::fs::create_dir(&dest).unwrap();
    unpack::unpack(layer, &dest, &Limits::default()).unwrap();
    (dir, dest)
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    berth_sys::fs::get_xattr_nofollow(&p, &n).unwrap()
}

#[test]
fn metadata_is_kept() {
    require_root!();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_size(4);
    h.set_mode(0o4755);
    h.set_uid(1234);
    h.set_gid(5678);
    h.set_mtime(1_234_567_890);
    let mut layer = Layer::new();
    layer.dir("bin");
    layer.pax(&[
        ("SCHILY.xattr.trusted.berth-origin", b"berth"),
        ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
    ]);
    layer.header(h, "bin/tool", b"tool");
    layer.hardlink("bin/tool-link", "bin/tool");
    layer.symlink("bin/sh", "busybox");
    layer.raw(EntryType::Fifo, "run/fifo", "", 0o600, b"");
    let mut dev = tar::Header::new_gnu();
    dev.set_entry_type(EntryType::Char);
    dev.set_size(0);
    dev.set_uid(0);
    dev.set_gid(0);
    dev.set_mtime(0);
    dev.set_mode(0o666);
    dev.set_device_major(1).unwrap();
    dev.set_device_minor(3).unwrap();
    layer.header(dev, "dev/null", b"");
    layer.raw(EntryType::Directory, "old", "", 0o700, b"");
    let (_dir, fs) = unpack_into(&layer.finish());

    let tool = std::fs::symlink_metadata(fs.join("bin/tool")).unwrap();
    assert_eq!(tool.mode() & 0o7777, 0o4755, "setuid bit survives chown");
    assert_eq!((tool.uid(), tool.gid()), (1234, 5678));
    assert_eq!(tool.mtime(), 1_234_567_890);
    assert_eq!(
        xattr(&fs.join("bin/tool"), "trusted.berth-origin").as_deref(),
        Some(&b"berth"[..])
    );
    assert_eq!(
        xattr(&fs.join("bin/tool"), "trusted.overlay.redirect"),
        None,
        "overlay xattrs from a layer are dropped"
    );
    assert_eq!(
        std::fs::metadata(fs.join("bin/tool-link")).unwrap().ino(),
        tool.ino()
    );
    assert_eq!(
        std::fs::read_link(fs.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert!(std::fs::symlink_metadata(fs.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let null = std::fs::symlink_metadata(fs.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    let old = std::fs::symlink_metadata(fs.join("old")).unwrap();
    assert_eq!(old.mode() & 0o777, 0o700);
    assert_eq!(
        old.mtime(),
        1_600_000_000,
        "directory mtimes are set after their children"
    );
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    require_root!();
    let layer = Layer::new()
        .dir("etc")
        .file("etc/.wh.motd", b"")
        .dir("var")
        .file("var/.wh..wh..opq", b"")
        .file("var/new", b"n")
        .file(".wh..wh.plnk", b"")
        .finish();
    let (_dir, fs) = unpack_into(&layer);
    assert!(is_whiteout(&fs.join("etc/motd")));
    assert!(!fs.join("etc/.wh.motd").exists());
    assert_eq!(
        xattr(&fs.join("var"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(fs.join("var/new").exists());
    assert!(!fs.join(".wh..wh.plnk").exists());
}

#[test]
fn later_entries_replace_earlier_ones_without_following_them() {
    require_root!();
    let outside = TempDir::new("berth-replace").unwrap();
    std::fs::write(outside.join("victim"), "host").unwrap();
    // A symlink to a host file, then a regular file of the same name: the
    // file must replace the link, not write through it.
    let layer = Layer::new()
        .symlink("f", outside.join("victim").to_str().unwrap())
        .file("f", b"layer")
        .finish();
    let (_dir, fs) = unpack_into(&layer);
    assert_eq!(
        std::fs::read_to_string(outside.join("victim")).unwrap(),
        "host"
    );
    assert_eq!(std::fs::read_to_string(fs.join("f")).unwrap(), "layer");
}

#[test]
fn compressed_layers_are_detected_by_magic() {
    require_root!();
    let plain = Layer::new().file("a", b"abc").finish();
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    for data in [plain.clone(), gzip(&plain), zst] {
        let dir = TempDir::new("berth-unpack").unwrap();
        let dest = dir.join("fs");
        std::fs::create_dir(&dest).unwrap();
        let out = unpack::unpack(&data[..], &dest, &Limits::default()).unwrap();
        assert_eq!(out.diff_id, berth_image::Digest::of(&plain));
        assert_eq!(std::fs::read_to_string(dest.join("a")).unwrap(), "abc");
    }
}

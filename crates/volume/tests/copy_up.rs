//! copy_up through a real overlay mount: what is kept (content, owners,
//! modes with the special bits, times, xattrs, hard links, symlinks as
//! symlinks, device nodes, FIFOs), what is not (sockets, overlayfs's own
//! attributes), symlinks that try to lead out of the rootfs, and a failed
//! copy that leaves the volume empty.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_testutil::{require_root, TempDir};
use berth_volume::copy::Error;
use berth_volume::{copy_up, is_empty, ErrorKind};
use common::*;
use nix::sys::stat::{mknod, Mode, SFlag};

/// security.capability v2 granting cap_net_bind_service (bit 10),
/// effective: what `setcap cap_net_bind_service+ep` writes.
const CAP_NET_BIND: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, // VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE
    0x00, 0x04, 0x00, 0x00, // permitted, low word
    0x00, 0x00, 0x00, 0x00, // inheritable, low word
    0x00, 0x00, 0x00, 0x00, // permitted, high word
    0x00, 0x00, 0x00, 0x00, // inheritable, high word
];

fn image_tree(lower: &Path, upper: &Path) {
    let d = lower.join("data");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("a.txt"), "hello").unwrap();
    lchown(&d.join("a.txt"), 123, 456);
    chmod(&d.join("a.txt"), 0o4755);
    set_xattr(&d.join("a.txt"), "user.test", b"v");
    set_xattr(&d.join("a.txt"), "trusted.test", b"t");
    set_xattr(&d.join("a.txt"), "security.capability", &CAP_NET_BIND);
    set_times(
        &d.join("a.txt"),
        (1_100_000_000, 7),
        (1_000_000_000, 500_000_000),
    );

    fs::write(d.join("big.bin"), pattern(3 << 20, 1)).unwrap();
    fs::write(d.join("empty"), "").unwrap();
    chmod(&d.join("empty"), 0o2640);

    fs::create_dir(d.join("sub")).unwrap();
    fs::write(d.join("sub/nested"), pattern(10_000, 2)).unwrap();
    fs::hard_link(d.join("sub/nested"), d.join("hl")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", d.join("sub/abs")).unwrap();
    lchown(&d.join("sub/abs"), 7, 8);
    set_times(&d.join("sub/abs"), (1_200_000_000, 0), (1_200_000_001, 0));
    std::os::unix::fs::symlink("../a.txt", d.join("sub/rel")).unwrap();
    // A hard link to a symlink: the link itself, not its target.
    nix::unistd::linkat(
        nix::fcntl::AT_FDCWD,
        &d.join("sub/rel"),
        nix::fcntl::AT_FDCWD,
        &d.join("rel2"),
        nix::fcntl::AtFlags::empty(),
    )
    .unwrap();
    chmod(&d.join("sub"), 0o1777);
    lchown(&d.join("sub"), 11, 12);
    set_xattr(&d.join("sub"), "user.dir", b"d");
    set_times(&d.join("sub"), (1_300_000_000, 0), (1_300_000_000, 42));

    mknod(
        &d.join("null"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o640),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    lchown(&d.join("null"), 5, 6);
    chmod(&d.join("null"), 0o640);
    mknod(
        &d.join("pipe"),
        SFlag::S_IFIFO,
        Mode::from_bits_truncate(0o600),
        0,
    )
    .unwrap();
    chmod(&d.join("pipe"), 0o604);
    let _sock = std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();

    // In the image's lower layer, hidden by an opaque directory above.
    fs::create_dir(d.join("opaque")).unwrap();
    fs::write(d.join("opaque/hidden"), "no").unwrap();
    fs::create_dir_all(upper.join("data/opaque")).unwrap();
    fs::write(upper.join("data/opaque/shown"), "yes").unwrap();
    set_xattr(&upper.join("data/opaque"), "trusted.overlay.opaque", b"y");

    // The merged directory shows the upper one's metadata.
    for d in [d, upper.join("data")] {
        lchown(&d, 1000, 1001);
        chmod(&d, 0o2775);
        set_xattr(&d, "user.root", b"r");
        set_times(&d, (1_400_000_000, 0), (1_400_000_000, 1));
    }
}

#[test]
fn copies_a_tree_with_its_metadata() {
    require_root!();
    let rootfs = Rootfs::overlay(image_tree);
    let vol = TempDir::new("berth-vol").unwrap();
    let dst = vol.join("_data");
    fs::create_dir(&dst).unwrap();
    assert!(is_empty(&dst).unwrap());
    // The source's metadata before the copy (reading a file moves its
    // access time; the copy keeps the time it had).
    let src = rootfs.path().join("data");
    let names = [
        "a.txt", "empty", "sub", "sub/abs", "null", "pipe", "big.bin", "opaque", "",
    ];
    let before: Vec<_> = names.iter().map(|n| meta(&src.join(n))).collect();

    let stats = copy_up(rootfs.path(), "/data", &dst).unwrap().unwrap();
    assert_eq!(stats.files, 5, "{stats:?}"); // a.txt big.bin empty nested shown
    assert_eq!(stats.dirs, 2, "{stats:?}"); // sub opaque
    assert_eq!(stats.symlinks, 2, "{stats:?}");
    assert_eq!(stats.hardlinks, 2, "{stats:?}"); // hl, rel2
    assert_eq!(
        (stats.devices, stats.fifos, stats.sockets_skipped),
        (1, 1, 1)
    );
    assert_eq!(stats.bytes, 5 + (3 << 20) + 10_000 + 3);

    // Owner, mode with setuid/setgid/sticky, both times, for every kind
    // (checked before anything reads the copies); the volume root takes
    // the source directory's.
    for (name, want) in names.iter().zip(&before) {
        assert_eq!(&meta(&dst.join(name)), want, "{name}");
    }
    assert_eq!(meta(&dst.join("a.txt")).2 & 0o7777, 0o4755);
    assert_eq!(meta(&dst.join("sub")).2 & 0o7777, 0o1777);
    assert_eq!(
        meta(&dst.join("sub")).6,
        42,
        "directory mtime kept after its content"
    );
    assert_eq!(meta(&dst).2 & 0o7777, 0o2775);
    assert_eq!(get_xattr(&dst, "user.root").as_deref(), Some(&b"r"[..]));
    assert!(!is_empty(&dst).unwrap());
    // Content.
    assert_eq!(fs::read(dst.join("a.txt")).unwrap(), b"hello");
    assert_eq!(fs::read(dst.join("big.bin")).unwrap(), pattern(3 << 20, 1));
    assert_eq!(
        fs::read(dst.join("sub/nested")).unwrap(),
        pattern(10_000, 2)
    );
    assert_eq!(fs::read(dst.join("empty")).unwrap(), b"");
    // Extended attributes, security.capability included (set after the
    // chown and the content that would clear it).
    assert_eq!(
        get_xattr(&dst.join("a.txt"), "user.test").as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(
        get_xattr(&dst.join("a.txt"), "trusted.test").as_deref(),
        Some(&b"t"[..])
    );
    assert_eq!(
        get_xattr(&dst.join("a.txt"), "security.capability").as_deref(),
        Some(&CAP_NET_BIND[..])
    );
    assert_eq!(
        get_xattr(&dst.join("sub"), "user.dir").as_deref(),
        Some(&b"d"[..])
    );
    // Symlinks are copied as symlinks, never followed.
    assert_eq!(
        fs::read_link(dst.join("sub/abs")).unwrap(),
        Path::new("/etc/shadow")
    );
    assert_eq!(
        fs::read_link(dst.join("sub/rel")).unwrap(),
        Path::new("../a.txt")
    );
    // Hard links stay hard links, a symlink's too.
    let ino = |p: &str| fs::symlink_metadata(dst.join(p)).unwrap().ino();
    assert_eq!(ino("hl"), ino("sub/nested"));
    assert_eq!(ino("rel2"), ino("sub/rel"));
    assert_eq!(fs::symlink_metadata(dst.join("hl")).unwrap().nlink(), 2);
    // Device nodes and FIFOs are made; the socket is not.
    let null = fs::symlink_metadata(dst.join("null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert!(fs::symlink_metadata(dst.join("pipe"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(!dst.join("sock").exists());
    // What the overlay shows, not what it hides, and none of its own
    // attributes.
    assert_eq!(fs::read_to_string(dst.join("opaque/shown")).unwrap(), "yes");
    assert!(!dst.join("opaque/hidden").exists());
    assert_eq!(
        get_xattr(&dst.join("opaque"), "trusted.overlay.opaque"),
        None
    );
}

#[test]
fn symlinks_resolve_inside_the_rootfs() {
    require_root!();
    let t = TempDir::new("berth-vol").unwrap();
    // A host directory an image would like to steal.
    let outside = t.join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), "host").unwrap();
    let rootfs = t.join("rootfs");
    fs::create_dir_all(rootfs.join("etc")).unwrap();
    fs::write(rootfs.join("etc/inside"), "image").unwrap();
    // Absolute and relative symlinks that point out of the rootfs on the
    // host, and a ".." path past its root.
    std::os::unix::fs::symlink(&outside, rootfs.join("abs")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../etc", rootfs.join("up")).unwrap();
    std::os::unix::fs::symlink(
        format!("../../../../../../../..{}", outside.display()),
        rootfs.join("rel"),
    )
    .unwrap();

    for path in [
        "/abs",
        "/rel",
        "/abs/secret/..",
        "/../../../../../../..",
        "../outside",
    ] {
        let dst = t.join(format!("dst{}", path.len()));
        fs::create_dir_all(&dst).unwrap();
        let got = copy_up(&rootfs, path, &dst).unwrap();
        assert!(
            !dst.join("secret").exists(),
            "{path}: copied the host's directory: {got:?}"
        );
        fs::remove_dir_all(&dst).unwrap();
    }
    // Inside the tree, a symlink to a host directory is copied as the
    // symlink it is, never walked into.
    fs::create_dir(rootfs.join("data")).unwrap();
    std::os::unix::fs::symlink(&outside, rootfs.join("data/escape")).unwrap();
    let dst = t.join("dst-data");
    fs::create_dir(&dst).unwrap();
    let stats = copy_up(&rootfs, "/data", &dst).unwrap().unwrap();
    assert_eq!((stats.symlinks, stats.files, stats.dirs), (1, 0, 0));
    assert_eq!(fs::read_link(dst.join("escape")).unwrap(), outside);
    // ".." from the top and an absolute host /etc both stay in the rootfs.
    let dst = t.join("dst-up");
    fs::create_dir(&dst).unwrap();
    copy_up(&rootfs, "/up", &dst).unwrap().unwrap();
    assert_eq!(fs::read_to_string(dst.join("inside")).unwrap(), "image");
    assert!(!dst.join("passwd").exists(), "copied the host's /etc");
}

#[test]
fn nothing_to_copy_where_the_image_has_no_directory() {
    require_root!();
    let t = TempDir::new("berth-vol").unwrap();
    let rootfs = t.join("rootfs");
    fs::create_dir_all(rootfs.join("dir")).unwrap();
    fs::write(rootfs.join("file"), "x").unwrap();
    std::os::unix::fs::symlink("/file", rootfs.join("link-to-file")).unwrap();
    let dst = t.join("dst");
    fs::create_dir(&dst).unwrap();
    for path in ["/missing", "/missing/deeper", "/file", "/link-to-file"] {
        assert_eq!(copy_up(&rootfs, path, &dst).unwrap(), None, "{path}");
        assert!(is_empty(&dst).unwrap());
    }
    // An empty directory: copied (the root's metadata), nothing inside.
    chmod(&rootfs.join("dir"), 0o700);
    let stats = copy_up(&rootfs, "/dir", &dst).unwrap().unwrap();
    assert_eq!(stats, Default::default());
    assert_eq!(meta(&dst).2 & 0o7777, 0o700);
}

#[test]
fn a_volume_with_content_is_refused() {
    require_root!();
    let t = TempDir::new("berth-vol").unwrap();
    let rootfs = t.join("rootfs");
    fs::create_dir_all(rootfs.join("data")).unwrap();
    fs::write(rootfs.join("data/new"), "image").unwrap();
    let dst = t.join("dst");
    fs::create_dir(&dst).unwrap();
    fs::write(dst.join("old"), "user data").unwrap();
    chmod(&dst, 0o750);
    let err = copy_up(&rootfs, "/data", &dst).unwrap_err();
    assert!(matches!(err, Error::NotEmpty { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(
        err.to_string(),
        format!("volume {} is not empty", dst.display())
    );
    assert!(!dst.join("new").exists());
    assert_eq!(fs::read_to_string(dst.join("old")).unwrap(), "user data");
    assert_eq!(meta(&dst).2 & 0o7777, 0o750);
}

#[test]
fn a_failed_copy_leaves_the_volume_empty() {
    require_root!();
    let rootfs = Rootfs::overlay(|lower, _| {
        let d = lower.join("data");
        fs::create_dir_all(d.join("a/b")).unwrap();
        for i in 0..20 {
            fs::write(d.join(format!("a/b/small{i}")), "x").unwrap();
        }
        fs::write(d.join("a/large"), pattern(2 << 20, 3)).unwrap();
        fs::write(d.join("z"), "after").unwrap();
        lchown(&d, 42, 43);
        chmod(&d, 0o700);
    });
    // A volume too small for the image's content.
    let t = TempDir::new("berth-vol").unwrap();
    let vol = Mounted::new("tmpfs", &t.join("vol"), "tmpfs", "size=1m,mode=711");
    let err = copy_up(rootfs.path(), "/data", &vol.target).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("failed to copy content to "), "{text}");
    assert!(
        std::error::Error::source(&err)
            .is_some_and(|s| s.to_string().contains("No space left on device")),
        "{err:?}"
    );
    // As it was: empty, root's owner and mode.
    assert!(is_empty(&vol.target).unwrap());
    let (uid, gid, mode, ..) = meta(&vol.target);
    assert_eq!((uid, gid, mode & 0o7777), (0, 0, 0o711));
}

#[test]
fn attributes_the_volume_cannot_hold_are_dropped() {
    require_root!();
    let rootfs = Rootfs::overlay(|lower, _| {
        let d = lower.join("data");
        fs::create_dir(&d).unwrap();
        fs::write(d.join("f"), "content").unwrap();
        set_xattr(&d.join("f"), "user.a", b"1");
        set_xattr(&d.join("f"), "trusted.b", b"2");
    });
    // ramfs has no extended attributes at all.
    let t = TempDir::new("berth-vol").unwrap();
    let vol = Mounted::new("ramfs", &t.join("vol"), "ramfs", "mode=755");
    let stats = copy_up(rootfs.path(), "/data", &vol.target)
        .unwrap()
        .unwrap();
    assert_eq!(stats.xattrs_dropped, 2, "{stats:?}");
    assert_eq!(fs::read_to_string(vol.target.join("f")).unwrap(), "content");
}

#[test]
fn a_tree_too_deep_is_refused_and_removed() {
    require_root!();
    let t = TempDir::new("berth-vol").unwrap();
    let rootfs = t.join("rootfs");
    let mut deep = rootfs.join("data");
    for _ in 0..berth_volume::copy::MAX_DEPTH + 1 {
        deep.push("d");
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(rootfs.join("data/first"), "x").unwrap();
    let dst = t.join("dst");
    fs::create_dir(&dst).unwrap();
    let err = copy_up(&rootfs, "/data", &dst).unwrap_err();
    assert!(matches!(err, Error::TooDeep { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .ends_with(": more than 256 directory levels"),
        "{err}"
    );
    assert!(is_empty(&dst).unwrap());
}

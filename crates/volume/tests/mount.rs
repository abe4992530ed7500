//! The local driver's option volumes mounted for real: tmpfs with size,
//! owner and flags, a read-only bind, an ext4 filesystem on a loop device;
//! unmount and is_mounted; moby's failure text.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use berth_testutil::{mountinfo, require_root, LoopDevice, TempDir};
use berth_volume::{is_mounted, mount, unmount, LocalOptions};

fn options(pairs: &[(&str, &str)]) -> LocalOptions {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    LocalOptions::parse(&map).unwrap()
}

/// A volume's `_data`, unmounted on drop even when the test fails.
struct Data {
    path: PathBuf,
    // Last: removed after the unmount.
    _dir: TempDir,
}

impl Data {
    fn new() -> Data {
        let dir = TempDir::new("berth-volmount").unwrap();
        let path = dir.join("_data");
        fs::create_dir(&path).unwrap();
        Data { path, _dir: dir }
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        while is_mounted(&self.path).unwrap_or(false) {
            if unmount(&self.path).is_err() {
                break;
            }
        }
    }
}

fn fs_type_of(target: &Path) -> Option<(String, String)> {
    mountinfo()
        .into_iter()
        .rev()
        .find(|m| Path::new(&m.mount_point) == target)
        .map(|m| (m.fs_type, m.options))
}

#[test]
fn tmpfs_with_size_owner_and_flags() {
    require_root!();
    let data = Data::new();
    let opts = options(&[
        ("type", "tmpfs"),
        ("device", "tmpfs"),
        ("o", "size=1m,uid=1234,gid=5678,mode=0710,noexec,nosuid"),
    ]);
    assert!(!is_mounted(&data.path).unwrap());
    mount(&opts, &data.path).unwrap();
    assert!(is_mounted(&data.path).unwrap());
    let (fs_type, flags) = fs_type_of(&data.path).unwrap();
    assert_eq!(fs_type, "tmpfs");
    assert!(
        flags.contains("noexec") && flags.contains("nosuid"),
        "{flags}"
    );
    let m = fs::metadata(&data.path).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 5678, 0o710));
    // size=1m holds: 2 MiB do not fit.
    let mut f = fs::File::create(data.path.join("big")).unwrap();
    let err = f.write_all(&vec![7u8; 2 << 20]).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    drop(f);

    unmount(&data.path).unwrap();
    assert!(!is_mounted(&data.path).unwrap());
    assert!(!data.path.join("big").exists(), "the file was on the tmpfs");
    // Unmounting what is not mounted is no error (moby ignores EINVAL).
    unmount(&data.path).unwrap();
}

#[test]
fn read_only_bind_of_a_host_directory() {
    require_root!();
    let t = TempDir::new("berth-volmount").unwrap();
    let src = t.join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), "host").unwrap();
    let data = Data::new();
    let opts = options(&[
        ("type", "none"),
        ("device", src.to_str().unwrap()),
        ("o", "bind,ro"),
    ]);
    mount(&opts, &data.path).unwrap();
    assert!(is_mounted(&data.path).unwrap());
    assert_eq!(fs::read_to_string(data.path.join("f")).unwrap(), "host");
    let err = fs::write(data.path.join("g"), "x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
    unmount(&data.path).unwrap();
    assert!(!is_mounted(&data.path).unwrap());
    // A read-write bind writes through to the host directory.
    mount(
        &options(&[
            ("type", "none"),
            ("device", src.to_str().unwrap()),
            ("o", "bind"),
        ]),
        &data.path,
    )
    .unwrap();
    fs::write(data.path.join("g"), "through").unwrap();
    unmount(&data.path).unwrap();
    assert_eq!(fs::read_to_string(src.join("g")).unwrap(), "through");
}

#[test]
fn a_filesystem_on_a_block_device_keeps_its_content() {
    require_root!();
    let dev = LoopDevice::new(32 << 20);
    let out = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(dev.path())
        .output()
        .expect("run mkfs.ext4 (e2fsprogs)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = Data::new();
    let opts = options(&[
        ("type", "ext4"),
        ("device", dev.path().to_str().unwrap()),
        ("o", "noatime"),
    ]);
    mount(&opts, &data.path).unwrap();
    let (fs_type, flags) = fs_type_of(&data.path).unwrap();
    assert_eq!(fs_type, "ext4");
    assert!(flags.contains("noatime"), "{flags}");
    fs::write(data.path.join("kept"), "on disk").unwrap();
    unmount(&data.path).unwrap();
    assert!(!data.path.join("kept").exists());
    mount(&opts, &data.path).unwrap();
    assert_eq!(
        fs::read_to_string(data.path.join("kept")).unwrap(),
        "on disk"
    );
    unmount(&data.path).unwrap();
}

#[test]
fn a_busy_volume_is_detached_lazily() {
    require_root!();
    let data = Data::new();
    mount(
        &options(&[("type", "tmpfs"), ("device", "tmpfs")]),
        &data.path,
    )
    .unwrap();
    fs::write(data.path.join("open"), "still readable").unwrap();
    let held = fs::File::open(data.path.join("open")).unwrap();
    // A process still has a file open in it: the mount leaves the tree
    // anyway, and the open file keeps working.
    unmount(&data.path).unwrap();
    assert!(!is_mounted(&data.path).unwrap());
    let mut text = String::new();
    std::io::Read::read_to_string(&mut &held, &mut text).unwrap();
    assert_eq!(text, "still readable");
}

#[test]
fn failures_in_mobys_words() {
    require_root!();
    let data = Data::new();
    let target = data.path.display().to_string();
    let err = mount(
        &options(&[
            ("type", "none"),
            ("device", "/nonexistent/berth-src"),
            ("o", "bind"),
        ]),
        &data.path,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "failed to mount local volume: mount /nonexistent/berth-src:{target}, flags: 0x1000: no such file or directory"
        )
    );
    // An unknown filesystem; the password in `o` is not shown.
    let err = mount(
        &options(&[
            ("type", "berthnosuchfs"),
            ("device", "//127.0.0.1/share"),
            ("o", "username=u,password=hunter2,ro"),
        ]),
        &data.path,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "failed to mount local volume: mount //127.0.0.1/share:{target}, flags: 0x1, data: username=u,password=********: no such device"
        )
    );
    assert!(!is_mounted(&data.path).unwrap());
}

#[test]
fn is_mounted_means_on_that_path_itself() {
    require_root!();
    let data = Data::new();
    fs::create_dir(data.path.join("below")).unwrap();
    mount(
        &options(&[("type", "tmpfs"), ("device", "tmpfs")]),
        &data.path,
    )
    .unwrap();
    fs::create_dir(data.path.join("inside")).unwrap();
    assert!(is_mounted(&data.path).unwrap());
    // Through a symlink too.
    let link = data._dir.join("link");
    std::os::unix::fs::symlink(&data.path, &link).unwrap();
    assert!(is_mounted(&link).unwrap());
    assert!(!is_mounted(&data.path.join("inside")).unwrap());
    assert!(!is_mounted(data._dir.path()).unwrap());
    assert!(!is_mounted(Path::new("/nonexistent/berth")).unwrap());
    unmount(&data.path).unwrap();
}

//! The container's filesystem: spec mounts, bind mounts, read-only paths,
//! the devices, and pivot_root leaving the host unreachable.

mod common;

use std::fs;

use common::*;

/// Mount points under `dir` in this (the host's) mount table.
fn host_mounts_under(dir: &std::path::Path) -> Vec<String> {
    let dir = dir.to_str().unwrap();
    mountinfo()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(dir))
        .collect()
}

#[test]
fn tmpfs_and_bind_mounts_are_visible_inside_only() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let shared = b.host_dir("shared");
    fs::write(shared.join("hello"), "from the host\n").unwrap();
    fs::create_dir_all(b.rootfs().join("mnt/t")).unwrap();
    fs::create_dir_all(b.rootfs().join("mnt/b")).unwrap();
    b.add_mount("/mnt/t", "tmpfs", "tmpfs", &["nosuid", "nodev", "size=1m"]);
    b.add_mount("/mnt/b", "bind", shared.to_str().unwrap(), &["rbind", "rw"]);
    b.set_script(
        "grep -E ' /mnt/(t|b) ' /proc/mounts | cut -d' ' -f2,3; \
         cat /mnt/b/hello; echo back > /mnt/b/reply; echo x > /mnt/t/f && cat /mnt/t/f; \
         sleep 1000",
    );
    let created = rt.create(&b).ok();
    rt.start(b.id()).ok();
    // While it runs, its mounts live in its own mount namespace only.
    assert!(
        wait_until(STATE_TIMEOUT, || created.stdout_now().contains("x\n")),
        "{}",
        created.stdout_now()
    );
    assert_eq!(
        host_mounts_under(b.path()),
        Vec::<String>::new(),
        "container mounts leaked to the host"
    );

    let lines: Vec<String> = created.stdout_now().lines().map(str::to_owned).collect();
    assert!(lines.contains(&"/mnt/t tmpfs".to_owned()), "{lines:?}");
    // A bind mount shows the type of the filesystem it comes from.
    assert!(lines.iter().any(|l| l.starts_with("/mnt/b ")), "{lines:?}");
    assert!(lines.contains(&"from the host".to_owned()), "{lines:?}");
    assert_eq!(fs::read_to_string(shared.join("reply")).unwrap(), "back\n");

    rt.delete_force(b.id()).ok();
    assert_eq!(host_mounts_under(b.path()), Vec::<String>::new());
}

#[test]
fn read_only_bind_refuses_writes() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let src = b.host_dir("ro-src");
    fs::write(src.join("keep"), "k").unwrap();
    fs::create_dir_all(b.rootfs().join("mnt/ro")).unwrap();
    b.add_mount("/mnt/ro", "bind", src.to_str().unwrap(), &["rbind", "ro"]);
    b.set_script(
        "cat /mnt/ro/keep; echo; \
         if touch /mnt/ro/new 2>/dev/null; then echo wrote; else echo refused; fi; \
         grep ' /mnt/ro ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1",
    );
    let out = rt.run(&b).ok();
    assert_eq!(out.stdout, "k\nrefused\nro\n");
    assert!(!src.join("new").exists());
}

#[test]
fn readonly_root_refuses_writes_and_writable_root_accepts() {
    require_root!();
    let rt = runtime();
    let script = "if touch /made 2>/dev/null; then echo wrote; else echo refused; fi";

    let mut ro = Bundle::new(&rt);
    ro.set_readonly_root(true).set_script(script);
    assert_eq!(rt.run(&ro).ok().stdout, "refused\n");
    assert!(!ro.rootfs().join("made").exists());

    let mut rw = Bundle::new(&rt);
    rw.set_readonly_root(false).set_script(script);
    assert_eq!(rt.run(&rw).ok().stdout, "wrote\n");
    assert!(rw.rootfs().join("made").exists());
}

#[test]
fn host_root_is_unreachable_after_pivot_root() {
    require_root!();
    let marker = format!("/{}", unique_id("berth-marker"));
    fs::write(&marker, "host").unwrap();
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = fs::remove_file(&self.0);
        }
    }
    let _cleanup = Remove(marker.clone());

    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script(&format!(
        "test -e {marker} && echo marker-visible; \
         test -e /usr && echo usr-visible; \
         cd /..; pwd; \
         [ \"$(ls -a /..)\" = \"$(ls -a /)\" ] && echo dotdot-is-root; \
         [ \"$(stat -c %i /..)\" = \"$(stat -c %i /)\" ] && echo same-inode; \
         ls /"
    ));
    let out = rt.run(&b).ok().stdout;
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("/"), "{out}");
    assert_eq!(lines.next(), Some("dotdot-is-root"), "{out}");
    assert_eq!(lines.next(), Some("same-inode"), "{out}");
    let root_listing: Vec<&str> = lines.collect();
    let mut want: Vec<String> = fs::read_dir(b.rootfs())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    want.sort();
    assert_eq!(root_listing, want, "ls / inside is not the rootfs");
}

#[test]
fn proc_sys_and_dev_are_mounted_as_specified() {
    require_root!();
    let rt = runtime();
    let out = run_script(
        &rt,
        "for m in /proc /sys /dev /dev/pts /dev/shm /dev/mqueue; do \
           grep \" $m \" /proc/mounts | head -n1 | cut -d' ' -f2,3; done; \
         grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1",
    );
    assert_eq!(
        out,
        "/proc proc\n/sys sysfs\n/dev tmpfs\n/dev/pts devpts\n/dev/shm tmpfs\n/dev/mqueue mqueue\nro\n"
    );
}

#[test]
fn default_devices_exist_and_work() {
    require_root!();
    let rt = runtime();
    let out = run_script(
        &rt,
        "for d in null zero full random urandom tty; do \
           test -c /dev/$d && echo $d; done; \
         echo gone > /dev/null && echo null-writable; \
         head -c 4 /dev/zero | wc -c; \
         for l in fd stdin stdout stderr; do readlink /dev/$l; done; \
         test -e /dev/ptmx && echo ptmx",
    );
    assert_eq!(
        out,
        "null\nzero\nfull\nrandom\nurandom\ntty\nnull-writable\n4\n\
         /proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\nptmx\n"
    );
}

#[test]
fn masked_and_readonly_paths() {
    require_root!();
    let rt = runtime();
    // Masked files are /dev/null bind mounts: empty. Which of the spec's
    // masked /proc files exist depends on the kernel's config.
    let masked = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ]
    .into_iter()
    .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file()))
    .expect("some masked /proc file exists on the host");
    let out = run_script(
        &rt,
        &format!(
            "wc -c < {masked}; \
             grep ' /proc/sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
             if echo 1 > /proc/sys/vm/drop_caches 2>/dev/null; then echo wrote; else echo refused; fi"
        ),
    );
    assert_eq!(out, "0\nro\nrefused\n", "masked file {masked}");
}

/// A block device of this host as `(major, minor)`, from `/sys/dev/block`
/// (loading `loop` when there is none, as on a diskless VM).
fn host_block_device() -> Option<(u32, u32)> {
    let list = || -> Vec<(u32, u32)> {
        let mut devs: Vec<(u32, u32)> = fs::read_dir("/sys/dev/block")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let (major, minor) = name.split_once(':')?;
                        Some((major.parse().ok()?, minor.parse().ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        devs.sort_unstable();
        devs
    };
    if list().is_empty() {
        let _ = std::process::Command::new("modprobe").arg("loop").status();
    }
    list().first().copied()
}

#[test]
fn other_devices_are_denied() {
    require_root!();
    let rt = runtime();
    let Some((major, minor)) = host_block_device() else {
        skipped("other_devices_are_denied: this host has no block device to try");
        return;
    };
    // The default spec denies all devices but the standard ones: a node
    // made for one of the host's disks cannot be opened, while the same
    // node opens once a rule allows it (so the denial is the device
    // rules' doing, not a missing device or capability).
    let try_open = |allow: bool| {
        let mut b = Bundle::new(&rt);
        {
            let mut config = b.config_mut();
            for set in ["bounding", "effective", "permitted"] {
                config["process"]["capabilities"][set]
                    .as_array_mut()
                    .unwrap()
                    .push("CAP_MKNOD".into());
            }
            if allow {
                config["linux"]["resources"]["devices"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({
                        "allow": true, "type": "b", "major": major, "minor": minor, "access": "r"
                    }));
            }
        }
        b.set_script(&format!(
            "mknod /dev/disk-test b {major} {minor} 2>/dev/null || echo mknod-refused; \
             if head -c 1 /dev/disk-test >/dev/null 2>&1; then echo opened; else echo denied; fi"
        ));
        rt.run(&b).ok().stdout
    };
    let out = try_open(false);
    assert!(out.ends_with("denied\n"), "block {major}:{minor}: {out}");
    let out = try_open(true);
    assert_eq!(
        out, "opened\n",
        "block {major}:{minor} with a rule allowing it"
    );
}

/// "tmpcopyup" (Podman puts it on every `--tmpfs` and on the tmpfs mounts
/// of `--read-only`): the tmpfs starts with a copy of the directory it
/// covers, with owners, modes and symlinks kept, and writes
/// go to the tmpfs only. A read-only one is filled, then read-only.
#[test]
fn tmpcopyup_fills_the_tmpfs_with_the_covered_directory() {
    require_root!();
    use std::os::unix::fs::{symlink, PermissionsExt};
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let covered = b.rootfs().join("mnt/cu");
    fs::create_dir_all(covered.join("d")).unwrap();
    fs::write(covered.join("f"), "data\n").unwrap();
    // 0666: the container's root has no CAP_DAC_OVERRIDE to read a file
    // of user 1000 otherwise.
    fs::set_permissions(covered.join("f"), fs::Permissions::from_mode(0o666)).unwrap();
    nix::unistd::chown(&covered.join("f"), Some(1000.into()), Some(1000.into())).unwrap();
    fs::write(covered.join("d/g"), "deep\n").unwrap();
    symlink("/etc/hostname", covered.join("l")).unwrap();
    fs::set_permissions(&covered, fs::Permissions::from_mode(0o750)).unwrap();
    let ro = b.rootfs().join("mnt/ro");
    fs::create_dir_all(&ro).unwrap();
    fs::write(ro.join("x"), "kept\n").unwrap();
    b.add_mount(
        "/mnt/cu",
        "tmpfs",
        "tmpfs",
        &["nosuid", "nodev", "tmpcopyup", "size=1m"],
    );
    b.add_mount("/mnt/ro", "tmpfs", "tmpfs", &["ro", "tmpcopyup"]);
    b.set_script(
        "grep -E ' /mnt/(cu|ro) ' /proc/mounts | cut -d' ' -f2,3,4 | cut -d, -f1; \
         cd /mnt/cu && stat -c '%n %a %u:%g %F' . f d d/g l; \
         cat f d/g; readlink l; echo changed > f; cat f; \
         cat /mnt/ro/x; if touch /mnt/ro/y 2>/dev/null; then echo wrote; else echo refused; fi",
    );
    let out = rt.run(&b).ok();
    assert_eq!(
        out.stdout,
        "/mnt/cu tmpfs rw\n/mnt/ro tmpfs ro\n\
         . 750 0:0 directory\nf 666 1000:1000 regular file\nd 755 0:0 directory\n\
         d/g 644 0:0 regular file\nl 777 0:0 symbolic link\n\
         data\ndeep\n/etc/hostname\nchanged\nkept\nrefused\n"
    );
    // The write went to the tmpfs; the image's file is as it was.
    assert_eq!(fs::read_to_string(covered.join("f")).unwrap(), "data\n");
}

/// The copy for "tmpcopyup" runs before pivot_root, where the host's
/// whole tree is visible: an image whose covered directory holds symlinks
/// to host paths (a directory and a file) must get those symlinks copied
/// as they are, never the host content they point at.
#[test]
fn tmpcopyup_never_copies_host_files_through_image_symlinks() {
    require_root!();
    use std::os::unix::fs::symlink;
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let host = b.host_dir("host-secret");
    fs::write(host.join("secret"), "host only\n").unwrap();
    let covered = b.rootfs().join("mnt/cu");
    fs::create_dir_all(&covered).unwrap();
    symlink(&host, covered.join("dir")).unwrap();
    symlink(host.join("secret"), covered.join("file")).unwrap();
    b.add_mount("/mnt/cu", "tmpfs", "tmpfs", &["tmpcopyup"]);
    b.set_script(
        "cd /mnt/cu; stat -c '%n %F' dir file; \
         cat dir/secret file 2>/dev/null || echo unreadable",
    );
    let out = rt.run(&b).ok();
    assert_eq!(
        out.stdout, "dir symbolic link\nfile symbolic link\nunreadable\n",
        "{out}"
    );
}

/// A tmpfs over an existing directory takes that directory's mode, with
/// or without "tmpcopyup" (runc does so; Docker's and Podman's `--tmpfs`
/// rely on it); over a new directory it keeps tmpfs's 1777. An explicit
/// `mode=` wins in berth (runc 1.1 overrides it with the directory's).
#[test]
fn tmpfs_takes_the_mode_of_the_directory_it_covers() {
    require_root!();
    use std::os::unix::fs::PermissionsExt;
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    for dir in ["plain", "copied", "ro", "asked"] {
        let d = b.rootfs().join("mnt").join(dir);
        fs::create_dir_all(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o750)).unwrap();
    }
    b.add_mount("/mnt/plain", "tmpfs", "tmpfs", &["nosuid"]);
    b.add_mount("/mnt/copied", "tmpfs", "tmpfs", &["tmpcopyup"]);
    b.add_mount("/mnt/ro", "tmpfs", "tmpfs", &["ro"]);
    b.add_mount("/mnt/new", "tmpfs", "tmpfs", &["nosuid"]);
    b.add_mount("/mnt/newcopied", "tmpfs", "tmpfs", &["tmpcopyup"]);
    b.add_mount("/mnt/asked", "tmpfs", "tmpfs", &["mode=700"]);
    b.set_script(
        "stat -c '%n %a' /mnt/plain /mnt/copied /mnt/ro /mnt/new /mnt/newcopied; \
         grep ' /mnt/ro ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; stat -c %a /mnt/asked",
    );
    let out = rt.run(&b).ok();
    let (common, asked) = out.stdout.rsplit_once("ro\n").expect("the ro line");
    assert_eq!(
        common,
        "/mnt/plain 750\n/mnt/copied 750\n/mnt/ro 750\n/mnt/new 1777\n/mnt/newcopied 1777\n"
    );
    if rt.is_berth() {
        assert_eq!(asked, "700\n");
    }
}

/// Device nodes and fifos under a "tmpcopyup" tmpfs are made again with
/// their kind, numbers, owner and mode. runc 1.1 aborts the container on
/// them (`lchown ...: no such file or directory`), so this is berth's.
#[test]
fn tmpcopyup_copies_device_nodes_and_fifos() {
    require_root!();
    use std::os::unix::fs::PermissionsExt;
    let rt = runtime();
    if !rt.is_berth() {
        skipped(&format!("{} cannot copy special files up", rt.name()));
        return;
    }
    let mut b = Bundle::new(&rt);
    let covered = b.rootfs().join("mnt/cu");
    fs::create_dir_all(&covered).unwrap();
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o600);
    let null = nix::sys::stat::makedev(1, 3);
    nix::sys::stat::mknod(
        &covered.join("null"),
        nix::sys::stat::SFlag::S_IFCHR,
        mode,
        null,
    )
    .unwrap();
    nix::unistd::mkfifo(&covered.join("fifo"), mode).unwrap();
    for (name, perm) in [("null", 0o666), ("fifo", 0o620)] {
        fs::set_permissions(covered.join(name), fs::Permissions::from_mode(perm)).unwrap();
        nix::unistd::chown(&covered.join(name), Some(1000.into()), Some(5.into())).unwrap();
    }
    b.add_mount("/mnt/cu", "tmpfs", "tmpfs", &["tmpcopyup"]);
    b.set_script(
        "stat -c '%n %a %u:%g %F %t,%T' /mnt/cu/null /mnt/cu/fifo; \
         echo gone > /mnt/cu/null && echo written",
    );
    let out = rt.run(&b).ok();
    assert_eq!(
        out.stdout,
        "/mnt/cu/null 666 1000:5 character special file 1,3\n\
         /mnt/cu/fifo 620 1000:5 fifo 0,0\nwritten\n"
    );
}

/// Host-side mounts a test makes under `dir` (a bundle directory): all of
/// them, and whatever a container propagated there, are detached when
/// this drops, even if the test failed. Declare it after the bundle so it
/// drops first.
struct HostMounts(std::path::PathBuf);

impl HostMounts {
    fn bind(&self, path: &std::path::Path, propagation: nix::mount::MsFlags) {
        use nix::mount::{mount, MsFlags};
        mount(
            Some(path),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        mount(None::<&str>, path, None::<&str>, propagation, None::<&str>)
            .unwrap_or_else(|e| panic!("propagation of {}: {e}", path.display()));
    }

    fn tmpfs(&self, path: &std::path::Path) {
        use nix::mount::{mount, MsFlags};
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap_or_else(|e| panic!("tmpfs on {}: {e}", path.display()));
    }
}

impl Drop for HostMounts {
    fn drop(&mut self) {
        for _ in 0..10 {
            let dir = self.0.to_str().unwrap();
            let mut mounts: Vec<String> = host_mounts_under(&self.0)
                .into_iter()
                .filter(|m| m == dir || m.starts_with(&format!("{dir}/")))
                .collect();
            if mounts.is_empty() {
                return;
            }
            mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
            for m in mounts {
                let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

fn is_mount_point(path: &std::path::Path) -> bool {
    host_mounts_under(path)
        .iter()
        .any(|m| m == path.to_str().unwrap())
}

fn grant_sys_admin(b: &mut Bundle) {
    let mut c = b.config_mut();
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!("CAP_SYS_ADMIN"));
    }
}

/// `linux.rootfsPropagation` = `mode`, with a volume bound from a shared
/// host mount. After the container started, the host mounts a tmpfs in
/// the volume's source (and, when the rootfs is a mount point, in the
/// rootfs); then the container mounts one in the volume and one in its
/// root. Returns what crossed: (host→container in the volume,
/// container→host in the volume, host→container in the rootfs).
/// Nothing the container mounts may ever reach the host's rootfs.
fn propagation_case(mode: &str, rootfs_is_mount: bool) -> (bool, bool, bool) {
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let host = HostMounts(b.path().to_path_buf());
    let src = b.host_dir("vol");
    host.bind(&src, nix::mount::MsFlags::MS_SHARED);
    let rootfs = b.rootfs();
    if rootfs_is_mount {
        // containerd's rootfs: a mount point, under a shared /run.
        host.bind(&rootfs, nix::mount::MsFlags::MS_SHARED);
    }
    for d in ["from-host", "from-inside"] {
        fs::create_dir_all(src.join(d)).unwrap();
        fs::create_dir_all(rootfs.join("mnt").join(d)).unwrap();
    }
    b.add_mount("/vol", "bind", src.to_str().unwrap(), &["rbind"]);
    b.config_mut()["linux"]["rootfsPropagation"] = serde_json::json!(mode);
    grant_sys_admin(&mut b);
    b.set_script(
        "seen() { grep -q \" $1 \" /proc/self/mountinfo && echo yes || echo no; }; \
         echo ready; while [ ! -e /vol/go ]; do sleep 0.05; done; \
         echo vol-in=$(seen /vol/from-host) root-in=$(seen /mnt/from-host); \
         mount -t tmpfs tmpfs /vol/from-inside && mount -t tmpfs tmpfs /mnt/from-inside \
         && echo mounted; sleep 1000",
    );
    let out = rt.run_detached(&b).ok();
    assert!(
        wait_until(STATE_TIMEOUT, || out.stdout_now().contains("ready")),
        "{mode}: container never got ready:\n{out}"
    );
    host.tmpfs(&src.join("from-host"));
    if rootfs_is_mount {
        host.tmpfs(&rootfs.join("mnt/from-host"));
    }
    fs::write(src.join("go"), "").unwrap();
    assert!(
        wait_until(STATE_TIMEOUT, || out.stdout_now().contains("mounted")),
        "{mode}: {}",
        out.stdout_now()
    );
    let stdout = out.stdout_now();
    let vol_in = stdout.contains("vol-in=yes");
    let root_in = stdout.contains("root-in=yes");
    let vol_out = is_mount_point(&src.join("from-inside"));
    // The container's own mounts (its root bind, /proc, /vol...) stay out
    // of the host's view of the rootfs.
    let mut want: Vec<String> = Vec::new();
    if rootfs_is_mount {
        want.push(rootfs.to_str().unwrap().to_owned());
        want.push(rootfs.join("mnt/from-host").to_str().unwrap().to_owned());
    }
    let mut leaked = host_mounts_under(&rootfs);
    leaked.sort();
    want.sort();
    assert_eq!(leaked, want, "{mode}: container mounts leaked to the host");
    rt.delete_force(b.id()).ok();
    (vol_in, vol_out, root_in)
}

/// What each mode lets cross, as runc (1.2+) does it: the mode is applied
/// to the container's copy of the host tree before the rootfs is bound
/// (so a non-recursive mode leaves the volume's source as the host made
/// it: a peer that propagates both ways), the rootfs mount is made private
/// (or a slave for the slave modes), and shared/unbindable go on the new
/// root after pivot_root.
fn expected(mode: &str) -> (bool, bool, bool) {
    match mode {
        "rshared" | "shared" | "private" | "unbindable" => (true, true, false),
        "slave" => (true, true, true),
        "rslave" => (true, false, true),
        "rprivate" => (false, false, false),
        _ => unreachable!(),
    }
}

macro_rules! propagation_tests {
    ($($name:ident: $mode:literal, $mount:literal;)*) => {$(
        #[test]
        fn $name() {
            require_root!();
            let (vol_in, vol_out, root_in) = propagation_case($mode, $mount);
            let (want_in, want_out, want_root) = expected($mode);
            assert_eq!(vol_in, want_in, "{}: host mount in the volume seen inside", $mode);
            assert_eq!(vol_out, want_out, "{}: container mount in the volume seen on the host", $mode);
            if $mount {
                assert_eq!(root_in, want_root, "{}: host mount in the rootfs seen inside", $mode);
            }
        }
    )*};
}

propagation_tests! {
    propagation_rshared_dir: "rshared", false;
    propagation_rshared_mountpoint: "rshared", true;
    propagation_shared_dir: "shared", false;
    propagation_shared_mountpoint: "shared", true;
    propagation_rslave_dir: "rslave", false;
    propagation_rslave_mountpoint: "rslave", true;
    propagation_slave_dir: "slave", false;
    propagation_slave_mountpoint: "slave", true;
    propagation_rprivate_dir: "rprivate", false;
    propagation_rprivate_mountpoint: "rprivate", true;
    propagation_private_dir: "private", false;
    propagation_private_mountpoint: "private", true;
    propagation_unbindable_dir: "unbindable", false;
    propagation_unbindable_mountpoint: "unbindable", true;
}

/// A bind source with a tmpfs submount holding an executable script, a
/// file, and symlinks at both levels.
fn bind_source_with_submount(b: &Bundle, host: &HostMounts, name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let src = b.host_dir(name);
    fs::create_dir_all(src.join("sub")).unwrap();
    host.tmpfs(&src.join("sub"));
    for dir in [src.clone(), src.join("sub")] {
        fs::create_dir_all(dir.join("target")).unwrap();
        fs::write(dir.join("target/file"), "through\n").unwrap();
        symlink("target", dir.join("link")).unwrap();
        let script = dir.join("prog");
        fs::write(&script, "#!/bin/sh\necho ran\n").unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    }
    src
}

#[test]
fn recursive_bind_options_reach_submounts() {
    require_root!();
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let host = HostMounts(b.path().to_path_buf());
    let cases: &[(&str, &[&str])] = &[
        ("rro", &["rbind", "rro"]),
        ("rnoexec", &["rbind", "rnoexec"]),
        (
            "rflags",
            &["rbind", "rnosuid", "rnodev", "rnoatime", "rnodiratime"],
        ),
        ("rnosymfollow", &["rbind", "rnosymfollow"]),
        ("nosymfollow", &["rbind", "nosymfollow"]),
        ("plain", &["rbind"]),
    ];
    for (name, opts) in cases {
        let src = bind_source_with_submount(&b, &host, name);
        b.add_mount(&format!("/{name}"), "bind", src.to_str().unwrap(), opts);
    }
    b.set_script(
        "w() { if touch $1 2>/tmp/err; then echo wrote; else cat /tmp/err; fi; }; \
         x() { if $1 >/dev/null 2>/tmp/err; then echo ran; else echo refused; fi; }; \
         r() { cat $1 2>/dev/null || echo refused; }; \
         opts() { grep \" $1 \" /proc/self/mountinfo | cut -d' ' -f6; }; \
         echo rro-top: $(w /rro/new); echo rro-sub: $(w /rro/sub/new); \
         echo plain-sub: $(w /plain/sub/new); \
         echo rnoexec-sub: $(x /rnoexec/sub/prog); echo plain-exec: $(x /plain/sub/prog); \
         echo rflags-sub: $(opts /rflags/sub); echo plain-flags: $(opts /plain/sub); \
         echo rnosymfollow-sub: $(r /rnosymfollow/sub/link/file); \
         echo nosymfollow-top: $(r /nosymfollow/link/file); \
         echo plain-link: $(r /plain/sub/link/file)",
    );
    let dev_tmp = serde_json::json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"});
    b.config_mut()["mounts"]
        .as_array_mut()
        .unwrap()
        .push(dev_tmp);
    let out = rt.run(&b).ok().stdout;
    let line = |key: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("no {key} in:\n{out}"))
            .to_owned()
    };
    assert!(line("rro-top").contains("Read-only file system"), "{out}");
    assert!(line("rro-sub").contains("Read-only file system"), "{out}");
    assert_eq!(line("plain-sub"), "wrote", "{out}");
    assert_eq!(line("rnoexec-sub"), "refused", "{out}");
    assert_eq!(line("plain-exec"), "ran", "{out}");
    let flags = line("rflags-sub");
    for f in ["nosuid", "nodev", "noatime", "nodiratime"] {
        assert!(flags.split(',').any(|x| x == f), "{f} missing in {flags:?}");
    }
    let plain = line("plain-flags");
    assert!(!plain.split(',').any(|x| x == "nosuid"), "{plain:?}");
    assert_eq!(line("rnosymfollow-sub"), "refused", "{out}");
    assert_eq!(line("nosymfollow-top"), "refused", "{out}");
    assert_eq!(line("plain-link"), "through", "{out}");
    assert!(!b.path().join("rro/sub/new").exists());
}

#[test]
fn unknown_bind_option_is_refused_by_name_with_no_leftovers() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(
        &rt,
        "runc hands unknown bind options to the kernel, which ignores them",
    ) {
        return;
    }
    // crun's inline idmap mappings are no filesystem data either.
    for bad in ["r0", "idmap=uids=0-1-1;gids=0-1-1"] {
        let mut b = Bundle::new(&rt);
        let src = b.host_dir("src");
        b.add_mount(
            "/mnt/x",
            "bind",
            src.to_str().unwrap(),
            &["rbind", bad, "ro"],
        );
        let out = rt.create(&b).failed();
        let msg = error_message(&out);
        assert!(msg.contains(&format!("\"{bad}\"")), "{bad}: {msg}");
        assert!(msg.contains("/mnt/x"), "{bad}: {msg}");
        assert!(
            rt.try_state(b.id()).is_err(),
            "{bad}: container left behind"
        );
        assert_eq!(host_mounts_under(b.path()), Vec::<String>::new());
        assert_eq!(leftover_cgroups(&b), Vec::<std::path::PathBuf>::new());
    }
}

#[test]
fn unknown_tmpfs_option_goes_to_the_kernel_and_its_refusal_names_it() {
    require_root!();
    let rt = runtime();
    // Data options pass through to the filesystem, as with runc...
    let mut ok = Bundle::new(&rt);
    ok.add_mount(
        "/mnt/t",
        "tmpfs",
        "tmpfs",
        &["size=1m", "mode=700", "nr_inodes=100"],
    );
    ok.set_script("stat -c %a /mnt/t");
    assert_eq!(rt.run(&ok).ok().stdout, "700\n");
    // ...and one tmpfs does not know is refused by the kernel (EINVAL).
    let mut bad = Bundle::new(&rt);
    bad.add_mount("/mnt/t", "tmpfs", "tmpfs", &["size=1m", "r0"]);
    let out = rt.create(&bad).failed();
    assert!(rt.try_state(bad.id()).is_err(), "container left behind");
    if rt.is_berth() {
        let msg = error_message(&out);
        assert!(msg.contains("r0") && msg.contains("/mnt/t"), "{msg}");
    }
}

#[test]
fn recursive_options_apply_to_other_mount_types_too() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, "runc applies recursive options to bind mounts only") {
        return;
    }
    let mut b = Bundle::new(&rt);
    b.add_mount("/mnt/t", "tmpfs", "tmpfs", &["size=1m", "rro", "rnoexec"]);
    b.set_script("touch /mnt/t/f 2>&1; grep ' /mnt/t ' /proc/self/mountinfo | cut -d' ' -f6");
    let out = rt.run(&b).ok().stdout;
    assert!(out.contains("Read-only file system"), "{out}");
    let opts = out.lines().last().unwrap_or_default();
    assert!(opts.split(',').any(|o| o == "ro"), "{out}");
    assert!(opts.split(',').any(|o| o == "noexec"), "{out}");
}

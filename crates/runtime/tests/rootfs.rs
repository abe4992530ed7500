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

//! Volumes, bind mounts and `--mount` tmpfs end to end, with real
//! containers: data outlives its container, `ro` is enforced by the
//! kernel, an image's `VOLUME` is copied up with owners and modes,
//! `--volumes-from` shares, `rm -v`/`--rm`/prune remove what Docker
//! removes, and two writers lose nothing. The main path runs with
//! berth-runtime, runc and crun.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use berth_testutil::require_root;
use common::engine::{name, sh, sh_out, text, Engine};
use common::lifecycle::{monitor_pid, sigkill, wait_for};

/// The volumes of the engine, sorted.
fn volumes(e: &Engine) -> Vec<String> {
    let mut v: Vec<String> = e
        .ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

fn mountpoint(e: &Engine, volume: &str) -> PathBuf {
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["volume", "inspect", volume])).unwrap();
    PathBuf::from(v[0]["Mountpoint"].as_str().unwrap())
}

/// A volume written by one container is read by the next, survives `rm`
/// of the container and a `kill -9` of a monitor; the same with each
/// runtime.
fn data_outlives_the_container(runtime: &'static str) {
    let e = Engine::new(runtime);
    let vol = name("vol");
    sh(&e, &["-v", &format!("{vol}:/data")], "echo one > /data/f");
    assert_eq!(
        sh(&e, &["-v", &format!("{vol}:/data")], "cat /data/f"),
        "one\n"
    );
    // a detached writer, its monitor killed
    let c = e
        .ok(&[
            "run",
            "-d",
            "-v",
            &format!("{vol}:/data"),
            "bb:1",
            "sh",
            "-c",
            "echo two >> /data/f; sleep 600",
        ])
        .trim()
        .to_owned();
    wait_for("the write", || {
        std::fs::read_to_string(mountpoint(&e, &vol).join("f"))
            .ok()
            .filter(|s| s == "one\ntwo\n")
    });
    sigkill(monitor_pid(&c).expect("monitor"));
    e.ok(&["rm", "-f", &c]);
    assert_eq!(
        volumes(&e),
        std::slice::from_ref(&vol),
        "a named volume stays"
    );
    assert_eq!(
        sh(&e, &["-v", &format!("{vol}:/data")], "cat /data/f"),
        "one\ntwo\n"
    );
    // ro is the kernel's
    let out = sh_out(&e, &["-v", &format!("{vol}:/data:ro")], "echo x > /data/g");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Read-only file system"),
        "{}",
        text(&out.stderr)
    );
    // a bind of a host directory, missing: made by -v
    let host = e.berth.dir.path().join(format!("bind-{runtime}/sub"));
    sh(
        &e,
        &["-v", &format!("{}:/b", host.display())],
        "echo hi > /b/h",
    );
    assert_eq!(std::fs::read_to_string(host.join("h")).unwrap(), "hi\n");
}

#[test]
fn data_outlives_the_container_with_berth_runtime() {
    require_root!();
    data_outlives_the_container("berth");
}

#[test]
fn data_outlives_the_container_with_runc() {
    require_root!();
    if common::have_tool("runc") {
        data_outlives_the_container("runc");
    }
}

#[test]
fn data_outlives_the_container_with_crun() {
    require_root!();
    if common::have_tool("crun") {
        data_outlives_the_container("crun");
    }
}

/// An image whose `/data` holds files of several owners and modes, and
/// `VOLUME /data`.
fn image_with_a_volume(e: &Engine, tag: &str) {
    let c = name("maker");
    e.ok(&[
        "run",
        "--name",
        &c,
        "bb:1",
        "sh",
        "-c",
        "mkdir -p /data/sub && echo seed > /data/seed && chown 123:456 /data/seed \
         && chmod 640 /data/seed && chmod 1777 /data/sub && ln -s seed /data/link \
         && chown 7:8 /data && chmod 750 /data",
    ]);
    e.ok(&["commit", "--change", "VOLUME /data", &c, tag]);
    e.ok(&["rm", &c]);
}

#[test]
fn an_images_volume_is_copied_up_with_owners_and_modes() {
    require_root!();
    let e = Engine::new("berth");
    image_with_a_volume(&e, "withvol:1");
    let c = name("c");
    e.ok(&["create", "--name", &c, "withvol:1", "true"]);
    let inspect = e.inspect(&c);
    let mounts = inspect["Mounts"].as_array().unwrap();
    assert_eq!(mounts.len(), 1, "{inspect}");
    assert_eq!(mounts[0]["Type"], "volume");
    assert_eq!(mounts[0]["Destination"], "/data");
    assert_eq!(mounts[0]["Driver"], "local");
    assert_eq!(mounts[0]["RW"], true);
    assert!(
        inspect["Config"]["Volumes"]["/data"].is_object(),
        "{inspect}"
    );
    let anon = mounts[0]["Name"].as_str().unwrap().to_owned();
    assert_eq!(anon.len(), 64);
    e.ok(&["start", "-a", &c]);
    let data = mountpoint(&e, &anon);
    let meta = |p: &str| std::fs::symlink_metadata(data.join(p)).unwrap();
    let root = std::fs::metadata(&data).unwrap();
    assert_eq!(
        (root.uid(), root.gid(), root.mode() & 0o7777),
        (7, 8, 0o750)
    );
    let seed = meta("seed");
    assert_eq!(
        (seed.uid(), seed.gid(), seed.mode() & 0o7777),
        (123, 456, 0o640)
    );
    assert_eq!(
        std::fs::read_to_string(data.join("seed")).unwrap(),
        "seed\n"
    );
    assert_eq!(meta("sub").mode() & 0o7777, 0o1777);
    assert_eq!(
        std::fs::read_link(data.join("link")).unwrap(),
        PathBuf::from("seed")
    );
    // nocopy: an empty volume stays empty
    let vol = name("nocopy");
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "-v",
            &format!("{vol}:/data:nocopy"),
            "withvol:1",
            "ls",
            "-A",
            "/data"
        ]),
        ""
    );
    // a named volume that is empty gets the image's content too
    let named = name("named");
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "-v",
            &format!("{named}:/data"),
            "withvol:1",
            "cat",
            "/data/seed"
        ]),
        "seed\n"
    );
    // rm -v removes the anonymous volume, not the named ones
    e.ok(&["rm", "-v", &c]);
    let left = volumes(&e);
    assert!(!left.contains(&anon), "{left:?}");
    assert!(left.contains(&named) && left.contains(&vol), "{left:?}");
}

#[test]
fn rm_without_v_keeps_anonymous_volumes_and_auto_remove_drops_them() {
    require_root!();
    let e = Engine::new("berth");
    let c = name("c");
    e.ok(&["create", "--name", &c, "-v", "/anon", "bb:1", "true"]);
    let anon = e.inspect(&c)["Mounts"][0]["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    // in use: refused, with Docker's words
    let out = e.run(&["volume", "rm", &anon]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("volume is in use"),
        "{}",
        text(&out.stderr)
    );
    e.ok(&["rm", &c]);
    assert_eq!(volumes(&e), std::slice::from_ref(&anon));
    // --rm takes its anonymous volumes, and leaves a named one
    let named = name("named");
    sh(
        &e,
        &["-v", "/scratch", "-v", &format!("{named}:/n")],
        "true",
    );
    assert_eq!(volumes(&e).len(), 2, "{:?}", volumes(&e));
    // prune without --all: unused anonymous volumes only
    e.ok(&["volume", "prune", "-f"]);
    assert_eq!(volumes(&e), std::slice::from_ref(&named));
    e.ok(&["volume", "prune", "-f", "--all"]);
    assert!(volumes(&e).is_empty());
}

#[test]
fn volumes_from_shares_and_read_only_rootfs_keeps_volumes_writable() {
    require_root!();
    let e = Engine::new("berth");
    let vol = name("v");
    let source = name("src");
    e.ok(&[
        "create",
        "--name",
        &source,
        "-v",
        &format!("{vol}:/shared"),
        "-v",
        "/anon",
        "bb:1",
        "true",
    ]);
    assert_eq!(
        sh(
            &e,
            &["--volumes-from", &source, "--read-only"],
            "echo x > /shared/a && echo y > /anon/b && cat /shared/a /anon/b \
             && (touch /rootfile 2>/dev/null && echo writable || echo ro)"
        ),
        "x\ny\nro\n"
    );
    let out = sh_out(
        &e,
        &["--volumes-from", &format!("{source}:ro")],
        "echo z > /shared/c",
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Read-only file system"),
        "{}",
        text(&out.stderr)
    );
    // --rm of the borrower took none of the source's volumes
    assert_eq!(volumes(&e).len(), 2, "{:?}", volumes(&e));
}

#[test]
fn two_writers_lose_nothing() {
    require_root!();
    let e = Engine::new("berth");
    let vol = name("v");
    let script = |tag: &str| format!("for i in $(seq 2000); do echo {tag}$i >> /data/log; done");
    let a = e
        .ok(&[
            "run",
            "-d",
            "-v",
            &format!("{vol}:/data"),
            "bb:1",
            "sh",
            "-c",
            &script("a"),
        ])
        .trim()
        .to_owned();
    let b = e
        .ok(&[
            "run",
            "-d",
            "-v",
            &format!("{vol}:/data"),
            "bb:1",
            "sh",
            "-c",
            &script("b"),
        ])
        .trim()
        .to_owned();
    assert_eq!(e.ok(&["wait", &a, &b]), "0\n0\n");
    let log = std::fs::read_to_string(mountpoint(&e, &vol).join("log")).unwrap();
    for tag in ["a", "b"] {
        let lines: Vec<&str> = log.lines().filter(|l| l.starts_with(tag)).collect();
        assert_eq!(lines.len(), 2000, "{tag}");
        assert_eq!(lines.last(), Some(&format!("{tag}2000").as_str()));
    }
}

#[test]
fn rshared_bind_shows_a_mount_made_on_the_host_later() {
    require_root!();
    let e = Engine::new("berth");
    let dir = e.berth.dir.path().join("prop");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let d = dir.display().to_string();
    // the source must be a shared mount for rshared to mean anything
    let out = e.host_sh(&format!("mount --bind {d} {d} && mount --make-shared {d}"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let c = e
        .ok(&[
            "run",
            "-d",
            "-v",
            &format!("{d}:/p:rshared"),
            "bb:1",
            "sleep",
            "600",
        ])
        .trim()
        .to_owned();
    let out = e.host_sh(&format!(
        "mount -t tmpfs later {d}/sub && echo seen > {d}/sub/f"
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(e.ok(&["exec", &c, "cat", "/p/sub/f"]), "seen\n");
    e.ok(&["rm", "-f", &c]);
    let _ = e.umount(&format!("{d}/sub"));
    let _ = e.umount(&d);
}

#[test]
fn cp_reaches_a_running_containers_volume_and_export_leaves_it_out() {
    require_root!();
    let e = Engine::new("berth");
    let vol = name("v");
    let c = e
        .ok(&[
            "run",
            "-d",
            "-v",
            &format!("{vol}:/data"),
            "bb:1",
            "sleep",
            "600",
        ])
        .trim()
        .to_owned();
    let file = e.berth.dir.path().join("in.txt");
    std::fs::write(&file, "copied\n").unwrap();
    e.ok(&["cp", file.to_str().unwrap(), &format!("{c}:/data/in.txt")]);
    assert_eq!(e.ok(&["exec", &c, "cat", "/data/in.txt"]), "copied\n");
    assert_eq!(
        std::fs::read_to_string(mountpoint(&e, &vol).join("in.txt")).unwrap(),
        "copied\n"
    );
    let out = e.berth.dir.path().join("out.txt");
    e.ok(&["cp", &format!("{c}:/data/in.txt"), out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "copied\n");
    let tar = e.berth.dir.path().join("export.tar");
    e.ok(&["export", "-o", tar.to_str().unwrap(), &c]);
    let list = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar)
        .output()
        .unwrap();
    assert!(!text(&list.stdout).contains("data/in.txt"));
}

#[test]
fn mount_flag_tmpfs_and_bind_in_dockers_shape() {
    require_root!();
    let e = Engine::new("berth");
    let host = e.berth.dir.path().join("srv");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "bound\n").unwrap();
    let c = name("c");
    e.ok(&[
        "create",
        "--name",
        &c,
        "--mount",
        &format!("type=bind,source={},target=/srv,readonly", host.display()),
        "--mount",
        "type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1770",
        "bb:1",
        "sh",
        "-c",
        "cat /srv/f; grep ' /scratch ' /proc/mounts; stat -c %a /scratch",
    ]);
    let mounts = e.inspect(&c)["Mounts"].clone();
    assert_eq!(mounts[0]["Type"], "bind", "{mounts}");
    assert_eq!(mounts[0]["RW"], false);
    assert_eq!(mounts[0]["Propagation"], "rprivate");
    assert_eq!(mounts[1]["Type"], "tmpfs", "{mounts}");
    let out = e.ok(&["start", "-a", &c]);
    assert!(out.starts_with("bound\n"), "{out}");
    assert!(out.contains("size=1024k"), "{out}");
    assert!(out.ends_with("1770\n"), "{out}");
    // a missing bind source is refused for --mount, and nothing is left
    let missing = e.berth.dir.path().join("nope");
    let out = e.run(&[
        "create",
        "--mount",
        &format!("type=bind,source={},target=/x", missing.display()),
        "bb:1",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("bind source path does not exist"));
    assert!(!missing.exists());
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 1);
}

#[test]
fn a_volume_with_the_local_drivers_options_is_mounted_while_used() {
    require_root!();
    let e = Engine::new("berth");
    let vol = name("tmp");
    e.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=1m,mode=0750",
        &vol,
    ]);
    let c = e
        .ok(&[
            "run",
            "-d",
            "-v",
            &format!("{vol}:/t"),
            "bb:1",
            "sleep",
            "600",
        ])
        .trim()
        .to_owned();
    let seen = e.ok(&[
        "exec",
        &c,
        "sh",
        "-c",
        "grep ' /t ' /proc/mounts; stat -c %a /t",
    ]);
    assert!(seen.starts_with("tmpfs /t tmpfs"), "{seen}");
    assert!(seen.contains("size=1024k"), "{seen}");
    assert!(seen.ends_with("750\n"), "{seen}");
    let data = mountpoint(&e, &vol).display().to_string();
    assert!(
        e.mounts_under_root().contains(&data),
        "mounted on the host while used"
    );
    assert_eq!(e.inspect(&c)["Mounts"][0]["Mode"], "z");
    e.ok(&["rm", "-f", &c]);
    assert!(
        !e.mounts_under_root().contains(&data),
        "unmounted after the last user: {:?}",
        e.mounts_under_root()
    );
    e.ok(&["volume", "rm", &vol]);
}

#[test]
fn ps_filters_and_shows_volumes_as_docker() {
    require_root!();
    let e = Engine::new("berth");
    let vol = name("psvolume-long-name");
    let with = name("with");
    let without = name("without");
    e.ok(&[
        "create",
        "--name",
        &with,
        "-v",
        &format!("{vol}:/data"),
        "bb:1",
        "true",
    ]);
    e.ok(&["create", "--name", &without, "bb:1", "true"]);
    let names = |filter: &str| e.ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    assert_eq!(names(&format!("volume={vol}")), format!("{with}\n"));
    assert_eq!(names("volume=/data"), format!("{with}\n"));
    assert_eq!(names("volume=nope"), "");
    let row = |f: &str| {
        e.ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("name={with}"),
            "--format",
            f,
        ])
    };
    assert_eq!(row("{{.LocalVolumes}}"), "1\n");
    let short: String = vol.chars().take(14).collect();
    assert_eq!(row("{{.Mounts}}"), format!("{short}…\n"));
    assert_eq!(
        e.ok(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &format!("name={with}"),
            "--format",
            "{{.Mounts}}"
        ]),
        format!("{vol}\n")
    );
}

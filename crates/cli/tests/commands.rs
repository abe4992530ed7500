//! The image commands and Docker's output shapes, through the binary.

mod common;

use berth_testutil::require_root;
use common::*;
use serde_json::Value;

#[test]
fn import_list_tag_inspect_history_rmi() {
    require_root!();
    let b = Berth::new();
    let tar = rootfs_tar(b.dir.path());
    let id = b.ok(&[
        "import",
        tar.to_str().unwrap(),
        "mybox:1.0",
        "--change",
        r#"CMD ["sh","-c","cat /etc/hello"]"#,
        "-c",
        "ENV GREETING=hi",
        "-c",
        "WORKDIR=/srv",
    ]);
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");

    let list = b.ok(&["images"]);
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{list}"
    );
    assert!(
        lines[1].starts_with("mybox        1.0       ") && lines[1].contains(&id[7..19]),
        "{list}"
    );
    assert_eq!(b.ok(&["images", "-q"]).trim(), &id[7..19]);

    b.ok(&["tag", "mybox:1.0", "example.com/team/box"]);
    let fmt = b.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    let mut rows: Vec<&str> = fmt.lines().collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            format!("example.com/team/box:latest {}", &id[7..19]),
            format!("mybox:1.0 {}", &id[7..19])
        ]
    );
    let filtered = b.ok(&[
        "images",
        "--filter",
        "reference=mybox",
        "--format",
        "{{.Repository}}",
    ]);
    assert_eq!(filtered.trim(), "mybox");
    let json: Value =
        serde_json::from_str(b.ok(&["images", "--format", "{{json .}}", "mybox"]).trim()).unwrap();
    assert_eq!(json["Repository"], "mybox");
    assert_eq!(json["Tag"], "1.0");
    let table = b.ok(&[
        "images",
        "--digests",
        "--format",
        "table {{.Repository}}\\t{{.Digest}}",
        "mybox",
    ]);
    assert!(
        table.starts_with("REPOSITORY   DIGEST\nmybox        sha256:"),
        "{table}"
    );
    assert!(b
        .fails(&["images", "--filter", "color=blue"])
        .contains("invalid filter"));

    let inspect: Value = serde_json::from_str(&b.ok(&["image", "inspect", "mybox:1.0"])).unwrap();
    let img = &inspect[0];
    assert_eq!(img["Id"], id);
    assert_eq!(
        img["Config"]["Cmd"],
        serde_json::json!(["sh", "-c", "cat /etc/hello"])
    );
    assert_eq!(img["Config"]["Env"], serde_json::json!(["GREETING=hi"]));
    assert_eq!(img["Config"]["WorkingDir"], "/srv");
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert_eq!(img["RepoTags"].as_array().unwrap().len(), 2);
    assert!(img["Size"].as_u64().unwrap() > 500_000);
    assert_eq!(
        b.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{json .Config.Cmd}}",
            &id[7..19]
        ])
        .trim(),
        format!("{id} [\"sh\",\"-c\",\"cat /etc/hello\"]")
    );

    let history = b.ok(&["history", "mybox:1.0"]);
    assert!(history.starts_with("IMAGE          CREATED"), "{history}");
    assert!(
        history.contains(&id[7..19]) && history.contains("Imported from"),
        "{history}"
    );

    let err = b.fails(&["image", "inspect", "nosuch"]);
    assert_eq!(err.trim(), "Error: No such image: nosuch");
    assert_eq!(
        b.fails(&["rmi", "nosuch:1"]).trim(),
        "Error: No such image: nosuch:1"
    );

    // By id with two tags: refused without -f, like docker.
    assert!(b.fails(&["rmi", &id[7..19]]).contains("must be forced"));
    assert_eq!(
        b.ok(&["rmi", "example.com/team/box"]),
        "Untagged: example.com/team/box:latest\n"
    );
    assert_eq!(
        b.ok(&["rmi", "mybox:1.0"]),
        format!("Untagged: mybox:1.0\nDeleted: {id}\n")
    );
    assert_eq!(b.ok(&["images", "-q"]), "");
    assert_eq!(
        std::fs::read_dir(b.root.join("content/sha256"))
            .unwrap()
            .count(),
        0,
        "rmi collected the blobs"
    );
}

#[test]
fn import_from_stdin_and_prune_dangling() {
    require_root!();
    let b = Berth::new();
    let tar = std::fs::read(rootfs_tar(b.dir.path())).unwrap();
    let id = b.ok_stdin(&["import", "-"], &tar);
    let list = b.ok(&["images"]);
    assert!(
        list.lines()
            .nth(1)
            .unwrap()
            .starts_with("<none>       <none>"),
        "{list}"
    );
    let out = b.ok(&["image", "prune", "-f"]);
    assert!(
        out.starts_with(&format!("Deleted Images:\ndeleted: {}", id.trim())),
        "{out}"
    );
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(b.ok(&["images", "-q"]), "");
}

#[test]
fn usage_errors_exit_125() {
    let b = Berth::new();
    let out = b.run(&["images", "--bogus"]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        b.fails(&["save", "-o", &b.path("x.tar"), "--format", "zip", "a"])
            .trim(),
        "Error: unsupported archive format (docker-archive, oci-archive): zip"
    );
}

#[test]
fn device_nodes_need_cap_mknod() {
    require_root!();
    if !have_tool("setpriv") {
        return;
    }
    let b = Berth::new();
    let rootfs = b.dir.join("devfs");
    std::fs::create_dir_all(rootfs.join("dev")).unwrap();
    nix::sys::stat::mknod(
        &rootfs.join("dev/null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .unwrap();
    let tar = b.path("dev.tar");
    assert!(std::process::Command::new("tar")
        .args(["-C", rootfs.to_str().unwrap(), "-cf", &tar, "."])
        .status()
        .unwrap()
        .success());
    // Without CAP_MKNOD (dropped from the bounding set, so root's exec
    // does not get it back) the import fails with a clear error.
    let out = std::process::Command::new("setpriv")
        .args([
            "--bounding-set",
            "-mknod",
            "--",
            env!("CARGO_BIN_EXE_berth"),
            "--root",
            b.root.to_str().unwrap(),
            "import",
            &tar,
            "dev:1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("device nodes can only be unpacked as root (CAP_MKNOD)"),
        "{err}"
    );
    assert_eq!(b.ok(&["images", "-q"]), "");
    // With it, the node is there.
    b.ok(&["import", &tar, "dev:1"]);
}

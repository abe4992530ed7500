//! save/load round trips, and archives exchanged with skopeo and umoci.

mod common;

use std::process::Command;

use berth_testutil::require_root;
use common::*;
use serde_json::Value;

/// `ID DIGEST` of an image, full length.
fn ids(b: &Berth, name: &str) -> String {
    b.ok(&[
        "images",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Digest}}",
        name,
    ])
    .trim()
    .to_owned()
}

#[test]
fn save_and_load_keep_every_digest() {
    require_root!();
    let b = Berth::new();
    let tar = rootfs_tar(b.dir.path());
    b.ok(&[
        "import",
        tar.to_str().unwrap(),
        "roundtrip:1",
        "-c",
        "CMD sh",
    ]);
    let before = ids(&b, "roundtrip:1");
    for format in ["docker-archive", "oci-archive"] {
        let archive = b.path(&format!("{format}.tar"));
        b.ok(&["save", "--format", format, "-o", &archive, "roundtrip:1"]);
        let other = Berth::new();
        assert_eq!(
            other.ok(&["load", "-i", &archive]),
            "Loaded image: roundtrip:1\n"
        );
        assert_eq!(ids(&other, "roundtrip:1"), before, "{format}");
        // And into the store it came from: nothing duplicated.
        b.ok(&["load", "-q", "-i", &archive]);
        assert_eq!(b.ok(&["images", "-q"]).lines().count(), 1);
    }
    // save to stdout, load from stdin.
    let out = b.command().args(["save", "roundtrip:1"]).output().unwrap();
    assert!(out.status.success());
    let other = Berth::new();
    other.ok_stdin(&["load"], &out.stdout);
    assert_eq!(ids(&other, "roundtrip:1"), before);
}

#[test]
fn skopeo_and_umoci_read_berths_oci_archive() {
    require_root!();
    if !have_tool("skopeo") || !have_tool("umoci") {
        return;
    }
    let b = Berth::new();
    let tar = rootfs_tar(b.dir.path());
    b.ok(&["import", tar.to_str().unwrap(), "interop:2"]);
    let digest = b
        .ok(&["images", "--format", "{{.Digest}}"])
        .trim()
        .to_owned();
    let archive = b.path("oci.tar");
    b.ok(&[
        "save",
        "--format",
        "oci-archive",
        "-o",
        &archive,
        "interop:2",
    ]);

    let inspect: Value = serde_json::from_str(&run_tool(
        Command::new("skopeo").args(["inspect", &format!("oci-archive:{archive}:2")]),
    ))
    .unwrap();
    assert_eq!(inspect["Digest"], digest.as_str());

    let layout = b.path("layout");
    std::fs::create_dir(&layout).unwrap();
    assert!(Command::new("tar")
        .args(["-C", &layout, "-xf", &archive])
        .status()
        .unwrap()
        .success());
    let bundle = b.path("bundle");
    run_tool(Command::new("umoci").args(["unpack", "--image", &format!("{layout}:2"), &bundle]));
    assert_eq!(
        std::fs::read_to_string(format!("{bundle}/rootfs/etc/hello")).unwrap(),
        "hello from berth\n"
    );

    // skopeo also reads the docker-archive.
    let docker = b.path("docker.tar");
    b.ok(&["save", "-o", &docker, "interop:2"]);
    let inspect: Value = serde_json::from_str(&run_tool(
        Command::new("skopeo").args(["inspect", &format!("docker-archive:{docker}")]),
    ))
    .unwrap();
    assert_eq!(
        inspect["Architecture"],
        berth_image::platform::Platform::host().architecture
    );
}

#[test]
fn berth_loads_archives_made_by_skopeo_and_umoci() {
    require_root!();
    if !have_tool("skopeo") || !have_tool("umoci") {
        return;
    }
    let b = Berth::new();
    let tar = rootfs_tar(b.dir.path());
    b.ok(&["import", tar.to_str().unwrap(), "source:1"]);
    let id = b.ok(&["images", "-q", "--no-trunc"]).trim().to_owned();
    let ours = b.path("ours.tar");
    b.ok(&["save", "--format", "oci-archive", "-o", &ours, "source:1"]);

    // skopeo rewrites it as an old-style docker-archive (uncompressed
    // layer.tar files) and as its own OCI archive.
    let docker = b.path("skopeo-docker.tar");
    let oci = b.path("skopeo-oci.tar");
    run_tool(Command::new("skopeo").args([
        "copy",
        &format!("oci-archive:{ours}:1"),
        &format!("docker-archive:{docker}:skopeo/docker:1"),
    ]));
    run_tool(Command::new("skopeo").args([
        "copy",
        &format!("oci-archive:{ours}:1"),
        &format!("oci-archive:{oci}:skopeo/oci:1"),
    ]));
    for (archive, name) in [(&docker, "skopeo/docker:1"), (&oci, "skopeo/oci:1")] {
        let other = Berth::new();
        assert_eq!(
            other.ok(&["load", "-i", archive]),
            format!("Loaded image: {name}\n")
        );
        assert_eq!(
            other.ok(&["images", "-q", "--no-trunc"]).trim(),
            id,
            "{archive}: the config (image id) survives"
        );
        let config: Value = serde_json::from_str(&other.ok(&["image", "inspect", name])).unwrap();
        assert_eq!(config[0]["Id"], id.as_str());
    }

    // umoci builds an image of its own; berth loads it (a bare tag names
    // no repository, so it loads by id, as docker does). (umoci 0.4.7's
    // `insert` writes a tar without its end blocks, which GNU tar and
    // berth both call truncated; `repack` writes a whole one.)
    let layout = b.path("umoci");
    let ubundle = b.path("umoci-bundle");
    run_tool(Command::new("umoci").args(["init", "--layout", &layout]));
    run_tool(Command::new("umoci").args(["new", "--image", &format!("{layout}:t")]));
    run_tool(Command::new("umoci").args(["unpack", "--image", &format!("{layout}:t"), &ubundle]));
    std::fs::create_dir_all(format!("{ubundle}/rootfs/etc")).unwrap();
    std::fs::write(format!("{ubundle}/rootfs/etc/added"), "from umoci\n").unwrap();
    run_tool(Command::new("umoci").args(["repack", "--image", &format!("{layout}:t"), &ubundle]));
    let umoci_tar = b.path("umoci.tar");
    assert!(Command::new("tar")
        .args(["-C", &layout, "-cf", &umoci_tar, "."])
        .status()
        .unwrap()
        .success());
    let other = Berth::new();
    let loaded = other.ok(&["load", "-i", &umoci_tar]);
    assert!(loaded.starts_with("Loaded image ID: sha256:"), "{loaded}");
    let new_id = loaded.trim().rsplit(' ').next().unwrap().to_owned();
    other.ok(&["tag", &new_id, "umoci:t"]);
    let key = berth_testutil::unique_id("umoci");
    let store = berth_image::ImageStore::open(&other.root).unwrap();
    store.prepare(&key, "umoci:t").unwrap();
    let target = other.dir.join("mnt");
    std::fs::create_dir(&target).unwrap();
    store.mount(&key, &target).unwrap();
    let content = std::fs::read_to_string(target.join("etc/added"));
    let _ = nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH);
    assert_eq!(content.unwrap(), "from umoci\n");
}

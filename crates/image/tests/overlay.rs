//! Snapshots through a real overlay mount: whiteouts hide, opaque
//! directories reset, layers are shared, and deep images mount.

mod common;

use berth_image::archive;
use berth_testutil::{require_root, unique_id};
use common::*;

#[test]
fn whiteouts_and_opaque_dirs_show_through_overlay() {
    require_root!();
    let t = store();
    let base = Layer::new()
        .file("etc/keep", b"k")
        .file("etc/gone", b"g")
        .file("var/old1", b"1")
        .file("var/old2", b"2")
        .finish();
    let top = Layer::new()
        .file("etc/.wh.gone", b"")
        .file("var/.wh..wh..opq", b"")
        .file("var/new", b"n")
        .finish();
    archive::load(
        &t.store,
        &oci_archive(&[base, top], Some("docker.io/library/wh:1"))[..],
    )
    .unwrap();
    let key = unique_id("wh");
    let m = mount(&t.store, &key, "wh:1", t.dir.join("rootfs"));
    let names = |d: &str| {
        let mut v: Vec<String> = std::fs::read_dir(m.target.join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("etc"), ["keep"]);
    assert_eq!(names("var"), ["new"]);
    // The container's writes land in its own layer only.
    std::fs::write(m.target.join("etc/keep"), "changed").unwrap();
    drop(m);
    let state = t.store.index.read().unwrap();
    let upper = t.store.snapshots.fs_path(state.snapshots[&key].id);
    assert_eq!(
        std::fs::read_to_string(upper.join("etc/keep")).unwrap(),
        "changed"
    );
    t.store.remove_snapshot(&key).unwrap();
    assert!(!upper.exists());
}

#[test]
fn a_deep_image_of_130_layers_mounts() {
    require_root!();
    let t = store();
    let layers: Vec<Vec<u8>> = (0..130)
        .map(|i| {
            Layer::new()
                .file(&format!("layer{i}"), i.to_string().as_bytes())
                .finish()
        })
        .collect();
    archive::load(
        &t.store,
        &oci_archive(&layers, Some("docker.io/library/deep:1"))[..],
    )
    .unwrap();
    let key = unique_id("deep");
    let overlay = t.store.prepare(&key, "deep:1").unwrap();
    assert_eq!(overlay.lower.len(), 130);
    // Absolute chain-id paths would not fit in a page of mount data.
    assert!(overlay.options().len() < 4096);
    t.store
        .mount(&key, &{
            let p = t.dir.join("rootfs");
            std::fs::create_dir(&p).unwrap();
            p
        })
        .unwrap();
    let m = Mounted {
        target: t.dir.join("rootfs"),
    };
    for i in 0..130 {
        assert_eq!(
            std::fs::read_to_string(m.target.join(format!("layer{i}"))).unwrap(),
            i.to_string()
        );
    }
}

#[test]
fn layers_are_unpacked_once_and_shared() {
    require_root!();
    let t = store();
    let base = Layer::new().file("base", b"b").finish();
    let a = Layer::new().file("a", b"a").finish();
    let b = Layer::new().file("b", b"b").finish();
    archive::load(
        &t.store,
        &oci_archive(&[base.clone(), a], Some("docker.io/library/a:1"))[..],
    )
    .unwrap();
    archive::load(
        &t.store,
        &oci_archive(&[base, b], Some("docker.io/library/b:1"))[..],
    )
    .unwrap();
    let (_, ra) = t.store.resolve("a:1").unwrap();
    let (_, rb) = t.store.resolve("b:1").unwrap();
    assert_eq!(ra.chain[0], rb.chain[0]);
    assert_eq!(
        t.store.index.read().unwrap().snapshots.len(),
        3,
        "the shared base is one snapshot"
    );
}

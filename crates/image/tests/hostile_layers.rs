//! Hostile and broken layers are refused with a clear error, nothing is
//! written outside the layer, and the store is left exactly as it was.

mod common;

use berth_image::archive;
use berth_image::import::{import, ImportOptions};
use berth_image::reference::Reference;
use berth_image::unpack::Limits;
use berth_testutil::{require_root, TempDir};
use common::*;
use tar::EntryType;

/// Imports `layer` and expects an error containing `expect`, with the
/// store unchanged; returns the error text.
fn refused_by(store: &berth_image::ImageStore, layer: &[u8], expect: &str) -> String {
    assert!(!expect.is_empty(), "say which error is expected");
    let before = listing(store.root());
    let name = Reference::parse("hostile:1").unwrap();
    let err = import(store, layer, Some(&name), &ImportOptions::default())
        .expect_err("a hostile layer was accepted")
        .to_string();
    assert!(
        err.contains(expect),
        "error {err:?} does not mention {expect:?}"
    );
    assert_eq!(
        listing(store.root()),
        before,
        "the store changed after a refused import"
    );
    assert!(store.list().unwrap().is_empty());
    err
}

fn refused(layer: &[u8], expect: &str) -> String {
    let t = store();
    refused_by(&t.store, layer, expect)
}

#[test]
fn path_traversal_is_refused() {
    require_root!();
    refused(
        &Layer::new()
            .file("ok", b"1")
            .file("../../escaped", b"x")
            .finish(),
        "'..'",
    );
    refused(
        &Layer::new().file("a/../../../escaped", b"x").finish(),
        "'..'",
    );
}

#[test]
fn absolute_paths_are_refused() {
    require_root!();
    let outside = TempDir::new("berth-abs").unwrap();
    let target = outside.join("pwned");
    let err = refused(
        &Layer::new().file(target.to_str().unwrap(), b"x").finish(),
        "absolute path",
    );
    assert!(!target.exists(), "{err}");
}

#[test]
fn writing_through_a_symlink_is_refused() {
    require_root!();
    let outside = TempDir::new("berth-symlink-out").unwrap();
    let layer = Layer::new()
        .symlink("evil", outside.path().to_str().unwrap())
        .file("evil/pwned", b"x")
        .finish();
    refused(&layer, "symlink");
    assert!(!outside.join("pwned").exists());
    // A relative symlink climbing out, then a directory through it.
    let layer = Layer::new()
        .symlink("up", "../../../../../../")
        .dir("up/tmp/x")
        .finish();
    refused(&layer, "symlink");
}

#[test]
fn hard_links_out_of_the_layer_are_refused() {
    require_root!();
    refused(
        &Layer::new()
            .hardlink("passwd", "../../../../etc/passwd")
            .finish(),
        "'..'",
    );
    refused(
        &Layer::new().hardlink("passwd", "/etc/passwd").finish(),
        "absolute path",
    );
    // A target that is not in the layer (resolving it on the host would
    // link a host file).
    refused(
        &Layer::new().hardlink("shadow", "etc/shadow").finish(),
        "not an earlier entry",
    );
    // Through a symlinked parent.
    let layer = Layer::new()
        .symlink("etc", "/etc")
        .hardlink("pw", "etc/passwd")
        .finish();
    refused(&layer, "not an earlier entry");
}

#[test]
fn over_long_names_are_refused() {
    require_root!();
    let long = "n".repeat(300);
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    refused(
        &Layer::new()
            .header(h, &format!("dir/{long}"), b"x")
            .finish(),
        "NAME_MAX",
    );
}

#[test]
fn truncated_layers_leave_nothing() {
    require_root!();
    let full = Layer::new()
        .file("a", &[7u8; 20_000])
        .file("b", b"x")
        .finish();
    refused(&full[..6000], "truncated");
    let gz = gzip(&full);
    refused(&gz[..gz.len() / 2], "incomplete deflate stream");
}

#[test]
fn tar_bombs_are_bounded() {
    require_root!();
    let t = store();
    let limited = t.store.clone().with_limits(Limits {
        max_entries: 1000,
        max_bytes: 1 << 30,
    });
    let mut layer = Layer::new();
    for i in 0..3000 {
        layer.file(&format!("f{i}"), b"");
    }
    refused_by(&limited, &layer.finish(), "more than 1000 entries");
    let big = Layer::new().file("zeros", &vec![0u8; 2 << 20]).finish();
    let small = t.store.clone().with_limits(Limits {
        max_entries: 10,
        max_bytes: 1 << 20,
    });
    refused_by(&small, &gzip(&big), "bytes");
}

#[test]
fn hostile_layers_in_archives_are_refused_too() {
    require_root!();
    let t = store();
    let good = Layer::new().file("etc/hostname", b"ok").finish();
    let evil = Layer::new().file("../../evil", b"x").finish();
    let before = listing(t.store.root());
    let err = archive::load(
        &t.store,
        &oci_archive(&[good, evil], Some("docker.io/library/evil:1"))[..],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("'..'"), "{err}");
    assert_eq!(listing(t.store.root()), before);
}

#[test]
fn a_corrupted_blob_is_refused_and_nothing_recorded() {
    require_root!();
    let t = store();
    let layer = Layer::new().file("hello", b"hello").finish();
    let mut archive_bytes = oci_archive(&[layer], Some("docker.io/library/corrupt:1"));
    // Flip one byte inside the gzip layer blob's data (the last blob
    // written is the manifest; find the gzip magic instead).
    let pos = archive_bytes
        .windows(3)
        .position(|w| w == [0x1f, 0x8b, 0x08])
        .unwrap();
    archive_bytes[pos + 20] ^= 0xff;
    let before = listing(t.store.root());
    let err = archive::load(&t.store, &archive_bytes[..])
        .unwrap_err()
        .to_string();
    assert!(err.contains("digest mismatch"), "{err}");
    assert_eq!(listing(t.store.root()), before);
}

#[test]
fn a_wrong_diff_id_is_refused() {
    require_root!();
    let t = store();
    let layer = Layer::new().file("hello", b"hello").finish();
    let (mut blobs, _) = image_blobs(std::slice::from_ref(&layer), "amd64");
    // Rewrite the config with a diff id that does not match the layer.
    let mut config: serde_json::Value = serde_json::from_slice(&blobs[0]).unwrap();
    config["rootfs"]["diff_ids"][0] =
        serde_json::json!(berth_image::Digest::of(b"other").to_string());
    blobs[0] = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": berth_image::Digest::of(&blobs[0]).to_string(), "size": blobs[0].len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": berth_image::Digest::of(&blobs[1]).to_string(), "size": blobs[1].len()}],
    }))
    .unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": berth_image::Digest::of(&manifest).to_string(), "size": manifest.len()}]});
    blobs.push(manifest);
    let before = listing(t.store.root());
    let err = archive::load(
        &t.store,
        &layout_tar(&serde_json::to_vec(&index).unwrap(), &blobs)[..],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("diff id"), "{err}");
    assert_eq!(listing(t.store.root()), before);
}

#[test]
fn unknown_entry_types_are_named() {
    require_root!();
    refused(
        &Layer::new()
            .raw(EntryType::new(b'Z'), "weird", "", 0o644, b"")
            .finish(),
        "tar entry type",
    );
}

#[test]
fn a_known_layer_cannot_be_claimed_by_another_blob() {
    require_root!();
    let t = store();
    let layer = Layer::new().file("hello", b"hello").finish();
    archive::load(
        &t.store,
        &oci_archive(
            std::slice::from_ref(&layer),
            Some("docker.io/library/real:1"),
        )[..],
    )
    .unwrap();
    // Same config (so the layer's chain id is already unpacked), but the
    // manifest names another blob as that layer.
    let (blobs, _) = image_blobs(&[layer], "amd64");
    let other = gzip(&Layer::new().file("evil", b"evil").finish());
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": berth_image::Digest::of(&blobs[0]).to_string(), "size": blobs[0].len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": berth_image::Digest::of(&other).to_string(), "size": other.len()}],
    }))
    .unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": berth_image::Digest::of(&manifest).to_string(), "size": manifest.len(), "annotations": {"io.containerd.image.name": "docker.io/library/liar:1"}}]});
    let before = listing(t.store.root());
    let err = archive::load(
        &t.store,
        &layout_tar(
            &serde_json::to_vec(&index).unwrap(),
            &[blobs[0].clone(), other, manifest],
        )[..],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("diff id"), "{err}");
    assert_eq!(listing(t.store.root()), before);
}

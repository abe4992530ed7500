//! Loading an index picks the manifest for the host's platform.

mod common;

use berth_image::platform::Platform;
use berth_image::spec::media;
use berth_image::{archive, Digest};
use berth_testutil::require_root;
use common::*;
use serde_json::json;

fn multi_arch(arches: &[&str]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut blobs = Vec::new();
    let mut manifests = Vec::new();
    for arch in arches {
        let layer = Layer::new().file("arch", arch.as_bytes()).finish();
        let (b, m) = image_blobs(&[layer], arch);
        blobs.extend(b);
        manifests.push(json!({"mediaType": media::OCI_MANIFEST, "digest": Digest::of(&m).to_string(), "size": m.len(), "platform": {"os": "linux", "architecture": arch}}));
        blobs.push(m);
    }
    let inner = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests}),
    )
    .unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": media::OCI_INDEX, "digest": Digest::of(&inner).to_string(), "size": inner.len(), "annotations": {"io.containerd.image.name": "docker.io/library/multi:1"}}]});
    blobs.push(inner);
    (serde_json::to_vec(&index).unwrap(), blobs)
}

#[test]
fn the_host_platform_is_chosen_from_an_index() {
    require_root!();
    let t = store();
    let host = Platform::host().architecture;
    let (index, blobs) = multi_arch(&["s390x", &host, "riscv64"]);
    let loaded = archive::load(&t.store, &layout_tar(&index, &blobs)[..]).unwrap();
    assert_eq!(loaded.len(), 1);
    let (id, _) = t.store.resolve("multi:1").unwrap();
    let (config, _) = t.store.config(&id).unwrap();
    assert_eq!(config.architecture, host);
}

#[test]
fn an_index_without_the_host_platform_is_refused() {
    require_root!();
    let t = store();
    let (index, blobs) = multi_arch(&["s390x", "riscv64"]);
    let before = listing(t.store.root());
    let err = archive::load(&t.store, &layout_tar(&index, &blobs)[..])
        .unwrap_err()
        .to_string();
    assert!(err.contains("matches platform"), "{err}");
    assert_eq!(listing(t.store.root()), before);
}

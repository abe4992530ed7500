//! Garbage collection removes exactly what nothing references.

mod common;

use std::collections::BTreeSet;

use berth_image::{archive, Digest};
use berth_testutil::{require_root, unique_id};
use common::*;

fn blobs(store: &berth_image::ImageStore) -> BTreeSet<Digest> {
    store.content.list().unwrap().into_iter().collect()
}

#[test]
fn gc_removes_exactly_the_unreferenced() {
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
    let only_a = blobs(&t.store);
    archive::load(
        &t.store,
        &oci_archive(&[base, b], Some("docker.io/library/b:1"))[..],
    )
    .unwrap();
    let all = blobs(&t.store);
    let snaps_before: BTreeSet<u64> = t
        .store
        .index
        .read()
        .unwrap()
        .snapshots
        .values()
        .map(|s| s.id)
        .collect();
    assert_eq!(snaps_before.len(), 3);

    // Leftovers of crashed writers, and a stray blob nothing references.
    let stray = t.store.content.write_blob(b"stray").unwrap();
    std::fs::write(t.store.content.dir().join(".ingest-dead"), b"x").unwrap();
    std::fs::create_dir(t.store.snapshots.dir().join(".tmp-dead")).unwrap();
    std::fs::create_dir(t.store.snapshots.dir().join("999")).unwrap();

    let report = t.store.gc().unwrap();
    assert_eq!(report.blobs, vec![stray.clone()]);
    assert_eq!(report.snapshots, vec![999]);
    assert_eq!(blobs(&t.store), all);
    assert!(!t.store.content.dir().join(".ingest-dead").exists());
    assert!(!t.store.snapshots.dir().join(".tmp-dead").exists());

    // A container snapshot keeps b's layers alive after b loses its name.
    let key = unique_id("gc");
    t.store.prepare(&key, "b:1").unwrap();
    let removed = t.store.remove("b:1", true).unwrap();
    assert!(
        !removed
            .iter()
            .any(|r| matches!(r, berth_image::store::Removed::Deleted(_))),
        "{removed:?}"
    );
    // Untagged but in use: the image stays.
    assert_eq!(t.store.list().unwrap().len(), 2);
    t.store.remove_snapshot(&key).unwrap();
    let (pruned, report) = t.store.prune(false).unwrap();
    assert_eq!(pruned.len(), 1);
    // b's config, manifest and own layer go; the shared base stays.
    assert_eq!(blobs(&t.store), only_a);
    assert_eq!(report.blobs.len(), 3);
    let snaps_after: BTreeSet<u64> = t
        .store
        .index
        .read()
        .unwrap()
        .snapshots
        .values()
        .map(|s| s.id)
        .collect();
    assert_eq!(snaps_after.len(), 2);
    assert!(snaps_after.is_subset(&snaps_before));
    for id in snaps_before.difference(&snaps_after) {
        assert!(!t.store.snapshots.dir().join(id.to_string()).exists());
    }

    // Removing the last image empties the store.
    t.store.remove("a:1", false).unwrap();
    assert!(blobs(&t.store).is_empty());
    assert!(t.store.index.read().unwrap().snapshots.is_empty());
    let left: Vec<_> = std::fs::read_dir(t.store.snapshots.dir())
        .unwrap()
        .collect();
    assert!(left.is_empty());
}

//! The content store: verified writes and reads, concurrent writers.

mod common;

use std::io::Read;
use std::sync::{Arc, Barrier};

use berth_image::content::ContentStore;
use berth_image::Digest;
use berth_testutil::TempDir;

#[test]
fn writes_are_verified_and_reads_check_the_digest() {
    let dir = TempDir::new("berth-content").unwrap();
    let cs = ContentStore::open(dir.path()).unwrap();
    let d = cs.write_blob(b"hello").unwrap();
    assert_eq!(d, Digest::of(b"hello"));
    assert_eq!(cs.read(&d).unwrap(), b"hello");
    assert_eq!(cs.list().unwrap(), vec![d.clone()]);

    // An ingest told to expect another digest refuses.
    let mut ing = cs.ingest().unwrap();
    std::io::Write::write_all(&mut ing, b"world").unwrap();
    let err = ing.verify("test blob", &d, None).unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    drop(ing);
    assert_eq!(
        std::fs::read_dir(cs.dir()).unwrap().count(),
        1,
        "a dropped ingest leaves no temp file"
    );

    // A blob corrupted on disk fails when read.
    std::fs::write(cs.path(&d), b"HELLO").unwrap();
    let mut data = Vec::new();
    let err = cs.reader(&d).unwrap().read_to_end(&mut data).unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert!(cs.read(&Digest::of(b"missing")).is_err());
}

#[test]
fn concurrent_writers_of_one_blob_all_succeed() {
    let dir = TempDir::new("berth-content").unwrap();
    let cs = ContentStore::open(dir.path()).unwrap();
    let data: Arc<Vec<u8>> = Arc::new((0..1 << 20).map(|i| (i % 251) as u8).collect());
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (cs, data, barrier) = (cs.clone(), data.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut ing = cs.ingest().unwrap();
                for chunk in data.chunks(64 * 1024) {
                    std::io::Write::write_all(&mut ing, chunk).unwrap();
                }
                ing.commit().unwrap()
            })
        })
        .collect();
    let digests: Vec<Digest> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(digests.iter().all(|d| *d == Digest::of(&data)));
    assert_eq!(cs.read(&digests[0]).unwrap(), *data);
    let names: Vec<_> = std::fs::read_dir(cs.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "one blob, no temp files left: {names:?}");
}

//! dir_size counts as moby's `directory.Size`: apparent sizes of all but
//! directories, each hard-linked inode once, symlinks by their own size.

use std::fs;

use berth_testutil::TempDir;
use berth_volume::dir_size;
use berth_volume::ErrorKind;

#[test]
fn apparent_sizes_with_hard_links_once() {
    let t = TempDir::new("berth-volsize").unwrap();
    let d = t.join("_data");
    fs::create_dir_all(d.join("a/b/c")).unwrap();
    fs::create_dir(d.join("empty")).unwrap();
    fs::write(d.join("one"), vec![1u8; 1000]).unwrap();
    fs::write(d.join("a/b/c/two"), vec![2u8; 20_000]).unwrap();
    fs::hard_link(d.join("a/b/c/two"), d.join("a/two-again")).unwrap();
    fs::hard_link(d.join("a/b/c/two"), d.join("two-thrice")).unwrap();
    // 17 bytes of target: a symlink counts its own size, never the target.
    std::os::unix::fs::symlink("/usr/bin/whatever", d.join("link")).unwrap();
    std::os::unix::fs::symlink(d.join("a"), d.join("a/b/loop")).unwrap();
    let loop_len = d.join("a").as_os_str().len() as u64;
    // Sparse: 1 GiB apparent, nothing allocated; apparent size counts.
    fs::File::create(d.join("sparse"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    assert_eq!(
        dir_size(&d).unwrap(),
        1000 + 20_000 + 17 + loop_len + (1 << 30)
    );
    fs::remove_file(d.join("sparse")).unwrap();
    fs::remove_file(d.join("one")).unwrap();
    assert_eq!(dir_size(&d).unwrap(), 20_000 + 17 + loop_len);
    assert_eq!(dir_size(&d.join("empty")).unwrap(), 0);
}

#[test]
fn a_missing_directory_is_not_found() {
    let t = TempDir::new("berth-volsize").unwrap();
    let err = dir_size(&t.join("gone")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.to_string(),
        format!("failed to measure {}", t.join("gone").display())
    );
}

#[test]
fn a_deep_tree_is_measured() {
    let t = TempDir::new("berth-volsize").unwrap();
    let d = t.join("_data");
    let mut deep = d.clone();
    for _ in 0..600 {
        deep.push("d");
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("bottom"), [0u8; 321]).unwrap();
    fs::write(d.join("top"), [0u8; 5]).unwrap();
    assert_eq!(dir_size(&d).unwrap(), 326);
}

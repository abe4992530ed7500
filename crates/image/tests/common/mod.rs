//! Helpers for the image crate's tests: tar layers built entry by entry
//! (including hostile ones the tar crate's safe API refuses to write),
//! OCI archives made from layers, a store in a temp root, and a listing
//! of everything in a store to prove it unchanged.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use berth_image::spec::{media, OCI_LAYOUT};
use berth_image::{Digest, ImageStore};
use berth_testutil::TempDir;
use serde_json::json;

/// A layer tar under construction.
pub struct Layer {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Layer::new()
    }
}

impl Layer {
    pub fn new() -> Layer {
        Layer {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    /// Appends an entry with a raw name and link name, bypassing the tar
    /// crate's checks (so hostile names can be written).
    pub fn raw(
        &mut self,
        kind: tar::EntryType,
        name: &str,
        link: &str,
        mode: u32,
        data: &[u8],
    ) -> &mut Layer {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        assert!(
            name.len() < 100 && link.len() < 100,
            "raw names must fit the header"
        );
        let bytes = h.as_mut_bytes();
        bytes[..100].fill(0);
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        bytes[157..257].fill(0);
        bytes[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        self.builder.append(&h, data).unwrap();
        self
    }

    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Layer {
        self.raw(tar::EntryType::Regular, name, "", 0o644, data)
    }

    pub fn dir(&mut self, name: &str) -> &mut Layer {
        self.raw(tar::EntryType::Directory, name, "", 0o755, b"")
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Layer {
        self.raw(tar::EntryType::Symlink, name, target, 0o777, b"")
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Layer {
        self.raw(tar::EntryType::Link, name, target, 0o644, b"")
    }

    /// A full entry through the tar crate (long names, pax xattrs).
    pub fn header(&mut self, mut h: tar::Header, name: &str, data: &[u8]) -> &mut Layer {
        self.builder.append_data(&mut h, name, data).unwrap();
        self
    }

    /// A PAX header with extended attributes for the next entry.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Layer {
        self.builder
            .append_pax_extensions(records.iter().map(|(k, v)| (*k, *v)))
            .unwrap();
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.builder, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A store in its own temp root.
pub struct TestStore {
    pub dir: TempDir,
    pub store: ImageStore,
}

pub fn store() -> TestStore {
    let dir = TempDir::new("berth-image-test").unwrap();
    let store = ImageStore::open(&dir.join("root")).unwrap();
    TestStore { dir, store }
}

/// Every path under the store root (minus lock files) with what it holds:
/// a file's mode and the sha256 of its content, a symlink's target, a
/// directory's mode. Equal before and after means nothing changed, not
/// only that the same names with the same sizes are there.
pub fn listing(root: &Path) -> BTreeMap<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if p.extension().is_some_and(|x| x == "lock") {
                continue;
            }
            let mode = m.permissions().mode();
            let what = if m.is_dir() {
                format!("dir {mode:o}")
            } else if m.is_symlink() {
                format!("symlink -> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_file() {
                format!("file {mode:o} {}", sha(&std::fs::read(&p).unwrap()))
            } else {
                format!("special {mode:o}")
            };
            out.insert(p.strip_prefix(root).unwrap().to_owned(), what);
            if m.is_dir() {
                walk(&p, root, out);
            }
        }
    }
    walk(root, root, &mut out);
    out
}

fn sha(data: &[u8]) -> Digest {
    Digest::of(data)
}

/// Builds an OCI archive holding one image made of `layers` (plain tars;
/// stored gzipped), tagged `name` (a full reference) if given.
pub fn oci_archive(layers: &[Vec<u8>], name: Option<&str>) -> Vec<u8> {
    let (blobs, manifest) = image_blobs(layers, "amd64");
    let mut desc = json!({"mediaType": media::OCI_MANIFEST, "digest": sha(&manifest).to_string(), "size": manifest.len()});
    if let Some(n) = name {
        desc["annotations"] = json!({"io.containerd.image.name": n, "org.opencontainers.image.ref.name": n.rsplit(':').next().unwrap()});
    }
    let index = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": [desc]});
    let mut all = blobs;
    all.push(manifest);
    layout_tar(&serde_json::to_vec(&index).unwrap(), &all)
}

/// Config, layer blobs and the manifest of a one-platform image.
pub fn image_blobs(layers: &[Vec<u8>], arch: &str) -> (Vec<Vec<u8>>, Vec<u8>) {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(l).to_string()).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().map(|_| json!({"created_by": "test"})).collect::<Vec<_>>(),
    }))
    .unwrap();
    let gz: Vec<Vec<u8>> = layers.iter().map(|l| gzip(l)).collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": media::OCI_MANIFEST,
        "config": {"mediaType": media::OCI_CONFIG, "digest": sha(&config).to_string(), "size": config.len()},
        "layers": gz.iter().map(|g| json!({"mediaType": media::OCI_LAYER_GZIP, "digest": sha(g).to_string(), "size": g.len()})).collect::<Vec<_>>(),
    }))
    .unwrap();
    let mut blobs = vec![config];
    blobs.extend(gz);
    (blobs, manifest)
}

/// A tar of an OCI layout with `index` and `blobs` (named by digest).
pub fn layout_tar(index: &[u8], blobs: &[Vec<u8>]) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("oci-layout".into(), OCI_LAYOUT.as_bytes().to_vec()),
        ("index.json".into(), index.to_vec()),
    ];
    for b in blobs {
        files.push((format!("blobs/sha256/{}", sha(b).hex()), b.clone()));
    }
    let mut t = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        t.append_data(&mut h, name, &data[..]).unwrap();
    }
    t.into_inner().unwrap()
}

/// An overlay mounted on a temp dir, unmounted (lazily) on drop so a
/// failing test leaves no mount behind.
pub struct Mounted {
    pub target: PathBuf,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.target, nix::mount::MntFlags::MNT_DETACH);
    }
}

pub fn mount(store: &ImageStore, key: &str, image: &str, target: PathBuf) -> Mounted {
    std::fs::create_dir_all(&target).unwrap();
    store.prepare(key, image).unwrap();
    store.mount(key, &target).unwrap();
    Mounted { target }
}

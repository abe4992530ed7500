//! An image reduced to what two builders must agree on: the file tree its
//! layers make (path, type, mode, owner, symlink target, content digest;
//! not times) and the runtime part of its config. Read from an image
//! archive (a docker-archive's `manifest.json`: `berth save` writes one,
//! `buildah push IMG docker-archive:F` too), the layers applied in order
//! with their whiteouts, as a snapshotter would, but in memory.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (or a hard link to one): its size and sha256.
    File {
        size: u64,
        digest: String,
    },
    Dir,
    Symlink(String),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

/// One path of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits with setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {:04o} {}:{}",
            self.kind, self.mode, self.uid, self.gid
        )
    }
}

/// The config fields compared (Docker's names in the image config's
/// `config`), plus the history's count of layers.
pub const CONFIG_FIELDS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "User",
    "WorkingDir",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "OnBuild",
    "Shell",
];

/// Labels a builder adds about itself, left out of the comparison.
const BUILDER_LABELS: &[&str] = &["io.buildah.version"];

/// An image's file tree and config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciTree {
    /// Absolute paths (`/etc/passwd`); the root itself is not listed.
    pub files: BTreeMap<String, Node>,
    /// [`CONFIG_FIELDS`] that are set: absent, null and empty are alike.
    pub config: BTreeMap<String, Value>,
}

impl OciTree {
    /// Reads the one image of the docker-archive (or combined OCI +
    /// docker) tar `archive`, extracting it to `scratch` (a directory).
    pub fn from_archive(archive: &Path, scratch: &Path) -> OciTree {
        std::fs::create_dir_all(scratch).unwrap();
        tar::Archive::new(File::open(archive).unwrap())
            .unpack(scratch)
            .unwrap_or_else(|e| panic!("unpack {}: {e}", archive.display()));
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(scratch.join("manifest.json")).unwrap()).unwrap();
        let entry = &manifest[0];
        assert_eq!(
            manifest.as_array().map(Vec::len),
            Some(1),
            "one image per archive: {manifest}"
        );
        let config: Value = serde_json::from_slice(
            &std::fs::read(scratch.join(entry["Config"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        let mut files = BTreeMap::new();
        for layer in entry["Layers"].as_array().unwrap() {
            apply_layer(&mut files, &scratch.join(layer.as_str().unwrap()));
        }
        OciTree {
            files,
            config: compared_config(&config["config"]),
        }
    }

    /// Every difference from `other`, one line each (`-` only in self,
    /// `+` only in other, `~` changed).
    pub fn diff(&self, other: &OciTree) -> Vec<String> {
        let mut out = Vec::new();
        for (path, a) in &self.files {
            match other.files.get(path) {
                None => out.push(format!("- {path}: {a}")),
                Some(b) if a != b => out.push(format!("~ {path}: {a} != {b}")),
                Some(_) => {}
            }
        }
        for (path, b) in &other.files {
            if !self.files.contains_key(path) {
                out.push(format!("+ {path}: {b}"));
            }
        }
        for field in CONFIG_FIELDS {
            let (a, b) = (self.config.get(*field), other.config.get(*field));
            if a != b {
                out.push(format!("~ config {field}: {a:?} != {b:?}"));
            }
        }
        out
    }

    /// The node at `path`, or a panic naming it.
    pub fn get(&self, path: &str) -> &Node {
        self.files
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not in the image"))
    }

    /// Leaves out `path` and everything under it (what a test accepts as
    /// a builder's own, e.g. an empty `/run` made by a runtime).
    pub fn without(mut self, path: &str) -> OciTree {
        let prefix = format!("{path}/");
        self.files
            .retain(|p, _| p != path && !p.starts_with(&prefix));
        self
    }
}

/// The files a runtime bind-mounts over during `RUN` (`/etc/hosts`,
/// `/etc/hostname`, `/etc/resolv.conf`): buildah 1.28 leaves them in the
/// layer as empty 0755 files when the base image lacks them, and an empty
/// `/run` directory (BuildKit removes the mount points it made).
pub const RUN_MOUNTPOINTS: &[&str] = &["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run"];

impl OciTree {
    /// Leaves out the [`RUN_MOUNTPOINTS`] that are empty files or empty
    /// directories.
    pub fn without_empty_mountpoints(mut self) -> OciTree {
        let empty: Vec<String> = RUN_MOUNTPOINTS
            .iter()
            .filter(|p| match self.files.get(**p).map(|n| &n.kind) {
                Some(Kind::File { size: 0, .. }) => true,
                Some(Kind::Dir) => {
                    let prefix = format!("{p}/");
                    !self.files.keys().any(|q| q.starts_with(&prefix))
                }
                _ => false,
            })
            .map(|p| (*p).to_owned())
            .collect();
        for p in empty {
            self.files.remove(&p);
        }
        self
    }
}

/// Panics with the differences (at most 60 lines) unless `a` and `b`
/// agree; `what` names the pair in the message.
pub fn assert_same_tree(a: &OciTree, b: &OciTree, what: &str) {
    let diff = a.diff(b);
    if !diff.is_empty() {
        let shown: Vec<&str> = diff.iter().take(60).map(String::as_str).collect();
        panic!(
            "{what}: {} differences (- left only, + right only):\n{}",
            diff.len(),
            shown.join("\n")
        );
    }
}

fn compared_config(config: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for field in CONFIG_FIELDS {
        let mut v = config.get(*field).cloned().unwrap_or(Value::Null);
        if *field == "Labels" {
            if let Value::Object(map) = &mut v {
                map.retain(|k, _| !BUILDER_LABELS.contains(&k.as_str()));
            }
        }
        let empty = match &v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if !empty {
            out.insert((*field).to_owned(), v);
        }
    }
    out
}

/// `/a/b` from a tar path (`./a/b/`, `a/b`); `None` for the root.
fn clean(path: &str) -> Option<String> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    (!parts.is_empty()).then(|| format!("/{}", parts.join("/")))
}

fn remove_tree(files: &mut BTreeMap<String, Node>, path: &str, keep: &HashSet<String>) {
    let prefix = format!("{path}/");
    files.retain(|p, _| (p != path && !p.starts_with(&prefix)) || keep.contains(p));
}

/// Applies one layer tar (compressed or not) to `files`: overlay's rules
/// for `.wh.NAME` (remove NAME) and `.wh..wh..opq` (hide the directory's
/// lower content, not what this layer adds).
fn apply_layer(files: &mut BTreeMap<String, Node>, path: &Path) {
    let file = File::open(path).unwrap();
    let (_, reader) = berth_image::compression::decompress(file).unwrap();
    let mut archive = tar::Archive::new(reader);
    let mut added: HashSet<String> = HashSet::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(p) = clean(&raw) else { continue };
        let (parent, name) = p.rsplit_once('/').unwrap();
        if name == ".wh..wh..opq" {
            let dir = if parent.is_empty() { "" } else { parent };
            let prefix = format!("{dir}/");
            files.retain(|q, _| !q.starts_with(&prefix) || added.contains(q));
            continue;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            remove_tree(files, &format!("{parent}/{hidden}"), &added);
            continue;
        }
        let header = entry.header().clone();
        let mode = header.mode().unwrap() & 0o7777;
        let (uid, gid) = (header.uid().unwrap(), header.gid().unwrap());
        let kind = match header.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(
                entry
                    .link_name()
                    .unwrap()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            ),
            tar::EntryType::Link => {
                let target = clean(&entry.link_name().unwrap().unwrap().to_string_lossy())
                    .expect("hard link to the root");
                let node = files
                    .get(&target)
                    .unwrap_or_else(|| panic!("{p}: hard link to missing {target}"))
                    .clone();
                files.insert(p.clone(), node);
                added.insert(p);
                continue;
            }
            tar::EntryType::Char => Kind::Char(
                header.device_major().unwrap().unwrap_or(0),
                header.device_minor().unwrap().unwrap_or(0),
            ),
            tar::EntryType::Block => Kind::Block(
                header.device_major().unwrap().unwrap_or(0),
                header.device_minor().unwrap().unwrap_or(0),
            ),
            tar::EntryType::Fifo => Kind::Fifo,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap();
                Kind::File {
                    size: bytes.len() as u64,
                    digest: berth_testutil::sha256_digest(&bytes),
                }
            }
            other => panic!("{p}: unexpected tar entry type {other:?}"),
        };
        // A non-directory replaces a directory and what was under it.
        if kind != Kind::Dir && files.get(&p).is_some_and(|n| n.kind == Kind::Dir) {
            remove_tree(files, &p, &added);
        }
        files.insert(
            p.clone(),
            Node {
                kind,
                mode,
                uid,
                gid,
            },
        );
        added.insert(p);
    }
}

//! `load`: a docker-archive or OCI archive (plain or compressed) into the
//! store. Every file of the archive is first staged as a temp blob (hashed
//! on the way), then the metadata is read, blobs are checked against the
//! digests that name them, layers are unpacked into staging directories,
//! and only then is anything committed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use crate::compression::{decompress, Compression};
use crate::content::{ContentStore, Ingest};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::spec::{
    media, Descriptor, DockerArchiveEntry, Document, ImageConfig, Index, Manifest,
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME,
};
use crate::store::{ImageStore, StagedLayer, Staging};
use crate::{Digest, Error, Result};

/// Most files an archive may hold (bounds a hostile archive).
const MAX_FILES: usize = 100_000;

/// An image `load` recorded.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: Digest,
    pub tags: Vec<Reference>,
}

/// The archive's files: staged blobs by path, and links between paths.
struct Files {
    blobs: BTreeMap<String, Ingest>,
    links: BTreeMap<String, String>,
}

impl Files {
    fn read(content: &ContentStore, reader: impl Read) -> Result<Files> {
        let bad = |why: String| Error::invalid("archive", why);
        let (_, plain) = decompress(reader).map_err(|e| bad(format!("cannot read: {e}")))?;
        let mut archive = tar::Archive::new(plain);
        let mut files = Files {
            blobs: BTreeMap::new(),
            links: BTreeMap::new(),
        };
        files.stage_all(content, &mut archive, bad)?;
        Ok(files)
    }

    /// The staged blob at `path`, following archive-internal links.
    fn get(&mut self, path: &str) -> Result<&mut Ingest> {
        let mut p = normalize(path)
            .ok_or_else(|| Error::invalid("archive", format!("bad path {path:?}")))?;
        for _ in 0..16 {
            match self.links.get(&p) {
                Some(t) => p = t.clone(),
                None => break,
            }
        }
        self.blobs
            .get_mut(&p)
            .ok_or_else(|| Error::invalid("archive", format!("{path} is missing")))
    }

    fn read_small(&mut self, path: &str) -> Result<Vec<u8>> {
        let ingest = self.get(path)?;
        let (_, size) = ingest
            .finished()
            .expect("staged archive files are finished");
        if size > 64 << 20 {
            return Err(Error::invalid(
                "archive",
                format!("{path} is too large for metadata"),
            ));
        }
        std::fs::read(ingest.path()).map_err(|e| Error::io("read", ingest.path(), e))
    }

    /// The blob at `path`, checked against `desc`.
    fn verified(&mut self, path: &str, desc: &Descriptor) -> Result<&mut Ingest> {
        let ingest = self.get(path)?;
        ingest.verify(path, &desc.digest, Some(desc.size))?;
        Ok(ingest)
    }
}

impl Files {
    /// Stages every regular file as a blob and records links.
    fn stage_all<R: Read>(
        &mut self,
        content: &ContentStore,
        archive: &mut tar::Archive<R>,
        bad: impl Fn(String) -> Error,
    ) -> Result<()> {
        let files = self;
        for entry in archive
            .entries()
            .map_err(|e| bad(format!("not a tar: {e}")))?
        {
            let mut entry = entry.map_err(|e| bad(format!("broken tar: {e}")))?;
            if files.blobs.len() + files.links.len() > MAX_FILES {
                return Err(bad(format!("more than {MAX_FILES} files")));
            }
            let kind = entry.header().entry_type();
            if kind.is_dir() || kind.is_pax_global_extensions() {
                continue;
            }
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Some(path) = normalize(&raw) else {
                return Err(bad(format!("bad path {raw:?}")));
            };
            if kind.is_symlink() || kind.is_hard_link() {
                let target = String::from_utf8_lossy(&entry.link_name_bytes().unwrap_or_default())
                    .into_owned();
                // Symlinks are relative to their directory, hard links to the root.
                let joined = if kind.is_symlink() && !target.starts_with('/') {
                    match path.rsplit_once('/') {
                        Some((dir, _)) => format!("{dir}/{target}"),
                        None => target.clone(),
                    }
                } else {
                    target.clone()
                };
                let Some(t) = normalize(&joined) else {
                    return Err(bad(format!("bad link {raw:?} -> {target:?}")));
                };
                files.links.insert(path, t);
            } else if kind.is_file() {
                let mut ingest = content.ingest()?;
                let expected = entry.size();
                let n = std::io::copy(&mut entry, &mut ingest)
                    .map_err(|e| bad(format!("cannot read {path}: {e}")))?;
                if n != expected {
                    return Err(bad(format!("{path} is truncated")));
                }
                ingest.finish()?;
                files.blobs.insert(path, ingest);
            }
        }
        Ok(())
    }
}

/// Resolves `.`/`..` inside the archive; `None` if it climbs out.
fn normalize(p: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    (!out.is_empty()).then(|| out.join("/"))
}

/// One image found in the archive, ready to commit.
struct Found {
    manifest: Descriptor,
    id: Digest,
    config: ImageConfig,
    tags: Vec<Reference>,
    /// Archive paths of the blobs to keep.
    keep: Vec<String>,
    /// Manifest JSON written by the loader (docker-archive).
    new_manifest: Option<Vec<u8>>,
    layer_paths: Vec<String>,
}

/// Loads every image in the archive `reader`.
pub fn load(store: &ImageStore, reader: impl Read) -> Result<Vec<Loaded>> {
    let _w = store.writer_lock()?;
    let mut files = Files::read(&store.content, reader)?;
    let found = if files.get("manifest.json").is_ok() {
        docker_images(&mut files)?
    } else if files.get("index.json").is_ok() {
        oci_images(&mut files)?
    } else {
        return Err(Error::invalid(
            "archive",
            "neither manifest.json (docker-archive) nor index.json (OCI layout) found",
        ));
    };
    if found.is_empty() {
        return Err(Error::invalid("archive", "holds no image"));
    }
    // Unpack every new layer before committing anything.
    let mut staged: Vec<Vec<StagedLayer>> = Vec::new();
    let mut seen = BTreeSet::new();
    for img in &found {
        let mut layers = Vec::new();
        let mut parent: Option<Digest> = None;
        for (i, (path, diff_id)) in img
            .layer_paths
            .iter()
            .zip(&img.config.rootfs.diff_ids)
            .enumerate()
        {
            let chain = Digest::chain(parent.as_ref(), diff_id);
            if seen.insert(chain.clone()) {
                let ingest = files.get(path)?;
                let file = std::fs::File::open(ingest.path())
                    .map_err(|e| Error::io("open", ingest.path(), e))?;
                layers.extend(store.stage_layer(
                    file,
                    diff_id,
                    parent.as_ref(),
                    &format!("layer {} ({path})", i + 1),
                )?);
            }
            parent = Some(chain);
        }
        staged.push(layers);
    }
    let mut out = Vec::new();
    let mut committed = BTreeSet::new();
    for (img, layers) in found.into_iter().zip(staged) {
        let mut staging = Staging {
            blobs: Vec::new(),
            layers,
        };
        for path in &img.keep {
            let key = normalize(path).unwrap_or_default();
            let key = files.links.get(&key).cloned().unwrap_or(key);
            if committed.insert(key.clone()) {
                if let Some(b) = files.blobs.remove(&key) {
                    staging.blobs.push(b);
                }
            }
        }
        if let Some(raw) = &img.new_manifest {
            crate::import::stage_json(store, &mut staging, media::OCI_MANIFEST, raw)?;
        }
        let id = store.commit_image(staging, img.manifest, img.id, &img.config, &img.tags)?;
        out.push(Loaded { id, tags: img.tags });
    }
    Ok(out)
}

fn docker_images(files: &mut Files) -> Result<Vec<Found>> {
    let raw = files.read_small("manifest.json")?;
    let entries: Vec<DockerArchiveEntry> =
        serde_json::from_slice(&raw).map_err(|e| Error::json("manifest.json", e))?;
    let mut out = Vec::new();
    for e in entries {
        let config_raw = files.read_small(&e.config)?;
        let config = ImageConfig::parse(&config_raw)?;
        let (id, config_size) = files.get(&e.config)?.finished().expect("finished");
        if config.rootfs.diff_ids.len() != e.layers.len() {
            return Err(Error::invalid(
                "manifest.json",
                format!(
                    "{} lists {} layers, its config {}",
                    e.config,
                    e.layers.len(),
                    config.rootfs.diff_ids.len()
                ),
            ));
        }
        let mut layers = Vec::new();
        for path in &e.layers {
            let ingest = files.get(path)?;
            let (digest, size) = ingest.finished().expect("finished");
            let mut head = [0u8; 4];
            let n = std::fs::File::open(ingest.path())
                .and_then(|mut f| f.read(&mut head))
                .unwrap_or(0);
            layers.push(Descriptor::new(
                Compression::detect(&head[..n]).oci_layer_type(),
                digest,
                size,
            ));
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            config: Descriptor::new(media::OCI_CONFIG, id.clone(), config_size),
            layers,
            annotations: Default::default(),
            extra: Default::default(),
        };
        let manifest_raw = serde_json::to_vec(&manifest).map_err(|e| Error::json("manifest", e))?;
        let tags = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<Result<Vec<_>>>()?;
        let mut keep = vec![e.config.clone()];
        keep.extend(e.layers.iter().cloned());
        out.push(Found {
            manifest: Descriptor::new(
                media::OCI_MANIFEST,
                Digest::of(&manifest_raw),
                manifest_raw.len() as u64,
            ),
            id,
            config,
            tags,
            keep,
            new_manifest: Some(manifest_raw),
            layer_paths: e.layers,
        });
    }
    Ok(out)
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn oci_images(files: &mut Files) -> Result<Vec<Found>> {
    let raw = files.read_small("index.json")?;
    let index: Index = serde_json::from_slice(&raw).map_err(|e| Error::json("index.json", e))?;
    let host = Platform::host();
    let mut out = Vec::new();
    for desc in index.manifests {
        let tags = tags_of(&desc)?;
        let mut desc = desc;
        let mut keep = Vec::new();
        // Descend through nested indexes to the host's manifest.
        let manifest = loop {
            let path = blob_path(&desc.digest);
            files.verified(&path, &desc)?;
            let raw = files.read_small(&path)?;
            match Document::parse(&path, &raw)? {
                Document::Manifest(m) => {
                    keep.push(path);
                    break m;
                }
                Document::Index(i) => {
                    desc = i
                        .manifests
                        .into_iter()
                        .find(|d| d.platform.as_ref().is_some_and(|p| p.satisfies(&host)))
                        .ok_or_else(|| Error::NoMatchingPlatform(path.clone(), host.to_string()))?;
                }
            }
        };
        let config_path = blob_path(&manifest.config.digest);
        files.verified(&config_path, &manifest.config)?;
        let config = ImageConfig::parse(&files.read_small(&config_path)?)?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(Error::invalid(
                format!("manifest {}", desc.digest),
                "layer count differs from its config's diff ids",
            ));
        }
        keep.push(config_path);
        let mut layer_paths = Vec::new();
        for layer in &manifest.layers {
            if !media::is_layer(&layer.media_type) {
                return Err(Error::Unsupported {
                    what: "layer media type",
                    value: layer.media_type.clone(),
                });
            }
            let p = blob_path(&layer.digest);
            files.verified(&p, layer)?;
            keep.push(p.clone());
            layer_paths.push(p);
        }
        out.push(Found {
            manifest: Descriptor::new(
                manifest
                    .media_type
                    .as_deref()
                    .unwrap_or(media::OCI_MANIFEST),
                desc.digest.clone(),
                desc.size,
            ),
            id: manifest.config.digest.clone(),
            config,
            tags,
            keep,
            new_manifest: None,
            layer_paths,
        });
    }
    Ok(out)
}

/// The name an OCI index entry carries: containerd's full name, or a
/// `ref.name` that is a whole reference (`name:tag`). A bare tag names no
/// repository, so the image loads untagged.
fn tags_of(desc: &Descriptor) -> Result<Vec<Reference>> {
    if let Some(full) = desc.annotations.get(ANNOTATION_IMAGE_NAME) {
        return Ok(vec![Reference::parse(full)?]);
    }
    match desc.annotations.get(ANNOTATION_REF_NAME) {
        Some(r) if r.contains([':', '/']) => Ok(vec![Reference::parse(r)?]),
        _ => Ok(Vec::new()),
    }
}

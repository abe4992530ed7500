//! `pull`: reference → manifest (an index or manifest list resolved to one
//! platform) → config → layers fetched concurrently into the content
//! store → unpacked into snapshots → the image recorded under its tag.
//!
//! Verified layer blobs are committed to the content store as they
//! arrive, so a pull that fails or is killed leaves them for the next one
//! (and a partial blob resumes, see `download`); the image itself, its
//! manifest and config are recorded only once every layer is unpacked.
//! The writer lock keeps GC from removing those blobs meanwhile.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use super::client::{Client, Payload, RegistryOptions};
use super::download::fetch_blob;
use super::progress::{Event, Progress};
use super::{parallel, split_name, MANIFEST_ACCEPT, MAX_CONFIG, MAX_MANIFEST};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::spec::{media, Descriptor, Document, ImageConfig, Manifest};
use crate::store::{ImageStore, Staging};
use crate::{Digest, Error, Result};

#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to pick from an index; the host's when `None`.
    pub platform: Option<Platform>,
    /// Layers downloaded at once (Docker's default is 3).
    pub concurrency: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            concurrency: 3,
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub id: Digest,
    /// The digest the reference resolved to (an index's, for a
    /// multi-platform image): Docker's `Digest:` line.
    pub digest: Digest,
    /// False when the image was already recorded under this name.
    pub downloaded: bool,
    /// The layers of the manifest, bottom first.
    pub layers: Vec<Descriptor>,
}

/// Pulls `reference` into `store`.
pub fn pull(
    store: &ImageStore,
    reference: &Reference,
    registry: &RegistryOptions,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Pulled> {
    let (domain, repo) = split_name(reference);
    let client = Client::connect(domain, registry, vec![format!("repository:{repo}:pull")])?;
    let by = reference
        .digest
        .as_ref()
        .map(|d| d.to_string())
        .or_else(|| reference.tag.clone())
        .expect("a parsed reference has a tag or a digest");
    let (raw, top_digest) =
        fetch_manifest(&client, repo, &by, reference.digest.as_ref()).map_err(|e| match e {
            Error::ManifestNotFound(_) => Error::ManifestNotFound(reference.familiar()),
            e => e,
        })?;
    let wanted = opts.platform.clone().unwrap_or_else(Platform::host);
    let (manifest, manifest_raw, manifest_digest) = match Document::parse("manifest", &raw)? {
        Document::Manifest(m) => (m, raw, top_digest.clone()),
        Document::Index(index) => {
            let desc = index
                .manifests
                .iter()
                .find(|d| {
                    media::is_manifest(&d.media_type)
                        && d.platform.as_ref().is_some_and(|p| p.satisfies(&wanted))
                })
                .ok_or_else(|| {
                    Error::NoMatchingPlatform(reference.familiar(), wanted.to_string())
                })?;
            let (raw, digest) =
                fetch_manifest(&client, repo, desc.digest.as_str(), Some(&desc.digest))?;
            match Document::parse("manifest", &raw)? {
                Document::Manifest(m) => (m, raw, digest),
                Document::Index(_) => {
                    return Err(Error::Unsupported {
                        what: "nested index in",
                        value: reference.familiar(),
                    })
                }
            }
        }
    };
    check_layers(&manifest, reference)?;
    let config_raw = fetch_small(&client, repo, &manifest.config, MAX_CONFIG)?;
    let config = ImageConfig::parse(&config_raw)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(Error::invalid(
            format!("manifest {manifest_digest}"),
            "layer count differs from its config's diff ids",
        ));
    }
    if let Some(p) = &opts.platform {
        let have = Platform {
            os: config.os.clone(),
            architecture: config.architecture.clone(),
            variant: config.variant.clone(),
            os_version: None,
        };
        if !have.satisfies(p) {
            return Err(Error::NoMatchingPlatform(
                reference.familiar(),
                p.to_string(),
            ));
        }
    }
    let id = manifest.config.digest.clone();
    let manifest_desc = Descriptor::new(
        manifest
            .media_type
            .as_deref()
            .unwrap_or(media::OCI_MANIFEST),
        manifest_digest.clone(),
        manifest_raw.len() as u64,
    );
    let tags: Vec<Reference> = reference.tag.iter().map(|_| reference.clone()).collect();
    let pulled = |downloaded| Pulled {
        id: id.clone(),
        digest: top_digest.clone(),
        downloaded,
        layers: manifest.layers.clone(),
    };
    if up_to_date(store, &id, &manifest_digest, &tags)? {
        return Ok(pulled(false));
    }

    let _writer = store.writer_lock()?;
    for layer in &manifest.layers {
        // Layers already stored are reported by `fetch_blob` as existing.
        if !store.content.contains(&layer.digest) {
            progress.event(&layer.digest, Event::Waiting { total: layer.size });
        }
    }
    let mut staging = fetch_and_unpack(store, &client, repo, &manifest, &config, opts, progress)?;
    stage(store, &mut staging, &manifest_raw, &manifest_digest)?;
    stage(store, &mut staging, &config_raw, &id)?;
    store.commit_image(staging, manifest_desc, id.clone(), &config, &tags)?;
    Ok(pulled(true))
}

/// Downloads the layers concurrently and unpacks each, bottom first, as
/// soon as it and the ones below it are stored, so unpacking overlaps the
/// downloads still running.
fn fetch_and_unpack(
    store: &ImageStore,
    client: &Client,
    repo: &str,
    manifest: &Manifest,
    config: &ImageConfig,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Staging> {
    let layers = &manifest.layers;
    let (tx, rx) = mpsc::channel::<(usize, Result<()>)>();
    let cancel = AtomicBool::new(false);
    std::thread::scope(|s| {
        let cancel = &cancel;
        s.spawn(move || {
            // Errors travel through the channel; the unpacking side stops
            // the rest with `cancel`.
            let _ = parallel(layers, opts.concurrency, |i, layer| {
                if cancel.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let r = fetch_blob(client, repo, layer, &store.content, progress);
                let _ = tx.send((i, r));
                Ok(())
            });
        });
        let result = (|| {
            let mut fetched = vec![false; layers.len()];
            let mut staging = Staging::default();
            let mut parent: Option<Digest> = None;
            for (i, (layer, diff_id)) in layers.iter().zip(&config.rootfs.diff_ids).enumerate() {
                while !fetched[i] {
                    match rx.recv() {
                        Ok((j, Ok(()))) => fetched[j] = true,
                        Ok((_, Err(e))) => return Err(e),
                        Err(_) => unreachable!("every layer reports before the sender is dropped"),
                    }
                }
                // A plain read: the unpacker checks the diff id, which no
                // altered blob can pass, and the download was just hashed.
                let path = store.content.path(&layer.digest);
                let blob = std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
                staging.layers.extend(store.stage_layer(
                    blob,
                    diff_id,
                    parent.as_ref(),
                    &format!("layer {} ({})", i + 1, layer.digest),
                )?);
                parent = Some(Digest::chain(parent.as_ref(), diff_id));
                progress.event(&layer.digest, Event::Extracted);
            }
            Ok(staging)
        })();
        if result.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        result
    })
}

/// The image is recorded from this manifest and every tag points at it.
fn up_to_date(
    store: &ImageStore,
    id: &Digest,
    manifest: &Digest,
    tags: &[Reference],
) -> Result<bool> {
    let state = store.index.read()?;
    Ok(state
        .images
        .get(id)
        .is_some_and(|r| &r.manifest.digest == manifest)
        && tags
            .iter()
            .all(|t| state.tags.get(&t.to_string()) == Some(id)))
}

fn check_layers(manifest: &Manifest, reference: &Reference) -> Result<()> {
    for layer in &manifest.layers {
        if !media::is_layer(&layer.media_type) {
            return Err(Error::Unsupported {
                what: "layer media type",
                value: format!("{} in {}", layer.media_type, reference.familiar()),
            });
        }
        if layer.media_type == media::DOCKER_FOREIGN_LAYER
            || layer.media_type.contains("nondistributable")
        {
            return Err(Error::Unsupported {
                what: "foreign (non-distributable) layer",
                value: layer.digest.to_string(),
            });
        }
    }
    Ok(())
}

/// `GET /v2/<repo>/manifests/<tag or digest>`: the bytes and their
/// digest, checked against the digest asked for and against the
/// registry's `Docker-Content-Digest`.
fn fetch_manifest(
    client: &Client,
    repo: &str,
    by: &str,
    expected: Option<&Digest>,
) -> Result<(Vec<u8>, Digest)> {
    let url = client.url(&format!("{repo}/manifests/{by}"));
    let mut resp = client.send(
        "GET",
        &url,
        &[("Accept", MANIFEST_ACCEPT.to_owned())],
        Payload::None,
    )?;
    match resp.status().as_u16() {
        200 => {}
        404 => return Err(Error::ManifestNotFound(format!("{repo}:{by}"))),
        _ => return Err(client.error(resp, "fetch a manifest")),
    }
    let header = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Digest::parse(v).ok());
    let raw = read_limited(&mut resp, &url, MAX_MANIFEST)?;
    let actual = Digest::of(&raw);
    for (want, source) in [
        (expected, "the reference"),
        (header.as_ref(), "Docker-Content-Digest"),
    ] {
        if let Some(want) = want {
            if want != &actual {
                return Err(Error::DigestMismatch {
                    what: format!("manifest {repo}:{by} (as named by {source})"),
                    expected: want.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
    }
    Ok((raw, actual))
}

/// A small blob (a config), read into memory and verified.
fn fetch_small(client: &Client, repo: &str, desc: &Descriptor, limit: u64) -> Result<Vec<u8>> {
    if desc.size > limit {
        return Err(Error::invalid(
            format!("blob {}", desc.digest),
            format!("{} bytes is more than the {limit} allowed", desc.size),
        ));
    }
    let url = client.url(&format!("{repo}/blobs/{}", desc.digest));
    let mut resp = client.send("GET", &url, &[], Payload::None)?;
    if !resp.status().is_success() {
        return Err(client.error(resp, "fetch a blob"));
    }
    let raw = read_limited(&mut resp, &url, limit)?;
    let actual = Digest::of(&raw);
    if actual != desc.digest {
        return Err(Error::DigestMismatch {
            what: format!("blob {}", desc.digest),
            expected: desc.digest.to_string(),
            actual: actual.to_string(),
        });
    }
    if raw.len() as u64 != desc.size {
        return Err(Error::SizeMismatch {
            what: format!("blob {}", desc.digest),
            expected: desc.size,
            actual: raw.len() as u64,
        });
    }
    Ok(raw)
}

fn read_limited(
    resp: &mut ureq::http::Response<ureq::Body>,
    url: &str,
    limit: u64,
) -> Result<Vec<u8>> {
    let mut raw = Vec::new();
    resp.body_mut()
        .with_config()
        .limit(u64::MAX)
        .reader()
        .take(limit + 1)
        .read_to_end(&mut raw)
        .map_err(|e| Error::io("read", url.to_owned(), e))?;
    if raw.len() as u64 > limit {
        return Err(Error::invalid(
            url.to_owned(),
            format!("more than {limit} bytes"),
        ));
    }
    Ok(raw)
}

/// Adds verified bytes as a staged blob.
fn stage(store: &ImageStore, staging: &mut Staging, data: &[u8], digest: &Digest) -> Result<()> {
    let mut ingest = store.content.ingest()?;
    std::io::Write::write_all(&mut ingest, data)
        .map_err(|e| Error::io("write", ingest.path(), e))?;
    ingest.verify(&format!("blob {digest}"), digest, Some(data.len() as u64))?;
    staging.blobs.push(ingest);
    Ok(())
}

//! `push`: a local image's blobs (layers, then config), then its manifest
//! under the tag.
//!
//! For each blob: `HEAD` says whether the repository has it already; if
//! another repository of the same registry is known to have it (a local
//! tag of that registry whose image contains the blob), a cross-repository
//! mount (`POST .../blobs/uploads/?mount=D&from=R`) is tried, which needs
//! no upload; otherwise `POST` starts an upload and one `PUT ?digest=D`
//! sends the whole blob. A failed upload is retried from a new `POST`.
//! The manifest is sent as stored, byte for byte, so its digest is kept.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};

use super::client::{backoff, Client, Payload, RegistryOptions};
use super::progress::{Event, Progress};
use super::{parallel, split_name};
use crate::reference::Reference;
use crate::spec::Descriptor;
use crate::store::ImageStore;
use crate::{Digest, Error, Result};

/// What a push did: Docker's `TAG: digest: D size: N` line.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub tag: String,
    pub digest: Digest,
    pub size: u64,
    /// Layers and config, in the order they were pushed.
    pub blobs: Vec<Descriptor>,
}

/// Pushes the local image `reference` names to that reference.
pub fn push(
    store: &ImageStore,
    reference: &Reference,
    registry: &RegistryOptions,
    concurrency: usize,
    progress: &dyn Progress,
) -> Result<Pushed> {
    let tag = reference.tag.clone().ok_or_else(|| {
        Error::InvalidReference(format!("{}: push needs a tag", reference.familiar()))
    })?;
    let (id, record) = store.resolve(&reference.to_string())?;
    let (manifest, raw) = store.manifest(&record)?;
    let (domain, repo) = split_name(reference);
    let sources = mount_sources(store, domain, repo)?;
    let mut scopes = vec![format!("repository:{repo}:pull,push")];
    let mut from: Vec<&String> = sources.values().collect();
    from.sort();
    from.dedup();
    scopes.extend(from.iter().map(|r| format!("repository:{r}:pull")));
    let client = Client::connect(domain, registry, scopes)?;

    let mut blobs = manifest.layers.clone();
    blobs.push(manifest.config.clone());
    debug_assert_eq!(manifest.config.digest, id);
    for b in &blobs {
        progress.event(&b.digest, Event::Waiting { total: b.size });
    }
    parallel(&blobs, concurrency, |_, desc| {
        push_blob(
            &client,
            store,
            repo,
            desc,
            sources.get(&desc.digest),
            progress,
        )
    })?;

    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| record.manifest.media_type.clone());
    let url = client.url(&format!("{repo}/manifests/{tag}"));
    let resp = client.send(
        "PUT",
        &url,
        &[("Content-Type", media_type)],
        Payload::Bytes(&raw),
    )?;
    if resp.status().as_u16() != 201 && !resp.status().is_success() {
        return Err(client.error(resp, "push the manifest"));
    }
    let digest = Digest::of(&raw);
    if let Some(said) = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
    {
        if said != digest.as_str() {
            return Err(Error::DigestMismatch {
                what: format!(
                    "manifest of {} as the registry stored it",
                    reference.familiar()
                ),
                expected: digest.to_string(),
                actual: said.to_owned(),
            });
        }
    }
    Ok(Pushed {
        tag,
        digest,
        size: raw.len() as u64,
        blobs,
    })
}

/// For each blob, a repository of the same registry that holds it, as far
/// as the local tags tell.
fn mount_sources(store: &ImageStore, domain: &str, repo: &str) -> Result<BTreeMap<Digest, String>> {
    let state = store.index.read()?;
    let mut out = BTreeMap::new();
    for (tag, id) in &state.tags {
        let Ok(r) = Reference::parse(tag) else {
            continue;
        };
        let (d, other) = split_name(&r);
        if d != domain || other == repo {
            continue;
        }
        let Some(rec) = state.images.get(id) else {
            continue;
        };
        let Ok((m, _)) = store.manifest(rec) else {
            continue;
        };
        for desc in m.layers.iter().chain([&m.config]) {
            out.entry(desc.digest.clone())
                .or_insert_with(|| other.to_owned());
        }
    }
    Ok(out)
}

fn push_blob(
    client: &Client,
    store: &ImageStore,
    repo: &str,
    desc: &Descriptor,
    mount_from: Option<&String>,
    progress: &dyn Progress,
) -> Result<()> {
    let digest = &desc.digest;
    let head = client.send(
        "HEAD",
        &client.url(&format!("{repo}/blobs/{digest}")),
        &[],
        Payload::None,
    )?;
    match head.status().as_u16() {
        200 => {
            progress.event(digest, Event::Exists);
            return Ok(());
        }
        404 => {}
        _ => return Err(client.error(head, "check a blob")),
    }
    let mut tries = 0;
    loop {
        let location = match start_upload(client, repo, digest, mount_from)? {
            Upload::Mounted(from) => {
                progress.event(digest, Event::Mounted { from });
                return Ok(());
            }
            Upload::At(location) => location,
        };
        match upload(client, store, &location, desc, progress) {
            Ok(()) => {
                progress.event(digest, Event::Pushed);
                return Ok(());
            }
            Err((e, true)) if tries < client.retries() => {
                tracing::debug!(%digest, error = %e, "upload failed, retrying");
                std::thread::sleep(backoff(tries));
                tries += 1;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

enum Upload {
    Mounted(String),
    At(String),
}

/// `POST /v2/<repo>/blobs/uploads/`, with a mount request when a source
/// repository is known: 201 means mounted, 202 gives an upload URL.
fn start_upload(
    client: &Client,
    repo: &str,
    digest: &Digest,
    mount_from: Option<&String>,
) -> Result<Upload> {
    let mut url = client.url(&format!("{repo}/blobs/uploads/"));
    if let Some(from) = mount_from {
        url.push_str(&format!("?mount={digest}&from={from}"));
    }
    let resp = client.send(
        "POST",
        &url,
        &[("Content-Length", "0".into())],
        Payload::None,
    )?;
    match resp.status().as_u16() {
        201 if mount_from.is_some() => Ok(Upload::Mounted(mount_from.cloned().unwrap_or_default())),
        202 => {
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::Registry {
                    registry: client.host.clone(),
                    action: "start an upload".into(),
                    reason: "202 without a Location".into(),
                })?;
            Ok(Upload::At(client.absolute(location)))
        }
        _ => Err(client.error(resp, "start an upload")),
    }
}

/// One monolithic `PUT <location>?digest=D`. The error says whether
/// another try may help.
fn upload(
    client: &Client,
    store: &ImageStore,
    location: &str,
    desc: &Descriptor,
    progress: &dyn Progress,
) -> std::result::Result<(), (Error, bool)> {
    let sep = if location.contains('?') { '&' } else { '?' };
    let url = format!("{location}{sep}digest={}", desc.digest);
    let path = store.content.path(&desc.digest);
    let file = File::open(&path).map_err(|e| (Error::io("open", &path, e), false))?;
    let mut body = Counting {
        inner: BufReader::with_capacity(256 * 1024, file),
        done: 0,
        reported: 0,
        desc,
        progress,
    };
    let headers = [
        ("Content-Type", "application/octet-stream".to_owned()),
        ("Content-Length", desc.size.to_string()),
    ];
    let resp = client
        .send_stream("PUT", &url, &headers, &mut body)
        .map_err(|e| (e, true))?;
    match resp.status().as_u16() {
        201 | 204 => Ok(()),
        s => {
            let transient = matches!(s, 408 | 429 | 500 | 502 | 503 | 504);
            Err((client.error(resp, "upload a blob"), transient))
        }
    }
}

/// Reports upload progress as the HTTP client reads the file.
struct Counting<'a, R> {
    inner: R,
    done: u64,
    reported: u64,
    desc: &'a Descriptor,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.done - self.reported >= 512 * 1024 || (n == 0 && self.done > self.reported) {
            self.reported = self.done;
            self.progress.event(
                &self.desc.digest,
                Event::Bytes {
                    done: self.done,
                    total: self.desc.size,
                },
            );
        }
        Ok(n)
    }
}

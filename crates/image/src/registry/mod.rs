//! The registry client: Docker Registry HTTP API v2 / OCI distribution.
//!
//! - [`client`]: one registry host: scheme (HTTPS, or HTTP when TLS
//!   verification is off), authentication (anonymous, Basic, Bearer
//!   tokens from the challenge's realm), requests with retries.
//! - [`auth`]: `WWW-Authenticate` challenges and the credentials file.
//! - [`download`]: one blob into the content store, resumable (Range
//!   requests on a partial file named by the digest), verified.
//! - [`pull`], [`push`], [`login`]: the operations the CLI calls.
//! - [`progress`]: the events a pull or push reports.
//!
//! Everything that arrives is checked against its digest before it is
//! stored; manifests are checked against the digest the reference or the
//! index named, and against `Docker-Content-Digest` when the registry
//! sends one.

pub mod auth;
pub mod client;
mod download;
pub mod progress;
pub mod pull;
pub mod push;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub use auth::{AuthFile, Credentials};
pub use client::RegistryOptions;
pub use progress::{Direction, Event, Progress, Quiet};
pub use pull::{pull, PullOptions, Pulled};
pub use push::{push, Pushed};

use crate::reference::Reference;
use crate::{Error, Result};

/// Media types a pull accepts, best first.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// Manifests and configs larger than this are refused (Docker's limit
/// for manifests is 4 MiB).
pub(crate) const MAX_MANIFEST: u64 = 4 << 20;
pub(crate) const MAX_CONFIG: u64 = 16 << 20;

/// `127.0.0.1:5000` and `a/b` for `127.0.0.1:5000/a/b`.
pub(crate) fn split_name(r: &Reference) -> (&str, &str) {
    r.name
        .split_once('/')
        .expect("a normalized name has a domain")
}

/// Checks credentials against a registry (a token from its realm, or a
/// Basic-authenticated `GET /v2/`) and stores them.
pub fn login(domain: &str, opts: &RegistryOptions, creds: Credentials) -> Result<()> {
    check_login(domain, opts, creds.clone())?;
    opts.auth.store(domain, &creds)
}

/// Checks `creds` with the registry `domain` without storing them (the
/// API's `/auth`: the client keeps its credentials).
pub fn check_login(domain: &str, opts: &RegistryOptions, creds: Credentials) -> Result<()> {
    let client = client::Client::connect_with(domain, opts, Vec::new(), Some(creds))?;
    let url = client.url("");
    let resp = client.send("GET", &url, &[], client::Payload::None)?;
    if !resp.status().is_success() {
        return Err(client.error(resp, "log in"));
    }
    Ok(())
}

/// Runs `work` over `items` on up to `workers` threads; the first error
/// stops the others from starting new items and is returned.
pub(crate) fn parallel<T: Sync>(
    items: &[T],
    workers: usize,
    work: impl Fn(usize, &T) -> Result<()> + Sync,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                if failed.lock().expect("not poisoned").is_some() {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { return };
                if let Err(e) = work(i, item) {
                    failed.lock().expect("not poisoned").get_or_insert(e);
                    return;
                }
            });
        }
    });
    match failed.into_inner().expect("not poisoned") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

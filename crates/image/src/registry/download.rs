//! One blob from a registry into the content store, resumable.
//!
//! The bytes go to `content/sha256/.download-<hex>`, locked with `flock`
//! so two pulls of the same blob take turns. When that file already holds
//! a prefix (a pull was interrupted, or a connection broke), the request
//! asks for the rest with `Range: bytes=N-`; a registry that answers 200
//! instead of 206 sends everything again and the file starts over. The
//! bytes are hashed as they are written (a kept prefix is hashed first);
//! a blob whose digest or size is wrong is deleted and never stored.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest as _, Sha256};

use super::client::{backoff, transient_error, Client, Payload};
use super::progress::{Event, Progress};
use crate::content::ContentStore;
use crate::spec::Descriptor;
use crate::{Digest, Error, Result};

/// The sha256 of the first `len` bytes of the download file.
struct Hashed {
    hasher: Sha256,
    len: u64,
}

impl Hashed {
    fn new() -> Hashed {
        Hashed {
            hasher: Sha256::new(),
            len: 0,
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
        self.len += data.len() as u64;
    }

    /// Hashes the first `len` bytes of `file` (a kept prefix).
    fn of_prefix(file: &mut File, len: u64) -> io::Result<Hashed> {
        let mut h = Hashed::new();
        file.seek(SeekFrom::Start(0))?;
        let mut r = io::BufReader::with_capacity(256 * 1024, (&*file).take(len));
        loop {
            let buf = io::BufRead::fill_buf(&mut r)?;
            if buf.is_empty() {
                break;
            }
            let n = buf.len();
            h.update(buf);
            io::BufRead::consume(&mut r, n);
        }
        Ok(h)
    }
}

/// Fetches `desc` from `repo` unless the store has it already.
pub(crate) fn fetch_blob(
    client: &Client,
    repo: &str,
    desc: &Descriptor,
    content: &ContentStore,
    progress: &dyn Progress,
) -> Result<()> {
    let digest = &desc.digest;
    if content.contains(digest) {
        progress.event(digest, Event::Exists);
        return Ok(());
    }
    let path = content.download_path(digest);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    let mut file = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::io("lock", &path, e.into()))?;
    if content.contains(digest) {
        // Another pull finished it while we waited for the lock.
        let _ = std::fs::remove_file(&path);
        progress.event(digest, Event::Exists);
        return Ok(());
    }
    let url = client.url(&format!("{repo}/blobs/{digest}"));
    // What an earlier pull left may be damaged (a crash before its data
    // reached the disk): if the result does not verify, start over once.
    let kept = file.metadata().map(|m| m.len() > 0).unwrap_or(false);
    for fresh in [false, true] {
        if fresh && !kept {
            break;
        }
        if fresh {
            tracing::debug!(%digest, "a resumed download did not verify; starting over");
            file.set_len(0)
                .map_err(|e| Error::io("truncate", &path, e))?;
        }
        let actual = fill(client, &url, desc, &mut file, &path, progress)?;
        if &actual == digest {
            drop(file);
            content.commit_download(&path, digest)?;
            progress.event(digest, Event::Downloaded);
            return Ok(());
        }
        if fresh || !kept {
            let _ = std::fs::remove_file(&path);
            return Err(Error::DigestMismatch {
                what: format!("blob {digest}"),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
    }
    unreachable!("the second pass returns")
}

/// Completes the download file to the blob's size (resuming, retrying)
/// and returns the digest of its bytes.
fn fill(
    client: &Client,
    url: &str,
    desc: &Descriptor,
    file: &mut File,
    path: &std::path::Path,
    progress: &dyn Progress,
) -> Result<Digest> {
    let mut hashed = Hashed::new();
    let mut tries = 0;
    loop {
        let have = file
            .metadata()
            .map_err(|e| Error::io("stat", path, e))?
            .len();
        if have > desc.size {
            file.set_len(0)
                .map_err(|e| Error::io("truncate", path, e))?;
            continue;
        }
        if have == desc.size {
            break;
        }
        if have > 0 {
            progress.event(&desc.digest, Event::Resuming { from: have });
        }
        match fetch_rest(client, url, desc, file, &mut hashed, progress) {
            Ok(()) => {}
            Err(Interrupted::Transient(e)) if tries < client.retries() => {
                tracing::debug!(%url, error = %e, "download interrupted, resuming");
                std::thread::sleep(backoff(tries));
                tries += 1;
            }
            Err(Interrupted::Transient(e) | Interrupted::Fatal(e)) => return Err(e),
        }
    }
    if hashed.len != desc.size {
        // Complete from an earlier pull that died before the rename.
        hashed = Hashed::of_prefix(file, desc.size).map_err(|e| Error::io("read", path, e))?;
    }
    Ok(Digest::from_hasher(hashed.hasher))
}

enum Interrupted {
    /// Worth another try from where the file ends now.
    Transient(Error),
    Fatal(Error),
}

/// One request for the bytes after `have`, appended to `file`.
fn fetch_rest(
    client: &Client,
    url: &str,
    desc: &Descriptor,
    file: &mut File,
    hashed: &mut Hashed,
    progress: &dyn Progress,
) -> std::result::Result<(), Interrupted> {
    let have = file
        .metadata()
        .map_err(|e| Interrupted::Fatal(Error::io("stat", url.to_owned(), e)))?
        .len();
    let io_err = |action, e| Interrupted::Fatal(Error::io(action, url.to_owned(), e));
    let mut headers = Vec::new();
    if have > 0 {
        headers.push(("Range", format!("bytes={have}-")));
    }
    let mut resp = client
        .send("GET", url, &headers, Payload::None)
        .map_err(Interrupted::Fatal)?;
    let start = match resp.status().as_u16() {
        200 => 0,
        206 if content_range_start(&resp) == Some(have) => have,
        206 => 0, // a range we did not ask for: start over
        416 => {
            file.set_len(0).map_err(|e| io_err("truncate", e))?;
            return Err(Interrupted::Transient(Error::Registry {
                registry: client.host.clone(),
                action: format!("fetch {}", desc.digest),
                reason: "range not satisfiable".into(),
            }));
        }
        404 => {
            return Err(Interrupted::Fatal(Error::Registry {
                registry: client.host.clone(),
                action: format!("fetch {}", desc.digest),
                reason: "blob unknown".into(),
            }))
        }
        _ => return Err(Interrupted::Fatal(client.error(resp, "fetch a blob"))),
    };
    if start == 0 && resp.status().as_u16() == 206 {
        file.set_len(0).map_err(|e| io_err("truncate", e))?;
        return Err(Interrupted::Transient(Error::Registry {
            registry: client.host.clone(),
            action: format!("fetch {}", desc.digest),
            reason: "answered a range that was not asked for".into(),
        }));
    }
    file.set_len(start).map_err(|e| io_err("truncate", e))?;
    if hashed.len != start {
        *hashed = Hashed::of_prefix(file, start).map_err(|e| io_err("read", e))?;
    }
    file.seek(SeekFrom::Start(start))
        .map_err(|e| io_err("seek", e))?;
    // One byte more than the blob may have, to notice a registry that
    // sends too much.
    let mut body = resp
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .reader()
        .take(desc.size - start + 1);
    let mut done = start;
    let mut buf = vec![0u8; 256 * 1024];
    let mut reported = start;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = file.flush();
                let transient = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<ureq::Error>())
                    .is_none_or(transient_error);
                let err = Error::Registry {
                    registry: client.host.clone(),
                    action: format!("fetch {}", desc.digest),
                    reason: format!("connection closed after {done} of {} bytes: {e}", desc.size),
                };
                return Err(if transient {
                    Interrupted::Transient(err)
                } else {
                    Interrupted::Fatal(err)
                });
            }
        };
        file.write_all(&buf[..n])
            .map_err(|e| io_err("write download of", e))?;
        hashed.update(&buf[..n]);
        done += n as u64;
        if done - reported >= 512 * 1024 || done >= desc.size {
            progress.event(
                &desc.digest,
                Event::Bytes {
                    done: done.min(desc.size),
                    total: desc.size,
                },
            );
            reported = done;
        }
    }
    if done > desc.size {
        file.set_len(0).map_err(|e| io_err("truncate", e))?;
        return Err(Interrupted::Fatal(Error::SizeMismatch {
            what: format!("blob {}", desc.digest),
            expected: desc.size,
            actual: done,
        }));
    }
    if done < desc.size {
        return Err(Interrupted::Transient(Error::Registry {
            registry: client.host.clone(),
            action: format!("fetch {}", desc.digest),
            reason: format!("connection closed after {done} of {} bytes", desc.size),
        }));
    }
    Ok(())
}

/// The first byte of a `Content-Range: bytes A-B/N` answer.
fn content_range_start(resp: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    let v = resp.headers().get("content-range")?.to_str().ok()?;
    let range = v.strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}

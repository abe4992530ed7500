//! A container's files: `HEAD`/`GET`/`PUT /containers/{id}/archive`
//! (`docker cp`) and `GET /containers/{id}/export`, over the engine's
//! `Rootfs` (`berth cp`'s and `berth export`'s: paths resolved inside the
//! root, nothing followed out of it, tars written and unpacked by the
//! engine).
//!
//! Opening a stopped container's root mounts it in a mount namespace of
//! the calling thread's own (`Engine::rootfs`), so each of these runs on a
//! thread of its own that ends with the request: the server's pooled
//! threads never enter such a namespace, and the mount goes with the
//! thread.

use std::io::{self, Read, Write};

use base64::Engine as _;
use berth_engine::fs::{PathStat, Rootfs};
use berth_engine::Engine;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::reply::{self, ApiError, ApiResult};
use crate::router::Query;
use crate::server::Server;

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// Runs `f` with an engine on a new thread (see the module's comment).
fn on_own_thread<T: Send + 'static>(
    server: &Server,
    f: impl FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
) -> oneshot::Receiver<Result<T, ApiError>> {
    let root = server.root.clone();
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let result = Engine::open(&root)
            .map_err(ApiError::from)
            .and_then(|e| f(&e));
        let _ = tx.send(result);
    });
    rx
}

async fn answer<T>(rx: oneshot::Receiver<Result<T, ApiError>>) -> Result<T, ApiError> {
    rx.await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the file thread failed"))?
}

fn path_param(q: &Query) -> Result<String, ApiError> {
    let p = q
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("path cannot be empty"))?;
    Ok(if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/{p}")
    })
}

fn not_found(path: &str, container: &str) -> ApiError {
    ApiError::not_found(format!(
        "Could not find the file {path} in container {container}"
    ))
}

/// The last component of a path (`/` for the root).
fn base_name(path: &str) -> String {
    let t = path.trim_end_matches('/');
    match t.rsplit_once('/') {
        Some((_, b)) if !b.is_empty() => b.to_owned(),
        None if !t.is_empty() => t.to_owned(),
        _ => "/".to_owned(),
    }
}

/// Go's `os.FileMode` bits from `st_mode` (what the docker CLI reads).
fn go_file_mode(mode: u32) -> u32 {
    let mut m = mode & 0o777;
    match mode & libc::S_IFMT {
        libc::S_IFDIR => m |= 1 << 31,
        libc::S_IFLNK => m |= 1 << 27,
        libc::S_IFBLK => m |= 1 << 26,
        libc::S_IFCHR => m |= 1 << 26 | 1 << 21,
        libc::S_IFIFO => m |= 1 << 25,
        libc::S_IFSOCK => m |= 1 << 24,
        _ => {}
    }
    if mode & libc::S_ISUID != 0 {
        m |= 1 << 23;
    }
    if mode & libc::S_ISGID != 0 {
        m |= 1 << 22;
    }
    if mode & libc::S_ISVTX != 0 {
        m |= 1 << 20;
    }
    m
}

/// The stat header's value: base64 of `{name,size,mode,mtime,linkTarget}`.
fn stat_header(path: &str, st: &PathStat) -> String {
    let v = json!({
        "name": base_name(path),
        "size": st.size,
        "mode": go_file_mode(st.mode),
        "mtime": berth_engine::image::time::format_rfc3339(st.mtime, st.mtime_nsec),
        "linkTarget": st.link_target.clone().unwrap_or_default(),
    });
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

/// What a path names: a file of the container's root, or the bundle's
/// file the container sees there through a bind mount (`/etc/hosts`).
enum Source {
    Root(Rootfs),
    Bundle(std::path::PathBuf),
}

/// The container's root with its volumes, and the stat of `path` in it
/// (through a final symlink not followed, as `berth cp`).
fn open_and_stat(e: &Engine, key: &str, path: &str) -> Result<(Rootfs, PathStat), ApiError> {
    let c = e.find(key)?;
    let rootfs = e.rootfs_with_volumes(&c)?;
    let st = rootfs.stat(path)?.ok_or_else(|| not_found(path, key))?;
    Ok((rootfs, st))
}

/// [`open_and_stat`] for reading: a bind-mounted bundle file is read from
/// the bundle (what the container sees), as `berth cp` reads it.
fn source_and_stat(e: &Engine, key: &str, path: &str) -> Result<(Source, PathStat), ApiError> {
    let (rootfs, st) = open_and_stat(e, key, path)?;
    if st.link_target.is_none() {
        let c = e.find(key)?;
        let bundle_file = rootfs
            .resolve(path)
            .ok()
            .and_then(|p| e.bind_mounted(&c, &p));
        if let Some(file) = bundle_file {
            let st = berth_engine::fs::stat_file(&file)?;
            return Ok((Source::Bundle(file), st));
        }
    }
    Ok((Source::Root(rootfs), st))
}

/// `HEAD /containers/{id}/archive?path=`: the stat header only.
pub async fn head(server: &Server, id: &str, q: &Query) -> ApiResult {
    let path = path_param(q)?;
    let (key, p) = (id.to_owned(), path.clone());
    let (_, st) = answer(on_own_thread(server, move |e| source_and_stat(e, &key, &p))).await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(STAT_HEADER, stat_header(&path, &st))
        .body(reply::empty())
        .expect("response"))
}

/// A `Write` into a streamed body, one chunk per write (wrapped in a
/// `BufWriter`); a failed send (the client went away) is an error that
/// stops the writer.
struct ChannelWriter(mpsc::Sender<Bytes>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `GET /containers/{id}/archive?path=`: the stat header and a tar of the
/// path (its top entry named as the path's last component, `.` for
/// `DIR/.`).
pub async fn get(server: &Server, id: &str, q: &Query) -> ApiResult {
    let path = path_param(q)?;
    let (r, tx) = reply::stream(StatusCode::OK, "application/x-tar");
    let (stat_tx, stat_rx) = oneshot::channel::<Result<PathStat, ApiError>>();
    let (key, p) = (id.to_owned(), path.clone());
    // The result channel is unused: the thread reports through `stat_tx`
    // and the body.
    drop(on_own_thread(server, move |e| {
        let (source, st) = match source_and_stat(e, &key, &p) {
            Ok(v) => v,
            Err(err) => {
                let _ = stat_tx.send(Err(err));
                return Ok(());
            }
        };
        let _ = stat_tx.send(Ok(st));
        let name = if p.ends_with("/.") {
            ".".to_owned()
        } else {
            base_name(&p)
        };
        let mut out = io::BufWriter::with_capacity(64 << 10, ChannelWriter(tx));
        let written = match source {
            Source::Root(rootfs) => rootfs.archive(&p, &name, &mut out),
            Source::Bundle(file) => berth_engine::fs::archive_file(&file, &name, &mut out),
        };
        // An error now can only cut the stream short, as with dockerd.
        if let Err(err) = written.map_err(ApiError::from) {
            tracing::debug!("archive of {p}: {}", err.message);
        }
        let _ = out.flush();
        Ok(())
    }));
    let st = answer(stat_rx).await?;
    let mut r = r;
    r.headers_mut().insert(
        STAT_HEADER,
        stat_header(&path, &st).parse().expect("base64 header"),
    );
    Ok(r)
}

/// A `Read` over a request body fed from the connection's task.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    buf: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.buf = b,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// `PUT /containers/{id}/archive?path=DIR&copyUIDGID=&noOverwriteDirNonDir=`:
/// the tar body unpacked into the directory `DIR` by the engine's safe
/// unpacker, owned by the container's root unless `copyUIDGID` (dockerd's
/// rule; berth has no user namespace, so its root is 0:0).
pub async fn put(server: &Server, req: Request<Incoming>, id: &str, q: &Query) -> ApiResult {
    let path = path_param(q)?;
    let options = berth_engine::fs::ExtractOptions {
        owner: (!q.bool("copyUIDGID")).then_some((0, 0)),
        keep_kinds: q.bool("noOverwriteDirNonDir"),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let key = id.to_owned();
    let done = on_own_thread(server, move |e| {
        let (rootfs, st) = open_and_stat(e, &key, &path)?;
        let is_dir = st.mode & libc::S_IFMT == libc::S_IFDIR
            || (st.link_target.is_some()
                && rootfs
                    .stat(&format!("{}/.", path.trim_end_matches('/')))?
                    .is_some_and(|s| s.mode & libc::S_IFMT == libc::S_IFDIR));
        if !is_dir {
            return Err(ApiError::bad_request("extraction point is not a directory"));
        }
        let input = ChannelReader {
            rx,
            buf: Bytes::new(),
        };
        rootfs.extract_with(&path, input, &options)?;
        Ok(())
    });
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::bad_request(format!("failed to read the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if tx.send(data).await.is_err() {
                // The extraction ended early: its answer says why.
                break;
            }
        }
    }
    drop(tx);
    answer(done).await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .body(reply::empty())
        .expect("response"))
}

/// `GET /containers/{id}/export`: the whole root filesystem as a tar.
pub async fn export(server: &Server, id: &str) -> ApiResult {
    let (r, tx) = reply::stream(StatusCode::OK, "application/x-tar");
    let (ready_tx, ready_rx) = oneshot::channel::<Result<(), ApiError>>();
    let key = id.to_owned();
    drop(on_own_thread(server, move |e| {
        let opened = e
            .find(&key)
            .and_then(|c| e.rootfs(&c))
            .map_err(ApiError::from);
        let rootfs = match opened {
            Ok(r) => r,
            Err(err) => {
                let _ = ready_tx.send(Err(err));
                return Ok(());
            }
        };
        let _ = ready_tx.send(Ok(()));
        let mut out = io::BufWriter::with_capacity(64 << 10, ChannelWriter(tx));
        if let Err(err) = rootfs.export(&mut out).map_err(ApiError::from) {
            tracing::debug!("export of {key}: {}", err.message);
        }
        let _ = out.flush();
        Ok(())
    }));
    answer(ready_rx).await?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_file_modes() {
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            (1 << 26) | (1 << 21) | 0o666
        );
        assert_eq!(
            go_file_mode(libc::S_IFREG | libc::S_ISUID | 0o755),
            (1 << 23) | 0o755
        );
    }

    #[test]
    fn base_names() {
        assert_eq!(base_name("/a/b"), "b");
        assert_eq!(base_name("/a/b/"), "b");
        assert_eq!(base_name("/"), "/");
    }
}

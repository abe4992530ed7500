//! The accept loop and what every request shares: the berth root, the
//! runtime for new containers, and attach connections waiting for their
//! container to start. Engine calls run on blocking threads, each with
//! an `Engine` of its own (a database connection is not shared between
//! threads), so requests run concurrently.

use std::collections::HashMap;
use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_engine::Engine;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::oneshot;

use crate::listen::{Listen, ServeOptions};
use crate::reply::{self, ApiError};
use crate::{router, Error};

pub struct Server {
    pub root: PathBuf,
    pub runtime: PathBuf,
    /// Attach connections made before their container started (`docker
    /// run` attaches, then starts): `start` hands each the container's
    /// attach stream.
    pub pending_attaches: Mutex<HashMap<String, Vec<oneshot::Sender<StdUnixStream>>>>,
    /// `docker exec`s, by exec id (in memory, as dockerd keeps them).
    pub execs: crate::exec::Execs,
}

impl Server {
    /// Runs `f` with an engine of its own on a blocking thread.
    pub async fn engine<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Engine) -> Result<T, ApiError> + Send + 'static,
    {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut e = Engine::open(&root)?;
            f(&mut e)
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    }
}

/// Serves the API on every listener until the process is stopped.
pub fn serve(opts: ServeOptions) -> Result<(), Error> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |source| Error::Io { what, source }
    };
    // Opening the engine once up front: a bad root fails here, and the
    // reconcile runs before the first client.
    Engine::open(&opts.root).map_err(|e| Error::Listen(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io("start the server's threads"))?;
    let server = Arc::new(Server {
        root: opts.root.clone(),
        runtime: opts.runtime.clone(),
        pending_attaches: Mutex::new(HashMap::new()),
        execs: Mutex::new(HashMap::new()),
    });
    runtime.block_on(async move {
        let mut tasks = Vec::new();
        for l in &opts.listen {
            match l {
                Listen::Unix(path) => {
                    let listener = bind_unix(path, opts.group.as_deref())?;
                    tracing::info!(path = %path.display(), "listening");
                    let s = server.clone();
                    tasks.push(tokio::spawn(async move {
                        loop {
                            if let Ok((conn, _)) = listener.accept().await {
                                spawn_connection(s.clone(), conn);
                            }
                        }
                    }));
                }
                Listen::Tcp(addr) => {
                    let listener = TcpListener::bind(addr)
                        .await
                        .map_err(io(&format!("listen on {addr}")))?;
                    tracing::info!(%addr, "listening");
                    let s = server.clone();
                    tasks.push(tokio::spawn(async move {
                        loop {
                            if let Ok((conn, _)) = listener.accept().await {
                                spawn_connection(s.clone(), conn);
                            }
                        }
                    }));
                }
            }
        }
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    })
}

fn spawn_connection<S>(server: Arc<Server>, conn: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let service = service_fn(move |req: Request<Incoming>| {
            let server = server.clone();
            async move { Ok::<_, Infallible>(router::route(server, req).await) }
        });
        if let Err(e) = http1::Builder::new()
            .serve_connection(TokioIo::new(conn), service)
            .with_upgrades()
            .await
        {
            tracing::debug!("connection: {e}");
        }
    });
}

/// The socket at `path`: a stale one (nobody listening) is replaced, a
/// live one refused; mode 0660, group `group` when given (root's
/// otherwise), in a directory made 0755.
fn bind_unix(path: &Path, group: Option<&str>) -> Result<UnixListener, Error> {
    let io = |what: String| move |source| Error::Io { what, source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
    }
    if path.exists() {
        if StdUnixStream::connect(path).is_ok() {
            return Err(Error::Listen(format!(
                "{} is in use: another server is listening on it",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(io(format!("remove the stale {}", path.display())))?;
    }
    let listener = UnixListener::bind(path).map_err(io(format!("listen on {}", path.display())))?;
    let gid = match group {
        Some(g) => Some(
            nix::unistd::Group::from_name(g)
                .ok()
                .flatten()
                .ok_or_else(|| Error::Listen(format!("--group {g}: no such group")))?
                .gid,
        ),
        None => None,
    };
    if gid.is_some() {
        nix::unistd::chown(path, None, gid)
            .map_err(|e| io(format!("chown {}", path.display()))(e.into()))?;
    }
    let mode = if gid.is_some() { 0o660 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io(format!("chmod {}", path.display())))?;
    Ok(listener)
}

/// The reply to a request that failed before a handler answered.
pub fn failed(e: &ApiError) -> reply::Reply {
    reply::with_headers(reply::error(e))
}

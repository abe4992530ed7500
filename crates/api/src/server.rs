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
use tokio_rustls::TlsAcceptor;

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
    /// Engines not in use: a request takes one (its database connection
    /// and page cache kept warm) or opens a new one, and gives it back.
    pub idle: Arc<Mutex<Vec<Engine>>>,
    /// `--experimental` (the checkpoint endpoints; `Docker-Experimental`).
    pub experimental: bool,
}

/// Engines kept for reuse; more requests than this at once open their own.
const IDLE_ENGINES: usize = 16;

impl Server {
    /// Runs `f` with an engine of its own on a blocking thread. A reused
    /// engine is reconciled first, as `Engine::open` does for a new one
    /// (and every `berth` command does), so a dead monitor's container is
    /// seen as exited by the next request.
    pub async fn engine<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Engine) -> Result<T, ApiError> + Send + 'static,
    {
        let root = self.root.clone();
        let idle = self.idle.clone();
        tokio::task::spawn_blocking(move || {
            let reused = idle.lock().expect("engine pool").pop();
            let mut e = match reused {
                Some(mut e) => {
                    e.reconcile()?;
                    e
                }
                None => Engine::open(&root)?,
            };
            let result = f(&mut e);
            let mut pool = idle.lock().expect("engine pool");
            if pool.len() < IDLE_ENGINES {
                pool.push(e);
            }
            result
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    }
}

/// A listener ready to accept, whatever made it.
enum Bound {
    Unix(UnixListener),
    Tcp(TcpListener, Option<TlsAcceptor>),
}

/// Serves the API on every listener until the process is stopped.
pub fn serve(opts: ServeOptions) -> Result<(), Error> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |source| Error::Io { what, source }
    };
    opts.check()?;
    // Taken before any thread starts (they edit the environment).
    let mut passed = if opts.listen.iter().any(|l| matches!(l, Listen::Fd(_))) {
        berth_sys::take_listen_fds().map_err(io("take the sockets systemd passed"))?
    } else {
        Vec::new()
    };
    let tls = opts.tls.as_ref().map(crate::tls::acceptor).transpose()?;
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
        idle: Arc::new(Mutex::new(Vec::new())),
        experimental: opts.experimental,
    });
    runtime.block_on(async move {
        let mut bound = Vec::new();
        for l in &opts.listen {
            match l {
                Listen::Unix(path) => {
                    bound.push(Bound::Unix(bind_unix(path, opts.group.as_deref())?));
                    tracing::info!(path = %path.display(), "listening");
                }
                Listen::Tcp(addr) => {
                    let listener = TcpListener::bind(addr)
                        .await
                        .map_err(io(&format!("listen on {addr}")))?;
                    tracing::info!(%addr, tls = tls.is_some(), "listening");
                    bound.push(Bound::Tcp(listener, tls.clone()));
                }
                Listen::Fd(which) => {
                    let fds = take_passed(&mut passed, *which)?;
                    for fd in fds {
                        bound.push(from_passed(fd, opts.tls.as_ref(), tls.as_ref())?);
                    }
                }
            }
        }
        let mut tasks = Vec::new();
        for b in bound {
            let s = server.clone();
            tasks.push(tokio::spawn(async move {
                match b {
                    Bound::Unix(listener) => loop {
                        if let Ok((conn, _)) = listener.accept().await {
                            spawn_connection(s.clone(), conn);
                        }
                    },
                    Bound::Tcp(listener, tls) => loop {
                        let Ok((conn, _)) = listener.accept().await else {
                            continue;
                        };
                        match tls.clone() {
                            None => spawn_connection(s.clone(), conn),
                            // The handshake runs in the connection's task,
                            // so a slow client cannot hold the accept loop.
                            Some(acceptor) => {
                                let s = s.clone();
                                tokio::spawn(async move {
                                    match acceptor.accept(conn).await {
                                        Ok(stream) => spawn_connection(s, stream),
                                        Err(e) => tracing::debug!("TLS handshake: {e}"),
                                    }
                                });
                            }
                        }
                    },
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    })
}

/// `fd://` takes every passed socket not taken yet, `fd://N` that one.
fn take_passed(
    passed: &mut Vec<std::os::fd::OwnedFd>,
    which: Option<i32>,
) -> Result<Vec<std::os::fd::OwnedFd>, Error> {
    use std::os::fd::AsRawFd;
    match which {
        None if passed.is_empty() => Err(Error::Listen(
            "-H fd://: no sockets were passed (LISTEN_FDS is not set for this process)".into(),
        )),
        None => Ok(std::mem::take(passed)),
        Some(n) => match passed.iter().position(|f| f.as_raw_fd() == n) {
            Some(i) => Ok(vec![passed.remove(i)]),
            None => Err(Error::Listen(format!(
                "-H fd://{n}: no such socket was passed (LISTEN_FDS)"
            ))),
        },
    }
}

/// A passed socket as a listener: unix or TCP by its address family; a
/// TCP one off loopback gets the same check as `-H tcp://`.
fn from_passed(
    fd: std::os::fd::OwnedFd,
    tls_options: Option<&crate::listen::TlsOptions>,
    tls: Option<&TlsAcceptor>,
) -> Result<Bound, Error> {
    use nix::sys::socket::{getsockname, AddressFamily, SockaddrLike, SockaddrStorage};
    use std::os::fd::AsRawFd;
    let io = |what: String| move |source| Error::Io { what, source };
    let raw = fd.as_raw_fd();
    let addr: SockaddrStorage = getsockname(raw)
        .map_err(|e| io(format!("read the address of passed socket {raw}"))(e.into()))?;
    match addr.family() {
        Some(AddressFamily::Unix) => {
            let l = std::os::unix::net::UnixListener::from(fd);
            l.set_nonblocking(true)
                .map_err(io(format!("use passed socket {raw}")))?;
            tracing::info!(fd = raw, "listening (unix, passed)");
            Ok(Bound::Unix(
                UnixListener::from_std(l).map_err(io(format!("use passed socket {raw}")))?,
            ))
        }
        Some(AddressFamily::Inet) | Some(AddressFamily::Inet6) => {
            let l = std::net::TcpListener::from(fd);
            let local = l
                .local_addr()
                .map_err(io(format!("read the address of passed socket {raw}")))?;
            crate::listen::check_tcp(&local, tls_options)?;
            l.set_nonblocking(true)
                .map_err(io(format!("use passed socket {raw}")))?;
            tracing::info!(fd = raw, addr = %local, "listening (tcp, passed)");
            Ok(Bound::Tcp(
                TcpListener::from_std(l).map_err(io(format!("use passed socket {raw}")))?,
                tls.cloned(),
            ))
        }
        other => Err(Error::Listen(format!(
            "passed socket {raw} is neither a unix nor a TCP socket ({other:?})"
        ))),
    }
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
pub fn failed(server: &Server, e: &ApiError) -> reply::Reply {
    reply::with_headers(reply::error(e), server.experimental)
}

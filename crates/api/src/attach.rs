//! `POST /containers/{id}/attach`: the connection is hijacked (`101`,
//! `Upgrade: tcp`) and then carries the container's output in Docker's
//! multiplexed stream format (an 8-byte header per chunk: stream, three
//! zero bytes, big-endian length), or raw for a TTY container, and the
//! client's input to the container's stdin. It ends when the container
//! exits. For a container not running (`docker run` and `docker start
//! -a` attach first), the connection waits for `start` to hand it the
//! container's attach stream (the monitor's `attach.sock`, see
//! berth-engine's `attach.rs`).

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use berth_engine::attach::{self, Frame};
use berth_engine::State;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::reply::{self, ApiError, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// One chunk of Docker's multiplexed stream: `stream` 0 stdin, 1 stdout,
/// 2 stderr.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

pub async fn attach(server: Arc<Server>, req: Request<Incoming>, id: &str, q: &Query) -> ApiResult {
    let key = id.to_owned();
    let c = server.engine(move |e| Ok(e.find(&key)?)).await?;
    let want_stdin = q.bool("stdin");
    let want_stdout = q.bool("stdout");
    let want_stderr = q.bool("stderr");
    let tty = c.config.stdio.tty;
    let stdin_once = c.config.stdio.stdin_once;
    let running = matches!(c.state, State::Running | State::Starting);
    // `logs=1`: what the log holds so far goes first (before the live
    // stream is connected, so a line may be missed, never doubled).
    let logs = q.bool("logs");
    let replay = if logs {
        let c = c.clone();
        server
            .engine(move |e| Ok(log_replay(e, &c, want_stdout, want_stderr)))
            .await?
    } else {
        Vec::new()
    };
    let live = q.bool("stream");
    // Where the container's attach stream comes from (none when only the
    // log is asked for, or the log of a container that is not running).
    let ended = !running && c.state != State::Created;
    let stream_source: Option<oneshot::Receiver<UnixStream>> = if !live || (logs && ended) {
        None
    } else if running {
        let id = c.id.clone();
        let (tx, rx) = oneshot::channel();
        let stream = server
            .engine(move |e| Ok(attach::connect(e.bundle(&id).dir(), attach::SOCKET)?))
            .await?;
        let _ = tx.send(stream);
        Some(rx)
    } else if matches!(c.state, State::Created | State::Exited) {
        // Waits for the next start, as dockerd's attach does (`docker
        // start -a` attaches to the exited container, then starts it).
        let (tx, rx) = oneshot::channel();
        server
            .pending_attaches
            .lock()
            .expect("attach table")
            .entry(c.id.clone())
            .or_default()
            .push(tx);
        Some(rx)
    } else {
        // Restarting: dockerd's words.
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "container {} is restarting, wait until the container is running",
                c.name
            ),
        ));
    };
    tokio::spawn(async move {
        let upgraded = match hyper::upgrade::on(req).await {
            Ok(u) => TokioIo::new(u),
            Err(e) => {
                tracing::debug!("attach upgrade: {e}");
                return;
            }
        };
        let mut upgraded = upgraded;
        for chunk in &replay {
            if upgraded.write_all(chunk).await.is_err() {
                return;
            }
        }
        let Some(source) = stream_source else {
            let _ = upgraded.shutdown().await;
            return;
        };
        let Ok(stream) = source.await else {
            return;
        };
        relay(
            upgraded,
            stream,
            want_stdin,
            want_stdout,
            want_stderr,
            tty,
            stdin_once,
        )
        .await;
    });
    reply::upgraded()
}

/// The container's log so far as attach output: framed, or raw for a
/// TTY; nothing when its log driver keeps no log.
fn log_replay(
    e: &berth_engine::Engine,
    c: &berth_engine::Container,
    stdout: bool,
    stderr: bool,
) -> Vec<Bytes> {
    let opts = berth_engine::ops::log_stream::LogsOptions {
        since: None,
        until: None,
        tail: None,
        follow: false,
    };
    let Ok(entries) = e.logs(c, &opts) else {
        return Vec::new();
    };
    let tty = c.config.stdio.tty;
    entries
        .flatten()
        .filter_map(|entry| {
            let is_err = entry.stream == "stderr";
            if (is_err && !stderr) || (!is_err && !stdout) {
                return None;
            }
            Some(Bytes::from(if tty {
                entry.text
            } else {
                frame(if is_err { 2 } else { 1 }, &entry.text)
            }))
        })
        .collect()
}

/// Carries frames between the hijacked connection and the container's
/// attach stream until the container's output ends.
async fn relay<C>(
    conn: C,
    stream: UnixStream,
    want_stdin: bool,
    want_stdout: bool,
    want_stderr: bool,
    tty: bool,
    stdin_once: bool,
) where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(conn);
    // Output: frames read on a blocking thread.
    let (tx, mut rx) = mpsc::channel::<Bytes>(64);
    let Ok(mut reader) = stream.try_clone() else {
        return;
    };
    std::thread::spawn(move || {
        while let Ok(Some(f)) = Frame::read_from(&mut reader) {
            let chunk = match f {
                Frame::Stdout(b) if want_stdout => {
                    if tty {
                        b
                    } else {
                        frame(1, &b)
                    }
                }
                Frame::Stderr(b) if want_stderr => {
                    if tty {
                        b
                    } else {
                        frame(2, &b)
                    }
                }
                Frame::Exit(_) => break,
                _ => continue,
            };
            if tx.blocking_send(Bytes::from(chunk)).is_err() {
                break;
            }
        }
    });
    // Input: the client's bytes to the container's stdin. The client's
    // end of input never ends the output (the docker CLI half-closes at
    // once when it sends nothing).
    let mut writer = stream;
    let input = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    if want_stdin && stdin_once {
                        let _ = Frame::CloseStdin.write_to(&mut writer);
                    }
                    return;
                }
                Ok(n) if want_stdin => {
                    let frame = Frame::Stdin(buf[..n].to_vec());
                    if writer.write_all(&frame.encode()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
            }
        }
    });
    while let Some(chunk) = rx.recv().await {
        if wr.write_all(&chunk).await.is_err() || wr.flush().await.is_err() {
            break;
        }
    }
    let _ = wr.shutdown().await;
    input.abort();
}

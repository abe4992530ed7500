//! `docker exec`: `POST /containers/{id}/exec` records what to run (in
//! the server's memory, as dockerd keeps execs), `POST /exec/{id}/start`
//! runs it through the engine's exec (the runtime's `exec` with the
//! container's process settings) on a hijacked connection, `GET
//! /exec/{id}/json` reports it, `POST /exec/{id}/resize` resizes its
//! terminal.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use berth_engine::exec::ExecOptions;
use berth_engine::ops::exec_session::TerminalExec;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::attach::frame;
use crate::containers::json_body;
use crate::reply::{self, strings, ApiError, ApiResult};
use crate::server::Server;

/// One exec, as `/exec/{id}/json` shows it.
#[derive(Debug, Clone)]
pub struct ExecRecord {
    pub container: String,
    pub options: ExecOptions,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: i32,
    /// The terminal, while a TTY exec runs (for resize).
    pub terminal: Option<berth_engine::ops::exec_session::TerminalHandle>,
}

pub type Execs = Mutex<HashMap<String, ExecRecord>>;

/// `POST /containers/{id}/exec` → 201 `{"Id"}`.
pub async fn create(server: &Server, req: Request<Incoming>, id: &str) -> ApiResult {
    let body = json_body(req).await?;
    let args = strings(&body["Cmd"]);
    if args.is_empty() {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    let key = id.to_owned();
    let c = server.engine(move |e| Ok(e.find(&key)?)).await?;
    if c.state != berth_engine::State::Running {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("Container {} is not running", c.id),
        ));
    }
    let text = |k: &str| {
        body[k]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let options = ExecOptions {
        args,
        env: strings(&body["Env"]),
        user: text("User"),
        workdir: text("WorkingDir"),
        tty: body["Tty"].as_bool().unwrap_or(false),
        console_size: None,
        privileged: body["Privileged"].as_bool().unwrap_or(false),
    };
    let exec_id = random_id();
    server.execs.lock().expect("exec table").insert(
        exec_id.clone(),
        ExecRecord {
            container: c.id,
            options,
            attach_stdin: body["AttachStdin"].as_bool().unwrap_or(false),
            attach_stdout: body["AttachStdout"].as_bool().unwrap_or(false),
            attach_stderr: body["AttachStderr"].as_bool().unwrap_or(false),
            running: false,
            exit_code: None,
            pid: 0,
            terminal: None,
        },
    );
    Ok(reply::json(StatusCode::CREATED, &json!({ "Id": exec_id })))
}

fn random_id() -> String {
    let mut b = [0u8; 32];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `GET /exec/{id}/json`.
pub async fn inspect(server: &Server, id: &str) -> ApiResult {
    let r = server
        .execs
        .lock()
        .expect("exec table")
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))?;
    reply::ok_json(&json!({
        "ID": id,
        "ContainerID": r.container,
        "Running": r.running,
        "ExitCode": r.exit_code,
        "Pid": r.pid,
        "OpenStdin": r.attach_stdin,
        "OpenStdout": r.attach_stdout,
        "OpenStderr": r.attach_stderr,
        "ProcessConfig": {
            "tty": r.options.tty,
            "entrypoint": r.options.args.first(),
            "arguments": r.options.args.get(1..).unwrap_or_default(),
            "privileged": r.options.privileged,
            "user": r.options.user.clone().unwrap_or_default(),
        },
        "CanRemove": false,
        "DetachKeys": "",
    }))
}

/// `POST /exec/{id}/resize?h=&w=`.
pub async fn resize(server: &Server, id: &str, rows: u16, cols: u16) -> ApiResult {
    let term = server
        .execs
        .lock()
        .expect("exec table")
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))?
        .terminal
        .clone();
    if let Some(t) = term {
        t.resize(rows, cols);
    }
    reply::ok_json(&json!({}))
}

fn set(server: &Server, id: &str, f: impl FnOnce(&mut ExecRecord)) {
    if let Some(r) = server.execs.lock().expect("exec table").get_mut(id) {
        f(r);
    }
}

/// `POST /exec/{id}/start` with `{"Detach", "Tty"}`: detached → 200 at
/// once; else the connection is hijacked and carries the process's
/// output (multiplexed unless a TTY) and the client's input.
pub async fn start(server: Arc<Server>, req: Request<Incoming>, id: &str) -> ApiResult {
    let exec_id = id.to_owned();
    let record = server
        .execs
        .lock()
        .expect("exec table")
        .get(&exec_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {exec_id}")))?;
    if record.running || record.exit_code.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("Error: Exec command {exec_id} is already running"),
        ));
    }
    let (parts, body) = req.into_parts();
    let bytes = http_body_util::BodyExt::collect(body)
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let start: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let detach = start["Detach"].as_bool().unwrap_or(false);
    set(&server, &exec_id, |r| r.running = true);
    if detach {
        let s = server.clone();
        let o = record.options.clone();
        let code = server
            .engine(move |e| Ok(e.exec_detached(&record.container, &o)?))
            .await;
        let _ = s;
        set(&server, &exec_id, |r| {
            r.running = false;
            if let Ok(c) = &code {
                if *c != 0 {
                    r.exit_code = Some(*c);
                }
            }
        });
        code?;
        return reply::ok_json(&json!({}));
    }
    let req = Request::from_parts(parts, http_body_util::Empty::<Bytes>::new());
    let s = server.clone();
    tokio::spawn(async move {
        let upgraded = match hyper::upgrade::on(req).await {
            Ok(u) => TokioIo::new(u),
            Err(e) => {
                tracing::debug!("exec upgrade: {e}");
                set(&s, &exec_id, |r| r.running = false);
                return;
            }
        };
        run(&s, &exec_id, &record, upgraded).await;
    });
    reply::upgraded()
}

/// Runs the exec with its stdio on the hijacked connection and records
/// its exit code (126/127 when it could not start, as Docker's).
async fn run<C>(server: &Arc<Server>, exec_id: &str, r: &ExecRecord, conn: C)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(conn);
    let (tx, mut rx) = mpsc::channel::<Bytes>(64);
    let (stdin_tx, stdin_rx) = std::sync::mpsc::channel::<Option<Vec<u8>>>();
    let root = server.root.clone();
    let rec = r.clone();
    let s = server.clone();
    let id = exec_id.to_owned();
    let worker = tokio::task::spawn_blocking(move || -> i32 {
        let Ok(engine) = berth_engine::Engine::open(&root) else {
            return 126;
        };
        if rec.options.tty {
            let term = match engine.exec_terminal(&rec.container, &rec.options) {
                Ok(TerminalExec::Running(t)) => t,
                Ok(TerminalExec::Failed(code)) => return code,
                Err(e) => {
                    let _ = tx.blocking_send(Bytes::from(format!("{e}\r\n")));
                    return 126;
                }
            };
            let handle = term.handle();
            set(&s, &id, |r| {
                r.terminal = Some(handle.clone());
                r.pid = term.pid;
            });
            let mut input = handle.clone();
            std::thread::spawn(move || {
                while let Ok(Some(b)) = stdin_rx.recv() {
                    if input.write_all(&b).is_err() {
                        break;
                    }
                }
            });
            struct ToChannel(mpsc::Sender<Bytes>);
            impl Write for ToChannel {
                fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                    self.0
                        .blocking_send(Bytes::copy_from_slice(b))
                        .map_err(|_| std::io::Error::other("client gone"))?;
                    Ok(b.len())
                }
                fn flush(&mut self) -> std::io::Result<()> {
                    Ok(())
                }
            }
            let _ = term.copy_output(&mut ToChannel(tx));
            return term.wait();
        }
        let mut e = match engine.exec(&rec.container, &rec.options, false, None) {
            Ok(e) => e,
            Err(err) => {
                let _ = tx.blocking_send(Bytes::from(frame(2, format!("{err}\n").as_bytes())));
                return 126;
            }
        };
        e.command
            .stdin(if rec.attach_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match e.command.spawn() {
            Ok(c) => c,
            Err(_) => return 126,
        };
        set(&s, &id, |r| r.pid = child.id() as i32);
        if let Some(mut stdin) = child.stdin.take() {
            std::thread::spawn(move || {
                while let Ok(Some(b)) = stdin_rx.recv() {
                    if stdin.write_all(&b).is_err() {
                        break;
                    }
                }
            });
        }
        let pump = |mut from: Box<dyn Read + Send>, stream: u8, tx: mpsc::Sender<Bytes>| {
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0
                        || tx
                            .blocking_send(Bytes::from(frame(stream, &buf[..n])))
                            .is_err()
                    {
                        break;
                    }
                }
            })
        };
        let out = child
            .stdout
            .take()
            .map(|o| pump(Box::new(o), 1, tx.clone()));
        let err = child
            .stderr
            .take()
            .map(|o| pump(Box::new(o), 2, tx.clone()));
        drop(tx);
        let status = child.wait();
        for t in [out, err].into_iter().flatten() {
            let _ = t.join();
        }
        match status {
            Ok(s) if s.success() => 0,
            Ok(s) => match e.runtime_error() {
                Some(berth_engine::Error::Command { exit_code, .. }) => exit_code as i32,
                _ => s.code().unwrap_or(126),
            },
            Err(_) => 126,
        }
    });
    let input = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = stdin_tx.send(None);
                    return;
                }
                Ok(n) => {
                    if stdin_tx.send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    while let Some(chunk) = rx.recv().await {
        if wr.write_all(&chunk).await.is_err() || wr.flush().await.is_err() {
            break;
        }
    }
    let code = worker.await.unwrap_or(126);
    // Recorded before the connection ends: the docker CLI inspects the
    // exec for its exit code as soon as it reads the end of the output.
    set(server, exec_id, |r| {
        r.running = false;
        r.exit_code = Some(code);
        r.terminal = None;
    });
    let _ = wr.shutdown().await;
    input.abort();
}

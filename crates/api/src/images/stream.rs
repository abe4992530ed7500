//! dockerd's streamed answers (pull, push, load, import, save, build):
//! the work runs on a blocking thread and sends its output as it comes.
//! The status line goes out with the first output: a failure before any
//! is an ordinary error reply (404 for a missing repository, as dockerd
//! answers), one after it a last JSON line with `errorDetail`, the status
//! staying 200 (what dockerd writes once its output was flushed).

use std::io::{Read, Seek, Write};

use berth_engine::Engine;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::reply::{self, ApiError, ApiResult};
use crate::server::Server;

enum Msg {
    Data(Bytes),
    Fail(ApiError),
}

/// Where the work writes: JSON messages, or raw bytes (`save`'s tar).
#[derive(Clone)]
pub struct Sink {
    tx: mpsc::Sender<Msg>,
}

impl Sink {
    /// Sends raw bytes; false once the client has gone.
    pub fn bytes(&self, data: Vec<u8>) -> bool {
        self.tx.blocking_send(Msg::Data(Bytes::from(data))).is_ok()
    }

    /// One JSON message and its newline.
    pub fn json(&self, v: &Value) -> bool {
        let mut text = serde_json::to_vec(v).expect("JSON value");
        text.push(b'\n');
        self.bytes(text)
    }

    /// `{"status": ...}`, with `"id"` when given.
    pub fn status(&self, status: &str, id: Option<&str>) -> bool {
        match id {
            Some(id) => self.json(&json!({ "status": status, "id": id })),
            None => self.json(&json!({ "status": status })),
        }
    }

    /// `{"stream": ...}`: text as the docker CLI prints it.
    pub fn stream(&self, text: &str) -> bool {
        self.json(&json!({ "stream": text }))
    }
}

/// A `Write` into the sink, for a tar written as it is made.
pub struct SinkWriter(pub Sink);

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.bytes(buf.to_vec()) {
            Ok(buf.len())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the client went away",
            ))
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// dockerd's error line (`jsonmessage.JSONError`): the docker CLI prints
/// `message` and exits 1.
pub fn error_line(message: &str) -> Value {
    json!({ "errorDetail": { "message": message }, "error": message })
}

/// Runs `work` with an engine of its own on a blocking thread and answers
/// with what it writes to the sink, as `content_type`.
pub async fn respond<F>(server: &Server, content_type: &'static str, work: F) -> ApiResult
where
    F: FnOnce(&mut Engine, &Sink) -> Result<(), ApiError> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Msg>(64);
    let root = server.root.clone();
    tokio::task::spawn_blocking(move || {
        let sink = Sink { tx };
        let result = Engine::open(&root)
            .map_err(ApiError::from)
            .and_then(|mut e| work(&mut e, &sink));
        if let Err(e) = result {
            let _ = sink.tx.blocking_send(Msg::Fail(e));
        }
    });
    let first = match rx.recv().await {
        Some(Msg::Fail(e)) => return Err(e),
        Some(Msg::Data(b)) => Some(b),
        None => None,
    };
    let (r, out) = reply::stream(StatusCode::OK, content_type);
    tokio::spawn(async move {
        if let Some(b) = first {
            if out.send(b).await.is_err() {
                return;
            }
        }
        while let Some(m) = rx.recv().await {
            let b = match m {
                Msg::Data(b) => b,
                Msg::Fail(e) => {
                    let mut text = serde_json::to_vec(&error_line(&e.message)).expect("JSON");
                    text.push(b'\n');
                    Bytes::from(text)
                }
            };
            if out.send(b).await.is_err() {
                return;
            }
        }
    });
    Ok(r)
}

/// The request body in an unlinked temporary file, read to its end
/// (dockerd reads a build's context before it answers), positioned at
/// its start.
/// Reads and drops up to `limit` bytes of a body a request is refused
/// for before it was read: a client still sending it (`docker build`'s
/// context) would get a broken pipe, not the refusal, if the connection
/// closed under it (dockerd's Go server drains too).
pub async fn discard_body(req: Request<Incoming>, limit: u64) {
    let mut body = req.into_body();
    let mut seen = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            seen += data.len() as u64;
            if seen > limit {
                return;
            }
        }
    }
}

pub async fn spool_body(req: Request<Incoming>) -> Result<std::fs::File, ApiError> {
    let io = |e: std::io::Error| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to store the request body: {e}"),
        )
    };
    let dir = std::env::temp_dir();
    let path = dir.join(format!(
        "berth-api-body-{}-{}",
        std::process::id(),
        berth_engine::model::new_id().map_err(ApiError::from)?
    ));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io)?;
    // Gone from the directory at once: nothing to clean up whatever
    // happens next.
    std::fs::remove_file(&path).map_err(io)?;
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError::bad_request(format!("failed to read the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            file.write_all(&data).map_err(io)?;
        }
    }
    file.rewind().map_err(io)?;
    Ok(file)
}

/// True when `f` holds nothing.
pub fn is_empty(f: &mut std::fs::File) -> Result<bool, ApiError> {
    let mut one = [0u8; 1];
    let n = f
        .read(&mut one)
        .and_then(|n| f.rewind().map(|_| n))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(n == 0)
}

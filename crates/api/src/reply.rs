//! Responses as dockerd writes them: JSON with a trailing newline,
//! `{"message": ...}` errors with its status codes, and streaming bodies
//! (chunked, flushed per message) fed from a channel.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body as HttpBody, Frame};
use hyper::{Response, StatusCode};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::API_VERSION;

pub type Body = BoxBody<Bytes, Infallible>;
pub type Reply = Response<Body>;

/// An error as dockerd answers it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<berth_engine::Error> for ApiError {
    fn from(e: berth_engine::Error) -> ApiError {
        use berth_engine::ErrorKind;
        let status = match e.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::AlreadyExists | ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::Command | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

pub type ApiResult = Result<Reply, ApiError>;

/// dockerd's headers on every response. `Docker-Experimental: true`
/// (`--experimental`) is what makes the docker CLI offer `checkpoint` and
/// `start --checkpoint`.
pub fn with_headers(mut r: Reply, experimental: bool) -> Reply {
    let h = r.headers_mut();
    h.insert("Api-Version", API_VERSION.parse().expect("header value"));
    h.insert("Ostype", "linux".parse().expect("header value"));
    h.insert(
        "Docker-Experimental",
        if experimental { "true" } else { "false" }
            .parse()
            .expect("header value"),
    );
    h.insert(
        "Server",
        format!("berth/{} (linux)", env!("CARGO_PKG_VERSION"))
            .parse()
            .expect("header value"),
    );
    r
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

pub fn empty() -> Body {
    Empty::new().boxed()
}

/// `status` with `value` as JSON (and the newline Go's encoder adds).
pub fn json(status: StatusCode, value: &Value) -> Reply {
    let mut text = serde_json::to_vec(value).expect("JSON value");
    text.push(b'\n');
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(full(text))
        .expect("response")
}

pub fn ok_json(value: &Value) -> ApiResult {
    Ok(json(StatusCode::OK, value))
}

/// 200 with no body (dockerd's `WriteHeader(http.StatusOK)`).
pub fn ok_empty() -> ApiResult {
    Ok(Response::builder()
        .status(StatusCode::OK)
        .body(empty())
        .expect("response"))
}

pub fn no_content() -> ApiResult {
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(empty())
        .expect("response"))
}

/// 304, no body (start of a running container, stop of a stopped one).
pub fn not_modified() -> ApiResult {
    Ok(Response::builder()
        .status(StatusCode::NOT_MODIFIED)
        .body(empty())
        .expect("response"))
}

/// `101 UPGRADED` to a raw stream (attach, exec start): the connection
/// is the caller's once hyper has sent this.
pub fn upgraded() -> ApiResult {
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Content-Type", "application/vnd.docker.raw-stream")
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(empty())
        .expect("response"))
}

/// A JSON array of strings (`Cmd`, `Env`, ...) as a vector; anything else
/// is empty.
pub fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub fn text(status: StatusCode, body: &'static str) -> Reply {
    Response::builder()
        .status(status)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(full(body))
        .expect("response")
}

pub fn error(e: &ApiError) -> Reply {
    json(e.status, &serde_json::json!({ "message": e.message }))
}

/// A body fed by a channel: each message one chunk, sent as it comes
/// (hyper flushes each frame); the end of the channel ends the body.
pub struct Stream {
    rx: mpsc::Receiver<Bytes>,
}

impl HttpBody for Stream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}

/// A streaming response and the sender that feeds it. The headers go out
/// at once (clients such as the docker CLI wait for them before sending
/// their next request).
pub fn stream(status: StatusCode, content_type: &str) -> (Reply, mpsc::Sender<Bytes>) {
    let (tx, rx) = mpsc::channel(64);
    let r = Response::builder()
        .status(status)
        .header("Content-Type", content_type)
        .body(Stream { rx }.boxed())
        .expect("response");
    (r, tx)
}

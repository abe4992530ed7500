//! The container endpoints: each decodes dockerd's request, calls the
//! engine method the `berth` CLI calls, and answers in dockerd's shape.

use std::time::Duration;

pub mod archive;
pub mod checkpoint;
mod create;
pub mod live;
pub mod stats;

use berth_engine::ops::list::ContainerFilters;
use berth_engine::{Container, Engine};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

pub use create::create;

use crate::reply::{self, ApiError, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// Request bodies larger than this are refused (a container's config is
/// a few KiB).
pub const MAX_BODY: usize = 4 << 20;

/// The JSON body of a request: 400 for malformed JSON or a body over
/// [`MAX_BODY`], as dockerd answers.
pub async fn json_body(req: Request<Incoming>) -> Result<Value, ApiError> {
    if let Some(ct) = req.headers().get("Content-Type") {
        let ct = ct.to_str().unwrap_or("");
        if !ct.is_empty() && !ct.starts_with("application/json") {
            return Err(ApiError::bad_request(format!(
                "Content-Type specified ({ct}) must be 'application/json'"
            )));
        }
    }
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    let bytes: Bytes = limited
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("failed to read the request body: {e}")))?
        .to_bytes();
    if bytes.is_empty() {
        return Err(ApiError::bad_request("got EOF while reading request body"));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `filters=` in either of Docker's forms (`{"k":{"v":true}}` from the Go
/// CLI, `{"k":["v"]}` from docker-py) as `k=v` strings.
pub fn filters(q: &Query) -> Result<Vec<String>, ApiError> {
    let Some(raw) = q.get("filters").filter(|f| !f.is_empty()) else {
        return Ok(Vec::new());
    };
    let v: Value = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("invalid filter: {e}")))?;
    let mut out = Vec::new();
    for (k, vals) in v.as_object().into_iter().flatten() {
        match vals {
            Value::Object(m) => out.extend(m.keys().map(|v| format!("{k}={v}"))),
            Value::Array(a) => out.extend(
                a.iter()
                    .filter_map(|v| v.as_str())
                    .map(|v| format!("{k}={v}")),
            ),
            _ => return Err(ApiError::bad_request(format!("invalid filter '{k}'"))),
        }
    }
    Ok(out)
}

/// `GET /containers/json` (`size=1`: `SizeRw`/`SizeRootFs`, as `ps -s`).
pub async fn list(server: &Server, q: &Query) -> ApiResult {
    let all = q.bool("all");
    let size = q.bool("size");
    let limit: i64 = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(-1);
    let raw = filters(q)?;
    let rows = server
        .engine(move |e| {
            let f = ContainerFilters::parse(&raw)?;
            let list = e.list_containers(all, limit, &f)?;
            Ok(list
                .iter()
                .map(|c| {
                    let mut v = summary(e, c);
                    if size {
                        let (rw, rootfs) = e.container_sizes(c);
                        v["SizeRw"] = json!(rw);
                        v["SizeRootFs"] = json!(rootfs);
                    }
                    v
                })
                .collect::<Vec<_>>())
        })
        .await?;
    reply::ok_json(&Value::Array(rows))
}

/// One `/containers/json` entry, from the same inspect document `berth
/// inspect` prints.
pub(crate) fn summary(e: &Engine, c: &Container) -> Value {
    let i = e.inspect_container(c, false);
    let created = berth_engine::image::time::parse_rfc3339(&c.created_at).unwrap_or(0);
    let command = c.config.args().join(" ");
    let ports = ports(&i["NetworkSettings"]["Ports"]);
    json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        "Image": c.config.image,
        "ImageID": c.image_id,
        "Command": command,
        "Created": created,
        "Ports": ports,
        "Labels": c.config.labels,
        "State": berth_engine::ops::list::state_word(c),
        "Status": berth_engine::ops::list::status_text(c),
        "HostConfig": { "NetworkMode": i["HostConfig"]["NetworkMode"] },
        "NetworkSettings": { "Networks": i["NetworkSettings"]["Networks"] },
        "Mounts": i["Mounts"],
    })
}

/// `NetworkSettings.Ports` (`{"80/tcp": [{"HostIp", "HostPort"}]}`) as
/// the list `/containers/json` gives.
fn ports(map: &Value) -> Value {
    let mut out = Vec::new();
    for (port, bindings) in map.as_object().into_iter().flatten() {
        let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
        let private: u16 = num.parse().unwrap_or(0);
        match bindings.as_array() {
            Some(list) if !list.is_empty() => {
                for b in list {
                    out.push(json!({
                        "IP": b["HostIp"],
                        "PrivatePort": private,
                        "PublicPort": b["HostPort"].as_str().and_then(|p| p.parse::<u16>().ok()),
                        "Type": proto,
                    }));
                }
            }
            _ => out.push(json!({ "PrivatePort": private, "Type": proto })),
        }
    }
    Value::Array(out)
}

/// `GET /containers/{id}/json`.
pub async fn inspect(server: &Server, id: &str, q: &Query) -> ApiResult {
    let id = id.to_owned();
    let size = q.bool("size");
    let v = server
        .engine(move |e| {
            let c = e.find(&id)?;
            Ok(e.inspect_container(&c, size))
        })
        .await?;
    reply::ok_json(&v)
}

/// `POST /containers/{id}/start`: 204, or 304 when already running. An
/// attach connection waiting for this container gets its stream. With
/// `checkpoint=NAME`, a restore from that checkpoint ([`checkpoint`]);
/// `checkpoint-dir` alone is ignored, as `berth start` ignores it.
pub async fn start(server: &std::sync::Arc<Server>, id: &str, q: &Query) -> ApiResult {
    if let Some(name) = q.get("checkpoint").filter(|n| !n.is_empty()) {
        return checkpoint::start(server, id, name, q).await;
    }
    let key = id.to_owned();
    let c = server
        .engine({
            let key = key.clone();
            move |e| Ok(e.find(&key)?)
        })
        .await?;
    let waiting = server
        .pending_attaches
        .lock()
        .expect("attach table")
        .remove(&c.id)
        .unwrap_or_default();
    let attach = !waiting.is_empty();
    let started = server
        .engine(move |e| {
            let s = if attach {
                e.start_attached(&key)?
            } else {
                e.start(&key)?
            };
            Ok(s.map(|s| s.attach))
        })
        .await;
    match started {
        Ok(Some(stream)) => {
            if let (Some(stream), Some(first)) = (stream, waiting.into_iter().next()) {
                let _ = first.send(stream);
            }
            reply::no_content()
        }
        Ok(None) => reply::not_modified(),
        Err(e) => Err(e),
    }
}

/// `POST /containers/{id}/wait?condition=not-running|next-exit|removed`:
/// the headers go out at once (the docker CLI waits for them before it
/// starts the container), the status when the condition is met.
pub async fn wait(server: &std::sync::Arc<Server>, id: &str, q: &Query) -> ApiResult {
    let condition = q.get("condition").unwrap_or("not-running").to_owned();
    if !matches!(
        condition.as_str(),
        "" | "not-running" | "next-exit" | "removed"
    ) {
        return Err(ApiError::bad_request(format!(
            "invalid condition: \"{condition}\""
        )));
    }
    let key = id.to_owned();
    let first = server
        .engine({
            let key = key.clone();
            move |e| Ok(e.find(&key)?)
        })
        .await?;
    let (r, tx) = reply::stream(StatusCode::OK, "application/json");
    let root = server.root.clone();
    tokio::task::spawn_blocking(move || {
        let closed = tx.clone();
        let code = wait_for(&root, &first, &condition, &|| closed.is_closed());
        if tx.is_closed() {
            return;
        }
        let body = match code {
            Ok(code) => json!({ "StatusCode": code, "Error": null }),
            Err(m) => json!({ "StatusCode": -1, "Error": { "Message": m } }),
        };
        let mut text = body.to_string().into_bytes();
        text.push(b'\n');
        let _ = tx.blocking_send(Bytes::from(text));
    });
    Ok(r)
}

/// Polls the container's record until `condition` holds; its exit code.
/// Gives up when `gone` says the client hung up (its thread and database
/// connection are not kept for a container that may run for days).
fn wait_for(
    root: &std::path::Path,
    first: &Container,
    condition: &str,
    gone: &dyn Fn() -> bool,
) -> Result<i32, String> {
    let engine = Engine::open(root).map_err(|e| e.to_string())?;
    let mut last = first.exit_code;
    let mut seen_running = matches!(
        first.state,
        berth_engine::State::Running
            | berth_engine::State::Starting
            | berth_engine::State::Restarting
    );
    loop {
        match engine.find(&first.id) {
            Ok(c) => {
                last = c.exit_code;
                let running = matches!(
                    c.state,
                    berth_engine::State::Running
                        | berth_engine::State::Starting
                        | berth_engine::State::Restarting
                );
                seen_running |= running;
                let finished_again = c.finished_at != first.finished_at && !running;
                match condition {
                    "next-exit" if finished_again || (seen_running && !running) => return Ok(last),
                    "" | "not-running" if !running => return Ok(last),
                    _ => {}
                }
            }
            // Gone (`--rm`): its exit code is in its `die` event.
            Err(_) => {
                return Ok(engine
                    .last_exit_code(&first.id)
                    .ok()
                    .flatten()
                    .unwrap_or(last))
            }
        }
        if gone() {
            return Err("the client hung up".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn timeout(q: &Query) -> Option<Duration> {
    q.get("t")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// `POST /containers/{id}/stop?t=`: 204, 304 when not running.
pub async fn stop(server: &Server, id: &str, q: &Query) -> ApiResult {
    let key = id.to_owned();
    let t = timeout(q);
    let was_running = server
        .engine(move |e| {
            let c = e.find(&key)?;
            if c.state != berth_engine::State::Running {
                return Ok(false);
            }
            let t = e.stop_timeout(&key, t.map(|d| d.as_secs()))?;
            e.stop(&key, t)?;
            Ok(true)
        })
        .await?;
    if was_running {
        reply::no_content()
    } else {
        reply::not_modified()
    }
}

/// `POST /containers/{id}/restart?t=`.
pub async fn restart(server: &Server, id: &str, q: &Query) -> ApiResult {
    let key = id.to_owned();
    let t = timeout(q);
    server
        .engine(move |e| {
            let t = e.stop_timeout(&key, t.map(|d| d.as_secs()))?;
            e.restart(&key, t)?;
            Ok(())
        })
        .await?;
    reply::no_content()
}

/// `POST /containers/{id}/kill?signal=`.
pub async fn kill(server: &Server, id: &str, q: &Query) -> ApiResult {
    let key = id.to_owned();
    let signal = q
        .get("signal")
        .filter(|s| !s.is_empty())
        .unwrap_or("KILL")
        .to_owned();
    server
        .engine(move |e| Ok(e.kill(&key, &signal).map(drop)?))
        .await?;
    reply::no_content()
}

/// `DELETE /containers/{id}?force=&v=`.
pub async fn remove(server: &Server, id: &str, q: &Query) -> ApiResult {
    let key = id.to_owned();
    let force = q.bool("force");
    let volumes = q.bool("v");
    server
        .engine(move |e| Ok(e.remove(&key, force, volumes).map(drop)?))
        .await?;
    reply::no_content()
}

/// `POST /containers/{id}/resize?h=&w=`.
pub async fn resize(server: &Server, id: &str, q: &Query) -> ApiResult {
    let key = id.to_owned();
    let rows: u16 = q.get("h").and_then(|v| v.parse().ok()).unwrap_or(0);
    let cols: u16 = q.get("w").and_then(|v| v.parse().ok()).unwrap_or(0);
    server
        .engine(move |e| {
            let c = e.find(&key)?;
            let mut s =
                berth_engine::attach::connect(e.bundle(&c.id).dir(), berth_engine::attach::SOCKET)?;
            berth_engine::attach::Frame::Resize { rows, cols }
                .write_to(&mut s)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            Ok(())
        })
        .await?;
    reply::ok_json(&json!({}))
}

/// `GET /containers/{id}/logs`: Docker's multiplexed frames (raw for a
/// TTY container), `follow` until the container stops.
pub async fn logs(server: &Server, id: &str, q: &Query) -> ApiResult {
    let stdout = q.bool("stdout");
    let stderr = q.bool("stderr");
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let opts = berth_engine::ops::log_stream::LogsOptions {
        since: q.time("since")?,
        until: q.time("until")?,
        tail: q.get("tail").and_then(|t| t.parse().ok()),
        follow: q.bool("follow"),
    };
    let timestamps = q.bool("timestamps");
    let key = id.to_owned();
    let c = server
        .engine({
            let key = key.clone();
            move |e| Ok(e.find(&key)?)
        })
        .await?;
    let tty = c.config.stdio.tty;
    let (r, tx) = reply::stream(
        StatusCode::OK,
        if tty {
            "application/vnd.docker.raw-stream"
        } else {
            "application/vnd.docker.multiplexed-stream"
        },
    );
    let root = server.root.clone();
    tokio::task::spawn_blocking(move || {
        let Ok(engine) = Engine::open(&root) else {
            return;
        };
        let Ok(stream) = engine.logs(&c, &opts) else {
            return;
        };
        for entry in stream.flatten() {
            let is_err = entry.stream == "stderr";
            if (is_err && !stderr) || (!is_err && !stdout) {
                continue;
            }
            let mut data = Vec::new();
            if timestamps {
                data.extend_from_slice(entry.time.as_bytes());
                data.push(b' ');
            }
            data.extend_from_slice(&entry.text);
            let chunk = if tty {
                data
            } else {
                crate::attach::frame(if is_err { 2 } else { 1 }, &data)
            };
            if tx.blocking_send(Bytes::from(chunk)).is_err() {
                // The client went away.
                return;
            }
        }
    });
    Ok(r)
}

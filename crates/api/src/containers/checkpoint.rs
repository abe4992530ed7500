//! Docker's experimental checkpoint endpoints (`docker checkpoint
//! create/ls/rm`, `docker start --checkpoint`), each calling the engine
//! method `berth checkpoint ...` / `berth start --checkpoint` calls.
//!
//! As dockerd, they are served only with `berth serve --experimental`
//! (which also sends `Docker-Experimental: true`, without which the docker
//! CLI hides these commands); otherwise the routes answer dockerd's 501
//! and a start with a checkpoint dockerd's 400.

use std::path::PathBuf;
use std::sync::Arc;

use berth_engine::ops::checkpoint::{CheckpointOptions, NamedCheckpoint};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

use crate::reply::{self, ApiError, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// dockerd's answer on an experimental route when it is not enabled.
fn require_experimental(server: &Server) -> Result<(), ApiError> {
    if server.experimental {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "This experimental feature is disabled by default. Start berth serve with --experimental in order to enable it.",
    ))
}

/// A `dir`/`checkpoint-dir`/`CheckpointDir` value: empty is the
/// container's own `checkpoints/`. A relative path would name a place
/// under the server's working directory, which the client cannot know:
/// refused.
fn checkpoint_dir(v: Option<&str>) -> Result<Option<PathBuf>, ApiError> {
    match v.filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(d) if d.starts_with('/') => Ok(Some(PathBuf::from(d))),
        Some(d) => Err(ApiError::bad_request(format!(
            "checkpoint directory {d:?} is not an absolute path"
        ))),
    }
}

/// `GET /containers/{id}/checkpoints[?dir=D]`: `[{"Name": ...}]`, sorted,
/// `[]` for none.
pub async fn list(server: &Server, id: &str, q: &Query) -> ApiResult {
    require_experimental(server)?;
    let dir = checkpoint_dir(q.get("dir"))?;
    let key = id.to_owned();
    let names = server
        .engine(move |e| Ok(e.checkpoint_list(&key, dir.as_deref())?))
        .await?;
    let list: Vec<Value> = names.iter().map(|n| json!({ "Name": n })).collect();
    reply::ok_json(&Value::Array(list))
}

/// `POST /containers/{id}/checkpoints` with `{"CheckpointID",
/// "CheckpointDir", "Exit"}`: 201. `Exit` false (the default) leaves the
/// container running, as dockerd.
pub async fn create(server: &Server, req: Request<Incoming>, id: &str) -> ApiResult {
    require_experimental(server)?;
    let body = super::json_body(req).await?;
    let name = body["CheckpointID"].as_str().unwrap_or("").to_owned();
    let dir = checkpoint_dir(body["CheckpointDir"].as_str())?;
    let exit = match &body["Exit"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        other => {
            return Err(ApiError::bad_request(format!(
                "Exit must be a boolean, not {other}"
            )))
        }
    };
    let key = id.to_owned();
    server
        .engine(move |e| {
            let at = NamedCheckpoint {
                name: &name,
                dir: dir.as_deref(),
            };
            let opts = CheckpointOptions {
                leave_running: !exit,
                ..CheckpointOptions::default()
            };
            Ok(e.checkpoint_create(&key, &at, &opts)?)
        })
        .await?;
    Ok(hyper::Response::builder()
        .status(StatusCode::CREATED)
        .body(reply::empty())
        .expect("response"))
}

/// `DELETE /containers/{id}/checkpoints/{name}[?dir=D]`: 204.
pub async fn remove(server: &Server, id: &str, name: &str, q: &Query) -> ApiResult {
    require_experimental(server)?;
    let dir = checkpoint_dir(q.get("dir"))?;
    let key = id.to_owned();
    let name = name.to_owned();
    server
        .engine(move |e| {
            let at = NamedCheckpoint {
                name: &name,
                dir: dir.as_deref(),
            };
            Ok(e.checkpoint_remove(&key, &at)?)
        })
        .await?;
    reply::no_content()
}

/// `POST /containers/{id}/start?checkpoint=NAME[&checkpoint-dir=D]`: the
/// container restored from that checkpoint, which stays; 204. An attach
/// made before (`docker start -a --checkpoint`) gets its stream.
pub async fn start(server: &Arc<Server>, id: &str, name: &str, q: &Query) -> ApiResult {
    if !server.experimental {
        // dockerd's words and status.
        return Err(ApiError::bad_request(
            "checkpoint is only supported in experimental mode",
        ));
    }
    let dir = checkpoint_dir(q.get("checkpoint-dir"))?;
    let key = id.to_owned();
    let c = server
        .engine({
            let key = key.clone();
            move |e| Ok(e.find(&key)?)
        })
        .await?;
    // `docker start -a --checkpoint` attached first: the restore hands
    // the first waiting attach the container's stream, as a start does.
    let waiting = server
        .pending_attaches
        .lock()
        .expect("attach table")
        .remove(&c.id)
        .unwrap_or_default();
    let attach = !waiting.is_empty();
    let name = name.to_owned();
    let started = server
        .engine(move |e| {
            let at = NamedCheckpoint {
                name: &name,
                dir: dir.as_deref(),
            };
            let s = if attach {
                e.start_from_checkpoint_attached(&key, &at)?
            } else {
                e.start_from_checkpoint(&key, &at)?
            };
            Ok(s.and_then(|s| s.attach))
        })
        .await?;
    if let (Some(stream), Some(first)) = (started, waiting.into_iter().next()) {
        let _ = first.send(stream);
    }
    reply::no_content()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_dir_is_absolute_or_the_containers_own() {
        assert_eq!(checkpoint_dir(None).unwrap(), None);
        assert_eq!(checkpoint_dir(Some("")).unwrap(), None);
        assert_eq!(
            checkpoint_dir(Some("/var/ck")).unwrap(),
            Some(PathBuf::from("/var/ck"))
        );
        let e = checkpoint_dir(Some("ck")).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "checkpoint directory \"ck\" is not an absolute path"
        );
    }
}

//! `GET /events`: the engine's event stream (past events in a window,
//! then new ones as they are recorded) as dockerd's JSON messages, one
//! per line. A client that hangs up ends the stream within the engine's
//! idle poll, so no thread is left waiting for it.

use berth_engine::{Engine, EventFilters, EventsOptions};
use bytes::Bytes;
use hyper::StatusCode;
use tokio::sync::oneshot;

use crate::containers::filters;
use crate::reply::{self, ApiError, ApiResult};
use crate::router::Query;
use crate::server::Server;

pub async fn events(server: &Server, q: &Query) -> ApiResult {
    let time = |key: &str| -> Result<Option<i64>, ApiError> {
        Ok(q.time(key)?.map(|t| t.clamp(0, i64::MAX as i128) as i64))
    };
    let options = EventsOptions {
        since: time("since")?,
        until: time("until")?,
        filters: EventFilters::parse(&filters(q)?)?,
    };
    let (reply, tx) = reply::stream(StatusCode::OK, "application/json");
    let (ready, opened) = oneshot::channel::<Result<(), ApiError>>();
    let root = server.root.clone();
    tokio::task::spawn_blocking(move || {
        let engine = match Engine::open(&root) {
            Ok(e) => e,
            Err(e) => return drop(ready.send(Err(e.into()))),
        };
        let stream = match engine.events(options) {
            Ok(s) => s,
            Err(e) => return drop(ready.send(Err(e.into()))),
        };
        if ready.send(Ok(())).is_err() {
            return;
        }
        let closed = tx.clone();
        for event in stream.cancel_when(move || closed.is_closed()) {
            let Ok(event) = event else { break };
            let mut line = serde_json::to_vec(&event).expect("event JSON");
            line.push(b'\n');
            if tx.blocking_send(Bytes::from(line)).is_err() {
                break;
            }
        }
    });
    opened
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "event stream failed"))??;
    Ok(reply)
}

//! `top`, `update`, `changes` and `prune`: each the engine method its
//! `berth` command calls (`top`, `update`/`update_restart`, `diff`,
//! `prune_containers`), answered in dockerd's shape.

use hyper::body::Incoming;
use hyper::Request;
use serde_json::{json, Value};

use super::create::{refuse_unsupported_update, resources};
use super::{json_body, text};
use crate::reply::{self, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// `GET /containers/{id}/top?ps_args=`: `{"Titles", "Processes"}`.
pub async fn top(server: &Server, id: &str, q: &Query) -> ApiResult {
    let key = id.to_owned();
    // dockerd passes ps_args to ps as space-separated words.
    let args: Vec<String> = q
        .get("ps_args")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let list = server.engine(move |e| Ok(e.top(&key, &args)?)).await?;
    reply::ok_json(&json!({ "Titles": list.titles, "Processes": list.processes }))
}

/// `POST /containers/{id}/update`: the resource fields (zero is
/// "unchanged", as in `docker update`) and `RestartPolicy`.
pub async fn update(server: &Server, req: Request<Incoming>, id: &str) -> ApiResult {
    let body = json_body(req).await?;
    refuse_unsupported_update(&body)?;
    let change = resources(&body)?;
    let restart = text(&body["RestartPolicy"]["Name"]).map(|name| {
        match body["RestartPolicy"]["MaximumRetryCount"].as_u64() {
            Some(n) if n > 0 => format!("{name}:{n}"),
            _ => name,
        }
    });
    let key = id.to_owned();
    server
        .engine(move |e| {
            if !change.is_empty() {
                e.update(&key, &change)?;
            } else {
                // An empty update still names a container that must exist.
                e.find(&key)?;
            }
            if let Some(policy) = &restart {
                e.update_restart(&key, policy)?;
            }
            Ok(())
        })
        .await?;
    reply::ok_json(&json!({ "Warnings": [] }))
}

/// `GET /containers/{id}/changes`: `[{"Path", "Kind"}]`, Kind 0 modified,
/// 1 added, 2 deleted.
pub async fn changes(server: &Server, id: &str) -> ApiResult {
    let key = id.to_owned();
    let list = server
        .engine(move |e| {
            let c = e.find(&key)?;
            Ok(e.diff(&c)?)
        })
        .await?;
    let v: Vec<Value> = list
        .iter()
        .map(|c| json!({ "Path": c.path, "Kind": c.kind.number() }))
        .collect();
    // dockerd answers null for no change.
    reply::ok_json(&if v.is_empty() { Value::Null } else { json!(v) })
}

/// `POST /containers/prune?filters=`: `{"ContainersDeleted",
/// "SpaceReclaimed"}`.
pub async fn prune(server: &Server, q: &Query) -> ApiResult {
    let filter = berth_engine::ops::prune::PruneFilter::new(&crate::networks::filter_pairs(q)?)?;
    let pruned = server
        .engine(move |e| Ok(e.prune_containers(&filter)?))
        .await?;
    reply::ok_json(&json!({
        "ContainersDeleted": if pruned.containers.is_empty() { Value::Null } else { json!(pruned.containers) },
        "SpaceReclaimed": pruned.bytes,
    }))
}

//! Volumes, networks and the simpler image and container verbs: each the
//! engine method the `berth` CLI calls, answered in dockerd's shape.

use std::collections::BTreeMap;

use berth_engine::ops::volume::{VolumeCreate, VolumeFilters, VolumePruneFilter};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

use crate::containers::{filters, json_body};
use crate::reply::{self, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// `POST /containers/{id}/pause` and `/unpause`.
pub async fn pause(server: &Server, id: &str, pause: bool) -> ApiResult {
    let key = id.to_owned();
    server
        .engine(move |e| {
            if pause {
                e.pause(&key)?;
            } else {
                e.unpause(&key)?;
            }
            Ok(())
        })
        .await?;
    reply::no_content()
}

/// `POST /containers/{id}/rename?name=`.
pub async fn rename(server: &Server, id: &str, q: &Query) -> ApiResult {
    let key = id.to_owned();
    let name = q.get("name").unwrap_or("").to_owned();
    server
        .engine(move |e| Ok(e.rename(&key, &name).map(drop)?))
        .await?;
    reply::no_content()
}

/// `POST /images/{name}/tag?repo=&tag=`: 201.
pub async fn tag(server: &Server, name: &str, q: &Query) -> ApiResult {
    let source = name.to_owned();
    let repo = q.get("repo").unwrap_or("").to_owned();
    let target = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo,
    };
    server
        .engine(move |e| Ok(e.tag_image(&source, &target)?))
        .await?;
    Ok(reply::json(StatusCode::CREATED, &json!({})))
}

/// `DELETE /images/{name}?force=`: Docker's `Untagged`/`Deleted` list.
pub async fn remove_image(server: &Server, name: &str, q: &Query) -> ApiResult {
    let name = name.to_owned();
    let force = q.bool("force");
    let removed = server
        .engine(move |e| Ok(e.remove_image(&name, force)?))
        .await?;
    let rows: Vec<Value> = removed
        .into_iter()
        .map(|r| match r {
            berth_engine::image::Removed::Untagged(t) => json!({ "Untagged": t }),
            berth_engine::image::Removed::Deleted(d) => json!({ "Deleted": d.to_string() }),
        })
        .collect();
    reply::ok_json(&Value::Array(rows))
}

/// `GET /volumes`: `{"Volumes": [...], "Warnings": []}`.
pub async fn volumes(server: &Server, q: &Query) -> ApiResult {
    let pairs: Vec<(String, String)> = filters(q)?
        .into_iter()
        .map(|f| {
            let (k, v) = f.split_once('=').unwrap_or((&f, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let list = server
        .engine(move |e| {
            let f = VolumeFilters::new(&pairs)?;
            let vols = e.volumes(&f)?;
            Ok(vols
                .iter()
                .map(|v| e.inspect_volume_json(v))
                .collect::<Vec<_>>())
        })
        .await?;
    reply::ok_json(&json!({ "Volumes": list, "Warnings": [] }))
}

/// `POST /volumes/create`: 201 with the volume.
pub async fn create_volume(server: &Server, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let map = |v: &Value| -> BTreeMap<String, String> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let o = VolumeCreate {
        name: body["Name"].as_str().unwrap_or("").to_owned(),
        driver: body["Driver"].as_str().unwrap_or("").to_owned(),
        options: map(&body["DriverOpts"]),
        labels: map(&body["Labels"]),
    };
    let v = server
        .engine(move |e| {
            let v = e.create_volume(&o)?;
            Ok(e.inspect_volume_json(&v))
        })
        .await?;
    Ok(reply::json(StatusCode::CREATED, &v))
}

/// `GET /volumes/{name}`.
pub async fn volume(server: &Server, name: &str) -> ApiResult {
    let name = name.to_owned();
    let v = server
        .engine(move |e| {
            let v = e.volume(&name)?;
            Ok(e.inspect_volume_json(&v))
        })
        .await?;
    reply::ok_json(&v)
}

/// `DELETE /volumes/{name}?force=`.
pub async fn remove_volume(server: &Server, name: &str, q: &Query) -> ApiResult {
    let name = name.to_owned();
    let force = q.bool("force");
    server
        .engine(move |e| Ok(e.remove_volume(&name, force)?))
        .await?;
    reply::no_content()
}

/// `POST /volumes/prune?filters=`: `{"VolumesDeleted", "SpaceReclaimed"}`.
/// API 1.41 prunes every unused local volume (1.42 made anonymous ones
/// the default, `all=true` for the rest): the engine's `all` filter.
pub async fn prune_volumes(server: &Server, q: &Query) -> ApiResult {
    let mut pairs = crate::networks::filter_pairs(q)?;
    if !pairs.iter().any(|(k, _)| k == "all") {
        pairs.push(("all".into(), "true".into()));
    }
    let pruned = server
        .engine(move |e| {
            let filter = VolumePruneFilter::new(&pairs)?;
            Ok(e.prune_volumes(&filter)?)
        })
        .await?;
    reply::ok_json(&json!({
        "VolumesDeleted": pruned.names,
        "SpaceReclaimed": pruned.bytes,
    }))
}

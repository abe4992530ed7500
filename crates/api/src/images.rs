//! The image endpoints: list, inspect, history, prune and commit here;
//! pull, push, import and `/auth` in `registry`, save and load in
//! `archive`; `stream` holds dockerd's streamed answers they share.

pub mod archive;
pub mod registry;
pub mod stream;

use berth_engine::image::{CommitRequest, ImageFilters};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

use crate::containers::filters;
use crate::reply::{self, ApiError, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// `GET /images/json?all=&filters=`: intermediate build images only with
/// `all`; Docker's filters (dangling, label, reference, before, since).
pub async fn list(server: &Server, q: &Query) -> ApiResult {
    let all = q.bool("all");
    let mut raw = filters(q)?;
    // API < 1.25: `filter=` is a reference pattern.
    if let Some(f) = q.get("filter").filter(|f| !f.is_empty()) {
        raw.push(format!("reference={f}"));
    }
    let rows = server
        .engine(move |e| {
            let f = ImageFilters::parse(&raw)?;
            let images = e.list_images_filtered(all, &f)?;
            let containers = e.list()?;
            Ok(images
                .into_iter()
                .map(|i| {
                    let id = i.id.to_string();
                    let tags: Vec<String> = i.tags.iter().map(|t| t.familiar()).collect();
                    let digests = berth_engine::image::repo_digests(&i.tags, &i.manifest.digest);
                    let created = berth_engine::image::time::parse_rfc3339(&i.created).unwrap_or(0);
                    let users = containers.iter().filter(|c| c.image_id == id).count();
                    json!({
                        "Id": id,
                        "ParentId": "",
                        "RepoTags": if tags.is_empty() { json!(["<none>:<none>"]) } else { json!(tags) },
                        "RepoDigests": if digests.is_empty() { json!(["<none>@<none>"]) } else { json!(digests) },
                        "Created": created,
                        "Size": i.size,
                        "VirtualSize": i.size,
                        "SharedSize": -1,
                        "Labels": if i.labels.is_empty() { Value::Null } else { json!(i.labels) },
                        "Containers": users,
                    })
                })
                .collect::<Vec<_>>())
        })
        .await?;
    reply::ok_json(&Value::Array(rows))
}

/// `GET /images/{name}/json`: `berth image inspect`'s document.
pub async fn inspect(server: &Server, name: &str) -> ApiResult {
    let name = name.to_owned();
    let v = server
        .engine(move |e| Ok(e.inspect_image_json(&name)?))
        .await?;
    reply::ok_json(&v)
}

/// `GET /images/{name}/history`: newest first, the image's id on the
/// top step and `<missing>` below it (steps berth keeps no image for),
/// as dockerd shows a pulled image.
pub async fn history(server: &Server, name: &str) -> ApiResult {
    let name = name.to_owned();
    let (id, steps, tags) = server
        .engine(move |e| {
            let (id, steps) = e.image_history(&name)?;
            let tags = e.inspect_image(&name)?.tags;
            Ok((id, steps, tags))
        })
        .await?;
    let mut rows: Vec<Value> = steps
        .iter()
        .rev()
        .map(|h| {
            json!({
                "Id": "<missing>",
                "Created": berth_engine::image::time::parse_rfc3339(&h.created).unwrap_or(0),
                "CreatedBy": h.created_by,
                "Tags": Value::Null,
                "Size": h.size,
                "Comment": h.comment,
            })
        })
        .collect();
    if let Some(top) = rows.first_mut() {
        top["Id"] = json!(id.to_string());
        if !tags.is_empty() {
            top["Tags"] = json!(tags.iter().map(|t| t.familiar()).collect::<Vec<_>>());
        }
    }
    reply::ok_json(&Value::Array(rows))
}

/// `POST /images/prune?filters=`: `dangling=true` (the default: images
/// without a tag) or `dangling=false` (every image no container uses).
pub async fn prune(server: &Server, q: &Query) -> ApiResult {
    let mut all = false;
    for f in filters(q)? {
        match f.split_once('=') {
            Some(("dangling", v)) => {
                all = matches!(v.to_lowercase().as_str(), "false" | "0");
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "image prune filter {f:?} is not supported by berth (dangling=true|false is)"
                )))
            }
        }
    }
    let (removed, bytes) = server.engine(move |e| Ok(e.prune_images(all)?)).await?;
    let deleted: Vec<Value> = removed
        .iter()
        .map(|d| json!({ "Deleted": d.to_string() }))
        .collect();
    reply::ok_json(&json!({
        "ImagesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
        "SpaceReclaimed": bytes,
    }))
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`:
/// 201 `{"Id": ...}`. A container config in the body (dockerd merges it
/// into the image's) is refused: `changes` says the same.
pub async fn commit(server: &Server, req: Request<Incoming>, q: &Query) -> ApiResult {
    let container = q.get("container").unwrap_or("").to_owned();
    if container.is_empty() {
        return Err(ApiError::bad_request("container is required"));
    }
    let body = stream::spool_body(req).await?;
    let config: Value =
        serde_json::from_reader(std::io::BufReader::new(body)).unwrap_or(Value::Null);
    let overrides: Vec<&String> = config
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| !matches!(v, Value::Null | Value::Bool(false)))
        .filter(|(_, v)| v.as_str() != Some("") && v.as_array().is_none_or(|a| !a.is_empty()))
        .filter(|(_, v)| v.as_object().is_none_or(|o| !o.is_empty()))
        .map(|(k, _)| k)
        .collect();
    if !overrides.is_empty() {
        return Err(ApiError::bad_request(format!(
            "a container config in the commit's body is not supported by berth ({}): use changes",
            overrides
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let reference = match (q.get("repo").unwrap_or(""), q.get("tag").unwrap_or("")) {
        ("", _) => None,
        (r, "") => Some(r.to_owned()),
        (r, t) => Some(format!("{r}:{t}")),
    };
    let request = CommitRequest {
        reference,
        changes: q.all("changes").into_iter().map(str::to_owned).collect(),
        author: q.get("author").filter(|a| !a.is_empty()).map(str::to_owned),
        comment: q
            .get("comment")
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        pause: q.bool("pause"),
    };
    let id = server
        .engine(move |e| {
            let c = e.find(&container)?;
            Ok(e.commit_container(&c, &request)?)
        })
        .await?;
    Ok(reply::json(
        StatusCode::CREATED,
        &json!({ "Id": id.to_string() }),
    ))
}

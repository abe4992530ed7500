//! The image endpoints.

use serde_json::{json, Value};

use crate::reply::{self, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// `GET /images/json?all=`: intermediate build images only with `all`.
pub async fn list(server: &Server, q: &Query) -> ApiResult {
    let all = q.bool("all");
    let rows = server
        .engine(move |e| {
            let images = e.list_images()?;
            let containers = e.list()?;
            Ok(images
                .into_iter()
                .filter(|i| all || !i.intermediate)
                .map(|i| {
                    let id = i.id.to_string();
                    let tags: Vec<String> = i.tags.iter().map(|t| t.familiar()).collect();
                    let created = berth_engine::image::time::parse_rfc3339(&i.created).unwrap_or(0);
                    let users = containers.iter().filter(|c| c.image_id == id).count();
                    json!({
                        "Id": id,
                        "ParentId": "",
                        "RepoTags": if tags.is_empty() { Value::Null } else { json!(tags) },
                        "RepoDigests": [],
                        "Created": created,
                        "Size": i.size,
                        "VirtualSize": i.size,
                        "SharedSize": -1,
                        "Labels": Value::Null,
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

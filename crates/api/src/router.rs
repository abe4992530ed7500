//! Routing as dockerd routes: every path with or without a `/v1.NN`
//! prefix (a version outside what berth serves is 400 with dockerd's
//! words), percent-decoded, matched by its fixed parts (image names hold
//! `/` and `:`), unknown paths 404 `page not found`.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

use crate::reply::{self, ApiError, ApiResult, Reply};
use crate::server::Server;
use crate::{containers, images, networks, objects, system, API_VERSION, MIN_API_VERSION};

/// A request's query string, decoded.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        Query(
            q.unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key (`t`, `changes`, `names`), in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A `since`/`until` value (unix time, RFC 3339 or a duration ago, as
    /// dockerd's `GetTimestamp`) in nanoseconds; a bad one is 400.
    pub fn time(&self, key: &str) -> Result<Option<i128>, ApiError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => {
                let now = i128::from(berth_engine::model::event::now_nanos());
                Ok(Some(berth_engine::model::time::parse_time(v, now)?))
            }
        }
    }

    /// dockerd's `BoolValue`: "", 0, no, false, none are false.
    pub fn bool(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| {
            !matches!(
                v.trim().to_lowercase().as_str(),
                "" | "0" | "no" | "false" | "none"
            )
        })
    }
}

/// Percent-decoding of a path or query part.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn version_tuple(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Splits `/v1.41/containers/json` into the version and the rest.
fn split_version(path: &str) -> Result<(Option<&str>, &str), ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((None, path));
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let v = &rest[..end];
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return Ok((None, path));
    }
    let (Some(asked), Some(min), Some(max)) = (
        version_tuple(v),
        version_tuple(MIN_API_VERSION),
        version_tuple(API_VERSION),
    ) else {
        return Err(ApiError::bad_request(format!("invalid API version {v:?}")));
    };
    if asked < min {
        return Err(ApiError::bad_request(format!("client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version")));
    }
    if asked > max {
        return Err(ApiError::bad_request(format!(
            "client version {v} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    Ok((Some(v), &rest[end..]))
}

/// Answers one request.
pub async fn route(server: Arc<Server>, req: Request<Incoming>) -> Reply {
    let path = decode(req.uri().path());
    let (_, rest) = match split_version(&path) {
        Ok(v) => v,
        Err(e) => return crate::server::failed(&server, &e),
    };
    let rest = rest.to_owned();
    let query = Query::parse(req.uri().query());
    let experimental = server.experimental;
    let result = dispatch(server, req, &rest, query).await;
    reply::with_headers(
        match result {
            Ok(r) => r,
            Err(e) => reply::error(&e),
        },
        experimental,
    )
}

async fn dispatch(server: Arc<Server>, req: Request<Incoming>, path: &str, q: Query) -> ApiResult {
    let method = req.method().clone();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let m = |want: &Method| method == *want;
    match (parts.as_slice(), &method) {
        (["_ping"], &Method::GET) | (["_ping"], &Method::HEAD) => Ok(system::ping(&method)),
        (["version"], &Method::GET) => system::version(&server).await,
        (["info"], &Method::GET) => system::info(&server).await,
        (["containers", "json"], &Method::GET) => containers::list(&server, &q).await,
        (["containers", "create"], &Method::POST) => containers::create(&server, req, &q).await,
        (["containers", id, "json"], &Method::GET) => containers::inspect(&server, id, &q).await,
        (["containers", id, "start"], &Method::POST) => containers::start(&server, id, &q).await,
        (["containers", id, "wait"], &Method::POST) => containers::wait(&server, id, &q).await,
        (["containers", id, "stop"], &Method::POST) => containers::stop(&server, id, &q).await,
        (["containers", id, "restart"], &Method::POST) => containers::restart(&server, id, &q).await,
        (["containers", id, "kill"], &Method::POST) => containers::kill(&server, id, &q).await,
        (["containers", id, "logs"], &Method::GET) => containers::logs(&server, id, &q).await,
        (["containers", id, "attach"], &Method::POST) => {
            crate::attach::attach(server.clone(), req, id, &q).await
        }
        (["containers", id, "resize"], &Method::POST) => containers::resize(&server, id, &q).await,
        (["containers", id], &Method::DELETE) => containers::remove(&server, id, &q).await,
        (["containers", "prune"], &Method::POST) => containers::live::prune(&server, &q).await,
        (["containers", id, "stats"], &Method::GET) => {
            containers::stats::stats(&server, id, &q).await
        }
        (["containers", id, "top"], &Method::GET) => containers::live::top(&server, id, &q).await,
        (["containers", id, "update"], &Method::POST) => {
            containers::live::update(&server, req, id).await
        }
        (["containers", id, "changes"], &Method::GET) => containers::live::changes(&server, id).await,
        (["containers", id, "export"], &Method::GET) => containers::archive::export(&server, id).await,
        (["containers", id, "archive"], &Method::HEAD) => {
            containers::archive::head(&server, id, &q).await
        }
        (["containers", id, "archive"], &Method::GET) => {
            containers::archive::get(&server, id, &q).await
        }
        (["containers", id, "archive"], &Method::PUT) => {
            containers::archive::put(&server, req, id, &q).await
        }
        (["containers", id, "checkpoints"], &Method::GET) => {
            containers::checkpoint::list(&server, id, &q).await
        }
        (["containers", id, "checkpoints"], &Method::POST) => {
            containers::checkpoint::create(&server, req, id).await
        }
        (["containers", id, "checkpoints", name], &Method::DELETE) => {
            containers::checkpoint::remove(&server, id, name, &q).await
        }
        (["containers", id, "exec"], &Method::POST) => crate::exec::create(&server, req, id).await,
        (["exec", id, "start"], &Method::POST) => crate::exec::start(server.clone(), req, id).await,
        (["exec", id, "json"], &Method::GET) => crate::exec::inspect(&server, id).await,
        (["exec", id, "resize"], &Method::POST) => {
            let rows = q.get("h").and_then(|v| v.parse().ok()).unwrap_or(0);
            let cols = q.get("w").and_then(|v| v.parse().ok()).unwrap_or(0);
            crate::exec::resize(&server, id, rows, cols).await
        }
        (["containers", id, "pause"], &Method::POST) => objects::pause(&server, id, true).await,
        (["containers", id, "unpause"], &Method::POST) => objects::pause(&server, id, false).await,
        (["containers", id, "rename"], &Method::POST) => objects::rename(&server, id, &q).await,
        (["volumes"], &Method::GET) => objects::volumes(&server, &q).await,
        (["volumes", "create"], &Method::POST) => objects::create_volume(&server, req).await,
        (["volumes", name], &Method::GET) => objects::volume(&server, name).await,
        (["volumes", name], &Method::DELETE) => objects::remove_volume(&server, name, &q).await,
        (["system", "df"], &Method::GET) => system::df(&server).await,
        // berth has no plugins: dockerd without any answers an empty list.
        (["plugins"], &Method::GET) => reply::ok_json(&serde_json::json!([])),
        (["events"], &Method::GET) => crate::events::events(&server, &q).await,
        (["volumes", "prune"], &Method::POST) => objects::prune_volumes(&server, &q).await,
        (["networks"], &Method::GET) => networks::list(&server, &q).await,
        (["networks", "create"], &Method::POST) => networks::create(&server, req).await,
        (["networks", "prune"], &Method::POST) => networks::prune(&server, &q).await,
        (["networks", id], &Method::GET) => networks::inspect(&server, id).await,
        (["networks", id], &Method::DELETE) => networks::remove(&server, id).await,
        (["networks", id, "connect"], &Method::POST) => networks::connect(&server, id, req).await,
        (["networks", id, "disconnect"], &Method::POST) => {
            networks::disconnect(&server, id, req).await
        }
        (["images", "json"], &Method::GET) => images::list(&server, &q).await,
        (["images", "create"], &Method::POST) => images::registry::create(&server, req, &q).await,
        (["images", "get"], &Method::GET) => {
            let names = q.all("names").into_iter().map(str::to_owned).collect();
            images::archive::save(&server, names).await
        }
        (["images", "load"], &Method::POST) => images::archive::load(&server, req, &q).await,
        (["images", "prune"], &Method::POST) => images::prune(&server, &q).await,
        (["commit"], &Method::POST) => images::commit(&server, req, &q).await,
        (["auth"], &Method::POST) => images::registry::auth(&server, req).await,
        (["build"], &Method::POST) => crate::build::build(&server, req, &q).await,
        _ if m(&Method::POST) && path.starts_with("/images/") && path.ends_with("/push") => {
            let name = &path["/images/".len()..path.len() - "/push".len()];
            images::registry::push(&server, req.headers(), name, &q).await
        }
        _ if m(&Method::GET) && path.starts_with("/images/") && path.ends_with("/history") => {
            let name = &path["/images/".len()..path.len() - "/history".len()];
            images::history(&server, name).await
        }
        _ if m(&Method::GET) && path.starts_with("/images/") && path.ends_with("/get") => {
            let name = &path["/images/".len()..path.len() - "/get".len()];
            images::archive::save(&server, vec![name.to_owned()]).await
        }
        _ if m(&Method::POST) && path.starts_with("/images/") && path.ends_with("/tag") => {
            let name = &path["/images/".len()..path.len() - "/tag".len()];
            objects::tag(&server, name, &q).await
        }
        _ if m(&Method::DELETE) && path.starts_with("/images/") => {
            objects::remove_image(&server, &path["/images/".len()..], &q).await
        }
        _ if m(&Method::GET) && path.starts_with("/images/") && path.ends_with("/json") => {
            let name = &path["/images/".len()..path.len() - "/json".len()];
            images::inspect(&server, name).await
        }
        // What a dockerd outside a swarm answers.
        ([first, ..], _)
            if matches!(
                *first,
                "swarm" | "services" | "nodes" | "tasks" | "secrets" | "configs"
            ) =>
        {
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.",
            ))
        }
        _ => Err(ApiError::not_found("page not found")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_as_dockerd_checks_them() {
        assert_eq!(
            split_version("/v1.41/containers/json").unwrap(),
            (Some("1.41"), "/containers/json")
        );
        assert_eq!(split_version("/_ping").unwrap(), (None, "/_ping"));
        assert_eq!(split_version("/version").unwrap(), (None, "/version"));
        assert_eq!(
            split_version("/v1.45/x").unwrap_err().message,
            "client version 1.45 is too new. Maximum supported API version is 1.41"
        );
        assert!(split_version("/v1.12/x")
            .unwrap_err()
            .message
            .contains("is too old"));
    }

    #[test]
    fn queries_decode_and_bools_read_as_dockerd() {
        let q = Query::parse(Some("all=1&filters=%7B%22a%22%3A1%7D&x=False&y=&name=a+b"));
        assert!(q.bool("all"));
        assert!(!q.bool("x"));
        assert!(!q.bool("y"));
        assert!(!q.bool("missing"));
        assert_eq!(q.get("filters"), Some("{\"a\":1}"));
        assert_eq!(q.get("name"), Some("a b"));
    }
}

//! `POST /images/create` (pull, or import with `fromSrc=-`), `POST
//! /images/{name}/push` and `POST /auth`, over the engine's
//! `pull_image_with`, `import_image`, `push_image_with` and
//! `check_login`, with dockerd's JSON progress lines.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;
use berth_engine::image::{
    registry_host, Credentials, Digest, Direction, Event, ImportOptions, Platform, Progress,
    Reference, RegistryAccess,
};
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, StatusCode};
use serde_json::{json, Value};

use super::stream::{self, Sink};
use crate::reply::{self, ApiError, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// `X-Registry-Auth`: base64url JSON `AuthConfig`. As dockerd, an
/// undecodable header is ignored (no credentials), and only a user name
/// and password are used.
pub fn credentials(headers: &HeaderMap, name: &str) -> Option<Credentials> {
    auth_config(&header_json(headers, name)?)
}

/// `X-Registry-Config` (a build's): base64url JSON of `AuthConfig`s by
/// registry, keyed by host as berth keys credentials. Undecodable
/// entries are left out, as dockerd ignores them.
pub fn registry_config(headers: &HeaderMap) -> BTreeMap<String, Credentials> {
    let Some(Value::Object(m)) = header_json(headers, "X-Registry-Config") else {
        return BTreeMap::new();
    };
    m.iter()
        .filter_map(|(k, v)| Some((server_host(k), auth_config(v)?)))
        .collect()
}

fn header_json(headers: &HeaderMap, name: &str) -> Option<Value> {
    let raw = headers.get(name)?.to_str().ok()?.trim();
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A server address as clients write it (`https://index.docker.io/v1/`,
/// `127.0.0.1:5000`) → the registry host berth keys it by.
fn server_host(address: &str) -> String {
    // The docker CLI's name for Docker Hub.
    if address.is_empty() || address.contains("index.docker.io") {
        "docker.io".to_owned()
    } else {
        registry_host(address)
    }
}

/// The user name and password of an `AuthConfig`: given, or in `auth`
/// (`user:password` in base64).
fn auth_config(v: &Value) -> Option<Credentials> {
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (mut username, mut password) = (field("username"), field("password"));
    if username.is_empty() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(field("auth"))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())?;
        let (u, p) = decoded.split_once(':')?;
        (username, password) = (u.to_owned(), p.to_owned());
    }
    (!username.is_empty()).then_some(Credentials { username, password })
}

/// The registry a reference lives on (`127.0.0.1:5000`, `docker.io`).
fn domain(r: &Reference) -> &str {
    r.name.split_once('/').map_or(r.name.as_str(), |(d, _)| d)
}

/// The path of a name without its registry: `library/busybox`.
fn remote_path(r: &Reference) -> &str {
    r.name.split_once('/').map_or(r.name.as_str(), |(_, p)| p)
}

fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// Pull and push events as dockerd's progress lines. The first line
/// (`Pulling from`, `The push refers to`) goes out with the first event,
/// so an error found before any blob moves (no such repository, no such
/// local image) is an ordinary error reply.
struct Lines {
    sink: Sink,
    direction: Direction,
    header: Value,
    started: AtomicBool,
}

impl Lines {
    fn begin(&self) {
        if !self.started.swap(true, Ordering::SeqCst) {
            self.sink.json(&self.header);
        }
    }
}

impl Progress for Lines {
    fn event(&self, blob: &Digest, event: Event) {
        self.begin();
        let id = blob.short();
        match (&event, event.docker_status(self.direction)) {
            (Event::Bytes { done, total }, _) => {
                let word = match self.direction {
                    Direction::Pull => "Downloading",
                    Direction::Push => "Pushing",
                };
                self.sink.json(&json!({
                    "status": word,
                    "progressDetail": { "current": done, "total": total },
                    "progress": progress_bar(*done, *total),
                    "id": id,
                }));
            }
            (_, Some(status)) => {
                self.sink
                    .json(&json!({ "status": status, "progressDetail": {}, "id": id }));
            }
            (_, None) => {}
        }
    }
}

/// The bar dockerd puts in `progress` (`[==>   ] 1.2MB/3.4MB`), for
/// clients that print it as text.
fn progress_bar(done: u64, total: u64) -> String {
    const WIDTH: u64 = 50;
    if total == 0 {
        return human(done);
    }
    let filled = (done.min(total) * WIDTH / total) as usize;
    let mut bar = "=".repeat(filled);
    if filled < WIDTH as usize {
        bar.push('>');
    }
    format!(
        "[{bar:<w$}] {}/{}",
        human(done),
        human(total),
        w = WIDTH as usize
    )
}

/// go-units' `HumanSize`: decimal units, about three significant digits.
fn human(n: u64) -> String {
    if n < 1000 {
        return format!("{n}B");
    }
    let units = ["kB", "MB", "GB", "TB"];
    let mut v = n as f64 / 1000.0;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{}", units[i])
}

/// `POST /images/create?fromImage=&tag=` (pull) or `?fromSrc=-` (import
/// of the body).
pub async fn create(server: &Server, req: Request<Incoming>, q: &Query) -> ApiResult {
    let platform = q
        .get("platform")
        .filter(|p| !p.is_empty())
        .map(Platform::parse)
        .transpose()
        .map_err(bad)?;
    match (q.get("fromImage"), q.get("fromSrc")) {
        (Some(image), _) if !image.is_empty() => {
            pull(server, req.headers(), image, q.get("tag").unwrap_or(""), platform).await
        }
        (_, Some("-")) => import(server, req, q, platform).await,
        (_, Some(src)) if !src.is_empty() => Err(ApiError::bad_request(format!(
            "fromSrc={src}: importing from a URL is not supported by berth; send the tar as the body with fromSrc=-"
        ))),
        _ => Err(ApiError::bad_request(
            "fromImage or fromSrc=- is required",
        )),
    }
}

/// dockerd's reference of `fromImage` and `tag` (a tag or a digest).
fn pull_reference(image: &str, tag: &str) -> Result<Reference, ApiError> {
    // `pull -a` may send a trailing `:`.
    let image = image.trim_end_matches(':');
    let text = if tag.is_empty() {
        image.to_owned()
    } else if tag.contains(':') {
        format!("{image}@{tag}")
    } else {
        format!("{image}:{tag}")
    };
    Reference::parse(&text).map_err(bad)
}

async fn pull(
    server: &Server,
    headers: &HeaderMap,
    image: &str,
    tag: &str,
    platform: Option<Platform>,
) -> ApiResult {
    let reference = pull_reference(image, tag)?;
    let mut access = RegistryAccess::daemon_default(domain(&reference));
    access.credentials = credentials(headers, "X-Registry-Auth");
    stream::respond(server, "application/json", move |e, sink| {
        let by = match (&reference.digest, &reference.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        };
        let lines = Lines {
            sink: sink.clone(),
            direction: Direction::Pull,
            header: json!({
                "status": format!("Pulling from {}", remote_path(&reference)),
                "id": by,
            }),
            started: AtomicBool::new(false),
        };
        let pulled = e.pull_image_with(&reference, platform, &access, &lines)?;
        lines.begin();
        sink.status(&format!("Digest: {}", pulled.digest), None);
        let status = if pulled.downloaded {
            "Downloaded newer image for"
        } else {
            "Image is up to date for"
        };
        sink.status(&format!("Status: {status} {}", reference.familiar()), None);
        Ok(())
    })
    .await
}

async fn import(
    server: &Server,
    req: Request<Incoming>,
    q: &Query,
    platform: Option<Platform>,
) -> ApiResult {
    let repo = q.get("repo").unwrap_or("");
    let name = match (repo, q.get("tag").unwrap_or("")) {
        ("", _) => None,
        (r, "") => Some(Reference::parse(r).map_err(bad)?),
        (r, t) => Some(Reference::parse(&format!("{r}:{t}")).map_err(bad)?),
    };
    let opts = ImportOptions {
        changes: q.all("changes").into_iter().map(str::to_owned).collect(),
        comment: Some(
            q.get("message")
                .filter(|m| !m.is_empty())
                .map_or_else(|| "Imported from -".to_owned(), str::to_owned),
        ),
        platform,
    };
    let body = stream::spool_body(req).await?;
    stream::respond(server, "application/json", move |e, sink| {
        let id = e.import_image(std::io::BufReader::new(body), name.as_ref(), &opts)?;
        sink.status(&id.to_string(), None);
        Ok(())
    })
    .await
}

/// `POST /images/{name}/push?tag=`. Without a tag (`push -a`), every
/// local tag of the repository, as dockerd pushes them.
pub async fn push(server: &Server, headers: &HeaderMap, name: &str, q: &Query) -> ApiResult {
    let text = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{name}:{t}"),
        None => name.to_owned(),
    };
    let named = Reference::parse_name_only(&text).map_err(bad)?;
    if named.digest.is_some() {
        return Err(ApiError::bad_request(format!(
            "cannot push a digest reference: {text}"
        )));
    }
    let mut access = RegistryAccess::daemon_default(domain(&named));
    access.credentials = credentials(headers, "X-Registry-Auth");
    stream::respond(server, "application/json", move |e, sink| {
        let references = match &named.tag {
            Some(_) => vec![named.clone()],
            None => {
                let mut tags: Vec<Reference> = e
                    .list_images()?
                    .into_iter()
                    .flat_map(|i| i.tags)
                    .filter(|t| t.name == named.name && t.tag.is_some())
                    .collect();
                tags.sort_by(|a, b| a.tag.cmp(&b.tag));
                if tags.is_empty() {
                    return Err(ApiError::not_found(format!(
                        "An image does not exist locally with the tag: {}",
                        named.familiar_name()
                    )));
                }
                tags
            }
        };
        let lines = Lines {
            sink: sink.clone(),
            direction: Direction::Push,
            header: json!({
                "status": format!("The push refers to repository [{}]", named.familiar_name()),
            }),
            started: AtomicBool::new(false),
        };
        for reference in references {
            let pushed = e.push_image_with(&reference, &access, &lines)?;
            lines.begin();
            sink.status(
                &format!(
                    "{}: digest: {} size: {}",
                    pushed.tag, pushed.digest, pushed.size
                ),
                None,
            );
            sink.json(&json!({
                "progressDetail": {},
                "aux": { "Tag": pushed.tag, "Digest": pushed.digest.to_string(), "Size": pushed.size },
            }));
        }
        Ok(())
    })
    .await
}

/// `POST /auth`: checks the credentials with the registry, stores
/// nothing (the client keeps them). 401 when the registry refuses them.
pub async fn auth(server: &Server, req: Request<Incoming>) -> ApiResult {
    let body = crate::containers::json_body(req).await?;
    let creds = auth_config(&body)
        .ok_or_else(|| ApiError::bad_request("a username and password are required"))?;
    let address = body
        .get("serveraddress")
        .and_then(Value::as_str)
        .unwrap_or("");
    let host = server_host(address);
    let tls_verify = RegistryAccess::daemon_default(&host).tls_verify;
    let checked = server
        .engine(move |e| match e.check_login(&host, tls_verify, creds) {
            Err(err) if err.is_unauthorized() => Ok(Err(err.to_string())),
            Err(err) => Err(err.into()),
            Ok(()) => Ok(Ok(())),
        })
        .await?;
    match checked {
        Ok(()) => reply::ok_json(&json!({ "Status": "Login Succeeded", "IdentityToken": "" })),
        Err(message) => Err(ApiError::new(StatusCode::UNAUTHORIZED, message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_headers_decode_as_dockerd_reads_them() {
        let mut h = HeaderMap::new();
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE.encode(v);
        h.insert(
            "X-Registry-Auth",
            enc(r#"{"username":"u","password":"p?>","serveraddress":"r"}"#)
                .parse()
                .unwrap(),
        );
        let c = credentials(&h, "X-Registry-Auth").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p?>"));
        h.insert("X-Registry-Auth", enc("{}").parse().unwrap());
        assert!(credentials(&h, "X-Registry-Auth").is_none());
        h.insert("X-Registry-Auth", "not base64!".parse().unwrap());
        assert!(credentials(&h, "X-Registry-Auth").is_none());
        h.insert(
            "X-Registry-Config",
            enc(r#"{"https://index.docker.io/v1/":{"username":"d","password":"h"},"127.0.0.1:5000":{"username":"l","password":"p"},"bad":{}}"#)
                .parse()
                .unwrap(),
        );
        let config = registry_config(&h);
        assert_eq!(
            config.keys().collect::<Vec<_>>(),
            ["127.0.0.1:5000", "docker.io"]
        );
        assert_eq!(config["docker.io"].username, "d");
        let basic = base64::engine::general_purpose::STANDARD.encode("a:b:c");
        let c = auth_config(&json!({ "auth": basic })).unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("a", "b:c"));
    }

    #[test]
    fn pull_references_take_a_tag_or_a_digest() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            pull_reference("busybox", "1").unwrap().to_string(),
            "docker.io/library/busybox:1"
        );
        assert_eq!(
            pull_reference("busybox", &d).unwrap().to_string(),
            format!("docker.io/library/busybox@{d}")
        );
        assert_eq!(
            pull_reference("127.0.0.1:5000/a/b:", "")
                .unwrap()
                .to_string(),
            "127.0.0.1:5000/a/b:latest"
        );
    }

    #[test]
    fn progress_bars_read_as_dockerd_writes_them() {
        assert_eq!(human(999), "999B");
        assert_eq!(human(1_234_567), "1.23MB");
        let bar = progress_bar(50, 100);
        assert!(bar.starts_with("[=========================>"), "{bar}");
        assert!(bar.ends_with("] 50B/100B"), "{bar}");
    }
}

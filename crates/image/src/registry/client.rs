//! One registry host as the Distribution API v2 sees it: the scheme it
//! answers on, the authorization to send, and requests with retries.
//!
//! `connect` pings `/v2/` the way Docker does: the answer tells whether
//! the registry wants no auth, Basic auth (the stored credentials are sent
//! with every request) or a Bearer token (fetched from the challenge's
//! realm for the scopes the caller needs, with the stored credentials if
//! any, and fetched again once when a request is refused). HTTPS with
//! certificate verification is the default; with `tls_verify: false` the
//! certificate is not checked, and a registry that does not speak TLS is
//! reached over plain HTTP.

use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use ureq::http::{Request, Response};
use ureq::tls::TlsConfig;
use ureq::{Agent, Body, SendBody};

use super::auth::{AuthFile, Challenge, Credentials};
use crate::{Error, Result};

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Verify TLS certificates and refuse plain HTTP (the default).
    pub tls_verify: bool,
    /// Where `login` stored credentials.
    pub auth: AuthFile,
    /// Credentials given with the request (the API's `X-Registry-Auth`),
    /// used instead of the stored ones.
    pub credentials: Option<Credentials>,
    /// Extra attempts after a transient failure (connection lost, 5xx,
    /// 429), with exponential backoff.
    pub retries: u32,
}

impl RegistryOptions {
    pub fn new(auth: AuthFile) -> RegistryOptions {
        RegistryOptions {
            tls_verify: true,
            auth,
            credentials: None,
            retries: 4,
        }
    }
}

/// The host the API of a reference's domain lives on: Docker Hub's
/// `docker.io` is served by `registry-1.docker.io`.
pub fn api_host(domain: &str) -> &str {
    if domain == crate::reference::DEFAULT_DOMAIN {
        "registry-1.docker.io"
    } else {
        domain
    }
}

pub(crate) struct Client {
    agent: Agent,
    /// The domain as users write it (`127.0.0.1:5000`): the key of the
    /// credentials file and the name in messages.
    pub host: String,
    base: String,
    credentials: Option<Credentials>,
    challenge: Option<Challenge>,
    scopes: Vec<String>,
    authorization: Mutex<Option<String>>,
    retries: u32,
}

/// A request body that can be sent again on a retry.
#[derive(Clone, Copy)]
pub(crate) enum Payload<'a> {
    None,
    Bytes(&'a [u8]),
}

impl Client {
    /// Reaches `domain`, learns its auth scheme and authorizes for
    /// `scopes` (`repository:NAME:pull,push`).
    pub fn connect(domain: &str, opts: &RegistryOptions, scopes: Vec<String>) -> Result<Client> {
        Client::connect_with(domain, opts, scopes, None)
    }

    /// As [`Client::connect`], with credentials given rather than stored
    /// (`login` checks them before storing).
    pub fn connect_with(
        domain: &str,
        opts: &RegistryOptions,
        scopes: Vec<String>,
        credentials: Option<Credentials>,
    ) -> Result<Client> {
        let credentials = match credentials.or_else(|| opts.credentials.clone()) {
            Some(c) => Some(c),
            None => opts.auth.get(domain)?,
        };
        let agent = agent(opts.tls_verify);
        let host = api_host(domain);
        let mut client = Client {
            agent,
            host: domain.to_owned(),
            base: format!("https://{host}"),
            credentials,
            challenge: None,
            scopes,
            authorization: Mutex::new(None),
            retries: opts.retries,
        };
        let ping = match client.get_ping() {
            Ok(r) => r,
            Err(e) if !opts.tls_verify && not_tls(&e) => {
                client.base = format!("http://{host}");
                client.get_ping()?
            }
            Err(e) if not_tls(&e) => {
                return Err(Error::Registry {
                    registry: client.host.clone(),
                    action: "connect over HTTPS".into(),
                    reason: format!(
                        "{} (a plain-HTTP or self-signed registry needs --tls-verify=false)",
                        error_chain(&e)
                    ),
                })
            }
            Err(e) => return Err(e),
        };
        match ping.status().as_u16() {
            200..=299 => {}
            401 => {
                let challenge = www_authenticate(&ping).ok_or_else(|| Error::Registry {
                    registry: client.host.clone(),
                    action: "ping".into(),
                    reason: "401 without a Basic or Bearer challenge".into(),
                })?;
                client.challenge = Some(challenge);
                client.authorize(None)?;
            }
            _ => return Err(client.error(ping, "ping")),
        }
        Ok(client)
    }

    fn get_ping(&self) -> Result<Response<Body>> {
        let url = format!("{}/v2/", self.base);
        self.with_retries("reach", &url, || {
            self.agent
                .run(Request::get(&url).body(()).expect("a valid request"))
        })
    }

    /// Sets the authorization for the challenge: Basic credentials, or a
    /// Bearer token for our scopes (plus the scope a 401 asked for).
    fn authorize(&self, asked_scope: Option<&str>) -> Result<()> {
        let header = match &self.challenge {
            None => None,
            Some(Challenge::Basic) => self.credentials.as_ref().map(Credentials::basic_header),
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let mut scopes = self.scopes.clone();
                scopes.extend(scope.clone());
                scopes.extend(asked_scope.map(str::to_owned));
                scopes.sort();
                scopes.dedup();
                Some(format!(
                    "Bearer {}",
                    self.token(realm, service.as_deref(), &scopes)?
                ))
            }
        };
        *self.authorization.lock().expect("not poisoned") = header;
        Ok(())
    }

    /// Fetches a token from the realm (the token flow of the distribution
    /// spec): `GET realm?service=S&scope=A&scope=B`, Basic credentials if
    /// stored; the answer's `token` or `access_token`.
    fn token(&self, realm: &str, service: Option<&str>, scopes: &[String]) -> Result<String> {
        let mut url = realm.to_owned();
        let mut sep = if realm.contains('?') { '&' } else { '?' };
        for (k, v) in service
            .map(|s| ("service", s))
            .into_iter()
            .chain(scopes.iter().map(|s| ("scope", s.as_str())))
        {
            url.push(sep);
            url.push_str(k);
            url.push('=');
            url.push_str(&query_escape(v));
            sep = '&';
        }
        let resp = self.with_retries("get a token from", realm, || {
            let mut req = Request::get(&url);
            if let Some(c) = &self.credentials {
                req = req.header("Authorization", c.basic_header());
            }
            self.agent.run(req.body(()).expect("a valid request"))
        })?;
        match resp.status().as_u16() {
            200..=299 => {}
            401 | 403 => {
                return Err(Error::Unauthorized {
                    registry: self.host.clone(),
                    reason: format!("the token service {realm} refused the credentials"),
                })
            }
            _ => return Err(self.error(resp, "get a token")),
        }
        let mut resp = resp;
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| Error::Http {
                action: "read a token from",
                url: realm.to_owned(),
                source: e,
            })?;
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| Error::json("token answer", e))?;
        doc.get("token")
            .or_else(|| doc.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| Error::Registry {
                registry: self.host.clone(),
                action: "get a token".into(),
                reason: format!("{realm} answered without a token"),
            })
    }

    /// `https://host/v2/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v2/{path}", self.base)
    }

    /// Resolves a `Location` header (often relative) against the base.
    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            format!("{}/{location}", self.base)
        }
    }

    /// Sends a request whose body can be repeated, retrying transient
    /// failures and re-authorizing once after a 401. Any final status is
    /// returned for the caller to judge.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        payload: Payload<'_>,
    ) -> Result<Response<Body>> {
        let mut reauthorized = false;
        loop {
            let resp = self.with_retries(verb(method), url, || {
                let req = self.request(method, url, headers);
                match payload {
                    Payload::None => self.agent.run(req.body(()).expect("a valid request")),
                    Payload::Bytes(b) => self.agent.run(req.body(b).expect("a valid request")),
                }
            })?;
            if resp.status().as_u16() == 401 && !reauthorized && self.challenge.is_some() {
                reauthorized = true;
                let asked = match www_authenticate(&resp) {
                    Some(Challenge::Bearer { scope, .. }) => scope,
                    _ => None,
                };
                if matches!(self.challenge, Some(Challenge::Bearer { .. })) {
                    self.authorize(asked.as_deref())?;
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    /// Sends a streamed body once (the caller retries with a fresh reader).
    pub fn send_stream(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &mut dyn Read,
    ) -> Result<Response<Body>> {
        let req = self.request(method, url, headers);
        self.agent
            .run(
                req.body(SendBody::from_reader(body))
                    .expect("a valid request"),
            )
            .map_err(|e| Error::Http {
                action: verb(method),
                url: url.to_owned(),
                source: e,
            })
    }

    fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
    ) -> ureq::http::request::Builder {
        let mut req = Request::builder().method(method).uri(url);
        if let Some(a) = self.authorization.lock().expect("not poisoned").as_ref() {
            req = req.header("Authorization", a);
        }
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        req
    }

    /// Runs `attempt` until it succeeds with a non-transient status, with
    /// exponential backoff between tries.
    pub fn with_retries(
        &self,
        action: &'static str,
        url: &str,
        mut attempt: impl FnMut() -> std::result::Result<Response<Body>, ureq::Error>,
    ) -> Result<Response<Body>> {
        let mut tries = 0;
        loop {
            let result = attempt();
            let transient = match &result {
                Ok(r) => transient_status(r.status().as_u16()),
                Err(e) => transient_error(e),
            };
            if !transient || tries >= self.retries {
                return result.map_err(|e| Error::Http {
                    action,
                    url: url.to_owned(),
                    source: e,
                });
            }
            tracing::debug!(url, tries, "transient failure, retrying");
            std::thread::sleep(backoff(tries));
            tries += 1;
        }
    }

    /// How many extra attempts a caller doing its own retries may make.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The error a failed response stands for: 401/403 as unauthorized,
    /// else the registry's own `errors[0]` message or the status.
    pub fn error(&self, mut resp: Response<Body>, action: &str) -> Error {
        let status = resp.status();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                let e = v.get("errors")?.get(0)?;
                let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
                let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
                Some(format!("{}: {msg}", code.to_lowercase()))
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        if status.as_u16() == 401 || status.as_u16() == 403 {
            let reason = if self.credentials.is_none() {
                format!(
                    "{message} (no credentials stored: run `berth login {}`)",
                    self.host
                )
            } else {
                message
            };
            return Error::Unauthorized {
                registry: self.host.clone(),
                reason,
            };
        }
        Error::Registry {
            registry: self.host.clone(),
            action: action.to_owned(),
            reason: message,
        }
    }
}

fn agent(tls_verify: bool) -> Agent {
    let tls = TlsConfig::builder()
        .disable_verification(!tls_verify)
        .build();
    Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .https_only(tls_verify)
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .timeout_per_read(Some(Duration::from_secs(120)))
        .max_idle_connections_per_host(8)
        .build()
        .new_agent()
}

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn www_authenticate(resp: &Response<Body>) -> Option<Challenge> {
    resp.headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(Challenge::parse)
}

/// A failure that says the server does not speak TLS (so plain HTTP is
/// worth a try when the user allowed it).
fn not_tls(e: &Error) -> bool {
    matches!(
        e,
        Error::Http {
            source: ureq::Error::Rustls(_)
                | ureq::Error::Tls(_)
                | ureq::Error::Io(_)
                | ureq::Error::Protocol(_),
            ..
        }
    )
}

fn transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Connection trouble worth another try; a TLS failure (rustls reports
/// it as `InvalidData`) is not.
pub(crate) fn transient_error(e: &ureq::Error) -> bool {
    if let ureq::Error::Io(io) = e {
        return io.kind() != std::io::ErrorKind::InvalidData;
    }
    matches!(
        e,
        ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::BodyStalled
            | ureq::Error::Protocol(_)
    )
}

/// 250 ms, 500 ms, 1 s, 2 s, then 4 s.
pub(crate) fn backoff(tries: u32) -> Duration {
    Duration::from_millis(250u64 << tries.min(4))
}

fn verb(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "POST" => "POST",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "send a request to",
    }
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_scopes() {
        assert_eq!(
            query_escape("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }

    #[test]
    fn docker_hub_api_host() {
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}

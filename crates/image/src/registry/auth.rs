//! Registry authentication: parsing a `WWW-Authenticate` challenge, and
//! the credentials file `berth login` writes.
//!
//! The file has Docker's `config.json` shape, `{"auths": {"HOST":
//! {"auth": base64("user:password")}}}`, so `skopeo --authfile` and
//! `docker --config` read it too. It lives at `<berth root>/auth.json`,
//! mode 0600, replaced atomically; keys other than `auths` are kept.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::{Error, Result};

/// A user name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

impl Credentials {
    /// The value of an `Authorization: Basic` header.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            BASE64.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// What a registry's `WWW-Authenticate` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses `Basic realm="x"` or `Bearer realm="...",service="...",
    /// scope="..."`; `None` for schemes berth does not speak.
    pub fn parse(header: &str) -> Option<Challenge> {
        let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = parse_params(rest);
        Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        })
    }
}

/// `key="value", key2=value2` (quoted values may hold commas).
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    out
}

/// The credentials file.
#[derive(Debug, Clone)]
pub struct AuthFile {
    path: PathBuf,
}

impl AuthFile {
    /// `<root>/auth.json`.
    pub fn in_root(root: &Path) -> AuthFile {
        AuthFile {
            path: root.join("auth.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn bad(&self, reason: impl Into<String>) -> Error {
        Error::AuthFile {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn read(&self) -> Result<Map<String, Value>> {
        match fs::read(&self.path) {
            Ok(data) => match serde_json::from_slice(&data) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) => Err(self.bad("not a JSON object")),
                Err(e) => Err(self.bad(format!("not JSON: {e}"))),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Map::new()),
            Err(e) => Err(Error::io("read", &self.path, e)),
        }
    }

    /// The stored credentials for `host`, if any.
    pub fn get(&self, host: &str) -> Result<Option<Credentials>> {
        let doc = self.read()?;
        let Some(entry) = doc.get("auths").and_then(|a| a.get(host)) else {
            return Ok(None);
        };
        let Some(auth) = entry.get("auth").and_then(Value::as_str) else {
            return Ok(None);
        };
        let plain = BASE64
            .decode(auth)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                self.bad(format!("the auth of {host} is not base64 of user:password"))
            })?;
        let (username, password) = plain
            .split_once(':')
            .ok_or_else(|| self.bad(format!("the auth of {host} has no ':'")))?;
        Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }))
    }

    /// Stores (replacing) the credentials for `host`.
    pub fn store(&self, host: &str, creds: &Credentials) -> Result<()> {
        let mut doc = self.read()?;
        let auths = doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(auths) = auths else {
            return Err(self.bad("\"auths\" is not an object"));
        };
        let auth = BASE64.encode(format!("{}:{}", creds.username, creds.password));
        auths.insert(host.to_owned(), serde_json::json!({ "auth": auth }));
        self.write(&doc)
    }

    /// Removes the credentials for `host`; false when there were none.
    pub fn remove(&self, host: &str) -> Result<bool> {
        let mut doc = self.read()?;
        let removed = doc
            .get_mut("auths")
            .and_then(Value::as_object_mut)
            .and_then(|a| a.remove(host))
            .is_some();
        if removed {
            self.write(&doc)?;
        }
        Ok(removed)
    }

    /// Replaced atomically by a file created 0600 (the temp file too).
    fn write(&self, doc: &Map<String, Value>) -> Result<()> {
        let dir = self.path.parent().expect("the auth file has a parent");
        crate::fsutil::create_dir_all(dir)?;
        let data = serde_json::to_vec_pretty(doc).map_err(|e| Error::json("auth file", e))?;
        berth_sys::write_atomic_mode(&self.path, &data, 0o600)
            .map_err(|e| Error::io("write", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(Challenge::parse("Negotiate xyz"), None);
        assert_eq!(Challenge::parse("Bearer service=x"), None);
    }

    #[test]
    fn credentials_file_round_trip() {
        let dir = std::env::temp_dir().join(crate::fsutil::unique_name("berth-auth-test-"));
        fs::create_dir(&dir).unwrap();
        let f = AuthFile::in_root(&dir);
        assert_eq!(f.get("h:1").unwrap(), None);
        let c = Credentials {
            username: "u".into(),
            password: "p:w".into(),
        };
        f.store("h:1", &c).unwrap();
        assert_eq!(f.get("h:1").unwrap(), Some(c));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(f.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let raw: Value = serde_json::from_slice(&fs::read(f.path()).unwrap()).unwrap();
        assert_eq!(raw["auths"]["h:1"]["auth"], "dTpwOnc=");
        assert!(f.remove("h:1").unwrap());
        assert!(!f.remove("h:1").unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }
}

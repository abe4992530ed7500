//! `RUN --mount=...`: BuildKit's mount types, parsed as BuildKit does
//! (comma-separated `key=value`, `type=bind` by default), resolved to what
//! the executor mounts.

use std::path::PathBuf;

use super::{BuildError, Result};

/// A mount as the executor makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    /// A host directory or file (the context's, a secret file, a cache
    /// directory).
    Bind {
        source: PathBuf,
        target: String,
        readonly: bool,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
    },
}

/// A parsed `--mount`, before its source is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// `type=bind`: `source` in the context (or in stage `from`).
    Bind {
        target: String,
        source: String,
        from: Option<String>,
        rw: bool,
    },
    /// `type=cache`: a directory kept between builds, by `id` (default:
    /// the target).
    Cache {
        target: String,
        id: String,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        readonly: bool,
        from: Option<String>,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
    },
    /// `type=secret`: the `--secret` file with `id`, at `target` (default
    /// `/run/secrets/<id>`).
    Secret {
        id: String,
        target: String,
        required: bool,
    },
}

/// The `from=` of a mount spec, for the stage plan.
pub fn from_of(raw: &str) -> Option<String> {
    raw.split(',').find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| k.trim() == "from")
            .map(|(_, v)| v.trim().to_owned())
    })
}

fn bool_value(key: &str, v: Option<&str>) -> Result<bool> {
    match v {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(BuildError::Invalid(format!(
            "invalid value for {key}: {other:?}"
        ))),
    }
}

fn number(key: &str, v: &str, radix: u32) -> Result<u32> {
    u32::from_str_radix(v, radix)
        .map_err(|_| BuildError::Invalid(format!("invalid value for {key}: {v:?}")))
}

/// Parses one `--mount` value (variables already substituted).
pub fn parse(raw: &str) -> Result<Spec> {
    let mut kind = "bind".to_owned();
    let mut target = None;
    let mut source = None;
    let mut from = None;
    let mut id = None;
    let mut rw = false;
    let mut readonly = false;
    let mut mode = None;
    let mut uid = None;
    let mut gid = None;
    let mut size = None;
    let mut required = false;
    for field in raw.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_lowercase(), Some(v.trim())),
            None => (field.to_lowercase(), None),
        };
        let need = || {
            value.ok_or_else(|| {
                BuildError::Invalid(format!("invalid field '{field}' must be a key=value pair"))
            })
        };
        match key.as_str() {
            "type" => kind = need()?.to_owned(),
            "target" | "dst" | "destination" => target = Some(need()?.to_owned()),
            "source" | "src" => source = Some(need()?.to_owned()),
            "from" => from = Some(need()?.to_owned()),
            "id" => id = Some(need()?.to_owned()),
            "rw" | "readwrite" => rw = bool_value(&key, value)?,
            "ro" | "readonly" => readonly = bool_value(&key, value)?,
            "mode" => mode = Some(number(&key, need()?, 8)?),
            "uid" => uid = Some(number(&key, need()?, 10)?),
            "gid" => gid = Some(number(&key, need()?, 10)?),
            "size" => {
                let v = need()?;
                size =
                    Some(parse_size(v).ok_or_else(|| {
                        BuildError::Invalid(format!("invalid value for size: {v:?}"))
                    })?)
            }
            "required" => required = bool_value(&key, value)?,
            // Accepted, and what berth does anyway: one cache directory
            // used by concurrent builds as `shared` does.
            "sharing" => match need()? {
                "shared" | "private" | "locked" => {}
                v => {
                    return Err(BuildError::Invalid(format!(
                        "unsupported sharing value \"{v}\""
                    )))
                }
            },
            _ => {
                return Err(BuildError::Invalid(format!(
                    "unexpected key '{key}' in '{field}'"
                )))
            }
        }
    }
    let target_or = |what: &str| {
        target
            .clone()
            .ok_or_else(|| BuildError::Invalid(format!("mount type {what} requires a target")))
    };
    match kind.as_str() {
        "bind" => Ok(Spec::Bind {
            target: target_or("bind")?,
            source: source.unwrap_or_else(|| "/".into()),
            from,
            rw,
        }),
        "cache" => {
            let target = target_or("cache")?;
            Ok(Spec::Cache {
                id: id.unwrap_or_else(|| target.clone()),
                target,
                mode,
                uid,
                gid,
                readonly,
                from,
            })
        }
        "tmpfs" => Ok(Spec::Tmpfs {
            target: target_or("tmpfs")?,
            size,
        }),
        "secret" => {
            let id = id
                .or_else(|| {
                    target
                        .as_deref()
                        .and_then(|t| t.rsplit('/').next())
                        .map(str::to_owned)
                })
                .ok_or_else(|| BuildError::Invalid("secret requires an id or a target".into()))?;
            Ok(Spec::Secret {
                target: target.unwrap_or_else(|| format!("/run/secrets/{id}")),
                id,
                required,
            })
        }
        "ssh" => Err(BuildError::Invalid(
            "RUN --mount=type=ssh is not supported by berth build".into(),
        )),
        other => Err(BuildError::Invalid(format!(
            "unsupported mount type \"{other}\""
        ))),
    }
}

/// `64m`, `1g`, `4096`: bytes.
fn parse_size(v: &str) -> Option<u64> {
    let lower = v.to_lowercase();
    let (num, mult) = match lower.trim_end_matches('b').chars().last()? {
        'k' => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 10),
        'm' => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 20),
        'g' => (&lower[..lower.trim_end_matches('b').len() - 1], 1 << 30),
        _ => (lower.trim_end_matches('b'), 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_buildkit_mounts() {
        assert_eq!(
            parse("type=cache,target=/root/.cache").unwrap(),
            Spec::Cache {
                target: "/root/.cache".into(),
                id: "/root/.cache".into(),
                mode: None,
                uid: None,
                gid: None,
                readonly: false,
                from: None
            }
        );
        assert_eq!(
            parse("target=/src").unwrap(),
            Spec::Bind {
                target: "/src".into(),
                source: "/".into(),
                from: None,
                rw: false
            }
        );
        assert_eq!(
            parse("type=tmpfs,target=/t,size=64m").unwrap(),
            Spec::Tmpfs {
                target: "/t".into(),
                size: Some(64 << 20)
            }
        );
        assert_eq!(
            parse("type=secret,id=tok").unwrap(),
            Spec::Secret {
                id: "tok".into(),
                target: "/run/secrets/tok".into(),
                required: false
            }
        );
        assert_eq!(
            from_of("type=bind,from=builder,target=/x").as_deref(),
            Some("builder")
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert_eq!(
            parse("type=cache").unwrap_err().to_string(),
            "mount type cache requires a target"
        );
        assert_eq!(
            parse("type=nfs,target=/x").unwrap_err().to_string(),
            "unsupported mount type \"nfs\""
        );
        assert_eq!(
            parse("type=bind,target=/x,bogus=1")
                .unwrap_err()
                .to_string(),
            "unexpected key 'bogus' in 'bogus=1'"
        );
        assert!(parse("type=ssh").is_err());
    }
}

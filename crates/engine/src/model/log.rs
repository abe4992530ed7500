//! `--log-driver` and `--log-opt` as recorded with a container (the
//! writing and reading of the log: `logfile.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    #[default]
    JsonFile,
    K8sFile,
    None,
}

impl LogDriver {
    pub fn name(self) -> &'static str {
        match self {
            LogDriver::JsonFile => "json-file",
            LogDriver::K8sFile => "k8s-file",
            LogDriver::None => "none",
        }
    }
}

/// `--log-driver` and `--log-opt`, as recorded with the container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogConfig {
    pub driver: LogDriver,
    /// The options as given, for `inspect`'s `HostConfig.LogConfig.Config`.
    pub opts: BTreeMap<String, String>,
    /// Rotate before a file would pass this many bytes; None: never.
    pub max_size: Option<u64>,
    /// Files kept, the live one included (Docker's default 1).
    #[serde(default = "one")]
    pub max_file: u32,
}

fn one() -> u32 {
    1
}

impl Default for LogConfig {
    /// Docker's: json-file, one file, no size limit.
    fn default() -> LogConfig {
        LogConfig {
            driver: LogDriver::JsonFile,
            opts: BTreeMap::new(),
            max_size: None,
            max_file: 1,
        }
    }
}

impl LogConfig {
    /// Validates the flags with Docker's messages.
    pub fn parse(driver: Option<&str>, opts: &[String]) -> Result<LogConfig> {
        let driver = match driver.unwrap_or("json-file") {
            "json-file" => LogDriver::JsonFile,
            "k8s-file" => LogDriver::K8sFile,
            "none" => LogDriver::None,
            other => {
                return Err(Error::Unsupported {
                    what: "log driver",
                    value: format!(
                        "no log driver named '{other}' is registered (json-file, k8s-file, none)"
                    ),
                })
            }
        };
        let mut c = LogConfig {
            driver,
            ..LogConfig::default()
        };
        for o in opts {
            let (k, v) = o
                .split_once('=')
                .ok_or_else(|| Error::invalid("log-opt", format!("{o:?}: expected key=value")))?;
            if driver == LogDriver::None {
                return Err(Error::invalid(
                    "log-opt",
                    format!("unknown log opt '{k}' for none log driver"),
                ));
            }
            match k {
                "max-size" => {
                    let n = parse_size(v).filter(|n| *n > 0).ok_or_else(|| {
                        Error::invalid(
                            "log-opt",
                            format!("max-size must be a positive number: {v:?}"),
                        )
                    })?;
                    c.max_size = Some(n);
                }
                "max-file" => {
                    c.max_file = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        Error::invalid("log-opt", format!("max-file cannot be less than 1: {v:?}"))
                    })?;
                }
                _ => {
                    return Err(Error::invalid(
                        "log-opt",
                        format!("unknown log opt '{k}' for {} log driver", driver.name()),
                    ))
                }
            }
            c.opts.insert(k.to_owned(), v.to_owned());
        }
        if c.max_file > 1 && c.max_size.is_none() {
            return Err(Error::invalid(
                "log-opt",
                "max-file requires max-size (without it the log never rotates)",
            ));
        }
        Ok(c)
    }
}

/// Docker's `units.FromHumanSize`: decimal units (`10k` = 10000, `1m` =
/// 1000000), an optional `b`/`B`, fractions allowed.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let body = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, mult) = match body.chars().last()? {
        'k' => (&body[..body.len() - 1], 1e3),
        'm' => (&body[..body.len() - 1], 1e6),
        'g' => (&body[..body.len() - 1], 1e9),
        't' => (&body[..body.len() - 1], 1e12),
        'p' => (&body[..body.len() - 1], 1e15),
        _ => (body, 1.0),
    };
    let n: f64 = num.trim().parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    Some((n * mult) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_decimal_like_docker() {
        assert_eq!(parse_size("10k"), Some(10_000));
        assert_eq!(parse_size("1m"), Some(1_000_000));
        assert_eq!(parse_size("1.5KB"), Some(1_500));
        assert_eq!(parse_size("300"), Some(300));
        assert_eq!(parse_size("12qq"), None);
    }

    #[test]
    fn old_records_get_dockers_defaults() {
        let c: LogConfig =
            serde_json::from_str(r#"{"driver":"json-file","opts":{},"max_size":null}"#).unwrap();
        assert_eq!(c, LogConfig::default());
        assert_eq!(c.max_file, 1);
    }

    #[test]
    fn options() {
        let c = LogConfig::parse(
            Some("json-file"),
            &["max-size=1k".into(), "max-file=3".into()],
        )
        .unwrap();
        assert_eq!((c.max_size, c.max_file), (Some(1000), 3));
        assert!(LogConfig::parse(Some("syslog"), &[]).is_err());
        assert!(LogConfig::parse(None, &["compress=true".into()]).is_err());
        assert!(LogConfig::parse(None, &["max-file=0".into()]).is_err());
        assert!(LogConfig::parse(Some("none"), &["max-size=1k".into()]).is_err());
    }
}

//! The container's security and process settings from `run`/`create`
//! flags, in Docker's terms: `--privileged`, `--cap-add/--cap-drop`,
//! `--security-opt`, `--read-only`, `--tmpfs`, `--device`, `--shm-size`,
//! `--ulimit`, `--oom-score-adj`, `--sysctl`, `--group-add`, `--init`.
//! [`resolve`] checks and resolves the flags at create time (before
//! anything is recorded); `spec/security.rs` writes them into the OCI spec.
//! `caps.rs` (capability names and Docker's add/drop rule), `devices.rs`
//! (`--device`, the host devices of `--privileged`), `limits.rs`
//! (`--ulimit`, `--sysctl`, `--tmpfs`, sizes), `init.rs` (finding the
//! static berth-init).

pub(crate) mod caps;
pub(crate) mod devices;
mod init;
mod limits;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use caps::{capabilities, DEFAULT_CAPABILITIES};
pub use limits::parse_bytes;

use crate::error::{Error, Result};
use crate::model::seccomp;

/// Where `--init` is mounted in the container.
pub const INIT_IN_CONTAINER: &str = "/sbin/berth-init";
/// Overrides where berth finds its init (default: `berth-init` next to
/// the `berth` binary).
pub const INIT_ENV: &str = "BERTH_INIT";

/// The flags as given.
#[derive(Debug, Default, Clone)]
pub struct SecurityOptions {
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub read_only: bool,
    pub tmpfs: Vec<String>,
    pub devices: Vec<String>,
    pub shm_size: Option<String>,
    pub ulimits: Vec<String>,
    pub oom_score_adj: Option<i32>,
    pub sysctls: Vec<String>,
    pub group_add: Vec<String>,
    pub init: bool,
}

/// The resolved settings, recorded with the container.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SecurityConfig {
    pub privileged: bool,
    /// Normalized (`CAP_` prefix, upper case) or `ALL`.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub seccomp: SeccompMode,
    pub no_new_privileges: bool,
    pub apparmor_profile: String,
    /// `--security-opt systempaths=unconfined`: no masked or read-only paths.
    pub unconfined_paths: bool,
    pub read_only: bool,
    pub tmpfs: Vec<Tmpfs>,
    pub devices: Vec<Device>,
    /// `/dev/shm` size in bytes; 0 is Docker's 64 MiB.
    pub shm_size: u64,
    pub ulimits: Vec<Ulimit>,
    pub oom_score_adj: i32,
    pub sysctls: BTreeMap<String, String>,
    /// Names or ids, resolved in the container's /etc/group at start.
    pub group_add: Vec<String>,
    /// The host path of the init binary when `--init`.
    pub init: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum SeccompMode {
    /// Docker's default profile.
    #[default]
    Default,
    Unconfined,
    /// A Docker-format profile, its content as read at create time.
    Custom(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tmpfs {
    pub destination: String,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Device {
    pub path: String,
    /// The node on the host it was made from (inspect's `PathOnHost`).
    #[serde(default)]
    pub host_path: String,
    /// `c` or `b`.
    pub kind: String,
    pub major: u64,
    pub minor: u64,
    pub file_mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Cgroup access: some of `rwm`.
    pub access: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ulimit {
    /// `RLIMIT_NOFILE`, ...
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

/// Docker's `invalid argument "V" for "--FLAG" flag: REASON`.
pub(crate) fn bad_flag(flag: &str, value: &str, reason: impl std::fmt::Display) -> Error {
    Error::Invalid {
        what: format!("argument {value:?} for \"--{flag}\" flag"),
        reason: reason.to_string(),
    }
}

/// Checks and resolves the flags; `host_network` for the sysctl rule.
pub fn resolve(o: &SecurityOptions, host_network: bool) -> Result<SecurityConfig> {
    let mut c = SecurityConfig {
        privileged: o.privileged,
        cap_add: caps::normalize_caps(&o.cap_add, "CapAdd")?,
        cap_drop: caps::normalize_caps(&o.cap_drop, "CapDrop")?,
        read_only: o.read_only,
        oom_score_adj: o.oom_score_adj.unwrap_or(0),
        group_add: o.group_add.clone(),
        ..SecurityConfig::default()
    };
    for opt in &o.security_opt {
        security_opt(&mut c, opt)?;
    }
    if let SeccompMode::Custom(profile) = &c.seccomp {
        // Refuse a bad profile now, not at start.
        seccomp::to_oci(profile, &[], &seccomp::Host::current())?;
    }
    if !(-1000..=1000).contains(&c.oom_score_adj) {
        return Err(Error::invalid(
            "--oom-score-adj",
            format!(
                "Invalid value {}, range for oom score adj is [-1000, 1000]",
                c.oom_score_adj
            ),
        ));
    }
    for t in &o.tmpfs {
        c.tmpfs.push(limits::tmpfs(t)?);
    }
    for d in &o.devices {
        c.devices.extend(devices::devices(d)?);
    }
    if let Some(s) = &o.shm_size {
        c.shm_size = parse_bytes(s)
            .ok_or_else(|| bad_flag("shm-size", s, format!("invalid size: '{s}'")))?;
        if c.shm_size == 0 {
            return Err(bad_flag("shm-size", s, "the size must be greater than 0"));
        }
    }
    for u in &o.ulimits {
        let u = limits::ulimit(u)?;
        c.ulimits.retain(|x| x.kind != u.kind);
        c.ulimits.push(u);
    }
    for s in &o.sysctls {
        let (k, v) = limits::sysctl(s, host_network)?;
        c.sysctls.insert(k, v);
    }
    if o.init {
        c.init = Some(init::init_binary()?);
    }
    Ok(c)
}

/// One `--security-opt`: `KEY=VALUE` or Docker's older `KEY:VALUE`.
fn security_opt(c: &mut SecurityConfig, opt: &str) -> Result<()> {
    let (key, value) = match opt.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None if opt == "no-new-privileges" => (opt, None),
        None => match opt.split_once(':') {
            Some((k, v)) => (k, Some(v)),
            None => (opt, None),
        },
    };
    let bad = |why: &str| Error::invalid("--security-opt", format!("{opt:?}: {why}"));
    match (key, value) {
        ("no-new-privileges", None) => c.no_new_privileges = true,
        ("no-new-privileges", Some(v)) => {
            c.no_new_privileges = parse_bool(v).ok_or_else(|| bad("expected true or false"))?;
        }
        ("seccomp", Some("unconfined")) => c.seccomp = SeccompMode::Unconfined,
        ("seccomp", Some("builtin")) => c.seccomp = SeccompMode::Default,
        // The profile's content: what the docker CLI sends dockerd (it
        // reads the file itself).
        ("seccomp", Some(json)) if json.trim_start().starts_with('{') => {
            c.seccomp = SeccompMode::Custom(json.to_owned())
        }
        ("seccomp", Some(path)) if !path.is_empty() => {
            let profile = std::fs::read_to_string(path).map_err(|e| Error::Invalid {
                what: "--security-opt".into(),
                reason: format!("opening seccomp profile ({path}) failed: {e}"),
            })?;
            c.seccomp = SeccompMode::Custom(profile);
        }
        ("apparmor", Some(p)) if !p.is_empty() => c.apparmor_profile = p.to_owned(),
        ("systempaths", Some("unconfined")) => c.unconfined_paths = true,
        ("label", _) | ("disable", _) => {
            return Err(Error::Unsupported {
                what: "--security-opt",
                value: format!("{opt:?} (SELinux labels are not supported by berth)"),
            })
        }
        _ => {
            return Err(bad(
                "expected seccomp=unconfined|builtin|PROFILE.json, apparmor=PROFILE, \
                 no-new-privileges[=true|false] or systempaths=unconfined",
            ))
        }
    }
    Ok(())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_ok(o: SecurityOptions) -> SecurityConfig {
        resolve(&o, false).unwrap()
    }

    fn err(o: SecurityOptions) -> String {
        resolve(&o, false).unwrap_err().to_string()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn capability_tweaks() {
        let c = resolve_ok(SecurityOptions {
            cap_add: strings(&["sys_admin", "CAP_NET_ADMIN", "Sys_Admin"]),
            cap_drop: strings(&["chown", "CAP_KILL"]),
            ..Default::default()
        });
        assert_eq!(c.cap_add, strings(&["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]));
        let caps = capabilities(&c);
        assert!(caps.contains(&"CAP_SYS_ADMIN".into()) && caps.contains(&"CAP_NET_ADMIN".into()));
        assert!(!caps.contains(&"CAP_CHOWN".into()) && !caps.contains(&"CAP_KILL".into()));
        assert_eq!(caps.len(), DEFAULT_CAPABILITIES.len());

        let drop_all = resolve_ok(SecurityOptions {
            cap_add: strings(&["net_raw"]),
            cap_drop: strings(&["all"]),
            ..Default::default()
        });
        assert_eq!(capabilities(&drop_all), strings(&["CAP_NET_RAW"]));
        let add_all = resolve_ok(SecurityOptions {
            cap_add: strings(&["ALL"]),
            cap_drop: strings(&["MKNOD"]),
            ..Default::default()
        });
        let caps = capabilities(&add_all);
        assert!(caps.contains(&"CAP_SYS_ADMIN".into()) && !caps.contains(&"CAP_MKNOD".into()));
        assert_eq!(
            err(SecurityOptions {
                cap_add: strings(&["foo"]),
                ..Default::default()
            }),
            "invalid CapAdd: unknown capability: \"CAP_FOO\""
        );
    }

    #[test]
    fn security_opts() {
        let c = resolve_ok(SecurityOptions {
            security_opt: strings(&["no-new-privileges", "seccomp=unconfined", "apparmor=foo"]),
            ..Default::default()
        });
        assert!(c.no_new_privileges);
        assert_eq!(c.seccomp, SeccompMode::Unconfined);
        assert_eq!(c.apparmor_profile, "foo");
        let c = resolve_ok(SecurityOptions {
            security_opt: strings(&[
                "no-new-privileges:true",
                "no-new-privileges=false",
                "seccomp:builtin",
            ]),
            ..Default::default()
        });
        assert!(!c.no_new_privileges);
        assert_eq!(c.seccomp, SeccompMode::Default);
        for (bad, want) in [
            ("foo=bar", "invalid --security-opt: \"foo=bar\""),
            ("no-new-privileges=maybe", "expected true or false"),
            ("label=disable", "SELinux"),
            (
                "seccomp=/nonexistent.json",
                "opening seccomp profile (/nonexistent.json) failed",
            ),
        ] {
            let e = err(SecurityOptions {
                security_opt: strings(&[bad]),
                ..Default::default()
            });
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64m"), Some(64 << 20));
        assert_eq!(parse_bytes("1.5GB"), Some(3 << 29));
        assert_eq!(parse_bytes("100"), Some(100));
        assert_eq!(parse_bytes("2 KiB"), Some(2048));
        assert_eq!(parse_bytes("12qq"), None);
        assert_eq!(parse_bytes("m"), None);
        assert_eq!(
            err(SecurityOptions {
                shm_size: Some("12qq".into()),
                ..Default::default()
            }),
            "invalid argument \"12qq\" for \"--shm-size\" flag: invalid size: '12qq'"
        );
    }
}

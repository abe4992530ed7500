//! The container's security and process settings from `run`/`create`
//! flags, in Docker's terms: `--privileged`, `--cap-add/--cap-drop`,
//! `--security-opt`, `--read-only`, `--tmpfs`, `--device`, `--shm-size`,
//! `--ulimit`, `--oom-score-adj`, `--sysctl`, `--group-add`, `--init`.
//! [`resolve`] checks and resolves the flags at create time (before
//! anything is recorded); [`apply`] writes them into the OCI spec.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::bundle::DEFAULT_CAPABILITIES;
use crate::error::{Error, Result};
use crate::seccomp;

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

/// Capabilities 0..=40 by number (linux/capability.h).
const ALL_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

const ULIMITS: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Docker's `invalid argument "V" for "--FLAG" flag: REASON`.
fn bad_flag(flag: &str, value: &str, reason: impl std::fmt::Display) -> Error {
    Error::Invalid {
        what: format!("argument {value:?} for \"--{flag}\" flag"),
        reason: reason.to_string(),
    }
}

/// Checks and resolves the flags; `host_network` for the sysctl rule.
pub fn resolve(o: &SecurityOptions, host_network: bool) -> Result<SecurityConfig> {
    let mut c = SecurityConfig {
        privileged: o.privileged,
        cap_add: normalize_caps(&o.cap_add, "CapAdd")?,
        cap_drop: normalize_caps(&o.cap_drop, "CapDrop")?,
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
        c.tmpfs.push(tmpfs(t)?);
    }
    for d in &o.devices {
        c.devices.extend(devices(d)?);
    }
    if let Some(s) = &o.shm_size {
        c.shm_size = parse_bytes(s)
            .ok_or_else(|| bad_flag("shm-size", s, format!("invalid size: '{s}'")))?;
        if c.shm_size == 0 {
            return Err(bad_flag("shm-size", s, "the size must be greater than 0"));
        }
    }
    for u in &o.ulimits {
        let u = ulimit(u)?;
        c.ulimits.retain(|x| x.kind != u.kind);
        c.ulimits.push(u);
    }
    for s in &o.sysctls {
        let (k, v) = sysctl(s, host_network)?;
        c.sysctls.insert(k, v);
    }
    if o.init {
        c.init = Some(init_binary()?);
    }
    Ok(c)
}

/// Upper case, `CAP_` prefix; `ALL` stays; unknown names are refused.
fn normalize_caps(list: &[String], field: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for c in list {
        let up = c.to_ascii_uppercase();
        let name = if up == "ALL" || up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        };
        if name != "ALL" && !ALL_CAPABILITIES.contains(&name.as_str()) {
            return Err(Error::invalid(
                field,
                format!("unknown capability: {name:?}"),
            ));
        }
        if name != "ALL" && !current_capabilities().contains(&name) {
            return Err(Error::invalid(
                field,
                format!("capability not supported by your kernel or not available in the current environment: {name:?}"),
            ));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// The capabilities berth itself holds (`CapEff` of /proc/self/status),
/// which is what "all" means, as in Docker: a runtime cannot give more.
fn current_capabilities() -> Vec<String> {
    let mask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, s)| s.to_string())
        .collect()
}

/// Docker's `TweakCapabilities`: privileged gets all; `--cap-add ALL` all
/// but the dropped; `--cap-drop ALL` only the added; else the defaults
/// minus the dropped plus the added.
pub fn capabilities(c: &SecurityConfig) -> Vec<String> {
    let all = "ALL".to_owned();
    if c.privileged {
        return current_capabilities();
    }
    if c.cap_add.contains(&all) {
        return current_capabilities()
            .into_iter()
            .filter(|x| !c.cap_drop.contains(x))
            .collect();
    }
    if c.cap_drop.contains(&all) {
        return c.cap_add.clone();
    }
    let mut caps: Vec<String> = DEFAULT_CAPABILITIES
        .iter()
        .map(|s| s.to_string())
        .filter(|x| !c.cap_drop.contains(x))
        .collect();
    for a in &c.cap_add {
        if !caps.contains(a) {
            caps.push(a.clone());
        }
    }
    caps
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

/// go-units `RAMInBytes`: `<n>[.<frac>][ ][kmgtp][i][b]`, binary multiples.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim_end_matches(['b', 'B']).trim_end_matches(['i', 'I']);
    let (num, unit) = match t.char_indices().last() {
        Some((i, ch)) if ch.is_ascii_alphabetic() => (&t[..i], Some(ch)),
        _ => (t, None),
    };
    let num = num.trim_end_matches(' ');
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.map(|u| u.to_ascii_lowercase()) {
        None => 1,
        Some('k') => 1 << 10,
        Some('m') => 1 << 20,
        Some('g') => 1 << 30,
        Some('t') => 1 << 40,
        Some('p') => 1 << 50,
        Some(_) => return None,
    };
    Some((n * mult as f64) as u64)
}

/// `--tmpfs PATH[:OPTIONS]` with Docker's defaults (`noexec,nosuid,nodev`)
/// merged with the options given (a later option replaces its opposite).
fn tmpfs(arg: &str) -> Result<Tmpfs> {
    let (dest, opts) = arg.split_once(':').unwrap_or((arg, ""));
    if !dest.starts_with('/') || dest == "/" {
        return Err(bad_flag(
            "tmpfs",
            arg,
            "the mount point must be an absolute path other than /",
        ));
    }
    let mut options: Vec<String> = vec![
        "noexec".into(),
        "nosuid".into(),
        "nodev".into(),
        "rprivate".into(),
    ];
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let key = |x: &str| x.split_once('=').map_or(x, |(k, _)| k).to_owned();
        let opposite = |x: &str| -> Option<String> {
            match x {
                "rw" => Some("ro".into()),
                "ro" => Some("rw".into()),
                _ => x
                    .strip_prefix("no")
                    .map(str::to_owned)
                    .or(Some(format!("no{x}"))),
            }
        };
        let k = key(o);
        let opp = opposite(&k);
        options.retain(|x| key(x) != k && Some(key(x)) != opp);
        options.push(o.to_owned());
    }
    Ok(Tmpfs {
        destination: dest.to_owned(),
        options,
    })
}

fn valid_device_mode(m: &str) -> bool {
    !m.is_empty()
        && m.len() <= 3
        && m.chars().all(|c| "rwm".contains(c))
        && m.chars().enumerate().all(|(i, c)| !m[..i].contains(c))
}

/// `--device HOST[:CONTAINER][:PERMS]`: one node, or every node under a
/// host directory.
fn devices(arg: &str) -> Result<Vec<Device>> {
    let parts: Vec<&str> = arg.split(':').collect();
    let (src, dst, perms) = match parts[..] {
        [s] => (s, s, "rwm"),
        [s, m] if valid_device_mode(m) => (s, s, m),
        [s, d] => (s, d, "rwm"),
        [s, d, m] => (s, d, m),
        _ => return Err(bad_flag("device", arg, "invalid device specification")),
    };
    if !valid_device_mode(perms) {
        return Err(bad_flag(
            "device",
            arg,
            format!("invalid device mode: {perms}"),
        ));
    }
    if !dst.starts_with('/') {
        return Err(bad_flag(
            "device",
            arg,
            format!("{dst} is not an absolute path"),
        ));
    }
    let gathering = |e: String| {
        Error::invalid(
            "--device",
            format!("error gathering device information while adding custom device {src:?}: {e}"),
        )
    };
    let resolved = std::fs::canonicalize(src).map_err(|e| gathering(io_reason(&e)))?;
    let meta = std::fs::metadata(&resolved).map_err(|e| gathering(io_reason(&e)))?;
    if meta.is_dir() {
        let mut out = Vec::new();
        walk_devices(&resolved, &mut |host, rel| {
            if let Some(d) = device(
                host,
                &format!("{}/{}", dst.trim_end_matches('/'), rel),
                perms,
            ) {
                out.push(d);
            }
        })
        .map_err(|e| gathering(io_reason(&e)))?;
        return Ok(out);
    }
    device(&resolved, dst, perms)
        .map(|d| vec![d])
        .ok_or_else(|| gathering("not a device node".into()))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        _ => e.to_string(),
    }
}

fn device(host: &Path, dest: &str, access: &str) -> Option<Device> {
    let m = std::fs::metadata(host).ok()?;
    let kind = if m.file_type().is_char_device() {
        "c"
    } else if m.file_type().is_block_device() {
        "b"
    } else {
        return None;
    };
    let rdev = m.rdev();
    Some(Device {
        path: dest.to_owned(),
        kind: kind.into(),
        major: nix::sys::stat::major(rdev),
        minor: nix::sys::stat::minor(rdev),
        file_mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        access: access.into(),
    })
}

/// Calls `f(host path, path relative to dir)` for each device node under
/// `dir`, skipping what containerd's `HostDevices` skips.
fn walk_devices(dir: &Path, f: &mut dyn FnMut(&Path, &str)) -> std::io::Result<()> {
    fn walk(base: &Path, rel: &str, f: &mut dyn FnMut(&Path, &str)) -> std::io::Result<()> {
        let here = if rel.is_empty() {
            base.to_owned()
        } else {
            base.join(rel)
        };
        for entry in std::fs::read_dir(&here)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let sub = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let ft = entry.file_type()?;
            if ft.is_dir() {
                if !["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]
                    .contains(&name.as_str())
                {
                    walk(base, &sub, f)?;
                }
            } else if (ft.is_char_device() || ft.is_block_device()) && sub != "console" {
                f(&entry.path(), &sub);
            }
        }
        Ok(())
    }
    walk(dir, "", f)
}

/// `--ulimit NAME=SOFT[:HARD]` (go-units `ParseUlimit`).
fn ulimit(arg: &str) -> Result<Ulimit> {
    let (name, vals) = arg
        .split_once('=')
        .ok_or_else(|| bad_flag("ulimit", arg, format!("invalid ulimit argument: {arg}")))?;
    if !ULIMITS.contains(&name) {
        return Err(bad_flag(
            "ulimit",
            arg,
            format!("invalid ulimit type: {name}"),
        ));
    }
    let num = |v: &str| -> Result<u64> {
        match v {
            "-1" | "unlimited" => Ok(u64::MAX),
            _ => v.parse().map_err(|_| {
                bad_flag(
                    "ulimit",
                    arg,
                    format!("invalid ulimit value {v:?}: not a number"),
                )
            }),
        }
    };
    let (soft, hard) = match vals.split_once(':') {
        Some((s, h)) => (num(s)?, num(h)?),
        None => (num(vals)?, num(vals)?),
    };
    if soft > hard {
        return Err(bad_flag(
            "ulimit",
            arg,
            format!("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"),
        ));
    }
    Ok(Ulimit {
        kind: format!("RLIMIT_{}", name.to_ascii_uppercase()),
        soft,
        hard,
    })
}

/// `--sysctl K=V`: only namespaced ones (Docker's list), and no `net.*`
/// in the host's network namespace.
fn sysctl(arg: &str, host_network: bool) -> Result<(String, String)> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let not_allowed = || bad_flag("sysctl", arg, format!("sysctl '{arg}' is not allowed"));
    let (k, v) = arg.split_once('=').ok_or_else(not_allowed)?;
    if k.starts_with("net.") {
        if host_network {
            return Err(bad_flag(
                "sysctl",
                arg,
                format!(
                    "sysctl '{k}' is not allowed in the host's network namespace (--network host)"
                ),
            ));
        }
    } else if !IPC.contains(&k) && !k.starts_with("fs.mqueue.") {
        return Err(not_allowed());
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// The init binary: `$BERTH_INIT`, else `berth-init` next to `berth`. It
/// runs inside arbitrary images, so it must be statically linked.
fn init_binary() -> Result<PathBuf> {
    let path = match std::env::var_os(INIT_ENV) {
        // The runtime resolves bind sources from the bundle directory.
        Some(p) => std::path::absolute(PathBuf::from(p))
            .map_err(|e| Error::io("resolve", "$BERTH_INIT", e))?,
        None => std::env::current_exe()
            .map_err(|e| Error::io("find", "/proc/self/exe", e))?
            .with_file_name("berth-init"),
    };
    let how = "build one with scripts/build-init.sh and put it next to berth, or set BERTH_INIT";
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::invalid(
            "--init",
            format!(
                "cannot read the init binary {}: {} ({how})",
                path.display(),
                io_reason(&e)
            ),
        )
    })?;
    match elf_interpreter(&bytes) {
        None => Err(Error::invalid(
            "--init",
            format!("{} is not an ELF executable ({how})", path.display()),
        )),
        Some(true) => Err(Error::invalid(
            "--init",
            format!(
                "{} is dynamically linked and cannot run in arbitrary images: it must be static ({how})",
                path.display()
            ),
        )),
        Some(false) => Ok(path),
    }
}

/// Some(true) if the ELF file asks for a program interpreter (dynamic
/// linking), Some(false) if not, None if it is not a little-endian ELF.
fn elf_interpreter(b: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if b.get(..4)? != b"\x7fELF" || *b.get(5)? != 1 {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?) as usize);
    let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?) as usize);
    let (phoff, phentsize, phnum) = match b.get(4)? {
        2 => (u64_at(0x20)?, u16_at(0x36)?, u16_at(0x38)?),
        1 => (u32_at(0x1c)? as usize, u16_at(0x2a)?, u16_at(0x2c)?),
        _ => return None,
    };
    for i in 0..phnum {
        if u32_at(phoff + i * phentsize)? == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

/// Writes the settings into the OCI spec `bundle::spec` made.
pub fn apply(spec: &mut Value, c: &SecurityConfig) -> Result<()> {
    let caps = capabilities(c);
    let process = &mut spec["process"];
    process["capabilities"] = json!({ "bounding": caps, "effective": caps, "permitted": caps });
    process["noNewPrivileges"] = json!(c.no_new_privileges);
    process["oomScoreAdj"] = json!(c.oom_score_adj);
    if !c.apparmor_profile.is_empty() && c.apparmor_profile != "unconfined" {
        process["apparmorProfile"] = json!(c.apparmor_profile);
    }
    if !c.ulimits.is_empty() {
        process["rlimits"] = json!(c
            .ulimits
            .iter()
            .map(|u| json!({ "type": u.kind, "soft": u.soft, "hard": u.hard }))
            .collect::<Vec<_>>());
    }
    if let Some(init) = &c.init {
        let mut args = vec![json!(INIT_IN_CONTAINER), json!("--")];
        args.extend(process["args"].as_array().cloned().unwrap_or_default());
        process["args"] = json!(args);
        push_mount(
            spec,
            json!({ "destination": INIT_IN_CONTAINER, "type": "bind", "source": init,
                    "options": ["rbind", "ro", "rprivate"] }),
        );
    }
    if c.read_only {
        spec["root"]["readonly"] = json!(true);
    }
    if c.shm_size > 0 {
        for m in spec["mounts"].as_array_mut().into_iter().flatten() {
            if m["destination"] == "/dev/shm" {
                let mut opts: Vec<Value> = m["options"].as_array().cloned().unwrap_or_default();
                opts.retain(|o| !o.as_str().is_some_and(|o| o.starts_with("size=")));
                opts.push(json!(format!("size={}", c.shm_size)));
                m["options"] = json!(opts);
            }
        }
    }
    for t in &c.tmpfs {
        push_mount(
            spec,
            json!({ "destination": t.destination, "type": "tmpfs", "source": "tmpfs",
                    "options": t.options }),
        );
    }
    let linux = &mut spec["linux"];
    if !c.sysctls.is_empty() {
        linux["sysctl"] = json!(c.sysctls);
    }
    if c.privileged || c.unconfined_paths {
        linux["maskedPaths"] = json!([]);
        linux["readonlyPaths"] = json!([]);
    }
    let mut devices = c.devices.clone();
    let mut rules: Vec<Value> = c
        .devices
        .iter()
        .map(|d| json!({ "allow": true, "type": d.kind, "major": d.major, "minor": d.minor, "access": d.access }))
        .collect();
    if c.privileged {
        walk_devices(Path::new("/dev"), &mut |host, rel| {
            if let Some(d) = device(host, &format!("/dev/{rel}"), "rwm") {
                if !devices.iter().any(|x| x.path == d.path) {
                    devices.push(d);
                }
            }
        })
        .map_err(|e| Error::io("list", "/dev", e))?;
        rules = vec![json!({ "allow": true, "access": "rwm" })];
    }
    if !devices.is_empty() {
        linux["devices"] = json!(devices
            .iter()
            .map(
                |d| json!({ "path": d.path, "type": d.kind, "major": d.major, "minor": d.minor,
                             "fileMode": d.file_mode, "uid": d.uid, "gid": d.gid })
            )
            .collect::<Vec<_>>());
    }
    let cgroup_rules = &mut linux["resources"]["devices"];
    if c.privileged {
        *cgroup_rules = json!(rules);
    } else if let Some(list) = cgroup_rules.as_array_mut() {
        list.extend(rules);
    }
    if !c.privileged {
        let profile = match &c.seccomp {
            SeccompMode::Default => Some(seccomp::DEFAULT_PROFILE),
            SeccompMode::Custom(p) => Some(p.as_str()),
            SeccompMode::Unconfined => None,
        };
        if let Some(p) = profile {
            if let Some(s) = seccomp::to_oci(p, &caps, &seccomp::Host::current())? {
                linux["seccomp"] = s;
            }
        }
    } else {
        // A privileged container's /sys and /sys/fs/cgroup are writable.
        for m in spec["mounts"].as_array_mut().into_iter().flatten() {
            if m["type"] == "sysfs" || m["type"] == "cgroup" {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| o != "ro");
                    opts.push(json!("rw"));
                }
            }
        }
    }
    Ok(())
}

/// Adds a mount, replacing one at the same destination (Docker's user
/// mounts win over its defaults).
fn push_mount(spec: &mut Value, m: Value) {
    if let Some(list) = spec["mounts"].as_array_mut() {
        list.retain(|x| x["destination"] != m["destination"]);
        list.push(m);
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

    #[test]
    fn ulimits() {
        assert_eq!(
            ulimit("nofile=1024:2048").unwrap(),
            Ulimit {
                kind: "RLIMIT_NOFILE".into(),
                soft: 1024,
                hard: 2048
            }
        );
        assert_eq!(ulimit("core=-1").unwrap().hard, u64::MAX);
        for (bad, want) in [
            ("nofile=x", "invalid ulimit value \"x\""),
            ("nofile", "invalid ulimit argument"),
            ("bogus=1", "invalid ulimit type: bogus"),
            (
                "nproc=10:5",
                "soft limit must be less than or equal to hard limit: 10 > 5",
            ),
        ] {
            let e = ulimit(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid argument {bad:?} for \"--ulimit\" flag: ")),
                "{e}"
            );
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn tmpfs_options() {
        let t = tmpfs("/run:exec,size=1m,mode=700").unwrap();
        assert_eq!(t.destination, "/run");
        assert_eq!(
            t.options,
            strings(&["nosuid", "nodev", "rprivate", "exec", "size=1m", "mode=700"])
        );
        assert_eq!(
            tmpfs("/x").unwrap().options,
            strings(&["noexec", "nosuid", "nodev", "rprivate"])
        );
        assert!(tmpfs("relative").is_err());
    }

    #[test]
    fn device_specs() {
        let d = devices("/dev/null").unwrap();
        assert_eq!(
            (
                d[0].path.as_str(),
                d[0].kind.as_str(),
                d[0].major,
                d[0].minor
            ),
            ("/dev/null", "c", 1, 3)
        );
        assert_eq!(d[0].access, "rwm");
        let d = devices("/dev/zero:r").unwrap();
        assert_eq!(
            (d[0].path.as_str(), d[0].access.as_str()),
            ("/dev/zero", "r")
        );
        let d = devices("/dev/zero:/dev/z:rw").unwrap();
        assert_eq!((d[0].path.as_str(), d[0].access.as_str()), ("/dev/z", "rw"));
        let e = devices("/nonexistent").unwrap_err().to_string();
        assert_eq!(e, "invalid --device: error gathering device information while adding custom device \"/nonexistent\": no such file or directory");
        assert!(devices("/etc/hostname")
            .unwrap_err()
            .to_string()
            .contains("not a device node"));
        assert!(devices("/dev/null:/dev/n:rwx").is_err());
        assert!(devices("/dev/null:rel").is_err());
    }

    #[test]
    fn sysctls() {
        assert!(sysctl("net.ipv4.ip_forward=1", false).is_ok());
        assert!(sysctl("kernel.shmmax=1", false).is_ok());
        assert!(sysctl("net.ipv4.ip_forward=1", true).is_err());
        assert_eq!(
            sysctl("kernel.hostname=x", false).unwrap_err().to_string(),
            "invalid argument \"kernel.hostname=x\" for \"--sysctl\" flag: sysctl 'kernel.hostname=x' is not allowed"
        );
    }

    #[test]
    fn elf_detection() {
        let me = std::fs::read("/proc/self/exe").unwrap();
        // Test binaries are dynamically linked.
        assert_eq!(elf_interpreter(&me), Some(true));
        assert_eq!(elf_interpreter(b"#!/bin/sh\n"), None);
    }
}

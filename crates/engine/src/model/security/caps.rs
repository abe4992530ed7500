//! Capabilities: Docker's names (`CAP_` optional, any case, `ALL`) and
//! its `TweakCapabilities` rule for `--privileged`, `--cap-add` and
//! `--cap-drop`.

use super::SecurityConfig;
use crate::error::{Error, Result};

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Capabilities 0..=40 by number: the table the runtime uses too.
pub(crate) use berth_sys::caps::NAMES as ALL_CAPABILITIES;

/// Upper case, `CAP_` prefix; `ALL` stays; unknown names are refused.
pub(super) fn normalize_caps(list: &[String], field: &str) -> Result<Vec<String>> {
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
pub(crate) fn current_capabilities() -> Vec<String> {
    in_mask(own_mask("CapEff:").unwrap_or(u64::MAX))
}

/// One of this process's capability masks from /proc/self/status
/// (`field` is e.g. `CapEff:` or `CapBnd:`).
pub(crate) fn own_mask(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let mask = status.lines().find_map(|l| l.strip_prefix(field))?;
    u64::from_str_radix(mask.trim(), 16).ok()
}

/// The names of the capabilities whose bits `mask` sets.
pub(crate) fn in_mask(mask: u64) -> Vec<String> {
    berth_sys::caps::in_mask(mask).map(str::to_string).collect()
}

/// Docker's `TweakCapabilities`: privileged gets all; `--cap-add ALL` all
/// but the dropped; `--cap-drop ALL` only the added; else the defaults
/// minus the dropped plus the added.
pub fn capabilities(c: &SecurityConfig) -> Vec<String> {
    tweak(c, &current_capabilities())
}

/// [`capabilities`] where "all" is `all` (what berth holds).
pub(crate) fn tweak(c: &SecurityConfig, all: &[String]) -> Vec<String> {
    let all_caps = "ALL".to_owned();
    if c.privileged {
        return all.to_vec();
    }
    if c.cap_add.contains(&all_caps) {
        return all
            .iter()
            .filter(|x| !c.cap_drop.contains(x))
            .cloned()
            .collect();
    }
    if c.cap_drop.contains(&all_caps) {
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

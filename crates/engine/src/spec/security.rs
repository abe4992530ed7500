//! The security settings in the spec: capabilities (Docker's
//! `TweakCapabilities`), `--init`'s argv, rlimits, AppArmor, seccomp,
//! devices and their cgroup rules, masked and read-only paths, sysctls.

use std::collections::HashSet;

use oci_spec::runtime::{
    Capability, LinuxCapabilities, LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxSeccomp,
    PosixRlimit, PosixRlimitBuilder, PosixRlimitType,
};
use serde::de::{value::StrDeserializer, IntoDeserializer};
use serde::Deserialize;

use super::HostFacts;
use crate::error::{Error, Result};
use crate::model::seccomp;
use crate::model::security::{Device, SeccompMode, SecurityConfig, INIT_IN_CONTAINER};

/// Docker's masked paths (moby `oci/defaults.go`).
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The capability names the process gets.
pub fn capabilities(sec: &SecurityConfig, host: &HostFacts) -> Vec<String> {
    crate::model::security::caps::tweak(sec, &host.capabilities)
}

/// Bounding, effective and permitted sets of `names` (from berth's
/// capability table, which oci-spec's covers).
pub(crate) fn process_capabilities(names: &[String]) -> Result<LinuxCapabilities> {
    let set = names
        .iter()
        .map(|n| {
            let d: StrDeserializer<'_, serde::de::value::Error> = n.as_str().into_deserializer();
            Capability::deserialize(d).map_err(|_| {
                Error::invalid("capability", format!("{n:?} is not known to oci-spec"))
            })
        })
        .collect::<Result<HashSet<Capability>>>()?;
    let mut c = LinuxCapabilities::default();
    c.set_bounding(Some(set.clone()));
    c.set_effective(Some(set.clone()));
    c.set_permitted(Some(set));
    c.set_inheritable(None);
    c.set_ambient(None);
    Ok(c)
}

/// `--init`: berth-init runs the command.
pub fn init_args(sec: &SecurityConfig, args: Vec<String>) -> Vec<String> {
    match &sec.init {
        Some(_) => [INIT_IN_CONTAINER.to_owned(), "--".to_owned()]
            .into_iter()
            .chain(args)
            .collect(),
        None => args,
    }
}

/// `--ulimit`s.
pub fn rlimits(sec: &SecurityConfig) -> Result<Option<Vec<PosixRlimit>>> {
    if sec.ulimits.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for u in &sec.ulimits {
        let typ: PosixRlimitType = u
            .kind
            .parse()
            .map_err(|_| Error::invalid("--ulimit", format!("unknown limit {}", u.kind)))?;
        let r = PosixRlimitBuilder::default()
            .typ(typ)
            .soft(u.soft)
            .hard(u.hard)
            .build()
            .map_err(|e| Error::invalid("--ulimit", e.to_string()))?;
        out.push(r);
    }
    Ok(Some(out))
}

/// `--security-opt apparmor=PROFILE`; `unconfined` is the absence of one.
pub fn apparmor(sec: &SecurityConfig) -> Option<String> {
    let p = &sec.apparmor_profile;
    (!p.is_empty() && p != "unconfined").then(|| p.clone())
}

/// The seccomp filter: Docker's profile or the one given, none when
/// privileged or unconfined.
pub fn seccomp(
    sec: &SecurityConfig,
    caps: &[String],
    host: &HostFacts,
) -> Result<Option<LinuxSeccomp>> {
    if sec.privileged {
        return Ok(None);
    }
    let profile = match &sec.seccomp {
        SeccompMode::Default => seccomp::DEFAULT_PROFILE,
        SeccompMode::Custom(p) => p.as_str(),
        SeccompMode::Unconfined => return Ok(None),
    };
    seccomp::to_oci(profile, caps, &host.seccomp)
}

/// `linux.maskedPaths` and `linux.readonlyPaths`: Docker's, none when
/// privileged or `systempaths=unconfined`.
pub fn hidden_paths(sec: &SecurityConfig) -> (Vec<String>, Vec<String>) {
    if sec.privileged || sec.unconfined_paths {
        return (Vec::new(), Vec::new());
    }
    let owned = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
    (owned(MASKED_PATHS), owned(READONLY_PATHS))
}

pub fn sysctls(sec: &SecurityConfig) -> Option<std::collections::HashMap<String, String>> {
    (!sec.sysctls.is_empty()).then(|| sec.sysctls.clone().into_iter().collect())
}

fn device_type(kind: &str) -> Result<LinuxDeviceType> {
    kind.parse()
        .map_err(|_| Error::invalid("device type", kind.to_owned()))
}

/// `linux.devices`: the `--device`s, and the host's with `--privileged`.
pub fn devices(sec: &SecurityConfig, host: &HostFacts) -> Result<Option<Vec<LinuxDevice>>> {
    let mut list: Vec<&Device> = sec.devices.iter().collect();
    if sec.privileged {
        for d in &host.devices {
            if !list.iter().any(|x| x.path == d.path) {
                list.push(d);
            }
        }
    }
    if list.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for d in list {
        let mut o = LinuxDevice::default();
        o.set_path(d.path.clone().into());
        o.set_typ(device_type(&d.kind)?);
        o.set_major(d.major as i64);
        o.set_minor(d.minor as i64);
        o.set_file_mode(Some(d.file_mode));
        o.set_uid(Some(d.uid));
        o.set_gid(Some(d.gid));
        out.push(o);
    }
    Ok(Some(out))
}

fn rule(allow: bool, device: Option<&Device>, access: &str) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow);
    r.set_typ(device.and_then(|d| d.kind.parse().ok()));
    r.set_major(device.map(|d| d.major as i64));
    r.set_minor(device.map(|d| d.minor as i64));
    r.set_access(Some(access.to_owned()));
    r
}

/// `linux.resources.devices`: nothing but the `--device`s, or everything
/// when privileged.
pub fn device_rules(sec: &SecurityConfig) -> Vec<LinuxDeviceCgroup> {
    if sec.privileged {
        return vec![rule(true, None, "rwm")];
    }
    std::iter::once(rule(false, None, "rwm"))
        .chain(sec.devices.iter().map(|d| rule(true, Some(d), &d.access)))
        .collect()
}

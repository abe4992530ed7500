//! Seccomp profiles in Docker's format (the default one is shipped in
//! `profiles/seccomp-default.json`, see its README) converted to the OCI
//! `linux.seccomp` of a container, as Docker does at create time: the
//! native architecture and its sub-architectures from `archMap`, and each
//! rule kept only when its `includes`/`excludes` (capabilities in the
//! container's bounding set, architecture, minimum kernel) match.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSyscall,
};
use serde::de::{value::StrDeserializer, DeserializeOwned, IntoDeserializer};
use serde::Deserialize;

use crate::error::{Error, Result};

/// Docker's default profile (moby/profiles v0.2.3, Apache-2.0).
pub const DEFAULT_PROFILE: &str = include_str!("../../profiles/seccomp-default.json");

const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    #[serde(default)]
    default_action: String,
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    flags: Vec<String>,
    listener_path: Option<String>,
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Vec<Syscall>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Syscall {
    #[serde(default)]
    names: Vec<String>,
    /// The old single-name form.
    #[serde(default)]
    name: String,
    action: String,
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<LinuxSeccompArg>,
    includes: Option<Filter>,
    excludes: Option<Filter>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    min_kernel: Option<String>,
}

/// What the conversion depends on besides the profile.
#[derive(Debug, Clone)]
pub struct Host {
    /// Docker's name of the native architecture (`amd64`, `arm64`, ...).
    pub arch: &'static str,
    /// `(major, minor)` of the running kernel.
    pub kernel: (u64, u64),
}

impl Host {
    pub fn current() -> Host {
        let release = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        Host {
            arch: native_arch(),
            kernel: parse_kernel(&release).unwrap_or((0, 0)),
        }
    }
}

/// Docker's (libseccomp's) name of the architecture berth was built for.
fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        "mips64" if cfg!(target_endian = "little") => "mipsel64",
        "mips64" => "mips64",
        other => other,
    }
}

/// The OCI architecture of a Docker architecture name.
fn oci_arch(native: &str) -> Option<&'static str> {
    Some(match native {
        "x86" => "SCMP_ARCH_X86",
        "amd64" => "SCMP_ARCH_X86_64",
        "arm" => "SCMP_ARCH_ARM",
        "arm64" => "SCMP_ARCH_AARCH64",
        "loong64" => "SCMP_ARCH_LOONGARCH64",
        "mips64" => "SCMP_ARCH_MIPS64",
        "mipsel64" => "SCMP_ARCH_MIPSEL64",
        "ppc64" => "SCMP_ARCH_PPC64",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390" => "SCMP_ARCH_S390",
        "s390x" => "SCMP_ARCH_S390X",
        _ => return None,
    })
}

/// `"<kernel>.<major>"`: later parts and suffixes are ignored, as Docker
/// does (`6.1.0-13-amd64` is 6.1).
fn parse_kernel(v: &str) -> Option<(u64, u64)> {
    let mut parts = v.splitn(3, '.');
    let digits = |s: &str| -> Option<u64> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s[..end].parse().ok()
    };
    Some((digits(parts.next()?)?, digits(parts.next()?)?))
}

fn min_kernel(v: &str) -> Result<(u64, u64)> {
    let parts: Vec<&str> = v.split('.').collect();
    match parts[..] {
        [k, m] => match (k.parse::<u8>(), m.parse::<u8>()) {
            (Ok(k), Ok(m)) if (k, m) != (0, 0) => Ok((k.into(), m.into())),
            _ => Err(invalid(format!(
                "invalid kernel version {v:?}, expected \"<kernel>.<major>\""
            ))),
        },
        _ => Err(invalid(format!(
            "invalid kernel version {v:?}, expected \"<kernel>.<major>\""
        ))),
    }
}

fn invalid(reason: String) -> Error {
    Error::Invalid {
        what: "seccomp profile".into(),
        reason,
    }
}

/// Converts a Docker-format profile to OCI `linux.seccomp` for a container
/// with `bounding` capabilities. `None`: the profile disables seccomp (no
/// default action and no rules, as Docker reads it).
pub fn to_oci(
    profile_json: &str,
    bounding: &[String],
    host: &Host,
) -> Result<Option<LinuxSeccomp>> {
    let p: Profile = serde_json::from_str(profile_json)
        .map_err(|e| invalid(format!("decoding the profile failed: {e}")))?;
    if p.default_action.is_empty() && p.syscalls.is_empty() {
        return Ok(None);
    }
    if !p.architectures.is_empty() && !p.arch_map.is_empty() {
        return Err(invalid(
            "both 'architectures' and 'archMap' are specified, use either".into(),
        ));
    }
    let default_action = action(&p.default_action)?;
    let mut architectures = p.architectures.clone();
    if let Some(native) = oci_arch(host.arch) {
        if let Some(m) = p.arch_map.iter().find(|m| m.architecture == native) {
            architectures.push(m.architecture.clone());
            architectures.extend(m.sub_architectures.iter().flatten().cloned());
        }
    }
    let mut syscalls = Vec::new();
    for call in &p.syscalls {
        let names = match (call.name.is_empty(), call.names.is_empty()) {
            (false, false) => {
                return Err(invalid(
                    "both 'name' and 'names' are specified in a rule, use either".into(),
                ))
            }
            (false, true) => vec![call.name.clone()],
            _ => call.names.clone(),
        };
        let rule_action = action(&call.action)?;
        if !applies(call, bounding, host)? {
            continue;
        }
        let mut rule = LinuxSyscall::default();
        rule.set_names(names);
        rule.set_action(rule_action);
        rule.set_errno_ret(call.errno_ret);
        rule.set_args((!call.args.is_empty()).then(|| call.args.clone()));
        syscalls.push(rule);
    }
    let mut out = LinuxSeccomp::default();
    out.set_default_action(default_action);
    out.set_default_errno_ret(p.default_errno_ret);
    if !architectures.is_empty() {
        out.set_architectures(Some(
            architectures
                .iter()
                .map(|a| named::<Arch>(a, "architecture"))
                .collect::<Result<_>>()?,
        ));
    }
    if !p.flags.is_empty() {
        out.set_flags(Some(
            p.flags
                .iter()
                .map(|f| named::<LinuxSeccompFilterFlag>(f, "flag"))
                .collect::<Result<_>>()?,
        ));
    }
    out.set_listener_path(p.listener_path.map(Into::into));
    out.set_listener_metadata(p.listener_metadata);
    out.set_syscalls(Some(syscalls));
    Ok(Some(out))
}

/// An OCI name (`SCMP_ARCH_X86_64`, ...) as its oci-spec value.
fn named<T: DeserializeOwned>(name: &str, what: &str) -> Result<T> {
    let d: StrDeserializer<'_, serde::de::value::Error> = name.into_deserializer();
    T::deserialize(d).map_err(|_| invalid(format!("unknown {what} {name:?}")))
}

fn action(a: &str) -> Result<LinuxSeccompAction> {
    if ACTIONS.contains(&a) {
        named(a, "action")
    } else {
        Err(invalid(format!("unknown action {a:?}")))
    }
}

/// Docker's rule filter: any excluded architecture, capability (in the
/// bounding set) or reached kernel drops the rule; every included one must
/// hold.
fn applies(call: &Syscall, bounding: &[String], host: &Host) -> Result<bool> {
    let has_cap = |c: &String| bounding.contains(c);
    if let Some(x) = &call.excludes {
        if x.arches.iter().any(|a| a == host.arch) || x.caps.iter().any(has_cap) {
            return Ok(false);
        }
        if let Some(k) = &x.min_kernel {
            if host.kernel >= min_kernel(k)? {
                return Ok(false);
            }
        }
    }
    if let Some(i) = &call.includes {
        if !i.arches.is_empty() && !i.arches.iter().any(|a| a == host.arch) {
            return Ok(false);
        }
        if !i.caps.iter().all(has_cap) {
            return Ok(false);
        }
        if let Some(k) = &i.min_kernel {
            if host.kernel < min_kernel(k)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The conversion as JSON, as the runtime reads it.
    fn to_json(profile: &str, bounding: &[String], host: &Host) -> Result<Option<Value>> {
        Ok(to_oci(profile, bounding, host)?.map(|s| serde_json::to_value(s).unwrap()))
    }

    const AMD64: Host = Host {
        arch: "amd64",
        kernel: (6, 1),
    };

    fn names(v: &Value) -> Vec<String> {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none())
            .flat_map(|r| r["names"].as_array().unwrap().clone())
            .map(|n| n.as_str().unwrap().to_owned())
            .collect()
    }

    fn caps(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_profile_for_the_default_capabilities() {
        let bounding = caps(crate::model::security::DEFAULT_CAPABILITIES);
        let v = to_json(DEFAULT_PROFILE, &bounding, &AMD64)
            .unwrap()
            .unwrap();
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        let allowed = names(&v);
        for n in ["read", "write", "execve", "arch_prctl", "chroot", "ptrace"] {
            assert!(allowed.contains(&n.to_owned()), "{n} not allowed");
        }
        // CAP_SYS_ADMIN-only calls, other architectures' calls.
        for n in [
            "unshare",
            "mount",
            "setns",
            "reboot",
            "riscv_flush_icache",
            "set_tls",
        ] {
            assert!(!allowed.contains(&n.to_owned()), "{n} allowed");
        }
        // clone3 gets ENOSYS without CAP_SYS_ADMIN (so libcs fall back to clone).
        let clone3 = v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["names"] == json!(["clone3"]))
            .unwrap();
        assert_eq!(clone3["errnoRet"], 38);
        assert!(!v.to_string().contains("includes"));
    }

    #[test]
    fn capabilities_and_kernel_select_rules() {
        let mut bounding = caps(crate::model::security::DEFAULT_CAPABILITIES);
        bounding.push("CAP_SYS_ADMIN".into());
        let v = to_json(DEFAULT_PROFILE, &bounding, &AMD64)
            .unwrap()
            .unwrap();
        let allowed = names(&v);
        assert!(allowed.contains(&"unshare".to_owned()));
        assert!(allowed.contains(&"mount".to_owned()));
        assert!(!v.to_string().contains("\"errnoRet\":38"));
        // ptrace needs 4.8 without CAP_SYS_PTRACE.
        let old = Host {
            arch: "amd64",
            kernel: (4, 4),
        };
        let v = to_json(
            DEFAULT_PROFILE,
            &caps(crate::model::security::DEFAULT_CAPABILITIES),
            &old,
        )
        .unwrap()
        .unwrap();
        assert!(!names(&v).contains(&"ptrace".to_owned()));
        let arm = Host {
            arch: "arm64",
            kernel: (6, 1),
        };
        let v = to_json(DEFAULT_PROFILE, &[], &arm).unwrap().unwrap();
        assert_eq!(
            v["architectures"],
            json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        );
        assert!(names(&v).contains(&"set_tls".to_owned()));
        assert!(!names(&v).contains(&"arch_prctl".to_owned()));
    }

    #[test]
    fn custom_profiles() {
        let p = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"name":"mkdir","action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#;
        let v = to_json(p, &[], &AMD64).unwrap().unwrap();
        assert_eq!(
            v["syscalls"],
            json!([{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}])
        );
        assert!(v.get("architectures").is_none());
        assert_eq!(to_json("{}", &[], &AMD64).unwrap(), None);
        for bad in [
            "{",
            r#"{"defaultAction":"SCMP_ACT_NOPE"}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86"}]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_LOG"}]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_LOG","includes":{"minKernel":"6"}}]}"#,
        ] {
            let e = to_json(bad, &[], &AMD64).unwrap_err().to_string();
            assert!(e.starts_with("invalid seccomp profile: "), "{e}");
        }
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel("6.1.0-13-amd64"), Some((6, 1)));
        assert_eq!(parse_kernel("6.18.44-fc-v595"), Some((6, 18)));
        assert_eq!(parse_kernel("5.10-rc5"), Some((5, 10)));
        assert_eq!(min_kernel("4.8").unwrap(), (4, 8));
        assert!(min_kernel("0.0").is_err());
    }
}

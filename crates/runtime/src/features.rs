//! The `features` document (runtime-spec `features.md`) that
//! `berth-runtime features` prints: which spec versions, hooks, mount
//! options, namespaces, capabilities and Linux facilities this runtime
//! recognizes. It also owns the static tables the rest of the runtime
//! validates against ([`CAPABILITY_NAMES`], [`MOUNT_OPTIONS`],
//! [`NAMESPACES`]), so what we advertise and what we accept cannot drift
//! apart. It claims only what berth implements today: no LSMs,
//! Intel RDT, systemd cgroups or idmapped mounts yet.

use serde_json::{json, Value};

/// The oldest runtime-spec version whose configurations we accept.
pub const OCI_VERSION_MIN: &str = "1.0.0";

/// The newest runtime-spec version we implement: the one our spec types
/// (oci-spec) are written against.
pub const OCI_VERSION_MAX: &str = oci_spec::runtime::VERSION;

/// The annotation carrying berth's version in the features document.
pub const VERSION_ANNOTATION: &str = "io.github.berth.version";

/// Hook names, in lifecycle order.
pub const HOOK_NAMES: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Mount options the mount code turns into mount(2) flags, propagation
/// changes or its own steps (`tmpcopyup`), sorted. Anything else in a mount's `options` is passed to the
/// filesystem as data.
pub const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "tmpcopyup",
    "unbindable",
];

/// Namespace types, sorted, with the names `config.json` uses.
pub const NAMESPACES: &[&str] = &[
    "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
];

/// Every capability the kernel defines, indexed by its number
/// (`CAP_CHOWN` is 0, `CAP_CHECKPOINT_RESTORE` is 40, Linux 5.9).
pub const CAPABILITY_NAMES: &[&str] = &[
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

/// The features document. Keys come out sorted (serde_json's map order),
/// which JSON readers do not care about.
pub fn features() -> Value {
    json!({
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION_MAX,
        "hooks": HOOK_NAMES,
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": NAMESPACES,
            "capabilities": CAPABILITY_NAMES,
            "cgroup": {
                "v1": true,
                "v2": true,
                "systemd": false,
                "systemdUser": false,
                "rdma": false,
            },
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
            },
            "apparmor": { "enabled": true },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } },
        },
        "annotations": {
            VERSION_ANNOTATION: env!("CARGO_PKG_VERSION"),
        },
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use oci_spec::runtime::{Capability, Features, LinuxNamespaceType};

    use super::*;

    #[test]
    fn document_has_the_required_fields() {
        let doc = features();
        assert_eq!(doc["ociVersionMin"], "1.0.0");
        assert_eq!(doc["ociVersionMax"], OCI_VERSION_MAX);
        assert_eq!(doc["hooks"].as_array().unwrap().len(), 6);
        assert!(doc["mountOptions"]
            .as_array()
            .unwrap()
            .contains(&json!("rbind")));
        assert_eq!(doc["linux"]["capabilities"][0], "CAP_CHOWN");
        assert_eq!(doc["linux"]["cgroup"]["v2"], true);
        assert_eq!(doc["linux"]["seccomp"]["enabled"], true);
        assert_eq!(doc["linux"]["mountExtensions"]["idmap"]["enabled"], false);
        assert_eq!(
            doc["annotations"][VERSION_ANNOTATION],
            env!("CARGO_PKG_VERSION")
        );

        // It reads back as oci-spec's typed features document.
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let typed: Features = serde_json::from_str(&text).unwrap();
        assert_eq!(typed.oci_version_min(), OCI_VERSION_MIN);
        let linux = typed.linux().as_ref().unwrap();
        assert_eq!(linux.namespaces().as_ref().unwrap().len(), NAMESPACES.len());
        assert_eq!(
            linux.capabilities().as_deref(),
            Some(
                &CAPABILITY_NAMES
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect::<Vec<_>>()[..]
            )
        );
    }

    #[test]
    fn namespace_names_are_the_specs() {
        for name in NAMESPACES {
            let parsed: LinuxNamespaceType =
                serde_json::from_value(json!(name)).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(serde_json::to_value(parsed).unwrap(), json!(name));
        }
    }

    #[test]
    fn tables_are_sorted_and_unique() {
        let mut sorted = MOUNT_OPTIONS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, MOUNT_OPTIONS);
        assert!(MOUNT_OPTIONS.contains(&"tmpcopyup"));
        let mut sorted = NAMESPACES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, NAMESPACES);
    }

    #[test]
    fn capability_names_round_trip_through_oci_spec() {
        for name in CAPABILITY_NAMES {
            // config.json spelling: serde accepts and produces "CAP_*".
            let parsed: Capability =
                serde_json::from_value(json!(name)).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(serde_json::to_value(parsed).unwrap(), json!(name));
            // FromStr (strum) takes the name without the prefix.
            let bare = name.strip_prefix("CAP_").unwrap();
            assert_eq!(Capability::from_str(bare).unwrap(), parsed);
            assert_eq!(parsed.to_string(), bare);
        }
    }

    #[test]
    fn capability_names_are_in_kernel_order() {
        assert_eq!(CAPABILITY_NAMES.len(), 41);
        for (number, name) in CAPABILITY_NAMES.iter().enumerate() {
            let cap =
                caps::Capability::from_str(name).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(usize::from(cap.index()), number, "{name}");
        }
    }
}

//! The `features` document (runtime-spec `features.md`) that
//! `berth-runtime features` prints: which spec versions, hooks, mount
//! options, namespaces, capabilities and Linux facilities this runtime
//! recognizes. The mount options are the parser's own table; the other
//! lists are checked by the tests below against what the code accepts
//! (each advertised name is accepted, every name the config types can
//! carry that is not advertised is refused), so what we advertise and
//! what we accept cannot drift apart. It claims only what berth
//! implements today: no SELinux, Intel RDT or systemd cgroups yet.
//! Idmapped mounts (`mountExtensions.idmap`) are implemented for bind
//! mounts (`rootfs::idmapped`).

use serde_json::{json, Value};

use crate::rootfs::options;

/// The oldest runtime-spec version whose configurations we accept.
pub const OCI_VERSION_MIN: &str = "1.0.0";

/// The newest runtime-spec version we implement: the one our spec types
/// (oci-spec) are written against.
pub const OCI_VERSION_MAX: &str = oci_spec::runtime::VERSION;

/// The annotation carrying berth's version in the features document.
pub const VERSION_ANNOTATION: &str = "io.github.berth.version";

/// runc's word that `checkpoint` and `restore` work (clients such as
/// Podman read it); berth says it only when a usable CRIU is there.
pub const CHECKPOINT_ANNOTATION: &str = "org.opencontainers.runc.checkpoint.enabled";

/// The version of the CRIU that `checkpoint` and `restore` would use.
pub const CRIU_VERSION_ANNOTATION: &str = "io.github.berth.criu.version";

/// Hook names, in lifecycle order.
pub const HOOK_NAMES: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Mount options berth understands, sorted: the names in the table the
/// mount option parser looks options up in ([`options::OPTIONS`]).
/// Anything else is passed to the filesystem as data (and refused on a
/// bind mount).
pub fn mount_options() -> Vec<&'static str> {
    options::OPTIONS.iter().map(|(name, _)| *name).collect()
}

/// Seccomp actions, operators, architectures and filter flags the
/// seccomp compiler accepts (checked against it by the tests below).
pub const SECCOMP_ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];
pub const SECCOMP_OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];
/// Every architecture name the config types know; [`seccomp_archs`] keeps
/// those this host's libseccomp can put in a filter.
pub const SECCOMP_ARCH_NAMES: &[&str] = &[
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_NATIVE",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
];
/// The architectures a profile may list here: those the seccomp compiler
/// accepts on this host (a filter cannot mix byte orders, so an x86 host
/// refuses the big-endian MIPS, PPC and S390 ones).
pub fn seccomp_archs() -> Vec<&'static str> {
    SECCOMP_ARCH_NAMES
        .iter()
        .copied()
        .filter(|arch| {
            serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(
                json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [arch]}),
            )
            .is_ok_and(|p| crate::seccomp::compile(&p, false).is_ok())
        })
        .collect()
}

pub const SECCOMP_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_TSYNC",
];

/// Namespace types, sorted, with the names `config.json` uses.
pub const NAMESPACES: &[&str] = &[
    "cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts",
];

/// Every capability the kernel defines, indexed by its number (the table
/// the engine uses too).
pub const CAPABILITY_NAMES: &[&str] = &berth_sys::caps::NAMES;

/// Adds the checkpoint annotations to a features document when `criu`
/// passed its checks (see [`crate::criu::find`]).
pub fn add_checkpoint(doc: &mut Value, criu: Option<&crate::criu::Criu>) {
    if let Some(c) = criu {
        doc["annotations"][CHECKPOINT_ANNOTATION] = json!("true");
        doc["annotations"][CRIU_VERSION_ANNOTATION] = json!(c.version.to_string());
    }
}

/// The features document. Keys come out sorted (serde_json's map order),
/// which JSON readers do not care about.
pub fn features() -> Value {
    json!({
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION_MAX,
        "hooks": HOOK_NAMES,
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": NAMESPACES,
            "capabilities": CAPABILITY_NAMES,
            "cgroup": {
                "v1": true,
                "v2": true,
                "systemd": false,
                "systemdUser": false,
                "rdma": true,
            },
            "seccomp": {
                "enabled": true,
                "actions": SECCOMP_ACTIONS,
                "operators": SECCOMP_OPERATORS,
                "archs": seccomp_archs(),
                "knownFlags": SECCOMP_FLAGS,
                "supportedFlags": SECCOMP_FLAGS,
            },
            "apparmor": { "enabled": true },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": true } },
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
        assert_eq!(doc["linux"]["mountExtensions"]["idmap"]["enabled"], true);
        for name in ["idmap", "ridmap"] {
            assert!(doc["mountOptions"]
                .as_array()
                .unwrap()
                .contains(&json!(name)));
        }
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
        for table in [
            &mount_options()[..],
            NAMESPACES,
            SECCOMP_ACTIONS,
            SECCOMP_OPERATORS,
            SECCOMP_ARCH_NAMES,
            &seccomp_archs()[..],
            SECCOMP_FLAGS,
        ] {
            let mut sorted = table.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted, table);
        }
        assert!(mount_options().contains(&"tmpcopyup"));
        assert!(mount_options().contains(&"rro"));
    }

    #[test]
    fn advertised_mount_options_are_exactly_the_parsed_ones() {
        let doc = features();
        let advertised: Vec<&str> = doc["mountOptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for name in &advertised {
            let parsed = options::parse(&[name.to_string()]).unwrap();
            assert!(
                parsed.data.is_empty(),
                "{name} is advertised but not parsed"
            );
        }
        // Every option runc 1.2 knows, and some that are filesystem data:
        // berth understands exactly the advertised ones (the rest are data
        // for the filesystem, or refused).
        for name in [
            "acl",
            "async",
            "atime",
            "bind",
            "defaults",
            "dev",
            "diratime",
            "dirsync",
            "exec",
            "idmap",
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
            "nosymfollow",
            "private",
            "r0",
            "ratime",
            "rbind",
            "rdev",
            "rdiratime",
            "relatime",
            "remount",
            "rexec",
            "ridmap",
            "rnoatime",
            "rnodev",
            "rnodiratime",
            "rnoexec",
            "rnorelatime",
            "rnostrictatime",
            "rnosuid",
            "rnosymfollow",
            "ro",
            "rprivate",
            "rrelatime",
            "rro",
            "rrw",
            "rshared",
            "rslave",
            "rstrictatime",
            "rsuid",
            "rsymfollow",
            "runbindable",
            "rw",
            "shared",
            "silent",
            "slave",
            "strictatime",
            "suid",
            "symfollow",
            "sync",
            "tmpcopyup",
            "unbindable",
            "mode=755",
            "size=1m",
        ] {
            let parsed = options::parse(&[name.to_string()]);
            let understood = matches!(&parsed, Ok(o) if o.data.is_empty());
            assert_eq!(understood, advertised.contains(&name), "{name}");
        }
    }

    #[test]
    fn rdma_is_advertised_because_it_is_implemented() {
        // The cgroups crate turns linux.resources.rdma into rdma.max lines.
        let res: oci_spec::runtime::LinuxResources =
            serde_json::from_str(r#"{"rdma": {"mlx5_1": {"hcaHandles": 3}}}"#).unwrap();
        assert!(res.rdma().is_some());
        assert_eq!(features()["linux"]["cgroup"]["rdma"], true);
    }

    /// The name config.json uses for every namespace type oci-spec knows
    /// (an exhaustive match: a new type breaks the build here).
    fn namespace_name(t: LinuxNamespaceType) -> &'static str {
        match t {
            LinuxNamespaceType::Mount => "mount",
            LinuxNamespaceType::Cgroup => "cgroup",
            LinuxNamespaceType::Uts => "uts",
            LinuxNamespaceType::Ipc => "ipc",
            LinuxNamespaceType::User => "user",
            LinuxNamespaceType::Pid => "pid",
            LinuxNamespaceType::Network => "network",
            LinuxNamespaceType::Time => "time",
        }
    }

    #[test]
    fn advertised_namespaces_are_exactly_the_accepted_ones() {
        for name in NAMESPACES {
            let linux: oci_spec::runtime::Linux =
                serde_json::from_value(json!({"namespaces": [{"type": name}]}))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            let plan = crate::namespaces::Plan::from_config(Some(&linux))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let t = linux.namespaces().as_ref().unwrap()[0].typ();
            assert!(plan.has(t) || plan.listed.contains(&t), "{name}");
            assert_eq!(namespace_name(t), *name);
        }
        for bogus in ["net", "mnt", "bogus"] {
            let r: Result<oci_spec::runtime::Linux, _> =
                serde_json::from_value(json!({"namespaces": [{"type": bogus}]}));
            assert!(r.is_err(), "{bogus} is accepted but not advertised");
        }
    }

    #[test]
    fn advertised_capabilities_are_every_one_the_code_knows() {
        let known: std::collections::BTreeSet<String> =
            caps::all().iter().map(|c| c.to_string()).collect();
        let advertised: std::collections::BTreeSet<String> =
            CAPABILITY_NAMES.iter().map(|s| s.to_string()).collect();
        assert_eq!(known, advertised);
    }

    /// Parses and compiles a profile as `create` would.
    fn compile(profile: Value) -> Result<crate::seccomp::Filter, String> {
        let profile: oci_spec::runtime::LinuxSeccomp =
            serde_json::from_value(profile).map_err(|e| e.to_string())?;
        crate::seccomp::compile(&profile, true).map_err(|e| e.to_string())
    }

    #[test]
    fn advertised_seccomp_names_are_exactly_the_accepted_ones() {
        for action in SECCOMP_ACTIONS {
            let r = compile(json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getpid"], "action": action}]}));
            match r {
                Ok(_) => {}
                // Known, but needs a listener socket to compile.
                Err(e) if *action == "SCMP_ACT_NOTIFY" => {
                    assert!(e.contains("listenerPath"), "{e}")
                }
                Err(e) => panic!("{action}: {e}"),
            }
        }
        for op in SECCOMP_OPERATORS {
            compile(json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 0, "value": 1, "op": op}]}]}))
            .unwrap_or_else(|e| panic!("{op}: {e}"));
        }
        let advertised: Vec<String> = features()["linux"]["seccomp"]["archs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        for arch in SECCOMP_ARCH_NAMES {
            let r = compile(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [arch]}));
            assert_eq!(r.is_ok(), advertised.contains(&arch.to_string()), "{arch}");
        }
        // The host's own architecture is always there.
        let native = match std::env::consts::ARCH {
            "x86_64" => "SCMP_ARCH_X86_64",
            "aarch64" => "SCMP_ARCH_AARCH64",
            _ => "SCMP_ARCH_NATIVE",
        };
        assert!(advertised.contains(&native.to_string()), "{advertised:?}");
        for flag in SECCOMP_FLAGS {
            compile(json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag]}))
                .unwrap_or_else(|e| panic!("{flag}: {e}"));
        }
        // Names the config types can carry but that are not advertised
        // must be refused: none today; anything else does not parse.
        for (key, bogus) in [
            ("defaultAction", json!("SCMP_ACT_BOGUS")),
            ("architectures", json!(["SCMP_ARCH_BOGUS"])),
            ("flags", json!(["SECCOMP_FILTER_FLAG_BOGUS"])),
        ] {
            let mut p = json!({"defaultAction": "SCMP_ACT_ALLOW"});
            p[key] = bogus;
            assert!(compile(p).is_err(), "{key}");
        }
        // Every variant oci-spec has is advertised: serialize them all.
        use oci_spec::runtime::LinuxSeccompOperator as O;
        use oci_spec::runtime::{Arch, LinuxSeccompAction as A, LinuxSeccompFilterFlag as F};
        let name = |v: Value| v.as_str().unwrap().to_owned();
        let all_actions = [
            A::ScmpActKill,
            A::ScmpActKillThread,
            A::ScmpActKillProcess,
            A::ScmpActTrap,
            A::ScmpActErrno,
            A::ScmpActNotify,
            A::ScmpActTrace,
            A::ScmpActLog,
            A::ScmpActAllow,
        ];
        for a in all_actions {
            // Exhaustive: a new oci-spec action breaks the build here.
            match a {
                A::ScmpActKill
                | A::ScmpActKillThread
                | A::ScmpActKillProcess
                | A::ScmpActTrap
                | A::ScmpActErrno
                | A::ScmpActNotify
                | A::ScmpActTrace
                | A::ScmpActLog
                | A::ScmpActAllow => {}
            }
            assert!(SECCOMP_ACTIONS.contains(&name(json!(a)).as_str()));
        }
        let all_ops = [
            O::ScmpCmpNe,
            O::ScmpCmpLt,
            O::ScmpCmpLe,
            O::ScmpCmpEq,
            O::ScmpCmpGe,
            O::ScmpCmpGt,
            O::ScmpCmpMaskedEq,
        ];
        for o in all_ops {
            match o {
                O::ScmpCmpNe
                | O::ScmpCmpLt
                | O::ScmpCmpLe
                | O::ScmpCmpEq
                | O::ScmpCmpGe
                | O::ScmpCmpGt
                | O::ScmpCmpMaskedEq => {}
            }
            assert!(SECCOMP_OPERATORS.contains(&name(json!(o)).as_str()));
        }
        assert_eq!(all_ops.len(), SECCOMP_OPERATORS.len());
        assert_eq!(all_actions.len(), SECCOMP_ACTIONS.len());
        let all_flags = [
            F::SeccompFilterFlagLog,
            F::SeccompFilterFlagTsync,
            F::SeccompFilterFlagSpecAllow,
        ];
        for f in all_flags {
            match f {
                F::SeccompFilterFlagLog
                | F::SeccompFilterFlagTsync
                | F::SeccompFilterFlagSpecAllow => {}
            }
            assert!(SECCOMP_FLAGS.contains(&name(json!(f)).as_str()));
        }
        assert_eq!(all_flags.len(), SECCOMP_FLAGS.len());
        let all_archs = [
            Arch::ScmpArchNative,
            Arch::ScmpArchX86,
            Arch::ScmpArchX86_64,
            Arch::ScmpArchX32,
            Arch::ScmpArchArm,
            Arch::ScmpArchAarch64,
            Arch::ScmpArchMips,
            Arch::ScmpArchMips64,
            Arch::ScmpArchMips64n32,
            Arch::ScmpArchMipsel,
            Arch::ScmpArchMipsel64,
            Arch::ScmpArchMipsel64n32,
            Arch::ScmpArchPpc,
            Arch::ScmpArchPpc64,
            Arch::ScmpArchPpc64le,
            Arch::ScmpArchS390,
            Arch::ScmpArchS390x,
            Arch::ScmpArchRiscv64,
        ];
        for a in all_archs {
            match a {
                Arch::ScmpArchNative
                | Arch::ScmpArchX86
                | Arch::ScmpArchX86_64
                | Arch::ScmpArchX32
                | Arch::ScmpArchArm
                | Arch::ScmpArchAarch64
                | Arch::ScmpArchMips
                | Arch::ScmpArchMips64
                | Arch::ScmpArchMips64n32
                | Arch::ScmpArchMipsel
                | Arch::ScmpArchMipsel64
                | Arch::ScmpArchMipsel64n32
                | Arch::ScmpArchPpc
                | Arch::ScmpArchPpc64
                | Arch::ScmpArchPpc64le
                | Arch::ScmpArchS390
                | Arch::ScmpArchS390x
                | Arch::ScmpArchRiscv64 => {}
            }
            assert!(
                SECCOMP_ARCH_NAMES.contains(&name(json!(a)).as_str()),
                "{a:?}"
            );
        }
        assert_eq!(all_archs.len(), SECCOMP_ARCH_NAMES.len());
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

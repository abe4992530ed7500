//! The kernel's capabilities, one table for the engine (Docker's
//! `--cap-add` names, "all" as the caller's mask) and the runtime (the
//! `features` document).

/// Every capability the kernel defines, indexed by its number
/// (linux/capability.h: `CAP_CHOWN` is 0, `CAP_CHECKPOINT_RESTORE` is 40,
/// Linux 5.9), spelled as `config.json`, oci-spec and the `caps` crate
/// spell them.
pub const NAMES: [&str; 41] = [
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

/// The names of the capabilities whose bits `mask` sets (a `CapEff:` line
/// of `/proc/<pid>/status`, say), in number order.
pub fn in_mask(mask: u64) -> impl Iterator<Item = &'static str> {
    NAMES
        .iter()
        .enumerate()
        .filter(move |(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_kernel_headers() {
        // Spot checks against linux/capability.h (the runtime's tests
        // compare the whole table with the `caps` crate and oci-spec).
        assert_eq!(NAMES[5], "CAP_KILL");
        assert_eq!(NAMES[21], "CAP_SYS_ADMIN");
        assert_eq!(NAMES[37], "CAP_AUDIT_READ");
        assert_eq!(NAMES.len(), 41);
    }

    #[test]
    fn mask_bits_name_capabilities() {
        let mask = (1 << 0) | (1 << 5) | (1 << 40);
        assert_eq!(
            in_mask(mask).collect::<Vec<_>>(),
            ["CAP_CHOWN", "CAP_KILL", "CAP_CHECKPOINT_RESTORE"]
        );
        assert_eq!(in_mask(u64::MAX).count(), NAMES.len());
    }
}

//! Which kernel namespace a sysctl belongs to: one table for the engine
//! (`--sysctl` is checked at create, as Docker does) and the runtime
//! (`linux.sysctl` is refused unless the container has that namespace of
//! its own, as runc does).

/// The namespace whose instance of a sysctl a process sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    Ipc,
    Net,
    Uts,
}

/// The System V IPC sysctls (in the ipc namespace, with `fs.mqueue.*`).
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

/// The namespace of sysctl `key` (dotted, `net.ipv4.ip_forward`), or `None`
/// when it is not namespaced: setting it would change the whole host.
pub fn namespace_of(key: &str) -> Option<Namespace> {
    if key.starts_with("net.") {
        Some(Namespace::Net)
    } else if key.starts_with("fs.mqueue.") || IPC.contains(&key) {
        Some(Namespace::Ipc)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(Namespace::Uts)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_of_sysctls() {
        assert_eq!(namespace_of("net.ipv4.ip_forward"), Some(Namespace::Net));
        assert_eq!(namespace_of("kernel.shmmax"), Some(Namespace::Ipc));
        assert_eq!(namespace_of("fs.mqueue.msg_max"), Some(Namespace::Ipc));
        assert_eq!(namespace_of("kernel.domainname"), Some(Namespace::Uts));
        assert_eq!(namespace_of("kernel.shmmax2"), None);
        assert_eq!(namespace_of("kernel.pid_max"), None);
        assert_eq!(namespace_of("vm.swappiness"), None);
        assert_eq!(namespace_of("network.x"), None);
    }
}

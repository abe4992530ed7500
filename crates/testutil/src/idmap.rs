//! Whether the kernel idmaps mounts of a given directory's filesystem
//! (`MOUNT_ATTR_IDMAP`: Linux 5.12 for ext4, xfs, btrfs; 6.3 for tmpfs;
//! never for ramfs, proc, sysfs, 9p), probed directly, so a test can tell
//! which answer the runtime under test owes it.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use berth_sys::fsmount::{self as fsm, MountAttr};

/// Tries an idmapped clone of the mount `dir` is on, with a throwaway user
/// namespace mapping 0 to 100000 (needs root). The clone is detached and
/// never attached: nothing is left behind.
pub fn idmapped_mounts_supported(dir: &Path) -> bool {
    // The child waits to be killed, not on a pipe: tests run in threads,
    // and a pipe's write end inherited by another test's child at the same
    // moment would keep this one waiting forever (seen in the v2 guest).
    let pid = match berth_sys::clone_process(libc::CLONE_NEWUSER).expect("clone a user namespace") {
        berth_sys::Forked::Child => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        berth_sys::Forked::Parent(pid) => pid,
    };
    let child = nix::unistd::Pid::from_raw(pid);
    let opened = (|| {
        for file in ["uid_map", "gid_map"] {
            std::fs::write(format!("/proc/{pid}/{file}"), "0 100000 65536\n")?;
        }
        File::open(format!("/proc/{pid}/ns/user"))
    })();
    let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(child, None);
    let userns = opened.expect("a user namespace with id maps");
    let tree = fsm::open_tree_clone(dir, false).expect("open_tree");
    let attr = MountAttr {
        attr_set: u64::from(fsm::MOUNT_ATTR_IDMAP),
        userns_fd: userns.as_raw_fd() as u64,
        ..MountAttr::default()
    };
    match fsm::mount_setattr(tree.as_fd(), false, &attr) {
        Ok(()) => true,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => false,
        Err(e) => panic!("probe idmapped mounts on {}: {e}", dir.display()),
    }
}

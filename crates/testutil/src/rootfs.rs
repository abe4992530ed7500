//! A minimal root filesystem made from the host's static busybox.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// The static busybox a rootfs is made from; `BERTH_TEST_BUSYBOX`
/// overrides it. Debian's `busybox-static` installs it here.
pub const BUSYBOX: &str = "/bin/busybox";

fn busybox_path() -> String {
    std::env::var("BERTH_TEST_BUSYBOX").unwrap_or_else(|_| BUSYBOX.to_owned())
}

/// The applet names of the host busybox (`busybox --list`), read once per
/// process.
pub fn busybox_applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let bin = busybox_path();
        let out = crate::output_within(Command::new(&bin).arg("--list"), crate::COMMAND_TIMEOUT);
        assert!(
            out.status.success(),
            "{bin} --list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            // "busybox" is itself an applet; a link to it would overwrite
            // the binary with a self-referencing symlink.
            .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
            .map(str::to_owned)
            .collect()
    })
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
";
const GROUP: &str = "root:x:0:
user:x:1000:
nogroup:x:65534:
";

/// Fills `dir` (created if missing) with a busybox root filesystem:
/// `bin/busybox` (a copy of the host's static binary) and a `bin/<applet>`
/// symlink per applet; `proc sys dev tmp etc root home/user mnt`;
/// `/etc/passwd` and `/etc/group` with root, a user 1000 and nobody
/// (65534); `/etc/hostname`.
///
/// Building one takes a few milliseconds (one 2 MB copy and ~270 symlinks),
/// so each bundle gets its own writable copy rather than sharing one.
pub fn busybox_rootfs(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    for (sub, mode) in [
        ("bin", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
        ("etc", 0o755),
        ("mnt", 0o755),
        ("home", 0o755),
        ("root", 0o700),
        ("tmp", 0o1777),
    ] {
        let p = dir.join(sub);
        fs::create_dir_all(&p)?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
    }
    let home = dir.join("home/user");
    fs::create_dir_all(&home)?;
    nix::unistd::chown(&home, Some(1000.into()), Some(1000.into())).map_err(io::Error::from)?;

    let bin = dir.join("bin");
    fs::copy(busybox_path(), bin.join("busybox"))?;
    fs::set_permissions(bin.join("busybox"), fs::Permissions::from_mode(0o755))?;
    for applet in busybox_applets() {
        match symlink("busybox", bin.join(applet)) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    fs::write(dir.join("etc/passwd"), PASSWD)?;
    fs::write(dir.join("etc/group"), GROUP)?;
    fs::write(dir.join("etc/hostname"), "berth-test\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_rootfs_with_a_shell() {
        if !Path::new(&busybox_path()).exists() {
            crate::skipped(&format!("no busybox at {}", busybox_path()));
            return;
        }
        let tmp = crate::TempDir::new("berth-rootfs-test").unwrap();
        let root = tmp.join("rootfs");
        match busybox_rootfs(&root) {
            Ok(()) => {}
            // chown of home/user needs root.
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return,
            Err(e) => panic!("{e}"),
        }
        assert!(root.join("bin/busybox").metadata().unwrap().len() > 100_000);
        assert_eq!(
            fs::read_link(root.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
        assert!(passwd.contains(":65534:") && passwd.contains(":1000:"));
    }
}

//! An unprivileged host user for rootless tests.
//!
//! `newuidmap`/`newgidmap` look the caller up by name and check its ranges
//! in `/etc/subuid` and `/etc/subgid`, so the rootless tests need a real
//! user. [`rootless_user`] makes one once per machine and leaves it there
//! (no restore step that a killed test could skip): the system user and
//! group `berth-rootless` (uid and gid 47000 where free) with the
//! subordinate range 1470000000-1470065535 for uids and gids. It only adds
//! what is missing, under a lock, so parallel tests and reruns agree.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::process::Command;

use nix::fcntl::{Flock, FlockArg};

/// The user's name, in `/etc/passwd`, `/etc/group`, `/etc/subuid` and
/// `/etc/subgid`.
pub const ROOTLESS_USER: &str = "berth-rootless";
/// The uid and gid it gets when they are free.
const PREFERRED_ID: u32 = 47000;
/// Its subordinate ids: far above ordinary users' ranges (100000+).
const SUBORDINATE_START: u32 = 1_470_000_000;
const SUBORDINATE_COUNT: u32 = 65536;

/// An unprivileged user with subordinate id ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnprivilegedUser {
    pub uid: u32,
    pub gid: u32,
    /// First subordinate uid and how many (`/etc/subuid`).
    pub sub_uids: (u32, u32),
    /// First subordinate gid and how many (`/etc/subgid`).
    pub sub_gids: (u32, u32),
}

/// The `berth-rootless` user, created on first use (needs root).
pub fn rootless_user() -> UnprivilegedUser {
    let lock_path = std::env::temp_dir().join("berth-rootless-user.lock");
    let lock =
        File::create(&lock_path).unwrap_or_else(|e| panic!("create {}: {e}", lock_path.display()));
    let _lock = Flock::lock(lock, FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("lock {}: {e}", lock_path.display()));
    let gid = match entry_id("group", ROOTLESS_USER) {
        Some(gid) => gid,
        None => {
            let mut c = Command::new("groupadd");
            c.args(["--system", ROOTLESS_USER]);
            if entry_by_id("group", PREFERRED_ID).is_none() {
                c.args(["--gid", &PREFERRED_ID.to_string()]);
            }
            run(c);
            entry_id("group", ROOTLESS_USER).expect("groupadd made the group")
        }
    };
    let uid = match entry_id("passwd", ROOTLESS_USER) {
        Some(uid) => uid,
        None => {
            let mut c = Command::new("useradd");
            c.args([
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
            ]);
            c.args(["--gid", &gid.to_string()]);
            if entry_by_id("passwd", PREFERRED_ID).is_none() {
                c.args(["--uid", &PREFERRED_ID.to_string()]);
            }
            c.arg(ROOTLESS_USER);
            run(c);
            entry_id("passwd", ROOTLESS_USER).expect("useradd made the user")
        }
    };
    UnprivilegedUser {
        uid,
        gid,
        sub_uids: subordinate_range("/etc/subuid"),
        sub_gids: subordinate_range("/etc/subgid"),
    }
}

fn run(mut c: Command) {
    let out = crate::output_within(&mut c, crate::COMMAND_TIMEOUT);
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The id (third field) of `name` in `getent <db>`.
fn entry_id(db: &str, name: &str) -> Option<u32> {
    let out = crate::command::try_output_within(
        Command::new("getent").args([db, name]),
        crate::COMMAND_TIMEOUT,
    )
    .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next()?.split(':').nth(2)?.parse().ok()
}

/// The name holding `id` in `getent <db>`, if any.
fn entry_by_id(db: &str, id: u32) -> Option<String> {
    let out = crate::command::try_output_within(
        Command::new("getent").args([db, &id.to_string()]),
        crate::COMMAND_TIMEOUT,
    )
    .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .next()
        .and_then(|l| l.split(':').next())
        .map(str::to_owned)
}

/// Our range in `file`, appended when the user has none.
fn subordinate_range(file: &str) -> (u32, u32) {
    let text = fs::read_to_string(file).unwrap_or_default();
    let ours = text.lines().find_map(|l| {
        let f: Vec<&str> = l.trim().split(':').collect();
        match f.as_slice() {
            [name, start, count] if *name == ROOTLESS_USER => {
                Some((start.parse().ok()?, count.parse().ok()?))
            }
            _ => None,
        }
    });
    if let Some(range) = ours {
        return range;
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .unwrap_or_else(|e| panic!("open {file}: {e}"));
    let sep = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    writeln!(
        f,
        "{sep}{ROOTLESS_USER}:{SUBORDINATE_START}:{SUBORDINATE_COUNT}"
    )
    .unwrap_or_else(|e| panic!("append to {file}: {e}"));
    (SUBORDINATE_START, SUBORDINATE_COUNT)
}

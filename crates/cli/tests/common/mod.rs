//! Drives the `berth` binary with its own `--root` in a temp dir.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use berth_testutil::{output_with_input, output_within, status_within, TempDir, COMMAND_TIMEOUT};

pub mod build;
pub mod buildah;
pub mod criu;
pub mod engine;
pub mod lifecycle;
pub mod oci_tree;
pub mod serve;

pub struct Berth {
    pub dir: TempDir,
    pub root: PathBuf,
}

impl Berth {
    pub fn new() -> Berth {
        let dir = TempDir::new("berth-cli-test").unwrap();
        let root = dir.join("root");
        Berth { dir, root }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_berth"));
        c.arg("--root").arg(&self.root);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        output_within(self.command().args(args), COMMAND_TIMEOUT)
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure with exit code 125; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(125),
            "berth {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn ok_stdin(&self, args: &[&str], input: &[u8]) -> String {
        let out = output_with_input(self.command().args(args), input, COMMAND_TIMEOUT);
        assert!(
            out.status.success(),
            "berth {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }
}

/// A small root filesystem tar: busybox, `/etc/hello`, a symlink.
pub fn rootfs_tar(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    berth_testutil::busybox_rootfs(&rootfs).unwrap();
    std::fs::write(rootfs.join("etc/hello"), "hello from berth\n").unwrap();
    let tar = dir.join("rootfs.tar");
    let status = status_within(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        COMMAND_TIMEOUT,
    );
    assert!(status.success());
    tar
}

/// Returns false (after a SKIPPED line) when `tool` is missing, and
/// panics instead when CI asked that no test skip.
pub fn have_tool(tool: &str) -> bool {
    let found = berth_testutil::try_output_within(
        Command::new(tool).arg("--version").stderr(Stdio::null()),
        COMMAND_TIMEOUT,
    )
    .is_ok();
    if !found {
        if berth_testutil::root_required_by_env() {
            panic!("{tool} is not installed, and CI forbids skipping (add it to .ci/run)");
        }
        berth_testutil::skipped(&format!("{tool} not installed"));
    }
    found
}

pub fn run_tool(cmd: &mut Command) -> String {
    let out = output_within(cmd, COMMAND_TIMEOUT);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

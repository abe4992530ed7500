//! Helpers shared by the privileged test files of this crate: mode gates
//! that print a visible `SKIPPED` line, child processes killed on drop, and
//! a created cgroup under a per-test parent ([`CgroupParent`], removed from
//! every hierarchy on drop).

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use berth_cgroups::{detect_mode, Cgroup, Mode};
use berth_testutil::CgroupParent;
use oci_spec::runtime::LinuxResources;

/// The host's mode; panics when `BERTH_REQUIRE_CGROUP` names another one.
pub fn host_mode() -> Mode {
    let mode = detect_mode().expect("detect cgroup mode");
    if let Ok(want) = std::env::var("BERTH_REQUIRE_CGROUP") {
        let want = want.trim().to_ascii_lowercase();
        let name = format!("{mode:?}").to_ascii_lowercase();
        assert!(
            want.is_empty() || want == name,
            "BERTH_REQUIRE_CGROUP={want} but this host is {name}"
        );
    }
    mode
}

/// `false` (after printing `SKIPPED`) unless the host is in one of `modes`.
pub fn require_mode(_test: &str, modes: &[Mode]) -> bool {
    let mode = host_mode();
    if modes.contains(&mode) {
        return true;
    }
    berth_testutil::skipped(&format!("needs cgroup {modes:?}, this host is {mode:?}"));
    false
}

pub fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).expect("resources json")
}

pub fn read(dir: &Path, file: &str) -> String {
    let p = dir.join(file);
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// A created cgroup for one container under the test's own parent.
pub fn container(parent: &CgroupParent, name: &str) -> Cgroup {
    let cg = Cgroup::resolve(Some(&parent.path_for(name)), name).expect("resolve");
    cg.create().expect("create");
    cg
}

/// The directory holding `file` for this cgroup: the hierarchy of
/// `controller` on v1, else the unified directory (v2, or a hybrid host's
/// controller that lives in the unified hierarchy).
pub fn dir_with(cg: &Cgroup, controller: &str, file: &str) -> PathBuf {
    cg.path_of(controller)
        .filter(|d| d.join(file).exists())
        .or_else(|| cg.unified_path().map(Path::to_path_buf))
        .unwrap_or_else(|| panic!("no directory for {controller}"))
}

/// A shell child, killed and reaped on drop.
pub struct Proc(pub Child);

impl Proc {
    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A shell that waits to be put in `cg`, then holds `bytes` of memory in a
/// variable, burns some CPU, says `ready`, and sleeps (two processes: the
/// shell and its `sleep`). `None` from [`Hog::ready`] means it died first
/// (killed by the OOM killer).
pub struct Hog {
    pub child: Proc,
    out: BufReader<std::process::ChildStdout>,
}

impl Hog {
    pub fn start(cg: &Cgroup, bytes: usize) -> Hog {
        let script = format!(
            "read _go; v=$(head -c {bytes} /dev/zero | tr '\\0' x); i=0; \
             while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000 & echo ready; wait"
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut child = Proc(child);
        cg.add_process(child.pid()).expect("add the hog");
        writeln!(child.0.stdin.as_mut().unwrap(), "go").unwrap();
        Hog { child, out }
    }

    /// Waits for `ready`; `false` if the shell died before.
    pub fn ready(&mut self) -> bool {
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap_or(0) > 0 && line.trim() == "ready"
    }
}

/// `MAJ:MIN` of a block device of this machine (not a ram or zram disk).
pub fn block_device() -> Option<String> {
    let mut names: Vec<String> = fs::read_dir("/sys/block")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort_by_key(|n| (n.starts_with("loop"), n.clone()));
    names
        .iter()
        .filter(|n| !n.starts_with("ram") && !n.starts_with("zram"))
        .find_map(|n| fs::read_to_string(format!("/sys/block/{n}/dev")).ok())
        .map(|s| s.trim().to_string())
}

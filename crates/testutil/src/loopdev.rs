//! A loop block device over a file in a temp dir, for tests that need a
//! block device of their own (I/O throttling, device rules). Tests may use
//! `losetup`; the runtime itself never shells out.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tempdir::TempDir;

/// `/dev/loopN`, attached by `losetup -f --show` to a sparse file of the
/// requested size, detached (`losetup -d`) on drop, before the file goes.
#[derive(Debug)]
pub struct LoopDevice {
    path: PathBuf,
    major: u32,
    minor: u32,
    // Last field: the backing file goes after the device is detached.
    _dir: TempDir,
}

impl LoopDevice {
    /// A loop device of `size` bytes; panics if none can be attached.
    pub fn new(size: u64) -> LoopDevice {
        if !Path::new("/dev/loop-control").exists() {
            // A guest whose kernel has loop as a module: load it.
            let _ = crate::command::try_output_within(
                Command::new("modprobe").arg("loop"),
                crate::COMMAND_TIMEOUT,
            );
        }
        let dir = TempDir::new("berth-loop").expect("create loop backing dir");
        let backing = dir.join("disk.img");
        File::create(&backing)
            .and_then(|f| f.set_len(size))
            .expect("create loop backing file");
        let out = crate::output_within(
            Command::new("losetup").args(["-f", "--show"]).arg(&backing),
            crate::COMMAND_TIMEOUT,
        );
        assert!(
            out.status.success(),
            "losetup -f --show {}: {}",
            backing.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        // Owns the device from here on: a panic below still detaches it.
        let mut dev = LoopDevice {
            path,
            major: 0,
            minor: 0,
            _dir: dir,
        };
        let name = dev.path.file_name().expect("loop device name").to_owned();
        let numbers = fs::read_to_string(Path::new("/sys/class/block").join(&name).join("dev"))
            .unwrap_or_else(|e| panic!("read major:minor of {}: {e}", dev.path.display()));
        let (major, minor) = numbers
            .trim()
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .unwrap_or_else(|| panic!("bad major:minor {numbers:?}"));
        dev.major = major;
        dev.minor = minor;
        dev
    }

    /// The device node on the host, e.g. `/dev/loop3`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn major(&self) -> u32 {
        self.major
    }

    pub fn minor(&self) -> u32 {
        self.minor
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let out = crate::command::try_output_within(
            Command::new("losetup").arg("-d").arg(&self.path),
            crate::COMMAND_TIMEOUT,
        );
        if !matches!(out, Ok(o) if o.status.success()) {
            eprintln!("warning: could not detach {}", self.path.display());
        }
    }
}

//! A Debian 12 base image for the build tests, made offline from
//! containers: `mmdebstrap` (minbase plus gcc and libc6-dev, for the
//! multi-stage C build) from the host's apt sources, once per machine.
//!
//! Two files are cached in [`debian_cache_dir`], both named after
//! [`DEBIAN_VERSION`] (change it to remake them): the root filesystem tar
//! (`mmdebstrap`, about 25 s and 380 MB here) and an image archive made
//! from it by `berth import` + `berth save` (an OCI layout that is also a
//! docker-archive, 140 MB gzip; `berth load` of it takes 16 s with a debug
//! berth where a fresh `import` of the tar takes 90 s, so each test loads
//! the archive). Each file is made under an exclusive `flock` on
//! `<file>.lock` (parallel tests wait for the first one) into a temp file
//! beside it and renamed into place, so a reader never sees half a file and
//! a killed run leaves no cache entry behind.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};

use crate::{try_output_within, TempDir, COMMAND_TIMEOUT};

/// Names the cached files; bump it when the recipe changes.
pub const DEBIAN_VERSION: &str = "bookworm-minbase-gcc-v1";

/// Where the cache lives unless `BERTH_TEST_CACHE` names another directory.
pub const DEBIAN_CACHE_DIR: &str = "/var/cache/berth-test";

/// The name [`debian_archive`]'s image carries.
pub const DEBIAN_IMAGE: &str = "deb:12";

/// `mmdebstrap` downloads a few dozen MB: generous for a slow mirror.
const MMDEBSTRAP_TIMEOUT: Duration = Duration::from_secs(1200);

/// The cache directory: `$BERTH_TEST_CACHE` or [`DEBIAN_CACHE_DIR`].
pub fn debian_cache_dir() -> PathBuf {
    std::env::var_os("BERTH_TEST_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEBIAN_CACHE_DIR))
}

/// The Debian 12 rootfs tar (`mmdebstrap --variant=minbase
/// --include=gcc,libc6-dev bookworm`), made on first use.
pub fn debian_rootfs_tar() -> Result<PathBuf, String> {
    let out = debian_cache_dir().join(format!("debian-{DEBIAN_VERSION}.tar"));
    cached(&out, |tmp| {
        let mut cmd = Command::new("mmdebstrap");
        cmd.args([
            "--variant=minbase",
            "--include=gcc,libc6-dev",
            "--mode=root",
            "--format=tar",
            "bookworm",
        ])
        .arg(tmp)
        .args(host_sources());
        run(&mut cmd, MMDEBSTRAP_TIMEOUT)
    })?;
    Ok(out)
}

/// An image archive of [`debian_rootfs_tar`] named [`DEBIAN_IMAGE`]
/// (`Env` PATH only, like `debian:12`), made on first use with the
/// `berth` binary `berth`.
pub fn debian_archive(berth: &Path) -> Result<PathBuf, String> {
    let rootfs = debian_rootfs_tar()?;
    let out = debian_cache_dir().join(format!("debian-{DEBIAN_VERSION}.oci.tar"));
    cached(&out, |tmp| {
        let dir = TempDir::new("berth-debian").map_err(|e| e.to_string())?;
        let root = dir.join("root");
        let berth_in = |args: &[&str]| {
            let mut c = Command::new(berth);
            c.arg("--root").arg(&root).args(args);
            c
        };
        let path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        run(
            &mut berth_in(&[
                "import",
                "--change",
                &format!("ENV {path}"),
                "--change",
                "CMD [\"bash\"]",
                rootfs.to_str().unwrap(),
                DEBIAN_IMAGE,
            ]),
            MMDEBSTRAP_TIMEOUT,
        )?;
        run(
            &mut berth_in(&["save", "-o", tmp.to_str().unwrap(), DEBIAN_IMAGE]),
            COMMAND_TIMEOUT,
        )
    })?;
    Ok(out)
}

/// Loads the Debian image into the berth root `root` with the `berth`
/// binary `berth`, and tags it `name` when that is not [`DEBIAN_IMAGE`].
pub fn import_debian(berth: &Path, root: &Path, name: &str) -> Result<(), String> {
    let archive = debian_archive(berth)?;
    let berth_in = |args: &[&str]| {
        let mut c = Command::new(berth);
        c.arg("--root").arg(root).args(args);
        c
    };
    run(
        &mut berth_in(&["load", "-i", archive.to_str().unwrap()]),
        MMDEBSTRAP_TIMEOUT,
    )?;
    if name != DEBIAN_IMAGE {
        run(&mut berth_in(&["tag", DEBIAN_IMAGE, name]), COMMAND_TIMEOUT)?;
    }
    Ok(())
}

/// The host's apt sources for bookworm, as files mmdebstrap pastes into
/// the new system's sources (its `MIRROR` arguments). None found: its
/// default, deb.debian.org with updates and security.
fn host_sources() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "list" || x == "sources"))
            .collect();
        more.sort();
        files.extend(more);
    }
    files.retain(|f| {
        fs::read_to_string(f).is_ok_and(|text| {
            text.lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains("bookworm"))
        })
    });
    files
}

/// Makes `out` with `make(temp path)` unless it exists, under an exclusive
/// lock on `<out>.lock`; the temp file is renamed to `out` only when
/// `make` succeeded.
fn cached(out: &Path, make: impl FnOnce(&Path) -> Result<(), String>) -> Result<(), String> {
    let dir = out.parent().unwrap();
    fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let lock_path = out.with_extension("lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("open {}: {e}", lock_path.display()))?;
    let _held = Flock::lock(lock, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("flock {}: {e}", lock_path.display()))?;
    if out.exists() {
        return Ok(());
    }
    let name = out.file_name().unwrap().to_string_lossy();
    let tmp = dir.join(format!(".tmp-{}-{name}", std::process::id()));
    let made = make(&tmp).and_then(|()| {
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .and_then(|()| fs::rename(&tmp, out))
            .map_err(|e| format!("install {}: {e}", out.display()))
    });
    if made.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    made
}

fn run(cmd: &mut Command, limit: Duration) -> Result<(), String> {
    let out = try_output_within(cmd, limit)?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

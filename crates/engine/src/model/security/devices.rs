//! `--device HOST[:CONTAINER][:PERMS]` and the host devices of
//! `--privileged`: device nodes described from the host's, with their
//! cgroup access.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::{bad_flag, Device};
use crate::error::{Error, Result};

fn valid_device_mode(m: &str) -> bool {
    !m.is_empty()
        && m.len() <= 3
        && m.chars().all(|c| "rwm".contains(c))
        && m.chars().enumerate().all(|(i, c)| !m[..i].contains(c))
}

/// `--device HOST[:CONTAINER][:PERMS]`: one node, or every node under a
/// host directory.
pub(super) fn devices(arg: &str) -> Result<Vec<Device>> {
    let parts: Vec<&str> = arg.split(':').collect();
    let (src, dst, perms) = match parts[..] {
        [s] => (s, s, "rwm"),
        [s, m] if valid_device_mode(m) => (s, s, m),
        [s, d] => (s, d, "rwm"),
        [s, d, m] => (s, d, m),
        _ => return Err(bad_flag("device", arg, "invalid device specification")),
    };
    if !valid_device_mode(perms) {
        return Err(bad_flag(
            "device",
            arg,
            format!("invalid device mode: {perms}"),
        ));
    }
    if !dst.starts_with('/') {
        return Err(bad_flag(
            "device",
            arg,
            format!("{dst} is not an absolute path"),
        ));
    }
    let gathering = |e: String| {
        Error::invalid(
            "--device",
            format!("error gathering device information while adding custom device {src:?}: {e}"),
        )
    };
    let resolved = std::fs::canonicalize(src).map_err(|e| gathering(io_reason(&e)))?;
    let meta = std::fs::metadata(&resolved).map_err(|e| gathering(io_reason(&e)))?;
    if meta.is_dir() {
        let mut out = Vec::new();
        walk_devices(&resolved, &mut |host, rel| {
            if let Some(d) = device(
                host,
                &format!("{}/{}", dst.trim_end_matches('/'), rel),
                perms,
            ) {
                out.push(d);
            }
        })
        .map_err(|e| gathering(io_reason(&e)))?;
        return Ok(out);
    }
    device(&resolved, dst, perms)
        .map(|d| vec![d])
        .ok_or_else(|| gathering("not a device node".into()))
}

pub(super) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        _ => e.to_string(),
    }
}

pub(crate) fn device(host: &Path, dest: &str, access: &str) -> Option<Device> {
    let m = std::fs::metadata(host).ok()?;
    let kind = if m.file_type().is_char_device() {
        "c"
    } else if m.file_type().is_block_device() {
        "b"
    } else {
        return None;
    };
    let rdev = m.rdev();
    Some(Device {
        path: dest.to_owned(),
        host_path: host.display().to_string(),
        kind: kind.into(),
        major: nix::sys::stat::major(rdev),
        minor: nix::sys::stat::minor(rdev),
        file_mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        access: access.into(),
    })
}

/// Calls `f(host path, path relative to dir)` for each device node under
/// `dir`, skipping what containerd's `HostDevices` skips.
pub(crate) fn walk_devices(dir: &Path, f: &mut dyn FnMut(&Path, &str)) -> std::io::Result<()> {
    fn walk(base: &Path, rel: &str, f: &mut dyn FnMut(&Path, &str)) -> std::io::Result<()> {
        let here = if rel.is_empty() {
            base.to_owned()
        } else {
            base.join(rel)
        };
        for entry in std::fs::read_dir(&here)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let sub = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let ft = entry.file_type()?;
            if ft.is_dir() {
                if !["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]
                    .contains(&name.as_str())
                {
                    walk(base, &sub, f)?;
                }
            } else if (ft.is_char_device() || ft.is_block_device()) && sub != "console" {
                f(&entry.path(), &sub);
            }
        }
        Ok(())
    }
    walk(dir, "", f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs() {
        let d = devices("/dev/null").unwrap();
        assert_eq!(
            (
                d[0].path.as_str(),
                d[0].kind.as_str(),
                d[0].major,
                d[0].minor
            ),
            ("/dev/null", "c", 1, 3)
        );
        assert_eq!(d[0].access, "rwm");
        let d = devices("/dev/zero:r").unwrap();
        assert_eq!(
            (d[0].path.as_str(), d[0].access.as_str()),
            ("/dev/zero", "r")
        );
        let d = devices("/dev/zero:/dev/z:rw").unwrap();
        assert_eq!((d[0].path.as_str(), d[0].access.as_str()), ("/dev/z", "rw"));
        let e = devices("/nonexistent").unwrap_err().to_string();
        assert_eq!(e, "invalid --device: error gathering device information while adding custom device \"/nonexistent\": no such file or directory");
        assert!(devices("/etc/hostname")
            .unwrap_err()
            .to_string()
            .contains("not a device node"));
        assert!(devices("/dev/null:/dev/n:rwx").is_err());
        assert!(devices("/dev/null:rel").is_err());
    }
}

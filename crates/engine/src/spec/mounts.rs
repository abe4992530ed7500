//! `mounts`: Docker's defaults (moby `oci/defaults.go`), the bundle's
//! `resolv.conf`, `hostname` and `hosts`, then the mounts the flags add
//! (`--init`, `--tmpfs`, volumes, binds and `--mount type=tmpfs`, which
//! replace a default at the same place) and change (`--shm-size`;
//! `--privileged` makes /sys and its cgroups writable).

use std::path::Path;

use oci_spec::runtime::Mount;

use crate::model::mounts::{MountKind, MountPoint};
use crate::model::security::{SecurityConfig, INIT_IN_CONTAINER};

fn mount(destination: &str, typ: &str, source: &Path, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(destination.into());
    m.set_typ(Some(typ.into()));
    m.set_source(Some(source.into()));
    m.set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    m
}

fn bind(destination: &str, source: &Path, readonly: bool) -> Mount {
    let options: &[&str] = if readonly {
        &["rbind", "ro", "rprivate"]
    } else {
        &["rbind", "rprivate"]
    };
    mount(destination, "bind", source, options)
}

pub fn mounts(sec: &SecurityConfig, user: &[MountPoint], bundle_dir: &Path) -> Vec<Mount> {
    // A privileged container's /sys and /sys/fs/cgroup are writable.
    let sys: &[&str] = if sec.privileged {
        &["nosuid", "noexec", "nodev", "rw"]
    } else {
        &["nosuid", "noexec", "nodev", "ro"]
    };
    let cgroup: &[&str] = if sec.privileged {
        &["nosuid", "noexec", "nodev", "rw"]
    } else {
        &["ro", "nosuid", "noexec", "nodev"]
    };
    let shm_size = match sec.shm_size {
        0 => "size=65536k".to_owned(),
        n => format!("size={n}"),
    };
    let p = Path::new;
    let mut list = vec![
        mount("/proc", "proc", p("proc"), &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            p("tmpfs"),
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            p("devpts"),
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount("/sys", "sysfs", p("sysfs"), sys),
        mount("/sys/fs/cgroup", "cgroup", p("cgroup"), cgroup),
        mount(
            "/dev/mqueue",
            "mqueue",
            p("mqueue"),
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            p("shm"),
            &["nosuid", "noexec", "nodev", "mode=1777", &shm_size],
        ),
        bind("/etc/resolv.conf", &bundle_dir.join("resolv.conf"), false),
        bind("/etc/hostname", &bundle_dir.join("hostname"), false),
        bind("/etc/hosts", &bundle_dir.join("hosts"), false),
    ];
    if let Some(init) = &sec.init {
        add(&mut list, bind(INIT_IN_CONTAINER, init, true));
    }
    for t in &sec.tmpfs {
        let options: Vec<&str> = t.options.iter().map(String::as_str).collect();
        add(
            &mut list,
            mount(&t.destination, "tmpfs", p("tmpfs"), &options),
        );
    }
    // Parents before children (moby sorts by depth too), so that `/a`
    // does not cover `/a/b`; stable for mounts at one depth.
    let mut user: Vec<&MountPoint> = user.iter().collect();
    user.sort_by_key(|m| Path::new(&m.destination).components().count());
    for m in user {
        add(&mut list, user_mount(m));
    }
    list
}

/// A volume or bind is a bind mount of its host path (moby's
/// `WithMounts`): `rbind` unless `bind-nonrecursive`, `ro`, and the
/// propagation binds have (rprivate by default); a tmpfs from `--mount`
/// gets Docker's `noexec,nosuid,nodev` and its size and mode.
fn user_mount(m: &MountPoint) -> Mount {
    let mut options: Vec<String> = Vec::new();
    let (typ, source) = match m.kind {
        MountKind::Bind | MountKind::Volume => {
            options.push(if m.bind_nonrecursive { "bind" } else { "rbind" }.into());
            ("bind", m.source.as_str())
        }
        MountKind::Tmpfs => {
            options.extend(["noexec", "nosuid", "nodev"].map(String::from));
            if let Some(size) = m.tmpfs_size {
                options.push(format!("size={size}"));
            }
            if let Some(mode) = m.tmpfs_mode {
                options.push(format!("mode={mode:o}"));
            }
            ("tmpfs", "tmpfs")
        }
    };
    if !m.rw {
        options.push("ro".into());
    }
    if let Some(p) = m.propagation {
        options.push(p.as_str().into());
    }
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    mount(&m.destination, typ, Path::new(source), &options)
}

/// Adds a mount, replacing one at the same destination (Docker's user
/// mounts win over its defaults).
fn add(list: &mut Vec<Mount>, m: Mount) {
    list.retain(|x| x.destination() != m.destination());
    list.push(m);
}

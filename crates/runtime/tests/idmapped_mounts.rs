//! Idmapped bind mounts (`idmap`/`ridmap`, a mount's `uidMappings` and
//! `gidMappings`): a host directory owned by root, bound into a container
//! whose root is uid 100000 on the host, shows root's files as root's and
//! takes the container root's writes as root's.
//!
//! Where the kernel cannot idmap a source's filesystem (tmpfs before Linux
//! 6.3, as in the cgroup v2 guest's /tmp; ramfs always) the runtime owes a
//! one-line refusal naming it: each test probes the filesystem itself
//! (`idmapped_mounts_supported`) and checks whichever answer is owed, and
//! fails when `BERTH_REQUIRE_FEATURES` has `idmap` but the probe says no.
//!
//! Debian 12's runc 1.1.5 has no idmapped mounts (runc 1.2 has): against a
//! runtime whose `features` does not say `mountExtensions.idmap.enabled`,
//! these tests say SKIPPED.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::*;
use nix::mount::{mount, MsFlags};
use serde_json::json;

/// The container's user namespace maps its root to uid/gid 100000.
const CONTAINER_ROOT: u32 = 100000;

/// Whether the runtime under test says it has idmapped mounts (berth
/// does; runc 1.1 has no such feature).
fn supports_idmap(rt: &Runtime) -> bool {
    if rt.is_berth() {
        return true;
    }
    let out = rt.cmd(&["features"]);
    let features: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
    if features["linux"]["mountExtensions"]["idmap"]["enabled"] == true {
        return true;
    }
    skipped(&format!(
        "{} does not implement idmapped mounts (features: mountExtensions.idmap.enabled is not true)",
        rt.name()
    ));
    false
}

/// A bundle whose container has a user namespace mapping 0 to 100000.
fn userns_bundle(rt: &Runtime) -> Bundle {
    let mut b = Bundle::new(rt);
    b.set_namespace("user", None);
    let map = json!([{ "containerID": 0, "hostID": CONTAINER_ROOT, "size": 65536 }]);
    let mut c = b.config_mut();
    c["linux"]["uidMappings"] = map.clone();
    c["linux"]["gidMappings"] = map;
    drop(c);
    b
}

/// Mount points the container's root (uid 100000 on the host) could not
/// make in the root-owned rootfs.
fn make_mount_points(b: &Bundle, dirs: &[&str]) {
    for d in dirs {
        fs::create_dir_all(b.rootfs().join(d)).unwrap();
    }
}

/// Whether the kernel idmaps `dir`'s filesystem; a machine that
/// `BERTH_REQUIRE_FEATURES` says has idmapped mounts must.
fn kernel_idmaps(dir: &Path) -> bool {
    let ok = idmapped_mounts_supported(dir);
    assert!(
        ok || !feature_required("idmap"),
        "{FEATURES_ENV} requires `idmap`, but the kernel cannot idmap {}",
        dir.display()
    );
    ok
}

/// The refusal for a source on a filesystem the kernel cannot idmap: one
/// line naming the mount, the source and the filesystem; nothing left.
#[track_caller]
fn assert_refused_for_filesystem(rt: &Runtime, b: &Bundle, dest: &str, source: &Path, fs: &str) {
    let out = rt.run(b).failed();
    let msg = error_message(&out);
    let want = format!(
        "idmapped mount on {dest}: {} is on {fs}, which does not support idmapped mounts on this kernel",
        source.display()
    );
    assert!(msg.contains(&want), "want {want:?}:\n{out}");
    assert_eq!(out.stderr_lines().len(), 1, "one line:\n{out}");
    assert!(rt.list_ids().is_empty(), "{:?}", rt.list_ids());
    assert!(leftover_cgroups(b).is_empty(), "{:?}", leftover_cgroups(b));
}

/// The filesystem type of `dir`, as the host's mount table names it.
fn fs_type(dir: &Path) -> String {
    let dir = fs::canonicalize(dir).unwrap();
    mountinfo()
        .into_iter()
        .filter(|m| dir.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.len())
        .map(|m| m.fs_type)
        .unwrap()
}

#[test]
fn idmapped_bind_shows_host_root_as_root_inside_and_writes_as_host_root() {
    require_root!();
    let rt = runtime();
    if !supports_idmap(&rt) {
        return;
    }
    let mut b = userns_bundle(&rt);
    let vol = b.host_dir("vol");
    fs::write(vol.join("host-file"), "from the host\n").unwrap();
    make_mount_points(&b, &["data", "plain", "ro"]);
    fs::write(b.rootfs().join("one-file"), "").unwrap();
    b.add_mount("/data", "bind", vol.to_str().unwrap(), &["rbind", "idmap"]);
    // A single file, idmapped too.
    let file = vol.join("host-file");
    b.add_mount(
        "/one-file",
        "bind",
        file.to_str().unwrap(),
        &["bind", "idmap"],
    );
    // The same directory without the idmap: the host's root is unmapped
    // in the container's user namespace (the overflow id, 65534).
    b.add_mount("/plain", "bind", vol.to_str().unwrap(), &["rbind"]);
    b.add_mount(
        "/ro",
        "bind",
        vol.to_str().unwrap(),
        &["rbind", "idmap", "ro"],
    );
    if !kernel_idmaps(&vol) {
        return assert_refused_for_filesystem(&rt, &b, "/data", &vol, &fs_type(&vol));
    }
    b.set_script(
        "stat -c '%u %g' /data /data/host-file /plain/host-file /one-file; \
         echo written inside > /data/made-inside; mkdir /data/dir-inside; \
         stat -c '%u %g' /data/made-inside; \
         cat /ro/host-file; touch /ro/nope 2>&1 || echo ro refused",
    );
    let out = rt.run(&b).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..5],
        ["0 0", "0 0", "65534 65534", "0 0", "0 0"],
        "{out}"
    );
    assert_eq!(lines[5], "from the host", "{out}");
    assert!(lines[6].contains("Read-only file system"), "{out}");
    assert_eq!(lines[7], "ro refused", "{out}");
    for made in ["made-inside", "dir-inside"] {
        let meta = fs::metadata(vol.join(made)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "{made} on the host");
    }
    assert_eq!(
        fs::read_to_string(vol.join("made-inside")).unwrap(),
        "written inside\n"
    );
    assert!(!vol.join("nope").exists());
}

#[test]
fn a_mounts_own_mappings_apply_instead_of_the_containers() {
    require_root!();
    let rt = runtime();
    if !supports_idmap(&rt) {
        return;
    }
    let mut b = userns_bundle(&rt);
    let vol = b.host_dir("vol");
    fs::write(vol.join("owned-by-1000"), "").unwrap();
    fs::write(vol.join("owned-by-root"), "").unwrap();
    for p in [vol.as_path(), &vol.join("owned-by-1000")] {
        nix::unistd::chown(p, Some(1000.into()), Some(2000.into())).unwrap();
    }
    make_mount_points(&b, &["data"]);
    b.add_mount("/data", "bind", vol.to_str().unwrap(), &["rbind", "idmap"]);
    // On-disk uid 1000 (gid 2000) is host uid 100000, the container's
    // root; nothing else on disk is mapped.
    {
        let mut c = b.config_mut();
        let m = c["mounts"].as_array_mut().unwrap().last_mut().unwrap();
        m["uidMappings"] = json!([{ "containerID": 1000, "hostID": CONTAINER_ROOT, "size": 1 }]);
        m["gidMappings"] = json!([{ "containerID": 2000, "hostID": CONTAINER_ROOT, "size": 1 }]);
    }
    if !kernel_idmaps(&vol) {
        return assert_refused_for_filesystem(&rt, &b, "/data", &vol, &fs_type(&vol));
    }
    b.set_script(
        "stat -c '%u %g' /data/owned-by-1000 /data/owned-by-root; \
         touch /data/made-inside; stat -c '%u %g' /data/made-inside",
    );
    let out = rt.run(&b).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["0 0", "65534 65534", "0 0"], "{out}");
    let meta = fs::metadata(vol.join("made-inside")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1000, 2000));
}

/// `idmap` on an `rbind` maps the top mount only; `ridmap` the mounts
/// below it too.
#[test]
fn ridmap_maps_the_mounts_below_an_rbind_too() {
    require_root!();
    let rt = runtime();
    if !supports_idmap(&rt) {
        return;
    }
    let mut b = userns_bundle(&rt);
    let vol = b.host_dir("vol");
    let sub = vol.join("sub");
    fs::create_dir(&sub).unwrap();
    mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    fs::write(sub.join("below"), "").unwrap();
    make_mount_points(&b, &["top-only", "all"]);
    b.add_mount(
        "/top-only",
        "bind",
        vol.to_str().unwrap(),
        &["rbind", "idmap"],
    );
    b.add_mount("/all", "bind", vol.to_str().unwrap(), &["rbind", "ridmap"]);
    if !kernel_idmaps(&vol) || !kernel_idmaps(&sub) {
        let out = rt.run(&b).failed();
        assert!(
            error_message(&out).contains("does not support idmapped mounts on this kernel"),
            "{out}"
        );
        return;
    }
    b.set_script("stat -c '%u %g' /top-only /top-only/sub/below /all /all/sub/below");
    assert_eq!(rt.run(&b).ok().stdout, "0 0\n65534 65534\n0 0\n0 0\n");
}

#[test]
fn idmap_on_a_tmpfs_is_refused() {
    require_root!();
    let rt = runtime();
    if !supports_idmap(&rt) {
        return;
    }
    let mut b = userns_bundle(&rt);
    b.add_mount("/t", "tmpfs", "tmpfs", &["idmap"]);
    let out = rt.run(&b).failed();
    let msg = error_message(&out);
    assert!(
        msg.contains("id-mapped mounts are only supported for bind-mounts"),
        "{out}"
    );
    assert!(rt.list_ids().is_empty(), "{:?}", rt.list_ids());
}

#[test]
fn idmap_without_mappings_in_a_container_without_a_user_namespace_is_refused() {
    require_root!();
    let rt = runtime();
    if !supports_idmap(&rt) {
        return;
    }
    let mut b = Bundle::new(&rt);
    let vol = b.host_dir("vol");
    b.add_mount("/data", "bind", vol.to_str().unwrap(), &["rbind", "idmap"]);
    let out = rt.run(&b).failed();
    assert!(
        error_message(&out)
            .contains("id-mapped mounts must have both uid and gid mappings specified"),
        "{out}"
    );
    assert!(rt.list_ids().is_empty(), "{:?}", rt.list_ids());
}

/// A ramfs, which no kernel idmaps, mounted on a directory of the bundle
/// (the bundle's temp dir detaches it on drop).
#[test]
fn a_source_on_a_filesystem_without_idmap_support_is_named() {
    require_root!();
    let rt = runtime();
    if !supports_idmap(&rt) {
        return;
    }
    let mut b = userns_bundle(&rt);
    let vol = b.host_dir("ramfs");
    mount(
        Some("ramfs"),
        &vol,
        Some("ramfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    assert!(
        !idmapped_mounts_supported(&vol),
        "this kernel idmaps ramfs: pick a filesystem it cannot idmap for this test"
    );
    make_mount_points(&b, &["data"]);
    b.add_mount("/data", "bind", vol.to_str().unwrap(), &["rbind", "idmap"]);
    if rt.is_berth() {
        assert_refused_for_filesystem(&rt, &b, "/data", &vol, "ramfs");
    } else {
        // Another runtime's words differ: it must still refuse.
        let out = rt.run(&b).failed();
        assert!(rt.list_ids().is_empty(), "{out}");
    }
}

/// crun issue 2097: the clone of a shared host mount is in its peer
/// group; attached as it is, a mount the container makes below it (here a
/// second idmapped bind) would show up on the host.
#[test]
fn a_mount_below_an_idmapped_bind_of_a_shared_mount_stays_inside() {
    require_root!();
    let rt = runtime();
    if !supports_idmap(&rt) {
        return;
    }
    let mut b = userns_bundle(&rt);
    let shared = b.host_dir("shared");
    mount(
        Some("tmpfs"),
        &shared,
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    mount(
        None::<&str>,
        &shared,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();
    fs::create_dir(shared.join("sub")).unwrap();
    let inner = b.host_dir("inner");
    fs::write(inner.join("inner-file"), "inner\n").unwrap();
    make_mount_points(&b, &["mnt"]);
    b.add_mount(
        "/mnt",
        "bind",
        shared.to_str().unwrap(),
        &["rbind", "idmap"],
    );
    b.add_mount(
        "/mnt/sub",
        "bind",
        inner.to_str().unwrap(),
        &["rbind", "idmap"],
    );
    if !kernel_idmaps(&shared) {
        return assert_refused_for_filesystem(&rt, &b, "/mnt", &shared, "tmpfs");
    }
    if !kernel_idmaps(&inner) {
        return assert_refused_for_filesystem(&rt, &b, "/mnt/sub", &inner, &fs_type(&inner));
    }
    b.set_script("cat /mnt/sub/inner-file; stat -c '%u' /mnt/sub/inner-file");
    assert_eq!(rt.run(&b).ok().stdout, "inner\n0\n");
    let sub = shared.join("sub");
    let leaked: Vec<_> = mountinfo()
        .into_iter()
        .filter(|m| Path::new(&m.mount_point).starts_with(&sub))
        .collect();
    assert!(
        leaked.is_empty(),
        "the container's mount reached the host: {leaked:?}"
    );
    assert!(!sub.join("inner-file").exists());
}

#[test]
fn a_rootless_runtime_refuses_idmapped_mounts_in_runcs_words() {
    require_root!();
    let user = rootless_user();
    let rt =
        Runtime::unprivileged_from_env(env!("CARGO_BIN_EXE_berth-runtime"), user.uid, user.gid);
    if !supports_idmap(&rt) {
        return;
    }
    let mut b = Bundle::rootless(&rt);
    let vol = b.host_dir("vol");
    b.add_mount("/data", "bind", vol.to_str().unwrap(), &["rbind", "idmap"]);
    let out = rt.run(&b).failed();
    assert!(
        error_message(&out).contains("id-mapped mounts are not supported for rootless containers"),
        "{out}"
    );
    assert!(rt.list_ids().is_empty(), "{:?}", rt.list_ids());
}

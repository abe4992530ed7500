//! The container's OCI runtime spec, typed (oci-spec).

#[cfg(test)]
mod golden;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{json, Value};

    use super::golden;

    /// The untyped builder as `start` runs it: `bundle::spec`, then the
    /// user resolved in the rootfs and patched in.
    fn old(c: &crate::Container, rootfs: &Path) -> Value {
        let dir = rootfs.with_extension("bundle");
        std::fs::create_dir_all(&dir).unwrap();
        let spec = crate::bundle::spec(c, Path::new(golden::BUNDLE)).unwrap();
        std::fs::write(dir.join("config.json"), spec.to_string()).unwrap();
        crate::users::apply(&dir, rootfs, &c.config.user, &c.config.security.group_add).unwrap();
        let v = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
        v.unwrap()
    }

    #[test]
    fn old_builder_matches_goldens() {
        golden::check(old);
        if std::env::var_os("BERTH_WRITE_GOLDEN").is_some() {
            let host = crate::seccomp::Host::current();
            let facts = json!({
                "cgroup2": Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
                "capabilities": crate::security::caps::current_capabilities(),
                "arch": host.arch,
                "kernel": host.kernel,
                "devices": golden::read_golden("privileged")["linux"]["devices"],
            });
            let text = serde_json::to_string_pretty(&facts).unwrap() + "\n";
            std::fs::write(golden::golden_dir().join("host.json"), text).unwrap();
        }
    }
}

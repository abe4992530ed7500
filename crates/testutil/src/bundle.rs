//! An OCI bundle in a temp dir: `rootfs/` (busybox) and `config.json`.

use std::fs;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::cgroup::CgroupParent;
use crate::id::unique_id;
use crate::rootfs::busybox_rootfs;
use crate::runtime::{force_delete, Runtime};
use crate::spec::default_config;
use crate::tempdir::TempDir;

/// A bundle for one container, named [`id`](Self::id), whose
/// `linux.cgroupsPath` lies under a cgroup parent of its own.
///
/// Dropping it runs `<runtime> --root <root> delete --force <id>`, then
/// removes the cgroup parent in every hierarchy, then the directory.
/// Config edits go through [`config_mut`](Self::config_mut) (saved when the
/// guard drops) or the `set_*`/`add_*` helpers (saved at once).
#[derive(Debug)]
pub struct Bundle {
    runtime: Runtime,
    id: String,
    config: Value,
    cgroup: CgroupParent,
    dir: TempDir,
}

impl Bundle {
    /// A busybox bundle with the default config (see [`default_config`]).
    pub fn new(runtime: &Runtime) -> Bundle {
        let b = Bundle::rootfs_only(runtime);
        b.save();
        b
    }

    /// A bundle with `rootfs/` but no `config.json` yet (for `spec`); the
    /// in-memory config is the default until [`reload`](Self::reload).
    pub fn rootfs_only(runtime: &Runtime) -> Bundle {
        let dir = TempDir::new("berth-bundle").expect("create bundle dir");
        busybox_rootfs(&dir.join("rootfs")).expect("build busybox rootfs");
        let id = unique_id(&test_hint());
        let cgroup = CgroupParent::new();
        let config = default_config(&cgroup.path_for(&id));
        Bundle {
            runtime: runtime.clone(),
            id,
            config,
            cgroup,
            dir,
        }
    }

    /// A bundle whose `config.json` is what `<runtime> spec --rootless`
    /// writes when run as the runtime's user (see
    /// [`Runtime::unprivileged_from_env`]), with `process.terminal` off.
    /// The bundle directory belongs to that user, so `spec` can write
    /// there; the rootfs stays root's (readable by all).
    pub fn rootless(runtime: &Runtime) -> Bundle {
        let mut b = Bundle::rootfs_only(runtime);
        if let Some((uid, gid)) = runtime.user() {
            nix::unistd::chown(b.path(), Some(uid.into()), Some(gid.into()))
                .expect("chown bundle dir");
        }
        let out = runtime.cmd_in(b.path(), &["spec", "--rootless"]);
        assert!(out.success(), "spec --rootless failed:\n{out}");
        b.reload();
        b.set_terminal(false);
        b
    }

    /// The container id this bundle is for.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The bundle directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// The container's absolute `linux.cgroupsPath`: the one in the config
    /// if absolute (see [`share_cgroup_parent`](Self::share_cgroup_parent)),
    /// else the one under this bundle's own parent.
    pub fn cgroup_path(&self) -> String {
        match self.config["linux"]["cgroupsPath"].as_str() {
            Some(p) if p.starts_with('/') => p.to_owned(),
            _ => self.cgroup.path_for(&self.id),
        }
    }

    pub fn cgroup_parent(&self) -> &CgroupParent {
        &self.cgroup
    }

    /// Moves this container's `linux.cgroupsPath` under `other`'s cgroup
    /// parent, so the two are siblings: CPU shares and weights only divide
    /// CPU time between sibling cgroups. `other`'s parent removes both on
    /// drop (this bundle's own parent is then left empty).
    pub fn share_cgroup_parent(&mut self, other: &Bundle) -> &mut Bundle {
        let path = other.cgroup.path_for(&self.id);
        self.config_mut()["linux"]["cgroupsPath"] = json!(path);
        self
    }

    /// A fresh directory in the bundle dir, outside the rootfs (a host-side
    /// source for bind mounts, a hook log...).
    pub fn host_dir(&self, name: &str) -> PathBuf {
        let p = self.dir.join(name);
        fs::create_dir_all(&p).expect("create host dir");
        p
    }

    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Mutable access to the config; written to `config.json` when the
    /// guard drops.
    pub fn config_mut(&mut self) -> ConfigGuard<'_> {
        ConfigGuard { bundle: self }
    }

    /// Writes the in-memory config to `config.json`.
    pub fn save(&self) {
        let text = serde_json::to_string_pretty(&self.config).expect("serialize config");
        fs::write(self.config_path(), text).expect("write config.json");
    }

    /// Replaces the in-memory config with what `config.json` holds.
    pub fn reload(&mut self) {
        let text = fs::read_to_string(self.config_path()).expect("read config.json");
        self.config = serde_json::from_str(&text).expect("config.json is JSON");
    }

    /// `process.args`.
    pub fn set_args(&mut self, args: &[&str]) -> &mut Bundle {
        self.config_mut()["process"]["args"] = json!(args);
        self
    }

    /// `process.args = ["sh", "-c", script]`.
    pub fn set_script(&mut self, script: &str) -> &mut Bundle {
        self.set_args(&["sh", "-c", script])
    }

    /// Adds `KEY=value` to `process.env`.
    pub fn add_env(&mut self, key: &str, value: &str) -> &mut Bundle {
        push(
            &mut self.config_mut()["process"]["env"],
            json!(format!("{key}={value}")),
        );
        self
    }

    pub fn set_hostname(&mut self, name: &str) -> &mut Bundle {
        self.config_mut()["hostname"] = json!(name);
        self
    }

    /// `root.readonly`.
    pub fn set_readonly_root(&mut self, readonly: bool) -> &mut Bundle {
        self.config_mut()["root"]["readonly"] = json!(readonly);
        self
    }

    pub fn set_terminal(&mut self, terminal: bool) -> &mut Bundle {
        self.config_mut()["process"]["terminal"] = json!(terminal);
        self
    }

    /// Appends a mount to `mounts`.
    pub fn add_mount(
        &mut self,
        destination: &str,
        kind: &str,
        source: &str,
        options: &[&str],
    ) -> &mut Bundle {
        let m = json!({
            "destination": destination, "type": kind, "source": source, "options": options
        });
        push(&mut self.config_mut()["mounts"], m);
        self
    }

    /// Adds namespace `kind` (`user`, `cgroup`, `time`...) to
    /// `linux.namespaces`, replacing an entry of the same type; `path`
    /// makes it a namespace to join.
    pub fn set_namespace(&mut self, kind: &str, path: Option<&Path>) -> &mut Bundle {
        let entry = match path {
            Some(p) => json!({ "type": kind, "path": p }),
            None => json!({ "type": kind }),
        };
        let mut cfg = self.config_mut();
        let list = cfg["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces is an array");
        list.retain(|n| n["type"] != kind);
        list.push(entry);
        drop(cfg);
        self
    }

    /// Removes namespace `kind` from `linux.namespaces` (share the host's).
    pub fn remove_namespace(&mut self, kind: &str) -> &mut Bundle {
        if let Some(list) = self.config_mut()["linux"]["namespaces"].as_array_mut() {
            list.retain(|n| n["type"] != kind);
        }
        self
    }

    /// Appends a hook `{path, args}` to `hooks.<stage>`.
    pub fn add_hook(&mut self, stage: &str, path: &str, args: &[&str]) -> &mut Bundle {
        let mut cfg = self.config_mut();
        if cfg.get("hooks").is_none() {
            cfg["hooks"] = json!({});
        }
        push(
            &mut cfg["hooks"][stage],
            json!({ "path": path, "args": args }),
        );
        drop(cfg);
        self
    }
}

fn push(slot: &mut Value, v: Value) {
    if !slot.is_array() {
        *slot = json!([]);
    }
    slot.as_array_mut().expect("array").push(v);
}

/// A short, readable id prefix from the running test's name.
fn test_hint() -> String {
    let name = crate::root::__test_name("c");
    let last = name.rsplit("::").next().unwrap_or("c");
    last.chars().take(14).collect()
}

impl Drop for Bundle {
    fn drop(&mut self) {
        force_delete(
            self.runtime.bin(),
            self.runtime.user(),
            self.runtime.root(),
            &self.id,
        );
        self.cgroup.remove();
        // `dir` (a TempDir) removes itself after this.
    }
}

/// Derefs to the bundle's config; saves it to `config.json` on drop.
pub struct ConfigGuard<'a> {
    bundle: &'a mut Bundle,
}

impl Deref for ConfigGuard<'_> {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.bundle.config
    }
}

impl DerefMut for ConfigGuard<'_> {
    fn deref_mut(&mut self) -> &mut Value {
        &mut self.bundle.config
    }
}

impl Drop for ConfigGuard<'_> {
    fn drop(&mut self) {
        self.bundle.save();
    }
}

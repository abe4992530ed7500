//! The OCI bundle of a container, `<root>/containers/<id>/`: `config.json`
//! (the spec [`crate::spec`] built), the `rootfs` mount point, and the
//! `hostname`, `hosts` and `resolv.conf` files bind-mounted into the
//! container.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

use crate::error::{Error, Result};
use crate::model::Container;

pub struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    pub fn new(containers_dir: &Path, id: &str) -> Bundle {
        Bundle {
            dir: containers_dir.join(id),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}-json.log"))
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes the directory, the files the container sees in `/etc` and
    /// `config.json`.
    pub fn write(&self, c: &Container, spec: &Spec) -> Result<()> {
        fs::create_dir_all(self.rootfs()).map_err(|e| Error::io("create", self.rootfs(), e))?;
        let hostname = &c.config.hostname;
        self.write_file("hostname", &format!("{hostname}\n"))?;
        self.write_file(
            "hosts",
            &format!(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
                 fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
                 ff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
            ),
        )?;
        self.write_file("resolv.conf", &resolv_conf())?;
        if c.config.network_mode == "host" {
            // The host's own files, as Docker does with --network host.
            let host = |f: &str| fs::read_to_string(f).unwrap_or_default();
            self.write_file("hosts", &host("/etc/hosts"))?;
            self.write_file("resolv.conf", &host("/etc/resolv.conf"))?;
        }
        self.write_spec(spec)
    }

    /// At start, with the image mounted at `rootfs`: the spec with the
    /// user resolved in the image's files, written once.
    pub fn write_for_start(&self, c: &Container, rootfs: &Path) -> Result<()> {
        self.write_spec(&crate::spec::for_start(c, &self.dir, rootfs)?)
    }

    /// Writes `config.json` atomically, not durably: it is rebuilt from the
    /// database at every start, so a crash can only lose a copy (and a sync
    /// costs ~12 ms of each `run` on ext4). Not rewritten when it already
    /// holds this spec.
    pub fn write_spec(&self, spec: &Spec) -> Result<()> {
        let text = serde_json::to_vec_pretty(spec).expect("spec serializes");
        let path = self.file("config.json");
        if fs::read(&path).is_ok_and(|old| old == text) {
            return Ok(());
        }
        berth_sys::replace_atomic(&path, &text).map_err(|e| Error::io("write", &path, e))
    }

    /// The `/etc` files: atomic, not synced (as before the shared helper:
    /// made once at create, where a sync each would add ~12 ms to `run`).
    fn write_file(&self, name: &str, content: &str) -> Result<()> {
        let path = self.file(name);
        berth_sys::replace_atomic(&path, content.as_bytes())
            .map_err(|e| Error::io("write", &path, e))
    }
}

/// The host's resolv.conf without loopback name servers (they mean nothing
/// in the container's network namespace), as Docker does.
fn resolv_conf() -> String {
    let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    host.lines()
        .filter(|l| {
            let mut w = l.split_whitespace();
            !(w.next() == Some("nameserver")
                && w.next()
                    .is_some_and(|a| a.starts_with("127.") || a == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    /// `config.json` is replaced whole (no temp file left, it reads back
    /// as written), and left alone when it already holds the spec.
    #[test]
    fn write_spec_is_whole() {
        let base = std::env::temp_dir().join(format!("berth-bundle-{}", std::process::id()));
        let bundle = Bundle::new(&base, "c");
        fs::create_dir_all(bundle.dir()).unwrap();
        fs::write(bundle.file("config.json"), "old").unwrap();
        let mut spec = Spec::default();
        spec.set_hostname(Some("golden".into()));
        bundle.write_spec(&spec).unwrap();
        assert_eq!(Spec::load(bundle.file("config.json")).unwrap(), spec);
        let names: Vec<_> = fs::read_dir(bundle.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.json"]);
        let before = fs::metadata(bundle.file("config.json")).unwrap().ino();
        bundle.write_spec(&spec).unwrap();
        assert_eq!(
            fs::metadata(bundle.file("config.json")).unwrap().ino(),
            before
        );
        fs::remove_dir_all(&base).unwrap();
    }
}

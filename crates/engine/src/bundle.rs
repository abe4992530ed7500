//! The OCI bundle of a container, `<root>/containers/<id>/`: `config.json`
//! written from the image config and the flags with Docker's defaults, the
//! `rootfs` mount point, and the `hostname`, `hosts` and `resolv.conf` files
//! bind-mounted into the container.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Container;
use crate::spec_json::spec;

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
    pub fn write(&self, c: &Container) -> Result<()> {
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
        let spec = serde_json::to_vec_pretty(&spec(c, &self.dir)?).expect("spec serializes");
        self.write_file(
            "config.json",
            std::str::from_utf8(&spec).expect("json is utf-8"),
        )
    }

    fn write_file(&self, name: &str, content: &str) -> Result<()> {
        let path = self.file(name);
        let tmp = self.file(&format!(".{name}.tmp"));
        fs::write(&tmp, content).map_err(|e| Error::io("write", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))
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

//! The OCI bundle of a container, `<root>/containers/<id>/`: `config.json`
//! (the spec [`crate::spec`] built), the `rootfs` mount point, and the
//! `hostname`, `hosts` and `resolv.conf` files bind-mounted into the
//! container.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use berth_net::etc_files::{self, DnsMode, DnsOverrides, HostAddr, Upstream};
use oci_spec::runtime::Spec;

use crate::error::{Error, Result};
use crate::model::{Container, ContainerConfig, NetworkMode};

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
        // No address yet: the start writes them again with its own.
        self.write_network_files(c, &[], None)?;
        self.write_spec(spec)
    }

    /// Writes `hosts` and `resolv.conf` (atomically, before the runtime's
    /// `create` bind-mounts them) for the container's network: its
    /// addresses `addrs`, and `gateway`, the default bridge's gateway that
    /// `--add-host NAME:host-gateway` names (records naming it are left
    /// out while it is unknown). A `resolv.conf` the user edited since
    /// berth wrote it is left alone, as Docker does. Returns the servers
    /// the resolver at 127.0.0.11 forwards to (user networks only).
    /// Nothing for `--network container:` (see
    /// [`Bundle::copy_network_files`]).
    pub fn write_network_files(
        &self,
        c: &Container,
        addrs: &[IpAddr],
        gateway: Option<IpAddr>,
    ) -> Result<Vec<Upstream>> {
        let cfg = &c.config;
        let mode = cfg.network();
        if let NetworkMode::Container(_) = mode {
            return Ok(Vec::new());
        }
        let (hosts, resolv) = network_files(cfg, addrs, gateway, &HostFiles::read());
        if let Some(hosts) = hosts {
            self.write_file("hosts", &hosts)?;
        }
        let written = self.file(RESOLV_WRITTEN);
        let current = fs::read_to_string(self.file("resolv.conf")).ok();
        let edited = match (fs::read_to_string(&written).ok(), current) {
            (Some(w), Some(cur)) => w != cur,
            _ => false,
        };
        if !edited {
            self.write_file("resolv.conf", &resolv.text)?;
            self.write_file(RESOLV_WRITTEN, &resolv.text)?;
        }
        Ok(resolv.upstreams)
    }

    /// `/etc/hosts` of a running container after `network connect` or
    /// `disconnect`, written in place: the container has the file
    /// bind-mounted, so a new file renamed over it would not be seen.
    pub fn rewrite_hosts_in_place(
        &self,
        c: &Container,
        addrs: &[IpAddr],
        gateway: Option<IpAddr>,
    ) -> Result<()> {
        let (hosts, _) = network_files(&c.config, addrs, gateway, &HostFiles::read());
        let Some(hosts) = hosts else { return Ok(()) };
        let path = self.file("hosts");
        fs::write(&path, hosts).map_err(|e| Error::io("write", &path, e))
    }

    /// `--network container:<id>`: that container's `hostname`, `hosts`
    /// and `resolv.conf`, as Docker shares them.
    pub fn copy_network_files(&self, from: &Bundle) -> Result<()> {
        for name in ["hostname", "hosts", "resolv.conf"] {
            let path = from.file(name);
            let text = fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
            self.write_file(name, &text)?;
        }
        Ok(())
    }

    /// At start, with the image mounted at `rootfs`: the spec with the
    /// user resolved in the image's files (and the network namespace
    /// `--network container:` joins), written once.
    pub fn write_for_start(
        &self,
        c: &Container,
        rootfs: &Path,
        network_namespace: Option<PathBuf>,
    ) -> Result<()> {
        self.write_spec(&crate::spec::for_start(
            c,
            &self.dir,
            rootfs,
            network_namespace,
        )?)
    }

    /// [`Bundle::write_for_start`] for a restore whose network the monitor
    /// sets up from inside the runtime's restore: `hook` runs as a
    /// `createRuntime` hook, which berth-runtime (as runc) runs when CRIU
    /// has made the namespaces and before it restores the processes and
    /// their sockets.
    pub fn write_for_restore(
        &self,
        c: &Container,
        rootfs: &Path,
        network_namespace: Option<PathBuf>,
        hook: oci_spec::runtime::Hook,
    ) -> Result<()> {
        let mut spec = crate::spec::for_start(c, &self.dir, rootfs, network_namespace)?;
        let mut hooks = spec.hooks().clone().unwrap_or_default();
        let mut create_runtime = hooks.create_runtime().clone().unwrap_or_default();
        create_runtime.push(hook);
        hooks.set_create_runtime(Some(create_runtime));
        spec.set_hooks(Some(hooks));
        self.write_spec(&spec)
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

/// Where the last `resolv.conf` berth wrote is kept, to see the user's
/// edits (Docker keeps a hash).
const RESOLV_WRITTEN: &str = "resolv.conf.berth";

/// The host's files a container's are made from.
pub struct HostFiles {
    /// `/etc/hosts`.
    pub hosts: String,
    /// The resolv.conf Docker would base the container's on, and its path.
    pub resolv_conf: String,
    pub resolv_conf_path: String,
}

impl HostFiles {
    pub fn read() -> HostFiles {
        let read = |f: &str| fs::read_to_string(f).unwrap_or_default();
        let etc = read("/etc/resolv.conf");
        let mut path = etc_files::host_resolv_conf_path(&etc);
        let mut resolv_conf = etc.clone();
        if path != "/etc/resolv.conf" {
            match fs::read_to_string(path) {
                Ok(text) => resolv_conf = text,
                Err(_) => path = "/etc/resolv.conf",
            }
        }
        HostFiles {
            hosts: read("/etc/hosts"),
            resolv_conf,
            resolv_conf_path: path.to_owned(),
        }
    }
}

/// The text of `hosts` (None: leave it as is) and `resolv.conf` for `cfg`
/// on this host.
pub fn network_files(
    cfg: &ContainerConfig,
    addrs: &[IpAddr],
    gateway: Option<IpAddr>,
    host: &HostFiles,
) -> (Option<String>, etc_files::ResolvConf) {
    let mode = cfg.network();
    let extra: Vec<(String, IpAddr)> = cfg
        .extra_hosts
        .iter()
        .filter_map(|h| match etc_files::parse_add_host(h).ok()? {
            (name, HostAddr::Ip(ip)) => Some((name, ip)),
            (name, HostAddr::HostGateway) => Some((name, gateway?)),
        })
        .collect();
    // Docker's BuildNoIPv6 when the container turns IPv6 off.
    let ipv6 =
        !cfg.security.sysctls.iter().any(|(k, v)| {
            k.starts_with("net.ipv6.conf.") && k.ends_with(".disable_ipv6") && v == "1"
        });
    let hosts = match mode {
        NetworkMode::Container(_) => None,
        NetworkMode::Host if cfg.extra_hosts.is_empty() => Some(host.hosts.clone()),
        _ => Some(etc_files::hosts(&etc_files::Hosts {
            ipv6,
            extra: &extra,
            addrs,
            hostname: &cfg.hostname,
            domainname: &cfg.domainname,
        })),
    };
    let dns_mode = match mode {
        NetworkMode::Host => DnsMode::Host,
        NetworkMode::User(_) => DnsMode::Internal,
        _ => DnsMode::Legacy {
            ipv6: ipv6 && addrs.iter().any(|a| a.is_ipv6()),
        },
    };
    let resolv = etc_files::resolv_conf(
        &host.resolv_conf,
        &host.resolv_conf_path,
        dns_mode,
        &DnsOverrides {
            servers: &cfg.dns,
            search: &cfg.dns_search,
            options: &cfg.dns_options,
        },
    );
    (hosts, resolv)
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

    fn host_files() -> HostFiles {
        HostFiles {
            hosts: "127.0.0.1 localhost host-only\n".into(),
            resolv_conf: "nameserver 127.0.0.53\nsearch corp.example\n".into(),
            resolv_conf_path: etc_files::SYSTEMD_RESOLV_CONF.into(),
        }
    }

    fn config(mode: &str, f: impl FnOnce(&mut ContainerConfig)) -> ContainerConfig {
        let mut c = ContainerConfig {
            hostname: "0123456789ab".into(),
            network_mode: mode.into(),
            ..Default::default()
        };
        f(&mut c);
        c
    }

    /// The files of each network kind, from the same host files.
    #[test]
    fn network_files_per_mode() {
        let addrs: [IpAddr; 1] = ["10.1.0.2".parse().unwrap()];
        let gw: IpAddr = "172.17.0.1".parse().unwrap();
        let cfg = config("mynet", |c| {
            c.extra_hosts = vec!["gw:host-gateway".into(), "db:10.0.0.5".into()];
            c.domainname = "example.com".into();
        });
        let (hosts, resolv) = network_files(&cfg, &addrs, Some(gw), &host_files());
        assert_eq!(
            hosts.unwrap(),
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\n\
             ff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n\
             172.17.0.1\tgw\n10.0.0.5\tdb\n10.1.0.2\t0123456789ab.example.com 0123456789ab\n"
        );
        assert!(resolv
            .text
            .contains("nameserver 127.0.0.11\nsearch corp.example\noptions ndots:0\n"));
        assert_eq!(resolv.upstreams.len(), 1);
        assert!(resolv.upstreams[0].host_netns);
        // Default bridge: no loopback server left, Google's; the gateway
        // unknown (at create): its record is left out.
        let cfg = config("bridge", |c| {
            c.extra_hosts = vec!["gw:host-gateway".into()];
            c.security
                .sysctls
                .insert("net.ipv6.conf.all.disable_ipv6".into(), "1".into());
        });
        let (hosts, resolv) = network_files(&cfg, &[], None, &host_files());
        assert_eq!(hosts.unwrap(), "127.0.0.1\tlocalhost\n");
        assert!(resolv
            .text
            .contains("nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch corp.example\n"));
        assert!(resolv.upstreams.is_empty());
        // Host: the host's files as they are.
        let (hosts, resolv) = network_files(&config("host", |_| {}), &[], None, &host_files());
        assert_eq!(hosts.unwrap(), host_files().hosts);
        assert_eq!(resolv.text, host_files().resolv_conf);
        // Another container's namespace: its files, not ours.
        let (hosts, _) = network_files(&config("container:abc", |_| {}), &[], None, &host_files());
        assert!(hosts.is_none());
    }

    /// A resolv.conf the user edited stays; one berth wrote is rewritten.
    #[test]
    fn edited_resolv_conf_is_kept() {
        let base = std::env::temp_dir().join(format!("berth-bundle-net-{}", std::process::id()));
        let bundle = Bundle::new(&base, "c");
        fs::create_dir_all(bundle.dir()).unwrap();
        let c = Container {
            id: "c".repeat(64),
            name: "n".into(),
            image_id: String::new(),
            config: config("none", |c| c.dns = vec!["9.9.9.9".parse().unwrap()]),
            state: crate::model::State::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            created_at: String::new(),
            started_at: String::new(),
            finished_at: String::new(),
            paused: false,
            oom_killed: false,
            checkpoint: Default::default(),
        };
        bundle.write_network_files(&c, &[], None).unwrap();
        let first = fs::read_to_string(bundle.file("resolv.conf")).unwrap();
        assert!(first.starts_with("# Generated by berth."), "{first}");
        assert!(first.contains("nameserver 9.9.9.9\n"), "{first}");
        let mut c2 = c.clone();
        c2.config.dns = vec!["8.8.8.8".parse().unwrap()];
        bundle.write_network_files(&c2, &[], None).unwrap();
        let second = fs::read_to_string(bundle.file("resolv.conf")).unwrap();
        assert!(second.contains("nameserver 8.8.8.8\n"), "{second}");
        fs::write(bundle.file("resolv.conf"), "nameserver 1.2.3.4\n").unwrap();
        bundle.write_network_files(&c, &[], None).unwrap();
        assert_eq!(
            fs::read_to_string(bundle.file("resolv.conf")).unwrap(),
            "nameserver 1.2.3.4\n"
        );
        fs::remove_dir_all(&base).unwrap();
    }
}

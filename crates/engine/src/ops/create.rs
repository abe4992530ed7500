//! `create`: resolves the flags against the image's config into a
//! [`ContainerConfig`], records the container and writes its snapshot and
//! bundle, all or nothing.

use std::path::PathBuf;

use berth_image::spec::ContainerConfig as ImageConfig;

use crate::error::{Error, Result};
use crate::model::log::LogConfig;
use crate::model::mounts::{self, MountRequest};
use crate::model::network::{self, NetworkMode, NetworkOptions};
use crate::model::restart::RestartPolicy;
use crate::model::{self, security, Container, ContainerConfig, Resources, SecurityOptions, State};
use crate::model::{SecurityConfig, StdioConfig};
use crate::ops::volume_attach;
use crate::spec;
use crate::Engine;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What `berth create`/`run` asked for.
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub image: String,
    /// Replaces the image's Cmd when not empty.
    pub cmd: Vec<String>,
    /// `--entrypoint`: `Some("")` clears the image's.
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub auto_remove: bool,
    pub runtime: PathBuf,
    pub cgroup_parent: Option<String>,
    /// `--network`: none (the default), host, bridge, a user network or
    /// `container:<name|id>`.
    pub network: Option<String>,
    /// `--ip`, `-p`, `--dns`, ... ([`NetworkOptions`]).
    pub net: NetworkOptions,
    /// `-i`, `-t`.
    pub stdio: StdioConfig,
    /// `-l`/`--label-file`: `KEY=VALUE` or `KEY` (empty value).
    pub labels: Vec<String>,
    pub security: SecurityOptions,
    /// `--restart`.
    pub restart: Option<String>,
    /// `--stop-signal` (over the image's StopSignal).
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds.
    pub stop_timeout: Option<u64>,
    /// `--log-driver`.
    pub log_driver: Option<String>,
    /// `--log-opt key=value`.
    pub log_opts: Vec<String>,
    pub resources: Resources,
    /// `-v`/`--volume` specs as given (a `./` host path made absolute by
    /// the caller: [`mounts::absolute_volume_source`]).
    pub volumes: Vec<String>,
    /// `--mount` specs as given (the same: [`mounts::absolute_mount_source`]).
    pub mounts: Vec<String>,
    /// `--volumes-from CONTAINER[:ro|rw]`.
    pub volumes_from: Vec<String>,
}

/// The flags checked on their own, before the image is looked at.
struct Checked {
    host_network: bool,
    network: network::Resolved,
    security: SecurityConfig,
    restart: RestartPolicy,
    log: LogConfig,
    /// `-v` and `--mount`, in dockerd's order (not resolved yet).
    mounts: Vec<MountRequest>,
    /// `--volumes-from`: the container and `Some(true)` for `:ro`.
    volumes_from: Vec<(String, Option<bool>)>,
}

impl Engine {
    /// Records a container and writes its snapshot and bundle; all or
    /// nothing.
    pub fn create(&mut self, o: &CreateOptions) -> Result<Container> {
        let checked = check_options(o)?;
        let (image_id, _) = self.images.resolve(&o.image)?;
        let (image, _) = self.images.config(&image_id)?;
        let ic = image.config.unwrap_or_default();
        let id = model::new_id()?;
        let mut checked = checked;
        // Again with the image's exposed ports (not a joined namespace's:
        // they are the other container's to publish).
        let joins = matches!(
            NetworkMode::parse(&checked.network.network_mode),
            NetworkMode::Container(_)
        );
        let image_exposed: Vec<String> = match (&ic.exposed_ports, joins) {
            (Some(ports), false) => ports.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let mut net = network::resolve(
            o.network.as_deref(),
            &o.net,
            o.hostname.is_some(),
            &image_exposed,
        )?;
        // The container whose network namespace this one joins, by id.
        let mut joined = None;
        match NetworkMode::parse(&net.network_mode) {
            NetworkMode::Container(key) => {
                let other = self.find(key)?;
                net.network_mode = format!("container:{}", other.id);
                joined = Some(other);
            }
            // Docker refuses an unknown network at create, not at start.
            NetworkMode::User(name) => {
                self.network(name)
                    .map_err(|_| Error::NetworkNotFound(name.to_owned()))?;
            }
            _ => {}
        }
        checked.network = net;
        let requests = std::mem::take(&mut checked.mounts);
        let volumes_from = std::mem::take(&mut checked.volumes_from);
        let mut config = container_config(o, &ic, &id, checked)?;
        let volumes = self.plan_mounts(&mut config, &requests, &volumes_from, &ic)?;
        if let Some(other) = joined {
            // Docker: the joined container's names (its files are
            // bind-mounted at start).
            config.hostname = other.config.hostname.clone();
            config.domainname = other.config.domainname.clone();
            let own = format!("HOSTNAME={}", &id[..12]);
            if let Some(e) = config.env.iter_mut().find(|e| **e == own) {
                *e = format!("HOSTNAME={}", config.hostname);
            }
        }
        let mut c = Container {
            id: id.clone(),
            name: String::new(),
            image_id: image_id.to_string(),
            config,
            state: State::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            created_at: berth_image::time::now_rfc3339(),
            started_at: String::new(),
            finished_at: String::new(),
            paused: false,
            oom_killed: false,
            checkpoint: Default::default(),
        };
        // Check the spec before anything is recorded (bad user, ...).
        let spec = spec::for_create(&c, self.bundle(&id).dir())?;
        for r in requests.iter().filter(|r| r.kind == model::MountKind::Bind) {
            volume_attach::ensure_bind_source(r)?;
        }
        self.record(&mut c, o.name.as_deref(), &volumes)?;
        let made = self
            .images
            .prepare(&id, &image_id.to_string())
            .map_err(Error::from)
            .and_then(|_| self.bundle(&id).write(&c, &spec));
        if let Err(e) = made {
            let _ = self.remove_files(&c);
            self.remove_anonymous_volumes(&c);
            return Err(e);
        }
        self.db.created(&id)?;
        Ok(c)
    }

    /// Inserts the record under `name`, or a generated name (another one
    /// on a clash).
    pub(crate) fn record(
        &mut self,
        c: &mut Container,
        name: Option<&str>,
        volumes: &[model::Volume],
    ) -> Result<()> {
        let dirs = self.volume_dirs();
        match name {
            Some(name) => {
                c.name = name.to_owned();
                self.db.insert_with_volumes(c, Some(&dirs), volumes)
            }
            None => {
                let mut attempt = 0;
                loop {
                    c.name = model::generated_name(&c.id, attempt);
                    match self.db.insert_with_volumes(c, Some(&dirs), volumes) {
                        Err(Error::NameInUse { .. }) if attempt < 1000 => attempt += 1,
                        other => break other,
                    }
                }
            }
        }
    }
}

impl Engine {
    /// The container's mounts (`volume_attach::plan`: `--volumes-from`,
    /// `-v`/`--mount`, the image's `VOLUME`s) into `config.mounts`; returns
    /// the volumes to record with it, checked.
    fn plan_mounts(
        &self,
        config: &mut ContainerConfig,
        requests: &[MountRequest],
        volumes_from: &[(String, Option<bool>)],
        ic: &ImageConfig,
    ) -> Result<Vec<model::Volume>> {
        let others = volumes_from
            .iter()
            .map(|(key, ro)| Ok((self.find(key)?, *ro)))
            .collect::<Result<Vec<_>>>()?;
        let from: Vec<volume_attach::From<'_>> = others
            .iter()
            .map(|(other, ro)| volume_attach::From {
                mounts: &other.config.mounts,
                // `:ro` makes every mount read-only; `:rw` keeps each one's
                // own (moby: `m.RW && rw`)
                rw: (*ro == Some(true)).then_some(false),
            })
            .collect();
        let image_volumes: Vec<String> = ic
            .volumes
            .as_ref()
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default();
        let dirs = self.volume_dirs();
        let plan = volume_attach::plan(
            requests,
            &from,
            &image_volumes,
            &|name| dirs.data(name),
            &mut || model::new_id(),
            &berth_image::time::now_rfc3339(),
        )?;
        for v in &plan.volumes {
            crate::ops::volume::check_volume(v)?;
        }
        config.mounts = plan.mounts;
        Ok(plan.volumes)
    }
}

/// Network, name, resources, security, restart, log and mount flags.
fn check_options(o: &CreateOptions) -> Result<Checked> {
    let network = network::resolve(o.network.as_deref(), &o.net, o.hostname.is_some(), &[])?;
    if let Some(name) = &o.name {
        model::validate_name(name)?;
    }
    o.resources.validate(false)?;
    let host_network = NetworkMode::parse(&network.network_mode) == NetworkMode::Host;
    let security = security::resolve(&o.security, host_network)?;
    let restart = match &o.restart {
        Some(r) => RestartPolicy::parse(r)?,
        None => RestartPolicy::No,
    };
    if o.auto_remove && !restart.is_none() {
        return Err(Error::ConflictingOptions("--restart and --rm"));
    }
    let log = LogConfig::parse(o.log_driver.as_deref(), &o.log_opts)?;
    let tmpfs: Vec<String> = security
        .tmpfs
        .iter()
        .map(|t| t.destination.clone())
        .collect();
    let mounts = mounts::parse_requests(&o.volumes, &o.mounts, &tmpfs)?;
    // dockerd checks a `--mount type=bind` source before it makes anything.
    for m in &mounts {
        mounts::check_bind_source(m)?;
    }
    let volumes_from = o
        .volumes_from
        .iter()
        .map(|v| mounts::parse_volumes_from(v))
        .collect::<Result<_>>()?;
    Ok(Checked {
        host_network,
        network,
        security,
        restart,
        log,
        mounts,
        volumes_from,
    })
}

/// The flags over the image's defaults.
fn container_config(
    o: &CreateOptions,
    ic: &ImageConfig,
    id: &str,
    checked: Checked,
) -> Result<ContainerConfig> {
    let hostname = hostname(o, id, checked.host_network);
    let (entrypoint, cmd) = command(o, ic)?;
    Ok(ContainerConfig {
        image: o.image.clone(),
        env: environment(o, ic, &hostname)?,
        hostname,
        user: o.user.clone().or(ic.user.clone()).unwrap_or_default(),
        entrypoint,
        cmd,
        working_dir: o
            .working_dir
            .clone()
            .or(ic.working_dir.clone())
            .unwrap_or_default(),
        labels: labels(o, ic),
        stop_signal: match &o.stop_signal {
            Some(s) => model::validate_signal(s)?,
            None => ic.stop_signal.clone().unwrap_or_default(),
        },
        stop_timeout: o.stop_timeout,
        auto_remove: o.auto_remove,
        runtime: o.runtime.clone(),
        cgroup_parent: o
            .cgroup_parent
            .clone()
            .unwrap_or_else(|| berth_cgroups::DEFAULT_PARENT.to_owned()),
        stdio: o.stdio.clone(),
        security: checked.security,
        restart: checked.restart,
        log: checked.log,
        resources: o.resources.clone().with_defaults(),
        network_mode: checked.network.network_mode,
        networks: checked.network.networks,
        domainname: checked.network.domainname,
        dns: checked.network.dns,
        dns_search: checked.network.dns_search,
        dns_options: checked.network.dns_options,
        extra_hosts: checked.network.extra_hosts,
        publish: checked.network.publish,
        publish_all: checked.network.publish_all,
        expose: checked.network.expose,
        bandwidth: checked.network.bandwidth,
        mounts: Vec::new(),
    })
}

/// `--hostname`, else the short id (the host's name with `--network host`,
/// as Docker).
fn hostname(o: &CreateOptions, id: &str, host_network: bool) -> String {
    o.hostname.clone().unwrap_or_else(|| match host_network {
        true => nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| id[..12].to_owned()),
        false => id[..12].to_owned(),
    })
}

/// Entrypoint and command: the flags' over the image's, as Docker
/// combines them.
fn command(o: &CreateOptions, ic: &ImageConfig) -> Result<(Vec<String>, Vec<String>)> {
    let (entrypoint, cmd) = match &o.entrypoint {
        Some(e) if e.is_empty() => (Vec::new(), o.cmd.clone()),
        Some(e) => (vec![e.clone()], o.cmd.clone()),
        None if o.cmd.is_empty() => (
            ic.entrypoint.clone().unwrap_or_default(),
            ic.cmd.clone().unwrap_or_default(),
        ),
        None => (ic.entrypoint.clone().unwrap_or_default(), o.cmd.clone()),
    };
    if entrypoint.is_empty() && cmd.is_empty() {
        return Err(Error::invalid("container command", "no command specified"));
    }
    Ok((entrypoint, cmd))
}

/// HOSTNAME, a default PATH, the image's env, then `-e` (a later value
/// replaces an earlier one).
fn environment(o: &CreateOptions, ic: &ImageConfig, hostname: &str) -> Result<Vec<String>> {
    let mut env = vec![format!("HOSTNAME={hostname}")];
    let image_env = ic.env.clone().unwrap_or_default();
    if !image_env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(DEFAULT_PATH.to_owned());
    }
    for e in image_env.iter().chain(&o.env) {
        crate::model::container::set_env(&mut env, e)?;
    }
    Ok(env)
}

/// The image's labels, then `-l`.
fn labels(o: &CreateOptions, ic: &ImageConfig) -> std::collections::BTreeMap<String, String> {
    let mut labels = ic.labels.clone().unwrap_or_default();
    for l in &o.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_owned(), v.to_owned());
    }
    labels
}

impl Engine {
    /// At start, for `--network container:<id>`: the network namespace of
    /// that container's init (Docker's words when it is not running), its
    /// `hostname`, `hosts` and `resolv.conf` copied into this bundle.
    pub fn join_network_namespace(&self, c: &Container) -> Result<Option<PathBuf>> {
        let NetworkMode::Container(key) = c.config.network() else {
            return Ok(None);
        };
        let other = self.find(key)?;
        if other.id == c.id {
            return Err(Error::BadRequest("cannot join own network".into()));
        }
        match other.state {
            State::Restarting => return Err(Error::Restarting(key.to_owned())),
            State::Running if other.pid > 0 => {}
            _ => {
                return Err(Error::StateConflict(format!(
                    "cannot join network of a non running container: {key}"
                )))
            }
        }
        self.bundle(&c.id)
            .copy_network_files(&self.bundle(&other.id))?;
        Ok(Some(PathBuf::from(format!("/proc/{}/ns/net", other.pid))))
    }
}

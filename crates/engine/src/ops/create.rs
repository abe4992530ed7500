//! `create`: resolves the flags against the image's config into a
//! [`ContainerConfig`], records the container and writes its snapshot and
//! bundle, all or nothing.

use std::path::PathBuf;

use berth_image::spec::ContainerConfig as ImageConfig;

use crate::error::{Error, Result};
use crate::model::log::LogConfig;
use crate::model::restart::RestartPolicy;
use crate::model::{self, security, Container, ContainerConfig, Resources, SecurityOptions, State};
use crate::model::{SecurityConfig, StdioConfig};
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
    pub network: Option<String>,
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
}

/// The flags checked on their own, before the image is looked at.
struct Checked {
    host_network: bool,
    security: SecurityConfig,
    restart: RestartPolicy,
    log: LogConfig,
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
        let config = container_config(o, &ic, &id, checked)?;
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
        };
        // Check the spec before anything is recorded (bad user, ...).
        let spec = spec::for_create(&c, self.bundle(&id).dir())?;
        self.record(&mut c, o.name.as_deref())?;
        let made = self
            .images
            .prepare(&id, &image_id.to_string())
            .map_err(Error::from)
            .and_then(|_| self.bundle(&id).write(&c, &spec));
        if let Err(e) = made {
            let _ = self.remove_files(&c);
            return Err(e);
        }
        self.db.created(&id)?;
        Ok(c)
    }

    /// Inserts the record under `name`, or a generated name (another one
    /// on a clash).
    fn record(&mut self, c: &mut Container, name: Option<&str>) -> Result<()> {
        match name {
            Some(name) => {
                c.name = name.to_owned();
                self.db.insert(c)
            }
            None => {
                let mut attempt = 0;
                loop {
                    c.name = model::generated_name(&c.id, attempt);
                    match self.db.insert(c) {
                        Err(Error::NameInUse { .. }) if attempt < 1000 => attempt += 1,
                        other => break other,
                    }
                }
            }
        }
    }
}

/// Network, name, resources, security, restart and log flags.
fn check_options(o: &CreateOptions) -> Result<Checked> {
    match o.network.as_deref() {
        None | Some("none") | Some("host") => {}
        Some(other) => {
            return Err(Error::Unsupported {
                what: "network",
                value: format!("{other:?} (only \"none\" and \"host\" for now)"),
            })
        }
    }
    if let Some(name) = &o.name {
        model::validate_name(name)?;
    }
    o.resources.validate(false)?;
    let host_network = o.network.as_deref() == Some("host");
    let security = security::resolve(&o.security, host_network)?;
    let restart = match &o.restart {
        Some(r) => RestartPolicy::parse(r)?,
        None => RestartPolicy::No,
    };
    if o.auto_remove && !restart.is_none() {
        return Err(Error::ConflictingOptions("--restart and --rm"));
    }
    let log = LogConfig::parse(o.log_driver.as_deref(), &o.log_opts)?;
    Ok(Checked {
        host_network,
        security,
        restart,
        log,
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
        network_mode: o.network.clone().unwrap_or_else(|| "none".to_owned()),
        security: checked.security,
        restart: checked.restart,
        log: checked.log,
        resources: o.resources.clone().with_defaults(),
        networks: Vec::new(),
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

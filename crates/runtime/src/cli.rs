//! runc's command line: global flags before the subcommand, then one
//! subcommand per lifecycle operation.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use berth_runtime::container::{
    self, CgroupsMode, CheckpointOptions, CreateOptions, CriuOptions, ExecOptions, RestoreOptions,
};
use berth_runtime::{default_spec, features, rootless, supervise};
use clap::{Parser, Subcommand, ValueEnum};
use oci_spec::runtime::{Capability, Process};

use crate::log::Format;

/// Printed after the program name, as runc prints it.
const VERSION: &str = concat!("version ", env!("CARGO_PKG_VERSION"), "\nspec: 1.0.2");

#[derive(Parser)]
#[command(name = "berth-runtime", version = VERSION, about = "An OCI container runtime, compatible with runc's command line")]
#[command(disable_version_flag = true)]
pub struct Args {
    /// Print the version and the OCI runtime-spec version
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
    /// Directory for container state (should be on tmpfs) [default:
    /// /run/berth-runtime, or $XDG_RUNTIME_DIR/berth-runtime when
    /// unprivileged]
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Log file (default: stderr)
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Log format
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: Format,
    /// Log debug messages too
    #[arg(long)]
    pub debug: bool,
    /// Use systemd to manage cgroups (not supported)
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// The CRIU binary for checkpoint and restore [default: criu on PATH]
    #[arg(long)]
    pub criu: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(clap::Args)]
pub struct CreateArgs {
    pub id: String,
    /// Bundle directory (default: the current directory)
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is set
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not give the container a new session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (3, 4, ...) to the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
}

/// runc's `update` flags; memory sizes take k, m, g (binary) suffixes.
#[derive(clap::Args)]
pub struct UpdateArgs {
    pub id: String,
    /// JSON LinuxResources from a file, or - for stdin (flags override it)
    #[arg(short, long)]
    pub resources: Option<String>,
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    #[arg(long)]
    pub cpu_period: Option<u64>,
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_share: Option<u64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    #[arg(long, allow_hyphen_values = true, value_parser = parse_bytes)]
    pub memory: Option<i64>,
    #[arg(long, allow_hyphen_values = true, value_parser = parse_bytes)]
    pub memory_reservation: Option<i64>,
    #[arg(long, allow_hyphen_values = true, value_parser = parse_bytes)]
    pub memory_swap: Option<i64>,
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT (not supported)
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT (not supported)
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    /// Obsoleted: parsed and ignored with a warning, as by runc 1.2
    #[arg(long, hide = true, allow_hyphen_values = true, value_parser = parse_bytes)]
    pub kernel_memory: Option<i64>,
    #[arg(long, hide = true, allow_hyphen_values = true, value_parser = parse_bytes)]
    pub kernel_memory_tcp: Option<i64>,
}

/// The flags `checkpoint` and `restore` share (runc's names).
#[derive(clap::Args)]
pub struct CriuArgs {
    /// Path for the CRIU image files [default: ./checkpoint]
    #[arg(long)]
    pub image_path: Option<PathBuf>,
    /// Path for CRIU's work files and logs [default: the image path]
    #[arg(long)]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections
    #[arg(long)]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long)]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long)]
    pub shell_job: bool,
    /// Handle file locks
    #[arg(long)]
    pub file_locks: bool,
    /// cgroups mode: soft (default), full, strict or ignore
    #[arg(long)]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace but do not restore its properties (network)
    #[arg(long)]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long)]
    pub auto_dedup: bool,
    /// Restore memory lazily through userfaultfd (not supported)
    #[arg(long)]
    pub lazy_pages: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a container (its init waits for `start`)
    Create(CreateArgs),
    /// Start the user process of a created container
    Start { id: String },
    /// Create and start a container; wait for it unless --detach
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it exits
        #[arg(long)]
        keep: bool,
    },
    /// Print the OCI state of a container
    State { id: String },
    /// Send a signal (default SIGTERM) to a container's init
    Kill {
        id: String,
        signal: Option<String>,
        /// Signal every process of the container
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a container and everything it holds
    Delete {
        id: String,
        /// Kill the container first if it runs
        #[arg(short, long)]
        force: bool,
    },
    /// Run a new process in a container
    Exec {
        id: String,
        /// The command, unless --process is given
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
        /// JSON file with an OCI process (overrides the flags below)
        #[arg(short, long)]
        process: Option<PathBuf>,
        #[arg(short, long)]
        tty: bool,
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// Set an environment variable (repeatable)
        #[arg(short, long)]
        env: Vec<String>,
        /// uid[:gid]
        #[arg(short, long)]
        user: Option<String>,
        /// Additional gids (repeatable)
        #[arg(short = 'g', long)]
        additional_gids: Vec<u32>,
        #[arg(short, long)]
        detach: bool,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        #[arg(long)]
        console_socket: Option<PathBuf>,
        /// Add a capability (repeatable)
        #[arg(short, long)]
        cap: Vec<String>,
        #[arg(long)]
        no_new_privs: bool,
        /// AppArmor profile for the process (default: the container's)
        #[arg(long)]
        apparmor: Option<String>,
        #[arg(long, default_value_t = 0)]
        preserve_fds: u32,
    },
    /// List the processes of a container
    Ps {
        id: String,
        #[arg(short, long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// ps(1) options are not supported
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        ps_args: Vec<String>,
    },
    /// List containers
    List {
        #[arg(short, long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// Only print ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Change a running container's resource limits
    Update(UpdateArgs),
    /// Print cgroup statistics and OOM events of a container
    Events {
        id: String,
        /// Print the statistics once and exit
        #[arg(long)]
        stats: bool,
        /// How often to print statistics (e.g. 5s, 500ms, 1m)
        #[arg(long, default_value = "5s", value_parser = parse_duration)]
        interval: std::time::Duration,
    },
    /// Checkpoint a running container with CRIU
    Checkpoint {
        id: String,
        #[command(flatten)]
        criu: CriuArgs,
        /// Path of the previous (pre-dump) images, relative to the image path
        #[arg(long)]
        parent_path: Option<PathBuf>,
        /// Leave the process running after checkpointing
        #[arg(long)]
        leave_running: bool,
        /// Drop TCP connections not yet accepted instead of refusing to dump (their clients retry)
        #[arg(long)]
        tcp_skip_in_flight: bool,
        /// Dump memory only and leave the container running (needs dirty tracking)
        #[arg(long)]
        pre_dump: bool,
        /// ADDRESS:PORT of a CRIU page server to send the memory pages to
        #[arg(long)]
        page_server: Option<String>,
        /// Fd CRIU writes \0 to when lazy pages are ready (not supported)
        #[arg(long, allow_hyphen_values = true)]
        status_fd: Option<i32>,
    },
    /// Restore a container from a CRIU checkpoint
    Restore {
        id: String,
        #[command(flatten)]
        criu: CriuArgs,
        /// Bundle directory (default: the current directory)
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// Do not wait for the container's process
        #[arg(short, long)]
        detach: bool,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        /// Unix socket that receives the pty master of a terminal
        #[arg(long)]
        console_socket: Option<PathBuf>,
        /// Do not become the subreaper of the container's orphans
        #[arg(long)]
        no_subreaper: bool,
        /// Accepted for runc's sake: CRIU sets up the restored root itself
        #[arg(long)]
        no_pivot: bool,
        /// LSM profile TYPE:NAME for the restored processes (not supported)
        #[arg(long)]
        lsm_profile: Option<String>,
        /// LSM mount context (not supported)
        #[arg(long)]
        lsm_mount_context: Option<String>,
        /// Close the checkpoint's established TCP connections instead of restoring them
        #[arg(long)]
        tcp_close: bool,
    },
    /// Write a default config.json into the bundle
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// A config for an unprivileged user (user namespace, no network ns)
        #[arg(long)]
        rootless: bool,
    },
    /// Print the features this runtime supports (OCI features document)
    Features,
}

/// Go's flag parsers take a long flag after one dash, and containerd's
/// go-runc passes `restore -no-subreaper` so: read it as `--no-subreaper`.
pub fn go_style_flags(
    args: impl Iterator<Item = std::ffi::OsString>,
) -> impl Iterator<Item = std::ffi::OsString> {
    args.map(|a| {
        if a == "-no-subreaper" {
            "--no-subreaper".into()
        } else {
            a
        }
    })
}

/// Runs the command; returns the process exit code.
pub fn run(args: Args) -> Result<u8> {
    if args.systemd_cgroup {
        // Where systemd is not PID 1 there is nothing to delegate to; where it
        // is, berth has no systemd driver yet. Either way: cgroupfs.
        if !std::path::Path::new("/run/systemd/system").is_dir() {
            bail!("systemd cgroup driver is not supported on this host: systemd is not PID 1 (omit --systemd-cgroup)");
        }
        bail!("systemd cgroup driver is not supported yet (omit --systemd-cgroup to use cgroupfs)");
    }
    let rootless = match args.rootless.as_deref() {
        Some("true") => true,
        Some("false") => false,
        None | Some("auto") => rootless::auto_detect(),
        Some(other) => bail!("invalid --rootless value {other:?}: want true, false or auto"),
    };
    let root = match &args.root {
        Some(root) => root.clone(),
        None => default_root(&args.command)?,
    };
    let root = root.as_path();
    if matches!(
        args.command,
        Command::Create(_) | Command::Run { .. } | Command::Exec { .. }
    ) {
        // These fork processes into the container: from here on they must
        // be copies of a binary the container cannot write (CVE-2019-5736).
        // The state root (made as `create` makes it) is the overlay's empty layer.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o711)
            .create(root)
            .with_context(|| format!("create runtime root {}", root.display()))?;
        berth_runtime::sealed_exe::ensure(root)?;
    }
    match args.command {
        Command::Create(c) => {
            let id = c.id.clone();
            container::create(root, &id, create_options(c, rootless))?;
        }
        Command::Start { id } => container::start(root, &id)?,
        Command::Run {
            create,
            detach,
            keep,
        } => return run_container(root, create, detach, keep, rootless),
        Command::State { id } => {
            let state = container::state(root, &id)?;
            println!("{}", serde_json::to_string_pretty(&state)?);
        }
        Command::Kill { id, signal, all } => {
            let signal = container::parse_signal(signal.as_deref().unwrap_or("SIGTERM"))?;
            container::kill(root, &id, signal, all)?;
        }
        Command::Delete { id, force } => container::delete(root, &id, force)?,
        Command::Exec {
            id,
            command,
            process,
            tty,
            cwd,
            env,
            user,
            additional_gids,
            detach,
            pid_file,
            console_socket,
            cap,
            no_new_privs,
            apparmor,
            preserve_fds,
        } => {
            let mut process: Process = match process {
                Some(path) => {
                    let bytes = std::fs::read(&path).with_context(|| {
                        format!("failed to read process file {}", path.display())
                    })?;
                    serde_json::from_slice(&bytes)
                        .with_context(|| format!("malformed process file {}", path.display()))?
                }
                None => {
                    let mut p = base_process(root, &id)?;
                    if command.is_empty() {
                        bail!("exec needs a command or --process");
                    }
                    p.set_args(Some(command));
                    p.set_terminal(Some(tty));
                    if let Some(cwd) = cwd {
                        p.set_cwd(cwd);
                    }
                    let mut all_env = p.env().clone().unwrap_or_default();
                    for e in env {
                        let key = e.split('=').next().unwrap_or_default().to_string();
                        all_env.retain(|x| x.split('=').next() != Some(key.as_str()));
                        all_env.push(e);
                    }
                    p.set_env(Some(all_env));
                    if let Some(u) = user {
                        let (uid, gid) = parse_user(&u)?;
                        p.user_mut().set_uid(uid);
                        p.user_mut().set_gid(gid);
                    }
                    if !additional_gids.is_empty() {
                        p.user_mut().set_additional_gids(Some(additional_gids));
                    }
                    if no_new_privs {
                        p.set_no_new_privileges(Some(true));
                    }
                    add_caps(&mut p, &cap)?;
                    p
                }
            };
            if apparmor.is_some() {
                process.set_apparmor_profile(apparmor);
            }
            return exec_process(
                root,
                &id,
                process,
                detach,
                pid_file,
                console_socket,
                preserve_fds,
            );
        }
        Command::Ps {
            id,
            format,
            ps_args,
        } => {
            if !ps_args.is_empty() {
                bail!(
                    "ps options ({}) are not supported; use --format json for pids",
                    ps_args.join(" ")
                );
            }
            let pids = container::pids(root, &id)?;
            match format {
                OutputFormat::Json => println!("{}", serde_json::to_string(&pids)?),
                OutputFormat::Table => print_ps_table(&pids),
            }
        }
        Command::List { format, quiet } => {
            let entries = container::list(root)?;
            if quiet {
                for e in &entries {
                    println!("{}", e.state.id);
                }
            } else if format == OutputFormat::Json {
                let states: Vec<_> = entries.iter().map(|e| &e.state).collect();
                println!("{}", serde_json::to_string(&states)?);
            } else {
                let mut out = String::from("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n");
                for e in &entries {
                    let s = &e.state;
                    out.push_str(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\n",
                        s.id,
                        s.pid,
                        s.status,
                        s.bundle.display(),
                        s.created,
                        s.owner
                    ));
                }
                print!("{}", tabulate(&out));
            }
        }
        Command::Pause { id } => container::pause(root, &id)?,
        Command::Resume { id } => container::resume(root, &id)?,
        Command::Update(u) => {
            let id = u.id.clone();
            let resources = update_resources(u)?;
            container::update(root, &id, &resources)?;
        }
        Command::Events {
            id,
            stats,
            interval,
        } => {
            let line = |kind: &str, data: Option<serde_json::Value>| {
                let mut v = serde_json::json!({ "type": kind, "id": id });
                if let Some(d) = data {
                    v["data"] = d;
                }
                v.to_string()
            };
            if stats {
                let s = container::stats(root, &id)?;
                println!("{}", line("stats", Some(serde_json::to_value(&s)?)));
            } else {
                container::watch(root, &id, interval, |event| {
                    let text = match event {
                        container::Event::Stats(s) => line("stats", serde_json::to_value(&*s).ok()),
                        container::Event::Oom => line("oom", None),
                    };
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "{text}")?;
                    out.flush()
                })?;
            }
        }
        Command::Checkpoint {
            id,
            criu,
            parent_path,
            leave_running,
            tcp_skip_in_flight,
            pre_dump,
            page_server,
            status_fd,
        } => {
            let opts = CheckpointOptions {
                common: criu_options(criu, args.criu)?,
                parent_path,
                leave_running,
                tcp_skip_in_flight,
                pre_dump,
                page_server,
                status_fd: status_fd.filter(|fd| *fd >= 0),
            };
            container::checkpoint(root, &id, &opts)?;
        }
        Command::Restore {
            id,
            criu,
            bundle,
            detach,
            pid_file,
            console_socket,
            no_subreaper,
            no_pivot: _,
            lsm_profile,
            lsm_mount_context,
            tcp_close,
        } => {
            let opts = RestoreOptions {
                common: criu_options(criu, args.criu)?,
                bundle,
                pid_file,
                console_socket,
                console_fd: None,
                lsm_profile,
                lsm_mount_context,
                tcp_close,
            };
            return restore_container(root, &id, opts, detach, no_subreaper);
        }
        Command::Spec { bundle, rootless } => default_spec::write_spec(&bundle, rootless)?,
        Command::Features => {
            let mut doc = features::features();
            let criu = berth_runtime::criu::find(args.criu.as_deref(), root).ok();
            features::add_checkpoint(&mut doc, criu.as_ref());
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(0)
}

/// runc's default state root; unprivileged without `$XDG_RUNTIME_DIR`
/// that is the system one, which such a caller cannot use: say so, except
/// for the commands that never touch it.
fn default_root(command: &Command) -> Result<PathBuf> {
    let root = rootless::default_state_root();
    let needs_root = !matches!(command, Command::Spec { .. } | Command::Features);
    if needs_root && rootless::unprivileged() && root == Path::new(rootless::SYSTEM_STATE_ROOT) {
        bail!(
            "XDG_RUNTIME_DIR is not set: an unprivileged berth-runtime keeps its state in $XDG_RUNTIME_DIR/berth-runtime \
             (set it, or pass --root)"
        );
    }
    Ok(root)
}

fn create_options(c: CreateArgs, rootless: bool) -> CreateOptions {
    CreateOptions {
        bundle: c.bundle,
        pid_file: c.pid_file,
        console_socket: c.console_socket,
        console_fd: None,
        no_pivot: c.no_pivot,
        no_new_keyring: c.no_new_keyring,
        preserve_fds: c.preserve_fds,
        rootless,
    }
}

/// `run`: create + start, then (unless detached) wait, relay the exit code
/// and delete. With a terminal and no console socket, the runtime holds
/// the pty itself.
fn run_container(
    root: &Path,
    c: CreateArgs,
    detach: bool,
    keep: bool,
    rootless: bool,
) -> Result<u8> {
    let id = c.id.clone();
    let foreground_tty = !detach && c.console_socket.is_none() && wants_terminal(&c.bundle);
    let signals = if detach {
        None
    } else {
        Some(supervise::prepare()?)
    };
    let mut opts = create_options(c, rootless);
    let mut our_end = None;
    if foreground_tty {
        let (a, b) = std::os::unix::net::UnixStream::pair()
            .context("failed to create console socket pair")?;
        opts.console_fd = Some(b.into());
        our_end = Some(a);
    }
    let created = container::create(root, &id, opts)?;
    let master = match &our_end {
        Some(sock) => Some(berth_runtime::console::recv_fd(std::os::fd::AsFd::as_fd(
            sock,
        ))?),
        None => None,
    };
    if let Err(e) = container::start(root, &id) {
        let _ = container::delete(root, &id, true);
        return Err(e.into());
    }
    let Some(signals) = signals else { return Ok(0) };
    let code = supervise::wait(created.pid, &signals, master)?;
    if !keep {
        container::delete(root, &id, true)?;
    }
    Ok(code.clamp(0, 255) as u8)
}

fn criu_options(c: CriuArgs, criu: Option<PathBuf>) -> Result<CriuOptions> {
    let image_path = match c.image_path {
        Some(p) => p,
        None => std::env::current_dir()
            .context("cannot find the current directory for the default --image-path")?
            .join("checkpoint"),
    };
    Ok(CriuOptions {
        criu,
        image_path,
        work_path: c.work_path,
        tcp_established: c.tcp_established,
        ext_unix_sk: c.ext_unix_sk,
        shell_job: c.shell_job,
        file_locks: c.file_locks,
        manage_cgroups_mode: c
            .manage_cgroups_mode
            .as_deref()
            .map(CgroupsMode::parse)
            .transpose()?,
        empty_ns: c.empty_ns,
        auto_dedup: c.auto_dedup,
        lazy_pages: c.lazy_pages,
    })
}

/// `restore`: like `run`, the runtime stays and waits (as subreaper unless
/// `--no-subreaper`), relaying the exit code, unless `--detach`; with a
/// terminal and no console socket it holds the pty itself.
fn restore_container(
    root: &Path,
    id: &str,
    mut opts: RestoreOptions,
    detach: bool,
    no_subreaper: bool,
) -> Result<u8> {
    let foreground_tty = !detach && opts.console_socket.is_none() && wants_terminal(&opts.bundle);
    let signals = if detach {
        None
    } else {
        Some(supervise::prepare_with(!no_subreaper)?)
    };
    let mut our_end = None;
    if foreground_tty {
        let (a, b) = std::os::unix::net::UnixStream::pair()
            .context("failed to create console socket pair")?;
        opts.console_fd = Some(b.into());
        our_end = Some(a);
    }
    let restored = container::restore(root, id, opts)?;
    let master = match &our_end {
        Some(sock) => Some(berth_runtime::console::recv_fd(std::os::fd::AsFd::as_fd(
            sock,
        ))?),
        None => None,
    };
    let Some(signals) = signals else { return Ok(0) };
    let code = supervise::wait(restored.pid, &signals, master)?;
    // As runc does after a foreground restore (and `run`): gone with it.
    container::delete(root, id, true)?;
    Ok(code.clamp(0, 255) as u8)
}

/// Only `process.terminal`: `create` parses and checks the whole config
/// right after, so this skips building the full spec a second time.
fn wants_terminal(bundle: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Config {
        process: Option<ProcessTerminal>,
    }
    #[derive(serde::Deserialize)]
    struct ProcessTerminal {
        terminal: Option<bool>,
    }
    let Ok(bytes) = std::fs::read(bundle.join(berth_runtime::config::CONFIG_FILE)) else {
        return false;
    };
    serde_json::from_slice::<Config>(&bytes)
        .ok()
        .and_then(|c| c.process?.terminal)
        .unwrap_or(false)
}

fn exec_process(
    root: &Path,
    id: &str,
    process: Process,
    detach: bool,
    pid_file: Option<PathBuf>,
    console_socket: Option<PathBuf>,
    preserve_fds: u32,
) -> Result<u8> {
    let foreground_tty = !detach && console_socket.is_none() && process.terminal().unwrap_or(false);
    let signals = if detach {
        None
    } else {
        Some(supervise::prepare()?)
    };
    let mut our_end = None;
    let mut console_fd = None;
    if foreground_tty {
        let (a, b) = std::os::unix::net::UnixStream::pair()
            .context("failed to create console socket pair")?;
        console_fd = Some(b.into());
        our_end = Some(a);
    }
    let opts = ExecOptions {
        process,
        console_socket,
        console_fd,
        pid_file,
        preserve_fds,
    };
    let pid = container::exec(root, id, opts)?;
    let master = match &our_end {
        Some(sock) => Some(berth_runtime::console::recv_fd(std::os::fd::AsFd::as_fd(
            sock,
        ))?),
        None => None,
    };
    let Some(signals) = signals else { return Ok(0) };
    Ok(supervise::wait(pid, &signals, master)?.clamp(0, 255) as u8)
}

/// exec's defaults come from the container's own process, as with runc.
fn base_process(root: &Path, id: &str) -> Result<Process> {
    let c = container::Container::load(root, id)?;
    let p = c
        .record()?
        .config
        .process()
        .clone()
        .ok_or_else(|| anyhow!("container {id} has no process"))?;
    Ok(p)
}

fn parse_user(u: &str) -> Result<(u32, u32)> {
    let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
    let uid = uid
        .parse()
        .with_context(|| format!("invalid --user {u:?}: want uid[:gid] as numbers"))?;
    let gid = gid
        .parse()
        .with_context(|| format!("invalid --user {u:?}: want uid[:gid] as numbers"))?;
    Ok((uid, gid))
}

fn add_caps(p: &mut Process, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let mut caps = p.capabilities().clone().unwrap_or_default();
    for name in names {
        let upper = name.to_ascii_uppercase();
        let full = if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        };
        let cap: Capability = serde_json::from_value(serde_json::Value::String(full.clone()))
            .map_err(|_| anyhow!("unknown capability {name:?}"))?;
        let add = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut set = set.clone().unwrap_or_default();
            set.insert(cap);
            set
        };
        caps.set_bounding(Some(add(caps.bounding())));
        caps.set_effective(Some(add(caps.effective())));
        caps.set_permitted(Some(add(caps.permitted())));
        caps.set_inheritable(Some(add(caps.inheritable())));
        caps.set_ambient(Some(add(caps.ambient())));
    }
    p.set_capabilities(Some(caps));
    Ok(())
}

fn print_ps_table(pids: &[i32]) {
    let mut out = String::from("UID\tPID\tPPID\tSTAT\tCMD\n");
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
                .unwrap_or_default()
        };
        let uid: u32 = field("Uid:").parse().unwrap_or(0);
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .replace('\0', " ")
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "{}\t{pid}\t{}\t{}\t{}\n",
            berth_runtime::procfs::user_name(uid),
            field("PPid:"),
            field("State:"),
            cmd
        ));
    }
    print!("{}", tabulate(&out));
}

/// Aligns tab-separated columns like Go's tabwriter (runc's table output).
fn tabulate(text: &str) -> String {
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = Vec::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}   ", w = widths[i]));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Reads "512m", "1G", "4096", "-1" as bytes (binary multiples, like
/// runc's RAMInBytes).
fn parse_bytes(text: &str) -> std::result::Result<i64, String> {
    let t = text.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.trim_end_matches('b').trim_end_matches('i');
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k')) => (&t[..i], 1i64 << 10),
        Some((i, 'm')) => (&t[..i], 1 << 20),
        Some((i, 'g')) => (&t[..i], 1 << 30),
        Some((i, 't')) => (&t[..i], 1 << 40),
        Some((i, 'p')) => (&t[..i], 1 << 50),
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid size {text:?}"))?;
    if n < 0.0 {
        return Err(format!("invalid size {text:?}"));
    }
    Ok((n * mult as f64) as i64)
}

/// Reads Go-style durations: "5s", "500ms", "1m", "2h", "1m30s".
fn parse_duration(text: &str) -> std::result::Result<std::time::Duration, String> {
    let mut total = 0f64;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("missing unit in duration {text:?}"))?;
        let (num, tail) = rest.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration {text:?}"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let secs = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(format!("unknown unit {unit:?} in duration {text:?}")),
        };
        total += n * secs;
        rest = next;
    }
    if total <= 0.0 {
        return Err(format!("duration {text:?} must be positive"));
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

/// The resources an `update` asks for: `--resources` JSON, then the flags.
fn update_resources(u: UpdateArgs) -> Result<oci_spec::runtime::LinuxResources> {
    use oci_spec::runtime::{LinuxPids, LinuxResources};
    if u.l3_cache_schema.is_some() || u.mem_bw_schema.is_some() {
        bail!("Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported");
    }
    let mut r: LinuxResources = match u.resources.as_deref() {
        None => LinuxResources::default(),
        Some("-") => serde_json::from_reader(std::io::stdin().lock())
            .context("malformed resources on stdin")?,
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("failed to read {path}"))?;
            serde_json::from_slice(&bytes)
                .with_context(|| format!("malformed resources in {path}"))?
        }
    };
    let mut cpu = r.cpu().clone().unwrap_or_default();
    let mut cpu_set = false;
    macro_rules! set {
        ($flag:expr, $obj:ident, $setter:ident, $flagvar:ident) => {
            if let Some(v) = $flag {
                $obj.$setter(Some(v));
                $flagvar = true;
            }
        };
    }
    set!(u.cpu_share, cpu, set_shares, cpu_set);
    set!(u.cpu_period, cpu, set_period, cpu_set);
    set!(u.cpu_quota, cpu, set_quota, cpu_set);
    set!(u.cpu_rt_period, cpu, set_realtime_period, cpu_set);
    set!(u.cpu_rt_runtime, cpu, set_realtime_runtime, cpu_set);
    set!(u.cpuset_cpus, cpu, set_cpus, cpu_set);
    set!(u.cpuset_mems, cpu, set_mems, cpu_set);
    if cpu_set {
        r.set_cpu(Some(cpu));
    }
    let mut mem = r.memory().unwrap_or_default();
    let mut mem_set = false;
    set!(u.memory, mem, set_limit, mem_set);
    set!(u.memory_reservation, mem, set_reservation, mem_set);
    set!(u.memory_swap, mem, set_swap, mem_set);
    // Ignored by `update` with a warning, as the same fields in -r.
    set!(u.kernel_memory, mem, set_kernel, mem_set);
    set!(u.kernel_memory_tcp, mem, set_kernel_tcp, mem_set);
    if mem_set {
        r.set_memory(Some(mem));
    }
    if let Some(limit) = u.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        r.set_pids(Some(p));
    }
    if let Some(w) = u.blkio_weight {
        let mut b = r.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

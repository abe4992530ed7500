//! `checkpoint`: CRIU dumps the container's process tree into an image
//! directory, with runc's options and semantics. Without
//! `--leave-running` the container's processes are gone afterwards: its
//! status is `stopped` and `delete` removes it (or `restore` under the
//! same id replaces it). A checkpoint CRIU refuses leaves the container
//! running as it was.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::Container;
use crate::criu::proto::rpc::{
    Criu_cg_mode, Criu_opts, Criu_page_server_info, Criu_req, Criu_req_type, Ext_mount_map,
};
use crate::criu::{self, mounts, swrk};
use crate::error::{Error, Result};
use crate::namespaces::Plan;
use crate::procfs;
use crate::state::{Record, StateDir, Status};

/// The file in the image directory that names the init's stdio as it was
/// (`pipe:[1234]`, `/dev/null`, ...), for restore to replace the pipes by
/// its own (runc's `descriptors.json`).
pub const DESCRIPTORS_FILE: &str = "descriptors.json";

/// The marker a finished (not `--leave-running`) checkpoint leaves in the
/// state directory: `restore` may then reuse the id.
pub(crate) const CHECKPOINTED_MARKER: &str = "checkpointed";

/// CRIU's `manage_cgroups_mode`, as runc's `--manage-cgroups-mode` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupsMode {
    Soft,
    Full,
    Strict,
    Ignore,
}

impl CgroupsMode {
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "soft" => Ok(CgroupsMode::Soft),
            "full" => Ok(CgroupsMode::Full),
            "strict" => Ok(CgroupsMode::Strict),
            "ignore" => Ok(CgroupsMode::Ignore),
            other => Err(Error::InvalidConfig(format!(
                "invalid --manage-cgroups-mode {other:?}: want soft, full, strict or ignore"
            ))),
        }
    }

    pub(crate) fn rpc(self) -> Criu_cg_mode {
        match self {
            CgroupsMode::Soft => Criu_cg_mode::SOFT,
            CgroupsMode::Full => Criu_cg_mode::FULL,
            CgroupsMode::Strict => Criu_cg_mode::STRICT,
            CgroupsMode::Ignore => Criu_cg_mode::IGNORE,
        }
    }
}

/// What both `checkpoint` and `restore` accept.
#[derive(Debug, Default, Clone)]
pub struct CriuOptions {
    /// `--criu`: the binary (default: `criu` on `PATH`).
    pub criu: Option<PathBuf>,
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<CgroupsMode>,
    /// `--empty-ns`: namespaces made empty, not restored (only `network`).
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
}

#[derive(Debug, Default, Clone)]
pub struct CheckpointOptions {
    pub common: CriuOptions,
    /// Relative to the image path: the images of a previous pre-dump.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    /// `--tcp-skip-in-flight`: connections in a listener's queue, not yet
    /// accepted, are left out (CRIU refuses to dump them otherwise).
    pub tcp_skip_in_flight: bool,
    pub pre_dump: bool,
    pub page_server: Option<String>,
    pub status_fd: Option<i32>,
}

pub fn checkpoint(root: &Path, id: &str, opts: &CheckpointOptions) -> Result<()> {
    let c = Container::load(root, id)?;
    let status = c.status();
    if !matches!(status, Status::Running | Status::Paused) {
        return Err(Error::WrongState {
            id: id.into(),
            action: "checkpoint",
            status: status.to_string(),
        });
    }
    let record = c.record()?;
    refuse_unsupported(&opts.common)?;
    if opts.status_fd.is_some() {
        return Err(Error::Unsupported(
            "--status-fd (it only serves --lazy-pages)".into(),
        ));
    }
    let plan = Plan::from_config(record.config.linux().as_ref())?;
    if !plan.has(LinuxNamespaceType::Mount) || record.rootfs_mount_id.is_some() {
        return Err(Error::Unsupported(
            "checkpoint of a container without a mount namespace of its own".into(),
        ));
    }
    let criu = criu::find(opts.common.criu.as_deref(), root)?;

    let image_dir = make_dir(&opts.common.image_path, "image")?;
    let parent = match &opts.parent_path {
        Some(p) => Some(check_parent(&opts.common.image_path, p)?),
        None => None,
    };
    if opts.pre_dump || parent.is_some() {
        // Both need the kernel to track which pages changed since the
        // parent images (CRIU's track_mem).
        if let Some(why) = criu::dirty_tracking_refusal(&criu) {
            let flag = if opts.pre_dump {
                "--pre-dump"
            } else {
                "--parent-path"
            };
            return Err(Error::HostLacks(format!(
                "{flag} needs memory dirty tracking, which this kernel does not offer: CRIU says: {why}"
            )));
        }
    }
    let work_dir = match &opts.common.work_path {
        Some(p) => Some(make_dir(p, "work")?),
        None => None,
    };

    let mut o = Criu_opts::new();
    o.set_images_dir_fd(std::os::fd::AsRawFd::as_raw_fd(&image_dir));
    if let Some(w) = &work_dir {
        o.set_work_dir_fd(std::os::fd::AsRawFd::as_raw_fd(w));
    }
    o.set_log_level(4);
    o.set_log_file(
        if opts.pre_dump {
            "pre-dump.log"
        } else {
            "dump.log"
        }
        .into(),
    );
    o.set_root(record.rootfs.to_string_lossy().into_owned());
    o.set_pid(record.pid);
    o.set_leave_running(opts.leave_running);
    o.set_tcp_skip_in_flight(opts.tcp_skip_in_flight);
    o.set_orphan_pts_master(true);
    common_opts(&mut o, &opts.common, &record.config)?;
    if let Some(dir) = freeze_cgroup(record.cgroup.as_ref()) {
        o.set_freeze_cgroup(dir);
    }
    for (t, path) in &plan.joins {
        if matches!(t, LinuxNamespaceType::Network | LinuxNamespaceType::Pid) {
            o.external.push(external_ns(*t, path)?);
        }
    }
    if let Some(ps) = &opts.page_server {
        o.ps = Some(page_server(ps)?).into();
    }
    if let Some(parent) = &parent {
        o.set_parent_img(parent.to_string_lossy().into_owned());
        o.set_track_mem(true);
    }
    let kind = if opts.pre_dump {
        Criu_req_type::PRE_DUMP
    } else {
        Criu_req_type::DUMP
    };
    if !opts.pre_dump {
        for e in mounts::externals(
            &record.config,
            &plan,
            record.cgroup.as_ref(),
            &record.bundle,
        ) {
            let key = e.dest.to_string_lossy().into_owned();
            o.ext_mnt.push(ext_mount(&key, &key));
        }
        for path in mounts::masked_files(&record.config, record.pid) {
            o.ext_mnt
                .push(ext_mount(&path.to_string_lossy(), "/dev/null"));
        }
        write_descriptors(&opts.common.image_path, record)?;
    }
    let mut req = Criu_req::new();
    req.set_type(kind);
    req.opts = Some(o).into();
    let log = opts
        .common
        .work_path
        .as_ref()
        .unwrap_or(&opts.common.image_path)
        .join(if opts.pre_dump {
            "pre-dump.log"
        } else {
            "dump.log"
        });
    swrk::call(
        &criu,
        &req,
        swrk::Call {
            extra_fds: &[],
            log: Some(log),
            before: None,
            notify: None,
            action: "checkpoint",
        },
    )?;
    if !opts.leave_running && !opts.pre_dump {
        mark_checkpointed(&c.dir)?;
    }
    Ok(())
}

/// `--page-server ADDRESS:PORT`: CRIU sends the memory pages there (a
/// `criu page-server` on the destination) instead of the image directory.
fn page_server(text: &str) -> Result<Criu_page_server_info> {
    let bad = || Error::InvalidConfig(format!("invalid --page-server {text:?}: want ADDRESS:PORT"));
    let (addr, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let port: i32 = port.parse().map_err(|_| bad())?;
    if addr.is_empty() || !(1..=65535).contains(&port) {
        return Err(bad());
    }
    let mut ps = Criu_page_server_info::new();
    ps.set_address(addr.to_string());
    ps.set_port(port);
    Ok(ps)
}

/// What neither command can do here, refused by name.
pub(crate) fn refuse_unsupported(o: &CriuOptions) -> Result<()> {
    if crate::rootless::unprivileged() {
        return Err(Error::Unsupported(
            "checkpoint/restore without root (CRIU needs CAP_SYS_ADMIN and more on the host)"
                .into(),
        ));
    }
    if o.lazy_pages {
        return Err(Error::Unsupported(
            "--lazy-pages (restoring memory on demand through userfaultfd and a page server)"
                .into(),
        ));
    }
    Ok(())
}

/// The options both requests share, as runc sets them.
pub(crate) fn common_opts(o: &mut Criu_opts, c: &CriuOptions, spec: &Spec) -> Result<()> {
    o.set_manage_cgroups(true);
    if let Some(mode) = c.manage_cgroups_mode {
        o.set_manage_cgroups_mode(mode.rpc());
    }
    o.set_notify_scripts(true);
    o.set_shell_job(c.shell_job);
    o.set_tcp_established(c.tcp_established);
    o.set_ext_unix_sk(c.ext_unix_sk);
    o.set_file_locks(c.file_locks);
    o.set_auto_dedup(c.auto_dedup);
    // Like runc: the network namespace is always made empty (the runtime
    // does not manage network devices; hooks or the engine set them up).
    let mut empty = libc::CLONE_NEWNET as u32;
    for ns in &c.empty_ns {
        match ns.as_str() {
            "network" => empty |= libc::CLONE_NEWNET as u32,
            other => {
                return Err(Error::Unsupported(format!(
                    "--empty-ns {other} (only network may be made empty)"
                )))
            }
        }
    }
    o.set_empty_ns(empty);
    // A CRIU configuration file: the one the annotation names (none when
    // empty), else runc's default, so existing CRIU setups apply.
    let annotations = spec.annotations().clone().unwrap_or_default();
    match annotations.get("org.criu.config") {
        Some(f) if f.is_empty() => {}
        Some(f) => o.set_config_file(f.clone()),
        None => o.set_config_file("/etc/criu/runc.conf".into()),
    }
    Ok(())
}

/// The cgroup CRIU freezes the tree through (v1 `freezer`, or the v2
/// directory) instead of stopping each task with ptrace.
fn freeze_cgroup(cg: Option<&berth_cgroups::Cgroup>) -> Option<String> {
    let cg = cg?;
    let dir = match cg.mode() {
        berth_cgroups::Mode::V2 => cg.unified_path().map(Path::to_path_buf),
        _ => cg.path_of("freezer"),
    };
    dir.map(|d| d.to_string_lossy().into_owned())
}

pub(crate) fn ext_mount(key: &str, val: &str) -> Ext_mount_map {
    let mut m = Ext_mount_map::new();
    m.set_key(key.to_string());
    m.set_val(val.to_string());
    m
}

/// CRIU's key for an external namespace: `extRootNetNS`, `extRootPidNS`.
pub(crate) fn ns_key(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Network => "extRootNetNS",
        _ => "extRootPidNS",
    }
}

/// `net[<inode>]:extRootNetNS`: the namespace joined by path is not the
/// container's to dump; restore gets it back by the same key.
fn external_ns(t: LinuxNamespaceType, path: &Path) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).map_err(|e| Error::io("stat namespace", path, e))?;
    Ok(format!(
        "{}[{}]:{}",
        crate::namespaces::proc_name(t),
        meta.ino(),
        ns_key(t)
    ))
}

/// Makes (0700) and opens an image or work directory.
fn make_dir(path: &Path, what: &'static str) -> Result<fs::File> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| {
            Error::io(
                if what == "image" {
                    "create image directory"
                } else {
                    "create work directory"
                },
                path,
                e,
            )
        })?;
    fs::File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
        .map_err(|e| Error::io("open directory", path, e))
}

/// `--parent-path` is relative to the image directory and must exist.
fn check_parent(image: &Path, parent: &Path) -> Result<PathBuf> {
    if parent.is_absolute() {
        return Err(Error::InvalidConfig(
            "--parent-path must be relative (to --image-path)".into(),
        ));
    }
    let real = image.join(parent);
    match fs::metadata(&real) {
        Ok(m) if m.is_dir() => Ok(parent.to_path_buf()),
        Ok(_) => Err(Error::InvalidConfig(format!(
            "invalid --parent-path: {} is not a directory",
            real.display()
        ))),
        Err(e) => Err(Error::io("open --parent-path", real, e)),
    }
}

/// Records what the init's stdin, stdout and stderr were when it was made
/// (what they are now for a record from before berth kept them).
fn write_descriptors(image: &Path, record: &Record) -> Result<()> {
    let fds = match record.external_descriptors.len() {
        3 => record.external_descriptors.clone(),
        _ => procfs::stdio_links(&record.pid.to_string()),
    };
    let path = image.join(DESCRIPTORS_FILE);
    let bytes = serde_json::to_vec(&fds).expect("strings encode");
    berth_sys::replace_atomic(&path, &bytes).map_err(|e| Error::io("write", &path, e))
}

fn mark_checkpointed(dir: &StateDir) -> Result<()> {
    let path = dir.path.join(CHECKPOINTED_MARKER);
    fs::write(&path, b"").map_err(|e| Error::io("write", &path, e))
}

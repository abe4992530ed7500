//! `process`: the container's argv, env, working directory and user, with
//! the settings `security.rs` and `stdio.rs` own.

use oci_spec::runtime::{Process, User};

use super::{security, stdio, HostFacts};
use crate::error::{Error, Result};
use crate::ContainerConfig;

/// The user a process runs as, resolved in the container's `/etc/passwd`
/// and `/etc/group` (`users.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

impl ResolvedUser {
    /// What is known without the image's files: numbers as given, names as
    /// root until the start resolves them.
    pub fn numeric(spec: &str) -> ResolvedUser {
        let (u, g) = spec.split_once(':').unwrap_or((spec, ""));
        ResolvedUser {
            uid: u.parse().unwrap_or(0),
            gid: g.parse().unwrap_or(0),
            additional_gids: Vec::new(),
        }
    }

    pub(crate) fn to_oci(&self) -> User {
        let mut u = User::default();
        u.set_uid(self.uid);
        u.set_gid(self.gid);
        u.set_umask(None);
        u.set_additional_gids(
            (!self.additional_gids.is_empty()).then(|| self.additional_gids.clone()),
        );
        u.set_username(None);
        u
    }
}

/// The container's process.
pub fn process(cfg: &ContainerConfig, host: &HostFacts, user: &ResolvedUser) -> Result<Process> {
    let args = cfg.args();
    if args.is_empty() {
        return Err(Error::invalid("container command", "no command specified"));
    }
    let cwd = if cfg.working_dir.is_empty() {
        "/"
    } else {
        &cfg.working_dir
    };
    let sec = &cfg.security;
    let mut p = Process::default();
    p.set_terminal(Some(cfg.stdio.tty));
    p.set_console_size(stdio::console_size(&cfg.stdio));
    p.set_user(user.to_oci());
    p.set_args(Some(security::init_args(sec, args)));
    p.set_command_line(None);
    p.set_env(Some(stdio::env(&cfg.stdio, &cfg.env)));
    p.set_cwd(cwd.into());
    p.set_capabilities(Some(security::process_capabilities(
        &security::capabilities(sec, host),
    )?));
    p.set_rlimits(security::rlimits(sec)?);
    p.set_no_new_privileges(Some(sec.no_new_privileges));
    p.set_apparmor_profile(security::apparmor(sec));
    p.set_oom_score_adj(Some(sec.oom_score_adj));
    p.set_selinux_label(None);
    p.set_io_priority(None);
    p.set_scheduler(None);
    p.set_exec_cpu_affinity(None);
    Ok(p)
}

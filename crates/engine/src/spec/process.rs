//! `process`: the container's argv, env, working directory and user, with
//! the settings `security.rs` and `stdio.rs` own.

use oci_spec::runtime::{Process, User};

use super::{security, stdio, HostFacts};
use crate::error::{Error, Result};
use crate::model::ContainerConfig;
use crate::users::ResolvedUser;

/// `process.user`.
fn user(u: &ResolvedUser) -> User {
    let mut o = User::default();
    o.set_uid(u.uid);
    o.set_gid(u.gid);
    o.set_umask(None);
    o.set_additional_gids((!u.additional_gids.is_empty()).then(|| u.additional_gids.clone()));
    o.set_username(None);
    o
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
    p.set_user(self::user(user));
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

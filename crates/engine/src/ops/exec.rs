//! `exec`: a process in a running container. The engine writes the
//! `process.json` (the container's own process, built by the spec's
//! process converter, changed by the flags, as Docker and runc do) and builds the runtime's
//! `exec` command; the CLI runs it, with its own terminal or stdio, since
//! an exec'd process belongs to the caller and not to the monitor.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::security::caps;
pub use crate::model::ExecOptions;
use crate::model::{self, State};
use crate::spec;
use crate::users;
use crate::Engine;

/// A prepared exec: the runtime command to run, and the process file it
/// reads (removed on drop).
pub struct Exec {
    pub command: Command,
    process_file: PathBuf,
    /// The runtime's `--log` (json), where it records why an exec failed.
    pub log_file: PathBuf,
    /// Where a detached exec's runtime writes the process's pid.
    pub pid_file: PathBuf,
}

impl Drop for Exec {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.process_file);
        let _ = std::fs::remove_file(&self.log_file);
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

impl Exec {
    /// The pid a detached exec's runtime wrote.
    pub fn pid(&self) -> Result<i32> {
        std::fs::read_to_string(&self.pid_file)
            .map_err(|e| Error::io("read", &self.pid_file, e))?
            .trim()
            .parse()
            .map_err(|_| Error::invalid("pid file", self.pid_file.display().to_string()))
    }

    /// The error the runtime logged, if it failed before the process ran:
    /// with Docker's exit code (127 not found, 126 not executable or any
    /// other runtime failure).
    pub fn runtime_error(&self) -> Option<Error> {
        let log = std::fs::read_to_string(&self.log_file).ok()?;
        let message = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["level"] == "error" || v["level"] == "fatal")
            .filter_map(|v| v["msg"].as_str().map(str::to_owned))
            .next_back()?;
        let exit_code = crate::runtime::command_exit_code(&message).unwrap_or(126);
        Some(Error::Command { message, exit_code })
    }
}

impl Engine {
    /// Checks the container runs, writes the process file and returns the
    /// runtime's `exec` command (`--detach` with a pid file when `detach`,
    /// with `--console-socket` when given: runc takes a console socket
    /// only with `--detach`).
    pub fn exec(
        &self,
        key: &str,
        o: &ExecOptions,
        detach: bool,
        console_socket: Option<&str>,
    ) -> Result<Exec> {
        let c = self.find(key)?;
        match c.state {
            State::Running => {}
            State::Restarting => return Err(Error::Restarting(c.id)),
            _ => return Err(Error::NotRunning(c.id)),
        }
        // The container's process as its start built it, the user
        // resolved again in the container's files.
        let rootfs = self.bundle(&c.id).rootfs();
        let user = match &o.user {
            Some(u) => users::resolve(&rootfs, u, &[])?,
            None => users::resolve(&rootfs, &c.config.user, &c.config.security.group_add)?,
        };
        let host = spec::HostFacts::detect(&c.config)?;
        let base = spec::process(&c.config, &host, &user)?;
        let process = spec::exec_process(&base, o, caps::own_mask("CapBnd:").unwrap_or(0))?;
        let dir = self.bundle(&c.id).dir().to_owned();
        let token = &model::new_id()?[..16];
        let process_file = dir.join(format!("exec-{token}.json"));
        let log_file = dir.join(format!("exec-{token}.log"));
        let pid_file = dir.join(format!("exec-{token}.pid"));
        let text = serde_json::to_vec(&process).expect("process serializes");
        std::fs::write(&process_file, text).map_err(|e| Error::io("write", &process_file, e))?;
        let runtime = self.runtime_for(&c);
        let detached = detach.then_some(pid_file.as_path());
        let mut command =
            runtime.exec_command(&c.id, &process_file, &log_file, detached, console_socket);
        // Docker's action names the command; the id is the exec's.
        let action = format!("exec_create: {}", o.args.join(" "));
        self.db
            .container_event(&c, &action, &[("execID", token.to_owned())])?;
        command.current_dir("/");
        Ok(Exec {
            command,
            process_file,
            log_file,
            pid_file,
        })
    }
}

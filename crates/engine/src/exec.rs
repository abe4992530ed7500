//! `exec`: a process in a running container. The engine writes the
//! `process.json` (the container's own process from its `config.json`,
//! changed by the flags, as Docker and runc do) and builds the runtime's
//! `exec` command; the CLI runs it, with its own terminal or stdio, since
//! an exec'd process belongs to the caller and not to the monitor.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::security::caps;
use crate::{Container, Engine, State};

/// `berth exec`'s flags.
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    pub args: Vec<String>,
    /// `-e K=V` (or `-e K`: the caller's value, if set).
    pub env: Vec<String>,
    /// `-u user[:group]` (names from the container's `/etc/passwd` and
    /// `/etc/group`); the container's user when absent.
    pub user: Option<String>,
    /// `-w`; the container's working directory when absent.
    pub workdir: Option<String>,
    pub tty: bool,
    /// The caller's terminal size (rows, cols), with `tty`.
    pub console_size: Option<(u16, u16)>,
    pub privileged: bool,
}

/// The `process` of an exec: `base` (the container's process) with the
/// options applied. `--privileged` gives the capabilities of `bounding`
/// (ours: no process can grant more than it holds).
pub fn process(base: &Value, o: &ExecOptions, bounding: u64) -> Result<Value> {
    if o.args.is_empty() {
        return Err(Error::invalid("exec", "no command specified"));
    }
    let mut p = base.clone();
    p["args"] = json!(o.args);
    p["terminal"] = json!(o.tty);
    if let Some(obj) = p.as_object_mut() {
        obj.remove("consoleSize");
    }
    if let (true, Some((rows, cols))) = (o.tty, o.console_size) {
        p["consoleSize"] = json!({ "height": rows, "width": cols });
    }
    let mut env: Vec<String> = p["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for e in &o.env {
        let (k, v) = match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => match std::env::var(e) {
                Ok(v) => (e.clone(), v),
                Err(_) => continue,
            },
        };
        if k.is_empty() {
            return Err(Error::invalid("environment variable", e.clone()));
        }
        env.retain(|x| x.split_once('=').map(|(xk, _)| xk) != Some(&k));
        env.push(format!("{k}={v}"));
    }
    p["env"] = json!(env);
    if o.tty {
        crate::stdio::add_term(&mut p);
    }
    if let Some(w) = &o.workdir {
        if !w.starts_with('/') {
            return Err(Error::invalid(
                "working directory",
                format!("{w:?} is not an absolute path"),
            ));
        }
        p["cwd"] = json!(w);
    }
    if o.privileged {
        let all = caps::in_mask(bounding);
        p["capabilities"] = json!({ "bounding": all, "effective": all, "permitted": all });
    }
    Ok(p)
}

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
        let base = self.process_of(&c)?;
        let mut process = process(&base, o, caps::own_mask("CapBnd:").unwrap_or(0))?;
        if let Some(spec) = &o.user {
            let u = crate::users::resolve(&self.bundle(&c.id).rootfs(), spec, &[])?;
            let mut user = json!({ "uid": u.uid, "gid": u.gid });
            if !u.additional_gids.is_empty() {
                user["additionalGids"] = json!(u.additional_gids);
            }
            process["user"] = user;
        }
        let dir = self.bundle(&c.id).dir().to_owned();
        let token = &crate::container::new_id()?[..16];
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

    fn process_of(&self, c: &Container) -> Result<Value> {
        let path = self.bundle(&c.id).file("config.json");
        let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let spec: Value = serde_json::from_slice(&text)
            .map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))?;
        Ok(spec["process"].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_change_the_containers_process() {
        let base = json!({
            "terminal": true, "consoleSize": { "height": 1, "width": 1 },
            "user": { "uid": 0, "gid": 0 }, "args": ["sh"],
            "env": ["PATH=/bin", "A=1"], "cwd": "/",
            "capabilities": { "bounding": ["CAP_KILL"] },
        });
        let o = ExecOptions {
            args: vec!["id".into()],
            env: vec!["A=2".into(), "B=3".into()],
            workdir: Some("/tmp".into()),
            ..Default::default()
        };
        let p = process(&base, &o, u64::MAX).unwrap();
        assert_eq!(p["args"], json!(["id"]));
        assert_eq!(p["terminal"], false);
        assert!(p.get("consoleSize").is_none());
        assert_eq!(p["env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(p["user"], json!({ "uid": 0, "gid": 0 }));
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(p["capabilities"]["bounding"], json!(["CAP_KILL"]));

        let tty = ExecOptions {
            args: vec!["sh".into()],
            tty: true,
            console_size: Some((30, 100)),
            privileged: true,
            ..Default::default()
        };
        let p = process(&base, &tty, u64::MAX).unwrap();
        assert_eq!(p["consoleSize"], json!({ "height": 30, "width": 100 }));
        assert!(p["env"].as_array().unwrap().contains(&json!("TERM=xterm")));
        assert_eq!(
            p["capabilities"]["effective"].as_array().unwrap().len(),
            caps::ALL_CAPABILITIES.len()
        );
        // Only what the bounding set holds: CAP_CHOWN (0) and CAP_KILL (5).
        let p = process(&base, &tty, 0b100001).unwrap();
        assert_eq!(
            p["capabilities"]["permitted"],
            json!(["CAP_CHOWN", "CAP_KILL"])
        );
        assert!(process(&base, &ExecOptions::default(), 0).is_err());
        let rel = ExecOptions {
            args: vec!["x".into()],
            workdir: Some("tmp".into()),
            ..Default::default()
        };
        assert!(process(&base, &rel, 0).is_err());
    }
}

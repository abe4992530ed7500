//! The OCI runtime, always executed as a binary (never linked): berth's own
//! `berth-runtime`, runc, crun or any path, through the runc CLI contract.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};

pub struct Runtime {
    pub path: PathBuf,
    /// The runtime's state directory (`--root`).
    pub root: PathBuf,
}

/// `berth` (the `berth-runtime` next to the running binary), a name looked
/// up in `$PATH`, or a path.
pub fn resolve(name: &str) -> Result<PathBuf> {
    let not_found = |hint: &str| Error::RuntimeNotFound {
        name: name.to_owned(),
        hint: hint.to_owned(),
    };
    if name == "berth" || name == "berth-runtime" {
        let exe = std::env::current_exe().map_err(|e| Error::io("find", "/proc/self/exe", e))?;
        let path = exe.with_file_name("berth-runtime");
        return if path.is_file() {
            Ok(path)
        } else {
            Err(not_found(&format!("expected it at {}", path.display())))
        };
    }
    if name.contains('/') {
        let path = PathBuf::from(name);
        return if path.is_file() {
            std::path::absolute(&path).map_err(|e| Error::io("resolve", &path, e))
        } else {
            Err(not_found("no such file"))
        };
    }
    let paths = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| not_found("not in $PATH"))
}

impl Runtime {
    pub fn new(path: &Path, root: &Path) -> Runtime {
        Runtime {
            path: path.to_owned(),
            root: root.to_owned(),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.path);
        c.arg("--root").arg(&self.root);
        c
    }

    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Runs a short runtime command and turns a failure into its last
    /// stderr line.
    fn run(&self, command: &'static str, args: &[&str]) -> Result<()> {
        tracing::debug!(runtime = %self.path.display(), command, ?args, "running the runtime");
        let out = self
            .command()
            .arg(command)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| Error::RuntimeSpawn {
                runtime: self.path.clone(),
                command,
                source,
            })?;
        self.check(command, out)
    }

    fn check(&self, command: &'static str, out: Output) -> Result<()> {
        if out.status.success() {
            return Ok(());
        }
        Err(Error::Runtime {
            runtime: self.name(),
            command,
            message: last_line(&String::from_utf8_lossy(&out.stderr))
                .unwrap_or_else(|| out.status.to_string()),
        })
    }

    /// `create`, with the container's stdio given; returns the runtime's
    /// error output on failure (the caller reads it from the pipes).
    pub fn create_command(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console_socket: Option<&str>,
    ) -> Command {
        let mut c = self.command();
        c.arg("create")
            .arg("--bundle")
            .arg(bundle)
            .arg("--pid-file")
            .arg(pid_file);
        if let Some(socket) = console_socket {
            c.arg("--console-socket").arg(socket);
        }
        c.arg(id);
        c
    }

    /// `exec --process FILE [--detach --pid-file P] [--console-socket S]
    /// ID`, logging its errors as json to `log` (the error also goes to its
    /// stderr).
    pub fn exec_command(
        &self,
        id: &str,
        process: &Path,
        log: &Path,
        detach_pid_file: Option<&Path>,
        console_socket: Option<&str>,
    ) -> Command {
        let mut c = self.command();
        c.arg("--log").arg(log).arg("--log-format").arg("json");
        c.arg("exec").arg("--process").arg(process);
        if let Some(pid_file) = detach_pid_file {
            c.arg("--detach").arg("--pid-file").arg(pid_file);
        }
        if let Some(socket) = console_socket {
            c.arg("--console-socket").arg(socket);
        }
        c.arg(id);
        c
    }

    /// `restore --detach --bundle B --pid-file P --image-path I
    /// --work-path W [--tcp-established] [--console-socket S] ID`: the
    /// monitor's other way to launch a container, with the stdio it gives
    /// (the restored process's pipes are replaced by these, as runc does).
    pub fn restore_command(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console_socket: Option<&str>,
        criu: &CriuPaths,
    ) -> Command {
        let mut c = self.command();
        c.arg("restore")
            .arg("--detach")
            .arg("--bundle")
            .arg(bundle)
            .arg("--pid-file")
            .arg(pid_file);
        criu.args(&mut c);
        if let Some(socket) = console_socket {
            c.arg("--console-socket").arg(socket);
        }
        c.arg(id);
        c
    }

    /// `checkpoint --image-path I --work-path W [--leave-running]
    /// [--tcp-established] ID`.
    pub fn checkpoint(
        &self,
        id: &str,
        criu: &CriuPaths,
        leave_running: bool,
        skip_in_flight: bool,
    ) -> Result<()> {
        let mut c = self.command();
        c.arg("checkpoint");
        criu.args(&mut c);
        if leave_running {
            c.arg("--leave-running");
        }
        if skip_in_flight {
            c.arg("--tcp-skip-in-flight");
        }
        c.arg(id);
        tracing::debug!(runtime = %self.path.display(), ?c, "running the runtime");
        let out = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| Error::RuntimeSpawn {
                runtime: self.path.clone(),
                command: "checkpoint",
                source,
            })?;
        self.check("checkpoint", out)
    }

    pub fn start(&self, id: &str) -> Result<()> {
        self.run("start", &[id])
    }

    pub fn kill(&self, id: &str, signal: &str) -> Result<()> {
        self.run("kill", &[id, signal])
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        self.run("pause", &[id])
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        self.run("resume", &[id])
    }

    /// `update --resources FILE` (OCI `linux.resources` JSON; a file, not
    /// stdin, because crun reads only files).
    pub fn update(&self, id: &str, resources: &Path) -> Result<()> {
        let file = resources.to_string_lossy();
        self.run("update", &["--resources", &file, id])
    }

    /// `ps --format json`: the pids of the container's processes.
    pub fn ps(&self, id: &str) -> Result<Vec<i32>> {
        let out = self
            .command()
            .args(["ps", "--format", "json", id])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| Error::RuntimeSpawn {
                runtime: self.path.clone(),
                command: "ps",
                source,
            })?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        self.check("ps", out)?;
        serde_json::from_str::<Option<Vec<i32>>>(text.trim())
            .map(Option::unwrap_or_default)
            .map_err(|e| Error::Runtime {
                runtime: self.name(),
                command: "ps",
                message: format!("unreadable pid list {text:?}: {e}"),
            })
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        if force {
            self.run("delete", &["--force", id])
        } else {
            self.run("delete", &[id])
        }
    }
}

/// Where a checkpoint's images and CRIU's logs go, and the CRIU options
/// a checkpoint and its restore must agree on.
#[derive(Debug, Clone, PartialEq)]
pub struct CriuPaths {
    pub image: PathBuf,
    pub work: PathBuf,
    pub tcp_established: bool,
    /// A restore's `--tcp-close`: the dumped connections come back closed.
    pub tcp_close: bool,
}

impl CriuPaths {
    fn args(&self, c: &mut Command) {
        c.arg("--image-path")
            .arg(&self.image)
            .arg("--work-path")
            .arg(&self.work);
        if self.tcp_established {
            c.arg("--tcp-established");
        }
        if self.tcp_close {
            c.arg("--tcp-close");
        }
    }
}

/// The last non-empty line; runc-style JSON log lines give their `msg`.
pub fn last_line(text: &str) -> Option<String> {
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
        if let Some(msg) = v.get("msg").and_then(|m| m.as_str()) {
            return Some(msg.to_owned());
        }
    }
    Some(line.strip_prefix("Error: ").unwrap_or(line).to_owned())
}

/// Docker's exit codes for a command the runtime could not start: 127 when
/// it does not exist, 126 when it cannot be executed.
pub fn command_exit_code(message: &str) -> Option<u8> {
    let m = message.to_ascii_lowercase();
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        Some(127)
    } else if m.contains("permission denied")
        || m.contains("is a directory")
        || crun_not_executable(&m)
    {
        Some(126)
    } else {
        None
    }
}

/// crun's EPERM for a command that exists but is no executable regular
/// file: 1.8 (`find_executable` in src/libcrun/utils.c) says `open
/// executable`, 1.13+ says which. Only these: other EPERMs are no 126.
fn crun_not_executable(m: &str) -> bool {
    m.contains("open executable: operation not permitted")
        || (m.starts_with("the path `")
            && (m.contains("` is not a regular file: ")
                || m.contains("` exists but it is not executable: ")))
}

#[cfg(test)]
mod tests {
    use super::command_exit_code;

    #[test]
    fn docker_exit_codes_for_each_runtime_wording() {
        let cases = [
            // runc 1.1
            (
                r#"exec: "/no/such/binary": stat /no/such/binary: no such file or directory"#,
                Some(127),
            ),
            (
                r#"exec: "nope": executable file not found in $PATH"#,
                Some(127),
            ),
            (r#"exec: "/etc": is a directory"#, Some(126)),
            (r#"exec: "/bin/x": permission denied"#, Some(126)),
            // crun 1.8
            (
                "executable file `/no/such/binary` not found in $PATH: No such file or directory",
                Some(127),
            ),
            ("open executable: Operation not permitted", Some(126)),
            ("open executable: Permission denied", Some(126)),
            // crun 1.13+
            (
                "executable file `/no/such/binary` not found: No such file or directory",
                Some(127),
            ),
            (
                "the path `/etc` is not a regular file: Operation not permitted",
                Some(126),
            ),
            (
                "the path `/x` exists but it is not executable: Operation not permitted",
                Some(126),
            ),
            // Other EPERMs are the runtime's own failure (125).
            ("mount `proc` to `/proc`: Operation not permitted", None),
            ("writing file `pids.max`: Invalid argument", None),
        ];
        for (message, code) in cases {
            assert_eq!(command_exit_code(message), code, "{message}");
        }
    }
}

//! A runtime binary under test, with its own `--root` state directory.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bundle::Bundle;
use crate::tempdir::TempDir;

/// How long one runtime command may take before the test fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A runtime binary (berth-runtime, runc, crun...) plus a private state
/// directory passed as `--root` to every command, so tests never see each
/// other's containers. Cheap to clone; on the last drop every container
/// still in the root is force-deleted and the directory removed.
#[derive(Debug, Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    bin: PathBuf,
    root: PathBuf,
    io_dir: PathBuf,
    /// Run every command as this uid and gid (no supplementary groups).
    user: Option<(u32, u32)>,
    next_io: AtomicU64,
    // Last field: dropped after Inner::drop has cleaned the containers.
    _dir: TempDir,
}

impl Runtime {
    /// The runtime named by `BERTH_TEST_RUNTIME` (`runc`, `crun`, any name
    /// on `PATH`, or a path), else `default_bin`; integration tests pass
    /// `env!("CARGO_BIN_EXE_berth-runtime")`.
    pub fn from_env(default_bin: &str) -> Runtime {
        match std::env::var("BERTH_TEST_RUNTIME") {
            Ok(v) if !v.trim().is_empty() => {
                let bin = Runtime::find(v.trim())
                    .unwrap_or_else(|| panic!("BERTH_TEST_RUNTIME={v}: no such executable"));
                Runtime::new(bin)
            }
            _ => Runtime::new(default_bin),
        }
    }

    /// `bin` with a fresh temp `--root`.
    pub fn new(bin: impl Into<PathBuf>) -> Runtime {
        Runtime::with_user(bin.into(), None)
    }

    /// Like [`from_env`](Self::from_env), but every command (cleanup
    /// included) runs as `uid`:`gid` without supplementary groups, through
    /// `setpriv`; the `--root` directory belongs to that user. The test
    /// itself must run as root.
    pub fn unprivileged_from_env(default_bin: &str, uid: u32, gid: u32) -> Runtime {
        let bin = Runtime::from_env(default_bin).bin().to_path_buf();
        Runtime::with_user(bin, Some((uid, gid)))
    }

    fn with_user(bin: PathBuf, user: Option<(u32, u32)>) -> Runtime {
        let dir = TempDir::new("berth-rt").expect("create runtime temp dir");
        let root = dir.join("state");
        let io_dir = dir.join("io");
        fs::create_dir(&root).expect("create runtime root");
        fs::create_dir(&io_dir).expect("create io dir");
        if let Some((uid, gid)) = user {
            nix::unistd::chown(&root, Some(uid.into()), Some(gid.into()))
                .expect("chown runtime root");
        }
        Runtime {
            inner: Arc::new(Inner {
                bin,
                root,
                io_dir,
                user,
                next_io: AtomicU64::new(0),
                _dir: dir,
            }),
        }
    }

    /// The uid and gid commands run as, when not the test's own.
    pub fn user(&self) -> Option<(u32, u32)> {
        self.inner.user
    }

    /// Resolves `name` to an executable: a path as is, else the first match
    /// on `PATH` or in the sbin directories root's `PATH` usually has.
    pub fn find(name: &str) -> Option<PathBuf> {
        if name.contains('/') {
            let p = PathBuf::from(name);
            return p.is_file().then_some(p);
        }
        let path = std::env::var("PATH").unwrap_or_default();
        let found = path
            .split(':')
            .chain([
                "/usr/local/sbin",
                "/usr/local/bin",
                "/usr/sbin",
                "/usr/bin",
                "/sbin",
                "/bin",
            ])
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file());
        found
    }

    pub fn bin(&self) -> &Path {
        &self.inner.bin
    }

    /// The `--root` state directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The binary's file name: `berth-runtime`, `runc`, `crun`...
    pub fn name(&self) -> String {
        self.bin()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// True when the binary under test is berth's own.
    pub fn is_berth(&self) -> bool {
        self.name().contains("berth")
    }

    /// `<bin> --root <root>`, ready for more arguments (behind `setpriv`
    /// for an unprivileged runtime).
    pub fn command(&self) -> Command {
        let mut c = base_command(self.bin(), self.inner.user);
        c.arg("--root").arg(self.root());
        c
    }

    /// Runs `<bin> --root <root> <args>` to completion (stdin on
    /// /dev/null, stdout and stderr to files, so a container that inherits
    /// them cannot hold the call open) and returns what happened.
    pub fn cmd(&self, args: &[&str]) -> Output {
        self.spawn(args).wait()
    }

    /// Like [`cmd`](Self::cmd) in working directory `dir`.
    pub fn cmd_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.spawn_with(args, |c| {
            c.current_dir(dir);
        })
        .wait()
    }

    /// Starts `<bin> --root <root> <args>` without waiting.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        self.spawn_with(args, |_| {})
    }

    /// Starts a command after `tweak` adjusted it (env, cwd, stdin...).
    pub fn spawn_with(&self, args: &[&str], tweak: impl FnOnce(&mut Command)) -> Spawned {
        let n = self.inner.next_io.fetch_add(1, Ordering::Relaxed);
        let mut c = self.command();
        c.args(args);
        let argv = format!("{} {}", self.name(), args.join(" "));
        Spawned::start(c, argv, &self.inner.io_dir, n, tweak)
    }

    /// `create --bundle <dir> <id>`. The container inherits this call's
    /// stdout/stderr files: read them later with [`Output::stdout_now`].
    pub fn create(&self, bundle: &Bundle) -> Output {
        self.cmd(&["create", "--bundle", path_str(bundle.path()), bundle.id()])
    }

    /// `run --bundle <dir> <id>` in the foreground: returns when the
    /// container exits, with its output and exit code.
    pub fn run(&self, bundle: &Bundle) -> Output {
        self.cmd(&["run", "--bundle", path_str(bundle.path()), bundle.id()])
    }

    /// `run -d --bundle <dir> <id>`.
    pub fn run_detached(&self, bundle: &Bundle) -> Output {
        self.cmd(&[
            "run",
            "-d",
            "--bundle",
            path_str(bundle.path()),
            bundle.id(),
        ])
    }

    pub fn start(&self, id: &str) -> Output {
        self.cmd(&["start", id])
    }

    pub fn kill(&self, id: &str, signal: &str) -> Output {
        self.cmd(&["kill", id, signal])
    }

    pub fn delete(&self, id: &str) -> Output {
        self.cmd(&["delete", id])
    }

    pub fn delete_force(&self, id: &str) -> Output {
        self.cmd(&["delete", "--force", id])
    }

    /// `exec <id> <argv>`.
    pub fn exec(&self, id: &str, argv: &[&str]) -> Output {
        let mut args = vec!["exec", id];
        args.extend_from_slice(argv);
        self.cmd(&args)
    }

    /// `state <id>` parsed, or the failed command.
    #[allow(clippy::result_large_err)]
    pub fn try_state(&self, id: &str) -> Result<Value, Output> {
        let out = self.cmd(&["state", id]);
        if !out.success() {
            return Err(out);
        }
        let state = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state {id}: not JSON ({e}):\n{}", out.stdout));
        Ok(state)
    }

    /// `state <id>` parsed; panics if the command fails.
    pub fn state(&self, id: &str) -> Value {
        self.try_state(id)
            .unwrap_or_else(|out| panic!("state {id} failed:\n{out}"))
    }

    /// The `status` field of `state <id>`, `None` if the command fails.
    pub fn status(&self, id: &str) -> Option<String> {
        self.try_state(id)
            .ok()
            .and_then(|s| s["status"].as_str().map(str::to_owned))
    }

    /// Polls `state <id>` until its status is `want`; panics after
    /// `timeout` with the last state seen.
    pub fn wait_for_status(&self, id: &str, want: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.try_state(id);
            if let Ok(s) = &last {
                if s["status"] == want {
                    return s.clone();
                }
            }
            if Instant::now() >= deadline {
                panic!("container {id} never reached status {want:?}; last: {last:?}");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Ids printed by `list -q`.
    pub fn list_ids(&self) -> Vec<String> {
        let out = self.cmd(&["list", "-q"]);
        out.stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Leftover containers (a test that failed half-way): force-delete
        // everything this root knows about, then the TempDir goes.
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            if !entry.path().is_dir() {
                continue;
            }
            let id = entry.file_name().to_string_lossy().into_owned();
            force_delete(&self.bin, self.user, &self.root, &id);
        }
    }
}

/// How long cleanup waits for `delete --force` before giving up on it.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(20);

/// Best-effort `<bin> --root <root> delete --force <id>` for cleanup:
/// quiet, and killed after [`CLEANUP_TIMEOUT`] so a hung runtime cannot
/// hang the test run in a destructor.
pub(crate) fn force_delete(bin: &Path, user: Option<(u32, u32)>, root: &Path, id: &str) {
    let child = base_command(bin, user)
        .arg("--root")
        .arg(root)
        .args(["delete", "--force", id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return };
    let deadline = Instant::now() + CLEANUP_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                eprintln!("warning: `delete --force {id}` hung for {CLEANUP_TIMEOUT:?}; killed it");
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            _ => return,
        }
    }
}

/// `bin`, or `setpriv --reuid=U --regid=G --clear-groups -- bin` (root
/// dropping to that user: every capability goes with the uid change).
fn base_command(bin: &Path, user: Option<(u32, u32)>) -> Command {
    match user {
        None => Command::new(bin),
        Some((uid, gid)) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .args(["--clear-groups", "--"])
                .arg(bin);
            c
        }
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// A runtime command started with [`Runtime::spawn`].
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    argv: String,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    started: Instant,
}

impl Spawned {
    /// Starts `c` with stdin on /dev/null and stdout/stderr to the files
    /// `<io_dir>/<n>.stdout` and `.stderr` (a process that inherits them
    /// cannot hold the call open), after `tweak` adjusted it.
    pub(crate) fn start(
        mut c: Command,
        argv: String,
        io_dir: &Path,
        n: u64,
        tweak: impl FnOnce(&mut Command),
    ) -> Spawned {
        let stdout_path = io_dir.join(format!("{n}.stdout"));
        let stderr_path = io_dir.join(format!("{n}.stderr"));
        c.stdin(Stdio::null())
            .stdout(File::create(&stdout_path).expect("create stdout file"))
            .stderr(File::create(&stderr_path).expect("create stderr file"));
        tweak(&mut c);
        let child = c.spawn().unwrap_or_else(|e| panic!("spawn `{argv}`: {e}"));
        Spawned {
            child,
            argv,
            stdout_path,
            stderr_path,
            started: Instant::now(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to [`DEFAULT_TIMEOUT`].
    pub fn wait(self) -> Output {
        self.wait_timeout(DEFAULT_TIMEOUT)
    }

    /// Waits for the runtime process to exit (not for EOF on its output);
    /// kills it and panics after `timeout`.
    pub fn wait_timeout(mut self, timeout: Duration) -> Output {
        let deadline = self.started + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return self.output(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let status = self.child.wait().expect("wait after kill");
                    panic!(
                        "`{}` timed out after {timeout:?}:\n{}",
                        self.argv,
                        self.output(status)
                    );
                }
                Err(e) => panic!("wait for `{}`: {e}", self.argv),
            }
        }
    }

    /// stdout as written so far, while the command still runs (`events`
    /// streaming its lines, a foreground `run`).
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// Whether the command has exited yet.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn output(&self, status: ExitStatus) -> Output {
        Output {
            status,
            argv: self.argv.clone(),
            stdout: fs::read_to_string(&self.stdout_path).unwrap_or_default(),
            stderr: fs::read_to_string(&self.stderr_path).unwrap_or_default(),
            stdout_path: self.stdout_path.clone(),
            stderr_path: self.stderr_path.clone(),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a finished runtime command did.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    /// The command line, for messages.
    pub argv: String,
    pub stdout: String,
    pub stderr: String,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
}

impl Output {
    /// The exit code; `None` if the runtime itself died of a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics with the full output unless the command succeeded.
    #[track_caller]
    pub fn ok(self) -> Output {
        assert!(self.success(), "expected success:\n{self}");
        self
    }

    /// Panics with the full output if the command succeeded.
    #[track_caller]
    pub fn failed(self) -> Output {
        assert!(!self.success(), "expected failure:\n{self}");
        self
    }

    /// stdout as written so far, re-read from its file: after `create` +
    /// `start`, this is where the container's own output lands.
    pub fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// stderr as written so far, re-read from its file.
    pub fn stderr_now(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Non-empty stderr lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\nexit: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.argv, self.status, self.stdout, self.stderr
        )
    }
}

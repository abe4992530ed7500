//! Running OCI lifecycle hooks (`prestart`, `createRuntime`,
//! `createContainer`, `startContainer`, `poststart`, `poststop`), as the
//! runtime-spec's `config.md` describes them: each hook's `path` is executed
//! with exactly its `args` and `env`, the container state JSON on stdin, its
//! stdout and stderr captured for the error message, and its `timeout`
//! enforced with SIGKILL. This module does not decide *when* a hook runs,
//! which namespace it runs in, or how the state is built: the caller
//! serializes the state and calls [`run_hooks`] at the right lifecycle point.
//! Hooks inherit the caller's working directory (runc runs them from the
//! bundle directory).

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;
use tracing::debug;

/// At most this much of each of a hook's stdout and stderr is kept for the
/// error message; the rest is read and discarded so the hook never blocks on
/// a full pipe.
const CAPTURE_LIMIT: usize = 64 * 1024;

/// How long to keep reading a hook's stdout/stderr after it exited. A hook
/// that leaves a background process holding the pipes open must not hang
/// the runtime; what was captured by then goes into the error.
const PIPE_DRAIN_GRACE: Duration = Duration::from_millis(500);

/// The longest sleep between two checks of a hook with a timeout.
const MAX_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The lifecycle point a hook belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// Deprecated `prestart`: runtime namespace, after the container's
    /// namespaces exist, before `pivot_root`.
    Prestart,
    /// `createRuntime`: runtime namespace, during `create`.
    CreateRuntime,
    /// `createContainer`: container namespace, during `create`.
    CreateContainer,
    /// `startContainer`: container namespace, before the user process.
    StartContainer,
    /// `poststart`: runtime namespace, after the user process started.
    Poststart,
    /// `poststop`: runtime namespace, after the container was deleted.
    Poststop,
}

impl HookKind {
    /// Every kind, in the order the lifecycle runs them.
    pub const ALL: [HookKind; 6] = [
        HookKind::Prestart,
        HookKind::CreateRuntime,
        HookKind::CreateContainer,
        HookKind::StartContainer,
        HookKind::Poststart,
        HookKind::Poststop,
    ];

    /// The name the runtime-spec uses for this kind, e.g. `"createRuntime"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    /// Whether the runtime-spec makes a failure of this kind abort the
    /// operation. For `poststart` and `poststop` it only asks for a warning
    /// and for the remaining hooks to run; see [`run_hooks_best_effort`].
    pub fn aborts_on_failure(self) -> bool {
        !matches!(self, HookKind::Poststart | HookKind::Poststop)
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hook that could not be run or did not succeed. `index` is the hook's
/// position in its list, as in runc's "error running hook #N".
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("invalid {kind} hook #{index}: path {} is not absolute", path.display())]
    RelativePath {
        kind: HookKind,
        index: usize,
        path: PathBuf,
    },

    #[error(
        "invalid {kind} hook #{index} ({}): timeout {timeout} must be greater than zero",
        path.display()
    )]
    InvalidTimeout {
        kind: HookKind,
        index: usize,
        path: PathBuf,
        timeout: i64,
    },

    #[error("failed to start {kind} hook #{index} ({})", path.display())]
    Spawn {
        kind: HookKind,
        index: usize,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("failed to wait for {kind} hook #{index} ({})", path.display())]
    Wait {
        kind: HookKind,
        index: usize,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "failed to run {kind} hook #{index} ({}): {status}{}",
        path.display(),
        output_suffix(stdout, stderr)
    )]
    Failed {
        kind: HookKind,
        index: usize,
        path: PathBuf,
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },

    #[error(
        "failed to run {kind} hook #{index} ({}): timed out after {timeout} s{}",
        path.display(),
        output_suffix(stdout, stderr)
    )]
    TimedOut {
        kind: HookKind,
        index: usize,
        path: PathBuf,
        timeout: u64,
        stdout: String,
        stderr: String,
    },
}

impl HookError {
    /// The lifecycle point of the hook that failed.
    pub fn hook_kind(&self) -> HookKind {
        match self {
            HookError::RelativePath { kind, .. }
            | HookError::InvalidTimeout { kind, .. }
            | HookError::Spawn { kind, .. }
            | HookError::Wait { kind, .. }
            | HookError::Failed { kind, .. }
            | HookError::TimedOut { kind, .. } => *kind,
        }
    }
}

/// `", stdout: ..., stderr: ..."` for the parts that are not empty.
fn output_suffix(stdout: &str, stderr: &str) -> String {
    let mut suffix = String::new();
    if !stdout.is_empty() {
        suffix.push_str(", stdout: ");
        suffix.push_str(stdout);
    }
    if !stderr.is_empty() {
        suffix.push_str(", stderr: ");
        suffix.push_str(stderr);
    }
    suffix
}

/// The state for hooks run in the container's namespaces (createContainer,
/// startContainer), made from the runtime's `state_json`: the given
/// `status`, and the pid of the calling process (the init) as the container
/// sees it, since the runtime-spec's state gives "for hooks executed in the
/// container namespace, the pid as seen by the container" (runc does the
/// same).
pub fn state_in_container(state_json: &str, status: &str) -> Vec<u8> {
    let mut s: serde_json::Value = serde_json::from_str(state_json).unwrap_or_default();
    s["status"] = status.into();
    s["pid"] = std::process::id().into();
    s.to_string().into_bytes()
}

/// Runs `hooks` of one `kind` in order, each with `state_json` (the
/// serialized OCI state) on its stdin, and stops at the first one that fails.
pub fn run_hooks(kind: HookKind, hooks: &[Hook], state_json: &[u8]) -> Result<(), HookError> {
    for (index, hook) in hooks.iter().enumerate() {
        run_hook(kind, index, hook, state_json)?;
    }
    Ok(())
}

/// Runs every hook of `hooks` in order even when some fail, and returns the
/// failures. This is what the runtime-spec asks for `poststart` and
/// `poststop`: warn, and carry on with the remaining hooks.
pub fn run_hooks_best_effort(kind: HookKind, hooks: &[Hook], state_json: &[u8]) -> Vec<HookError> {
    hooks
        .iter()
        .enumerate()
        .filter_map(|(index, hook)| run_hook(kind, index, hook, state_json).err())
        .collect()
}

/// Runs one hook to completion (or to its timeout).
fn run_hook(kind: HookKind, index: usize, hook: &Hook, state_json: &[u8]) -> Result<(), HookError> {
    let path = hook.path();
    if !path.is_absolute() {
        return Err(HookError::RelativePath {
            kind,
            index,
            path: path.clone(),
        });
    }
    let timeout = match hook.timeout() {
        None => None,
        Some(secs) if secs > 0 => Some(secs.unsigned_abs()),
        Some(secs) => {
            return Err(HookError::InvalidTimeout {
                kind,
                index,
                path: path.clone(),
                timeout: secs,
            })
        }
    };
    debug!(%kind, index, path = %path.display(), ?timeout, "running hook");

    let mut child = hook_command(hook)
        .spawn()
        .map_err(|source| HookError::Spawn {
            kind,
            index,
            path: path.clone(),
            source,
        })?;
    let io = HookIo::start(&mut child, state_json);

    let started = Instant::now();
    let status = match timeout {
        None => child.wait().map(Some),
        Some(secs) => wait_until(&mut child, started + Duration::from_secs(secs)),
    }
    .map_err(|source| HookError::Wait {
        kind,
        index,
        path: path.clone(),
        source,
    })?;

    match (status, timeout) {
        (Some(status), _) => {
            let (stdout, stderr) = io.finish(PIPE_DRAIN_GRACE);
            debug!(%kind, index, %status, elapsed = ?started.elapsed(), "hook exited");
            if status.success() {
                Ok(())
            } else {
                Err(HookError::Failed {
                    kind,
                    index,
                    path: path.clone(),
                    status,
                    stdout,
                    stderr,
                })
            }
        }
        (None, timeout) => {
            // The hook is still running at its deadline. `Child::kill` sends
            // SIGKILL to a child we have not reaped yet, so the pid cannot
            // have been reused.
            let killed = child.kill().and_then(|()| child.wait());
            if let Err(source) = killed {
                return Err(HookError::Wait {
                    kind,
                    index,
                    path: path.clone(),
                    source,
                });
            }
            // Processes the hook forked may still hold the pipes; do not wait
            // for them.
            let (stdout, stderr) = io.finish(Duration::ZERO);
            Err(HookError::TimedOut {
                kind,
                index,
                path: path.clone(),
                timeout: timeout.unwrap_or_default(),
                stdout,
                stderr,
            })
        }
    }
}

/// The command for `hook`: exactly its argv and environment, all three
/// standard streams piped.
fn hook_command(hook: &Hook) -> Command {
    let path: &Path = hook.path();
    let mut command = Command::new(path);
    if let Some((argv0, rest)) = hook.args().as_deref().and_then(<[String]>::split_first) {
        command.arg0(argv0).args(rest);
    }
    command.env_clear();
    for entry in hook.env().as_deref().unwrap_or_default() {
        // An entry without '=' cannot be expressed through std's Command;
        // it means nothing to getenv(3) either, so it is dropped.
        match entry.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                command.env(key, value);
            }
            _ => debug!(path = %path.display(), entry, "ignoring hook env entry without a name"),
        }
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Polls `child` until it exits or `deadline` passes. Returns `None` if the
/// child is still running at the deadline.
fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let mut interval = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(interval.min(deadline - now));
        interval = (interval * 2).min(MAX_POLL_INTERVAL);
    }
}

/// The threads feeding a hook's stdin and draining its stdout and stderr.
/// Threads keep the hook from blocking on a full pipe whatever order it
/// reads and writes in.
struct HookIo {
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// One message per reader thread when it reaches end of file.
    drained: Receiver<()>,
    readers: usize,
}

impl HookIo {
    fn start(child: &mut Child, state_json: &[u8]) -> HookIo {
        if let Some(mut stdin) = child.stdin.take() {
            let state = state_json.to_vec();
            thread::spawn(move || {
                // A hook is free not to read its stdin: EPIPE (or any other
                // write error) is not a failure of the hook. Dropping stdin
                // closes it, so a hook reading to EOF sees the end.
                if let Err(err) = stdin.write_all(&state) {
                    debug!(%err, "hook did not read the whole state");
                }
            });
        }
        let (done, drained) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = 0;
        if let Some(pipe) = child.stdout.take() {
            spawn_reader(Pipe::Stdout(pipe), Arc::clone(&stdout), done.clone());
            readers += 1;
        }
        if let Some(pipe) = child.stderr.take() {
            spawn_reader(Pipe::Stderr(pipe), Arc::clone(&stderr), done);
            readers += 1;
        }
        HookIo {
            stdout,
            stderr,
            drained,
            readers,
        }
    }

    /// Waits up to `grace` for both output pipes to close, then returns what
    /// was captured, trimmed.
    fn finish(self, grace: Duration) -> (String, String) {
        let deadline = Instant::now() + grace;
        for _ in 0..self.readers {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.drained.recv_timeout(left).is_err() {
                break;
            }
        }
        (captured(&self.stdout), captured(&self.stderr))
    }
}

enum Pipe {
    Stdout(ChildStdout),
    Stderr(ChildStderr),
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Pipe::Stdout(pipe) => pipe.read(buf),
            Pipe::Stderr(pipe) => pipe.read(buf),
        }
    }
}

/// Reads `pipe` to end of file into `sink` (up to [`CAPTURE_LIMIT`]), then
/// signals `done`.
fn spawn_reader(mut pipe: Pipe, sink: Arc<Mutex<Vec<u8>>>, done: mpsc::Sender<()>) {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let mut sink = sink.lock().unwrap_or_else(PoisonError::into_inner);
                    let room = CAPTURE_LIMIT.saturating_sub(sink.len());
                    sink.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        // The receiver is gone if the runtime stopped waiting; that is fine.
        let _ = done.send(());
    });
}

fn captured(buffer: &Mutex<Vec<u8>>) -> String {
    let bytes = buffer.lock().unwrap_or_else(PoisonError::into_inner);
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use oci_spec::runtime::HookBuilder;

    use super::*;

    /// A fresh directory under the system temp dir, removed on drop, with
    /// the script helpers these tests use.
    struct TempDir(berth_testutil::TempDir);

    impl TempDir {
        fn new() -> TempDir {
            TempDir(berth_testutil::TempDir::new("berth-hooks-test").unwrap())
        }

        /// Writes an executable `/bin/sh` script named `name`.
        fn script(&self, name: &str, body: &str) -> PathBuf {
            let path = self.0.join(name);
            fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
            path
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    fn hook(path: &Path) -> Hook {
        HookBuilder::default().path(path).build().unwrap()
    }

    const STATE: &[u8] =
        br#"{"ociVersion":"1.0.2","id":"c1","status":"creating","pid":42,"bundle":"/b"}"#;

    #[test]
    fn kind_display_is_the_spec_name() {
        let names: Vec<String> = HookKind::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "prestart",
                "createRuntime",
                "createContainer",
                "startContainer",
                "poststart",
                "poststop"
            ]
        );
        assert!(HookKind::CreateRuntime.aborts_on_failure());
        assert!(!HookKind::Poststop.aborts_on_failure());
    }

    #[test]
    fn hooks_run_in_order() {
        let dir = TempDir::new();
        let log = dir.path("log");
        let hooks: Vec<Hook> = (0..3)
            .map(|i| {
                let script =
                    dir.script(&format!("h{i}"), &format!("echo {i} >> {}", log.display()));
                hook(&script)
            })
            .collect();
        run_hooks(HookKind::CreateRuntime, &hooks, STATE).unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "0\n1\n2\n");
    }

    #[test]
    fn state_is_written_on_stdin() {
        let dir = TempDir::new();
        let out = dir.path("state");
        let script = dir.script("h", &format!("cat > {}", out.display()));
        run_hooks(HookKind::Prestart, &[hook(&script)], STATE).unwrap();
        assert_eq!(fs::read(&out).unwrap(), STATE);
    }

    #[test]
    fn args_and_env_are_exactly_the_hooks() {
        let dir = TempDir::new();
        let out = dir.path("out");
        let script = dir.script(
            "h",
            &format!("{{ echo \"args=$*\"; env | sort; }} > {}", out.display()),
        );
        let hook = HookBuilder::default()
            .path(&script)
            .args(vec![
                "my-hook".to_owned(),
                "one".to_owned(),
                "two words".to_owned(),
            ])
            .env(vec!["FOO=bar".to_owned(), "EQ=a=b".to_owned()])
            .build()
            .unwrap();
        run_hooks(HookKind::Poststart, &[hook], STATE).unwrap();
        let out = fs::read_to_string(&out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        // A script's argv[0] is replaced by the kernel with the interpreter,
        // so argv[0] is checked with a binary in `argv0_reaches_a_binary`.
        assert_eq!(lines[0], "args=one two words");
        let env: Vec<&str> = lines[1..]
            .iter()
            .copied()
            // sh itself exports these few.
            .filter(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL=") && !l.starts_with("_="))
            .collect();
        assert_eq!(env, ["EQ=a=b", "FOO=bar"]);
    }

    #[test]
    fn argv0_reaches_a_binary() {
        // For a binary (not a script) argv[0] is visible as is.
        let dir = TempDir::new();
        let out = dir.path("out");
        let hook = HookBuilder::default()
            .path("/bin/sh")
            .args(vec![
                "renamed-sh".to_owned(),
                "-c".to_owned(),
                format!("echo \"$0\" > {}", out.display()),
            ])
            .build()
            .unwrap();
        run_hooks(HookKind::StartContainer, &[hook], STATE).unwrap();
        // With -c, $0 is the next argument if any, else argv[0].
        assert_eq!(fs::read_to_string(&out).unwrap(), "renamed-sh\n");
    }

    #[test]
    fn nonzero_exit_is_an_error_with_stderr() {
        let dir = TempDir::new();
        let script = dir.script("h", "echo 'some output'\necho '  it broke  ' >&2\nexit 3");
        let err = run_hooks(HookKind::CreateRuntime, &[hook(&script)], STATE).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, HookError::Failed { ref stderr, .. } if stderr == "it broke"));
        assert!(message.contains("createRuntime hook #0"), "{message}");
        assert!(message.contains(&script.display().to_string()), "{message}");
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(message.contains("stderr: it broke"), "{message}");
        assert!(message.contains("stdout: some output"), "{message}");
    }

    #[test]
    fn first_failure_stops_the_list() {
        let dir = TempDir::new();
        let log = dir.path("log");
        let failing = dir.script("fail", "exit 1");
        let after = dir.script("after", &format!("echo ran > {}", log.display()));
        let err = run_hooks(
            HookKind::CreateRuntime,
            &[hook(&failing), hook(&after)],
            STATE,
        )
        .unwrap_err();
        assert!(matches!(err, HookError::Failed { index: 0, .. }));
        assert!(!log.exists());

        let errors =
            run_hooks_best_effort(HookKind::Poststop, &[hook(&failing), hook(&after)], STATE);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].hook_kind(), HookKind::Poststop);
        assert!(log.exists());
    }

    #[test]
    fn timeout_kills_the_hook() {
        let dir = TempDir::new();
        let pid_file = dir.path("pid");
        let script = dir.script(
            "h",
            &format!(
                "echo $$ > {}\necho started >&2\nexec sleep 1000",
                pid_file.display()
            ),
        );
        let hook = HookBuilder::default()
            .path(&script)
            .timeout(1)
            .build()
            .unwrap();
        let started = Instant::now();
        let err = run_hooks(HookKind::StartContainer, &[hook], STATE).unwrap_err();
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "gave up before the timeout"
        );
        // Killed, not waited for: the hook's process is gone (reaped).
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "hook {pid} still exists"
        );
        assert!(
            matches!(err, HookError::TimedOut { timeout: 1, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("timed out after 1 s"), "{err}");
    }

    #[test]
    fn quick_hook_with_timeout_succeeds() {
        let dir = TempDir::new();
        let script = dir.script("h", "exit 0");
        let hook = HookBuilder::default()
            .path(&script)
            .timeout(5)
            .build()
            .unwrap();
        run_hooks(HookKind::Poststart, &[hook], STATE).unwrap();
    }

    #[test]
    fn hook_ignoring_stdin_succeeds() {
        let dir = TempDir::new();
        let script = dir.script("h", "exit 0");
        // Larger than a pipe buffer, so the write would fail with EPIPE.
        let big_state = vec![b' '; 1 << 20];
        run_hooks(HookKind::Prestart, &[hook(&script)], &big_state).unwrap();
    }

    #[test]
    fn background_process_holding_pipes_does_not_hang() {
        let dir = TempDir::new();
        let pid_file = dir.path("pid");
        let script = dir.script(
            "h",
            &format!("sleep 1000 &\necho $! > {}\nexit 0", pid_file.display()),
        );
        run_hooks(HookKind::Poststart, &[hook(&script)], STATE).unwrap();
        // Returned while the background process still holds the pipes.
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        assert!(alive, "the background process {pid} had already ended");
    }

    #[test]
    fn invalid_hooks_are_rejected() {
        let relative = hook(Path::new("bin/true"));
        let err = run_hooks(HookKind::Prestart, &[relative], STATE).unwrap_err();
        assert!(matches!(err, HookError::RelativePath { .. }), "{err:?}");

        let zero = HookBuilder::default()
            .path("/bin/true")
            .timeout(0)
            .build()
            .unwrap();
        let err = run_hooks(HookKind::Prestart, &[zero], STATE).unwrap_err();
        assert!(
            matches!(err, HookError::InvalidTimeout { timeout: 0, .. }),
            "{err:?}"
        );

        let missing = hook(Path::new("/nonexistent/berth-hook"));
        let err = run_hooks(HookKind::Prestart, &[missing], STATE).unwrap_err();
        assert!(matches!(err, HookError::Spawn { .. }), "{err:?}");
    }
}

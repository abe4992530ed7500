//! The per-container monitor (like Podman's conmon): the small
//! `berth-monitor` binary next to `berth`, which links only this module's
//! side of the engine, so that an idle monitor costs little memory (see
//! docs/benchmarks.md). It forks at once: the parent exits (the CLI waits
//! for it), the child calls `setsid`, so it belongs to no terminal and
//! outlives the CLI (a double fork with a single exec). The child is a
//! child subreaper: it mounts the rootfs,
//! calls the runtime's `create` with pipes for stdout/stderr and `start`,
//! writes the log through [`crate::logfile`], waits for the init, records
//! the exit, runs `delete` and removes the container when `--rm`. It stays
//! alive across the restarts its restart policy asks for
//! ([`crate::restart`]). It takes the container over from the command that
//! started it (recorded as the owner, [`crate::ops::recover`]), and every
//! later write checks it still owns it.
//!
//! Started with `--restore-from DIR` (`container restore`), its first
//! launch is the runtime's `restore --detach` from the checkpoint in DIR
//! instead of `create` + `start`: everything around it (rootfs, volumes,
//! network, stdio, log, exit, restart policy) is the same path, so a
//! restored container is monitored as a started one. A later restart by
//! its policy is a fresh start (the checkpoint is used up).
//!
//! It reports to whoever started it through its stdout, a pipe: one line
//! `started <pid>` or `error <exit code> <message>`, and later
//! `exited <code>` once the log is complete.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use berth_net::dns::Resolver;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

pub mod stdio;

use crate::error::{Error, Result};
use crate::logfile::LogWriter;
use crate::model::restart::Backoff;
use crate::model::{Container, State};
use crate::ops::cgroup::record_exit;
use crate::ops::start::MonitorArgs as Args;
use crate::ops::unmount;
use crate::runtime::{command_exit_code, last_line, CriuPaths};
use crate::store::owner::{self, ProcessId};
use crate::Engine;

/// Detaches from the command that started it, then runs the container.
/// Returns the process's exit code (the starter waits for it: 0 once the
/// detached child exists).
pub fn main(args: &Args) -> i32 {
    let (root, id) = (args.root.as_path(), args.id.as_str());
    // Whatever the CLI's caller left open (a test harness's output pipe,
    // ...) must not be held for the container's lifetime. Ours are 0-2.
    if let Err(e) = berth_sys::close_from(3) {
        eprintln!("monitor {id}: close inherited descriptors: {e}");
        return 1;
    }
    // A double fork with one exec: the parent returns at once, the child
    // leaves the caller's session (it is not a group leader, so setsid
    // succeeds) and outlives the CLI.
    match berth_sys::fork_single_threaded() {
        Ok(berth_sys::Forked::Parent(_)) => return 0,
        Ok(berth_sys::Forked::Child) => {}
        Err(e) => {
            eprintln!("monitor {id}: fork: {e}");
            return 1;
        }
    }
    if let Err(e) = nix::unistd::setsid() {
        eprintln!("monitor {id}: setsid: {e}");
        return 1;
    }
    let mut report = io::stdout();
    match Monitor::run(root, id, args.restore.as_ref(), &mut report) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("monitor {id}: {e}");
            1
        }
    }
}

/// `berth-monitor [--root ROOT] [--restore-from DIR --work-path W
/// [--tcp-established]] ID`: the monitor's own command line (it is
/// started only by berth, [`crate::ops::start`]).
pub fn parse_args(args: &[String]) -> Option<Args> {
    Args::parse(args)
}

struct Monitor;

impl Monitor {
    /// Takes the container over from the command that started it, then
    /// runs it until it exits for good (see [`Self::lifecycle`]).
    fn run(
        root: &Path,
        id: &str,
        restore: Option<&CriuPaths>,
        report: &mut (impl Write + Send),
    ) -> Result<()> {
        // Its threads are few and mostly asleep: one arena is enough.
        berth_sys::single_malloc_arena();
        nix::sys::prctl::set_child_subreaper(true).map_err(|e| Error::Monitor {
            id: id.to_owned(),
            message: format!("set child subreaper: {e}"),
        })?;
        let me = ProcessId::current();
        let claimed = on_worker(|| -> Result<Option<(Engine, Container)>> {
            let mut engine = Engine::open_unreconciled(root)?;
            let starter = std::env::var(owner::STARTER_ENV)
                .ok()
                .and_then(|s| ProcessId::parse(&s));
            let boot = owner::boot_id();
            let claimed = match starter {
                Some(s) => engine.db.take_over(id, s, boot, me, boot)?,
                None => false,
            };
            if !claimed {
                // The starter died and a reconcile took the container first.
                let _ = writeln!(
                    report,
                    "error 125 the container was reconciled before its monitor started"
                );
                return Ok(None);
            }
            let c = engine
                .db
                .get(id)?
                .ok_or_else(|| Error::NoSuchContainer(id.to_owned()))?;
            Ok(Some((engine, c)))
        })?;
        match claimed {
            Some((engine, c)) => Self::lifecycle(root, engine, &c, me, restore, report),
            None => Ok(()),
        }
    }

    /// Runs the container, and again after each exit its restart policy
    /// restarts (after Docker's back-off), until a stop, an exit the
    /// policy does not restart, or a failed start. Every database write
    /// is conditional on still owning the container, so a reconcile that
    /// took over wins. The work before and after each run happens on a
    /// worker thread (see [`on_worker`]); this one only waits.
    fn lifecycle(
        root: &Path,
        engine: Engine,
        c: &Container,
        me: ProcessId,
        restore: Option<&CriuPaths>,
        report: &mut (impl Write + Send),
    ) -> Result<()> {
        let id = &c.id;
        let bundle = engine.bundle(id);
        let runtime = engine.runtime_for(c);
        let hub = stdio::Hub::serve(&c.config.stdio, bundle.dir())?;
        let mut backoff = Backoff::default();
        let mut first = true;
        let mut engine = Some(engine);
        loop {
            let open = engine.take();
            let launched = on_worker(|| -> Result<Option<(i32, Option<Resolver>)>> {
                let mut engine = match open {
                    Some(e) => e,
                    None => Engine::open_unreconciled(root)?,
                };
                // The first launch of a restore; restarts start afresh.
                let restoring = restore.filter(|_| first);
                // A restore asks for the addresses the checkpoint had.
                let launched = match restoring {
                    Some(r) => engine.pin_addresses(c, &r.image),
                    None => Ok(c.clone()),
                };
                // A container that never ran has no runtime state to clear
                // before `create` (a failed start or a reconcile deleted it).
                let fresh = first && c.started_at.is_empty() && c.error.is_empty();
                let (pid, resolver) = match launched
                    .and_then(|c| Self::launch(&mut engine, &c, &hub, fresh, restoring))
                {
                    Ok(launched) => launched,
                    Err(e) => {
                        let deleted = runtime.delete(id, true).is_ok();
                        let _ = engine.network_release(c);
                        let _ = engine.volumes_release(c);
                        let _ = unmount(&bundle.rootfs());
                        let code = i32::from(e.exit_code());
                        // A first start that fails leaves the container
                        // `created` (Docker's); a restart or a restore
                        // that fails, `exited` (with its checkpoint kept).
                        let state = if first && restoring.is_none() {
                            State::Created
                        } else {
                            State::Exited
                        };
                        if !engine
                            .db
                            .owned_failed(id, me, state, code, &e.to_string())?
                        {
                            return Ok(None);
                        }
                        // Removed before the report, so the CLI's caller sees it gone.
                        let removed = match (c.config.auto_remove, deleted) {
                            (false, _) => Ok(()),
                            (true, true) => engine.remove_files_after_delete(c),
                            (true, false) => engine.remove_files(c),
                        };
                        if first {
                            let _ = writeln!(report, "error {code} {}", one_line(&e.to_string()));
                        }
                        return removed.map(|()| None);
                    }
                };
                let now = berth_image::time::now_rfc3339();
                if !engine
                    .db
                    .owned_running(id, me, pid, &now, restoring.is_some())?
                {
                    // Taken over meanwhile: what we started is not ours to run.
                    let _ = runtime.delete(id, true);
                    let _ = wait_for(pid);
                    drop(resolver);
                    let _ = engine.network_release(c);
                    let _ = engine.volumes_release(c);
                    let _ = unmount(&bundle.rootfs());
                    return Ok(None);
                }
                if first {
                    let _ = writeln!(report, "started {pid}");
                    let _ = report.flush();
                }
                // Idle until the exit: hold no database or image store
                // meanwhile (a monitor per container adds up).
                drop(engine);
                Ok(Some((pid, resolver)))
            })?;
            let Some((pid, resolver)) = launched else {
                return Ok(());
            };
            let started = Instant::now();
            berth_sys::trim_heap();

            let code = wait_for(pid);
            // its netns is gone: nothing left to answer for
            drop(resolver);
            let (ended, again) = on_worker(|| -> Result<(Engine, Result<bool>)> {
                let mut engine = Engine::open_unreconciled(root)?;
                // The log is complete before the exit is recorded.
                hub.drain();
                let finished = berth_image::time::now_rfc3339();
                // Before `delete`, which removes the cgroup that counts OOM kills.
                let _ = record_exit(&engine, c);
                let deleted = runtime.delete(id, false).is_ok() || runtime.delete(id, true).is_ok();
                let _ = engine.network_release(c);
                let _ = engine.volumes_release(c);
                let _ = unmount(&bundle.rootfs());
                // As recorded now: `update --restart` may have changed it.
                let policy = engine
                    .find(id)
                    .map_or(c.config.restart, |c| c.config.restart);
                let again = engine.db.owned_exited(id, me, code, "", &finished, |l| {
                    policy.restarts_after(code, l.manually_stopped, l.restart_count)
                })?;
                hub.finish(code);
                // Removed before the report, so the CLI's caller sees it gone
                // (`--rm` excludes a restart policy).
                let removed = match (again == Some(false) && c.config.auto_remove, deleted) {
                    (false, _) => Ok(()),
                    (true, true) => engine.remove_files_after_delete(c),
                    (true, false) => engine.remove_files(c),
                };
                if first {
                    // A foreground `run` returns at the first exit, as Docker's.
                    let _ = writeln!(report, "exited {code}");
                    let _ = report.flush();
                }
                Ok((engine, removed.map(|()| again == Some(true))))
            })?;
            first = false;
            if !again? {
                return Ok(());
            }
            std::thread::sleep(backoff.next(started.elapsed()));
            let mut ended = ended;
            if !ended.db.owned_restart(id, me)? {
                return Ok(()); // stopped (or removed) during the back-off
            }
            engine = Some(ended);
        }
    }

    /// Mount, the network's addresses and `/etc` files, `create`, the
    /// network's kernel objects, the output pump (with the log), `start`.
    /// With `restore`, the runtime's `restore --detach` takes the place of
    /// `create` + `start`: the restored processes run from its return, in
    /// the empty network namespace CRIU made (as runc's), which gets the
    /// container's links and addresses right after.
    /// Returns the init's pid and the container's resolver (user
    /// networks), which lives as long as the container.
    fn launch(
        engine: &mut Engine,
        c: &Container,
        hub: &Arc<stdio::Hub>,
        fresh: bool,
        restore: Option<&CriuPaths>,
    ) -> Result<(i32, Option<Resolver>)> {
        let id = &c.id;
        let bundle = engine.bundle(id);
        let rootfs = bundle.rootfs();
        let _ = unmount(&rootfs);
        engine.images.mount(id, &rootfs)?;
        engine.volumes_prepare(c, &rootfs)?;
        let netns = engine.join_network_namespace(c)?;
        bundle.write_for_start(c, &rootfs, netns.clone())?;
        let attachment = engine.network_prepare(c)?;
        // A restore's network is set up from the runtime's createRuntime
        // hook, before CRIU restores the sockets (see `restore_hook`): a
        // `none` container's too, whose `lo` comes back down (CRIU makes
        // the namespace empty), so that it is up before the restored
        // processes run again.
        let hook = match restore {
            Some(_) if !attachment.is_empty() => {
                let socket = crate::attach::BoundSocket::bind(bundle.dir(), RESTORE_HOOK_SOCKET)?;
                socket
                    .listener
                    .set_nonblocking(true)
                    .map_err(|e| Error::io("configure", bundle.file(RESTORE_HOOK_SOCKET), e))?;
                bundle.write_for_restore(c, &rootfs, netns, restore_hook_spec(&socket)?)?;
                Some(socket)
            }
            _ => None,
        };
        let mut plumbed = None;
        let runtime = engine.runtime_for(c);
        std::fs::create_dir_all(&runtime.root)
            .map_err(|e| Error::io("create", &runtime.root, e))?;
        // A leftover from a monitor that died, or the stopped state a
        // checkpoint leaves: the id must be free.
        if !fresh || restore.is_some() {
            let _ = runtime.delete(id, true);
        }

        let mut stdio = hub.prepare(bundle.dir())?;
        let pid_file = bundle.file("init.pid");
        let _ = std::fs::remove_file(&pid_file);
        let command = if restore.is_some() {
            "restore"
        } else {
            "create"
        };
        let status = {
            let console = stdio.console_socket();
            let mut cmd = match restore {
                Some(criu) => {
                    runtime.restore_command(id, bundle.dir(), &pid_file, console.as_deref(), criu)
                }
                None => runtime.create_command(id, bundle.dir(), &pid_file, console.as_deref()),
            };
            stdio.configure(&mut cmd);
            let mut child = cmd.spawn().map_err(|source| Error::RuntimeSpawn {
                runtime: runtime.path.clone(),
                command,
                source,
            })?;
            // `cmd` (our copies of the write ends) drops here.
            match &hook {
                None => child
                    .wait()
                    .map_err(|e| Error::io("wait for", &runtime.path, e))?,
                Some(socket) => loop {
                    // The hook's one request, while the runtime restores.
                    match socket.listener.accept() {
                        Ok((conn, _)) => {
                            plumbed = Some(answer_restore_hook(engine, c, &attachment, conn));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => {
                            let _ = child.kill();
                            let _ = child.wait();
                            return Err(Error::io(
                                "accept on",
                                bundle.file(RESTORE_HOOK_SOCKET),
                                e,
                            ));
                        }
                    }
                    if let Some(status) = child
                        .try_wait()
                        .map_err(|e| Error::io("wait for", &runtime.path, e))?
                    {
                        break status;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                },
            }
        };
        drop(hook);
        let _ = std::fs::remove_file(bundle.file(RESTORE_HOOK_SOCKET));
        if !status.success() {
            // The runtime's error is on the container's stderr pipe; the
            // init is gone, so read what is there without blocking.
            let text = stdio.failure_output();
            let message = last_line(&text).unwrap_or_else(|| status.to_string());
            return Err(match command_exit_code(&message) {
                Some(exit_code) => Error::Command { message, exit_code },
                None => Error::Runtime {
                    runtime: runtime_name(&runtime.path),
                    command,
                    message,
                },
            });
        }
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .map_err(|e| Error::io("read", &pid_file, e))?
            .trim()
            .parse()
            .map_err(|_| Error::invalid("pid file", pid_file.display().to_string()))?;

        let plumbed = match plumbed {
            // Done from the hook (its failure failed the restore); the
            // connections are back: let the packets through.
            Some(Ok(resolver)) if locks(&attachment) => {
                restore_lock(c, pid, false).map(|()| resolver)
            }
            Some(Ok(resolver)) => Ok(resolver),
            Some(Err(e)) => Err(e),
            None => engine.network_plumb(c, pid, &attachment),
        };
        let resolver = match plumbed {
            Ok(r) => r,
            Err(e) => {
                let _ = runtime.kill(id, "KILL");
                let _ = wait_for(pid);
                return Err(e);
            }
        };
        let log = LogWriter::open(bundle.dir(), id, &c.config.log)?;
        stdio.started(log)?;
        if restore.is_some() {
            // Restored processes already run: there is nothing to start.
            return Ok((pid, resolver));
        }
        if let Err(e) = runtime.start(id) {
            let _ = runtime.kill(id, "KILL");
            let _ = wait_for(pid);
            hub.drain();
            return Err(match &e {
                Error::Runtime { message, .. } => match command_exit_code(message) {
                    Some(exit_code) => Error::Command {
                        message: message.clone(),
                        exit_code,
                    },
                    None => e,
                },
                _ => e,
            });
        }
        Ok((pid, resolver))
    }
}

/// The socket in the container's directory the restore hook reaches the
/// monitor through.
const RESTORE_HOOK_SOCKET: &str = "restore-hook.sock";

/// `berth-monitor restore-hook SOCKET` as a `createRuntime` hook.
fn restore_hook_spec(socket: &crate::attach::BoundSocket) -> Result<oci_spec::runtime::Hook> {
    let exe = std::env::current_exe().map_err(|e| Error::io("find", "/proc/self/exe", e))?;
    oci_spec::runtime::HookBuilder::default()
        .path(exe)
        .args(vec![
            "berth-monitor".to_owned(),
            "restore-hook".to_owned(),
            socket.proc_path(),
        ])
        .timeout(30)
        .build()
        .map_err(|e| Error::invalid("restore hook", e.to_string()))
}

/// Plumbs the restored namespace of the init the hook names, and tells the
/// hook how it went (`ok`, or `error <why>`, which fails the restore).
fn answer_restore_hook(
    engine: &mut Engine,
    c: &Container,
    attachment: &crate::ops::network_attach::Attachment,
    conn: std::os::unix::net::UnixStream,
) -> Result<Option<Resolver>> {
    let _ = conn.set_nonblocking(false);
    let mut line = String::new();
    let read = io::BufRead::read_line(&mut io::BufReader::new(&conn), &mut line);
    let result = match (read, line.trim().parse::<i32>()) {
        (Ok(_), Ok(pid)) if pid > 0 => {
            // Still until the sockets are back (see `restore_lock`).
            let locked = if locks(attachment) {
                restore_lock(c, pid, true)
            } else {
                Ok(())
            };
            locked.and_then(|()| engine.network_plumb(c, pid, attachment))
        }
        _ => Err(Error::Monitor {
            id: c.id.clone(),
            message: format!("the restore hook sent {line:?}"),
        }),
    };
    let reply = match &result {
        Ok(_) => "ok\n".to_owned(),
        Err(e) => format!("error {}\n", one_line(&e.to_string())),
    };
    let _ = (&conn).write_all(reply.as_bytes());
    result
}

/// A restored namespace with endpoints is locked while its connections
/// come back; `lo` alone (`none`) has no peer to draw a reset from.
fn locks(attachment: &crate::ops::network_attach::Attachment) -> bool {
    !attachment.endpoints.is_empty()
}

/// Locks (or unlocks) the restored init's network namespace: nothing in or
/// out while CRIU puts its TCP connections back.
fn restore_lock(c: &Container, pid: i32, lock: bool) -> Result<()> {
    let path = format!("/proc/{pid}/ns/net");
    let netns = std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
    let done = berth_net::netlink::in_netns(netns.as_fd(), || {
        if lock {
            berth_net::nft::restore_lock::lock()
        } else {
            berth_net::nft::restore_lock::unlock()
        }
    });
    let what = if lock { "lock" } else { "unlock" };
    match done {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::Network(format!(
            "cannot {what} the restored network of container {}: {e}",
            c.id
        ))),
        Err(e) => Err(Error::Network(format!(
            "cannot enter the restored network of container {}: {e}",
            c.id
        ))),
    }
}

/// The hook's side (`berth-monitor restore-hook SOCKET`): reads the OCI
/// state on stdin, sends the restored init's pid to the monitor and waits
/// for its network to be set up. Exit 0 when it was.
pub fn restore_hook(socket: &str) -> i32 {
    #[derive(serde::Deserialize)]
    struct State {
        pid: i32,
    }
    let run = || -> std::result::Result<(), String> {
        let state: State = serde_json::from_reader(io::stdin())
            .map_err(|e| format!("cannot read the container's state: {e}"))?;
        let mut conn = std::os::unix::net::UnixStream::connect(socket)
            .map_err(|e| format!("cannot reach the monitor at {socket}: {e}"))?;
        writeln!(conn, "{}", state.pid).map_err(|e| format!("cannot write to the monitor: {e}"))?;
        let mut reply = String::new();
        io::BufRead::read_line(&mut io::BufReader::new(&conn), &mut reply)
            .map_err(|e| format!("cannot read the monitor's reply: {e}"))?;
        match reply.trim_end().strip_prefix("error ") {
            None if reply.trim_end() == "ok" => Ok(()),
            None => Err(format!("the monitor replied {reply:?}")),
            Some(why) => Err(why.to_owned()),
        }
    };
    match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// Runs `f` on a thread of its own and returns what it returns. A thread
/// keeps the small blocks it frees in a cache of its own (glibc's tcache),
/// which `malloc_trim` cannot return to the kernel; that cache is emptied
/// when the thread ends. The monitor's busy moments (database, image
/// store, runtime commands) run this way, so the idle monitor holds only
/// what stays alive (~60 KiB less per container).
fn on_worker<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

fn runtime_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

/// Reaps children (we are their subreaper) until `pid` exits; its exit
/// code, or 128 + signal as a shell reports it.
fn wait_for(pid: i32) -> i32 {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return code,
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => return 128 + sig as i32,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            // No children left: the init was reaped elsewhere or never ours.
            Err(_) => return 255,
        }
    }
}

pub(crate) fn read_available(r: io::PipeReader) -> String {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let _ = fcntl(r.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
    let mut buf = Vec::new();
    let mut r = r;
    let _ = r.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

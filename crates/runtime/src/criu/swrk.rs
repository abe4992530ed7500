//! One conversation with `criu swrk 3`: CRIU as a child of the runtime,
//! its end of a `SOCK_SEQPACKET` pair at descriptor 3, one request sent,
//! notifications answered (each may carry a descriptor, such as the new
//! pty master of a restored terminal), until the final response.
//!
//! Running CRIU as our child matters for restore: with `rst_sibling` the
//! restored init is created as CRIU's sibling, so it is the runtime's child
//! and a foreground `restore` can wait for it.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use protobuf::Message as _;

use super::proto::rpc::{Criu_notify, Criu_req, Criu_req_type, Criu_resp};
use super::{log, Criu};
use crate::error::{Error, Result};

/// A notification CRIU sends in the middle of a dump or restore (its
/// "action scripts": `setup-namespaces`, `post-restore`,
/// `orphan-pts-master`, `post-dump`, `network-lock`, ...).
pub struct Notification {
    pub script: String,
    pub pid: i32,
    /// A descriptor passed with it (`orphan-pts-master`).
    pub fd: Option<OwnedFd>,
}

/// What to do around the request.
pub struct Call<'a> {
    /// Descriptors CRIU gets at 4, 5, ... (for `inherit_fd`).
    pub extra_fds: &'a [&'a OwnedFd],
    /// Where CRIU writes its log (`log_file` in the work directory), for
    /// the error line.
    pub log: Option<PathBuf>,
    /// Called with CRIU's pid before the request is sent (restore moves
    /// CRIU into the container's cgroup, so the restored tree starts
    /// there).
    pub before: Option<&'a mut dyn FnMut(i32) -> Result<()>>,
    /// Answers each notification; an error makes CRIU abort.
    pub notify: Option<&'a mut dyn FnMut(Notification) -> Result<()>>,
    /// Words for errors: "checkpoint", "restore".
    pub action: &'static str,
}

/// Sends `req` to a new `criu swrk` and returns CRIU's final response,
/// which succeeded (a failure is an error naming CRIU's cause).
pub fn call(criu: &Criu, req: &Criu_req, mut call: Call<'_>) -> Result<Criu_resp> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("create CRIU's socket pair", e))?;
    let mut cmd = Command::new(&criu.path);
    cmd.args(["swrk", "3"]);
    let mut fds: Vec<&OwnedFd> = vec![&theirs];
    fds.extend_from_slice(call.extra_fds);
    berth_sys::pass_fds(&mut cmd, &fds).map_err(|e| Error::sys("pass descriptors to CRIU", e))?;
    let child = cmd.spawn().map_err(|e| Error::io("run", &criu.path, e))?;
    drop(cmd);
    drop(theirs);
    let mut child = Reaped(Some(child));
    let pid = child.pid();
    let result = converse(&ours, pid, req, &mut call);
    // CRIU exits once its socket closes (a PRE_DUMP waits for more).
    drop(ours);
    let status = child.wait();
    let resp = result?;
    if let Some(status) = status {
        if !status.success() && req.type_() != Criu_req_type::PRE_DUMP {
            return Err(failure(
                call.action,
                call.log.as_deref(),
                None,
                &format!("CRIU exited with {status}"),
            ));
        }
    }
    Ok(resp)
}

fn converse(sock: &OwnedFd, pid: i32, req: &Criu_req, call: &mut Call<'_>) -> Result<Criu_resp> {
    if let Some(before) = call.before.as_mut() {
        before(pid)?;
    }
    send(sock, req)?;
    // An error of our own while answering a notification: CRIU is told the
    // notification failed, rolls back, and this error is the one reported.
    let mut ours: Option<Error> = None;
    loop {
        let (bytes, fd) = berth_sys::recv_message(sock.as_fd())
            .map_err(|e| Error::sys("read CRIU's answer", e))?;
        if bytes.is_empty() {
            return Err(ours.unwrap_or_else(|| {
                failure(
                    call.action,
                    call.log.as_deref(),
                    None,
                    "CRIU closed its socket without an answer",
                )
            }));
        }
        let resp = Criu_resp::parse_from_bytes(&bytes)
            .map_err(|e| Error::Criu(format!("malformed answer from CRIU: {e}")))?;
        if resp.type_() == Criu_req_type::NOTIFY && resp.success() {
            let n: &Criu_notify = resp.notify.as_ref().unwrap_or_default();
            let note = Notification {
                script: n.script().to_string(),
                pid: n.pid(),
                fd,
            };
            tracing::debug!(script = %note.script, pid = note.pid, "CRIU notification");
            let ok = match call.notify.as_mut() {
                Some(f) if ours.is_none() => match f(note) {
                    Ok(()) => true,
                    Err(e) => {
                        ours = Some(e);
                        false
                    }
                },
                _ => ours.is_none(),
            };
            let mut answer = Criu_req::new();
            answer.set_type(Criu_req_type::NOTIFY);
            answer.set_notify_success(ok);
            send(sock, &answer)?;
            continue;
        }
        if let Some(e) = ours {
            return Err(e);
        }
        if !resp.success() {
            let errmsg = (!resp.cr_errmsg().is_empty()).then(|| resp.cr_errmsg().to_string());
            let errno = match resp.cr_errno() {
                0 => "no reason given".to_string(),
                n => format!("errno {n} ({})", std::io::Error::from_raw_os_error(n)),
            };
            return Err(failure(call.action, call.log.as_deref(), errmsg, &errno));
        }
        return Ok(resp);
    }
}

fn send(sock: &OwnedFd, msg: &Criu_req) -> Result<()> {
    let bytes = msg
        .write_to_bytes()
        .map_err(|e| Error::Criu(format!("encode a CRIU request: {e}")))?;
    nix::sys::socket::send(
        std::os::fd::AsRawFd::as_raw_fd(sock),
        &bytes,
        nix::sys::socket::MsgFlags::empty(),
    )
    .map_err(|e| Error::sys("send CRIU a request", e))?;
    Ok(())
}

/// One line: what failed, CRIU's own cause (the first error of its log,
/// else its error message, else `fallback`), and where the log is.
fn failure(action: &str, log: Option<&Path>, errmsg: Option<String>, fallback: &str) -> Error {
    let cause = log
        .and_then(log::error_in_file)
        .or(errmsg)
        .unwrap_or_else(|| fallback.to_string());
    let log = match log {
        Some(p) => format!(" (log: {})", p.display()),
        None => String::new(),
    };
    Error::Criu(format!("{action} failed: CRIU: {cause}{log}"))
}

/// CRIU's process, always waited for (no zombie), killed if still there
/// when dropped early.
struct Reaped(Option<Child>);

impl Reaped {
    fn pid(&self) -> i32 {
        self.0.as_ref().map_or(0, |c| c.id() as i32)
    }

    fn wait(&mut self) -> Option<std::process::ExitStatus> {
        self.0.take().and_then(|mut c| c.wait().ok())
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

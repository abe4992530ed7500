//! Terminals. With `process.terminal`, the container's process gets a new
//! pseudo-terminal created inside the container (from its own devpts), and
//! the master end is handed to whoever listens on `--console-socket` with
//! SCM_RIGHTS, as runc does. In the foreground (`run`/`exec` without a
//! console socket) the runtime itself takes the master and copies between it
//! and its own stdio.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
use nix::sys::stat::Mode;
use oci_spec::runtime::Process;

use crate::error::{Error, Result};

/// Opens a new pty from the devpts behind `/dev/ptmx`, sends its master on
/// `socket` and returns the peer (slave) end.
pub fn create_and_send(socket: BorrowedFd<'_>, process: &Process) -> Result<OwnedFd> {
    let master = open(
        Path::new("/dev/ptmx"),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("open", "/dev/ptmx", e.into()))?;
    berth_sys::unlock_pty(master.as_fd()).map_err(|e| Error::sys("unlock pty", e))?;
    let slave = berth_sys::open_pty_peer(master.as_fd(), libc::O_RDWR | libc::O_NOCTTY)
        .map_err(|e| Error::sys("open pty peer", e))?;
    if let Some(size) = process.console_size() {
        berth_sys::set_window_size(slave.as_fd(), size.height() as u16, size.width() as u16)
            .map_err(|e| Error::sys("set console size", e))?;
    }
    send_fd(socket, master.as_fd(), "/dev/ptmx")?;
    Ok(slave)
}

/// Makes `slave` the controlling terminal and stdio of a new session.
pub fn attach(slave: OwnedFd) -> Result<()> {
    nix::unistd::setsid().map_err(|e| Error::sys("create session", e))?;
    berth_sys::set_controlling_terminal(slave.as_fd())
        .map_err(|e| Error::sys("set controlling terminal", e))?;
    for fd in 0..3 {
        berth_sys::dup_onto(slave.as_fd(), fd).map_err(|e| Error::sys("attach pty to stdio", e))?;
    }
    Ok(())
}

/// The `/dev/pts/N` path of a pty peer, to bind over `/dev/console`.
pub fn peer_path(slave: &OwnedFd) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).ok()
}

pub fn send_fd(socket: BorrowedFd<'_>, fd: BorrowedFd<'_>, name: &str) -> Result<()> {
    let fds = [fd.as_raw_fd()];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<UnixAddr>(
        socket.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|e| Error::sys("send pty master to console socket", e))?;
    Ok(())
}

/// Receives one descriptor sent with SCM_RIGHTS.
pub fn recv_fd(socket: BorrowedFd<'_>) -> Result<OwnedFd> {
    berth_sys::recv_fd(socket)
        .map_err(|e| Error::sys("receive pty master", e))?
        .ok_or_else(|| Error::Container("console socket peer sent no descriptor".into()))
}

/// Copies between our stdio and a pty master until the master reports the
/// other side closed, with our terminal (if any) in raw mode meanwhile.
pub struct Proxy {
    master: OwnedFd,
    saved: Option<nix::sys::termios::Termios>,
}

impl Proxy {
    pub fn new(master: OwnedFd) -> Self {
        let stdin = std::io::stdin();
        let saved = nix::sys::termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(orig) = &saved {
            let mut raw = orig.clone();
            nix::sys::termios::cfmakeraw(&mut raw);
            let _ = nix::sys::termios::tcsetattr(
                stdin.as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                &raw,
            );
            if let Ok((rows, cols)) = berth_sys::window_size(stdin.as_fd()) {
                let _ = berth_sys::set_window_size(master.as_fd(), rows, cols);
            }
        }
        Proxy { master, saved }
    }

    pub fn master(&self) -> BorrowedFd<'_> {
        self.master.as_fd()
    }

    /// Copies whatever is ready; returns false once the pty is done.
    pub fn pump(&self, stdin_ready: bool, master_ready: bool, stdin_open: &mut bool) -> bool {
        let mut buf = [0u8; 8192];
        if stdin_ready && *stdin_open {
            match nix::unistd::read(std::io::stdin().as_fd(), &mut buf) {
                Ok(0) | Err(_) => *stdin_open = false,
                Ok(n) => {
                    let _ = write_all(self.master.as_fd(), &buf[..n]);
                }
            }
        }
        if master_ready {
            match nix::unistd::read(self.master.as_fd(), &mut buf) {
                // EIO: every holder of the peer closed it.
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    let _ = write_all(std::io::stdout().as_fd(), &buf[..n]);
                }
            }
        }
        true
    }

    pub fn resize_from_stdin(&self) {
        if let Ok((rows, cols)) = berth_sys::window_size(std::io::stdin().as_fd()) {
            let _ = berth_sys::set_window_size(self.master.as_fd(), rows, cols);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(orig) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                orig,
            );
        }
    }
}

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

//! The typed messages between the runtime and the processes it forks
//! (intermediate, init, exec), over a `SOCK_SEQPACKET` socket pair: one
//! message per packet, JSON-encoded, so a short read can never split one.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Message {
    /// runtime → child: uid/gid maps are written and the cgroup joined; the
    /// OCI state (JSON) is for the hooks the child runs.
    Proceed { state: String },
    /// init → runtime: mounts are done, the root is not yet pivoted: time
    /// for the prestart and createRuntime hooks.
    MountsReady,
    /// runtime → init: those hooks ran.
    HooksDone,
    /// intermediate → runtime: the pid (in the runtime's pid namespace) of
    /// the process it forked into the container.
    Pid(i32),
    /// init → runtime: set up and waiting on the exec fifo; exec child →
    /// runtime: about to execve.
    Ready,
    /// any child → runtime: setup failed, with the reason in one line.
    Failed(String),
}

/// One end of the socket pair.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair: (runtime's end, child's end). Both close on exec.
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("create sync socket pair", e))?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Message) -> Result<()> {
        let bytes = serde_json::to_vec(msg).expect("messages always encode");
        send(self.fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL)
            .map_err(|e| Error::sys("send on sync socket", e))?;
        Ok(())
    }

    /// In a freshly forked child: closes the child's copy of this (the
    /// parent's) end, so that the parent's death reads as end-of-file on
    /// the child's end instead of leaving it waiting forever. The child
    /// leaves through `_exit` and never drops the `Channel`, so the
    /// descriptor is not closed twice.
    pub fn close_copy_in_child(&self) {
        let _ = nix::unistd::close(self.fd.as_raw_fd());
    }

    /// The next message; an error if the peer closed its end without one
    /// (it died).
    pub fn recv(&self) -> Result<Message> {
        self.recv_or_closed()?
            .ok_or_else(|| Error::Container("container process exited during setup".into()))
    }

    /// Waits until the peer's end closes without another message: the
    /// child exec'd (its end is close-on-exec), so its `/proc/<pid>` now
    /// shows the new program. A `Failed` message (execve failed) is the
    /// error.
    pub fn expect_exec(&self) -> Result<()> {
        match self.recv_or_closed()? {
            None => Ok(()),
            Some(Message::Failed(reason)) => Err(Error::Container(reason)),
            Some(other) => Err(Error::Container(format!(
                "expected the container process to exec, got {other:?}"
            ))),
        }
    }

    /// The next message, or `None` once the peer's end is closed.
    fn recv_or_closed(&self) -> Result<Option<Message>> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(0) => return Ok(None),
                Ok(n) => {
                    return serde_json::from_slice(&buf[..n])
                        .map(Some)
                        .map_err(|e| Error::sys("decode sync message", std::io::Error::other(e)))
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("receive on sync socket", e)),
            }
        }
    }

    /// Waits for `expected`; a `Failed` message becomes the error.
    pub fn expect(&self, what: &str, matches: impl Fn(&Message) -> bool) -> Result<Message> {
        match self.recv()? {
            Message::Failed(reason) => Err(Error::Container(reason)),
            m if matches(&m) => Ok(m),
            other => Err(Error::Container(format!(
                "expected {what} from the container process, got {other:?}"
            ))),
        }
    }
}

//! The blocking NETLINK_ROUTE socket: one request at a time, each with its
//! own sequence number; the replies to it are read until its ACK, its
//! `NLMSG_ERROR` or (for a dump) `NLMSG_DONE`.

use std::io;
use std::os::fd::BorrowedFd;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator, NLM_F_ACK,
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;

use super::{in_netns, Error, Result};

/// `NLM_F_CAPPED` on an `NLMSG_ERROR`: only the request's header follows the code.
const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS` on an `NLMSG_ERROR`: extended-ack attributes follow.
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`: the kernel's text for an error ("Unknown device type").
const NLMSGERR_ATTR_MSG: u16 = 1;
/// Size of `struct nlmsghdr`.
const NLMSG_HDRLEN: usize = 16;
/// A dump the kernel marks interrupted (the table changed under it) is
/// started again, this many times at most.
const DUMP_TRIES: usize = 10;

/// A blocking NETLINK_ROUTE socket, bound to the network namespace it was
/// opened in for its whole life.
#[derive(Debug)]
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

/// How one request failed, before the caller says what it was doing.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The kernel answered with an error code (and maybe a text).
    Kernel {
        errno: Errno,
        message: Option<String>,
    },
    /// The socket itself failed.
    Io(io::Error),
    /// A reply this code could not read.
    Protocol(String),
    /// A dump the kernel kept interrupting.
    Interrupted,
}

impl Fail {
    pub(crate) fn errno(&self) -> Option<Errno> {
        match self {
            Fail::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// The public error, naming what was being done.
    pub(crate) fn during(self, op: impl Into<String>) -> Error {
        let op = op.into();
        match self {
            Fail::Kernel { errno, message } => Error::Kernel { op, errno, message },
            Fail::Io(source) => Error::Io { op, source },
            Fail::Protocol(detail) => Error::Protocol { op, detail },
            Fail::Interrupted => Error::Protocol {
                op,
                detail: format!("the dump was interrupted {DUMP_TRIES} times in a row"),
            },
        }
    }
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail::Io(e)
    }
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        fn io(op: &'static str) -> impl FnOnce(io::Error) -> Error {
            move |source| Error::Io {
                op: op.to_owned(),
                source,
            }
        }
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(io("open a NETLINK_ROUTE socket"))?;
        socket
            .bind_auto()
            .map_err(io("bind the NETLINK_ROUTE socket"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(io("connect the NETLINK_ROUTE socket"))?;
        // Strict checking lets the kernel filter dumps (the qdiscs of one
        // link); extended acks bring the kernel's own error text; capped
        // acks do not echo whole requests back.
        socket
            .set_netlink_get_strict_chk(true)
            .map_err(io("set NETLINK_GET_STRICT_CHK"))?;
        socket
            .set_ext_ack(true)
            .map_err(io("set NETLINK_EXT_ACK"))?;
        socket
            .set_cap_ack(true)
            .map_err(io("set NETLINK_CAP_ACK"))?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// A socket in the network namespace `netns` (an open
    /// `/proc/PID/ns/net`): made on a short thread that entered `netns`; the
    /// socket stays bound there after the thread is gone.
    pub fn open_in(netns: BorrowedFd<'_>) -> Result<Netlink> {
        in_netns(netns, Netlink::open)?
    }

    /// Sends `msg` with `NLM_F_ACK` and `flags`; its replies until the ACK.
    pub(crate) fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> std::result::Result<Vec<RouteNetlinkMessage>, Fail> {
        self.exchange(msg, NLM_F_ACK | flags)
    }

    /// Sends `msg` with `NLM_F_ACK` and `flags`, expecting only the ACK.
    pub(crate) fn ack(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> std::result::Result<(), Fail> {
        self.exchange(msg, NLM_F_ACK | flags).map(drop)
    }

    /// Every object a dump request returns; started again when the kernel
    /// says a change interrupted the dump.
    pub(crate) fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
    ) -> std::result::Result<Vec<RouteNetlinkMessage>, Fail> {
        for _ in 0..DUMP_TRIES {
            match self.exchange(msg.clone(), NLM_F_DUMP) {
                Err(Fail::Interrupted) => continue,
                other => return other,
            }
        }
        Err(Fail::Interrupted)
    }

    fn exchange(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> std::result::Result<Vec<RouteNetlinkMessage>, Fail> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut packet = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(msg));
        packet.header.flags = NLM_F_REQUEST | flags;
        packet.header.sequence_number = seq;
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        let sent = self.socket.send(&buf, 0)?;
        if sent != buf.len() {
            return Err(Fail::Protocol(format!(
                "sent {sent} of {} bytes",
                buf.len()
            )));
        }

        let mut replies = Vec::new();
        let mut interrupted = false;
        loop {
            let datagram = self.recv()?;
            let mut offset = 0;
            while offset < datagram.len() {
                let rest = &datagram[offset..];
                let header = NetlinkBuffer::new_checked(rest)
                    .map_err(|e| Fail::Protocol(format!("a reply's header: {e}")))?;
                let len = header.length() as usize;
                let (reply_seq, reply_flags) = (header.sequence_number(), header.flags());
                if len < NLMSG_HDRLEN {
                    return Err(Fail::Protocol(format!("a reply of {len} bytes")));
                }
                offset += len.next_multiple_of(4);
                // Replies to an earlier request whose reading stopped at its
                // error: not ours.
                if reply_seq != seq {
                    continue;
                }
                if reply_flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rest[..len])
                    .map_err(|e| Fail::Protocol(format!("a reply: {e}")))?;
                match message.payload {
                    NetlinkPayload::InnerMessage(inner) => replies.push(inner),
                    NetlinkPayload::Error(e) => match e.code {
                        None => return Ok(replies),
                        Some(code) => {
                            return Err(Fail::Kernel {
                                errno: Errno::from_raw(code.get().abs()),
                                message: error_text(&e.header, reply_flags),
                            })
                        }
                    },
                    NetlinkPayload::Done(done) => {
                        if done.code != 0 {
                            return Err(Fail::Kernel {
                                errno: Errno::from_raw(done.code.abs()),
                                message: ext_ack_text(&done.extended_ack),
                            });
                        }
                        if interrupted {
                            return Err(Fail::Interrupted);
                        }
                        return Ok(replies);
                    }
                    NetlinkPayload::Overrun(_) => {
                        return Err(Fail::Protocol("the kernel reported an overrun".into()))
                    }
                    _ => {}
                }
            }
        }
    }

    /// One whole datagram, however large.
    fn recv(&mut self) -> std::result::Result<Vec<u8>, Fail> {
        loop {
            let mut probe: Vec<u8> = Vec::with_capacity(64);
            let len = match self
                .socket
                .recv(&mut probe, libc::MSG_PEEK | libc::MSG_TRUNC)
            {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            let mut buf: Vec<u8> = Vec::with_capacity(len.max(64));
            match self.socket.recv(&mut buf, 0) {
                Ok(_) => return Ok(buf),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The kernel's text in an `NLMSG_ERROR`'s payload (what follows the code):
/// the request's header (or the whole request when not capped), then the
/// extended-ack attributes.
fn error_text(payload: &[u8], flags: u16) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let skip = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        let len = u32::from_ne_bytes(payload.get(..4)?.try_into().ok()?) as usize;
        len.next_multiple_of(4)
    };
    ext_ack_text(payload.get(skip..)?)
}

fn ext_ack_text(attrs: &[u8]) -> Option<String> {
    NlasIterator::new(attrs)
        .filter_map(|nla| nla.ok())
        .find(|nla| nla.kind() == NLMSGERR_ATTR_MSG)
        .map(|nla| {
            let value = nla.value();
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            String::from_utf8_lossy(&value[..end]).into_owned()
        })
        .filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_ack_text_follows_the_capped_header() {
        // A capped NLMSG_ERROR payload: the request's 16-byte header, then
        // NLMSGERR_ATTR_MSG "Unknown device type\0", padded to 4 bytes.
        let mut payload = vec![0u8; NLMSG_HDRLEN];
        let text = b"Unknown device type\0";
        payload.extend(((4 + text.len()) as u16).to_ne_bytes());
        payload.extend(NLMSGERR_ATTR_MSG.to_ne_bytes());
        payload.extend(text);
        payload.resize(payload.len().next_multiple_of(4), 0);
        assert_eq!(
            error_text(&payload, NLM_F_CAPPED | NLM_F_ACK_TLVS).as_deref(),
            Some("Unknown device type")
        );
        assert_eq!(error_text(&payload, NLM_F_CAPPED), None);
    }
}

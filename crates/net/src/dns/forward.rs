//! Relaying a query, as raw bytes, to the upstream servers: over UDP or TCP
//! as the client asked (Docker's `forwardExtDNS`), each server in order,
//! within one overall deadline. Each server gets an even share of the time
//! left, so one dead server does not eat the next one's. SERVFAIL and
//! REFUSED move on to the next server (Docker); any other answer is the
//! answer. Sockets are made by the serving threads, so in the monitor's (the
//! host's) network namespace.
//!
//! - UDP: [`UdpForward`], a state machine the UDP loop drives with `poll`
//!   (no thread per query).
//! - TCP: [`over_tcp`], blocking, on the connection's own thread.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;

use super::message::{is_response_to, rcode};

/// Upstream answers that mean "ask the next one".
fn try_next_server(answer: &[u8]) -> bool {
    const SERVFAIL: u8 = 2;
    const REFUSED: u8 = 5;
    matches!(rcode(answer), Some(SERVFAIL | REFUSED))
}

/// The deadline for the next attempt: an even share of what is left before
/// `end` among the `left` servers still to ask. None when time is up.
fn attempt_deadline(now: Instant, end: Instant, left: usize) -> Option<Instant> {
    let remaining = end.checked_duration_since(now).filter(|d| !d.is_zero())?;
    Some(now + remaining / u32::try_from(left.max(1)).unwrap_or(u32::MAX))
}

/// What a [`UdpForward`] asks of the loop after a step.
#[derive(Debug)]
pub(crate) enum Step {
    /// Waiting for an answer on [`UdpForward::socket`] until
    /// [`UdpForward::deadline`].
    Wait,
    /// Send the first `n` bytes of the loop's buffer to the client.
    Answer(usize),
    /// Every server failed, refused or timed out: SERVFAIL.
    Failed,
}

/// One UDP query on its way through the upstreams.
#[derive(Debug)]
pub(crate) struct UdpForward {
    /// The current attempt's socket: fresh, connected to one server (a new
    /// random source port per attempt), non-blocking.
    socket: Option<UdpSocket>,
    /// The index of the server being asked.
    server: usize,
    attempt_end: Instant,
    end: Instant,
    id: u16,
    packet: Vec<u8>,
    /// Who asked.
    pub peer: SocketAddr,
    /// The parsed query, for the SERVFAIL.
    pub query: Box<Message>,
}

impl UdpForward {
    /// Starts forwarding `packet` (parsed as `query`, from `peer`): sends it
    /// to the first server that takes it.
    pub fn start(
        packet: Vec<u8>,
        query: Box<Message>,
        peer: SocketAddr,
        upstreams: &[SocketAddr],
        budget: Duration,
        now: Instant,
    ) -> (UdpForward, Step) {
        let mut forward = UdpForward {
            socket: None,
            server: 0,
            attempt_end: now,
            end: now + budget,
            id: query.metadata.id,
            packet,
            peer,
            query,
        };
        let step = forward.ask(upstreams, now);
        (forward, step)
    }

    /// The socket to poll while waiting.
    pub fn socket(&self) -> Option<&UdpSocket> {
        self.socket.as_ref()
    }

    /// When the current attempt gives up.
    pub fn deadline(&self) -> Instant {
        self.attempt_end
    }

    /// Asks `upstreams[self.server]`, or the next one that takes the query.
    fn ask(&mut self, upstreams: &[SocketAddr], now: Instant) -> Step {
        self.socket = None;
        while let Some(server) = upstreams.get(self.server) {
            let Some(attempt_end) = attempt_deadline(now, self.end, upstreams.len() - self.server)
            else {
                return Step::Failed;
            };
            match send(*server, &self.packet) {
                Ok(socket) => {
                    self.socket = Some(socket);
                    self.attempt_end = attempt_end;
                    return Step::Wait;
                }
                Err(e) => {
                    tracing::debug!(%server, error = %e, "upstream DNS server unreachable");
                    self.server += 1;
                }
            }
        }
        Step::Failed
    }

    /// The socket is readable: reads what came, into `buf`.
    pub fn on_readable(&mut self, buf: &mut [u8], upstreams: &[SocketAddr], now: Instant) -> Step {
        let Some(socket) = &self.socket else {
            return Step::Failed;
        };
        loop {
            match socket.recv(buf) {
                Ok(n) => {
                    let answer = &buf[..n];
                    if !is_response_to(answer, self.id) {
                        continue;
                    }
                    if !try_next_server(answer) {
                        return Step::Answer(n);
                    }
                    tracing::debug!(server = %upstreams[self.server], "upstream DNS server failed or refused");
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ECONNREFUSED (ICMP port unreachable) and the like.
                Err(e) => {
                    tracing::debug!(server = %upstreams[self.server], error = %e, "upstream DNS server did not answer");
                }
            }
            self.server += 1;
            return self.ask(upstreams, now);
        }
    }

    /// Time passed: the current attempt may have run out.
    pub fn on_tick(&mut self, upstreams: &[SocketAddr], now: Instant) -> Step {
        if now < self.attempt_end {
            return Step::Wait;
        }
        self.server += 1;
        self.ask(upstreams, now)
    }
}

/// A fresh non-blocking UDP socket connected to `server`, `packet` sent.
fn send(server: SocketAddr, packet: &[u8]) -> io::Result<UdpSocket> {
    let any: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(any)?;
    socket.set_nonblocking(true)?;
    socket.connect(server)?;
    socket.send(packet)?;
    Ok(socket)
}

/// Relays `query` (whose id is `id`) over TCP to `upstreams` in turn and
/// returns the first answer that is not SERVFAIL or REFUSED; None when
/// there is none within `budget`.
pub(crate) fn over_tcp(
    query: &[u8],
    id: u16,
    upstreams: &[SocketAddr],
    budget: Duration,
) -> Option<Vec<u8>> {
    let end = Instant::now() + budget;
    for (i, server) in upstreams.iter().enumerate() {
        let deadline = attempt_deadline(Instant::now(), end, upstreams.len() - i)?;
        match tcp_exchange(query, id, *server, deadline) {
            Ok(answer) if !try_next_server(&answer) => return Some(answer),
            Ok(_) => tracing::debug!(%server, "upstream DNS server failed or refused"),
            Err(e) => tracing::debug!(%server, error = %e, "upstream DNS server did not answer"),
        }
    }
    None
}

fn time_left(deadline: Instant) -> io::Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))
}

/// One TCP exchange: connect, send the length-prefixed query, read
/// length-prefixed messages until the answer to `id`.
fn tcp_exchange(
    query: &[u8],
    id: u16,
    server: SocketAddr,
    deadline: Instant,
) -> io::Result<Vec<u8>> {
    let len = u16::try_from(query.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut stream = TcpStream::connect_timeout(&server, time_left(deadline)?)?;
    stream.set_nodelay(true)?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.set_write_timeout(Some(time_left(deadline)?))?;
    stream.write_all(&framed)?;
    loop {
        let mut len = [0u8; 2];
        read_before(&mut stream, &mut len, deadline)?;
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        read_before(&mut stream, &mut answer, deadline)?;
        if is_response_to(&answer, id) {
            return Ok(answer);
        }
    }
}

/// `read_exact`, but never past `deadline` in all.
fn read_before(stream: &mut TcpStream, mut buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    while !buf.is_empty() {
        stream.set_read_timeout(Some(time_left(deadline)?))?;
        match stream.read(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_share_what_is_left_evenly() {
        let now = Instant::now();
        let end = now + Duration::from_secs(4);
        assert_eq!(
            attempt_deadline(now, end, 2),
            Some(now + Duration::from_secs(2))
        );
        assert_eq!(
            attempt_deadline(now, end, 1),
            Some(now + Duration::from_secs(4))
        );
        assert_eq!(attempt_deadline(end, end, 1), None);
        assert_eq!(attempt_deadline(end + Duration::from_secs(1), end, 3), None);
    }
}

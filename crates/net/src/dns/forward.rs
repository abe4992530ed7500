//! Relaying a query, as raw bytes, to the upstream servers: over UDP or TCP
//! as the client asked (Docker's `forwardExtDNS`), each server in order,
//! within one overall deadline. Sockets are made by the calling thread, so
//! in the monitor's (the host's) network namespace.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use super::message::{is_response_to, rcode, MAX_TCP_MESSAGE};

/// SERVFAIL and REFUSED from one upstream: try the next (Docker).
const SERVFAIL: u8 = 2;
const REFUSED: u8 = 5;

/// Relays `query` (whose id is `id`) to `upstreams` in order and returns
/// the first answer that is not SERVFAIL or REFUSED, or None when every
/// server failed, refused or timed out. The whole exchange takes at most
/// `budget`: each server gets an even share of what is left, so one dead
/// server does not eat the time of the next.
pub(crate) fn exchange(
    query: &[u8],
    id: u16,
    upstreams: &[SocketAddr],
    tcp: bool,
    budget: Duration,
) -> Option<Vec<u8>> {
    let end = Instant::now() + budget;
    for (i, server) in upstreams.iter().enumerate() {
        let left = end.checked_duration_since(Instant::now())?;
        let share = left / u32::try_from(upstreams.len() - i).unwrap_or(1);
        let deadline = Instant::now() + share;
        let answer = if tcp {
            over_tcp(query, id, *server, deadline)
        } else {
            over_udp(query, id, *server, deadline)
        };
        match answer {
            Ok(answer) if !matches!(rcode(&answer), Some(SERVFAIL | REFUSED)) => {
                return Some(answer)
            }
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

/// One UDP exchange on a fresh connected socket (a random source port per
/// query); anything that is not a response to this id is ignored.
fn over_udp(query: &[u8], id: u16, server: SocketAddr, deadline: Instant) -> io::Result<Vec<u8>> {
    let any: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(any)?;
    socket.connect(server)?;
    socket.send(query)?;
    // Upstreams may answer a query without EDNS with more than 512 bytes
    // (Docker reads up to 64 KiB for the same reason).
    let mut buf = vec![0u8; MAX_TCP_MESSAGE];
    loop {
        socket.set_read_timeout(Some(time_left(deadline)?))?;
        let n = socket.recv(&mut buf)?;
        if let Some(answer) = buf.get(..n).filter(|a| is_response_to(a, id)) {
            return Ok(answer.to_vec());
        }
    }
}

/// One TCP exchange: connect, send the length-prefixed query, read one
/// length-prefixed answer.
fn over_tcp(query: &[u8], id: u16, server: SocketAddr, deadline: Instant) -> io::Result<Vec<u8>> {
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

//! The sockets and threads of a [`Resolver`].
//!
//! - Binding: in the container's network namespace, from a short-lived
//!   thread that `setns`'d there (the socket keeps that namespace).
//! - `berth-dns-udp`: polls the UDP socket, a wake-up pipe and the sockets
//!   of the forwards in flight (at most [`MAX_FORWARDS`]); answers what is
//!   ours on the spot and drives each forward ([`UdpForward`]) without a
//!   thread of its own, so a slow upstream never holds up other queries and
//!   no thread (nor its malloc arena) is made per query.
//! - `berth-dns-tcp`: polls the listener and the pipe; one short-lived
//!   thread per connection (at most [`MAX_TCP_CONNECTIONS`]), which answers
//!   and forwards (over TCP) its queries in turn. TCP is the rare path
//!   (truncated answers, or clients that ask so).
//! - [`Resolver::stop`] closes the pipe's write end: both loops wake, close
//!   their sockets and exit, and are joined (forwards in flight are dropped
//!   unanswered); connection threads wake on the same pipe and end.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;

use super::forward::{Step, UdpForward};
use super::message::{error_reply, handle, Outcome, MAX_TCP_MESSAGE};
use super::{
    forward, Config, Error, Names, Result, FORWARD_TIMEOUT, MAX_FORWARDS, MAX_TCP_CONNECTIONS,
    MAX_UPSTREAMS,
};

/// Stack of every resolver thread: virtual size only (pages are touched as
/// used); parsing and answering one message needs a few KiB.
const STACK_SIZE: usize = 256 * 1024;

/// A TCP connection with no new query for this long is closed (miekg/dns'
/// idle timeout, which Docker's resolver runs with).
const TCP_IDLE: Duration = Duration::from_secs(8);

/// Reading the rest of a query, or writing an answer, over TCP.
const TCP_IO: Duration = Duration::from_secs(2);

/// A DNS resolver serving one container; see the [module](super) docs.
/// Dropping it stops it too.
pub struct Resolver {
    /// The write end of the wake-up pipe; closing it stops every loop.
    wake: Option<OwnedFd>,
    threads: Vec<JoinHandle<()>>,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
}

impl Resolver {
    /// The UDP address served (its port is the bound one when
    /// `Config::port` was 0).
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The TCP address served.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// Stops serving: the sockets in the container's namespace are closed
    /// and the two serving threads joined before this returns.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        drop(self.wake.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("udp_addr", &self.udp_addr)
            .field("tcp_addr", &self.tcp_addr)
            .finish_non_exhaustive()
    }
}

/// What every resolver thread shares.
struct Shared {
    names: Arc<dyn Names>,
    /// Empty when nothing is forwarded (`forward: false`, or no servers).
    upstreams: Vec<SocketAddr>,
    /// The read end of the wake-up pipe: readable (HUP) once stopping.
    stop: OwnedFd,
    tcp_connections: AtomicUsize,
}

/// One of at most [`MAX_TCP_CONNECTIONS`] connections; released on drop.
struct Slot(Arc<Shared>);

impl Slot {
    fn take(shared: &Arc<Shared>) -> Option<Slot> {
        shared
            .tcp_connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_TCP_CONNECTIONS).then_some(n + 1)
            })
            .ok()?;
        Some(Slot(Arc::clone(shared)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.tcp_connections.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(super) fn start(
    netns: Option<BorrowedFd<'_>>,
    config: Config,
    names: Arc<dyn Names>,
) -> Result<Resolver> {
    let (udp, tcp, udp_addr, tcp_addr) = match netns {
        None => bind(&config)?,
        Some(netns) => std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("berth-dns-bind".into())
                .stack_size(STACK_SIZE)
                .spawn_scoped(scope, || {
                    // This thread alone enters the container's namespace,
                    // and ends right after binding.
                    nix::sched::setns(netns, CloneFlags::CLONE_NEWNET).map_err(Error::Setns)?;
                    bind(&config)
                })
                .map_err(Error::Thread)?
                .join()
                .unwrap_or_else(|_| Err(Error::Thread(io::Error::other("bind thread panicked"))))
        })?,
    };
    let (stop, wake) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(Error::Pipe)?;
    let upstreams = if config.forward {
        config.upstreams.into_iter().take(MAX_UPSTREAMS).collect()
    } else {
        Vec::new()
    };
    let shared = Arc::new(Shared {
        names,
        upstreams,
        stop,
        tcp_connections: AtomicUsize::new(0),
    });
    let mut resolver = Resolver {
        wake: Some(wake),
        threads: Vec::with_capacity(2),
        udp_addr,
        tcp_addr,
    };
    let shared_udp = Arc::clone(&shared);
    resolver
        .threads
        .push(spawn("berth-dns-udp", move || udp_loop(&shared_udp, &udp)).map_err(Error::Thread)?);
    // On an error here, dropping `resolver` stops the UDP loop.
    resolver
        .threads
        .push(spawn("berth-dns-tcp", move || tcp_loop(&shared, &tcp)).map_err(Error::Thread)?);
    tracing::debug!(%udp_addr, %tcp_addr, "DNS resolver serving");
    Ok(resolver)
}

/// The two sockets and the addresses they got.
fn bind(config: &Config) -> Result<(UdpSocket, TcpListener, SocketAddr, SocketAddr)> {
    let addr = SocketAddr::new(config.listen, config.port);
    let bind_error = |proto| {
        move |source| Error::Bind {
            proto,
            addr,
            source,
        }
    };
    let udp = UdpSocket::bind(addr).map_err(bind_error("udp"))?;
    let tcp = TcpListener::bind(addr).map_err(bind_error("tcp"))?;
    // The loops poll first; never block in recv/accept past a spurious
    // wake-up.
    udp.set_nonblocking(true).map_err(bind_error("udp"))?;
    tcp.set_nonblocking(true).map_err(bind_error("tcp"))?;
    let udp_addr = udp.local_addr().map_err(bind_error("udp"))?;
    let tcp_addr = tcp.local_addr().map_err(bind_error("tcp"))?;
    Ok((udp, tcp, udp_addr, tcp_addr))
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .stack_size(STACK_SIZE)
        .spawn(f)
}

#[derive(PartialEq, Eq)]
enum Wait {
    Ready,
    Stop,
    TimedOut,
}

/// Waits until `fd` is readable, the resolver is stopping, or `timeout`
/// passes.
fn wait(fd: BorrowedFd<'_>, stop: &OwnedFd, timeout: Option<Duration>) -> Wait {
    let timeout = match timeout {
        None => PollTimeout::NONE,
        Some(t) => PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX),
    };
    loop {
        let mut fds = [
            PollFd::new(fd, PollFlags::POLLIN),
            PollFd::new(stop.as_fd(), PollFlags::POLLIN),
        ];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) => return Wait::TimedOut,
            Ok(_) => {
                if fds[1].any().unwrap_or(true) {
                    return Wait::Stop;
                }
                return Wait::Ready;
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "DNS resolver: poll failed");
                return Wait::Stop;
            }
        }
    }
}

/// The UDP side: client queries and the forwards in flight, all on this
/// one thread.
fn udp_loop(shared: &Shared, socket: &UdpSocket) {
    // One buffer for every datagram, ours or an upstream's (which may be
    // larger than 512 bytes even without EDNS: Docker reads 64 KiB too).
    let mut buf = vec![0u8; MAX_TCP_MESSAGE];
    let mut forwards: Vec<UdpForward> = Vec::new();
    loop {
        let now = Instant::now();
        // Wake for the earliest attempt to run out (rounded up: never a
        // busy loop on a sub-millisecond rest).
        let timeout = forwards
            .iter()
            .map(|f| f.deadline().saturating_duration_since(now) + Duration::from_millis(1))
            .min();
        let mut fds = Vec::with_capacity(2 + forwards.len());
        fds.push(PollFd::new(shared.stop.as_fd(), PollFlags::POLLIN));
        fds.push(PollFd::new(socket.as_fd(), PollFlags::POLLIN));
        for forward in &forwards {
            if let Some(upstream) = forward.socket() {
                fds.push(PollFd::new(upstream.as_fd(), PollFlags::POLLIN));
            }
        }
        let timeout = match timeout {
            None => PollTimeout::NONE,
            Some(t) => PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX),
        };
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "DNS resolver: poll failed");
                return;
            }
        }
        let ready: Vec<bool> = fds.iter().map(|fd| fd.any().unwrap_or(true)).collect();
        drop(fds);
        if ready[0] {
            return;
        }
        let now = Instant::now();
        // Upstream answers, then time-outs. The polled sockets are the
        // forwards', in order; walking backwards, swap_remove only moves
        // forwards already seen.
        let mut polled = ready[2..].iter();
        let readable: Vec<bool> = forwards
            .iter()
            .map(|f| f.socket().is_some() && *polled.next().unwrap_or(&false))
            .collect();
        for i in (0..forwards.len()).rev() {
            let step = if readable[i] {
                forwards[i].on_readable(&mut buf, &shared.upstreams, now)
            } else {
                forwards[i].on_tick(&shared.upstreams, now)
            };
            match step {
                Step::Wait => {}
                Step::Answer(n) => {
                    let forward = forwards.swap_remove(i);
                    let _ = socket.send_to(&buf[..n], forward.peer);
                }
                Step::Failed => {
                    let forward = forwards.swap_remove(i);
                    let servfail = error_reply(&forward.query, ResponseCode::ServFail);
                    let _ = socket.send_to(&servfail, forward.peer);
                }
            }
        }
        if ready[1] {
            receive(shared, socket, &mut buf, &mut forwards);
        }
    }
}

/// Datagrams read from clients in one round: a flood of queries must not
/// starve the forwards' answers and time-outs.
const RECEIVE_BATCH: usize = 64;

/// Reads the datagrams waiting on the client socket (at most
/// [`RECEIVE_BATCH`]; the rest on the next round).
fn receive(shared: &Shared, socket: &UdpSocket, buf: &mut [u8], forwards: &mut Vec<UdpForward>) {
    for _ in 0..RECEIVE_BATCH {
        let (n, peer) = match socket.recv_from(buf) {
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!(error = %e, "DNS resolver: UDP receive failed");
                return;
            }
        };
        let packet = &buf[..n];
        let query = match handle(packet, false, &*shared.names) {
            Outcome::Reply(answer) => {
                let _ = socket.send_to(&answer, peer);
                continue;
            }
            Outcome::Drop => continue,
            Outcome::Forward(query) => query,
        };
        if shared.upstreams.is_empty() {
            let _ = socket.send_to(&error_reply(&query, ResponseCode::ServFail), peer);
            continue;
        }
        if forwards.len() >= MAX_FORWARDS {
            // Docker's answer when its forwards are all taken.
            let _ = socket.send_to(&error_reply(&query, ResponseCode::Refused), peer);
            continue;
        }
        let (forward, step) = UdpForward::start(
            packet.to_vec(),
            query,
            peer,
            &shared.upstreams,
            FORWARD_TIMEOUT,
            Instant::now(),
        );
        match step {
            Step::Wait => forwards.push(forward),
            // Nothing was read yet: only Failed can come of a start.
            Step::Answer(_) | Step::Failed => {
                let _ = socket.send_to(&error_reply(&forward.query, ResponseCode::ServFail), peer);
            }
        }
    }
}

fn tcp_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    while wait(listener.as_fd(), &shared.stop, None) == Wait::Ready {
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    let Some(slot) = Slot::take(shared) else {
                        // Too many: closed at once.
                        continue;
                    };
                    let spawned = spawn("berth-dns-conn", move || {
                        serve_connection(&slot.0, stream);
                        drop(slot);
                    });
                    if let Err(e) = spawned {
                        tracing::warn!(error = %e, "DNS resolver: cannot start a TCP thread");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // EMFILE and the like: the listener stays readable, so
                    // back off rather than spin.
                    tracing::warn!(error = %e, "DNS resolver: TCP accept failed");
                    if wait(
                        listener.as_fd(),
                        &shared.stop,
                        Some(Duration::from_millis(200)),
                    ) == Wait::Stop
                    {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

/// Queries one after another on one connection, until the client closes
/// it, goes idle, sends garbage, or the resolver stops.
fn serve_connection(shared: &Shared, mut stream: TcpStream) {
    if stream.set_read_timeout(Some(TCP_IO)).is_err()
        || stream.set_write_timeout(Some(TCP_IO)).is_err()
    {
        return;
    }
    let _ = stream.set_nodelay(true);
    loop {
        if wait(stream.as_fd(), &shared.stop, Some(TCP_IDLE)) != Wait::Ready {
            return;
        }
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).is_err() {
            return;
        }
        let mut packet = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut packet).is_err() {
            return;
        }
        let answer = match handle(&packet, true, &*shared.names) {
            Outcome::Reply(answer) => answer,
            Outcome::Drop => return,
            Outcome::Forward(query) => {
                if shared.upstreams.is_empty() {
                    error_reply(&query, ResponseCode::ServFail)
                } else {
                    forward::over_tcp(
                        &packet,
                        query.metadata.id,
                        &shared.upstreams,
                        FORWARD_TIMEOUT,
                    )
                    .unwrap_or_else(|| error_reply(&query, ResponseCode::ServFail))
                }
            }
        };
        let Ok(len) = u16::try_from(answer.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(answer.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&answer);
        if stream.write_all(&framed).is_err() {
            return;
        }
    }
}

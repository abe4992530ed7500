//! The attached CLI: `run` in the foreground, `start -a`, `attach`. Talks
//! to the container's monitor over its attach socket: our stdin goes to
//! the container (the detach keys, ctrl-p ctrl-q by default, end the
//! session and leave it running), its output to our stdout/stderr, our
//! terminal size at the start and on SIGWINCH; with a terminal our own is
//! in raw mode until we return (also on errors). Without a terminal the
//! signals we get go to the container (`--sig-proxy`, as Docker; the
//! signals and their forwarding are `sigproxy`'s).

mod sigproxy;

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Result};
use berth_engine::attach::Frame;
use berth_engine::ops::checkpoint::NamedCheckpoint;
use berth_engine::ops::exec_session::terminal_size;
use berth_engine::{Container, Engine};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::termios::{self, SetArg, Termios};

use crate::args::{AttachArgs, StartArgs, DEFAULT_DETACH_KEYS};
use crate::output::ExitWith;

pub struct Options {
    /// Send our stdin to the container.
    pub stdin: bool,
    /// The container has a terminal.
    pub tty: bool,
    pub detach_keys: Vec<u8>,
    pub sig_proxy: bool,
}

/// How a session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    /// The user typed the detach keys.
    Detached,
    /// The monitor closed the socket without an exit code.
    Closed,
}

/// Docker's `--detach-keys` syntax: comma-separated `a`-`Z` letters or
/// `ctrl-<a-z @ [ \ ] ^ _>`.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>> {
    let bad = || anyhow!("Invalid detach keys ({s}) provided");
    let mut keys = Vec::new();
    for part in s.split(',') {
        let key = match part.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => match c.as_bytes()[0] {
                b @ b'a'..=b'z' => b - b'a' + 1,
                b'@' => 0,
                b'[' => 27,
                b'\\' => 28,
                b']' => 29,
                b'^' => 30,
                b'_' => 31,
                _ => return Err(bad()),
            },
            Some(_) => return Err(bad()),
            None if part.len() == 1 && part.as_bytes()[0].is_ascii_alphabetic() => {
                part.as_bytes()[0]
            }
            None => return Err(bad()),
        };
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(bad());
    }
    Ok(keys)
}

/// Watches a byte stream for the detach sequence; bytes that begin it are
/// held back until the sequence completes or breaks.
struct DetachMatcher {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachMatcher {
    /// The bytes to pass on, and whether the sequence was completed (what
    /// follows it is dropped).
    fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

/// Our terminal in raw mode; restored on drop.
pub struct RawTerminal {
    saved: Termios,
}

impl RawTerminal {
    /// Raw mode for stdin, if it is a terminal.
    pub fn enable() -> Option<RawTerminal> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &self.saved);
    }
}

pub fn stdin_is_terminal() -> bool {
    nix::unistd::isatty(io::stdin().as_fd()).unwrap_or(false)
}

/// Docker refuses a terminal session fed from a pipe.
pub fn check_tty_input(tty: bool, stdin: bool) -> Result<()> {
    if tty && stdin && !stdin_is_terminal() {
        bail!("the input device is not a TTY");
    }
    Ok(())
}

fn send(stream: &Mutex<UnixStream>, frame: &Frame) -> io::Result<()> {
    let mut s = stream.lock().unwrap_or_else(|p| p.into_inner());
    frame.write_to(&mut *s)
}

/// Runs a session until the container exits, the user detaches or the
/// monitor goes away. `root`/`id` name the container for `--sig-proxy`.
pub fn session(stream: UnixStream, root: &Path, id: &str, o: Options) -> Result<End> {
    // Block the signals we handle before any thread exists, so that every
    // thread inherits the mask: SIGWINCH for a terminal (a signalfd),
    // else, with `--sig-proxy`, the ones the container gets (`sigproxy`).
    let mut signals = SigSet::empty();
    let proxy = match (o.tty, o.sig_proxy) {
        (true, _) => {
            signals.add(Signal::SIGWINCH);
            None
        }
        (false, true) => Some(sigproxy::SignalProxy::block()?),
        (false, false) => None,
    };
    signals.thread_block()?;
    let signal_fd = SignalFd::new(&signals)?;
    if let Some(p) = proxy {
        p.forward(root.to_owned(), id.to_owned());
    }

    let raw = if o.tty && o.stdin {
        RawTerminal::enable()
    } else {
        None
    };
    let writer = Arc::new(Mutex::new(stream.try_clone()?));
    if o.tty {
        if let Some((rows, cols)) = terminal_size() {
            let _ = send(&writer, &Frame::Resize { rows, cols });
        }
    }
    if o.tty {
        spawn_resize_thread(signal_fd, writer.clone());
    }

    let detached = Arc::new(AtomicBool::new(false));
    if o.stdin {
        let writer = writer.clone();
        let detached = detached.clone();
        let mut matcher = DetachMatcher {
            keys: o.detach_keys.clone(),
            matched: 0,
        };
        let shutdown = stream.try_clone()?;
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut stdin = io::stdin().lock();
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = send(&writer, &Frame::CloseStdin);
                        return;
                    }
                    Ok(n) => n,
                };
                let (pass, detach) = matcher.feed(&buf[..n]);
                if !pass.is_empty() && send(&writer, &Frame::Stdin(pass)).is_err() {
                    return;
                }
                if detach {
                    detached.store(true, Ordering::SeqCst);
                    let _ = shutdown.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
        });
    }

    let end = pump_output(stream, &detached);
    drop(raw);
    end
}

/// Copies the monitor's output frames to our stdout/stderr until the exit
/// frame or the end of the stream.
fn pump_output(stream: UnixStream, detached: &AtomicBool) -> Result<End> {
    let mut r = io::BufReader::new(stream);
    let mut out = io::stdout();
    let mut err = io::stderr();
    loop {
        let frame = match Frame::read_from(&mut r) {
            Ok(f) => f,
            Err(_) if detached.load(Ordering::SeqCst) => None,
            Err(e) => return Err(e.into()),
        };
        match frame {
            Some(Frame::Stdout(b)) => {
                out.write_all(&b)?;
                out.flush()?;
            }
            Some(Frame::Stderr(b)) => {
                err.write_all(&b)?;
            }
            Some(Frame::Exit(code)) => return Ok(End::Exited(code)),
            Some(_) => {}
            None if detached.load(Ordering::SeqCst) => return Ok(End::Detached),
            None => return Ok(End::Closed),
        }
    }
}

/// Sends our size on each SIGWINCH.
fn spawn_resize_thread(fd: SignalFd, writer: Arc<Mutex<UnixStream>>) {
    std::thread::spawn(move || {
        for _ in fd {
            if let Some((rows, cols)) = terminal_size() {
                let _ = send(&writer, &Frame::Resize { rows, cols });
            }
        }
    });
}

/// The exit code once a session ended: the monitor's, or the recorded one
/// when the monitor went away without saying.
fn exit_of(root: &Path, id: &str, end: End) -> Result<()> {
    match end {
        End::Detached => Ok(()),
        End::Exited(code) => Err(ExitWith((code & 0xff) as u8).into()),
        End::Closed => match Engine::open(root)?.exit_code_after_session(id)? {
            Some(code) => Err(ExitWith((code & 0xff) as u8).into()),
            None => Ok(()),
        },
    }
}

/// Foreground `run`: started attached; the exit code is the container's,
/// reported by its monitor once it is done (removed with `--rm`).
pub fn run_foreground(
    root: &Path,
    engine: &mut Engine,
    c: &Container,
    detach_keys: &str,
    sig_proxy: bool,
) -> Result<()> {
    let cfg = &c.config.stdio;
    let detach_keys = parse_detach_keys(detach_keys)?;
    check_tty_input(cfg.tty, cfg.open_stdin)?;
    let mut started = engine
        .start_attached(&c.id)?
        .ok_or_else(|| anyhow!("container {} was started by someone else", c.id))?;
    let stream = started.attach.take().expect("started attached");
    let opts = Options {
        stdin: cfg.open_stdin,
        tty: cfg.tty,
        detach_keys,
        sig_proxy,
    };
    let end = session(stream, root, &c.id, opts)?;
    if end == End::Detached {
        return Ok(());
    }
    // The monitor reports the exit after the log is complete and, with
    // --rm, the container removed.
    if let Some(code) = started.exit_code() {
        return Err(ExitWith((code & 0xff) as u8).into());
    }
    exit_of(root, &c.id, end)
}

/// `start [-a] [-i] [--checkpoint NAME [--checkpoint-dir D]] C...`: with
/// a checkpoint the container is restored from it instead of started, and
/// the session gets the restored output.
pub fn start(root: &Path, a: StartArgs) -> Result<()> {
    if a.containers.containers.len() > 1 {
        bail!("you cannot start and attach multiple containers at once");
    }
    let mut engine = Engine::open(root)?;
    let c = engine.find(&a.containers.containers[0])?;
    let cfg = &c.config.stdio;
    let stdin = a.interactive && cfg.open_stdin;
    let detach_keys = parse_detach_keys(a.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS))?;
    check_tty_input(cfg.tty, stdin)?;
    let started = match a.checkpoint.as_deref() {
        // (A restore onto a running container is refused, not attached.)
        Some(name) => {
            let at = NamedCheckpoint {
                name,
                dir: a.checkpoint_dir.as_deref(),
            };
            engine.start_from_checkpoint_attached(&c.id, &at)?
        }
        None => engine.start_attached(&c.id)?,
    };
    let Some(started) = started else {
        // Already running: Docker attaches to it.
        let stream = engine.connect_attach(&c)?;
        let opts = Options {
            stdin,
            tty: cfg.tty,
            detach_keys,
            sig_proxy: true,
        };
        let end = session(stream, root, &c.id, opts)?;
        return exit_of(root, &c.id, end);
    };
    let stream = started.attach.expect("started attached");
    let opts = Options {
        stdin,
        tty: cfg.tty,
        detach_keys,
        sig_proxy: true,
    };
    let end = session(stream, root, &c.id, opts)?;
    exit_of(root, &c.id, end)
}

/// `attach [--detach-keys K] [--no-stdin] [--sig-proxy] C`.
pub fn attach_cmd(root: &Path, a: AttachArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let c = engine.attachable(&a.container)?;
    let cfg = &c.config.stdio;
    let stdin = !a.no_stdin && cfg.open_stdin;
    let detach_keys = parse_detach_keys(a.detach_keys.as_deref().unwrap_or(DEFAULT_DETACH_KEYS))?;
    check_tty_input(cfg.tty, stdin)?;
    let stream = engine.connect_attach(&c)?;
    let opts = Options {
        stdin,
        tty: cfg.tty,
        detach_keys,
        sig_proxy: a.sig_proxy,
    };
    let end = session(stream, root, &c.id, opts)?;
    exit_of(root, &c.id, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_as_docker() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(
            parse_detach_keys("a,ctrl-@,ctrl-\\,ctrl-_").unwrap(),
            vec![b'a', 0, 28, 31]
        );
        for bad in ["", "ctrl-", "ctrl-pp", "1", "ab", "ctrl-1"] {
            assert!(parse_detach_keys(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn detach_sequence_is_held_back_until_it_breaks() {
        let mut m = DetachMatcher {
            keys: vec![16, 17],
            matched: 0,
        };
        assert_eq!(m.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(m.feed(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(m.feed(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(m.feed(b"\x11rest"), (Vec::new(), true));
        let mut none = DetachMatcher {
            keys: Vec::new(),
            matched: 0,
        };
        assert_eq!(none.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}

//! The container's stdio inside its monitor: the PTY master (received from
//! the runtime on a console socket) or the stdin/stdout/stderr pipes, the
//! attach clients, and what goes to the log.
//!
//! A [`Hub`] lives as long as the monitor: it serves `attach.sock`
//! ([`crate::attach`]) and passes stdin and window sizes from clients to
//! the container. Each launch of the container ([`Hub::prepare`]) makes a
//! [`Launch`]: the runtime's `create` gets the pipes or a console socket;
//! once it succeeded, [`Launch::started`] starts the launch's one pump
//! thread, which accepts attach clients and sends every chunk of output to
//! them and, cut into entries, to the log writer it owns. [`Hub::drain`]
//! waits until the output ended (the log is complete) and [`Hub::finish`]
//! tells the clients the exit code. It does not own the lifecycle or the
//! exit code. The socket file outlives the monitor (connecting is then
//! refused) until the next start binds a new one.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::attach::{self, BoundSocket, Frame};
use crate::error::{Error, Result};
use crate::logfile::LogWriter;
use crate::model::StdioConfig;

/// Name of the console socket the runtime connects to in the container
/// directory (removed once the master arrived).
const CONSOLE_SOCKET: &str = "console.sock";

/// Output chunks a slow client may have queued before the container's
/// output waits for it (as Docker's attach streams do).
const CLIENT_QUEUE: usize = 64;

/// An attached client: its id and the queue of encoded frames its writer
/// thread sends.
type Client = (u64, SyncSender<Arc<Vec<u8>>>);

enum Input {
    None,
    Pipe(io::PipeWriter),
    Terminal(Arc<File>),
}

pub struct Hub {
    config: StdioConfig,
    clients: Mutex<Vec<Client>>,
    next_client: std::sync::atomic::AtomicU64,
    input: Mutex<Input>,
    terminal: Mutex<Terminal>,
    listener: UnixListener,
    /// The current launch's pump thread, and the pipe whose closing tells
    /// it the container exited.
    pump: Mutex<Option<(JoinHandle<()>, io::PipeWriter)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    /// Serves `dir/attach.sock`: on the listening socket the monitor got as
    /// its stdin (bound by [`crate::Engine`] before it started the monitor,
    /// so a client may connect before the container starts), else on a
    /// new one.
    pub fn serve(config: &StdioConfig, dir: &Path) -> Result<Arc<Hub>> {
        let listener = match inherited_listener() {
            Some(l) => l,
            None => BoundSocket::bind(dir, attach::SOCKET)?.listener,
        };
        // The listener must not become some child's stdin.
        if let Ok(null) = File::open("/dev/null") {
            let _ = nix::unistd::dup2_stdin(null.as_fd());
        }
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("set non-blocking", dir.join(attach::SOCKET), e))?;
        Ok(Arc::new(Hub {
            config: config.clone(),
            clients: Mutex::new(Vec::new()),
            next_client: Default::default(),
            input: Mutex::new(Input::None),
            terminal: Mutex::new(Terminal::default()),
            listener,
            pump: Mutex::new(None),
        }))
    }

    fn add_client(self: &Arc<Self>, stream: UnixStream) {
        if stream.set_nonblocking(false).is_err() {
            return;
        }
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let (tx, rx) = sync_channel::<Arc<Vec<u8>>>(CLIENT_QUEUE);
        let id = self
            .next_client
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.clients).push((id, tx));
        std::thread::spawn(move || {
            for frame in rx {
                if writer.write_all(&frame).is_err() {
                    break;
                }
            }
        });
        let hub = self.clone();
        std::thread::spawn(move || {
            let mut r = io::BufReader::new(stream);
            while let Ok(Some(frame)) = Frame::read_from(&mut r) {
                hub.handle(frame);
            }
        });
    }

    fn handle(&self, frame: Frame) {
        match frame {
            Frame::Stdin(bytes) if self.config.open_stdin => {
                // Clone out of the lock: a write may block on a container
                // that does not read, and must not stop other clients.
                let sink = match &*lock(&self.input) {
                    Input::Pipe(w) => w.try_clone().ok().map(Sink::Pipe),
                    Input::Terminal(t) => Some(Sink::Terminal(t.clone())),
                    Input::None => None,
                };
                match sink {
                    Some(Sink::Pipe(mut w)) => {
                        let _ = w.write_all(&bytes);
                    }
                    Some(Sink::Terminal(t)) => {
                        let _ = (&*t).write_all(&bytes);
                    }
                    None => {}
                }
            }
            Frame::CloseStdin if self.config.stdin_once => {
                let mut input = lock(&self.input);
                if matches!(*input, Input::Pipe(_)) {
                    *input = Input::None;
                }
            }
            Frame::Resize { rows, cols } => {
                lock(&self.terminal).resize(rows, cols);
            }
            _ => {}
        }
    }

    /// Sends a frame to every client, waiting for slow ones; drops the
    /// clients that went away.
    fn broadcast(&self, frame: &Frame) {
        let bytes = Arc::new(frame.encode());
        let clients: Vec<_> = lock(&self.clients).clone();
        let gone: Vec<u64> = clients
            .iter()
            .filter(|(_, c)| c.send(bytes.clone()).is_err())
            .map(|(id, _)| *id)
            .collect();
        if !gone.is_empty() {
            lock(&self.clients).retain(|(id, _)| !gone.contains(id));
        }
    }

    /// The stdio for one launch of the container.
    pub fn prepare(self: &Arc<Self>, dir: &Path) -> Result<Launch> {
        let pipe = || io::pipe().map_err(|e| Error::io("create", "a pipe", e));
        let stdin = if self.config.open_stdin && !self.config.tty {
            Some(pipe()?)
        } else {
            None
        };
        let console = if self.config.tty {
            Some(BoundSocket::bind(dir, CONSOLE_SOCKET)?)
        } else {
            None
        };
        Ok(Launch {
            hub: self.clone(),
            dir: dir.to_owned(),
            stdin,
            out: Some(pipe()?),
            err: Some(pipe()?),
            console,
        })
    }

    /// After the container exited: waits until its output ended and
    /// reached the log and every client (the pump thread is gone then).
    pub fn drain(&self) {
        let pump = lock(&self.pump).take();
        if let Some((thread, stop)) = pump {
            drop(stop);
            let _ = thread.join();
        }
    }

    /// After [`Hub::drain`] (done here if not yet): sends the clients the
    /// exit code and lets them go.
    pub fn finish(&self, code: i32) {
        self.drain();
        *lock(&self.input) = Input::None;
        lock(&self.terminal).master = None;
        self.broadcast(&Frame::Exit(code));
        lock(&self.clients).clear();
    }
}

/// The current launch's PTY master and the last size a client asked for
/// (a client attached before the start sends its size before the
/// terminal exists).
#[derive(Default)]
struct Terminal {
    master: Option<Arc<File>>,
    size: Option<(u16, u16)>,
}

impl Terminal {
    fn resize(&mut self, rows: u16, cols: u16) {
        self.size = Some((rows, cols));
        if let Some(m) = &self.master {
            let _ = berth_sys::set_window_size(m.as_fd(), rows, cols);
        }
    }
}

enum Sink {
    Pipe(io::PipeWriter),
    Terminal(Arc<File>),
}

/// The listening unix socket on our stdin, if that is what it is.
fn inherited_listener() -> Option<UnixListener> {
    use nix::sys::socket::{getsockopt, sockopt};
    let fd: OwnedFd = io::stdin().as_fd().try_clone_to_owned().ok()?;
    match getsockopt(&fd, sockopt::AcceptConn) {
        Ok(true) => Some(UnixListener::from(fd)),
        _ => None,
    }
}

/// One launch's stdio, between `create` and the output threads.
pub struct Launch {
    hub: Arc<Hub>,
    dir: PathBuf,
    stdin: Option<(io::PipeReader, io::PipeWriter)>,
    out: Option<(io::PipeReader, io::PipeWriter)>,
    err: Option<(io::PipeReader, io::PipeWriter)>,
    console: Option<BoundSocket>,
}

impl Launch {
    /// The `--console-socket` for the runtime, with `-t`.
    pub fn console_socket(&self) -> Option<String> {
        self.console.as_ref().map(BoundSocket::proc_path)
    }

    /// Gives `create` its stdio: the container's pipes (or, with `-t`,
    /// none: its stdio is the terminal), and the stderr pipe, where the
    /// runtime reports its own errors, in every case.
    pub fn configure(&mut self, cmd: &mut Command) {
        match self.stdin.as_mut().map(|(r, _)| r.try_clone()) {
            Some(Ok(r)) => cmd.stdin(r),
            _ => cmd.stdin(Stdio::null()),
        };
        match self.out.as_ref().map(|(_, w)| w.try_clone()) {
            Some(Ok(w)) if self.console.is_none() => cmd.stdout(w),
            _ => cmd.stdout(Stdio::null()),
        };
        if let Some(Ok(w)) = self.err.as_ref().map(|(_, w)| w.try_clone()) {
            cmd.stderr(w);
        }
    }

    /// What the failed `create` wrote on the stderr pipe (without waiting
    /// for writers that may still hold it).
    pub fn failure_output(mut self) -> String {
        let Some((r, w)) = self.err.take() else {
            return String::new();
        };
        drop(w);
        super::read_available(r)
    }

    /// After a successful `create`: takes the terminal (with `-t`) and
    /// starts the pump thread, which writes the output to `log`.
    pub fn started(mut self, log: LogWriter) -> Result<()> {
        let hub = self.hub.clone();
        let (out_r, out_w) = self.out.take().expect("prepared");
        let (err_r, err_w) = self.err.take().expect("prepared");
        // Only the container (and the runtime) may hold the write ends now.
        drop((out_w, err_w));
        if let Some((r, w)) = self.stdin.take() {
            drop(r);
            *lock(&hub.input) = Input::Pipe(w);
        }
        let stdout = match self.console.take() {
            Some(console) => {
                drop(out_r);
                let master = Arc::new(receive_terminal(&console, &self.dir)?);
                let mut terminal = lock(&hub.terminal);
                terminal.master = Some(master.clone());
                if let Some((rows, cols)) = terminal.size.or(hub.config.console_size) {
                    terminal.resize(rows, cols);
                }
                drop(terminal);
                if hub.config.open_stdin {
                    *lock(&hub.input) = Input::Terminal(master.clone());
                }
                let reader = master
                    .try_clone()
                    .map_err(|e| Error::io("duplicate", "the terminal", e))?;
                Source::new(reader)
            }
            None => Source::new(out_r),
        };
        let outputs = vec![
            Output::new(stdout, false),
            Output::new(Source::new(err_r), true),
        ];
        let (stop_r, stop_w) = io::pipe().map_err(|e| Error::io("create", "a pipe", e))?;
        let h = hub.clone();
        let thread = std::thread::spawn(move || pump(&h, outputs, stop_r, log));
        *lock(&hub.pump) = Some((thread, stop_w));
        Ok(())
    }
}

impl Drop for Launch {
    fn drop(&mut self) {
        if self.console.is_some() {
            let _ = std::fs::remove_file(self.dir.join(CONSOLE_SOCKET));
        }
    }
}

/// The PTY master the runtime sent during `create` (which has returned, so
/// the connection and the message are already queued: nothing blocks).
fn receive_terminal(console: &BoundSocket, dir: &Path) -> Result<File> {
    let path = dir.join(CONSOLE_SOCKET);
    let no_terminal = |why: &str| Error::Monitor {
        id: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        message: format!("the runtime sent no terminal: {why}"),
    };
    console
        .listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("set non-blocking", &path, e))?;
    let (stream, _) = console
        .listener
        .accept()
        .map_err(|e| no_terminal(&format!("no connection ({e})")))?;
    stream
        .set_nonblocking(true)
        .map_err(|e| Error::io("set non-blocking", &path, e))?;
    let fd = berth_sys::recv_fd(stream.as_fd())
        .map_err(|e| no_terminal(&e.to_string()))?
        .ok_or_else(|| no_terminal("the message carried no descriptor"))?;
    let _ = std::fs::remove_file(&path);
    Ok(File::from(fd))
}

/// A container output stream: a pipe, or the PTY master (a descriptor of
/// its own), where EIO means every slave end closed (the container and all
/// its processes are gone): the end of the stream. Its buffer is allocated
/// at the first output, so a container that prints nothing costs none.
struct Source {
    file: File,
    buf: Vec<u8>,
}

const OUTPUT_BUFFER: usize = 32 * 1024;

impl Source {
    fn new(fd: impl Into<OwnedFd>) -> Source {
        Source {
            file: File::from(fd.into()),
            buf: Vec::new(),
        }
    }

    /// The next chunk, empty at the end of the stream.
    fn next_chunk(&mut self) -> &[u8] {
        if self.buf.is_empty() {
            self.buf = vec![0; OUTPUT_BUFFER];
        }
        loop {
            match self.file.read(&mut self.buf) {
                Ok(n) => return &self.buf[..n],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return &[],
            }
        }
    }

    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Docker splits long lines into 16 KiB log entries.
const MAX_ENTRY: usize = 16 * 1024;

/// Cuts a stream into log entries as Docker does: each line with its
/// `\n`, a longer line in 16 KiB pieces, and at the end of the stream what
/// is left of an unterminated line.
#[derive(Default)]
struct Entries {
    pending: Vec<u8>,
}

impl Entries {
    fn push(&mut self, mut data: &[u8], mut entry: impl FnMut(&[u8])) {
        while !data.is_empty() {
            let take = data.len().min(MAX_ENTRY - self.pending.len());
            let newline = data[..take].iter().position(|&b| b == b'\n');
            let used = newline.map_or(take, |i| i + 1);
            if newline.is_some() && self.pending.is_empty() {
                entry(&data[..used]);
            } else {
                self.pending.extend_from_slice(&data[..used]);
                if newline.is_some() || self.pending.len() == MAX_ENTRY {
                    entry(&self.pending);
                    self.pending.clear();
                }
            }
            data = &data[used..];
        }
    }

    fn finish(&mut self, entry: impl FnOnce(&[u8])) {
        if !self.pending.is_empty() {
            entry(&self.pending);
        }
        self.pending = Vec::new();
    }
}

/// One output stream of a launch.
struct Output {
    source: Source,
    stderr: bool,
    entries: Entries,
}

impl Output {
    fn new(source: Source, stderr: bool) -> Output {
        Output {
            source,
            stderr,
            entries: Entries::default(),
        }
    }

    fn stream(&self) -> &'static str {
        if self.stderr {
            "stderr"
        } else {
            "stdout"
        }
    }

    /// Copies what one read gives to the log and the clients; false at
    /// the end of the stream (the rest of a line then goes to the log). A
    /// log that cannot be written loses the entry (the clients still get
    /// it).
    fn copy_once(&mut self, hub: &Hub, log: &mut LogWriter) -> bool {
        let stream = self.stream();
        let chunk = self.source.next_chunk();
        if chunk.is_empty() {
            self.entries.finish(|e| {
                let _ = log.write(stream, e);
            });
            return false;
        }
        let chunk = chunk.to_vec();
        self.entries.push(&chunk, |e| {
            let _ = log.write(stream, e);
        });
        hub.broadcast(&if self.stderr {
            Frame::Stderr(chunk)
        } else {
            Frame::Stdout(chunk)
        });
        true
    }
}

/// One thread per launch (an idle monitor's memory is mostly its threads):
/// accepts attach clients while the container runs (until `stop` closes)
/// and copies the container's output streams to the clients and the log
/// until they ended.
fn pump(hub: &Arc<Hub>, mut outputs: Vec<Output>, stop: io::PipeReader, mut log: LogWriter) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut stopped = false;
    while !(stopped && outputs.is_empty()) {
        let (accept, stop_now, ready) = {
            let mut fds = vec![PollFd::new(hub.listener.as_fd(), PollFlags::POLLIN)];
            if !stopped {
                fds.push(PollFd::new(stop.as_fd(), PollFlags::POLLIN));
            }
            let first_output = fds.len();
            fds.extend(
                outputs
                    .iter()
                    .map(|o| PollFd::new(o.source.fd(), PollFlags::POLLIN)),
            );
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            }
            let fired = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            let ready: Vec<bool> = fds[first_output..].iter().map(fired).collect();
            (fired(&fds[0]), !stopped && fired(&fds[1]), ready)
        };
        stopped |= stop_now;
        if accept {
            while let Ok((stream, _)) = hub.listener.accept() {
                hub.add_client(stream);
            }
        }
        let mut i = 0;
        outputs.retain_mut(|o| {
            let keep = !ready[i] || o.copy_once(hub, &mut log);
            i += 1;
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut e = Entries::default();
        let mut out = Vec::new();
        for c in chunks {
            e.push(c, |x| out.push(x.to_vec()));
        }
        e.finish(|x| out.push(x.to_vec()));
        out
    }

    #[test]
    fn output_is_cut_into_docker_entries() {
        assert_eq!(
            entries(&[b"a\nb", b"c\n\nd"]),
            [&b"a\n"[..], b"bc\n", b"\n", b"d"]
        );
        assert_eq!(entries(&[b""]), Vec::<Vec<u8>>::new());
        // A long line: 16 KiB pieces, the rest with its newline.
        let long = vec![b'x'; MAX_ENTRY * 2 + 3];
        let mut line = long.clone();
        line.push(b'\n');
        let got = entries(&[&line[..5000], &line[5000..], b"tail"]);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].len(), MAX_ENTRY);
        assert_eq!(got[1].len(), MAX_ENTRY);
        assert_eq!(got[2], b"xxx\n");
        assert_eq!(got[3], b"tail");
        // Exactly 16 KiB then a newline: the newline is an entry of its own,
        // as Docker's reader gives it.
        let mut exact = vec![b'y'; MAX_ENTRY];
        exact.push(b'\n');
        let got = entries(&[&exact]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], b"\n");
    }
}

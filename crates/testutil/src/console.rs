//! The receiving end of `--console-socket`: a unix socket on which the
//! runtime sends the PTY master with `SCM_RIGHTS`.

use std::fs::File;
use std::io::Read;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A listening unix socket that accepts one connection and receives the
/// terminal master from it, on a background thread, so the runtime never
/// blocks on us.
pub struct ConsoleSocket {
    path: PathBuf,
    master: mpsc::Receiver<std::io::Result<File>>,
}

impl ConsoleSocket {
    /// Listens at `path` (which must not exist; keep it short, unix socket
    /// paths are limited to 107 bytes).
    pub fn listen(path: &Path) -> ConsoleSocket {
        let listener = UnixListener::bind(path)
            .unwrap_or_else(|e| panic!("bind console socket {}: {e}", path.display()));
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let result = listener
                .accept()
                .and_then(|(stream, _)| recv_fd(std::os::fd::AsFd::as_fd(&stream)));
            let _ = tx.send(result);
        });
        ConsoleSocket {
            path: path.to_owned(),
            master: rx,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The PTY master the runtime sent; panics after `timeout`.
    pub fn recv_master(&self, timeout: Duration) -> File {
        match self.master.recv_timeout(timeout) {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => panic!("receive console fd on {}: {e}", self.path.display()),
            Err(_) => panic!(
                "no console fd on {} within {timeout:?}",
                self.path.display()
            ),
        }
    }
}

/// Receives one file descriptor sent with `SCM_RIGHTS` on `sock`.
fn recv_fd(sock: std::os::fd::BorrowedFd<'_>) -> std::io::Result<File> {
    berth_sys::recv_fd(sock)?
        .map(File::from)
        .ok_or_else(|| std::io::Error::other("console socket message carried no file descriptor"))
}

/// Reads from a terminal master on a background thread and collects the
/// text, so a test can wait for a pattern with a timeout.
pub struct TerminalReader {
    rx: mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl TerminalReader {
    pub fn new(mut master: File) -> TerminalReader {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the last slave fd closes: the container is gone.
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        TerminalReader {
            rx,
            seen: String::new(),
        }
    }

    /// Reads until the collected output contains `pattern`; returns all
    /// output so far, or panics with it after `timeout`.
    pub fn wait_for(&mut self, pattern: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while !self.seen.contains(pattern) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => panic!("terminal never printed {pattern:?}; got:\n{}", self.seen),
            }
        }
        self.seen.clone()
    }
}

//! The attach socket, `<container dir>/attach.sock`: how a CLI talks to a
//! container's monitor. A stream of frames, `[kind u8][length u32 BE]
//! [payload]`, both ways: the client sends stdin, the end of stdin and
//! window sizes; the monitor sends stdout, stderr and, once the container
//! ended and all its output was sent, its exit code.
//!
//! Unix socket paths are limited to 108 bytes and a container directory
//! under a long `--root` is longer, so the socket is always bound and
//! reached through `/proc/self/fd/<n>` of a descriptor of its directory
//! (or of the socket itself), never through its full path.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};

/// The socket's name in the container directory.
pub const SOCKET: &str = "attach.sock";

/// Frames larger than this are refused (a broken or hostile peer).
const MAX_FRAME: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Client → monitor: bytes for the container's stdin.
    Stdin(Vec<u8>),
    /// Client → monitor: the client's stdin ended (closes the container's
    /// stdin when it was created `stdin_once`, as Docker's `run -i`).
    CloseStdin,
    /// Client → monitor: the client's terminal size.
    Resize {
        rows: u16,
        cols: u16,
    },
    /// Monitor → client.
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// Monitor → client: the container exited with this code; no output
    /// follows.
    Exit(i32),
}

impl Frame {
    fn kind(&self) -> u8 {
        match self {
            Frame::Stdin(_) => 0,
            Frame::CloseStdin => 1,
            Frame::Resize { .. } => 2,
            Frame::Stdout(_) => 3,
            Frame::Stderr(_) => 4,
            Frame::Exit(_) => 5,
        }
    }

    /// The frame's bytes, header included.
    pub fn encode(&self) -> Vec<u8> {
        let payload: Vec<u8> = match self {
            Frame::Stdin(b) | Frame::Stdout(b) | Frame::Stderr(b) => b.clone(),
            Frame::CloseStdin => Vec::new(),
            Frame::Resize { rows, cols } => [rows.to_be_bytes(), cols.to_be_bytes()].concat(),
            Frame::Exit(code) => code.to_be_bytes().to_vec(),
        };
        let mut out = Vec::with_capacity(5 + payload.len());
        out.push(self.kind());
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(&self.encode())?;
        w.flush()
    }

    /// The next frame, or `None` at a clean end of stream.
    pub fn read_from(r: &mut impl Read) -> io::Result<Option<Frame>> {
        let mut header = [0u8; 5];
        match r.read_exact(&mut header[..1]) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        r.read_exact(&mut header[1..])?;
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "attach frame too large",
            ));
        }
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload)?;
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed attach frame");
        Ok(Some(match header[0] {
            0 => Frame::Stdin(payload),
            1 => Frame::CloseStdin,
            2 if len == 4 => Frame::Resize {
                rows: u16::from_be_bytes([payload[0], payload[1]]),
                cols: u16::from_be_bytes([payload[2], payload[3]]),
            },
            3 => Frame::Stdout(payload),
            4 => Frame::Stderr(payload),
            5 if len == 4 => Frame::Exit(i32::from_be_bytes([
                payload[0], payload[1], payload[2], payload[3],
            ])),
            _ => return Err(bad()),
        }))
    }
}

fn open_path(path: &Path, flags: OFlag) -> Result<OwnedFd> {
    open(
        path,
        flags | OFlag::O_PATH | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("open", path, e.into()))
}

/// A unix socket bound in a directory of any path length. Keeps a
/// descriptor of the directory so that other processes can reach the
/// socket through [`BoundSocket::proc_path`].
pub struct BoundSocket {
    pub listener: UnixListener,
    dir: OwnedFd,
    name: String,
}

impl BoundSocket {
    /// Binds `dir/name` (replacing a stale socket) and listens.
    pub fn bind(dir: &Path, name: &str) -> Result<BoundSocket> {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(Error::io("remove", &path, e))
            }
            _ => {}
        }
        let dirfd = open_path(dir, OFlag::O_DIRECTORY)?;
        let short = format!("/proc/self/fd/{}/{name}", dirfd.as_raw_fd());
        let listener = UnixListener::bind(&short).map_err(|e| Error::io("bind", &path, e))?;
        Ok(BoundSocket {
            listener,
            dir: dirfd,
            name: name.to_owned(),
        })
    }

    /// A path to the socket, shorter than 108 bytes, that works for any
    /// process (of the same mount namespace) while this one lives:
    /// `/proc/<our pid>/fd/<dir fd>/<name>`.
    pub fn proc_path(&self) -> String {
        format!(
            "/proc/{}/fd/{}/{}",
            std::process::id(),
            self.dir.as_raw_fd(),
            self.name
        )
    }
}

/// Connects to the socket `dir/name` whatever the length of `dir`.
pub fn connect(dir: &Path, name: &str) -> Result<UnixStream> {
    let path = dir.join(name);
    let fd = open_path(&path, OFlag::empty())?;
    UnixStream::connect(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| Error::io("connect to", &path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let frames = [
            Frame::Stdin(b"hi\n".to_vec()),
            Frame::CloseStdin,
            Frame::Resize {
                rows: 40,
                cols: 132,
            },
            Frame::Stdout(Vec::new()),
            Frame::Stderr(vec![0, 255]),
            Frame::Exit(-1),
        ];
        let mut wire = Vec::new();
        for f in &frames {
            f.write_to(&mut wire).unwrap();
        }
        let mut r = &wire[..];
        for f in &frames {
            assert_eq!(Frame::read_from(&mut r).unwrap().as_ref(), Some(f));
        }
        assert_eq!(Frame::read_from(&mut r).unwrap(), None);
        // A truncated frame is an error, not a clean end.
        let cut = Frame::Stdout(b"abc".to_vec()).encode();
        assert!(Frame::read_from(&mut &cut[..6]).is_err());
        assert!(Frame::read_from(&mut &[9u8, 0, 0, 0, 0][..]).is_err());
    }

    #[test]
    fn long_directory_paths() {
        let base = std::env::temp_dir().join(format!(
            "berth-attach-{}-{}",
            std::process::id(),
            "x".repeat(120)
        ));
        std::fs::create_dir_all(&base).unwrap();
        let bound = BoundSocket::bind(&base, SOCKET).unwrap();
        assert!(bound.proc_path().len() < 108);
        let mut a = connect(&base, SOCKET).unwrap();
        let mut b = UnixStream::connect(bound.proc_path()).unwrap();
        let (mut sa, _) = bound.listener.accept().unwrap();
        let (_sb, _) = bound.listener.accept().unwrap();
        Frame::Exit(3).write_to(&mut a).unwrap();
        assert_eq!(Frame::read_from(&mut sa).unwrap(), Some(Frame::Exit(3)));
        Frame::CloseStdin.write_to(&mut b).unwrap();
        drop(bound);
        std::fs::remove_dir_all(&base).unwrap();
    }
}

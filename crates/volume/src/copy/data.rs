//! A regular file's content, by the cheapest call the two filesystems
//! allow: `copy_file_range` (in-kernel, reflinks where the filesystem has
//! them), else `sendfile` (in-kernel, any pair of files: the usual case,
//! since the kernel refuses `copy_file_range` from an overlayfs file to
//! another filesystem), else read and write. The first refusal is
//! remembered for the rest of the copy, so a tree pays for it once.

use std::io;
use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::fcntl::copy_file_range;
use nix::sys::sendfile::sendfile64;
use nix::unistd::{read, write};

/// At most this much per call (the kernel caps a call near 2 GiB anyway).
const CHUNK: usize = 1 << 30;

#[derive(Debug)]
pub(super) struct DataCopy {
    range: bool,
    sendfile: bool,
}

impl Default for DataCopy {
    fn default() -> Self {
        DataCopy {
            range: true,
            sendfile: true,
        }
    }
}

/// The errors that mean "this call cannot do this pair of files", not
/// "the copy failed".
fn unsupported(e: Errno) -> bool {
    matches!(
        e,
        Errno::EXDEV | Errno::ENOSYS | Errno::EOPNOTSUPP | Errno::EINVAL
    )
}

impl DataCopy {
    /// Copies `size` bytes (the source's size when it was examined) from
    /// the start of `src` to `dst`, both at offset 0; returns the bytes
    /// written (fewer if the file shrank meanwhile).
    pub(super) fn copy(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        size: u64,
    ) -> io::Result<u64> {
        let mut done = 0u64;
        if size == 0 {
            return Ok(0);
        }
        if self.range {
            while done < size {
                let want = (size - done).min(CHUNK as u64) as usize;
                match copy_file_range(src, None, dst, None, want) {
                    Ok(0) => return Ok(done),
                    Ok(n) => done += n as u64,
                    Err(Errno::EINTR) => {}
                    Err(e) if done == 0 && unsupported(e) => {
                        self.range = false;
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if self.range {
                return Ok(done);
            }
        }
        if self.sendfile {
            while done < size {
                let want = (size - done).min(CHUNK as u64) as usize;
                match sendfile64(dst, src, None, want) {
                    Ok(0) => return Ok(done),
                    Ok(n) => done += n as u64,
                    Err(Errno::EINTR) => {}
                    Err(e) if done == 0 && unsupported(e) => {
                        self.sendfile = false;
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if self.sendfile {
                return Ok(done);
            }
        }
        let mut buf = vec![0u8; (size.min(1 << 20)) as usize];
        while done < size {
            let n = match read(src, &mut buf) {
                Ok(0) => return Ok(done),
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            let mut out = &buf[..n];
            while !out.is_empty() {
                match write(dst, out) {
                    Ok(w) => out = &out[w..],
                    Err(Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            done += n as u64;
        }
        Ok(done)
    }
}

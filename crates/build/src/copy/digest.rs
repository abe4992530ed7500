//! The content digest of a `COPY`/`ADD`'s sources, for the cache key: one
//! sha256 over every entry the copy would read, in walk order, each field
//! length-prefixed so no two different trees hash alike. Per entry: its
//! path below the source, type, permission bits, size, then the content
//! (regular files), the target (symlinks) or the device number. Owners
//! count only for `--from` sources (the context's files become root's or
//! `--chown`'s, which the instruction text carries). Times do not count,
//! as in Docker's content checksums.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{Mode, SFlag};
use sha2::{Digest as _, Sha256};

use crate::copy::walk::{kind, Entry, Visitor};
use crate::error::{Error, Result};

pub(crate) struct Hasher {
    sha: Sha256,
    owners: bool,
    buf: Vec<u8>,
}

impl Hasher {
    pub fn new(owners: bool) -> Hasher {
        Hasher {
            sha: Sha256::new(),
            owners,
            buf: vec![0; 256 * 1024],
        }
    }

    pub fn field(&mut self, b: &[u8]) {
        self.sha.update((b.len() as u64).to_le_bytes());
        self.sha.update(b);
    }

    pub fn num(&mut self, n: u64) {
        self.sha.update(n.to_le_bytes());
    }

    pub fn finish(self) -> String {
        let out = self.sha.finalize();
        let mut s = String::with_capacity(7 + 64);
        s.push_str("sha256:");
        for b in out {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    fn header(&mut self, e: &Entry<'_>, tag: u8) {
        self.sha.update([tag]);
        self.field(e.rel.as_bytes());
        self.num(u64::from(e.st.st_mode & 0o7777));
        if self.owners {
            self.num(u64::from(e.st.st_uid));
            self.num(u64::from(e.st.st_gid));
        }
    }
}

impl Visitor for Hasher {
    fn enter_dir(&mut self, e: &Entry<'_>) -> Result<()> {
        self.header(e, b'd');
        Ok(())
    }

    fn leave_dir(&mut self, _: &Entry<'_>) -> Result<()> {
        self.sha.update([b'u']);
        Ok(())
    }

    fn entry(&mut self, e: &Entry<'_>) -> Result<()> {
        let k = kind(e.st);
        let tag = match k {
            SFlag::S_IFREG => b'f',
            SFlag::S_IFLNK => b'l',
            SFlag::S_IFIFO => b'p',
            SFlag::S_IFCHR => b'c',
            SFlag::S_IFBLK => b'b',
            _ => return Ok(()),
        };
        self.header(e, tag);
        match k {
            SFlag::S_IFREG => {
                let fd = openat(
                    e.parent.as_fd(),
                    e.name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|err| Error::io("open", e.rel.to_owned(), err))?;
                let mut f = File::from(fd);
                // The size first, so content never runs into the next
                // field; a file that changes size while read is an error.
                self.num(e.st.st_size as u64);
                let mut size = 0u64;
                loop {
                    let n = f
                        .read(&mut self.buf)
                        .map_err(|err| Error::io("read", e.rel.to_owned(), err))?;
                    if n == 0 {
                        break;
                    }
                    size += n as u64;
                    self.sha.update(&self.buf[..n]);
                }
                if size != e.st.st_size as u64 {
                    return Err(Error::io(
                        "read",
                        e.rel.to_owned(),
                        std::io::Error::other("file changed while it was read"),
                    ));
                }
            }
            SFlag::S_IFLNK => {
                let t = readlinkat(e.parent.as_fd(), e.name)
                    .map_err(|err| Error::io("readlink", e.rel.to_owned(), err))?;
                self.field(t.as_bytes());
            }
            _ => self.num(e.st.st_rdev),
        }
        Ok(())
    }
}

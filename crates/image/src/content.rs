//! The content store: blobs by sha256 under `<root>/content/sha256/<hex>`.
//!
//! A blob is written to a temp file (`.ingest-*`) in the same directory,
//! hashed while it streams, fsynced, and only then renamed to its digest,
//! so a reader never sees a partial blob and two writers of the same blob
//! both succeed (the second rename replaces identical bytes). Reading
//! checks the size at open and the digest at the end of the stream. It
//! knows nothing of manifests or images.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::digest::DigestWriter;
use crate::fsutil::{fsync_dir, unique_name};
use crate::{Digest, Error, Result};

/// Prefix of in-progress writes; the GC removes leftovers.
pub(crate) const INGEST_PREFIX: &str = ".ingest-";
/// Prefix of a registry download in progress, named by its digest so an
/// interrupted pull resumes it; the GC removes leftovers.
pub(crate) const DOWNLOAD_PREFIX: &str = ".download-";

#[derive(Debug, Clone)]
pub struct ContentStore {
    dir: PathBuf,
}

impl ContentStore {
    pub fn open(root: &Path) -> Result<ContentStore> {
        let dir = root.join("content/sha256");
        crate::fsutil::create_dir_all(&dir)?;
        Ok(ContentStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// The size of a stored blob.
    pub fn size(&self, digest: &Digest) -> Result<u64> {
        match fs::metadata(self.path(digest)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Error::BlobNotFound(digest.to_string()))
            }
            Err(e) => Err(Error::io("stat", self.path(digest), e)),
        }
    }

    /// Starts writing a new blob.
    pub fn ingest(&self) -> Result<Ingest> {
        let path = self.dir.join(unique_name(INGEST_PREFIX));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create", &path, e))?;
        Ok(Ingest {
            writer: Some(DigestWriter::new(BufWriter::with_capacity(
                256 * 1024,
                file,
            ))),
            path,
            dir: self.dir.clone(),
            done: None,
        })
    }

    /// Writes `data` as a blob and commits it.
    pub fn write_blob(&self, data: &[u8]) -> Result<Digest> {
        let mut ingest = self.ingest()?;
        ingest
            .write_all(data)
            .map_err(|e| Error::io("write", &ingest.path, e))?;
        let (digest, _) = ingest.finish()?;
        ingest.commit()?;
        Ok(digest)
    }

    /// Opens a blob for reading; the reader fails with `InvalidData` at
    /// the end if the bytes do not hash to `digest`.
    pub fn reader(&self, digest: &Digest) -> Result<VerifiedReader<File>> {
        let path = self.path(digest);
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::BlobNotFound(digest.to_string()),
            _ => Error::io("open", &path, e),
        })?;
        Ok(VerifiedReader::new(file, digest.clone()))
    }

    /// Reads a whole (small) blob and verifies its digest.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        self.reader(digest)?
            .read_to_end(&mut data)
            .map_err(|e| Error::io("read blob", self.path(digest), e))?;
        Ok(data)
    }

    /// Every stored blob's digest (temp files and stray names skipped).
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for entry in
            fs::read_dir(&self.dir).map_err(|e| Error::io("read directory", &self.dir, e))?
        {
            let entry = entry.map_err(|e| Error::io("read directory", &self.dir, e))?;
            if let Some(name) = entry.file_name().to_str() {
                if let Ok(d) = Digest::parse(&format!("sha256:{name}")) {
                    out.push(d);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Leftover temp files of writers that died.
    pub(crate) fn stale_ingests(&self) -> Result<Vec<PathBuf>> {
        let rd = fs::read_dir(&self.dir).map_err(|e| Error::io("read directory", &self.dir, e))?;
        Ok(rd
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with(INGEST_PREFIX) || name.starts_with(DOWNLOAD_PREFIX)
            })
            .map(|e| e.path())
            .collect())
    }

    /// Where a download of `digest` keeps what arrived so far.
    pub(crate) fn download_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("{DOWNLOAD_PREFIX}{}", digest.hex()))
    }

    /// Renames a finished download, whose digest the caller checked while
    /// it streamed, into place after an fsync.
    pub(crate) fn commit_download(&self, path: &Path, digest: &Digest) -> Result<()> {
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io("fsync", path, e))?;
        let dest = self.path(digest);
        fs::rename(path, &dest).map_err(|e| Error::io("rename into place", &dest, e))?;
        fsync_dir(&self.dir)
    }

    pub(crate) fn remove(&self, digest: &Digest) -> Result<()> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("remove", &path, e)),
            _ => Ok(()),
        }
    }
}

/// A blob being written. Dropped without [`Ingest::commit`], its temp file
/// is removed.
pub struct Ingest {
    writer: Option<DigestWriter<BufWriter<File>>>,
    path: PathBuf,
    dir: PathBuf,
    done: Option<(Digest, u64)>,
}

impl Ingest {
    /// Flushes and fsyncs; returns the digest and size of what was written.
    /// The data can then be read back from [`Ingest::path`] before commit.
    pub fn finish(&mut self) -> Result<(Digest, u64)> {
        if let Some(done) = &self.done {
            return Ok(done.clone());
        }
        let writer = self
            .writer
            .take()
            .expect("an unfinished ingest has a writer");
        let (buf, digest, size) = writer.finish();
        let file = buf
            .into_inner()
            .map_err(|e| Error::io("write", &self.path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io("fsync", &self.path, e))?;
        self.done = Some((digest.clone(), size));
        Ok((digest, size))
    }

    /// Finishes and checks the digest (and size, when known) against what
    /// the writer was told to expect.
    pub fn verify(&mut self, what: &str, digest: &Digest, size: Option<u64>) -> Result<()> {
        let (actual, actual_size) = self.finish()?;
        if let Some(size) = size {
            if size != actual_size {
                return Err(Error::SizeMismatch {
                    what: what.to_owned(),
                    expected: size,
                    actual: actual_size,
                });
            }
        }
        if &actual != digest {
            return Err(Error::DigestMismatch {
                what: what.to_owned(),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }

    /// Digest and size once [`Ingest::finish`] ran.
    pub fn finished(&self) -> Option<(Digest, u64)> {
        self.done.clone()
    }

    /// The temp file holding the data.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the finished blob into place (replacing an identical blob a
    /// concurrent writer may have committed first).
    pub fn commit(mut self) -> Result<Digest> {
        let (digest, _) = self.finish()?;
        let dest = self.dir.join(digest.hex());
        fs::rename(&self.path, &dest).map_err(|e| Error::io("rename into place", &dest, e))?;
        fsync_dir(&self.dir)?;
        self.path = PathBuf::new();
        Ok(digest)
    }
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.writer {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("write to a finished ingest")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A reader that hashes what it reads and fails at the end of the stream
/// if the digest is not the expected one.
pub struct VerifiedReader<R> {
    inner: crate::digest::DigestReader<R>,
    expected: Digest,
    checked: bool,
}

impl<R: Read> VerifiedReader<R> {
    pub fn new(inner: R, expected: Digest) -> Self {
        VerifiedReader {
            inner: crate::digest::DigestReader::new(inner),
            expected,
            checked: false,
        }
    }
}

impl<R: Read> Read for VerifiedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && !self.checked {
            self.checked = true;
            let (actual, _) = self.inner.current();
            if actual != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "blob digest mismatch: expected {}, got {actual}",
                        self.expected
                    ),
                ));
            }
        }
        Ok(n)
    }
}

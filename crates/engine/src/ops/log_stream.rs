//! `logs`: a container's log (json-file or k8s-file) as a stream of
//! entries, with Docker's `--since`, `--until`, `--tail` and `--follow`.
//! Rotated files (`<log>.N` … `.1`, then the live file) read as one
//! stream; following reads the live file across rotations until the
//! container stops.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::logfile::{self, Entry, LogDriver};
use crate::model::Container;
use crate::ops::usage::rfc3339_nanos;
use crate::Engine;

/// What `logs` was asked for; times in nanoseconds since the epoch.
#[derive(Debug, Clone, Default)]
pub struct LogsOptions {
    pub since: Option<i128>,
    pub until: Option<i128>,
    /// Only the last N entries of what is there now.
    pub tail: Option<usize>,
    /// Then wait for more until the container is no longer running.
    pub follow: bool,
}

impl LogsOptions {
    fn wants(&self, e: &Entry) -> bool {
        let t = rfc3339_nanos(&e.time);
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }
}

/// The entries, in order; blocks for new ones while following.
pub struct LogStream<'a> {
    engine: &'a Engine,
    id: String,
    options: LogsOptions,
    ready: VecDeque<Entry>,
    /// The live file's reader while following.
    live: Option<LogReader>,
}

impl Engine {
    /// The container's log as a stream (an error with `--log-driver none`).
    pub fn logs(&self, c: &Container, options: &LogsOptions) -> Result<LogStream<'_>> {
        let Some(live) = self.log_path(c) else {
            return Err(Error::BadRequest(
                "configured logging driver does not support reading".into(),
            ));
        };
        let driver = c.config.log.driver;
        let max_file = c.config.log.max_file;
        // The rotated files, then the live one, which stays open for
        // `follow` (a `--rm` container's monitor removes it with the
        // container).
        let mut entries = Vec::new();
        let files = logfile::files_oldest_first(&live, max_file);
        for old in &files[..files.len() - 1] {
            LogReader::new(old.clone(), driver, 1).read_new(&mut |e| entries.push(e))?;
        }
        let mut reader = LogReader::new(live, driver, max_file);
        reader.read_new(&mut |e| entries.push(e))?;
        let mut wanted: VecDeque<Entry> =
            entries.into_iter().filter(|e| options.wants(e)).collect();
        let skip = options.tail.map_or(0, |n| wanted.len().saturating_sub(n));
        wanted.drain(..skip);
        Ok(LogStream {
            engine: self,
            id: c.id.clone(),
            options: options.clone(),
            ready: wanted,
            live: options.follow.then_some(reader),
        })
    }
}

impl Iterator for LogStream<'_> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(Ok(e));
            }
            let reader = self.live.as_mut()?;
            // Read what came, until the container is no longer running.
            let done = match self
                .engine
                .wait_not_running(&self.id, Duration::from_millis(100))
            {
                Ok(done) => done,
                Err(e) => {
                    self.live = None;
                    return Some(Err(e));
                }
            };
            let (options, ready) = (&self.options, &mut self.ready);
            if let Err(e) = reader.read_new(&mut |e| {
                if options.wants(&e) {
                    ready.push_back(e);
                }
            }) {
                self.live = None;
                return Some(Err(e));
            }
            if done {
                self.live = None;
            }
        }
    }
}

/// Reads a log from where it left off, entry by entry; moves on to the
/// newer file when the monitor rotated the one being read.
struct LogReader {
    path: PathBuf,
    driver: LogDriver,
    max_file: u32,
    /// Held once opened: rotation renames it, `--rm` removes it.
    file: Option<File>,
    offset: u64,
    partial: Vec<u8>,
}

impl LogReader {
    fn new(path: PathBuf, driver: LogDriver, max_file: u32) -> LogReader {
        LogReader {
            path,
            driver,
            max_file,
            file: None,
            offset: 0,
            partial: Vec::new(),
        }
    }

    fn io(&self, e: io::Error) -> Error {
        Error::io("read", &self.path, e)
    }

    fn open(&mut self) -> Result<bool> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(self.io(e)),
            }
        }
        Ok(true)
    }

    /// Hands over every complete entry added since the last call.
    fn read_new(&mut self, sink: &mut impl FnMut(Entry)) -> Result<()> {
        loop {
            if !self.open()? {
                return Ok(());
            }
            self.read_to_end(sink)?;
            let Some(next) = self.next_file()? else {
                return Ok(());
            };
            // Rotated away, so it gets no more entries: take the ones
            // written between our end of file and the rotation.
            self.read_to_end(sink)?;
            self.partial.clear();
            self.offset = 0;
            self.file = match File::open(&next) {
                Ok(f) => Some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(Error::io("read", &next, e)),
            };
        }
    }

    fn read_to_end(&mut self, sink: &mut impl FnMut(Entry)) -> Result<()> {
        let Some(mut f) = self.file.as_ref() else {
            return Ok(());
        };
        let len = f.metadata().map_err(|e| self.io(e))?.len();
        // max-file 1 rotates by emptying the file.
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        f.seek(SeekFrom::Start(self.offset))
            .map_err(|e| self.io(e))?;
        let mut r = BufReader::new(f);
        loop {
            let n = match r.read_until(b'\n', &mut self.partial) {
                Ok(n) => n,
                Err(e) => return Err(Error::io("read", &self.path, e)),
            };
            if n == 0 {
                return Ok(());
            }
            self.offset += n as u64;
            if !self.partial.ends_with(b"\n") {
                return Ok(()); // the monitor is mid-write; finish it next time
            }
            let entry = logfile::parse_line(self.driver, &self.partial);
            self.partial.clear();
            if let Some(entry) = entry {
                sink(entry);
            }
        }
    }

    /// The file after the one being read when that one is no longer the
    /// live file: the next newer rotated file, or the live one. None while
    /// it is still the live file.
    fn next_file(&self) -> Result<Option<PathBuf>> {
        use std::os::unix::fs::MetadataExt;
        let Some(f) = &self.file else {
            return Ok(None);
        };
        let m = f.metadata().map_err(|e| self.io(e))?;
        let same =
            |p: &Path| std::fs::metadata(p).is_ok_and(|o| o.ino() == m.ino() && o.dev() == m.dev());
        if same(&self.path) || !self.path.exists() || self.max_file <= 1 {
            return Ok(None);
        }
        let rotated: Vec<PathBuf> = (1..self.max_file)
            .map(|n| logfile::rotated_path(&self.path, n))
            .collect();
        if let Some(k) = rotated.iter().position(|p| same(p)) {
            return Ok(Some(if k == 0 {
                self.path.clone()
            } else {
                rotated[k - 1].clone()
            }));
        }
        // Ours fell off the end: every file left is newer.
        Ok(Some(
            rotated
                .into_iter()
                .rev()
                .find(|p| p.exists())
                .unwrap_or_else(|| self.path.clone()),
        ))
    }
}

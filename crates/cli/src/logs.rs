//! `logs`: reading a container's log (json-file or k8s-file, through the
//! engine's `logfile` reader) with Docker's `--tail`, `--since`, `--until`,
//! `-t` and `-f`. Rotated files (`<log>.N` … `.1`, then the live file) read
//! as one stream; `-f` follows the live file across rotations.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use berth_engine::logfile::{self, Entry, LogDriver};
use berth_engine::Engine;

use crate::cli::LogsArgs;
use crate::ps::nanos;

/// Docker's `--since`/`--until` values: RFC 3339 (with or without zone,
/// seconds, time; no zone means UTC here), a unix time `SECS[.NANOS]`, or a
/// Go duration (`10m`, `1h30m`) before `now`. Returns nanoseconds.
pub fn parse_time(value: &str, now: i128) -> Result<i128> {
    let v = value.trim();
    if let Some(d) = parse_duration(v) {
        return Ok(now - d);
    }
    if let Some((s, frac)) = v.split_once('.').or(Some((v, ""))) {
        if !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
            && frac.len() <= 9
        {
            let secs: i128 = s.parse()?;
            let nanos: i128 = format!("{frac:0<9}").parse()?;
            return Ok(secs * 1_000_000_000 + nanos);
        }
    }
    let full = match v.len() {
        10 => format!("{v}T00:00:00Z"),
        13 => format!("{v}:00:00Z"),
        16 => format!("{v}:00Z"),
        _ if v.len() >= 19 && !v[19..].contains(['Z', 'z', '+', '-']) => format!("{v}Z"),
        _ => v.to_owned(),
    };
    if berth_image::time::parse_rfc3339(&full).is_none() {
        bail!("invalid value for \"since\"/\"until\": {value:?} is not an RFC 3339 time, a unix timestamp or a duration");
    }
    Ok(nanos(&full))
}

/// Go's `time.ParseDuration` (`300ms`, `1.5h`, `2h45m`), in nanoseconds.
fn parse_duration(s: &str) -> Option<i128> {
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Some(total as i128)
}

/// Docker's `-t` prefix: RFC 3339 with nine fraction digits.
fn timestamp(t: &str) -> String {
    timestamp_nanos(nanos(t))
}

/// RFC 3339 in UTC with nine fraction digits, from nanoseconds.
pub fn timestamp_nanos(n: i128) -> String {
    let secs = n.div_euclid(1_000_000_000) as i64;
    let frac = n.rem_euclid(1_000_000_000);
    let s = berth_image::time::format_rfc3339(secs, 0);
    format!("{}.{frac:09}Z", &s[..19])
}

fn now_nanos() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

struct Printer {
    timestamps: bool,
    since: Option<i128>,
    until: Option<i128>,
}

impl Printer {
    fn wants(&self, e: &Entry) -> bool {
        let t = nanos(&e.time);
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t <= u)
    }

    fn print(&self, e: &Entry) -> io::Result<()> {
        let mut text = Vec::with_capacity(e.text.len() + 32);
        if self.timestamps {
            text.extend_from_slice(timestamp(&e.time).as_bytes());
            text.push(b' ');
        }
        text.extend_from_slice(&e.text);
        if e.stream == "stderr" {
            let mut err = io::stderr().lock();
            err.write_all(&text)?;
            err.flush()
        } else {
            let mut out = io::stdout().lock();
            out.write_all(&text)?;
            out.flush()
        }
    }
}

pub fn logs(root: &Path, a: LogsArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let c = engine.find(&a.container)?;
    let Some(live) = engine.log_path(&c) else {
        bail!("configured logging driver does not support reading");
    };
    let now = now_nanos();
    let printer = Printer {
        timestamps: a.more.timestamps,
        since: a
            .more
            .since
            .as_deref()
            .map(|s| parse_time(s, now))
            .transpose()?,
        until: a
            .more
            .until
            .as_deref()
            .map(|s| parse_time(s, now))
            .transpose()?,
    };
    let tail: Option<usize> = match a.more.tail.as_str() {
        "all" | "" => None,
        n => match n.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => bail!("invalid value for \"tail\": {n:?} is not a number or \"all\""),
        },
    };
    let driver = c.config.log.driver;
    let max_file = c.config.log.max_file;
    // The rotated files, then the live one, which stays open for `-f`
    // (a `--rm` container's monitor removes it with the container).
    let mut entries = Vec::new();
    let files = logfile::files_oldest_first(&live, max_file);
    for old in &files[..files.len() - 1] {
        let mut r = LogReader::new(old.clone(), driver, 1);
        r.read_new(&mut |e| {
            entries.push(e);
            Ok(())
        })?;
    }
    let mut reader = LogReader::new(live, driver, max_file);
    reader.read_new(&mut |e| {
        entries.push(e);
        Ok(())
    })?;
    let wanted: Vec<&Entry> = entries.iter().filter(|e| printer.wants(e)).collect();
    let skip = tail.map_or(0, |n| wanted.len().saturating_sub(n));
    for e in &wanted[skip..] {
        printer.print(e)?;
    }
    if !a.follow {
        return Ok(());
    }
    // Follow from where the read stopped until the container is no longer
    // running.
    let mut print = |e: Entry| {
        if printer.wants(&e) {
            printer.print(&e)?;
        }
        Ok(())
    };
    loop {
        let done = engine.wait_not_running(&c.id, Duration::from_millis(100))?;
        reader.read_new(&mut print)?;
        if done {
            return Ok(());
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

    fn open(&mut self) -> Result<bool> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    /// Hands over every complete entry added since the last call.
    fn read_new(&mut self, sink: &mut impl FnMut(Entry) -> Result<()>) -> Result<()> {
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
                Err(e) => return Err(e.into()),
            };
        }
    }

    fn read_to_end(&mut self, sink: &mut impl FnMut(Entry) -> Result<()>) -> Result<()> {
        let mut f = self.file.as_ref().ok_or_else(|| anyhow!("log not open"))?;
        // max-file 1 rotates by emptying the file.
        if f.metadata()?.len() < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        f.seek(SeekFrom::Start(self.offset))?;
        let mut r = BufReader::new(f);
        loop {
            let n = r.read_until(b'\n', &mut self.partial)?;
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
                sink(entry)?;
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
        let m = f.metadata()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_like_docker() {
        let now = nanos("2024-01-01T12:00:00Z");
        assert_eq!(parse_time("10m", now).unwrap(), now - 600 * 1_000_000_000);
        assert_eq!(
            parse_time("1h30m", now).unwrap(),
            now - 5400 * 1_000_000_000
        );
        assert_eq!(parse_time("1704110400", now).unwrap(), now);
        assert_eq!(parse_time("1704110400.5", now).unwrap(), now + 500_000_000);
        assert_eq!(parse_time("2024-01-01T12:00:00Z", now).unwrap(), now);
        assert_eq!(parse_time("2024-01-01T13:00:00+01:00", now).unwrap(), now);
        assert_eq!(parse_time("2024-01-01T12:00:00", now).unwrap(), now);
        assert_eq!(
            parse_time("2024-01-01", now).unwrap(),
            now - 12 * 3600 * 1_000_000_000
        );
        assert!(parse_time("yesterday", now).is_err());
        assert_eq!(
            timestamp("2024-01-01T12:00:00.5Z"),
            "2024-01-01T12:00:00.500000000Z"
        );
    }
}

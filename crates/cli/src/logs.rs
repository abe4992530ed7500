//! `logs`: reading a container's json-file log with Docker's `--tail`,
//! `--since`, `--until`, `-t` and `-f`.
//!
//! [`log_files`] lists the files of one log oldest first, so rotated files
//! (`<id>-json.log.N` … `.1`, then the live file) read as one stream.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use berth_engine::Engine;
use serde_json::Value;

use crate::cli::LogsArgs;
use crate::ps::nanos;

/// One json-file entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub stderr: bool,
    /// RFC 3339 as the monitor wrote it.
    pub time: String,
    pub log: String,
}

/// The files of the log at `live`, oldest first: rotated ones
/// (`<live>.N` … `<live>.1`) that exist, then `live`.
pub fn log_files(live: &Path) -> Vec<PathBuf> {
    let mut rotated = Vec::new();
    for n in 1.. {
        let mut name = live.as_os_str().to_owned();
        name.push(format!(".{n}"));
        let p = PathBuf::from(name);
        if !p.exists() {
            break;
        }
        rotated.push(p);
    }
    rotated.reverse();
    rotated.push(live.to_owned());
    rotated
}

/// Parses one line; `None` for a partial or foreign line.
pub fn parse_entry(line: &[u8]) -> Option<Entry> {
    let v: Value = serde_json::from_slice(line).ok()?;
    Some(Entry {
        stderr: v["stream"] == "stderr",
        time: v["time"].as_str().unwrap_or("").to_owned(),
        log: v["log"].as_str()?.to_owned(),
    })
}

/// Every complete entry of `files`; returns them and the length read of
/// the last file (where following continues).
pub fn read_entries(files: &[PathBuf]) -> Result<(Vec<Entry>, u64)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for path in files {
        offset = 0;
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(anyhow!("cannot open {}: {e}", path.display())),
        };
        let mut r = BufReader::new(f);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = r.read_until(b'\n', &mut line)?;
            if n == 0 || !line.ends_with(b"\n") {
                break; // the end, or a line the monitor is still writing
            }
            offset += n as u64;
            out.extend(parse_entry(&line));
        }
    }
    Ok((out, offset))
}

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
    let n = nanos(t);
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
        let text = if self.timestamps {
            format!("{} {}", timestamp(&e.time), e.log)
        } else {
            e.log.clone()
        };
        if e.stderr {
            let mut err = io::stderr().lock();
            err.write_all(text.as_bytes())?;
            err.flush()
        } else {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()
        }
    }
}

pub fn logs(root: &Path, a: LogsArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let c = engine.find(&a.container)?;
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
    let live = engine.log_path(&c);
    let (entries, offset) = read_entries(&log_files(&live))?;
    let wanted: Vec<&Entry> = entries.iter().filter(|e| printer.wants(e)).collect();
    let skip = tail.map_or(0, |n| wanted.len().saturating_sub(n));
    for e in &wanted[skip..] {
        printer.print(e)?;
    }
    if !a.follow {
        return Ok(());
    }
    // Follow the live file from where the read stopped until the
    // container is no longer running.
    let mut offset = offset;
    loop {
        let done = engine.wait_not_running(&c.id, Duration::from_millis(100))?;
        offset = follow_from(&live, offset, &printer)?;
        if done {
            return Ok(());
        }
    }
}

/// Prints the complete entries of `path` after `offset`; the new offset.
fn follow_from(path: &Path, mut offset: u64, printer: &Printer) -> Result<u64> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(offset),
        Err(e) => return Err(e.into()),
    };
    f.seek(SeekFrom::Start(offset))?;
    let mut r = BufReader::new(f);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 || !line.ends_with(b"\n") {
            return Ok(offset);
        }
        offset += n as u64;
        if let Some(e) = parse_entry(&line) {
            if printer.wants(&e) {
                printer.print(&e)?;
            }
        }
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

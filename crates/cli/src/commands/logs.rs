//! `logs`: Docker's `--tail`, `--since`, `--until`, `-t` and `-f` over the
//! engine's log stream (which reads rotated files and follows the live
//! one).

use std::io::{self, Write};
use std::path::Path;

use anyhow::{bail, Result};
use berth_engine::logfile::Entry;
use berth_engine::ops::log_stream::LogsOptions;
use berth_engine::Engine;

use crate::args::LogsArgs;
use crate::output::nanos;

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
    if berth_engine::image::time::parse_rfc3339(&full).is_none() {
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
    let s = berth_engine::image::time::format_rfc3339(secs, 0);
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
}

impl Printer {
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
    if engine.log_path(&c).is_none() {
        bail!("configured logging driver does not support reading");
    }
    let now = now_nanos();
    let printer = Printer {
        timestamps: a.more.timestamps,
    };
    let since = a
        .more
        .since
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    let until = a
        .more
        .until
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    let tail: Option<usize> = match a.more.tail.as_str() {
        "all" | "" => None,
        n => match n.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => bail!("invalid value for \"tail\": {n:?} is not a number or \"all\""),
        },
    };
    let options = LogsOptions {
        since,
        until,
        tail,
        follow: a.follow,
    };
    for entry in engine.logs(&c, &options)? {
        printer.print(&entry?)?;
    }
    Ok(())
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

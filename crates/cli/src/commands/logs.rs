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

pub use berth_engine::model::time::parse_time;

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
    fn timestamps_like_docker() {
        assert_eq!(
            timestamp("2024-01-01T12:00:00.5Z"),
            "2024-01-01T12:00:00.500000000Z"
        );
    }
}

//! `berth stats`: Docker's table (CONTAINER ID, NAME, CPU %, MEM USAGE /
//! LIMIT, MEM %, NET I/O, BLOCK I/O, PIDS), redrawn every second (the
//! screen cleared as `docker stats` does) or printed once with
//! `--no-stream`. CPU % needs two readings, so the first table comes a
//! second after the start, as Docker's does. Numbers: `berth_engine::stats`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use berth_engine::stats::{sample, Sample};
use berth_engine::{Container, Engine, State};
use serde_json::{json, Value};

use crate::args::StatsArgs;
use crate::output::{human_size, tabulate, Template};

const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const INTERVAL: Duration = Duration::from_secs(1);

pub fn stats(root: &Path, a: StatsArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let template = Template::parse(a.format.as_deref().unwrap_or(DEFAULT_FORMAT))?;
    // Named containers must exist now (Docker's check), and stay listed.
    for key in &a.containers {
        engine.find(key)?;
    }
    let mut previous = read_all(&containers(&engine, &a)?);
    loop {
        std::thread::sleep(INTERVAL);
        let list = containers(&engine, &a)?;
        let current = read_all(&list);
        let mut rows = Vec::new();
        for (key, c) in &list {
            let now = current.get(&c.id).cloned().flatten();
            let before = previous.get(&c.id).cloned().flatten().unwrap_or_default();
            rows.push(row(key, c, now.as_ref(), &before, a.no_trunc));
        }
        let text = render(&template, &rows)?;
        let mut out = io::stdout().lock();
        if !a.no_stream {
            // Docker's redraw: clear the screen, cursor home.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        write!(out, "{text}")?;
        out.flush()?;
        if a.no_stream {
            return Ok(());
        }
        previous = current;
    }
}

/// The containers to show, with the name the user gave them (Docker's
/// `.Container`): the named ones, else the running (or, with `-a`, all).
fn containers(engine: &Engine, a: &StatsArgs) -> Result<Vec<(String, Container)>> {
    if a.containers.is_empty() {
        let mut list: Vec<(String, Container)> = engine
            .list()?
            .into_iter()
            .filter(|c| a.all || c.state == State::Running)
            .map(|c| (c.id[..12].to_owned(), c))
            .collect();
        list.sort_by(|x, y| x.1.created_at.cmp(&y.1.created_at));
        return Ok(list);
    }
    let mut list = Vec::new();
    for key in &a.containers {
        // One that is removed meanwhile drops out of the table.
        if let Ok(c) = engine.find(key) {
            list.push((key.clone(), c));
        }
    }
    Ok(list)
}

/// Readings of every container at once (one thread each, so one slow
/// cgroup does not skew the others' interval); None where reading failed.
fn read_all(list: &[(String, Container)]) -> HashMap<String, Option<Sample>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = list
            .iter()
            .map(|(_, c)| (c.id.clone(), s.spawn(move || sample(c).ok())))
            .collect();
        handles
            .into_iter()
            .map(|(id, h)| (id, h.join().ok().flatten()))
            .collect()
    })
}

/// A container's row; without a reading (it failed), Docker's `--` for
/// every number.
fn row(key: &str, c: &Container, now: Option<&Sample>, before: &Sample, no_trunc: bool) -> Value {
    let id = if no_trunc {
        c.id.clone()
    } else {
        c.id[..12].to_owned()
    };
    let Some(now) = now else {
        return json!({
            "Container": key,
            "ID": id,
            "Name": c.name,
            "CPUPerc": "--",
            "MemUsage": "-- / --",
            "MemPerc": "--",
            "NetIO": "--",
            "BlockIO": "--",
            "PIDs": "--",
        });
    };
    json!({
        "Container": key,
        "ID": id,
        "Name": c.name,
        "CPUPerc": format!("{:.2}%", now.cpu_percent(before)),
        "MemUsage": format!("{} / {}", bytes_size(now.memory), bytes_size(now.memory_limit)),
        "MemPerc": format!("{:.2}%", now.memory_percent()),
        "NetIO": format!("{} / {}", human_size(now.net_rx), human_size(now.net_tx)),
        "BlockIO": format!("{} / {}", human_size(now.block_read), human_size(now.block_write)),
        "PIDs": now.pids.to_string(),
    })
}

fn render(t: &Template, rows: &[Value]) -> Result<String> {
    let mut lines = Vec::new();
    if t.table {
        lines.push(t.header(title));
    }
    for r in rows {
        lines.push(t.render(r)?);
    }
    Ok(if t.table {
        tabulate(&lines)
    } else {
        lines.iter().map(|l| format!("{l}\n")).collect()
    })
}

/// Docker's column titles for `--format table ...`.
fn title(field: &str) -> String {
    match field {
        "Container" => "CONTAINER",
        "ID" => "CONTAINER ID",
        "Name" => "NAME",
        "CPUPerc" => "CPU %",
        "MemUsage" => "MEM USAGE / LIMIT",
        "MemPerc" => "MEM %",
        "NetIO" => "NET I/O",
        "BlockIO" => "BLOCK I/O",
        "PIDs" => "PIDS",
        other => return other.to_uppercase(),
    }
    .to_owned()
}

/// go-units `BytesSize`: binary units, `%.4g`.
fn bytes_size(size: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(v, 4), UNITS[i])
}

/// Go's `%.<precision>g` for a non-negative number.
fn go_g(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    // Rounded to `precision` significant digits first, as Go decides the
    // form from the rounded exponent.
    let sci = format!("{:.*e}", precision - 1, v);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is a number");
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    if exp < -4 || exp >= precision as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim(mantissa), exp.abs());
    }
    let decimals = (precision as i32 - 1 - exp).max(0) as usize;
    trim(&format!("{v:.decimals$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_go_units() {
        assert_eq!(bytes_size(0), "0B");
        assert_eq!(bytes_size(1536 * 1024), "1.5MiB");
        assert_eq!(bytes_size(8 << 20), "8MiB");
        assert_eq!(bytes_size(2_000_000), "1.907MiB");
        assert_eq!(bytes_size(1023), "1023B");
        assert_eq!(go_g(999.95, 4), "1000");
        assert_eq!(go_g(999.6, 3), "1e+03");
    }

    #[test]
    fn default_table() {
        let t = Template::parse(DEFAULT_FORMAT).unwrap();
        let now = Sample {
            memory: 1 << 20,
            memory_limit: 8 << 20,
            pids: 1,
            ..Default::default()
        };
        let c_row = json!({
            "Container": "x", "ID": "0123456789ab", "Name": "n", "CPUPerc": "0.00%",
            "MemUsage": format!("{} / {}", bytes_size(now.memory), bytes_size(now.memory_limit)),
            "MemPerc": format!("{:.2}%", now.memory_percent()), "NetIO": "0B / 0B",
            "BlockIO": "0B / 0B", "PIDs": "1",
        });
        let text = render(&t, &[c_row]).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines
                .next()
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            "CONTAINER ID NAME CPU % MEM USAGE / LIMIT MEM % NET I/O BLOCK I/O PIDS"
        );
        let cells: Vec<&str> = lines
            .next()
            .unwrap()
            .split("   ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cells,
            [
                "0123456789ab",
                "n",
                "0.00%",
                "1MiB / 8MiB",
                "12.50%",
                "0B / 0B",
                "0B / 0B",
                "1"
            ]
        );
    }
}

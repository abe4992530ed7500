//! Commands on running containers: `update`, `pause`, `unpause`, `top`,
//! with Docker's flags and output.

use std::path::Path;

use anyhow::{bail, Result};
use berth_engine::Engine;

use crate::args::{TopArgs, UpdateArgs};
use crate::output::each;

pub fn update(root: &Path, a: UpdateArgs) -> Result<()> {
    let change = a.resources.to_resources()?;
    let bandwidth = berth_engine::Bandwidth::parse(
        a.bandwidth.egress.as_deref(),
        a.bandwidth.ingress.as_deref(),
    )?;
    if change.is_empty() && bandwidth.is_empty() {
        bail!("you must provide one or more flags when using this command");
    }
    let mut engine = Engine::open(root)?;
    each(&a.containers, |key| {
        if !change.is_empty() {
            engine.update(key, &change)?;
        }
        if !bandwidth.is_empty() {
            engine.update_bandwidth(key, &bandwidth)?;
        }
        Ok(())
    })
}

pub fn pause(root: &Path, containers: &[String]) -> Result<()> {
    let mut engine = Engine::open(root)?;
    each(containers, |key| {
        engine.pause(key)?;
        Ok(())
    })
}

pub fn unpause(root: &Path, containers: &[String]) -> Result<()> {
    let mut engine = Engine::open(root)?;
    each(containers, |key| {
        engine.unpause(key)?;
        Ok(())
    })
}

pub fn top(root: &Path, a: TopArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    // Docker passes the options to ps as one space-separated string.
    let args: Vec<String> = a
        .ps_options
        .join(" ")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let list = engine.top(&a.container, &args)?;
    let mut rows = vec![list.titles.join("\t")];
    rows.extend(list.processes.iter().map(|p| p.join("\t")));
    print!("{}", table(&rows, 20));
    Ok(())
}

/// Go's tabwriter as `docker top` sets it: minimum width `min`, padding 3.
fn table(rows: &[String], min: usize) -> String {
    let split: Vec<Vec<&str>> = rows.iter().map(|r| r.split('\t').collect()).collect();
    let mut widths = Vec::new();
    for row in &split {
        for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = usize::max(widths[i], cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &split {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let width = (widths[i] + 3).max(min);
                out.push_str(&" ".repeat(width - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn top_table_is_twenty_wide() {
        let t = super::table(&["UID\tPID\tCMD".into(), "root\t42\tsleep 100".into()], 20);
        assert_eq!(
            t.lines().next().unwrap(),
            format!("UID{}PID{}CMD", " ".repeat(17), " ".repeat(17))
        );
    }
}

//! `berth top`: the container's processes as the host's `ps` shows them,
//! which is what Docker does (moby `daemon/top_unix.go`): the pids come
//! from the runtime's `ps`, then `ps <args> -q<pids>` runs on the host
//! (`-ef` by default) and only the rows whose PID column names one of the
//! container's processes are kept.

use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::model::State;
use crate::Engine;

/// The `ps` output of the container's processes: column titles and rows
/// (the last column keeps its spaces, like the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessList {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

impl Engine {
    pub fn top(&self, key: &str, ps_args: &[String]) -> Result<ProcessList> {
        let c = self.find(key)?;
        if c.state != State::Running {
            return Err(Error::StateConflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let pids = self.runtime_for(&c).ps(&c.id)?;
        let args: Vec<String> = if ps_args.is_empty() {
            vec!["-ef".into()]
        } else {
            ps_args.to_vec()
        };
        let quick = format!(
            "-q{}",
            pids.iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        // Some options (f) refuse -q; Docker then retries without it.
        let output = match run_ps(&args, Some(&quick)) {
            Ok(out) => out,
            Err(_) => run_ps(&args, None)?,
        };
        parse_ps(&output, &pids)
    }
}

fn run_ps(args: &[String], quick: Option<&str>) -> Result<String> {
    let mut cmd = Command::new("ps");
    cmd.args(args).args(quick).stdin(Stdio::null());
    let out = cmd.output().map_err(|e| Error::io("run", "ps", e))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or("").to_owned();
        return Err(Error::StateConflict(format!(
            "ps: {}",
            if first.is_empty() {
                out.status.to_string()
            } else {
                first
            }
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// moby's `parsePSOutput`: find the PID column, keep the container's rows
/// (and the thread rows, PID `-`, that follow one of them).
fn parse_ps(output: &str, pids: &[i32]) -> Result<ProcessList> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let pid_index = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::StateConflict("Couldn't find PID field in ps output".into()))?;
    let mut processes = Vec::new();
    let mut after_ours = false;
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() <= pid_index {
            continue;
        }
        let ours = if fields[pid_index] == "-" {
            after_ours
        } else {
            let pid: i32 = fields[pid_index].parse().map_err(|_| {
                Error::StateConflict(format!(
                    "Unexpected pid '{}': invalid syntax",
                    fields[pid_index]
                ))
            })?;
            after_ours = pids.contains(&pid);
            after_ours
        };
        if ours {
            let n = titles.len().max(1) - 1;
            let mut row: Vec<String> = fields.iter().take(n).map(|f| (*f).to_owned()).collect();
            row.push(fields.get(n..).map(|r| r.join(" ")).unwrap_or_default());
            processes.push(row);
        }
    }
    Ok(ProcessList { titles, processes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_containers_rows() {
        let out = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                   root           1       0  0 08:00 ?        00:00:01 /sbin/init\n\
                   root        4242    4200  0 08:01 ?        00:00:00 sleep 1000\n";
        let list = parse_ps(out, &[4242]).unwrap();
        assert_eq!(list.titles.len(), 8);
        assert_eq!(list.processes.len(), 1);
        assert_eq!(list.processes[0][1], "4242");
        assert_eq!(list.processes[0][7], "sleep 1000");
        assert!(parse_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }
}

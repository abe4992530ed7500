//! The `run`/`create` flags for the container's security and process
//! settings (flattened into `CreateArgs`), and Docker's `--env-file` /
//! `--label-file` reader. The engine checks the values (berth-engine
//! `security.rs`).

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use berth_engine::SecurityOptions;
use clap::Args;

#[derive(Debug, Args, Default)]
pub struct SecurityArgs {
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Security options (seccomp=unconfined|PROFILE.json, apparmor=PROFILE, no-new-privileges[=true|false], systempaths=unconfined)
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Mount a tmpfs directory (PATH[:OPTIONS])
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS])
    #[arg(long = "device")]
    pub devices: Vec<String>,
    /// Size of /dev/shm (e.g. 128m)
    #[arg(long)]
    pub shm_size: Option<String>,
    /// Ulimit options (NAME=SOFT[:HARD])
    #[arg(long = "ulimit")]
    pub ulimits: Vec<String>,
    /// Tune the host's OOM preferences (-1000 to 1000)
    #[arg(long, allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Sysctl options (KEY=VALUE)
    #[arg(long = "sysctl")]
    pub sysctls: Vec<String>,
    /// Add additional groups to join
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Set meta data on a container (KEY=VALUE)
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file")]
    pub label_files: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_files: Vec<String>,
}

impl SecurityArgs {
    pub fn options(&self) -> SecurityOptions {
        SecurityOptions {
            privileged: self.privileged,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            security_opt: self.security_opt.clone(),
            read_only: self.read_only,
            tmpfs: self.tmpfs.clone(),
            devices: self.devices.clone(),
            shm_size: self.shm_size.clone(),
            ulimits: self.ulimits.clone(),
            oom_score_adj: self.oom_score_adj,
            sysctls: self.sysctls.clone(),
            group_add: self.group_add.clone(),
            init: self.init,
        }
    }

    /// The label files' entries, then `-l`s (later wins).
    pub fn labels(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for f in &self.label_files {
            out.extend(read_key_value_file(Path::new(f))?);
        }
        out.extend(self.labels.iter().cloned());
        Ok(out)
    }

    /// The env files' entries, to go before the `-e`s. A bare `NAME` takes
    /// the caller's value, as with `-e NAME`.
    pub fn env(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for f in &self.env_files {
            out.extend(read_key_value_file(Path::new(f))?);
        }
        Ok(out)
    }
}

/// Docker's `KEY=VALUE` file format: one entry a line, `#` comments and
/// blank lines skipped, leading whitespace ignored, no whitespace in keys.
pub fn read_key_value_file(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read(path).with_context(|| format!("open {}", path.display()))?;
    let text =
        String::from_utf8(text).map_err(|_| anyhow!("{}: invalid utf8 bytes", path.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split_once('=').map_or(line.trim_end(), |(k, _)| k);
        if key.is_empty() {
            return Err(anyhow!(
                "{}: no variable name on line {}: {line:?}",
                path.display(),
                n + 1
            ));
        }
        if key.contains(char::is_whitespace) {
            return Err(anyhow!(
                "{}: variable '{key}' contains whitespaces",
                path.display()
            ));
        }
        out.push(if line.contains('=') {
            line.to_owned()
        } else {
            key.to_owned()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_files() {
        let dir = std::env::temp_dir().join(format!("berth-kv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("env");
        std::fs::write(&f, "\u{feff}# comment\n\n  A=1\nB= two words \nC\nD=\n").unwrap();
        assert_eq!(
            read_key_value_file(&f).unwrap(),
            ["A=1", "B= two words ", "C", "D="]
        );
        std::fs::write(&f, "BAD KEY=1\n").unwrap();
        assert!(read_key_value_file(&f)
            .unwrap_err()
            .to_string()
            .contains("whitespaces"));
        std::fs::write(&f, "=1\n").unwrap();
        assert!(read_key_value_file(&f).is_err());
        assert!(read_key_value_file(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

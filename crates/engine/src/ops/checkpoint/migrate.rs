//! `berth migrate C DEST`: a running container moves to another berth
//! root, on this host or another, with its processes and memory.
//!
//! DEST is a command that runs berth on the destination (`'ssh host
//! berth'`, `'berth --root /var/lib/berth2'`) or a local root's directory.
//! Everything that can fail before the container stops is checked first,
//! through that command: the name is free there, a user network exists,
//! and the image is there (else it is sent: `save` into the destination's
//! `load`). Then the container is checkpointed in place (its processes
//! stop here), the export streams into the destination's `container
//! restore --import -`, and only when that restored the source is left
//! stopped (or removed with `--rm`). If the destination fails, the source
//! is restored from the same checkpoint: it runs on with nothing lost.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{CheckpointOptions, RestoreOptions, IN_PLACE};
use crate::error::{Error, Result};
use crate::model::{Container, NetworkMode};
use crate::ops::images::ArchiveFormat;
use crate::Engine;

/// Where a migration goes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A berth root on this host: this berth binary with `--root DIR`.
    Root(PathBuf),
    /// A shell command line that runs berth there; berth's arguments are
    /// appended.
    Command(String),
}

impl Destination {
    /// An existing directory is a local root; anything else a command.
    pub fn parse(dest: &str) -> Destination {
        let path = std::path::Path::new(dest);
        if path.is_absolute() && path.is_dir() {
            Destination::Root(path.to_owned())
        } else {
            Destination::Command(dest.to_owned())
        }
    }

    fn command(&self, args: &[&str]) -> Result<Command> {
        Ok(match self {
            Destination::Root(dir) => {
                let exe = std::env::current_exe().map_err(|e| Error::io("find", "berth", e))?;
                let mut c = Command::new(exe);
                c.arg("--root").arg(dir).args(args);
                c
            }
            Destination::Command(line) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(format!("{line} \"$@\""))
                    .arg("berth-migrate")
                    .args(args);
                c
            }
        })
    }

    fn describe(&self) -> String {
        match self {
            Destination::Root(dir) => dir.display().to_string(),
            Destination::Command(line) => format!("'{line}'"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub destination: Destination,
    /// `--name`: the container's name there (else its own).
    pub name: Option<String>,
    /// `--rm`: remove the source container once the destination runs it.
    pub remove: bool,
    /// `-p`: the ports published there instead of the container's own
    /// (`run -p`'s syntax, checked there).
    pub publish: Vec<String>,
    /// `--tcp-established`: the connections come back open there (their
    /// peers must reach the address at the destination), not closed.
    pub tcp_established: bool,
}

/// What a migration did.
#[derive(Debug, Clone)]
pub struct Migrated {
    /// The container's id at the destination.
    pub id: String,
    /// Whether the image was sent first.
    pub image_sent: bool,
    /// From the dump's start to the destination's restore returning: the
    /// time the container's processes did not run.
    pub downtime: Duration,
}

/// A destination command's result: its stdout, or one line saying why
/// it failed.
fn finish(child: Child, dest: &Destination, what: &str) -> Result<String> {
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("wait for", "the destination's berth", e))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no error output")
        .trim_start_matches("Error: ")
        .to_owned();
    Err(Error::Migration(format!(
        "{what} at the destination {} failed ({}): {last}",
        dest.describe(),
        out.status
    )))
}

impl Engine {
    /// `migrate C DEST`.
    pub fn migrate(&mut self, key: &str, o: &MigrateOptions) -> Result<Migrated> {
        let c = self.find(key)?;
        self.check_exportable(&c)?;
        let name = o.name.clone().unwrap_or_else(|| c.name.clone());
        crate::model::validate_name(&name)?;
        let dest = &o.destination;
        // Before anything stops: the destination answers, the name is
        // free, the network exists, the image is there.
        self.check_destination(&c, &name, dest)?;
        let image_sent = self.send_image(&c, dest)?;

        let began = Instant::now();
        // A service keeps being asked while it moves: its connections are
        // dumped (and come back closed there unless `--tcp-established`:
        // their clients reconnect), one not yet accepted is dropped (its
        // client retries), rather than failing the dump.
        let opts = CheckpointOptions {
            tcp_established: true,
            tcp_skip_in_flight: true,
            ..Default::default()
        };
        let dir = self.bundle(&c.id).file(IN_PLACE);
        // The export needs only the images, the upper directory and the
        // volumes: it streams while the monitor records the exit here.
        self.dump_to(&c, &dir, &opts)?;
        tracing::debug!(ms = began.elapsed().as_millis() as u64, "dumped");
        // Back here the address and its routes are the same: connections
        // come back open.
        let back_here = RestoreOptions {
            tcp_established: true,
            ..Default::default()
        };
        let streamed = self.stream_to(&c, &name, o, dest);
        let downtime = began.elapsed();
        // A restore here (or --rm) needs the exit recorded; a slow record
        // is no failure of a move that happened.
        let recorded = self.wait_exit_recorded(&c, &opts);
        if streamed.is_err() {
            recorded?;
        }
        let c = self.find(&c.id)?;
        match streamed {
            Ok(id) => {
                // The checkpoint lives on there now: no second copy here.
                let _ = std::fs::remove_dir_all(&dir);
                if o.remove {
                    self.remove(&c.id, false, false).map_err(|e| {
                        Error::Migration(format!(
                            "{} runs at the destination as {id}, but removing it here failed: {e}",
                            c.name
                        ))
                    })?;
                }
                Ok(Migrated {
                    id,
                    image_sent,
                    downtime,
                })
            }
            Err(e) => match self.restore(&c.id, &back_here) {
                Ok(_) => Err(Error::Migration(format!("{e}; {} runs here again", c.name))),
                Err(back) => Err(Error::Migration(format!(
                    "{e}; restoring {} here failed too ({back}): its checkpoint is kept, \
                     `berth container restore {}` retries",
                    c.name, c.name
                ))),
            },
        }
    }

    fn check_destination(&self, c: &Container, name: &str, dest: &Destination) -> Result<()> {
        let probe = |args: &[&str]| -> Result<std::process::Output> {
            dest.command(args)?
                .stdin(Stdio::null())
                .output()
                .map_err(|e| Error::io("run", dest.describe(), e))
        };
        let version = probe(&["version", "--format", "{{.Client.Version}}"])?;
        if !version.status.success() {
            let err = String::from_utf8_lossy(&version.stderr);
            return Err(Error::Migration(format!(
                "the destination {} does not run berth: {}",
                dest.describe(),
                err.lines().last().unwrap_or("no output")
            )));
        }
        if probe(&["inspect", "--type", "container", name])?
            .status
            .success()
        {
            return Err(Error::Migration(format!(
                "a container named {name} exists at the destination {}: give --name",
                dest.describe()
            )));
        }
        // The import refuses a volume it would fill that exists (Podman's
        // rule): found here, before the container stops.
        for v in self.exported_volumes(c, false)? {
            if !v.anonymous && probe(&["volume", "inspect", &v.name])?.status.success() {
                return Err(Error::Migration(format!(
                    "volume {} exists at the destination {}: its files would not be restored there \
                     (remove it there first)",
                    v.name,
                    dest.describe()
                )));
            }
        }
        if let NetworkMode::User(net) = c.config.network() {
            if !probe(&["network", "inspect", net])?.status.success() {
                return Err(Error::Migration(format!(
                    "network {net} does not exist at the destination {}: create it there first",
                    dest.describe()
                )));
            }
        }
        Ok(())
    }

    /// Sends `c`'s image unless the destination has it (by id). Its tag
    /// goes with it when the destination has no image under that name.
    fn send_image(&self, c: &Container, dest: &Destination) -> Result<bool> {
        let id_of = |reference: &str| -> Result<Option<String>> {
            let out = dest
                .command(&["image", "inspect", "--format", "{{.Id}}", reference])?
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .map_err(|e| Error::io("run", dest.describe(), e))?;
            Ok(out
                .status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()))
        };
        let by_name = id_of(&c.config.image)?;
        if by_name.as_deref() == Some(c.image_id.as_str())
            || id_of(&c.image_id)?.as_deref() == Some(c.image_id.as_str())
        {
            return Ok(false);
        }
        // A name there for another image stays as it is.
        let what = match by_name {
            None if self
                .images
                .resolve(&c.config.image)
                .is_ok_and(|(id, _)| id.to_string() == c.image_id) =>
            {
                c.config.image.clone()
            }
            _ => c.image_id.clone(),
        };
        let mut child = dest
            .command(&["load", "-q"])?
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("run", dest.describe(), e))?;
        let stdin = child.stdin.take().expect("piped");
        let sent = self.save_images(&[what], ArchiveFormat::DockerArchive, stdin);
        finish(child, dest, "loading the image")?;
        sent?;
        Ok(true)
    }

    /// Streams `c`'s export into the destination's import; its new id.
    fn stream_to(
        &self,
        c: &Container,
        name: &str,
        o: &MigrateOptions,
        dest: &Destination,
    ) -> Result<String> {
        let dir = self.bundle(&c.id).file(IN_PLACE);
        let connections = if o.tcp_established {
            "--tcp-established"
        } else {
            "--tcp-close"
        };
        let mut args = vec![
            "container",
            "restore",
            "--import",
            "-",
            connections,
            "--name",
            name,
        ];
        for p in &o.publish {
            args.extend(["--publish", p.as_str()]);
        }
        let mut child = dest
            .command(&args)?
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("run", dest.describe(), e))?;
        let stdin = child.stdin.take().expect("piped");
        let written = self.write_export(c, &dir, stdin);
        tracing::debug!("export sent");
        // The destination's own error says more than a broken pipe.
        let id = finish(child, dest, "the restore")?;
        written?;
        Ok(id)
    }
}

//! A container's volumes and binds: which mounts `create` gives it
//! (`plan`, pure), and what its start and end do to them (the local
//! driver's option mounts, the copy of the image's content into an empty
//! volume, the anonymous volumes `rm -v` and `--rm` remove).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::mounts::{MountKind, MountPoint, MountRequest, Propagation, Volume};
use crate::model::{Container, State};
use crate::Engine;

/// Docker's label on the volumes it makes for `-v /path` and `VOLUME`.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// What `create` mounts, and the volumes it must record first.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub mounts: Vec<MountPoint>,
    /// Named volumes (made if absent) and new anonymous ones.
    pub volumes: Vec<Volume>,
}

/// `--volumes-from`: the other container's mounts and the mode asked
/// (`None`: each keeps its own).
pub struct From<'a> {
    pub mounts: &'a [MountPoint],
    pub rw: Option<bool>,
}

/// Docker's order (moby `registerMountPoints`): `--volumes-from` first,
/// then `-v`/`--mount`, which replace one at the same place, then the
/// image's `VOLUME`s at places nothing mounts. `volume_dir` gives a
/// volume's `_data`; `new_name` a fresh anonymous volume's name.
pub fn plan(
    requests: &[MountRequest],
    from: &[From<'_>],
    image_volumes: &[String],
    volume_dir: &dyn Fn(&str) -> PathBuf,
    new_name: &mut dyn FnMut() -> Result<String>,
    created_at: &str,
) -> Result<Plan> {
    let mut plan = Plan::default();
    for f in from {
        for m in f.mounts {
            let mut m = m.clone();
            if let Some(rw) = f.rw {
                m.rw = rw;
            }
            // The other container's anonymous volume is shared, not this
            // one's to remove.
            m.anonymous = false;
            put(&mut plan.mounts, m);
        }
    }
    for r in requests {
        let m = match r.kind {
            MountKind::Bind => MountPoint {
                kind: MountKind::Bind,
                source: r.source.clone(),
                destination: r.target.clone(),
                mode: r.mode.clone(),
                rw: !r.readonly,
                propagation: Some(r.propagation.unwrap_or(Propagation::Rprivate)),
                bind_nonrecursive: r.bind_nonrecursive,
                ..Default::default()
            },
            MountKind::Volume => {
                let anonymous = r.source.is_empty();
                let name = if anonymous {
                    new_name()?
                } else {
                    r.source.clone()
                };
                let mut labels = r.volume_labels.clone();
                if anonymous {
                    labels.insert(ANONYMOUS_LABEL.into(), String::new());
                }
                plan.volumes.push(Volume {
                    name: name.clone(),
                    driver: "local".into(),
                    options: r.volume_opts.clone(),
                    labels,
                    created_at: created_at.into(),
                    anonymous,
                });
                volume_mount(name, r, volume_dir, anonymous)
            }
            MountKind::Tmpfs => MountPoint {
                kind: MountKind::Tmpfs,
                destination: r.target.clone(),
                mode: r.mode.clone(),
                rw: !r.readonly,
                tmpfs_size: r.tmpfs_size,
                tmpfs_mode: r.tmpfs_mode,
                ..Default::default()
            },
        };
        put(&mut plan.mounts, m);
    }
    for place in image_volumes {
        let place = clean(place);
        if plan.mounts.iter().any(|m| m.destination == place) {
            continue;
        }
        let name = new_name()?;
        plan.volumes.push(Volume {
            name: name.clone(),
            driver: "local".into(),
            options: BTreeMap::new(),
            labels: BTreeMap::from([(ANONYMOUS_LABEL.into(), String::new())]),
            created_at: created_at.into(),
            anonymous: true,
        });
        let r = MountRequest {
            kind: MountKind::Volume,
            target: place,
            ..Default::default()
        };
        plan.mounts.push(volume_mount(name, &r, volume_dir, true));
    }
    Ok(plan)
}

fn volume_mount(
    name: String,
    r: &MountRequest,
    volume_dir: &dyn Fn(&str) -> PathBuf,
    anonymous: bool,
) -> MountPoint {
    MountPoint {
        kind: MountKind::Volume,
        source: volume_dir(&name).display().to_string(),
        name,
        destination: r.target.clone(),
        driver: "local".into(),
        // Docker shows "z" for a named local volume given no mode
        mode: match (r.mode.is_empty(), anonymous) {
            (true, false) => "z".into(),
            _ => r.mode.clone(),
        },
        rw: !r.readonly,
        volume_nocopy: r.volume_nocopy,
        anonymous,
        ..Default::default()
    }
}

/// Adds a mount, replacing one at the same place.
fn put(list: &mut Vec<MountPoint>, m: MountPoint) {
    list.retain(|x| x.destination != m.destination);
    list.push(m);
}

/// An image's `VOLUME` place as a clean absolute path (`/data/` and
/// `data` are `/data`).
fn clean(place: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in place.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A bind's source for `-v /host:/ctr`: made (as a directory, with its
/// parents) when missing, as Docker does; `--mount type=bind` needs it to
/// exist.
pub fn ensure_bind_source(m: &MountRequest) -> Result<()> {
    let path = Path::new(&m.source);
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && m.create_host_path => {
            std::fs::create_dir_all(path).map_err(|e| Error::io("create", path, e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::invalid(
            "mount",
            format!(
                "invalid mount config for type \"bind\": bind source path does not exist: {}",
                m.source
            ),
        )),
        Err(e) => Err(Error::io("stat", path, e)),
    }
}

impl Engine {
    /// At a start, the image mounted at `rootfs`: each volume with the
    /// local driver's options mounted on its `_data` (unless another
    /// container mounted it already), then an empty volume filled with
    /// what the image has at the place (unless `nocopy`), as Docker does
    /// at every start. Under `<root>/volumes.lock`, so two starts do not
    /// mount or copy into one volume at once.
    pub(crate) fn volumes_prepare(&self, c: &Container, rootfs: &Path) -> Result<()> {
        let volumes: Vec<&MountPoint> = c
            .config
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
            .collect();
        if volumes.is_empty() {
            return Ok(());
        }
        let _lock = self.volumes_lock()?;
        for m in volumes {
            let data = PathBuf::from(&m.source);
            if let Some(options) = self.volume_options(&m.name)? {
                let mounted = berth_volume::is_mounted(&data).map_err(volume_error(&m.name))?;
                if !mounted {
                    berth_volume::mount(&options, &data).map_err(volume_error(&m.name))?;
                }
            }
            if m.volume_nocopy || !berth_volume::is_empty(&data).map_err(volume_error(&m.name))? {
                continue;
            }
            berth_volume::copy_up(rootfs, &m.destination, &data).map_err(|e| {
                Error::Volume(format!(
                    "copying the image's {} into volume {}: {e}",
                    m.destination, m.name
                ))
            })?;
        }
        Ok(())
    }

    /// At an exit: the local driver's option mounts no other live
    /// container uses are unmounted (Docker unmounts at the last user's
    /// stop).
    pub(crate) fn volumes_release(&self, c: &Container) -> Result<()> {
        let mut volumes = c
            .config
            .mounts
            .iter()
            .filter(|m| m.kind == MountKind::Volume)
            .peekable();
        if volumes.peek().is_none() {
            return Ok(());
        }
        let _lock = self.volumes_lock()?;
        for m in volumes {
            if self.volume_options(&m.name)?.is_none() {
                continue;
            }
            let live = self.volume_users(&m.name)?.into_iter().any(|id| {
                id != c.id
                    && self.find(&id).is_ok_and(|o| {
                        matches!(
                            o.state,
                            State::Running | State::Starting | State::Restarting
                        )
                    })
            });
            if !live {
                berth_volume::unmount(Path::new(&m.source)).map_err(volume_error(&m.name))?;
            }
        }
        Ok(())
    }

    /// `rm -v`, `--rm` and a failed create: the container's anonymous
    /// volumes, once no container uses them (another may, through
    /// `--volumes-from`: then it stays, as Docker leaves it). Call after
    /// the container's record is gone. Best effort, as Docker's.
    pub(crate) fn remove_anonymous_volumes(&mut self, c: &Container) {
        let dirs = self.volume_dirs();
        for m in c.config.mounts.iter().filter(|m| m.anonymous) {
            if let Err(e) = self.db.remove_volume(&dirs, &m.name) {
                tracing::warn!(volume = %m.name, error = %e, "anonymous volume kept");
            }
        }
    }

    /// The local driver's options of a volume that needs a mount, parsed.
    fn volume_options(&self, name: &str) -> Result<Option<berth_volume::LocalOptions>> {
        let Some(v) = self.db.volume(name)? else {
            return Ok(None);
        };
        if v.options.is_empty() {
            return Ok(None);
        }
        let options = berth_volume::LocalOptions::parse(&v.options)
            .map_err(|e| Error::Volume(format!("volume {name}: {e}")))?;
        Ok(options.needs_mount().then_some(options))
    }

    fn volumes_lock(&self) -> Result<nix::fcntl::Flock<std::fs::File>> {
        let path = self.root.join("volumes.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io("lock", &path, e.into()))
    }
}

fn volume_error<E: std::fmt::Display>(name: &str) -> impl Fn(E) -> Error + '_ {
    move |e| Error::Volume(format!("volume {name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        PathBuf::from(format!("/v/{name}/_data"))
    }

    fn run(requests: &[MountRequest], from: &[From<'_>], image: &[&str]) -> Plan {
        let mut n = 0;
        let image: Vec<String> = image.iter().map(|s| s.to_string()).collect();
        plan(
            requests,
            from,
            &image,
            &dir,
            &mut || {
                n += 1;
                Ok(format!("anon{n}"))
            },
            "T",
        )
        .unwrap()
    }

    fn volume(source: &str, target: &str) -> MountRequest {
        MountRequest {
            kind: MountKind::Volume,
            source: source.into(),
            target: target.into(),
            ..Default::default()
        }
    }

    #[test]
    fn named_anonymous_and_image_volumes() {
        let p = run(
            &[volume("db", "/data"), volume("", "/cache")],
            &[],
            &["/data/", "/logs"],
        );
        let places: Vec<(&str, &str, bool)> = p
            .mounts
            .iter()
            .map(|m| (m.destination.as_str(), m.name.as_str(), m.anonymous))
            .collect();
        // the image's /data is the named volume's place: no second volume
        assert_eq!(
            places,
            [
                ("/data", "db", false),
                ("/cache", "anon1", true),
                ("/logs", "anon2", true)
            ]
        );
        assert_eq!(p.mounts[0].source, "/v/db/_data");
        assert_eq!(p.mounts[0].driver, "local");
        let names: Vec<_> = p
            .volumes
            .iter()
            .map(|v| (v.name.as_str(), v.anonymous))
            .collect();
        assert_eq!(names, [("db", false), ("anon1", true), ("anon2", true)]);
        assert!(p.volumes[1].labels.contains_key(ANONYMOUS_LABEL));
        assert!(!p.volumes[0].labels.contains_key(ANONYMOUS_LABEL));
    }

    #[test]
    fn binds_default_to_rprivate_and_keep_their_mode() {
        let r = MountRequest {
            kind: MountKind::Bind,
            source: "/srv".into(),
            target: "/srv".into(),
            readonly: true,
            mode: "ro".into(),
            ..Default::default()
        };
        let p = run(&[r], &[], &[]);
        assert_eq!(p.mounts[0].propagation, Some(Propagation::Rprivate));
        assert!(!p.mounts[0].rw);
        assert_eq!(p.mounts[0].mode, "ro");
        assert!(p.volumes.is_empty());
    }

    #[test]
    fn volumes_from_first_own_mounts_replace_them() {
        let theirs = vec![
            MountPoint {
                kind: MountKind::Volume,
                name: "shared".into(),
                destination: "/shared".into(),
                rw: true,
                anonymous: true,
                ..Default::default()
            },
            MountPoint {
                kind: MountKind::Volume,
                name: "old".into(),
                destination: "/data".into(),
                rw: true,
                ..Default::default()
            },
        ];
        let p = run(
            &[volume("mine", "/data")],
            &[From {
                mounts: &theirs,
                rw: Some(false),
            }],
            &["/shared"],
        );
        let got: Vec<(&str, &str, bool, bool)> = p
            .mounts
            .iter()
            .map(|m| (m.destination.as_str(), m.name.as_str(), m.rw, m.anonymous))
            .collect();
        assert_eq!(
            got,
            [
                ("/shared", "shared", false, false),
                ("/data", "mine", true, false)
            ]
        );
        // nothing new for /shared: the image's VOLUME place is mounted
        assert_eq!(p.volumes.len(), 1);
    }

    #[test]
    fn missing_bind_source_made_for_dash_v_refused_for_mount() {
        let tmp = std::env::temp_dir().join(format!("berth-bind-{}", std::process::id()));
        let path = tmp.join("a/b");
        let mut r = MountRequest {
            kind: MountKind::Bind,
            source: path.display().to_string(),
            target: "/x".into(),
            create_host_path: false,
            ..Default::default()
        };
        let err = ensure_bind_source(&r).unwrap_err().to_string();
        assert!(err.contains("bind source path does not exist"), "{err}");
        assert!(!path.exists());
        r.create_host_path = true;
        ensure_bind_source(&r).unwrap();
        assert!(path.is_dir());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}

//! `volume create|ls|inspect|rm|prune` and the volumes of `system df`:
//! volumes as data (store/volumes.rs: a row and `<root>/volumes/<name>/_data`,
//! made and removed together) with Docker's rules and words: the local
//! driver's options (checked and recorded here; mounted at a container's
//! start), the filters of `ls` and `prune`, the refusal to remove a volume
//! a container uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::mounts::Volume;
use crate::ops::volume_attach::ANONYMOUS_LABEL;
use crate::store::volumes::VolumeDirs;
use crate::Engine;

/// The only volume driver.
pub const LOCAL: &str = "local";

/// `volume create`'s request.
#[derive(Debug, Clone, Default)]
pub struct VolumeCreate {
    /// Empty: a random 64-hex name, and the volume is anonymous (Docker
    /// labels it `com.docker.volume.anonymous`).
    pub name: String,
    /// Empty means `local`.
    pub driver: String,
    /// `--opt`: the local driver's `type`, `device`, `o`, `size`.
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// A volume with what `system df` shows of it.
#[derive(Debug, Clone)]
pub struct VolumeUsage {
    pub volume: Volume,
    /// The containers using it.
    pub links: usize,
    /// The bytes of its files; None when they cannot be read.
    pub size: Option<u64>,
}

/// What `volume prune` removed.
#[derive(Debug, Clone, Default)]
pub struct PrunedVolumes {
    pub names: Vec<String>,
    /// The bytes of their files.
    pub bytes: u64,
}

/// Docker's `filters.Args`: a key's values are a set.
type Args = BTreeMap<String, BTreeSet<String>>;

fn args(pairs: &[(String, String)]) -> Args {
    let mut a = Args::new();
    for (k, v) in pairs {
        a.entry(k.clone()).or_default().insert(v.clone());
    }
    a
}

/// Docker's check of the keys (`invalid filter 'k'`).
fn accept(a: &Args, keys: &[&str]) -> Result<()> {
    match a.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(Error::BadRequest(format!("invalid filter '{k}'"))),
        None => Ok(()),
    }
}

/// Go's `%s` of a `[]string`: `[a b]`.
fn go_list(values: &BTreeSet<String>) -> String {
    let v: Vec<&str> = values.iter().map(String::as_str).collect();
    format!("[{}]", v.join(" "))
}

/// Docker's `MatchKVList`: every `k` / `k=v` is among the labels.
fn labels_match(wanted: &BTreeSet<String>, labels: &BTreeMap<String, String>) -> bool {
    if wanted.is_empty() {
        return true;
    }
    !labels.is_empty()
        && wanted.iter().all(|w| match w.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
            None => labels.contains_key(w.as_str()),
        })
}

/// `volume ls --filter`: `dangling=true|false`, `name=` (Docker's regular
/// expression, or the exact name), `label=k` / `label=k=v` (all must
/// match), `driver=`. Several values of one key are alternatives (labels:
/// all), different keys must all match.
#[derive(Debug, Clone, Default)]
pub struct VolumeFilters {
    args: Args,
    dangling: Option<bool>,
}

impl VolumeFilters {
    /// From `--filter K=V` split by the caller (a value without `=` is the
    /// CLI's own error).
    pub fn new(pairs: &[(String, String)]) -> Result<VolumeFilters> {
        let args = args(pairs);
        accept(&args, &["dangling", "name", "driver", "label"])?;
        let dangling = match args.get("dangling") {
            None => None,
            Some(values) => {
                let t = values.contains("1") || values.contains("true");
                let f = values.contains("0") || values.contains("false");
                if t == f {
                    return Err(Error::BadRequest(format!(
                        "invalid filter 'dangling={}'",
                        go_list(values)
                    )));
                }
                Some(t)
            }
        };
        Ok(VolumeFilters { args, dangling })
    }

    fn matches(&self, v: &Volume, used: bool) -> bool {
        let any = |key: &str, f: &dyn Fn(&str) -> bool| {
            self.args
                .get(key)
                .is_none_or(|values| values.iter().any(|x| f(x)))
        };
        any("driver", &|d| d == v.driver)
            && any("name", &|n| {
                n == v.name || regex::Regex::new(n).is_ok_and(|r| r.is_match(&v.name))
            })
            && self
                .args
                .get("label")
                .is_none_or(|l| labels_match(l, &v.labels))
            && self.dangling.is_none_or(|d| d != used)
    }
}

/// `volume prune`'s selection: without `all=true` only anonymous volumes
/// (Docker 23+); `label=` (all must match), `label!=` (a volume matching
/// all of them is kept).
#[derive(Debug, Clone, Default)]
pub struct VolumePruneFilter {
    labels: BTreeSet<String>,
    not_labels: BTreeSet<String>,
}

impl VolumePruneFilter {
    /// From `--filter K=V` split by the caller; `--all` is `all=true`.
    pub fn new(pairs: &[(String, String)]) -> Result<VolumePruneFilter> {
        let args = args(pairs);
        let all = match args.get("all") {
            None => false,
            Some(values) if values.len() > 1 => {
                return Err(Error::BadRequest(format!(
                    "invalid filter 'all={}': only one value is expected",
                    go_list(values)
                )))
            }
            Some(values) => {
                let v = values.first().map(String::as_str).unwrap_or_default();
                go_bool(v).ok_or_else(|| {
                    Error::BadRequest(format!(
                        "invalid filter 'all': strconv.ParseBool: parsing {v:?}: invalid syntax"
                    ))
                })?
            }
        };
        accept(&args, &["label", "label!", "all"])?;
        let mut labels = args.get("label").cloned().unwrap_or_default();
        if !all {
            labels.insert(ANONYMOUS_LABEL.to_owned());
        }
        Ok(VolumePruneFilter {
            labels,
            not_labels: args.get("label!").cloned().unwrap_or_default(),
        })
    }

    fn matches(&self, v: &Volume) -> bool {
        labels_match(&self.labels, &v.labels)
            && (self.not_labels.is_empty() || !labels_match(&self.not_labels, &v.labels))
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Docker's checks of a volume about to be created, in its words (`create
/// NAME: ...`): the driver, the name, the local driver's options. For
/// every new volume (`volume create`, and those `create`/`run` make).
pub(crate) fn check_volume(v: &Volume) -> Result<()> {
    crate::model::mounts::check_volume_driver(&v.driver, &v.name)?;
    crate::model::mounts::validate_volume_name(&v.name)?;
    berth_volume::LocalOptions::parse(&v.options)
        .map(drop)
        .map_err(|e| Error::BadRequest(format!("create {}: {e}", v.name)))
}

/// The bytes of a volume's files as Docker counts them: everything but
/// directories, links not followed, a hard-linked file once. None when
/// the directory cannot be read.
fn data_size(dir: &Path) -> Option<u64> {
    berth_volume::dir_size(dir).ok()
}

fn no_such_volume(name: &str) -> Error {
    Error::Missing(format!("No such volume: {name}"))
}

impl Engine {
    pub(crate) fn volume_dirs(&self) -> VolumeDirs {
        VolumeDirs::new(&self.root)
    }

    /// A volume's files: `<root>/volumes/<name>/_data`, what a container
    /// mounts.
    pub fn volume_path(&self, name: &str) -> PathBuf {
        self.volume_dirs().data(name)
    }

    /// `volume create`: the volume as recorded (print its name). A name
    /// that exists gives the existing volume unchanged, as Docker.
    pub fn create_volume(&mut self, o: &VolumeCreate) -> Result<Volume> {
        let mut v = Volume {
            name: o.name.clone(),
            driver: if o.driver.is_empty() {
                LOCAL.into()
            } else {
                o.driver.clone()
            },
            options: o.options.clone(),
            labels: o.labels.clone(),
            created_at: now_seconds(),
            anonymous: o.name.is_empty(),
        };
        if v.anonymous {
            v.name = crate::model::new_id()?;
            v.labels.insert(ANONYMOUS_LABEL.into(), String::new());
        } else if v.driver == LOCAL && self.db.volume(&v.name)?.is_some() {
            // As it is, whatever the options asked now (Docker).
            return self.db.create_volume(&self.volume_dirs(), &v);
        }
        check_volume(&v)?;
        self.db.create_volume(&self.volume_dirs(), &v)
    }

    /// A volume by name: "No such volume: X".
    pub fn volume(&self, name: &str) -> Result<Volume> {
        self.db.volume(name)?.ok_or_else(|| no_such_volume(name))
    }

    /// `volume ls`: the volumes the filters take, by name.
    pub fn volumes(&self, filters: &VolumeFilters) -> Result<Vec<Volume>> {
        let users = self.db.volume_users()?;
        Ok(self
            .db
            .volumes()?
            .into_iter()
            .filter(|v| filters.matches(v, users.contains_key(&v.name)))
            .collect())
    }

    /// The containers (ids) using the volume.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self.db.volume_users()?.remove(name).unwrap_or_default())
    }

    /// `volume inspect`'s document (Docker's `volume.Volume`).
    pub fn inspect_volume_json(&self, v: &Volume) -> Value {
        let map_or_null = |m: &BTreeMap<String, String>| {
            if m.is_empty() {
                Value::Null
            } else {
                json!(m)
            }
        };
        json!({
            "CreatedAt": v.created_at,
            "Driver": v.driver,
            "Labels": map_or_null(&v.labels),
            "Mountpoint": self.volume_path(&v.name).display().to_string(),
            "Name": v.name,
            "Options": map_or_null(&v.options),
            "Scope": "local",
        })
    }

    /// `volume rm`: refused while any container uses it, even with
    /// `force`, which only makes a missing volume no error (Docker).
    pub fn remove_volume(&mut self, name: &str, force: bool) -> Result<()> {
        match self.db.remove_volume(&self.volume_dirs(), name)? {
            Some(_) => Ok(()),
            None if force => Ok(()),
            None => Err(no_such_volume(name)),
        }
    }

    /// `volume prune`: the local volumes no container uses, that have no
    /// mount options (no space to reclaim there, as Docker) and that the
    /// filter takes; each checked again as it is removed.
    pub fn prune_volumes(&mut self, filter: &VolumePruneFilter) -> Result<PrunedVolumes> {
        let users = self.db.volume_users()?;
        let mut pruned = PrunedVolumes::default();
        for v in self.db.volumes()? {
            if v.driver != LOCAL
                || !v.options.is_empty()
                || users.contains_key(&v.name)
                || !filter.matches(&v)
            {
                continue;
            }
            let size = data_size(&self.volume_path(&v.name)).unwrap_or(0);
            match self.db.remove_volume(&self.volume_dirs(), &v.name) {
                Ok(Some(_)) => {
                    pruned.names.push(v.name);
                    pruned.bytes += size;
                }
                // Gone, or taken into use, meanwhile.
                Ok(None) | Err(Error::StateConflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(pruned)
    }

    /// `system df`'s volumes: the local ones without mount options (their
    /// files are elsewhere), by name.
    pub fn volume_usage(&self) -> Result<Vec<VolumeUsage>> {
        let users = self.db.volume_users()?;
        Ok(self
            .db
            .volumes()?
            .into_iter()
            .filter(|v| v.driver == LOCAL && v.options.is_empty())
            .map(|v| VolumeUsage {
                links: users.get(&v.name).map_or(0, Vec::len),
                size: data_size(&self.volume_path(&v.name)),
                volume: v,
            })
            .collect())
    }
}

/// Now in RFC 3339 with whole seconds (Docker's `CreatedAt`).
fn now_seconds() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    berth_image::time::format_rfc3339(secs, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    fn check(name: &str, driver: &str, o: &[(&str, &str)]) -> std::result::Result<(), String> {
        check_volume(&Volume {
            name: name.into(),
            driver: driver.into(),
            options: opts(o),
            ..Default::default()
        })
        .map_err(|e| e.to_string())
    }

    #[test]
    fn names_options_and_drivers_in_dockers_words() {
        assert_eq!(check("db-1_x.y", "local", &[]), Ok(()));
        assert_eq!(check("ab", "", &[]), Ok(()));
        assert_eq!(
            check("a", "local", &[]),
            Err("create a: volume name is too short, names should be at least two alphanumeric characters".into())
        );
        assert_eq!(
            check("a/b", "local", &[]),
            Err("create a/b: \"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path".into())
        );
        assert!(check("_ab", "local", &[]).is_err());
        assert!(check("ab c", "local", &[]).is_err());
        assert_eq!(
            check("v", "nfs", &[]),
            Err("create v: error looking up volume plugin nfs: plugin \"nfs\" not found (berth has only the \"local\" volume driver)".into())
        );
        assert_eq!(
            check("vv", "local", &[("foo", "1")]),
            Err("create vv: invalid option: \"foo\"".into())
        );
        let o = |o: &[(&str, &str)]| {
            berth_volume::LocalOptions::parse(&opts(o))
                .map(drop)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            o(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")]),
            Ok(())
        );
        assert_eq!(
            o(&[("type", "none"), ("device", "/srv"), ("o", "bind")]),
            Ok(())
        );
        assert_eq!(
            o(&[("type", "tmpfs")]),
            Err("missing required option: \"device\"".into())
        );
        assert_eq!(
            o(&[("device", "/x")]),
            Err("missing required option: \"type\"".into())
        );
        assert_eq!(
            o(&[("o", "size=1m")]),
            Err("missing required option: \"device\"".into())
        );
        assert_eq!(
            o(&[("o", "x"), ("device", "d")]),
            Err("missing required option: \"type\"".into())
        );
        assert_eq!(o(&[("size", "0")]), Ok(()));
        assert_eq!(
            o(&[("size", "10m")]),
            Err("quota size requested but no quota support".into())
        );
        assert_eq!(o(&[("size", "zz")]), Err("invalid size: 'zz'".into()));
        let cifs = |d: &str| o(&[("type", "cifs"), ("device", d)]);
        assert_eq!(cifs("//server/share"), Ok(()));
        assert_eq!(cifs("//user@server/share"), Ok(()));
        assert_eq!(
            cifs("//server:445/share"),
            Err("port not allowed in CIFS device URL, include 'port' in 'o='".into())
        );
        assert!(cifs("//server:x/share")
            .unwrap_err()
            .contains("invalid port \":x\" after host"));
    }

    fn vol(name: &str, labels: &[(&str, &str)]) -> Volume {
        Volume {
            name: name.into(),
            driver: LOCAL.into(),
            labels: opts(labels),
            ..Default::default()
        }
    }

    #[test]
    fn ls_filters_as_docker() {
        let f = |p: &[(&str, &str)]| VolumeFilters::new(&pairs(p)).unwrap();
        let v = vol("data-1", &[("team", "a"), ("env", "prod")]);
        assert!(f(&[]).matches(&v, true));
        assert!(f(&[("name", "data-1")]).matches(&v, false));
        assert!(f(&[("name", "ata")]).matches(&v, false));
        assert!(f(&[("name", "^data-[0-9]$")]).matches(&v, false));
        assert!(!f(&[("name", "^ata")]).matches(&v, false));
        assert!(f(&[("name", "zzz"), ("name", "data")]).matches(&v, false));
        assert!(f(&[("label", "team"), ("label", "env=prod")]).matches(&v, false));
        assert!(!f(&[("label", "team"), ("label", "env=dev")]).matches(&v, false));
        assert!(!f(&[("label", "team")]).matches(&vol("x", &[]), false));
        assert!(f(&[("driver", "local")]).matches(&v, false));
        assert!(!f(&[("driver", "nfs")]).matches(&v, false));
        assert!(f(&[("dangling", "true")]).matches(&v, false));
        assert!(!f(&[("dangling", "1")]).matches(&v, true));
        assert!(f(&[("dangling", "false")]).matches(&v, true));
        let err = |p: &[(&str, &str)]| VolumeFilters::new(&pairs(p)).unwrap_err().to_string();
        assert_eq!(err(&[("foo", "x")]), "invalid filter 'foo'");
        assert_eq!(
            err(&[("dangling", "maybe")]),
            "invalid filter 'dangling=[maybe]'"
        );
        assert_eq!(
            err(&[("dangling", "true"), ("dangling", "0")]),
            "invalid filter 'dangling=[0 true]'"
        );
    }

    #[test]
    fn prune_takes_anonymous_volumes_unless_all() {
        let f = |p: &[(&str, &str)]| VolumePruneFilter::new(&pairs(p)).unwrap();
        let anon = vol("anon", &[(ANONYMOUS_LABEL, ""), ("team", "a")]);
        let named = vol("named", &[("team", "a")]);
        assert!(f(&[]).matches(&anon));
        assert!(!f(&[]).matches(&named));
        assert!(f(&[("all", "true")]).matches(&named));
        assert!(!f(&[("all", "0")]).matches(&named));
        assert!(f(&[("all", "1"), ("label", "team=a")]).matches(&named));
        assert!(!f(&[("all", "1"), ("label", "team=b")]).matches(&named));
        assert!(!f(&[("all", "1"), ("label!", "team")]).matches(&named));
        assert!(f(&[("all", "1"), ("label!", "team=b")]).matches(&named));
        // label!: kept only when all of them match
        assert!(f(&[("all", "1"), ("label!", "team"), ("label!", "x")]).matches(&named));
        assert!(f(&[("all", "1"), ("label!", "x")]).matches(&vol("bare", &[])));
        let err = |p: &[(&str, &str)]| VolumePruneFilter::new(&pairs(p)).unwrap_err().to_string();
        assert_eq!(err(&[("until", "1h")]), "invalid filter 'until'");
        assert_eq!(
            err(&[("all", "maybe")]),
            "invalid filter 'all': strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
        assert_eq!(
            err(&[("all", "1"), ("all", "true")]),
            "invalid filter 'all=[1 true]': only one value is expected"
        );
    }

    #[test]
    fn sizes_count_files_once_and_skip_directories() {
        let dir = std::env::temp_dir().join(format!(
            "berth-volume-size-{}-{}",
            std::process::id(),
            &crate::model::new_id().unwrap()[..8]
        ));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a"), vec![0u8; 1000]).unwrap();
        std::fs::write(dir.join("sub/b"), vec![0u8; 24]).unwrap();
        std::fs::hard_link(dir.join("a"), dir.join("sub/a-again")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).unwrap();
        let link_len = std::fs::symlink_metadata(dir.join("link")).unwrap().len();
        assert_eq!(data_size(&dir), Some(1024 + link_len));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(data_size(&dir), None);
    }
}

//! The image verbs: one `Engine` method per operation the CLI (and later
//! an API server) offers: pull with progress events, push, login/logout,
//! tag, list, inspect, history, save, load, import, commit, prune, and the
//! two policies that involve containers: `ensure_image` (`run`/`create
//! --pull`) and `remove_image` (`rmi` of an image a container uses). The
//! image crate's types a caller needs are re-exported here
//! (`berth_engine::image`), so no caller links `berth-image` itself.

use std::io::{Read, Write};
use std::path::PathBuf;

use berth_image::registry::{self, AuthFile, PullOptions, RegistryOptions};

pub use berth_image::archive::{Format as ArchiveFormat, Loaded};
pub use berth_image::build::{CacheUsage, Compression};
pub use berth_image::commit::CommitOptions;
pub use berth_image::import::ImportOptions;
pub use berth_image::platform::Platform;
pub use berth_image::reference::Reference;
pub use berth_image::registry::{Credentials, Direction, Event, Progress, Pulled, Pushed, Quiet};
pub use berth_image::spec::{Descriptor, ImageConfig};
pub use berth_image::store::Removed;
pub use berth_image::{time, Digest};

pub use crate::ops::image_list::ImageFilters;

use crate::error::{Error, Result};
use crate::model::{Container, State};
use crate::Engine;

/// Layers pushed at once.
const PUSH_CONCURRENCY: usize = 5;

/// `run`/`create --pull`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull even when the image is there.
    Always,
    /// Pull when it is not there (or not for the platform asked).
    Missing,
    /// Never pull; a platform mismatch is an error.
    Never,
}

impl std::str::FromStr for PullPolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<PullPolicy> {
        match s {
            "always" => Ok(PullPolicy::Always),
            "missing" => Ok(PullPolicy::Missing),
            "never" => Ok(PullPolicy::Never),
            other => Err(Error::BadRequest(format!(
                "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
            ))),
        }
    }
}

/// What `ensure_image` reports while it pulls (Docker prints these).
pub enum PullStep<'a> {
    /// About to pull; `local` says whether some image had the name.
    Pulling {
        reference: &'a Reference,
        local: bool,
    },
    Pulled {
        reference: &'a Reference,
        pulled: &'a Pulled,
    },
}

/// One image of `images`.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub id: Digest,
    /// Full references pointing at it.
    pub tags: Vec<Reference>,
    /// The manifest it was recorded from.
    pub manifest: Descriptor,
    /// Bytes of unpacked content over all layers.
    pub size: u64,
    /// The config's `created` (RFC 3339), empty when unknown.
    pub created: String,
    /// A build step's image (`images` shows it with `-a` only).
    pub intermediate: bool,
    /// The config's labels.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// One step of an image's history, as its config records it (bottom
/// first), with the size of the layer it made.
#[derive(Debug, Clone)]
pub struct HistoryStep {
    pub created: String,
    pub created_by: String,
    pub comment: String,
    pub empty_layer: bool,
    pub size: u64,
}

/// `image inspect`'s facts.
#[derive(Debug, Clone)]
pub struct ImageDetails {
    pub id: Digest,
    pub tags: Vec<Reference>,
    pub manifest: Descriptor,
    pub config: ImageConfig,
    pub size: u64,
    /// The layers' directories, top first.
    pub lower_dirs: Vec<PathBuf>,
}

/// What `commit` was asked for (the container's own settings are added).
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    pub reference: Option<String>,
    /// `--change` instructions.
    pub changes: Vec<String>,
    pub author: Option<String>,
    pub comment: Option<String>,
    /// Freeze a running container meanwhile.
    pub pause: bool,
}

/// A name and id the image store knows: the id, its layers' chain ids
/// (bottom first) and its size.
#[derive(Debug, Clone)]
pub struct ImageRef {
    pub id: String,
    pub chain: Vec<String>,
    pub size: u64,
}

/// How a request reaches a registry: TLS verification, and credentials
/// sent with it (the API's `X-Registry-Auth`) that take the place of the
/// ones `login` stored.
#[derive(Debug, Clone)]
pub struct RegistryAccess {
    pub tls_verify: bool,
    pub credentials: Option<Credentials>,
}

impl RegistryAccess {
    /// dockerd's default for a client that says nothing about TLS: its
    /// `insecure-registries` default, the loopback network (HTTPS is
    /// tried first, plain HTTP allowed), HTTPS verified elsewhere.
    pub fn daemon_default(domain: &str) -> RegistryAccess {
        let host = domain
            .strip_prefix('[')
            .and_then(|d| d.split_once(']'))
            .map(|(h, _)| h)
            .unwrap_or_else(|| domain.rsplit_once(':').map_or(domain, |(h, _)| h));
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        RegistryAccess {
            tls_verify: !loopback,
            credentials: None,
        }
    }
}

/// Docker's `RepoDigests`: `name@digest` for each repository the image
/// is tagged in, with the digest of the manifest it was recorded from.
pub fn repo_digests(tags: &[Reference], manifest: &Digest) -> Vec<String> {
    let mut v: Vec<String> = tags
        .iter()
        .map(|t| format!("{}@{manifest}", t.familiar_name()))
        .collect();
    v.dedup();
    v
}

/// `https://host:5000/` → `host:5000`, as Docker keys its credentials.
pub fn registry_host(server: &str) -> String {
    let s = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    s.trim_end_matches('/').to_owned()
}

impl Engine {
    fn registry_options(&self, tls_verify: bool) -> RegistryOptions {
        self.access_options(&RegistryAccess {
            tls_verify,
            credentials: None,
        })
    }

    fn access_options(&self, access: &RegistryAccess) -> RegistryOptions {
        let mut o = RegistryOptions::new(AuthFile::in_root(&self.root));
        o.tls_verify = access.tls_verify;
        o.credentials = access.credentials.clone();
        o
    }

    /// `pull`: the image `reference` names, for `platform` (the host's
    /// when `None`), with an event per blob to `progress`.
    pub fn pull_image(
        &self,
        reference: &Reference,
        platform: Option<Platform>,
        tls_verify: bool,
        progress: &dyn Progress,
    ) -> Result<Pulled> {
        let access = RegistryAccess {
            tls_verify,
            credentials: None,
        };
        self.pull_image_with(reference, platform, &access, progress)
    }

    /// `pull` as the API asks for it: with the request's registry access.
    pub fn pull_image_with(
        &self,
        reference: &Reference,
        platform: Option<Platform>,
        access: &RegistryAccess,
        progress: &dyn Progress,
    ) -> Result<Pulled> {
        let opts = PullOptions {
            platform,
            ..PullOptions::default()
        };
        let pulled = registry::pull(
            &self.images,
            reference,
            &self.access_options(access),
            &opts,
            progress,
        )?;
        // Docker's: the reference as actor and name.
        let name = reference.familiar();
        self.log_image_event("pull", &name, &name);
        Ok(pulled)
    }

    /// `push`: the local image `reference` names, to that reference.
    pub fn push_image(
        &self,
        reference: &Reference,
        tls_verify: bool,
        progress: &dyn Progress,
    ) -> Result<Pushed> {
        let access = RegistryAccess {
            tls_verify,
            credentials: None,
        };
        self.push_image_with(reference, &access, progress)
    }

    /// `push` as the API asks for it: with the request's registry access.
    pub fn push_image_with(
        &self,
        reference: &Reference,
        access: &RegistryAccess,
        progress: &dyn Progress,
    ) -> Result<Pushed> {
        let pushed = registry::push(
            &self.images,
            reference,
            &self.access_options(access),
            PUSH_CONCURRENCY,
            progress,
        )?;
        let name = reference.familiar();
        self.log_image_event("push", &name, &name);
        Ok(pushed)
    }

    /// `login`: checks the credentials with the registry `host` and
    /// stores them.
    pub fn login(&self, host: &str, tls_verify: bool, creds: Credentials) -> Result<()> {
        Ok(registry::login(
            host,
            &self.registry_options(tls_verify),
            creds,
        )?)
    }

    /// The API's `/auth`: checks the credentials with the registry `host`
    /// without storing them (the client keeps its own).
    pub fn check_login(&self, host: &str, tls_verify: bool, creds: Credentials) -> Result<()> {
        Ok(registry::check_login(
            host,
            &self.registry_options(tls_verify),
            creds,
        )?)
    }

    /// `logout`: forgets `host`'s credentials; false when there were none.
    pub fn logout(&self, host: &str) -> Result<bool> {
        Ok(AuthFile::in_root(&self.root).remove(host)?)
    }

    /// `run`/`create --pull`: makes sure the image is there (and for the
    /// platform asked), pulling as the policy says.
    pub fn ensure_image(
        &self,
        image: &str,
        policy: PullPolicy,
        platform: Option<&Platform>,
        tls_verify: bool,
        report: &mut dyn FnMut(PullStep<'_>),
    ) -> Result<()> {
        let access = |_: &str| RegistryAccess {
            tls_verify,
            credentials: None,
        };
        self.ensure_image_with(image, policy, platform, &access, report)
    }

    /// `ensure_image` with the registry access `access` gives for the
    /// image's registry (a build served by the API: dockerd's TLS
    /// default, the request's credentials).
    pub fn ensure_image_with(
        &self,
        image: &str,
        policy: PullPolicy,
        platform: Option<&Platform>,
        access: &dyn Fn(&str) -> RegistryAccess,
        report: &mut dyn FnMut(PullStep<'_>),
    ) -> Result<()> {
        let local = self.images.resolve(image).ok();
        // The config is read only when a platform is asked for: `run`'s
        // latency matters.
        let mismatch = match (&local, platform) {
            (Some((id, _)), Some(want)) => {
                let (config, _) = self.images.config(id)?;
                let have = Platform {
                    os: config.os.clone(),
                    architecture: config.architecture.clone(),
                    variant: config.variant.clone(),
                    os_version: None,
                };
                (!have.satisfies(want)).then_some(have)
            }
            _ => None,
        };
        let pull = match policy {
            PullPolicy::Always => true,
            PullPolicy::Missing => local.is_none() || mismatch.is_some(),
            PullPolicy::Never => {
                if let (Some(have), Some(want)) = (&mismatch, platform) {
                    return Err(Error::ImageConflict(format!("image with reference {image} was found but does not match the specified platform: wanted {want}, actual: {have}")));
                }
                false
            }
        };
        // An image named by its id is local by definition: never pulled.
        let by_id = local.as_ref().is_some_and(|(id, _)| {
            let hex = image.strip_prefix("sha256:").unwrap_or(image);
            hex.len() >= 4 && id.hex().starts_with(hex)
        });
        if !pull || by_id {
            return Ok(());
        }
        // An id (prefix) is never pulled: it names a local image.
        let reference = match Reference::parse(image) {
            Ok(r) => r,
            Err(_) if local.is_none() => {
                return Err(berth_image::Error::NoSuchImage(image.to_owned()).into())
            }
            Err(_) => return Ok(()),
        };
        report(PullStep::Pulling {
            reference: &reference,
            local: local.is_some(),
        });
        let domain = reference
            .name
            .split_once('/')
            .map_or(reference.name.as_str(), |(d, _)| d);
        let pulled = self
            .pull_image_with(
                &reference,
                platform.cloned(),
                &access(domain),
                &registry::Quiet,
            )
            .map_err(|e| match e {
                Error::Image(source) => Error::Pull {
                    reference: reference.familiar(),
                    source: Box::new(source),
                },
                other => other,
            })?;
        report(PullStep::Pulled {
            reference: &reference,
            pulled: &pulled,
        });
        Ok(())
    }

    /// `tag`.
    pub fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        self.images.tag(source, target)?;
        if let Ok((id, _)) = self.images.resolve(target) {
            let name =
                Reference::parse(target).map_or_else(|_| target.to_owned(), |r| r.familiar());
            self.log_image_event("tag", &id.to_string(), &name);
        }
        Ok(())
    }

    /// `images`: every image, with its tags.
    pub fn list_images(&self) -> Result<Vec<ImageSummary>> {
        Ok(self
            .images
            .list()?
            .into_iter()
            .map(|info| {
                let config = self.images.config(&info.id).ok().map(|(c, _)| c);
                let labels = config
                    .as_ref()
                    .and_then(|c| c.config.as_ref())
                    .and_then(|c| c.labels.clone())
                    .unwrap_or_default();
                let created = config.and_then(|c| c.created).unwrap_or_default();
                ImageSummary {
                    id: info.id,
                    tags: info.tags,
                    manifest: info.record.manifest,
                    size: info.record.size,
                    created,
                    intermediate: info.record.intermediate,
                    labels,
                }
            })
            .collect())
    }

    /// The image `name` (a reference or an id) names, if any.
    pub fn find_image(&self, name: &str) -> Option<ImageRef> {
        let (id, record) = self.images.resolve(name).ok()?;
        Some(ImageRef {
            id: id.to_string(),
            chain: record.chain.iter().map(|d| d.to_string()).collect(),
            size: record.size,
        })
    }

    /// `image inspect`.
    pub fn inspect_image(&self, name: &str) -> Result<ImageDetails> {
        let (id, record) = self.images.resolve(name)?;
        let (config, _) = self.images.config(&id)?;
        let info = self.images.list()?.into_iter().find(|i| i.id == id);
        let state = self.images.index.read()?;
        let lower_dirs = record
            .chain
            .iter()
            .rev()
            .filter_map(|c| state.snapshots.get(c.as_str()))
            .map(|s| self.images.snapshots.fs_path(s.id))
            .collect();
        Ok(ImageDetails {
            id,
            tags: info.map(|i| i.tags).unwrap_or_default(),
            manifest: record.manifest,
            config,
            size: record.size,
            lower_dirs,
        })
    }

    /// `history`: the image's id and its config's history, bottom first.
    pub fn image_history(&self, name: &str) -> Result<(Digest, Vec<HistoryStep>)> {
        let (id, record) = self.images.resolve(name)?;
        let (config, _) = self.images.config(&id)?;
        let state = self.images.index.read()?;
        let mut layer_sizes = record
            .chain
            .iter()
            .map(|c| state.snapshots.get(c.as_str()).map_or(0, |s| s.size));
        let steps = config
            .history
            .iter()
            .map(|h| HistoryStep {
                created: h.created.clone().unwrap_or_default(),
                created_by: h.created_by.clone().unwrap_or_default(),
                comment: h.comment.clone().unwrap_or_default(),
                empty_layer: h.empty_layer,
                size: if h.empty_layer {
                    0
                } else {
                    layer_sizes.next().unwrap_or(0)
                },
            })
            .collect();
        Ok((id, steps))
    }

    /// `save`: an archive of the images `names` name.
    pub fn save_images(
        &self,
        names: &[String],
        format: ArchiveFormat,
        out: impl Write,
    ) -> Result<()> {
        berth_image::archive::save(&self.images, names, format, out)?;
        for n in names {
            if let Ok((id, _)) = self.images.resolve(n) {
                self.log_image_event("save", &id.to_string(), &id.to_string());
            }
        }
        Ok(())
    }

    /// `load`: the images of a docker-archive or OCI archive.
    pub fn load_images(&self, input: impl Read) -> Result<Vec<Loaded>> {
        let loaded = berth_image::archive::load(&self.images, input)?;
        for l in &loaded {
            self.log_image_event("load", &l.id.to_string(), &l.id.to_string());
        }
        Ok(loaded)
    }

    /// `import`: a rootfs tar as a one-layer image.
    pub fn import_image(
        &self,
        input: impl Read,
        name: Option<&Reference>,
        opts: &ImportOptions,
    ) -> Result<Digest> {
        let id = berth_image::import::import(&self.images, input, name, opts)?;
        self.log_image_event("import", &id.to_string(), &id.to_string());
        Ok(id)
    }

    /// `commit`: the container's writable layer on its image as a new
    /// image, with the image's defaults overridden by what the container
    /// was created with.
    pub fn commit_container(&self, c: &Container, r: &CommitRequest) -> Result<Digest> {
        let name = r.reference.as_deref().map(Reference::parse).transpose()?;
        if name.as_ref().is_some_and(|n| n.digest.is_some()) {
            return Err(Error::BadRequest(
                "invalid reference format: a commit cannot be named by digest".into(),
            ));
        }
        let (base_id, _) = self.images.resolve(&c.image_id)?;
        let (base, _) = self.images.config(&base_id)?;
        let mut config = base.config.unwrap_or_default();
        let cfg = &c.config;
        let env: Vec<String> = cfg
            .env
            .iter()
            .filter(|e| !e.starts_with("HOSTNAME="))
            .cloned()
            .collect();
        config.env = (!env.is_empty()).then_some(env);
        config.cmd = (!cfg.cmd.is_empty()).then(|| cfg.cmd.clone());
        config.entrypoint = (!cfg.entrypoint.is_empty()).then(|| cfg.entrypoint.clone());
        config.working_dir = (!cfg.working_dir.is_empty()).then(|| cfg.working_dir.clone());
        config.user = (!cfg.user.is_empty()).then(|| cfg.user.clone());
        config.labels = (!cfg.labels.is_empty()).then(|| cfg.labels.clone());
        config.stop_signal = (!cfg.stop_signal.is_empty()).then(|| cfg.stop_signal.clone());
        let opts = CommitOptions {
            config,
            changes: r.changes.clone(),
            author: r.author.clone(),
            comment: r.comment.clone(),
            created_by: cfg.args().join(" "),
        };
        self.commit(c, name.as_ref(), &opts, r.pause)
    }

    /// `image prune`: dangling images (every unused one with `all`); the
    /// ids removed and the bytes freed.
    pub fn prune_images(&self, all: bool) -> Result<(Vec<Digest>, u64)> {
        let (removed, gc) = self.images.prune(all)?;
        for id in &removed {
            self.log_image_event("delete", &id.to_string(), &id.to_string());
        }
        Ok((removed, gc.bytes))
    }

    /// `rmi`: removes (or untags) the image `name` names, unless a
    /// container uses it: Docker's conflicts. `force` lets a stopped
    /// container's image be untagged (it stays while the container needs
    /// it), never a running one's be deleted by id.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<Removed>> {
        self.image_in_use(name, force)?;
        let id = self.images.resolve(name).map(|(id, _)| id.to_string());
        let removed = self.images.remove(name, force)?;
        // Docker's: the image id as actor and name, for both.
        for r in &removed {
            match (r, &id) {
                (Removed::Untagged(_), Ok(id)) => self.log_image_event("untag", id, id),
                (Removed::Deleted(d), _) => {
                    self.log_image_event("delete", &d.to_string(), &d.to_string())
                }
                (Removed::Untagged(_), Err(_)) => {}
            }
        }
        Ok(removed)
    }

    fn image_in_use(&self, name: &str, force: bool) -> Result<()> {
        let Ok((id, _)) = self.images.resolve(name) else {
            return Ok(()); // the store reports the missing image
        };
        let users: Vec<Container> = self
            .list()?
            .into_iter()
            .filter(|c| c.image_id == id.to_string())
            .collect();
        let Some(first) = users.first() else {
            return Ok(());
        };
        let by_reference = Reference::parse(name)
            .ok()
            .filter(|r| {
                self.images
                    .resolve(&r.to_string())
                    .is_ok_and(|(i, _)| i == id)
            })
            .filter(|_| {
                !id.hex()
                    .starts_with(name.strip_prefix("sha256:").unwrap_or(name))
            });
        let short = id.short().to_owned();
        if let Some(r) = by_reference {
            // Removing one of several tags only untags: allowed.
            let tags = self
                .images
                .list()?
                .into_iter()
                .find(|i| i.id == id)
                .map_or(0, |i| i.tags.len());
            if force || tags > 1 {
                return Ok(());
            }
            return Err(Error::ImageConflict(format!(
                "conflict: unable to remove repository reference \"{}\" (must force) - container {} is using its referenced image {short}",
                r.familiar(),
                &first.id[..12]
            )));
        }
        let stopped = |c: &Container| matches!(c.state, State::Created | State::Exited);
        if let Some(running) = users.iter().find(|c| !stopped(c)) {
            return Err(Error::ImageConflict(format!(
                "conflict: unable to delete {short} (cannot be forced) - image is being used by running container {}",
                &running.id[..12]
            )));
        }
        if !force {
            return Err(Error::ImageConflict(format!(
                "conflict: unable to delete {short} (must be forced) - image is being used by stopped container {}",
                &first.id[..12]
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies_parse_as_docker_and_name_a_bad_one() {
        assert_eq!("always".parse::<PullPolicy>().unwrap(), PullPolicy::Always);
        assert_eq!(
            "missing".parse::<PullPolicy>().unwrap(),
            PullPolicy::Missing
        );
        assert_eq!("never".parse::<PullPolicy>().unwrap(), PullPolicy::Never);
        let e = "sometimes".parse::<PullPolicy>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\""
        );
        assert_eq!(e.exit_code(), 125);
    }

    #[test]
    fn loopback_registries_are_insecure_by_default_as_dockerd_has_them() {
        for d in [
            "127.0.0.1:5000",
            "localhost:5000",
            "localhost",
            "[::1]:5000",
            "127.3.0.1",
        ] {
            assert!(!RegistryAccess::daemon_default(d).tls_verify, "{d}");
        }
        for d in [
            "docker.io",
            "quay.io:443",
            "10.0.0.1:5000",
            "[fe80::1]:5000",
        ] {
            assert!(RegistryAccess::daemon_default(d).tls_verify, "{d}");
        }
    }

    #[test]
    fn registry_hosts_are_keyed_as_docker_keys_them() {
        assert_eq!(registry_host("https://host:5000/"), "host:5000");
        assert_eq!(registry_host("http://host"), "host");
        assert_eq!(registry_host("quay.io"), "quay.io");
    }
}

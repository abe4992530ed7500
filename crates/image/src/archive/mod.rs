//! Image archives: `save` writes, `load` reads, two formats.
//!
//! - `docker-archive`: the layout of `docker save` since Docker 25 — a
//!   `manifest.json` (`Config`, `RepoTags`, `Layers` paths) over an OCI
//!   layout (`oci-layout`, `index.json`, `blobs/sha256/*`). Blobs are the
//!   stored ones, so digests survive a save/load round trip. `load` also
//!   reads the older layout (`<id>/layer.tar`, `<id>.json`, symlinked
//!   duplicate layers) that skopeo and older Dockers write.
//! - `oci-archive`: a tar of an OCI image layout, tags in
//!   `org.opencontainers.image.ref.name` and the full name in containerd's
//!   `io.containerd.image.name`; indexes (multi-platform) are resolved to
//!   the host's platform on load.

mod load;
mod save;

pub use load::{load, Loaded};
pub use save::save;

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DockerArchive,
    OciArchive,
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format> {
        match s {
            "docker-archive" => Ok(Format::DockerArchive),
            "oci-archive" => Ok(Format::OciArchive),
            other => Err(Error::Unsupported {
                what: "archive format (docker-archive, oci-archive)",
                value: other.to_owned(),
            }),
        }
    }
}

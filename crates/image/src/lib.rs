//! berth's images: the three ideas containerd keeps apart, plus the formats
//! images travel in.
//!
//! - [`content::ContentStore`]: blobs by sha256 digest, written to a temp
//!   file, verified while streaming, fsynced and renamed into place.
//! - [`snapshot::Snapshotter`]: each layer unpacked once (safely, see
//!   [`unpack`]) into a directory shared by every image that has it, and
//!   overlay mounts of an image's layers plus a writable upper dir.
//! - [`store::ImageStore`]: names and tags → images, recorded atomically in
//!   [`index`], and the operations over all three: import, load, save,
//!   tag, remove, garbage collection.
//!
//! [`spec`] holds the OCI image-spec and Docker schema2 types,
//! [`reference`] parses image names, [`registry`] pulls and pushes
//! (Distribution API v2: auth, TLS, resumable verified downloads).

#![forbid(unsafe_code)]

pub mod archive;
pub mod build;
pub mod commit;
pub mod compression;
pub mod content;
pub mod digest;
mod error;
mod fsutil;
pub mod import;
pub mod index;
pub mod platform;
pub mod reference;
pub mod registry;
pub mod snapshot;
pub mod spec;
pub mod store;
pub mod time;
pub mod unpack;

pub use digest::Digest;
pub use error::{Error, ErrorKind, Result};
pub use store::ImageStore;

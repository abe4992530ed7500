//! berth's OCI runtime library: a bundle's `config.json` in, a running
//! container out, with runc's state machine (creating → created → running
//! ⇄ paused → stopped) and its error words.
//!
//! Map: [`container`] has one module per command; [`process`] holds the
//! code that runs in forked processes (init, exec) and the channel to them;
//! [`rootfs`] builds the container's filesystem view; [`namespaces`] plans
//! which namespaces are made or joined ([`shared_mounts`]: the rootfs of
//! a container that has no mount namespace of its own); [`rootless`] decides what changes
//! without privileges and [`idmap`] writes user namespace maps; [`state`]
//! is the on-disk state directory; [`console`] and [`supervise`] handle
//! terminals and foreground
//! runs; [`sealed_exe`] keeps the runtime binary out of the container's
//! reach (CVE-2019-5736); [`apparmor`] confines the container's programs; [`hooks`], [`default_spec`] and [`features`] implement the OCI
//! hooks, `spec` and `features`.
#![forbid(unsafe_code)]

pub mod apparmor;
pub mod config;
pub mod console;
pub mod container;
pub mod criu;
pub mod default_spec;
pub mod error;
pub mod features;
pub mod hooks;
pub mod idmap;
pub mod namespaces;
pub mod process;
pub mod procfs;
pub mod rootfs;
pub mod rootless;
pub mod sealed_exe;
pub mod seccomp;
pub mod shared_mounts;
pub mod state;
pub mod supervise;

pub use error::{Error, ErrorKind, Result};

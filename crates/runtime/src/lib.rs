//! berth's OCI runtime library: a bundle's `config.json` in, a running
//! container out, with runc's state machine (creating → created → running
//! ⇄ paused → stopped) and its error words.
//!
//! Map: [`container`] has one module per command; [`process`] holds the
//! code that runs in forked processes (init, exec) and the channel to them;
//! [`rootfs`] builds the container's filesystem view; [`namespaces`] plans
//! which namespaces are made or joined; [`state`] is the on-disk state
//! directory; [`console`] and [`supervise`] handle terminals and foreground
//! runs; [`apparmor`] confines the container's programs; [`hooks`], [`default_spec`] and [`features`] implement the OCI
//! hooks, `spec` and `features`.
#![forbid(unsafe_code)]

pub mod apparmor;
pub mod config;
pub mod console;
pub mod container;
pub mod default_spec;
pub mod error;
pub mod features;
pub mod hooks;
pub mod namespaces;
pub mod process;
pub mod procfs;
pub mod rootfs;
pub mod seccomp;
pub mod state;
pub mod supervise;

pub use error::{Error, ErrorKind, Result};

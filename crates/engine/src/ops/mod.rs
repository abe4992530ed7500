//! The engine's verbs: one module per verb (or close family), each with
//! one `impl Engine` block. They use the layers below (`model`,
//! `spec`, `store`, `bundle`, `runtime`, ...), never `monitor`. What the
//! CLI (and later an API server) calls.

pub mod attach_session;
pub mod build;
pub(crate) mod cgroup;
pub mod checkpoint;
pub mod create;
pub mod events;
pub mod exec;
pub mod exec_session;
pub mod fs;
pub mod image_list;
pub mod images;
pub mod info;
pub mod inspect;
pub mod kill;
pub mod list;
pub mod log_stream;
pub mod network;
pub mod network_attach;
pub mod pause;
pub mod port;
pub mod prune;
pub mod recover;
pub mod remove;
pub mod rename;
pub mod restart;
pub mod start;
pub mod stats;
pub mod stop;
pub mod stop_timeout;
pub mod top;
pub mod update;
pub mod usage;
pub mod volume;
pub mod volume_attach;
pub mod wait;

pub(crate) use remove::unmount;

//! The engine's verbs: one module per verb (or close family), each with
//! one `impl Engine` block. They use the layers below (`model`,
//! `spec`, `store`, `bundle`, `runtime`, ...), never `monitor`.

pub(crate) mod cgroup;
pub mod create;
pub mod events;
pub mod exec;
pub mod fs;
pub mod kill;
pub mod pause;
pub mod recover;
pub mod remove;
pub mod rename;
pub mod restart;
pub mod start;
pub mod stats;
pub mod stop;
pub mod top;
pub mod update;
pub mod wait;

pub(crate) use remove::unmount;

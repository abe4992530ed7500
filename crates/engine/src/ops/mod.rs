//! The engine's verbs, one module per operation family, each one `impl
//! Engine` block: what the CLI (and later an API server) calls.

pub mod attach_session;
pub mod exec_session;
pub mod images;
pub mod info;
pub mod list;
pub mod log_stream;
pub mod prune;
pub mod usage;

//! The engine's verbs, one module per operation family, each one `impl
//! Engine` block: what the CLI (and later an API server) calls.

pub mod exec_session;
pub mod images;
pub mod info;
pub mod prune;
pub mod usage;

//! berth's image builder: everything between a Dockerfile plus its context
//! and an image in the store, except running a `RUN` step's container,
//! which the engine does through the [`builder::Executor`] it passes in
//! (the builder knows images, never containers or runtimes).
//!
//! - `dockerfile/`: the parser (directives, continuations, heredocs,
//!   instructions and their flags) and `expand`, Docker's variable
//!   substitution;
//! - `ignore.rs`: `.dockerignore` patterns; `context.rs`: the build
//!   context (a directory or a tar) and the sources a `COPY`/`ADD` names;
//! - `copy.rs`: `COPY`/`ADD` into a mounted root filesystem;
//! - `builder.rs`: stages, the cache, the steps, the result.

#![forbid(unsafe_code)]

pub mod builder;
pub mod context;
pub mod copy;
pub mod dockerfile;
pub mod error;
mod fsops;
mod gomatch;
pub mod ignore;

pub use context::Context;
pub use copy::{copy, digest, make_workdir, resolve_chown, CopyRequest, SourceRoot};
pub use error::Error;

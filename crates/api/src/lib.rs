//! `berth serve`: the Docker Engine API (1.24–1.41) over berth's engine,
//! so the docker CLI, docker-compose and docker-py work against berth as
//! against dockerd. Every handler calls the same `Engine` methods as the
//! `berth` CLI; the server holds no rule of its own beyond the HTTP shapes.
//!
//! - `listen.rs`: `-H unix://PATH|tcp://IP:PORT|fd://`, refusing what is
//!   not safe (TCP off loopback without client certificates); `tls.rs`
//!   the rustls acceptor for TCP;
//! - `server.rs`: the accept loop (hyper HTTP/1.1 with upgrades, one task
//!   per connection), the shared state, engine calls on blocking threads;
//! - `router.rs`: `/v1.41/...` version checks and the routing table;
//! - `reply.rs`: JSON and error bodies, dockerd's status codes, streaming
//!   bodies;
//! - `system.rs` (also `/system/df`), `containers/` (create, stats,
//!   live, archive, checkpoint (`--experimental`)), `images.rs` (+ `images/`), `build.rs`, `networks.rs`,
//!   `objects.rs` (volumes, simple verbs), `events.rs` (the streamed
//!   `/events`): the endpoints;
//! - `attach.rs`: hijacked attach connections and Docker's multiplexed
//!   stream format.
//!
//! What is served and what is not: docs/api.md.

#![forbid(unsafe_code)]

mod attach;
mod build;
mod containers;
mod events;
mod exec;
mod images;
mod listen;
mod networks;
mod objects;
mod reply;
mod router;
mod server;
mod system;
mod tls;

pub use listen::{Listen, ServeOptions, TlsOptions};
pub use server::serve;

/// The API version berth speaks (the docker 20.10 CLI's; docker-py and
/// docker-compose take the server's).
pub const API_VERSION: &str = "1.41";
/// The oldest version berth accepts.
pub const MIN_API_VERSION: &str = "1.24";

/// Why `berth serve` could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Listen(String),
    #[error("failed to {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

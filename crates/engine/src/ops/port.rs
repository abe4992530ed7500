//! `port`: a container's published ports. No container publishes any
//! before networks exist: the list is empty, and asking for one port is
//! Docker's "not published" error.

use crate::error::{Error, Result};
use crate::Engine;

impl Engine {
    /// The host addresses published for the container's ports (for
    /// `port`, `PORT[/PROTO]`, `tcp` by default).
    pub fn ports(&self, key: &str, port: Option<&str>) -> Result<Vec<String>> {
        self.find(key)?;
        let Some(p) = port else {
            return Ok(Vec::new());
        };
        let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
        if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(Error::BadRequest(format!("Invalid port: {p}")));
        }
        Err(Error::BadRequest(format!(
            "No public port '{num}/{proto}' published for {key}"
        )))
    }
}

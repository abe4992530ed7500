//! `update`: merges the change (as `docker update` merges), applies it
//! through the runtime's `update --resources`, then records it.

use crate::error::{Error, Result};
use crate::model::{Bandwidth, Container, Resources, State};
use crate::spec;
use crate::Engine;

impl Engine {
    /// `docker update`: merges the change into the recorded limits, applies
    /// it to a running container through the runtime, then records it (the
    /// next start's spec has it). A failure leaves the record as it was.
    pub fn update(&mut self, key: &str, change: &Resources) -> Result<Container> {
        let mut c = self.find(key)?;
        let cannot = |id: &str, e: Error| Error::UpdateFailed {
            id: id.to_owned(),
            message: e.to_string(),
        };
        change.validate(true).map_err(|e| cannot(&c.id, e))?;
        let mut merged = c.config.resources.clone();
        merged.merge_update(change).map_err(|e| cannot(&c.id, e))?;
        merged.validate(true).map_err(|e| cannot(&c.id, e))?;
        if c.state == State::Running {
            let request = spec::update_request(&merged, change)?;
            let file = self.bundle(&c.id).file("update.json");
            let text = serde_json::to_vec(&request).expect("resources serialize");
            std::fs::write(&file, text).map_err(|e| Error::io("write", &file, e))?;
            let applied = self.runtime_for(&c).update(&c.id, &file);
            let _ = std::fs::remove_file(&file);
            applied.map_err(|e| cannot(&c.id, e))?;
        }
        c.config.resources = merged;
        // The next start builds its spec from the record.
        self.db.set_config(&c.id, &c.config)?;
        Ok(c)
    }

    /// `update --network-bandwidth-egress/-ingress`: records the rates
    /// (a given one replaces the recorded one). Applying them to a running
    /// container's interfaces is the network lifecycle's (tc); the next
    /// start applies them.
    pub fn update_bandwidth(&mut self, key: &str, change: &Bandwidth) -> Result<Container> {
        let mut c = self.find(key)?;
        c.config.bandwidth.merge(change);
        self.db.set_config(&c.id, &c.config)?;
        Ok(c)
    }
}

//! `update`: merges the change (as `docker update` merges), applies it
//! through the runtime's `update --resources`, then records it.

use crate::error::{Error, Result};
use crate::model::restart::RestartPolicy;
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

    /// `update --network-bandwidth-egress/-ingress`: a given rate replaces
    /// the recorded one, on a running container's links at once (tc, see
    /// `ops::network_attach`) and at every later start.
    pub fn update_bandwidth(&mut self, key: &str, change: &Bandwidth) -> Result<Container> {
        let mut c = self.find(key)?;
        c.config.bandwidth.merge(change);
        // A running container's links get the new rates now; the record
        // changes only when they did.
        if matches!(c.state, crate::model::State::Running) && c.pid > 0 {
            self.network_bandwidth_live(&c)?;
        }
        self.db.set_config(&c.id, &c.config)?;
        Ok(c)
    }

    /// `update --restart`: the new policy, recorded; the monitor reads it
    /// at the container's next exit.
    pub fn update_restart(&mut self, key: &str, policy: &str) -> Result<Container> {
        let mut c = self.find(key)?;
        let restart = RestartPolicy::parse(policy)?;
        if c.config.auto_remove && !restart.is_none() {
            return Err(Error::UpdateFailed {
                id: c.id.clone(),
                message: "Restart policy cannot be updated because AutoRemove is enabled for the container".into(),
            });
        }
        c.config.restart = restart;
        self.db.set_config(&c.id, &c.config)?;
        Ok(c)
    }
}

//! `list`: every container under the root. Reads without taking the
//! per-container locks, so a long command on one id does not stall it.

use std::path::Path;

use crate::error::Result;
use crate::state::{list_ids, OciState, StateDir};

pub struct ListEntry {
    pub state: OciState,
}

pub fn list(root: &Path) -> Result<Vec<ListEntry>> {
    let mut out = Vec::new();
    for id in list_ids(root)? {
        let Ok(dir) = StateDir::open(root, &id) else {
            continue;
        };
        // A container being created or deleted right now may lack a record.
        let Ok(Some(record)) = dir.load() else {
            continue;
        };
        let status = record.status(&dir);
        out.push(ListEntry {
            state: record.oci_state(&dir, status),
        });
    }
    Ok(out)
}

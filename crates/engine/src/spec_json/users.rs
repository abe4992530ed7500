//! `process.user` in the JSON spec, resolved at each start.

use std::path::Path;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::users::resolve;

/// Resolves the user of the bundle at `bundle_dir` in its mounted
/// `rootfs` and rewrites `process.user` in its `config.json`.
pub fn apply(bundle_dir: &Path, rootfs: &Path, spec: &str, group_add: &[String]) -> Result<()> {
    let user = resolve(rootfs, spec, group_add)?;
    let path = bundle_dir.join("config.json");
    let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    let mut config: Value = serde_json::from_slice(&text)
        .map_err(|e| Error::invalid("bundle config", format!("{}: {e}", path.display())))?;
    let mut u = json!({ "uid": user.uid, "gid": user.gid });
    if !user.additional_gids.is_empty() {
        u["additionalGids"] = json!(user.additional_gids);
    }
    if config["process"]["user"] == u {
        return Ok(());
    }
    config["process"]["user"] = u;
    let tmp = bundle_dir.join(".config.json.tmp");
    let bytes = serde_json::to_vec_pretty(&config).expect("spec serializes");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("rename", &path, e))
}

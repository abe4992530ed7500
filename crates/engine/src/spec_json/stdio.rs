//! The stdio settings in the JSON spec.

use crate::model::StdioConfig;

/// `process.terminal`, `process.consoleSize` and Docker's `TERM=xterm`
/// for a terminal.
pub(crate) fn apply_to_spec(cfg: &StdioConfig, spec: &mut serde_json::Value) {
    let process = &mut spec["process"];
    process["terminal"] = serde_json::Value::Bool(cfg.tty);
    if !cfg.tty {
        return;
    }
    if let Some((rows, cols)) = cfg.console_size {
        process["consoleSize"] = serde_json::json!({ "height": rows, "width": cols });
    }
    add_term(process);
}

/// Adds `TERM=xterm` to a process's env unless it sets TERM (Docker does
/// for every process with a terminal).
pub(crate) fn add_term(process: &mut serde_json::Value) {
    if let Some(env) = process["env"].as_array_mut() {
        if !env
            .iter()
            .any(|e| e.as_str().is_some_and(|e| e.starts_with("TERM=")))
        {
            env.push("TERM=xterm".into());
        }
    }
}

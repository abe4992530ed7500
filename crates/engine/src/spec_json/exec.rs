//! An exec's `process.json`: the container's process from its
//! `config.json`, changed by `berth exec`'s flags.

use std::path::Path;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::model::security::caps;
use crate::model::ExecOptions;
use crate::users::ExecUser;

/// The `process` of an exec: `base` (the container's process) with the
/// options applied. `--privileged` gives the capabilities of `bounding`
/// (ours: no process can grant more than it holds).
pub(crate) fn exec_process(base: &Value, o: &ExecOptions, bounding: u64) -> Result<Value> {
    if o.args.is_empty() {
        return Err(Error::invalid("exec", "no command specified"));
    }
    let mut p = base.clone();
    p["args"] = json!(o.args);
    p["terminal"] = json!(o.tty);
    if let Some(obj) = p.as_object_mut() {
        obj.remove("consoleSize");
    }
    if let (true, Some((rows, cols))) = (o.tty, o.console_size) {
        p["consoleSize"] = json!({ "height": rows, "width": cols });
    }
    let mut env: Vec<String> = p["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for e in &o.env {
        let (k, v) = match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => match std::env::var(e) {
                Ok(v) => (e.clone(), v),
                Err(_) => continue,
            },
        };
        if k.is_empty() {
            return Err(Error::invalid("environment variable", e.clone()));
        }
        env.retain(|x| x.split_once('=').map(|(xk, _)| xk) != Some(&k));
        env.push(format!("{k}={v}"));
    }
    p["env"] = json!(env);
    if o.tty {
        super::add_term(&mut p);
    }
    if let Some(w) = &o.workdir {
        if !w.starts_with('/') {
            return Err(Error::invalid(
                "working directory",
                format!("{w:?} is not an absolute path"),
            ));
        }
        p["cwd"] = json!(w);
    }
    if o.privileged {
        let all = caps::in_mask(bounding);
        p["capabilities"] = json!({ "bounding": all, "effective": all, "permitted": all });
    }
    Ok(p)
}

/// `exec -u`: the resolved user as the process's `user`.
pub(crate) fn exec_user(process: &mut Value, u: &ExecUser) {
    let mut user = json!({ "uid": u.uid, "gid": u.gid });
    if !u.additional_gids.is_empty() {
        user["additionalGids"] = json!(u.additional_gids);
    }
    process["user"] = user;
}

/// The container's own process, from its bundle's `config.json`.
pub(crate) fn process_of(bundle_dir: &Path) -> Result<Value> {
    let path = bundle_dir.join("config.json");
    let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    let spec: Value = serde_json::from_slice(&text)
        .map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))?;
    Ok(spec["process"].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_change_the_containers_process() {
        let base = json!({
            "terminal": true, "consoleSize": { "height": 1, "width": 1 },
            "user": { "uid": 0, "gid": 0 }, "args": ["sh"],
            "env": ["PATH=/bin", "A=1"], "cwd": "/",
            "capabilities": { "bounding": ["CAP_KILL"] },
        });
        let o = ExecOptions {
            args: vec!["id".into()],
            env: vec!["A=2".into(), "B=3".into()],
            workdir: Some("/tmp".into()),
            ..Default::default()
        };
        let p = exec_process(&base, &o, u64::MAX).unwrap();
        assert_eq!(p["args"], json!(["id"]));
        assert_eq!(p["terminal"], false);
        assert!(p.get("consoleSize").is_none());
        assert_eq!(p["env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(p["user"], json!({ "uid": 0, "gid": 0 }));
        assert_eq!(p["cwd"], "/tmp");
        assert_eq!(p["capabilities"]["bounding"], json!(["CAP_KILL"]));

        let tty = ExecOptions {
            args: vec!["sh".into()],
            tty: true,
            console_size: Some((30, 100)),
            privileged: true,
            ..Default::default()
        };
        let p = exec_process(&base, &tty, u64::MAX).unwrap();
        assert_eq!(p["consoleSize"], json!({ "height": 30, "width": 100 }));
        assert!(p["env"].as_array().unwrap().contains(&json!("TERM=xterm")));
        assert_eq!(
            p["capabilities"]["effective"].as_array().unwrap().len(),
            caps::ALL_CAPABILITIES.len()
        );
        // Only what the bounding set holds: CAP_CHOWN (0) and CAP_KILL (5).
        let p = exec_process(&base, &tty, 0b100001).unwrap();
        assert_eq!(
            p["capabilities"]["permitted"],
            json!(["CAP_CHOWN", "CAP_KILL"])
        );
        assert!(exec_process(&base, &ExecOptions::default(), 0).is_err());
        let rel = ExecOptions {
            args: vec!["x".into()],
            workdir: Some("tmp".into()),
            ..Default::default()
        };
        assert!(exec_process(&base, &rel, 0).is_err());
    }
}

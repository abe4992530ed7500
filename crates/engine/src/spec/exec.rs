//! An exec's `process.json`: the container's process (the process
//! converter's), changed by `berth exec`'s flags.

use oci_spec::runtime::Process;

use crate::error::{Error, Result};
use crate::model::security::caps;
use crate::model::ExecOptions;

/// The `process` of an exec: `base` (the container's process) with the
/// options applied. `--privileged` gives the capabilities of `bounding`
/// (ours: no process can grant more than it holds).
pub fn exec_process(base: &Process, o: &ExecOptions, bounding: u64) -> Result<Process> {
    if o.args.is_empty() {
        return Err(Error::invalid("exec", "no command specified"));
    }
    let mut p = base.clone();
    p.set_args(Some(o.args.clone()));
    p.set_terminal(Some(o.tty));
    p.set_console_size(match (o.tty, o.console_size) {
        (true, Some((rows, cols))) => super::stdio::size(rows, cols),
        _ => None,
    });
    let mut env = p.env().clone().unwrap_or_default();
    for e in &o.env {
        crate::model::container::set_env(&mut env, e)?;
    }
    if o.tty {
        super::stdio::add_term(&mut env);
    }
    p.set_env(Some(env));
    if let Some(w) = &o.workdir {
        if !w.starts_with('/') {
            return Err(Error::invalid(
                "working directory",
                format!("{w:?} is not an absolute path"),
            ));
        }
        p.set_cwd(w.into());
    }
    if o.privileged {
        p.set_capabilities(Some(super::security::process_capabilities(
            &caps::in_mask(bounding),
        )?));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The container's process: a terminal, a console size, root.
    fn base() -> Process {
        let cfg = crate::model::ContainerConfig {
            env: vec!["PATH=/bin".into(), "A=1".into(), "TERM=x".into()],
            cmd: vec!["sh".into()],
            stdio: crate::model::StdioConfig {
                tty: true,
                console_size: Some((1, 1)),
                ..Default::default()
            },
            security: crate::model::security::SecurityConfig {
                cap_drop: vec!["ALL".into()],
                cap_add: vec!["CAP_KILL".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let host = super::super::HostFacts {
            cgroup2: true,
            capabilities: Vec::new(),
            seccomp: crate::model::seccomp::Host::current(),
            devices: Vec::new(),
            block_devices: Default::default(),
            network_namespace: None,
        };
        super::super::process(&cfg, &host, &crate::users::ResolvedUser::default()).unwrap()
    }

    fn json(p: &Process) -> Value {
        serde_json::to_value(p).unwrap()
    }

    #[test]
    fn options_change_the_containers_process() {
        let base = base();
        let o = ExecOptions {
            args: vec!["id".into()],
            env: vec!["A=2".into(), "B=3".into()],
            workdir: Some("/tmp".into()),
            ..Default::default()
        };
        let p = json(&exec_process(&base, &o, u64::MAX).unwrap());
        assert_eq!(p["args"], json!(["id"]));
        assert_eq!(p["terminal"], false);
        assert!(p.get("consoleSize").is_none());
        assert_eq!(p["env"], json!(["PATH=/bin", "TERM=x", "A=2", "B=3"]));
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
        let p = json(&exec_process(&base, &tty, u64::MAX).unwrap());
        assert_eq!(p["consoleSize"], json!({ "height": 30, "width": 100 }));
        assert_eq!(
            p["capabilities"]["effective"].as_array().unwrap().len(),
            caps::ALL_CAPABILITIES.len()
        );
        // Only what the bounding set holds: CAP_CHOWN (0) and CAP_KILL (5).
        let p = json(&exec_process(&base, &tty, 0b100001).unwrap());
        let mut permitted = p["capabilities"]["permitted"].as_array().unwrap().clone();
        permitted.sort_by_key(|c| c.to_string());
        assert_eq!(permitted, vec![json!("CAP_CHOWN"), json!("CAP_KILL")]);
        assert!(exec_process(&base, &ExecOptions::default(), 0).is_err());
        let rel = ExecOptions {
            args: vec!["x".into()],
            workdir: Some("tmp".into()),
            ..Default::default()
        };
        assert!(exec_process(&base, &rel, 0).is_err());
    }

    #[test]
    fn a_terminal_gets_term() {
        let mut base = base();
        base.set_env(Some(vec!["PATH=/bin".into()]));
        let o = ExecOptions {
            args: vec!["sh".into()],
            tty: true,
            ..Default::default()
        };
        let p = json(&exec_process(&base, &o, 0).unwrap());
        assert_eq!(p["env"], json!(["PATH=/bin", "TERM=xterm"]));
    }
}

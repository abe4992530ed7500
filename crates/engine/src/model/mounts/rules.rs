//! What `-v` and `--mount` share: Go's `path.Clean`, the local driver's
//! volume names, the one volume driver, duplicate mount points, the
//! existence of a `--mount type=bind` source, and all the flags together in
//! the order dockerd takes them (`registerMountPoints`).

use std::collections::BTreeSet;

use super::{parse_mount, parse_volume, MountKind, MountRequest};
use crate::error::{Error, Result};

/// Docker's `RestrictedNameChars`, as its messages show it.
const NAME_CHARS: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

/// Go's `path.Clean`: `.` and empty elements gone, `..` applied, no
/// trailing slash; `..` above the root stays at the root.
pub fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// The local driver's rule for a volume's name (`volume create` and the
/// volumes `-v`/`--mount` name), with dockerd's `create NAME: ` before it.
pub fn validate_volume_name(name: &str) -> Result<()> {
    let reason = if name.chars().count() == 1 {
        "volume name is too short, names should be at least two alphanumeric characters".to_owned()
    } else if !valid_name(name) {
        format!(
            "{name:?} includes invalid characters for a local volume name, only {NAME_CHARS:?} \
             are allowed. If you intended to pass a host directory, use absolute path"
        )
    } else {
        return Ok(());
    };
    Err(Error::BadRequest(format!("create {name}: {reason}")))
}

/// `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`.
fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.len() >= 2
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Only the `local` driver exists (empty means it): dockerd's error for a
/// plugin it cannot find, naming the volume when it has a name, and what
/// berth has instead.
pub fn check_volume_driver(driver: &str, volume: &str) -> Result<()> {
    if driver.is_empty() || driver == "local" {
        return Ok(());
    }
    let op = match volume {
        "" => String::new(),
        name => format!("create {name}: "),
    };
    Err(Error::BadRequest(format!(
        "{op}error looking up volume plugin {driver}: plugin {driver:?} not found \
         (berth has only the \"local\" volume driver)"
    )))
}

/// dockerd's `Duplicate mount point: /x`: two requests, or a request and a
/// `--tmpfs`, at one place in the container. Every request counts; an
/// anonymous `-v /x` that another mount covers is dropped before this, as
/// dockerd does ([`parse_requests`]).
pub fn check_duplicates(requests: &[MountRequest], tmpfs_targets: &[String]) -> Result<()> {
    let tmpfs: BTreeSet<String> = tmpfs_targets.iter().map(|t| clean_path(t)).collect();
    let mut seen = BTreeSet::new();
    for r in requests {
        if tmpfs.contains(&r.target) || !seen.insert(r.target.as_str()) {
            return Err(Error::BadRequest(format!(
                "Duplicate mount point: {}",
                r.target
            )));
        }
    }
    Ok(())
}

/// A `--mount type=bind` source must exist (dockerd checks it before it
/// creates anything); `-v` creates a missing one instead.
pub fn check_bind_source(r: &MountRequest) -> Result<()> {
    if r.kind != MountKind::Bind || r.create_host_path {
        return Ok(());
    }
    match std::fs::metadata(&r.source) {
        Ok(_) => Ok(()),
        Err(e) => {
            let reason = match e.kind() {
                std::io::ErrorKind::NotFound => {
                    format!("bind source path does not exist: {}", r.source)
                }
                _ => format!("stat {}: {e}", r.source),
            };
            Err(Error::BadRequest(format!(
                "invalid mount config for type \"bind\": {reason}"
            )))
        }
    }
}

/// Every `-v` and `--mount` of a container, parsed and checked together
/// as dockerd does: the `-v` binds and named volumes (the same spec twice
/// counts once: the docker CLI keeps them in a set), then the `--mount`s,
/// no two at one place nor on a `--tmpfs`; then the anonymous `-v /x`
/// volumes, which dockerd takes like an image's `VOLUME`s: one dropped
/// silently where another mount (or an earlier one of them) already is.
/// The caller still drops those a `--volumes-from` mount covers, and the
/// image's `VOLUME`s the same way.
pub fn parse_requests(
    volumes: &[String],
    mounts: &[String],
    tmpfs_targets: &[String],
) -> Result<Vec<MountRequest>> {
    // The docker CLI parses `--mount` as a flag, before anything else.
    let mounts = mounts
        .iter()
        .map(|m| parse_mount(m))
        .collect::<Result<Vec<_>>>()?;
    let mut specs = BTreeSet::new();
    let mut out = Vec::new();
    let mut anonymous = Vec::new();
    for v in volumes {
        if !specs.insert(v.as_str()) {
            continue;
        }
        let r = parse_volume(v)?;
        if r.is_anonymous() {
            anonymous.push(r);
        } else {
            out.push(r);
        }
    }
    out.extend(mounts);
    check_duplicates(&out, tmpfs_targets)?;
    let mut taken: BTreeSet<String> = out.iter().map(|r| r.target.clone()).collect();
    taken.extend(tmpfs_targets.iter().map(|t| clean_path(t)));
    for r in anonymous {
        if taken.insert(r.target.clone()) {
            out.push(r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn clean_path_is_gos() {
        for (given, want) in [
            ("/a/../b", "/b"),
            ("/a/b/", "/a/b"),
            ("//a//b", "/a/b"),
            ("/a/./b/.", "/a/b"),
            ("/../x", "/x"),
            ("/", "/"),
            ("/..", "/"),
            ("", "."),
            ("a/../..", ".."),
            ("a/./b", "a/b"),
            ("./", "."),
        ] {
            assert_eq!(clean_path(given), want, "{given}");
        }
    }

    #[test]
    fn volume_names_follow_the_local_drivers_rule() {
        for ok in ["ab", "data", "my_vol.1-x", "0a", "A.", "a-"] {
            assert!(validate_volume_name(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            msg(validate_volume_name("relative/x")),
            "create relative/x: \"relative/x\" includes invalid characters for a local volume \
             name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a \
             host directory, use absolute path"
        );
        for bad in [
            "_ab", ".ab", "-ab", "a b", "a/b", "a:b", "vol@1", "é1", "ab\n",
        ] {
            assert!(
                msg(validate_volume_name(bad)).contains("includes invalid characters"),
                "{bad:?}"
            );
        }
        assert_eq!(
            msg(validate_volume_name("a")),
            "create a: volume name is too short, names should be at least two alphanumeric \
             characters"
        );
        // One character, even an illegal one, is "too short" first.
        assert!(msg(validate_volume_name("_")).contains("too short"));
    }

    #[test]
    fn only_the_local_driver() {
        assert!(check_volume_driver("", "v1").is_ok());
        assert!(check_volume_driver("local", "v1").is_ok());
        assert_eq!(
            msg(check_volume_driver("nfs", "v1")),
            "create v1: error looking up volume plugin nfs: plugin \"nfs\" not found \
             (berth has only the \"local\" volume driver)"
        );
        assert!(msg(check_volume_driver("nfs", "")).starts_with("error looking up volume plugin"));
    }

    fn at(kind: MountKind, source: &str, target: &str) -> MountRequest {
        MountRequest {
            kind,
            source: source.into(),
            target: target.into(),
            ..Default::default()
        }
    }

    #[test]
    fn duplicates_name_the_mount_point() {
        let a = at(MountKind::Bind, "/h", "/x");
        let b = at(MountKind::Volume, "v1", "/y");
        assert!(check_duplicates(&[a.clone(), b.clone()], &[]).is_ok());
        let c = at(MountKind::Volume, "v2", "/x");
        assert_eq!(
            msg(check_duplicates(&[a.clone(), b.clone(), c], &[])),
            "Duplicate mount point: /x"
        );
        // A --tmpfs at the same place, written differently.
        assert_eq!(
            msg(check_duplicates(
                std::slice::from_ref(&b),
                &strings(&["/y/"])
            )),
            "Duplicate mount point: /y"
        );
        assert!(check_duplicates(&[a, b], &strings(&["/z"])).is_ok());
    }

    #[test]
    fn bind_source_must_exist_for_mount_only() {
        let dir = std::env::temp_dir();
        let mut r = at(MountKind::Bind, dir.to_str().unwrap(), "/x");
        assert!(check_bind_source(&r).is_ok());
        let missing = dir.join(format!("berth-no-such-{}", std::process::id()));
        r.source = missing.to_str().unwrap().to_owned();
        assert_eq!(
            msg(check_bind_source(&r)),
            format!(
                "invalid mount config for type \"bind\": bind source path does not exist: {}",
                missing.display()
            )
        );
        // `-v` makes it; volumes have no host path to check.
        r.create_host_path = true;
        assert!(check_bind_source(&r).is_ok());
        assert!(check_bind_source(&at(MountKind::Volume, "v1", "/x")).is_ok());
    }

    #[test]
    fn requests_in_dockers_order() {
        let rs = parse_requests(
            &strings(&["/ctr/anon", "v1:/data", "/h:/bind"]),
            &strings(&["type=tmpfs,target=/t"]),
            &[],
        )
        .unwrap();
        let targets: Vec<&str> = rs.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["/data", "/bind", "/t", "/ctr/anon"]);
    }

    #[test]
    fn the_same_v_twice_counts_once() {
        let rs = parse_requests(&strings(&["v1:/d", "v1:/d"]), &[], &[]).unwrap();
        assert_eq!(rs.len(), 1);
        assert_eq!(
            msg(parse_requests(&strings(&["v1:/d", "v2:/d/"]), &[], &[])),
            "Duplicate mount point: /d"
        );
    }

    #[test]
    fn duplicates_across_flags() {
        assert_eq!(
            msg(parse_requests(
                &strings(&["/h:/x"]),
                &strings(&["type=volume,src=v1,dst=/x"]),
                &[]
            )),
            "Duplicate mount point: /x"
        );
        assert_eq!(
            msg(parse_requests(
                &[],
                &strings(&["type=volume,dst=/x", "type=tmpfs,dst=/x"]),
                &[]
            )),
            "Duplicate mount point: /x"
        );
        assert_eq!(
            msg(parse_requests(
                &strings(&["v1:/run"]),
                &[],
                &strings(&["/run"])
            )),
            "Duplicate mount point: /run"
        );
    }

    #[test]
    fn anonymous_v_gives_way() {
        // dockerd skips an anonymous `-v /x` another mount covers, and
        // makes one volume for `-v /x -v /x/`.
        let rs = parse_requests(
            &strings(&["/x", "v1:/x", "/y", "/y/", "/run"]),
            &[],
            &strings(&["/run"]),
        )
        .unwrap();
        assert_eq!(rs.len(), 2);
        assert_eq!((rs[0].source.as_str(), rs[0].target.as_str()), ("v1", "/x"));
        assert!(rs[1].is_anonymous());
        assert_eq!(rs[1].target, "/y");
    }

    #[test]
    fn mount_errors_come_first() {
        // The docker CLI parses --mount as a flag, before -v.
        let e = msg(parse_requests(
            &strings(&["a::b"]),
            &strings(&["type=volume,bogus=1,dst=/x"]),
            &[],
        ));
        assert!(e.contains("unexpected key 'bogus'"), "{e}");
    }
}

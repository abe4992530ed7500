//! The values with a syntax of their own: `--ulimit`, `--sysctl`,
//! `--tmpfs` options, `--shm-size` (go-units sizes), in Docker's words when
//! they are wrong.

use super::{bad_flag, Tmpfs, Ulimit};
use crate::error::Result;

const ULIMITS: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// go-units `RAMInBytes`: `<n>[.<frac>][ ][kmgtp][i][b]`, binary multiples.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim_end_matches(['b', 'B']).trim_end_matches(['i', 'I']);
    let (num, unit) = match t.char_indices().last() {
        Some((i, ch)) if ch.is_ascii_alphabetic() => (&t[..i], Some(ch)),
        _ => (t, None),
    };
    let num = num.trim_end_matches(' ');
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.map(|u| u.to_ascii_lowercase()) {
        None => 1,
        Some('k') => 1 << 10,
        Some('m') => 1 << 20,
        Some('g') => 1 << 30,
        Some('t') => 1 << 40,
        Some('p') => 1 << 50,
        Some(_) => return None,
    };
    Some((n * mult as f64) as u64)
}

/// `--tmpfs PATH[:OPTIONS]` with Docker's defaults (`noexec,nosuid,nodev`)
/// merged with the options given (a later option replaces its opposite).
pub(super) fn tmpfs(arg: &str) -> Result<Tmpfs> {
    let (dest, opts) = arg.split_once(':').unwrap_or((arg, ""));
    if !dest.starts_with('/') || dest == "/" {
        return Err(bad_flag(
            "tmpfs",
            arg,
            "the mount point must be an absolute path other than /",
        ));
    }
    let mut options: Vec<String> = vec![
        "noexec".into(),
        "nosuid".into(),
        "nodev".into(),
        "rprivate".into(),
    ];
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let key = |x: &str| x.split_once('=').map_or(x, |(k, _)| k).to_owned();
        let opposite = |x: &str| -> Option<String> {
            match x {
                "rw" => Some("ro".into()),
                "ro" => Some("rw".into()),
                _ => x
                    .strip_prefix("no")
                    .map(str::to_owned)
                    .or(Some(format!("no{x}"))),
            }
        };
        let k = key(o);
        let opp = opposite(&k);
        options.retain(|x| key(x) != k && Some(key(x)) != opp);
        options.push(o.to_owned());
    }
    Ok(Tmpfs {
        destination: dest.to_owned(),
        options,
    })
}

/// `--ulimit NAME=SOFT[:HARD]` (go-units `ParseUlimit`).
pub(super) fn ulimit(arg: &str) -> Result<Ulimit> {
    let (name, vals) = arg
        .split_once('=')
        .ok_or_else(|| bad_flag("ulimit", arg, format!("invalid ulimit argument: {arg}")))?;
    if !ULIMITS.contains(&name) {
        return Err(bad_flag(
            "ulimit",
            arg,
            format!("invalid ulimit type: {name}"),
        ));
    }
    let num = |v: &str| -> Result<u64> {
        match v {
            "-1" | "unlimited" => Ok(u64::MAX),
            _ => v.parse().map_err(|_| {
                bad_flag(
                    "ulimit",
                    arg,
                    format!("invalid ulimit value {v:?}: not a number"),
                )
            }),
        }
    };
    let (soft, hard) = match vals.split_once(':') {
        Some((s, h)) => (num(s)?, num(h)?),
        None => (num(vals)?, num(vals)?),
    };
    if soft > hard {
        return Err(bad_flag(
            "ulimit",
            arg,
            format!("ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"),
        ));
    }
    Ok(Ulimit {
        kind: format!("RLIMIT_{}", name.to_ascii_uppercase()),
        soft,
        hard,
    })
}

/// `--sysctl K=V`: only namespaced ones (Docker's list: the ipc and net
/// namespaces' ones, not the uts', which have flags of their own), and no
/// `net.*` in the host's network namespace.
pub(super) fn sysctl(arg: &str, host_network: bool) -> Result<(String, String)> {
    use berth_sys::sysctl::{namespace_of, Namespace};
    let not_allowed = || bad_flag("sysctl", arg, format!("sysctl '{arg}' is not allowed"));
    let (k, v) = arg.split_once('=').ok_or_else(not_allowed)?;
    match namespace_of(k) {
        Some(Namespace::Net) if host_network => {
            return Err(bad_flag(
                "sysctl",
                arg,
                format!(
                    "sysctl '{k}' is not allowed in the host's network namespace (--network host)"
                ),
            ));
        }
        Some(Namespace::Net | Namespace::Ipc) => {}
        Some(Namespace::Uts) | None => return Err(not_allowed()),
    }
    Ok((k.to_owned(), v.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ulimits() {
        assert_eq!(
            ulimit("nofile=1024:2048").unwrap(),
            Ulimit {
                kind: "RLIMIT_NOFILE".into(),
                soft: 1024,
                hard: 2048
            }
        );
        assert_eq!(ulimit("core=-1").unwrap().hard, u64::MAX);
        for (bad, want) in [
            ("nofile=x", "invalid ulimit value \"x\""),
            ("nofile", "invalid ulimit argument"),
            ("bogus=1", "invalid ulimit type: bogus"),
            (
                "nproc=10:5",
                "soft limit must be less than or equal to hard limit: 10 > 5",
            ),
        ] {
            let e = ulimit(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid argument {bad:?} for \"--ulimit\" flag: ")),
                "{e}"
            );
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn tmpfs_options() {
        let t = tmpfs("/run:exec,size=1m,mode=700").unwrap();
        assert_eq!(t.destination, "/run");
        assert_eq!(
            t.options,
            strings(&["nosuid", "nodev", "rprivate", "exec", "size=1m", "mode=700"])
        );
        assert_eq!(
            tmpfs("/x").unwrap().options,
            strings(&["noexec", "nosuid", "nodev", "rprivate"])
        );
        assert!(tmpfs("relative").is_err());
    }

    #[test]
    fn sysctls() {
        assert!(sysctl("net.ipv4.ip_forward=1", false).is_ok());
        assert!(sysctl("kernel.shmmax=1", false).is_ok());
        assert!(sysctl("net.ipv4.ip_forward=1", true).is_err());
        assert_eq!(
            sysctl("kernel.hostname=x", false).unwrap_err().to_string(),
            "invalid argument \"kernel.hostname=x\" for \"--sysctl\" flag: sysctl 'kernel.hostname=x' is not allowed"
        );
    }
}

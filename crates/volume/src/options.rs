//! The local driver's options (`docker volume create --opt k=v`,
//! `--mount volume-opt=k=v`), checked in moby's words
//! (`daemon/volume/local/local_unix.go`): `type` (the filesystem), `device`
//! (what to mount), `o` (mount options, split like `mount -o`), and `size`
//! (a quota, which needs XFS project quotas berth does not set up: any size
//! above zero is refused as moby refuses it on such a host).
//!
//! `o` is split by moby's own table (`moby/sys/mount`, the one the local
//! driver uses, smaller than runc's): a known flag word (`ro`, `nosuid`,
//! `bind`, `rshared`, ...) becomes a mount(2) flag, anything else
//! (`size=64m`, `uid=1000`, `addr=10.0.0.1`, even `defaults`) is
//! filesystem data, passed on in order.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, ToSocketAddrs};

use nix::mount::MsFlags;

use crate::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid option: {0:?}")]
    InvalidOption(String),
    #[error("missing required option: {0:?}")]
    MissingOption(&'static str),
    #[error("{0}")]
    InvalidSize(String),
    #[error("quota size requested but no quota support")]
    NoQuota,
    #[error("port not allowed in CIFS device URL, include 'port' in 'o='")]
    CifsPort,
    #[error("error parsing mount device url: parse {device:?}: {reason}")]
    DeviceUrl { device: String, reason: String },
    #[error("missing device in volume options")]
    MissingDevice,
    /// moby's words around Go's DNS error; the cause is part of the line.
    #[error("error resolving passed in network volume address: lookup {host}: {cause}")]
    Resolve { host: String, cause: io::Error },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Resolve { .. } => ErrorKind::Internal,
            _ => ErrorKind::InvalidInput,
        }
    }
}

/// The options moby accepts.
const KEYS: [&str; 4] = ["device", "o", "size", "type"];
/// Which options need which others, in the order they are checked.
const REQUIRES: [(&str, &[&str]); 3] = [
    ("device", &["type"]),
    ("type", &["device"]),
    ("o", &["device", "type"]),
];

/// A local volume's options. Empty (no `type`, no `device`) for a plain
/// directory volume, which needs no mount.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalOptions {
    /// `type`: the filesystem (`tmpfs`, `ext4`, `nfs`, `none` for a bind).
    pub fs_type: String,
    /// `device`: the source (`tmpfs`, `/dev/sdb1`, `:/export`, a path).
    pub device: String,
    /// `o`: the mount options as given.
    pub options: String,
}

impl LocalOptions {
    /// Checks `opts` as moby's `validateOpts` does and keeps what a mount
    /// needs.
    pub fn parse(opts: &BTreeMap<String, String>) -> Result<LocalOptions, Error> {
        if let Some(key) = opts.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(Error::InvalidOption(key.clone()));
        }
        let fs_type = opts.get("type").cloned().unwrap_or_default();
        let device = opts.get("device").cloned().unwrap_or_default();
        if fs_type == "cifs" && !device.is_empty() && cifs_url(&device)?.port {
            return Err(Error::CifsPort);
        }
        if let Some(size) = opts.get("size") {
            let bytes = crate::units::ram_in_bytes(size).map_err(Error::InvalidSize)?;
            if bytes > 0 {
                return Err(Error::NoQuota);
            }
        }
        for (key, needs) in REQUIRES {
            if opts.contains_key(key) {
                if let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n)) {
                    return Err(Error::MissingOption(missing));
                }
            }
        }
        Ok(LocalOptions {
            fs_type,
            device,
            options: opts.get("o").cloned().unwrap_or_default(),
        })
    }

    /// Whether the volume is a mount (moby `needsMount`) rather than a
    /// plain directory.
    pub fn needs_mount(&self) -> bool {
        !self.fs_type.is_empty() || !self.device.is_empty()
    }

    /// The device and options to mount with (moby `getMountOptions`): for
    /// `nfs` and `cifs`, a host name in `addr=` becomes its address (the
    /// kernel takes addresses only), and for `cifs` without `addr=`, the
    /// host in the device URL does.
    pub fn resolved(
        &self,
        resolve: &dyn Fn(&str) -> io::Result<IpAddr>,
    ) -> Result<(String, String), Error> {
        if self.device.is_empty() {
            return Err(Error::MissingDevice);
        }
        let mut device = self.device.clone();
        let mut options = self.options.clone();
        if self.fs_type != "nfs" && self.fs_type != "cifs" {
            return Ok((device, options));
        }
        let resolve = |host: &str| {
            resolve(host).map_err(|cause| Error::Resolve {
                host: host.into(),
                cause,
            })
        };
        let addr = self
            .options
            .split(',')
            .find_map(|o| o.strip_prefix("addr="))
            .filter(|a| !a.is_empty());
        if let Some(addr) = addr {
            // moby resolves anything that is not an IPv4 address.
            if !matches!(addr.parse::<IpAddr>(), Ok(IpAddr::V4(_))) {
                let ip = resolve(addr)?;
                options = options.replacen(&format!("addr={addr}"), &format!("addr={ip}"), 1);
            }
            return Ok((device, options));
        }
        if self.fs_type == "cifs" {
            let url = cifs_url(&device)?;
            if let Some((start, end)) = url.host {
                let host = &device[start..end];
                if host.parse::<IpAddr>().is_err() {
                    let ip = resolve(host)?;
                    device.replace_range(start..end, &ip.to_string());
                }
            }
        }
        Ok((device, options))
    }
}

/// The system resolver, for [`LocalOptions::resolved`]: the first
/// address getaddrinfo gives.
pub fn resolve_host(host: &str) -> io::Result<IpAddr> {
    (host, 0)
        .to_socket_addrs()?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"))
}

/// What moby reads of a CIFS device (`//host[:port]/share`) with Go's
/// `url.Parse`: where the host is in the string, whether a port is given.
struct CifsUrl {
    host: Option<(usize, usize)>,
    port: bool,
}

fn cifs_url(device: &str) -> Result<CifsUrl, Error> {
    let bad = |reason: &str| Error::DeviceUrl {
        device: device.into(),
        reason: reason.into(),
    };
    if device.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(bad("net/url: invalid control character in URL"));
    }
    if device.starts_with(':') {
        return Err(bad("missing protocol scheme"));
    }
    // Only "//authority/path" has a host; a scheme or a bare path has none
    // that moby would resolve.
    let Some(rest) = device.strip_prefix("//") else {
        return Ok(CifsUrl {
            host: None,
            port: false,
        });
    };
    let auth_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_len];
    let mut start = 2;
    let mut hostport = authority;
    if let Some(at) = authority.rfind('@') {
        start += at + 1;
        hostport = &authority[at + 1..];
    }
    let (host, port) = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(close) => (&hostport[..=close], &hostport[close + 1..]),
            None => return Err(bad("missing ']' in host")),
        }
    } else {
        match hostport.rfind(':') {
            Some(colon) => (&hostport[..colon], &hostport[colon..]),
            None => (hostport, ""),
        }
    };
    if !port.is_empty()
        && (!port.starts_with(':') || !port[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        // Go's url.Parse words
        return Err(bad(&format!("invalid port {port:?} after host")));
    }
    Ok(CifsUrl {
        host: (!host.is_empty()).then_some((start, start + host.len())),
        port: port.len() > 1,
    })
}

/// `o` split by moby's table: mount(2) flags, and the rest joined as the
/// filesystem's data.
pub fn split_options(o: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in o.split(',') {
        match FLAGS.iter().find(|(name, ..)| *name == opt) {
            Some((_, clear, flag)) if !flag.is_empty() => {
                if *clear {
                    flags.remove(*flag);
                } else {
                    flags.insert(*flag);
                }
            }
            _ => data.push(opt),
        }
    }
    (flags, data.join(","))
}

/// moby/sys/mount's `flags` table: (word, clears, flag).
const FLAGS: &[(&str, bool, MsFlags)] = &[
    ("defaults", false, MsFlags::empty()),
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("suid", true, MsFlags::MS_NOSUID),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("dev", true, MsFlags::MS_NODEV),
    ("nodev", false, MsFlags::MS_NODEV),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("atime", true, MsFlags::MS_NOATIME),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("bind", false, MsFlags::MS_BIND),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("unbindable", false, MsFlags::MS_UNBINDABLE),
    (
        "runbindable",
        false,
        MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC),
    ),
    ("private", false, MsFlags::MS_PRIVATE),
    (
        "rprivate",
        false,
        MsFlags::MS_PRIVATE.union(MsFlags::MS_REC),
    ),
    ("shared", false, MsFlags::MS_SHARED),
    ("rshared", false, MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", false, MsFlags::MS_SLAVE),
    ("rslave", false, MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        LocalOptions::parse(&opts(pairs)).unwrap_err().to_string()
    }

    /// moby's TestVolCreateValidation, message for message.
    #[test]
    fn validation_in_mobys_words() {
        assert_eq!(err(&[("hello", "world")]), r#"invalid option: "hello""#);
        assert_eq!(err(&[("size", "hello")]), "invalid size: 'hello'");
        assert_eq!(
            err(&[("size", "1234")]),
            "quota size requested but no quota support"
        );
        assert_eq!(
            err(&[("device", "foo")]),
            r#"missing required option: "type""#
        );
        assert_eq!(
            err(&[("type", "foo")]),
            r#"missing required option: "device""#
        );
        assert_eq!(
            err(&[("o", "foo"), ("type", "foo")]),
            r#"missing required option: "device""#
        );
        assert_eq!(
            err(&[("o", "foo"), ("device", "foo")]),
            r#"missing required option: "type""#
        );
        assert_eq!(
            err(&[
                ("type", "cifs"),
                ("device", "//some.example.com:2345/thepath"),
                ("o", "foo")
            ]),
            "port not allowed in CIFS device URL, include 'port' in 'o='"
        );
        assert_eq!(
            err(&[("type", "cifs"), ("device", ":::"), ("o", "foo")]),
            r#"error parsing mount device url: parse ":::": missing protocol scheme"#
        );
        for ok in [
            &[][..],
            &[("type", "foo"), ("device", "foo")],
            &[("type", "foo"), ("device", "foo"), ("o", "foo")],
            &[
                ("type", "cifs"),
                ("device", "//some.example.com/thepath"),
                ("o", "foo"),
            ],
            &[("size", "0")],
        ] {
            LocalOptions::parse(&opts(ok)).unwrap();
        }
        assert!(!LocalOptions::parse(&opts(&[])).unwrap().needs_mount());
        let tmpfs = LocalOptions::parse(&opts(&[("type", "tmpfs"), ("device", "tmpfs")])).unwrap();
        assert!(tmpfs.needs_mount());
    }

    #[test]
    fn o_splits_into_flags_and_data() {
        let (flags, data) = split_options("ro,nosuid,size=64m,uid=1000,noexec,defaults,mode=1777");
        assert_eq!(
            flags,
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC
        );
        // moby's table gives "defaults" no flag, so it is data.
        assert_eq!(data, "size=64m,uid=1000,defaults,mode=1777");
        assert_eq!(split_options("bind"), (MsFlags::MS_BIND, String::new()));
        assert_eq!(
            split_options("rbind,rw"),
            (MsFlags::MS_BIND | MsFlags::MS_REC, String::new())
        );
        assert_eq!(split_options("ro,rw").0, MsFlags::empty());
        assert_eq!(split_options("").1, "");
        assert_eq!(
            split_options("addr=10.0.0.1,rshared,nfsvers=4"),
            (
                MsFlags::MS_SHARED | MsFlags::MS_REC,
                "addr=10.0.0.1,nfsvers=4".into()
            )
        );
    }

    /// moby's TestVolMountOpts.
    #[test]
    fn network_addresses_are_resolved() {
        let resolve = |host: &str| -> io::Result<IpAddr> {
            match host {
                "example.com" => Ok("1.2.3.4".parse().unwrap()),
                _ => Err(io::Error::new(io::ErrorKind::NotFound, "no such host")),
            }
        };
        let got = |t: &str, d: &str, o: &str| {
            LocalOptions {
                fs_type: t.into(),
                device: d.into(),
                options: o.into(),
            }
            .resolved(&resolve)
        };
        let ok = |t, d, o| got(t, d, o).unwrap();
        assert_eq!(
            ok("cifs", "//1.2.3.4/Program Files", ""),
            ("//1.2.3.4/Program Files".into(), "".into())
        );
        assert_eq!(
            ok("cifs", "//example.com/Program Files", "addr=example.com"),
            ("//example.com/Program Files".into(), "addr=1.2.3.4".into())
        );
        assert_eq!(
            ok("cifs", "//example.com/Program Files", ""),
            ("//1.2.3.4/Program Files".into(), "".into())
        );
        assert_eq!(
            ok("cifs", "//user@example.com/share", ""),
            ("//user@1.2.3.4/share".into(), "".into())
        );
        assert_eq!(
            ok("nfs", "//example.com/Program Files", ""),
            ("//example.com/Program Files".into(), "".into())
        );
        assert_eq!(
            ok("nfs", ":/export", "addr=example.com,nfsvers=4"),
            (":/export".into(), "addr=1.2.3.4,nfsvers=4".into())
        );
        // Addresses are kept; other types are never resolved.
        assert_eq!(ok("nfs", ":/x", "addr=10.0.0.1").1, "addr=10.0.0.1");
        assert_eq!(
            ok("ext4", "/dev/x", "addr=example.org").1,
            "addr=example.org"
        );
        assert_eq!(
            got("nfs", ":/x", "addr=nowhere.invalid").unwrap_err().to_string(),
            "error resolving passed in network volume address: lookup nowhere.invalid: no such host"
        );
        assert_eq!(
            got("nfs", "", "").unwrap_err().to_string(),
            "missing device in volume options"
        );
    }
}

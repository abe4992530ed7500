//! Turns an OCI mount's `options` into mount(2) flags, propagation flags
//! and the data string, as runc and the mount(8) tool read them.

use nix::mount::MsFlags;

/// A parsed option list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount call itself.
    pub flags: MsFlags,
    /// Propagation changes (private, rshared, ...) applied after mounting.
    pub propagation: Vec<MsFlags>,
    /// Filesystem-specific options ("mode=755", "size=64m", ...).
    pub data: String,
    /// Whether "bind" or "rbind" was given.
    pub bind: bool,
    /// "tmpcopyup": fill a new tmpfs with what the directory it covers
    /// holds.
    pub copy_up: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            data: String::new(),
            bind: false,
            copy_up: false,
        }
    }
}

fn flag_of(option: &str) -> Option<(bool, MsFlags)> {
    // (clear?, flag)
    Some(match option {
        "async" => (true, MsFlags::MS_SYNCHRONOUS),
        "atime" => (true, MsFlags::MS_NOATIME),
        "defaults" => (false, MsFlags::empty()),
        "dev" => (true, MsFlags::MS_NODEV),
        "diratime" => (true, MsFlags::MS_NODIRATIME),
        "dirsync" => (false, MsFlags::MS_DIRSYNC),
        "exec" => (true, MsFlags::MS_NOEXEC),
        "iversion" => (false, MsFlags::MS_I_VERSION),
        "lazytime" => (false, MsFlags::MS_LAZYTIME),
        "loud" => (true, MsFlags::MS_SILENT),
        "mand" => (false, MsFlags::MS_MANDLOCK),
        "noatime" => (false, MsFlags::MS_NOATIME),
        "nodev" => (false, MsFlags::MS_NODEV),
        "nodiratime" => (false, MsFlags::MS_NODIRATIME),
        "noexec" => (false, MsFlags::MS_NOEXEC),
        "noiversion" => (true, MsFlags::MS_I_VERSION),
        "nolazytime" => (true, MsFlags::MS_LAZYTIME),
        "nomand" => (true, MsFlags::MS_MANDLOCK),
        "norelatime" => (true, MsFlags::MS_RELATIME),
        "nostrictatime" => (true, MsFlags::MS_STRICTATIME),
        "nosuid" => (false, MsFlags::MS_NOSUID),
        "relatime" => (false, MsFlags::MS_RELATIME),
        "remount" => (false, MsFlags::MS_REMOUNT),
        "ro" => (false, MsFlags::MS_RDONLY),
        "rw" => (true, MsFlags::MS_RDONLY),
        "silent" => (false, MsFlags::MS_SILENT),
        "strictatime" => (false, MsFlags::MS_STRICTATIME),
        "suid" => (true, MsFlags::MS_NOSUID),
        "sync" => (false, MsFlags::MS_SYNCHRONOUS),
        _ => return None,
    })
}

pub fn propagation_of(option: &str) -> Option<MsFlags> {
    Some(match option {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Options that runc understands but berth does not implement yet: refused
/// rather than passed to the kernel as data, where they would mean nothing.
const UNSUPPORTED: &[&str] = &["idmap", "ridmap"];

pub fn parse(options: &[String]) -> Result<MountOptions, String> {
    let mut out = MountOptions::default();
    let mut data = Vec::new();
    for opt in options {
        let opt = opt.as_str();
        if opt == "bind" {
            out.bind = true;
            out.flags |= MsFlags::MS_BIND;
        } else if opt == "rbind" {
            out.bind = true;
            out.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
        } else if opt == "tmpcopyup" {
            out.copy_up = true;
        } else if let Some(p) = propagation_of(opt) {
            out.propagation.push(p);
        } else if let Some((clear, f)) = flag_of(opt) {
            if clear {
                out.flags.remove(f);
            } else {
                out.flags.insert(f);
            }
        } else if UNSUPPORTED.contains(&opt) || opt.starts_with("idmap=") {
            return Err(format!("mount option {opt:?} is not supported"));
        } else {
            data.push(opt);
        }
    }
    out.data = data.join(",");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_data_and_propagation() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        let o = p(&["rbind", "ro", "rprivate"]);
        assert!(o.bind && o.flags.contains(MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
    }

    #[test]
    fn later_options_win() {
        assert!(!p(&["ro", "rw"]).flags.contains(MsFlags::MS_RDONLY));
        assert!(p(&["rw", "ro"]).flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn refuses_unsupported_options() {
        assert!(parse(&["idmap".to_string()]).is_err());
        assert!(parse(&["idmap=uids=0-1000-10".to_string()]).is_err());
    }

    #[test]
    fn tmpcopyup_is_an_option_not_data() {
        let o = p(&["nosuid", "tmpcopyup", "size=1m"]);
        assert!(o.copy_up);
        assert_eq!(o.data, "size=1m");
        assert!(!p(&["nosuid"]).copy_up);
    }
}

//! Turns an OCI mount's `options` into mount(2) flags, recursive mount
//! attributes, propagation changes and the data string, as runc reads them.
//! [`OPTIONS`] is the one table of what berth understands: the parser
//! looks options up in it and `berth-runtime features` lists it.

use berth_sys::fsmount as fsm;
use nix::mount::MsFlags;

/// What one known option does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Sets (`clear` false) or clears a mount(2) flag.
    Flag { clear: bool, flag: MsFlags },
    /// A propagation change applied after mounting.
    Propagation(MsFlags),
    /// Sets or clears a `MOUNT_ATTR_*` on the mount and every mount below
    /// it (`mount_setattr` with `AT_RECURSIVE`).
    Recursive { clear: bool, attr: u32 },
    /// `bind` (false) or `rbind` (true).
    Bind { recursive: bool },
    /// `tmpcopyup`.
    CopyUp,
    /// `idmap` (false) or `ridmap` (true): an idmapped bind mount, the
    /// mapping applied to the top mount only or to every mount below it
    /// too (`rootfs::idmapped`).
    Idmap { recursive: bool },
}

const fn set(flag: MsFlags) -> Effect {
    Effect::Flag { clear: false, flag }
}
const fn clr(flag: MsFlags) -> Effect {
    Effect::Flag { clear: true, flag }
}
const fn rset(attr: u32) -> Effect {
    Effect::Recursive { clear: false, attr }
}
const fn rclr(attr: u32) -> Effect {
    Effect::Recursive { clear: true, attr }
}

/// `MS_NOSYMFOLLOW` (Linux 5.10), which nix does not name.
pub const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW);

/// Every option berth understands, sorted by name.
pub const OPTIONS: &[(&str, Effect)] = &[
    ("async", clr(MsFlags::MS_SYNCHRONOUS)),
    ("atime", clr(MsFlags::MS_NOATIME)),
    ("bind", Effect::Bind { recursive: false }),
    ("defaults", set(MsFlags::empty())),
    ("dev", clr(MsFlags::MS_NODEV)),
    ("diratime", clr(MsFlags::MS_NODIRATIME)),
    ("dirsync", set(MsFlags::MS_DIRSYNC)),
    ("exec", clr(MsFlags::MS_NOEXEC)),
    ("idmap", Effect::Idmap { recursive: false }),
    ("iversion", set(MsFlags::MS_I_VERSION)),
    ("lazytime", set(MsFlags::MS_LAZYTIME)),
    ("loud", clr(MsFlags::MS_SILENT)),
    ("mand", set(MsFlags::MS_MANDLOCK)),
    ("noatime", set(MsFlags::MS_NOATIME)),
    ("nodev", set(MsFlags::MS_NODEV)),
    ("nodiratime", set(MsFlags::MS_NODIRATIME)),
    ("noexec", set(MsFlags::MS_NOEXEC)),
    ("noiversion", clr(MsFlags::MS_I_VERSION)),
    ("nolazytime", clr(MsFlags::MS_LAZYTIME)),
    ("nomand", clr(MsFlags::MS_MANDLOCK)),
    ("norelatime", clr(MsFlags::MS_RELATIME)),
    ("nostrictatime", clr(MsFlags::MS_STRICTATIME)),
    ("nosuid", set(MsFlags::MS_NOSUID)),
    ("nosymfollow", set(MS_NOSYMFOLLOW)),
    ("private", Effect::Propagation(MsFlags::MS_PRIVATE)),
    ("ratime", rclr(fsm::MOUNT_ATTR_NOATIME)),
    ("rbind", Effect::Bind { recursive: true }),
    ("rdev", rclr(fsm::MOUNT_ATTR_NODEV)),
    ("rdiratime", rclr(fsm::MOUNT_ATTR_NODIRATIME)),
    ("relatime", set(MsFlags::MS_RELATIME)),
    ("remount", set(MsFlags::MS_REMOUNT)),
    ("rexec", rclr(fsm::MOUNT_ATTR_NOEXEC)),
    ("ridmap", Effect::Idmap { recursive: true }),
    ("rnoatime", rset(fsm::MOUNT_ATTR_NOATIME)),
    ("rnodev", rset(fsm::MOUNT_ATTR_NODEV)),
    ("rnodiratime", rset(fsm::MOUNT_ATTR_NODIRATIME)),
    ("rnoexec", rset(fsm::MOUNT_ATTR_NOEXEC)),
    ("rnorelatime", rclr(fsm::MOUNT_ATTR_RELATIME)),
    ("rnostrictatime", rclr(fsm::MOUNT_ATTR_STRICTATIME)),
    ("rnosuid", rset(fsm::MOUNT_ATTR_NOSUID)),
    ("rnosymfollow", rset(fsm::MOUNT_ATTR_NOSYMFOLLOW)),
    ("ro", set(MsFlags::MS_RDONLY)),
    (
        "rprivate",
        Effect::Propagation(MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ),
    ("rrelatime", rset(fsm::MOUNT_ATTR_RELATIME)),
    ("rro", rset(fsm::MOUNT_ATTR_RDONLY)),
    ("rrw", rclr(fsm::MOUNT_ATTR_RDONLY)),
    (
        "rshared",
        Effect::Propagation(MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ),
    (
        "rslave",
        Effect::Propagation(MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ),
    ("rstrictatime", rset(fsm::MOUNT_ATTR_STRICTATIME)),
    ("rsuid", rclr(fsm::MOUNT_ATTR_NOSUID)),
    ("rsymfollow", rclr(fsm::MOUNT_ATTR_NOSYMFOLLOW)),
    (
        "runbindable",
        Effect::Propagation(MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
    ),
    ("rw", clr(MsFlags::MS_RDONLY)),
    ("shared", Effect::Propagation(MsFlags::MS_SHARED)),
    ("silent", set(MsFlags::MS_SILENT)),
    ("slave", Effect::Propagation(MsFlags::MS_SLAVE)),
    ("strictatime", set(MsFlags::MS_STRICTATIME)),
    ("suid", clr(MsFlags::MS_NOSUID)),
    ("symfollow", clr(MS_NOSYMFOLLOW)),
    ("sync", set(MsFlags::MS_SYNCHRONOUS)),
    ("tmpcopyup", Effect::CopyUp),
    ("unbindable", Effect::Propagation(MsFlags::MS_UNBINDABLE)),
];

/// The table entry for `name`.
pub fn lookup(name: &str) -> Option<Effect> {
    OPTIONS
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| OPTIONS[i].1)
}

/// The propagation flags an option (or `rootfsPropagation`) names.
pub fn propagation_of(option: &str) -> Option<MsFlags> {
    match lookup(option) {
        Some(Effect::Propagation(p)) => Some(p),
        _ => None,
    }
}

/// A parsed option list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount call itself.
    pub flags: MsFlags,
    /// Attributes set and cleared on the whole mount tree afterwards.
    pub recursive: fsm::MountAttr,
    /// Propagation changes (private, rshared, ...) applied after mounting.
    pub propagation: Vec<MsFlags>,
    /// Options berth does not know, for the filesystem ("mode=755",
    /// "size=64m", ...), joined with commas.
    pub data: String,
    /// Whether "bind" or "rbind" was given.
    pub bind: bool,
    /// "tmpcopyup": fill a new tmpfs with what the directory it covers
    /// holds.
    pub copy_up: bool,
    /// "idmap" (`Some(false)`) or "ridmap" (`Some(true)`); the last one
    /// given wins.
    pub idmap: Option<bool>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            recursive: fsm::MountAttr::default(),
            propagation: Vec::new(),
            data: String::new(),
            bind: false,
            copy_up: false,
            idmap: None,
        }
    }
}

impl MountOptions {
    /// Whether any recursive attribute was asked for.
    pub fn has_recursive(&self) -> bool {
        self.recursive.attr_set != 0 || self.recursive.attr_clr != 0
    }
}

pub fn parse(options: &[String]) -> Result<MountOptions, String> {
    let mut out = MountOptions::default();
    let mut data = Vec::new();
    for opt in options {
        let opt = opt.as_str();
        match lookup(opt) {
            Some(Effect::Bind { recursive }) => {
                out.bind = true;
                out.flags |= MsFlags::MS_BIND;
                if recursive {
                    out.flags |= MsFlags::MS_REC;
                }
            }
            Some(Effect::CopyUp) => out.copy_up = true,
            Some(Effect::Idmap { recursive }) => out.idmap = Some(recursive),
            Some(Effect::Propagation(p)) => out.propagation.push(p),
            Some(Effect::Flag { clear, flag }) => {
                if clear {
                    out.flags.remove(flag);
                } else {
                    out.flags.insert(flag);
                }
            }
            Some(Effect::Recursive { clear, attr }) => {
                let r = &mut out.recursive;
                let attr = u64::from(attr);
                let atime = u64::from(fsm::MOUNT_ATTR__ATIME);
                if attr & atime == attr {
                    // The access time is one field (relatime is its 0):
                    // setting a value means clearing the field first
                    // (mount_setattr(2)); clearing one means relatime.
                    r.attr_clr |= atime;
                    r.attr_set &= !atime;
                    if !clear {
                        r.attr_set |= attr;
                    }
                } else if clear {
                    r.attr_clr |= attr;
                    r.attr_set &= !attr;
                } else {
                    r.attr_set |= attr;
                    r.attr_clr &= !attr;
                }
            }
            None => {
                // crun's inline form (`idmap=uids=0-1-10;gids=...`) is no
                // filesystem data: refused rather than silently dropped.
                if opt.starts_with("idmap=") || opt.starts_with("ridmap=") {
                    return Err(format!(
                        "mount option {opt:?} is not supported: give the mount \
                         uidMappings and gidMappings with a plain \"idmap\" or \"ridmap\""
                    ));
                }
                data.push(opt);
            }
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
    fn table_is_sorted_and_unique() {
        for pair in OPTIONS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
    }

    #[test]
    fn every_option_in_the_table_is_understood_and_nothing_else() {
        for (name, _) in OPTIONS {
            let o = p(&[name]);
            assert!(o.data.is_empty(), "{name} went to data");
        }
        for name in ["r0", "rwx", "mode=755", "size=1m", "nosymlinks"] {
            assert_eq!(p(&[name]).data, name);
        }
    }

    #[test]
    fn flags_data_and_propagation() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        let o = p(&["rbind", "ro", "rprivate"]);
        assert!(o.bind && o.flags.contains(MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert!(p(&["nosymfollow"]).flags.contains(MS_NOSYMFOLLOW));
    }

    #[test]
    fn recursive_attributes() {
        let o = p(&[
            "rbind",
            "rro",
            "rnosuid",
            "rnodev",
            "rnoexec",
            "rnosymfollow",
        ]);
        assert!(o.has_recursive() && o.data.is_empty());
        let want = fsm::MOUNT_ATTR_RDONLY
            | fsm::MOUNT_ATTR_NOSUID
            | fsm::MOUNT_ATTR_NODEV
            | fsm::MOUNT_ATTR_NOEXEC
            | fsm::MOUNT_ATTR_NOSYMFOLLOW;
        assert_eq!(o.recursive.attr_set, u64::from(want));
        assert_eq!(o.recursive.attr_clr, 0);
        let o = p(&["rro", "rrw", "rsuid"]);
        assert_eq!(o.recursive.attr_set, 0);
        assert_eq!(
            o.recursive.attr_clr,
            u64::from(fsm::MOUNT_ATTR_RDONLY | fsm::MOUNT_ATTR_NOSUID)
        );
        // Access time: one field, cleared whole, last value wins.
        let o = p(&["rnoatime", "rstrictatime"]);
        assert_eq!(o.recursive.attr_set, u64::from(fsm::MOUNT_ATTR_STRICTATIME));
        assert_eq!(o.recursive.attr_clr, u64::from(fsm::MOUNT_ATTR__ATIME));
        let o = p(&["rrelatime"]);
        assert_eq!(o.recursive.attr_set, 0);
        assert_eq!(o.recursive.attr_clr, u64::from(fsm::MOUNT_ATTR__ATIME));
        assert!(o.has_recursive());
        let o = p(&["rnodiratime", "rdiratime"]);
        assert_eq!(o.recursive.attr_clr, u64::from(fsm::MOUNT_ATTR_NODIRATIME));
    }

    #[test]
    fn later_options_win() {
        assert!(!p(&["ro", "rw"]).flags.contains(MsFlags::MS_RDONLY));
        assert!(p(&["rw", "ro"]).flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn idmap_and_ridmap_are_options_not_data() {
        assert_eq!(p(&["rbind"]).idmap, None);
        let o = p(&["rbind", "idmap"]);
        assert_eq!((o.idmap, o.data.as_str()), (Some(false), ""));
        assert_eq!(p(&["rbind", "ridmap"]).idmap, Some(true));
        assert_eq!(p(&["idmap", "ridmap"]).idmap, Some(true));
        assert_eq!(p(&["ridmap", "idmap"]).idmap, Some(false));
    }

    #[test]
    fn refuses_crun_inline_idmap_mappings() {
        for o in [
            "idmap=uids=0-1000-10;gids=0-1000-10",
            "ridmap=uids=0-1-1",
            "idmap=",
        ] {
            let err = parse(&[o.to_string()]).unwrap_err();
            assert!(err.contains(o) && err.contains("not supported"), "{err}");
            assert!(err.contains("uidMappings"), "{err}");
        }
    }

    #[test]
    fn tmpcopyup_is_an_option_not_data() {
        let o = p(&["nosuid", "tmpcopyup", "size=1m"]);
        assert!(o.copy_up);
        assert_eq!(o.data, "size=1m");
        assert!(!p(&["nosuid"]).copy_up);
    }
}

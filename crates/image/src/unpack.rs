//! Safe layer unpacking: a layer tar (gzip, zstd or plain, told by magic
//! bytes) into an empty directory, as overlayfs wants it.
//!
//! The tar crate only parses; every file-system change is made here,
//! relative to directory descriptors, never through a path string:
//! - entry names are checked first: absolute paths, `..`, names over
//!   NAME_MAX or paths over PATH_MAX are refused;
//! - parents are opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)`,
//!   so an entry written "through" a symlink the layer made earlier is
//!   refused, and nothing can resolve outside the layer directory;
//! - a new entry replaces what is there (unlink, then create with
//!   `O_EXCL|O_NOFOLLOW`), so no write ever follows an existing link;
//! - hard links must name an earlier entry of the same layer;
//! - device nodes need CAP_MKNOD and fail with a clear error without it;
//! - `.wh.<name>` becomes an overlay whiteout (char device 0:0),
//!   `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr on its directory,
//!   and layer xattrs in `trusted.overlay.*` are dropped (they would steer
//!   overlayfs);
//! - [`Limits`] bound the entry count and bytes (tar bombs).
//!
//! Callers unpack into a temp directory and rename it into place only
//! when this returns `Ok`, so a hostile or truncated tar leaves nothing.

use std::ffi::CString;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use berth_sys::{fs as sysfs, openat2, resolve};
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstatat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag,
    UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

use crate::compression::decompress;
use crate::digest::DigestReader;
use crate::{Digest, Error, Result};

const NAME_MAX: usize = 255;
const PATH_MAX: usize = 4095;
const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const OVERLAY_OPAQUE: &std::ffi::CStr = c"trusted.overlay.opaque";

/// Bounds on one layer, against tar bombs.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: u64,
    /// Uncompressed bytes of the whole tar stream.
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        // Generous for real images (a full distro layer has ~100k entries),
        // small enough to stop a header bomb before it eats the inodes.
        Limits {
            max_entries: 2_000_000,
            max_bytes: 256 << 30,
        }
    }
}

/// What an unpacked layer turned out to be.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// sha256 of the uncompressed tar: the layer's diff id.
    pub diff_id: Digest,
    /// Bytes of file content.
    pub size: u64,
    pub entries: u64,
}

/// Unpacks the layer tar `reader` into `dest`, an existing empty directory.
pub fn unpack(reader: impl Read, dest: &Path, limits: &Limits) -> Result<Unpacked> {
    unpack_with(reader, dest, limits, &Options::default())
}

/// How [`unpack_with`] differs from a layer's unpack (the Engine API's
/// `docker cp` into a container).
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Every entry owned by (uid, gid) instead of the tar's owners
    /// (`cp` without `copyUIDGID`: the container's root owns the copy).
    pub owner: Option<(u32, u32)>,
    /// An entry may not replace a directory with a non-directory or the
    /// reverse (dockerd's `noOverwriteDirNonDir`).
    pub keep_kinds: bool,
}

/// [`unpack`] with [`Options`].
pub fn unpack_with(
    reader: impl Read,
    dest: &Path,
    limits: &Limits,
    options: &Options,
) -> Result<Unpacked> {
    let what = dest.display().to_string();
    let layer_err = |reason: String| Error::BadLayer {
        layer: what.clone(),
        reason,
    };
    let (_, plain) = decompress(reader).map_err(|e| layer_err(format!("cannot read: {e}")))?;
    let root = nix::fcntl::open(
        dest,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("open layer directory", dest, e.into()))?;
    let mut archive = tar::Archive::new(DigestReader::new(plain));
    let mut writer = LayerWriter {
        root,
        dirs: Vec::new(),
        size: 0,
        entries: 0,
        limits: *limits,
        options: *options,
    };
    let entries = archive
        .entries()
        .map_err(|e| layer_err(format!("not a tar: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| layer_err(format!("broken tar: {e}")))?;
        writer.entries += 1;
        if writer.entries > limits.max_entries {
            return Err(layer_err(format!(
                "more than {} entries (limit)",
                limits.max_entries
            )));
        }
        writer.entry(entry)?;
    }
    writer.finish_dirs()?;
    // Hash the rest of the stream (end-of-archive blocks, padding) too:
    // the diff id covers every byte.
    let mut rest = archive.into_inner();
    let budget = limits.max_bytes.saturating_sub(rest.current().1);
    let drained = io::copy(
        &mut rest.by_ref().take(budget.saturating_add(1)),
        &mut io::sink(),
    )
    .map_err(|e| layer_err(format!("broken tar: {e}")))?;
    if drained > budget {
        return Err(layer_err(format!(
            "more than {} bytes uncompressed (limit)",
            limits.max_bytes
        )));
    }
    let (diff_id, _) = rest.finish();
    Ok(Unpacked {
        diff_id,
        size: writer.size,
        entries: writer.entries,
    })
}

struct LayerWriter {
    root: OwnedFd,
    /// Directories and their mtimes, set last (children change them).
    dirs: Vec<(Vec<Vec<u8>>, i64)>,
    size: u64,
    entries: u64,
    limits: Limits,
    options: Options,
}

/// The metadata of one entry that we apply.
struct Meta {
    uid: Uid,
    gid: Gid,
    mode: Mode,
    mtime: i64,
    xattrs: Vec<(CString, Vec<u8>)>,
}

impl LayerWriter {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        if entry.header().entry_type().is_pax_global_extensions() {
            return Ok(()); // archive-wide comments (git archive), nothing to apply
        }
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let comps = split_path(&raw, &name)?;
        let header = entry.header();
        let kind = header.entry_type();
        let bad = |reason: &str| Error::BadEntry {
            entry: name.clone(),
            reason: reason.to_owned(),
        };
        let num = |v: io::Result<u64>, what: &str| -> Result<u64> {
            v.map_err(|_| bad(&format!("bad {what} field")))
        };
        let uid = u32::try_from(num(header.uid(), "uid")?).map_err(|_| bad("uid out of range"))?;
        let gid = u32::try_from(num(header.gid(), "gid")?).map_err(|_| bad("gid out of range"))?;
        let (uid, gid) = self.options.owner.unwrap_or((uid, gid));
        let mode = num(header.mode().map(u64::from), "mode")? as u32 & 0o7777;
        let mtime = num(header.mtime(), "mtime")? as i64;
        let device = (
            header.device_major().ok().flatten(),
            header.device_minor().ok().flatten(),
        );
        let link = entry.link_name_bytes().map(|l| l.into_owned());
        let xattrs = read_xattrs(&mut entry).map_err(|e| bad(&format!("bad pax header: {e}")))?;
        let meta = Meta {
            uid: Uid::from_raw(uid),
            gid: Gid::from_raw(gid),
            mode: Mode::from_bits_truncate(mode),
            mtime,
            xattrs,
        };

        let Some((last, parents)) = comps.split_last() else {
            // "./": the layer root itself; its attributes come from the
            // snapshot, not the tar.
            return Ok(());
        };
        if last.as_slice() == OPAQUE_MARKER {
            let dir = self.open_dir(parents, true, &name)?;
            return sysfs::set_xattr_fd(dir.as_fd(), OVERLAY_OPAQUE, b"y")
                .map_err(|e| self.fail(&name, "mark opaque", e));
        }
        if last.starts_with(b".wh..wh.") {
            return Ok(()); // aufs bookkeeping, meaningless to overlayfs
        }
        let parent = self.open_dir(parents, true, &name)?;
        if let Some(target) = last.strip_prefix(WHITEOUT_PREFIX) {
            if target.is_empty() || target == b"." || target == b".." {
                return Err(bad("bad whiteout name"));
            }
            let target = cstr(target, &name)?;
            self.remove_existing(&parent, &target, false, &name)?;
            return mknodat(&parent, target.as_c_str(), SFlag::S_IFCHR, Mode::empty(), 0)
                .map_err(|e| self.fail(&name, "create whiteout", e.into()));
        }
        let leaf = cstr(last, &name)?;
        if kind.is_dir() {
            let exists = self.remove_existing(&parent, &leaf, true, &name)?;
            if !exists {
                mkdirat(&parent, leaf.as_c_str(), Mode::from_bits_truncate(0o700))
                    .map_err(|e| self.fail(&name, "create directory", e.into()))?;
            }
            let fd = openat(
                &parent,
                leaf.as_c_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| self.fail(&name, "open directory", e.into()))?;
            self.apply_fd(&fd, &meta, false, &name)?;
            self.dirs.push((comps.clone(), mtime));
            return Ok(());
        }
        if kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse() {
            self.remove_existing(&parent, &leaf, false, &name)?;
            let fd = openat(
                &parent,
                leaf.as_c_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
            .map_err(|e| self.fail(&name, "create file", e.into()))?;
            let expected = entry.size();
            self.size += expected;
            if self.size > self.limits.max_bytes {
                return Err(Error::BadLayer {
                    layer: name.clone(),
                    reason: format!("more than {} bytes (limit)", self.limits.max_bytes),
                });
            }
            let mut file = std::fs::File::from(fd);
            let copied = io::copy(&mut entry, &mut file)
                .map_err(|e| bad(&format!("cannot read its data: {e}")))?;
            if copied != expected {
                return Err(bad(&format!("truncated: {copied} of {expected} bytes")));
            }
            return self.apply_fd(&file, &meta, true, &name);
        }
        if kind.is_symlink() {
            let target = link.ok_or_else(|| bad("symlink without a target"))?;
            if target.is_empty() || target.len() > PATH_MAX {
                return Err(bad("bad symlink target length"));
            }
            self.remove_existing(&parent, &leaf, false, &name)?;
            symlinkat(cstr(&target, &name)?.as_c_str(), &parent, leaf.as_c_str())
                .map_err(|e| self.fail(&name, "create symlink", e.into()))?;
            return self.apply_at(&parent, &leaf, &meta, true, &name);
        }
        if kind.is_hard_link() {
            let target = link.ok_or_else(|| bad("hard link without a target"))?;
            let tname = String::from_utf8_lossy(&target).into_owned();
            let tcomps = split_path(&target, &name).map_err(|e| match e {
                Error::UnsafeEntry { reason, .. } => Error::UnsafeEntry {
                    entry: name.clone(),
                    reason: format!("hard link target {tname:?}: {reason}"),
                },
                e => e,
            })?;
            let Some((tlast, tparents)) = tcomps.split_last() else {
                return Err(bad("hard link to the layer root"));
            };
            let tparent =
                self.open_dir(tparents, false, &name)
                    .map_err(|_| Error::UnsafeEntry {
                        entry: name.clone(),
                        reason: format!(
                            "hard link target {tname:?} is not an earlier entry of this layer"
                        ),
                    })?;
            self.remove_existing(&parent, &leaf, false, &name)?;
            return linkat(
                &tparent,
                cstr(tlast, &name)?.as_c_str(),
                &parent,
                leaf.as_c_str(),
                AtFlags::empty(),
            )
            .map_err(|e| match e {
                Errno::ENOENT => Error::UnsafeEntry {
                    entry: name.clone(),
                    reason: format!(
                        "hard link target {tname:?} is not an earlier entry of this layer"
                    ),
                },
                e => self.fail(&name, "create hard link", e.into()),
            });
        }
        let node = if kind.is_character_special() {
            SFlag::S_IFCHR
        } else if kind.is_block_special() {
            SFlag::S_IFBLK
        } else if kind.is_fifo() {
            SFlag::S_IFIFO
        } else {
            return Err(Error::Unsupported {
                what: "tar entry type",
                value: format!("{:?} ({name})", kind.as_byte() as char),
            });
        };
        let dev = match device {
            (Some(major), Some(minor)) if node != SFlag::S_IFIFO => {
                nix::sys::stat::makedev(major.into(), minor.into())
            }
            _ => 0,
        };
        self.remove_existing(&parent, &leaf, false, &name)?;
        mknodat(&parent, leaf.as_c_str(), node, Mode::empty(), dev).map_err(|e| match e {
            Errno::EPERM if node != SFlag::S_IFIFO => {
                bad("device nodes can only be unpacked as root (CAP_MKNOD)")
            }
            e => self.fail(&name, "create device node", e.into()),
        })?;
        self.apply_at(&parent, &leaf, &meta, false, &name)
    }

    fn fail(&self, entry: &str, action: &'static str, source: io::Error) -> Error {
        Error::BadEntry {
            entry: entry.to_owned(),
            reason: format!("failed to {action}: {source}"),
        }
    }

    /// Opens the directory `comps` below the layer root, creating missing
    /// ones (mode 0755) when `create`. Refuses symlinks anywhere on the way.
    fn open_dir(&self, comps: &[Vec<u8>], create: bool, entry: &str) -> Result<OwnedFd> {
        let symlinked = || Error::UnsafeEntry {
            entry: entry.to_owned(),
            reason: "a parent directory is a symlink".into(),
        };
        if comps.is_empty() {
            return self
                .root
                .try_clone()
                .map_err(|e| self.fail(entry, "open layer root", e));
        }
        let joined = cstr(&comps.join(&b'/'), entry)?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        let how =
            resolve::IN_ROOT | resolve::NO_SYMLINKS | resolve::NO_MAGICLINKS | resolve::NO_XDEV;
        match openat2(self.root.as_fd(), &joined, flags, 0, how) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(symlinked()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create => {}
            Err(e) => return Err(self.fail(entry, "open parent directory", e)),
        }
        // Some parents are missing: walk and create them one by one.
        let mut cur = self
            .root
            .try_clone()
            .map_err(|e| self.fail(entry, "open layer root", e))?;
        for c in comps {
            let c = cstr(c, entry)?;
            let open = |dir: &OwnedFd| {
                openat(
                    dir,
                    c.as_c_str(),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
            };
            let next = match open(&cur) {
                Err(Errno::ENOENT) => {
                    match mkdirat(&cur, c.as_c_str(), Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => {
                            return Err(self.fail(entry, "create parent directory", e.into()))
                        }
                    }
                    open(&cur)
                }
                other => other,
            };
            cur = match next {
                Ok(fd) => fd,
                Err(Errno::ELOOP) => return Err(symlinked()),
                Err(Errno::ENOTDIR) => {
                    // A symlink opened with O_NOFOLLOW|O_DIRECTORY also lands here.
                    let st = fstatat(&cur, c.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW);
                    if st.is_ok_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFLNK) {
                        return Err(symlinked());
                    }
                    return Err(Error::BadEntry {
                        entry: entry.to_owned(),
                        reason: "a parent is not a directory".into(),
                    });
                }
                Err(e) => return Err(self.fail(entry, "open parent directory", e.into())),
            };
        }
        Ok(cur)
    }

    /// Makes room for a new entry: an existing non-directory is unlinked
    /// (never written through); an existing directory is kept when the new
    /// entry is a directory, removed when empty, refused otherwise.
    /// Returns whether a directory was kept.
    fn remove_existing(
        &self,
        parent: &OwnedFd,
        leaf: &CString,
        is_dir: bool,
        entry: &str,
    ) -> Result<bool> {
        let st = match fstatat(parent, leaf.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(false),
            Err(e) => return Err(self.fail(entry, "stat", e.into())),
        };
        let existing_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if self.options.keep_kinds && existing_dir != is_dir {
            return Err(Error::BadEntry {
                entry: entry.to_owned(),
                reason: if existing_dir {
                    "cannot overwrite a directory with a non-directory".into()
                } else {
                    "cannot overwrite a non-directory with a directory".into()
                },
            });
        }
        if existing_dir {
            if is_dir {
                return Ok(true);
            }
            return match unlinkat(parent, leaf.as_c_str(), UnlinkatFlags::RemoveDir) {
                Ok(()) => Ok(false),
                Err(Errno::ENOTEMPTY) => Err(Error::BadEntry {
                    entry: entry.to_owned(),
                    reason: "replaces a non-empty directory".into(),
                }),
                Err(e) => Err(self.fail(entry, "remove directory", e.into())),
            };
        }
        unlinkat(parent, leaf.as_c_str(), UnlinkatFlags::NoRemoveDir)
            .map_err(|e| self.fail(entry, "remove", e.into()))?;
        Ok(false)
    }

    /// Owner, then mode (chown clears set-id bits), xattrs, mtime.
    fn apply_fd(&self, fd: &impl AsFd, meta: &Meta, times: bool, entry: &str) -> Result<()> {
        fchown(fd, Some(meta.uid), Some(meta.gid))
            .map_err(|e| self.fail(entry, "chown", e.into()))?;
        fchmod(fd, meta.mode).map_err(|e| self.fail(entry, "chmod", e.into()))?;
        for (key, value) in &meta.xattrs {
            sysfs::set_xattr_fd(fd.as_fd(), key, value)
                .map_err(|e| self.fail(entry, "set xattr", e))?;
        }
        if times {
            let t = TimeSpec::new(meta.mtime, 0);
            futimens(fd, &t, &t).map_err(|e| self.fail(entry, "set mtime", e.into()))?;
        }
        Ok(())
    }

    /// The same for an entry that cannot be opened (symlink, device node).
    fn apply_at(
        &self,
        parent: &OwnedFd,
        leaf: &CString,
        meta: &Meta,
        is_symlink: bool,
        entry: &str,
    ) -> Result<()> {
        fchownat(
            parent,
            leaf.as_c_str(),
            Some(meta.uid),
            Some(meta.gid),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.fail(entry, "chown", e.into()))?;
        if !is_symlink {
            fchmodat(
                parent,
                leaf.as_c_str(),
                meta.mode,
                FchmodatFlags::FollowSymlink,
            )
            .map_err(|e| self.fail(entry, "chmod", e.into()))?;
        }
        if !meta.xattrs.is_empty() {
            // A path through our own descriptor; the leaf is not followed.
            let path = fd_path(parent.as_fd(), leaf, entry)?;
            for (key, value) in &meta.xattrs {
                sysfs::set_xattr_nofollow(&path, key, value)
                    .map_err(|e| self.fail(entry, "set xattr", e))?;
            }
        }
        let t = TimeSpec::new(meta.mtime, 0);
        utimensat(
            parent,
            leaf.as_c_str(),
            &t,
            &t,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| self.fail(entry, "set mtime", e.into()))
    }

    fn finish_dirs(&mut self) -> Result<()> {
        for (comps, mtime) in std::mem::take(&mut self.dirs).into_iter().rev() {
            let name = String::from_utf8_lossy(&comps.join(&b'/')).into_owned();
            let fd = self.open_dir(&comps, false, &name)?;
            let t = TimeSpec::new(mtime, 0);
            futimens(&fd, &t, &t).map_err(|e| self.fail(&name, "set mtime", e.into()))?;
        }
        Ok(())
    }
}

/// Splits an entry name into components, refusing what could leave the
/// layer: absolute paths, `..`, over-long names.
fn split_path(raw: &[u8], name: &str) -> Result<Vec<Vec<u8>>> {
    let unsafe_entry = |reason: &str| Error::UnsafeEntry {
        entry: name.to_owned(),
        reason: reason.to_owned(),
    };
    if raw.first() == Some(&b'/') {
        return Err(unsafe_entry("absolute path"));
    }
    if raw.len() > PATH_MAX {
        return Err(unsafe_entry("path longer than PATH_MAX"));
    }
    if raw.contains(&0) {
        return Err(unsafe_entry("NUL byte in name"));
    }
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => continue,
            b".." => return Err(unsafe_entry("path climbs out of the layer with '..'")),
            c if c.len() > NAME_MAX => return Err(unsafe_entry("name longer than NAME_MAX")),
            c => out.push(c.to_vec()),
        }
    }
    Ok(out)
}

fn cstr(bytes: &[u8], entry: &str) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::UnsafeEntry {
        entry: entry.to_owned(),
        reason: "NUL byte in name".into(),
    })
}

fn fd_path(dir: BorrowedFd<'_>, leaf: &CString, entry: &str) -> Result<CString> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(leaf.as_bytes());
    cstr(&p, entry)
}

/// `SCHILY.xattr.*` PAX records, minus the overlayfs namespace.
fn read_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Vec<(CString, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            let Some(key) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                continue;
            };
            if key.starts_with(b"trusted.overlay.") {
                tracing::warn!(key = %String::from_utf8_lossy(key), "dropping an overlayfs xattr from a layer");
                continue;
            }
            let key = CString::new(key).map_err(|_| io::Error::other("NUL in xattr name"))?;
            out.push((key, ext.value_bytes().to_vec()));
        }
    }
    Ok(out)
}

/// True if `name` (a path below a layer root) is an overlay whiteout.
pub fn is_whiteout(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        m.file_type().is_char_device() && m.rdev() == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_names_that_leave_the_layer() {
        assert!(split_path(b"/etc/passwd", "x").is_err());
        assert!(split_path(b"a/../../b", "x").is_err());
        assert!(split_path(&[b'a'; 256], "x").is_err());
        assert_eq!(
            split_path(b"./a//b/", "x").unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert!(split_path(b"./", "x").unwrap().is_empty());
    }
}

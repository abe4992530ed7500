//! Tar archives: `ADD`'s local archives (extracted into the destination,
//! merging with what is there, as Docker does) and a build context sent
//! as a tar. The archive is hostile: each entry's path is cleaned as if
//! under `/`, its parent resolved with `RESOLVE_IN_ROOT` relative to the
//! extraction directory (a symlink an earlier entry made cannot lead out
//! of it, as Docker's chrooted untar), and the entry made with
//! `O_EXCL|O_NOFOLLOW` after removing what was there. Hard links must
//! name a path inside the extraction directory.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::AtFlags;
use nix::sys::stat::{fchmod, futimens, mkdirat, mknodat, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, Gid, Uid};
use tar::EntryType;

use crate::copy::walk::clean_source;
use crate::copy::write::{clear_slot, create_file};
use crate::error::{Error, Result};
use crate::fsops::{cstr, lstat_at, mkdir_all_in, open_child_dir, open_dir_in, split};

/// How an archive's entries are owned and which kinds are allowed.
pub(crate) struct Extract {
    /// `--chown`'s ids, else the archive's own.
    pub owner: Option<(u32, u32)>,
    /// Owner of the directories the archive implies but does not list.
    pub implied_owner: (u32, u32),
    pub devices: bool,
    /// For messages: what is being extracted.
    pub what: String,
}

/// What compression an archive's first bytes show, if it is one berth can
/// read; bzip2 and xz are refused with a clear error.
pub(crate) fn sniff(
    head: &[u8],
    what: &str,
) -> Result<Option<berth_image::compression::Compression>> {
    use berth_image::compression::Compression;
    if head.starts_with(b"BZh") {
        return Err(Error::Unsupported(format!(
            "{what}: bzip2-compressed archives are not supported (gzip, zstd and plain tar are)"
        )));
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Err(Error::Unsupported(format!(
            "{what}: xz-compressed archives are not supported (gzip, zstd and plain tar are)"
        )));
    }
    Ok(match Compression::detect(head) {
        Compression::None => None,
        c => Some(c),
    })
}

/// Whether `r` holds a tar archive (plain, gzip or zstd): Docker extracts
/// what decompresses to a valid tar header and copies anything else.
pub(crate) fn is_archive(r: impl Read, what: &str) -> Result<bool> {
    let mut r = BufReader::new(r);
    let head = r
        .fill_buf()
        .map_err(|e| Error::io("read", what.to_owned(), e))?;
    sniff(head, what)?;
    let (_, mut plain) = berth_image::compression::decompress(r)
        .map_err(|e| Error::io("read", what.to_owned(), e))?;
    let mut block = [0u8; 512];
    let mut got = 0;
    while got < block.len() {
        match plain.read(&mut block[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            // Not decompressible after all: not an archive.
            Err(_) => return Ok(false),
        }
    }
    Ok(got == block.len() && valid_header(&block))
}

/// A tar header block: not all zero, and its checksum right.
fn valid_header(b: &[u8; 512]) -> bool {
    if b.iter().all(|c| *c == 0) {
        return false;
    }
    let field = &b[148..156];
    let text: String = field
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as char)
        .collect();
    let Ok(want) = u32::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let sum: u32 = b
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*c)
            }
        })
        .sum();
    sum == want
}

/// Extracts the archive `r` (plain, gzip or zstd) into the directory `dest`.
pub(crate) fn extract(r: impl Read, dest: BorrowedFd<'_>, opts: &Extract) -> Result<()> {
    let bad = |reason: String| Error::BadArchive {
        path: opts.what.clone(),
        reason,
    };
    let mut r = BufReader::new(r);
    let head = r
        .fill_buf()
        .map_err(|e| Error::io("read", opts.what.clone(), e))?;
    sniff(head, &opts.what)?;
    let (_, plain) = berth_image::compression::decompress(r)
        .map_err(|e| Error::io("read", opts.what.clone(), e))?;
    let mut archive = tar::Archive::new(plain);
    let mut dirs: Vec<(String, TimeSpec)> = Vec::new();
    for entry in archive
        .entries()
        .map_err(|e| bad(format!("not a tar: {e}")))?
    {
        let mut entry = entry.map_err(|e| bad(format!("broken tar: {e}")))?;
        let raw = entry.path_bytes().into_owned();
        let rel = clean_source(&String::from_utf8_lossy(&raw));
        let h = entry.header();
        let owner = match opts.owner {
            Some(o) => o,
            None => (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32),
        };
        let mode = Mode::from_bits_truncate(h.mode().unwrap_or(0o644) & 0o7777);
        let mtime = TimeSpec::new(h.mtime().unwrap_or(0) as i64, 0);
        let etype = h.entry_type();
        let shown = format!("{}: {}", opts.what, String::from_utf8_lossy(&raw));
        if rel.is_empty() {
            continue;
        }
        let (dir, base) = split(&rel);
        let parent = mkdir_all_in(dest, dir, opts.implied_owner)?;
        let name = cstr(base)?;
        let chown_at = |o: (u32, u32)| {
            fchownat(
                parent.as_fd(),
                name.as_c_str(),
                Some(Uid::from_raw(o.0)),
                Some(Gid::from_raw(o.1)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| Error::io("chown", shown.clone(), e))
        };
        match etype {
            EntryType::Directory => {
                let fd = match open_child_dir(parent.as_fd(), &name) {
                    Ok(fd) => fd,
                    Err(_) => {
                        clear_slot(parent.as_fd(), &name, &shown)?;
                        mkdirat(
                            parent.as_fd(),
                            name.as_c_str(),
                            Mode::from_bits_truncate(0o700),
                        )
                        .map_err(|e| Error::io("mkdir", shown.clone(), e))?;
                        open_child_dir(parent.as_fd(), &name)
                            .map_err(|e| Error::io("open", shown.clone(), e))?
                    }
                };
                fchown(
                    &fd,
                    Some(Uid::from_raw(owner.0)),
                    Some(Gid::from_raw(owner.1)),
                )
                .map_err(|e| Error::io("chown", shown.clone(), e))?;
                fchmod(&fd, mode).map_err(|e| Error::io("chmod", shown.clone(), e))?;
                dirs.push((rel.clone(), mtime));
            }
            EntryType::Regular | EntryType::Continuous => {
                let file = create_file(parent.as_fd(), &name, &mut entry, owner, mode, &shown)?;
                futimens(&file, &mtime, &mtime).map_err(|e| Error::io("set times on", shown, e))?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| bad(format!("{shown}: symlink without a target")))?
                    .into_owned();
                clear_slot(parent.as_fd(), &name, &shown)?;
                symlinkat(OsStr::from_bytes(&target), parent.as_fd(), name.as_c_str())
                    .map_err(|e| Error::io("symlink", shown.clone(), e))?;
                chown_at(owner)?;
                utimensat(
                    parent.as_fd(),
                    name.as_c_str(),
                    &mtime,
                    &mtime,
                    UtimensatFlags::NoFollowSymlink,
                )
                .map_err(|e| Error::io("set times on", shown, e))?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| bad(format!("{shown}: hard link without a target")))?
                    .into_owned();
                let trel = clean_source(&String::from_utf8_lossy(&target));
                let (tdir, tbase) = split(&trel);
                let tparent =
                    open_dir_in(dest, tdir).map_err(|e| Error::io("link", shown.clone(), e))?;
                let tname = cstr(if tbase.is_empty() { "." } else { tbase })?;
                lstat_at(tparent.as_fd(), &tname)
                    .map_err(|e| bad(format!("{shown}: hard link to a missing entry: {e}")))?;
                clear_slot(parent.as_fd(), &name, &shown)?;
                linkat(
                    tparent.as_fd(),
                    tname.as_c_str(),
                    parent.as_fd(),
                    name.as_c_str(),
                    AtFlags::empty(),
                )
                .map_err(|e| Error::io("link", shown, e))?;
            }
            EntryType::Fifo | EntryType::Char | EntryType::Block => {
                let kind = match etype {
                    EntryType::Fifo => SFlag::S_IFIFO,
                    EntryType::Char => SFlag::S_IFCHR,
                    _ => SFlag::S_IFBLK,
                };
                if kind != SFlag::S_IFIFO && !opts.devices {
                    return Err(Error::Unsupported(format!(
                        "{shown}: device nodes are not allowed here"
                    )));
                }
                let dev = nix::sys::stat::makedev(
                    h.device_major().ok().flatten().unwrap_or(0) as u64,
                    h.device_minor().ok().flatten().unwrap_or(0) as u64,
                );
                clear_slot(parent.as_fd(), &name, &shown)?;
                mknodat(parent.as_fd(), name.as_c_str(), kind, mode, dev)
                    .map_err(|e| Error::io("mknod", shown.clone(), e))?;
                chown_at(owner)?;
            }
            // pax/GNU headers the tar crate already applied, and kinds
            // with nothing to make.
            _ => tracing::debug!(entry = %shown, ?etype, "skipped archive entry"),
        }
    }
    // Directory times last: their content changed them.
    for (rel, mtime) in dirs.iter().rev() {
        if let Ok(fd) = open_dir_in(dest, rel) {
            futimens(&fd, mtime, mtime).map_err(|e| Error::io("set times on", rel.clone(), e))?;
        }
    }
    Ok(())
}

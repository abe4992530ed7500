//! Finding a `COPY` source and walking it by descriptor. Each entry is
//! examined with `fstatat(AT_SYMLINK_NOFOLLOW)` relative to its parent's
//! descriptor and directories are opened with `O_NOFOLLOW`, so a symlink
//! inside a copied tree is only ever read as a link. Entries come in name
//! order (the digest depends on it). In the context, `.dockerignore`
//! applies: an excluded directory is skipped whole unless a `!` line could
//! re-include something below it, and then it is reported only when one of
//! its entries is.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;

use nix::dir::Dir;
use nix::fcntl::readlinkat;
use nix::sys::stat::{FileStat, SFlag};

use crate::error::{Error, Result};
use crate::fsops::{cstr, is_enoent, join, lstat_at, open_child_dir, open_dir_in, split};
use crate::gomatch::clean;
use crate::ignore::Ignore;

/// Deepest directory level walked (each level holds a descriptor open).
const MAX_DEPTH: usize = 256;
/// Symlinks followed while locating one `--from` source, as the kernel's
/// own limit.
const MAX_LINKS: usize = 40;

/// A source located in its root: its parent directory and name.
pub(crate) struct Located {
    pub parent: Rc<OwnedFd>,
    pub name: CString,
    pub st: FileStat,
    /// Path from the root, clean, without a leading `/` ("" for the
    /// root); after any symlink followed.
    pub rel: String,
    /// The path as the source named it (its last component names the
    /// copy).
    pub named: String,
}

/// A `COPY` source path as Docker cleans it: joined to `/` then cleaned,
/// so `../x` is `x`; returned without the leading `/`.
pub(crate) fn clean_source(src: &str) -> String {
    clean(&format!("/{src}")).trim_start_matches('/').to_owned()
}

/// Finds `rel` in `root`: the directories on the way are resolved inside
/// the root; the last component is followed (again inside the root) only
/// when `follow`.
pub(crate) fn locate(root: BorrowedFd<'_>, rel: &str, follow: bool) -> Result<Located> {
    let mut path = rel.to_owned();
    for _ in 0..MAX_LINKS {
        let (dir, base) = split(&path);
        let (parent, name) = if base.is_empty() {
            (open_dir_in(root, ""), cstr(".")?)
        } else {
            (open_dir_in(root, dir), cstr(base)?)
        };
        let parent = parent.map_err(|e| not_found_or(e, rel))?;
        let st = lstat_at(parent.as_fd(), &name).map_err(|e| not_found_or(e, rel))?;
        if follow && kind(&st) == SFlag::S_IFLNK {
            let target = readlinkat(parent.as_fd(), name.as_c_str())
                .map_err(|e| Error::io("readlink", format!("/{path}"), e))?;
            let target = target.as_bytes();
            let target = String::from_utf8_lossy(target);
            path = if target.starts_with('/') {
                clean_source(&target)
            } else {
                clean_source(&format!("{dir}/{target}"))
            };
            continue;
        }
        return Ok(Located {
            parent: Rc::new(parent),
            name,
            st,
            rel: path,
            named: rel.to_owned(),
        });
    }
    Err(Error::io(
        "resolve",
        format!("/{rel}"),
        std::io::Error::from_raw_os_error(libc::ELOOP),
    ))
}

fn not_found_or(e: std::io::Error, rel: &str) -> Error {
    if is_enoent(&e) {
        Error::NotFound(rel.to_owned())
    } else {
        Error::io("open", format!("/{rel}"), e)
    }
}

pub(crate) fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// One entry of a walk.
pub(crate) struct Entry<'a> {
    pub parent: &'a Rc<OwnedFd>,
    pub name: &'a CStr,
    pub st: &'a FileStat,
    /// Path below the walked source ("" for the source itself).
    pub rel: &'a str,
}

pub(crate) trait Visitor {
    /// A non-directory.
    fn entry(&mut self, e: &Entry<'_>) -> Result<()>;
    fn enter_dir(&mut self, e: &Entry<'_>) -> Result<()>;
    /// After the directory's entries.
    fn leave_dir(&mut self, e: &Entry<'_>) -> Result<()>;
}

struct Pending {
    parent: Rc<OwnedFd>,
    name: CString,
    st: FileStat,
    rel: String,
    entered: bool,
}

pub(crate) struct Walker<'i> {
    /// The context's `.dockerignore`, with the source's path from the
    /// context root (matches are made against context paths).
    ignore: Option<&'i Ignore>,
    base: String,
    /// Excluded directories walked for a possible `!` exception, entered
    /// only when one of their entries is reported.
    pending: Vec<Pending>,
}

impl<'i> Walker<'i> {
    pub fn new(ignore: Option<&'i Ignore>, loc: &Located) -> Walker<'i> {
        Walker {
            ignore: ignore.filter(|i| !i.is_empty()),
            base: loc.rel.clone(),
            pending: Vec::new(),
        }
    }

    /// Walks the located source, reporting it and (a directory) its tree.
    pub fn walk(&mut self, loc: &Located, v: &mut dyn Visitor) -> Result<()> {
        self.node(&loc.parent, &loc.name, &loc.st, String::new(), v, 0)
    }

    fn flush(&mut self, v: &mut dyn Visitor) -> Result<()> {
        for p in self.pending.iter_mut().filter(|p| !p.entered) {
            p.entered = true;
            v.enter_dir(&Entry {
                parent: &p.parent,
                name: &p.name,
                st: &p.st,
                rel: &p.rel,
            })?;
        }
        Ok(())
    }

    fn node(
        &mut self,
        parent: &Rc<OwnedFd>,
        name: &CStr,
        st: &FileStat,
        rel: String,
        v: &mut dyn Visitor,
        depth: usize,
    ) -> Result<()> {
        let entry = Entry {
            parent,
            name,
            st,
            rel: &rel,
        };
        if kind(st) != SFlag::S_IFDIR {
            self.flush(v)?;
            return v.entry(&entry);
        }
        if depth >= MAX_DEPTH {
            return Err(Error::Unsupported(format!(
                "{}: more than {MAX_DEPTH} directory levels",
                join(&self.base, &rel)
            )));
        }
        let ctx_rel = join(&self.base, &rel);
        let excluded = !rel.is_empty() && self.ignore.is_some_and(|i| i.excluded(&ctx_rel));
        if excluded {
            self.pending.push(Pending {
                parent: parent.clone(),
                name: name.to_owned(),
                st: *st,
                rel: rel.clone(),
                entered: false,
            });
        } else {
            self.flush(v)?;
            v.enter_dir(&entry)?;
        }
        let dir = Rc::new(
            open_child_dir(parent.as_fd(), &name.to_owned())
                .map_err(|e| Error::io("open", format!("/{ctx_rel}"), e))?,
        );
        for child in read_names(dir.as_fd(), &ctx_rel)? {
            let child_rel = join(&rel, &String::from_utf8_lossy(child.as_bytes()));
            let st = lstat_at(dir.as_fd(), &child)
                .map_err(|e| Error::io("stat", format!("/{}", join(&self.base, &child_rel)), e))?;
            if let Some(ig) = self.ignore {
                let c = join(&self.base, &child_rel);
                if ig.excluded(&c) && !(kind(&st) == SFlag::S_IFDIR && ig.may_include_under(&c)) {
                    continue;
                }
            }
            self.node(&dir, &child, &st, child_rel, v, depth + 1)?;
        }
        if excluded {
            let p = self.pending.pop().expect("pushed above");
            if !p.entered {
                return Ok(());
            }
        }
        v.leave_dir(&entry)
    }
}

/// A directory's entry names, sorted by bytes.
fn read_names(dir: BorrowedFd<'_>, what: &str) -> Result<Vec<CString>> {
    let err = |e| Error::io("read directory", format!("/{what}"), e);
    let mut d = Dir::openat(
        dir,
        c".",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(err)?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e.map_err(err)?;
        let n = e.file_name();
        if n == c"." || n == c".." {
            continue;
        }
        names.push(n.to_owned());
    }
    names.sort();
    Ok(names)
}

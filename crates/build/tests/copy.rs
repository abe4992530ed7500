//! COPY/ADD into plain directories standing for a mounted rootfs: real
//! files, real owners, hostile symlinks on both sides.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_build::{copy, digest, resolve_chown, Context, CopyRequest, Error, SourceRoot};
use berth_testutil::{require_root, TempDir};

fn req<'a>(sources: &'a [String], dest: &'a str) -> CopyRequest<'a> {
    CopyRequest {
        sources,
        dest,
        workdir: "/",
        chown: None,
        chmod: None,
        add: false,
        heredocs: &[],
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn write(p: &Path, content: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

struct Fixture {
    _ctx_dir: TempDir,
    _root_dir: TempDir,
    ctx: PathBuf,
    rootfs: PathBuf,
}

fn fixture() -> Fixture {
    let c = TempDir::new("bld-ctx").unwrap();
    let r = TempDir::new("bld-rootfs").unwrap();
    Fixture {
        ctx: c.path().to_path_buf(),
        rootfs: r.path().to_path_buf(),
        _ctx_dir: c,
        _root_dir: r,
    }
}

#[test]
fn file_and_dir_contents_with_owners_and_modes() {
    require_root!();
    let f = fixture();
    write(&f.ctx.join("app/main.sh"), "echo hi\n");
    fs::set_permissions(f.ctx.join("app/main.sh"), fs::Permissions::from_mode(0o750)).unwrap();
    write(&f.ctx.join("app/sub/data.txt"), "data");
    std::os::unix::fs::chown(f.ctx.join("app/sub/data.txt"), Some(1234), Some(1234)).unwrap();
    write(&f.ctx.join("one.txt"), "one");
    let ctx = Context::from_dir(&f.ctx).unwrap();
    let root = SourceRoot::Context(&ctx);

    // A directory copies its contents; files become root's.
    copy(&root, &req(&s(&["app"]), "/opt/app/"), &f.rootfs).unwrap();
    let m = fs::metadata(f.rootfs.join("opt/app/main.sh")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o750);
    assert_eq!((m.uid(), m.gid()), (0, 0));
    let src_mtime = fs::metadata(f.ctx.join("app/main.sh")).unwrap().mtime();
    assert_eq!(m.mtime(), src_mtime);
    let d = fs::metadata(f.rootfs.join("opt/app/sub/data.txt")).unwrap();
    assert_eq!((d.uid(), d.gid()), (0, 0));
    assert!(!f.rootfs.join("opt/app/app").exists());

    // --chown to real ids, on files, copied dirs and made parents.
    let app = s(&["app"]);
    let mut r = req(&app, "/srv/x/");
    r.chown = Some((1000, 1001));
    copy(&root, &r, &f.rootfs).unwrap();
    for p in ["srv/x", "srv/x/sub", "srv/x/sub/data.txt", "srv/x/main.sh"] {
        let m = fs::symlink_metadata(f.rootfs.join(p)).unwrap();
        assert_eq!((m.uid(), m.gid()), (1000, 1001), "{p}");
    }
    let srv = fs::metadata(f.rootfs.join("srv")).unwrap();
    assert_eq!((srv.uid(), srv.mode() & 0o777), (1000, 0o755));

    // --chmod on files and dirs copied.
    let mut r = req(&app, "/chm");
    r.chmod = Some(0o700);
    copy(&root, &r, &f.rootfs).unwrap();
    for p in ["chm/sub", "chm/main.sh", "chm/sub/data.txt"] {
        let m = fs::metadata(f.rootfs.join(p)).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o700, "{p}");
    }

    // Trailing slash: into a directory; no slash: the file's new name.
    copy(&root, &req(&s(&["one.txt"]), "/d/"), &f.rootfs).unwrap();
    assert_eq!(
        fs::read_to_string(f.rootfs.join("d/one.txt")).unwrap(),
        "one"
    );
    copy(&root, &req(&s(&["one.txt"]), "/renamed"), &f.rootfs).unwrap();
    assert_eq!(fs::read_to_string(f.rootfs.join("renamed")).unwrap(), "one");
    // An existing directory without the slash: into it.
    fs::remove_file(f.rootfs.join("d/one.txt")).unwrap();
    copy(&root, &req(&s(&["one.txt"]), "/d"), &f.rootfs).unwrap();
    assert!(f.rootfs.join("d/one.txt").is_file());
    // Relative destinations join the workdir.
    let one = s(&["one.txt"]);
    let mut r = req(&one, "rel/");
    r.workdir = "/work";
    copy(&root, &r, &f.rootfs).unwrap();
    assert!(f.rootfs.join("work/rel/one.txt").is_file());
    // "../x" stays inside the context.
    copy(&root, &req(&s(&["../../one.txt"]), "/up"), &f.rootfs).unwrap();
    assert_eq!(fs::read_to_string(f.rootfs.join("up")).unwrap(), "one");

    // Several sources need a directory destination ending in '/'.
    let e = copy(&root, &req(&s(&["one.txt", "app"]), "/multi"), &f.rootfs).unwrap_err();
    assert_eq!(
        e.to_string(),
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    );
    copy(&root, &req(&s(&["one.txt", "app"]), "/multi/"), &f.rootfs).unwrap();
    assert!(f.rootfs.join("multi/one.txt").is_file());
    assert!(f.rootfs.join("multi/sub/data.txt").is_file());

    // A file cannot replace a directory.
    fs::create_dir_all(f.rootfs.join("isdir/one.txt")).unwrap();
    let e = copy(&root, &req(&s(&["one.txt"]), "/isdir/"), &f.rootfs).unwrap_err();
    assert!(matches!(e, Error::ReplaceDir(_)), "{e}");
}

#[test]
fn missing_and_excluded_sources() {
    require_root!();
    let f = fixture();
    write(&f.ctx.join("keep.txt"), "k");
    write(&f.ctx.join("secret.key"), "s");
    write(&f.ctx.join("node_modules/a/x.js"), "x");
    write(&f.ctx.join("node_modules/keep/y.js"), "y");
    write(
        &f.ctx.join(".dockerignore"),
        "*.key\nnode_modules\n!node_modules/keep\n",
    );
    let ctx = Context::from_dir(&f.ctx).unwrap();
    let root = SourceRoot::Context(&ctx);
    let e = copy(&root, &req(&s(&["nope"]), "/x"), &f.rootfs).unwrap_err();
    assert_eq!(e.to_string(), "\"/nope\": not found");
    let e = copy(&root, &req(&s(&["secret.key"]), "/x"), &f.rootfs).unwrap_err();
    assert_eq!(e.to_string(), "\"/secret.key\": not found");
    let e = copy(&root, &req(&s(&["*.nomatch"]), "/x/"), &f.rootfs).unwrap_err();
    assert_eq!(e.to_string(), "\"/*.nomatch\": not found");

    copy(&root, &req(&s(&["."]), "/all/"), &f.rootfs).unwrap();
    assert!(f.rootfs.join("all/keep.txt").is_file());
    assert!(!f.rootfs.join("all/secret.key").exists());
    assert!(!f.rootfs.join("all/node_modules/a").exists());
    assert!(f.rootfs.join("all/node_modules/keep/y.js").is_file());
}

#[test]
fn globs() {
    require_root!();
    let f = fixture();
    write(&f.ctx.join("a.txt"), "a");
    write(&f.ctx.join("b.txt"), "b");
    write(&f.ctx.join("c.md"), "c");
    write(&f.ctx.join("dir1/x.conf"), "1");
    write(&f.ctx.join("dir2/x.conf"), "2");
    write(&f.ctx.join("dir2/y.conf"), "3");
    let ctx = Context::from_dir(&f.ctx).unwrap();
    let root = SourceRoot::Context(&ctx);
    copy(&root, &req(&s(&["*.txt"]), "/g/"), &f.rootfs).unwrap();
    assert!(f.rootfs.join("g/a.txt").is_file());
    assert!(f.rootfs.join("g/b.txt").is_file());
    assert!(!f.rootfs.join("g/c.md").exists());
    copy(&root, &req(&s(&["dir[12]/y.*"]), "/one"), &f.rootfs).unwrap();
    assert_eq!(fs::read_to_string(f.rootfs.join("one")).unwrap(), "3");
    copy(&root, &req(&s(&["?.md"]), "/q/"), &f.rootfs).unwrap();
    assert!(f.rootfs.join("q/c.md").is_file());
    // Two matches, no trailing slash.
    let e = copy(&root, &req(&s(&["*.txt"]), "/nodir"), &f.rootfs).unwrap_err();
    assert!(matches!(e, Error::DestNotDir("COPY")), "{e}");
}

#[test]
fn context_symlinks_are_copied_as_links() {
    require_root!();
    let f = fixture();
    symlink("/etc/passwd", f.ctx.join("pw")).unwrap();
    fs::create_dir(f.ctx.join("d")).unwrap();
    symlink("/etc/passwd", f.ctx.join("d/pw")).unwrap();
    symlink("/etc", f.ctx.join("etclink")).unwrap();
    let ctx = Context::from_dir(&f.ctx).unwrap();
    let root = SourceRoot::Context(&ctx);
    copy(&root, &req(&s(&["pw"]), "/out/"), &f.rootfs).unwrap();
    copy(&root, &req(&s(&["d"]), "/dd/"), &f.rootfs).unwrap();
    for p in ["out/pw", "dd/pw"] {
        let m = fs::symlink_metadata(f.rootfs.join(p)).unwrap();
        assert!(m.file_type().is_symlink(), "{p}");
        assert_eq!(
            fs::read_link(f.rootfs.join(p)).unwrap(),
            Path::new("/etc/passwd")
        );
    }
    // A source path through a symlink resolves inside the context.
    let e = copy(&root, &req(&s(&["etclink/passwd"]), "/x"), &f.rootfs).unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
    // So does the Dockerfile read.
    assert!(ctx.read_file("etclink/passwd").is_err());
    assert!(ctx.read_file("pw").is_err());
}

#[test]
fn destination_symlinks_resolve_inside_rootfs() {
    require_root!();
    let f = fixture();
    write(&f.ctx.join("tool"), "#!/bin/sh\n");
    let ctx = Context::from_dir(&f.ctx).unwrap();
    let root = SourceRoot::Context(&ctx);
    fs::create_dir_all(f.rootfs.join("usr/bin")).unwrap();
    symlink("usr/bin", f.rootfs.join("bin")).unwrap();
    copy(&root, &req(&s(&["tool"]), "/bin/"), &f.rootfs).unwrap();
    assert!(f.rootfs.join("usr/bin/tool").is_file());
    assert!(fs::symlink_metadata(f.rootfs.join("bin"))
        .unwrap()
        .file_type()
        .is_symlink());

    // A hostile `/etc -> /` (and an absolute link to the host's /tmp)
    // stays in the rootfs.
    symlink("/", f.rootfs.join("etc")).unwrap();
    let marker = format!("berth-copy-escape-{}", std::process::id());
    copy(
        &root,
        &req(&s(&["tool"]), &format!("/etc/{marker}")),
        &f.rootfs,
    )
    .unwrap();
    assert!(f.rootfs.join(&marker).is_file());
    assert!(!Path::new("/").join(&marker).exists());
    symlink("/tmp", f.rootfs.join("hosttmp")).unwrap();
    copy(
        &root,
        &req(&s(&["tool"]), &format!("/hosttmp/{marker}")),
        &f.rootfs,
    )
    .unwrap();
    assert!(f.rootfs.join("tmp").join(&marker).is_file());
    assert!(!Path::new("/tmp").join(&marker).exists());
    // A symlink at the destination name is replaced, not written through.
    symlink("/etc/hostname", f.rootfs.join("usr/bin/victim")).unwrap();
    copy(&root, &req(&s(&["tool"]), "/usr/bin/victim"), &f.rootfs).unwrap();
    assert!(fs::symlink_metadata(f.rootfs.join("usr/bin/victim"))
        .unwrap()
        .is_file());
}

#[test]
fn from_rootfs_keeps_owners_and_follows_inside() {
    require_root!();
    let f = fixture();
    let stage = TempDir::new("bld-stage").unwrap();
    let st = stage.path();
    write(&st.join("usr/lib/libx.so.1"), "lib");
    std::os::unix::fs::chown(st.join("usr/lib/libx.so.1"), Some(7), Some(8)).unwrap();
    symlink("libx.so.1", st.join("usr/lib/libx.so")).unwrap();
    symlink("usr/lib", st.join("lib")).unwrap();
    symlink("/etc/shadow", st.join("usr/lib/evil")).unwrap();
    let root = SourceRoot::Rootfs(st);
    copy(&root, &req(&s(&["/lib/libx.so"]), "/out/"), &f.rootfs).unwrap();
    let m = fs::symlink_metadata(f.rootfs.join("out/libx.so")).unwrap();
    assert!(m.is_file());
    assert_eq!((m.uid(), m.gid()), (7, 8));
    // Following stays inside the stage's root: /etc/shadow is not there.
    let e = copy(&root, &req(&s(&["/usr/lib/evil"]), "/x"), &f.rootfs).unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
}

#[test]
fn hard_links_are_kept() {
    require_root!();
    let f = fixture();
    write(&f.ctx.join("h/a"), "same");
    fs::hard_link(f.ctx.join("h/a"), f.ctx.join("h/b")).unwrap();
    let ctx = Context::from_dir(&f.ctx).unwrap();
    copy(
        &SourceRoot::Context(&ctx),
        &req(&s(&["h"]), "/h"),
        &f.rootfs,
    )
    .unwrap();
    let a = fs::metadata(f.rootfs.join("h/a")).unwrap();
    let b = fs::metadata(f.rootfs.join("h/b")).unwrap();
    assert_eq!(a.ino(), b.ino());
}

fn make_tar(path: &Path, gzip: bool) {
    let file = fs::File::create(path).unwrap();
    let w: Box<dyn Write> = if gzip {
        Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(file)
    };
    let mut b = tar::Builder::new(w);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "pkg/", std::io::empty()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o640);
    h.set_uid(33);
    h.set_gid(44);
    h.set_size(5);
    b.append_data(&mut h, "pkg/file", &b"hello"[..]).unwrap();
    // A hostile pair: a link out, then a write through it.
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "out", "/").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(3);
    b.append_data(&mut h, "out/escaped", &b"bad"[..]).unwrap();
    b.into_inner().unwrap().flush().unwrap();
}

#[test]
fn add_extracts_archives_and_copies_other_files() {
    require_root!();
    let f = fixture();
    make_tar(&f.ctx.join("a.tar"), false);
    make_tar(&f.ctx.join("a.tar.gz"), true);
    write(&f.ctx.join("plain.txt"), "not a tar");
    let ctx = Context::from_dir(&f.ctx).unwrap();
    let root = SourceRoot::Context(&ctx);
    for (src, dest) in [("a.tar", "/t1"), ("a.tar.gz", "/t2")] {
        let srcs = s(&[src]);
        let mut r = req(&srcs, dest);
        r.add = true;
        copy(&root, &r, &f.rootfs).unwrap();
        let d = f.rootfs.join(&dest[1..]);
        assert_eq!(fs::read_to_string(d.join("pkg/file")).unwrap(), "hello");
        let m = fs::metadata(d.join("pkg/file")).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (33, 44, 0o640));
        // "out -> /" resolved inside the destination directory.
        assert_eq!(fs::read_to_string(d.join("escaped")).unwrap(), "bad");
        assert!(!Path::new("/escaped").exists());
    }
    let srcs = s(&["plain.txt"]);
    let mut r = req(&srcs, "/p/");
    r.add = true;
    copy(&root, &r, &f.rootfs).unwrap();
    assert_eq!(
        fs::read_to_string(f.rootfs.join("p/plain.txt")).unwrap(),
        "not a tar"
    );
    // COPY never extracts.
    copy(&root, &req(&s(&["a.tar"]), "/c/"), &f.rootfs).unwrap();
    assert!(f.rootfs.join("c/a.tar").is_file());
    // URLs are refused.
    let srcs = s(&["https://example.com/x.tgz"]);
    let mut r = req(&srcs, "/u/");
    r.add = true;
    let e = copy(&root, &r, &f.rootfs).unwrap_err();
    assert!(matches!(e, Error::Url(_)), "{e}");
}

#[test]
fn heredocs_and_chown_lookup() {
    require_root!();
    let f = fixture();
    write(
        &f.rootfs.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
    );
    write(&f.rootfs.join("etc/group"), "root:x:0:\nstaff:x:50:\n");
    assert_eq!(resolve_chown(&f.rootfs, "app").unwrap(), (1000, 1001));
    assert_eq!(resolve_chown(&f.rootfs, "app:staff").unwrap(), (1000, 50));
    assert_eq!(resolve_chown(&f.rootfs, "42").unwrap(), (42, 42));
    assert_eq!(resolve_chown(&f.rootfs, "42:7").unwrap(), (42, 7));
    assert_eq!(
        resolve_chown(&f.rootfs, "bob").unwrap_err().to_string(),
        "can't find uid for user bob: no such user: bob"
    );
    assert_eq!(
        resolve_chown(&f.rootfs, "root:bob")
            .unwrap_err()
            .to_string(),
        "can't find gid for group bob: no such group: bob"
    );
    assert_eq!(
        resolve_chown(&f.rootfs, "bob:1:555")
            .unwrap_err()
            .to_string(),
        "invalid chown string format: bob:1:555"
    );

    let ctx = Context::from_dir(&f.ctx).unwrap();
    let docs = vec![("EOF".to_owned(), b"#!/bin/sh\necho hi\n".to_vec())];
    let mut r = req(&[], "/usr/local/bin/hello");
    r.heredocs = &docs;
    r.chmod = Some(0o755);
    r.chown = Some((1000, 1001));
    copy(&SourceRoot::Context(&ctx), &r, &f.rootfs).unwrap();
    let p = f.rootfs.join("usr/local/bin/hello");
    assert_eq!(fs::read(&p).unwrap(), b"#!/bin/sh\necho hi\n");
    let m = fs::metadata(&p).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o755, 1000, 1001));
    let mut r = req(&[], "/docs/");
    r.heredocs = &docs;
    copy(&SourceRoot::Context(&ctx), &r, &f.rootfs).unwrap();
    assert_eq!(
        fs::metadata(f.rootfs.join("docs/EOF")).unwrap().mode() & 0o777,
        0o644
    );
}

#[test]
fn digest_is_stable_and_sensitive() {
    let f = fixture();
    write(&f.ctx.join("src/a.txt"), "alpha");
    write(&f.ctx.join("src/sub/b.txt"), "beta");
    write(&f.ctx.join("src/ignored.log"), "noise");
    write(&f.ctx.join(".dockerignore"), "**/*.log\n");
    let srcs = s(&["src"]);
    let d = || {
        let ctx = Context::from_dir(&f.ctx).unwrap();
        digest(&SourceRoot::Context(&ctx), &req(&srcs, "/x/")).unwrap()
    };
    let d0 = d();
    assert!(d0.starts_with("sha256:") && d0.len() == 71, "{d0}");
    assert_eq!(d(), d0);
    // Times do not count.
    let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
    fs::File::options()
        .write(true)
        .open(f.ctx.join("src/a.txt"))
        .unwrap()
        .set_modified(t)
        .unwrap();
    assert_eq!(d(), d0);
    // Excluded files do not count.
    write(&f.ctx.join("src/ignored.log"), "other noise");
    assert_eq!(d(), d0);
    // A byte, a name, a mode, a new file: each changes it.
    write(&f.ctx.join("src/a.txt"), "alphA");
    assert_ne!(d(), d0);
    write(&f.ctx.join("src/a.txt"), "alpha");
    assert_eq!(d(), d0);
    fs::rename(f.ctx.join("src/sub/b.txt"), f.ctx.join("src/sub/c.txt")).unwrap();
    assert_ne!(d(), d0);
    fs::rename(f.ctx.join("src/sub/c.txt"), f.ctx.join("src/sub/b.txt")).unwrap();
    assert_eq!(d(), d0);
    fs::set_permissions(f.ctx.join("src/a.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    assert_ne!(d(), d0);
    fs::set_permissions(f.ctx.join("src/a.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(d(), d0);
    symlink("a.txt", f.ctx.join("src/link")).unwrap();
    let dl = d();
    assert_ne!(dl, d0);
    fs::remove_file(f.ctx.join("src/link")).unwrap();
    symlink("sub", f.ctx.join("src/link")).unwrap();
    assert_ne!(d(), dl);
    // Heredoc content counts.
    let ctx = Context::from_dir(&f.ctx).unwrap();
    let h1 = vec![("EOF".to_owned(), b"one".to_vec())];
    let h2 = vec![("EOF".to_owned(), b"two".to_vec())];
    let mut r1 = req(&[], "/f");
    r1.heredocs = &h1;
    let mut r2 = req(&[], "/f");
    r2.heredocs = &h2;
    let root = SourceRoot::Context(&ctx);
    assert_ne!(digest(&root, &r1).unwrap(), digest(&root, &r2).unwrap());
}

#[test]
fn context_from_tar() {
    require_root!();
    let f = fixture();
    let tarp = f.rootfs.join("ctx.tar.gz");
    {
        let file = fs::File::create(&tarp).unwrap();
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ));
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(16);
        b.append_data(&mut h, "Dockerfile", &b"FROM scratch\nX\n\n"[..])
            .unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(6);
        b.append_data(&mut h, ".dockerignore", &b"*.tmp\n"[..])
            .unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "up", "../../..").unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(1);
        b.append_data(&mut h, "up/escape", &b"x"[..]).unwrap();
        b.into_inner().unwrap().finish().unwrap();
    }
    let scratch = f.ctx.join("scratch");
    let ctx = Context::from_tar(fs::File::open(&tarp).unwrap(), &scratch).unwrap();
    assert_eq!(ctx.read_file("Dockerfile").unwrap(), b"FROM scratch\nX\n\n");
    assert!(ctx.ignore().excluded("a.tmp"));
    assert!(scratch.join("escape").is_file());
    assert!(!f.ctx.parent().unwrap().join("escape").exists());
    assert!(ctx.read_file("missing").is_err());

    // Device nodes are refused in a context.
    let tarp = f.rootfs.join("dev.tar");
    {
        let mut b = tar::Builder::new(fs::File::create(&tarp).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Char);
        h.set_mode(0o666);
        h.set_size(0);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        b.append_data(&mut h, "null", std::io::empty()).unwrap();
        b.finish().unwrap();
    }
    let e = Context::from_tar(fs::File::open(&tarp).unwrap(), &f.ctx.join("scratch2")).unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e}");
}

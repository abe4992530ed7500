//! The build corpus (`tests/build/`) against Debian's buildah, the
//! reference builder of issue 16: the comparison helpers themselves
//! (a buildah image compared with itself, and with a different one), and
//! every case buildah 1.28 can build, with the facts each case is about.
//! Then the berth side: `berth build` of the same cases, compared with
//! buildah's image of each (`berth_image_tree`), and the error cases'
//! messages.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use berth_testutil::require_root;
use common::build::{buildah_with, busybox_root, load_debian, BUSYBOX, DEBIAN};
use common::buildah::{berth_image_tree, buildah_skip, case_flags, corpus_dir, Isolation};
use common::engine::Engine;
use common::oci_tree::{assert_same_tree, Kind, OciTree};

/// The corpus cases: directories with a Dockerfile, but for `errors/`
/// (not buildable) and `onbuild/` (a pair, built in order).
fn cases() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    out.sort();
    out
}

fn uses_debian(case: &Path) -> bool {
    std::fs::read_to_string(case.join("Dockerfile"))
        .unwrap()
        .contains(DEBIAN)
}

fn file_digest(text: &str) -> Kind {
    Kind::File {
        size: text.len() as u64,
        digest: berth_testutil::sha256_digest(text.as_bytes()),
    }
}

#[test]
fn buildah_builds_the_same_tree_twice_and_the_comparison_sees_differences() {
    require_root!();
    let root = busybox_root();
    let Some(b) = buildah_with(&root.root, &[BUSYBOX]) else {
        return;
    };
    let case = corpus_dir().join("copy-flags");
    let first = b.buildah_build(&case);
    let second = b.buildah_build(&case);
    assert_same_tree(&first, &second, "two buildah builds of copy-flags");

    // The tree holds what the Dockerfile made, as it made it.
    let a = first.get("/dest/a.txt");
    assert_eq!(
        (a.mode, a.uid, a.kind.clone()),
        (0o640, 0, file_digest("a\n"))
    );
    assert_eq!(first.get("/dest/files/nested/n.dat").uid, 1000);
    assert_eq!(
        first.get("/unpacked/top/link").kind,
        Kind::Symlink("dir/file".into())
    );
    assert_eq!(first.get("/unpacked-gz/top/exec").uid, 1000);
    assert!(matches!(
        first.get("/copied/archive.tar").kind,
        Kind::File { .. }
    ));
    assert_eq!(
        first.get("/fromstage/link").kind,
        Kind::Symlink("one".into())
    );

    // A different image differs, in files and in config.
    let other = b.buildah_build(&corpus_dir().join("metadata"));
    let diff = first.diff(&other);
    assert!(
        diff.iter().any(|l| l.starts_with("- /dest/a.txt")),
        "{diff:?}"
    );
    assert!(
        diff.iter().any(|l| l.starts_with("+ /greeting.txt")),
        "{diff:?}"
    );
    assert!(
        diff.iter().any(|l| l.starts_with("~ config Env")),
        "{diff:?}"
    );
}

/// The listing of `dir`'s content in `tree`, relative to it.
fn listing(tree: &OciTree, dir: &str) -> BTreeSet<String> {
    let prefix = format!("{dir}/");
    tree.files
        .keys()
        .filter_map(|p| p.strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

/// What the busybox cases are about, checked on a tree.
fn check_case(name: &str, case: &Path, tree: &OciTree, isolation: &Isolation) {
    match name {
        "dockerignore" => {
            let want: BTreeSet<String> = std::fs::read_to_string(case.join("expected-files"))
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect();
            assert_eq!(listing(tree, "/ctx"), want);
        }
        "symlink-outside" => {
            let link = |p: &str| tree.get(p).kind.clone();
            assert_eq!(
                link("/ctx/escape-dir"),
                Kind::Symlink("../../../../../../../../etc".into())
            );
            assert_eq!(link("/ctx/abs-link"), Kind::Symlink("/etc/passwd".into()));
            assert_eq!(link("/dir/up-link"), Kind::Symlink("../escape-dir".into()));
            assert_eq!(link("/dir/file"), file_digest("inside\n"));
            assert!(!tree.files.keys().any(|p| p.starts_with("/ctx/escape-dir/")));
        }
        "cache-mount" => {
            assert_eq!(tree.get("/count").kind, file_digest("1\n"));
            assert!(!tree.files.contains_key("/cache/n"));
            // bb:1 has no /etc/hosts: buildah's chroot RUN leaves an empty
            // one, and an empty /run (with oci isolation neither).
            if *isolation == Isolation::Chroot {
                assert!(matches!(
                    tree.get("/etc/hosts").kind,
                    Kind::File { size: 0, .. }
                ));
                assert_eq!(tree.get("/run").kind, Kind::Dir);
            }
            let clean = tree.clone().without_empty_mountpoints();
            assert!(!clean.files.contains_key("/etc/hosts"));
            assert!(!clean.files.contains_key("/run"));
            assert!(clean.files.contains_key("/count"));
        }
        "target-unused" => {
            assert!(tree.files.contains_key("/wanted"));
            assert!(!tree.files.contains_key("/other"));
        }
        "user-names" => {
            let owned = tree.get("/home/app/owned.txt");
            assert_eq!((owned.uid, owned.gid), (1234, 2345));
            let user_only = tree.get("/home/app/owned-user-only.txt");
            assert_eq!((user_only.uid, user_only.gid), (1234, 2345));
            let numeric = tree.get("/numeric.txt");
            assert_eq!((numeric.uid, numeric.gid), (1111, 2222));
            let uid_only = tree.get("/uid-only.txt");
            assert_eq!((uid_only.uid, uid_only.gid), (1111, 1111));
            // WORKDIR after USER: made by and for that user.
            let work = tree.get("/home/app/work");
            assert_eq!((work.uid, work.gid), (1234, 2345));
            assert_eq!(tree.config["User"], "app");
        }
        "metadata" => {
            let c = &tree.config;
            assert_eq!(c["StopSignal"], "SIGQUIT");
            assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
            assert_eq!(c["Labels"]["org.example.version"], "2.0");
            assert_eq!(c["Labels"]["org.example.alt"], "fallback");
            assert!(c["ExposedPorts"].get("8080/tcp").is_some(), "{c:?}");
            assert!(c["Volumes"].get("/logs").is_some(), "{c:?}");
            assert_eq!(c["WorkingDir"], "/app/sub/v2.0");
            assert_eq!(c["Healthcheck"]["Retries"], 3);
            assert_eq!(tree.get("/greeting.txt").kind, file_digest("hi world\n"));
        }
        _ => {}
    }
}

#[test]
fn buildah_builds_the_busybox_corpus() {
    require_root!();
    let root = busybox_root();
    let Some(b) = buildah_with(&root.root, &[BUSYBOX]) else {
        return;
    };
    let mut built = Vec::new();
    for case in cases() {
        let name = case.file_name().unwrap().to_str().unwrap().to_owned();
        if uses_debian(&case) || buildah_skip(&case).is_some() {
            continue;
        }
        let tree = b.buildah_build(&case);
        check_case(&name, &case, &tree, &b.isolation);
        built.push(name);
    }
    // The ONBUILD pair: the parent's triggers run in the child's build.
    let parent = corpus_dir().join("onbuild/parent");
    let out = b.build(&parent, &[], "localhost/onbuild-parent:1");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parent_tree = b.tree("localhost/onbuild-parent:1");
    assert_eq!(
        parent_tree.config["OnBuild"],
        serde_json::json!([
            "COPY trigger.txt /from-child-context.txt",
            "RUN echo triggered > /onbuild-ran"
        ])
    );
    assert!(!parent_tree.files.contains_key("/onbuild-ran"));
    let child = b.buildah_build(&corpus_dir().join("onbuild/child"));
    assert_eq!(
        child.get("/child").kind,
        file_digest("from the child's context\n")
    );
    assert!(!child.config.contains_key("OnBuild"), "{:?}", child.config);
    assert!(built.len() >= 8, "{built:?}");
}

#[test]
fn buildah_builds_the_debian_corpus() {
    require_root!();
    let root = busybox_root();
    if !load_debian(&root.root) {
        return;
    }
    let Some(b) = buildah_with(&root.root, &[BUSYBOX, DEBIAN]) else {
        return;
    };
    // gcc in Debian, the binary alone in scratch.
    let tree = b.buildah_build(&corpus_dir().join("multistage-gcc"));
    assert_eq!(tree.files.keys().collect::<Vec<_>>(), ["/hello"]);
    assert_eq!(tree.get("/hello").mode, 0o755);
    assert_eq!(tree.config["Entrypoint"], serde_json::json!(["/hello"]));
    // A user by name, compiled sources, steps as that user.
    let tree = b.buildah_build(&corpus_dir().join("debian-steps"));
    assert_eq!(
        tree.get("/result.txt").kind,
        file_digest("triangle(10) = 55\n")
    );
    let home = tree.get("/home/builder/result.txt");
    assert_eq!(
        (home.uid, home.kind.clone()),
        (1500, file_digest("triangle(20) = 210\n"))
    );
    assert_eq!(tree.config["User"], "builder");
}

/// Every error case names its Dockerfile, a line that holds the keyword
/// it names (an unknown instruction has none: the message names it), a
/// column where a word starts, and a message: the format `berth build`
/// prints.
#[test]
fn error_cases_are_well_formed() {
    let dir = corpus_dir().join("errors");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let case = entry.unwrap().path();
        let expected = std::fs::read_to_string(case.join("expected-error")).unwrap();
        let dockerfile = std::fs::read_to_string(case.join("Dockerfile")).unwrap();
        assert_eq!(expected.lines().count(), 1, "{}", case.display());
        let mut parts = expected.trim_end().splitn(4, ':');
        let file = parts.next().unwrap();
        let line: usize = parts.next().unwrap().parse().unwrap();
        let col: usize = parts.next().unwrap().parse().unwrap();
        let rest = parts.next().unwrap().trim();
        assert_eq!(file, "Dockerfile");
        let text = dockerfile
            .lines()
            .nth(line - 1)
            .unwrap_or_else(|| panic!("{expected}"));
        let word = text.split_whitespace().next().unwrap();
        let named = match rest.strip_prefix("unknown instruction: ") {
            Some(m) => m.starts_with(word),
            None => rest.starts_with(&format!("{}: ", word.to_uppercase())),
        };
        assert!(named, "{}: line {line} is {text:?}: {rest}", case.display());
        let before = text[..col - 1].chars().last();
        assert!(
            col <= text.len() && before.is_none_or(char::is_whitespace),
            "{}: column {col} is not where a word of {text:?} starts",
            case.display()
        );
        n += 1;
    }
    assert!(n >= 10);
}

/// `berth build` of a corpus case in engine `e`, tagged `tag`; panics
/// with the progress on failure.
fn berth_build(e: &Engine, case: &Path, tag: &str) {
    let mut args: Vec<String> = ["build", "--progress", "plain", "-t", tag]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(case_flags(case));
    args.push(case.to_str().unwrap().to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = e.run(&args);
    assert!(
        out.status.success(),
        "berth build {} failed ({}):\n{}",
        case.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every busybox case built by `berth build` has its facts, and the same
/// file tree and config as buildah's build of it (where buildah 1.28 can
/// build it: not heredocs, not `--link`); so does the ONBUILD pair.
#[test]
fn berth_builds_the_busybox_corpus_as_buildah_does() {
    require_root!();
    let e = Engine::new("berth");
    let Some(b) = buildah_with(&e.berth.root, &[BUSYBOX]) else {
        return;
    };
    let not_chroot = Isolation::Oci(PathBuf::new());
    let mut compared = Vec::new();
    for case in cases() {
        let name = case.file_name().unwrap().to_str().unwrap().to_owned();
        if uses_debian(&case) {
            continue;
        }
        let tag = format!("corpus-{name}:1");
        berth_build(&e, &case, &tag);
        let tree = berth_image_tree(&e.berth.root, &tag);
        check_case(&name, &case, &tree, &not_chroot);
        if buildah_skip(&case).is_none() {
            let theirs = b.buildah_build(&case).without_empty_mountpoints();
            assert_same_tree(&tree, &theirs, &format!("berth and buildah: {name}"));
            compared.push(name);
        }
    }
    berth_build(&e, &corpus_dir().join("onbuild/parent"), "onbuild-parent:1");
    berth_build(&e, &corpus_dir().join("onbuild/child"), "onbuild-child:1");
    let child = berth_image_tree(&e.berth.root, "onbuild-child:1");
    assert_eq!(
        child.get("/child").kind,
        file_digest("from the child's context\n")
    );
    assert!(child.files.contains_key("/onbuild-ran"));
    assert!(!child.config.contains_key("OnBuild"), "{:?}", child.config);
    assert!(compared.len() >= 8, "{compared:?}");
}

/// The Debian cases (gcc in one stage, the binary in scratch; a user and
/// steps as that user) give berth and buildah the same image.
#[test]
fn berth_builds_the_debian_corpus_as_buildah_does() {
    require_root!();
    let e = Engine::new("berth");
    if !e.with_debian() {
        return;
    }
    let Some(b) = buildah_with(&e.berth.root, &[BUSYBOX, DEBIAN]) else {
        return;
    };
    for name in ["multistage-gcc", "debian-steps"] {
        let case = corpus_dir().join(name);
        let tag = format!("corpus-{name}:1");
        berth_build(&e, &case, &tag);
        let ours = berth_image_tree(&e.berth.root, &tag);
        let theirs = b.buildah_build(&case).without_empty_mountpoints();
        assert_same_tree(&ours, &theirs, &format!("berth and buildah: {name}"));
    }
    assert_eq!(
        e.ok(&["run", "--rm", "corpus-debian-steps:1", "calc", "4"]),
        "triangle(4) = 10\n"
    );
}

/// Each error case fails with exit 1 and, as its last line, the message
/// its `expected-error` file holds.
#[test]
fn berth_prints_each_error_case_expected_error() {
    require_root!();
    let e = Engine::new("berth");
    for entry in std::fs::read_dir(corpus_dir().join("errors")).unwrap() {
        let case = entry.unwrap().path();
        let want = std::fs::read_to_string(case.join("expected-error")).unwrap();
        let out = e.run(&["build", "--progress", "plain", case.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", case.display());
        assert_eq!(
            err.lines().last().unwrap_or(""),
            format!("Error: {}", want.trim_end()),
            "{}",
            case.display()
        );
    }
}

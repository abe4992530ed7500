//! The engine's query, filesystem and housekeeping commands end to end as
//! root: `ps` filters and templates, `logs` windows, `inspect --type`,
//! `rename`, `port`, `cp` both ways (with a hostile symlink in the
//! container), `diff`, `export`, `commit`, prunes, `system df`, `info`,
//! `version`, completions, `container` aliases, `rmi` conflicts and
//! `run --pull` against a local registry. Each test has its own root,
//! names and cgroup parent, and removes its containers and mounts.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use berth_testutil::{require_root, Registry, RegistryConfig, TempDir};
use common::engine::{name, Engine};
use serde_json::Value;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs and expects Docker's 125; returns stderr.
fn fails(e: &Engine, args: &[&str]) -> String {
    let out = e.run(args);
    assert_eq!(
        out.status.code(),
        Some(125),
        "berth {args:?}: {}",
        stderr(&out)
    );
    stderr(&out)
}

fn with_stdin(e: &Engine, args: &[&str], input: &[u8]) -> Output {
    let mut child = e
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

/// Table cells: runs of two or more spaces separate them.
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A stopped container that ran `script` to its end (exit 0).
fn ran(e: &Engine, tag: &str, script: &str) -> String {
    let n = name(tag);
    e.ok(&["run", "--name", &n, "bb:1", "sh", "-c", script]);
    n
}

#[test]
fn ps_filters_formats_and_limits() {
    require_root!();
    let e = Engine::new("berth");
    let (n1, n2, n3) = (name("p1"), name("p2"), name("p3"));
    // n1 exits 3, n2 runs, n3 is only created; created in this order.
    let out = e.run(&["run", "--name", &n1, "bb:1", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let id2 = e.ok(&[
        "run", "-d", "--name", &n2, "-p", "18090:80", "bb:1", "sleep", "1000",
    ]);
    let id2 = id2.trim();
    let id3 = e.ok(&["create", "--name", &n3, "--network", "none", "bb:1", "true"]);
    let id3 = id3.trim();
    let id1 = e.inspect(&n1)["Id"].as_str().unwrap().to_owned();

    let names = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["ps", "--format", "{{.Names}}"];
        full.extend_from_slice(args);
        e.ok(&full).lines().map(str::to_owned).collect()
    };
    assert_eq!(names(&[]), [n2.as_str()]);
    assert_eq!(names(&["-a"]), [n3.as_str(), n2.as_str(), n1.as_str()]);
    assert_eq!(e.ok(&["ps", "-q"]), format!("{}\n", &id2[..12]));
    assert_eq!(e.ok(&["ps", "-q", "--no-trunc"]), format!("{id2}\n"));
    // Filters (status and since imply -a, as in Docker).
    assert_eq!(names(&["-a", "-f", &format!("name={n1}")]), [n1.as_str()]);
    assert_eq!(names(&["-a", "-f", &format!("name=^{n3}$")]), [n3.as_str()]);
    assert_eq!(names(&["-f", "status=exited"]), [n1.as_str()]);
    assert_eq!(names(&["-f", "status=created"]), [n3.as_str()]);
    assert_eq!(names(&["-a", "-f", "exited=3"]), [n1.as_str()]);
    assert!(names(&["-a", "-f", "exited=0"]).is_empty());
    assert_eq!(
        names(&["-a", "-f", &format!("id={}", &id3[..10])]),
        [n3.as_str()]
    );
    assert_eq!(names(&["-a", "-f", "ancestor=bb:1"]).len(), 3);
    assert!(names(&["-a", "-f", "ancestor=nope:1"]).is_empty());
    assert_eq!(names(&["-f", &format!("before={n2}")]), [n1.as_str()]);
    assert_eq!(names(&["-f", &format!("since={n2}")]), [n3.as_str()]);
    assert_eq!(names(&["-n", "2"]), [n3.as_str(), n2.as_str()]);
    assert_eq!(names(&["-l"]), [n3.as_str()]);
    // Networks and ports: n2 publishes host port 18090 for its port 80.
    assert_eq!(names(&["-a", "-f", "network=none"]), [n3.as_str()]);
    assert_eq!(
        names(&["-a", "-f", "network=bridge"]),
        [n2.as_str(), n1.as_str()]
    );
    assert_eq!(names(&["-a", "-f", "publish=18090"]), [n2.as_str()]);
    assert_eq!(
        names(&["-a", "-f", "publish=18000-18100/tcp"]),
        [n2.as_str()]
    );
    assert!(names(&["-a", "-f", "publish=18090/udp"]).is_empty());
    assert!(names(&["-a", "-f", "publish=80"]).is_empty());
    assert_eq!(names(&["-a", "-f", "expose=80"]), [n2.as_str()]);
    let column = |field: &str| {
        e.ok(&[
            "ps",
            "-a",
            "--format",
            &format!("{{{{.Names}}}} {{{{.{field}}}}}"),
        ])
    };
    let ports = column("Ports");
    assert!(
        ports.contains(&format!("{n2} 0.0.0.0:18090->80/tcp\n")),
        "{ports}"
    );
    let networks = column("Networks");
    assert!(networks.contains(&format!("{n2} bridge\n")), "{networks}");
    assert!(networks.contains(&format!("{n3} none\n")), "{networks}");
    // Filters for what no container has yet (health checks, volumes)
    // answer as Docker would for such containers.
    assert_eq!(names(&["-a", "-f", "health=none"]).len(), 3);
    assert!(names(&["-a", "-f", "health=healthy"]).is_empty());
    assert!(names(&["-a", "-f", "volume=/data"]).is_empty());
    assert_eq!(names(&["-a", "-f", "is-task=false"]).len(), 3);
    // Two filters of one key: either; of two keys: both.
    assert_eq!(
        names(&["-f", "status=exited", "-f", "status=created"]),
        [n3.as_str(), n1.as_str()]
    );
    assert!(names(&["-a", "-f", "status=exited", "-f", &format!("name={n3}")]).is_empty());

    // Templates.
    let line = e.ok(&[
        "ps",
        "-a",
        "-f",
        &format!("name={n1}"),
        "--format",
        "{{.ID}} {{.State}} {{.Status}}|{{.Label \"x\"}}|",
    ]);
    assert!(
        line.starts_with(&format!("{} exited Exited (3) ", &id1[..12]))
            && line.ends_with(" ago||\n"),
        "{line}"
    );
    let json = e.ok(&["ps", "--format", "{{json .}}"]);
    let v: Value = serde_json::from_str(json.trim()).unwrap();
    let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let docker_keys: BTreeSet<&str> = [
        "Command",
        "CreatedAt",
        "ID",
        "Image",
        "Labels",
        "LocalVolumes",
        "Mounts",
        "Names",
        "Networks",
        "Ports",
        "RunningFor",
        "Size",
        "State",
        "Status",
    ]
    .into();
    assert_eq!(keys, docker_keys);
    assert_eq!(v["Command"], "\"sleep 1000\"");
    assert_eq!(v["Image"], "bb:1");
    assert_eq!(v["State"], "running");
    // `table`: Docker's column titles, tab-aligned (min width 10, pad 3).
    let t = e.ok(&["ps", "-a", "--format", "table {{.Names}}\\t{{.State}}"]);
    let width = [&n1, &n2, &n3].iter().map(|n| n.len()).max().unwrap() + 3;
    assert_eq!(
        lines(&t),
        [
            format!("{:<width$}STATE", "NAMES"),
            format!("{n3:<width$}created"),
            format!("{n2:<width$}running"),
            format!("{n1:<width$}exited"),
        ]
    );
    let table = e.ok(&["ps", "-a", "-s"]);
    assert_eq!(
        cells(lines(&table)[0]),
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
            "SIZE"
        ]
    );
    assert!(table.contains("(virtual "), "{table}");
    // `container ls` is `ps`.
    assert_eq!(e.ok(&["container", "ls", "-aq"]), e.ok(&["ps", "-aq"]));
    // Bad filters are Docker's errors.
    assert!(fails(&e, &["ps", "-f", "nope"]).contains("bad format of filter (expected name=value)"));
    assert!(fails(&e, &["ps", "-f", "color=red"]).contains("invalid filter 'color'"));
    assert!(fails(&e, &["ps", "-f", "health=great"])
        .contains("Unrecognised filter value for health: great"));
    assert!(fails(&e, &["ps", "-f", "status=sleepy"]).contains("invalid filter 'status=sleepy'"));
    e.ok(&["rm", "-f", &n2]);
}

#[test]
fn ps_labels_in_templates() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("lbl");
    let b = &e.berth;
    // An image with labels gives its containers labels.
    let tar = b.dir.join("rootfs.tar");
    b.ok(&[
        "import",
        "-c",
        "LABEL tier=web",
        "-c",
        "LABEL owner=ops",
        tar.to_str().unwrap(),
        "lb:1",
    ]);
    e.ok(&["create", "--name", &n, "lb:1", "true"]);
    assert_eq!(
        e.ok(&["ps", "-a", "--format", "{{.Label \"tier\"}} {{.Labels}}"]),
        "web owner=ops,tier=web\n"
    );
    assert_eq!(
        e.ok(&["ps", "-a", "-q", "-f", "label=tier=web"])
            .trim()
            .len(),
        12
    );
    assert!(e.ok(&["ps", "-a", "-q", "-f", "label=tier=db"]).is_empty());
    assert!(e.ok(&["ps", "-a", "-q", "-f", "label=missing"]).is_empty());
}

#[test]
fn logs_tail_since_until_timestamps() {
    require_root!();
    let e = Engine::new("berth");
    // Short sleeps keep the five lines' times apart.
    let n = ran(
        &e,
        "logs",
        "for i in 1 2 3 4 5; do echo $i; sleep 0.01; done; echo oops >&2",
    );
    assert_eq!(e.ok(&["logs", &n]), "1\n2\n3\n4\n5\n");
    assert_eq!(e.ok(&["logs", "--tail", "2", &n]), "5\n");
    assert_eq!(stderr(&e.run(&["logs", "--tail", "2", &n])), "oops\n");
    assert_eq!(e.ok(&["logs", "-n", "3", &n]), "4\n5\n");
    assert_eq!(e.ok(&["logs", "--tail", "0", &n]), "");
    assert_eq!(e.ok(&["logs", "--tail", "all", &n]), "1\n2\n3\n4\n5\n");
    let stamped = e.ok(&["logs", "-t", &n]);
    let entries: Vec<(&str, &str)> = stamped
        .lines()
        .map(|l| {
            let (t, text) = l.split_once(' ').unwrap();
            // RFC 3339 with nine fraction digits, as Docker prints.
            assert_eq!(t.len(), 30, "{l}");
            assert!(t.ends_with('Z') && &t[19..20] == ".", "{l}");
            (t, text)
        })
        .collect();
    assert_eq!(
        entries.iter().map(|(_, l)| *l).collect::<Vec<_>>(),
        ["1", "2", "3", "4", "5"]
    );
    // Lines read together share a time; what a window holds follows from
    // the times (fixed width: they compare as strings).
    let window = |since: Option<&str>, until: Option<&str>| -> String {
        entries
            .iter()
            .filter(|(t, _)| since.is_none_or(|s| *t >= s) && until.is_none_or(|u| *t <= u))
            .map(|(_, l)| format!("{l}\n"))
            .collect()
    };
    let times: Vec<&str> = entries.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        e.ok(&["logs", "--since", times[2], &n]),
        window(Some(times[2]), None)
    );
    assert!(e
        .ok(&["logs", "--since", times[2], &n])
        .ends_with("3\n4\n5\n"));
    assert_eq!(
        e.ok(&["logs", "--until", times[1], &n]),
        window(None, Some(times[1]))
    );
    assert!(e
        .ok(&["logs", "--until", times[1], &n])
        .starts_with("1\n2\n"));
    assert_eq!(
        e.ok(&["logs", "--since", times[1], "--until", times[3], &n]),
        window(Some(times[1]), Some(times[3]))
    );
    // Relative and unix times.
    assert_eq!(e.ok(&["logs", "--since", "1h", &n]), "1\n2\n3\n4\n5\n");
    assert_eq!(e.ok(&["logs", "--until", "1h", &n]), "");
    assert_eq!(e.ok(&["logs", "--since", "4102444800", &n]), "");
    assert_eq!(
        e.ok(&["logs", "--since", "2000-01-01", &n]),
        "1\n2\n3\n4\n5\n"
    );
    assert!(fails(&e, &["logs", "--since", "yesterday", &n]).contains("yesterday"));
    assert!(fails(&e, &["logs", "--tail", "many", &n]).contains("tail"));
}

#[test]
fn inspect_type_rename_and_port() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("r");
    let m = name("r2");
    let other = name("r3");
    e.ok(&["create", "--name", &n, "bb:1", "true"]);
    e.ok(&["create", "--name", &other, "bb:1", "true"]);
    assert_eq!(
        e.ok(&["inspect", "--type", "container", "-f", "{{.Name}}", &n]),
        format!("/{n}\n")
    );
    assert!(e
        .ok(&["inspect", "--type", "image", "-f", "{{.Id}}", "bb:1"])
        .starts_with("sha256:"));
    assert!(
        fails(&e, &["inspect", "--type", "container", "bb:1"]).contains("No such container: bb:1")
    );
    assert!(fails(&e, &["inspect", "--type", "image", &n]).contains("No such image"));
    assert!(
        fails(&e, &["inspect", "--type", "volume", &n]).contains("is not a valid value for --type")
    );
    assert_eq!(
        e.ok(&["container", "inspect", "-f", "{{.State.Status}}", &n]),
        "created\n"
    );

    // --size: the writable layer (nothing yet) and the whole.
    let sizes = e.ok(&["inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", &n]);
    let (rw, all) = sizes.trim().split_once(' ').unwrap();
    assert_eq!(rw, "0");
    assert!(all.parse::<u64>().unwrap() > 1_000_000, "{sizes}");
    assert!(e.inspect(&n).get("SizeRw").is_none());
    assert_eq!(e.ok(&["rename", &n, &m]), "");
    assert!(fails(&e, &["inspect", "--type", "container", &n]).contains("No such container"));
    assert_eq!(e.inspect(&m)["Name"], format!("/{m}"));
    let err = fails(&e, &["rename", &m, &other]);
    assert!(
        err.contains(&format!(
            "Conflict. The container name \"/{other}\" is already in use by container"
        )),
        "{err}"
    );
    assert!(fails(&e, &["rename", &m, &m])
        .contains("Renaming a container with the same name as its current name"));
    assert!(fails(&e, &["rename", &m, "bad name"]).contains("Invalid container name"));
    assert!(fails(&e, &["rename", "nope-nope", "x"]).contains("No such container: nope-nope"));

    // No container publishes ports before networks exist.
    assert_eq!(e.ok(&["port", &m]), "");
    assert_eq!(
        fails(&e, &["port", &m, "80"]),
        format!("Error: No public port '80/tcp' published for {m}\n")
    );
    assert_eq!(
        fails(&e, &["port", &m, "53/udp"]),
        format!("Error: No public port '53/udp' published for {m}\n")
    );
    assert!(fails(&e, &["port", &m, "http"]).contains("Invalid port"));
}

/// A host directory with a file outside every container, unique per test.
struct HostSecret {
    dir: TempDir,
}

impl HostSecret {
    fn new() -> HostSecret {
        let dir = TempDir::new("berth-host-secret").unwrap();
        std::fs::write(dir.join("secret"), "host secret\n").unwrap();
        HostSecret { dir }
    }

    fn path(&self) -> String {
        self.dir.join("secret").to_str().unwrap().to_owned()
    }
}

fn cp_hostile_symlink(e: &Engine, c: &str) {
    let secret = HostSecret::new();
    let out_dir = TempDir::new("berth-cp-out").unwrap();
    // /escape -> / inside the container: reading through it reads the
    // container's root, never the host's.
    let dest = out_dir.join("stolen");
    let err = fails(
        e,
        &[
            "cp",
            &format!("{c}:/escape{}", secret.path()),
            dest.to_str().unwrap(),
        ],
    );
    assert!(err.contains("Could not find the file"), "{err}");
    assert!(!dest.exists());
    let err = fails(
        e,
        &[
            "cp",
            &format!("{c}:/escape/etc/shadow"),
            dest.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("Could not find the file /escape/etc/shadow"),
        "{err}"
    );
    assert!(!dest.exists());
    let tar = e.run(&["cp", &format!("{c}:/escape/../../etc/shadow"), "-"]);
    assert_eq!(tar.status.code(), Some(125));
    assert!(tar.stdout.is_empty());
    // /escape/etc/passwd is the container's passwd (busybox's users).
    e.ok(&[
        "cp",
        &format!("{c}:/escape/etc/passwd"),
        dest.to_str().unwrap(),
    ]);
    let got = std::fs::read_to_string(&dest).unwrap();
    assert_eq!(
        got,
        std::fs::read_to_string(e.berth.dir.join("rootfs/etc/passwd")).unwrap()
    );

    // Writing through it writes into the container, never the host.
    let planted = format!("berth-planted-{}", name("x"));
    let src = out_dir.join("plant");
    std::fs::write(&src, "planted\n").unwrap();
    e.ok(&[
        "cp",
        src.to_str().unwrap(),
        &format!("{c}:/escape/{planted}"),
    ]);
    assert!(!Path::new("/").join(&planted).exists());
    let back = out_dir.join("back");
    e.ok(&["cp", &format!("{c}:/{planted}"), back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "planted\n");
    // A symlink destination that is a directory: into the container's.
    let src2 = out_dir.join(format!("{planted}-2"));
    std::fs::write(&src2, "planted\n").unwrap();
    e.ok(&["cp", src2.to_str().unwrap(), &format!("{c}:/escape")]);
    assert!(!Path::new("/").join(format!("{planted}-2")).exists());
    e.ok(&[
        "cp",
        &format!("{c}:/{planted}-2"),
        out_dir.join("back2").to_str().unwrap(),
    ]);
    // A tar on stdin cannot climb out with `..` or through the symlink.
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    let evil = format!("../../{planted}-dotdot");
    t.append_data(&mut h, "ok", &b"fine\n"[..]).unwrap();
    {
        // The tar crate refuses `..` in names; write the raw header.
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..evil.len()].copy_from_slice(evil.as_bytes());
        h.set_size(5);
        h.set_mode(0o644);
        h.set_cksum();
        t.append(&h, &b"evil\n"[..]).unwrap();
    }
    let out = with_stdin(
        e,
        &["cp", "-", &format!("{c}:/tmp")],
        &t.into_inner().unwrap(),
    );
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(!Path::new("/").join(format!("{planted}-dotdot")).exists());
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    t.append_data(&mut h, format!("escape/{planted}-through"), &b"evil\n"[..])
        .unwrap();
    let out = with_stdin(e, &["cp", "-", &format!("{c}:/")], &t.into_inner().unwrap());
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(!Path::new("/").join(format!("{planted}-through")).exists());
}

fn cp_both_ways(e: &Engine, c: &str) {
    let dir = TempDir::new("berth-cp").unwrap();
    // host → container: a file to a new name, a directory into a dir.
    let file = dir.join("file.txt");
    std::fs::write(&file, "one\n").unwrap();
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/deep"), "deep\n").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", tree.join("link")).unwrap();
    e.ok(&["cp", file.to_str().unwrap(), &format!("{c}:/data/renamed")]);
    e.ok(&["cp", tree.to_str().unwrap(), &format!("{c}:/data/")]);
    // container → host: a tar on stdout lists what went in.
    let tar = e.run(&["cp", &format!("{c}:/data"), "-"]);
    assert!(tar.status.success(), "{}", stderr(&tar));
    let mut names: Vec<String> = tar::Archive::new(&tar.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "data",
            "data/f",
            "data/flink",
            "data/renamed",
            "data/tree",
            "data/tree/link",
            "data/tree/sub",
            "data/tree/sub/deep"
        ]
    );
    // Copied in as the container's root user, as Docker without -a.
    let mut a = tar::Archive::new(&tar.stdout[..]);
    for entry in a.entries().unwrap() {
        let entry = entry.unwrap();
        assert_eq!(entry.header().uid().unwrap(), 0);
    }
    // container → host directory: the symlink stays a symlink.
    let out = dir.join("out");
    std::fs::create_dir(&out).unwrap();
    e.ok(&["cp", &format!("{c}:/data"), out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("data/renamed")).unwrap(),
        "one\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("data/tree/sub/deep")).unwrap(),
        "deep\n"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("data/f")).unwrap(),
        "inside\n"
    );
    let link = out.join("data/tree/link");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/etc/shadow"));
    // -L copies what a link points to (resolved inside the container),
    // under the link's name; without it the link itself.
    let followed = dir.join("followed");
    e.ok(&[
        "cp",
        "-L",
        &format!("{c}:/data/flink"),
        followed.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&followed).unwrap(), "inside\n");
    let followed_dir = dir.join("followed-dir");
    std::fs::create_dir(&followed_dir).unwrap();
    e.ok(&[
        "cp",
        "--follow-link",
        &format!("{c}:/data/flink"),
        followed_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(followed_dir.join("flink")).unwrap(),
        "inside\n"
    );
    assert!(std::fs::symlink_metadata(out.join("data/flink"))
        .unwrap()
        .file_type()
        .is_symlink());
    // SRC/. copies the content; a new destination name is created.
    let content = dir.join("content");
    e.ok(&[
        "cp",
        &format!("{c}:/data/tree/."),
        content.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(content.join("sub/deep")).unwrap(),
        "deep\n"
    );
    // A tar from stdin unpacks into a directory.
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o600);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    t.append_data(&mut h, "from-stdin", &b"stdin\n"[..])
        .unwrap();
    let out = with_stdin(
        e,
        &["cp", "-", &format!("{c}:/data")],
        &t.into_inner().unwrap(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let back = dir.join("back");
    e.ok(&[
        "cp",
        &format!("{c}:/data/from-stdin"),
        back.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "stdin\n");
    // Docker's errors.
    assert!(
        fails(e, &["cp", &format!("{c}:/nope"), back.to_str().unwrap()])
            .contains("Could not find the file /nope")
    );
    assert!(fails(e, &["cp", "/etc/hostname", "/tmp/x"])
        .contains("must specify at least one container source"));
    assert!(fails(e, &["cp", &format!("{c}:/a"), &format!("{c}:/b")])
        .contains("copying between containers is not supported"));
    assert!(fails(e, &["cp", "-", &format!("{c}:/data/renamed")]).contains("must be a directory"));
    assert!(fails(e, &["cp", "/etc/hostname", "nope-nope:/tmp"])
        .contains("No such container: nope-nope"));
}

fn setup_script() -> &'static str {
    "ln -s / /escape; mkdir /data; echo inside > /data/f; ln -s /data/f /data/flink"
}

#[test]
fn cp_stopped_container() {
    require_root!();
    let e = Engine::new("berth");
    let n = ran(&e, "cp", setup_script());
    cp_hostile_symlink(&e, &n);
    cp_both_ways(&e, &n);
    // The private mounts of the stopped container are gone.
    assert!(
        e.mounts_under_root().is_empty(),
        "{:?}",
        e.mounts_under_root()
    );
}

#[test]
fn cp_running_container() {
    require_root!();
    let e = Engine::new("berth");
    let n = name("cpr");
    // The container waits for a file that `cp` brings, then prints it.
    e.ok(&[
        "run",
        "-d",
        "--name",
        &n,
        "bb:1",
        "sh",
        "-c",
        &format!(
            "{}; while [ ! -e /tmp/go ]; do sleep 0.05; done; cat /tmp/go",
            setup_script()
        ),
    ]);
    // The setup ran once /data/f can be read.
    let mut ready = false;
    for _ in 0..400 {
        if e.run(&["cp", &format!("{n}:/data/f"), "-"])
            .status
            .success()
        {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(ready, "the container never made /data/f");
    cp_hostile_symlink(&e, &n);
    cp_both_ways(&e, &n);
    // The bind-mounted files read as the container sees them.
    let hostname = e.inspect(&n)["Config"]["Hostname"]
        .as_str()
        .unwrap()
        .to_owned();
    let tar = e.run(&["cp", &format!("{n}:/etc/hostname"), "-"]);
    let mut a = tar::Archive::new(&tar.stdout[..]);
    let mut entry = a.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(entry.path().unwrap(), Path::new("hostname"));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
    assert_eq!(text, format!("{hostname}\n"));
    let hosts = TempDir::new("berth-hosts").unwrap();
    e.ok(&[
        "cp",
        &format!("{n}:/etc/hosts"),
        hosts.path().to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(hosts.join("hosts")).unwrap();
    // Docker's file on the default bridge: localhost, then the
    // container's address with its hostname.
    assert!(
        text.starts_with("127.0.0.1\tlocalhost\n") && text.contains(&format!("\t{hostname}\n")),
        "{text}"
    );
    // export reads a running container's root too.
    let out = e.run(&["export", &n]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tar::Archive::new(&out.stdout[..])
        .entries()
        .unwrap()
        .any(|e| e.unwrap().path().unwrap() == Path::new("data/f")));
    let go = TempDir::new("berth-go").unwrap();
    std::fs::write(go.join("go"), "seen inside\n").unwrap();
    e.ok(&[
        "cp",
        go.join("go").to_str().unwrap(),
        &format!("{n}:/tmp/go"),
    ]);
    // The process in the container sees it: `logs -f` ends with its exit.
    assert_eq!(e.ok(&["logs", "-f", &n]), "seen inside\n");
}

#[test]
fn diff_reports_adds_changes_deletes() {
    require_root!();
    let e = Engine::new("berth");
    let n = ran(
        &e,
        "diff",
        "touch /tmp/new; rm /etc/hello; mkdir /d; echo x > /d/f; rm -rf /home; mkdir /home; chmod 700 /mnt",
    );
    assert_eq!(
        e.ok(&["diff", &n]),
        "A /d\nA /d/f\nC /etc\nD /etc/hello\nD /home\nC /mnt\nC /tmp\nA /tmp/new\n"
    );
    // Nothing changed: nothing listed (the runtime's mount points are not
    // the container's changes).
    let quiet = ran(&e, "diff0", "true");
    assert_eq!(e.ok(&["diff", &quiet]), "");
    assert!(e.mounts_under_root().is_empty());
}

#[test]
fn export_writes_the_merged_rootfs() {
    require_root!();
    let e = Engine::new("berth");
    let n = ran(
        &e,
        "exp",
        "echo new > /exported; rm /etc/hello; ln -s /exported /link",
    );
    let file = e.berth.dir.join("export.tar");
    e.ok(&["export", "-o", file.to_str().unwrap(), &n]);
    let data = std::fs::read(&file).unwrap();
    // To stdout: the same archive.
    let out = e.run(&["export", &n]);
    assert!(out.status.success());
    assert_eq!(out.stdout, data);
    let mut found = std::collections::BTreeMap::new();
    for entry in tar::Archive::new(&data[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let link = entry.link_name().unwrap().map(|l| l.display().to_string());
        let mut body = String::new();
        if entry.header().entry_type().is_file() && path != "bin/busybox" {
            std::io::Read::read_to_string(&mut entry, &mut body).unwrap();
        }
        found.insert(path, (link, body));
    }
    assert_eq!(found["exported"].1, "new\n");
    assert_eq!(found["link"].0.as_deref(), Some("/exported"));
    assert_eq!(found["bin/sh"].0.as_deref(), Some("busybox"));
    assert!(found.contains_key("bin/busybox"));
    assert!(found.contains_key("etc/passwd"));
    assert!(
        !found.contains_key("etc/hello"),
        "deleted files are not exported"
    );
    assert!(fails(&e, &["export", "nope-nope"]).contains("No such container: nope-nope"));
    assert!(e.mounts_under_root().is_empty());
}

fn commit_then_run(runtime: &'static str) {
    let e = Engine::new(runtime);
    let n = ran(&e, "cm", "echo committed > /marker; rm /etc/hello");
    let out = e.ok(&[
        "commit",
        "-m",
        "my change",
        "-a",
        "Ann <ann@example.com>",
        "-c",
        "ENV STAGE=two",
        "-c",
        "CMD [\"cat\", \"/marker\"]",
        &n,
        "committed:1",
    ]);
    assert!(
        out.starts_with("sha256:") && out.trim().len() == 71,
        "{out}"
    );
    assert_eq!(e.ok(&["run", "--rm", "committed:1"]), "committed\n");
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "committed:1",
            "sh",
            "-c",
            "echo $STAGE; test -e /etc/hello || echo gone"
        ]),
        "two\ngone\n"
    );
    let v: Value = serde_json::from_str(
        e.ok(&["image", "inspect", "-f", "{{json .}}", "committed:1"])
            .trim(),
    )
    .unwrap();
    assert_eq!(v["Id"], out.trim());
    assert_eq!(v["Author"], "Ann <ann@example.com>");
    assert_eq!(v["Comment"], "my change");
    assert_eq!(v["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    assert!(v["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "STAGE=two"));
    // The runtime's mount points are not in the new layer.
    let diff = e.ok(&["diff", &n]);
    assert!(!diff.contains("/etc/hosts"), "{diff}");

    // A running container is paused for the commit and runs on.
    let r = name("cmr");
    e.ok(&[
        "run",
        "-d",
        "--name",
        &r,
        "bb:1",
        "sh",
        "-c",
        "echo live > /live; exec sleep 1000",
    ]);
    let mut made = false;
    for _ in 0..400 {
        if e.run(&["cp", &format!("{r}:/live"), "-"]).status.success() {
            made = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(made);
    e.ok(&["commit", &r, "committed:2"]);
    assert_eq!(e.inspect(&r)["State"]["Status"], "running");
    assert_eq!(
        e.ok(&["run", "--rm", "committed:2", "cat", "/live"]),
        "live\n"
    );
    assert!(fails(&e, &["commit", "-c", "ONBUILD RUN x", &n]).contains("ONBUILD"));
    e.ok(&["rm", "-f", &r]);
}

#[test]
fn commit_then_run_the_image() {
    require_root!();
    commit_then_run("berth");
}

#[test]
fn commit_with_runc() {
    require_root!();
    if !common::have_tool("runc") {
        return;
    }
    commit_then_run("runc");
}

#[test]
fn prune_removes_only_stopped_and_df_counts() {
    require_root!();
    let e = Engine::new("berth");
    let exited = ran(&e, "px", "echo data > /file");
    let running = name("pr");
    e.ok(&["run", "-d", "--name", &running, "bb:1", "sleep", "1000"]);
    let created = name("pc");
    e.ok(&["create", "--name", &created, "bb:1", "true"]);
    let id = |n: &str| e.inspect(n)["Id"].as_str().unwrap().to_owned();
    let (exited_id, created_id) = (id(&exited), id(&created));

    let df = e.ok(&["system", "df"]);
    let rows: Vec<Vec<String>> = df.lines().map(cells).collect();
    assert_eq!(rows[0], ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    assert_eq!(rows[1][..3], ["Images", "1", "1"]);
    assert_eq!(rows[2][..3], ["Containers", "3", "1"]);
    let v = e.ok(&["system", "df", "-v"]);
    let rows: Vec<Vec<String>> = v.lines().map(cells).collect();
    assert_eq!(rows[0], ["Images space usage:"]);
    assert_eq!(
        rows[2],
        [
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS"
        ]
    );
    assert_eq!(rows[3][..2], ["bb", "1"]);
    assert_eq!(rows[3].last().unwrap(), "3");
    assert_eq!(rows[5], ["Containers space usage:"]);
    assert_eq!(
        rows[7],
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES"
        ]
    );
    assert_eq!(rows[12], ["Local Volumes space usage:"]);
    assert_eq!(rows[14], ["VOLUME NAME", "LINKS", "SIZE"]);
    assert_eq!(rows.len(), 15, "{v}");
    assert_eq!(
        e.ok(&["system", "df", "--format", "{{.Type}}:{{.TotalCount}}"]),
        "Images:1\nContainers:3\nLocal Volumes:0\nBuild Cache:0\n"
    );
    assert_eq!(
        e.ok(&[
            "info",
            "-f",
            "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}}"
        ]),
        "3 1 2 1\n"
    );

    // Filters: created before an hour ago, or with a label: none here.
    assert_eq!(
        e.ok(&["container", "prune", "-f", "--filter", "until=1h"]),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(
        e.ok(&["container", "prune", "-f", "--filter", "label=tier"]),
        "Total reclaimed space: 0B\n"
    );
    assert!(
        fails(&e, &["container", "prune", "-f", "--filter", "color=red"])
            .contains("invalid filter")
    );
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 3);
    let out = e.ok(&[
        "container",
        "prune",
        "-f",
        "--filter",
        "until=0s",
        "--filter",
        "label!=tier",
    ]);
    assert_eq!(
        out,
        format!("Deleted Containers:\n{created_id}\n{exited_id}\n\nTotal reclaimed space: 5B\n")
    );
    assert_eq!(
        e.ok(&["ps", "-a", "--format", "{{.Names}}"]),
        format!("{running}\n")
    );
    // Nothing left to prune but the running one, which stays.
    assert_eq!(
        e.ok(&["system", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 1);
    // Without -f it asks; "n" keeps everything.
    let stopped = ran(&e, "pn", "true");
    let out = with_stdin(&e, &["container", "prune"], b"n\n");
    assert!(out.status.success());
    assert!(stderr(&out).contains("WARNING! This will remove all stopped containers."));
    assert!(e.ok(&["ps", "-a"]).contains(&stopped));
    e.ok(&["rm", "-f", &running]);
}

#[test]
fn rmi_asks_the_engine() {
    require_root!();
    let e = Engine::new("berth");
    let n = ran(&e, "rmi", "true");
    let image = e.ok(&["images", "-q", "bb:1"]);
    let image = image.trim();
    let cid = e.inspect(&n)["Id"].as_str().unwrap()[..12].to_owned();
    assert_eq!(
        fails(&e, &["rmi", "bb:1"]),
        format!("Error: conflict: unable to remove repository reference \"bb:1\" (must force) - container {cid} is using its referenced image {image}\n")
    );
    assert_eq!(
        fails(&e, &["rmi", image]),
        format!("Error: conflict: unable to delete {image} (must be forced) - image is being used by stopped container {cid}\n")
    );
    // A second tag can go: the image keeps the first.
    e.ok(&["tag", "bb:1", "bb:extra"]);
    assert_eq!(e.ok(&["rmi", "bb:extra"]), "Untagged: bb:extra\n");
    // A running container's image cannot be deleted, even forced.
    let r = name("rmir");
    e.ok(&["run", "-d", "--name", &r, "bb:1", "sleep", "1000"]);
    let rid = e.inspect(&r)["Id"].as_str().unwrap()[..12].to_owned();
    let err = fails(&e, &["rmi", "-f", image]);
    assert!(
        err.contains(&format!("conflict: unable to delete {image} (cannot be forced) - image is being used by running container {rid}")),
        "{err}"
    );
    e.ok(&["rm", "-f", &r]);
    // -f by name untags; the image stays for the container, which starts.
    assert_eq!(e.ok(&["rmi", "-f", "bb:1"]), "Untagged: bb:1\n");
    assert!(e.ok(&["images", "-q"]).contains(image));
    assert_eq!(
        e.ok(&["ps", "-a", "--format", "{{.Image}}"]),
        format!("{image}\n")
    );
    e.ok(&["start", &n]);
}

#[test]
fn info_version_completion() {
    require_root!();
    let e = Engine::new("berth");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        e.ok(&["version", "-f", "{{.Client.Version}} {{.Server.Version}}"]),
        format!("{version} {version}\n")
    );
    let v = e.ok(&["version"]);
    assert!(
        v.starts_with(&format!("Client:\n Version:           {version}\n")),
        "{v}"
    );
    assert!(v.contains("\nServer:\n Engine:\n"), "{v}");
    let info = e.ok(&["info"]);
    assert!(
        info.contains(" Containers: 0\n  Running: 0\n  Paused: 0\n  Stopped: 0\n Images: 1\n"),
        "{info}"
    );
    assert!(
        info.contains(&format!(" Docker Root Dir: {}\n", e.berth.root.display())),
        "{info}"
    );
    assert_eq!(e.ok(&["system", "info", "-f", "{{.Driver}}"]), "overlay\n");
    let bash = e.ok(&["completion", "bash"]);
    assert!(
        bash.contains("_berth()") && bash.contains("complete -F _berth"),
        "{}",
        &bash[..200.min(bash.len())]
    );
    assert!(e.ok(&["completion", "zsh"]).starts_with("#compdef berth"));
    assert!(e.ok(&["completion", "fish"]).contains("complete -c berth"));
    assert!(fails(&e, &["completion", "tcsh"]).contains("unsupported shell"));
}

#[test]
fn run_pulls_as_the_policy_says() {
    require_root!();
    if std::env::var("BERTH_REQUIRE_CGROUP").as_deref() == Ok("v2") {
        berth_testutil::skipped("the registry tests need no cgroup v2 guest; they run on the host");
        return;
    }
    if !common::have_tool("docker-registry") {
        return;
    }
    // the registry is on the test's loopback: no networks here
    let e = Engine::on_host_network("berth");
    let reg = Registry::start(RegistryConfig::default());
    let remote = format!("{}/berth/pulled:1", reg.addr());
    e.ok(&["tag", "bb:1", &remote]);
    e.ok(&["push", "-q", "--tls-verify=false", &remote]);
    e.ok(&["rmi", &remote]);

    // never: no pull, Docker's missing-image error.
    assert!(fails(
        &e,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--pull",
            "never",
            &remote,
            "true"
        ]
    )
    .contains(&format!("No such image: {remote}")));
    // missing (the default): pulled first, Docker's lines on stderr.
    let out = e.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--tls-verify=false",
        &remote,
        "echo",
        "pulled",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "pulled\n");
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "Unable to find image '{remote}' locally\n1: Pulling from berth/pulled\n"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("Status: Downloaded newer image for {remote}\n")),
        "{err}"
    );
    // Present now: no pull.
    let out = e.run(&["run", "--rm", "--network", "none", &remote, "true"]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
    // always: asks the registry again.
    let out = e.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--pull",
        "always",
        "--tls-verify=false",
        &remote,
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("Status: Image is up to date for {remote}\n")));
    // create pulls too.
    e.ok(&["rmi", &remote]);
    let out = e.run(&[
        "create",
        "--network",
        "none",
        "--tls-verify=false",
        &remote,
        "true",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Unable to find image"));
    // --platform: a local image of another platform is not used with
    // never; pulling one the registry lacks is a clear error.
    let err = fails(
        &e,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--pull",
            "never",
            "--platform",
            "linux/s390x",
            &remote,
            "true",
        ],
    );
    assert!(
        err.contains("does not match the specified platform: wanted linux/s390x"),
        "{err}"
    );
    let err = fails(
        &e,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--tls-verify=false",
            "--platform",
            "linux/s390x",
            &remote,
            "true",
        ],
    );
    assert!(err.contains("linux/s390x"), "{err}");
    assert!(fails(
        &e,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--pull",
            "sometimes",
            &remote,
            "true"
        ]
    )
    .contains(
        "invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\""
    ));
    // Unreachable registry: the pull's error, nothing created.
    let before = e.ok(&["ps", "-aq"]);
    let err = fails(
        &e,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--tls-verify=false",
            "127.0.0.1:1/no/such:1",
            "true",
        ],
    );
    assert!(err.contains("cannot pull"), "{err}");
    assert_eq!(e.ok(&["ps", "-aq"]), before);
}

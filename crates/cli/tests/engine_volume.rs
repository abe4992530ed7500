//! `berth volume create|ls|inspect|rm|prune` and `system df`'s volumes:
//! Docker's output, filters and errors (one line; exit 1 for what Docker's
//! daemon refuses, 125 for a bad flag), the directories under
//! `<root>/volumes`, and concurrent creates. Each test has a root of its
//! own; the one with a container uses a test engine.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use berth_testutil::require_root;
use common::engine::Engine;
use common::lifecycle::sql;
use common::Berth;
use serde_json::Value;

fn volumes_dir(b: &Berth) -> PathBuf {
    b.root.join("volumes")
}

/// The entries of `<root>/volumes`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(list) => list
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

fn rows(root: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(root.join("berth.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT name FROM volumes ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<Vec<String>>>()
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Runs, expects `code`; returns (stdout, stderr).
fn fails_with(b: &Berth, args: &[&str], code: i32) -> (String, String) {
    let out = b.run(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "berth {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn inspect(b: &Berth, name: &str) -> Value {
    let v: Value = serde_json::from_str(&b.ok(&["volume", "inspect", name])).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    v[0].clone()
}

#[test]
fn create_ls_inspect_rm_with_dockers_output() {
    require_root!();
    let b = Berth::new();
    assert_eq!(b.ok(&["volume", "ls"]), "DRIVER    VOLUME NAME\n");
    assert_eq!(b.ok(&["volume", "create", "data"]), "data\n");
    assert_eq!(
        b.ok(&[
            "volume",
            "create",
            "--label",
            "team=a",
            "--label",
            "tier",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            "-o",
            "o=size=1m",
            "--driver",
            "local",
            "cache2",
        ]),
        "cache2\n"
    );
    assert_eq!(
        b.ok(&["volume", "create", "--name", "cache10"]),
        "cache10\n"
    );

    // Docker's layout and modes.
    let data = volumes_dir(&b).join("data/_data");
    assert!(data.is_dir());
    assert_eq!(mode(&volumes_dir(&b)), 0o701);
    assert_eq!(mode(&volumes_dir(&b).join("data")), 0o701);
    assert_eq!(mode(&data), 0o755);
    assert_eq!(entries(&volumes_dir(&b)), ["cache10", "cache2", "data"]);

    // Natural order, Docker's columns.
    assert_eq!(
        b.ok(&["volume", "ls"]),
        "DRIVER    VOLUME NAME\nlocal     cache2\nlocal     cache10\nlocal     data\n"
    );
    assert_eq!(b.ok(&["volume", "list", "-q"]), "cache2\ncache10\ndata\n");
    assert_eq!(
        b.ok(&[
            "volume",
            "ls",
            "--format",
            "{{.Name}}|{{.Labels}}|{{.Label \"team\"}}|{{.Scope}}|{{.Links}}"
        ]),
        "cache2|team=a,tier=|a|local|N/A\ncache10|||local|N/A\ndata|||local|N/A\n"
    );
    assert_eq!(
        b.ok(&[
            "volume",
            "ls",
            "--format",
            "table {{.Name}}\t{{.Mountpoint}}",
            "-f",
            "name=data"
        ]),
        format!(
            "VOLUME NAME   MOUNTPOINT\ndata          {}\n",
            data.display()
        )
    );
    let json: Value = serde_json::from_str(&b.ok(&[
        "volume",
        "ls",
        "--format",
        "{{json .}}",
        "-f",
        "name=^data$",
    ]))
    .unwrap();
    assert_eq!(json["Driver"], "local");
    assert_eq!(json["Mountpoint"], data.display().to_string());

    // Docker's volume.Volume.
    let v = inspect(&b, "data");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "CreatedAt",
            "Driver",
            "Labels",
            "Mountpoint",
            "Name",
            "Options",
            "Scope"
        ]
    );
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Labels"], Value::Null);
    assert_eq!(v["Options"], Value::Null);
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Name"], "data");
    assert_eq!(v["Mountpoint"], data.display().to_string());
    let created = v["CreatedAt"].as_str().unwrap();
    assert!(
        created.len() == 20 && created.ends_with('Z') && &created[10..11] == "T",
        "{created}"
    );
    let c = inspect(&b, "cache2");
    assert_eq!(c["Labels"], serde_json::json!({"team": "a", "tier": ""}));
    assert_eq!(
        c["Options"],
        serde_json::json!({"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    );
    assert_eq!(
        b.ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}} {{json .Labels}}",
            "cache2",
            "data"
        ]),
        "cache2 local {\"team\":\"a\",\"tier\":\"\"}\ndata local null\n"
    );
    assert_eq!(
        b.ok(&[
            "volume",
            "inspect",
            "--format",
            "{{.Options.type}}",
            "cache2"
        ]),
        "tmpfs\n"
    );

    // Creating an existing name gives it back unchanged, files and all.
    std::fs::write(data.join("f"), "kept").unwrap();
    assert_eq!(
        b.ok(&["volume", "create", "--label", "new=1", "-o", "bogus=1", "data"]),
        "data\n"
    );
    assert_eq!(inspect(&b, "data")["Labels"], Value::Null);
    assert_eq!(std::fs::read_to_string(data.join("f")).unwrap(), "kept");

    // rm: each name printed, the directory gone with its files.
    assert_eq!(b.ok(&["volume", "rm", "data", "cache2"]), "data\ncache2\n");
    assert!(!volumes_dir(&b).join("data").exists());
    assert_eq!(entries(&volumes_dir(&b)), ["cache10"]);
    assert_eq!(b.ok(&["volume", "remove", "cache10"]), "cache10\n");
    assert_eq!(entries(&volumes_dir(&b)), Vec::<String>::new());
    assert_eq!(rows(&b.root), Vec::<String>::new());
    assert_eq!(b.ok(&["volume", "ls", "-q"]), "");
}

#[test]
fn errors_are_one_line_with_dockers_exit_codes() {
    require_root!();
    let b = Berth::new();
    b.ok(&["volume", "create", "keep"]);
    let cases: &[(&[&str], i32, &str)] = &[
        (&["volume", "create", "a"], 1, "Error: create a: volume name is too short, names should be at least two alphanumeric characters"),
        (&["volume", "create", "a/b"], 1, "Error: create a/b: \"a/b\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"),
        (&["volume", "create", "_x"], 1, "Error: create _x: \"_x\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"),
        (&["volume", "create", "-d", "nfs", "v1"], 1, "Error: create v1: error looking up volume plugin nfs: plugin \"nfs\" not found (berth has only the \"local\" volume driver)"),
        (&["volume", "create", "-o", "foo=1", "v1"], 1, "Error: create v1: invalid option: \"foo\""),
        (&["volume", "create", "-o", "type=tmpfs", "v1"], 1, "Error: create v1: missing required option: \"device\""),
        (&["volume", "create", "-o", "device=/srv", "v1"], 1, "Error: create v1: missing required option: \"type\""),
        (&["volume", "create", "-o", "o=bind", "v1"], 1, "Error: create v1: missing required option: \"device\""),
        (&["volume", "create", "-o", "size=1g", "v1"], 1, "Error: create v1: quota size requested but no quota support"),
        (&["volume", "create", "-o", "type=cifs", "-o", "device=//srv:445/share", "v1"], 1, "Error: create v1: port not allowed in CIFS device URL, include 'port' in 'o='"),
        (&["volume", "create", "--name", "x1", "y1"], 1, "Error: conflicting options: cannot specify a volume-name through both --name and as a positional arg"),
        (&["volume", "create", "--label", "=x", "v1"], 125, "Error: invalid argument \"=x\" for \"--label\" flag: invalid label '=x': empty name"),
        (&["volume", "inspect", "nope"], 1, "Error: No such volume: nope"),
        (&["volume", "rm", "nope"], 1, "Error: No such volume: nope"),
        (&["volume", "ls", "-f", "dangling"], 125, "Error: invalid argument \"dangling\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"),
        (&["volume", "ls", "-f", "foo=bar"], 1, "Error: invalid filter 'foo'"),
        (&["volume", "ls", "-f", "dangling=maybe"], 1, "Error: invalid filter 'dangling=[maybe]'"),
        (&["volume", "prune", "-f", "--filter", "until=1h"], 1, "Error: invalid filter 'until'"),
        (&["volume", "prune", "-f", "--filter", "all=maybe"], 1, "Error: invalid filter 'all': strconv.ParseBool: parsing \"maybe\": invalid syntax"),
        (&["volume", "prune", "-af", "--filter", "all=1"], 1, "Error: conflicting options: cannot specify both --all and --filter all=1"),
    ];
    for (args, code, want) in cases {
        let (_, err) = fails_with(&b, args, *code);
        assert_eq!(err.trim_end(), *want, "{args:?}");
    }
    // inspect prints what it found, then the errors.
    let (out, err) = fails_with(&b, &["volume", "inspect", "nope", "keep", "gone"], 1);
    let found: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(found[0]["Name"], "keep");
    assert_eq!(
        err,
        "Error: No such volume: nope\nError: No such volume: gone\n"
    );
    // rm: each done or reported; -f makes a missing one no error.
    let (out, err) = fails_with(&b, &["volume", "rm", "nope", "keep"], 1);
    assert_eq!(
        (out.as_str(), err.as_str()),
        ("keep\n", "Error: No such volume: nope\n")
    );
    assert_eq!(b.ok(&["volume", "rm", "-f", "nope"]), "nope\n");
    // Nothing was left behind by the failures.
    assert_eq!(rows(&b.root), Vec::<String>::new());
    assert_eq!(entries(&volumes_dir(&b)), Vec::<String>::new());
}

#[test]
fn anonymous_volumes_and_prune_as_docker() {
    require_root!();
    let b = Berth::new();
    let anon = b.ok(&["volume", "create", "--label", "team=a"]);
    let anon = anon.trim_end();
    assert_eq!(anon.len(), 64);
    assert!(anon.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        inspect(&b, anon)["Labels"],
        serde_json::json!({"com.docker.volume.anonymous": "", "team": "a"})
    );
    b.ok(&["volume", "create", "--label", "team=b", "named"]);
    b.ok(&["volume", "create", "other"]);
    // Mount options: no space of its own, never pruned (Docker).
    b.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "mounted",
    ]);
    std::fs::write(volumes_dir(&b).join(anon).join("_data/f"), vec![b'x'; 1500]).unwrap();
    std::fs::write(volumes_dir(&b).join("named/_data/f"), vec![b'x'; 20]).unwrap();
    std::fs::write(volumes_dir(&b).join("other/_data/f"), vec![b'x'; 3]).unwrap();

    // Declined: nothing removed.
    let out = common::run_tool(
        b.command()
            .args(["volume", "prune", "--all"])
            .stdin(std::process::Stdio::null()),
    );
    assert_eq!(out, "");
    assert_eq!(rows(&b.root).len(), 4);
    let out = b.ok_stdin(&["volume", "prune"], b"n\n");
    assert_eq!(out, "");

    // Without --all only the anonymous volume goes (Docker 23+).
    let out = b.ok_stdin(&["volume", "prune"], b"y\n");
    assert_eq!(
        out,
        format!("Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 1.5kB\n")
    );
    assert!(!volumes_dir(&b).join(anon).exists());
    // A label filter with --all.
    assert_eq!(
        b.ok(&["volume", "prune", "-a", "-f", "--filter", "label=team=b"]),
        "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 20B\n"
    );
    assert_eq!(
        b.ok(&[
            "volume",
            "prune",
            "-f",
            "--filter",
            "all=true",
            "--filter",
            "label!=nothing"
        ]),
        "Deleted Volumes:\nother\n\nTotal reclaimed space: 3B\n"
    );
    assert_eq!(
        b.ok(&["volume", "prune", "-af"]),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(rows(&b.root), ["mounted"]);
    assert_eq!(entries(&volumes_dir(&b)), ["mounted"]);
}

#[test]
fn ls_filters_as_docker() {
    require_root!();
    let b = Berth::new();
    for args in [
        &[
            "volume", "create", "--label", "env=prod", "--label", "team=a", "web-data",
        ][..],
        &["volume", "create", "--label", "env=dev", "web-cache"],
        &["volume", "create", "db"],
    ] {
        b.ok(args);
    }
    let ls = |filters: &[&str]| {
        let mut args = vec!["volume", "ls", "-q"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        b.ok(&args).lines().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(ls(&["name=web"]), ["web-cache", "web-data"]);
    assert_eq!(ls(&["name=^db$"]), ["db"]);
    assert_eq!(ls(&["name=db", "name=cache"]), ["db", "web-cache"]);
    assert_eq!(ls(&["label=env"]), ["web-cache", "web-data"]);
    assert_eq!(ls(&["label=env=prod"]), ["web-data"]);
    // Several labels: all of them.
    assert_eq!(ls(&["label=env", "label=team=a"]), ["web-data"]);
    assert_eq!(ls(&["label=env", "label=team=b"]), Vec::<String>::new());
    assert_eq!(ls(&["driver=local", "name=db"]), ["db"]);
    assert_eq!(ls(&["driver=nfs"]), Vec::<String>::new());
    // No container: every volume is dangling.
    assert_eq!(ls(&["dangling=true"]), ["db", "web-cache", "web-data"]);
    assert_eq!(ls(&["dangling=false"]), Vec::<String>::new());
    assert_eq!(ls(&[" NAME = db "]), ["db"]);
}

/// A container that uses a volume (its recorded mounts name it; `create`
/// fills them from `-v`, here the record is written directly).
fn use_volume(e: &Engine, container: &str, volume: &str) {
    sql(
        e,
        &format!(
            "UPDATE containers SET config = json_set(config, '$.mounts', json('[{{\"kind\":\"volume\",\"name\":\"{volume}\",\"source\":\"\",\"destination\":\"/data\",\"driver\":\"local\",\"rw\":true}}]')) WHERE name = '{container}'"
        ),
    );
}

#[test]
fn a_volume_in_use_is_refused_even_with_force() {
    require_root!();
    let e = Engine::new("berth");
    let b = &e.berth;
    b.ok(&["volume", "create", "used"]);
    b.ok(&["volume", "create", "free"]);
    let id = e.ok(&["create", "--name", "user", "bb:1", "true"]);
    let id = id.trim();
    use_volume(&e, "user", "used");
    let want = format!("Error: remove used: volume is in use - [{id}]\n");
    for args in [
        &["volume", "rm", "used"][..],
        &["volume", "rm", "-f", "used"],
    ] {
        let (_, err) = fails_with(b, args, 1);
        assert_eq!(err, want, "{args:?}");
    }
    assert!(b.root.join("volumes/used/_data").is_dir());
    let ls = |f: &str| b.ok(&["volume", "ls", "-q", "-f", f]);
    assert_eq!(ls("dangling=false"), "used\n");
    assert_eq!(ls("dangling=true"), "free\n");
    // prune keeps it.
    assert_eq!(
        b.ok(&["volume", "prune", "-af"]),
        "Deleted Volumes:\nfree\n\nTotal reclaimed space: 0B\n"
    );
    // system df: one volume, active, its bytes not reclaimable.
    std::fs::write(b.root.join("volumes/used/_data/f"), vec![b'x'; 2000]).unwrap();
    let df = b.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}",
    ]);
    assert_eq!(df.lines().nth(2), Some("Local Volumes|1|1|2kB|0B (0%)"));
    let verbose = b.ok(&["system", "df", "-v"]);
    let section = verbose
        .split("Local Volumes space usage:\n\n")
        .nth(1)
        .unwrap();
    let lines: Vec<Vec<&str>> = section
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [
            vec!["VOLUME", "NAME", "LINKS", "SIZE"],
            vec!["used", "1", "2kB"]
        ]
    );
    // The container's LOCAL VOLUMES column counts it.
    let containers = verbose.split("Containers space usage:\n\n").nth(1).unwrap();
    let header = containers.lines().next().unwrap();
    let at = header.find("LOCAL VOLUMES").unwrap();
    let row = containers.lines().find(|l| l.ends_with(" user")).unwrap();
    assert_eq!(
        row[at..].split_whitespace().next(),
        Some("1"),
        "{containers}"
    );
    // Free once the container is gone.
    e.ok(&["rm", "user"]);
    let df = b.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.Active}}|{{.Reclaimable}}",
    ]);
    assert_eq!(df.lines().nth(2), Some("Local Volumes|0|2kB (100%)"));
    assert_eq!(b.ok(&["volume", "rm", "used"]), "used\n");
    assert!(!b.root.join("volumes/used").exists());
}

#[test]
fn concurrent_creates_of_one_name_make_one_volume() {
    require_root!();
    let b = Berth::new();
    // The database and its schema first, so every process below races on
    // the volume only.
    b.ok(&["volume", "ls"]);
    let outputs: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let b = &b;
                s.spawn(move || {
                    let label = format!("from={i}");
                    b.ok(&["volume", "create", "--label", &label, "shared"])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(outputs.iter().all(|o| o == "shared\n"), "{outputs:?}");
    assert_eq!(rows(&b.root), ["shared"]);
    assert_eq!(entries(&volumes_dir(&b)), ["shared"]);
    assert_eq!(entries(&volumes_dir(&b).join("shared")), ["_data"]);
    // One of the creates won; the label is that one's.
    let labels = inspect(&b, "shared")["Labels"].clone();
    assert_eq!(labels.as_object().unwrap().len(), 1, "{labels}");

    // Creates and removes of one name racing: whatever the order, a row
    // and its directory exist together.
    std::thread::scope(|s| {
        for i in 0..8 {
            let b = &b;
            s.spawn(move || {
                let args: &[&str] = if i % 2 == 0 {
                    &["volume", "create", "shared"]
                } else {
                    &["volume", "rm", "-f", "shared"]
                };
                b.ok(args);
            });
        }
    });
    let recorded = rows(&b.root) == ["shared"];
    let dirs = entries(&volumes_dir(&b));
    if recorded {
        assert_eq!(dirs, ["shared"]);
        assert!(volumes_dir(&b).join("shared/_data").is_dir());
    } else {
        assert_eq!(rows(&b.root), Vec::<String>::new());
        assert_eq!(dirs, Vec::<String>::new());
    }
}

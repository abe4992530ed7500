//! The real clients against `berth serve`: docker-compose (Debian's 1.29)
//! bringing up a two-service project with a build, a user network, a
//! named volume and a published port, and tearing it down without a
//! trace; docker-py's high-level API (`tests/api/docker_py_check.py`):
//! containers, exec, archives, networks, volumes, events, prunes, and
//! images built, pushed to and pulled from a local registry, saved and
//! loaded.
//!
//! docker-py comes from PyPI: the tests use `$BERTH_DOCKER_PY` (a Python
//! with `docker` installed; `.ci/run` makes a venv) or `python3`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use berth_testutil::{output_within, require_root, Registry, RegistryConfig};
use common::engine::{name, text, Engine};
use common::serve::Serve;

/// A Python that has docker-py 7, or a loud failure in CI.
fn docker_py() -> Option<PathBuf> {
    let python = std::env::var_os("BERTH_DOCKER_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let ok = Command::new(&python)
        .args([
            "-c",
            "import docker, sys; sys.exit(0 if int(docker.__version__.split('.')[0]) >= 7 else 1)",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "docker-py 7 is needed: set BERTH_DOCKER_PY to a Python with `pip install docker` ({} has none)",
        python.display()
    );
    eprintln!("SKIPPED: no docker-py 7 ({})", python.display());
    None
}

fn check_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/docker_py_check.py")
}

fn run_check(s: &Serve, python: &Path, args: &[&str]) {
    let mut c = Command::new(python);
    c.envs(s.env()).arg(check_script()).args(args);
    let out = output_within(&mut c, Duration::from_secs(600));
    assert!(
        out.status.success() && text(&out.stdout).ends_with("ok\n"),
        "docker-py {args:?}: {}\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn docker_py_drives_containers_networks_volumes_and_events() {
    require_root!();
    let Some(python) = docker_py() else { return };
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    let prefix = name("py");
    run_check(&s, &python, &["containers", &prefix]);
    // Nothing of the script's is left, as berth's CLI sees it.
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
    assert_eq!(e.ok(&["network", "ls", "-q", "-f", "type=custom"]), "");
}

#[test]
fn docker_py_builds_pushes_pulls_saves_and_loads_images() {
    require_root!();
    let Some(python) = docker_py() else { return };
    assert!(
        common::have_tool("docker-registry"),
        "docker-registry is needed"
    );
    // On the host's network: the registry listens on its loopback (the
    // containers the script runs use --network none).
    let e = Engine::on_host_network("berth");
    let s = Serve::start(&e);
    let reg = Registry::start(RegistryConfig::default());
    let prefix = name("py");
    run_check(&s, &python, &["images", &prefix, &reg.addr()]);
    let images = e.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!images.contains(&prefix), "{images}");
}

/// `docker-compose ARGS` in `dir` against `s`.
fn compose(s: &Serve, dir: &Path, project: &str, args: &[&str]) -> std::process::Output {
    let mut c = Command::new("docker-compose");
    c.envs(s.env())
        .current_dir(dir)
        .arg("-p")
        .arg(project)
        .args(args);
    output_within(&mut c, Duration::from_secs(300))
}

fn compose_ok(s: &Serve, dir: &Path, project: &str, args: &[&str]) -> String {
    let out = compose(s, dir, project, args);
    assert!(
        out.status.success(),
        "docker-compose {args:?}: {}\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

const COMPOSE_FILE: &str = r#"version: "3.8"
services:
  web:
    build: ./web
    image: PROJECT-web:1
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: ["18080:8080"]
    volumes: ["data:/data"]
    environment:
      GREETING: hello-from-web
    networks: [front]
  client:
    image: bb:1
    command: ["sh", "-c", "until wget -qO- http://web:8080/index.html; do sleep 0.2; done; echo \"$$GREETING\"; sleep 300"]
    depends_on: [web]
    environment:
      GREETING: hello-from-client
    networks: [front]
networks:
  front: {}
volumes:
  data: {}
"#;

#[test]
fn docker_compose_brings_a_project_up_and_down() {
    require_root!();
    assert!(
        common::have_tool("docker-compose"),
        "docker-compose is needed (apt-get install docker-compose)"
    );
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    let project = name("cmp");
    let dir = e.berth.dir.path().join("project");
    std::fs::create_dir_all(dir.join("web")).unwrap();
    std::fs::write(dir.join("web/index.html"), "<p>served-by-web</p>\n").unwrap();
    std::fs::write(
        dir.join("web/Dockerfile"),
        "FROM bb:1\nCOPY index.html /www/index.html\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        COMPOSE_FILE.replace("PROJECT", &project),
    )
    .unwrap();

    compose_ok(&s, &dir, &project, &["up", "-d"]);
    let ps = compose_ok(&s, &dir, &project, &["ps"]);
    assert!(ps.contains(&format!("{project}_web_1")), "{ps}");
    assert!(ps.contains("0.0.0.0:18080->8080/tcp"), "{ps}");
    // berth's CLI sees the same project: its containers, network, volume.
    let names = e.ok(&["ps", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(
        names,
        [format!("{project}_client_1"), format!("{project}_web_1")]
    );
    assert!(e
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .contains(&format!("{project}_front")));
    assert_eq!(e.ok(&["volume", "ls", "-q"]), format!("{project}_data\n"));

    // The client reached the web service by its name on the network.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logs = compose_ok(&s, &dir, &project, &["logs", "--no-color", "client"]);
        if logs.contains("<p>served-by-web</p>") && logs.contains("hello-from-client") {
            break;
        }
        assert!(Instant::now() < deadline, "client logs: {logs}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The published port, from the host (the engine's network namespace).
    let out = e.host_sh("busybox wget -qO- http://127.0.0.1:18080/index.html");
    assert_eq!(
        text(&out.stdout),
        "<p>served-by-web</p>\n",
        "{}",
        text(&out.stderr)
    );
    // exec, with the service's environment
    let out = compose_ok(
        &s,
        &dir,
        &project,
        &["exec", "-T", "web", "sh", "-c", "echo $GREETING"],
    );
    assert_eq!(out, "hello-from-web\n");
    // restart keeps the volume's content
    compose_ok(
        &s,
        &dir,
        &project,
        &["exec", "-T", "web", "sh", "-c", "echo kept > /data/f"],
    );
    compose_ok(&s, &dir, &project, &["restart", "-t", "1"]);
    let out = compose_ok(&s, &dir, &project, &["exec", "-T", "web", "cat", "/data/f"]);
    assert_eq!(out, "kept\n");

    // down -v: nothing of the project is left.
    compose_ok(&s, &dir, &project, &["down", "-v", "-t", "1"]);
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
    assert_eq!(e.ok(&["network", "ls", "-q", "-f", "type=custom"]), "");
    // The host ends of the veths go with the containers' namespaces, which
    // the kernel frees in the background.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // (netlink, not /sys/class/net: sysfs shows the host's namespace)
        let links = text(&e.host_sh("ip -o link show").stdout);
        if !links
            .lines()
            .any(|l| l.split(": ").nth(1).is_some_and(|n| n.starts_with("vb")))
        {
            break;
        }
        assert!(Instant::now() < deadline, "veths left: {links:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

//! `berth serve`'s image endpoints driven by the real docker CLI: the
//! classic `docker build` (COPY + RUN, then `docker run` of the result;
//! a failing RUN), `history`, `save | load`, `commit`, `import`, `image
//! prune`, `rmi`; `pull`/`push`/`login` and a build from a private base
//! image against local docker-registry instances.

mod common;

use berth_testutil::{htpasswd_file, require_root, Registry, RegistryConfig};
use common::engine::{text, Engine};
use common::have_tool;
use common::serve::Serve;

fn require_docker() {
    assert!(
        have_tool("docker"),
        "the docker CLI is needed (apt-get install docker.io)"
    );
}

/// `docker build` with the classic builder (the 20.10 CLI's default
/// against berth; newer CLIs need it asked for).
fn build(s: &Serve, args: &[&str]) -> std::process::Output {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let mut c = s.docker_command(&all);
    c.env("DOCKER_BUILDKIT", "0");
    berth_testutil::output_within(&mut c, berth_testutil::COMMAND_TIMEOUT)
}

#[test]
fn docker_cli_builds_runs_saves_loads_commits_and_prunes() {
    require_root!();
    require_docker();
    let e = Engine::new("berth");
    let s = Serve::start(&e);
    let ctx = e.berth.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("hello.txt"), "hi\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bb:1\nCOPY hello.txt /hello.txt\nRUN echo built-$(cat /hello.txt) > /out.txt && echo step-output\nCMD [\"cat\", \"/out.txt\"]\n",
    )
    .unwrap();
    let iid = e.berth.dir.path().join("iid");
    let out = build(
        &s,
        &[
            "-t",
            "api-built:1",
            "--label",
            "api.test=yes",
            "--iidfile",
            iid.to_str().unwrap(),
            ctx.to_str().unwrap(),
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("Step 1/4 : FROM bb:1\n"), "{stdout}");
    assert!(stdout.contains("Step 3/4 : RUN echo built"), "{stdout}");
    assert!(stdout.contains("step-output\n"), "{stdout}");
    assert!(
        stdout.contains("Successfully tagged api-built:1\n"),
        "{stdout}"
    );
    let id = s.ok(&["inspect", "-f", "{{.Id}}", "api-built:1"]);
    let id = id.trim();
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id, "aux.ID");
    assert!(
        stdout.contains(&format!("Successfully built {}\n", &id[7..19])),
        "{stdout}"
    );
    assert_eq!(s.ok(&["run", "--rm", "api-built:1"]), "built-hi\n");
    // The image list's filters: the build's label, newer than its base.
    let listed =
        |filter: &str| s.ok(&["images", "--filter", filter, "--format", "{{.Repository}}"]);
    assert_eq!(listed("label=api.test=yes"), "api-built\n");
    assert_eq!(listed("label=api.test=no"), "");
    assert_eq!(listed("since=bb:1"), "api-built\n");
    assert_eq!(listed("before=api-built:1"), "bb\n");
    assert_eq!(listed("reference=api-*"), "api-built\n");

    // Quiet: the id alone; the cache serves the layer steps again.
    let out = build(&s, &["-q", ctx.to_str().unwrap()]);
    let quiet_id = text(&out.stdout);
    assert!(
        out.status.success() && quiet_id.trim().starts_with("sha256:"),
        "{quiet_id}\n{}",
        text(&out.stderr)
    );
    let out = build(&s, &[ctx.to_str().unwrap()]);
    assert!(
        text(&out.stdout).contains(" ---> Using cache\n"),
        "{}",
        text(&out.stdout)
    );

    // A failing RUN: exit 1 and the builder's error.
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bb:1\nRUN echo before-fail; exit 3\n",
    )
    .unwrap();
    let out = build(&s, &["-t", "api-broken:1", ctx.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("before-fail"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).contains('3'), "{}", text(&out.stderr));
    assert!(!s.docker(&["inspect", "api-broken:1"]).status.success());

    // history: newest first, the image's id on top, the RUN's layer.
    let ids = s.ok(&["history", "-q", "--no-trunc", "api-built:1"]);
    assert_eq!(ids.lines().next(), Some(id));
    let by = s.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "api-built:1",
    ]);
    assert!(by.lines().any(|l| l.contains("echo built-")), "{by}");

    // save | load round trip, then the loaded image runs.
    let archive = e.berth.dir.path().join("saved.tar");
    s.ok(&["save", "-o", archive.to_str().unwrap(), "api-built:1"]);
    s.ok(&["rmi", "api-built:1"]);
    assert!(!s.docker(&["inspect", "api-built:1"]).status.success());
    let loaded = s.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(loaded.contains("Loaded image: api-built:1"), "{loaded}");
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.Id}}", "api-built:1"]).trim(),
        id
    );
    assert_eq!(s.ok(&["run", "--rm", "api-built:1"]), "built-hi\n");

    // commit, with a change; the committed image runs.
    s.ok(&[
        "run",
        "--name",
        "api-commit",
        "bb:1",
        "sh",
        "-c",
        "echo committed > /c.txt",
    ]);
    let cid = s.ok(&[
        "commit",
        "-c",
        "CMD [\"cat\", \"/c.txt\"]",
        "-m",
        "by the api test",
        "api-commit",
        "api-committed:1",
    ]);
    assert!(cid.trim().starts_with("sha256:"), "{cid}");
    assert_eq!(s.ok(&["run", "--rm", "api-committed:1"]), "committed\n");
    assert_eq!(
        s.ok(&["inspect", "-f", "{{.Id}}", "api-committed:1"])
            .trim(),
        cid.trim()
    );

    // An untagged commit is dangling: `image prune -f` removes it.
    let dangling = s.ok(&["commit", "api-commit"]);
    let dangling = dangling.trim();
    let pruned = s.ok(&["image", "prune", "-f"]);
    assert!(pruned.contains(dangling), "{pruned}");
    assert!(!s.docker(&["inspect", dangling]).status.success());

    // import of a rootfs tar (`fromSrc=-`), with a change and a message.
    let tar = common::rootfs_tar(e.berth.dir.path());
    let imported = s.ok(&[
        "import",
        "-c",
        "CMD [\"cat\", \"/etc/hello\"]",
        "-m",
        "imported by the api test",
        tar.to_str().unwrap(),
        "api-imported:1",
    ]);
    assert!(imported.trim().starts_with("sha256:"), "{imported}");
    assert_eq!(
        s.ok(&["run", "--rm", "api-imported:1"]),
        "hello from berth\n"
    );
    let comments = s.ok(&["history", "--format", "{{.Comment}}", "api-imported:1"]);
    assert!(comments.contains("imported by the api test"), "{comments}");

    // rmi: untagged and deleted.
    s.ok(&["rm", "api-commit"]);
    let removed = s.ok(&["rmi", "api-committed:1"]);
    assert!(removed.contains("Untagged: api-committed:1"), "{removed}");
    assert!(
        removed.contains(&format!("Deleted: {}", cid.trim())),
        "{removed}"
    );
}

#[test]
fn docker_cli_pushes_pulls_and_logs_in_to_a_local_registry() {
    require_root!();
    require_docker();
    if !have_tool("docker-registry") || !have_tool("htpasswd") {
        assert!(
            std::env::var_os("CI").is_none(),
            "docker-registry and htpasswd are needed"
        );
        eprintln!("SKIPPED: docker-registry or htpasswd missing");
        return;
    }
    // On the host's network: the registry listens on its loopback.
    let e = Engine::on_host_network("berth");
    let s = Serve::start(&e);
    let reg = Registry::start(RegistryConfig::default());
    let name = format!("{}/api/bb:v1", reg.addr());
    s.ok(&["tag", "bb:1", &name]);
    let out = s.ok(&["push", &name]);
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/api/bb]",
            reg.addr()
        )),
        "{out}"
    );
    assert!(out.contains(": Pushed"), "{out}");
    assert!(out.contains("v1: digest: sha256:"), "{out}");
    let again = s.ok(&["push", &name]);
    assert!(again.contains("Layer already exists"), "{again}");
    // `push -a`: every local tag of the repository.
    let repo = format!("{}/api/bb", reg.addr());
    s.ok(&["tag", "bb:1", &format!("{repo}:v2")]);
    let out = s.ok(&["push", "-a", &repo]);
    assert!(
        out.contains("v1: digest: sha256:") && out.contains("v2: digest: sha256:"),
        "{out}"
    );

    // Pulled back into a store without it: Docker's lines, same image.
    let id = s.ok(&["inspect", "-f", "{{.Id}}", &name]);
    s.ok(&["rmi", &name]);
    let out = s.ok(&["pull", &name]);
    assert!(out.contains("v1: Pulling from api/bb"), "{out}");
    assert!(out.contains("Digest: sha256:"), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {name}")),
        "{out}"
    );
    assert_eq!(s.ok(&["inspect", "-f", "{{.Id}}", &name]), id);
    let out = s.ok(&["pull", &name]);
    assert!(
        out.contains(&format!("Status: Image is up to date for {name}")),
        "{out}"
    );
    let digests = s.ok(&["images", "--digests", "--format", "{{.Digest}}", &name]);
    assert!(digests.trim().starts_with("sha256:"), "{digests}");
    // A missing repository: the daemon's not-found error.
    let out = s.docker(&["pull", &format!("{}/api/missing:v1", reg.addr())]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not found"),
        "{}",
        text(&out.stderr)
    );

    // A registry with Basic auth: login checks the credentials (and
    // refuses wrong ones), push sends them in X-Registry-Auth.
    let htpasswd = e.berth.dir.path().join("htpasswd");
    htpasswd_file(&htpasswd, "alice", "s3cret");
    let private = Registry::start(RegistryConfig {
        htpasswd: Some(htpasswd),
        tls: false,
    });
    let secret = format!("{}/private/bb:1", private.addr());
    s.ok(&["tag", "bb:1", &secret]);
    assert!(!s.docker(&["push", &secret]).status.success());
    let out = s.docker(&["login", "-u", "alice", "-p", "wrong", &private.addr()]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let out = s.ok(&["login", "-u", "alice", "-p", "s3cret", &private.addr()]);
    assert!(out.contains("Login Succeeded"), "{out}");
    assert!(
        !e.berth.root.join("auth.json").exists(),
        "the client keeps the credentials, not berth"
    );
    let out = s.ok(&["push", &secret]);
    assert!(out.contains("1: digest: sha256:"), "{out}");

    // A build from that registry's image: pulled with the credentials the
    // CLI sends in X-Registry-Config, over the loopback's plain HTTP (no
    // RUN: nothing may make networks on the host's network).
    s.ok(&["rmi", &secret]);
    let ctx = e.berth.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {secret}\nLABEL from=private\n"),
    )
    .unwrap();
    let out = build(&s, &["-t", "api-from-private:1", ctx.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(
        s.ok(&[
            "inspect",
            "-f",
            "{{.Config.Labels.from}}",
            "api-from-private:1"
        ]),
        "private\n"
    );
}

//! `berth build` end to end with the busybox image: every `RUN` a real
//! container, the cache (hits, precise invalidation, `--no-cache`, cache
//! mounts, `builder prune`), multi-stage with `--target` skipping unused
//! stages, the context (`.dockerignore`, a symlink out of it), the
//! metadata instructions as `inspect` shows them, and failures (one line,
//! exit 1, nothing left behind). Each test has an engine of its own.

mod common;

use std::path::Path;
use std::process::Output;

use berth_testutil::{output_with_input, require_root, TempDir, COMMAND_TIMEOUT};
use common::engine::{text, Engine};
use serde_json::{json, Value};

/// A context directory with `files` (path, content).
fn context(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new("berth-build-ctx").unwrap();
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

fn build(e: &Engine, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["build", "--progress", "plain"];
    args.extend_from_slice(extra);
    args.push(dir.to_str().unwrap());
    e.run(&args)
}

fn build_ok(e: &Engine, dir: &Path, extra: &[&str]) -> String {
    let out = build(e, dir, extra);
    assert!(
        out.status.success(),
        "build {extra:?} failed: {}\n{}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stderr)
}

/// (run, cached) from the progress' summary line: `writing image ...
/// done (N steps run, M cached, ...)`.
fn counts(progress: &str) -> (usize, usize) {
    let line = progress
        .lines()
        .find(|l| l.contains(" steps run, "))
        .unwrap_or_else(|| panic!("no summary in:\n{progress}"));
    let inner = &line[line.find('(').unwrap() + 1..];
    let mut nums = inner
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse::<usize>().unwrap());
    (nums.next().unwrap(), nums.next().unwrap())
}

const APP: &str = r#"FROM bb:1
ARG GREETING=hello
ENV APP=/app
WORKDIR $APP
COPY greet.txt ./
RUN echo "$GREETING from run" > run.txt && cat greet.txt >> run.txt
CMD ["cat", "/app/run.txt"]
"#;

fn app_cached_and_invalidated(runtime: &'static str) {
    let e = Engine::new(runtime);
    let ctx = context(&[("Dockerfile", APP), ("greet.txt", "one\n")]);
    let first = build_ok(&e, ctx.path(), &["-t", "app:1"]);
    assert_eq!(counts(&first), (2, 0), "{first}");
    assert_eq!(e.ok(&["run", "--rm", "app:1"]), "hello from run\none\n");
    let cfg: Value = serde_json::from_str(&e.ok(&["image", "inspect", "app:1"])).unwrap();
    let c = &cfg[0]["Config"];
    assert_eq!(c["WorkingDir"], "/app");
    assert!(
        c["Env"].as_array().unwrap().iter().any(|v| v == "APP=/app"),
        "{c}"
    );
    assert_eq!(c["Cmd"], json!(["cat", "/app/run.txt"]));
    // A build arg is no part of the image's environment.
    assert!(!c["Env"].to_string().contains("GREETING"), "{c}");

    // Nothing changed: no step runs.
    let again = build_ok(&e, ctx.path(), &["-t", "app:1"]);
    assert_eq!(counts(&again), (0, 2), "{again}");
    assert!(again.contains("CACHED"), "{again}");
    // A changed build arg: the RUN again, the COPY from the cache.
    let arg = build_ok(
        &e,
        ctx.path(),
        &["-t", "app:2", "--build-arg", "GREETING=hi"],
    );
    assert_eq!(counts(&arg), (1, 1), "{arg}");
    assert_eq!(e.ok(&["run", "--rm", "app:2"]), "hi from run\none\n");
    // A changed file: the COPY and everything after it.
    std::fs::write(ctx.path().join("greet.txt"), "two\n").unwrap();
    let file = build_ok(&e, ctx.path(), &["-t", "app:3"]);
    assert_eq!(counts(&file), (2, 0), "{file}");
    assert_eq!(e.ok(&["run", "--rm", "app:3"]), "hello from run\ntwo\n");
    // --no-cache runs everything.
    let none = build_ok(&e, ctx.path(), &["-t", "app:3", "--no-cache"]);
    assert_eq!(counts(&none), (2, 0), "{none}");
    // No build container or mount is left.
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert_eq!(e.mounts_under_root(), Vec::<String>::new());
}

#[test]
fn app_cached_and_invalidated_berth_runtime() {
    require_root!();
    app_cached_and_invalidated("berth");
}

#[test]
fn app_cached_and_invalidated_runc() {
    require_root!();
    app_cached_and_invalidated("runc");
}

#[test]
fn app_cached_and_invalidated_crun() {
    require_root!();
    app_cached_and_invalidated("crun");
}

#[test]
fn multi_stage_builds_what_the_target_needs() {
    require_root!();
    let e = Engine::new("berth");
    let df = r#"
FROM bb:1 AS one
RUN echo one > /one
FROM bb:1 AS two
RUN echo two > /two
FROM bb:1 AS broken
RUN exit 7
FROM bb:1
COPY --from=one /one /got/
COPY --from=two /two /got/
RUN cat /got/one /got/two > /both
"#;
    let ctx = context(&[("Dockerfile", df)]);
    let out = build_ok(&e, ctx.path(), &["-t", "multi:1"]);
    // The broken stage is not needed: skipped, never run.
    assert!(!out.contains("exit 7"), "{out}");
    assert_eq!(
        e.ok(&["run", "--rm", "multi:1", "cat", "/both"]),
        "one\ntwo\n"
    );
    // --target: only that stage (and what it needs), here from the cache.
    let t = build_ok(&e, ctx.path(), &["-t", "multi:one", "--target", "one"]);
    assert_eq!(counts(&t), (0, 1), "{t}");
    assert_eq!(e.ok(&["run", "--rm", "multi:one", "cat", "/one"]), "one\n");
    let bad = build(&e, ctx.path(), &["--target", "broken"]);
    assert_eq!(bad.status.code(), Some(1));
    let err = text(&bad.stderr);
    assert!(
        err.contains("process \"/bin/sh -c exit 7\" did not complete successfully: exit code: 7"),
        "{err}"
    );
    let missing = build(&e, ctx.path(), &["--target", "nope"]);
    assert!(
        text(&missing.stderr).contains("target stage \"nope\" could not be found"),
        "{}",
        text(&missing.stderr)
    );
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert_eq!(e.mounts_under_root(), Vec::<String>::new());
}

#[test]
fn context_dockerignore_and_a_symlink_out_of_it() {
    require_root!();
    let e = Engine::new("berth");
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM bb:1\nCOPY . /ctx/\nRUN ls -a /ctx | sort | tr '\\n' ' ' > /list\n",
        ),
        (".dockerignore", "*.log\n!keep.log\nsecret/\n**/*.tmp\n"),
        ("a.log", "no"),
        ("keep.log", "yes"),
        ("secret/key", "no"),
        ("deep/x/y.tmp", "no"),
        ("deep/x/z.txt", "yes"),
    ]);
    std::os::unix::fs::symlink("/etc/shadow", ctx.path().join("link")).unwrap();
    build_ok(&e, ctx.path(), &["-t", "ctx:1"]);
    // .dockerignore itself is sent (Docker sends it unless it excludes it).
    assert_eq!(
        e.ok(&["run", "--rm", "ctx:1", "cat", "/list"]),
        ". .. .dockerignore Dockerfile deep keep.log link "
    );
    assert_eq!(
        e.ok(&["run", "--rm", "ctx:1", "ls", "/ctx/deep/x"]),
        "z.txt\n"
    );
    // The link came as a link: the host's file did not.
    assert_eq!(
        e.ok(&["run", "--rm", "ctx:1", "readlink", "/ctx/link"]),
        "/etc/shadow\n"
    );
}

#[test]
fn metadata_heredocs_and_users() {
    require_root!();
    let e = Engine::new("berth");
    let df = r#"# syntax=docker/dockerfile:1
FROM bb:1
LABEL org.example.a="one two" b=2
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD true
RUN <<EOT
echo from heredoc > /h1
echo app:x:1234:1234::/home/app:/bin/sh >> /etc/passwd
echo app:x:1234: >> /etc/group
mkdir -p /home/app && chown app:app /home/app
EOT
ARG WHO=world
COPY <<EOT /etc/motd
hello ${WHO}
EOT
USER app
WORKDIR /home/app
RUN id -u > uid && pwd > where
ENTRYPOINT ["sh", "-c"]
"#;
    let ctx = context(&[("Dockerfile", df)]);
    let out = build_ok(&e, ctx.path(), &["-t", "meta:1", "--label", "extra=yes"]);
    assert!(
        out.contains("# syntax=docker/dockerfile:1 is ignored"),
        "{out}"
    );
    let v: Value = serde_json::from_str(&e.ok(&["image", "inspect", "meta:1"])).unwrap();
    let c = &v[0]["Config"];
    assert_eq!(c["Labels"]["org.example.a"], "one two");
    assert_eq!(c["Labels"]["b"], "2");
    assert_eq!(c["Labels"]["extra"], "yes");
    assert_eq!(c["ExposedPorts"], json!({"53/udp": {}, "80/tcp": {}}));
    assert_eq!(c["Volumes"], json!({"/data": {}}));
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(c["User"], "app");
    assert_eq!(c["Healthcheck"]["Test"], json!(["CMD-SHELL", "true"]));
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000u64);
    assert_eq!(c["Healthcheck"]["Retries"], 2);
    assert_eq!(c["Entrypoint"], json!(["sh", "-c"]));
    // ENTRYPOINT resets the base image's CMD.
    assert!(c["Cmd"].is_null(), "{c}");
    assert_eq!(
        e.ok(&["run", "--rm", "meta:1", "cat /h1 /etc/motd uid where"]),
        "from heredoc\nhello world\n1234\n/home/app\n"
    );
}

#[test]
fn cache_mounts_persist_and_builder_prune_empties_the_cache() {
    require_root!();
    let e = Engine::new("berth");
    let df = "FROM bb:1\nRUN --mount=type=cache,target=/cache sh -c 'echo x >> /cache/f; wc -l < /cache/f > /count'\nENV DONE=1\n";
    let ctx = context(&[("Dockerfile", df)]);
    build_ok(&e, ctx.path(), &["-t", "cm:1"]);
    build_ok(&e, ctx.path(), &["-t", "cm:2", "--no-cache"]);
    assert_eq!(e.ok(&["run", "--rm", "cm:1", "cat", "/count"]).trim(), "1");
    assert_eq!(e.ok(&["run", "--rm", "cm:2", "cat", "/count"]).trim(), "2");
    // Neither the cache mount's files nor its mount point are in the
    // image.
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "cm:2",
            "sh",
            "-c",
            "test ! -e /cache && echo gone"
        ]),
        "gone\n"
    );

    // Intermediate images are hidden from `images`, shown with -a.
    let shown = e.ok(&["images", "-q"]).lines().count();
    let all = e.ok(&["images", "-aq"]).lines().count();
    assert!(all > shown, "{all} {shown}");
    let df_out = e.ok(&["system", "df"]);
    assert!(df_out.contains("Build Cache"), "{df_out}");

    e.ok(&["builder", "prune", "-f"]);
    let df_out = e.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(df_out.contains("Build Cache 0"), "{df_out}");
    // The tagged results stay; a rebuild runs again, the cache mount
    // starts empty.
    assert_eq!(e.ok(&["run", "--rm", "cm:1", "cat", "/count"]).trim(), "1");
    let again = build_ok(&e, ctx.path(), &["-t", "cm:3"]);
    assert_eq!(counts(&again), (1, 0), "{again}");
    assert_eq!(e.ok(&["run", "--rm", "cm:3", "cat", "/count"]).trim(), "1");
}

#[test]
fn quiet_iidfile_and_a_dockerfile_on_stdin() {
    require_root!();
    let e = Engine::new("berth");
    let dir = TempDir::new("berth-build-iid").unwrap();
    let iid = dir.path().join("iid");
    let mut c = e.command(&[
        "build",
        "-q",
        "-t",
        "stdin:1",
        "--iidfile",
        iid.to_str().unwrap(),
        "-",
    ]);
    let out = output_with_input(&mut c, b"FROM bb:1\nRUN echo in > /f\n", COMMAND_TIMEOUT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // -q: the id on stdout and nothing on stderr.
    assert_eq!(text(&out.stderr), "");
    let id = text(&out.stdout).trim().to_owned();
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id);
    assert_eq!(e.ok(&["run", "--rm", "stdin:1", "cat", "/f"]), "in\n");
}

#[test]
fn failures_are_one_line_and_leave_nothing() {
    require_root!();
    let e = Engine::new("berth");
    let cases: &[(&str, &str)] = &[
        ("FROM bb:1\nRUNN echo\n", "Dockerfile:2"),
        (
            "FROM bb:1\nRUN exit 3\n",
            "process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3",
        ),
        ("FROM bb:1\nCOPY missing.txt /\n", "missing.txt"),
        ("FROM nosuchimage:1\n", "nosuchimage"),
        (
            "FROM bb:1\nADD http://example.com/x /x\n",
            "http://example.com/x",
        ),
        (
            "FROM bb:1\nRUN --mount=type=secret,id=tok,required cat /run/secrets/tok\n",
            "secret tok: not found",
        ),
    ];
    for (df, want) in cases {
        let ctx = context(&[("Dockerfile", df)]);
        let out = build(&e, ctx.path(), &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{df}: {err}");
        let last = err.lines().last().unwrap_or("");
        assert!(
            last.contains(want),
            "{df}: want {want:?} in the last line of:\n{err}"
        );
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert_eq!(e.mounts_under_root(), Vec::<String>::new());
    let leftovers: Vec<_> = std::fs::read_dir(e.berth.root.join("build/mnt"))
        .map(|d| d.map(|x| x.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_killed_build_is_swept_by_the_next() {
    require_root!();
    let e = Engine::new("berth");
    let ctx = context(&[("Dockerfile", "FROM bb:1\nRUN sleep 300\n")]);
    let mut c = e.command(&["build", "--progress", "plain", ctx.path().to_str().unwrap()]);
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    // Wait for the step's container to run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while e.ok(&["ps", "-q"]).trim().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the RUN never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_ne!(
        e.ok(&["ps", "-aq"]),
        "",
        "the step container outlives its build"
    );
    // The next build removes what the dead one left.
    let ok = context(&[("Dockerfile", "FROM bb:1\nRUN true\n")]);
    build_ok(&e, ok.path(), &[]);
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert_eq!(e.mounts_under_root(), Vec::<String>::new());
}

#[test]
fn onbuild_triggers_and_a_scratch_stage() {
    require_root!();
    let e = Engine::new("berth");
    let parent = context(&[(
        "Dockerfile",
        "FROM bb:1\nONBUILD RUN echo triggered > /t\nONBUILD COPY x /x\n",
    )]);
    build_ok(&e, parent.path(), &["-t", "parent:1"]);
    let v: Value = serde_json::from_str(&e.ok(&["image", "inspect", "parent:1"])).unwrap();
    assert_eq!(
        v[0]["Config"]["OnBuild"],
        json!(["RUN echo triggered > /t", "COPY x /x"])
    );
    let child = context(&[
        (
            "Dockerfile",
            "FROM scratch AS files\nCOPY y /y\nFROM parent:1\nCOPY --from=files /y /y\n",
        ),
        ("x", "ex\n"),
        ("y", "why\n"),
    ]);
    build_ok(&e, child.path(), &["-t", "child:1"]);
    assert_eq!(
        e.ok(&["run", "--rm", "child:1", "cat", "/t", "/x", "/y"]),
        "triggered\nex\nwhy\n"
    );
    // The triggers ran here; the child does not pass them on.
    let v: Value = serde_json::from_str(&e.ok(&["image", "inspect", "child:1"])).unwrap();
    assert!(v[0]["Config"]["OnBuild"].is_null(), "{}", v[0]["Config"]);
}

#[test]
fn a_context_tar_on_stdin_and_an_output_archive() {
    require_root!();
    let e = Engine::new("berth");
    let ctx = context(&[
        ("Dockerfile", "FROM bb:1\nCOPY sub/f /f\n"),
        ("sub/f", "from tar\n"),
    ]);
    let tar = std::process::Command::new("tar")
        .args(["-C", ctx.path().to_str().unwrap(), "-c", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let out_dir = TempDir::new("berth-build-out").unwrap();
    let archive = out_dir.path().join("img.tar");
    let dest = format!("type=oci,dest={}", archive.display());
    let mut c = e.command(&["build", "-t", "tarctx:1", "-o", &dest, "-"]);
    let out = output_with_input(&mut c, &tar.stdout, COMMAND_TIMEOUT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        e.ok(&["run", "--rm", "tarctx:1", "cat", "/f"]),
        "from tar\n"
    );
    // The archive is an OCI layout skopeo reads.
    let inspect = std::process::Command::new("skopeo")
        .args(["inspect", &format!("oci-archive:{}", archive.display())])
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", text(&inspect.stderr));
    // The unpacked context is gone.
    let left: Vec<_> = std::fs::read_dir(e.berth.root.join("build/contexts"))
        .map(|d| d.map(|x| x.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_built_image_saved_by_berth_runs_in_podman() {
    require_root!();
    let e = Engine::new("berth");
    let ctx = context(&[(
        "Dockerfile",
        "FROM bb:1\nRUN echo built by berth > /f\nCMD [\"cat\", \"/f\"]\n",
    )]);
    build_ok(&e, ctx.path(), &["-t", "forpodman:1"]);
    let dir = TempDir::new("berth-build-save").unwrap();
    let archive = dir.path().join("img.tar");
    e.ok(&["save", "-o", archive.to_str().unwrap(), "forpodman:1"]);
    let runc = berth_testutil::Runtime::find("runc").expect("runc");
    let Some(podman) = berth_testutil::Podman::start(&berth_testutil::Runtime::new(runc)) else {
        return;
    };
    podman.ok(&["load", "-i", archive.to_str().unwrap()]);
    let parent = podman.cgroup_parent().path();
    let out = podman.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cgroup-parent",
        &parent,
        "docker.io/library/forpodman:1",
    ]);
    assert_eq!(out.stdout, "built by berth\n");
}

#[test]
fn a_built_image_pushes_and_pulls_back() {
    require_root!();
    if !common::have_tool("docker-registry") {
        return;
    }
    // The registry is on the test's loopback: RUN steps without networks.
    let e = Engine::on_host_network("berth");
    let reg = berth_testutil::Registry::start(berth_testutil::RegistryConfig::default());
    let remote = format!("{}/berth/built:1", reg.addr());
    let ctx = context(&[("Dockerfile", "FROM bb:1\nRUN echo pushed > /f\n")]);
    build_ok(&e, ctx.path(), &["--network", "none", "-t", &remote]);
    e.ok(&["push", "-q", "--tls-verify=false", &remote]);
    e.ok(&["rmi", &remote]);
    e.ok(&["pull", "-q", "--tls-verify=false", &remote]);
    assert_eq!(
        e.ok(&["run", "--rm", "--network", "none", &remote, "cat", "/f"]),
        "pushed\n"
    );
}

#[test]
fn run_mounts_secret_bind_and_tmpfs_leave_no_trace() {
    require_root!();
    let e = Engine::new("berth");
    let df = "FROM bb:1\n\
RUN --mount=type=secret,id=tok --mount=type=bind,source=data,target=/ctx \
--mount=type=tmpfs,target=/scratch \
sh -c 'cat /run/secrets/tok /ctx/in > /out; echo t > /scratch/x; \
! touch /ctx/new 2>/dev/null && echo ro >> /out'\n";
    let ctx = context(&[("Dockerfile", df), ("data/in", "from context\n")]);
    let dir = TempDir::new("berth-build-secret").unwrap();
    let secret = dir.path().join("tok");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let flag = format!("id=tok,src={}", secret.display());
    build_ok(&e, ctx.path(), &["-t", "mounts:1", "--secret", &flag]);
    assert_eq!(
        e.ok(&["run", "--rm", "mounts:1", "cat", "/out"]),
        "s3cret\nfrom context\nro\n"
    );
    // Nothing of the mounts is in the image: not the secret, not the
    // mount points.
    let out = e.ok(&[
        "run",
        "--rm",
        "mounts:1",
        "sh",
        "-c",
        "ls -A /run /ctx /scratch 2>&1; echo end",
    ]);
    assert!(!out.contains("secrets") && !out.contains("tok"), "{out}");
    assert!(out.contains("/ctx: No such file"), "{out}");
    assert!(out.contains("/scratch: No such file"), "{out}");
    // A secret is in no cache key: another secret's content does not
    // re-run the step (as BuildKit).
    std::fs::write(&secret, "other\n").unwrap();
    let again = build_ok(&e, ctx.path(), &["-t", "mounts:1", "--secret", &flag]);
    assert_eq!(counts(&again), (0, 1), "{again}");
}

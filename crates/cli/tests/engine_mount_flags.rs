//! `-v`, `--mount` and `--volumes-from` refused as Docker refuses them:
//! one line on stderr naming the problem, exit 125, and nothing left (no
//! container row, no container directory, no snapshot, no host directory
//! a `-v` would have made). The parse results of good specs are the engine's
//! unit tests (`model/mounts`).

mod common;

use berth_testutil::{output_within, require_root, COMMAND_TIMEOUT};
use common::engine::Engine;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The container's snapshots besides the image's layer.
fn snapshot_count(e: &Engine) -> usize {
    let images: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.berth.root.join("images.json")).unwrap()).unwrap();
    images["snapshots"].as_object().map_or(0, |s| s.len())
}

/// `run` and `create` with `flags` fail with one `Error: ` line that
/// contains `want`, exit 125.
fn refused(e: &Engine, flags: &[&str], want: &str) {
    for verb in ["run", "create"] {
        let mut args = vec![verb, "--name", "never"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["bb:1", "true"]);
        let out = e.run(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        assert!(
            err.starts_with("Error: ") && err.lines().count() == 1,
            "{args:?}: {err}"
        );
        assert!(err.contains(want), "{args:?}: want {want:?} in {err}");
    }
}

/// Nothing of a container exists.
fn nothing_left(e: &Engine, snapshots: usize) {
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert_eq!(
        std::fs::read_dir(e.berth.root.join("containers")).map_or(0, |d| d.count()),
        0
    );
    assert_eq!(snapshot_count(e), snapshots);
    assert!(e.mounts_under_root().is_empty());
}

#[test]
fn bad_volume_flags() {
    require_root!();
    let e = Engine::new("berth");
    let snapshots = snapshot_count(&e);
    let host = e.berth.dir.join("host");
    std::fs::create_dir(&host).unwrap();
    let host = host.to_str().unwrap();
    let h_x = format!("{host}:/x");
    let cases: &[(&[&str], &str)] = &[
        (
            &["-v", "relative/x:/y"],
            "create relative/x: \"relative/x\" includes invalid characters for a local volume \
             name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host \
             directory, use absolute path",
        ),
        (
            &["-v", "/a:relative"],
            "invalid volume specification: '/a:relative': invalid mount config for type \
             \"bind\": invalid mount path: 'relative' mount path must be absolute",
        ),
        (
            &["-v", "vol1:/data:rshared"],
            "invalid volume specification: 'vol1:/data:rshared': invalid mount config for type \
             \"volume\": field BindOptions must not be specified",
        ),
        (&["-v", "/a:/b:bogus"], "invalid mode: bogus"),
        (&["-v", "/a:/"], "destination can't be '/'"),
        (
            &["-v", "/a:/b:ro:x"],
            "invalid spec: /a:/b:ro:x: too many colons",
        ),
        (
            &["-v", "/foo:ro"],
            "invalid volume specification: '/foo:ro'",
        ),
        (&["-v", &h_x, "-v", "vol1:/x/"], "Duplicate mount point: /x"),
        (&["-v", &h_x, "--tmpfs", "/x"], "Duplicate mount point: /x"),
        (
            &["--volumes-from", "other:rshared"],
            "invalid mode: rshared",
        ),
    ];
    for (flags, want) in cases {
        refused(&e, flags, want);
    }
    nothing_left(&e, snapshots);
}

#[test]
fn bad_mount_flags() {
    require_root!();
    let e = Engine::new("berth");
    let snapshots = snapshot_count(&e);
    let missing = e.berth.dir.join("missing");
    let missing_bind = format!("type=bind,source={},target=/x", missing.display());
    let missing_msg = format!(
        "invalid mount config for type \"bind\": bind source path does not exist: {}",
        missing.display()
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["--mount", "type=volume,bogus=1,target=/x"],
            "invalid argument \"type=volume,bogus=1,target=/x\" for \"--mount\" flag: \
             unexpected key 'bogus' in 'bogus=1'",
        ),
        (
            &["--mount", "type=volume,source=bad@name,target=/x"],
            "create bad@name: \"bad@name\" includes invalid characters for a local volume name",
        ),
        (
            &[
                "--mount",
                "type=volume,source=v1,target=/x,volume-driver=nfs",
            ],
            "create v1: error looking up volume plugin nfs: plugin \"nfs\" not found",
        ),
        (
            &["--mount", "type=volume,target=/x,bind-propagation=rshared"],
            "cannot mix 'bind-*' options with mount type 'volume'",
        ),
        (&["--mount", "type=bind,source=/tmp"], "target is required"),
        (&["--mount", &missing_bind], &missing_msg),
        (
            &[
                "--mount",
                "type=tmpfs,target=/t",
                "--mount",
                "type=volume,target=/t",
            ],
            "Duplicate mount point: /t",
        ),
        (
            &["--mount", "type=image,source=bb:1,target=/i"],
            "unsupported mount type: image",
        ),
    ];
    for (flags, want) in cases {
        refused(&e, flags, want);
    }
    assert!(!missing.exists());
    nothing_left(&e, snapshots);
}

#[test]
fn no_host_directory_made_for_a_refused_container() {
    require_root!();
    let e = Engine::new("berth");
    let snapshots = snapshot_count(&e);
    // `-v` makes a missing host directory, but not for a container that is
    // refused.
    let new_dir = e.berth.dir.join("would-be-made");
    let spec = format!("{}:/x", new_dir.display());
    refused(
        &e,
        &["-v", &spec, "-v", "vol1:/x"],
        "Duplicate mount point: /x",
    );
    assert!(!new_dir.exists());
    nothing_left(&e, snapshots);
}

#[test]
fn dot_paths_are_made_absolute_like_the_docker_cli() {
    require_root!();
    let e = Engine::new("berth");
    let snapshots = snapshot_count(&e);
    let cwd = e.berth.dir.join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    // The error quotes the spec the engine got: the CLI's absolute path.
    for (flag, spec, want) in [
        (
            "-v",
            "./data:/",
            format!("invalid volume specification: '{}/data:/'", cwd.display()),
        ),
        (
            "--mount",
            "type=bind,src=./data,dst=/x",
            format!("bind source path does not exist: {}/data", cwd.display()),
        ),
    ] {
        let mut cmd = e.command(&["create", flag, spec, "bb:1", "true"]);
        let out = output_within(cmd.current_dir(&cwd), COMMAND_TIMEOUT);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{err}");
        assert!(err.contains(&want), "want {want:?} in {err}");
    }
    nothing_left(&e, snapshots);
}

#[test]
fn good_flags_pass_the_checks() {
    require_root!();
    let e = Engine::new("berth");
    let host = e.berth.dir.join("host");
    std::fs::create_dir(&host).unwrap();
    let bind = format!("{}:/h:ro,rshared,z", host.display());
    let mount = format!("type=bind,src={},dst=/m,readonly", host.display());
    e.ok(&[
        "create",
        "--name",
        "src",
        "-v",
        "vol1:/data",
        "bb:1",
        "true",
    ]);
    let out = e.ok(&[
        "create",
        "-v",
        &bind,
        "-v",
        "/anon",
        "--volume",
        "vol2:/v2:nocopy",
        "--mount",
        &mount,
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777",
        "--mount",
        "type=volume,src=vol3,dst=/v3,volume-label=a=b",
        "--volumes-from",
        "src:ro",
        "bb:1",
        "true",
    ]);
    assert_eq!(out.trim().len(), 64, "{out}");
    e.ok(&["rm", "src", out.trim()]);
}

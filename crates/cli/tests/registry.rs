//! `berth pull/push/login/logout` against a real registry (Debian's
//! `docker-registry` on a free 127.0.0.1 port, see berth_testutil's
//! `Registry`), cross-checked with skopeo: digests equal both ways,
//! platform choice from an index, htpasswd and Bearer-token auth, resumed
//! downloads, corrupted blobs, a self-signed TLS registry.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use berth_image::Digest;
use berth_testutil::{
    htpasswd_file, BearerAuth, ProxyBehavior, Registry, RegistryConfig, RegistryProxy,
};
use common::{have_tool, rootfs_tar, run_tool, Berth};
use serde_json::{json, Value};

fn tools() -> bool {
    if berth_testutil::should_skip_for_root(&berth_testutil::__test_name(module_path!())) {
        return false;
    }
    // scripts/test-in-v2vm.sh runs every test binary in an emulated
    // cgroup v2 guest; the registry client touches no cgroups, and these
    // tests would take many minutes under emulation there.
    if std::env::var("BERTH_REQUIRE_CGROUP").as_deref() == Ok("v2") {
        berth_testutil::skipped("registry tests need no cgroup v2 guest; they run on the host");
        return false;
    }
    have_tool("docker-registry") && have_tool("skopeo")
}

/// The image id and manifest digest berth recorded for `name`.
fn recorded(b: &Berth, name: &str) -> (String, String) {
    let out = b.ok(&["image", "inspect", "-f", "{{json .}}", name]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    (
        v["Id"].as_str().unwrap().to_owned(),
        v["Descriptor"]["digest"].as_str().unwrap().to_owned(),
    )
}

fn skopeo_digest(args: &[&str], image: &str) -> String {
    let raw = run_tool(
        Command::new("skopeo")
            .args(["inspect", "--raw"])
            .args(args)
            .arg(format!("docker://{image}")),
    );
    Digest::of(raw.as_bytes()).to_string()
}

/// A tar of `files` (name, content), uncompressed.
fn layer_tar(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_cksum();
        t.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    t.into_inner().unwrap()
}

/// Bytes that do not compress and differ per seed.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An OCI archive of one image made of `layers`, named `name`, for
/// `platform` (`os/arch`).
fn oci_archive(dir: &Path, name: &str, layers: &[Vec<u8>], platform: (&str, &str)) -> String {
    let layout = dir.join(format!("layout-{}", Digest::of(name.as_bytes()).short()));
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let d = Digest::of(data);
        fs::write(blobs.join(d.hex()), data).unwrap();
        d
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        let d = put(l);
        diff_ids.push(d.to_string());
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.to_string(), "size": l.len()}));
    }
    let config = serde_json::to_vec(&json!({
        "architecture": platform.1, "os": platform.0,
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_d = put(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_d.to_string(), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let m = put(&manifest);
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": m.to_string(), "size": manifest.len(),
            "annotations": {"io.containerd.image.name": name}}]}))
        .unwrap(),
    )
    .unwrap();
    let archive = dir.join(format!("{}.tar", Digest::of(name.as_bytes()).short()));
    run_tool(
        Command::new("tar")
            .arg("-C")
            .arg(&layout)
            .arg("-cf")
            .arg(&archive)
            .arg("."),
    );
    archive.to_str().unwrap().to_owned()
}

#[test]
fn push_pull_round_trips_with_skopeo() {
    if !tools() {
        return;
    }
    let reg = Registry::start(RegistryConfig::default());
    let b = Berth::new();
    let tar = rootfs_tar(b.dir.path());
    let name = format!("{}/berth/rt:v1", reg.addr());
    b.ok(&["import", tar.to_str().unwrap(), &name]);
    let (id, manifest) = recorded(&b, &name);

    // HTTPS is the default: a plain-HTTP registry is refused with a hint.
    let err = b.fails(&["push", &name]);
    assert!(err.contains("--tls-verify=false"), "{err}");

    let out = b.ok(&["push", "--tls-verify=false", &name]);
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{}/berth/rt]\n",
            reg.addr()
        )),
        "{out}"
    );
    assert!(out.contains(": Pushed\n"), "{out}");
    let size = fs::metadata(b.root.join("content/sha256").join(&manifest[7..]))
        .unwrap()
        .len();
    assert!(
        out.ends_with(&format!("v1: digest: {manifest} size: {size}\n")),
        "{out}"
    );
    assert_eq!(skopeo_digest(&["--tls-verify=false"], &name), manifest);

    // skopeo copies it out: same manifest, same config.
    let oci = b.path("oci");
    run_tool(
        Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{name}"))
            .arg(format!("oci:{oci}:x")),
    );
    let index: Value =
        serde_json::from_slice(&fs::read(format!("{oci}/index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], manifest.as_str());

    // Pushing again: every blob is there already.
    let again = b.ok(&["push", "--tls-verify=false", &name]);
    assert!(
        again.contains("Layer already exists") && !again.contains("Pushed"),
        "{again}"
    );

    // Another repository of the same registry: blobs are mounted, not uploaded.
    let other = format!("{}/berth/other:v2", reg.addr());
    b.ok(&["tag", &name, &other]);
    let out = b.ok(&["push", "--tls-verify=false", &other]);
    assert_eq!(out.matches("Mounted from berth/rt").count(), 2, "{out}");

    // Pull into an empty store: same id and manifest digest, Docker's words.
    let c = Berth::new();
    let out = c.ok(&["pull", "--tls-verify=false", &name]);
    let layer = out
        .lines()
        .find(|l| l.ends_with(": Pull complete"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(layer.len(), 12 + ": Pull complete".len());
    assert!(out.starts_with("v1: Pulling from berth/rt\n"), "{out}");
    assert!(
        out.ends_with(&format!(
            "Digest: {manifest}\nStatus: Downloaded newer image for {name}\n{name}\n"
        )),
        "{out}"
    );
    assert_eq!(recorded(&c, &name), (id.clone(), manifest.clone()));
    let out = c.ok(&["pull", "--tls-verify=false", &name]);
    assert!(
        out.contains(&format!("Status: Image is up to date for {name}\n")),
        "{out}"
    );
    // By digest, quietly: only the reference is printed.
    let by_digest = format!("{}/berth/rt@{manifest}", reg.addr());
    let d = Berth::new();
    assert_eq!(
        d.ok(&["pull", "-q", "--tls-verify=false", &by_digest]),
        format!("{by_digest}\n")
    );
    assert_eq!(recorded(&d, &by_digest).0, id);

    let err = c.fails(&[
        "pull",
        "--tls-verify=false",
        &format!("{}/berth/missing:v1", reg.addr()),
    ]);
    assert!(err.contains("not found: manifest unknown"), "{err}");
}

#[test]
fn berth_pulls_what_skopeo_pushed() {
    if !tools() {
        return;
    }
    let reg = Registry::start(RegistryConfig::default());
    let b = Berth::new();
    let archive = oci_archive(
        b.dir.path(),
        "example.com/src:1",
        &[
            layer_tar(&[("a", b"one".to_vec())]),
            layer_tar(&[("b", noise(300_000, 1))]),
        ],
        ("linux", "amd64"),
    );
    let name = format!("{}/from/skopeo:1", reg.addr());
    run_tool(
        Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("oci-archive:{archive}"))
            .arg(format!("docker://{name}")),
    );
    let digest = skopeo_digest(&["--tls-verify=false"], &name);
    let out = b.ok(&["pull", "--tls-verify=false", &name]);
    assert!(out.contains(&format!("Digest: {digest}\n")), "{out}");
    assert_eq!(out.matches("Pull complete").count(), 2, "{out}");
    assert_eq!(recorded(&b, &name).1, digest);
    // And berth's load of the same archive gives the same image id.
    let c = Berth::new();
    c.ok(&["load", "-i", &archive]);
    assert_eq!(recorded(&c, "example.com/src:1").0, recorded(&b, &name).0);
}

#[test]
fn index_and_manifest_list_resolve_to_the_platform() {
    if !tools() {
        return;
    }
    let reg = Registry::start(RegistryConfig::default());
    let b = Berth::new();
    let mut manifests = Vec::new();
    let mut ids = BTreeMap::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8")), ("arm", Some("v7"))] {
        let name = format!("{}/multi/img:{arch}", reg.addr());
        let archive = oci_archive(
            b.dir.path(),
            &name,
            &[layer_tar(&[("arch", arch.as_bytes().to_vec())])],
            ("linux", arch),
        );
        b.ok(&["load", "-i", &archive]);
        b.ok(&["push", "-q", "--tls-verify=false", &name]);
        let (id, digest) = recorded(&b, &name);
        ids.insert(arch, id);
        let size = fs::metadata(b.root.join("content/sha256").join(&digest[7..]))
            .unwrap()
            .len();
        let mut platform = json!({"os": "linux", "architecture": arch});
        if let Some(v) = variant {
            platform["variant"] = json!(v);
        }
        manifests.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size, "platform": platform}));
    }
    let agent = ureq::Agent::new_with_defaults();
    for (tag, media) in [
        ("oci", "application/vnd.oci.image.index.v1+json"),
        (
            "docker",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ),
    ] {
        let index = serde_json::to_vec(
            &json!({"schemaVersion": 2, "mediaType": media, "manifests": manifests}),
        )
        .unwrap();
        let resp = agent
            .put(format!(
                "http://{}/v2/multi/img/manifests/{tag}",
                reg.addr()
            ))
            .header("Content-Type", media)
            .send(&index[..])
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        let index_digest = Digest::of(&index).to_string();
        let name = format!("{}/multi/img:{tag}", reg.addr());
        for (platform, arch) in [
            ("linux/arm64", "arm64"),
            ("linux/arm/v7", "arm"),
            ("linux/amd64", "amd64"),
        ] {
            let c = Berth::new();
            let out = c.ok(&["pull", "--tls-verify=false", "--platform", platform, &name]);
            assert!(out.contains(&format!("Digest: {index_digest}\n")), "{out}");
            assert_eq!(recorded(&c, &name).0, ids[arch], "{tag} {platform}");
        }
        let c = Berth::new();
        let err = c.fails(&[
            "pull",
            "--tls-verify=false",
            "--platform",
            "linux/s390x",
            &name,
        ]);
        assert!(err.contains("matches platform linux/s390x"), "{err}");
        assert!(!c.root.join("images.json").exists() || c.ok(&["images", "-q"]).is_empty());
    }
    // The host's platform when none is asked for.
    if std::env::consts::ARCH == "x86_64" {
        let c = Berth::new();
        let name = format!("{}/multi/img:oci", reg.addr());
        c.ok(&["pull", "-q", "--tls-verify=false", &name]);
        assert_eq!(recorded(&c, &name).0, ids["amd64"]);
    }
    // A single-platform image that is not the asked platform is refused.
    let c = Berth::new();
    let err = c.fails(&[
        "pull",
        "--tls-verify=false",
        "--platform",
        "linux/arm64",
        &format!("{}/multi/img:amd64", reg.addr()),
    ]);
    assert!(err.contains("matches platform linux/arm64"), "{err}");
}

#[test]
fn htpasswd_registry_needs_login() {
    if !tools() || !have_tool("htpasswd") {
        return;
    }
    let b = Berth::new();
    let htpasswd = b.dir.join("htpasswd");
    htpasswd_file(&htpasswd, "alice", "s3cret");
    let reg = Registry::start(RegistryConfig {
        htpasswd: Some(htpasswd),
        tls: false,
    });
    let tar = rootfs_tar(b.dir.path());
    let name = format!("{}/private/img:1", reg.addr());
    b.ok(&["import", tar.to_str().unwrap(), &name]);

    let err = b.fails(&["push", "--tls-verify=false", &name]);
    assert!(
        err.contains("unauthorized") && err.contains(&format!("berth login {}", reg.addr())),
        "{err}"
    );
    let err = b.fails(&[
        "login",
        "--tls-verify=false",
        "-u",
        "alice",
        "-p",
        "wrong",
        &reg.addr(),
    ]);
    assert!(err.contains("unauthorized"), "{err}");
    assert!(!b.root.join("auth.json").exists());

    let out = b.ok_stdin(
        &[
            "login",
            "--tls-verify=false",
            "-u",
            "alice",
            "--password-stdin",
            &reg.addr(),
        ],
        b"s3cret\n",
    );
    assert_eq!(out, "Login Succeeded\n");
    let auth = b.root.join("auth.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&auth).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let doc: Value = serde_json::from_slice(&fs::read(&auth).unwrap()).unwrap();
    assert_eq!(doc["auths"][reg.addr()]["auth"], "YWxpY2U6czNjcmV0"); // alice:s3cret

    let out = b.ok(&["push", "--tls-verify=false", &name]);
    assert!(out.contains("Pushed"), "{out}");
    // skopeo reads berth's credentials file (Docker's format).
    let manifest = recorded(&b, &name).1;
    assert_eq!(
        skopeo_digest(
            &["--tls-verify=false", "--authfile", auth.to_str().unwrap()],
            &name
        ),
        manifest
    );
    b.ok(&["rmi", &name]);
    b.ok(&["pull", "-q", "--tls-verify=false", &name]);

    assert_eq!(
        b.ok(&["logout", &reg.addr()]),
        format!("Removing login credentials for {}\n", reg.addr())
    );
    assert_eq!(
        b.ok(&["logout", &reg.addr()]),
        format!("Not logged in to {}\n", reg.addr())
    );
    b.ok(&["rmi", &name]);
    let err = b.fails(&["pull", "--tls-verify=false", &name]);
    assert!(err.contains("unauthorized"), "{err}");
}

#[test]
fn bearer_token_auth() {
    if !tools() {
        return;
    }
    let reg = Registry::start(RegistryConfig::default());
    let proxy = RegistryProxy::start(
        &reg.addr(),
        ProxyBehavior {
            bearer: Some(BearerAuth {
                token: "tok-123".into(),
                user: "bob".into(),
                password: "pw".into(),
            }),
            ..Default::default()
        },
    );
    let b = Berth::new();
    let tar = rootfs_tar(b.dir.path());
    let name = format!("{}/tok/img:1", proxy.addr());
    b.ok(&["import", tar.to_str().unwrap(), &name]);
    let err = b.fails(&["push", "--tls-verify=false", &name]);
    assert!(err.contains("unauthorized"), "{err}");
    b.ok(&[
        "login",
        "--tls-verify=false",
        "-u",
        "bob",
        "-p",
        "pw",
        &proxy.addr(),
    ]);
    proxy.clear();
    b.ok(&["push", "--tls-verify=false", &name]);
    let reqs = proxy.requests();
    let token = reqs
        .iter()
        .find(|r| r.path.starts_with("/token"))
        .expect("a token request");
    assert!(
        token
            .path
            .contains("scope=repository%3Atok%2Fimg%3Apull%2Cpush"),
        "{}",
        token.path
    );
    assert!(token.path.contains("service=berth-test"), "{}", token.path);
    let v2: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/v2/") && r.path != "/v2/")
        .collect();
    assert!(
        !v2.is_empty()
            && v2
                .iter()
                .all(|r| r.authorization.as_deref() == Some("Bearer tok-123")),
        "{reqs:#?}"
    );
    let c = Berth::new();
    fs::create_dir_all(&c.root).unwrap();
    fs::copy(b.root.join("auth.json"), c.root.join("auth.json")).unwrap();
    c.ok(&["pull", "-q", "--tls-verify=false", &name]);
    assert_eq!(recorded(&c, &name), recorded(&b, &name));
}

#[test]
fn interrupted_pull_resumes() {
    if !tools() {
        return;
    }
    let reg = Registry::start(RegistryConfig::default());
    let b = Berth::new();
    let big = layer_tar(&[("big", noise(3 << 20, 7))]);
    let big_digest = Digest::of(&big);
    let layers = vec![
        layer_tar(&[("one", b"1".to_vec())]),
        big,
        layer_tar(&[("three", b"3".to_vec())]),
    ];
    let src = format!("{}/resume/img:1", reg.addr());
    b.ok(&[
        "load",
        "-i",
        &oci_archive(b.dir.path(), &src, &layers, ("linux", "amd64")),
    ]);
    b.ok(&["push", "-q", "--tls-verify=false", &src]);

    // Every answer for the big blob stops after 128 KiB: berth retries
    // (asking for the rest each time) and gives up, keeping what came.
    let cut = RegistryProxy::start(
        &reg.addr(),
        ProxyBehavior {
            cut_blob: Some((big_digest.hex().to_owned(), 128 << 10)),
            ..Default::default()
        },
    );
    let c = Berth::new();
    let err = c.fails(&[
        "pull",
        "--platform",
        "linux/amd64",
        "--tls-verify=false",
        &format!("{}/resume/img:1", cut.addr()),
    ]);
    assert!(err.contains("connection closed after"), "{err}");
    let ranges: Vec<_> = cut
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(big_digest.hex()))
        .map(|r| r.range)
        .collect();
    assert_eq!(ranges[0], None);
    assert_eq!(ranges[1].as_deref(), Some("bytes=131072-"), "{ranges:?}");
    let partial = c
        .root
        .join(format!("content/sha256/.download-{}", big_digest.hex()));
    let have = fs::metadata(&partial).unwrap().len();
    assert_eq!(have, ranges.len() as u64 * (128 << 10));
    assert!(c.ok(&["images", "-q"]).is_empty());
    for l in [&layers[0], &layers[2]] {
        assert!(c
            .root
            .join("content/sha256")
            .join(Digest::of(l).hex())
            .exists());
    }

    // The next pull fetches only the rest of the big blob (and config).
    let clean = RegistryProxy::start(&reg.addr(), ProxyBehavior::default());
    let name = format!("{}/resume/img:1", clean.addr());
    let out = c.ok(&[
        "pull",
        "--platform",
        "linux/amd64",
        "--tls-verify=false",
        &name,
    ]);
    assert_eq!(out.matches("Already exists").count(), 2, "{out}");
    assert!(
        out.contains(&format!(
            "{}: Resuming from byte {have}",
            big_digest.short()
        )),
        "{out}"
    );
    let blob_gets: Vec<_> = clean
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/blobs/"))
        .collect();
    let big_gets: Vec<_> = blob_gets
        .iter()
        .filter(|r| r.path.contains(big_digest.hex()))
        .collect();
    assert_eq!(big_gets.len(), 1, "{blob_gets:#?}");
    assert_eq!(big_gets[0].range, Some(format!("bytes={have}-")));
    assert_eq!(
        blob_gets.len(),
        2,
        "only the big layer and the config: {blob_gets:#?}"
    );
    assert!(!partial.exists());
    assert_eq!(recorded(&c, &name).0, recorded(&b, &src).0);
}

#[test]
fn damaged_partial_download_starts_over() {
    if !tools() {
        return;
    }
    let reg = Registry::start(RegistryConfig::default());
    let b = Berth::new();
    let layer = layer_tar(&[("data", noise(300_000, 5))]);
    let digest = Digest::of(&layer);
    let src = format!("{}/partial/img:1", reg.addr());
    b.ok(&[
        "load",
        "-i",
        &oci_archive(
            b.dir.path(),
            &src,
            std::slice::from_ref(&layer),
            ("linux", "amd64"),
        ),
    ]);
    b.ok(&["push", "-q", "--tls-verify=false", &src]);
    // What a crash can leave: a partial download whose bytes are not the
    // blob's. The resumed result does not verify, so berth starts over.
    let c = Berth::new();
    let content = c.root.join("content/sha256");
    fs::create_dir_all(&content).unwrap();
    fs::write(
        content.join(format!(".download-{}", digest.hex())),
        vec![0u8; 1000],
    )
    .unwrap();
    let proxy = RegistryProxy::start(&reg.addr(), ProxyBehavior::default());
    let name = format!("{}/partial/img:1", proxy.addr());
    c.ok(&[
        "pull",
        "-q",
        "--platform",
        "linux/amd64",
        "--tls-verify=false",
        &name,
    ]);
    let gets: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(digest.hex()))
        .map(|r| r.range)
        .collect();
    assert_eq!(gets, [Some("bytes=1000-".to_owned()), None]);
    assert_eq!(recorded(&c, &name).0, recorded(&b, &src).0);
}

#[test]
fn corrupted_blob_is_refused_and_nothing_recorded() {
    if !tools() {
        return;
    }
    let reg = Registry::start(RegistryConfig::default());
    let b = Berth::new();
    let layer = layer_tar(&[("data", noise(200_000, 3))]);
    let digest = Digest::of(&layer);
    let name = format!("{}/bad/img:1", reg.addr());
    b.ok(&[
        "load",
        "-i",
        &oci_archive(b.dir.path(), &name, &[layer], ("linux", "amd64")),
    ]);
    b.ok(&["push", "-q", "--tls-verify=false", &name]);
    // Same size, one byte changed, in the registry's storage.
    let data = reg.blob_data(digest.as_str());
    let mut bytes = fs::read(&data).unwrap();
    bytes[1000] ^= 0xff;
    fs::write(&data, bytes).unwrap();

    let c = Berth::new();
    let err = c.fails(&[
        "pull",
        "--platform",
        "linux/amd64",
        "--tls-verify=false",
        &name,
    ]);
    assert!(
        err.contains("digest mismatch") && err.contains(digest.as_str()),
        "{err}"
    );
    assert!(c.ok(&["images", "-q"]).is_empty());
    let left: Vec<_> = fs::read_dir(c.root.join("content/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "nothing stored: {left:?}");
}

#[test]
fn self_signed_tls_registry() {
    if !tools() || !have_tool("openssl") {
        return;
    }
    let reg = Registry::start(RegistryConfig {
        htpasswd: None,
        tls: true,
    });
    let b = Berth::new();
    let tar = rootfs_tar(b.dir.path());
    let name = format!("{}/tls/img:1", reg.addr());
    b.ok(&["import", tar.to_str().unwrap(), &name]);
    let err = b.fails(&["push", &name]);
    assert!(
        err.contains("certificate") || err.contains("Certificate"),
        "{err}"
    );
    assert!(err.contains("--tls-verify=false"), "{err}");
    b.ok(&["push", "-q", "--tls-verify=false", &name]);
    // skopeo sees it over HTTPS too.
    assert_eq!(
        skopeo_digest(&["--tls-verify=false"], &name),
        recorded(&b, &name).1
    );
    let c = Berth::new();
    assert!(c.fails(&["pull", &name]).contains("certificate"));
    c.ok(&["pull", "-q", "--tls-verify=false", &name]);
    assert_eq!(recorded(&c, &name), recorded(&b, &name));
}

//! Debian's buildah (1.28) as the reference builder for the build corpus
//! (`tests/build/`, see its README.md): a private buildah whose storage
//! (overlay), run root, registries.conf and temp files all live in a temp
//! dir, so the host's `/var/lib/containers` and `/etc/containers` are
//! neither read nor written (but for containers/image's blob-info cache,
//! which root's buildah keeps in `/var/lib/containers/cache` whatever the
//! storage says). Base images come from a berth root (`berth save`, then
//! `buildah pull docker-archive:`); nothing is ever pulled from a registry
//! (`--pull=false`, no search registries).
//!
//! Isolation: `chroot` (no runtime; `RUN` shares the host's network
//! namespace, the only network buildah allows with it) or `oci` with a
//! runtime binary and `--network none`. crun 1.8 refuses a hybrid cgroup
//! host, so with crun on such a host every buildah command runs in a
//! private mount namespace without `/sys/fs/cgroup/unified` (as the test
//! engine does).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use berth_testutil::{output_within, unique_id, TempDir, COMMAND_TIMEOUT};

use super::oci_tree::OciTree;
use super::run_tool;

/// How buildah runs a `RUN` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    Chroot,
    /// `--isolation oci --runtime PATH --network none`.
    Oci(PathBuf),
}

pub struct Buildah {
    dir: TempDir,
    pub isolation: Isolation,
}

/// The corpus: `crates/cli/tests/build`.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/build")
}

/// The extra build flags of a corpus case (its `build-flags` file, one
/// flag a line: `--target=...`, `--build-arg=K=V`), for both builders.
pub fn case_flags(case: &Path) -> Vec<String> {
    match std::fs::read_to_string(case.join("build-flags")) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Why buildah 1.28 cannot build a corpus case (its `buildah-skip`
/// file), or `None`.
pub fn buildah_skip(case: &Path) -> Option<String> {
    std::fs::read_to_string(case.join("buildah-skip"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// `berth --root ROOT save NAME` as an [`OciTree`].
pub fn berth_image_tree(root: &Path, name: &str) -> OciTree {
    let tmp = TempDir::new("berth-tree").unwrap();
    let archive = tmp.join("image.tar");
    run_tool(
        Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("--root")
            .arg(root)
            .args(["save", "-o"])
            .arg(&archive)
            .arg(name),
    );
    OciTree::from_archive(&archive, &tmp.join("x"))
}

/// True when crun needs the private mount namespace (see the module doc).
fn hybrid_cgroups() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup/unified") && l.contains(" - cgroup2 "))
}

impl Buildah {
    /// A private buildah. `BERTH_TEST_BUILDAH_RUNTIME` (`runc`, `crun`,
    /// `berth` for berth-runtime, or a path) selects `oci` isolation with
    /// that runtime; unset means `chroot`.
    pub fn new() -> Buildah {
        let isolation = match std::env::var("BERTH_TEST_BUILDAH_RUNTIME").as_deref() {
            Err(_) | Ok("") | Ok("chroot") => Isolation::Chroot,
            Ok(rt) => Isolation::Oci(runtime_path(rt)),
        };
        Buildah::with_isolation(isolation)
    }

    pub fn with_isolation(isolation: Isolation) -> Buildah {
        let dir = TempDir::new("berth-buildah").unwrap();
        for sub in ["root", "run", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(
            dir.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                dir.join("root").display(),
                dir.join("run").display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("registries.conf"),
            "unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n",
        )
        .unwrap();
        Buildah { dir, isolation }
    }

    /// A buildah command with this instance's storage and configuration.
    pub fn command(&self, args: &[&str]) -> Command {
        let crun = matches!(&self.isolation, Isolation::Oci(p) if p.ends_with("crun"));
        let mut c = if crun && hybrid_cgroups() {
            let mut c = Command::new("unshare");
            c.args(["-m", "--propagation", "private", "sh", "-c"])
                .arg("umount /sys/fs/cgroup/unified && exec buildah \"$@\"")
                .arg("buildah");
            c
        } else {
            Command::new("buildah")
        };
        c.arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args(["--storage-driver", "overlay"])
            .args(args)
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"))
            .env(
                "CONTAINERS_REGISTRIES_CONF",
                self.dir.join("registries.conf"),
            )
            .env("TMPDIR", self.dir.join("tmp"))
            .env_remove("BUILDAH_ISOLATION");
        c
    }

    pub fn ok(&self, args: &[&str]) -> String {
        run_tool(&mut self.command(args))
    }

    /// Loads images from a berth root, under the same names.
    pub fn load_from_berth(&self, berth_root: &Path, images: &[&str]) {
        for image in images {
            let archive = self.dir.join(format!("{}.tar", unique_id("load")));
            run_tool(
                Command::new(env!("CARGO_BIN_EXE_berth"))
                    .arg("--root")
                    .arg(berth_root)
                    .args(["save", "-o"])
                    .arg(&archive)
                    .arg(image),
            );
            self.load_archive(&archive);
            std::fs::remove_file(&archive).unwrap();
        }
    }

    /// `buildah pull docker-archive:ARCHIVE` (the names in the archive).
    pub fn load_archive(&self, archive: &Path) {
        self.ok(&[
            "pull",
            "-q",
            &format!("docker-archive:{}", archive.display()),
        ]);
    }

    /// The `bud` arguments before the flags of the case.
    fn bud_args(&self) -> Vec<String> {
        let mut a: Vec<String> = ["bud", "--pull=false", "--format=docker"]
            .map(str::to_owned)
            .into();
        match &self.isolation {
            Isolation::Chroot => a.push("--isolation=chroot".to_owned()),
            Isolation::Oci(rt) => {
                a.push("--isolation=oci".to_owned());
                a.push(format!("--runtime={}", rt.display()));
                a.push("--network=none".to_owned());
            }
        }
        a
    }

    /// `buildah bud` of `context` with `flags`, tagged `tag`.
    pub fn build(&self, context: &Path, flags: &[String], tag: &str) -> Output {
        let mut args = self.bud_args();
        args.extend(flags.iter().cloned());
        args.push(format!("--tag={tag}"));
        args.push(context.to_str().unwrap().to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        output_within(&mut self.command(&args), COMMAND_TIMEOUT)
    }

    /// The image `name` as an [`OciTree`] (`buildah push` to a
    /// docker-archive).
    pub fn tree(&self, name: &str) -> OciTree {
        let tmp = TempDir::new("buildah-tree").unwrap();
        let archive = tmp.join("image.tar");
        self.ok(&[
            "push",
            "-q",
            name,
            &format!("docker-archive:{}:{name}", archive.display()),
        ]);
        OciTree::from_archive(&archive, &tmp.join("x"))
    }

    /// Builds the corpus case `case` (its `build-flags` applied) and
    /// returns the image's tree; panics with buildah's output on failure.
    pub fn buildah_build(&self, case: &Path) -> OciTree {
        let tag = format!("localhost/{}:1", unique_id("case"));
        let out = self.build(case, &case_flags(case), &tag);
        assert!(
            out.status.success(),
            "buildah bud {} failed ({}):\n{}{}",
            case.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.tree(&tag)
    }
}

/// `runc`, `crun`, `berth` (the berth-runtime built beside `berth`) or a
/// path, as an absolute path.
fn runtime_path(rt: &str) -> PathBuf {
    match rt {
        "berth" => Path::new(env!("CARGO_BIN_EXE_berth")).with_file_name("berth-runtime"),
        "runc" | "crun" => {
            let out = run_tool(Command::new("sh").args(["-c", &format!("command -v {rt}")]));
            PathBuf::from(out.trim())
        }
        path => PathBuf::from(path),
    }
}

impl Drop for Buildah {
    fn drop(&mut self) {
        // Working containers of a failed build; their mounts. The temp
        // dir's own drop detaches whatever is left under it.
        for args in [&["rm", "--all"][..], &["umount", "--all"][..]] {
            let _ = berth_testutil::try_output_within(&mut self.command(args), COMMAND_TIMEOUT);
        }
    }
}

//! Base images for `berth build` tests: the busybox `bb:1` every test
//! engine has, and the Debian 12 image `deb:12` (mmdebstrap, cached per
//! machine by `berth_testutil::import_debian`), under the names the corpus
//! in `tests/build/` uses (see its README.md).

use std::path::Path;

use super::buildah::Buildah;
use super::engine::Engine;
use super::{have_tool, rootfs_tar, Berth};

/// The busybox image's name in a test engine and in the corpus.
pub const BUSYBOX: &str = "bb:1";
/// The Debian image's name in the corpus.
pub const DEBIAN: &str = berth_testutil::DEBIAN_IMAGE;

/// Loads the Debian image into the berth root `root` (16 s with a debug
/// berth; the first test on a machine also runs mmdebstrap, 25 s, and an
/// import, 90 s). False (after a SKIPPED line) without mmdebstrap, unless
/// CI forbids skipping.
pub fn load_debian(root: &Path) -> bool {
    if !have_tool("mmdebstrap") {
        return false;
    }
    let berth = Path::new(env!("CARGO_BIN_EXE_berth"));
    berth_testutil::import_debian(berth, root, DEBIAN)
        .unwrap_or_else(|e| panic!("the Debian test image: {e}"));
    true
}

impl Engine {
    /// Adds `deb:12` to the engine's root (it has `bb:1` already); false
    /// when the test must skip (see [`load_debian`]).
    pub fn with_debian(&self) -> bool {
        load_debian(&self.berth.root)
    }
}

/// A berth root with `bb:1`, without an engine's namespaces: what a
/// buildah-only test needs to make base images.
pub fn busybox_root() -> Berth {
    let b = Berth::new();
    let tar = rootfs_tar(b.dir.path());
    b.ok(&["import", tar.to_str().unwrap(), BUSYBOX]);
    b
}

/// A private buildah (see [`Buildah::new`]) holding `images` copied from
/// the berth root `root`; `None` (after a SKIPPED line) without buildah.
pub fn buildah_with(root: &Path, images: &[&str]) -> Option<Buildah> {
    if !have_tool("buildah") {
        return None;
    }
    let b = Buildah::new();
    b.load_from_berth(root, images);
    Some(b)
}

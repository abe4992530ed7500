//! Cache keys. A step's key is the sha256 of the key before it and of
//! everything the step's result depends on, after substitution: the
//! instruction's meaning (not its spelling), the environment and build
//! args a `RUN` sees, the content digest of what a `COPY`/`ADD` reads. A
//! stage's first key is its base image's id, so a changed base, a changed
//! file or a changed build arg invalidates exactly the steps from there
//! on.

use sha2::{Digest as _, Sha256};

/// Bumped when the meaning of keys changes, so old entries never match.
const VERSION: &str = "berth-build-cache-v1";

/// The key of a stage's start.
pub fn base_key(base: Option<&berth_image::Digest>, platform: &str) -> String {
    let image = base
        .map(|d| d.to_string())
        .unwrap_or_else(|| "scratch".into());
    chain("", &[VERSION, "FROM", &image, platform])
}

/// The key after a step: `parent` chained with the step's parts.
pub fn chain(parent: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    for p in parts {
        // Length-prefixed: ["ab", "c"] and ["a", "bc"] differ.
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_chain_and_separate_parts() {
        let a = base_key(None, "linux/amd64");
        assert_eq!(a.len(), 64);
        assert_ne!(chain(&a, &["ab", "c"]), chain(&a, &["a", "bc"]));
        assert_eq!(chain(&a, &["RUN", "x"]), chain(&a, &["RUN", "x"]));
        assert_ne!(
            chain(&a, &["RUN", "x"]),
            chain(&chain(&a, &["ENV"]), &["RUN", "x"])
        );
    }
}

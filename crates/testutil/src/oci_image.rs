//! A one-layer busybox image made locally, for the client tests: the layer
//! tar (what `docker import` takes) and an OCI image-layout archive (what
//! `ctr image import` takes), so no registry is ever contacted.
//!
//! The layout follows the OCI image spec: `oci-layout`, `index.json` and
//! `blobs/sha256/<digest>` for the layer, the config and the manifest. The
//! layer is an uncompressed tar, so its digest is also its `diff_id`.

#[cfg(test)]
use std::fs;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::rootfs::busybox_rootfs;
use crate::tempdir::TempDir;

/// The media types of the blobs this module writes.
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Writes a tar of a fresh [`busybox_rootfs`] to `out`: the one layer of
/// the test image, and a rootfs tar for `docker import`.
pub fn busybox_layer_tar(out: &Path) -> io::Result<()> {
    let tmp = TempDir::new("berth-layer")?;
    let rootfs = tmp.join("rootfs");
    busybox_rootfs(&rootfs)?;
    let mut builder = tar::Builder::new(File::create(out)?);
    // Keep the symlinks as symlinks (every applet is one) and the owners
    // and modes as they are on disk.
    builder.follow_symlinks(false);
    builder.mode(tar::HeaderMode::Complete);
    builder.append_dir_all(".", &rootfs)?;
    builder.into_inner()?.sync_all()
}

/// Writes an OCI image-layout tar to `out` holding one image made of the
/// layer tar `layer`, named `name` (e.g. `docker.io/library/berth-busybox:latest`):
/// the index carries it as `io.containerd.image.name` (what `ctr image
/// import` names the image by) and its tag as
/// `org.opencontainers.image.ref.name`.
pub fn write_oci_archive(layer: &Path, name: &str, out: &Path) -> io::Result<()> {
    let mut layer_bytes = Vec::new();
    File::open(layer)?.read_to_end(&mut layer_bytes)?;
    let layer_digest = sha256_digest(&layer_bytes);

    let config = serde_json::to_vec(&json!({
        "architecture": go_arch(),
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "WorkingDir": "/",
        },
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
    }))?;
    let config_digest = sha256_digest(&config);

    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": CONFIG_MEDIA_TYPE,
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": LAYER_MEDIA_TYPE,
            "digest": layer_digest,
            "size": layer_bytes.len(),
        }],
    }))?;
    let manifest_digest = sha256_digest(&manifest);

    let tag = name.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [{
            "mediaType": MANIFEST_MEDIA_TYPE,
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": { "architecture": go_arch(), "os": "linux" },
            "annotations": {
                "io.containerd.image.name": name,
                "org.opencontainers.image.ref.name": tag,
            },
        }],
    }))?;

    let mut builder = tar::Builder::new(File::create(out)?);
    append_file(
        &mut builder,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    append_file(&mut builder, "index.json", &index)?;
    for (digest, bytes) in [
        (&layer_digest, &layer_bytes[..]),
        (&config_digest, &config[..]),
        (&manifest_digest, &manifest[..]),
    ] {
        let hex = digest.trim_start_matches("sha256:");
        append_file(&mut builder, &format!("blobs/sha256/{hex}"), bytes)?;
    }
    let mut file = builder.into_inner()?;
    file.flush()?;
    file.sync_all()
}

fn append_file(builder: &mut tar::Builder<File>, path: &str, bytes: &[u8]) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append_data(&mut header, path, bytes)
}

/// The image-spec (Go) name of this machine's architecture.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Reads a blob of an image layout on disk; for the tests of this module.
#[cfg(test)]
fn blob(dir: &Path, digest: &str) -> Vec<u8> {
    fs::read(
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn archive_is_a_consistent_image_layout() {
        let tmp = TempDir::new("berth-oci-test").unwrap();
        // Any tar will do as the layer here; the busybox one needs root.
        let layer = tmp.join("layer.tar");
        {
            let mut b = tar::Builder::new(File::create(&layer).unwrap());
            append_file(&mut b, "hello", b"world").unwrap();
            b.finish().unwrap();
        }
        let archive = tmp.join("image.tar");
        write_oci_archive(&layer, "example.com/x/y:v1", &archive).unwrap();
        let out = tmp.join("out");
        tar::Archive::new(File::open(&archive).unwrap())
            .unpack(&out)
            .unwrap();

        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(out.join("index.json")).unwrap()).unwrap();
        let desc = &index["manifests"][0];
        assert_eq!(
            desc["annotations"]["org.opencontainers.image.ref.name"],
            "v1"
        );
        let manifest_bytes = blob(&out, desc["digest"].as_str().unwrap());
        assert_eq!(sha256_digest(&manifest_bytes), desc["digest"]);
        assert_eq!(desc["size"], manifest_bytes.len());

        let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes).unwrap();
        let layer_desc = &manifest["layers"][0];
        let layer_blob = blob(&out, layer_desc["digest"].as_str().unwrap());
        assert_eq!(layer_blob, fs::read(&layer).unwrap());
        assert_eq!(sha256_digest(&layer_blob), layer_desc["digest"]);

        let config_blob = blob(&out, manifest["config"]["digest"].as_str().unwrap());
        let config: serde_json::Value = serde_json::from_slice(&config_blob).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], layer_desc["digest"]);
    }
}

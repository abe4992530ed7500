//! `import`: a root filesystem tar becomes a one-layer image, with config
//! defaults from Dockerfile-style `--change` instructions.

use std::io::{self, Read, Write};

use crate::compression::decompress;
use crate::digest::DigestReader;
use crate::platform::Platform;
use crate::reference::Reference;
use crate::spec::{media, ContainerConfig, Descriptor, History, ImageConfig, Manifest, RootFs};
use crate::store::{ImageStore, Staging};
use crate::{Digest, Error, Result};

/// Applies one `--change` instruction (`CMD ["sh"]`, `CMD=sh -c x`,
/// `ENV A=b`, `ENTRYPOINT`, `WORKDIR`, `USER`, `LABEL`, `EXPOSE`,
/// `VOLUME`, `STOPSIGNAL`) to `config`.
pub fn apply_change(config: &mut ContainerConfig, change: &str) -> Result<()> {
    let change = change.trim();
    let split = change
        .find([' ', '\t', '='])
        .ok_or_else(|| bad(change, "needs a value"))?;
    let (word, value) = (
        change[..split].to_ascii_uppercase(),
        change[split + 1..].trim(),
    );
    if value.is_empty() {
        return Err(bad(change, "needs a value"));
    }
    match word.as_str() {
        "CMD" => config.cmd = Some(command(value, change)?),
        "ENTRYPOINT" => config.entrypoint = Some(command(value, change)?),
        "ENV" => {
            let (k, v) = value
                .split_once('=')
                .or_else(|| value.split_once(' '))
                .ok_or_else(|| bad(change, "wants KEY=VALUE"))?;
            let env = config.env.get_or_insert_with(Vec::new);
            env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.trim()));
            env.push(format!("{}={}", k.trim(), v.trim()));
        }
        "WORKDIR" => config.working_dir = Some(value.to_owned()),
        "USER" => config.user = Some(value.to_owned()),
        "STOPSIGNAL" => config.stop_signal = Some(value.to_owned()),
        "LABEL" => {
            let (k, v) = value
                .split_once('=')
                .ok_or_else(|| bad(change, "wants KEY=VALUE"))?;
            config
                .labels
                .get_or_insert_with(Default::default)
                .insert(k.trim().to_owned(), v.trim().trim_matches('"').to_owned());
        }
        "EXPOSE" => {
            for port in value.split_whitespace() {
                let port = if port.contains('/') {
                    port.to_owned()
                } else {
                    format!("{port}/tcp")
                };
                config
                    .exposed_ports
                    .get_or_insert_with(Default::default)
                    .insert(port, serde_json::json!({}));
            }
        }
        "VOLUME" => {
            let paths = if value.starts_with('[') {
                json_list(value, change)?
            } else {
                value.split_whitespace().map(str::to_owned).collect()
            };
            for p in paths {
                config
                    .volumes
                    .get_or_insert_with(Default::default)
                    .insert(p, serde_json::json!({}));
            }
        }
        _ => {
            return Err(Error::Unsupported {
                what: "--change instruction",
                value: word,
            })
        }
    }
    Ok(())
}

fn bad(change: &str, why: &str) -> Error {
    Error::invalid(format!("--change {change:?}"), why)
}

fn json_list(value: &str, change: &str) -> Result<Vec<String>> {
    serde_json::from_str(value).map_err(|_| bad(change, "is not a JSON array of strings"))
}

/// Exec form (`["a","b"]`) or shell form (`a b` → `/bin/sh -c "a b"`).
fn command(value: &str, change: &str) -> Result<Vec<String>> {
    if value.starts_with('[') {
        json_list(value, change)
    } else {
        Ok(vec!["/bin/sh".into(), "-c".into(), value.into()])
    }
}

/// Options of [`import`].
#[derive(Debug, Default, Clone)]
pub struct ImportOptions {
    pub changes: Vec<String>,
    /// The history comment (`Imported from FILE`).
    pub comment: Option<String>,
    pub platform: Option<Platform>,
}

/// Imports the root filesystem tar `reader` (plain, gzip or zstd) as a
/// new image, tagged `name` when given. Returns the image id.
pub fn import(
    store: &ImageStore,
    reader: impl Read,
    name: Option<&Reference>,
    opts: &ImportOptions,
) -> Result<Digest> {
    let mut container = ContainerConfig::default();
    for c in &opts.changes {
        apply_change(&mut container, c)?;
    }
    let _w = store.writer_lock()?;
    // 1. Recompress as gzip into the content store, hashing the plain tar.
    let (_, plain) = decompress(reader)
        .map_err(|e| Error::invalid("import input", format!("cannot read: {e}")))?;
    let mut plain = DigestReader::new(plain);
    let mut layer = store.content.ingest()?;
    {
        let mut gz = flate2::GzBuilder::new().write(&mut layer, flate2::Compression::default());
        io::copy(&mut plain, &mut gz)
            .map_err(|e| Error::invalid("import input", format!("cannot read: {e}")))?;
        gz.finish()
            .and_then(|w| w.flush())
            .map_err(|e| Error::io("write", layer.path(), e))?;
    }
    let (diff_id, _) = plain.finish();
    let (layer_digest, layer_size) = layer.finish()?;
    // 2. Unpack from the stored copy (checks it is a safe tar, and the
    //    diff id again).
    let file = std::fs::File::open(layer.path()).map_err(|e| Error::io("open", layer.path(), e))?;
    let staged = store.stage_layer(file, &diff_id, None, "imported layer")?;

    // 3. Config and manifest.
    let created = crate::time::now_rfc3339();
    let platform = opts.platform.clone().unwrap_or_else(Platform::host);
    let config = ImageConfig {
        created: Some(created.clone()),
        architecture: platform.architecture.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        config: Some(container),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![diff_id],
        },
        history: vec![History {
            created: Some(created),
            created_by: Some("berth import".into()),
            comment: Some(
                opts.comment
                    .clone()
                    .unwrap_or_else(|| "Imported from -".into()),
            ),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut staging = Staging::default();
    let layers = vec![Descriptor::new(
        media::OCI_LAYER_GZIP,
        layer_digest,
        layer_size,
    )];
    let (config_desc, manifest_desc) = stage_image(store, &mut staging, &config, layers)?;
    staging.blobs.push(layer);
    staging.layers.extend(staged);
    let tags: Vec<Reference> = name.cloned().into_iter().collect();
    store.commit_image(staging, manifest_desc, config_desc.digest, &config, &tags)
}

/// Writes a small JSON blob into staging and returns its descriptor.
pub(crate) fn stage_json(
    store: &ImageStore,
    staging: &mut Staging,
    media_type: &str,
    data: &[u8],
) -> Result<Descriptor> {
    let mut ingest = store.content.ingest()?;
    ingest
        .write_all(data)
        .map_err(|e| Error::io("write", ingest.path(), e))?;
    let (digest, size) = ingest.finish()?;
    staging.blobs.push(ingest);
    Ok(Descriptor::new(media_type, digest, size))
}

/// Stages `config` and an OCI manifest of it with `layers`; returns the
/// config's descriptor (its digest is the image id) and the manifest's.
pub(crate) fn stage_image(
    store: &ImageStore,
    staging: &mut Staging,
    config: &ImageConfig,
    layers: Vec<Descriptor>,
) -> Result<(Descriptor, Descriptor)> {
    let config_raw = serde_json::to_vec(config).map_err(|e| Error::json("image config", e))?;
    let config_desc = stage_json(store, staging, media::OCI_CONFIG, &config_raw)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        config: config_desc.clone(),
        layers,
        annotations: Default::default(),
        extra: Default::default(),
    };
    let manifest_raw = serde_json::to_vec(&manifest).map_err(|e| Error::json("manifest", e))?;
    let manifest_desc = stage_json(store, staging, media::OCI_MANIFEST, &manifest_raw)?;
    Ok((config_desc, manifest_desc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_like_docker_import() {
        let mut c = ContainerConfig::default();
        apply_change(&mut c, r#"CMD ["sh","-c","echo hi"]"#).unwrap();
        apply_change(&mut c, "ENTRYPOINT=/bin/app --flag").unwrap();
        apply_change(&mut c, "ENV A=1").unwrap();
        apply_change(&mut c, "ENV A=2").unwrap();
        apply_change(&mut c, "WORKDIR /srv").unwrap();
        apply_change(&mut c, "EXPOSE 80 53/udp").unwrap();
        assert_eq!(c.cmd.unwrap(), ["sh", "-c", "echo hi"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/bin/app --flag"]);
        assert_eq!(c.env.unwrap(), ["A=2"]);
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert_eq!(
            c.exposed_ports.unwrap().keys().collect::<Vec<_>>(),
            ["53/udp", "80/tcp"]
        );
        assert!(apply_change(&mut ContainerConfig::default(), "ONBUILD RUN x").is_err());
        assert!(apply_change(&mut ContainerConfig::default(), "CMD").is_err());
    }
}

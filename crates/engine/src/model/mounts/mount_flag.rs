//! `--mount KEY=VALUE,...` as Docker takes it: the docker CLI's parser
//! (`opts/mount.go` of the CLI berth's words follow, 28.2) with its flag
//! errors (`invalid argument "SPEC" for "--mount" flag: ...`), then
//! dockerd's checks (`linuxParser.ValidateMountConfig`:
//! `invalid mount config for type "bind": ...`). The existence of a bind
//! source is checked apart ([`super::check_bind_source`]): it reads the
//! host.
//!
//! Not in berth (a clear error each): `type=image`, `volume-subpath`,
//! `bind-recursive=writable|readonly` (the read-only recursion choice),
//! volume drivers other than `local`.

use std::collections::BTreeMap;
use std::path::Path;

use super::csv::csv_fields;
use super::rules::{check_volume_driver, clean_path, validate_volume_name};
use super::{MountKind, MountRequest, Propagation};
use crate::error::{Error, Result};
use crate::model::security::{bad_flag, parse_bytes};

/// The options of one kind of mount, present once any of its keys is
/// given (even to its default): the CLI refuses them on another type.
#[derive(Default)]
struct BindOptions {
    propagation: Option<String>,
    nonrecursive: bool,
    /// `bind-recursive=writable|readonly`.
    recursive_ro: Option<&'static str>,
}

#[derive(Default)]
struct VolumeOptions {
    nocopy: bool,
    labels: BTreeMap<String, String>,
    driver: String,
    opts: BTreeMap<String, String>,
    subpath: Option<String>,
}

#[derive(Default)]
struct TmpfsOptions {
    size: u64,
    mode: u32,
}

#[derive(Default)]
struct Spec {
    kind: String,
    source: String,
    target: String,
    readonly: bool,
    bind: Option<BindOptions>,
    volume: Option<VolumeOptions>,
    tmpfs: Option<TmpfsOptions>,
    image: bool,
}

/// `--mount SPEC`: a bind (its source must exist: no `create_host_path`),
/// a volume (named, or anonymous without a source) or a tmpfs.
pub fn parse_mount(spec: &str) -> Result<MountRequest> {
    let flag = |reason: String| bad_flag("mount", spec, reason);
    let s = parse_fields(spec).map_err(flag)?;
    check_cli(&s).map_err(flag)?;
    let kind = check_daemon(&s)?;
    Ok(request(s, kind))
}

/// The CLI's reading of the fields.
fn parse_fields(spec: &str) -> std::result::Result<Spec, String> {
    // The CLI of 28.2 says "EOF" here; later ones say this.
    if spec.is_empty() {
        return Err("value is empty".into());
    }
    let mut s = Spec {
        kind: "volume".into(),
        ..Default::default()
    };
    for field in csv_fields(spec)? {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), Some(v)),
            None => (field.to_lowercase(), None),
        };
        let invalid = |val: &str| format!("invalid value for {key}: {val}");
        let Some(val) = val else {
            match key.as_str() {
                "readonly" | "ro" => s.readonly = true,
                "volume-nocopy" => s.volume.get_or_insert_with(Default::default).nocopy = true,
                "bind-nonrecursive" => {
                    s.bind.get_or_insert_with(Default::default).nonrecursive = true
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        match key.as_str() {
            "type" => s.kind = val.to_lowercase(),
            "source" | "src" => s.source = val.to_owned(),
            "target" | "dst" | "destination" => s.target = val.to_owned(),
            "readonly" | "ro" => s.readonly = parse_bool(val).ok_or_else(|| invalid(val))?,
            // Docker Desktop's; nothing on Linux.
            "consistency" => {}
            "bind-propagation" => {
                s.bind.get_or_insert_with(Default::default).propagation = Some(val.to_lowercase())
            }
            "bind-nonrecursive" => {
                s.bind.get_or_insert_with(Default::default).nonrecursive =
                    parse_bool(val).ok_or_else(|| invalid(val))?
            }
            "bind-recursive" => {
                let b = s.bind.get_or_insert_with(Default::default);
                match val {
                    "enabled" => {}
                    "disabled" => b.nonrecursive = true,
                    "writable" => b.recursive_ro = Some("writable"),
                    "readonly" => b.recursive_ro = Some("readonly"),
                    _ => {
                        return Err(format!(
                            "invalid value for {key}: {val} (must be \"enabled\", \"disabled\", \
                             \"writable\", or \"readonly\")"
                        ))
                    }
                }
            }
            "volume-subpath" => {
                s.volume.get_or_insert_with(Default::default).subpath = Some(val.to_owned())
            }
            "volume-nocopy" => {
                s.volume.get_or_insert_with(Default::default).nocopy =
                    parse_bool(val).ok_or_else(|| invalid(val))?
            }
            "volume-label" => set_pair(
                &mut s.volume.get_or_insert_with(Default::default).labels,
                val,
            ),
            "volume-driver" => {
                s.volume.get_or_insert_with(Default::default).driver = val.to_owned()
            }
            "volume-opt" => set_pair(&mut s.volume.get_or_insert_with(Default::default).opts, val),
            "image-subpath" => s.image = true,
            "tmpfs-size" => {
                s.tmpfs.get_or_insert_with(Default::default).size =
                    parse_bytes(val).ok_or_else(|| invalid(val))?
            }
            "tmpfs-mode" => {
                // Octal digits only (Rust's parser would take a sign).
                let digits = !val.is_empty() && val.bytes().all(|b| (b'0'..=b'7').contains(&b));
                s.tmpfs.get_or_insert_with(Default::default).mode = u32::from_str_radix(val, 8)
                    .ok()
                    .filter(|_| digits)
                    .ok_or_else(|| invalid(val))?
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    Ok(s)
}

/// The CLI's checks of the whole spec.
fn check_cli(s: &Spec) -> std::result::Result<(), String> {
    if s.kind.is_empty() {
        return Err("type is required".into());
    }
    if s.target.is_empty() {
        return Err("target is required".into());
    }
    let mix = |opts: &str| format!("cannot mix '{opts}-*' options with mount type '{}'", s.kind);
    if s.volume.is_some() && s.kind != "volume" {
        return Err(mix("volume"));
    }
    if s.image && s.kind != "image" {
        return Err(mix("image"));
    }
    if s.bind.is_some() && s.kind != "bind" {
        return Err(mix("bind"));
    }
    if s.tmpfs.is_some() && s.kind != "tmpfs" {
        return Err(mix("tmpfs"));
    }
    if let Some(b) = &s.bind {
        match b.recursive_ro {
            Some(r) if !s.readonly => {
                return Err(format!(
                    "option 'bind-recursive={r}' requires 'readonly' to be specified in conjunction"
                ))
            }
            Some("readonly") if b.propagation.as_deref() != Some("rprivate") => {
                return Err(
                    "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' \
                            to be specified in conjunction"
                        .into(),
                )
            }
            _ => {}
        }
    }
    Ok(())
}

/// dockerd's checks (`invalid mount config for type ...`), then what
/// berth lacks, then the volume's driver and name as dockerd's volume
/// create would refuse them.
fn check_daemon(s: &Spec) -> Result<MountKind> {
    let config = |why: String| {
        Error::BadRequest(format!("invalid mount config for type {:?}: {why}", s.kind))
    };
    if clean_path(&s.target) == "/" {
        return Err(config(
            "invalid specification: destination can't be '/'".into(),
        ));
    }
    let absolute = |p: &str| match p.starts_with('/') {
        true => Ok(()),
        false => Err(config(format!(
            "invalid mount path: '{p}' mount path must be absolute"
        ))),
    };
    absolute(&s.target)?;
    let kind = match s.kind.as_str() {
        "bind" => {
            if s.source.is_empty() {
                return Err(config("field Source must not be empty".into()));
            }
            if let Some(p) = s.bind.as_ref().and_then(|b| b.propagation.as_deref()) {
                if Propagation::parse(p).is_none() {
                    return Err(config(format!("invalid propagation mode: {p}")));
                }
            }
            absolute(&s.source)?;
            if let Some(r) = s.bind.as_ref().and_then(|b| b.recursive_ro) {
                return Err(unsupported(format!("bind-recursive={r}")));
            }
            MountKind::Bind
        }
        "volume" => {
            let anonymous = s.source.is_empty();
            if let Some(sub) = s.volume.as_ref().and_then(|v| v.subpath.as_deref()) {
                if anonymous {
                    return Err(config(
                        "must not set Subpath when using anonymous volumes".into(),
                    ));
                }
                if !is_local(sub) {
                    return Err(config(
                        "subpath must be a relative path within the volume".into(),
                    ));
                }
            }
            if s.readonly && anonymous {
                return Err(config(
                    "must not set ReadOnly mode when using anonymous volumes".into(),
                ));
            }
            if let Some(sub) = s.volume.as_ref().and_then(|v| v.subpath.as_deref()) {
                return Err(unsupported(format!("volume-subpath={sub}")));
            }
            let driver = s.volume.as_ref().map_or("", |v| v.driver.as_str());
            check_volume_driver(driver, &s.source)?;
            if !anonymous {
                validate_volume_name(&s.source)?;
            }
            MountKind::Volume
        }
        "tmpfs" => {
            if !s.source.is_empty() {
                return Err(config("field Source must not be specified".into()));
            }
            MountKind::Tmpfs
        }
        "image" => {
            return Err(Error::Unsupported {
                what: "mount type",
                value: "image".into(),
            })
        }
        _ => return Err(config("mount type unknown".into())),
    };
    Ok(kind)
}

fn unsupported(option: String) -> Error {
    Error::Unsupported {
        what: "--mount option",
        value: option,
    }
}

fn request(s: Spec, kind: MountKind) -> MountRequest {
    let bind = s.bind.unwrap_or_default();
    let volume = s.volume.unwrap_or_default();
    let tmpfs = s.tmpfs.unwrap_or_default();
    MountRequest {
        kind,
        source: match kind {
            MountKind::Bind => clean_path(&s.source),
            _ => s.source,
        },
        target: clean_path(&s.target),
        readonly: s.readonly,
        propagation: bind.propagation.as_deref().and_then(Propagation::parse),
        bind_nonrecursive: bind.nonrecursive,
        create_host_path: false,
        volume_nocopy: volume.nocopy,
        volume_opts: volume.opts,
        volume_labels: volume.labels,
        // dockerd leaves a zero size or mode to the kernel's defaults.
        tmpfs_size: Some(tmpfs.size).filter(|n| *n != 0),
        tmpfs_mode: Some(tmpfs.mode).filter(|m| *m != 0),
        mode: String::new(),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `k=v` into a map; an empty key is dropped (the CLI's `setValueOnMap`).
fn set_pair(map: &mut BTreeMap<String, String>, kv: &str) {
    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
    if !k.is_empty() {
        map.insert(k.to_owned(), v.to_owned());
    }
}

/// Go's `filepath.IsLocal` on Unix: relative, not empty, not leaving its
/// directory.
fn is_local(p: &str) -> bool {
    if p.is_empty() || p.starts_with('/') {
        return false;
    }
    let c = clean_path(p);
    c != ".." && !c.starts_with("../")
}

/// The docker CLI's rewrite of a `--mount` source starting with `.`: made
/// absolute against `cwd`. A spec it cannot read is returned as given
/// (its error comes from [`parse_mount`]).
pub fn absolute_mount_source(spec: &str, cwd: &Path) -> String {
    let Ok(fields) = csv_fields(spec) else {
        return spec.to_owned();
    };
    let mut changed = false;
    let fields: Vec<String> = fields
        .into_iter()
        .map(|f| match f.split_once('=') {
            Some((k, v))
                if matches!(k.to_lowercase().as_str(), "source" | "src") && v.starts_with('.') =>
            {
                changed = true;
                format!("{k}={}", clean_path(&format!("{}/{v}", cwd.display())))
            }
            _ => f,
        })
        .collect();
    if !changed {
        return spec.to_owned();
    }
    fields
        .iter()
        .map(|f| match f.contains([',', '"', '\n']) {
            true => format!("\"{}\"", f.replace('"', "\"\"")),
            false => f.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    /// The CLI's flag error around `reason`.
    fn flag(spec: &str, reason: &str) -> String {
        format!("invalid argument {spec:?} for \"--mount\" flag: {reason}")
    }

    #[test]
    fn bind_needs_an_existing_source() {
        let r = parse_mount("type=bind,source=/srv/x/,target=/data").unwrap();
        assert_eq!(r.kind, MountKind::Bind);
        assert_eq!(r.source, "/srv/x");
        assert_eq!(r.target, "/data");
        assert!(!r.create_host_path);
        assert!(!r.readonly);
        assert_eq!(r.propagation, None);
        assert_eq!(r.mode, "");
    }

    #[test]
    fn key_aliases() {
        for spec in [
            "type=bind,src=/h,dst=/c",
            "type=bind,source=/h,destination=/c",
            "TYPE=BIND,Source=/h,Target=/c",
        ] {
            let r = parse_mount(spec).unwrap();
            assert_eq!(
                (r.source.as_str(), r.target.as_str()),
                ("/h", "/c"),
                "{spec}"
            );
        }
    }

    #[test]
    fn default_type_is_volume() {
        let r = parse_mount("source=v1,target=/d").unwrap();
        assert_eq!(r.kind, MountKind::Volume);
        assert_eq!(r.source, "v1");
        let r = parse_mount("target=/d").unwrap();
        assert!(r.is_anonymous());
    }

    #[test]
    fn readonly_forms() {
        for spec in ["ro", "readonly", "ro=true", "readonly=1", "ro=T", "ro=True"] {
            let r = parse_mount(&format!("type=bind,src=/h,dst=/c,{spec}")).unwrap();
            assert!(r.readonly, "{spec}");
        }
        for spec in ["ro=false", "readonly=0", "ro=F"] {
            let r = parse_mount(&format!("type=bind,src=/h,dst=/c,{spec}")).unwrap();
            assert!(!r.readonly, "{spec}");
        }
        let spec = "type=volume,src=v1,dst=/c,readonly=no";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(spec, "invalid value for readonly: no")
        );
    }

    #[test]
    fn bind_options() {
        let r = parse_mount("type=bind,src=/h,dst=/c,bind-propagation=RSHARED,bind-nonrecursive")
            .unwrap();
        assert_eq!(r.propagation, Some(Propagation::Rshared));
        assert!(r.bind_nonrecursive);
        let r = parse_mount("type=bind,src=/h,dst=/c,bind-nonrecursive=false").unwrap();
        assert!(!r.bind_nonrecursive);
        let r = parse_mount("type=bind,src=/h,dst=/c,bind-recursive=disabled").unwrap();
        assert!(r.bind_nonrecursive);
        let r = parse_mount("type=bind,src=/h,dst=/c,bind-recursive=enabled").unwrap();
        assert!(!r.bind_nonrecursive);
    }

    #[test]
    fn bad_propagation_is_dockerds_error() {
        assert_eq!(
            msg(parse_mount(
                "type=bind,src=/h,dst=/c,bind-propagation=bogus"
            )),
            "invalid mount config for type \"bind\": invalid propagation mode: bogus"
        );
    }

    #[test]
    fn bind_recursive_values() {
        let spec = "type=bind,src=/h,dst=/c,bind-recursive=maybe";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(
                spec,
                "invalid value for bind-recursive: maybe (must be \"enabled\", \"disabled\", \
                 \"writable\", or \"readonly\")"
            )
        );
        let spec = "type=bind,src=/h,dst=/c,bind-recursive=writable";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(
                spec,
                "option 'bind-recursive=writable' requires 'readonly' to be specified in \
                 conjunction"
            )
        );
        let spec = "type=bind,src=/h,dst=/c,bind-recursive=readonly,ro";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(
                spec,
                "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be \
                 specified in conjunction"
            )
        );
        // Well-formed, but not in berth: said so.
        assert_eq!(
            msg(parse_mount(
                "type=bind,src=/h,dst=/c,bind-recursive=writable,ro"
            )),
            "unsupported --mount option: bind-recursive=writable"
        );
    }

    #[test]
    fn volume_options() {
        let r = parse_mount(
            "type=volume,src=v1,dst=/d,volume-nocopy,volume-opt=type=tmpfs,volume-opt=device=tmpfs,\
             volume-opt=o=size=1m,volume-label=a=b,volume-label=c,volume-driver=local",
        )
        .unwrap();
        assert!(r.volume_nocopy);
        assert_eq!(r.volume_opts["type"], "tmpfs");
        assert_eq!(r.volume_opts["device"], "tmpfs");
        assert_eq!(r.volume_opts["o"], "size=1m");
        assert_eq!(r.volume_labels["a"], "b");
        assert_eq!(r.volume_labels["c"], "");
        let r = parse_mount("type=volume,src=v1,dst=/d,volume-nocopy=false").unwrap();
        assert!(!r.volume_nocopy);
        let spec = "type=volume,src=v1,dst=/d,volume-nocopy=sure";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(spec, "invalid value for volume-nocopy: sure")
        );
    }

    #[test]
    fn quoted_fields_hold_commas() {
        let r = parse_mount("type=volume,src=v1,dst=/d,\"volume-opt=o=addr=10.0.0.1,nfsvers=4\"")
            .unwrap();
        assert_eq!(r.volume_opts["o"], "addr=10.0.0.1,nfsvers=4");
        let r = parse_mount("type=volume,src=v1,dst=/d,\"volume-label=x=a\"\"b\"").unwrap();
        assert_eq!(r.volume_labels["x"], "a\"b");
    }

    #[test]
    fn csv_errors_are_gos() {
        let spec = "type=bind,src=/h\"x,dst=/c";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(
                spec,
                "parse error on line 1, column 17: bare \" in non-quoted-field"
            )
        );
        // Columns as the docker CLI 28.2 reports them.
        let spec = "type=bind,\"src=/h";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(
                spec,
                "parse error on line 1, column 18: extraneous or missing \" in quoted-field"
            )
        );
        let spec = "\"type=bind\"x,src=/h";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(
                spec,
                "parse error on line 1, column 11: extraneous or missing \" in quoted-field"
            )
        );
    }

    #[test]
    fn only_the_local_volume_driver() {
        assert_eq!(
            msg(parse_mount("type=volume,src=v1,dst=/d,volume-driver=nfs")),
            "create v1: error looking up volume plugin nfs: plugin \"nfs\" not found \
             (berth has only the \"local\" volume driver)"
        );
        assert!(parse_mount("type=volume,dst=/d,volume-driver=x")
            .unwrap_err()
            .to_string()
            .starts_with("error looking up volume plugin x"));
    }

    #[test]
    fn volume_name_rule() {
        assert!(msg(parse_mount("type=volume,src=bad/name,dst=/d"))
            .starts_with("create bad/name: \"bad/name\" includes invalid characters"));
        // A path is no volume name either.
        assert!(msg(parse_mount("type=volume,src=/abs,dst=/d")).contains("invalid characters"));
    }

    #[test]
    fn anonymous_volume_cannot_be_readonly() {
        assert_eq!(
            msg(parse_mount("type=volume,dst=/d,ro")),
            "invalid mount config for type \"volume\": must not set ReadOnly mode when using \
             anonymous volumes"
        );
        assert!(
            parse_mount("type=volume,src=v1,dst=/d,ro")
                .unwrap()
                .readonly
        );
    }

    #[test]
    fn volume_subpath() {
        assert_eq!(
            msg(parse_mount("type=volume,dst=/d,volume-subpath=x")),
            "invalid mount config for type \"volume\": must not set Subpath when using \
             anonymous volumes"
        );
        assert_eq!(
            msg(parse_mount("type=volume,src=v1,dst=/d,volume-subpath=../x")),
            "invalid mount config for type \"volume\": subpath must be a relative path within \
             the volume"
        );
        assert_eq!(
            msg(parse_mount("type=volume,src=v1,dst=/d,volume-subpath=a/b")),
            "unsupported --mount option: volume-subpath=a/b"
        );
    }

    #[test]
    fn tmpfs_options() {
        let r = parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        assert_eq!(r.kind, MountKind::Tmpfs);
        assert_eq!(r.tmpfs_size, Some(64 << 20));
        assert_eq!(r.tmpfs_mode, Some(0o1770));
        assert_eq!(r.source, "");
        let r = parse_mount("type=tmpfs,dst=/t,tmpfs-size=0,ro").unwrap();
        assert_eq!(r.tmpfs_size, None);
        assert_eq!(r.tmpfs_mode, None);
        assert!(r.readonly);
        let spec = "type=tmpfs,dst=/t,tmpfs-size=lots";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(spec, "invalid value for tmpfs-size: lots")
        );
        for mode in ["789", "+7", "", "0x1ff"] {
            let spec = format!("type=tmpfs,dst=/t,tmpfs-mode={mode}");
            assert!(msg(parse_mount(&spec)).contains("for tmpfs-mode"), "{mode}");
        }
        assert_eq!(
            msg(parse_mount("type=tmpfs,src=x,dst=/t")),
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
    }

    #[test]
    fn unknown_key_and_bare_field() {
        let spec = "type=volume,Bogus=foo,dst=/d";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(spec, "unexpected key 'bogus' in 'Bogus=foo'")
        );
        let spec = "type=volume,bogus,dst=/d";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(spec, "invalid field 'bogus' must be a key=value pair")
        );
        // An empty field is a bare field too.
        let spec = "type=volume,,dst=/d";
        assert_eq!(
            msg(parse_mount(spec)),
            flag(spec, "invalid field '' must be a key=value pair")
        );
        assert_eq!(msg(parse_mount("")), flag("", "value is empty"));
    }

    #[test]
    fn target_and_type_required() {
        let spec = "type=volume,src=v1";
        assert_eq!(msg(parse_mount(spec)), flag(spec, "target is required"));
        let spec = "type=,dst=/d";
        assert_eq!(msg(parse_mount(spec)), flag(spec, "type is required"));
    }

    #[test]
    fn options_of_another_type() {
        for (spec, reason) in [
            (
                "type=bind,src=/h,dst=/c,volume-nocopy=true",
                "cannot mix 'volume-*' options with mount type 'bind'",
            ),
            (
                "type=volume,dst=/c,bind-propagation=rprivate",
                "cannot mix 'bind-*' options with mount type 'volume'",
            ),
            (
                "type=bind,src=/h,dst=/c,tmpfs-size=1m",
                "cannot mix 'tmpfs-*' options with mount type 'bind'",
            ),
            (
                "type=tmpfs,dst=/c,volume-driver=local",
                "cannot mix 'volume-*' options with mount type 'tmpfs'",
            ),
            (
                "type=tmpfs,dst=/c,image-subpath=x",
                "cannot mix 'image-*' options with mount type 'tmpfs'",
            ),
        ] {
            assert_eq!(msg(parse_mount(spec)), flag(spec, reason));
        }
    }

    #[test]
    fn destination_rules() {
        assert_eq!(
            msg(parse_mount("type=bind,src=/h,dst=relative")),
            "invalid mount config for type \"bind\": invalid mount path: 'relative' mount path \
             must be absolute"
        );
        assert_eq!(
            msg(parse_mount("type=tmpfs,dst=/x/..")),
            "invalid mount config for type \"tmpfs\": invalid specification: destination can't \
             be '/'"
        );
        assert_eq!(parse_mount("type=tmpfs,dst=/a/../b/").unwrap().target, "/b");
    }

    #[test]
    fn bind_source_rules() {
        assert_eq!(
            msg(parse_mount("type=bind,dst=/c")),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        assert_eq!(
            msg(parse_mount("type=bind,src=rel,dst=/c")),
            "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must \
             be absolute"
        );
    }

    #[test]
    fn types_berth_lacks_or_docker_does_not_know() {
        assert_eq!(
            msg(parse_mount("type=image,src=alpine,dst=/c")),
            "unsupported mount type: image"
        );
        assert_eq!(
            msg(parse_mount("type=npipe,src=x,dst=/c")),
            "invalid mount config for type \"npipe\": mount type unknown"
        );
    }

    #[test]
    fn consistency_accepted() {
        assert!(parse_mount("type=bind,src=/h,dst=/c,consistency=cached").is_ok());
    }

    #[test]
    fn dot_sources_made_absolute_like_the_cli() {
        let cwd = Path::new("/w/p");
        assert_eq!(
            absolute_mount_source("type=bind,src=./d,dst=/c", cwd),
            "type=bind,src=/w/p/d,dst=/c"
        );
        assert_eq!(
            absolute_mount_source("type=bind,Source=..,dst=/c,\"volume-opt=o=a,b\"", cwd),
            "type=bind,Source=/w,dst=/c,\"volume-opt=o=a,b\""
        );
        for same in ["type=bind,src=/h,dst=/c", "src=v1,dst=/c", "src=\"x"] {
            assert_eq!(absolute_mount_source(same, cwd), same);
        }
    }
}

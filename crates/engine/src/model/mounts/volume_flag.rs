//! `-v`/`--volume` and `--volumes-from` as Docker on Linux takes them: the
//! docker CLI's split into fields (`cli/compose/loader/volume.go`), then
//! dockerd's `linuxParser.ParseMountRaw`/`ParseVolumesFrom`, with their
//! words.
//!
//! SELinux relabelling (`z`, `Z`) is accepted and kept in `mode`: dockerd
//! relabels only where SELinux is enabled, and berth runs no SELinux
//! labels. Consistency modes (`consistent`, `cached`, `delegated`) mean
//! nothing on Linux and are accepted.

use std::path::Path;

use super::rules::{clean_path, validate_volume_name};
use super::{MountKind, MountRequest, Propagation};
use crate::error::{Error, Result};

/// One of a mode's comma-separated options, by its kind: a mode may hold
/// at most one of each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ModeKind {
    ReadWrite,
    Label,
    Propagation,
    Copy,
    Consistency,
}

fn mode_kind(option: &str) -> Option<ModeKind> {
    Some(match option {
        "ro" | "rw" => ModeKind::ReadWrite,
        "z" | "Z" => ModeKind::Label,
        "nocopy" => ModeKind::Copy,
        "consistent" | "cached" | "delegated" => ModeKind::Consistency,
        p if Propagation::parse(p).is_some() => ModeKind::Propagation,
        _ => return None,
    })
}

/// dockerd's `linuxValidMountMode`: known options, one of each kind
/// (empty is valid).
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut kinds = Vec::new();
    for o in mode.split(',') {
        match mode_kind(o) {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            _ => return false,
        }
    }
    true
}

fn invalid_spec(spec: &str) -> Error {
    Error::BadRequest(format!("invalid volume specification: '{spec}'"))
}

fn invalid_mode(mode: &str) -> Error {
    Error::BadRequest(format!("invalid mode: {mode}"))
}

/// The docker CLI's reading (`loader.ParseVolume`): a spec of one or two
/// bytes is a destination; otherwise sections split at `:` (a section of
/// one letter before a `:` is a Windows drive and takes the `:` in), none
/// empty, at most three. True when the spec has a source: false is an
/// anonymous volume, the whole spec its destination.
fn cli_has_source(spec: &str) -> Result<bool> {
    let bad = |why: &str| Error::BadRequest(format!("invalid spec: {spec}: {why}"));
    match spec.len() {
        0 => return Err(Error::BadRequest("invalid empty volume spec".into())),
        1 | 2 => return Ok(false),
        _ => {}
    }
    let mut sections = 0;
    let mut buffer = String::new();
    for c in spec.chars().map(Some).chain([None]) {
        let mut one = buffer.chars();
        let drive =
            c == Some(':') && one.next().is_some_and(char::is_alphabetic) && one.next().is_none();
        match c {
            Some(':') if !drive => {}
            None => {}
            Some(ch) => {
                buffer.push(ch);
                continue;
            }
        }
        if buffer.is_empty() {
            return Err(bad("empty section between colons"));
        }
        // A lone section at the end is the destination; a third followed
        // by a `:` is one too many.
        if sections == 0 && c.is_none() {
            return Ok(false);
        }
        if sections == 2 && c.is_some() {
            return Err(bad("too many colons"));
        }
        sections += 1;
        buffer.clear();
    }
    Ok(true)
}

/// dockerd's check of a mount's destination, in the words `-v` wraps.
fn check_target(target: &str) -> std::result::Result<(), String> {
    if target.is_empty() {
        return Err("field Target must not be empty".into());
    }
    if clean_path(target) == "/" {
        return Err("invalid specification: destination can't be '/'".into());
    }
    if !target.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        ));
    }
    Ok(())
}

/// `-v SPEC`: `/host:/ctr[:mode]` (a bind; a missing host directory is
/// created), `name:/ctr[:mode]` (a named volume) or `/ctr` (an anonymous
/// volume). A source not starting with `/` is a volume's name: the docker
/// CLI makes `./x` absolute before ([`absolute_volume_source`]).
pub fn parse_volume(spec: &str) -> Result<MountRequest> {
    // The docker CLI sends a lone destination as an anonymous volume,
    // the rest as binds that dockerd splits again, on the raw spec.
    let (source, target, mode) = if !cli_has_source(spec)? {
        // dockerd's rules for a destination still hold (a relative one
        // would be resolved nowhere).
        ("", spec, "")
    } else {
        let f: Vec<&str> = spec.splitn(4, ':').collect();
        match f[..] {
            [_, second] if valid_mode(second) => return Err(invalid_spec(spec)),
            [source, target] => (source, target, ""),
            [source, target, mode] => (source, target, mode),
            _ => return Err(invalid_spec(spec)),
        }
    };
    if !valid_mode(mode) {
        return Err(invalid_mode(mode));
    }
    let options: Vec<&str> = mode.split(',').collect();
    let kind = if source.starts_with('/') {
        MountKind::Bind
    } else {
        MountKind::Volume
    };
    let propagation = options.iter().find_map(|o| Propagation::parse(o));
    let nocopy = options.contains(&"nocopy");
    let wrapped = |why: String| {
        Error::BadRequest(format!(
            "invalid volume specification: '{spec}': invalid mount config for type \"{}\": {why}",
            kind.as_str()
        ))
    };
    check_target(target).map_err(wrapped)?;
    // dockerd keeps `nocopy` as volume options and a propagation as bind
    // options, and refuses each on the other type.
    if kind == MountKind::Bind && nocopy {
        return Err(wrapped("field VolumeOptions must not be specified".into()));
    }
    if kind == MountKind::Volume && propagation.is_some() {
        return Err(wrapped("field BindOptions must not be specified".into()));
    }
    if kind == MountKind::Volume && !source.is_empty() {
        validate_volume_name(source)?;
    }
    Ok(MountRequest {
        kind,
        source: match kind {
            MountKind::Bind => clean_path(source),
            _ => source.to_owned(),
        },
        target: clean_path(target),
        readonly: options.contains(&"ro"),
        propagation,
        create_host_path: kind == MountKind::Bind,
        volume_nocopy: nocopy,
        mode: mode.to_owned(),
        ..Default::default()
    })
}

/// The docker CLI's rewrite of a `-v` whose host part starts with `.`:
/// made absolute against `cwd` (`./data:/x`, `..:/x`). Anything else is
/// returned as given.
pub fn absolute_volume_source(spec: &str, cwd: &Path) -> String {
    let host = spec.split_once(':').map_or(spec, |(host, _)| host);
    if !host.starts_with('.') || !matches!(cli_has_source(spec), Ok(true)) {
        return spec.to_owned();
    }
    let abs = clean_path(&format!("{}/{host}", cwd.display()));
    format!("{abs}{}", &spec[host.len()..])
}

/// `--volumes-from CONTAINER[:MODE]`: the container, and `Some(true)` for
/// `ro` (every mount read-only), `Some(false)` for `rw` (each mount as the
/// container has it, as without a mode). dockerd accepts the label and
/// consistency options too; a propagation or `nocopy` is an invalid mode.
pub fn parse_volumes_from(spec: &str) -> Result<(String, Option<bool>)> {
    if spec.is_empty() {
        return Err(Error::BadRequest(
            "volumes-from specification cannot be an empty string".into(),
        ));
    }
    let (id, mode) = spec.split_once(':').unwrap_or((spec, ""));
    if mode.is_empty() {
        return Ok((id.to_owned(), None));
    }
    let refused = |o: &str| matches!(mode_kind(o), Some(ModeKind::Propagation | ModeKind::Copy));
    if !valid_mode(mode) || mode.split(',').any(refused) {
        return Err(invalid_mode(mode));
    }
    let options: Vec<&str> = mode.split(',').collect();
    let rw = if options.contains(&"ro") {
        Some(true)
    } else if options.contains(&"rw") {
        Some(false)
    } else {
        None
    };
    Ok((id.to_owned(), rw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn host_path_is_a_bind_that_creates_its_source() {
        let r = parse_volume("/srv/data:/data").unwrap();
        assert_eq!(r.kind, MountKind::Bind);
        assert_eq!(r.source, "/srv/data");
        assert_eq!(r.target, "/data");
        assert!(r.create_host_path);
        assert!(!r.readonly);
        assert_eq!(r.propagation, None);
        assert_eq!(r.mode, "");
    }

    #[test]
    fn name_is_a_named_volume() {
        let r = parse_volume("db-data:/var/lib/db").unwrap();
        assert_eq!(r.kind, MountKind::Volume);
        assert_eq!(r.source, "db-data");
        assert_eq!(r.target, "/var/lib/db");
        assert!(!r.create_host_path);
        assert!(!r.is_anonymous());
    }

    #[test]
    fn lone_destination_is_an_anonymous_volume() {
        let r = parse_volume("/cache").unwrap();
        assert!(r.is_anonymous());
        assert_eq!(r.target, "/cache");
        assert_eq!(parse_volume("/a").unwrap().target, "/a");
    }

    #[test]
    fn paths_are_cleaned() {
        let r = parse_volume("/srv/../data//x/:/a/../b/").unwrap();
        assert_eq!(r.source, "/data/x");
        assert_eq!(r.target, "/b");
        assert_eq!(parse_volume("/x/./y/").unwrap().target, "/x/y");
    }

    #[test]
    fn ro_rw_and_mode_kept() {
        let r = parse_volume("/h:/c:ro").unwrap();
        assert!(r.readonly);
        assert_eq!(r.mode, "ro");
        let r = parse_volume("v1:/c:rw,nocopy").unwrap();
        assert!(!r.readonly);
        assert!(r.volume_nocopy);
        assert_eq!(r.mode, "rw,nocopy");
    }

    #[test]
    fn selinux_labels_accepted_without_selinux() {
        for m in ["z", "Z", "ro,z", "Z,rshared"] {
            let r = parse_volume(&format!("/h:/c:{m}")).unwrap();
            assert_eq!(r.mode, m);
        }
        assert!(parse_volume("v1:/c:Z").is_ok());
    }

    #[test]
    fn consistency_accepted_and_ignored() {
        for m in ["consistent", "cached", "delegated", "ro,cached"] {
            assert!(parse_volume(&format!("/h:/c:{m}")).is_ok(), "{m}");
        }
    }

    #[test]
    fn propagation_on_binds() {
        for p in [
            "shared", "rshared", "slave", "rslave", "private", "rprivate",
        ] {
            let r = parse_volume(&format!("/h:/c:ro,{p}")).unwrap();
            assert_eq!(r.propagation.unwrap().as_str(), p);
            assert!(r.readonly);
        }
    }

    #[test]
    fn propagation_on_a_volume_is_dockers_error() {
        assert_eq!(
            msg(parse_volume("v1:/c:rshared")),
            "invalid volume specification: 'v1:/c:rshared': invalid mount config for type \
             \"volume\": field BindOptions must not be specified"
        );
    }

    #[test]
    fn nocopy_on_a_bind_is_dockers_error() {
        assert_eq!(
            msg(parse_volume("/h:/c:nocopy")),
            "invalid volume specification: '/h:/c:nocopy': invalid mount config for type \
             \"bind\": field VolumeOptions must not be specified"
        );
    }

    #[test]
    fn unknown_or_repeated_mode_options() {
        assert_eq!(msg(parse_volume("/h:/c:bogus")), "invalid mode: bogus");
        assert_eq!(msg(parse_volume("/h:/c:ro,rw")), "invalid mode: ro,rw");
        assert_eq!(msg(parse_volume("/h:/c:z,Z")), "invalid mode: z,Z");
        assert_eq!(
            msg(parse_volume("/h:/c:shared,rslave")),
            "invalid mode: shared,rslave"
        );
        assert_eq!(msg(parse_volume("/h:/c:ro,")), "invalid mode: ro,");
    }

    #[test]
    fn destination_and_mode_only_is_invalid() {
        // `/foo:ro` is no volume: volumes cannot be given a mode alone.
        assert_eq!(
            msg(parse_volume("/foo:ro")),
            "invalid volume specification: '/foo:ro'"
        );
        assert_eq!(
            msg(parse_volume("v1:rw")),
            "invalid volume specification: 'v1:rw'"
        );
    }

    #[test]
    fn relative_destination() {
        assert_eq!(
            msg(parse_volume("/a:relative")),
            "invalid volume specification: '/a:relative': invalid mount config for type \
             \"bind\": invalid mount path: 'relative' mount path must be absolute"
        );
        assert_eq!(
            msg(parse_volume("v1:rel/x:ro")),
            "invalid volume specification: 'v1:rel/x:ro': invalid mount config for type \
             \"volume\": invalid mount path: 'rel/x' mount path must be absolute"
        );
        assert_eq!(
            msg(parse_volume("relative")),
            "invalid volume specification: 'relative': invalid mount config for type \
             \"volume\": invalid mount path: 'relative' mount path must be absolute"
        );
    }

    #[test]
    fn root_destination_refused() {
        for spec in ["/", "/h:/", "v1:/..", "//"] {
            let e = msg(parse_volume(spec));
            assert!(
                e.ends_with("invalid specification: destination can't be '/'"),
                "{spec}: {e}"
            );
        }
        assert_eq!(
            msg(parse_volume("/h:/")),
            "invalid volume specification: '/h:/': invalid mount config for type \"bind\": \
             invalid specification: destination can't be '/'"
        );
    }

    #[test]
    fn relative_source_is_a_volume_name() {
        assert_eq!(
            msg(parse_volume("relative/x:/y")),
            "create relative/x: \"relative/x\" includes invalid characters for a local volume \
             name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a \
             host directory, use absolute path"
        );
        assert!(msg(parse_volume("./x:/y")).contains("includes invalid characters"));
        assert!(msg(parse_volume("~/x:/y")).contains("includes invalid characters"));
        assert!(msg(parse_volume("é/:/y")).contains("includes invalid characters"));
        // "relative" is a fine name.
        assert_eq!(parse_volume("relative:/x").unwrap().source, "relative");
    }

    #[test]
    fn the_clis_field_errors() {
        assert_eq!(msg(parse_volume("")), "invalid empty volume spec");
        assert_eq!(
            msg(parse_volume("/a::/b")),
            "invalid spec: /a::/b: empty section between colons"
        );
        assert_eq!(
            msg(parse_volume("ab::/b")),
            "invalid spec: ab::/b: empty section between colons"
        );
        assert_eq!(
            msg(parse_volume(":/x")),
            "invalid spec: :/x: empty section between colons"
        );
        assert_eq!(
            msg(parse_volume("/a:/b:")),
            "invalid spec: /a:/b:: empty section between colons"
        );
        assert_eq!(
            msg(parse_volume("/a:/b:ro:x")),
            "invalid spec: /a:/b:ro:x: too many colons"
        );
        // The fourth field is too many even when empty.
        assert_eq!(
            msg(parse_volume("/a:/b:ro:")),
            "invalid spec: /a:/b:ro:: too many colons"
        );
    }

    #[test]
    fn one_letter_sections_are_windows_drives_to_the_cli() {
        // The CLI reads `a:/x` as one destination: an anonymous volume
        // at a relative path.
        assert_eq!(
            msg(parse_volume("a:/x")),
            "invalid volume specification: 'a:/x': invalid mount config for type \"volume\": \
             invalid mount path: 'a:/x' mount path must be absolute"
        );
        // `a::b` passes the CLI (`a:` then `b`); dockerd splits it into
        // `a`, ``, `b`.
        assert_eq!(msg(parse_volume("a::b")), "invalid mode: b");
        assert_eq!(
            msg(parse_volume("a::ro")),
            "invalid volume specification: 'a::ro': invalid mount config for type \"volume\": \
             field Target must not be empty"
        );
        // `c:/a:/b:ro` passes the CLI; dockerd finds four fields.
        assert_eq!(
            msg(parse_volume("c:/a:/b:ro")),
            "invalid volume specification: 'c:/a:/b:ro'"
        );
        // A one-letter section in the middle too: dockerd takes `/c` as
        // the mode.
        assert_eq!(msg(parse_volume("/h:b:/c")), "invalid mode: /c");
    }

    #[test]
    fn the_target_is_checked_before_the_name() {
        // dockerd parses the spec before it creates the volume.
        assert!(msg(parse_volume("bad/name:rel")).contains("mount path must be absolute"));
        assert!(msg(parse_volume("bad/name:/x:bogus")).contains("invalid mode"));
    }

    #[test]
    fn dot_sources_made_absolute_like_the_cli() {
        let cwd = Path::new("/home/u/proj");
        assert_eq!(
            absolute_volume_source("./data:/x:ro", cwd),
            "/home/u/proj/data:/x:ro"
        );
        assert_eq!(absolute_volume_source("..:/x", cwd), "/home/u:/x");
        assert_eq!(absolute_volume_source(".:/x", cwd), "/home/u/proj:/x");
        for unchanged in ["/abs:/x", "vol:/x", "/x", "./a::b", ".x", "."] {
            assert_eq!(absolute_volume_source(unchanged, cwd), unchanged);
        }
        // `.name` is a path to the CLI too.
        assert_eq!(
            absolute_volume_source(".hidden:/x", cwd),
            "/home/u/proj/.hidden:/x"
        );
    }

    #[test]
    fn volumes_from_modes() {
        assert_eq!(parse_volumes_from("c1").unwrap(), ("c1".into(), None));
        assert_eq!(
            parse_volumes_from("c1:ro").unwrap(),
            ("c1".into(), Some(true))
        );
        assert_eq!(
            parse_volumes_from("c1:rw").unwrap(),
            ("c1".into(), Some(false))
        );
        assert_eq!(
            parse_volumes_from("c1:ro,z").unwrap(),
            ("c1".into(), Some(true))
        );
        assert_eq!(parse_volumes_from("c1:Z").unwrap(), ("c1".into(), None));
        assert_eq!(msg(parse_volumes_from("c1:bogus")), "invalid mode: bogus");
        assert_eq!(
            msg(parse_volumes_from("c1:rshared")),
            "invalid mode: rshared"
        );
        assert_eq!(
            msg(parse_volumes_from("c1:ro,nocopy")),
            "invalid mode: ro,nocopy"
        );
        assert_eq!(msg(parse_volumes_from("c1:ro,rw")), "invalid mode: ro,rw");
        assert_eq!(
            msg(parse_volumes_from("")),
            "volumes-from specification cannot be an empty string"
        );
    }
}

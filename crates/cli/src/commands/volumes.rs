//! `berth volume create|ls|inspect|rm|prune`, printed as `docker volume`
//! prints. Docker's CLI exits 125 for a bad flag and 1 for what its daemon
//! refuses (`output::exit_1`).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use berth_engine::model::mounts::Volume;
use berth_engine::ops::volume::{VolumeCreate, VolumeFilters, VolumePruneFilter};
use berth_engine::Engine;
use serde_json::{json, Value};

use super::system::confirm;
use crate::args::*;
use crate::output::{exit_1, human_size, render_rows, Template};

pub fn run(root: &Path, command: VolumeCommand) -> Result<()> {
    match command {
        VolumeCommand::Create(a) => create(root, a),
        VolumeCommand::Ls(a) => ls(root, a),
        VolumeCommand::Inspect(a) => inspect(root, a),
        VolumeCommand::Rm(a) => rm(root, a),
        VolumeCommand::Prune(a) => prune(root, a),
    }
}

/// docker/cli's flag error.
fn flag_error(value: &str, flag: &str, reason: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("invalid argument \"{value}\" for \"{flag}\" flag: {reason}")
}

/// `--filter K=V` as docker/cli reads it: the key lower-cased, both
/// trimmed, an empty one ignored.
fn filter_pairs(raw: &[String], flag: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for f in raw.iter().filter(|f| !f.is_empty()) {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| flag_error(f, flag, "bad format of filter (expected name=value)"))?;
        pairs.push((k.trim().to_lowercase(), v.trim().to_owned()));
    }
    Ok(pairs)
}

/// `k=v` (a bare `k` is `k=`), as docker/cli's `MapOpts`; labels are
/// checked as its `ValidateLabel` does.
fn pairs(items: &[String], flag: Option<&str>) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for i in items {
        let (k, v) = i.split_once('=').unwrap_or((i, ""));
        if let Some(flag) = flag {
            let key = k.trim_start_matches([' ', '\t']);
            if key.is_empty() {
                return Err(flag_error(
                    i,
                    flag,
                    format!("invalid label '{i}': empty name"),
                ));
            }
            if key.contains([' ', '\t']) {
                return Err(flag_error(
                    i,
                    flag,
                    format!("label '{key}' contains whitespaces"),
                ));
            }
        }
        map.insert(k.to_owned(), v.to_owned());
    }
    Ok(map)
}

fn create(root: &Path, a: VolumeCreateArgs) -> Result<()> {
    let o = VolumeCreate {
        name: String::new(),
        driver: a.driver,
        options: pairs(&a.opt, None)?,
        labels: pairs(&a.label, Some("--label"))?,
    };
    let done = (|| {
        let name = match (a.volume, a.name) {
            (Some(_), Some(_)) => bail!("conflicting options: cannot specify a volume-name through both --name and as a positional arg"),
            (v, n) => v.or(n).unwrap_or_default(),
        };
        let mut engine = Engine::open(root)?;
        let v = engine.create_volume(&VolumeCreate { name, ..o })?;
        println!("{}", v.name);
        Ok(())
    })();
    exit_1(done.err())
}

/// Docker's `sortorder.NaturalLess`: digit runs compare as numbers and
/// come before other characters.
fn natural(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da != db {
            return if da {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if !da {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
            continue;
        }
        let zeros = |s: &[u8], mut k: usize| {
            while k < s.len() && s[k] == b'0' {
                k += 1;
            }
            k
        };
        let digits = |s: &[u8], mut k: usize| {
            while k < s.len() && s[k].is_ascii_digit() {
                k += 1;
            }
            k
        };
        let (nz_a, nz_b) = (zeros(a, i), zeros(b, j));
        let (end_a, end_b) = (digits(a, nz_a), digits(b, nz_b));
        let order = (end_a - nz_a)
            .cmp(&(end_b - nz_b))
            .then_with(|| a[nz_a..end_a].cmp(&b[nz_b..end_b]))
            .then_with(|| nz_a.cmp(&nz_b));
        if order != Ordering::Equal {
            return order;
        }
        (i, j) = (end_a, end_b);
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// One `volume ls` row: docker/cli's volume context (the fields of
/// cluster volumes and of `system df` are `N/A` here, as there).
fn row(engine: &Engine, v: &Volume) -> Value {
    let labels: Vec<String> = v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "Availability": "N/A",
        "Driver": v.driver,
        "Group": "N/A",
        "Labels": labels.join(","),
        "Links": "N/A",
        "Mountpoint": engine.volume_path(&v.name).display().to_string(),
        "Name": v.name,
        "Scope": "local",
        "Size": "N/A",
        "Status": "N/A",
    })
}

/// docker/cli's column titles for volumes.
fn title(field: &str) -> String {
    match field {
        "Name" => "VOLUME NAME".into(),
        other => other.to_uppercase(),
    }
}

fn ls(root: &Path, a: VolumeLsArgs) -> Result<()> {
    let pairs = filter_pairs(&a.filters, "-f, --filter")?;
    let done = (|| {
        let filters = VolumeFilters::new(&pairs)?;
        let engine = Engine::open(root)?;
        let mut volumes = engine.volumes(&filters)?;
        volumes.sort_by(|x, y| natural(&x.name, &y.name));
        let format = match a.format.as_deref() {
            None | Some("") | Some("table") if a.quiet => "{{.Name}}",
            None | Some("") | Some("table") => "table {{.Driver}}\t{{.Name}}",
            Some(f) => f,
        };
        let rows: Vec<Value> = volumes.iter().map(|v| row(&engine, v)).collect();
        let label = |i: usize, method: &str, arg: &str| -> Result<String> {
            match method {
                "Label" => Ok(volumes[i].labels.get(arg).cloned().unwrap_or_default()),
                m => bail!("template: can't evaluate method {m} with an argument"),
            }
        };
        let text = render_rows(format, &rows, title, &label)?;
        write!(io::stdout().lock(), "{text}")?;
        Ok(())
    })();
    exit_1(done.err())
}

fn inspect(root: &Path, a: VolumeInspectArgs) -> Result<()> {
    let mut errors = Vec::new();
    let done = (|| {
        let template = a.format.as_deref().map(Template::parse).transpose()?;
        let engine = Engine::open(root)?;
        let mut values = Vec::new();
        for name in &a.volumes {
            match engine.volume(name) {
                Ok(v) => values.push(engine.inspect_volume_json(&v)),
                Err(e) => errors.push(e.into()),
            }
        }
        let mut out = io::stdout().lock();
        match template {
            Some(t) => {
                for v in &values {
                    writeln!(out, "{}", t.render(v)?)?;
                }
            }
            None => writeln!(out, "{}", serde_json::to_string_pretty(&values)?)?,
        }
        Ok(())
    })();
    exit_1(done.err().into_iter().chain(errors))
}

fn rm(root: &Path, a: VolumeRmArgs) -> Result<()> {
    let mut errors = Vec::new();
    let done = (|| {
        let mut engine = Engine::open(root)?;
        for name in &a.volumes {
            match engine.remove_volume(name, a.force) {
                Ok(()) => println!("{name}"),
                Err(e) => errors.push(e.into()),
            }
        }
        Ok(())
    })();
    exit_1(done.err().into_iter().chain(errors))
}

fn prune(root: &Path, a: VolumePruneArgs) -> Result<()> {
    let mut pairs = filter_pairs(&a.filters, "--filter")?;
    let done = (|| {
        let warning = if a.all {
            if pairs.iter().any(|(k, _)| k == "all") {
                bail!("conflicting options: cannot specify both --all and --filter all=1");
            }
            pairs.push(("all".into(), "true".into()));
            "WARNING! This will remove all local volumes not used by at least one container."
        } else {
            "WARNING! This will remove anonymous local volumes not used by at least one container."
        };
        let filter = VolumePruneFilter::new(&pairs)?;
        if !a.force && !confirm(warning)? {
            return Ok(());
        }
        let mut engine = Engine::open(root)?;
        let pruned = engine.prune_volumes(&filter)?;
        let mut out = io::stdout().lock();
        if !pruned.names.is_empty() {
            writeln!(out, "Deleted Volumes:")?;
            for name in &pruned.names {
                writeln!(out, "{name}")?;
            }
            writeln!(out)?;
        }
        writeln!(out, "Total reclaimed space: {}", human_size(pruned.bytes))?;
        Ok(())
    })();
    exit_1(done.err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_as_docker() {
        let mut names = vec!["v10", "v9", "v1", "a", "v09", "V2", "v", "1x", "b2c"];
        names.sort_by(|a, b| natural(a, b));
        assert_eq!(
            names,
            ["1x", "V2", "a", "b2c", "v", "v1", "v9", "v09", "v10"]
        );
    }

    #[test]
    fn labels_checked_as_docker_cli() {
        let err = |l: &str| {
            pairs(&[l.to_owned()], Some("--label"))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("=x"),
            "invalid argument \"=x\" for \"--label\" flag: invalid label '=x': empty name"
        );
        assert_eq!(
            err("a b=x"),
            "invalid argument \"a b=x\" for \"--label\" flag: label 'a b' contains whitespaces"
        );
        let ok = pairs(&["k=v".into(), "bare".into()], Some("--label")).unwrap();
        assert_eq!(ok["k"], "v");
        assert_eq!(ok["bare"], "");
    }
}

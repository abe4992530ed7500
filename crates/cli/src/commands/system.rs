//! Housekeeping and facts: `info`, `version`, `system df`, `system prune`,
//! `container prune`, `completion`.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{bail, Result};
use berth_engine::ops::info::host_facts;
use berth_engine::ops::prune::{PruneFilter, Pruned};
use berth_engine::ops::usage::{self, DiskUsage};
use berth_engine::Engine;
use serde_json::json;

use crate::args::*;
use crate::output::{
    command_column, container_status, created_since, human_size, print_formatted, render_rows,
    tabulate,
};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Go's `GOARCH` names.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        other => other,
    }
}

pub fn version(runtime: &str, a: FormatArgs) -> Result<()> {
    let facts = host_facts(runtime);
    let (rt_name, rt_version) = (facts.runtime_name, facts.runtime_version);
    let v = json!({
        "Client": {
            "Version": VERSION,
            "Os": "linux",
            "Arch": go_arch(),
            "Context": "default",
        },
        "Server": {
            "Version": VERSION,
            "Os": "linux",
            "Arch": go_arch(),
            "KernelVersion": facts.kernel_version,
            "Components": [
                {"Name": "Engine", "Version": VERSION},
                {"Name": rt_name, "Version": rt_version},
            ],
        },
    });
    print_formatted(a.format.as_deref(), &v, || {
        let arch = format!("linux/{}", go_arch());
        format!(
            "Client:\n Version:           {VERSION}\n OS/Arch:           {arch}\n Context:           default\n\n\
             Server:\n Engine:\n  Version:          {VERSION}\n  OS/Arch:          {arch}\n \
             {rt_name}:\n  Version:          {rt_version}\n"
        )
    })
}

/// go-units `BytesSize`: binary units, four significant digits.
fn bytes_size(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    let digits = if v >= 1000.0 {
        0
    } else if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

pub fn info(root: &Path, runtime: &str, a: FormatArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let i = engine.info(runtime)?;
    let v = json!({
        "ID": "",
        "Containers": i.containers,
        "ContainersRunning": i.running,
        "ContainersPaused": i.paused,
        "ContainersStopped": i.stopped,
        "Images": i.images,
        "Driver": "overlay",
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": i.cgroup_version,
        "KernelVersion": i.kernel_version,
        "OperatingSystem": i.operating_system,
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": i.ncpu,
        "MemTotal": i.mem_total,
        "Name": i.hostname,
        "DockerRootDir": i.root,
        "ServerVersion": VERSION,
        "DefaultRuntime": i.runtime_name,
        "ClientInfo": {"Version": VERSION, "Context": "default", "Debug": false},
    });
    print_formatted(a.format.as_deref(), &v, || {
        format!(
            "Client:\n Version:    {VERSION}\n Context:    default\n Debug Mode: false\n\n\
             Server:\n Containers: {}\n  Running: {}\n  Paused: {}\n  Stopped: {}\n Images: {}\n \
             Server Version: {VERSION}\n Storage Driver: overlay\n Logging Driver: json-file\n \
             Cgroup Driver: cgroupfs\n Cgroup Version: {}\n Default Runtime: {}\n \
             Kernel Version: {}\n Operating System: {}\n OSType: linux\n Architecture: {}\n \
             CPUs: {}\n Total Memory: {}\n Name: {}\n Docker Root Dir: {}\n",
            v["Containers"],
            v["ContainersRunning"],
            v["ContainersPaused"],
            v["ContainersStopped"],
            v["Images"],
            v["CgroupVersion"].as_str().unwrap_or(""),
            i.runtime_name,
            v["KernelVersion"].as_str().unwrap_or(""),
            v["OperatingSystem"].as_str().unwrap_or(""),
            std::env::consts::ARCH,
            v["NCPU"],
            bytes_size(i.mem_total),
            v["Name"].as_str().unwrap_or(""),
            root.display(),
        )
    })
}

/// `prune --filter`: `until=TIME` (created before it; RFC 3339, unix
/// time or a duration ago, as `logs --since`), `label=K[=V]`, `label!=K[=V]`.
pub(super) fn prune_filter(filters: &[String]) -> Result<PruneFilter> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    Ok(PruneFilter::parse(filters, |t| {
        super::logs::parse_time(t, now).map_err(|e| e.to_string())
    })?)
}

pub(super) fn confirm(warning: &str) -> Result<bool> {
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Prune's report: what was deleted, then the bytes freed.
fn print_pruned(p: &Pruned) -> Result<()> {
    let mut out = io::stdout().lock();
    if !p.containers.is_empty() {
        writeln!(out, "Deleted Containers:")?;
        for id in &p.containers {
            writeln!(out, "{id}")?;
        }
        writeln!(out)?;
    }
    if !p.images.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for d in &p.images {
            writeln!(out, "deleted: {d}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Total reclaimed space: {}", human_size(p.bytes))?;
    Ok(())
}

pub fn container_prune(root: &Path, a: ContainerPruneArgs) -> Result<()> {
    let filter = prune_filter(&a.filters)?;
    if !a.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(());
    }
    let mut engine = Engine::open(root)?;
    print_pruned(&engine.prune_containers(&filter)?)
}

pub fn system_prune(root: &Path, a: PruneArgs) -> Result<()> {
    let images = if a.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    if !a.force
        && !confirm(&format!(
            "WARNING! This will remove:\n  - all stopped containers\n  - {images}\n"
        ))?
    {
        return Ok(());
    }
    let mut engine = Engine::open(root)?;
    print_pruned(&engine.prune_system(a.all)?)
}

/// `reclaimable (percent%)` as Docker prints it.
fn reclaimable(bytes: u64, total: u64) -> String {
    if total == 0 {
        return human_size(bytes);
    }
    format!("{} ({}%)", human_size(bytes), bytes * 100 / total)
}

pub fn df(root: &Path, a: DfArgs) -> Result<()> {
    let engine = Engine::open(root)?;
    let du = engine.disk_usage()?;
    let mut c_total = 0;
    let mut c_reclaim = 0;
    let mut c_active = 0;
    for (c, size) in &du.containers {
        c_total += size;
        if usage::reclaimable(c) {
            c_reclaim += size;
        } else {
            c_active += 1;
        }
    }
    let rows = [
        json!({
            "Type": "Images",
            "TotalCount": du.images.len().to_string(),
            "Active": du.active_images.to_string(),
            "Size": human_size(du.images_size),
            "Reclaimable": reclaimable(du.images_size - du.images_active_size, du.images_size),
        }),
        json!({
            "Type": "Containers",
            "TotalCount": du.containers.len().to_string(),
            "Active": c_active.to_string(),
            "Size": human_size(c_total),
            "Reclaimable": reclaimable(c_reclaim, c_total),
        }),
        volumes_row(&du),
        build_cache_row(&engine.build_cache_usage()?),
    ];
    if a.verbose {
        if a.format.is_some() {
            bail!("--format and --verbose cannot be combined");
        }
        write!(io::stdout().lock(), "{}", df_verbose(&du))?;
        return Ok(());
    }
    let format = a.format.unwrap_or_else(|| {
        "table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}".into()
    });
    let title = |f: &str| match f {
        "TotalCount" => "TOTAL".into(),
        other => other.to_uppercase(),
    };
    let text = render_rows(&format, &rows, title, &|_, m, _| {
        bail!("template: can't evaluate field {m} with an argument")
    })?;
    write!(io::stdout().lock(), "{text}")?;
    Ok(())
}

/// `system df`'s `Build Cache` row: the build steps' images and the
/// layers only they hold, all of it reclaimable by `builder prune`.
fn build_cache_row(u: &berth_engine::image::CacheUsage) -> serde_json::Value {
    json!({
        "Type": "Build Cache",
        "TotalCount": u.records.to_string(),
        "Active": "0",
        "Size": human_size(u.size),
        "Reclaimable": human_size(u.size),
    })
}

/// `system df`'s `Local Volumes` row, as Docker's daemon counts: a
/// volume whose size cannot be read counts as active and adds nothing.
fn volumes_row(du: &DiskUsage) -> serde_json::Value {
    let mut total = 0;
    let mut unused = 0;
    let mut active = du.volumes.len();
    for v in &du.volumes {
        if let Some(size) = v.size {
            total += size;
            if v.links == 0 {
                unused += size;
                active -= 1;
            }
        }
    }
    json!({
        "Type": "Local Volumes",
        "TotalCount": du.volumes.len().to_string(),
        "Active": active.to_string(),
        "Size": human_size(total),
        "Reclaimable": reclaimable(unused, total),
    })
}

/// `system df -v`: Docker's per-image, per-container and per-volume
/// tables.
fn df_verbose(du: &DiskUsage) -> String {
    let mut lines = vec![
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS".to_owned(),
    ];
    for info in &du.images {
        let names = super::images::repo_tags(&info.tags);
        for (repo, tag) in names {
            lines.push(format!(
                "{repo}\t{tag}\t{}\t{}\t{}\t{}\t{}\t{}",
                info.id.short(),
                created_since(&info.created),
                human_size(info.size),
                human_size(info.shared),
                human_size(info.size.saturating_sub(info.shared)),
                info.containers,
            ));
        }
    }
    let mut out = format!("Images space usage:\n\n{}", tabulate(&lines));
    let mut lines = vec![
        "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES".to_owned(),
    ];
    for (c, size) in &du.containers {
        // docker/cli counts the mounts of the local driver.
        let local_volumes = c
            .config
            .mounts
            .iter()
            .filter(|m| m.driver == "local")
            .count();
        lines.push(format!(
            "{}\t{}\t{}\t{local_volumes}\t{}\t{}\t{}\t{}",
            &c.id[..12],
            c.config.image,
            command_column(c, false),
            human_size(*size),
            created_since(&c.created_at),
            container_status(c),
            c.name
        ));
    }
    out.push_str(&format!(
        "\nContainers space usage:\n\n{}",
        tabulate(&lines)
    ));
    let mut lines = vec!["VOLUME NAME\tLINKS\tSIZE".to_owned()];
    for v in &du.volumes {
        let size = v.size.map_or("N/A".into(), human_size);
        lines.push(format!("{}\t{}\t{size}", v.volume.name, v.links));
    }
    out.push_str(&format!(
        "\nLocal Volumes space usage:\n\n{}",
        tabulate(&lines)
    ));
    out
}

pub fn completion(a: CompletionArgs) -> Result<()> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let shell = match a.shell.as_str() {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        other => bail!("unsupported shell {other:?} (bash, zsh or fish)"),
    };
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "berth", &mut io::stdout());
    Ok(())
}

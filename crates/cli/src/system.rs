//! Housekeeping and facts: `info`, `version`, `system df`, `system prune`,
//! `container prune`, `completion`; and the engine's side of image
//! commands: `run --pull`/`--platform` and `rmi`'s container check.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use berth_engine::{Container, Engine, State};
use berth_image::platform::Platform;
use berth_image::reference::Reference;
use berth_image::registry::{self, AuthFile, PullOptions, RegistryOptions};
use serde_json::{json, Value};

use crate::cli::*;
use crate::format::{human_size, render_rows, tabulate, Template};
use crate::ps::dir_size;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Prints `v` through `--format`, or `plain` without one.
fn print_formatted(format: Option<&str>, v: &Value, plain: impl FnOnce() -> String) -> Result<()> {
    let mut out = io::stdout().lock();
    match format {
        Some(f) => writeln!(out, "{}", Template::parse(f)?.render(v)?)?,
        None => write!(out, "{}", plain())?,
    }
    Ok(())
}

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

/// The first line of `<runtime> --version` (`runc version 1.1.12`).
fn runtime_version(runtime: &str) -> (String, String) {
    let Ok(path) = berth_engine::runtime::resolve(runtime) else {
        return (runtime.to_owned(), String::new());
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = std::process::Command::new(&path)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let first = text.lines().next()?.to_owned();
            Some(
                first
                    .split_once("version ")
                    .map(|(_, v)| v.trim().to_owned())
                    .unwrap_or(first),
            )
        })
        .unwrap_or_default();
    (name, version)
}

pub fn version(runtime: &str, a: FormatArgs) -> Result<()> {
    let (rt_name, rt_version) = runtime_version(runtime);
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
            "KernelVersion": kernel(),
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

fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "linux".into())
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
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
    let list = engine.list()?;
    let running = list
        .iter()
        .filter(|c| matches!(c.state, State::Running | State::Starting))
        .count();
    let images = engine.images.list()?.len();
    let (rt_name, _) = runtime_version(runtime);
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let v = json!({
        "ID": "",
        "Containers": list.len(),
        "ContainersRunning": running,
        "ContainersPaused": 0,
        "ContainersStopped": list.len() - running,
        "Images": images,
        "Driver": "overlay",
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": berth_engine::Engine::cgroup_version(),
        "KernelVersion": kernel(),
        "OperatingSystem": os_name(),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": mem_total(),
        "Name": hostname,
        "DockerRootDir": root,
        "ServerVersion": VERSION,
        "DefaultRuntime": rt_name,
        "ClientInfo": {"Version": VERSION, "Context": "default", "Debug": false},
    });
    print_formatted(a.format.as_deref(), &v, || {
        format!(
            "Client:\n Version:    {VERSION}\n Context:    default\n Debug Mode: false\n\n\
             Server:\n Containers: {}\n  Running: {}\n  Paused: 0\n  Stopped: {}\n Images: {}\n \
             Server Version: {VERSION}\n Storage Driver: overlay\n Logging Driver: json-file\n \
             Cgroup Driver: cgroupfs\n Cgroup Version: {}\n Default Runtime: {}\n \
             Kernel Version: {}\n Operating System: {}\n OSType: linux\n Architecture: {}\n \
             CPUs: {}\n Total Memory: {}\n Name: {}\n Docker Root Dir: {}\n",
            v["Containers"],
            v["ContainersRunning"],
            v["ContainersStopped"],
            v["Images"],
            v["CgroupVersion"].as_str().unwrap_or(""),
            rt_name,
            v["KernelVersion"].as_str().unwrap_or(""),
            v["OperatingSystem"].as_str().unwrap_or(""),
            std::env::consts::ARCH,
            v["NCPU"],
            bytes_size(mem_total()),
            v["Name"].as_str().unwrap_or(""),
            root.display(),
        )
    })
}

fn stopped(c: &Container) -> bool {
    matches!(c.state, State::Created | State::Exited)
}

/// Removes stopped containers; their ids and the bytes freed.
/// `prune --filter`: `until=TIME` (created before it; RFC 3339, unix
/// time or a duration ago, as `logs --since`), `label=K[=V]`, `label!=K[=V]`.
fn prune_filter(filters: &[String]) -> Result<impl Fn(&Container) -> bool> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    let mut until = None;
    let mut labels: Vec<(bool, String)> = Vec::new();
    for f in filters {
        match f.split_once('=') {
            Some(("until", t)) => until = Some(crate::logs::parse_time(t, now)?),
            Some(("label!", l)) => labels.push((false, l.to_owned())),
            Some(("label", l)) => labels.push((true, l.to_owned())),
            _ => bail!("invalid filter '{f}' (prune takes until=, label= and label!=)"),
        }
    }
    Ok(move |c: &Container| {
        until.is_none_or(|u| crate::ps::nanos(&c.created_at) < u)
            && labels.iter().all(|(want, l)| {
                let has = match l.split_once('=') {
                    Some((k, v)) => c.config.labels.get(k).is_some_and(|x| x == v),
                    None => c.config.labels.contains_key(l),
                };
                has == *want
            })
    })
}

fn prune_containers(
    engine: &mut Engine,
    keep: impl Fn(&Container) -> bool,
) -> Result<(Vec<String>, u64)> {
    let mut removed = Vec::new();
    let mut bytes = 0;
    let mut list: Vec<Container> = engine
        .list()?
        .into_iter()
        .filter(|c| stopped(c) && keep(c))
        .collect();
    list.sort_by_key(|c| std::cmp::Reverse(crate::ps::nanos(&c.created_at)));
    for c in list {
        let size = engine.layers(&c).map(|(u, _)| dir_size(&u)).unwrap_or(0);
        // One that started meanwhile is refused (not forced): kept.
        if engine.remove(&c.id, false).is_ok() {
            removed.push(c.id);
            bytes += size;
        }
    }
    Ok((removed, bytes))
}

fn confirm(warning: &str) -> Result<bool> {
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub fn container_prune(root: &Path, a: ContainerPruneArgs) -> Result<()> {
    let chosen = prune_filter(&a.filters)?;
    if !a.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(());
    }
    let mut engine = Engine::open(root)?;
    let (removed, bytes) = prune_containers(&mut engine, chosen)?;
    let mut out = io::stdout().lock();
    if !removed.is_empty() {
        writeln!(out, "Deleted Containers:")?;
        for id in &removed {
            writeln!(out, "{id}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Total reclaimed space: {}", human_size(bytes))?;
    Ok(())
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
    let (removed, bytes) = prune_containers(&mut engine, |_| true)?;
    let (images, gc) = engine.images.prune(a.all)?;
    let mut out = io::stdout().lock();
    if !removed.is_empty() {
        writeln!(out, "Deleted Containers:")?;
        for id in &removed {
            writeln!(out, "{id}")?;
        }
        writeln!(out)?;
    }
    if !images.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for d in &images {
            writeln!(out, "deleted: {d}")?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(bytes + gc.bytes)
    )?;
    Ok(())
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
    let containers = engine.list()?;
    let images = engine.images.list()?;
    let state = engine.images.index.read()?;
    let used: BTreeSet<String> = containers.iter().map(|c| c.image_id.clone()).collect();
    // Shared layers count once.
    let layer_size =
        |chains: &mut dyn Iterator<Item = &berth_image::Digest>| -> BTreeSet<(String, u64)> {
            chains
                .filter_map(|c| {
                    state
                        .snapshots
                        .get(c.as_str())
                        .map(|s| (c.to_string(), s.size))
                })
                .collect()
        };
    let all_layers = layer_size(&mut images.iter().flat_map(|i| i.record.chain.iter()));
    let active_layers = layer_size(
        &mut images
            .iter()
            .filter(|i| used.contains(&i.id.to_string()))
            .flat_map(|i| i.record.chain.iter()),
    );
    let images_total: u64 = all_layers.iter().map(|(_, s)| s).sum();
    let images_active: u64 = active_layers.iter().map(|(_, s)| s).sum();
    let active_images = images
        .iter()
        .filter(|i| used.contains(&i.id.to_string()))
        .count();
    let mut c_total = 0;
    let mut c_reclaim = 0;
    let mut c_active = 0;
    for c in &containers {
        let size = engine.layers(c).map(|(u, _)| dir_size(&u)).unwrap_or(0);
        c_total += size;
        if stopped(c) {
            c_reclaim += size;
        } else {
            c_active += 1;
        }
    }
    let rows = [
        json!({
            "Type": "Images",
            "TotalCount": images.len().to_string(),
            "Active": active_images.to_string(),
            "Size": human_size(images_total),
            "Reclaimable": reclaimable(images_total - images_active, images_total),
        }),
        json!({
            "Type": "Containers",
            "TotalCount": containers.len().to_string(),
            "Active": c_active.to_string(),
            "Size": human_size(c_total),
            "Reclaimable": reclaimable(c_reclaim, c_total),
        }),
    ];
    if a.verbose {
        if a.format.is_some() {
            bail!("--format and --verbose cannot be combined");
        }
        let text = df_verbose(&engine, &containers, &images, &state)?;
        write!(io::stdout().lock(), "{text}")?;
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

/// `system df -v`: Docker's per-image and per-container tables (berth has
/// no volumes or build cache to list).
fn df_verbose(
    engine: &Engine,
    containers: &[Container],
    images: &[berth_image::store::ImageInfo],
    state: &berth_image::index::State,
) -> Result<String> {
    let size_of = |c: &berth_image::Digest| state.snapshots.get(c.as_str()).map_or(0, |s| s.size);
    let mut lines = vec![
        "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS".to_owned(),
    ];
    for info in images {
        let shared: u64 = info
            .record
            .chain
            .iter()
            .filter(|c| {
                images
                    .iter()
                    .any(|o| o.id != info.id && o.record.chain.contains(c))
            })
            .map(size_of)
            .sum();
        let created = engine
            .images
            .config(&info.id)
            .ok()
            .and_then(|(c, _)| c.created)
            .unwrap_or_default();
        let users = containers
            .iter()
            .filter(|c| c.image_id == info.id.to_string())
            .count();
        let mut names: Vec<(String, String)> = info
            .tags
            .iter()
            .map(|t| {
                (
                    t.familiar_name().to_owned(),
                    t.tag.clone().unwrap_or_else(|| "<none>".into()),
                )
            })
            .collect();
        if names.is_empty() {
            names.push(("<none>".into(), "<none>".into()));
        }
        for (repo, tag) in names {
            lines.push(format!(
                "{repo}\t{tag}\t{}\t{}\t{}\t{}\t{}\t{users}",
                info.id.short(),
                crate::format::created_since(&created),
                human_size(info.record.size),
                human_size(shared),
                human_size(info.record.size.saturating_sub(shared)),
            ));
        }
    }
    let mut out = format!("Images space usage:\n\n{}", tabulate(&lines));
    let mut lines = vec![
        "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES".to_owned(),
    ];
    for c in containers {
        let size = engine.layers(c).map(|(u, _)| dir_size(&u)).unwrap_or(0);
        lines.push(format!(
            "{}\t{}\t{}\t0\t{}\t{}\t{}\t{}",
            &c.id[..12],
            c.config.image,
            crate::ps::command_column(c, false),
            human_size(size),
            crate::format::created_since(&c.created_at),
            crate::containers::status(c),
            c.name
        ));
    }
    out.push_str(&format!(
        "\nContainers space usage:\n\n{}",
        tabulate(&lines)
    ));
    Ok(out)
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

/// `run`/`create --pull`: makes sure the image is there (and for the
/// platform asked), pulling as the policy says; Docker's messages on
/// stderr.
pub fn ensure_image(root: &Path, image: &str, p: &PullPolicyArgs) -> Result<()> {
    let platform = p.platform.as_deref().map(Platform::parse).transpose()?;
    let store = berth_image::ImageStore::open(root)?;
    let local = store.resolve(image).ok();
    let matches = |id: &berth_image::Digest| -> Result<Option<Platform>> {
        let (config, _) = store.config(id)?;
        let have = Platform {
            os: config.os.clone(),
            architecture: config.architecture.clone(),
            variant: config.variant.clone(),
            os_version: None,
        };
        Ok(match &platform {
            Some(want) if !have.satisfies(want) => Some(have),
            _ => None,
        })
    };
    // The config is read only when a platform is asked for: `run`'s
    // latency matters.
    let mismatch = match (&local, &platform) {
        (Some((id, _)), Some(_)) => matches(id)?,
        _ => None,
    };
    let pull = match p.pull.as_str() {
        "always" => true,
        "missing" => local.is_none() || mismatch.is_some(),
        "never" => {
            if let (Some(have), Some(want)) = (&mismatch, &platform) {
                bail!("image with reference {image} was found but does not match the specified platform: wanted {want}, actual: {have}");
            }
            false
        }
        other => bail!(
            "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
        ),
    };
    // An image named by its id is local by definition: never pulled.
    let by_id = local.as_ref().is_some_and(|(id, _)| {
        let hex = image.strip_prefix("sha256:").unwrap_or(image);
        hex.len() >= 4 && id.hex().starts_with(hex)
    });
    if !pull || by_id {
        return Ok(());
    }
    // An id (prefix) is never pulled: it names a local image.
    let reference = match Reference::parse(image) {
        Ok(r) => r,
        Err(_) if local.is_none() => return Err(anyhow!("No such image: {image}")),
        Err(_) => return Ok(()),
    };
    if local.is_none() {
        eprintln!("Unable to find image '{}' locally", reference.familiar());
    }
    let by = reference
        .digest
        .as_ref()
        .map(|d| d.to_string())
        .or_else(|| reference.tag.clone())
        .unwrap_or_default();
    let path = reference
        .name
        .split_once('/')
        .map(|(_, p)| p)
        .unwrap_or(&reference.name)
        .to_owned();
    eprintln!("{by}: Pulling from {path}");
    let mut options = RegistryOptions::new(AuthFile::in_root(root));
    options.tls_verify = p.tls.tls_verify;
    let opts = PullOptions {
        platform,
        ..PullOptions::default()
    };
    let pulled = registry::pull(&store, &reference, &options, &opts, &registry::Quiet)
        .with_context(|| format!("cannot pull {}", reference.familiar()))?;
    eprintln!("Digest: {}", pulled.digest);
    eprintln!(
        "Status: {} {}",
        if pulled.downloaded {
            "Downloaded newer image for"
        } else {
            "Image is up to date for"
        },
        reference.familiar()
    );
    Ok(())
}

/// `rmi`'s question to the engine: does a container use the image `name`
/// names? Docker's conflict messages; `force` lets a stopped container's
/// image be untagged (it stays while the container needs it), never a
/// running one's be deleted by id.
pub fn image_in_use(root: &Path, name: &str, force: bool) -> Result<()> {
    let engine = Engine::open(root)?;
    let Ok((id, _)) = engine.images.resolve(name) else {
        return Ok(()); // the store reports the missing image
    };
    let users: Vec<Container> = engine
        .list()?
        .into_iter()
        .filter(|c| c.image_id == id.to_string())
        .collect();
    let Some(first) = users.first() else {
        return Ok(());
    };
    let by_reference = Reference::parse(name)
        .ok()
        .filter(|r| {
            engine
                .images
                .resolve(&r.to_string())
                .is_ok_and(|(i, _)| i == id)
        })
        .filter(|_| {
            !id.hex()
                .starts_with(name.strip_prefix("sha256:").unwrap_or(name))
        });
    let short = id.short().to_owned();
    if let Some(r) = by_reference {
        // Removing one of several tags only untags: allowed.
        let tags = engine
            .images
            .list()?
            .into_iter()
            .find(|i| i.id == id)
            .map_or(0, |i| i.tags.len());
        if force || tags > 1 {
            return Ok(());
        }
        bail!(
            "conflict: unable to remove repository reference \"{}\" (must force) - container {} is using its referenced image {short}",
            r.familiar(),
            &first.id[..12]
        );
    }
    if let Some(running) = users.iter().find(|c| !stopped(c)) {
        bail!(
            "conflict: unable to delete {short} (cannot be forced) - image is being used by running container {}",
            &running.id[..12]
        );
    }
    if !force {
        bail!(
            "conflict: unable to delete {short} (must be forced) - image is being used by stopped container {}",
            &first.id[..12]
        );
    }
    Ok(())
}

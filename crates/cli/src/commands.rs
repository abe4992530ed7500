//! One function per command: parse nothing, call the image crate, print
//! what `docker` prints.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};

use anyhow::{bail, Context, Result};
use berth_image::archive::{self, Format};
use berth_image::import::{self, ImportOptions};
use berth_image::platform::Platform;
use berth_image::reference::Reference;
use berth_image::spec::ImageConfig;
use berth_image::store::{ImageInfo, Removed};
use berth_image::ImageStore;
use serde_json::{json, Value};

use crate::cli::*;
use crate::format::{created_at, created_since, glob, human_size, tabulate, Template};

pub fn run(cli: Cli) -> Result<()> {
    let store = || {
        ImageStore::open(&cli.root)
            .with_context(|| format!("cannot open the image store in {}", cli.root.display()))
    };
    match cli.command {
        Command::Pull(a)
        | Command::Image {
            command: ImageCommand::Pull(a),
        } => crate::registry::pull(&store()?, a),
        Command::Push(a)
        | Command::Image {
            command: ImageCommand::Push(a),
        } => crate::registry::push(&store()?, a),
        Command::Login(a) => crate::registry::login(&cli.root, a),
        Command::Logout(a) => crate::registry::logout(&cli.root, a),
        Command::Import(a)
        | Command::Image {
            command: ImageCommand::Import(a),
        } => import_cmd(&store()?, a),
        Command::Images(a)
        | Command::Image {
            command: ImageCommand::Ls(a),
        } => images(&store()?, a),
        Command::Tag(a)
        | Command::Image {
            command: ImageCommand::Tag(a),
        } => Ok(store()?.tag(&a.source, &a.target)?),
        Command::Rmi(a)
        | Command::Image {
            command: ImageCommand::Rm(a),
        } => rmi(&store()?, a),
        Command::History(a)
        | Command::Image {
            command: ImageCommand::History(a),
        } => history(&store()?, a),
        Command::Save(a)
        | Command::Image {
            command: ImageCommand::Save(a),
        } => save(&store()?, a),
        Command::Load(a)
        | Command::Image {
            command: ImageCommand::Load(a),
        } => load(&store()?, a),
        Command::Inspect(a) => match a.kind.as_deref() {
            None => crate::containers::inspect(&cli.root, a, |a| inspect(&store()?, a)),
            Some("container") => crate::containers::inspect(&cli.root, a, |a| {
                let missing = a.images.first().cloned().unwrap_or_default();
                Err(anyhow::anyhow!("No such container: {missing}"))
            }),
            Some("image") => inspect(&store()?, a),
            Some(other) => bail!("\"{other}\" is not a valid value for --type"),
        },
        Command::Image {
            command: ImageCommand::Inspect(a),
        } => inspect(&store()?, a),
        Command::Run(a) => crate::containers::run(&cli.root, &cli.runtime, a),
        Command::Create(a) => crate::containers::create_cmd(&cli.root, &cli.runtime, a),
        Command::Start(a) => crate::attach::start(&cli.root, a),
        Command::Attach(a) => crate::attach::attach_cmd(&cli.root, a),
        Command::Exec(a) => crate::exec::exec(&cli.root, a),
        Command::Stop(a) => crate::containers::stop(&cli.root, a),
        Command::Kill(a) => crate::containers::kill(&cli.root, a),
        Command::Rm(a) => crate::containers::rm(&cli.root, a),
        Command::Ps(a) => crate::ps::ps(&cli.root, a),
        Command::Logs(a) => crate::logs::logs(&cli.root, a),
        Command::Rename(a) => crate::fs_cmds::rename(&cli.root, a),
        Command::Port(a) => crate::fs_cmds::port(&cli.root, a),
        Command::Diff(a) => crate::fs_cmds::diff(&cli.root, a),
        Command::Export(a) => crate::fs_cmds::export(&cli.root, a),
        Command::Commit(a) => crate::fs_cmds::commit(&cli.root, a),
        Command::Cp(a) => crate::fs_cmds::cp(&cli.root, a),
        Command::Info(a)
        | Command::System {
            command: SystemCommand::Info(a),
        } => crate::system::info(&cli.root, &cli.runtime, a),
        Command::Version(a) => crate::system::version(&cli.runtime, a),
        Command::Completion(a) => crate::system::completion(a),
        Command::System {
            command: SystemCommand::Df(a),
        } => crate::system::df(&cli.root, a),
        Command::System {
            command: SystemCommand::Prune(a),
        } => crate::system::system_prune(&cli.root, a),
        Command::ContainerPrune(a) => crate::system::container_prune(&cli.root, a),
        Command::Update(a) => crate::live_ops::update(&cli.root, a),
        Command::Pause(a) => crate::live_ops::pause(&cli.root, &a.containers),
        Command::Unpause(a) => crate::live_ops::unpause(&cli.root, &a.containers),
        Command::Top(a) => crate::live_ops::top(&cli.root, a),
        Command::Stats(a) => crate::stats::stats(&cli.root, a),
        Command::Events(a) => crate::events::events(&cli.root, a),
        Command::Restart(a) => crate::containers::restart(&cli.root, a),
        Command::Wait(a) => crate::containers::wait(&cli.root, a),
        Command::System {
            command: SystemCommand::Boot,
        } => crate::containers::system_boot(&cli.root),
        Command::Image {
            command: ImageCommand::Prune(a),
        } => prune(&store()?, a),
    }
}

fn out() -> io::StdoutLock<'static> {
    io::stdout().lock()
}

fn import_cmd(store: &ImageStore, a: ImportArgs) -> Result<()> {
    let name = a.reference.as_deref().map(Reference::parse).transpose()?;
    let opts = ImportOptions {
        changes: a.changes,
        comment: Some(
            a.message
                .unwrap_or_else(|| format!("Imported from {}", a.file)),
        ),
        platform: a.platform.as_deref().map(Platform::parse).transpose()?,
    };
    let id = if a.file == "-" {
        import::import(store, io::stdin().lock(), name.as_ref(), &opts)?
    } else {
        let f = File::open(&a.file).with_context(|| format!("cannot open {}", a.file))?;
        import::import(store, f, name.as_ref(), &opts)?
    };
    writeln!(out(), "{id}")?;
    Ok(())
}

/// One row of `images`, with Docker's field names.
fn image_rows(store: &ImageStore, info: &ImageInfo, no_trunc: bool) -> Result<Vec<Value>> {
    let created = store
        .config(&info.id)
        .ok()
        .and_then(|(c, _)| c.created)
        .unwrap_or_default();
    let id = if no_trunc {
        info.id.to_string()
    } else {
        info.id.short().to_owned()
    };
    let base = json!({
        "Containers": "N/A",
        "CreatedAt": created_at(&created),
        "CreatedSince": created_since(&created),
        "Digest": info.record.manifest.digest.to_string(),
        "ID": id,
        "SharedSize": "N/A",
        "Size": human_size(info.record.size),
        "UniqueSize": "N/A",
        "VirtualSize": human_size(info.record.size),
    });
    let mut rows = Vec::new();
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
        let mut row = base.clone();
        row["Repository"] = json!(repo);
        row["Tag"] = json!(tag);
        rows.push(row);
    }
    Ok(rows)
}

fn images(store: &ImageStore, a: ImagesArgs) -> Result<()> {
    let mut patterns = Vec::new();
    let mut dangling = None;
    if let Some(r) = &a.reference {
        patterns.push(r.clone());
    }
    for f in &a.filters {
        match f.split_once('=') {
            Some(("reference", p)) => patterns.push(p.to_owned()),
            Some(("dangling", v)) => dangling = Some(matches!(v, "true" | "1")),
            _ => bail!(
                "invalid filter '{f}' (berth supports reference=PATTERN and dangling=true|false)"
            ),
        }
    }
    let mut rows = Vec::new();
    for info in store.list()? {
        if let Some(d) = dangling {
            if info.tags.is_empty() != d {
                continue;
            }
        }
        for row in image_rows(store, &info, a.no_trunc)? {
            let (repo, tag) = (
                row["Repository"].as_str().unwrap_or(""),
                row["Tag"].as_str().unwrap_or(""),
            );
            let matched = patterns.iter().all(|p| {
                let p = p
                    .strip_prefix("docker.io/")
                    .map(|s| s.strip_prefix("library/").unwrap_or(s))
                    .unwrap_or(p);
                repo != "<none>" && (glob(p, repo) || glob(p, &format!("{repo}:{tag}")))
            });
            if matched {
                rows.push(row);
            }
        }
    }
    let mut o = out();
    if a.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for r in &rows {
            let id = r["ID"].as_str().unwrap_or("");
            if seen.insert(id.to_owned()) {
                writeln!(o, "{id}")?;
            }
        }
        return Ok(());
    }
    let format = a.format.unwrap_or_else(|| {
        let digest = if a.digests { "\\t{{.Digest}}" } else { "" };
        format!("table {{{{.Repository}}}}\\t{{{{.Tag}}}}{digest}\\t{{{{.ID}}}}\\t{{{{.CreatedSince}}}}\\t{{{{.Size}}}}")
    });
    print_rows(&mut o, &format, &rows, |f| match f {
        "ID" => "IMAGE ID".into(),
        "CreatedSince" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        "VirtualSize" => "SIZE".into(),
        other => other.to_uppercase(),
    })
}

fn print_rows(
    o: &mut impl Write,
    format: &str,
    rows: &[Value],
    title: impl Fn(&str) -> String,
) -> Result<()> {
    let t = Template::parse(format)?;
    let mut lines = Vec::new();
    if t.table {
        lines.push(t.header(title));
    }
    for r in rows {
        lines.push(t.render(r)?);
    }
    if t.table {
        write!(o, "{}", tabulate(&lines))?;
    } else {
        for l in lines {
            writeln!(o, "{l}")?;
        }
    }
    Ok(())
}

fn rmi(store: &ImageStore, a: RmiArgs) -> Result<()> {
    let mut failed = None;
    for name in &a.images {
        let removed = crate::system::image_in_use(store.root(), name, a.force)
            .and_then(|()| Ok(store.remove(name, a.force)?));
        match removed {
            Ok(steps) => {
                let mut o = out();
                for s in steps {
                    match s {
                        Removed::Untagged(t) => writeln!(o, "Untagged: {t}")?,
                        Removed::Deleted(d) => writeln!(o, "Deleted: {d}")?,
                    }
                }
            }
            Err(e) => {
                eprintln!("Error: {e}");
                failed = Some(e);
            }
        }
    }
    if failed.is_some() {
        std::process::exit(125);
    }
    Ok(())
}

fn history(store: &ImageStore, a: HistoryArgs) -> Result<()> {
    let (id, record) = store.resolve(&a.image)?;
    let (config, _) = store.config(&id)?;
    let state = store.index.read()?;
    let layer_sizes: Vec<u64> = record
        .chain
        .iter()
        .map(|c| state.snapshots.get(c.as_str()).map(|s| s.size).unwrap_or(0))
        .collect();
    let mut layer = 0;
    let mut rows = Vec::new();
    for h in &config.history {
        let size = if h.empty_layer {
            0
        } else {
            layer += 1;
            layer_sizes.get(layer - 1).copied().unwrap_or(0)
        };
        let created = h.created.clone().unwrap_or_default();
        let by = h.created_by.clone().unwrap_or_default().replace('\t', " ");
        let by = if a.no_trunc || by.chars().count() <= 45 {
            by
        } else {
            format!("{}…", by.chars().take(44).collect::<String>())
        };
        rows.push(json!({
            "ID": "<missing>",
            "CreatedSince": if a.human { created_since(&created) } else { created.clone() },
            "CreatedAt": created,
            "CreatedBy": by,
            "Size": if a.human { human_size(size) } else { size.to_string() },
            "Comment": h.comment.clone().unwrap_or_default(),
        }));
    }
    rows.reverse();
    if let Some(top) = rows.first_mut() {
        top["ID"] = json!(if a.no_trunc {
            id.to_string()
        } else {
            id.short().to_owned()
        });
    }
    let mut o = out();
    if a.quiet {
        for r in &rows {
            writeln!(o, "{}", r["ID"].as_str().unwrap_or(""))?;
        }
        return Ok(());
    }
    let format = a.format.unwrap_or_else(|| {
        "table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}".into()
    });
    print_rows(&mut o, &format, &rows, |f| match f {
        "ID" => "IMAGE".into(),
        "CreatedSince" => "CREATED".into(),
        "CreatedAt" => "CREATED AT".into(),
        "CreatedBy" => "CREATED BY".into(),
        other => other.to_uppercase(),
    })
}

fn save(store: &ImageStore, a: SaveArgs) -> Result<()> {
    let format: Format = a.format.parse()?;
    match &a.output {
        Some(path) => {
            // Written atomically: no half archive on error.
            crate::fs_cmds::write_file_atomic(path, |f| {
                let mut w = io::BufWriter::new(f);
                archive::save(store, &a.images, format, &mut w)?;
                w.flush()?;
                Ok(())
            })
        }
        None => {
            if io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let mut o = io::BufWriter::new(out());
            archive::save(store, &a.images, format, &mut o)?;
            o.flush()?;
            Ok(())
        }
    }
}

fn load(store: &ImageStore, a: LoadArgs) -> Result<()> {
    let input: Box<dyn Read> = match &a.input {
        Some(p) => Box::new(File::open(p).with_context(|| format!("cannot open {}", p.display()))?),
        None => {
            if io::stdin().is_terminal() {
                bail!("requested load from stdin, but stdin is empty");
            }
            Box::new(io::stdin().lock())
        }
    };
    let loaded = archive::load(store, input)?;
    if a.quiet {
        return Ok(());
    }
    let mut o = out();
    for l in loaded {
        if l.tags.is_empty() {
            writeln!(o, "Loaded image ID: {}", l.id)?;
        }
        for t in l.tags {
            writeln!(o, "Loaded image: {}", t.familiar())?;
        }
    }
    Ok(())
}

/// `image inspect`: Docker's JSON shape.
fn inspect_value(store: &ImageStore, name: &str) -> Result<Value> {
    let (id, record) = store.resolve(name)?;
    let (config, _) = store.config(&id)?;
    let info = store.list()?.into_iter().find(|i| i.id == id);
    let tags: Vec<Reference> = info.map(|i| i.tags).unwrap_or_default();
    let mut repo_digests: Vec<String> = tags
        .iter()
        .map(|t| format!("{}@{}", t.familiar_name(), record.manifest.digest))
        .collect();
    repo_digests.dedup();
    let state = store.index.read()?;
    let lower: Vec<String> = record
        .chain
        .iter()
        .rev()
        .filter_map(|c| state.snapshots.get(c.as_str()))
        .map(|s| store.snapshots.fs_path(s.id).display().to_string())
        .collect();
    Ok(json!({
        "Id": id.to_string(),
        "RepoTags": tags.iter().map(|t| t.familiar()).collect::<Vec<_>>(),
        "RepoDigests": repo_digests,
        "Parent": "",
        "Comment": config.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": config.created.clone().unwrap_or_default(),
        "DockerVersion": "",
        "Author": config.author.clone().unwrap_or_default(),
        "Config": container_config(&config),
        "Architecture": config.architecture,
        "Variant": config.variant,
        "Os": config.os,
        "Size": record.size,
        "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": lower.join(":")}},
        "RootFS": {"Type": "layers", "Layers": config.rootfs.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Descriptor": record.manifest,
    }))
}

fn container_config(config: &ImageConfig) -> Value {
    let c = config.config.clone().unwrap_or_default();
    json!({
        "Hostname": "", "Domainname": "", "User": c.user.unwrap_or_default(),
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "ExposedPorts": c.exposed_ports,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": c.env, "Cmd": c.cmd, "Image": "", "Volumes": c.volumes,
        "WorkingDir": c.working_dir.unwrap_or_default(), "Entrypoint": c.entrypoint,
        "OnBuild": null, "Labels": c.labels, "StopSignal": c.stop_signal,
    })
}

fn inspect(store: &ImageStore, a: InspectArgs) -> Result<()> {
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for name in &a.images {
        match inspect_value(store, name) {
            Ok(v) => values.push(v),
            Err(e) => missing.push(e),
        }
    }
    let mut o = out();
    match &a.format {
        Some(f) => {
            let t = Template::parse(f)?;
            for v in &values {
                writeln!(o, "{}", t.render(v)?)?;
            }
        }
        None => writeln!(o, "{}", serde_json::to_string_pretty(&values)?)?,
    }
    drop(o);
    if let Some(last) = missing.pop() {
        for e in missing {
            eprintln!("Error: {e}");
        }
        return Err(last);
    }
    Ok(())
}

fn prune(store: &ImageStore, a: PruneArgs) -> Result<()> {
    if !a.force {
        let what = if a.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        eprint!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
        let mut answer = String::new();
        io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(());
        }
    }
    let (removed, gc) = store.prune(a.all)?;
    let mut o = out();
    if !removed.is_empty() {
        writeln!(o, "Deleted Images:")?;
        for d in &removed {
            writeln!(o, "deleted: {d}")?;
        }
        writeln!(o)?;
    }
    writeln!(o, "Total reclaimed space: {}", human_size(gc.bytes))?;
    Ok(())
}

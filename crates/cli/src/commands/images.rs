//! The image commands: `import`, `images`, `rmi`, `history`, `save`,
//! `load`, `image inspect`, `image prune`, and `run --pull`'s policy
//! call; the engine does the work, this prints what `docker` prints.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};

use anyhow::{bail, Context, Result};
use berth_engine::image::{
    ArchiveFormat, ImageFilters, ImageSummary, ImportOptions, Platform, PullPolicy, PullStep,
    Reference, Removed,
};
use berth_engine::Engine;
use serde_json::{json, Value};

use crate::args::*;
use crate::output::{
    created_at, created_since, human_size, print_rows, write_file_atomic, Template,
};

pub(super) fn out() -> io::StdoutLock<'static> {
    io::stdout().lock()
}

pub fn import_cmd(store: &Engine, a: ImportArgs) -> Result<()> {
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
        store.import_image(io::stdin().lock(), name.as_ref(), &opts)?
    } else {
        let f = File::open(&a.file).with_context(|| format!("cannot open {}", a.file))?;
        store.import_image(f, name.as_ref(), &opts)?
    };
    writeln!(out(), "{id}")?;
    Ok(())
}

/// One row of `images`, with Docker's field names.
/// `REPOSITORY` and `TAG` per tag, or `<none>` twice for an untagged
/// image (`images`, `system df -v`).
pub(super) fn repo_tags(tags: &[Reference]) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = tags
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
    names
}

fn image_rows(info: &ImageSummary, no_trunc: bool) -> Result<Vec<Value>> {
    let created = &info.created;
    let id = if no_trunc {
        info.id.to_string()
    } else {
        info.id.short().to_owned()
    };
    let base = json!({
        "Containers": "N/A",
        "CreatedAt": created_at(created),
        "CreatedSince": created_since(created),
        "Digest": info.manifest.digest.to_string(),
        "ID": id,
        "SharedSize": "N/A",
        "Size": human_size(info.size),
        "UniqueSize": "N/A",
        "VirtualSize": human_size(info.size),
    });
    let mut rows = Vec::new();
    let names = repo_tags(&info.tags);
    for (repo, tag) in names {
        let mut row = base.clone();
        row["Repository"] = json!(repo);
        row["Tag"] = json!(tag);
        rows.push(row);
    }
    Ok(rows)
}

pub fn images(store: &Engine, a: ImagesArgs) -> Result<()> {
    let mut filters = a.filters.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let filters = ImageFilters::parse(&filters)?;
    let mut rows = Vec::new();
    for info in store.list_images_filtered(a.all, &filters)? {
        rows.extend(image_rows(&info, a.no_trunc)?);
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

pub fn rmi(store: &Engine, a: RmiArgs) -> Result<()> {
    let mut failed = None;
    for name in &a.images {
        let removed = store.remove_image(name, a.force);
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

pub fn history(store: &Engine, a: HistoryArgs) -> Result<()> {
    let (id, steps) = store.image_history(&a.image)?;
    let mut rows = Vec::new();
    for h in &steps {
        let size = h.size;
        let created = h.created.clone();
        let by = h.created_by.replace('\t', " ");
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
            "Comment": h.comment,
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

pub fn save(store: &Engine, a: SaveArgs) -> Result<()> {
    let format: ArchiveFormat = a.format.parse()?;
    match &a.output {
        Some(path) => {
            // Written atomically: no half archive on error.
            write_file_atomic(path, |f| {
                let mut w = io::BufWriter::new(f);
                store.save_images(&a.images, format, &mut w)?;
                w.flush()?;
                Ok(())
            })
        }
        None => {
            if io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let mut o = io::BufWriter::new(out());
            store.save_images(&a.images, format, &mut o)?;
            o.flush()?;
            Ok(())
        }
    }
}

pub fn load(store: &Engine, a: LoadArgs) -> Result<()> {
    let input: Box<dyn Read> = match &a.input {
        Some(p) => Box::new(File::open(p).with_context(|| format!("cannot open {}", p.display()))?),
        None => {
            if io::stdin().is_terminal() {
                bail!("requested load from stdin, but stdin is empty");
            }
            Box::new(io::stdin().lock())
        }
    };
    let loaded = store.load_images(input)?;
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

pub fn inspect(store: &Engine, a: InspectArgs) -> Result<()> {
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for name in &a.images {
        match store.inspect_image_json(name) {
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
        return Err(last.into());
    }
    Ok(())
}

pub fn prune(store: &Engine, a: PruneArgs) -> Result<()> {
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
    let (removed, bytes) = store.prune_images(a.all)?;
    let mut o = out();
    if !removed.is_empty() {
        writeln!(o, "Deleted Images:")?;
        for d in &removed {
            writeln!(o, "deleted: {d}")?;
        }
        writeln!(o)?;
    }
    writeln!(o, "Total reclaimed space: {}", human_size(bytes))?;
    Ok(())
}

/// `run`/`create --pull`: makes sure the image is there (and for the
/// platform asked), pulling as the policy says; Docker's messages on
/// stderr.
pub fn ensure_image(engine: &Engine, image: &str, p: &PullPolicyArgs) -> Result<()> {
    let platform = p.platform.as_deref().map(Platform::parse).transpose()?;
    let policy: PullPolicy = p.pull.parse()?;
    engine.ensure_image(
        image,
        policy,
        platform.as_ref(),
        p.tls.tls_verify,
        &mut |step| match step {
            PullStep::Pulling { reference, local } => {
                if !local {
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
                    .unwrap_or(&reference.name);
                eprintln!("{by}: Pulling from {path}");
            }
            PullStep::Pulled { reference, pulled } => {
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
            }
        },
    )?;
    Ok(())
}

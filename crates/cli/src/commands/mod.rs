//! One module per command family: each turns parsed arguments into
//! engine calls and prints what `docker` prints. `run` dispatches.

mod attach;
mod build;
mod checkpoint;
mod containers;
mod events;
mod exec;
mod fs;
mod images;
mod live;
mod logs;
mod network;
mod ps;
mod registry;
mod stats;
mod system;
mod volumes;

use anyhow::{bail, Context, Result};
use berth_engine::Engine;

use crate::args::*;
use images::{history, images, import_cmd, inspect, load, prune, rmi, save};

pub fn run(cli: Cli) -> Result<()> {
    // The image commands open the engine too (the image verbs are its
    // methods); the message names what they need of it.
    let engine = || {
        Engine::open(&cli.root)
            .with_context(|| format!("cannot open the image store in {}", cli.root.display()))
    };
    match cli.command {
        Command::Pull(a)
        | Command::Image {
            command: ImageCommand::Pull(a),
        } => registry::pull(&engine()?, a),
        Command::Push(a)
        | Command::Image {
            command: ImageCommand::Push(a),
        } => registry::push(&engine()?, a),
        Command::Login(a) => registry::login(&engine()?, a),
        Command::Logout(a) => registry::logout(&engine()?, a),
        Command::Import(a)
        | Command::Image {
            command: ImageCommand::Import(a),
        } => import_cmd(&engine()?, a),
        Command::Images(a)
        | Command::Image {
            command: ImageCommand::Ls(a),
        } => images(&engine()?, a),
        Command::Tag(a)
        | Command::Image {
            command: ImageCommand::Tag(a),
        } => Ok(engine()?.tag_image(&a.source, &a.target)?),
        Command::Rmi(a)
        | Command::Image {
            command: ImageCommand::Rm(a),
        } => rmi(&engine()?, a),
        Command::History(a)
        | Command::Image {
            command: ImageCommand::History(a),
        } => history(&engine()?, a),
        Command::Save(a)
        | Command::Image {
            command: ImageCommand::Save(a),
        } => save(&engine()?, a),
        Command::Load(a)
        | Command::Image {
            command: ImageCommand::Load(a),
        } => load(&engine()?, a),
        Command::Inspect(a) => match a.kind.as_deref() {
            None => containers::inspect(&cli.root, a, |a| inspect(&engine()?, a)),
            Some("container") => containers::inspect(&cli.root, a, |a| {
                let missing = a.images.first().cloned().unwrap_or_default();
                Err(anyhow::anyhow!("No such container: {missing}"))
            }),
            Some("image") => inspect(&engine()?, a),
            Some(other) => bail!("\"{other}\" is not a valid value for --type"),
        },
        Command::Image {
            command: ImageCommand::Inspect(a),
        } => inspect(&engine()?, a),
        Command::Run(a) => containers::run(&cli.root, &cli.runtime, a),
        Command::Create(a) => containers::create_cmd(&cli.root, &cli.runtime, a),
        Command::Start(a) if a.checkpoint.is_some() || a.checkpoint_dir.is_some() => {
            checkpoint::start(&cli.root, a)
        }
        Command::Start(a) if !a.attach && !a.interactive => {
            containers::start(&cli.root, a.containers)
        }
        Command::Start(a) => attach::start(&cli.root, a),
        Command::Attach(a) => attach::attach_cmd(&cli.root, a),
        Command::Exec(a) => exec::exec(&cli.root, a),
        Command::Stop(a) => containers::stop(&cli.root, a),
        Command::Kill(a) => containers::kill(&cli.root, a),
        Command::Rm(a) => containers::rm(&cli.root, a),
        Command::Ps(a) => ps::ps(&cli.root, a),
        Command::Logs(a) => logs::logs(&cli.root, a),
        Command::Rename(a) => fs::rename(&cli.root, a),
        Command::Port(a) => fs::port(&cli.root, a),
        Command::Diff(a) => fs::diff(&cli.root, a),
        Command::Export(a) => fs::export(&cli.root, a),
        Command::Commit(a) => fs::commit(&cli.root, a),
        Command::Cp(a) => fs::cp(&cli.root, a),
        Command::Info(a)
        | Command::System {
            command: SystemCommand::Info(a),
        } => system::info(&cli.root, &cli.runtime, a),
        Command::Version(a) => system::version(&cli.runtime, a),
        Command::Completion(a) => system::completion(a),
        Command::System {
            command: SystemCommand::Df(a),
        } => system::df(&cli.root, a),
        Command::System {
            command: SystemCommand::Prune(a),
        } => system::system_prune(&cli.root, a),
        Command::ContainerPrune(a) => system::container_prune(&cli.root, a),
        Command::ContainerCheckpoint(a) => checkpoint::container_checkpoint(&cli.root, a),
        Command::ContainerRestore(a) => checkpoint::container_restore(&cli.root, &cli.runtime, a),
        Command::Migrate(a) => checkpoint::migrate(&cli.root, a),
        Command::Update(a) => live::update(&cli.root, a),
        Command::Pause(a) => live::pause(&cli.root, &a.containers),
        Command::Unpause(a) => live::unpause(&cli.root, &a.containers),
        Command::Top(a) => live::top(&cli.root, a),
        Command::Stats(a) => stats::stats(&cli.root, a),
        Command::Events(a) => events::events(&cli.root, a),
        Command::Restart(a) => containers::restart(&cli.root, a),
        Command::Wait(a) => containers::wait(&cli.root, a),
        Command::System {
            command: SystemCommand::Boot,
        } => containers::system_boot(&cli.root),
        Command::Image {
            command: ImageCommand::Prune(a),
        } => prune(&engine()?, a),
        Command::Network { command } => network::run(&cli.root, command),
        Command::Volume { command } => volumes::run(&cli.root, command),
        Command::Checkpoint { command } => checkpoint::run(&cli.root, command),
        Command::Build(a)
        | Command::Builder {
            command: BuilderCommand::Build(a),
        } => build::build(&cli.root, &cli.runtime, *a),
        Command::Builder {
            command: BuilderCommand::Prune(a),
        } => build::prune(&cli.root, a),
        Command::Serve(a) => serve(&cli.root, &cli.runtime, a),
    }
}

/// `berth serve`: the Docker Engine API until the process is stopped.
fn serve(root: &std::path::Path, runtime: &str, a: ServeArgs) -> Result<()> {
    let hosts = if a.hosts.is_empty() {
        vec!["unix://".to_owned()]
    } else {
        a.hosts
    };
    let listen = hosts
        .iter()
        .map(|h| berth_api::Listen::parse(h))
        .collect::<Result<Vec<_>, _>>()?;
    let verify = a.tlsverify || a.tlscacert.is_some();
    let tls = if a.tls || verify || a.tlscert.is_some() || a.tlskey.is_some() {
        let (Some(cert), Some(key)) = (a.tlscert, a.tlskey) else {
            anyhow::bail!("TLS needs both --tlscert and --tlskey");
        };
        if verify && a.tlscacert.is_none() {
            anyhow::bail!("--tlsverify needs --tlscacert (the CA that signs client certificates)");
        }
        if !listen
            .iter()
            .any(|l| matches!(l, berth_api::Listen::Tcp(_) | berth_api::Listen::Fd(_)))
        {
            anyhow::bail!("TLS applies to tcp:// listeners: give one with -H tcp://IP:PORT");
        }
        Some(berth_api::TlsOptions {
            cert,
            key,
            client_ca: a.tlscacert,
        })
    } else {
        None
    };
    berth_api::serve(berth_api::ServeOptions {
        root: root.to_owned(),
        runtime: berth_engine::runtime::resolve(runtime)?,
        listen,
        group: a.group,
        tls,
        experimental: a.experimental,
    })?;
    Ok(())
}

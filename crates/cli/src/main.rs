//! `berth`: the Docker-compatible command line. It parses arguments
//! (`args`), calls the engine (`commands`, one module per family) and
//! prints what `docker` prints (`output`). Errors print one `Error: ...`
//! line and exit 125, as `docker` does for its own errors.

#![forbid(unsafe_code)]

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse_from(container_alias(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(&cli.log_level);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => output::exit_code(&e).map_or(ExitCode::SUCCESS, ExitCode::from),
    }
}

/// `berth container <cmd>` (Docker's management command) is the top-level
/// `<cmd>`: `ls`/`list` are `ps`, `remove` is `rm`, `prune` is the
/// container prune. Global flags before it stay where they are.
fn container_alias(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        match a.as_ref() {
            "--root" | "--runtime" | "--log-level" => i += 2,
            s if s.starts_with("--") && s.contains('=') => i += 1,
            _ => break,
        }
    }
    if args.get(i).is_some_and(|a| a == "container") {
        // Alone or with --help: the command list.
        let Some(next) = args.get(i + 1) else {
            args[i] = "help".into();
            return args;
        };
        let sub = match next.to_string_lossy().as_ref() {
            "-h" | "--help" | "help" => "help".to_owned(),
            "ls" | "list" => "ps".to_owned(),
            "remove" => "rm".to_owned(),
            "prune" => "container-prune".to_owned(),
            // Podman's forms; `berth checkpoint` is Docker's family.
            "checkpoint" => "container-checkpoint".to_owned(),
            "restore" => "container-restore".to_owned(),
            other => other.to_owned(),
        };
        args.splice(i..i + 2, [std::ffi::OsString::from(sub)]);
    }
    args
}

/// `--log-level`: berth's own diagnostics (the runtime commands it runs,
/// the monitors it starts) as tracing events on stderr.
fn init_logging(level: &str) {
    let level = match level {
        "debug" => tracing::Level::DEBUG,
        "warn" => tracing::Level::WARN,
        "error" | "fatal" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

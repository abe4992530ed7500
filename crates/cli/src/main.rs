//! `berth`: the Docker-compatible command line. For now it covers images
//! (pull, push, login, logout, import, images, tag, rmi, image inspect,
//! history, save, load, image prune); the engine's commands join it later. Errors print one
//! `Error: ...` line and exit 125, as `docker` does for its own errors.

#![forbid(unsafe_code)]

mod attach;
mod cli;
mod commands;
mod containers;
mod events;
mod exec;
mod format;
mod fs_cmds;
mod live_ops;
mod logs;
mod progress;
mod ps;
mod registry;
mod resource_args;
mod security_args;
mod sigproxy;
mod stats;
mod system;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse_from(container_alias(std::env::args_os().collect())) {
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
        Err(e) => {
            // A closed stdout (`berth images | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            if let Some(containers::ExitWith(code)) = e.downcast_ref() {
                return ExitCode::from(*code);
            }
            eprintln!("Error: {}", error_line(&e));
            let code = e
                .downcast_ref::<berth_engine::Error>()
                .map_or(125, |e| e.exit_code());
            ExitCode::from(code)
        }
    }
}

/// The error and its causes on one line, without repeating a cause the
/// message already contains.
fn error_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !line.contains(&c) {
            line.push_str(": ");
            line.push_str(&c);
        }
    }
    line
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

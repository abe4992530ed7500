//! `berth`: the Docker-compatible command line. For now it covers images
//! (pull, push, login, logout, import, images, tag, rmi, image inspect,
//! history, save, load, image prune); the engine's commands join it later. Errors print one
//! `Error: ...` line and exit 125, as `docker` does for its own errors.

#![forbid(unsafe_code)]

mod attach;
mod cli;
mod commands;
mod containers;
mod exec;
mod format;
mod live_ops;
mod progress;
mod registry;
mod resource_args;
mod stats;
mod security_args;
mod sigproxy;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed stdout (`berth images | head`) is not an error.
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
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

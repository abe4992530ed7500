//! `berth-runtime`: runc's command line over the berth_runtime library.
//! Parses flags, calls the library, turns an error into one line on stderr
//! (and in the `--log` file, as containerd and Podman read it) and an exit
//! code.

mod cli;
mod log;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse_from(cli::go_style_flags(std::env::args_os()));
    let logger = log::Logger::init(args.log.as_deref(), args.log_format, args.debug);
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let line = berth_runtime::error::one_line(e.as_ref());
            logger.error(&line);
            ExitCode::from(1)
        }
    }
}

//! `berth-monitor`: the per-container monitor, started by `berth` for each
//! container it starts (see `berth_engine::monitor`). A binary of its own
//! so that it maps little and holds little while it waits.

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // A restore's createRuntime hook (see `berth_engine::monitor`).
    if let [command, socket] = args.as_slice() {
        if command == "restore-hook" {
            return ExitCode::from(berth_engine::monitor::restore_hook(socket) as u8);
        }
    }
    let Some(args) = berth_engine::monitor::parse_args(&args) else {
        eprintln!("usage: berth-monitor [--root ROOT] ID (started by berth, not by hand)");
        return ExitCode::from(2);
    };
    ExitCode::from(berth_engine::monitor::main(&args).clamp(0, 255) as u8)
}

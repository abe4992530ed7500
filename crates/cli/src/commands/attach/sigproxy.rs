//! `berth run --sig-proxy` (the default in the foreground): the signals the
//! CLI receives go to the container through the runtime's `kill`, as
//! Docker's CLI forwards them, so Ctrl-C reaches the container's process
//! instead of only ending the CLI.
//!
//! The signals are blocked in the calling thread before any other thread
//! exists (threads inherit the mask; `std::process::Command` clears it in
//! children), and one thread takes them with `sigwait`.

use std::path::PathBuf;

use nix::sys::signal::{SigSet, Signal};

/// What Docker's CLI forwards: everything but SIGCHLD, SIGPIPE, SIGURG, the
/// synchronous faults (they would be re-raised, not sent), and SIGWINCH
/// (window size belongs to the terminal code).
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGTERM,
    Signal::SIGALRM,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
    Signal::SIGIO,
    Signal::SIGPWR,
];

pub struct SignalProxy {
    set: SigSet,
}

impl SignalProxy {
    /// Blocks the forwarded signals; call before starting any thread.
    pub fn block() -> anyhow::Result<SignalProxy> {
        let mut set = SigSet::empty();
        for s in FORWARDED {
            set.add(*s);
        }
        set.thread_block()?;
        Ok(SignalProxy { set })
    }

    /// Forwards every signal received from now on to container `id`.
    pub fn forward(self, root: PathBuf, id: String) {
        std::thread::spawn(move || loop {
            let Ok(signal) = self.set.wait() else {
                continue;
            };
            let name = signal.as_str().trim_start_matches("SIG");
            // A container that already ended just finishes the run.
            if let Ok(engine) = berth_engine::Engine::open(&root) {
                let _ = engine.forward_signal(&id, name);
            }
        });
    }
}

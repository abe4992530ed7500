//! `berth serve` for the API tests: started in a test engine's
//! namespaces on a socket in the test's temp dir, killed on drop; the
//! docker CLI pointed at it.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_testutil::{output_with_input, output_within, COMMAND_TIMEOUT};

use super::engine::{text, Engine};

/// A `berth serve` for `e`, killed on drop.
pub struct Serve {
    child: Child,
    pub socket: std::path::PathBuf,
}

impl Serve {
    pub fn start(e: &Engine) -> Serve {
        let socket = e.berth.dir.path().join("api.sock");
        let log = e.berth.dir.path().join("serve.log");
        let mut c = e.command(&["serve", "-H", &format!("unix://{}", socket.display())]);
        c.stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut child = c.spawn().expect("berth serve");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            let exited = child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "berth serve did not listen ({exited:?}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Serve { child, socket }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The environment a client needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DOCKER_HOST", format!("unix://{}", self.socket.display())),
            (
                "DOCKER_CONFIG",
                self.socket
                    .parent()
                    .unwrap()
                    .join("docker-config")
                    .display()
                    .to_string(),
            ),
        ]
    }

    /// `docker ARGS` against this server, not run yet.
    pub fn docker_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.envs(self.env()).args(args);
        c
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        output_within(&mut self.docker_command(args), COMMAND_TIMEOUT)
    }

    pub fn docker_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        output_with_input(&mut self.docker_command(args), input, COMMAND_TIMEOUT)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}\n{}",
            out.status,
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `docker ARGS` that must fail; its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(!out.status.success(), "docker {args:?} succeeded");
        text(&out.stderr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
        Serve::start_with(e, &[])
    }

    /// `berth serve` with more flags (`--experimental`).
    pub fn start_with(e: &Engine, flags: &[&str]) -> Serve {
        let socket = e.berth.dir.path().join("api.sock");
        let log = e.berth.dir.path().join("serve.log");
        let host = format!("unix://{}", socket.display());
        let mut args = vec!["serve", "-H", &host];
        args.extend_from_slice(flags);
        let mut c = e.command(&args);
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

    /// One raw HTTP/1.1 request (`"GET /path"`) with a JSON body on a
    /// fresh connection: the status and the body.
    pub fn request(&self, head: &str, body: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut c = std::os::unix::net::UnixStream::connect(&self.socket).unwrap();
        c.set_read_timeout(Some(COMMAND_TIMEOUT)).unwrap();
        let req = format!(
            "{head} HTTP/1.1\r\nHost: berth\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        c.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        let status = out
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {out:?}"));
        let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, body.to_owned())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! A local registry for tests: Debian's `docker-registry` (the CNCF
//! distribution registry) serving a temp storage dir on a free
//! 127.0.0.1 port, optionally with htpasswd auth or a self-signed TLS
//! certificate; and [`RegistryProxy`], a tiny HTTP proxy in front of it
//! that records every request and can cut blob downloads short or demand
//! Bearer tokens from its own token endpoint.
//!
//! The registry process is killed and its storage removed on drop.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::TempDir;

/// How to configure a [`Registry`].
#[derive(Debug, Default, Clone)]
pub struct RegistryConfig {
    /// `htpasswd` file (bcrypt lines) for Basic auth.
    pub htpasswd: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate for 127.0.0.1.
    pub tls: bool,
}

pub struct Registry {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Registry {
    pub fn start(config: RegistryConfig) -> Registry {
        let dir = TempDir::new("berth-registry").expect("temp dir for the registry");
        let tls = config.tls.then(|| self_signed(dir.path()));
        // A port picked free can be taken before the registry binds it:
        // try a few.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let yml = dir.join("config.yml");
            std::fs::write(&yml, config_yml(dir.path(), port, &config, tls.as_ref()))
                .expect("write registry config");
            let log = std::fs::File::create(dir.join("registry.log")).expect("registry log");
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&yml)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup log"))
                .stderr(log)
                .spawn()
                .expect("docker-registry is not installed (apt-get install docker-registry)");
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Registry { child, port, dir };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
            last_log = std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
        }
        panic!("docker-registry did not start: {last_log}");
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the registry keeps a blob's bytes (to tamper with them).
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's own log (access lines).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn config_yml(
    dir: &Path,
    port: u16,
    c: &RegistryConfig,
    tls: Option<&(PathBuf, PathBuf)>,
) -> String {
    let mut s = format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: berth-test-secret\n",
        dir.join("storage").display()
    );
    if let Some((cert, key)) = tls {
        s.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            cert.display(),
            key.display()
        ));
    }
    if let Some(h) = &c.htpasswd {
        s.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
            h.display()
        ));
    }
    s
}

/// A self-signed certificate for 127.0.0.1, made with openssl.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = crate::output_within(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
        crate::COMMAND_TIMEOUT,
    );
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// A bcrypt `htpasswd` line for `user:password`, from apache2-utils.
pub fn htpasswd_file(path: &Path, user: &str, password: &str) {
    let out = crate::output_within(
        Command::new("htpasswd").args(["-Bbn", user, password]),
        crate::COMMAND_TIMEOUT,
    );
    assert!(out.status.success(), "htpasswd failed");
    std::fs::write(path, out.stdout).expect("write htpasswd");
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

/// What the proxy does besides forwarding.
#[derive(Debug, Clone, Default)]
pub struct ProxyBehavior {
    /// Blob GETs whose path contains this string send only this many
    /// body bytes, then the connection closes.
    pub cut_blob: Option<(String, usize)>,
    /// Demand `Authorization: Bearer <token>` on `/v2/` requests, handed
    /// out by `GET /token` to callers with these Basic credentials.
    pub bearer: Option<BearerAuth>,
}

#[derive(Debug, Clone)]
pub struct BearerAuth {
    pub token: String,
    pub user: String,
    pub password: String,
}

/// An HTTP/1.1 proxy on 127.0.0.1 that forwards to a registry, one
/// request per connection (`Connection: close` both ways).
pub struct RegistryProxy {
    port: u16,
    log: Arc<Mutex<Vec<Logged>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl RegistryProxy {
    pub fn start(upstream: &str, behavior: ProxyBehavior) -> RegistryProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_owned();
        let (log2, stop2) = (log.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (log, upstream, behavior) =
                            (log2.clone(), upstream.clone(), behavior.clone());
                        thread::spawn(move || {
                            let _ = serve(conn, &upstream, port, &behavior, &log);
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => return,
                }
            }
        });
        RegistryProxy {
            port,
            log,
            stop,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }
}

impl Drop for RegistryProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    conn: TcpStream,
    upstream: &str,
    port: u16,
    behavior: &ProxyBehavior,
    log: &Mutex<Vec<Logged>>,
) -> io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut first = [0u8; 1];
    if conn.peek(&mut first)? == 1 && first[0] == 0x16 {
        // A TLS handshake: answer as Go's HTTP server does, so a client
        // trying HTTPS first learns at once that this is plain HTTP.
        let mut conn = conn;
        conn.write_all(
            b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
        )?;
        let _ = conn.shutdown(Shutdown::Both);
        return Ok(());
    }
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push(line.trim_end().to_owned());
    }
    let mut parts = head[0].split(' ');
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let header = |name: &str| {
        head[1..].iter().find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let authorization = header("authorization");
    log.lock().unwrap().push(Logged {
        method: method.clone(),
        path: path.clone(),
        range: header("range"),
        authorization: authorization.clone(),
    });
    let mut conn = conn;
    if let Some(b) = &behavior.bearer {
        if path.starts_with("/token") {
            let want = format!(
                "Basic {}",
                base64(format!("{}:{}", b.user, b.password).as_bytes())
            );
            return if authorization.as_deref() == Some(want.as_str()) {
                let json = format!("{{\"token\":\"{}\"}}", b.token);
                respond(
                    &mut conn,
                    "200 OK",
                    &[("Content-Type", "application/json")],
                    json.as_bytes(),
                )
            } else {
                respond(&mut conn, "401 Unauthorized", &[], b"{}")
            };
        }
        if authorization.as_deref() != Some(format!("Bearer {}", b.token).as_str()) {
            let challenge =
                format!("Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"berth-test\"");
            return respond(
                &mut conn,
                "401 Unauthorized",
                &[
                    ("WWW-Authenticate", &challenge),
                    ("Content-Type", "application/json"),
                ],
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            );
        }
    }
    // Forward: same head (Host stays the proxy's, so the registry's
    // Location headers point back here), minus auth the proxy consumed.
    let mut up = TcpStream::connect(upstream)?;
    let mut out = format!("{}\r\n", head[0]);
    for h in &head[1..] {
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("connection:")
            || (behavior.bearer.is_some() && lower.starts_with("authorization:"))
        {
            continue;
        }
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    up.write_all(out.as_bytes())?;
    up.write_all(&body)?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    let cut = behavior.cut_blob.as_ref().filter(|(needle, _)| {
        method == "GET" && path.contains("/blobs/") && path.contains(needle.as_str())
    });
    match cut {
        Some((_, n)) => {
            let body_at = resp
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|i| i + 4)
                .unwrap_or(resp.len());
            let end = (body_at + n).min(resp.len());
            conn.write_all(&resp[..end])?;
        }
        None => conn.write_all(&resp)?,
    }
    conn.flush()?;
    let _ = conn.shutdown(Shutdown::Both);
    Ok(())
}

fn respond(
    conn: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    conn.write_all(out.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()?;
    let _ = conn.shutdown(Shutdown::Both);
    Ok(())
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(super::base64(b"u:p"), "dTpw");
        assert_eq!(super::base64(b"u:pw"), "dTpwdw==");
        assert_eq!(super::base64(b"u:pwd"), "dTpwd2Q=");
    }
}

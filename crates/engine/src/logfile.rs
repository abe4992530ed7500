//! The container log as the monitor writes it and `berth logs` reads it:
//! the driver (`json-file`, Docker's format; `k8s-file`, the CRI format
//! Podman writes; `none`), and size-based rotation with Docker's naming:
//! the live file `<id>-json.log`, older ones `<id>-json.log.1` (newest) to
//! `.N` (oldest), at most `max-file` files of at most `max-size` bytes each
//! (a single entry larger than `max-size` gets a file of its own).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::{Error, Result};
pub use crate::model::log::{parse_size, LogConfig, LogDriver};

/// Where the live log file of container `id` in `dir` is; None for `none`.
pub fn path(dir: &Path, id: &str, driver: LogDriver) -> Option<PathBuf> {
    match driver {
        LogDriver::JsonFile => Some(dir.join(format!("{id}-json.log"))),
        LogDriver::K8sFile => Some(dir.join(format!("{id}-k8s.log"))),
        LogDriver::None => None,
    }
}

/// The n-th rotated file of the log at `path` (`<path>.<n>`).
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The files of a log, oldest first, the live one last (only those that
/// exist).
pub fn files_oldest_first(path: &Path, max_file: u32) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..max_file.max(1))
        .rev()
        .map(|n| rotated_path(path, n))
        .filter(|p| p.exists())
        .collect();
    files.push(path.to_owned());
    files
}

/// Appends entries to a container's log, rotating by size. Not shared
/// between processes: only the container's monitor writes.
pub struct LogWriter {
    config: LogConfig,
    path: Option<PathBuf>,
    file: Option<File>,
    size: u64,
}

impl LogWriter {
    pub fn open(dir: &Path, id: &str, config: &LogConfig) -> Result<LogWriter> {
        let path = path(dir, id, config.driver);
        let (file, size) = match &path {
            Some(p) => {
                let f = open_append(p)?;
                let size = f.metadata().map_err(|e| Error::io("stat", p, e))?.len();
                (Some(f), size)
            }
            None => (None, 0),
        };
        Ok(LogWriter {
            config: config.clone(),
            path,
            file,
            size,
        })
    }

    /// One entry: a line with its `\n`, or a piece of a longer line (16 KiB,
    /// Docker's split) or the unterminated end of the output.
    pub fn write(&mut self, stream: &str, chunk: &[u8]) -> io::Result<()> {
        let entry = match self.config.driver {
            LogDriver::None => return Ok(()),
            LogDriver::JsonFile => json_entry(stream, chunk),
            LogDriver::K8sFile => k8s_entry(stream, chunk),
        };
        if let Some(max) = self.config.max_size {
            if self.size > 0 && self.size + entry.len() as u64 > max {
                self.rotate()?;
            }
        }
        let f = self
            .file
            .as_mut()
            .expect("a file for every driver but none");
        f.write_all(&entry)?;
        self.size += entry.len() as u64;
        Ok(())
    }

    /// `.N-1` → `.N`, ..., live → `.1`, then a fresh live file (or, with
    /// max-file 1, the live file emptied).
    fn rotate(&mut self) -> io::Result<()> {
        let path = self.path.clone().expect("rotating a file log");
        let keep = self.config.max_file;
        if keep > 1 {
            let _ = std::fs::remove_file(rotated_path(&path, keep - 1));
            for n in (1..keep - 1).rev() {
                match std::fs::rename(rotated_path(&path, n), rotated_path(&path, n + 1)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&path, rotated_path(&path, 1))?;
            self.file = Some(open_append(&path).map_err(io::Error::other)?);
        } else if let Some(f) = &self.file {
            f.set_len(0)?;
        }
        self.size = 0;
        Ok(())
    }
}

fn open_append(p: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map_err(|e| Error::io("open", p, e))
}

/// Docker's json-file entry: `{"log":"...\n","stream":"stdout","time":"..."}`.
fn json_entry(stream: &str, chunk: &[u8]) -> Vec<u8> {
    let mut text = json!({
        "log": String::from_utf8_lossy(chunk),
        "stream": stream,
        "time": berth_image::time::now_rfc3339(),
    })
    .to_string();
    text.push('\n');
    text.into_bytes()
}

/// The CRI log format: `<RFC3339Nano> <stream> <F|P> <text>`; `P` marks a
/// piece of a line that continues in the next entry, `F` a full line.
fn k8s_entry(stream: &str, chunk: &[u8]) -> Vec<u8> {
    let (text, tag) = match chunk.strip_suffix(b"\n") {
        Some(t) => (t, "F"),
        None => (chunk, "P"),
    };
    let mut e = format!("{} {stream} {tag} ", berth_image::time::now_rfc3339()).into_bytes();
    e.extend_from_slice(text);
    e.push(b'\n');
    e
}

/// One entry read back: the stream and the bytes the container wrote.
#[derive(Debug, PartialEq)]
pub struct Entry {
    pub stream: String,
    pub time: String,
    pub text: Vec<u8>,
}

/// Parses one line of a log (without or with its `\n`).
pub fn parse_line(driver: LogDriver, line: &[u8]) -> Option<Entry> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    match driver {
        LogDriver::JsonFile | LogDriver::None => {
            let v: serde_json::Value = serde_json::from_slice(line).ok()?;
            Some(Entry {
                stream: v["stream"].as_str().unwrap_or("stdout").to_owned(),
                time: v["time"].as_str().unwrap_or("").to_owned(),
                text: v["log"].as_str()?.as_bytes().to_vec(),
            })
        }
        LogDriver::K8sFile => {
            let mut parts = line.splitn(4, |b| *b == b' ');
            let time = String::from_utf8_lossy(parts.next()?).into_owned();
            let stream = String::from_utf8_lossy(parts.next()?).into_owned();
            let tag = parts.next()?;
            let mut text = parts.next().unwrap_or_default().to_vec();
            if tag == b"F" {
                text.push(b'\n');
            }
            Some(Entry { stream, time, text })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k8s_round_trip() {
        let e = k8s_entry("stderr", b"hello world\n");
        let s = String::from_utf8(e.clone()).unwrap();
        assert!(s.ends_with(" stderr F hello world\n"), "{s}");
        let back = parse_line(LogDriver::K8sFile, &e).unwrap();
        assert_eq!(back.stream, "stderr");
        assert_eq!(back.text, b"hello world\n");
        let partial = parse_line(LogDriver::K8sFile, &k8s_entry("stdout", b"abc")).unwrap();
        assert_eq!(partial.text, b"abc");
    }

    #[test]
    fn rotation_keeps_max_file_files_of_max_size() {
        let dir = std::env::temp_dir().join(format!("berth-logfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = LogConfig::parse(None, &["max-size=300".into(), "max-file=3".into()]).unwrap();
        let mut w = LogWriter::open(&dir, "c", &config).unwrap();
        for i in 0..100 {
            w.write("stdout", format!("line {i}\n").as_bytes()).unwrap();
        }
        let live = path(&dir, "c", LogDriver::JsonFile).unwrap();
        let files = files_oldest_first(&live, 3);
        assert_eq!(files.len(), 3);
        assert!(!rotated_path(&live, 3).exists());
        let mut lines = Vec::new();
        for f in &files {
            let text = std::fs::read(f).unwrap();
            assert!(text.len() <= 300, "{} is {} bytes", f.display(), text.len());
            for l in text.split_inclusive(|b| *b == b'\n') {
                lines.push(parse_line(LogDriver::JsonFile, l).unwrap().text);
            }
        }
        // The newest entries survive, in order.
        assert_eq!(lines.last().unwrap(), b"line 99\n");
        let first: usize = String::from_utf8_lossy(&lines[0])["line ".len()..]
            .trim()
            .parse()
            .unwrap();
        for (k, l) in lines.iter().enumerate() {
            assert_eq!(l, format!("line {}\n", first + k).as_bytes());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

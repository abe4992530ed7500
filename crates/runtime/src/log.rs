//! runc-compatible logging: `--log FILE` (append) in `--log-format text`
//! (`time="..." level=error msg="..."`) or `json` (`{"level","msg","time"}`
//! per line, which containerd's shim and Podman parse). `--debug` also logs
//! the library's tracing events at debug level.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use berth_runtime::procfs::now_rfc3339;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// Where log lines go: the `--log` file, else stderr.
#[derive(Clone)]
pub struct Logger {
    file: Option<Arc<Mutex<File>>>,
    format: Format,
}

fn line(format: Format, level: &str, msg: &str) -> String {
    match format {
        Format::Json => {
            serde_json::json!({ "level": level, "msg": msg, "time": now_rfc3339() }).to_string()
                + "\n"
        }
        Format::Text => format!(
            "time=\"{}\" level={level} msg={}\n",
            now_rfc3339(),
            serde_json::Value::from(msg)
        ),
    }
}

impl Logger {
    pub fn init(path: Option<&Path>, format: Format, debug: bool) -> Logger {
        let file = path
            .and_then(|p| File::options().create(true).append(true).open(p).ok())
            .map(|f| Arc::new(Mutex::new(f)));
        let logger = Logger { file, format };
        let max = if debug { Level::DEBUG } else { Level::WARN };
        let subscriber = tracing_subscriber::registry().with(Events {
            logger: logger.clone(),
            max,
        });
        let _ = tracing::subscriber::set_global_default(subscriber);
        logger
    }

    fn write(&self, level: &str, msg: &str) {
        let text = line(self.format, level, msg);
        match &self.file {
            Some(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(text.as_bytes());
                }
            }
            None => {
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
        }
    }

    /// A failed command: one line on stderr, and the same in the log file.
    pub fn error(&self, msg: &str) {
        if self.file.is_some() {
            self.write("error", msg);
        }
        eprintln!("berth-runtime: {msg}");
    }
}

struct Events {
    logger: Logger,
    max: Level,
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl<S: Subscriber> Layer<S> for Events {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > self.max {
            return;
        }
        let mut msg = Message(String::new());
        event.record(&mut msg);
        let name = match level {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            _ => "debug",
        };
        self.logger.write(name, &msg.0);
    }
}

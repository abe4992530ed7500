//! `POST /build`: the classic builder's API over the engine's `build`.
//! The body (the context as a tar, maybe gzipped) is read to its end
//! first, as dockerd does, then the build's progress goes out as the
//! classic builder's `{"stream": ...}` lines (`Step 1/4 : FROM x`, ` --->
//! <id>`, the `RUN` output), then `{"aux":{"ID": ...}}`, `Successfully
//! built`, `Successfully tagged`; a failure is a last `errorDetail` line.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use berth_engine::build::{BuildRequest, ContextSource, DockerfileSource};
use berth_engine::builder::{BuildOptions, Network, Progress};
use berth_engine::image::{Digest, Platform, Reference};
use hyper::body::Incoming;
use hyper::Request;
use serde_json::json;

use crate::images::stream::{self, Sink};
use crate::reply::{ApiError, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// Query parameters berth's builder has no equivalent for, refused by
/// name when set to anything but their default (what the docker CLI
/// sends when the user did not ask).
const UNSUPPORTED: &[&str] = &[
    "cachefrom",
    "extrahosts",
    "securityopt",
    "squash",
    "isolation",
    "remote",
    "outputs",
    "session",
    "ulimits",
    "cpusetcpus",
    "cpusetmems",
    "cpushares",
    "cpuquota",
    "cpuperiod",
    "memory",
    "memswap",
    "shmsize",
];

/// A parameter at its default: absent, empty, zero, false, or an empty
/// JSON value.
fn is_default(key: &str, v: &str) -> bool {
    let v = v.trim();
    match key {
        "isolation" => matches!(v, "" | "default"),
        "squash" => matches!(v.to_lowercase().as_str(), "" | "0" | "false" | "no"),
        _ => matches!(v, "" | "0" | "-1" | "null" | "[]" | "{}"),
    }
}

fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// The build's options from the query, or the 400 dockerd's (or berth's)
/// checks give.
fn options(q: &Query) -> Result<(BuildOptions, String, bool), ApiError> {
    if let Some(v) = q.get("version").filter(|v| !v.is_empty()) {
        if v == "2" {
            return Err(ApiError::bad_request(
                "BuildKit (version=2) is not supported by berth serve: use the classic builder (DOCKER_BUILDKIT=0)",
            ));
        }
        if v != "1" {
            return Err(ApiError::bad_request(format!("invalid version \"{v}\"")));
        }
    }
    let set: Vec<&str> = UNSUPPORTED
        .iter()
        .copied()
        .filter(|k| q.all(k).iter().any(|v| !is_default(k, v)))
        .collect();
    if !set.is_empty() {
        return Err(ApiError::bad_request(format!(
            "build options not supported by berth: {}",
            set.join(", ")
        )));
    }
    let tags = q
        .all("t")
        .into_iter()
        .filter(|t| !t.is_empty())
        .map(|t| Reference::parse(t).map_err(|e| bad(format!("invalid tag {t:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut build_args = BTreeMap::new();
    if let Some(raw) = q.get("buildargs").filter(|r| !r.is_empty()) {
        let args: HashMap<String, Option<String>> =
            serde_json::from_str(raw).map_err(|e| bad(format!("error reading build args: {e}")))?;
        // A null value: `--build-arg K` without K in the client's
        // environment, left out as the CLI's own build leaves it.
        build_args.extend(args.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    }
    let labels: BTreeMap<String, String> = match q.get("labels").filter(|r| !r.is_empty()) {
        Some(raw) => {
            serde_json::from_str(raw).map_err(|e| bad(format!("error reading labels: {e}")))?
        }
        None => BTreeMap::new(),
    };
    let network = match q.get("networkmode").unwrap_or("") {
        "" => Network::Default,
        mode => Network::parse(mode).map_err(bad)?,
    };
    let platform = q
        .get("platform")
        .filter(|p| !p.is_empty())
        .map(Platform::parse)
        .transpose()
        .map_err(bad)?;
    let options = BuildOptions {
        tags,
        build_args,
        target: q.get("target").filter(|t| !t.is_empty()).map(str::to_owned),
        no_cache: q.bool("nocache"),
        pull: q.bool("pull"),
        labels,
        platform,
        network,
        ..Default::default()
    };
    // Inside the context always: a path of the server's own is not the
    // client's to name.
    let dockerfile = q
        .get("dockerfile")
        .map(|d| d.trim_start_matches('/'))
        .filter(|d| !d.is_empty())
        .unwrap_or("Dockerfile")
        .to_owned();
    Ok((options, dockerfile, q.bool("q")))
}

/// `POST /build`. `rm`/`forcerm` are accepted: berth removes every step's
/// container. Base images are pulled with `X-Registry-Config`'s
/// credentials (else those `berth login` stored), reaching registries as
/// dockerd does by default.
pub async fn build(server: &Server, req: Request<Incoming>, q: &Query) -> ApiResult {
    let (options, dockerfile, quiet) = match options(q) {
        Ok(o) => o,
        Err(e) => {
            stream::discard_body(req, 64 << 20).await;
            return Err(e);
        }
    };
    let cgroup_parent = q
        .get("cgroupparent")
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let credentials = crate::images::registry::registry_config(req.headers());
    let context = stream::spool_body(req).await?;
    let runtime = server.runtime.clone();
    let tags = options.tags.clone();
    stream::respond(server, "application/json", move |e, sink| {
        let progress = Classic::new(sink.clone(), quiet);
        let request = BuildRequest {
            context: ContextSource::Tar(Box::new(std::io::BufReader::new(context))),
            dockerfile: DockerfileSource::Path(dockerfile),
            options,
            runtime,
            cgroup_parent,
            // dockerd's: loopback registries insecure, others verified.
            tls_verify: None,
            credentials,
        };
        let built = e.build(request, &progress)?;
        let id = built.image.to_string();
        sink.json(&json!({ "aux": { "ID": id } }));
        if quiet {
            sink.stream(&format!("{id}\n"));
            return Ok(());
        }
        sink.stream(&format!("Successfully built {}\n", built.image.short()));
        for t in &tags {
            sink.stream(&format!("Successfully tagged {}\n", t.familiar()));
        }
        Ok(())
    })
    .await
}

/// The classic builder's lines from berth's build progress.
struct Classic {
    sink: Sink,
    quiet: bool,
    state: Mutex<Steps>,
}

#[derive(Default)]
struct Steps {
    total: usize,
    shown: usize,
    /// Each running step's image, shown when the step ends.
    images: HashMap<usize, Digest>,
}

impl Classic {
    fn new(sink: Sink, quiet: bool) -> Classic {
        Classic {
            sink,
            quiet,
            state: Mutex::new(Steps::default()),
        }
    }

    fn say(&self, text: &str) {
        if !self.quiet {
            self.sink.stream(text);
        }
    }
}

/// `[stage-1 2/4] RUN make` → `RUN make`.
fn instruction(name: &str) -> &str {
    match name.strip_prefix('[').and_then(|r| r.split_once("] ")) {
        Some((_, rest)) => rest,
        None => name,
    }
}

impl Progress for Classic {
    fn planned(&self, steps: usize) {
        self.state.lock().expect("steps").total = steps;
    }

    fn start(&self, _id: usize, name: &str) {
        let (n, total) = {
            let mut s = self.state.lock().expect("steps");
            s.shown += 1;
            (s.shown, s.total.max(s.shown))
        };
        self.say(&format!("Step {n}/{total} : {}\n", instruction(name)));
    }

    fn output(&self, _id: usize, data: &[u8]) {
        self.say(&String::from_utf8_lossy(data));
    }

    fn image(&self, id: usize, image: &Digest) {
        self.state
            .lock()
            .expect("steps")
            .images
            .insert(id, image.clone());
    }

    fn done(&self, id: usize, cached: bool, _took: Duration) {
        if cached {
            self.say(" ---> Using cache\n");
        }
        let image = self.state.lock().expect("steps").images.remove(&id);
        if let Some(image) = image {
            self.say(&format!(" ---> {}\n", image.short()));
        }
    }

    fn note(&self, text: &str) {
        self.say(&format!("{text}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_lose_buildkit_step_prefixes() {
        assert_eq!(instruction("[stage-1 2/4] RUN make"), "RUN make");
        assert_eq!(instruction("[1/3] FROM bb:1"), "FROM bb:1");
        assert_eq!(instruction("COPY a b"), "COPY a b");
    }

    #[test]
    fn the_docker_clis_defaults_are_not_refused() {
        let q = Query::parse(Some(
            "t=x%3A1&t=y&rm=1&buildargs=%7B%7D&labels=%7B%7D&cachefrom=null&ulimits=null&memory=0&memswap=0&cpushares=0&shmsize=0&networkmode=default&version=1&dockerfile=Dockerfile&target=",
        ));
        let (o, file, quiet) = options(&q).unwrap();
        assert_eq!(o.tags.len(), 2);
        assert_eq!((file.as_str(), quiet), ("Dockerfile", false));
        let q = Query::parse(Some("cachefrom=%5B%22a%22%5D&memory=5&version=1"));
        assert_eq!(
            options(&q).unwrap_err().message,
            "build options not supported by berth: cachefrom, memory"
        );
        let q = Query::parse(Some("version=2"));
        assert!(options(&q).unwrap_err().message.contains("BuildKit"));
        let q = Query::parse(Some(
            "buildargs=%7B%22A%22%3A%221%22%2C%22B%22%3Anull%7D&dockerfile=%2Fetc%2Fshadow",
        ));
        let (o, file, _) = options(&q).unwrap();
        assert_eq!(o.build_args.len(), 1);
        assert_eq!(file, "etc/shadow");
    }
}

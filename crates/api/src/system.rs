//! `/_ping`, `/version`, `/info`: what clients read first.

use hyper::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::reply::{self, ApiResult, Reply};
use crate::server::Server;
use crate::{API_VERSION, MIN_API_VERSION};

/// `GET /_ping` is `OK`; `HEAD` the same headers. `Builder-Version: 1`:
/// the classic build endpoint (a `2` would switch the docker CLI to
/// BuildKit, which berth does not serve).
pub fn ping(method: &Method) -> Reply {
    let mut r = if *method == Method::HEAD {
        Response::builder()
            .status(StatusCode::OK)
            .header("Content-Type", "text/plain; charset=utf-8")
            .header("Content-Length", "0")
            .body(reply::empty())
            .expect("response")
    } else {
        reply::text(StatusCode::OK, "OK")
    };
    let h = r.headers_mut();
    h.insert(
        "Cache-Control",
        "no-cache, no-store, must-revalidate"
            .parse()
            .expect("header"),
    );
    h.insert("Pragma", "no-cache".parse().expect("header"));
    h.insert("Builder-Version", "1".parse().expect("header"));
    r
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub async fn version(server: &Server) -> ApiResult {
    let runtime = server.runtime.to_string_lossy().into_owned();
    let facts = tokio::task::spawn_blocking(move || berth_engine::ops::info::host_facts(&runtime))
        .await
        .map_err(|e| reply::ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let v = env!("CARGO_PKG_VERSION");
    reply::ok_json(&json!({
        "Platform": { "Name": "berth" },
        "Components": [{
            "Name": "Engine",
            "Version": v,
            "Details": {
                "ApiVersion": API_VERSION,
                "MinAPIVersion": MIN_API_VERSION,
                "Arch": arch(),
                "Os": "linux",
                "KernelVersion": facts.kernel_version,
                "Experimental": server.experimental.to_string(),
            },
        }, {
            "Name": facts.runtime_name,
            "Version": facts.runtime_version,
            "Details": {},
        }],
        "Version": v,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": facts.kernel_version,
        "Experimental": server.experimental,
        "BuildTime": "",
    }))
}

pub async fn info(server: &Server) -> ApiResult {
    let runtime = server.runtime.to_string_lossy().into_owned();
    let i = server.engine(move |e| Ok(e.info(&runtime)?)).await?;
    reply::ok_json(&json!({
        "ID": "",
        "Containers": i.containers,
        "ContainersRunning": i.running,
        "ContainersPaused": i.paused,
        "ContainersStopped": i.stopped,
        "Images": i.images,
        "Driver": "overlay2",
        "DriverStatus": [],
        "Plugins": { "Volume": ["local"], "Network": ["bridge", "host", "ipvlan", "macvlan", "null"], "Log": ["json-file", "k8s-file", "none"] },
        "MemoryLimit": true,
        "SwapLimit": true,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "IPv4Forwarding": true,
        "Debug": false,
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": i.cgroup_version,
        "KernelVersion": i.kernel_version,
        "OperatingSystem": i.operating_system,
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": i.ncpu,
        "MemTotal": i.mem_total,
        "DockerRootDir": i.root,
        "Name": i.hostname,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": { i.runtime_name.clone(): { "path": i.runtime_name } },
        "DefaultRuntime": i.runtime_name,
        "Swarm": { "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": null },
        "LiveRestoreEnabled": false,
        // What `docker info` prints as `Experimental:`.
        "ExperimentalBuild": server.experimental,
        "Isolation": "",
        "SecurityOptions": ["name=seccomp,profile=default"],
        "Warnings": [],
    }))
}

/// `GET /system/df`: the same usage `berth system df` sums, as dockerd's
/// `DiskUsage` (the docker CLI computes the table from it).
pub async fn df(server: &Server) -> ApiResult {
    let v = server
        .engine(|e| {
            let du = e.disk_usage()?;
            let cache = e.build_cache_usage()?;
            let images: Vec<Value> = du
                .images
                .iter()
                .map(|i| {
                    let tags: Vec<String> = i.tags.iter().map(|t| t.familiar()).collect();
                    json!({
                        "Id": i.id.to_string(),
                        "ParentId": "",
                        "RepoTags": tags,
                        "RepoDigests": [],
                        "Created": berth_engine::image::time::parse_rfc3339(&i.created).unwrap_or(0),
                        "Size": i.size,
                        "SharedSize": i.shared,
                        "VirtualSize": i.size,
                        "Labels": Value::Null,
                        "Containers": i.containers,
                    })
                })
                .collect();
            let containers: Vec<Value> = du
                .containers
                .iter()
                .map(|(c, rw)| {
                    let mut row = crate::containers::summary(e, c);
                    let (_, root_fs) = e.container_sizes(c);
                    row["SizeRw"] = json!(rw);
                    row["SizeRootFs"] = json!(root_fs);
                    row
                })
                .collect();
            let volumes: Vec<Value> = du
                .volumes
                .iter()
                .map(|u| {
                    let mut v = e.inspect_volume_json(&u.volume);
                    v["UsageData"] = json!({
                        "Size": u.size.map_or(-1, |s| s as i64),
                        "RefCount": u.links,
                    });
                    v
                })
                .collect();
            let build_cache: Vec<Value> = cache
                .entries
                .iter()
                .map(|c| {
                    json!({
                        "ID": c.image.to_string(),
                        "Parent": "",
                        "Type": "regular",
                        "Description": "build step image",
                        "InUse": false,
                        "Shared": false,
                        "Size": c.size,
                        "CreatedAt": c.recorded,
                        "LastUsedAt": Value::Null,
                        "UsageCount": 0,
                    })
                })
                .collect();
            Ok(json!({
                "LayersSize": du.images_size,
                "Images": images,
                "Containers": containers,
                "Volumes": volumes,
                "BuildCache": build_cache,
            }))
        })
        .await?;
    reply::ok_json(&v)
}

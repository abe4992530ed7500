//! `POST /containers/create`: dockerd's `Config` + `HostConfig` +
//! `NetworkingConfig` as the engine's [`CreateOptions`], through the same
//! option strings and types the `berth create` flags produce (`--ulimit
//! nofile=1:2`, `--device A:B:rwm`, `--tmpfs /t:size=1m`, [`Resources`]),
//! so Docker's checks stay in the engine. The docker CLI and
//! docker-compose send every field, mostly zero: a field the engine cannot
//! do is refused by name only when its value is not the default.

use berth_engine::{CreateOptions, NetworkOptions, Resources, SecurityOptions, StdioConfig};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Map, Value};

use super::{json_body, text};
use crate::reply::{self, strings, ApiError, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// `POST /containers/create?name=`.
pub async fn create(server: &Server, req: Request<Incoming>, q: &Query) -> ApiResult {
    let body = json_body(req).await?;
    let mut o = create_options(&body)?;
    o.name = q.get("name").filter(|n| !n.is_empty()).map(str::to_owned);
    o.runtime = server.runtime.clone();
    let c = server.engine(move |e| Ok(e.create(&o)?)).await?;
    Ok(reply::json(
        StatusCode::CREATED,
        &json!({ "Id": c.id, "Warnings": [] }),
    ))
}

/// `HostConfig` fields the engine has no setting for, each with the value
/// that means "not set" besides zero/empty/null (`MemorySwappiness` -1).
const UNSUPPORTED_HOST_CONFIG: &[&str] = &[
    "Links",
    "OomKillDisable",
    "DeviceCgroupRules",
    "DeviceRequests",
    "MemorySwappiness",
    "KernelMemory",
    "KernelMemoryTCP",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpuCount",
    "CpuPercent",
    "IOMaximumIOps",
    "IOMaximumBandwidth",
    "BlkioWeightDevice",
    "VolumeDriver",
    "UsernsMode",
    "CgroupnsMode",
    "Cgroup",
    "PidMode",
    "UTSMode",
    "StorageOpt",
    "MaskedPaths",
    "ReadonlyPaths",
    "Capabilities",
    "Annotations",
    // The server's `--runtime` runs every container.
    "Runtime",
];

fn is_default(key: &str, v: &Value) -> bool {
    match (key, v) {
        ("MemorySwappiness", Value::Number(n)) => n.as_i64() == Some(-1),
        // dockerd's own words for its default namespace modes.
        ("IpcMode", Value::String(s)) => matches!(s.as_str(), "" | "private"),
        ("Isolation", Value::String(s)) => matches!(s.as_str(), "" | "default"),
        (_, Value::Null) => true,
        (_, Value::Bool(b)) => !b,
        (_, Value::Number(n)) => n.as_f64() == Some(0.0),
        (_, Value::String(s)) => s.is_empty(),
        (_, Value::Array(a)) => a.is_empty(),
        (_, Value::Object(o)) => o.is_empty(),
    }
}

/// The resource-like fields `docker update` may send that the engine
/// cannot change: a non-default value is refused by name.
pub fn refuse_unsupported_update(body: &Value) -> Result<(), ApiError> {
    const FIELDS: &[&str] = &[
        "OomKillDisable",
        "DeviceCgroupRules",
        "DeviceRequests",
        "Devices",
        "Ulimits",
        "MemorySwappiness",
        "KernelMemory",
        "KernelMemoryTCP",
        "CpuRealtimePeriod",
        "CpuRealtimeRuntime",
        "CpuCount",
        "CpuPercent",
        "IOMaximumIOps",
        "IOMaximumBandwidth",
        "BlkioWeightDevice",
    ];
    match FIELDS.iter().find(|k| !is_default(k, &body[**k])) {
        Some(k) => Err(unsupported(k)),
        None => Ok(()),
    }
}

fn unsupported(field: &str) -> ApiError {
    ApiError::bad_request(format!("{field} is not supported by berth"))
}

/// dockerd's create body as the engine's options.
pub fn create_options(body: &Value) -> Result<CreateOptions, ApiError> {
    let hc = &body["HostConfig"];
    for key in UNSUPPORTED_HOST_CONFIG
        .iter()
        .chain(&["IpcMode", "Isolation"])
    {
        if !is_default(key, &hc[*key]) {
            return Err(unsupported(&format!("HostConfig.{key}")));
        }
    }
    if !is_default("Healthcheck", &body["Healthcheck"]) {
        return Err(unsupported("Healthcheck"));
    }
    let image = text(&body["Image"]).ok_or_else(|| ApiError::bad_request("No image specified"))?;
    // Docker's Entrypoint is a list; the engine's is one word with the
    // rest given to the command.
    let mut cmd = strings(&body["Cmd"]);
    let entrypoint = match &body["Entrypoint"] {
        Value::Array(a) if a.is_empty() => Some(String::new()),
        Value::Array(_) => {
            let mut words = strings(&body["Entrypoint"]);
            let first = words.remove(0);
            words.append(&mut cmd);
            cmd = words;
            Some(first)
        }
        Value::String(s) => Some(s.clone()),
        _ => None,
    };
    let mut volumes = strings(&hc["Binds"]);
    volumes.extend(
        body["Volumes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone()),
    );
    let mounts = hc["Mounts"]
        .as_array()
        .map(|a| a.iter().map(mount_flag).collect::<Result<Vec<_>, _>>())
        .transpose()?
        .unwrap_or_default();
    let (network, net) = network_options(body)?;
    let restart = match text(&hc["RestartPolicy"]["Name"]) {
        None => None,
        Some(name) => match hc["RestartPolicy"]["MaximumRetryCount"].as_u64() {
            Some(n) if n > 0 => Some(format!("{name}:{n}")),
            _ => Some(name),
        },
    };
    let console_size = match strings_or_numbers(&hc["ConsoleSize"]).as_slice() {
        [h, w] if *h > 0 && *w > 0 => Some((*h as u16, *w as u16)),
        _ => None,
    };
    Ok(CreateOptions {
        image,
        cmd,
        entrypoint,
        env: strings(&body["Env"]),
        working_dir: text(&body["WorkingDir"]),
        user: text(&body["User"]),
        hostname: text(&body["Hostname"]),
        auto_remove: hc["AutoRemove"].as_bool().unwrap_or(false),
        cgroup_parent: text(&hc["CgroupParent"]),
        network,
        net,
        stdio: StdioConfig {
            tty: body["Tty"].as_bool().unwrap_or(false),
            open_stdin: body["OpenStdin"].as_bool().unwrap_or(false),
            stdin_once: body["StdinOnce"].as_bool().unwrap_or(false),
            console_size,
        },
        labels: key_values(&body["Labels"]),
        security: security_options(hc)?,
        resources: resources(hc)?,
        restart,
        stop_signal: text(&body["StopSignal"]),
        stop_timeout: body["StopTimeout"].as_u64(),
        log_driver: text(&hc["LogConfig"]["Type"]),
        log_opts: key_values(&hc["LogConfig"]["Config"]),
        volumes,
        mounts,
        volumes_from: strings(&hc["VolumesFrom"]),
        ..Default::default()
    })
}

fn strings_or_numbers(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// A `{"k": "v"}` map as `k=v` strings (labels, log options, sysctls).
fn key_values(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default()
}

/// The resource fields of `HostConfig` (dockerd's `Resources`, the
/// engine's type with the same names); nulls are "not set".
pub fn resources(hc: &Value) -> Result<Resources, ApiError> {
    const FIELDS: &[&str] = &[
        "Memory",
        "MemoryReservation",
        "MemorySwap",
        "NanoCpus",
        "CpuShares",
        "CpuPeriod",
        "CpuQuota",
        "CpusetCpus",
        "CpusetMems",
        "PidsLimit",
        "BlkioWeight",
        "BlkioDeviceReadBps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteIOps",
    ];
    let set: Map<String, Value> = FIELDS
        .iter()
        .filter(|k| !hc[**k].is_null())
        .map(|k| (k.to_string(), hc[*k].clone()))
        .collect();
    serde_json::from_value(Value::Object(set))
        .map_err(|e| ApiError::bad_request(format!("invalid resources: {e}")))
}

/// The security and process fields, as the `berth create` flags give
/// them.
fn security_options(hc: &Value) -> Result<SecurityOptions, ApiError> {
    let ulimits = hc["Ulimits"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            let name = u["Name"].as_str().unwrap_or("");
            format!("{name}={}:{}", u["Soft"], u["Hard"])
        })
        .collect();
    let devices = hc["Devices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let host = d["PathOnHost"].as_str().unwrap_or("");
            let inside = text(&d["PathInContainer"]).unwrap_or_else(|| host.to_owned());
            let perms = text(&d["CgroupPermissions"]).unwrap_or_else(|| "rwm".into());
            format!("{host}:{inside}:{perms}")
        })
        .collect();
    let tmpfs = hc["Tmpfs"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, opts)| match opts.as_str() {
            Some(o) if !o.is_empty() => format!("{path}:{o}"),
            _ => path.clone(),
        })
        .collect();
    Ok(SecurityOptions {
        privileged: hc["Privileged"].as_bool().unwrap_or(false),
        cap_add: strings(&hc["CapAdd"]),
        cap_drop: strings(&hc["CapDrop"]),
        security_opt: strings(&hc["SecurityOpt"]),
        read_only: hc["ReadonlyRootfs"].as_bool().unwrap_or(false),
        tmpfs,
        devices,
        shm_size: hc["ShmSize"]
            .as_i64()
            .filter(|n| *n != 0)
            .map(|n| n.to_string()),
        ulimits,
        oom_score_adj: hc["OomScoreAdj"]
            .as_i64()
            .filter(|n| *n != 0)
            .map(|n| n as i32),
        sysctls: key_values(&hc["Sysctls"]),
        group_add: strings(&hc["GroupAdd"]),
        init: hc["Init"].as_bool().unwrap_or(false),
    })
}

/// `--network` and the network flags: `HostConfig.NetworkMode` (Docker's
/// `default` is the engine's default), ports, DNS, hosts, and the one
/// `NetworkingConfig.EndpointsConfig` entry (aliases, addresses, MAC).
fn network_options(body: &Value) -> Result<(Option<String>, NetworkOptions), ApiError> {
    let hc = &body["HostConfig"];
    let mut network = text(&hc["NetworkMode"]).filter(|n| n != "default");
    if network.is_none() && body["NetworkDisabled"].as_bool().unwrap_or(false) {
        network = Some("none".into());
    }
    let mut net = NetworkOptions {
        dns: strings(&hc["Dns"]),
        dns_search: strings(&hc["DnsSearch"]),
        dns_options: strings(&hc["DnsOptions"]),
        add_hosts: strings(&hc["ExtraHosts"]),
        publish_all: hc["PublishAllPorts"].as_bool().unwrap_or(false),
        domainname: text(&body["Domainname"]),
        // API < 1.44 puts it here; later versions per endpoint.
        mac_address: text(&body["MacAddress"]),
        ..Default::default()
    };
    for (port, bindings) in hc["PortBindings"].as_object().into_iter().flatten() {
        for b in bindings.as_array().into_iter().flatten() {
            let ip = b["HostIp"].as_str().unwrap_or("");
            let host = b["HostPort"].as_str().unwrap_or("");
            net.publish.push(match (ip, host) {
                ("", "") => port.clone(),
                ("", h) => format!("{h}:{port}"),
                (i, h) => format!("{i}:{h}:{port}"),
            });
        }
    }
    net.expose.extend(
        body["ExposedPorts"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(p, _)| p.clone()),
    );
    let endpoints = body["NetworkingConfig"]["EndpointsConfig"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if endpoints.len() > 1 {
        let names: Vec<&str> = endpoints.keys().map(String::as_str).collect();
        return Err(ApiError::bad_request(format!(
            "Container cannot be connected to network endpoints: {}",
            names.join(", ")
        )));
    }
    if let Some((name, ep)) = endpoints.iter().next() {
        // docker-py names the network here only.
        if network.is_none() && name != "default" {
            network = Some(name.clone());
        }
        if !is_default("Links", &ep["Links"]) {
            return Err(unsupported(&format!(
                "NetworkingConfig.EndpointsConfig.{name}.Links"
            )));
        }
        for field in ["DriverOpts", "IPAMConfig.LinkLocalIPs"] {
            let value = field.split('.').fold(ep, |v, k| &v[k]);
            if !is_default(field, value) {
                return Err(unsupported(&format!(
                    "NetworkingConfig.EndpointsConfig.{name}.{field}"
                )));
            }
        }
        net.aliases = strings(&ep["Aliases"]);
        net.ip = text(&ep["IPAMConfig"]["IPv4Address"]);
        net.ip6 = text(&ep["IPAMConfig"]["IPv6Address"]);
        if let Some(mac) = text(&ep["MacAddress"]) {
            net.mac_address = Some(mac);
        }
    }
    Ok((network, net))
}

/// A `HostConfig.Mounts` entry as the `--mount` flag.
fn mount_flag(m: &Value) -> Result<String, ApiError> {
    let mut parts = vec![format!("type={}", m["Type"].as_str().unwrap_or("volume"))];
    if let Some(s) = text(&m["Source"]) {
        parts.push(format!("source={s}"));
    }
    let target = text(&m["Target"]).ok_or_else(|| {
        ApiError::bad_request("invalid mount config: field Target must not be empty")
    })?;
    parts.push(format!("target={target}"));
    if m["ReadOnly"].as_bool().unwrap_or(false) {
        parts.push("readonly".into());
    }
    if let Some(p) = text(&m["BindOptions"]["Propagation"]) {
        parts.push(format!("bind-propagation={p}"));
    }
    if m["VolumeOptions"]["NoCopy"].as_bool().unwrap_or(false) {
        parts.push("volume-nocopy".into());
    }
    if let Some(n) = m["TmpfsOptions"]["SizeBytes"].as_i64().filter(|n| *n > 0) {
        parts.push(format!("tmpfs-size={n}"));
    }
    if let Some(n) = m["TmpfsOptions"]["Mode"].as_u64().filter(|n| *n > 0) {
        parts.push(format!("tmpfs-mode={n:o}"));
    }
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the docker CLI sends for `docker run bb:1 true`: all zeros.
    fn plain() -> Value {
        json!({
            "Image": "bb:1", "Cmd": ["true"], "Env": null, "Entrypoint": null, "Labels": {},
            "Volumes": {},
            "HostConfig": {
                "Binds": null, "NetworkMode": "default", "PortBindings": {},
                "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                "VolumesFrom": null, "ConsoleSize": [0, 0], "CapAdd": null, "CgroupnsMode": "",
                "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": null, "GroupAdd": null,
                "IpcMode": "", "Cgroup": "", "Links": null, "PidMode": "", "UTSMode": "",
                "SecurityOpt": null, "ShmSize": 0, "Isolation": "", "Memory": 0, "NanoCpus": 0,
                "BlkioWeightDevice": [], "BlkioDeviceReadBps": [], "Devices": [],
                "DeviceCgroupRules": null, "MemorySwappiness": -1, "OomKillDisable": false,
                "PidsLimit": 0, "Ulimits": [], "MaskedPaths": null, "ReadonlyPaths": null
            },
            "NetworkingConfig": {"EndpointsConfig": {"default": {"IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": ""}}}
        })
    }

    #[test]
    fn zero_valued_fields_are_not_set() {
        let o = create_options(&plain()).unwrap();
        assert_eq!(o.network, None);
        // PidsLimit 0 is "no limit", as the engine reads it.
        let r = Resources {
            pids_limit: None,
            ..o.resources.clone()
        };
        assert!(r.is_empty());
        assert!(o.security.devices.is_empty() && o.security.ulimits.is_empty());
    }

    #[test]
    fn host_config_maps_to_the_flags_strings() {
        let mut b = plain();
        let hc = b["HostConfig"].as_object_mut().unwrap();
        hc.insert("Memory".into(), json!(67108864));
        hc.insert("NanoCpus".into(), json!(500000000));
        hc.insert(
            "Ulimits".into(),
            json!([{"Name": "nofile", "Soft": 100, "Hard": 200}]),
        );
        hc.insert("Devices".into(), json!([{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "rw"}]));
        hc.insert("Tmpfs".into(), json!({"/t": "size=1m", "/u": ""}));
        hc.insert("Sysctls".into(), json!({"net.ipv4.ip_forward": "1"}));
        hc.insert("ShmSize".into(), json!(8388608));
        hc.insert("NetworkMode".into(), json!("n1"));
        b["NetworkingConfig"] = json!({"EndpointsConfig": {"n1": {"Aliases": ["web"], "IPAMConfig": {"IPv4Address": "10.9.0.5"}}}});
        let o = create_options(&b).unwrap();
        assert_eq!(o.resources.memory, 64 << 20);
        assert_eq!(o.resources.nano_cpus, 500_000_000);
        assert_eq!(o.security.ulimits, ["nofile=100:200"]);
        assert_eq!(o.security.devices, ["/dev/null:/dev/x:rw"]);
        assert_eq!(o.security.tmpfs, ["/t:size=1m", "/u"]);
        assert_eq!(o.security.sysctls, ["net.ipv4.ip_forward=1"]);
        assert_eq!(o.security.shm_size.as_deref(), Some("8388608"));
        assert_eq!(o.network.as_deref(), Some("n1"));
        assert_eq!(o.net.aliases, ["web"]);
        assert_eq!(o.net.ip.as_deref(), Some("10.9.0.5"));
    }

    #[test]
    fn what_the_engine_cannot_do_is_refused_by_name() {
        for (k, v) in [
            ("OomKillDisable", json!(true)),
            ("Links", json!(["a:b"])),
            ("PidMode", json!("host")),
            ("MemorySwappiness", json!(10)),
            ("IpcMode", json!("host")),
        ] {
            let mut b = plain();
            b["HostConfig"][k] = v;
            let e = create_options(&b).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert_eq!(
                e.message,
                format!("HostConfig.{k} is not supported by berth")
            );
        }
    }

    #[test]
    fn the_endpoint_names_the_network_docker_py_joins() {
        let mut b = plain();
        b["HostConfig"]["NetworkMode"] = json!("default");
        b["NetworkingConfig"] = json!({"EndpointsConfig": {"proj_default": {"Aliases": ["web"], "IPAMConfig": {}, "Links": []}}});
        let o = create_options(&b).unwrap();
        assert_eq!(o.network.as_deref(), Some("proj_default"));
        assert_eq!(o.net.aliases, ["web"]);
        assert_eq!(o.net.ip, None);
        b["NetworkingConfig"]["EndpointsConfig"]["other"] = json!({});
        let e = create_options(&b).unwrap_err();
        assert_eq!(
            e.message,
            "Container cannot be connected to network endpoints: other, proj_default"
        );
        b["NetworkingConfig"] = json!({"EndpointsConfig": {"n": {"Links": ["a:b"]}}});
        assert_eq!(
            create_options(&b).unwrap_err().message,
            "NetworkingConfig.EndpointsConfig.n.Links is not supported by berth"
        );
    }
}

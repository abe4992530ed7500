//! `inspect`: a container's or an image's record in Docker's JSON shape,
//! built here so the CLI and an API server print the same document.

use serde_json::{json, Value};

use crate::error::Result;
use crate::model::{Container, State};
use crate::ops::images::ImageConfig;
use crate::Engine;

impl Engine {
    /// `inspect` of a container: Docker's `ContainerJSON` (what `docker
    /// inspect` prints and the Engine API's `/containers/{id}/json`
    /// returns); `size` adds `SizeRw` and `SizeRootFs`.
    /// Docker's `NetworkSettings`: the container's endpoints (while it
    /// runs; a stopped container keeps its networks with empty addresses),
    /// its published ports, and the first network's address at the top
    /// level as Docker's legacy fields.
    fn network_settings(&self, c: &Container) -> Value {
        let endpoints = self.db.endpoints(&c.id).unwrap_or_default();
        let published = self.db.published_ports(&c.id).unwrap_or_default();
        let mut networks = serde_json::Map::new();
        let requested = self
            .requested_networks(&c.config.networks, &c.config.network_mode)
            .unwrap_or_default();
        let empty = |name: &str, id: &str, aliases: &[String]| {
            json!({
                "IPAMConfig": null, "Links": null, "Aliases": if aliases.is_empty() { Value::Null } else { json!(aliases) },
                "NetworkID": id, "EndpointID": "", "Gateway": "", "IPAddress": "",
                "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0, "MacAddress": "", "DNSNames": null,
                "_name": name,
            })
        };
        for (id, r) in &requested {
            let mut v = empty(&r.name, id, &r.aliases);
            if let (Some(ep), Ok(n)) = (
                endpoints.iter().find(|e| &e.network_id == id),
                self.db.network(id),
            ) {
                let v4 = n.subnet_v4();
                let v6 = n.subnet_v6();
                v["EndpointID"] = json!(ep.host_ifname);
                v["MacAddress"] = json!(ep.mac);
                if let (Some(ip), Some(s)) = (ep.ipv4, v4) {
                    v["IPAddress"] = json!(ip.to_string());
                    v["IPPrefixLen"] = json!(s.subnet.prefix_len());
                    v["Gateway"] = json!(s.gateway.to_string());
                }
                if let (Some(ip), Some(s)) = (ep.ipv6, v6) {
                    v["GlobalIPv6Address"] = json!(ip.to_string());
                    v["GlobalIPv6PrefixLen"] = json!(s.subnet.prefix_len());
                    v["IPv6Gateway"] = json!(s.gateway.to_string());
                }
                if n.is_user_defined() {
                    let mut names = vec![c.name.clone()];
                    names.extend(ep.aliases.iter().cloned());
                    names.push(c.id[..12].to_owned());
                    v["DNSNames"] = json!(names);
                }
            }
            if let Value::Object(o) = &mut v {
                o.remove("_name");
            }
            networks.insert(r.name.clone(), v);
        }
        if networks.is_empty() {
            let mode = if c.config.network_mode.is_empty() {
                "none"
            } else {
                &c.config.network_mode
            };
            if !mode.starts_with("container:") {
                networks.insert(mode.to_owned(), empty(mode, "", &[]));
                if let Some(Value::Object(o)) = networks.get_mut(mode) {
                    o.remove("_name");
                }
            }
        }
        let mut ports = serde_json::Map::new();
        for key in c.config.expose.iter().map(|e| e.to_string()) {
            ports.entry(key).or_insert(Value::Null);
        }
        for p in &published {
            let key = format!("{}/{}", p.container_port, p.protocol.as_str());
            let host_ip = p
                .host_ip
                .map_or_else(|| "0.0.0.0".to_owned(), |ip| ip.to_string());
            let entry = ports.entry(key).or_insert_with(|| json!([]));
            if !entry.is_array() {
                *entry = json!([]);
            }
            if let Value::Array(a) = entry {
                a.push(json!({ "HostIp": host_ip, "HostPort": p.host_port.to_string() }));
            }
        }
        let first = requested
            .first()
            .and_then(|(_, r)| networks.get(&r.name))
            .cloned()
            .unwrap_or(Value::Null);
        let field = |k: &str, default: Value| first.get(k).cloned().unwrap_or(default);
        json!({
            "Bridge": "",
            "SandboxID": "",
            "SandboxKey": if c.pid > 0 && !endpoints.is_empty() { json!(format!("/proc/{}/ns/net", c.pid)) } else { json!("") },
            "HairpinMode": false,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "Ports": ports,
            "EndpointID": field("EndpointID", json!("")),
            "Gateway": field("Gateway", json!("")),
            "IPAddress": field("IPAddress", json!("")),
            "IPPrefixLen": field("IPPrefixLen", json!(0)),
            "IPv6Gateway": field("IPv6Gateway", json!("")),
            "GlobalIPv6Address": field("GlobalIPv6Address", json!("")),
            "GlobalIPv6PrefixLen": field("GlobalIPv6PrefixLen", json!(0)),
            "MacAddress": field("MacAddress", json!("")),
            "Networks": networks,
        })
    }

    pub fn inspect_container(&self, c: &Container, size: bool) -> Value {
        let bundle = self.bundle(&c.id);
        let running = matches!(c.state, State::Running | State::Restarting);
        let lifecycle = self.lifecycle(c).unwrap_or_default();
        let zero = "0001-01-01T00:00:00Z";
        let or_zero = |t: &str| {
            if t.is_empty() {
                zero.to_owned()
            } else {
                t.to_owned()
            }
        };
        let cfg = &c.config;
        let sec = &cfg.security;
        let args = cfg.args();
        let mut v = json!({
            "Id": c.id,
            "Created": c.created_at,
            "Path": args.first().cloned().unwrap_or_default(),
            "Args": args.get(1..).unwrap_or_default(),
            "State": {
                "Status": match c.state {
                    State::Starting => "created",
                    State::Running if c.paused => "paused",
                    s => s.as_str(),
                },
                "Running": running,
                "Paused": c.paused,
                "Restarting": c.state == State::Restarting,
                "OOMKilled": c.oom_killed,
                "Dead": false,
                "Pid": c.pid,
                "ExitCode": c.exit_code,
                "Error": c.error,
                "StartedAt": or_zero(&c.started_at),
                "FinishedAt": or_zero(&c.finished_at),
                // Podman's checkpoint fields.
                "Checkpointed": c.checkpoint.checkpointed,
                "CheckpointedAt": or_zero(&c.checkpoint.checkpointed_at),
                "Restored": c.checkpoint.restored,
                "RestoredAt": or_zero(&c.checkpoint.restored_at),
            },
            "Image": c.image_id,
            "ResolvConfPath": bundle.file("resolv.conf"),
            "HostnamePath": bundle.file("hostname"),
            "HostsPath": bundle.file("hosts"),
            "LogPath": self.log_path(c).unwrap_or_default(),
            "Name": format!("/{}", c.name),
            "RestartCount": lifecycle.restart_count,
            "Driver": "overlay",
            "Platform": "linux",
            "HostConfig": {
                "AutoRemove": cfg.auto_remove,
                "Runtime": cfg.runtime,
                "CgroupParent": cfg.cgroup_parent,
                "NetworkMode": if cfg.network_mode.is_empty() { "none" } else { &cfg.network_mode },
                "LogConfig": { "Type": cfg.log.driver.name(), "Config": cfg.log.opts },
                "RestartPolicy": {
                    "Name": cfg.restart.name(),
                    "MaximumRetryCount": cfg.restart.max_retries(),
                },
                "CapAdd": if sec.cap_add.is_empty() { Value::Null } else { json!(sec.cap_add) },
                "CapDrop": if sec.cap_drop.is_empty() { Value::Null } else { json!(sec.cap_drop) },
                "Privileged": sec.privileged,
                "ReadonlyRootfs": sec.read_only,
                "Init": sec.init.is_some(),
                "OomScoreAdj": sec.oom_score_adj,
                "GroupAdd": if sec.group_add.is_empty() { Value::Null } else { json!(sec.group_add) },
                "Sysctls": sec.sysctls,
                "PortBindings": port_bindings(cfg),
                "PublishAllPorts": cfg.publish_all,
                // berth's own (Docker has no bandwidth limits): bits per
                // second, 0 for none
                "NetworkBandwidthEgress": cfg.bandwidth.egress.unwrap_or(0),
                "NetworkBandwidthIngress": cfg.bandwidth.ingress.unwrap_or(0),
                "Dns": cfg.dns,
                "DnsSearch": cfg.dns_search,
                "DnsOptions": cfg.dns_options,
                "ExtraHosts": if cfg.extra_hosts.is_empty() { Value::Null } else { json!(cfg.extra_hosts) },
            },
            "GraphDriver": {
                "Name": "overlay",
                "Data": { "MergedDir": bundle.rootfs() },
            },
            "Config": {
                "Hostname": cfg.hostname,
                "Domainname": cfg.domainname,
                "User": cfg.user,
                "Tty": cfg.stdio.tty,
                "OpenStdin": cfg.stdio.open_stdin,
                "StdinOnce": cfg.stdio.stdin_once,
                "Env": cfg.env,
                "Cmd": cfg.cmd,
                "Image": cfg.image,
                "WorkingDir": cfg.working_dir,
                "Entrypoint": if cfg.entrypoint.is_empty() { Value::Null } else { json!(cfg.entrypoint) },
                "Labels": cfg.labels,
                "StopSignal": if cfg.stop_signal.is_empty() { Value::Null } else { json!(cfg.stop_signal) },
                "StopTimeout": cfg.stop_timeout,
            },
            "NetworkSettings": self.network_settings(c),
            "Mounts": mounts(cfg),
        });
        let host = &mut v["HostConfig"];
        host["ShmSize"] = json!(if sec.shm_size == 0 {
            64 << 20
        } else {
            sec.shm_size
        });
        host["Tmpfs"] = tmpfs(sec);
        host["Devices"] = devices(sec);
        host["Ulimits"] = ulimits(sec);
        host["SecurityOpt"] = security_opt(sec);
        // Docker's HostConfig carries the limits (Memory, NanoCpus, ...).
        if let (Some(host), Ok(serde_json::Value::Object(limits))) = (
            v["HostConfig"].as_object_mut(),
            serde_json::to_value(&cfg.resources),
        ) {
            host.extend(limits);
        }
        if !cfg.expose.is_empty() {
            v["Config"]["ExposedPorts"] = cfg
                .expose
                .iter()
                .map(|p| (p.to_string(), json!({})))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        // Docker's Config.Volumes: the anonymous volumes' places (the
        // image's VOLUMEs and `-v /path`).
        let anonymous: serde_json::Map<_, _> = cfg
            .mounts
            .iter()
            .filter(|m| m.anonymous)
            .map(|m| (m.destination.clone(), json!({})))
            .collect();
        if !anonymous.is_empty() {
            v["Config"]["Volumes"] = anonymous.into();
        }
        if size {
            let (rw, rootfs) = self.container_sizes(c);
            v["SizeRw"] = json!(rw);
            v["SizeRootFs"] = json!(rootfs);
        }
        v
    }

    /// `image inspect` of the image `name` names: Docker's `ImageInspect`
    /// (also the Engine API's `/images/{name}/json`).
    pub fn inspect_image_json(&self, name: &str) -> Result<Value> {
        let d = self.inspect_image(name)?;
        let (id, config, tags) = (&d.id, &d.config, &d.tags);
        let repo_digests = crate::ops::images::repo_digests(tags, &d.manifest.digest);
        let lower: Vec<String> = d
            .lower_dirs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        Ok(json!({
            "Id": id.to_string(),
            "RepoTags": tags.iter().map(|t| t.familiar()).collect::<Vec<_>>(),
            "RepoDigests": repo_digests,
            "Parent": "",
            "Comment": config.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
            "Created": config.created.clone().unwrap_or_default(),
            "DockerVersion": "",
            "Author": config.author.clone().unwrap_or_default(),
            "Config": container_config(config),
            "Architecture": config.architecture,
            "Variant": config.variant,
            "Os": config.os,
            "Size": d.size,
            "GraphDriver": {"Name": "overlay", "Data": {"LowerDir": lower.join(":")}},
            "RootFS": {"Type": "layers", "Layers": config.rootfs.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
            "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
            "Descriptor": d.manifest,
        }))
    }
}

/// Docker's `HostConfig.Tmpfs`: path → options.
fn tmpfs(sec: &crate::model::SecurityConfig) -> Value {
    if sec.tmpfs.is_empty() {
        return Value::Null;
    }
    sec.tmpfs
        .iter()
        .map(|t| (t.destination.clone(), json!(t.options.join(","))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// `--device`s as Docker lists them (none for `--privileged`'s host
/// devices, as Docker).
fn devices(sec: &crate::model::SecurityConfig) -> Value {
    if sec.privileged {
        return json!([]);
    }
    sec.devices
        .iter()
        .map(|d| {
            json!({
                "PathOnHost": d.host_path,
                "PathInContainer": d.path,
                "CgroupPermissions": d.access,
            })
        })
        .collect()
}

/// `--ulimit`s with Docker's names (`nofile`) and -1 for unlimited.
fn ulimits(sec: &crate::model::SecurityConfig) -> Value {
    if sec.ulimits.is_empty() {
        return Value::Null;
    }
    let n = |v: u64| if v == u64::MAX { -1 } else { v as i64 };
    sec.ulimits
        .iter()
        .map(|u| {
            json!({
                "Name": u.kind.trim_start_matches("RLIMIT_").to_lowercase(),
                "Soft": n(u.soft),
                "Hard": n(u.hard),
            })
        })
        .collect()
}

/// `--security-opt`s in Docker's words, from the resolved settings.
fn security_opt(sec: &crate::model::SecurityConfig) -> Value {
    use crate::model::security::SeccompMode;
    let mut out = Vec::new();
    match &sec.seccomp {
        SeccompMode::Default => {}
        SeccompMode::Unconfined => out.push("seccomp=unconfined".to_owned()),
        SeccompMode::Custom(profile) => out.push(format!("seccomp={profile}")),
    }
    if !sec.apparmor_profile.is_empty() {
        out.push(format!("apparmor={}", sec.apparmor_profile));
    }
    if sec.no_new_privileges {
        out.push("no-new-privileges".to_owned());
    }
    if sec.unconfined_paths {
        out.push("systempaths=unconfined".to_owned());
    }
    if out.is_empty() {
        Value::Null
    } else {
        json!(out)
    }
}

/// Docker's `Mounts`: one entry per volume, bind and `--mount` tmpfs
/// (Name and Driver only for volumes, Propagation only for binds).
fn mounts(cfg: &crate::model::ContainerConfig) -> Value {
    use crate::model::MountKind;
    cfg.mounts
        .iter()
        .map(|m| {
            let mut v = json!({
                "Type": m.kind.as_str(),
                "Source": m.source,
                "Destination": m.destination,
                "Mode": m.mode,
                "RW": m.rw,
                "Propagation": m.propagation.map(|p| p.as_str()).unwrap_or(""),
            });
            if m.kind == MountKind::Volume {
                v["Name"] = json!(m.name);
                v["Driver"] = json!(m.driver);
            }
            v
        })
        .collect::<Vec<_>>()
        .into()
}

/// Docker's `HostConfig.PortBindings`: `{"80/tcp": [{"HostIp": "",
/// "HostPort": "8080"}]}`, one binding per `-p` of the port.
fn port_bindings(cfg: &crate::model::ContainerConfig) -> Value {
    let mut map = serde_json::Map::new();
    for p in &cfg.publish {
        let binding = json!({
            "HostIp": p.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            "HostPort": p.host_port_text(),
        });
        match map.entry(p.container_key()).or_insert_with(|| json!([])) {
            Value::Array(a) => a.push(binding),
            _ => unreachable!("a list"),
        }
    }
    Value::Object(map)
}

/// An image config's `Config` as Docker shows it.
fn container_config(config: &ImageConfig) -> Value {
    let c = config.config.clone().unwrap_or_default();
    let mut v = json!({
        "Hostname": "", "Domainname": "", "User": c.user.unwrap_or_default(),
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "ExposedPorts": c.exposed_ports,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": c.env, "Cmd": c.cmd, "Image": "", "Volumes": c.volumes,
        "WorkingDir": c.working_dir.unwrap_or_default(), "Entrypoint": c.entrypoint,
        "OnBuild": c.extra.get("OnBuild"), "Labels": c.labels, "StopSignal": c.stop_signal,
    });
    // What a Dockerfile sets beyond the typed fields, shown as Docker does.
    for key in ["Healthcheck", "Shell", "ArgsEscaped"] {
        if let Some(value) = c.extra.get(key) {
            v[key] = value.clone();
        }
    }
    v
}

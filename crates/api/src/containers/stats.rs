//! `GET /containers/{id}/stats?stream=&one-shot=`: the engine's readings
//! (`berth_engine::stats::sample`, what `berth stats` shows) in dockerd's
//! `StatsJSON` shape, one object a second while streaming. The docker CLI
//! computes CPU % and memory from `cpu_stats`/`precpu_stats` and
//! `memory_stats.usage` minus `inactive_file`, so both readings are sent
//! as read.

use std::time::Duration;

use berth_engine::stats::{sample, Sample};
use berth_engine::{Container, Engine};
use bytes::Bytes;
use hyper::StatusCode;
use serde_json::{json, Value};

use crate::reply::{self, ApiResult};
use crate::router::Query;
use crate::server::Server;

const INTERVAL: Duration = Duration::from_secs(1);
/// Go's zero time, dockerd's `preread` before a first reading.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// `GET /containers/{id}/stats`.
pub async fn stats(server: &Server, id: &str, q: &Query) -> ApiResult {
    // `stream` is true when absent (dockerd's BoolValueOrDefault).
    let stream = q.get("stream").is_none() || q.bool("stream");
    let one_shot = q.bool("one-shot");
    let key = id.to_owned();
    let c = server.engine(move |e| Ok(e.find(&key)?)).await?;
    let (r, tx) = reply::stream(StatusCode::OK, "application/json");
    let root = server.root.clone();
    tokio::task::spawn_blocking(move || {
        let Ok(engine) = Engine::open(&root) else {
            return;
        };
        let mut c = c;
        let mut previous: Option<(Sample, String)> = None;
        loop {
            let now = berth_engine::image::time::now_rfc3339();
            let current = sample(&c).unwrap_or_default();
            // A single answer waits for a second reading (precpu), unless
            // one-shot or there is nothing to read (empty at once, as
            // dockerd).
            let running = c.state == berth_engine::State::Running;
            if !stream && !one_shot && running && previous.is_none() {
                previous = Some((current, now));
                std::thread::sleep(INTERVAL);
                continue;
            }
            let v = document(&c, &current, &now, previous.as_ref());
            let mut text = v.to_string().into_bytes();
            text.push(b'\n');
            if tx.blocking_send(Bytes::from(text)).is_err() || !stream {
                return;
            }
            previous = Some((current, now));
            std::thread::sleep(INTERVAL);
            match engine.find(&c.id) {
                Ok(fresh) => c = fresh,
                // Removed: the stream ends, as dockerd's.
                Err(_) => return,
            }
        }
    });
    Ok(r)
}

/// One `StatsJSON` object: this reading and the one before.
fn document(c: &Container, s: &Sample, read: &str, previous: Option<&(Sample, String)>) -> Value {
    let empty = Sample::default();
    let (pre, preread) = previous.map_or((&empty, ZERO_TIME), |(p, t)| (p, t.as_str()));
    let mut v = json!({
        "read": read,
        "preread": preread,
        "id": c.id,
        "name": format!("/{}", c.name),
        "num_procs": 0,
        "pids_stats": pids(s),
        "cpu_stats": cpu(s),
        "precpu_stats": cpu(pre),
        "memory_stats": memory(s),
        "blkio_stats": blkio(s),
        "storage_stats": {},
    });
    if !s.interfaces.is_empty() {
        v["networks"] = s
            .interfaces
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    json!({
                        "rx_bytes": i.rx_bytes, "rx_packets": i.rx_packets,
                        "rx_errors": i.rx_errors, "rx_dropped": i.rx_dropped,
                        "tx_bytes": i.tx_bytes, "tx_packets": i.tx_packets,
                        "tx_errors": i.tx_errors, "tx_dropped": i.tx_dropped,
                    }),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    v
}

fn pids(s: &Sample) -> Value {
    let mut v = json!({});
    if let Some(cg) = &s.cgroup {
        v["current"] = json!(s.pids);
        if cg.pids.limit > 0 {
            v["limit"] = json!(cg.pids.limit);
        }
    }
    v
}

fn cpu(s: &Sample) -> Value {
    let Some(cg) = &s.cgroup else {
        return json!({ "cpu_usage": { "total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0 }, "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 } });
    };
    let u = &cg.cpu.usage;
    let mut usage = json!({
        "total_usage": u.total,
        "usage_in_kernelmode": u.kernel,
        "usage_in_usermode": u.user,
    });
    // cgroup v2 has no per-CPU numbers; dockerd leaves them out there.
    if !u.percpu.is_empty() {
        usage["percpu_usage"] = json!(u.percpu);
    }
    let t = &cg.cpu.throttling;
    json!({
        "cpu_usage": usage,
        "system_cpu_usage": s.system_total,
        "online_cpus": s.online_cpus,
        "throttling_data": {
            "periods": t.periods,
            "throttled_periods": t.throttled_periods,
            "throttled_time": t.throttled_time,
        },
    })
}

fn memory(s: &Sample) -> Value {
    let Some(cg) = &s.cgroup else {
        return json!({});
    };
    let m = &cg.memory;
    let mut v = json!({
        "usage": m.usage.usage,
        "stats": m.raw,
        "limit": s.memory_limit,
    });
    // v1 only (v2 has no max_usage or failcnt), as dockerd.
    if m.usage.max > 0 {
        v["max_usage"] = json!(m.usage.max);
        v["failcnt"] = json!(m.usage.failcnt);
    }
    v
}

fn blkio(s: &Sample) -> Value {
    let Some(cg) = &s.cgroup else {
        return json!({
            "io_service_bytes_recursive": null, "io_serviced_recursive": null,
            "io_queue_recursive": null, "io_service_time_recursive": null,
            "io_wait_time_recursive": null, "io_merged_recursive": null,
            "io_time_recursive": null, "sectors_recursive": null,
        });
    };
    let list = |entries: &[berth_engine::stats::BlkioEntry]| -> Value {
        if entries.is_empty() {
            return Value::Null;
        }
        entries
            .iter()
            .map(|e| json!({ "major": e.major, "minor": e.minor, "op": e.op, "value": e.value }))
            .collect()
    };
    let b = &cg.blkio;
    json!({
        "io_service_bytes_recursive": list(&b.io_service_bytes_recursive),
        "io_serviced_recursive": list(&b.io_serviced_recursive),
        "io_queue_recursive": list(&b.io_queued_recursive),
        "io_service_time_recursive": list(&b.io_service_time_recursive),
        "io_wait_time_recursive": list(&b.io_wait_time_recursive),
        "io_merged_recursive": list(&b.io_merged_recursive),
        "io_time_recursive": list(&b.io_time_recursive),
        "sectors_recursive": list(&b.sectors_recursive),
    })
}

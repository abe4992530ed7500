//! The network endpoints: `network ls/inspect/create/rm/prune/connect/
//! disconnect` over the engine methods the `berth network` commands call.

use std::collections::BTreeMap;

use berth_engine::model::network::{NetworkCreate, NetworkFilters, NetworkRequest};
use berth_engine::ops::prune::PruneFilter;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

use crate::containers::{filters, json_body};
use crate::reply::{self, ApiError, ApiResult};
use crate::router::Query;
use crate::server::Server;

/// `filters=` as `(key, value)` pairs.
pub fn filter_pairs(q: &Query) -> Result<Vec<(String, String)>, ApiError> {
    Ok(filters(q)?
        .into_iter()
        .map(|f| {
            let (k, v) = f.split_once('=').unwrap_or((&f, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect())
}

/// `GET /networks?filters=`.
pub async fn list(server: &Server, q: &Query) -> ApiResult {
    let filters = NetworkFilters::new(&filter_pairs(q)?)?;
    let list = server
        .engine(move |e| {
            let nets = e.networks_filtered(&filters)?;
            nets.iter()
                .map(|n| Ok(e.inspect_network_json(n)?))
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .await?;
    reply::ok_json(&Value::Array(list))
}

/// `GET /networks/{id}`.
pub async fn inspect(server: &Server, id: &str) -> ApiResult {
    let key = id.to_owned();
    let v = server
        .engine(move |e| {
            let n = e.network(&key)?;
            Ok(e.inspect_network_json(&n)?)
        })
        .await?;
    reply::ok_json(&v)
}

/// `DELETE /networks/{id}`.
pub async fn remove(server: &Server, id: &str) -> ApiResult {
    let key = id.to_owned();
    server
        .engine(move |e| Ok(e.remove_network(&key).map(drop)?))
        .await?;
    reply::no_content()
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Number(_) => true,
    }
}

/// dockerd's `NetworkCreateRequest` as the engine's options. What only a
/// swarm or a plugin gives is refused by name.
pub fn create_options(body: &Value) -> Result<NetworkCreate, ApiError> {
    for key in ["Ingress", "ConfigOnly", "ConfigFrom"] {
        if set(&body[key]) {
            return Err(ApiError::bad_request(format!(
                "{key} networks are not supported by berth (they belong to swarm mode)"
            )));
        }
    }
    if set(&body["IPAM"]["Options"]) {
        return Err(ApiError::bad_request(
            "IPAM options are not supported by berth's IPAM driver",
        ));
    }
    let mut o = NetworkCreate {
        name: body["Name"].as_str().unwrap_or("").to_owned(),
        driver: body["Driver"].as_str().unwrap_or("").to_owned(),
        internal: body["Internal"].as_bool().unwrap_or(false),
        ipv6: body["EnableIPv6"].as_bool().unwrap_or(false),
        options: string_map(&body["Options"]),
        labels: string_map(&body["Labels"]),
        ipam_driver: body["IPAM"]["Driver"].as_str().unwrap_or("").to_owned(),
        scope: body["Scope"].as_str().unwrap_or("").to_owned(),
        ..Default::default()
    };
    for c in body["IPAM"]["Config"].as_array().into_iter().flatten() {
        if set(&c["AuxiliaryAddresses"]) {
            return Err(ApiError::bad_request(
                "IPAM AuxiliaryAddresses are not supported by berth",
            ));
        }
        let field = |k: &str| c[k].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        if let Some(s) = field("Subnet") {
            o.subnets.push(s);
        }
        if let Some(g) = field("Gateway") {
            o.gateways.push(g);
        }
        if let Some(r) = field("IPRange") {
            o.ip_ranges.push(r);
        }
    }
    Ok(o)
}

/// `POST /networks/create`: 201 `{"Id", "Warning"}`.
pub async fn create(server: &Server, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let o = create_options(&body)?;
    let n = server.engine(move |e| Ok(e.create_network(&o)?)).await?;
    Ok(reply::json(
        StatusCode::CREATED,
        &json!({ "Id": n.id, "Warning": "" }),
    ))
}

/// An `EndpointSettings` (connect's `EndpointConfig`, a create's
/// `NetworkingConfig.EndpointsConfig` entry) as the engine's request.
pub fn endpoint_request(network: &str, ep: &Value) -> Result<NetworkRequest, ApiError> {
    if set(&ep["Links"]) {
        return Err(ApiError::bad_request(
            "links are not supported by berth: containers on a user network reach each other by name",
        ));
    }
    if set(&ep["IPAMConfig"]["LinkLocalIPs"]) {
        return Err(ApiError::bad_request(
            "link-local IP addresses are not supported by berth",
        ));
    }
    if set(&ep["DriverOpts"]) {
        return Err(ApiError::bad_request(
            "endpoint driver options are not supported by berth",
        ));
    }
    let addr = |k: &str| ep["IPAMConfig"][k].as_str().filter(|s| !s.is_empty());
    let ip = addr("IPv4Address")
        .map(|s| {
            s.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid IPv4 address: {s}")))
        })
        .transpose()?;
    let ip6 = addr("IPv6Address")
        .map(|s| {
            s.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid IPv6 address: {s}")))
        })
        .transpose()?;
    Ok(NetworkRequest {
        name: network.to_owned(),
        ip,
        ip6,
        aliases: crate::reply::strings(&ep["Aliases"]),
        mac: ep["MacAddress"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase),
    })
}

/// `POST /networks/{id}/connect` `{"Container", "EndpointConfig"}`.
pub async fn connect(server: &Server, id: &str, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let container = body["Container"].as_str().unwrap_or("").to_owned();
    if container.is_empty() {
        return Err(ApiError::bad_request("container name or id is required"));
    }
    let network = id.to_owned();
    let request = endpoint_request(&network, &body["EndpointConfig"])?;
    server
        .engine(move |e| Ok(e.connect_network(&container, &network, request)?))
        .await?;
    reply::ok_empty()
}

/// `POST /networks/{id}/disconnect` `{"Container", "Force"}`.
pub async fn disconnect(server: &Server, id: &str, req: Request<Incoming>) -> ApiResult {
    let body = json_body(req).await?;
    let container = body["Container"].as_str().unwrap_or("").to_owned();
    if container.is_empty() {
        return Err(ApiError::bad_request("container name or id is required"));
    }
    let force = body["Force"].as_bool().unwrap_or(false);
    let network = id.to_owned();
    server
        .engine(move |e| Ok(e.disconnect_network(&container, &network, force)?))
        .await?;
    reply::ok_empty()
}

/// `POST /networks/prune?filters=`: `{"NetworksDeleted": [names]}`.
pub async fn prune(server: &Server, q: &Query) -> ApiResult {
    let filter = PruneFilter::new(&filter_pairs(q)?)?;
    let removed = server
        .engine(move |e| Ok(e.prune_networks(&filter)?))
        .await?;
    reply::ok_json(&json!({ "NetworksDeleted": removed }))
}

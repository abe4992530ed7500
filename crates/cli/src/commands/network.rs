//! `berth network create|ls|inspect|rm|prune|connect|disconnect`, printed
//! as `docker network` prints.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use berth_engine::model::network::{Network, NetworkCreate, NetworkFilters, NetworkRequest};
use berth_engine::{Engine, Error};
use serde_json::{json, Value};

use super::system::{confirm, prune_filter};
use crate::args::*;
use crate::output::{each, print_rows, Template};

pub fn run(root: &Path, command: NetworkCommand) -> Result<()> {
    match command {
        NetworkCommand::Create(a) => create(root, a),
        NetworkCommand::Ls(a) => ls(root, a),
        NetworkCommand::Inspect(a) => inspect(root, a),
        NetworkCommand::Rm(a) => rm(root, a),
        NetworkCommand::Prune(a) => prune(root, a),
        NetworkCommand::Connect(a) => connect(root, a),
        NetworkCommand::Disconnect(a) => {
            let mut engine = Engine::open(root)?;
            Ok(engine.disconnect_network(&a.container, &a.network, a.force)?)
        }
    }
}

/// `k=v` pairs (`-o`, `--label`; a bare `k` is `k=`).
fn pairs(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|i| match i.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (i.clone(), String::new()),
        })
        .collect()
}

fn create(root: &Path, a: NetworkCreateArgs) -> Result<()> {
    let o = NetworkCreate {
        name: a.name,
        driver: a.driver,
        subnets: a.subnet,
        gateways: a.gateway,
        ip_ranges: a.ip_range,
        internal: a.internal,
        ipv6: a.ipv6.unwrap_or(false),
        options: pairs(&a.opt),
        labels: pairs(&a.label),
        ipam_driver: a.ipam_driver,
        scope: a.scope.unwrap_or_default(),
    };
    let mut engine = Engine::open(root)?;
    let n = engine.create_network(&o)?;
    println!("{}", n.id);
    Ok(())
}

/// One `network ls` row: Docker's fields for `--format`.
fn row(n: &Network, no_trunc: bool) -> Value {
    let id = if no_trunc { &n.id } else { n.short_id() };
    let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "ID": id,
        "Name": n.name,
        "Driver": n.driver.as_str(),
        "Scope": "local",
        "IPv4": n.subnet_v4().is_some().to_string(),
        "IPv6": n.ipv6.to_string(),
        "Internal": n.internal.to_string(),
        "Labels": labels.join(","),
        "CreatedAt": n.created,
    })
}

fn ls(root: &Path, a: NetworkLsArgs) -> Result<()> {
    let mut pairs = Vec::new();
    for f in &a.filters {
        let Some((k, v)) = f.split_once('=') else {
            bail!("bad format of filter (expected name=value)");
        };
        pairs.push((k.to_owned(), v.to_owned()));
    }
    let filters = NetworkFilters::new(&pairs)?;
    let mut engine = Engine::open(root)?;
    let networks = engine.networks_filtered(&filters)?;
    let mut o = io::stdout().lock();
    if a.quiet {
        for n in &networks {
            writeln!(o, "{}", if a.no_trunc { &n.id } else { n.short_id() })?;
        }
        return Ok(());
    }
    let rows: Vec<Value> = networks.iter().map(|n| row(n, a.no_trunc)).collect();
    let format = a
        .format
        .unwrap_or_else(|| "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}".to_owned());
    print_rows(&mut o, &format, &rows, |f| match f {
        "ID" => "NETWORK ID".into(),
        "CreatedAt" => "CREATED AT".into(),
        other => other.to_uppercase(),
    })
}

fn inspect(root: &Path, a: NetworkInspectArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    let mut values = Vec::new();
    let mut missing = None;
    for key in &a.networks {
        match engine.network(key) {
            Ok(n) => values.push(engine.inspect_network_json(&n)?),
            Err(e @ Error::NoSuchNetwork(_)) => {
                missing.get_or_insert(e);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut out = io::stdout().lock();
    if let Some(f) = &a.format {
        let t = Template::parse(f)?;
        for v in &values {
            writeln!(out, "{}", t.render(v)?)?;
        }
    } else {
        writeln!(out, "{}", serde_json::to_string_pretty(&values)?)?;
    }
    match missing {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

fn rm(root: &Path, a: NetworkRmArgs) -> Result<()> {
    let mut engine = Engine::open(root)?;
    if a.force {
        let keys: Vec<String> = a
            .networks
            .iter()
            .filter(|k| !matches!(engine.network(k), Err(Error::NoSuchNetwork(_))))
            .cloned()
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        return each(&keys, |key| Ok(engine.remove_network(key).map(|_| ())?));
    }
    each(&a.networks, |key| {
        Ok(engine.remove_network(key).map(|_| ())?)
    })
}

fn prune(root: &Path, a: NetworkPruneArgs) -> Result<()> {
    let filter = prune_filter(&a.filters)?;
    if !a.force
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )?
    {
        return Ok(());
    }
    let mut engine = Engine::open(root)?;
    let removed = engine.prune_networks(&filter)?;
    if !removed.is_empty() {
        let mut out = io::stdout().lock();
        writeln!(out, "Deleted Networks:")?;
        for name in removed {
            writeln!(out, "{name}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn connect(root: &Path, a: NetworkConnectArgs) -> Result<()> {
    let ip = match &a.ip {
        Some(s) => Some(
            s.parse()
                .map_err(|_| anyhow!("invalid IPv4 address: {s}"))?,
        ),
        None => None,
    };
    let ip6 = match &a.ip6 {
        Some(s) => Some(
            s.parse()
                .map_err(|_| anyhow!("invalid IPv6 address: {s}"))?,
        ),
        None => None,
    };
    let req = NetworkRequest {
        name: a.network.clone(),
        ip,
        ip6,
        aliases: a.alias,
        mac: a.mac_address,
    };
    let mut engine = Engine::open(root)?;
    engine.connect_network(&a.container, &a.network, req)?;
    Ok(())
}

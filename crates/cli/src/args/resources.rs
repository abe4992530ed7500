//! The resource flags of `run`/`create` and `update`, parsed as the docker
//! CLI parses them (go-units sizes, `--cpus` as a decimal, pflag's integer
//! errors) with its error wording: `invalid argument "12qq" for "-m,
//! --memory" flag: invalid size: '12qq'`.

use anyhow::{anyhow, Result};
use berth_engine::{Resources, ThrottleDevice};
use clap::Args;

/// The flags `run`, `create` and `update` share. Values are kept as text
/// so the errors can be Docker's.
#[derive(Debug, Default, Args)]
pub struct ResourceArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long, value_name = "uint16")]
    pub blkio_weight: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub cpu_period: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long, value_name = "int", allow_hyphen_values = true)]
    pub cpu_shares: Option<String>,
    /// Number of CPUs
    #[arg(long, value_name = "decimal")]
    pub cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long, value_name = "string")]
    pub cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long, value_name = "bytes", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long, value_name = "bytes", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, value_name = "bytes", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
}

/// `run`/`create`: the shared flags plus the per-device throttles.
#[derive(Debug, Default, Args)]
pub struct CreateResourceArgs {
    #[command(flatten)]
    pub common: ResourceArgs,
    /// Limit read rate (bytes per second) from a device
    #[arg(long, value_name = "list")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long, value_name = "list")]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long, value_name = "list")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long, value_name = "list")]
    pub device_write_iops: Vec<String>,
}

/// pflag's wrapper around a value's error.
fn flag_error(value: &str, flag: &str, reason: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("invalid argument \"{value}\" for \"{flag}\" flag: {reason}")
}

impl ResourceArgs {
    pub fn to_resources(&self) -> Result<Resources> {
        let mut r = Resources::default();
        if let Some(v) = &self.blkio_weight {
            r.blkio_weight =
                parse_uint(v, 16).map_err(|e| flag_error(v, "--blkio-weight", e))? as u16;
        }
        let int = |v: &Option<String>, flag: &str| -> Result<i64> {
            match v {
                Some(v) => parse_int(v).map_err(|e| flag_error(v, flag, e)),
                None => Ok(0),
            }
        };
        r.cpu_period = int(&self.cpu_period, "--cpu-period")?;
        r.cpu_quota = int(&self.cpu_quota, "--cpu-quota")?;
        r.cpu_shares = int(&self.cpu_shares, "-c, --cpu-shares")?;
        if let Some(v) = &self.cpus {
            r.nano_cpus = parse_cpus(v).map_err(|e| flag_error(v, "--cpus", e))?;
        }
        r.cpuset_cpus = self.cpuset_cpus.clone().unwrap_or_default();
        r.cpuset_mems = self.cpuset_mems.clone().unwrap_or_default();
        if let Some(v) = &self.memory {
            r.memory = ram_in_bytes(v).map_err(|e| flag_error(v, "-m, --memory", e))?;
        }
        if let Some(v) = &self.memory_reservation {
            r.memory_reservation =
                ram_in_bytes(v).map_err(|e| flag_error(v, "--memory-reservation", e))?;
        }
        if let Some(v) = &self.memory_swap {
            r.memory_swap = if v == "-1" {
                -1
            } else {
                ram_in_bytes(v).map_err(|e| flag_error(v, "--memory-swap", e))?
            };
        }
        if let Some(v) = &self.pids_limit {
            r.pids_limit = Some(parse_int(v).map_err(|e| flag_error(v, "--pids-limit", e))?);
        }
        Ok(r)
    }
}

impl CreateResourceArgs {
    pub fn to_resources(&self) -> Result<Resources> {
        let mut r = self.common.to_resources()?;
        let bps = |list: &[String], flag: &str| -> Result<Vec<ThrottleDevice>> {
            list.iter()
                .map(|v| throttle_bps(v).map_err(|e| flag_error(v, flag, e)))
                .collect()
        };
        let iops = |list: &[String], flag: &str| -> Result<Vec<ThrottleDevice>> {
            list.iter()
                .map(|v| throttle_iops(v).map_err(|e| flag_error(v, flag, e)))
                .collect()
        };
        r.blkio_device_read_bps = bps(&self.device_read_bps, "--device-read-bps")?;
        r.blkio_device_write_bps = bps(&self.device_write_bps, "--device-write-bps")?;
        r.blkio_device_read_iops = iops(&self.device_read_iops, "--device-read-iops")?;
        r.blkio_device_write_iops = iops(&self.device_write_iops, "--device-write-iops")?;
        Ok(r)
    }
}

/// go-units `RAMInBytes`: `512m`, `1g`, `1.5GiB`, `100 kb`; binary units.
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let digits_end = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, rest) = s.split_at(digits_end);
    // Digits, then at most one fraction.
    let valid_number = !number.is_empty()
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.matches('.').count() <= 1;
    if !valid_number {
        return Err(bad());
    }
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut chars = rest.chars().peekable();
    let mut multiplier: f64 = 1.0;
    if let Some(c) = chars.peek().map(|c| c.to_ascii_lowercase()) {
        if let Some(i) = "kmgtp".find(c) {
            multiplier = 1024f64.powi(i as i32 + 1);
            chars.next();
            if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'i')) {
                chars.next();
            }
        }
    }
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'b')) {
        chars.next();
    }
    if chars.next().is_some() {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    Ok((value * multiplier) as i64)
}

/// Go's `strconv.ParseInt(s, 10, 64)` with its error text.
fn parse_int(s: &str) -> Result<i64, String> {
    s.parse::<i64>().map_err(|e| {
        let kind = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing \"{s}\": {kind}")
    })
}

/// `strconv.ParseUint(s, 10, bits)`.
fn parse_uint(s: &str, bits: u32) -> Result<u64, String> {
    let err = |kind: &str| format!("strconv.ParseUint: parsing \"{s}\": {kind}");
    let v = s.parse::<u64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => err("value out of range"),
        _ => err("invalid syntax"),
    })?;
    if bits < 64 && v >> bits != 0 {
        return Err(err("value out of range"));
    }
    Ok(v)
}

/// docker's `ParseCPUs`: a rational number of CPUs, in nano CPUs.
fn parse_cpus(s: &str) -> Result<i64, String> {
    let not_rational = || format!("failed to parse {s} as a rational number");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int.trim_start_matches('-')) || !digits(frac)
    {
        return Err(not_rational());
    }
    if frac.len() > 9 && frac[9..].bytes().any(|b| b != b'0') {
        return Err("value is too precise".into());
    }
    let negative = int.starts_with('-');
    let whole: i64 = match int.trim_start_matches('-') {
        "" => 0,
        w => w.parse().map_err(|_| not_rational())?,
    };
    let mut nanos = format!("{:0<9}", &frac[..frac.len().min(9)]);
    nanos.truncate(9);
    let nanos: i64 = nanos.parse().map_err(|_| not_rational())?;
    let value = whole
        .checked_mul(1_000_000_000)
        .and_then(|w| w.checked_add(nanos))
        .ok_or_else(not_rational)?;
    Ok(if negative { -value } else { value })
}

/// docker's `ValidateThrottleBpsDevice`: `/dev/sda:1mb`.
fn throttle_bps(v: &str) -> Result<ThrottleDevice, String> {
    let (path, rate) = split_device(v)?;
    let rate = ram_in_bytes(rate).ok().filter(|r| *r >= 0).ok_or_else(|| {
        format!("invalid rate for device: {v}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb")
    })?;
    Ok(ThrottleDevice {
        path: path.into(),
        rate: rate as u64,
    })
}

/// docker's `ValidateThrottleIOpsDevice`: `/dev/sda:1000`.
fn throttle_iops(v: &str) -> Result<ThrottleDevice, String> {
    let (path, rate) = split_device(v)?;
    let rate = rate.parse::<u64>().map_err(|_| {
        format!("invalid rate for device: {v}. The correct format is <device-path>:<number>. Number must be a positive integer")
    })?;
    Ok(ThrottleDevice {
        path: path.into(),
        rate,
    })
}

fn split_device(v: &str) -> Result<(&str, &str), String> {
    match v.split_once(':') {
        Some((path, rate)) if !path.is_empty() => {
            if !path.starts_with("/dev/") {
                return Err(format!("bad format for device path: {v}"));
            }
            Ok((path, rate))
        }
        _ => Err(format!("bad format: {v}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_go_units() {
        assert_eq!(ram_in_bytes("512m"), Ok(512 << 20));
        assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(ram_in_bytes("100 kb"), Ok(102400));
        assert_eq!(ram_in_bytes("4096"), Ok(4096));
        assert_eq!(ram_in_bytes("12qq"), Err("invalid size: '12qq'".into()));
        assert!(ram_in_bytes("-1").is_err());
        assert!(ram_in_bytes("1..2m").is_err());
    }

    #[test]
    fn memory_flag_error_is_dockers() {
        let a = ResourceArgs {
            memory: Some("12qq".into()),
            ..Default::default()
        };
        assert_eq!(
            a.to_resources().unwrap_err().to_string(),
            "invalid argument \"12qq\" for \"-m, --memory\" flag: invalid size: '12qq'"
        );
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_cpus("0.01"), Ok(10_000_000));
        assert_eq!(parse_cpus("2"), Ok(2_000_000_000));
        assert_eq!(
            parse_cpus("0.0000000001"),
            Err("value is too precise".into())
        );
        assert_eq!(
            parse_cpus("x"),
            Err("failed to parse x as a rational number".into())
        );
    }

    #[test]
    fn throttles() {
        assert_eq!(
            throttle_bps("/dev/sda:1mb"),
            Ok(ThrottleDevice {
                path: "/dev/sda".into(),
                rate: 1 << 20
            })
        );
        assert_eq!(
            throttle_bps("sda:1mb"),
            Err("bad format for device path: sda:1mb".into())
        );
        assert_eq!(throttle_bps("/dev/sda"), Err("bad format: /dev/sda".into()));
        assert!(throttle_iops("/dev/sda:1k")
            .unwrap_err()
            .starts_with("invalid rate for device"));
        assert_eq!(throttle_iops("/dev/sda:100").unwrap().rate, 100);
        assert_eq!(
            parse_uint("2000000", 16),
            Err("strconv.ParseUint: parsing \"2000000\": value out of range".into())
        );
    }
}

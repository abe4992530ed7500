//! `--network-bandwidth-egress/-ingress RATE` in tc's units (iproute2
//! `get_rate64`): a number and an optional unit, any case; a bare number is
//! bits per second. A small stand-in for the create-time check until
//! `netlink::tc::parse_rate` is in main.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rate: {0:?} (a number with a tc unit: bit, kbit, mbit, gbit, tbit, bps, kbps, mbps, gbps, tbps, kibit, mibit, ...)")]
pub struct RateError(pub String);

/// Bits per second (tc's unit table: `bit`s are 1000- or 1024-based with
/// `i`, `bps` are bytes).
pub fn parse_rate(s: &str) -> Result<u64, RateError> {
    let bad = || RateError(s.to_owned());
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let factor: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "tbit" => 1e12,
        "kibit" => 1024.0,
        "mibit" => 1024.0 * 1024.0,
        "gibit" => 1024.0 * 1024.0 * 1024.0,
        "tibit" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "bps" => 8.0,
        "kbps" => 8e3,
        "mbps" => 8e6,
        "gbps" => 8e9,
        "tbps" => 8e12,
        "kibps" => 8.0 * 1024.0,
        "mibps" => 8.0 * 1024.0 * 1024.0,
        "gibps" => 8.0 * 1024.0 * 1024.0 * 1024.0,
        "tibps" => 8.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bits = n * factor;
    if !bits.is_finite() || bits < 1.0 || bits > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bits as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tc_units() {
        assert_eq!(parse_rate("10mbit").unwrap(), 10_000_000);
        assert_eq!(parse_rate("1Gbit").unwrap(), 1_000_000_000);
        assert_eq!(parse_rate("100kbit").unwrap(), 100_000);
        assert_eq!(parse_rate("1mibit").unwrap(), 1 << 20);
        assert_eq!(parse_rate("1mbps").unwrap(), 8_000_000);
        assert_eq!(parse_rate("2.5mbit").unwrap(), 2_500_000);
        assert_eq!(parse_rate("8000").unwrap(), 8000);
        for bad in ["", "mbit", "10 mb", "10xbit", "0", "-1mbit", "1.2.3mbit"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }
}

//! Times as Docker's `--since`/`--until` (and the API's `since`/`until`
//! query values) give them: one parser for the CLI and the server.

use crate::error::{Error, Result};

/// Nanoseconds since the epoch of an RFC 3339 time (0 when unparsable):
/// record times carry a fraction with trailing zeros trimmed, so their
/// strings do not sort as times.
pub fn rfc3339_nanos(rfc3339: &str) -> i128 {
    let Some(secs) = berth_image::time::parse_rfc3339(rfc3339) else {
        return 0;
    };
    let frac = rfc3339
        .get(19..)
        .and_then(|r| r.strip_prefix('.'))
        .map(|r| {
            r.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .unwrap_or_default();
    let frac: i128 = format!("{frac:0<9}")[..9].parse().unwrap_or(0);
    i128::from(secs) * 1_000_000_000 + frac
}

/// Docker's `--since`/`--until` values: RFC 3339 (with or without zone,
/// seconds, time; no zone means UTC here), a unix time `SECS[.NANOS]`, or a
/// Go duration (`10m`, `1h30m`) before `now`. Returns nanoseconds.
pub fn parse_time(value: &str, now: i128) -> Result<i128> {
    let v = value.trim();
    if let Some(d) = parse_duration(v) {
        return Ok(now - d);
    }
    if let Some((s, frac)) = v.split_once('.').or(Some((v, ""))) {
        if !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
            && frac.len() <= 9
        {
            let secs: i128 = s
                .parse()
                .map_err(|_| Error::BadRequest(format!("invalid timestamp {value:?}")))?;
            let nanos: i128 = format!("{frac:0<9}").parse().unwrap_or(0);
            return Ok(secs * 1_000_000_000 + nanos);
        }
    }
    let full = match v.len() {
        10 => format!("{v}T00:00:00Z"),
        13 => format!("{v}:00:00Z"),
        16 => format!("{v}:00Z"),
        _ if v.len() >= 19 && !v[19..].contains(['Z', 'z', '+', '-']) => format!("{v}Z"),
        _ => v.to_owned(),
    };
    if berth_image::time::parse_rfc3339(&full).is_none() {
        return Err(Error::BadRequest(format!("invalid value for \"since\"/\"until\": {value:?} is not an RFC 3339 time, a unix timestamp or a duration")));
    }
    Ok(rfc3339_nanos(&full))
}

/// Go's `time.ParseDuration` (`300ms`, `1.5h`, `2h45m`), in nanoseconds.
fn parse_duration(s: &str) -> Option<i128> {
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Some(total as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_like_docker() {
        let now = rfc3339_nanos("2024-01-01T12:00:00Z");
        assert_eq!(parse_time("10m", now).unwrap(), now - 600 * 1_000_000_000);
        assert_eq!(
            parse_time("1h30m", now).unwrap(),
            now - 5400 * 1_000_000_000
        );
        assert_eq!(parse_time("1704110400", now).unwrap(), now);
        assert_eq!(parse_time("1704110400.5", now).unwrap(), now + 500_000_000);
        assert_eq!(parse_time("2024-01-01T12:00:00Z", now).unwrap(), now);
        assert_eq!(parse_time("2024-01-01T13:00:00+01:00", now).unwrap(), now);
        assert_eq!(parse_time("2024-01-01T12:00:00", now).unwrap(), now);
        assert_eq!(
            parse_time("2024-01-01", now).unwrap(),
            now - 12 * 3600 * 1_000_000_000
        );
        assert!(parse_time("yesterday", now).is_err());
    }
}

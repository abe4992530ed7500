//! Go's duration syntax (`1m30s`, `1.5h`, `300ms`), which `HEALTHCHECK`'s
//! flags use; errors in Go's words.

/// Parses a Go duration into nanoseconds (may be negative).
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (neg, mut s) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let int: u128 = if int_len == 0 {
            0
        } else {
            s[..int_len].parse().map_err(|_| invalid())?
        };
        s = &s[int_len..];
        let mut frac = "";
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            frac = &rest[..n];
            s = &rest[n..];
        }
        if int_len == 0 && frac.is_empty() {
            return Err(invalid());
        }
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {text:?}"));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        let mut value = int.checked_mul(nanos).ok_or_else(invalid)?;
        if !frac.is_empty() {
            let f: f64 = format!("0.{frac}").parse().map_err(|_| invalid())?;
            value += (f * nanos as f64) as u128;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i64::MAX as u128 + u128::from(neg) {
            return Err(invalid());
        }
    }
    let total = total as i128;
    Ok((if neg { -total } else { total }) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_duration("-2ms"), Ok(-2_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("10µs"), Ok(10_000));
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_duration("abc").unwrap_err(),
            "time: invalid duration \"abc\""
        );
        assert_eq!(
            parse_duration("").unwrap_err(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_duration("10").unwrap_err(),
            "time: missing unit in duration \"10\""
        );
        assert_eq!(
            parse_duration("10x").unwrap_err(),
            "time: unknown unit \"x\" in duration \"10x\""
        );
        assert_eq!(
            parse_duration(".s").unwrap_err(),
            "time: invalid duration \".s\""
        );
        assert!(parse_duration("9999999999h").is_err());
    }
}

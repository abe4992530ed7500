//! go-units `RAMInBytes`, the parser behind the local driver's `size=`
//! option: `<n>[.<frac>][ ][kmgtp][i][b]`, binary multiples, Docker's
//! `invalid size: '<s>'` for anything else.

/// The size `s` names, in bytes.
pub fn ram_in_bytes(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid size: '{s}'");
    let digits = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, rest) = s.split_at(digits);
    // go-units: `\d+(\.\d+)*`, so "1." and ".5" are refused.
    if number.is_empty()
        || number.split('.').any(|part| part.is_empty())
        || number.matches('.').count() > 1
    {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut chars = rest.chars().peekable();
    let shift = match chars.peek().map(|c| c.to_ascii_lowercase()) {
        Some('k') => 10,
        Some('m') => 20,
        Some('g') => 30,
        Some('t') => 40,
        Some('p') => 50,
        _ => 0,
    };
    if shift > 0 {
        chars.next();
    }
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'i')) {
        chars.next();
    }
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'b')) {
        chars.next();
    }
    if chars.next().is_some() {
        return Err(bad());
    }
    Ok((value * (1u64 << shift) as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::ram_in_bytes;

    #[test]
    fn go_units_sizes() {
        assert_eq!(ram_in_bytes("0"), Ok(0));
        assert_eq!(ram_in_bytes("1234"), Ok(1234));
        assert_eq!(ram_in_bytes("1k"), Ok(1024));
        assert_eq!(ram_in_bytes("1M"), Ok(1 << 20));
        assert_eq!(ram_in_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(ram_in_bytes("100 kb"), Ok(102_400));
        assert_eq!(ram_in_bytes("hello"), Err("invalid size: 'hello'".into()));
        assert_eq!(ram_in_bytes("1x"), Err("invalid size: '1x'".into()));
        assert_eq!(ram_in_bytes("1."), Err("invalid size: '1.'".into()));
        assert_eq!(ram_in_bytes(""), Err("invalid size: ''".into()));
    }
}

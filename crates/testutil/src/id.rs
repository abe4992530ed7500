//! Unique, short names for containers, cgroups and temp dirs.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique across parallel test processes and across runs:
/// `<prefix>-<pid>-<counter>-<time>`, with the time in base 36 (5 chars).
///
/// Only `[A-Za-z0-9_.-]` is kept from `prefix`, so the result is a valid
/// container id for runc and berth, and a valid cgroup and file name.
pub fn unique_id(prefix: &str) -> String {
    let prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(24)
        .collect();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let stamp = base36((nanos / 1000) as u64 % 36u64.pow(5));
    format!("{prefix}-{}-{n}-{stamp}", std::process::id())
}

fn base36(mut v: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_valid() {
        let a = unique_id("life cycle/x");
        let b = unique_id("life cycle/x");
        assert_ne!(a, b);
        assert!(a.starts_with("life-cycle-x-"), "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)),
            "{a}"
        );
        assert!(a.len() < 64, "{a}");
    }
}

//! Bandwidth limits: a token bucket filter (`tbf`) as a link's root qdisc,
//! shaping what leaves the link. A container's ingress is shaped on the
//! host end of its veth, its egress on its own `eth0` (through a socket
//! opened in its namespace). This kernel has no `police` action, so
//! egress qdiscs are the only way.
//!
//! netlink-packet-route has no TBF type: the options are packed here
//! (`struct tc_tbf_qopt` and friends, `<linux/pkt_sched.h>`).

use netlink_packet_core::{DefaultNla, Nla, NlasIterator, NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage, TcOption};
use netlink_packet_route::RouteNetlinkMessage;
use nix::errno::Errno;

use super::{Error, Netlink, Result};

const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
/// An attribute's type without the nested/byte-order flag bits.
const NLA_TYPE_MASK: u16 = 0x3fff;
/// `TC_LINKLAYER_ETHERNET`: with a link layer set the kernel needs no rate table.
const TC_LINKLAYER_ETHERNET: u8 = 1;
/// Nanoseconds in a psched tick (`PSCHED_SHIFT` = 6 since Linux 3.x;
/// `/proc/net/psched`'s second field).
const PSCHED_NS_PER_TICK: u64 = 64;
/// `sizeof(struct tc_ratespec)` and `sizeof(struct tc_tbf_qopt)`.
const RATESPEC_LEN: usize = 12;
const QOPT_LEN: usize = 2 * RATESPEC_LEN + 12;

/// The bucket holds what the rate sends in this long: `rate / HZ` for
/// HZ = 100, the slowest timer tick. A dequeue timer that fires late (a
/// busy CPU) must find the tokens it missed still there, else high rates
/// fall short: measured on veth, a 16 KiB bucket gave 0.7 of 1 Gbit/s and
/// 0.4 of 5 Gbit/s; this one 0.97-1.0 of both.
const BURST_NS: u64 = 10_000_000;
/// ... and never less than this: several full frames, so low rates pass
/// bursts of small (GSO) packets whole.
const MIN_BURST: u64 = 16 * 1024;
/// Packets may wait this long in the queue in front of the bucket before
/// they are dropped (tbf's `latency`) ...
const LATENCY_NS: u64 = 50_000_000;
/// ... in a queue of at least this many bytes: with less, a TCP flow's
/// first burst (slow start, 64 KiB GSO packets) overflows the queue at
/// low rates, and the losses cost it a retransmission timeout or two
/// (measured: 0.75 of 1 Mbit/s over 2 s with 64 KiB, 1.0 with this).
const MIN_LIMIT: u64 = 256 * 1024;

const NS_PER_SEC: u64 = 1_000_000_000;

/// The bucket size (bytes) for a rate in bytes per second.
pub fn burst_for(rate_bytes: u64) -> u64 {
    (rate_bytes * BURST_NS / NS_PER_SEC).max(MIN_BURST)
}

fn qdisc_message(index: u32) -> Result<TcMessage> {
    let mut msg = TcMessage::default();
    msg.header.index = i32::try_from(index)
        .map_err(|_| Error::Invalid(format!("link index {index} is out of range")))?;
    msg.header.parent = TcHandle::ROOT;
    Ok(msg)
}

/// Limits what leaves link `index` to `bits_per_sec` (replacing any root
/// qdisc it has), or with `None` removes the limit (the link gets its
/// default qdisc back). Rates are rounded down to whole bytes per second.
pub fn set_rate(nl: &mut Netlink, index: u32, bits_per_sec: Option<u64>) -> Result<()> {
    let Some(bits) = bits_per_sec else {
        if rate(nl, index)?.is_none() {
            return Ok(());
        }
        let msg = qdisc_message(index)?;
        return match nl.ack(RouteNetlinkMessage::DelQueueDiscipline(msg), 0) {
            Err(e) if e.errno() != Some(Errno::ENOENT) => {
                Err(e.during(format!("remove the rate limit of link {index}")))
            }
            _ => Ok(()),
        };
    };
    let rate_bytes = bits / 8;
    if rate_bytes == 0 {
        return Err(Error::Invalid(format!(
            "a rate limit of {bits} bit/s is too low: at least 8 bit/s"
        )));
    }
    let burst = burst_for(rate_bytes);
    let limit = (rate_bytes.saturating_mul(LATENCY_NS) / NS_PER_SEC + burst).max(MIN_LIMIT);
    let buffer_ticks = burst.saturating_mul(NS_PER_SEC) / rate_bytes / PSCHED_NS_PER_TICK;

    let mut qopt = Vec::with_capacity(QOPT_LEN);
    push_ratespec(&mut qopt, u32::try_from(rate_bytes).unwrap_or(u32::MAX));
    push_ratespec(&mut qopt, 0); // no peak rate
    qopt.extend(clamp_u32(limit).to_ne_bytes());
    qopt.extend(clamp_u32(buffer_ticks).to_ne_bytes());
    qopt.extend(0u32.to_ne_bytes()); // mtu: for the peak rate only
    let mut options = vec![TcOption::Other(DefaultNla::new(TCA_TBF_PARMS, qopt))];
    if rate_bytes > u64::from(u32::MAX) {
        options.push(TcOption::Other(DefaultNla::new(
            TCA_TBF_RATE64,
            rate_bytes.to_ne_bytes().to_vec(),
        )));
    }
    options.push(TcOption::Other(DefaultNla::new(
        TCA_TBF_BURST,
        clamp_u32(burst).to_ne_bytes().to_vec(),
    )));

    let mut msg = qdisc_message(index)?;
    msg.header.handle = TcHandle { major: 1, minor: 0 };
    msg.attributes.push(TcAttribute::Kind("tbf".into()));
    msg.attributes.push(TcAttribute::Options(options));
    nl.ack(
        RouteNetlinkMessage::NewQueueDiscipline(msg),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
    .map_err(|e| e.during(format!("limit link {index} to {bits} bit/s")))
}

/// The limit [`set_rate`] put on link `index` (in bits per second), or
/// `None` when its root qdisc is not a token bucket filter.
pub fn rate(nl: &mut Netlink, index: u32) -> Result<Option<u64>> {
    let mut msg = TcMessage::default();
    msg.header.index = qdisc_message(index)?.header.index;
    let replies = nl
        .dump(RouteNetlinkMessage::GetQueueDiscipline(msg))
        .map_err(|e| e.during(format!("list the qdiscs of link {index}")))?;
    for reply in replies {
        let RouteNetlinkMessage::NewQueueDiscipline(q) = reply else {
            continue;
        };
        if q.header.index as u32 != index || q.header.parent != TcHandle::ROOT {
            continue;
        }
        let is_tbf = q
            .attributes
            .iter()
            .any(|a| matches!(a, TcAttribute::Kind(k) if k == "tbf"));
        if !is_tbf {
            return Ok(None);
        }
        for attr in &q.attributes {
            if let TcAttribute::Options(options) = attr {
                return tbf_rate(options).map(Some).ok_or_else(|| Error::Protocol {
                    op: format!("read the rate limit of link {index}"),
                    detail: "the tbf qdisc has no readable parameters".into(),
                });
            }
        }
    }
    Ok(None)
}

/// The rate (bit/s) in a tbf qdisc's options, as the kernel reports them:
/// one undecoded `TCA_OPTIONS` holding `TCA_TBF_PARMS` and maybe
/// `TCA_TBF_RATE64`.
fn tbf_rate(options: &[TcOption]) -> Option<u64> {
    let mut rate32 = None;
    let mut rate64 = None;
    for option in options {
        let TcOption::Other(nla) = option else {
            continue;
        };
        let mut value = vec![0u8; nla.value_len()];
        nla.emit_value(&mut value);
        for inner in NlasIterator::new(&value[..]).flatten() {
            let v = inner.value();
            match inner.kind() & NLA_TYPE_MASK {
                TCA_TBF_PARMS if v.len() >= RATESPEC_LEN => {
                    rate32 = v[8..12].try_into().ok().map(u32::from_ne_bytes)
                }
                TCA_TBF_RATE64 => rate64 = v.try_into().ok().map(u64::from_ne_bytes),
                _ => {}
            }
        }
    }
    let bytes = match (rate64, rate32) {
        (Some(r64), _) if r64 > 0 => r64,
        (_, Some(r32)) => u64::from(r32),
        _ => return None,
    };
    Some(bytes * 8)
}

/// `struct tc_ratespec`: cell_log, linklayer, overhead, cell_align, mpu, rate.
fn push_ratespec(out: &mut Vec<u8>, rate_bytes: u32) {
    out.push(0);
    out.push(if rate_bytes == 0 {
        0
    } else {
        TC_LINKLAYER_ETHERNET
    });
    out.extend(0u16.to_ne_bytes());
    out.extend((if rate_bytes == 0 { 0i16 } else { -1 }).to_ne_bytes());
    out.extend(0u16.to_ne_bytes());
    out.extend(rate_bytes.to_ne_bytes());
}

fn clamp_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// A rate in `tc`'s words, in bits per second: a number with one of tc's
/// units (case-insensitive): `bit`, `kbit`, `mbit`, `gbit`, `tbit` (powers
/// of 1000), `kibit`, `mibit`, `gibit`, `tibit` (of 1024), and the same in
/// bytes with `bps`: `bps`, `kbps`, `mbps`, ..., `kibps`, ...; a bare
/// number is bits per second. `10mbit` is 10,000,000; `100mbps` is
/// 800,000,000.
pub fn parse_rate(s: &str) -> Result<u64> {
    let invalid = |reason: &str| Error::Invalid(format!("invalid rate {s:?}: {reason}"));
    let text = s.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(invalid("it must start with a number, like 10mbit"));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| invalid("it must start with a number, like 10mbit"))?;
    let unit = unit.to_ascii_lowercase();
    let scale: f64 = match unit.as_str() {
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
        _ => return Err(invalid(
            "unknown unit (bit, kbit, mbit, gbit, tbit, kibit..., bps, kbps, mbps, gbps, kibps...)",
        )),
    };
    let bits = (value * scale).round();
    if bits < 8.0 {
        return Err(invalid("the rate must be at least 8 bit/s"));
    }
    // A u64 of bytes per second is the kernel's limit.
    if bits >= u64::MAX as f64 {
        return Err(invalid("the rate is too large"));
    }
    Ok(bits as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::Emitable;

    #[test]
    fn rates_in_tc_units() {
        assert_eq!(parse_rate("10mbit").unwrap(), 10_000_000);
        assert_eq!(parse_rate("1gbit").unwrap(), 1_000_000_000);
        assert_eq!(parse_rate("500kbit").unwrap(), 500_000);
        assert_eq!(parse_rate("100mbps").unwrap(), 800_000_000);
        assert_eq!(parse_rate("100MBps").unwrap(), 800_000_000);
        assert_eq!(parse_rate("1Mbit").unwrap(), 1_000_000);
        assert_eq!(parse_rate("2kibit").unwrap(), 2048);
        assert_eq!(parse_rate("1mibps").unwrap(), 8 * 1024 * 1024);
        assert_eq!(parse_rate("1.5mbit").unwrap(), 1_500_000);
        assert_eq!(parse_rate("64000").unwrap(), 64_000);
        assert_eq!(parse_rate("12bit").unwrap(), 12);
        assert_eq!(parse_rate("3bps").unwrap(), 24);
        assert_eq!(parse_rate("10gbit").unwrap(), 10_000_000_000);
    }

    #[test]
    fn bad_rates_name_the_input() {
        for bad in [
            "",
            "mbit",
            "10 mbit x",
            "10mb",
            "10m",
            "-5mbit",
            "1.2.3mbit",
            "0",
            "0mbit",
            "7",
        ] {
            let e = parse_rate(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid rate {bad:?}: ")), "{e}");
        }
    }

    #[test]
    fn burst_covers_a_timer_tick_and_whole_packets() {
        // 1 Mbit/s: 125 kB/s; 10 ms of it is 1250 bytes, so the floor wins.
        assert_eq!(burst_for(125_000), MIN_BURST);
        // 10 Gbit/s: 1.25 GB/s; 10 ms of it is 12.5 MB.
        assert_eq!(burst_for(1_250_000_000), 12_500_000);
    }

    #[test]
    fn tbf_parameters_read_back() {
        let mut qopt = Vec::new();
        push_ratespec(&mut qopt, 1_250_000);
        push_ratespec(&mut qopt, 0);
        qopt.extend([0u8; 12]);
        assert_eq!(qopt.len(), QOPT_LEN);
        // As the kernel sends it: TCA_OPTIONS { TCA_TBF_PARMS { qopt } }.
        let inner = DefaultNla::new(TCA_TBF_PARMS, qopt);
        let mut nested = vec![0u8; inner.buffer_len()];
        inner.emit(&mut nested);
        let outer = TcOption::Other(DefaultNla::new(2, nested));
        assert_eq!(tbf_rate(&[outer]), Some(10_000_000));
    }
}

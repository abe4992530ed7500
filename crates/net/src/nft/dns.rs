//! The one table berth puts in a *container's* network namespace: its
//! resolver answers at 127.0.0.11:53, but listens on random ports so that
//! the container's own programs keep port 53 (a DNS server in the
//! container must not clash), as Docker's `DOCKER_OUTPUT` rules do. The
//! table dies with the namespace.

use super::apply::{run, Result};

/// The address containers on user networks ask (their `resolv.conf`).
pub const RESOLVER: &str = "127.0.0.11";

/// The commands that redirect 127.0.0.11:53 to `udp_port`/`tcp_port` on
/// the same address; conntrack turns the answers' source port back to 53.
pub fn redirect_script(udp_port: u16, tcp_port: u16) -> String {
    format!(
        "table ip berth_dns {{\n\
         \tchain output {{\n\
         \t\ttype nat hook output priority -100; policy accept;\n\
         \t\tip daddr {RESOLVER} udp dport 53 dnat to {RESOLVER}:{udp_port}\n\
         \t\tip daddr {RESOLVER} tcp dport 53 dnat to {RESOLVER}:{tcp_port}\n\
         \t}}\n\
         }}\n"
    )
}

/// Applies [`redirect_script`] in the calling thread's network namespace
/// (the caller enters the container's).
pub fn redirect(udp_port: u16, tcp_port: u16) -> Result<()> {
    run(&redirect_script(udp_port, tcp_port)).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_names_both_ports() {
        let s = redirect_script(40001, 40002);
        assert!(s.contains("udp dport 53 dnat to 127.0.0.11:40001"), "{s}");
        assert!(s.contains("tcp dport 53 dnat to 127.0.0.11:40002"), "{s}");
    }
}

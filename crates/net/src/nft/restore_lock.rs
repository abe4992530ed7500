//! The table that holds a restored container's network still while CRIU
//! restores its TCP connections: the namespace gets its links and
//! addresses first (so the connections can be put back), and a packet
//! from a peer arriving before its socket exists again would draw a reset.
//! Everything in and out is dropped until [`unlock`] (CRIU's own network
//! lock does the same in the namespaces it manages). Applied in the
//! calling thread's network namespace (the caller enters the container's).

use super::apply::{run, Result};

const TABLE: &str = "berth_restore_lock";

pub fn lock_script() -> String {
    format!(
        "table inet {TABLE} {{\n\
         \tchain input {{\n\
         \t\ttype filter hook input priority -400; policy drop;\n\
         \t}}\n\
         \tchain output {{\n\
         \t\ttype filter hook output priority -400; policy drop;\n\
         \t}}\n\
         }}\n"
    )
}

/// Drops every packet in and out of the namespace.
pub fn lock() -> Result<()> {
    run(&lock_script()).map(|_| ())
}

/// Lets the packets through again.
pub fn unlock() -> Result<()> {
    run(&format!("delete table inet {TABLE}\n")).map(|_| ())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lock_drops_both_ways() {
        let s = super::lock_script();
        assert_eq!(s.matches("policy drop").count(), 2, "{s}");
    }
}

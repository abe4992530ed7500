//! berth's OCI runtime library.
#![forbid(unsafe_code)]

//! `seccomp(SECCOMP_SET_MODE_FILTER)` with a classic BPF program the caller
//! built (libseccomp's export, with instructions of its own in front).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::check;

/// `struct sock_filter`: one classic BPF instruction.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl SockFilter {
    /// Decodes a program as the kernel reads it (8 bytes each, native
    /// byte order), e.g. from `seccomp_export_bpf`.
    pub fn decode(bytes: &[u8]) -> io::Result<Vec<SockFilter>> {
        if !bytes.len().is_multiple_of(8) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a BPF program is a whole number of 8-byte instructions",
            ));
        }
        Ok(bytes
            .chunks_exact(8)
            .map(|c| SockFilter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect())
    }
}

/// `SECCOMP_FILTER_FLAG_*`.
pub mod flag {
    pub const TSYNC: u32 = 1 << 0;
    pub const LOG: u32 = 1 << 1;
    pub const SPEC_ALLOW: u32 = 1 << 2;
    pub const NEW_LISTENER: u32 = 1 << 3;
    pub const TSYNC_ESRCH: u32 = 1 << 4;
}

#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const SockFilter,
}

/// Installs `program` on the calling thread. With
/// [`flag::NEW_LISTENER`] returns the user-notification descriptor
/// (close-on-exec). Without no_new_privs the caller needs CAP_SYS_ADMIN.
pub fn set_filter(program: &[SockFilter], flags: u32) -> io::Result<Option<OwnedFd>> {
    const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
    let len = libc::c_ushort::try_from(program.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long"))?;
    let prog = SockFprog {
        len,
        filter: program.as_ptr(),
    };
    // SAFETY: `prog` points at `len` instructions that outlive the call;
    // the kernel copies the program.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            &prog as *const SockFprog,
        )
    };
    let ret = check(ret)?;
    if flags & flag::TSYNC != 0 && flags & (flag::NEW_LISTENER | flag::TSYNC_ESRCH) == 0 && ret > 0
    {
        // TSYNC's failure: the id of a thread that could not be synced.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    if flags & flag::NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER the kernel returns a new descriptor.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as RawFd) }))
    } else {
        Ok(None)
    }
}

//! The few `bpf(2)` commands a cgroup v2 device filter needs: load a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program, attach it to a cgroup directory,
//! list and detach the programs attached there.
//!
//! Programs are plain [`Insn`] slices built by the caller (no ELF, no
//! compiler, no maps). What the instructions mean, and which device rules
//! they encode, is the cgroups crate's business.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::check;

// Commands (enum bpf_cmd).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;

/// `enum bpf_prog_type`: BPF_PROG_TYPE_CGROUP_DEVICE.
const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `enum bpf_attach_type`: BPF_CGROUP_DEVICE.
const ATTACH_CGROUP_DEVICE: u32 = 6;

/// `BPF_F_ALLOW_MULTI`: the program joins the cgroup's list instead of
/// replacing the one program there; every program of the list (and of every
/// ancestor cgroup) must allow an access.
pub const F_ALLOW_MULTI: u32 = 1 << 1;

/// Fields of `struct bpf_cgroup_dev_ctx`, the context of a device program:
/// `u32 access_type` (device type in the low 16 bits, access in the high 16),
/// `u32 major`, `u32 minor`.
pub mod dev_ctx {
    pub const ACCESS_TYPE_OFFSET: i16 = 0;
    pub const MAJOR_OFFSET: i16 = 4;
    pub const MINOR_OFFSET: i16 = 8;
    /// `BPF_DEVCG_DEV_BLOCK`.
    pub const DEV_BLOCK: u32 = 1;
    /// `BPF_DEVCG_DEV_CHAR`.
    pub const DEV_CHAR: u32 = 2;
    /// `BPF_DEVCG_ACC_MKNOD`.
    pub const ACC_MKNOD: u32 = 1;
    /// `BPF_DEVCG_ACC_READ`.
    pub const ACC_READ: u32 = 2;
    /// `BPF_DEVCG_ACC_WRITE`.
    pub const ACC_WRITE: u32 = 4;
}

/// Opcode parts (`linux/bpf_common.h`, `linux/bpf.h`).
pub mod op {
    // instruction classes
    pub const LDX: u8 = 0x01;
    pub const JMP: u8 = 0x05;
    pub const ALU: u8 = 0x04;
    pub const ALU64: u8 = 0x07;
    // sizes (LDX)
    pub const W: u8 = 0x00;
    pub const MEM: u8 = 0x60;
    // sources
    pub const K: u8 = 0x00;
    pub const X: u8 = 0x08;
    // ALU operations
    pub const AND: u8 = 0x50;
    pub const RSH: u8 = 0x70;
    pub const MOV: u8 = 0xb0;
    // jumps
    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JSET: u8 = 0x40;
    pub const JNE: u8 = 0x50;
    pub const EXIT: u8 = 0x90;
}

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`: an
/// opcode, the destination and source registers (4 bits each), a signed
/// 16-bit offset (jumps: instructions to skip; memory: byte offset) and a
/// signed 32-bit immediate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Insn {
    pub code: u8,
    regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        // The bitfield `dst_reg:4, src_reg:4` is allocated from the low bits
        // on little-endian targets and from the high bits on big-endian ones.
        #[cfg(target_endian = "little")]
        let regs = (dst & 0xf) | ((src & 0xf) << 4);
        #[cfg(target_endian = "big")]
        let regs = ((dst & 0xf) << 4) | (src & 0xf);
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    pub const fn dst(&self) -> u8 {
        #[cfg(target_endian = "little")]
        return self.regs & 0xf;
        #[cfg(target_endian = "big")]
        return self.regs >> 4;
    }

    pub const fn src(&self) -> u8 {
        #[cfg(target_endian = "little")]
        return self.regs >> 4;
        #[cfg(target_endian = "big")]
        return self.regs & 0xf;
    }

    /// `dst = *(u32 *)(src + off)`.
    pub const fn load_u32(dst: u8, src: u8, off: i16) -> Insn {
        Insn::new(op::LDX | op::MEM | op::W, dst, src, off, 0)
    }

    /// 32-bit `dst = imm` (zero-extends into the 64-bit register).
    pub const fn mov32_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(op::ALU | op::MOV | op::K, dst, 0, 0, imm)
    }

    /// 32-bit `dst = src`.
    pub const fn mov32_reg(dst: u8, src: u8) -> Insn {
        Insn::new(op::ALU | op::MOV | op::X, dst, src, 0, 0)
    }

    /// 32-bit `dst &= imm`.
    pub const fn and32_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(op::ALU | op::AND | op::K, dst, 0, 0, imm)
    }

    /// 32-bit `dst >>= imm` (logical).
    pub const fn rsh32_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(op::ALU | op::RSH | op::K, dst, 0, 0, imm)
    }

    /// `goto +off`.
    pub const fn ja(off: i16) -> Insn {
        Insn::new(op::JMP | op::JA, 0, 0, off, 0)
    }

    /// `if dst <op> imm goto +off`, where `jump` is [`op::JEQ`], [`op::JNE`],
    /// [`op::JSET`] (any common bit)...; 64-bit comparison, `imm` sign-extended.
    pub const fn jmp_imm(jump: u8, dst: u8, imm: i32, off: i16) -> Insn {
        Insn::new(op::JMP | jump | op::K, dst, 0, off, imm)
    }

    /// `return r0`.
    pub const fn exit() -> Insn {
        Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0)
    }
}

/// The start of `union bpf_attr` for BPF_PROG_LOAD, up to
/// `expected_attach_type`; the kernel treats the fields we do not pass as
/// zero.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// BPF_PROG_ATTACH / BPF_PROG_DETACH, up to `attach_flags`.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// BPF_PROG_QUERY, up to `prog_cnt`.
#[repr(C)]
#[derive(Default)]
struct ProgQueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
#[derive(Default)]
struct GetIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `bpf(cmd, attr, sizeof attr)`.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is one of the repr(C) prefixes of `union bpf_attr`
    // above, alive and writable for the call, and its size is passed along;
    // every pointer stored in it (instructions, license, log, id buffer) is
    // set by the callers to a live buffer of the stated length.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    check(ret)
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel returned a new descriptor that nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// The verifier log is kept up to this size when a load fails.
const MAX_LOG: usize = 16 << 20;

/// Loads `insns` as a `BPF_PROG_TYPE_CGROUP_DEVICE` program named
/// `berth_devices`, returning its descriptor (the program lives as long as a
/// descriptor or an attachment holds it).
///
/// When the verifier rejects the program (`EINVAL`, `EACCES`), the load is
/// repeated with a log buffer and the error carries the verifier's log
/// (same `raw_os_error`, message `verifier rejected the program: <log>`).
pub fn prog_load_cgroup_device(insns: &[Insn], license: &CStr) -> io::Result<OwnedFd> {
    match load(insns, license, None) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EACCES)) => {
            let mut size = 64 << 10;
            loop {
                let mut log = vec![0u8; size];
                match load(insns, license, Some(&mut log)) {
                    // Not expected: the same program loads the second time.
                    Ok(fd) => return Ok(fd),
                    Err(again) if again.raw_os_error() == Some(libc::ENOSPC) && size < MAX_LOG => {
                        size *= 4;
                    }
                    Err(_) => {
                        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                        let text = String::from_utf8_lossy(&log[..end]);
                        return Err(io::Error::new(
                            e.kind(),
                            format!("{e}: verifier log:\n{}", text.trim_end()),
                        ));
                    }
                }
            }
        }
        other => other,
    }
}

fn load(insns: &[Insn], license: &CStr, log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let mut name = [0u8; 16];
    name[..13].copy_from_slice(b"berth_devices");
    let mut attr = ProgLoadAttr {
        prog_type: PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    if let Some(log) = log {
        attr.log_level = 1;
        attr.log_size = log.len() as u32;
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    bpf(BPF_PROG_LOAD, &mut attr).map(owned)
}

/// Attaches `prog` to the cgroup whose directory is open as `cgroup_dir`,
/// for device access checks. `flags` is 0 or [`F_ALLOW_MULTI`].
pub fn prog_attach(prog: BorrowedFd<'_>, cgroup_dir: BorrowedFd<'_>, flags: u32) -> io::Result<()> {
    let mut attr = ProgAttachAttr {
        target_fd: cgroup_dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: ATTACH_CGROUP_DEVICE,
        attach_flags: flags,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

/// Detaches `prog` from the cgroup `cgroup_dir` (its device programs).
pub fn prog_detach(prog: BorrowedFd<'_>, cgroup_dir: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = ProgAttachAttr {
        target_fd: cgroup_dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: ATTACH_CGROUP_DEVICE,
        attach_flags: 0,
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// Ids of the device programs attached to the cgroup `cgroup_dir` itself
/// (not those inherited from its ancestors), in the order they run.
pub fn prog_query(cgroup_dir: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    // 64 is the kernel's limit of programs per cgroup and attach type; a
    // larger count is still handled (ENOSPC reports the real one).
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = ProgQueryAttr {
            target_fd: cgroup_dir.as_raw_fd() as u32,
            attach_type: ATTACH_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC) && attr.prog_cnt as usize > ids.len() =>
            {
                ids = vec![0; attr.prog_cnt as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

/// A descriptor for the loaded program with id `id` (needs
/// `CAP_SYS_ADMIN`).
pub fn prog_get_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetIdAttr {
        prog_id: id,
        ..Default::default()
    };
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn insn_layout_matches_the_kernel() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        let i = Insn::load_u32(2, 1, 4);
        assert_eq!((i.code, i.dst(), i.src(), i.off, i.imm), (0x61, 2, 1, 4, 0));
        // SAFETY: Insn is 8 bytes of plain integers; reading them as bytes
        // is always valid.
        let bytes: [u8; 8] = unsafe { std::mem::transmute(Insn::mov32_imm(0, 1)) };
        #[cfg(target_endian = "little")]
        assert_eq!(bytes, [0xb4, 0, 0, 0, 1, 0, 0, 0]);
        let _ = bytes;
    }

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    #[test]
    fn trivial_program_loads_and_bad_one_shows_the_log() {
        if !is_root() {
            eprintln!("SKIPPED: trivial_program_loads_and_bad_one_shows_the_log (needs root)");
            return;
        }
        let fd =
            prog_load_cgroup_device(&[Insn::mov32_imm(0, 1), Insn::exit()], c"Apache-2.0").unwrap();
        assert!(fd.as_fd().as_raw_fd() >= 0);

        // r0 is never set: the verifier refuses and says why.
        let e = prog_load_cgroup_device(&[Insn::exit()], c"Apache-2.0").unwrap_err();
        assert_eq!(e.raw_os_error(), None, "the log makes a custom error");
        let msg = e.to_string();
        assert!(msg.contains("R0 !read_ok"), "{msg}");
    }
}

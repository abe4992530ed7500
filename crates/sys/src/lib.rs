//! The one crate of berth that may use `unsafe`.
//!
//! Each function wraps one raw syscall (or one libc call) that the safe crates
//! (nix, std) do not offer in the shape berth needs, returns `io::Result` and
//! owned file descriptors, and says in a `// SAFETY:` comment why the call is
//! sound. Nothing here knows about containers. Besides those: the kernel
//! facts both the engine and the runtime need ([`caps`], [`sysctl`]) and
//! the one atomic file write ([`write_atomic`]).

mod atomic;
pub mod bpf;
pub mod caps;
mod command;
pub mod fs;
pub mod fsmount;
mod listen_fds;
pub mod nftables;
pub mod seccomp;
pub mod sysctl;

pub use atomic::{replace_atomic, write_atomic, write_atomic_mode, write_atomic_with};
pub use command::pass_fds;
pub use listen_fds::take_listen_fds;

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The result of a fork-like call, seen from either side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// We are the new process.
    Child,
    /// We are the caller; the new process has this pid.
    Parent(i32),
}

pub(crate) fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `clone(2)` with fork semantics: a copy of the calling process (no shared
/// memory, no new stack) created directly inside the namespaces named by
/// `flags` (`CLONE_NEW*`). The child gets SIGCHLD-style exit notification.
///
/// Only call this from a single-threaded process: like `fork`, the child
/// holds a copy of every lock as it was, and only this thread exists in it.
pub fn clone_process(flags: libc::c_int) -> io::Result<Forked> {
    // SAFETY: the raw clone syscall without CLONE_VM and with a null stack
    // behaves like fork(2): the child continues on a copy-on-write copy of
    // the caller's stack. The x86_64/aarch64 argument order is
    // (flags, stack, parent_tid, child_tid, tls); we pass no tid/tls pointers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match check(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// Leaves a forked child at once, without running atexit handlers or
/// flushing stdio buffers that belong to the parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust-managed state.
    unsafe { libc::_exit(code) }
}

/// `setdomainname(2)`, absent from nix.
pub fn set_domainname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe a live byte slice for the call.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    check(ret as libc::c_long).map(drop)
}

/// Flags for [`openat2`]'s `resolve` field.
pub mod resolve {
    pub const NO_XDEV: u64 = 0x01;
    pub const NO_MAGICLINKS: u64 = 0x02;
    pub const NO_SYMLINKS: u64 = 0x04;
    pub const BENEATH: u64 = 0x08;
    pub const IN_ROOT: u64 = 0x10;
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(2)`: open `path` relative to `dir` with `resolve` restrictions
/// (e.g. [`resolve::IN_ROOT`] to treat `dir` as `/` for every component,
/// symlinks included).
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    loop {
        // SAFETY: `how` is a properly laid out open_how that outlives the call,
        // `path` is NUL-terminated, `dir` is a valid fd.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        match check(ret) {
            // SAFETY: the kernel returned a new descriptor that nobody else owns.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
            // The kernel asks for a retry when a rename raced the lookup.
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Takes ownership of a descriptor number this process inherited (for
/// example through `--preserve-fds` or an SCM_RIGHTS message).
///
/// # Safety
/// `fd` must be open and owned by nobody else in this process.
pub unsafe fn owned_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: guaranteed by the caller.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `dup3(old, new, 0)`: makes `new` refer to `old`'s file, without
/// close-on-exec (used to place the container's stdio on 0, 1 and 2).
pub fn dup_onto(old: BorrowedFd<'_>, new: RawFd) -> io::Result<()> {
    if old.as_raw_fd() == new {
        return clear_cloexec(new);
    }
    // SAFETY: dup3 only manipulates the descriptor table.
    let ret = unsafe { libc::dup3(old.as_raw_fd(), new, 0) };
    check(ret as libc::c_long).map(drop)
}

/// Clears FD_CLOEXEC on `fd` so it survives execve.
pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an integer fd has no memory-safety requirements.
    let ret = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    check(ret as libc::c_long).map(drop)
}

/// Marks every descriptor from `first` upward close-on-exec, so that no
/// host descriptor leaks into a container's process (CVE-2024-21626).
///
/// `close_range(CLOSE_RANGE_CLOEXEC)` does it in one call, but Linux before
/// 5.11 lacks the flag (EINVAL, or ENOSYS before 5.9) and a seccomp profile
/// may deny the syscall (EPERM or any errno it chooses): on any failure
/// the descriptors listed in `/proc/self/fd` are marked one by one with
/// `fcntl`.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range with the CLOEXEC flag only sets descriptor flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    match check(ret) {
        Ok(_) => Ok(()),
        Err(_) => cloexec_from_proc(first),
    }
}

/// The fallback of [`cloexec_from`]: `fcntl(F_SETFD)` on every descriptor
/// of `/proc/self/fd` from `first` upward. The directory's own descriptor
/// (close-on-exec already, and closed by the time this returns) is listed
/// too and skipped when it is already gone.
pub fn cloexec_from_proc(first: u32) -> io::Result<()> {
    for fd in open_fds()? {
        if fd < first as RawFd {
            continue;
        }
        // SAFETY: fcntl on an integer fd has no memory-safety requirements.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EBADF) => continue,
                _ => return Err(io::Error::last_os_error()),
            }
        }
        if flags & libc::FD_CLOEXEC != 0 {
            continue;
        }
        // SAFETY: as above.
        let ret = unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
        check(ret as libc::c_long)?;
    }
    Ok(())
}

/// Closes every descriptor from `first` up: `close_range(2)` (Linux 5.9),
/// else each one listed in `/proc/self/fd`. For a process about to fork
/// without exec (close-on-exec would not drop them); it must own none of
/// those descriptors through a Rust handle.
pub fn close_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range only closes descriptors; the caller guarantees
    // no live handle in this process refers to one of them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        )
    };
    if check(ret).is_ok() {
        return Ok(());
    }
    for fd in open_fds()? {
        if fd >= first as RawFd {
            // SAFETY: as above; EBADF (the directory's own descriptor,
            // already closed) is ignored.
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

/// `fork(2)` for a process that has one thread, checked first in
/// `/proc/self/task`: its child is then a complete copy in a consistent
/// state (no lock held by a thread that does not exist in it) and may go
/// on running ordinary code. A process with more threads gets an error.
pub fn fork_single_threaded() -> io::Result<Forked> {
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(io::Error::other(format!(
            "fork: the process has {threads} threads, not one"
        )));
    }
    clone_process(0)
}

/// Whether descriptor `fd` is open and close-on-exec (`None` when closed).
pub fn is_cloexec(fd: RawFd) -> Option<bool> {
    // SAFETY: fcntl on an integer fd has no memory-safety requirements.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (flags >= 0).then_some(flags & libc::FD_CLOEXEC != 0)
}

/// A thread's effective, permitted and inheritable capability sets, as
/// 64-bit masks (bit n is capability n).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CapMasks {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_VERSION_3: u32 = 0x2008_0522;

/// `capget(2)` for the calling thread.
pub fn get_capabilities() -> io::Result<CapMasks> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: version 3 takes a header and two data structs, all alive and
    // writable for the call.
    let ret = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    check(ret)?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(CapMasks {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// `capset(2)` for the calling thread: one syscall, so that it can run as
/// the last step before `execve` under a seccomp filter that allows it.
pub fn set_capabilities(caps: &CapMasks) -> io::Result<()> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let split = |m: u64| (m as u32, (m >> 32) as u32);
    let (e0, e1) = split(caps.effective);
    let (p0, p1) = split(caps.permitted);
    let (i0, i1) = split(caps.inheritable);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: the header and the two data structs are alive for the call;
    // the kernel only reads the data.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    check(ret).map(drop)
}

/// `ioprio_get(IOPRIO_WHO_PROCESS, pid)`: the I/O priority of process
/// `pid` as `(class, level)`.
pub fn io_priority_of(pid: i32) -> io::Result<(u32, u32)> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    // SAFETY: integer-only syscall.
    let ret = check(unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, pid) })?;
    Ok(((ret as u32 >> 13) & 0x7, ret as u32 & 0x1fff))
}

/// Makes the terminal on `fd` the controlling terminal of this session.
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument, no pointers.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    check(ret as libc::c_long).map(drop)
}

/// Sets the window size of the terminal on `fd`.
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize that lives for the whole call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    check(ret as libc::c_long).map(drop)
}

/// Reads the window size of the terminal on `fd` as (rows, cols).
pub fn window_size(fd: BorrowedFd<'_>) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes into a winsize we own.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    check(ret as libc::c_long)?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Opens the peer of a pseudo-terminal master through `TIOCGPTPEER`, which
/// works without a path lookup and therefore without trusting `/dev/pts`.
pub fn open_pty_peer(master: BorrowedFd<'_>, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes open flags as its integer argument and
    // returns a new descriptor.
    let ret = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            flags | libc::O_CLOEXEC,
        )
    };
    let fd = check(ret as libc::c_long)?;
    // SAFETY: the kernel returned a new descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Unlocks a pseudo-terminal master so that its peer can be opened.
pub fn unlock_pty(master: BorrowedFd<'_>) -> io::Result<()> {
    let zero: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int that lives for the call.
    let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &zero) };
    check(ret as libc::c_long).map(drop)
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, class << 13 | level)` for this process.
pub fn set_io_priority(class: u32, level: u32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    let prio = ((class & 0x7) << 13) | (level & 0x1fff);
    // SAFETY: integer-only syscall.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0,
            prio as libc::c_int,
        )
    };
    check(ret).map(drop)
}

/// The `sched_attr` of `sched_setattr(2)`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

#[repr(C)]
struct RawSchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
}

/// `sched_setattr(2)` for this thread.
pub fn set_scheduler(attr: &SchedAttr) -> io::Result<()> {
    let raw = RawSchedAttr {
        size: std::mem::size_of::<RawSchedAttr>() as u32,
        sched_policy: attr.policy,
        sched_flags: attr.flags,
        sched_nice: attr.nice,
        sched_priority: attr.priority,
        sched_runtime: attr.runtime,
        sched_deadline: attr.deadline,
        sched_period: attr.period,
    };
    // SAFETY: `raw` is a correctly sized sched_attr alive for the call.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &raw as *const RawSchedAttr, 0) };
    check(ret).map(drop)
}

/// Gives this process a new, anonymous session keyring, so that a
/// container does not share the host's keys.
pub fn join_new_session_keyring(name: &CStr) -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    // SAFETY: `name` is NUL-terminated and outlives the call.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    check(ret).map(drop)
}

/// Restores the default disposition of every catchable signal. A process
/// about to `execve` a container's program must not pass on dispositions
/// its runtime chose (Rust ignores SIGPIPE, for example): ignored signals
/// stay ignored across `execve`.
pub fn reset_signal_dispositions() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL involves no handler code; errors for
        // signals the kernel reserves (glibc's internal ones) are harmless.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Receives one descriptor passed with SCM_RIGHTS on a unix socket (the
/// payload is read and discarded). `None` if the message carried none.
pub fn recv_fd(socket: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    recv_message(socket).map(|(_, fd)| fd)
}

/// Receives one message (up to 64 KiB) and the descriptor passed with it
/// by SCM_RIGHTS, if any.
pub fn recv_message(socket: BorrowedFd<'_>) -> io::Result<(Vec<u8>, Option<OwnedFd>)> {
    let mut payload = vec![0u8; 64 * 1024];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    // Room for one int-sized control message, 8-byte aligned.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    let len = loop {
        // SAFETY: every pointer in `msg` refers to a live local buffer of the
        // stated length.
        let ret = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if ret < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        break ret as usize;
    };
    payload.truncate(len);
    // SAFETY: the CMSG macros walk the control buffer the kernel just filled,
    // within msg_controllen.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Ok((payload, None));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd);
        // The kernel installed this descriptor for us alone.
        Ok((payload, Some(OwnedFd::from_raw_fd(fd))))
    }
}

/// The calling process's open file descriptor numbers, in ascending order
/// (read from `/proc/self/fd`, which must be mounted).
pub fn open_fds() -> io::Result<Vec<RawFd>> {
    let mut fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    Ok(fds)
}

/// `pidfd_open(pid, 0)` (Linux 5.3): a descriptor that becomes readable
/// (POLLIN) when process `pid` exits, so a caller can wait for a process
/// that is not its child without polling `/proc`.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments; the returned descriptor is new
    // (pidfds are always close-on-exec).
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC)`: an
/// anonymous file that can be sealed and executed. `MFD_EXEC` (Linux 6.3)
/// keeps it executable under `vm.memfd_noexec=1`; older kernels refuse the
/// flag (EINVAL) and their memfds are always executable, so it is retried
/// without.
pub fn memfd_create_executable(name: &CStr) -> io::Result<OwnedFd> {
    const MFD_EXEC: libc::c_uint = 0x10;
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let mut fd = -1;
    for flags in [base | MFD_EXEC, base] {
        // SAFETY: name is a valid NUL-terminated string for the call.
        fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            break;
        }
    }
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Makes every thread allocate from glibc's one main arena: a process
/// that is mostly idle (the container monitor) then does not keep a
/// partly used arena per thread.
pub fn single_malloc_arena() {
    // SAFETY: mallopt only sets an allocator tunable; M_ARENA_MAX is a
    // valid parameter and 1 a valid value.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Returns the free parts of the heap to the kernel (glibc's malloc_trim):
/// a long-lived process that is done with its start-up allocations stops
/// holding them.
pub fn trim_heap() {
    // SAFETY: malloc_trim only walks and releases the allocator's own free
    // memory; it takes no pointers from us.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn fork_refuses_a_process_with_threads() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        let err = fork_single_threaded().unwrap_err();
        assert!(err.to_string().contains("threads, not one"), "{err}");
        drop(tx);
        let _ = t.join();
    }

    #[test]
    fn openat2_in_root_keeps_symlinks_inside() {
        let dir = std::env::temp_dir().join(format!("berth-sys-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/hostname"), "inside").unwrap();
        // An absolute symlink must resolve inside `dir`, not on the host.
        let _ = std::fs::remove_file(dir.join("link"));
        std::os::unix::fs::symlink("/etc/hostname", dir.join("link")).unwrap();
        let root = std::fs::File::open(&dir).unwrap();
        let fd = openat2(root.as_fd(), c"link", libc::O_RDONLY, 0, resolve::IN_ROOT).unwrap();
        let content = std::fs::read_to_string(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert_eq!(content, "inside");
        // `..` cannot climb out either.
        let fd = openat2(
            root.as_fd(),
            c"../../../etc/hostname",
            libc::O_RDONLY,
            0,
            resolve::IN_ROOT,
        )
        .unwrap();
        let content = std::fs::read_to_string(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert_eq!(content, "inside");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn clone_process_forks() {
        match clone_process(0).unwrap() {
            Forked::Child => exit_now(7),
            Forked::Parent(pid) => {
                let mut status = 0;
                // SAFETY: test-only waitpid on our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                assert_eq!(libc::WEXITSTATUS(status), 7);
            }
        }
    }

    #[test]
    fn cloexec_fallback_marks_inherited_descriptors() {
        // A descriptor without close-on-exec, as a runtime may inherit one.
        // SAFETY: test-only dup of stdin; the new fd is closed below.
        let fd = unsafe { libc::dup(0) };
        assert!(fd > 2);
        assert_eq!(is_cloexec(fd), Some(false));
        cloexec_from_proc(fd as u32).unwrap();
        assert_eq!(is_cloexec(fd), Some(true));
        // SAFETY: closing the descriptor this test opened.
        unsafe { libc::close(fd) };
    }

    #[test]
    fn capabilities_round_trip() {
        let now = get_capabilities().unwrap();
        set_capabilities(&now).unwrap();
        assert_eq!(get_capabilities().unwrap(), now);
    }
}

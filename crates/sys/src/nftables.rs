//! libnftables, loaded at run time: the library the `nft` command itself is
//! a front end of, driven in-process (no `nft` binary, nothing exec'd).
//!
//! The library is opened with `dlopen("libnftables.so.1")` on first use and
//! kept for the life of the process, so berth builds without it and runs
//! `--network none|host` on a host that lacks it. Debian's package is
//! `libnftables1`.
//!
//! A [`Context`] opens its NETLINK_NETFILTER socket when it is created, in
//! the network namespace of the *creating thread*: create it in the
//! namespace whose rules it should change. Every call into the library is
//! made under one process-wide lock (libnftables keeps unlocked global state
//! such as its one-time init, and a context is not thread-safe).

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The soname berth loads.
pub const LIBRARY: &str = "libnftables.so.1";

/// The error when the library cannot be loaded.
pub const MISSING: &str = "libnftables.so.1 not found: berth's networks need libnftables (Debian: apt-get install libnftables1)";

/// `NFT_CTX_OUTPUT_JSON`: list in JSON, and (in 1.0.6) parse JSON input.
pub const OUTPUT_JSON: c_uint = 1 << 4;
/// `NFT_CTX_OUTPUT_HANDLE`: show rule handles in listings.
pub const OUTPUT_HANDLE: c_uint = 1 << 3;

type CtxNew = unsafe extern "C" fn(u32) -> *mut c_void;
type CtxFree = unsafe extern "C" fn(*mut c_void);
type CtxInt = unsafe extern "C" fn(*mut c_void) -> c_int;
type CtxSetFlags = unsafe extern "C" fn(*mut c_void, c_uint);
type CtxGetBuffer = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type RunCmd = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;

/// The entry points berth uses, resolved once.
struct Api {
    ctx_new: CtxNew,
    ctx_free: CtxFree,
    buffer_output: CtxInt,
    buffer_error: CtxInt,
    output_set_flags: CtxSetFlags,
    get_output_buffer: CtxGetBuffer,
    get_error_buffer: CtxGetBuffer,
    run_cmd_from_buffer: RunCmd,
}

/// Serializes every call into libnftables.
static LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn api() -> Result<&'static Api, String> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(load).as_ref().map_err(Clone::clone)
}

/// True when libnftables can be loaded on this host.
pub fn available() -> bool {
    api().is_ok()
}

fn load() -> Result<Api, String> {
    let soname = CString::new(LIBRARY).expect("no NUL in the soname");
    // SAFETY: dlopen takes a NUL-terminated name that outlives the call.
    // The handle is never closed: the library stays mapped for the life of
    // the process, so the function pointers taken below stay valid.
    let handle = unsafe { libc::dlopen(soname.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(MISSING.to_owned());
    }
    let sym = |name: &CStr| -> Result<*mut c_void, String> {
        // SAFETY: `handle` is a live dlopen handle and `name` is
        // NUL-terminated; dlsym only reads both.
        let ptr = unsafe { libc::dlsym(handle, name.as_ptr()) };
        if ptr.is_null() {
            Err(format!(
                "{LIBRARY} has no symbol {}: libnftables too old or broken",
                name.to_string_lossy()
            ))
        } else {
            Ok(ptr)
        }
    };
    // SAFETY (each transmute below): the symbol is the libnftables function
    // of that name, whose C prototype in <nftables/libnftables.h> matches
    // the Rust function type it is cast to (struct nft_ctx * as *mut c_void,
    // uint32_t/unsigned int as u32/c_uint, bool-free signatures only).
    Ok(Api {
        // SAFETY: see above.
        ctx_new: unsafe { std::mem::transmute::<*mut c_void, CtxNew>(sym(c"nft_ctx_new")?) },
        // SAFETY: see above.
        ctx_free: unsafe { std::mem::transmute::<*mut c_void, CtxFree>(sym(c"nft_ctx_free")?) },
        // SAFETY: see above.
        buffer_output: unsafe {
            std::mem::transmute::<*mut c_void, CtxInt>(sym(c"nft_ctx_buffer_output")?)
        },
        // SAFETY: see above.
        buffer_error: unsafe {
            std::mem::transmute::<*mut c_void, CtxInt>(sym(c"nft_ctx_buffer_error")?)
        },
        // SAFETY: see above.
        output_set_flags: unsafe {
            std::mem::transmute::<*mut c_void, CtxSetFlags>(sym(c"nft_ctx_output_set_flags")?)
        },
        // SAFETY: see above.
        get_output_buffer: unsafe {
            std::mem::transmute::<*mut c_void, CtxGetBuffer>(sym(c"nft_ctx_get_output_buffer")?)
        },
        // SAFETY: see above.
        get_error_buffer: unsafe {
            std::mem::transmute::<*mut c_void, CtxGetBuffer>(sym(c"nft_ctx_get_error_buffer")?)
        },
        // SAFETY: see above.
        run_cmd_from_buffer: unsafe {
            std::mem::transmute::<*mut c_void, RunCmd>(sym(c"nft_run_cmd_from_buffer")?)
        },
    })
}

/// One libnftables context (`struct nft_ctx`) with its output and error
/// buffered in memory. Its netlink socket lives in the network namespace
/// of the thread that created it. Freed on drop.
pub struct Context {
    api: &'static Api,
    ctx: std::ptr::NonNull<c_void>,
}

// SAFETY: the context is only touched through &mut self or Drop, under the
// process-wide LOCK; libnftables has no thread affinity (its socket is an
// ordinary fd bound to a namespace, not to a thread).
unsafe impl Send for Context {}

impl Context {
    /// A new context in the calling thread's network namespace.
    pub fn new() -> Result<Context, String> {
        let api = api()?;
        // libnftables exit()s the whole process when it cannot open its
        // netlink socket: try one first, and fail politely instead.
        probe_netfilter_socket()?;
        let _guard = lock();
        // SAFETY: NFT_CTX_DEFAULT (0) is a valid flag set; the result is a
        // new heap context or null.
        let raw = unsafe { (api.ctx_new)(0) };
        let ctx = std::ptr::NonNull::new(raw).ok_or("libnftables: nft_ctx_new failed")?;
        let context = Context { api, ctx };
        // SAFETY: ctx is a live context; both calls only switch its stdio
        // streams to memory buffers the context owns.
        let (out, err) = unsafe {
            (
                (api.buffer_output)(ctx.as_ptr()),
                (api.buffer_error)(ctx.as_ptr()),
            )
        };
        if out != 0 || err != 0 {
            return Err("libnftables: cannot buffer output".to_owned());
        }
        cloexec_netfilter_sockets();
        Ok(context)
    }

    /// Sets `NFT_CTX_OUTPUT_*` flags ([`OUTPUT_JSON`], [`OUTPUT_HANDLE`]).
    pub fn set_output_flags(&mut self, flags: c_uint) {
        let _guard = lock();
        // SAFETY: self.ctx is a live context; the call stores the flags.
        unsafe { (self.api.output_set_flags)(self.ctx.as_ptr(), flags) }
    }

    /// Runs `commands` (nft's language, or JSON with [`OUTPUT_JSON`]) as one
    /// netlink batch: all of it applies, or none. Returns what nft printed
    /// (listings), or the error text it printed.
    pub fn run(&mut self, commands: &str) -> Result<String, String> {
        let buf =
            CString::new(commands).map_err(|_| "nft commands contain a NUL byte".to_owned())?;
        let _guard = lock();
        // SAFETY: self.ctx is live and buf is NUL-terminated for the call.
        let ret = unsafe { (self.api.run_cmd_from_buffer)(self.ctx.as_ptr(), buf.as_ptr()) };
        // SAFETY: both buffers were enabled in new(); the getters return
        // NUL-terminated strings owned by the context (or null), valid
        // until the next call on it, and copied out at once under the lock.
        let (out, err) = unsafe {
            (
                owned((self.api.get_output_buffer)(self.ctx.as_ptr())),
                owned((self.api.get_error_buffer)(self.ctx.as_ptr())),
            )
        };
        if ret == 0 {
            Ok(out)
        } else if err.trim().is_empty() {
            Err(format!("libnftables failed ({ret}) without a message"))
        } else {
            Err(err.trim_end().to_owned())
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let _guard = lock();
        // SAFETY: self.ctx came from nft_ctx_new and is freed exactly once.
        unsafe { (self.api.ctx_free)(self.ctx.as_ptr()) }
    }
}

/// Copies a C string owned by the library (null: empty).
///
/// # Safety
/// `ptr` is null or a valid NUL-terminated string for the call.
unsafe fn owned(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: the caller promises a valid NUL-terminated string.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

fn probe_netfilter_socket() -> Result<(), String> {
    // SAFETY: socket(2) with constant arguments; the fd is closed below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_NETFILTER,
        )
    };
    if fd < 0 {
        return Err(format!(
            "libnftables: cannot open a netfilter netlink socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: fd is ours and open.
    unsafe { libc::close(fd) };
    Ok(())
}

/// libnftables opens its socket without `SOCK_CLOEXEC`: mark every
/// netfilter netlink socket of this process close-on-exec, so none leaks
/// into a runtime or container process spawned later (berth never hands
/// one on).
fn cloexec_netfilter_sockets() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in dir.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<c_int>().ok())
        else {
            continue;
        };
        if !std::fs::read_link(entry.path())
            .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
        {
            continue;
        }
        if sockopt(fd, libc::SO_DOMAIN) != Some(libc::AF_NETLINK)
            || sockopt(fd, libc::SO_PROTOCOL) != Some(libc::NETLINK_NETFILTER)
        {
            continue;
        }
        // SAFETY: fcntl on a descriptor number only reads or sets its flags;
        // a number closed meanwhile just fails with EBADF.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

fn sockopt(fd: c_int, opt: c_int) -> Option<c_int> {
    let mut value: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: value and len are live locals of the sizes the kernel writes.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut value as *mut c_int).cast(),
            &mut len,
        )
    };
    (ret == 0).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_parses_offline() {
        // A syntax error is reported by the parser before anything is sent:
        // no privilege needed, the host's rules are never touched.
        let mut ctx = Context::new().expect(MISSING);
        let err = ctx.run("tabel inet berth_nope").unwrap_err();
        assert!(err.contains("syntax error"), "{err}");
    }

    #[test]
    fn socket_is_close_on_exec() {
        let _ctx = Context::new().unwrap();
        let mut found = 0;
        for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
            let fd: c_int = entry.file_name().to_str().unwrap().parse().unwrap();
            if sockopt(fd, libc::SO_PROTOCOL) == Some(libc::NETLINK_NETFILTER)
                && sockopt(fd, libc::SO_DOMAIN) == Some(libc::AF_NETLINK)
            {
                found += 1;
                // SAFETY: reading the flags of an fd number.
                let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
                assert!(flags & libc::FD_CLOEXEC != 0, "fd {fd} leaks across exec");
            }
        }
        assert!(found >= 1, "no netfilter socket found");
    }
}

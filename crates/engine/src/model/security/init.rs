//! Where `--init` finds berth-init, and the check that it is static (it
//! runs inside arbitrary images, which may have no dynamic loader).

use std::path::PathBuf;

use super::devices::io_reason;
use super::INIT_ENV;
use crate::error::{Error, Result};

/// The init binary: `$BERTH_INIT`, else `berth-init` next to `berth`. It
/// runs inside arbitrary images, so it must be statically linked.
pub(super) fn init_binary() -> Result<PathBuf> {
    let path = match std::env::var_os(INIT_ENV) {
        // The runtime resolves bind sources from the bundle directory.
        Some(p) => std::path::absolute(PathBuf::from(p))
            .map_err(|e| Error::io("resolve", "$BERTH_INIT", e))?,
        None => std::env::current_exe()
            .map_err(|e| Error::io("find", "/proc/self/exe", e))?
            .with_file_name("berth-init"),
    };
    let how = "build one with scripts/build-init.sh and put it next to berth, or set BERTH_INIT";
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::invalid(
            "--init",
            format!(
                "cannot read the init binary {}: {} ({how})",
                path.display(),
                io_reason(&e)
            ),
        )
    })?;
    match elf_interpreter(&bytes) {
        None => Err(Error::invalid(
            "--init",
            format!("{} is not an ELF executable ({how})", path.display()),
        )),
        Some(true) => Err(Error::invalid(
            "--init",
            format!(
                "{} is dynamically linked and cannot run in arbitrary images: it must be static ({how})",
                path.display()
            ),
        )),
        Some(false) => Ok(path),
    }
}

/// Some(true) if the ELF file asks for a program interpreter (dynamic
/// linking), Some(false) if not, None if it is not a little-endian ELF.
pub(super) fn elf_interpreter(b: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if b.get(..4)? != b"\x7fELF" || *b.get(5)? != 1 {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?) as usize);
    let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?) as usize);
    let (phoff, phentsize, phnum) = match b.get(4)? {
        2 => (u64_at(0x20)?, u16_at(0x36)?, u16_at(0x38)?),
        1 => (u32_at(0x1c)? as usize, u16_at(0x2a)?, u16_at(0x2c)?),
        _ => return None,
    };
    for i in 0..phnum {
        if u32_at(phoff + i * phentsize)? == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_detection() {
        let me = std::fs::read("/proc/self/exe").unwrap();
        // Test binaries are dynamically linked.
        assert_eq!(elf_interpreter(&me), Some(true));
        assert_eq!(elf_interpreter(b"#!/bin/sh\n"), None);
    }
}

//! `copy_up ROOTFS PATH DST`: berth's copy-up of PATH in the mounted
//! container rootfs ROOTFS into the empty directory DST, alone, for
//! bench/volumes.sh to time against `cp -a`. Prints what it copied.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rootfs, path, dst] = args.as_slice() else {
        eprintln!("usage: copy_up ROOTFS PATH_IN_CONTAINER DST");
        return ExitCode::from(2);
    };
    match berth_volume::copy_up(Path::new(rootfs), path, Path::new(dst)) {
        Ok(Some(stats)) => {
            println!("{stats:?}");
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("nothing to copy: {path} is not a directory in {rootfs}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let mut line = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                line = format!("{line}: {c}");
                cause = c.source();
            }
            eprintln!("copy_up: {line}");
            ExitCode::FAILURE
        }
    }
}

//! The calling thread's mount table, `/proc/thread-self/mountinfo`: the
//! thread's own mount namespace (an engine thread may have entered a
//! private one; `/proc/self` would show the main thread's).

use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// The mount points of the calling thread's namespace, in table order.
pub fn mount_points() -> io::Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string("/proc/thread-self/mountinfo")?;
    Ok(parse(&text))
}

fn parse(text: &str) -> Vec<PathBuf> {
    // "36 35 98:0 /root /mnt/point rw,noatime master:1 - ext3 /dev/x rw"
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape)
        .collect()
}

/// The kernel writes space, tab, newline and backslash in paths as `\ooo`.
fn unescape(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.len() - i >= 4 {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                out.push((oct[0] - b'0') * 64 + (oct[1] - b'0') * 8 + (oct[2] - b'0'));
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_unescaped() {
        let text = "22 1 0:21 / / rw - ext4 /dev/root rw\n\
                    40 22 0:35 / /var/lib/berth/volumes/a\\040b/_data rw,relatime shared:5 - tmpfs tmpfs rw\n\
                    41 22 0:36 / /x\\134y rw - tmpfs t rw\n";
        assert_eq!(
            parse(text),
            [
                PathBuf::from("/"),
                PathBuf::from("/var/lib/berth/volumes/a b/_data"),
                PathBuf::from("/x\\y"),
            ]
        );
    }
}

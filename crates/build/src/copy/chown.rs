//! `--chown=user[:group]`: names or numbers, names looked up in the
//! destination's `/etc/passwd` and `/etc/group`, read inside that root.
//! Without a group, a named user's primary group is used and a numeric
//! user's id doubles as the group (BuildKit's rule; the classic builder
//! looked the user's name up as a group). Errors are the classic
//! builder's words.

use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

use nix::fcntl::OFlag;

use crate::error::{Error, Result};
use crate::fsops::{is_enoent, open_in, open_root};

/// Resolves a `--chown` value against the root filesystem `rootfs`.
pub fn resolve_chown(rootfs: &Path, spec: &str) -> Result<(u32, u32)> {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() > 2 {
        return Err(Error::ChownFormat(spec.to_owned()));
    }
    let user = parts[0];
    let root = open_root(rootfs)?;
    let read = |rel: &str| -> Result<String> {
        match open_in(root.as_fd(), rel, OFlag::O_RDONLY) {
            Ok(fd) => {
                let mut s = String::new();
                std::fs::File::from(fd)
                    .take(10 << 20)
                    .read_to_string(&mut s)
                    .map_err(|e| Error::io("read", format!("/{rel}"), e))?;
                Ok(s)
            }
            Err(e) if is_enoent(&e) => Ok(String::new()),
            Err(e) => Err(Error::io("open", format!("/{rel}"), e)),
        }
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) => {
            let passwd = read("etc/passwd")?;
            lookup(&passwd, user, 3).ok_or_else(|| Error::NoSuchUser(user.to_owned()))?
        }
    };
    let gid = match parts.get(1) {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => {
                let group = read("etc/group")?;
                lookup(&group, g, 2)
                    .map(|(gid, _)| gid)
                    .ok_or_else(|| Error::NoSuchGroup((*g).to_owned()))?
            }
        },
    };
    Ok((uid, gid))
}

/// The first line of a passwd/group file naming `name`: its id (field 2)
/// and the field `extra` (passwd's primary group; for group, the id again).
fn lookup(text: &str, name: &str, extra: usize) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.first() != Some(&name) || f.len() <= extra {
            return None;
        }
        Some((f[2].trim().parse().ok()?, f[extra].trim().parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::lookup;

    #[test]
    fn lookup_passwd_and_group() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\n#c\napp:x:1000:1001::/home/app:/bin/sh\n";
        assert_eq!(lookup(passwd, "app", 3), Some((1000, 1001)));
        assert_eq!(lookup(passwd, "nobody", 3), None);
        let group = "root:x:0:\nstaff:x:50:app\n";
        assert_eq!(lookup(group, "staff", 2), Some((50, 50)));
    }
}

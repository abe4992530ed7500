//! Device rules the kernel enforces (the v1 devices controller, the v2
//! eBPF device program) on a block device node the config itself creates
//! (`linux.devices`): opening it takes a rule that allows that access.
//!
//! `other_devices_are_denied` in rootfs.rs covers a node made by `mknod`
//! inside the container. Device rules cannot change live: runc's `update`
//! has no flag or `--resources` field for them, so there is no update
//! variant here.

mod common;

use common::*;
use serde_json::json;

/// What the container could do with a loop device given to it as
/// `/dev/blk`, under a device rule for it allowing `access` (no rule if
/// `None`): `read-ok`/`read-denied`, then `write-ok`/`write-denied`.
fn try_device(rt: &Runtime, dev: &LoopDevice, access: Option<&str>) -> String {
    let mut b = Bundle::new(rt);
    {
        let mut config = b.config_mut();
        let linux = &mut config["linux"];
        linux["devices"] = json!([{
            "path": "/dev/blk", "type": "b", "major": dev.major(), "minor": dev.minor(),
            "fileMode": 0o660, "uid": 0, "gid": 0
        }]);
        if let Some(access) = access {
            linux["resources"]["devices"]
                .as_array_mut()
                .expect("device rules")
                .push(json!({
                    "allow": true, "type": "b", "major": dev.major(), "minor": dev.minor(),
                    "access": access
                }));
        }
    }
    b.set_script(
        "if head -c 512 /dev/blk >/dev/null 2>&1; then echo read-ok; else echo read-denied; fi; \
         if dd if=/dev/zero of=/dev/blk bs=512 count=1 2>/dev/null; \
         then echo write-ok; else echo write-denied; fi",
    );
    rt.run(&b).ok().stdout
}

/// The node for a device no rule allows exists but cannot be opened; a
/// rule allowing `r` lets it be read but not written; `rw` allows both.
#[test]
fn device_access_follows_the_rules() {
    require_root!();
    let rt = runtime();
    let dev = LoopDevice::new(1 << 20);
    assert_eq!(try_device(&rt, &dev, None), "read-denied\nwrite-denied\n");
    assert_eq!(try_device(&rt, &dev, Some("r")), "read-ok\nwrite-denied\n");
    assert_eq!(try_device(&rt, &dev, Some("rw")), "read-ok\nwrite-ok\n");
}

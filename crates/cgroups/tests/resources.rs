//! Privileged tests of `Cgroup::apply` for every `linux.resources` field:
//! the right file holds the right value after apply, a second apply (the
//! live update) changes it, and a field the host cannot honour fails with
//! `Unsupported` naming it. Runs on v1/hybrid here and on v2 in the guest
//! (`scripts/test-in-v2vm.sh`); branches print `SKIPPED` where a host lacks
//! a feature.

mod common;

use std::path::Path;

use berth_cgroups::{Cgroup, ErrorKind, Mode};
use berth_testutil::{require_root, skipped, skipped_for_lack_of, CgroupParent};
use common::*;

/// Applies `json`; panics with the error.
fn apply(cg: &Cgroup, json: &str) {
    cg.apply(&resources(json))
        .unwrap_or_else(|e| panic!("apply {json}: {e}"));
}

/// Applies `json`, expects `Unsupported` naming `field`.
fn refused(cg: &Cgroup, json: &str, field: &str) {
    let e = cg.apply(&resources(json)).map(|_| ()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{json}: {e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("linux.resources.{field}")) && msg.contains(" is not supported: "),
        "{json}: {e}"
    );
}

#[test]
fn memory_fields_apply_and_update() {
    require_root!();
    let mode = host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let mem = cg.path_of("memory").unwrap();
    let v2 = mode == Mode::V2;
    let (max, low) = if v2 {
        ("memory.max", "memory.low")
    } else {
        ("memory.limit_in_bytes", "memory.soft_limit_in_bytes")
    };

    apply(
        &cg,
        r#"{"memory": {"limit": 67108864, "reservation": 33554432}}"#,
    );
    assert_eq!(read(&mem, max), "67108864");
    assert_eq!(read(&mem, low), "33554432");
    // update: only what is given changes
    apply(&cg, r#"{"memory": {"limit": 100663296}}"#);
    assert_eq!(read(&mem, max), "100663296");
    assert_eq!(read(&mem, low), "33554432");
    apply(&cg, r#"{"memory": {"limit": -1}}"#);
    assert!(matches!(
        read(&mem, max).as_str(),
        "max" | "9223372036854771712"
    ));

    let swap_file = if v2 {
        "memory.swap.max"
    } else {
        "memory.memsw.limit_in_bytes"
    };
    if mem.join(swap_file).exists() {
        // raising and lowering both in one apply, in either order
        for (limit, swap) in [
            (33554432u64, 67108864u64),
            (134217728, 268435456),
            (33554432, 33554432),
        ] {
            apply(
                &cg,
                &format!(r#"{{"memory": {{"limit": {limit}, "swap": {swap}}}}}"#),
            );
            assert_eq!(read(&mem, max), limit.to_string());
            let want = if v2 { swap - limit } else { swap };
            assert_eq!(read(&mem, swap_file), want.to_string());
        }
    } else {
        skipped(&format!(
            "memory.swap part (no {swap_file}: no swap accounting)"
        ));
        refused(
            &cg,
            r#"{"memory": {"limit": 33554432, "swap": 67108864}}"#,
            "memory.swap",
        );
    }

    if v2 {
        refused(
            &cg,
            r#"{"memory": {"swappiness": 10}}"#,
            "memory.swappiness",
        );
        refused(
            &cg,
            r#"{"memory": {"disableOOMKiller": true}}"#,
            "memory.disableOOMKiller",
        );
        refused(
            &cg,
            r#"{"memory": {"useHierarchy": false}}"#,
            "memory.useHierarchy",
        );
        apply(
            &cg,
            r#"{"memory": {"swappiness": 0, "disableOOMKiller": false, "useHierarchy": true}}"#,
        );
    } else {
        apply(
            &cg,
            r#"{"memory": {"swappiness": 10, "disableOOMKiller": true, "useHierarchy": true}}"#,
        );
        assert_eq!(read(&mem, "memory.swappiness"), "10");
        assert!(read(&mem, "memory.oom_control").contains("oom_kill_disable 1"));
        assert_eq!(read(&mem, "memory.use_hierarchy"), "1");
        apply(
            &cg,
            r#"{"memory": {"swappiness": 60, "disableOOMKiller": false}}"#,
        );
        assert_eq!(read(&mem, "memory.swappiness"), "60");
        assert!(read(&mem, "memory.oom_control").contains("oom_kill_disable 0"));
    }
    // Kernel memory limits are ignored (the kernel dropped them), as by
    // runc 1.2 and crun: the rest of the memory fields still apply, and no
    // kmem file is written where an old kernel still has one.
    let kmem_before = std::fs::read_to_string(mem.join("memory.kmem.limit_in_bytes")).ok();
    apply(
        &cg,
        r#"{"memory": {"reservation": 16777216, "kernel": 67108864, "kernelTCP": 67108864}}"#,
    );
    assert_eq!(read(&mem, low), "16777216");
    assert_eq!(
        std::fs::read_to_string(mem.join("memory.kmem.limit_in_bytes")).ok(),
        kmem_before
    );
    cg.destroy().unwrap();
}

#[test]
fn check_before_update_refuses_a_limit_below_usage() {
    require_root!();
    host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let mut hog = Hog::start(&cg, 16 << 20);
    assert!(hog.ready());
    let e = cg
        .apply(&resources(
            r#"{"memory": {"limit": 4194304, "checkBeforeUpdate": true}}"#,
        ))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("below the current usage"), "{e}");
    apply(
        &cg,
        r#"{"memory": {"limit": 1073741824, "checkBeforeUpdate": true}}"#,
    );
    cg.signal_all(nix::sys::signal::Signal::SIGKILL).unwrap();
    drop(hog);
    cg.destroy().unwrap();
}

#[test]
fn cpu_fields_apply_and_update() {
    require_root!();
    let mode = host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let cpu = cg.path_of("cpu").unwrap();
    let v2 = mode == Mode::V2;

    apply(
        &cg,
        r#"{"cpu": {"shares": 512, "quota": 20000, "period": 100000}}"#,
    );
    if v2 {
        assert_eq!(read(&cpu, "cpu.weight"), "20");
        assert_eq!(read(&cpu, "cpu.max"), "20000 100000");
    } else {
        assert_eq!(read(&cpu, "cpu.shares"), "512");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "20000");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
    }
    // update: a quota above the old period along with a shorter period
    apply(&cg, r#"{"cpu": {"quota": 30000, "period": 10000}}"#);
    if v2 {
        assert_eq!(read(&cpu, "cpu.max"), "30000 10000");
    } else {
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "30000");
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "10000");
    }

    let burst = if v2 {
        "cpu.max.burst"
    } else {
        "cpu.cfs_burst_us"
    };
    if cpu.join(burst).exists() {
        apply(&cg, r#"{"cpu": {"burst": 5000}}"#);
        assert_eq!(read(&cpu, burst), "5000");
        apply(&cg, r#"{"cpu": {"burst": 0}}"#);
        assert_eq!(read(&cpu, burst), "0");
    } else {
        refused(&cg, r#"{"cpu": {"burst": 5000}}"#, "cpu.burst");
    }

    if cpu.join("cpu.idle").exists() {
        apply(&cg, r#"{"cpu": {"idle": 1}}"#);
        assert_eq!(read(&cpu, "cpu.idle"), "1");
        apply(&cg, r#"{"cpu": {"idle": 0}}"#);
        assert_eq!(read(&cpu, "cpu.idle"), "0");
    } else {
        refused(&cg, r#"{"cpu": {"idle": 1}}"#, "cpu.idle");
    }

    let rt = r#"{"cpu": {"realtimePeriod": 100000, "realtimeRuntime": 1000}}"#;
    if v2 {
        refused(&cg, rt, "cpu.realtime");
    } else if cpu.join("cpu.rt_runtime_us").exists() {
        // A child's real-time budget comes out of its parent's.
        let parent_dir = cpu.parent().unwrap();
        std::fs::write(parent_dir.join("cpu.rt_runtime_us"), "50000").unwrap();
        apply(&cg, rt);
        assert_eq!(read(&cpu, "cpu.rt_period_us"), "100000");
        assert_eq!(read(&cpu, "cpu.rt_runtime_us"), "1000");
        apply(&cg, r#"{"cpu": {"realtimeRuntime": 2000}}"#);
        assert_eq!(read(&cpu, "cpu.rt_runtime_us"), "2000");
    } else {
        refused(&cg, rt, "cpu.realtime");
    }

    let cpuset = cg.path_of("cpuset").unwrap();
    apply(&cg, r#"{"cpu": {"cpus": "0", "mems": "0"}}"#);
    assert_eq!(read(&cpuset, "cpuset.cpus"), "0");
    assert_eq!(read(&cpuset, "cpuset.mems"), "0");
    cg.destroy().unwrap();
}

#[test]
fn pids_limit_apply_and_update() {
    require_root!();
    host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let pids = cg.path_of("pids").unwrap();
    apply(&cg, r#"{"pids": {"limit": 20}}"#);
    assert_eq!(read(&pids, "pids.max"), "20");
    apply(&cg, r#"{"pids": {"limit": 0}}"#);
    assert_eq!(read(&pids, "pids.max"), "max");
    apply(&cg, r#"{"pids": {"limit": 7}}"#);
    apply(&cg, r#"{"pids": {"limit": -1}}"#);
    assert_eq!(read(&pids, "pids.max"), "max");
    cg.destroy().unwrap();
}

#[test]
fn block_io_apply_and_update() {
    require_root!();
    let mode = host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let Some(dev) = block_device() else {
        skipped_for_lack_of("blockdev", "no block device");
        return;
    };
    let (major, minor) = dev.split_once(':').unwrap();
    let v2 = mode == Mode::V2;
    let dir = if v2 {
        cg.unified_path().unwrap().to_path_buf()
    } else {
        cg.path_of("blkio").unwrap()
    };
    let throttle = |rbps: u64, wiops: u64| {
        format!(
            r#"{{"blockIO": {{"throttleReadBpsDevice": [{{"major": {major}, "minor": {minor}, "rate": {rbps}}}],
                "throttleWriteIOPSDevice": [{{"major": {major}, "minor": {minor}, "rate": {wiops}}}]}}}}"#
        )
    };
    apply(&cg, &throttle(1048576, 100));
    if v2 {
        let line = read(&dir, "io.max");
        assert!(
            line.contains(&format!("{dev} rbps=1048576 wbps=max riops=max wiops=100")),
            "{line}"
        );
    } else {
        assert_eq!(
            read(&dir, "blkio.throttle.read_bps_device"),
            format!("{dev} 1048576")
        );
        assert_eq!(
            read(&dir, "blkio.throttle.write_iops_device"),
            format!("{dev} 100")
        );
    }
    // update: new rates; a 0 lifts the limit
    apply(&cg, &throttle(2097152, 0));
    if v2 {
        let line = read(&dir, "io.max");
        assert!(
            line.contains(&format!("{dev} rbps=2097152 wbps=max riops=max wiops=max")),
            "{line}"
        );
    } else {
        assert_eq!(
            read(&dir, "blkio.throttle.read_bps_device"),
            format!("{dev} 2097152")
        );
        assert_eq!(read(&dir, "blkio.throttle.write_iops_device"), "");
    }

    let weights: &[&str] = if v2 {
        &["io.bfq.weight", "io.weight"]
    } else {
        &["blkio.weight", "blkio.bfq.weight"]
    };
    match weights.iter().find(|f| dir.join(f).exists()) {
        Some(file) => {
            apply(&cg, r#"{"blockIO": {"weight": 500}}"#);
            let want = if *file == "io.weight" { "4950" } else { "500" };
            let got = read(&dir, file);
            assert!(
                got == want || got.starts_with(&format!("default {want}")),
                "{file}: {got}"
            );
        }
        None => {
            skipped_for_lack_of(
                "io-weight",
                &format!("blockIO.weight write (no {weights:?}: no CFQ/BFQ/io cost here)"),
            );
            refused(&cg, r#"{"blockIO": {"weight": 500}}"#, "blockIO.weight");
        }
    }
    if v2 || !dir.join("blkio.leaf_weight").exists() {
        refused(
            &cg,
            r#"{"blockIO": {"leafWeight": 500}}"#,
            "blockIO.leafWeight",
        );
    }
    cg.destroy().unwrap();
}

#[test]
fn hugepage_limits_go_where_the_hugetlb_controller_is() {
    require_root!();
    host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let v1_file = "hugetlb.2MB.limit_in_bytes";
    let dir_v1 = cg.path_of("hugetlb").filter(|d| d.join(v1_file).exists());
    let dir_v2 = cg
        .unified_path()
        .filter(|d| d.join("hugetlb.2MB.max").exists());
    let json = r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#;
    match (dir_v1, dir_v2) {
        (Some(d), _) => {
            apply(&cg, json);
            assert_eq!(read(&d, v1_file), "4194304");
            apply(&cg, &json.replace("4194304", "8388608"));
            assert_eq!(read(&d, v1_file), "8388608");
        }
        (None, Some(d)) => {
            apply(&cg, json);
            assert_eq!(read(d, "hugetlb.2MB.max"), "4194304");
            apply(&cg, &json.replace("4194304", "8388608"));
            assert_eq!(read(d, "hugetlb.2MB.max"), "8388608");
        }
        (None, None) => {
            skipped("hugepageLimits write (no hugetlb controller or no 2MB pages)");
            refused(&cg, json, "hugepageLimits");
        }
    }
    refused(
        &cg,
        r#"{"hugepageLimits": [{"pageSize": "3MB", "limit": 4194304}]}"#,
        "hugepageLimits",
    );
    cg.destroy().unwrap();
}

#[test]
fn network_and_rdma_apply_or_name_the_field() {
    require_root!();
    let mode = host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let class = r#"{"network": {"classID": 1048577}}"#;
    match cg.path_of("net_cls") {
        Some(d) if mode != Mode::V2 => {
            apply(&cg, class);
            assert_eq!(read(&d, "net_cls.classid"), "1048577");
        }
        _ => refused(&cg, class, "network.classID"),
    }
    let prio = r#"{"network": {"priorities": [{"name": "lo", "priority": 5}]}}"#;
    match cg.path_of("net_prio") {
        Some(d) if mode != Mode::V2 => {
            apply(&cg, prio);
            assert!(read(&d, "net_prio.ifpriomap").contains("lo 5"));
        }
        _ => refused(&cg, prio, "network.priorities"),
    }
    let rdma = r#"{"rdma": {"mlx5_0": {"hcaHandles": 2}}}"#;
    let rdma_dir = if mode == Mode::V2 {
        cg.unified_path().map(Path::to_path_buf)
    } else {
        cg.path_of("rdma")
    };
    if rdma_dir.is_some_and(|d| d.join("rdma.max").exists()) {
        skipped("rdma write (needs an RDMA device)");
    } else {
        refused(&cg, rdma, "rdma");
    }
    cg.destroy().unwrap();
}

#[test]
fn unified_is_written_verbatim_on_v2_only() {
    require_root!();
    let mode = host_mode();
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let json = r#"{"pids": {"limit": 5}, "unified": {"memory.high": "50000000", "pids.max": "9"}}"#;
    if mode != Mode::V2 {
        let e = cg.apply(&resources(json)).map(|_| ()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(
            e.to_string().contains("unified resources need cgroup v2"),
            "{e}"
        );
        return;
    }
    let dir = cg.unified_path().unwrap();
    apply(&cg, json);
    assert_eq!(read(dir, "memory.high"), "49999872"); // page-aligned by the kernel
    assert_eq!(read(dir, "pids.max"), "9", "unified comes last and wins");
    for key in ["../memory.max", "x/memory.max"] {
        let e = cg
            .apply(&resources(&format!(r#"{{"unified": {{"{key}": "1"}}}}"#)))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{key}");
    }
    refused(&cg, r#"{"unified": {"nosuch.file": "1"}}"#, "unified");
    cg.destroy().unwrap();
}

#[test]
fn v1_device_update_replaces_the_allow_list() {
    require_root!();
    if !require_mode(
        "v1_device_update_replaces_the_allow_list",
        &[Mode::V1, Mode::Hybrid],
    ) {
        return;
    }
    let parent = CgroupParent::new();
    let cg = container(&parent, "c1");
    let devices = cg.path_of("devices").unwrap();
    apply(
        &cg,
        r#"{"devices": [{"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}"#,
    );
    assert_eq!(read(&devices, "devices.list"), "c 1:3 rwm");
    // an update without a leading deny-all still ends with exactly its list
    apply(
        &cg,
        r#"{"devices": [{"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"}]}"#,
    );
    assert_eq!(read(&devices, "devices.list"), "c 1:5 r");
    cg.destroy().unwrap();
}

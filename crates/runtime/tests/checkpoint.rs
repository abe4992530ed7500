//! `checkpoint` and `restore` with a real CRIU (built from
//! shared/third_party/criu by scripts/build-criu.sh; `.ci/run` puts it
//! first in PATH): a counting process goes on counting with the same pid
//! in its namespace, a 64 MiB heap and an open file's offset come back,
//! `--leave-running` leaves it running, and the failures (CRIU refusing a
//! checkpoint, a corrupted image) leave things as they were. Every test
//! runs against runc too (`BERTH_TEST_RUNTIME=runc`, same CRIU), except
//! where berth words things its own way.
//!
//! The containers' stdio is never a file of the test's temp dir: CRIU
//! cannot dump a descriptor on a mount the container does not see (that
//! is exactly the refusal test). They get pipes, as containerd gives them.

mod common;

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// The CRIU to use, passed as `--criu` to either runtime: `criu` on PATH,
/// which must pass `criu check`. Missing or failing, the test is skipped
/// (visibly) on a developer's machine and fails in CI.
fn criu() -> Option<PathBuf> {
    let found = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join("criu"))
        .find(|p| p.is_file());
    let why = match &found {
        None => "no criu on PATH (scripts/build-criu.sh builds one)".to_string(),
        Some(p) => {
            let out = std::process::Command::new(p).arg("check").output();
            match out {
                Ok(o) if o.status.success() => return found,
                Ok(o) => format!(
                    "`{} check` fails here: {}",
                    p.display(),
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => format!("cannot run {}: {e}", p.display()),
            }
        }
    };
    if std::env::var_os("CI").is_some() {
        panic!("checkpoint tests need CRIU in CI: {why}");
    }
    skipped(&why);
    None
}

/// A pipe whose read end is drained into a string by a thread.
struct PipeReader {
    text: Arc<Mutex<String>>,
}

impl PipeReader {
    /// The write end (for a container's stdout) and the reader.
    fn new() -> (OwnedFd, PipeReader) {
        let (r, w) = nix::unistd::pipe().expect("pipe");
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        std::thread::spawn(move || {
            let mut f = fs::File::from(r);
            let mut buf = [0u8; 4096];
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        (w, PipeReader { text })
    }

    fn numbers(&self) -> Vec<u64> {
        self.text
            .lock()
            .unwrap()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

/// `args` run with stdin on /dev/null and stdout and stderr on `out`
/// (the runtime's own words go there too: read them with `text`).
fn run_with_pipe(rt: &Runtime, args: &[&str], out: &OwnedFd) -> Output {
    let o1 = out.try_clone().expect("dup pipe");
    let o2 = out.try_clone().expect("dup pipe");
    rt.spawn_with(args, move |c| {
        c.stdout(Stdio::from(o1)).stderr(Stdio::from(o2));
    })
    .wait()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 test path")
}

/// `--criu <criu> checkpoint --image-path <img> [extra] <id>`.
fn checkpoint(rt: &Runtime, criu: &Path, img: &Path, extra: &[&str], id: &str) -> Output {
    let mut args = vec![
        "--criu",
        path_str(criu),
        "checkpoint",
        "--image-path",
        path_str(img),
    ];
    args.extend_from_slice(extra);
    args.push(id);
    rt.cmd(&args)
}

/// `--criu <criu> restore -d --image-path <img> --bundle <b> <id>`, the
/// restored process's stdout and stderr on `out`.
fn restore(rt: &Runtime, criu: &Path, img: &Path, b: &Bundle, out: &OwnedFd) -> Output {
    run_with_pipe(
        rt,
        &[
            "--criu",
            path_str(criu),
            "restore",
            "-d",
            "--image-path",
            path_str(img),
            "--bundle",
            path_str(b.path()),
            b.id(),
        ],
        out,
    )
}

/// The container's pid as its own pid namespace sees it (the last field
/// of `NSpid`).
fn pid_inside(host_pid: u64) -> String {
    let status = fs::read_to_string(format!("/proc/{host_pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|v| v.split_whitespace().last())
        .unwrap_or_default()
        .to_string()
}

fn read_number(p: &Path) -> u64 {
    fs::read_to_string(p)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0)
}

/// A counting container: `/data/count` (a bind mount of `data`) and
/// stdout get 1, 2, 3, ... every 50 ms.
fn counter_bundle(rt: &Runtime) -> (Bundle, PathBuf) {
    let mut b = Bundle::new(rt);
    let data = b.host_dir("data");
    b.add_mount("/data", "bind", path_str(&data), &["rbind", "rw"]);
    b.set_script(
        "echo $$ > /data/pid; i=0; while :; do i=$((i+1)); echo $i > /data/count.new; \
         mv /data/count.new /data/count; echo $i; sleep 0.05; done",
    );
    (b, data)
}

#[test]
fn a_counter_goes_on_counting_after_checkpoint_and_restore() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let (b, data) = counter_bundle(&rt);
    let count = data.join("count");
    let (w1, first) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w1,
    )
    .ok();
    drop(w1);
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) >= 5));
    let before_pid = rt.state(b.id())["pid"].as_u64().unwrap();
    assert_eq!(pid_inside(before_pid), "1");

    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &[], b.id());
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        dump_log(&img)
    );
    assert!(
        img.join("inventory.img").exists(),
        "no images in {}",
        img.display()
    );
    // The processes are gone: the count stands still.
    let frozen = read_number(&count);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read_number(&count), frozen, "the container still counts");
    match rt.try_state(b.id()) {
        // berth keeps the stopped container (for `delete`, or a restore
        // under its id); runc destroys it.
        Ok(s) => assert_eq!(s["status"], "stopped", "{s}"),
        Err(out) => assert_not_exist(&out, b.id()),
    }
    let last_before = *first
        .numbers()
        .last()
        .expect("numbers before the checkpoint");

    let (w2, second) = PipeReader::new();
    let out = restore(&rt, &criu, &img, &b, &w2);
    drop(w2);
    assert!(
        out.success(),
        "restore failed:\n{out}\n{}",
        restore_log(&img)
    );
    let s = rt.state(b.id());
    assert_eq!(s["status"], "running", "{s}");
    let pid = s["pid"].as_u64().unwrap();
    assert_eq!(
        pid_inside(pid),
        "1",
        "the restored init is not pid 1 inside"
    );
    assert_eq!(fs::read_to_string(data.join("pid")).unwrap().trim(), "1");
    // The count goes on from where it stood, in the file and on the new
    // stdout pipe (the old pipe was replaced by the restore's).
    assert!(
        wait_until(STATE_TIMEOUT, || read_number(&count) > frozen + 3),
        "the restored container does not count: {} (was {frozen})",
        read_number(&count)
    );
    assert!(wait_until(STATE_TIMEOUT, || second.numbers().len() >= 3));
    let resumed = second.numbers()[0];
    assert!(
        resumed > last_before && resumed <= last_before + 2,
        "restored stdout starts at {resumed}, the checkpoint was at {last_before}"
    );
    // The restored container is an ordinary one to the other commands.
    let ps = rt.cmd(&["ps", "--format", "json", b.id()]).ok();
    assert!(ps.stdout.contains(&pid.to_string()), "{ps}");
    let exec = rt.exec(b.id(), &["cat", "/data/pid"]).ok();
    assert_eq!(exec.stdout.trim(), "1", "{exec}");
    rt.kill(b.id(), "KILL").ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    rt.delete(b.id()).ok();
    assert_not_exist(&rt.cmd(&["state", b.id()]), b.id());
    assert!(
        leftover_cgroups(&b).is_empty(),
        "{:?}",
        leftover_cgroups(&b)
    );
    assert!(
        !mounted_under(rt.root()),
        "a mount is left under the state root"
    );
}

/// `args` with stdin on /dev/null, stdout on `out` and stderr on `err`.
fn run_with_pipes(rt: &Runtime, args: &[&str], out: &OwnedFd, err: &OwnedFd) -> Output {
    let o = out.try_clone().expect("dup pipe");
    let e = err.try_clone().expect("dup pipe");
    rt.spawn_with(args, move |c| {
        c.stdout(Stdio::from(o)).stderr(Stdio::from(e));
    })
    .wait()
}

/// The init moves its stdout onto its stderr (`exec 1>&2`) before the
/// checkpoint: restored (twice), it still writes to the new stderr, and
/// the new stdout gets nothing (the stdio is recorded as it was given,
/// not as fds 0-2 stand at the dump: both on one pipe, they would both go
/// to the new stdout).
#[test]
fn stdout_and_stderr_come_back_in_their_places() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_script("exec 1>&2; i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done");
    let (o, out) = PipeReader::new();
    let (e, err) = PipeReader::new();
    let args = ["run", "-d", "--bundle", path_str(b.path()), b.id()];
    run_with_pipes(&rt, &args, &o, &e).ok();
    drop((o, e));
    assert!(wait_until(STATE_TIMEOUT, || err.numbers().len() >= 3));
    let mut last = 0;
    for round in 0..2 {
        let img = b.host_dir(&format!("image{round}"));
        let done = checkpoint(&rt, &criu, &img, &[], b.id());
        assert!(
            done.success(),
            "checkpoint failed:\n{done}\n{}",
            dump_log(&img)
        );
        let (o, out2) = PipeReader::new();
        let (e, err2) = PipeReader::new();
        let args = [
            "--criu",
            path_str(&criu),
            "restore",
            "-d",
            "--image-path",
            path_str(&img),
            "--bundle",
            path_str(b.path()),
            b.id(),
        ];
        let done = run_with_pipes(&rt, &args, &o, &e);
        drop((o, e));
        assert!(
            done.success(),
            "restore failed:\n{done}\n{}",
            restore_log(&img)
        );
        assert!(
            wait_until(STATE_TIMEOUT, || err2.numbers().len() >= 3),
            "round {round}: nothing on the new stderr; stdout has {:?}",
            out2.numbers()
        );
        let resumed = err2.numbers()[0];
        assert!(resumed > last, "round {round}: {resumed} after {last}");
        last = *err2.numbers().last().unwrap();
        assert_eq!(out2.numbers(), Vec::<u64>::new(), "round {round}");
    }
    assert_eq!(out.numbers(), Vec::<u64>::new());
    rt.kill(b.id(), "KILL").ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    rt.delete(b.id()).ok();
}

#[test]
fn a_64_mib_heap_and_an_open_file_come_back() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    let data = b.host_dir("data");
    b.add_mount("/data", "bind", path_str(&data), &["rbind", "rw"]);
    fs::write(b.rootfs().join("lines.txt"), "first\nsecond\n").unwrap();
    // 64 MiB of 'a' in a shell variable (touched: written by the shell),
    // and lines.txt open on fd 3 with the first line read.
    b.set_script(
        "x=$(head -c 67108864 /dev/zero | tr '\\0' a); exec 3< /lines.txt; read -r one <&3; \
         echo ready > /data/state; while [ ! -e /data/go ]; do sleep 0.05; done; \
         read -r two <&3; echo \"${#x} ${x:0:3} ${x:67108861:3} $one $two\" > /data/out; \
         sleep 1000",
    );
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(
        wait_until(Duration::from_secs(60), || data.join("state").exists()),
        "the container never filled its heap"
    );
    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &[], b.id());
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        dump_log(&img)
    );
    let pages: u64 = fs::read_dir(&img)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("pages-"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert!(pages >= 64 << 20, "only {pages} bytes of pages dumped");

    let out = restore(&rt, &criu, &img, &b, &w);
    assert!(
        out.success(),
        "restore failed:\n{out}\n{}",
        restore_log(&img)
    );
    let pid = rt.state(b.id())["pid"].as_u64().unwrap();
    let rss_kib: u64 = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(rss_kib >= 64 * 1024, "restored RSS is {rss_kib} KiB");
    fs::write(data.join("go"), "").unwrap();
    assert!(wait_until(STATE_TIMEOUT, || data.join("out").exists()));
    assert_eq!(
        fs::read_to_string(data.join("out")).unwrap().trim(),
        "67108864 aaa aaa first second"
    );
}

#[test]
fn leave_running_leaves_the_container_running() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let (b, data) = counter_bundle(&rt);
    let count = data.join("count");
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) >= 3));
    let pid = rt.state(b.id())["pid"].clone();
    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &["--leave-running"], b.id());
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        dump_log(&img)
    );
    assert!(img.join("inventory.img").exists());
    let s = rt.state(b.id());
    assert_eq!(s["status"], "running", "{s}");
    assert_eq!(s["pid"], pid);
    let n = read_number(&count);
    assert!(
        wait_until(STATE_TIMEOUT, || read_number(&count) > n + 3),
        "the container stopped counting after --leave-running"
    );
    // Its id is taken: a restore under it fails and touches nothing.
    let out = restore(&rt, &criu, &img, &b, &w);
    assert!(
        !out.success(),
        "restore onto a running container's id succeeded"
    );
    let s = rt.state(b.id());
    assert_eq!(s["status"], "running", "{s}");
    assert_eq!(s["pid"], pid);
    if rt.is_berth() {
        let out = rt.cmd(&[
            "--criu",
            path_str(&criu),
            "restore",
            "-d",
            "--image-path",
            path_str(&img),
            "--bundle",
            path_str(b.path()),
            b.id(),
        ]);
        let msg = error_message(&out);
        assert!(
            msg.ends_with(&format!("container with id exists: {}", b.id())),
            "{out}"
        );
    }
    let n = read_number(&count);
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) > n + 2));
}

/// A paused container (its cgroup frozen: v1 `freezer.state`, v2
/// `cgroup.freeze`) is checkpointed through the cgroup it is frozen in,
/// as `ctr container checkpoint --task` does: CRIU leaves it as it found
/// it, and a restore of that image runs.
#[test]
fn a_paused_container_stays_paused_through_a_leave_running_checkpoint() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let (b, data) = counter_bundle(&rt);
    let count = data.join("count");
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) >= 2));
    rt.cmd(&["pause", b.id()]).ok();
    let frozen = read_number(&count);
    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &["--leave-running"], b.id());
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        dump_log(&img)
    );
    assert_eq!(rt.status(b.id()).as_deref(), Some("paused"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read_number(&count), frozen, "the paused container counts");
    rt.cmd(&["resume", b.id()]).ok();
    assert!(
        wait_until(STATE_TIMEOUT, || read_number(&count) > frozen),
        "the container does not count after resume"
    );
    rt.kill(b.id(), "KILL").ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    rt.delete(b.id()).ok();
    let (w2, second) = PipeReader::new();
    let out = restore(&rt, &criu, &img, &b, &w2);
    drop(w2);
    assert!(
        out.success(),
        "restore failed:\n{out}\n{}",
        restore_log(&img)
    );
    // Not paused: the image's tree was frozen by the dump, not by the
    // container's state (runc's too).
    assert_eq!(rt.status(b.id()).as_deref(), Some("running"));
    assert!(
        wait_until(STATE_TIMEOUT, || second.numbers().len() >= 3),
        "the restored container does not count"
    );
    // It goes on from the pause (the file may lag stdout by one line).
    let resumed = second.numbers()[0];
    assert!(
        (frozen..=frozen + 1).contains(&resumed),
        "restored stdout starts at {resumed}, the pause was at {frozen}"
    );
    rt.kill(b.id(), "KILL").ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    rt.delete(b.id()).ok();
}

#[test]
fn restore_from_a_corrupted_image_fails_and_leaves_nothing() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let (b, data) = counter_bundle(&rt);
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(wait_until(STATE_TIMEOUT, || read_number(
        &data.join("count")
    ) >= 2));
    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &[], b.id());
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        dump_log(&img)
    );
    if rt.is_berth() {
        rt.delete(b.id()).ok();
    }
    // The process tree's image is garbage now.
    for e in fs::read_dir(&img).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("pstree") || name.starts_with("core-") {
            fs::write(e.path(), b"\x01\x02garbage\xff\xff\xff\xff").unwrap();
        }
    }
    let out = rt.cmd(&[
        "--criu",
        path_str(&criu),
        "restore",
        "-d",
        "--image-path",
        path_str(&img),
        "--bundle",
        path_str(b.path()),
        b.id(),
    ]);
    assert!(!out.success(), "restore from garbage succeeded:\n{out}");
    assert_not_exist(&rt.cmd(&["state", b.id()]), b.id());
    assert!(
        wait_until(STATE_TIMEOUT, || leftover_cgroups(&b).is_empty()),
        "cgroup left: {:?}",
        leftover_cgroups(&b)
    );
    assert!(
        !mounted_under(rt.root()),
        "a mount is left under the state root"
    );
    if rt.is_berth() {
        assert_eq!(out.stderr_lines().len(), 1, "{out}");
        let msg = error_message(&out);
        assert!(
            msg.contains("restore failed: CRIU: ") && msg.contains("restore.log"),
            "{msg}"
        );
    }
}

#[test]
fn a_checkpoint_criu_refuses_leaves_the_container_running() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let (b, data) = counter_bundle(&rt);
    let count = data.join("count");
    // The runtime's stdout and stderr are files of the test's temp dir,
    // which the container inherits and cannot see: CRIU refuses to dump.
    rt.run_detached(&b).ok();
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) >= 2));
    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &[], b.id());
    assert!(!out.success(), "checkpoint succeeded:\n{out}");
    if rt.is_berth() {
        let msg = error_message(&out);
        assert_eq!(out.stderr_lines().len(), 1, "{out}");
        assert!(
            msg.contains("checkpoint failed: CRIU: Can't lookup mount") && msg.contains("dump.log"),
            "{msg}"
        );
    }
    let s = rt.state(b.id());
    assert_eq!(s["status"], "running", "{s}");
    let n = read_number(&count);
    assert!(
        wait_until(STATE_TIMEOUT, || read_number(&count) > n + 3),
        "the container stopped counting after a refused checkpoint"
    );
}

#[test]
fn pre_dumps_need_dirty_tracking_and_lazy_pages_are_refused() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    if skip_unless_berth(&rt, "runc words these refusals its own way") {
        return;
    }
    let (b, data) = counter_bundle(&rt);
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(wait_until(STATE_TIMEOUT, || read_number(
        &data.join("count")
    ) >= 2));
    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &["--lazy-pages"], b.id());
    assert!(!out.success());
    assert!(error_message(&out).contains("--lazy-pages"), "{out}");
    assert_eq!(rt.status(b.id()).as_deref(), Some("running"));
    let tracking = std::process::Command::new(&criu)
        .args(["check", "--feature", "mem_dirty_track"])
        .output()
        .unwrap()
        .status
        .success();
    if !tracking {
        let out = checkpoint(&rt, &criu, &img, &["--pre-dump"], b.id());
        assert!(
            !out.success(),
            "pre-dump succeeded without dirty tracking:\n{out}"
        );
        let msg = error_message(&out);
        assert!(
            msg.contains("--pre-dump needs memory dirty tracking")
                && msg.contains("Dirty tracking is OFF"),
            "{msg}"
        );
        fs::create_dir_all(img.join("parent")).unwrap();
        let out = checkpoint(&rt, &criu, &img, &["--parent-path", "parent"], b.id());
        assert!(
            error_message(&out).contains("--parent-path needs memory dirty tracking"),
            "{out}"
        );
        assert_eq!(rt.status(b.id()).as_deref(), Some("running"));
        return;
    }
    // Where the kernel tracks dirty memory (the cgroup v2 guest's does):
    // a pre-dump leaves it running, a dump against it (runc's relative
    // --parent-path) writes only what changed, and the two restore.
    let pre = img.join("pre");
    let full = img.join("full");
    fs::create_dir_all(&pre).unwrap();
    fs::create_dir_all(&full).unwrap();
    let out = checkpoint(&rt, &criu, &pre, &["--pre-dump"], b.id());
    assert!(out.success(), "pre-dump failed:\n{out}\n{}", dump_log(&pre));
    assert_eq!(rt.status(b.id()).as_deref(), Some("running"));
    let at_pre = read_number(&data.join("count"));
    assert!(wait_until(STATE_TIMEOUT, || read_number(
        &data.join("count")
    ) > at_pre));
    let out = checkpoint(&rt, &criu, &full, &["--parent-path", "../pre"], b.id());
    assert!(out.success(), "dump failed:\n{out}\n{}", dump_log(&full));
    let frozen = read_number(&data.join("count"));
    let (w2, _out2) = PipeReader::new();
    let out = restore(&rt, &criu, &full, &b, &w2);
    assert!(
        out.success(),
        "restore failed:\n{out}\n{}",
        restore_log(&full)
    );
    assert!(
        wait_until(STATE_TIMEOUT, || read_number(&data.join("count")) > frozen),
        "the container restored from an incremental dump does not count"
    );
    rt.kill(b.id(), "KILL").ok();
    rt.wait_for_status(b.id(), "stopped", STATE_TIMEOUT);
    rt.delete(b.id()).ok();
}

#[test]
fn a_missing_criu_is_one_line_and_changes_nothing() {
    require_root!();
    let rt = runtime();
    if skip_unless_berth(&rt, "runc says \"exec: criu: not found\" its own way") {
        return;
    }
    let (b, data) = counter_bundle(&rt);
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(wait_until(STATE_TIMEOUT, || read_number(
        &data.join("count")
    ) >= 2));
    let img = b.host_dir("image");
    let missing = b.path().join("no-such-criu");
    let out = checkpoint(&rt, &missing, &img, &[], b.id());
    assert!(!out.success());
    assert_eq!(out.stderr_lines().len(), 1, "{out}");
    assert!(error_message(&out).contains("needs CRIU"), "{out}");
    assert_eq!(rt.status(b.id()).as_deref(), Some("running"));

    // Too old, or failing `criu check` on this kernel (Debian 12's 3.17
    // on Linux >= 6.13): refused with CRIU's own reason.
    let old = fake_criu(&b, "old-criu", "3.14", "Looks good.", 0);
    let out = checkpoint(&rt, &old, &img, &[], b.id());
    assert!(error_message(&out).contains("CRIU 3.14 at"), "{out}");
    assert!(error_message(&out).contains("too old"), "{out}");
    let broken = fake_criu(
        &b,
        "broken-criu",
        "3.17.1",
        "Error (criu/vdso.c:1) vdso: Unexpected rt vDSO area bounds\nError (criu/cr-check.c:2): Looks bad.",
        1,
    );
    let out = checkpoint(&rt, &broken, &img, &[], b.id());
    let msg = error_message(&out);
    assert!(
        msg.contains("does not work on this kernel") && msg.contains("criu check"),
        "{out}"
    );
    assert_eq!(rt.status(b.id()).as_deref(), Some("running"));

    // A restore that cannot find CRIU leaves nothing either.
    let out = rt.cmd(&[
        "--criu",
        path_str(&missing),
        "restore",
        "-d",
        "--image-path",
        path_str(&img),
        "--bundle",
        path_str(b.path()),
        "other",
    ]);
    assert!(!out.success());
    assert!(error_message(&out).contains("needs CRIU"), "{out}");
    assert_not_exist(&rt.cmd(&["state", "other"]), "other");
}

/// A script that answers `--version` with `version` and `check` with
/// `check_says` on stderr and exit code `check_code`.
fn fake_criu(b: &Bundle, name: &str, version: &str, check_says: &str, check_code: i32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = b.path().join(name);
    fs::write(
        &path,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n--version) echo 'Version: {version}';;\n\
             check) printf '{check_says}\\n' >&2; exit {check_code};;\nesac\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn restore_puts_the_container_in_the_configs_cgroup() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let (mut b, data) = counter_bundle(&rt);
    let count = data.join("count");
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) >= 2));
    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &[], b.id());
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        dump_log(&img)
    );
    if rt.is_berth() {
        rt.delete(b.id()).ok();
    }
    let old = b.cgroup_path();
    let moved = b.cgroup_parent().path_for("moved");
    b.config_mut()["linux"]["cgroupsPath"] = serde_json::json!(moved);
    let out = restore(&rt, &criu, &img, &b, &w);
    assert!(
        out.success(),
        "restore failed:\n{out}\n{}",
        restore_log(&img)
    );
    let pid = rt.state(b.id())["pid"].as_u64().unwrap() as u32;
    let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in cgroups.lines() {
        // Every hierarchy the container's cgroup is in (not the empty
        // unified one of a hybrid host's v1 tests).
        let path = line.splitn(3, ':').nth(2).unwrap_or_default();
        if line.contains("memory")
            || line.contains("pids")
            || line.starts_with("0::") && cgroup_v2()
        {
            assert_eq!(path, moved, "restored into the wrong cgroup:\n{cgroups}");
        }
    }
    assert!(CgroupParent::procs_of(&moved).contains(&pid));
    assert!(
        CgroupParent::dirs_of(&old).is_empty(),
        "the old cgroup came back"
    );
    let n = read_number(&count);
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) > n + 2));
}

#[test]
fn a_network_namespace_joined_by_path_is_external() {
    require_root!();
    let Some(criu) = criu() else { return };
    let holder = HostProcess::spawn(&["unshare", "--net", "sleep", "100"]);
    let hpid = holder.pid();
    assert!(wait_until(Duration::from_secs(5), || {
        fs::read_link(format!("/proc/{hpid}/ns/net"))
            .map(|l| l.to_string_lossy() != host_ns("net"))
            .unwrap_or(false)
    }));
    let want = pid_ns(hpid, "net");
    let rt = runtime();
    let (mut b, data) = counter_bundle(&rt);
    b.set_namespace("network", Some(&holder.ns_path("net")));
    let count = data.join("count");
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) >= 2));
    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &[], b.id());
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        dump_log(&img)
    );
    let out = restore(&rt, &criu, &img, &b, &w);
    assert!(
        out.success(),
        "restore failed:\n{out}\n{}",
        restore_log(&img)
    );
    let pid = rt.state(b.id())["pid"].as_u64().unwrap() as u32;
    assert_eq!(
        pid_ns(pid, "net"),
        want,
        "the restored container left the joined netns"
    );
    let n = read_number(&count);
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) > n + 2));
}

#[test]
fn a_terminal_comes_back_through_the_console_socket() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let mut b = Bundle::new(&rt);
    b.set_terminal(true).set_args(&["sh"]);
    let sock = ConsoleSocket::listen(&b.path().join("c1.sock"));
    rt.cmd(&[
        "create",
        "--bundle",
        path_str(b.path()),
        "--console-socket",
        path_str(sock.path()),
        b.id(),
    ])
    .ok();
    let mut master = sock.recv_master(STATE_TIMEOUT);
    let mut out = TerminalReader::new(master.try_clone().unwrap());
    rt.start(b.id()).ok();
    use std::io::Write;
    master.write_all(b"X=kept; echo before-$((1+1))\n").unwrap();
    out.wait_for("before-2", STATE_TIMEOUT);

    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &[], b.id());
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        dump_log(&img)
    );
    let sock2 = ConsoleSocket::listen(&b.path().join("c2.sock"));
    let out = rt.cmd(&[
        "--criu",
        path_str(&criu),
        "restore",
        "-d",
        "--image-path",
        path_str(&img),
        "--bundle",
        path_str(b.path()),
        "--console-socket",
        path_str(sock2.path()),
        b.id(),
    ]);
    assert!(
        out.success(),
        "restore failed:\n{out}\n{}",
        restore_log(&img)
    );
    let mut master = sock2.recv_master(STATE_TIMEOUT);
    let mut out = TerminalReader::new(master.try_clone().unwrap());
    master.write_all(b"echo after-$X-$((2+3))\n").unwrap();
    out.wait_for("after-kept-5", STATE_TIMEOUT);
    assert_eq!(rt.status(b.id()).as_deref(), Some("running"));
}

#[test]
fn a_foreground_restore_waits_and_relays_the_exit_code() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let (b, data) = counter_bundle(&rt);
    let count = data.join("count");
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) >= 2));
    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &[], b.id());
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        dump_log(&img)
    );
    let pid_file = b.path().join("restored.pid");
    let o1 = w.try_clone().unwrap();
    let o2 = w.try_clone().unwrap();
    let fg = rt.spawn_with(
        &[
            "--criu",
            path_str(&criu),
            "restore",
            "--image-path",
            path_str(&img),
            "--bundle",
            path_str(b.path()),
            "--pid-file",
            path_str(&pid_file),
            b.id(),
        ],
        move |c| {
            c.stdout(Stdio::from(o1)).stderr(Stdio::from(o2));
        },
    );
    assert!(
        wait_until(STATE_TIMEOUT, || rt.status(b.id()).as_deref()
            == Some("running")),
        "the foreground restore never ran the container"
    );
    let pid = rt.state(b.id())["pid"].as_u64().unwrap();
    assert!(wait_until(STATE_TIMEOUT, || pid_file.exists()));
    assert_eq!(
        fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );
    let n = read_number(&count);
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) > n + 2));
    rt.kill(b.id(), "KILL").ok();
    let out = fg.wait();
    assert_eq!(out.code(), Some(128 + 9), "{out}");
    // Like `run`, a foreground restore deletes the container it waited for.
    assert_not_exist(&rt.cmd(&["state", b.id()]), b.id());
}

#[test]
fn berth_options_work_path_parent_path_and_cgroup_modes() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    if skip_unless_berth(
        &rt,
        "runc 1.1 has no --manage-cgroups-mode ignore and words refusals its own way",
    ) {
        return;
    }
    let (b, data) = counter_bundle(&rt);
    let count = data.join("count");
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) >= 2));
    let img = b.host_dir("image");
    let work = b.path().join("work");
    // --parent-path needs dirty tracking (as --pre-dump does), and must
    // name a directory under the image path.
    let out = checkpoint(&rt, &criu, &img, &["--parent-path", "/abs"], b.id());
    assert!(
        error_message(&out).contains("--parent-path must be relative"),
        "{out}"
    );
    let out = checkpoint(
        &rt,
        &criu,
        &img,
        &["--manage-cgroups-mode", "bogus"],
        b.id(),
    );
    assert!(
        error_message(&out).contains("invalid --manage-cgroups-mode"),
        "{out}"
    );
    let out = checkpoint(&rt, &criu, &img, &["--empty-ns", "pid"], b.id());
    assert!(error_message(&out).contains("--empty-ns pid"), "{out}");
    assert_eq!(rt.status(b.id()).as_deref(), Some("running"));

    let out = checkpoint(
        &rt,
        &criu,
        &img,
        &[
            "--work-path",
            path_str(&work),
            "--manage-cgroups-mode",
            "ignore",
            "--auto-dedup",
            "--empty-ns",
            "network",
        ],
        b.id(),
    );
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        log_tail(&work.join("dump.log"))
    );
    assert!(
        work.join("dump.log").exists(),
        "CRIU's log is not in --work-path"
    );
    let o1 = w.try_clone().unwrap();
    let o2 = w.try_clone().unwrap();
    let out = rt
        .spawn_with(
            &[
                "--criu",
                path_str(&criu),
                "restore",
                "-d",
                "--no-subreaper",
                "--no-pivot",
                "--image-path",
                path_str(&img),
                "--work-path",
                path_str(&work),
                "--manage-cgroups-mode",
                "ignore",
                "--bundle",
                path_str(b.path()),
                b.id(),
            ],
            move |c| {
                c.stdout(Stdio::from(o1)).stderr(Stdio::from(o2));
            },
        )
        .wait();
    assert!(
        out.success(),
        "restore failed:\n{out}\n{}",
        log_tail(&work.join("restore.log"))
    );
    assert!(work.join("restore.log").exists());
    // Without CRIU managing cgroups the tree still starts in the
    // container's cgroup (CRIU itself was put there).
    let pid = rt.state(b.id())["pid"].as_u64().unwrap() as u32;
    assert!(CgroupParent::procs_of(&b.cgroup_path()).contains(&pid));
    let n = read_number(&count);
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) > n + 2));
}

#[test]
fn features_advertise_checkpoint_when_criu_works() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let out = rt.cmd(&["--criu", path_str(&criu), "features"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        doc["annotations"]["org.opencontainers.runc.checkpoint.enabled"], "true",
        "{doc}"
    );
    if rt.is_berth() {
        let missing = rt.root().join("no-such-criu");
        let out = rt.cmd(&["--criu", path_str(&missing), "features"]).ok();
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert!(doc["annotations"]
            .get("org.opencontainers.runc.checkpoint.enabled")
            .is_none());
    }
}

/// Whether any mount point lies under `dir` (the runtime's state root).
fn mounted_under(dir: &Path) -> bool {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let dir = dir.to_string_lossy();
    mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| m.starts_with(dir.as_ref()))
}

fn dump_log(img: &Path) -> String {
    log_tail(&img.join("dump.log"))
}

fn restore_log(img: &Path) -> String {
    log_tail(&img.join("restore.log"))
}

/// CRIU's last log lines, for a failed test's message.
fn log_tail(p: &Path) -> String {
    let text = fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(15);
    format!("{}:\n{}", p.display(), lines[from..].join("\n"))
}

#[test]
fn podman_checkpoints_and_restores_through_the_runtime() {
    require_root!();
    let Some(_criu) = criu() else { return };
    let Some(pm) = Podman::start(&runtime()) else {
        return;
    };
    let out_dir = pm.host_dir("counter");
    let vol = format!("{}:/out", out_dir.display());
    let id = pm.run_detached(
        &["-v", &vol],
        "i=0; while true; do i=$((i+1)); echo $i > /out/n; sleep 0.05; done",
    );
    let n = out_dir.join("n");
    assert!(wait_until(STATE_TIMEOUT, || read_number(&n) >= 3));
    let out = pm.cmd(&["container", "checkpoint", &id]);
    assert!(out.success(), "podman checkpoint failed:\n{out}");
    assert_eq!(pm.status(&id), "exited");
    let frozen = read_number(&n);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read_number(&n), frozen);
    let out = pm.cmd(&["container", "restore", &id]);
    assert!(out.success(), "podman restore failed:\n{out}");
    assert_eq!(pm.status(&id), "running");
    assert!(
        wait_until(STATE_TIMEOUT, || read_number(&n) > frozen + 3),
        "the restored container does not count"
    );
}

#[test]
/// containerd 1.6 drives the runtime through its runc shim (stdio on
/// pipes): `ctr task checkpoint --exit` to an image path, and a checkpoint
/// into its content store restored live.
fn containerd_checkpoints_and_restores_through_the_runtime() {
    require_root!();
    let Some(_criu) = criu() else { return };
    if !Path::new("/usr/bin/containerd").exists() {
        if std::env::var_os("CI").is_some() {
            panic!("containerd is not installed");
        }
        skipped("containerd is not installed");
        return;
    }
    let rt = runtime();
    let ctrd = Containerd::start(rt.bin());
    ctrd.import_busybox();
    let id = unique_id("ctr-cr");
    let out_dir = ctrd.dir().join("counter");
    fs::create_dir_all(&out_dir).unwrap();
    let mount = format!(
        "type=bind,src={},dst=/out,options=rbind:rw",
        out_dir.display()
    );
    let out = ctrd.run(
        &id,
        &["-d", "--mount", &mount],
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo $i > /out/n; sleep 0.05; done",
        ],
    );
    assert!(out.success(), "ctr run -d failed:\n{out}\n{}", ctrd.log());
    let n = out_dir.join("n");
    assert!(wait_until(STATE_TIMEOUT, || read_number(&n) >= 3));
    let img = ctrd.dir().join("image");
    let work = ctrd.dir().join("work");
    let out = ctrd.ctr(&[
        "task",
        "checkpoint",
        "--exit",
        "--image-path",
        path_str(&img),
        "--work-path",
        path_str(&work),
        &id,
    ]);
    assert!(
        out.success(),
        "ctr task checkpoint failed:\n{out}\n{}",
        ctrd.log()
    );
    assert!(img.join("inventory.img").exists(), "{out}");
    let frozen = read_number(&n);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        read_number(&n),
        frozen,
        "still counting after checkpoint --exit"
    );
    let tasks = ctrd.ctr(&["task", "ls"]).ok();
    let line = tasks
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_default();
    assert!(!line.contains("RUNNING"), "{tasks}");

    // `ctr container checkpoint --task`: pause, `checkpoint
    // --leave-running` into containerd's content store, resume; then the
    // container goes and `ctr container restore --live` brings it back
    // through the shim's `restore --detach ... -no-subreaper`.
    ctrd.ctr(&["task", "rm", &id]).ok();
    let id2 = format!("{id}-2");
    let out = ctrd.run(
        &id2,
        &["-d", "--mount", &mount],
        &[
            "sh",
            "-c",
            "i=1000; while true; do i=$((i+1)); echo $i > /out/n; sleep 0.05; done",
        ],
    );
    assert!(out.success(), "ctr run -d failed:\n{out}\n{}", ctrd.log());
    assert!(wait_until(STATE_TIMEOUT, || read_number(&n) >= 1003));
    let out = ctrd.ctr(&["container", "checkpoint", "--task", &id2, "berth/cp:1"]);
    assert!(
        out.success(),
        "ctr container checkpoint failed:\n{out}\n{}",
        ctrd.log()
    );
    let before = read_number(&n);
    assert!(
        wait_until(STATE_TIMEOUT, || read_number(&n) > before + 2),
        "the task does not run on after its checkpoint"
    );
    ctrd.ctr(&["task", "kill", "-s", "KILL", &id2]).ok();
    assert!(wait_until(STATE_TIMEOUT, || {
        let t = ctrd.ctr(&["task", "ls"]).ok().stdout;
        !t.lines()
            .any(|l| l.starts_with(&id2) && l.contains("RUNNING"))
    }));
    ctrd.ctr(&["task", "rm", &id2]).ok();
    ctrd.ctr(&["container", "rm", &id2]).ok();
    let gone = read_number(&n);
    let out = ctrd.ctr(&["container", "restore", "--live", &id2, "berth/cp:1"]);
    assert!(
        out.success(),
        "ctr container restore failed:\n{out}\n{}",
        ctrd.log()
    );
    let tasks = ctrd.ctr(&["task", "ls"]).ok();
    assert!(
        tasks
            .stdout
            .lines()
            .any(|l| l.starts_with(&id2) && l.contains("RUNNING")),
        "{tasks}"
    );
    assert!(
        wait_until(STATE_TIMEOUT, || read_number(&n) > gone + 3),
        "the restored task does not count"
    );
}

#[test]
fn an_established_tcp_connection_survives_with_tcp_established() {
    require_root!();
    let Some(criu) = criu() else { return };
    // A network namespace the test makes (loopback up), which the
    // container joins by path: it outlives the checkpoint, as a network
    // set up by the engine or CNI does.
    let holder = HostProcess::spawn(&[
        "unshare",
        "--net",
        "sh",
        "-c",
        "ip link set lo up && exec sleep 100",
    ]);
    let hpid = holder.pid();
    assert!(wait_until(Duration::from_secs(5), || {
        fs::read_to_string(format!("/proc/{hpid}/cmdline")).is_ok_and(|c| c.starts_with("sleep"))
    }));
    let rt = runtime();
    let (mut b, data) = counter_bundle(&rt);
    b.set_namespace("network", Some(&holder.ns_path("net")));
    // A server and a client in the container, one connection between
    // them over which the client sends 1, 2, 3, ...
    b.set_script(
        "nc -l -p 5000 -e sh -c 'cat > /data/recv' & sleep 0.3; \
         i=0; while :; do i=$((i+1)); echo $i; sleep 0.05; done | nc 127.0.0.1 5000",
    );
    let recv = data.join("recv");
    let last = || {
        fs::read_to_string(&recv)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse::<u64>().ok())
            .collect::<Vec<_>>()
    };
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(
        wait_until(STATE_TIMEOUT, || last().len() >= 5),
        "no data over the connection"
    );
    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &["--tcp-established"], b.id());
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        dump_log(&img)
    );
    let at = last().len();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(last().len(), at, "data still flows after the checkpoint");
    let out = run_with_pipe(
        &rt,
        &[
            "--criu",
            path_str(&criu),
            "restore",
            "-d",
            "--tcp-established",
            "--image-path",
            path_str(&img),
            "--bundle",
            path_str(b.path()),
            b.id(),
        ],
        &w,
    );
    assert!(
        out.success(),
        "restore failed:\n{out}\n{}",
        restore_log(&img)
    );
    assert!(
        wait_until(STATE_TIMEOUT, || last().len() > at + 5),
        "the connection does not carry data after the restore"
    );
    // Same connection, same stream: no number lost or repeated.
    let got = last();
    let want: Vec<u64> = (1..=got.len() as u64).collect();
    assert_eq!(got, want, "the stream has a gap or a repeat");
}

#[test]
fn page_server_receives_the_memory_pages() {
    require_root!();
    let Some(criu) = criu() else { return };
    let rt = runtime();
    let (b, data) = counter_bundle(&rt);
    let count = data.join("count");
    let (w, _out) = PipeReader::new();
    run_with_pipe(
        &rt,
        &["run", "-d", "--bundle", path_str(b.path()), b.id()],
        &w,
    )
    .ok();
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) >= 2));
    // A CRIU page server, as on a migration's destination, on a free port.
    let pages = b.host_dir("pages");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let _server = HostProcess::spawn(&[
        path_str(&criu),
        "page-server",
        "--images-dir",
        path_str(&pages),
        "--address",
        "127.0.0.1",
        "--port",
        &port,
    ]);
    let addr = format!("127.0.0.1:{port}");
    // Listening (it serves one connection: no probe may connect).
    let hex = format!(":{:04X}", port.parse::<u16>().unwrap());
    assert!(
        wait_until(STATE_TIMEOUT, || {
            fs::read_to_string("/proc/net/tcp").is_ok_and(|t| {
                t.lines().any(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.len() > 3 && f[1].ends_with(&hex) && f[3] == "0A"
                })
            })
        }),
        "the page server never listened"
    );
    let img = b.host_dir("image");
    let out = checkpoint(&rt, &criu, &img, &["--page-server", &addr], b.id());
    assert!(
        out.success(),
        "checkpoint failed:\n{out}\n{}",
        dump_log(&img)
    );
    let sent: Vec<_> = fs::read_dir(&pages)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pages-") || n.starts_with("pagemap-"))
        .collect();
    assert!(
        sent.iter().any(|n| n.starts_with("pages-")),
        "nothing sent: {sent:?}"
    );
    assert!(
        !fs::read_dir(&img)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("pages-")),
        "pages were written locally too"
    );
    // The destination has the pages, the source the rest: together they
    // restore.
    for n in &sent {
        fs::copy(pages.join(n), img.join(n)).unwrap();
    }
    let out = restore(&rt, &criu, &img, &b, &w);
    assert!(
        out.success(),
        "restore failed:\n{out}\n{}",
        restore_log(&img)
    );
    let n = read_number(&count);
    assert!(wait_until(STATE_TIMEOUT, || read_number(&count) > n + 2));
}

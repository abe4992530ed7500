"""docker-py's high-level API against `berth serve` (run by
crates/cli/tests/api_clients.rs). Usage:

    python3 docker_py_check.py containers PREFIX
    python3 docker_py_check.py images PREFIX REGISTRY

DOCKER_HOST names the server. Every check raises on a difference, so a
non-zero exit with a traceback is a failure; the last line is "ok".
"""

import io
import os
import sys
import tarfile
import tempfile
import time

import docker
from docker.errors import APIError, BuildError, ContainerError, NotFound, ImageNotFound


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def wait_until(what, f, secs=30):
    deadline = time.time() + secs
    while not f():
        expect(time.time() < deadline, "timed out waiting for " + what)
        time.sleep(0.1)


def containers(c, p):
    # run attached: stdout by default, the exit code as ContainerError
    out = c.containers.run("bb:1", ["sh", "-c", "echo hi; echo err >&2"], remove=True)
    expect(out == b"hi\n", "run output %r" % out)
    try:
        c.containers.run("bb:1", ["sh", "-c", "exit 3"], remove=True)
        raise AssertionError("exit 3 raised nothing")
    except ContainerError as e:
        expect(e.exit_status == 3, "exit status %r" % e.exit_status)

    # detached: logs, exec_run, top, stats, archives, stop, wait, remove
    ctr = c.containers.run(
        "bb:1",
        ["sh", "-c", "echo ready; sleep 300"],
        detach=True,
        name=p + "-det",
        labels={"suite": p},
        environment={"FOO": "bar"},
    )
    wait_until("the first log line", lambda: b"ready" in ctr.logs())
    ctr.reload()
    expect(ctr.status == "running", "status " + ctr.status)
    expect(ctr.labels.get("suite") == p, "labels %r" % ctr.labels)
    r = ctr.exec_run(["sh", "-c", "echo $FOO; exit 4"])
    expect((r.exit_code, r.output) == (4, b"bar\n"), "exec_run %r" % (r,))
    top = ctr.top()
    expect(any("sleep" in " ".join(row) for row in top["Processes"]), "top %r" % top)
    stats = ctr.stats(stream=False)
    expect(stats["memory_stats"].get("usage", 0) > 0, "stats %r" % stats)
    expect(ctr.put_archive("/", tar_of({"greeting.txt": b"hello archive\n"})), "put_archive")
    bits, stat = ctr.get_archive("/greeting.txt")
    data = b"".join(bits)
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        got = t.extractfile("greeting.txt").read()
    expect(got == b"hello archive\n" and stat["name"] == "greeting.txt", "get_archive %r" % stat)
    listed = c.containers.list(filters={"label": "suite=" + p})
    expect([x.name for x in listed] == [p + "-det"], "list %r" % listed)
    ctr.stop(timeout=1)
    res = ctr.wait()
    expect(res["StatusCode"] == 137, "wait %r" % res)
    ctr.remove()
    try:
        c.containers.get(p + "-det")
        raise AssertionError("removed container still found")
    except NotFound:
        pass

    # a user network: an address from its subnet, reached by name
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.89.7.0/24")])
    net = c.networks.create(p + "-net", driver="bridge", ipam=ipam, labels={"suite": p})
    srv = c.containers.run("bb:1", ["sleep", "300"], detach=True, name=p + "-srv", network=net.name)
    srv.reload()
    ip = srv.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    expect(ip.startswith("10.89.7."), "address " + ip)
    out = c.containers.run("bb:1", ["nslookup", p + "-srv"], remove=True, network=net.name)
    expect(ip.encode() in out, "nslookup %r" % out)
    other = c.networks.create(p + "-other")
    other.connect(srv)
    srv.reload()
    expect(sorted(srv.attrs["NetworkSettings"]["Networks"]) == sorted([net.name, other.name]), "connected")
    other.disconnect(srv)
    net.reload()
    expect([x.name for x in net.containers] == [p + "-srv"], "network containers")
    srv.remove(force=True)
    other.remove()
    net.remove()

    # a named volume shared by two containers
    vol = c.volumes.create(p + "-vol", labels={"suite": p})
    c.containers.run("bb:1", ["sh", "-c", "echo kept > /data/f"], remove=True,
                     volumes={vol.name: {"bind": "/data", "mode": "rw"}})
    out = c.containers.run("bb:1", ["cat", "/data/f"], remove=True,
                           volumes={vol.name: {"bind": "/data", "mode": "ro"}})
    expect(out == b"kept\n", "volume content %r" % out)
    expect(vol.name in [v.name for v in c.volumes.list(filters={"label": "suite=" + p})], "volume listed")
    vol.remove()

    # events in a window
    since = time.time()
    c.containers.run("bb:1", ["true"], name=p + "-ev", remove=True)
    time.sleep(1)
    actions = [
        e["Action"]
        for e in c.events(since=since, until=time.time(), decode=True,
                          filters={"container": p + "-ev"})
    ]
    for want in ("create", "start", "die", "destroy"):
        expect(want in actions, "event %s in %r" % (want, actions))

    # prunes and disk usage
    c.containers.run("bb:1", ["true"], name=p + "-stopped")
    pruned = c.containers.prune()
    expect(len(pruned["ContainersDeleted"] or []) >= 1, "container prune %r" % pruned)
    df = c.df()
    expect("LayersSize" in df and isinstance(df["Images"], list), "df")


def images(c, p, registry):
    with tempfile.TemporaryDirectory() as ctx:
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM bb:1\nCOPY note.txt /note.txt\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n")
        with open(os.path.join(ctx, "note.txt"), "w") as f:
            f.write("note\n")
        img, logs = c.images.build(path=ctx, tag=p + "-img:1", rm=True)
        text = "".join(l.get("stream", "") for l in logs)
        expect("Successfully built" in text, "build output %r" % text)
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM bb:1\nRUN false\n")
        try:
            c.images.build(path=ctx, tag=p + "-bad:1")
            raise AssertionError("a failing RUN built")
        except BuildError as e:
            expect("RUN false" in str(e) or "/bin/sh -c false" in str(e), "build error %s" % e)
    out = c.containers.run(p + "-img:1", remove=True, network_mode="none")
    expect(out == b"built\n", "built image output %r" % out)
    expect(len(img.history()) >= 3, "history")

    repo = registry + "/" + p + "/img"
    expect(img.tag(repo, "v1"), "tag")
    lines = list(c.images.push(repo, tag="v1", stream=True, decode=True))
    expect(not any("error" in l for l in lines), "push %r" % lines)
    expect(any("aux" in l for l in lines), "push aux %r" % lines)
    c.images.remove(repo + ":v1")
    pulled = c.images.pull(repo, tag="v1")
    expect(pulled.id == img.id, "pulled %s, pushed %s" % (pulled.id, img.id))
    expect(repo + ":v1" in pulled.tags, "pulled tags %r" % pulled.tags)
    try:
        c.images.pull(registry + "/" + p + "/nosuch", tag="v1")
        raise AssertionError("pulled a missing image")
    except (NotFound, APIError):
        pass

    saved = b"".join(img.save(named=True))
    c.images.remove(repo + ":v1")
    c.images.remove(p + "-img:1")
    try:
        c.images.get(p + "-img:1")
        raise AssertionError("removed image still found")
    except ImageNotFound:
        pass
    loaded = c.images.load(saved)
    expect([i.id for i in loaded] == [img.id], "loaded %r" % loaded)
    expect(c.images.get(p + "-img:1").id == img.id, "loaded tag")
    c.images.remove(p + "-img:1", force=True)


def main():
    mode, prefix = sys.argv[1], sys.argv[2]
    c = docker.from_env(timeout=300)
    expect(c.ping(), "ping")
    version = c.version()
    expect(version["ApiVersion"] == "1.41", "API version %r" % version["ApiVersion"])
    expect(c.api.api_version == "1.41", "negotiated %r" % c.api.api_version)
    if mode == "containers":
        containers(c, prefix)
    elif mode == "images":
        images(c, prefix, sys.argv[3])
    else:
        raise SystemExit("unknown mode " + mode)
    print("ok")


if __name__ == "__main__":
    main()

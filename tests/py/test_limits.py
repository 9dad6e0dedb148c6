"""Resource limits and stats through the tree with plain os.open/os.read/
os.write, on this host's cgroups, v1 or v2 (cgroups.py reads either; a
container's group is the one its status names): limits read back and applied
before start and while running, and written back unchanged; EINVAL for
malformed values with the old limits kept, EBUSY for memory below current
use, a memory hog OOM-killed and reported, a fork bomb contained by pids,
stats moving under a busy loop, exec sessions in the container's group,
cgroups removed at rm, --default-limit.

Each daemon here runs in a throwaway network namespace of its own, with its
own bridge and subnet (tests/lib/net.bash says why: a daemon rebuilds the
shared nftables table "ip bockerfs" of its namespace at start).  At the end of
the module, even after failures: every container is removed with rm force,
any init left is killed by PID (checked against its start time), the daemons
are stopped by PID, processes left in the namespaces are killed by PID and
the namespaces deleted.
"""

import errno
import os
import re
import subprocess
import time

import pytest

import cgroups
from conftest import busybox_rootfs, check_error, wait_until, write_ctl

# pids 2048: the daemon's default, podman's (engine/parse/parse.h).
DEFAULTS = "memory max\nmemory-swap default\ncpu.shares 1024\ncpus max\npids 2048\n"

pytestmark = pytest.mark.skipif(bool(cgroups.unusable_reason()), reason=cgroups.unusable_reason() or "-")


# ---- the daemon in a network namespace of its own --------------------------


@pytest.fixture(scope="module")
def daemons(daemons):
    """daemons(*args): a new daemon (conftest's daemons) on a directory and network
    namespace of its own, with its own bridge and subnet, and a busybox image
    named busybox."""
    n = [0]

    def make(*args):
        n[0] += 1
        tag = "%d%s" % (os.getpid(), "abcdefgh"[n[0] - 1])
        b = daemons("--bridge", "bktp" + tag, "--subnet", "10.%d.0.0/16" % (202 + n[0]), *args,
                    netns="bktp%s-h" % tag)
        b.import_dir(busybox_rootfs(os.path.join(b.tmp, "busybox")), "busybox")
        return b

    return make


@pytest.fixture(scope="module")
def bk(daemons):
    return daemons()


# ---- helpers --------------------------------------------------------------------


def create(b, cmd, **files):
    """A container from containers/clone with image busybox, cmd and files
    (limits=..., net=...) written before start."""
    c = b.clone()
    for name, value in [("image", "busybox"), ("cmd", cmd)] + list(files.items()):
        code, reply = write_ctl(c.p(name), value + "\n")
        assert code == 0, (name, value, errno.errorcode.get(code), reply)
    return c


def check_limits_error(b, code, c, readback, *texts):
    """The failure of a write to c's limits is in errors, in c's err and in the read-back."""
    check_error(b, code, "/containers/%s/limits" % c.id, "write", "containers/%s/err" % c.id, readback, *texts)


# ---- tests --------------------------------------------------------------------------


def test_limits_before_start_read_back_and_applied(bk):
    c = create(bk, "echo up; sleep 1000")
    assert c.read("limits") == DEFAULTS
    assert c.read("stats") == "cpu_usec 0\nmemory 0\nmemory_max 0\npids 0\noom_kills 0\n"
    assert c.limits("memory 64M\ncpu.shares 512\n") == (0, "")
    assert c.limits("cpus 0.5\npids 50\n") == (0, "")
    assert c.read("limits") == "memory 67108864\nmemory-swap default\ncpu.shares 512\ncpus 0.500\npids 50\n"
    g = cgroups.path(c)
    tag = open(os.path.join(bk.store, "cgroup-tag")).read()[:8]
    assert g.endswith("/%s/%s" % (tag, c.id)), g
    assert cgroups.absent(g), cgroups.dirs(g)
    c.ctl_ok("start")
    c.wait_log("^up$")
    assert cgroups.path(c) == g
    assert cgroups.present(g), cgroups.dirs(g)
    if cgroups.VERSION == 1:
        assert cgroups.read(g, "cpu.weight") == "512"
    assert cgroups.read(g, "cpu.quota") == "50000 100000"
    assert cgroups.read(g, "memory.limit") == "67108864"
    assert cgroups.read(g, "pids.max") == "50"
    pid = c.read("pid").strip()
    assert cgroups.proc_in(pid, g), open("/proc/%s/cgroup" % pid).read()
    for d in cgroups.dirs(g):
        assert pid in open(os.path.join(d, "cgroup.procs")).read().split(), d
    procs = cgroups.read(g, "procs")
    assert len(procs) >= 2 and all(cgroups.proc_in(p, g) for p in procs), procs


def test_live_change(bk):
    c = create(bk, "echo up; sleep 1000", limits="cpus 0.5\nmemory 64M")
    c.ctl_ok("start")
    c.wait_log("^up$")
    g = cgroups.path(c)
    assert cgroups.read(g, "cpu.quota") == "50000 100000"
    w = int(cgroups.read(g, "cpu.weight"))
    assert c.limits("cpus 0.25\nmemory 100M\npids 40\ncpu.shares 256\n") == (0, "")
    assert cgroups.read(g, "cpu.quota") == "25000 100000"
    assert cgroups.read(g, "memory.limit") == "104857600"
    assert cgroups.read(g, "pids.max") == "40"
    # A quarter of the default shares: less weight (v1: the shares themselves).
    assert int(cgroups.read(g, "cpu.weight")) < w
    if cgroups.VERSION == 1:
        assert cgroups.read(g, "cpu.weight") == "256"
    assert c.read("limits") == "memory 104857600\nmemory-swap default\ncpu.shares 256\ncpus 0.250\npids 40\n"
    assert c.limits("memory max\ncpus max\npids max\n") == (0, "")
    assert cgroups.read(g, "memory.limit") == "max"
    assert cgroups.read(g, "cpu.quota") == "max 100000"
    assert cgroups.read(g, "pids.max") == "max"
    assert c.read("state") == "running\n"


BAD = [
    ("memory -1\n", "memory '-1'"),
    ("cpus abc\n", "cpus 'abc'"),
    ("pids 0\n", "pids '0'"),
    ("swap 1G\n", "unknown key 'swap'"),
    ("memory 100M\npids 0\n", "pids '0'"),
]


@pytest.mark.parametrize("running", [False, True], ids=["created", "running"])
def test_einval_old_limits_kept(bk, running):
    c = create(bk, "echo up; sleep 1000", limits="memory 64M\ncpus 0.5\npids 50")
    want = "memory 67108864\nmemory-swap default\ncpu.shares 1024\ncpus 0.500\npids 50\n"
    if running:
        c.ctl_ok("start")
        c.wait_log("^up$")
    for text, msg in BAD:
        code, back = c.limits(text)
        assert code == errno.EINVAL, (text, errno.errorcode.get(code), back)
        check_limits_error(bk, errno.EINVAL, c, back, "limits", msg)
        assert c.read("limits") == want, text
    if running:
        assert cgroups.read(c, "memory.limit") == "67108864"
        assert cgroups.read(c, "cpu.quota") == "50000 100000"
        assert cgroups.read(c, "pids.max") == "50"


def test_memory_below_use_ebusy(bk):
    c = create(bk, "head -c 20000000 /dev/zero >/dev/shm/x && echo filled; sleep 1000")
    c.ctl_ok("start")
    c.wait_log("^filled$")
    assert c.stats()["memory"] >= 20000000, c.read("stats")
    code, back = c.limits("memory 8M\n")
    assert code == errno.EBUSY, (errno.errorcode.get(code), back)
    check_limits_error(bk, errno.EBUSY, c, back, "limits", "memory")
    assert c.read("limits") == DEFAULTS
    assert cgroups.read(c, "memory.limit") == "max"
    assert c.read("state") == "running\n"
    # Nothing was killed to make room (cgroup v2 would, for a limit below the use).
    assert cgroups.read(c, "oom_kills") == 0
    assert c.limits("memory 48M\n") == (0, "")
    assert cgroups.read(c, "memory.limit") == "50331648"
    assert c.read("state") == "running\n"


def test_memory_hog_oom_killed(bk):
    # A second process beside the hog: it goes with the container.
    c = create(bk, 'sleep 1000 & x=a; while true; do x="$x$x"; done', limits="memory 32M")
    g = cgroups.path(c)
    c.ctl_ok("start")
    assert c.read("wait") == "signal 9\n"
    assert c.read("state") == "exited\n"
    st = c.kv("status")
    assert (st["oomkilled"], st["exit"], st["signal"]) == ("1", "137", "9"), st
    assert wait_until(lambda: cgroups.absent(g), 5), cgroups.dirs(g)


def test_child_oom_killed_counted(bk):
    c = create(bk, "sh -c 'x=a; while true; do x=\"$x$x\"; done'; echo \"child=$?\"; sleep 1000", limits="memory 32M")
    c.ctl_ok("start")
    c.wait_log("^child=")
    assert "child=137" in c.read("log").splitlines(), c.read("log")
    assert c.read("state") == "running\n"
    s = c.stats()
    assert s["oom_kills"] >= 1 and s["oom_kills"] == cgroups.read(c, "oom_kills"), s


def test_fork_bomb_contained(bk):
    # The bomb in a subshell: a fork the limit refuses ends that shell (busybox sh), never
    # the container's command, which forks nothing after it.
    c = create(bk, "echo start; (b() { b | b & }; b); exec sleep 1000", limits="pids 32\ncpus 0.5")
    c.ctl_ok("start")
    c.wait_log("^start$")

    g = cgroups.path(c)
    assert wait_until(lambda: cgroups.read(g, "pids.denied") > 0), open(cgroups.file(g, "pids.denied")).read()
    for _ in range(5):
        assert cgroups.read(g, "pids.current") <= 32
        t0 = time.monotonic()
        assert c.read("state") == "running\n"
        assert time.monotonic() - t0 < 1.0
        time.sleep(0.3)
    assert c.stats()["pids"] <= 32
    t0 = time.monotonic()
    assert c.ctl("rm force")[0] == 0
    assert time.monotonic() - t0 < 10
    assert not os.path.exists(c.p("state"))
    assert cgroups.absent(g), cgroups.dirs(g)


def test_stats_move_under_busy_loop(bk):
    c = create(bk, "echo up; while :; do :; done")
    c.ctl_ok("start")
    c.wait_log("^up$")
    u1 = c.stats()["cpu_usec"]
    time.sleep(0.5)
    s = c.stats()
    assert s["cpu_usec"] - u1 >= 100000, (u1, s)
    assert s["memory"] > 0 and s["memory_max"] >= s["memory"] and s["pids"] >= 2, s
    assert s["oom_kills"] == 0, s
    # As the cgroup counts it.
    assert cgroups.read(c, "cpu.usage") >= s["cpu_usec"], s
    assert cgroups.read(c, "memory.peak") >= s["memory"], s
    assert c.ctl("stop 1")[0] == 0
    assert c.read("stats") == "cpu_usec 0\nmemory 0\nmemory_max 0\npids 0\noom_kills 0\n"


def test_cgroups_removed_after_rm(bk):
    c = create(bk, "echo up; sleep 1000", limits="pids 50")
    g = cgroups.path(c)
    c.ctl_ok("start")
    c.wait_log("^up$")
    assert cgroups.present(g), cgroups.dirs(g)
    assert c.ctl("stop 1")[0] == 0
    assert cgroups.absent(g), cgroups.dirs(g)
    c.ctl_ok("start")
    c.wait_log("^up$")
    assert cgroups.present(g), cgroups.dirs(g)
    assert c.ctl("rm force")[0] == 0
    assert cgroups.absent(g), cgroups.dirs(g)


SHARES = [2, 3, 100, 1000, 1023, 1024, 1025, 4096, 100000, 262144]


def test_limits_round_trip(bk):
    """Each value reads back as written; writing back what limits shows changes no
    cgroup file; more shares never give less weight (not hard-coded: v2's cpu.weight)."""
    c = create(bk, "echo up; sleep 1000")
    c.ctl_ok("start")
    c.wait_log("^up$")
    g = cgroups.path(c)
    weights = []
    texts = ["cpu.shares %d" % n for n in SHARES] + [
        "memory 100000001", "memory 67108864", "cpus 0.333", "cpus 0.010", "pids 77", "pids 1"]
    for kv in texts:
        key, value = kv.split()
        assert c.limits(kv + "\n") == (0, ""), kv
        shown = c.read("limits")
        assert re.search(r"^%s %s$" % (re.escape(key), re.escape(value)), shown, re.M), (kv, shown)
        files = cgroups.limit_files(g)
        assert c.limits(shown) == (0, ""), shown
        assert cgroups.limit_files(g) == files, (kv, files, cgroups.limit_files(g))
        assert c.read("limits") == shown
        if key == "cpu.shares":
            weights.append(int(cgroups.read(g, "cpu.weight")))
            if cgroups.VERSION == 1:
                assert weights[-1] == int(value)
    assert weights == sorted(weights), list(zip(SHARES, weights))
    w = dict(zip(SHARES, weights))
    assert w[2] < w[1024] < w[262144], w


def test_exec_session_in_container_group(bk):
    c = create(bk, "echo up; sleep 1000")
    c.ctl_ok("start")
    c.wait_log("^up$")
    g = cgroups.path(c)
    n = c.read("exec/clone").strip()
    code, reply = write_ctl(c.p("exec/%s/ctl" % n), "exec echo in; exec sleep 4244\n")
    assert code == 0, reply
    ns = os.readlink("/proc/%s/ns/pid" % c.read("pid").strip())

    def find():
        out = subprocess.run(["pgrep", "-f", "^sleep 4244$"], capture_output=True, text=True).stdout.split()
        return [p for p in out if os.readlink("/proc/%s/ns/pid" % p) == ns]

    assert wait_until(find), "no exec process"
    pid = find()[0]
    try:
        assert cgroups.proc_in(pid, g), (open("/proc/%s/cgroup" % pid).read(), g)
        assert pid in cgroups.read(g, "procs")
    finally:
        os.kill(int(pid), 15)
    assert c.read("exec/%s/wait" % n) == "signal 15\n"


def test_default_limit(daemons):
    b = daemons("--default-limit", "pids 100")
    c = create(b, "echo up; sleep 1000")
    assert c.read("limits") == "memory max\nmemory-swap default\ncpu.shares 1024\ncpus max\npids 100\n"
    c.ctl_ok("start")
    c.wait_log("^up$")
    assert cgroups.read(c, "pids.max") == "100"
    own = create(b, "echo up; sleep 1000", limits="pids 20")
    own.ctl_ok("start")
    assert cgroups.read(own, "pids.max") == "20"

"""Resource limits and stats through the tree with plain os.open/os.read/
os.write, on this host's cgroup v1 hierarchy (/sys/fs/cgroup/<ctrl>/bockerfs/
<ID>): limits read back and applied before start and while running, EINVAL
for malformed values with the old limits kept, the kernel's EBUSY for memory
below current use, a memory hog OOM-killed and reported, a fork bomb
contained by pids, stats moving under a busy loop, cgroups removed at rm,
--default-limit.

Each daemon here runs in a throwaway network namespace of its own, with its
own bridge and subnet (tests/lib/net.bash says why: a daemon rebuilds the
shared nftables table "ip bockerfs" of its namespace at start).  At the end of
the module, even after failures: every container is removed with rm force,
any init left is killed by PID (checked against its start time), the daemons
are stopped by PID, processes left in the namespaces are killed by PID and
the namespaces deleted.
"""

import errno
import glob
import os
import time

import pytest

from conftest import busybox_rootfs, check_error, wait_until, write_ctl

CG = "/sys/fs/cgroup"
CTRLS = ("cpu", "cpuacct", "memory", "pids", "devices")
V1_UNLIMITED = "9223372036854771712"
# pids 2048: the daemon's default, podman's (engine/limits.h).
DEFAULTS = "memory max\ncpu.shares 1024\ncpus max\npids 2048\n"

pytestmark = pytest.mark.skipif(
    not all(os.path.isdir(os.path.join(CG, c)) for c in ("cpu", "memory", "pids")),
    reason="needs the cgroup v1 cpu, memory and pids hierarchies",
)


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


def cg_path(ctrl, cid):
    """The container's group: bockerfs/<store tag>/<id> (one tag per daemon store)."""
    found = glob.glob(os.path.join(CG, ctrl, "bockerfs", "*", cid))
    return found[0] if found else os.path.join(CG, ctrl, "bockerfs", "?", cid)


def cg(ctrl, cid, name):
    with open(os.path.join(cg_path(ctrl, cid), name)) as f:
        return f.read().strip()


def cg_dirs(cid):
    return [c for c in CTRLS if os.path.isdir(cg_path(c, cid))]


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
    assert c.read("limits") == "memory 67108864\ncpu.shares 512\ncpus 0.500\npids 50\n"
    assert cg_dirs(c.id) == []
    c.ctl_ok("start")
    c.wait_log("^up$")
    assert cg_dirs(c.id) == list(CTRLS)
    assert cg("cpu", c.id, "cpu.shares") == "512"
    assert cg("cpu", c.id, "cpu.cfs_quota_us") == "50000"
    assert cg("memory", c.id, "memory.limit_in_bytes") == "67108864"
    assert cg("pids", c.id, "pids.max") == "50"
    pid = c.read("pid").strip()
    for ctrl in CTRLS:
        assert pid in cg(ctrl, c.id, "cgroup.procs").split(), ctrl


def test_live_change(bk):
    c = create(bk, "echo up; sleep 1000", limits="cpus 0.5\nmemory 64M")
    c.ctl_ok("start")
    c.wait_log("^up$")
    assert cg("cpu", c.id, "cpu.cfs_quota_us") == "50000"
    assert c.limits("cpus 0.25\nmemory 100M\npids 40\ncpu.shares 256\n") == (0, "")
    assert cg("cpu", c.id, "cpu.cfs_quota_us") == "25000"
    assert cg("memory", c.id, "memory.limit_in_bytes") == "104857600"
    assert cg("pids", c.id, "pids.max") == "40"
    assert cg("cpu", c.id, "cpu.shares") == "256"
    assert c.read("limits") == "memory 104857600\ncpu.shares 256\ncpus 0.250\npids 40\n"
    assert c.limits("memory max\ncpus max\npids max\n") == (0, "")
    assert cg("memory", c.id, "memory.limit_in_bytes") == V1_UNLIMITED
    assert cg("cpu", c.id, "cpu.cfs_quota_us") == "-1"
    assert cg("pids", c.id, "pids.max") == "max"
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
    want = "memory 67108864\ncpu.shares 1024\ncpus 0.500\npids 50\n"
    if running:
        c.ctl_ok("start")
        c.wait_log("^up$")
    for text, msg in BAD:
        code, back = c.limits(text)
        assert code == errno.EINVAL, (text, errno.errorcode.get(code), back)
        check_limits_error(bk, errno.EINVAL, c, back, "limits", msg)
        assert c.read("limits") == want, text
    if running:
        assert cg("memory", c.id, "memory.limit_in_bytes") == "67108864"
        assert cg("cpu", c.id, "cpu.cfs_quota_us") == "50000"
        assert cg("pids", c.id, "pids.max") == "50"


def test_memory_below_use_ebusy(bk):
    c = create(bk, "head -c 20000000 /dev/zero >/dev/shm/x && echo filled; sleep 1000")
    c.ctl_ok("start")
    c.wait_log("^filled$")
    assert c.stats()["memory"] >= 20000000, c.read("stats")
    code, back = c.limits("memory 8M\n")
    assert code == errno.EBUSY, (errno.errorcode.get(code), back)
    check_limits_error(bk, errno.EBUSY, c, back, "limits", "memory", "busy")
    assert c.read("limits") == DEFAULTS
    assert cg("memory", c.id, "memory.limit_in_bytes") == V1_UNLIMITED
    assert c.read("state") == "running\n"
    assert c.limits("memory 48M\n") == (0, "")
    assert cg("memory", c.id, "memory.limit_in_bytes") == "50331648"


def test_memory_hog_oom_killed(bk):
    c = create(bk, 'x=a; while true; do x="$x$x"; done', limits="memory 32M")
    c.ctl_ok("start")
    assert c.read("wait") == "signal 9\n"
    assert c.read("state") == "exited\n"
    st = c.kv("status")
    assert (st["oomkilled"], st["exit"], st["signal"]) == ("1", "137", "9"), st


def test_fork_bomb_contained(bk):
    c = create(bk, "echo start; b() { b | b & }; b; exec sleep 1000", limits="pids 32\ncpus 0.5")
    c.ctl_ok("start")
    c.wait_log("^start$")

    def hit():
        ev = dict(l.split() for l in cg("pids", c.id, "pids.events").splitlines())
        return int(ev.get("max", 0)) > 0

    assert wait_until(hit), cg("pids", c.id, "pids.events")
    for _ in range(5):
        assert int(cg("pids", c.id, "pids.current")) <= 32
        t0 = time.monotonic()
        assert c.read("state") == "running\n"
        assert time.monotonic() - t0 < 1.0
        time.sleep(0.3)
    assert c.stats()["pids"] <= 32
    t0 = time.monotonic()
    assert c.ctl("rm force")[0] == 0
    assert time.monotonic() - t0 < 10
    assert not os.path.exists(c.p("state"))
    assert cg_dirs(c.id) == []


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
    assert c.ctl("stop 1")[0] == 0
    assert c.read("stats") == "cpu_usec 0\nmemory 0\nmemory_max 0\npids 0\noom_kills 0\n"


def test_cgroups_removed_after_rm(bk):
    c = create(bk, "echo up; sleep 1000", limits="pids 50")
    c.ctl_ok("start")
    c.wait_log("^up$")
    assert cg_dirs(c.id) == list(CTRLS)
    assert c.ctl("rm force")[0] == 0
    assert cg_dirs(c.id) == []


def test_default_limit(daemons):
    b = daemons("--default-limit", "pids 100")
    c = create(b, "echo up; sleep 1000")
    assert c.read("limits") == "memory max\ncpu.shares 1024\ncpus max\npids 100\n"
    c.ctl_ok("start")
    c.wait_log("^up$")
    assert cg("pids", c.id, "pids.max") == "100"
    own = create(b, "echo up; sleep 1000", limits="pids 20")
    own.ctl_ok("start")
    assert cg("pids", own.id, "pids.max") == "20"

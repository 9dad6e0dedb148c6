"""The Python examples as tests: examples/bocker.py's functions (run, logs,
rm, init, images, ps, limits, exec, commit, and the seed's messages) and its
command line, and examples/monitor.py started as a process, printing a
container's running and exited lines as they happen.

One daemon for the module (the `bk` fixture of conftest.py) with the busybox
image (`bb`).  Every container made here is removed with `rm force` at the end
of the module, and any init that outlives it is killed by PID (checked against
its start time).
"""

import errno
import importlib.util
import os
import re
import subprocess
import sys
import threading

import pytest

from conftest import CTR_ID_RE as ID_RE, DEADLINE, IMG_ID_RE as IMG_RE, REPO, wait_until

EXAMPLES = os.path.join(REPO, "examples")


def load(name):
    spec = importlib.util.spec_from_file_location("example_" + name, os.path.join(EXAMPLES, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bocker = load("bocker")


@pytest.fixture(scope="module")
def bb(bk, bb):
    """The busybox image (conftest's bb), with bocker.ROOT on the fixture's tree."""
    bocker.ROOT = bk.mnt
    return bb


def running(cid):
    return wait_until(lambda: bocker.read("containers", cid, "state").strip() == "running")


def test_run_logs_rm(bk, bb):
    cid, code = bocker.run("busybox", "echo hello; echo oops >&2; exit 3")
    assert ID_RE.match(cid)
    assert code == 3
    assert bocker.logs(cid) == "hello\noops\n"
    assert (cid, "echo hello; echo oops >&2; exit 3") in bocker.ps()
    cid2, code2 = bocker.run(bb, "echo by id")
    assert code2 == 0 and bocker.logs(cid2) == "by id\n"
    bocker.rm(cid)
    assert not os.path.exists(bk.path("containers", cid))
    assert cid not in [c for c, _ in bocker.ps()]
    with pytest.raises(bocker.Missing, match=r"^No container named '%s' exists$" % cid):
        bocker.rm(cid)
    with pytest.raises(bocker.Missing, match=r"^No container named '%s' exists$" % cid):
        bocker.logs(cid)


def test_signal_exit_code(bk, bb):
    cid = bocker.start("busybox", "sleep 60")
    assert running(cid)
    bocker.stop(cid, 1)
    assert bocker.wait(cid) == 128 + 15
    bocker.rm(cid)


def test_init_images_rm(bk, bb, busybox):
    img = bocker.init(busybox)
    assert IMG_RE.match(img)
    assert (img, busybox) in bocker.images()
    assert bocker.images()[0] == (bb, busybox)
    bocker.rm(img)
    assert img not in [i for i, _ in bocker.images()]
    with pytest.raises(bocker.Missing, match=r"^No image named '%s' exists$" % img):
        bocker.rm(img)
    with pytest.raises(bocker.Missing, match=r"^No directory named"):
        bocker.init(os.path.join(bk.tmp, "nowhere"))


def test_errors(bk, bb):
    with pytest.raises(bocker.TreeError) as e:
        bocker.run("nope", "true")
    assert e.value.errno == errno.ENOENT
    assert str(e.value) == "error: run: no image named 'nope'"
    with pytest.raises(bocker.Missing, match=r"^No image named 'img_000000000000' exists$"):
        bocker.run("img_000000000000", "true")
    # An image in use: EBUSY, with the text of the image's err file.
    bocker.run("busybox", "true")
    with pytest.raises(bocker.TreeError) as e:
        bocker.rm(bb)
    assert e.value.errno == errno.EBUSY
    assert "used by container" in str(e.value)
    cid, _ = bocker.run("busybox", "true")
    with pytest.raises(bocker.Missing, match=r"^Container '%s' exists but is not running$" % cid):
        bocker.exec_(cid, "true")


def test_limits(bk, bb):
    before = set(os.listdir(bk.path("containers")))
    cid, code = bocker.run("busybox", "echo limited", cpu_share=256, mem_limit=64)
    assert code == 0 and bocker.logs(cid) == "limited\n"
    limits = bocker.read("containers", cid, "limits").splitlines()
    assert "cpu.shares 256" in limits
    assert "memory %d" % (64 << 20) in limits
    with pytest.raises(bocker.TreeError) as e:
        bocker.run("busybox", "true", mem_limit="lots")
    assert e.value.errno == errno.EINVAL and "memory" in str(e.value)
    # The container made for it was removed again.
    assert set(os.listdir(bk.path("containers"))) == before | {cid}


def test_cli(bk, bb):
    env = dict(os.environ, BOCKERFS=bk.mnt)
    cli = [sys.executable, os.path.join(EXAMPLES, "bocker.py")]

    def run(*args, **kw):
        return subprocess.run(cli + list(args), env=dict(env, **kw), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60)

    r = run("run", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout, r.stderr) == (0, "hi\n", "")
    r = run("ps")
    assert r.stdout.splitlines()[0] == "CONTAINER_ID\t\tCOMMAND"
    cid = r.stdout.splitlines()[-1].split("\t")[0]
    assert r.stdout.splitlines()[-1] == cid + "\t\techo hi"
    assert run("logs", cid).stdout == "hi\n"
    assert run("images").stdout.splitlines()[0] == "IMAGE_ID\t\tSOURCE"
    r = run("run", "busybox", "true", BOCKER_CPU_SHARE="300")
    assert r.returncode == 0
    new = run("ps").stdout.splitlines()[-1].split("\t")[0]
    assert "cpu.shares 300" in bocker.read("containers", new, "limits").splitlines()
    r = run("rm", cid)
    assert (r.returncode, r.stdout) == (0, "Removed: %s\n" % cid)
    r = run("rm", cid)
    assert (r.returncode, r.stdout) == (1, "No container named '%s' exists\n" % cid)
    r = run("run", "nope", "true")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "error: run: no image named 'nope'\n")


def test_exec(bk, bb):
    cid = bocker.start("busybox", "sleep 60")
    assert running(cid)
    assert os.path.isdir(bk.path("containers", cid, "exec")), "no containers/ID/exec/ in the tree"
    assert bocker.exec_(cid, "cat /etc/hostname") == (0, (cid + "\n").encode())
    assert bocker.exec_(cid, "cat", b"fed\n") == (0, b"fed\n")
    assert bocker.exec_(cid, "false")[0] == 1
    bocker.stop(cid, 0)


def test_commit(bk, bb):
    cid, _ = bocker.run("busybox", "echo changed >/marker")
    img = bocker.commit(cid, "mine:2")
    assert IMG_RE.match(img)
    cid2, code = bocker.run(img, "cat /marker")
    assert code == 0 and bocker.logs(cid2) == "changed\n"


class Lines:
    """A process's output lines, collected by a thread."""

    def __init__(self, stream):
        self.lines = []
        self.t = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.t.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, regex, timeout=DEADLINE):
        pat = re.compile(regex)
        ok = wait_until(lambda: any(pat.match(l) for l in self.lines), timeout)
        assert ok, "no line /%s/ in %r" % (regex, self.lines)


def test_monitor(bk, bb):
    mon = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "monitor.py"), bk.mnt],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = Lines(mon.stdout), Lines(mon.stderr)
        err.wait_for(r"^watching ")
        t = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z"
        cid = bocker.start("busybox", "sleep 60")
        out.wait_for(r"^%s %s running$" % (t, cid))
        bocker.stop(cid, 1)
        out.wait_for(r"^%s %s exited$" % (t, cid))
        bocker.rm(cid)
        out.wait_for(r"^%s %s removed$" % (t, cid))
        mine = [l.split()[2] for l in out.lines if l.split()[1] == cid]
        # In this order ("removing" may show between exited and removed).
        assert mine.index("running") < mine.index("exited") < mine.index("removed"), mine
        assert mine[-1] == "removed", mine
        # A container that exits on its own, without anyone touching the tree.
        cid2 = bocker.start("busybox", "sleep 0.3")
        out.wait_for(r"^%s %s exited$" % (t, cid2))
        assert mon.poll() is None, err.lines
    finally:
        mon.terminate()
        mon.wait(timeout=DEADLINE)

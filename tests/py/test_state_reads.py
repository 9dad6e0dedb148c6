"""containers/ID/state and pid are always current and never torn.

`state` is the file programs poll.  However it is served, a read must give
the state as it is now, and whole:

- right after the event that changed it (a `ctl` write returning, `wait`
  returning, inotify's IN_MODIFY on `state`), a new open reads the new state,
  however often the old one was read before;
- every read is exactly one of the states ("created\\n", "running\\n",
  "exited\\n"; a pid is digits and "\\n"), never cut to an older size or
  padded to a newer one, while readers hammer it and the state changes;
- an open file reads one consistent snapshot (docs/tree.md): 100 readers
  holding `state` open across a change each read the state they opened on,
  whole, even those that had read part of it before the change.

These are what ruled out serving state through the kernel's page cache
(docs/design.md, "Reads").  One daemon for the module (the `bk` fixture of
conftest.py, with the busybox image `bb`); the containers are removed with
`rm force` at the end.
"""

import errno
import os
import re
import threading
import time

from conftest import DEADLINE, IN_MODIFY, Ctr, Inotify, proc_start, read, write_value

STATES = {"created\n", "running\n", "exited\n"}
PID_RE = re.compile(r"^[0-9]+\n$")


def ctr(bk, name, cmd):
    """A container NAME of busybox running cmd, removed at the end of the module."""
    os.mkdir(bk.path("containers", name))
    c = Ctr(bk, name)
    write_value(c.p("image"), "busybox\n")
    write_value(c.p("cmd"), cmd + "\n")
    return c


def assert_now(c, state, pid=None, times=20):
    """state (and pid: an int, or "running" for a live one) read right away, many times."""
    for _ in range(times):
        assert c.read("state") == state + "\n"
    got = c.read("pid")
    assert PID_RE.match(got), repr(got)
    got = int(got)
    if pid == "running":
        assert got > 0 and proc_start(got) is not None, got
        assert c.status()["pid"] == str(got)
    elif pid is not None:
        assert got == pid, (got, pid)
    return got


# ---- right after the event that changed it --------------------------------


def test_ctl_start_stop_kill_restart_then_read(bk, bb):
    c = ctr(bk, "life", "sleep 1000")
    assert_now(c, "created", 0, times=200)
    c.ctl_ok("start")
    pid1 = assert_now(c, "running", "running")
    c.ctl_ok("stop 5")
    assert_now(c, "exited", 0)
    c.ctl_ok("start")
    pid2 = assert_now(c, "running", "running")
    assert pid2 != pid1
    # kill returns before the container is gone; wait returns after.
    c.ctl_ok("kill 9")
    assert c.read("wait") == "signal 9\n"
    assert_now(c, "exited", 0)
    c.ctl_ok("restart 5")
    pid3 = assert_now(c, "running", "running")
    assert pid3 not in (pid1, pid2)
    c.ctl_ok("restart 5")
    pid4 = assert_now(c, "running", "running")
    assert pid4 != pid3
    c.ctl_ok("stop 5")
    assert_now(c, "exited", 0)


def test_exit_on_its_own_then_wait_then_read(bk, bb):
    c = ctr(bk, "own", "sleep 0.3; exit 3")
    for _ in range(3):
        c.ctl_ok("start")
        assert_now(c, "running", "running", times=50)
        assert c.read("wait") == "exit 3\n"
        assert_now(c, "exited", 0)


def sendfile_read(path):
    """path through os.sendfile into a pipe, as busybox cat and shutil.copyfile read."""
    r, w = os.pipe()
    fd = os.open(path, os.O_RDONLY)
    try:
        while os.sendfile(w, fd, None, 65536) > 0:
            pass
    finally:
        os.close(fd)
        os.close(w)
    try:
        return os.read(r, 65536).decode()
    finally:
        os.close(r)


def test_sendfile_right_after_each_change(bk, bb):
    """The kernel keeps state's attributes (no GETATTR per open); sendfile reads up to the
    size it holds, so each change must drop them before ctl or wait returns."""
    c = ctr(bk, "sendfile", "sleep 1000")
    for _ in range(10):
        assert sendfile_read(c.p("state")) == c.read("state")
        c.ctl_ok("start")
        assert sendfile_read(c.p("state")) == "running\n"
        c.ctl_ok("kill 9")
        assert c.read("wait") == "signal 9\n"
        assert sendfile_read(c.p("state")) == "exited\n"
        c.ctl_ok("restart 5")
        assert sendfile_read(c.p("state")) == "running\n"
        c.ctl_ok("stop 5")
        assert sendfile_read(c.p("state")) == "exited\n"


def test_inotify_modify_then_read(bk, bb):
    """IN_MODIFY on state wakes a watcher; the read right after it shows the new state."""
    c = ctr(bk, "watched", "sleep 1000")
    for action, want in (("start", "running\n"), ("stop 5", "exited\n"), ("start", "running\n"),
                         ("kill 9", "exited\n")):
        before = c.read("state")
        errs = []
        with Inotify() as ino:
            ino.add(c.p("state"), IN_MODIFY)
            t = threading.Thread(target=lambda a: errs.append(c.ctl(a)), args=(action,))
            t.start()
            masks = [m for _, m, _ in ino.read(DEADLINE)]
            got = c.read("state")
            t.join(DEADLINE)
        assert errs and errs[0][0] == 0, (action, errs)
        assert any(m & IN_MODIFY for m in masks), "no IN_MODIFY after %r (state was %r)" % (action, before)
        assert got == want, (action, got)
        if want == "exited\n":
            c.read("wait")


# ---- never torn ------------------------------------------------------------


def check_reads(path, valid, stop, out):
    """Read path again and again until stop is set; count the reads in out["n"] and
    keep every one that is not valid (or the error that ended them) in out["bad"]."""
    try:
        while not stop.is_set():
            got = read(path)
            out["n"] += 1
            if not valid(got):
                out["bad"].append(got)
    except OSError as e:
        out["bad"].append(e)


def test_hammer_4_readers_while_the_state_changes(bk, bb):
    """4 readers of state (and 2 of pid) while a container starts, exits, stops and
    is killed for a few seconds: every read is exactly one state or one pid."""
    c = ctr(bk, "hammered", "sleep 0.1")
    stop = threading.Event()
    results = [{"n": 0, "bad": []} for _ in range(6)]
    threads = [threading.Thread(target=check_reads, args=(c.p("state"), STATES.__contains__, stop, results[i]))
               for i in range(4)]
    threads += [threading.Thread(target=check_reads, args=(c.p("pid"), PID_RE.match, stop, results[4 + i]))
                for i in range(2)]
    for t in threads:
        t.start()
    changes = 0
    try:
        end = time.monotonic() + 4
        while time.monotonic() < end:
            c.ctl_ok("start")
            # It may have exited by itself already: ESRCH.
            if changes % 3:
                code, reply = c.ctl("stop 5" if changes % 3 == 1 else "kill 9")
                assert code in (0, errno.ESRCH), (errno.errorcode.get(code), reply)
            assert c.read("wait") in ("exit 0\n", "exit 143\n", "signal 15\n", "signal 9\n")
            changes += 1
    finally:
        stop.set()
        for t in threads:
            t.join(DEADLINE)
    assert changes >= 3, changes
    assert not any(t.is_alive() for t in threads), "a reader is stuck"
    bad = [r for res in results for r in res["bad"]]
    reads = sum(res["n"] for res in results)
    assert not bad, "%d torn reads of %d (%d state changes): %r" % (len(bad), reads, 2 * changes, bad[:10])
    assert reads > 100, reads


def test_100_readers_holding_state_open(bk, bb):
    """100 files open on state across a change: each reads one whole state, the
    one it opened on; a new open reads the new state."""
    c = ctr(bk, "held", "sleep 1000")
    c.ctl_ok("start")
    assert c.read("state") == "running\n"
    fds = [os.open(c.p("state"), os.O_RDONLY) for _ in range(100)]
    try:
        # Half of them read a first byte before the change, the rest nothing.
        firsts = [os.read(fd, 1) if i % 2 else b"" for i, fd in enumerate(fds)]
        c.ctl_ok("stop 5")
        assert c.read("state") == "exited\n"
        for i, fd in enumerate(fds):
            got = firsts[i]
            while True:
                b = os.read(fd, 3)
                if not b:
                    break
                got += b
            assert got.decode() == "running\n", (i, got)
            # Read again from the start: still the snapshot of this open.
            assert os.pread(fd, 64, 0) == b"running\n", i
    finally:
        for fd in fds:
            os.close(fd)
    assert c.read("state") == "exited\n"

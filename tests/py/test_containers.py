"""Containers through the tree with plain os.open/os.read/os.write: run and the
per-open reply, clone, image/cmd/env, wait, log, the errno and text of each
failure, poll() on events and inotify (through ctypes) on state.

One daemon for the module (the `bk` fixture of conftest.py) with the busybox
image (`bb`); every container made here is removed with `rm force` at the end
of the module, and any init still alive after that is killed by PID (checked
against its start time).
"""

import errno
import os
import re
import select
import threading
import time

import pytest

from conftest import DEADLINE, IN_CREATE, IN_MODIFY, TIME_RE, CTR_ID_RE as ID_RE, Ctr, Inotify, check_error, \
    errno_of, proc_start, read, write_ctl, write_value


def inotify_wait(path, mask, trigger, timeout=DEADLINE):
    """Watch path for mask, call trigger(), and return the masks of the events
    seen within timeout."""
    with Inotify() as ino:
        ino.add(path, mask)
        trigger()
        return [m for _, m, _ in ino.read(timeout)]


# ---- tests ----------------------------------------------------------------


def test_run_reply_wait_log_status(bk, bb):
    c = bk.run("busybox echo out; echo err >&2; uname -n; exit 3")
    assert os.path.isdir(bk.path("containers", c.id))
    assert c.read("wait") == "exit 3\n"
    assert c.read("log") == "out\nerr\n%s\n" % c.id
    assert c.read("state") == "exited\n"
    st = c.status()
    assert st["state"] == "exited" and st["exit"] == "3" and st["signal"] == "0", st
    assert st["image"] == "busybox" and st["image_id"] == bb, st
    assert c.read("pid") == "0\n"
    assert "%s\t\techo out; echo err >&2; uname -n; exit 3\n" % c.id in read(bk.path("containers", "index"))
    # The reply is read once per command; a second read gives EOF.
    fd = os.open(bk.path("containers", "run"), os.O_RDWR)
    try:
        os.write(fd, b"busybox true\n")
        first = os.read(fd, 100).decode()
        assert ID_RE.match(first.strip()), first
        assert os.read(fd, 100) == b""
    finally:
        os.close(fd)


def test_wait_blocks_until_exit_and_signal(bk, bb):
    c = bk.run("busybox echo ready; sleep 100")
    c.wait_log("^ready$")
    results = []
    readers = [threading.Thread(target=lambda: results.append(c.read("wait"))) for _ in range(10)]
    for t in readers:
        t.start()
    time.sleep(0.3)
    assert results == [] and c.read("state") == "running\n"
    t0 = time.monotonic()
    assert c.ctl("kill TERM") == (0, "")
    for t in readers:
        t.join(DEADLINE)
        assert not t.is_alive(), "a wait reader still blocks"
    assert results == ["signal 15\n"] * 10
    assert time.monotonic() - t0 < 2
    assert c.status()["exit"] == "143"


def test_clone_image_cmd_env_start(bk, bb):
    c = bk.clone()
    assert c.read("state") == "created\n"
    assert c.status()["exit"] == "-"
    write_value(c.p("image"), "busybox\n")
    write_value(c.p("cmd"), 'echo "$A $B $HOSTNAME"; exit 4\n')
    write_value(c.p("env"), "A=1\n")
    write_value(c.p("env"), "B=2\n", append=True)
    assert c.read("env") == "A=1\nB=2\n"
    assert c.ctl("start") == (0, "")
    assert c.read("wait") == "exit 4\n"
    assert c.read("log") == "1 2 %s\n" % c.id


def test_run_unknown_image_enoent(bk, bb):
    before = sorted(os.listdir(bk.path("containers")))
    code, reply = write_ctl(bk.path("containers", "run"), "nope:1 echo hi\n")
    assert code == errno.ENOENT, errno.errorcode.get(code)
    check_error(bk, errno.ENOENT, "/containers/run", "write", "containers/err", reply, "no image named 'nope:1'")
    assert sorted(os.listdir(bk.path("containers"))) == before


def test_image_value_errors(bk, bb):
    c = bk.clone()
    with pytest.raises(OSError) as e:
        write_value(c.p("image"), "nope\n")
    assert e.value.errno == errno.ENOENT
    check_error(bk, errno.ENOENT, "/containers/%s/image" % c.id, "write", "containers/%s/err" % c.id, None,
                "no image named 'nope'")
    write_value(c.p("image"), "busybox\n")
    write_value(c.p("cmd"), "sleep 100\n")
    assert c.ctl("start") == (0, "")
    for name in ("image", "cmd", "env"):
        with pytest.raises(OSError) as e:
            write_value(c.p(name), "busybox\n")
        assert e.value.errno == errno.EBUSY, name
        check_error(bk, errno.EBUSY, "/containers/%s/%s" % (c.id, name), "write", "containers/%s/err" % c.id, None,
                    "has been started: %s cannot change" % name)
    assert c.read("cmd") == "sleep 100\n"
    assert c.ctl("kill")[0] == 0


def test_ctl_errors(bk, bb):
    c = bk.run("busybox sleep 100")
    code, reply = c.ctl("start")
    assert code == errno.EBUSY
    check_error(bk, errno.EBUSY, "/containers/%s/ctl" % c.id, "write", "containers/%s/err" % c.id, reply,
                "%s is already running" % c.id)
    code, reply = c.ctl("frob now")
    assert code == errno.EINVAL
    check_error(bk, errno.EINVAL, "/containers/%s/ctl" % c.id, "write", "containers/%s/err" % c.id, reply,
                "unknown command 'frob'")
    assert c.ctl("kill")[0] == 0
    assert c.read("wait") == "signal 9\n"
    for verb in ("stop", "kill", "kill HUP", "stop 3"):
        code, reply = c.ctl(verb)
        assert code == errno.ESRCH, (verb, errno.errorcode.get(code))
        check_error(bk, errno.ESRCH, "/containers/%s/ctl" % c.id, "write", "containers/%s/err" % c.id,
                    reply, "%s is not running" % c.id)


def test_names_and_rmdir(bk, bb):
    cdir = bk.path("containers")
    for bad in ("a b", "x" * 65, ".x", "_x", "a*b"):
        assert errno_of(os.mkdir, os.path.join(cdir, bad)) == errno.EINVAL, bad
        assert "bad name '%s'" % bad in read(bk.path("containers", "err"))
    os.mkdir(os.path.join(cdir, "py-named"))
    assert errno_of(os.mkdir, os.path.join(cdir, "py-named")) == errno.EEXIST
    c = Ctr(bk, "py-named")
    assert c.read("state") == "created\n"
    write_value(c.p("image"), "busybox\n")
    write_value(c.p("cmd"), "sleep 100\n")
    assert c.ctl("start") == (0, "")
    pid = int(c.read("pid"))
    assert pid > 0
    assert errno_of(os.rmdir, os.path.join(cdir, "py-named")) == errno.EBUSY
    check_error(bk, errno.EBUSY, "/containers/py-named", "rmdir", "containers/py-named/err", None,
                "py-named is running")
    assert c.read("state") == "running\n"
    assert errno_of(os.rmdir, bk.path("images", bb)) == errno.EBUSY
    assert c.ctl("rm force") == (0, "")
    assert errno_of(os.stat, os.path.join(cdir, "py-named")) == errno.ENOENT
    assert errno_of(os.rmdir, os.path.join(cdir, "py-named")) == errno.ENOENT
    assert errno_of(os.rmdir, os.path.join(cdir, "ps_000000000000")) == errno.ENOENT
    end = time.monotonic() + DEADLINE
    while proc_start(pid) is not None:
        assert time.monotonic() < end, "init %d still alive after rm force" % pid
        time.sleep(0.05)


def test_command_not_found(bk, bb):
    c = bk.run("busybox nope-cmd")
    assert c.read("wait") == "exit 127\n"
    assert "nope-cmd: not found" in c.read("log")
    plain = bk.mkdtemp("plain")
    with open(os.path.join(plain, "f"), "w") as f:
        f.write("x")
    bk.import_dir(plain, "plain-py")
    c = bk.clone()
    write_value(c.p("image"), "plain-py\n")
    code, reply = c.ctl("start")
    assert code == errno.EINVAL, errno.errorcode.get(code)
    check_error(bk, errno.EINVAL, "/containers/%s/ctl" % c.id, "write", "containers/%s/err" % c.id, reply,
                "no command")
    assert c.read("state") == "created\n"


def test_events_poll_wakes(bk, bb):
    fd = os.open(bk.path("events"), os.O_RDONLY)
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(0) == [], "events readable before any event"
        box = {}
        runner = threading.Timer(0.3, lambda: box.setdefault("c", bk.run("busybox exit 6")))
        runner.start()
        t0 = time.monotonic()
        got = p.poll(DEADLINE * 1000)
        assert got and got[0][1] & select.POLLIN, got
        assert time.monotonic() - t0 >= 0.2
        text = b""
        end = time.monotonic() + DEADLINE
        while b" exit " not in text:
            assert time.monotonic() < end, text
            if p.poll(DEADLINE * 1000):
                text += os.read(fd, 4096)
        runner.join(DEADLINE)
        c = box["c"]
        lines = [re.sub(r"^%s " % TIME_RE, "", l) for l in text.decode().splitlines()]
        assert lines[0] == "container %s create" % c.id, lines
        assert re.match(r"^container %s start pid=\d+$" % c.id, lines[1]), lines
        assert lines[2] == "container %s exit code=6" % c.id, lines
    finally:
        os.close(fd)


def test_events_keep_each_containers_order_under_load(bk, bb):
    """create, start, exit, remove of each container, in that order, whichever thread
    made each change: containers that exit at once race their start's own report."""
    fd = os.open(bk.path("events"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        ids = []
        lock = threading.Lock()

        def worker(n):
            for i in range(n):
                c = bk.run("busybox exit %d" % (i % 5))
                c.ctl_ok("rm force")
                with lock:
                    ids.append(c.id)

        threads = [threading.Thread(target=worker, args=(8,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE * 4)
        assert len(ids) == 32, ids
        text = b""
        end = time.monotonic() + DEADLINE
        while text.count(b" remove") < 32:
            assert time.monotonic() < end, text
            try:
                text += os.read(fd, 65536)
            except BlockingIOError:
                time.sleep(0.02)
        seen = {}
        for line in text.decode().splitlines():
            _, kind, cid, action = line.split(" ")[:4]
            if kind == "container" and cid in ids:
                seen.setdefault(cid, []).append(action)
        for cid in ids:
            assert seen.get(cid) == ["create", "start", "exit", "remove"], (cid, seen.get(cid))
    finally:
        os.close(fd)


def test_inotify_state_modify_on_own_exit(bk, bb):
    c = bk.run("busybox sleep 0.5")
    masks = inotify_wait(c.p("state"), IN_MODIFY, lambda: None)
    assert masks and masks[0] & IN_MODIFY, masks
    assert c.read("state") == "exited\n"
    assert c.read("wait") == "exit 0\n"


def test_inotify_create_on_run(bk, bb):
    box = {}
    masks = inotify_wait(bk.path("containers"), IN_CREATE, lambda: box.setdefault("c", bk.run("busybox true")))
    assert masks and masks[0] & IN_CREATE, masks


def test_log_size_follows(bk, bb):
    c = bk.run("busybox i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo line$i; sleep 0.05; done")
    c.wait_log("^line3$")
    s1 = os.stat(c.p("log")).st_size
    assert s1 > 0
    assert c.read("wait") == "exit 0\n"
    s2 = os.stat(c.p("log")).st_size
    assert s2 > s1
    assert c.read("log") == "".join("line%d\n" % i for i in range(1, 31))
    assert s2 == len(c.read("log"))


def test_zz_sigterm_right_after_a_burst_of_runs_exits_clean(bk, bb):
    """SIGTERM while the notifier still announces a burst of changes: exit status 0, the
    tree and the store unmounted.  The toucher's operation in flight on the mount used to
    wait for the ended FUSE loop forever, and the daemon left "exiting without cleanup"
    with its store mounted (2 times in 3 here).  Runs last: it restarts the daemon."""
    from conftest import is_mounted

    for rnd in range(3):
        errors = []

        def burst():
            try:
                for _ in range(10):
                    bk.run("busybox true")
            except AssertionError as e:
                errors.append(e)

        threads = [threading.Thread(target=burst) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE * 3)
        assert not errors, errors
        assert bk.stop() == 0, bk.log_text()
        assert "exiting without cleanup" not in bk.log_text(), bk.log_text()
        assert not is_mounted(bk.mnt) and not is_mounted(bk.store), rnd
        bk.start()

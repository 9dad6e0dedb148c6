"""Containers through the tree with plain os.open/os.read/os.write: run and the
per-open reply, clone, image/cmd/env, wait, log, the errno and text of each
failure, poll() on events and inotify (through ctypes) on state.

One daemon for the module (the `bk` fixture of conftest.py); every container
made here is removed with `rm force` at the end of the module, and any init
still alive after that is killed by PID (checked against its start time).
"""

import ctypes
import errno
import json
import os
import re
import select
import struct
import threading
import time

import pytest

from conftest import proc_start, read

TIME_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"
ID_RE = re.compile(r"^ps_[0-9a-f]{12}$")
DEADLINE = 10


# ---- helpers --------------------------------------------------------------


def write_ctl(path, data):
    """One write(2) to path opened O_RDWR, then read() the reply on the same fd.

    Returns (errno or 0, reply)."""
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            os.write(fd, data.encode())
            code = 0
        except OSError as e:
            code = e.errno
        return code, os.read(fd, 65536).decode()
    finally:
        os.close(fd)


def write_value(path, data, append=False):
    """Write a value file (image, cmd, env) the way `echo >` / `echo >>` does."""
    flags = os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def errno_of(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return 0


class Ctr:
    """Paths of one container."""

    def __init__(self, bk, cid):
        self.bk = bk
        self.id = cid

    def p(self, name):
        return self.bk.path("containers", self.id, name)

    def read(self, name):
        return read(self.p(name))

    def status(self):
        return dict(l.split(" ", 1) for l in self.read("status").splitlines())

    def ctl(self, line):
        return write_ctl(self.p("ctl"), line + "\n")


def check_error(bk, code, tree_path, op, err_file, readback, *texts):
    """The failure is in errors ("TIME PATH OP ERRNAME: msg"), in err_file
    ("TIME OP: msg") and, unless readback is None, in the read-back."""
    name = errno.errorcode[code]
    # OP is the file operation ("write") or, in older builds, the command's name.
    ops = op if op in ("mkdir", "rmdir") else "(?:write|%s)" % op
    pat = re.compile(r"^%s %s %s %s: (.+)$" % (TIME_RE, re.escape(tree_path), ops, name))
    lines = [l for l in read(bk.path("errors")).splitlines() if pat.match(l)]
    assert lines, "no '%s %s %s' line in errors:\n%s" % (tree_path, op, name, read(bk.path("errors")))
    msg = pat.match(lines[-1]).group(2)
    last = read(bk.path(err_file)).strip()
    assert re.match(r"^%s \S+: .+$" % TIME_RE, last), last
    for t in texts:
        assert t in msg, (t, msg)
        assert t in last, (t, last)
    if readback is not None:
        assert readback.startswith("error: "), repr(readback)
        for t in texts:
            assert t in readback, (t, readback)


def inotify_wait(path, mask, trigger, timeout=DEADLINE):
    """Watch path for mask (inotify through ctypes), call trigger(), and
    return the masks of the events seen within timeout."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    try:
        wd = libc.inotify_add_watch(fd, path.encode(), mask)
        assert wd >= 0, os.strerror(ctypes.get_errno())
        trigger()
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            return []
        buf = os.read(fd, 4096)
        masks, off = [], 0
        while off < len(buf):
            _, m, _, ln = struct.unpack_from("iIII", buf, off)
            masks.append(m)
            off += 16 + ln
        return masks
    finally:
        os.close(fd)


IN_MODIFY = 0x2
IN_CREATE = 0x100


# ---- fixtures -------------------------------------------------------------


@pytest.fixture(scope="module")
def bb(bk, busybox):
    """The busybox image, named busybox; removes every container at the end."""
    image = bk.import_dir(busybox, "busybox")
    try:
        yield image
    finally:
        cdir = bk.path("containers")
        try:
            names = [n for n in os.listdir(cdir) if os.path.isdir(os.path.join(cdir, n))]
        except OSError:
            names = []
        for n in names:
            try:
                write_ctl(os.path.join(cdir, n, "ctl"), "rm force\n")
            except OSError:
                pass
        sdir = os.path.join(bk.store, "containers")
        for n in os.listdir(sdir) if os.path.isdir(sdir) else []:
            try:
                with open(os.path.join(sdir, n, "container.json")) as f:
                    c = json.load(f)
            except (OSError, ValueError):
                continue
            pid, start = c.get("pid", 0), str(c.get("pid_start", 0))
            if pid and proc_start(pid) == start:
                os.kill(pid, 9)
        # Any init still holding a file under the fixture's directory.
        for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if not f.read().startswith(b"bockerfs-init"):
                        continue
                fds = os.listdir("/proc/%d/fd" % pid)
                if any(os.readlink("/proc/%d/fd/%s" % (pid, n)).startswith(bk.tmp + "/") for n in fds):
                    os.kill(pid, 9)
            except OSError:
                pass


def run(bk, line):
    """containers/run: write the line, read the id on the same open file."""
    code, reply = write_ctl(bk.path("containers", "run"), line + "\n")
    assert code == 0, (errno.errorcode.get(code), reply)
    cid = reply.strip()
    assert ID_RE.match(cid) and reply.endswith("\n"), repr(reply)
    return Ctr(bk, cid)


def clone(bk):
    cid = read(bk.path("containers", "clone")).strip()
    assert ID_RE.match(cid), cid
    return Ctr(bk, cid)


def wait_log(c, regex, timeout=DEADLINE):
    end = time.monotonic() + timeout
    while not re.search(regex, c.read("log"), re.M):
        assert time.monotonic() < end, "no /%s/ in the log of %s: %r" % (regex, c.id, c.read("log"))
        time.sleep(0.05)


# ---- tests ----------------------------------------------------------------


def test_run_reply_wait_log_status(bk, bb):
    c = run(bk, "busybox echo out; echo err >&2; uname -n; exit 3")
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
    c = run(bk, "busybox echo ready; sleep 100")
    wait_log(c, "^ready$")
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
    c = clone(bk)
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
    check_error(bk, errno.ENOENT, "/containers/run", "run", "containers/err", reply, "no image named 'nope:1'")
    assert sorted(os.listdir(bk.path("containers"))) == before


def test_image_value_errors(bk, bb):
    c = clone(bk)
    with pytest.raises(OSError) as e:
        write_value(c.p("image"), "nope\n")
    assert e.value.errno == errno.ENOENT
    check_error(bk, errno.ENOENT, "/containers/%s/image" % c.id, "image", "containers/%s/err" % c.id, None,
                "no image named 'nope'")
    write_value(c.p("image"), "busybox\n")
    write_value(c.p("cmd"), "sleep 100\n")
    assert c.ctl("start") == (0, "")
    for name in ("image", "cmd", "env"):
        with pytest.raises(OSError) as e:
            write_value(c.p(name), "busybox\n")
        assert e.value.errno == errno.EBUSY, name
        check_error(bk, errno.EBUSY, "/containers/%s/%s" % (c.id, name), name, "containers/%s/err" % c.id, None,
                    "has been started: %s cannot change" % name)
    assert c.read("cmd") == "sleep 100\n"
    assert c.ctl("kill")[0] == 0


def test_ctl_errors(bk, bb):
    c = run(bk, "busybox sleep 100")
    code, reply = c.ctl("start")
    assert code == errno.EBUSY
    check_error(bk, errno.EBUSY, "/containers/%s/ctl" % c.id, "start", "containers/%s/err" % c.id, reply,
                "%s is already running" % c.id)
    code, reply = c.ctl("frob now")
    assert code == errno.EINVAL
    check_error(bk, errno.EINVAL, "/containers/%s/ctl" % c.id, "frob", "containers/%s/err" % c.id, reply,
                "unknown command 'frob'")
    assert c.ctl("kill")[0] == 0
    assert c.read("wait") == "signal 9\n"
    for verb in ("stop", "kill", "kill HUP", "stop 3"):
        code, reply = c.ctl(verb)
        assert code == errno.ESRCH, (verb, errno.errorcode.get(code))
        check_error(bk, errno.ESRCH, "/containers/%s/ctl" % c.id, verb.split()[0], "containers/%s/err" % c.id,
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
    c = run(bk, "busybox nope-cmd")
    assert c.read("wait") == "exit 127\n"
    assert "nope-cmd: not found" in c.read("log")
    plain = bk.mkdtemp("plain")
    with open(os.path.join(plain, "f"), "w") as f:
        f.write("x")
    bk.import_dir(plain, "plain-py")
    c = clone(bk)
    write_value(c.p("image"), "plain-py\n")
    code, reply = c.ctl("start")
    assert code == errno.EINVAL, errno.errorcode.get(code)
    check_error(bk, errno.EINVAL, "/containers/%s/ctl" % c.id, "start", "containers/%s/err" % c.id, reply,
                "no command")
    assert c.read("state") == "created\n"


def test_events_poll_wakes(bk, bb):
    fd = os.open(bk.path("events"), os.O_RDONLY)
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        assert p.poll(0) == [], "events readable before any event"
        box = {}
        runner = threading.Timer(0.3, lambda: box.setdefault("c", run(bk, "busybox exit 6")))
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


def test_inotify_state_modify_on_own_exit(bk, bb):
    c = run(bk, "busybox sleep 0.5")
    masks = inotify_wait(c.p("state"), IN_MODIFY, lambda: None)
    assert masks and masks[0] & IN_MODIFY, masks
    assert c.read("state") == "exited\n"
    assert c.read("wait") == "exit 0\n"


def test_inotify_create_on_run(bk, bb):
    box = {}
    masks = inotify_wait(bk.path("containers"), IN_CREATE, lambda: box.setdefault("c", run(bk, "busybox true")))
    assert masks and masks[0] & IN_CREATE, masks


def test_log_size_follows(bk, bb):
    c = run(bk, "busybox i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo line$i; sleep 0.05; done")
    wait_log(c, "^line3$")
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
                    run(bk, "busybox true")
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

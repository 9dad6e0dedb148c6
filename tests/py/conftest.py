"""pytest fixture for the bockerfs end-to-end tests: the Python side of
tests/lib/fixture.bash, and the helpers the test modules share.

`daemons` (module scope) starts daemons: each in the foreground on a private
directory /var/tmp/bkt<pid>-XXXXXX (--root DIR/root, mount DIR/mnt,
--storage-size 1G), in a network namespace of its own when asked (for bridge
networking: tests/lib/net.bash says why), waiting for the mount with a
deadline and failing at once if the daemon exits.  `bk` is one such daemon,
`busybox` a busybox root file system in its directory
(scripts/busybox-rootfs.sh), `bb` that rootfs imported as the image busybox.

Teardown is the bats fixture's own, run through bash (fixture_bash), so that
both suites clean up one way: every daemon started here is recorded in
DIR/bk-pids as bk_track records it, and at the end of the module, even after
failures, ct_cleanup removes every container (rm force, then any init left,
by PID and start time), bk_stop stops the daemons by PID (SIGTERM, then
SIGKILL), unmounts whatever is mounted under DIR, detaches the loop devices
of files under it, removes the cgroups of its stores and removes it
(BK_TEST_KEEP=1 keeps it), and net_cleanup kills what is left in the network
namespace (by PID) and deletes it.  A failed test's report carries the
daemon's log.  BOCKERFS_BIN names the daemon (default: build/bockerfs).
"""

import ctypes
import errno
import os
import re
import select
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(REPO, "tests", "lib")
sys.path.insert(0, LIB)

import bkio  # noqa: E402  (tests/lib/bkio.py)

BIN = os.environ.get("BOCKERFS_BIN") or os.path.join(REPO, "build", "bockerfs")
DEADLINE = float(os.environ.get("BK_DEADLINE", "10"))
TIME_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"
CTR_ID_RE = re.compile(r"^ps_[0-9a-f]{12}$")
IMG_ID_RE = re.compile(r"^img_[0-9a-f]{12}$")


# ---- the bats fixture, from Python -------------------------------------------


def fixture_bash(script, *args, libs=("fixture", "containers", "net"), sets=None, capture=False):
    """Run script (args as $1...) in bash with tests/lib/LIB.bash of each of libs
    sourced, then the shell variables in sets ({name: value}: BK_TMP, BK_MNT...)
    set.  Returns the CompletedProcess; its stderr goes to the test's (its
    stdout too unless capture)."""
    prelude = "".join('source "%s/%s.bash" || exit 1; ' % (LIB, lib) for lib in libs)
    prelude += "".join("%s=%s; " % (k, shlex.quote(v)) for k, v in (sets or {}).items())
    return subprocess.run(
        ["bash", "-c", prelude + script, "bash", *args],
        env=dict(os.environ, BK_PY=sys.executable, BOCKERFS_BIN=BIN),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else None,
        text=True,
    )


def busybox_rootfs(path):
    """A minimal busybox root file system at path (scripts/busybox-rootfs.sh, as the bats
    fixture's bk_busybox_rootfs); returns path."""
    subprocess.run([os.path.join(REPO, "scripts", "busybox-rootfs.sh"), path], check=True)
    return path


# ---- processes, mounts, files -----------------------------------------------


def proc_alive(pid):
    """The process exists and is not a zombie (bk_alive)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st.rsplit(")", 1)[1].split()[0] != "Z"


def proc_start(pid):
    """The process's start time (clock ticks after boot), None if it is gone (bk_proc_start)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def is_mounted(path):
    """path is a mount point (from mountinfo, so it works on a dead FUSE mount)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # mountinfo escapes space, tab, newline and backslash as \ooo.
            mnt = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if mnt == path:
                return True
    return False


def read(path):
    """A file's whole content; strict UTF-8, so a file that is not text fails the test."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                return b"".join(chunks).decode("utf-8")
            chunks.append(b)
    finally:
        os.close(fd)


def wait_until(cond, timeout=DEADLINE, step=0.05):
    """Call cond until it returns something true; False at the deadline."""
    end = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


def write_ctl(path, data):
    """One write(2) of data to path opened O_RDWR, then a read(2) of the reply on
    the same fd (bkio.write_errno): (0 or the errno of the open or the write, reply)."""
    result, reply = bkio.write_errno(path, data)
    assert not result.startswith("SHORT"), (path, result, reply)
    return (0 if result == "OK" else getattr(errno, result)), reply


def write_value(path, data, append=False):
    """Write a value file (image, cmd, env...) the way `echo >` / `echo >>` does."""
    fd = os.open(path, os.O_WRONLY | (os.O_APPEND if append else os.O_TRUNC))
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def errno_of(fn, *args):
    """0 or the errno of fn(*args) (a file os.open opened is closed again)."""
    try:
        r = fn(*args)
        if isinstance(r, int) and fn is os.open:
            os.close(r)
    except OSError as e:
        return e.errno
    return 0


def check_error(bk, code, tree_path, op, err_file, readback, *texts):
    """A failure is recorded in the three places the API names, as bk_check_error
    checks it for bats: the last line of `errors` for tree_path is "TIME TREE_PATH
    OP ERRNAME: message" (op: a regex, "write", "open|write"...), err_file (relative
    to the mount; None for files without one) is "TIME OP: message", and readback
    (None: not read) is "error: message\\n"; each message contains every text.
    code is an errno number or name.  Every place is checked and every miss reported."""
    name = code if isinstance(code, str) else errno.errorcode[code]
    problems = []
    errors = read(bk.path("errors"))
    pat = re.compile(r"^%s %s (?:%s) %s: (.+)$" % (TIME_RE, re.escape(tree_path), op, name))
    lines = [l for l in errors.splitlines() if pat.match(l)]
    if not lines:
        problems.append("no 'TIME %s %s %s: ...' line in errors:\n%s" % (tree_path, op, name, errors[-3000:]))
    else:
        msg = pat.match(lines[-1]).group(2)
        problems += ["errors lacks %r: %r" % (t, lines[-1]) for t in texts if t not in msg]
    if err_file is not None:
        last = read(bk.path(err_file)).strip()
        if not re.match(r"^%s (?:%s): .+$" % (TIME_RE, op), last):
            problems.append("%s is not 'TIME %s: message': %r" % (err_file, op, last))
        problems += ["%s lacks %r: %r" % (err_file, t, last) for t in texts if t not in last]
    if readback is not None:
        if not (readback.startswith("error: ") and readback.endswith("\n") and len(readback) > 8):
            problems.append("read-back is not 'error: message\\n': %r" % readback)
        problems += ["read-back lacks %r: %r" % (t, readback) for t in texts if t not in readback]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# ---- inotify -------------------------------------------------------------------

IN_MODIFY = 0x2
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_ISDIR = 0x40000000


class Inotify:
    """inotify through ctypes: watches, and the events they see."""

    EVENT = struct.Struct("iIII")

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def add(self, path, mask):
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch %s" % path)
        return wd

    def read(self, timeout):
        """The events of one read(2) within timeout, [(wd, mask, name)]; [] if none came."""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return []
        buf = os.read(self.fd, 65536)
        events, off = [], 0
        while off + self.EVENT.size <= len(buf):
            wd, mask, _, n = self.EVENT.unpack_from(buf, off)
            name = buf[off + self.EVENT.size : off + self.EVENT.size + n].rstrip(b"\0").decode()
            off += self.EVENT.size + n
            events.append((wd, mask, name))
        return events

    def wait_for(self, want, timeout=DEADLINE):
        """Read events until every (wd, mask, name) in want was seen; returns the
        events seen, raising AssertionError at the deadline."""
        want, seen = set(want), []
        end = time.monotonic() + timeout
        while want:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("inotify: missing %r; saw %r" % (sorted(want), seen))
            for ev in self.read(left):
                seen.append(ev)
                want.discard(ev)
        return seen

    def close(self):
        os.close(self.fd)


# ---- the daemon and its tree -----------------------------------------------------


class Ctr:
    """One container's files (containers/ID/...)."""

    def __init__(self, bk, cid):
        self.bk = bk
        self.id = cid

    def p(self, name):
        return self.bk.path("containers", self.id, name)

    def read(self, name):
        return read(self.p(name))

    def kv(self, name):
        """A file of "KEY VALUE" lines (status, stats) as a dict."""
        return dict(l.split(" ", 1) for l in self.read(name).splitlines())

    def status(self):
        return self.kv("status")

    def stats(self):
        return {k: int(v) for k, v in self.kv("stats").items()}

    def ctl(self, line):
        """One command on ctl: (0 or the errno, reply)."""
        return write_ctl(self.p("ctl"), line + "\n")

    def ctl_ok(self, line):
        """One command on ctl, which must succeed."""
        code, reply = self.ctl(line)
        assert code == 0, (self.id, line, errno.errorcode.get(code), reply)

    def limits(self, text):
        """One write of text to limits: (0 or the errno, read-back)."""
        return write_ctl(self.p("limits"), text)

    def wait_log(self, regex, timeout=DEADLINE):
        rx = re.compile(regex, re.M)
        assert wait_until(lambda: rx.search(self.read("log")), timeout), "no /%s/ in the log of %s: %r" % (
            regex, self.id, self.read("log")[:2000])


class Bockerfs:
    """One daemon on one private directory, in the network namespace netns when
    given (made by ns_add); see the module docstring."""

    def __init__(self, tmp, storage_size="1G", netns=None):
        self.tmp = tmp
        self.root = os.path.join(tmp, "root")
        self.mnt = os.path.join(tmp, "mnt")
        self.log = os.path.join(tmp, "bockerfs.log")
        self.storage_size = storage_size
        self.netns = netns
        self.proc = None
        self._root_fs = None
        self.procs = []  # every daemon started, reaped after cleanup
        os.makedirs(self.root, exist_ok=True)
        os.makedirs(self.mnt, exist_ok=True)
        self._dirs = 0

    # ---- daemon lifecycle -------------------------------------------------

    @property
    def store(self):
        return os.path.join(self.root, "store") if self._root_fs != "btrfs" else self.root

    def _bash_vars(self):
        # The namespaces made for this daemon are listed beside its directory, which
        # bk_stop removes before net_cleanup reads the list.
        return {"BK_TMP": self.tmp, "BK_ROOT": self.root, "BK_MNT": self.mnt, "NET_MADE_FILE": self.tmp + ".netns"}

    def ns_add(self):
        """Make the network namespace netns (net_ns_add: checked to be a fresh one)."""
        r = fixture_bash('net_ns_add "$1"', self.netns, sets=self._bash_vars())
        if r.returncode != 0:
            raise RuntimeError("cannot make network namespace %s" % self.netns)

    def track(self, kind, pid):
        """Record a process for teardown in DIR/bk-pids (bk_track): daemon or helper."""
        with open(os.path.join(self.tmp, "bk-pids"), "a") as f:
            f.write("%s %d %s\n" % (kind, pid, proc_start(pid)))

    def start(self, *args):
        out = subprocess.run(["stat", "-f", "-c", "%T", self.root], capture_output=True, text=True)
        self._root_fs = out.stdout.strip()
        if not os.access(BIN, os.X_OK):
            raise RuntimeError("no daemon at %r (run make)" % BIN)
        cmd = [os.path.realpath(BIN), "-f", "--root", self.root, "--storage-size", self.storage_size, *args, self.mnt]
        if self.netns:
            # nsenter execs the daemon: the PID is the daemon's.
            cmd = ["nsenter", "--net=/run/netns/" + self.netns] + cmd
        with open(self.log, "ab") as logf:
            logf.write(("=== %s start: %s\n" % (time.strftime("%FT%TZ", time.gmtime()), " ".join(cmd))).encode())
            logf.flush()
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, close_fds=True
            )
        self.procs.append(self.proc)
        self.track("daemon", self.proc.pid)
        self.wait_mount()
        if self.netns:
            want = os.stat("/run/netns/" + self.netns).st_ino
            got = os.stat("/proc/%d/ns/net" % self.proc.pid).st_ino
            assert got == want, "daemon %d is not in netns %s" % (self.proc.pid, self.netns)
        return self

    def wait_mount(self):
        end = time.monotonic() + DEADLINE
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError(
                    "daemon exited (status %s) before the mount was ready\n%s" % (rc, self.log_text())
                )
            if is_mounted(self.mnt):
                try:
                    with open(self.path("version")) as f:
                        f.read()
                    return
                except OSError:
                    pass
            if time.monotonic() >= end:
                raise RuntimeError("mount not ready at %s after %ss\n%s" % (self.mnt, DEADLINE, self.log_text()))
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM):
        """Signal the daemon and wait for it; returns its exit status."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            raise AssertionError("daemon %d still running %ss after signal %d" % (self.proc.pid, DEADLINE, sig))

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=DEADLINE)

    def restart(self):
        self.stop()
        return self.start()

    def rm_all(self):
        """rm force every container (ct_rm_all), then SIGKILL any init the store still
        records (ct_kill_inits, by PID and start time); the daemon keeps running."""
        fixture_bash('ct_rm_all "$BK_MNT"; ct_kill_inits "$1"', self.store, sets=self._bash_vars())

    def cleanup(self):
        """The bats fixture's teardown (see the module docstring): ct_cleanup, bk_stop,
        and net_cleanup when the daemon had a namespace."""
        fixture_bash("ct_cleanup; bk_stop" + ("; net_cleanup" if self.netns else ""), sets=self._bash_vars())
        for p in self.procs:
            try:
                p.wait(timeout=1)
            except subprocess.TimeoutExpired:
                print("teardown: daemon %d is still running" % p.pid, file=sys.stderr)

    def log_text(self, tail=300):
        try:
            with open(self.log, errors="replace") as f:
                lines = f.readlines()
        except OSError:
            return "(no log)"
        return "".join(lines[-tail:])

    # ---- the tree --------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def read(self, *parts):
        with open(self.path(*parts)) as f:
            return f.read()

    def image_command(self, name, *words):
        """Write "WORDS...\\n" to images/NAME (import, pull, build) and read the new
        image's id on the same fd (bk_command_id)."""
        line = " ".join(w for w in words if w is not None)
        code, reply = write_ctl(self.path("images", name), line + "\n")
        assert code == 0 and IMG_ID_RE.match(reply.strip()) and reply.endswith("\n"), (
            name, line, errno.errorcode.get(code), reply)
        return reply.strip()

    def import_dir(self, src, ref=None):
        return self.image_command("import", src, ref)

    def pull(self, ref):
        return self.image_command("pull", ref)

    def build(self, context, ref=None):
        return self.image_command("build", context, ref)

    def write_errno(self, rel, data):
        """(result, readback): see bkio.write_errno."""
        return bkio.write_errno(self.path(rel), data)

    def ctr(self, cid):
        return Ctr(self, cid)

    def run(self, line):
        """containers/run: write the line, read the id on the same open file."""
        code, reply = write_ctl(self.path("containers", "run"), line + "\n")
        assert code == 0, (line, errno.errorcode.get(code), reply)
        assert CTR_ID_RE.match(reply.strip()) and reply.endswith("\n"), repr(reply)
        return Ctr(self, reply.strip())

    def clone(self):
        """A new container from containers/clone."""
        cid = read(self.path("containers", "clone")).strip()
        assert CTR_ID_RE.match(cid), cid
        return Ctr(self, cid)

    def index_ids(self):
        lines = self.read("images", "index").splitlines()
        assert lines[0] == "IMAGE_ID\t\tSOURCE", lines[0]
        return [l.split("\t")[0] for l in lines[1:]]

    def tree_images(self):
        return sorted(n for n in os.listdir(self.path("images")) if n.startswith("img_"))

    def store_images(self):
        return sorted(os.listdir(os.path.join(self.store, "images")))

    def mkdtemp(self, name="src"):
        """A new empty directory under the fixture's directory (on /var/tmp)."""
        self._dirs += 1
        d = os.path.join(self.tmp, "%s%d" % (name, self._dirs))
        os.makedirs(d)
        return d


@pytest.fixture(scope="module")
def daemons():
    """daemons(*args, netns=None): start a daemon (args go to bockerfs) on a directory
    of its own, in a new network namespace named netns when given; all are cleaned
    up at the end of the module."""
    made = []

    def make(*args, netns=None):
        b = Bockerfs(tempfile.mkdtemp(prefix="bkt%d-" % os.getpid(), dir="/var/tmp"), netns=netns)
        made.append(b)
        if netns:
            b.ns_add()
        return b.start(*args)

    try:
        yield make
    finally:
        for b in made:
            b.cleanup()


@pytest.fixture(scope="module")
def bk(daemons):
    return daemons()


@pytest.fixture(scope="module")
def busybox(bk):
    return busybox_rootfs(os.path.join(bk.tmp, "busybox"))


@pytest.fixture(scope="module")
def bb(bk, busybox):
    """The busybox image, named busybox: its id."""
    return bk.import_dir(busybox, "busybox")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        b = getattr(item, "funcargs", {}).get("bk")
        if isinstance(b, Bockerfs):
            rep.sections.append(("bockerfs log (%s)" % b.log, b.log_text()))

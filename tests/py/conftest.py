"""pytest fixture for the bockerfs end-to-end tests.

`bk` (module scope) starts the daemon in the foreground on a private
directory /var/tmp/bkt<pid>-XXXXXX (--root DIR/root, mount DIR/mnt,
--storage-size 1G) and waits for the mount with a deadline, failing at once
if the daemon exits.  At the end of the module, even after failures, it
stops the daemon by PID (SIGTERM, then SIGKILL), unmounts whatever is still
mounted under the directory, detaches the loop devices of files under it and
removes it (BK_TEST_KEEP=1 keeps it).  A failed test's report carries the
daemon's log.  BOCKERFS_BIN names the daemon (default: build/bockerfs).
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))

import bkio  # noqa: E402  (tests/lib/bkio.py)

BIN = os.environ.get("BOCKERFS_BIN") or os.path.join(REPO, "build", "bockerfs")
DEADLINE = float(os.environ.get("BK_DEADLINE", "10"))
KEEP = os.environ.get("BK_TEST_KEEP") == "1"


def _unescape(field):
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mountinfo():
    """List of (mount point, fs type, major:minor) from /proc/self/mountinfo."""
    rows = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            rows.append((_unescape(fields[4]), fields[sep + 1], fields[2]))
    return rows


def is_mounted(path):
    return any(m == path for m, _, _ in mountinfo())


def mounts_under(top):
    """Mount points at or under top, deepest first."""
    top = top.rstrip("/")
    found = [m for m, _, _ in mountinfo() if m == top or m.startswith(top + "/")]
    return sorted(found, reverse=True)


def proc_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st.rsplit(")", 1)[1].split()[0] != "Z"


def proc_start(pid):
    """The process's start time (clock ticks after boot), None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


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
    end = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


def fuse_abort(mountpoint):
    """Abort the FUSE connection behind mountpoint (for a daemon stuck in D state)."""
    devs = [d for m, t, d in mountinfo() if m == mountpoint and t.startswith("fuse")]
    if not devs:
        return
    ctl = "/sys/fs/fuse/connections"
    mounted_here = False
    if not is_mounted(ctl):
        mounted_here = subprocess.run(["mount", "-t", "fusectl", "none", ctl]).returncode == 0
    try:
        with open("%s/%s/abort" % (ctl, devs[-1].split(":")[1]), "w") as f:
            f.write("1")
    except OSError:
        pass
    if mounted_here:
        subprocess.run(["umount", ctl])


def store_tags(top):
    """The cgroup tags of the stores mounted under top."""
    tags = []
    for m in mounts_under(top):
        try:
            with open(os.path.join(m, "cgroup-tag")) as f:
                tags.append(f.read(8))
        except OSError:
            pass
    return tags


def remove_cgroups(tags):
    """The groups the daemons of these stores made (bockerfs/TAG/* and bockerfs/TAG, in
    every hierarchy), once empty: a killed daemon leaves its spare inits' groups, and a
    running container's, for the next daemon on that store, which a test's store never gets."""
    for tag in tags:
        if not re.fullmatch(r"[0-9a-f]{8}", tag):
            continue
        for top in glob.glob("/sys/fs/cgroup/*/bockerfs/" + tag) + glob.glob("/sys/fs/cgroup/bockerfs/" + tag):
            for _ in range(40):
                for d, _dirs, _files in os.walk(top, topdown=False):
                    try:
                        os.rmdir(d)
                    except OSError:
                        pass
                if not os.path.isdir(top):
                    break
                time.sleep(0.05)
            if os.path.isdir(top):
                print("teardown: cannot remove cgroup %s" % top, file=sys.stderr)


def busybox_rootfs(path):
    """A minimal busybox root file system at path (like bk_busybox_rootfs)."""
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(path, "bin", "busybox"))
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True)
    for a in applets.stdout.split():
        link = os.path.join(path, "bin", a)
        if a != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    with open(os.path.join(path, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    os.chmod(os.path.join(path, "tmp"), 0o1777)
    os.chmod(os.path.join(path, "root"), 0o700)
    return path


class Bockerfs:
    """One daemon on one private directory; see the module docstring."""

    def __init__(self, tmp, storage_size="1G"):
        self.tmp = tmp
        self.root = os.path.join(tmp, "root")
        self.mnt = os.path.join(tmp, "mnt")
        self.log = os.path.join(tmp, "bockerfs.log")
        self.storage_size = storage_size
        self.proc = None
        self._root_fs = None
        self.pids = []  # every daemon Popen, for cleanup
        os.makedirs(self.root, exist_ok=True)
        os.makedirs(self.mnt, exist_ok=True)
        self._dirs = 0

    # ---- daemon lifecycle -------------------------------------------------

    @property
    def store(self):
        return os.path.join(self.root, "store") if self._root_fs != "btrfs" else self.root

    def start(self, *args):
        out = subprocess.run(["stat", "-f", "-c", "%T", self.root], capture_output=True, text=True)
        self._root_fs = out.stdout.strip()
        if not os.access(BIN, os.X_OK):
            raise RuntimeError("no daemon at %r (run make)" % BIN)
        cmd = [BIN, "-f", "--root", self.root, "--storage-size", self.storage_size, *args, self.mnt]
        with open(self.log, "ab") as logf:
            logf.write(("=== %s start: %s\n" % (time.strftime("%FT%TZ", time.gmtime()), " ".join(cmd))).encode())
            logf.flush()
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, close_fds=True
            )
        self.pids.append(self.proc)
        self.wait_mount()
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

    def cleanup(self):
        tags = store_tags(self.tmp)
        stuck = []
        for p in self.pids:
            if p.poll() is not None:
                continue
            p.terminate()
            try:
                p.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    stuck.append(p)
        for m in mounts_under(self.tmp):
            if stuck:
                fuse_abort(m)
            print("teardown: unmounting %s" % m, file=sys.stderr)
            subprocess.run(["umount", "-l", m])
        for p in stuck:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                print("teardown: daemon %d is stuck" % p.pid, file=sys.stderr)
        out = subprocess.run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            parts = line.split(None, 1)
            if len(parts) == 2 and parts[1].startswith(self.tmp + "/"):
                print("teardown: detaching %s" % parts[0], file=sys.stderr)
                subprocess.run(["losetup", "-d", parts[0]])
        remove_cgroups(tags)
        if mounts_under(self.tmp):
            print("teardown: still mounted, keeping %s" % self.tmp, file=sys.stderr)
        elif KEEP:
            print("teardown: BK_TEST_KEEP=1, kept %s" % self.tmp, file=sys.stderr)
        else:
            subprocess.run(["rm", "-rf", "--one-file-system", self.tmp])

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

    def import_dir(self, src, ref=None):
        """Write "DIR [REF]\\n" to images/import and read the id on the same fd."""
        line = src if ref is None else "%s %s" % (src, ref)
        fd = os.open(self.path("images", "import"), os.O_RDWR)
        try:
            os.write(fd, (line + "\n").encode())
            reply = os.read(fd, 100).decode()
        finally:
            os.close(fd)
        assert reply.endswith("\n") and reply.startswith("img_") and len(reply) == 17, repr(reply)
        return reply.strip()

    def write_errno(self, rel, data):
        """(result, readback): see bkio.write_errno."""
        return bkio.write_errno(self.path(rel), data)

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
def bk():
    tmp = tempfile.mkdtemp(prefix="bkt%d-" % os.getpid(), dir="/var/tmp")
    b = Bockerfs(tmp)
    try:
        b.start()
        yield b
    finally:
        b.cleanup()


@pytest.fixture(scope="module")
def busybox(bk):
    return busybox_rootfs(os.path.join(bk.tmp, "busybox"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        b = getattr(item, "funcargs", {}).get("bk")
        if isinstance(b, Bockerfs):
            rep.sections.append(("bockerfs log (%s)" % b.log, b.log_text()))

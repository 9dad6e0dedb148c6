"""The daemon in a network namespace of its own, for the Python tests that
use bridge networking (test_limits.py, test_hostile_ctl.py): the namespace
plays the host, so bridges, veths and the nftables table never touch the
machine's own network (see tests/lib/net.bash for the same in bats)."""
import json
import os
import subprocess
import time

import bkio
from conftest import BIN, Bockerfs, proc_alive, proc_start, wait_until


def ns_add(name):
    """A new network namespace, checked to be a fresh one (tests/net/run.sh)."""
    subprocess.run(["ip", "netns", "add", name], check=True)
    outer = os.readlink("/proc/self/ns/net")
    inside = subprocess.run(
        ["ip", "netns", "exec", name, "readlink", "/proc/self/ns/net"], capture_output=True, text=True
    ).stdout.strip()
    if not outer or not inside or inside == outer:
        ns_del(name)
        raise RuntimeError("namespace %s (%s) is the one the test started in (%s)" % (name, inside, outer))
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)


def ns_del(name):
    """Kill what runs in the namespace (by PID), then delete it."""
    if not os.path.exists("/run/netns/" + name):
        return
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
    for p in pids:
        try:
            os.kill(int(p), 9)
        except OSError:
            pass
    for p in pids:
        wait_until(lambda: not proc_alive(int(p)), 5)
    subprocess.run(["ip", "netns", "del", name])


class NetnsBockerfs(Bockerfs):
    """A daemon started through `nsenter --net` into a namespace of its own
    (nsenter execs it, so the PID is the daemon's)."""

    def __init__(self, tmp, netns, bridge=None):
        super().__init__(tmp)
        self.netns = netns
        self.bridge = bridge

    def start(self, *args):
        out = subprocess.run(["stat", "-f", "-c", "%T", self.root], capture_output=True, text=True)
        self._root_fs = out.stdout.strip()
        if not os.access(BIN, os.X_OK):
            raise RuntimeError("no daemon at %r (run make)" % BIN)
        cmd = ["nsenter", "--net=/run/netns/" + self.netns, os.path.realpath(BIN), "-f", "--root", self.root,
               "--storage-size", self.storage_size, *args, self.mnt]
        with open(self.log, "ab") as logf:
            logf.write(("=== %s start: %s\n" % (time.strftime("%FT%TZ", time.gmtime()), " ".join(cmd))).encode())
            logf.flush()
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, close_fds=True
            )
        self.pids.append(self.proc)
        self.wait_mount()
        want = os.stat("/run/netns/" + self.netns).st_ino
        got = os.stat("/proc/%d/ns/net" % self.proc.pid).st_ino
        assert got == want, "daemon %d is not in netns %s" % (self.proc.pid, self.netns)
        return self


def remove_all(b):
    """rm force every container of b, then kill any init left, by PID and start time."""
    cdir = b.path("containers")
    try:
        names = [n for n in os.listdir(cdir) if os.path.isdir(os.path.join(cdir, n))]
    except OSError:
        names = []
    for n in names:
        bkio.write_errno(os.path.join(cdir, n, "ctl"), "rm force\n")
    sdir = os.path.join(b.store, "containers")
    for n in os.listdir(sdir) if os.path.isdir(sdir) else []:
        try:
            with open(os.path.join(sdir, n, "container.json")) as f:
                c = json.load(f)
        except (OSError, ValueError):
            continue
        pid, start = c.get("pid", 0), str(c.get("pid_start", 0))
        if pid and proc_start(pid) == start:
            os.kill(pid, 9)

#!/usr/bin/env python3
"""Print container state changes on a bockerfs tree as they happen.

    monitor.py [MOUNTPOINT]        (default: $BOCKERFS or /run/bockerfs)

prints "TIME ID STATE" lines (TIME in UTC): one per container already there,
then one whenever a container appears (created), changes state (running,
exited, removing) or goes (removed).  It uses inotify through ctypes, no
library: a watch on containers/ for IN_CREATE and IN_DELETE, and one on each
containers/ID/state for IN_MODIFY, which the daemon raises on every state
change, whoever caused it (a container exiting on its own included).

It says "watching DIR" on stderr once its watches are set, so a script can
start it and then act.  Ctrl-C ends it.
"""

import ctypes
import ctypes.util
import datetime
import os
import struct
import sys

IN_MODIFY = 0x00000002
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000
IN_CLOEXEC = os.O_CLOEXEC
EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def check(ret, what):
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))
    return ret


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Monitor:
    def __init__(self, root, out=sys.stdout):
        self.dir = os.path.join(root, "containers")
        self.out = out
        self.fd = check(libc.inotify_init1(IN_CLOEXEC), "inotify_init1")
        check(libc.inotify_add_watch(self.fd, os.fsencode(self.dir), IN_CREATE | IN_DELETE),
              "inotify_add_watch " + self.dir)
        self.ids = {}  # watch descriptor -> container id
        self.last = {}  # container id -> last state printed
        self.scan()

    def scan(self):
        """Watch every container there is (at the start, and after an overflow)."""
        for cid in sorted(os.listdir(self.dir)):
            if os.path.isdir(os.path.join(self.dir, cid)):
                self.watch(cid)

    def watch(self, cid):
        state = os.path.join(self.dir, cid, "state")
        wd = libc.inotify_add_watch(self.fd, os.fsencode(state), IN_MODIFY)
        if wd < 0:
            return  # gone already: its IN_DELETE follows
        self.ids[wd] = cid
        self.report(cid)  # what happened before the watch was set

    def report(self, cid, state=None):
        if state is None:
            try:
                with open(os.path.join(self.dir, cid, "state")) as f:
                    state = f.read().strip()
            except OSError:
                return
        if state and self.last.get(cid) != state:
            self.last[cid] = state
            print(now(), cid, state, file=self.out, flush=True)

    def handle(self, wd, mask, name):
        if mask & IN_Q_OVERFLOW:
            self.scan()
        elif mask & IN_CREATE and mask & IN_ISDIR:
            self.watch(name)
        elif mask & IN_DELETE and mask & IN_ISDIR:
            self.report(name, "removed")
            self.last.pop(name, None)
        elif mask & IN_IGNORED:
            self.ids.pop(wd, None)
        elif mask & IN_MODIFY and wd in self.ids:
            self.report(self.ids[wd])

    def run(self):
        print("watching %s" % self.dir, file=sys.stderr, flush=True)
        while True:
            buf = os.read(self.fd, 65536)
            off = 0
            while off + EVENT.size <= len(buf):
                wd, mask, _, n = EVENT.unpack_from(buf, off)
                name = buf[off + EVENT.size:off + EVENT.size + n].rstrip(b"\0").decode()
                off += EVENT.size + n
                self.handle(wd, mask, name)


def main(argv):
    root = argv[0] if argv else os.environ.get("BOCKERFS", "/run/bockerfs")
    try:
        Monitor(root).run()
    except KeyboardInterrupt:
        return 0
    except OSError as e:
        print("monitor: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

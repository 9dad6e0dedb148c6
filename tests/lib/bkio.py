#!/usr/bin/env python3
"""Small I/O helpers for the bockerfs end-to-end tests (bats and pytest).

bash reports a failed write as a locale-dependent sentence; these helpers make
the syscalls themselves and print the symbolic errno instead.  As a command:

  bkio.py write FILE DATA|-        open O_RDWR, one write(DATA), then read() on
                                   the same fd.  Prints "OK" or the errno name
                                   (ENOENT ...) on the first line, then what
                                   the read returned.  "-" reads DATA from stdin.
  bkio.py errno OP PATH            OP: open (O_RDONLY), read, create
                                   (O_WRONLY|O_CREAT), mkdir, rmdir, stat, lstat,
                                   listdir.  Prints "OK" or the errno name.
  bkio.py intr-write FILE DATA SECS
                                   like write, but SIGINT (with a no-op handler)
                                   is sent to the writing thread SECS after the
                                   write(2) starts, and libc write() is called
                                   through ctypes, so an interrupted write
                                   reports EINTR.  Prints "EINTR", another errno
                                   name, or "OK <reply> sigint=0|1" (whether
                                   SIGINT came before the write returned).
  bkio.py parallel FILE LINE...    one thread per LINE, each opening FILE
                                   O_RDWR on its own, all writing "LINE\n" at
                                   the same moment (a barrier), then reading
                                   the reply on the same fd.  Prints one line
                                   per LINE, in order: the reply, or "ENAME:
                                   reply" when the write failed.
  bkio.py treecmp SRC DST          compare two trees (content, mode, owner,
                                   mtime, symlink targets, hardlinks, device
                                   numbers, xattrs); prints the differences and
                                   exits 1 if there are any.
  bkio.py regsize DIR              total bytes of the regular files under DIR.

Only the standard library is used, so either python3 on the host works.
"""

import ctypes
import errno
import hashlib
import os
import signal
import stat
import sys
import threading

REPLY_MAX = 65536


def errname(code):
    return errno.errorcode.get(code, "E%d" % code)


def write_errno(path, data, flags=os.O_RDWR):
    """One write(2) of data to path; returns (result, readback).

    result is "OK" or the errno name of the open or the write that failed.
    readback is what a read() on the same fd returned afterwards (str), or
    "" when the open failed, or "read-error ENAME" when the read failed.
    """
    if isinstance(data, str):
        data = data.encode()
    try:
        fd = os.open(path, flags)
    except OSError as e:
        return errname(e.errno), ""
    try:
        try:
            n = os.write(fd, data)
            result = "OK" if n == len(data) else "SHORT %d/%d" % (n, len(data))
        except OSError as e:
            result = errname(e.errno)
        try:
            back = os.read(fd, REPLY_MAX).decode(errors="replace")
        except OSError as e:
            back = "read-error " + errname(e.errno)
    finally:
        try:
            os.close(fd)
        except OSError as e:  # a daemon that died under the write
            back += " close-error " + errname(e.errno)
    return result, back


def op_errno(op, path):
    """Run one file operation; returns "OK" or the errno name."""
    try:
        if op == "open":
            os.close(os.open(path, os.O_RDONLY))
        elif op == "read":
            fd = os.open(path, os.O_RDONLY)
            try:
                os.read(fd, REPLY_MAX)
            finally:
                os.close(fd)
        elif op == "create":
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        elif op == "mkdir":
            os.mkdir(path, 0o755)
        elif op == "rmdir":
            os.rmdir(path)
        elif op == "stat":
            os.stat(path)
        elif op == "lstat":
            os.lstat(path)
        elif op == "listdir":
            os.listdir(path)
        else:
            raise ValueError("unknown op %r" % op)
    except OSError as e:
        return errname(e.errno)
    return "OK"


def intr_write(path, data, delay):
    """write(2) interrupted by SIGINT delay seconds after it starts.

    The signal goes to this thread (pthread_kill from a timer thread; ctypes
    drops the GIL during the call), with a no-op handler and no SA_RESTART, so
    the write returns EINTR if the file system honours the interrupt.

    Returns "EINTR", another errno name, or "OK <reply> sigint=N" where N says
    whether SIGINT had arrived by the time the write returned successfully.
    """
    # The C-level handler writes to the wakeup pipe at delivery, so whether
    # SIGINT came before the write returned is known without waiting for the
    # Python-level handler to run.
    rfd, wfd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.siginterrupt(signal.SIGINT, True)
    signal.set_wakeup_fd(wfd)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.write.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    libc.write.restype = ctypes.c_ssize_t
    if isinstance(data, str):
        data = data.encode()
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as e:
        return errname(e.errno)
    main = threading.get_ident()
    timer = threading.Timer(delay, signal.pthread_kill, (main, signal.SIGINT))
    try:
        timer.start()
        n = libc.write(fd, data, len(data))
        code = ctypes.get_errno()
        try:
            got = os.read(rfd, 16)
        except BlockingIOError:
            got = b""
        timer.cancel()
        if n < 0:
            return errname(code)
        try:
            reply = os.read(fd, 200).decode(errors="replace").strip()
        except OSError as e:
            reply = "read-error-" + errname(e.errno)
        return "OK %s sigint=%d" % (reply, 1 if got else 0)
    finally:
        os.close(fd)


def write_parallel(path, lines):
    """Each line written to path at the same moment, on an open file of its own,
    and the reply read there; returns the replies in order, each stripped, or
    "ENAME: reply" for a write (or an open) that failed."""
    out = [None] * len(lines)
    go = threading.Barrier(len(lines))

    def one(i):
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as e:
            go.wait()
            out[i] = "%s: " % errname(e.errno)
            return
        try:
            go.wait()
            try:
                os.write(fd, (lines[i] + "\n").encode())
                out[i] = os.read(fd, REPLY_MAX).decode(errors="replace").strip()
            except OSError as e:
                out[i] = "%s: %s" % (errname(e.errno), os.read(fd, REPLY_MAX).decode(errors="replace").strip())
        finally:
            os.close(fd)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(lines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in sorted(names):
        try:
            out[n] = os.getxattr(path, n, follow_symlinks=False)
        except OSError as e:
            out[n] = "<%s>" % errname(e.errno)
    return out


def tree_describe(top):
    """Map of relative path -> description of everything under top (not top)."""
    desc = {}
    inode_group = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, top)
            st = os.lstat(p)
            d = {
                "mode": "%o" % st.st_mode,
                "uid": st.st_uid,
                "gid": st.st_gid,
                "xattrs": _xattrs(p),
            }
            if not stat.S_ISDIR(st.st_mode):
                d["mtime_ns"] = st.st_mtime_ns
            if stat.S_ISREG(st.st_mode):
                d["size"] = st.st_size
                d["sha256"] = _file_digest(p)
                d["nlink"] = st.st_nlink
                if st.st_nlink > 1:
                    inode_group.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                d["target"] = os.readlink(p)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                d["rdev"] = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
            desc[rel] = d
    # Directory mtimes are compared after the walk read every entry: reading
    # does not change them, and a directory's own entry was recorded above.
    for dirpath, dirnames, _ in os.walk(top):
        for name in dirnames:
            p = os.path.join(dirpath, name)
            desc[os.path.relpath(p, top)]["mtime_ns"] = os.lstat(p).st_mtime_ns
    # Hardlinks: the group of paths sharing an inode, the same on both sides.
    for paths in inode_group.values():
        for rel in paths:
            desc[rel]["links"] = sorted(paths)
    return desc


def tree_compare(src, dst):
    """List of human-readable differences between the trees under src and dst."""
    a, b = tree_describe(src), tree_describe(dst)
    diffs = []
    for rel in sorted(set(a) | set(b)):
        if rel not in b:
            diffs.append("missing in %s: %s" % (dst, rel))
        elif rel not in a:
            diffs.append("extra in %s: %s" % (dst, rel))
        else:
            for k in sorted(set(a[rel]) | set(b[rel])):
                if a[rel].get(k) != b[rel].get(k):
                    diffs.append("%s: %s: %r != %r" % (rel, k, a[rel].get(k), b[rel].get(k)))
    return diffs


def regular_size(top):
    """Total st_size of the regular files under top, each inode counted once."""
    seen = set()
    total = 0
    for dirpath, _, filenames in os.walk(top):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd = argv[1]
    if cmd == "write" and len(argv) == 4:
        data = sys.stdin.buffer.read() if argv[3] == "-" else argv[3].encode()
        result, back = write_errno(argv[2], data)
        sys.stdout.write(result + "\n" + back)
        return 0
    if cmd == "errno" and len(argv) == 4:
        print(op_errno(argv[2], argv[3]))
        return 0
    if cmd == "intr-write" and len(argv) == 5:
        print(intr_write(argv[2], argv[3], float(argv[4])), flush=True)
        return 0
    if cmd == "parallel" and len(argv) >= 4:
        print("\n".join(write_parallel(argv[2], argv[3:])))
        return 0
    if cmd == "treecmp" and len(argv) == 4:
        diffs = tree_compare(argv[2], argv[3])
        for d in diffs:
            print(d)
        return 1 if diffs else 0
    if cmd == "regsize" and len(argv) == 3:
        print(regular_size(argv[2]))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

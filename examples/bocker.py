#!/usr/bin/env python3
"""The seed's bocker commands from Python, with nothing but open(), os.read()
and os.write() on the bockerfs tree (no client library; see docs/tree.md).

    import bocker
    bocker.ROOT = "/run/bockerfs"        # default: $BOCKERFS or /run/bockerfs
    img = bocker.init("/srv/rootfs")
    cid, code = bocker.run(img, "echo hello")
    print(bocker.logs(cid), end="")      # hello
    bocker.rm(cid)

As a command it takes the seed's arguments and prints what examples/bocker
prints: `bocker.py run IMG CMD...`, `bocker.py ps`, ...
"""

import os
import sys
import threading

ROOT = os.environ.get("BOCKERFS", "/run/bockerfs")


class Missing(LookupError):
    """The seed's messages: "No container named 'X' exists" and the like."""


class TreeError(OSError):
    """A failed operation on the tree: its errno and the tree's message."""

    def __str__(self):
        return "error: %s" % self.strerror


def path(*parts):
    return os.path.join(ROOT, *parts)


def read(*parts):
    with open(path(*parts)) as f:
        return f.read()


def _read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            return b"".join(chunks).decode()
        chunks.append(b)


def _last_error(*parts):
    """The message of an object's err file ("TIME OP: message")."""
    try:
        return read(*parts, "err").split(": ", 1)[-1].strip()
    except OSError:
        return ""


def ctl(rel, line):
    """Write LINE to a control file and return the reply read on the same
    open file (the new id); a failed write raises TreeError with the reply."""
    fd = os.open(path(rel), os.O_RDWR)
    try:
        try:
            os.write(fd, (line + "\n").encode())
        except OSError as e:
            msg = _read_all(fd).strip()
            raise TreeError(e.errno, msg[len("error: "):] if msg.startswith("error: ") else e.strerror) from None
        return _read_all(fd).strip()
    finally:
        os.close(fd)


def put(rel, text):
    """Write a value file (image, cmd, limits); TreeError with its err file."""
    try:
        with open(path(rel), "w") as f:
            f.write(text)
    except OSError as e:
        raise TreeError(e.errno, _last_error(os.path.dirname(rel)) or e.strerror) from None


def code(wait_text):
    """ "exit N" or "signal N" as an exit code (128+N after a signal)."""
    how, n = wait_text.split()
    return int(n) if how == "exit" else 128 + int(n)


def _table(rel):
    return [tuple(l.split("\t\t", 1)) for l in read(rel).splitlines()[1:]]


def images():
    """[(image id, source)], oldest first."""
    return _table("images/index")


def ps():
    """[(container id, command)]."""
    return _table("containers/index")


def _need_container(cid):
    if not cid or not os.path.isdir(path("containers", cid)):
        raise Missing("No container named '%s' exists" % cid)


def _progress(done, total):
    bar = "#" * (50 * done // total)
    sys.stdout.write("\r%-50s %5.1f%%" % (bar, 100.0 * done / total))
    sys.stdout.flush()


def pull(name, tag=None, progress=None):
    """Pull NAME:TAG; returns the image id.  While the write blocks,
    progress(done, total) is called with the bytes of the pulling image's
    layers (images/ID/progress: "DIGEST DONE TOTAL" per layer)."""
    ref = name if tag is None else "%s:%s" % (name, tag)
    stop = threading.Event()

    def poll():
        while not stop.wait(0.2):
            for img in os.listdir(path("images")):
                try:
                    if read("images", img, "state").strip() != "pulling":
                        continue
                    rows = [l.split() for l in read("images", img, "progress").splitlines()]
                except OSError:
                    continue
                total = sum(int(r[2]) for r in rows if len(r) == 3)
                if total:
                    progress(sum(int(r[1]) for r in rows if len(r) == 3), total)

    t = threading.Thread(target=poll, daemon=True)
    if progress:
        t.start()
    try:
        return ctl("images/pull", ref)
    finally:
        stop.set()
        if progress:
            t.join()


def init(directory, ref=None):
    """Import a directory as an image (the seed's init); returns its id."""
    if not os.path.isdir(directory):
        raise Missing("No directory named '%s' exists" % directory)
    line = os.path.abspath(directory) + (" " + ref if ref else "")
    return ctl("images/import", line)


def rm(oid):
    """Remove an image or a container (rmdir)."""
    for kind in ("images", "containers"):
        if oid and os.path.isdir(path(kind, oid)):
            try:
                os.rmdir(path(kind, oid))
            except OSError as e:
                raise TreeError(e.errno, _last_error(kind, oid) or e.strerror) from None
            return
    if oid.startswith("img_"):
        raise Missing("No image named '%s' exists" % oid)
    raise Missing("No container named '%s' exists" % oid)


def start(image, cmd="", cpu_share=None, mem_limit=None):
    """Create and start a container; returns its id at once.  cpu_share and
    mem_limit (MB) are the seed's BOCKER_CPU_SHARE and BOCKER_MEM_LIMIT."""
    if image.startswith("img_") and not os.path.isdir(path("images", image)):
        raise Missing("No image named '%s' exists" % image)
    if cpu_share is None and mem_limit is None:
        return ctl("containers/run", "%s %s" % (image, cmd) if cmd else image)
    cid = read("containers", "clone").strip()
    c = "containers/" + cid
    try:
        put(c + "/image", image + "\n")
        put(c + "/cmd", cmd + "\n")
        limits = "" if cpu_share is None else "cpu.shares %s\n" % cpu_share
        limits += "" if mem_limit is None else "memory %sM\n" % mem_limit
        put(c + "/limits", limits)
    except OSError:
        os.rmdir(path(c))
        raise
    ctl(c + "/ctl", "start")
    return cid


def wait(cid):
    """Block until the container stops; its exit code."""
    return code(read("containers", cid, "wait"))


def run(image, cmd="", cpu_share=None, mem_limit=None):
    """Run a container to its end; returns (id, exit code).  logs(id) has its output."""
    cid = start(image, cmd, cpu_share, mem_limit)
    return cid, wait(cid)


def stop(cid, secs=None):
    _need_container(cid)
    ctl("containers/%s/ctl" % cid, "stop" if secs is None else "stop %d" % secs)


def exec_(cid, cmd, stdin=b""):
    """Run CMD in a running container; returns (exit code, output bytes)."""
    _need_container(cid)
    if read("containers", cid, "state").strip() != "running":
        raise Missing("Container '%s' exists but is not running" % cid)
    s = "containers/%s/exec/%s" % (cid, read("containers", cid, "exec", "clone").strip())
    ctl(s + "/ctl", "exec " + cmd)

    def feed():
        try:
            with open(path(s, "in"), "wb") as f:
                f.write(stdin)
        except OSError:
            pass

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    with open(path(s, "out"), "rb") as f:
        out = f.read()
    status = code(read(s, "wait"))
    t.join(1)
    return status, out


def logs(cid):
    _need_container(cid)
    return read("containers", cid, "log")


def commit(cid, image=None):
    """Make an image of the container's filesystem (replacing IMAGE when it
    is an image id, as the seed did); returns the image id."""
    _need_container(cid)
    if image and image.startswith("img_") and not os.path.isdir(path("images", image)):
        raise Missing("No image named '%s' exists" % image)
    return ctl("containers/%s/ctl" % cid, "commit %s" % image if image else "commit") or image


def main(argv):
    cmd, args = (argv[0], argv[1:]) if argv else ("help", [])
    need = {"pull": 2, "exec": 2, "init": 1, "rm": 1, "run": 1, "logs": 1, "commit": 1, "images": 0, "ps": 0}
    if cmd not in need or len(args) < need[cmd]:
        print("usage: bocker.py pull NAME TAG | init DIR | images | rm ID | ps | run IMG CMD...\n"
              "                 | exec ID CMD... | logs ID | commit ID IMG | help",
              file=sys.stdout if cmd == "help" else sys.stderr)
        return 0 if cmd == "help" else 1
    try:
        if cmd == "pull":
            tty = sys.stdout.isatty()
            img = pull(args[0], args[1], _progress if tty else None)
            print("\nCreated: " + img if tty else "Created: " + img)
        elif cmd == "init":
            print("Created: " + init(*args[:2]))
        elif cmd in ("images", "ps"):
            sys.stdout.write(read("images" if cmd == "images" else "containers", "index"))
        elif cmd == "rm":
            rm(args[0])
            print("Removed: " + args[0])
        elif cmd == "run":
            env = os.environ
            cid, status = run(args[0], " ".join(args[1:]), env.get("BOCKER_CPU_SHARE") or None,
                              env.get("BOCKER_MEM_LIMIT") or None)
            sys.stdout.write(logs(cid))
            return status
        elif cmd == "exec":
            status, out = exec_(args[0], " ".join(args[1:]), sys.stdin.buffer.read() if not sys.stdin.isatty() else b"")
            sys.stdout.buffer.write(out)
            return status
        elif cmd == "logs":
            sys.stdout.write(logs(args[0]))
        elif cmd == "commit":
            print("Created: " + commit(*args[:2]))
    except Missing as e:
        print(e)
        return 1
    except OSError as e:
        print(e if isinstance(e, TreeError) else "error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

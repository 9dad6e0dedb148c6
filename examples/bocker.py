#!/usr/bin/env python3
"""The seed's bocker commands from Python, with docker's options for run,
with nothing but open(), os.read() and os.write() on the bockerfs tree (no
client library; see docs/tree.md).

    import bocker
    bocker.ROOT = "/run/bockerfs"        # default: $BOCKERFS or /run/bockerfs
    img = bocker.init("/srv/rootfs")
    cid, code = bocker.run(img, "echo hello")
    print(bocker.logs(cid), end="")      # hello
    bocker.rm(cid)
    cid = bocker.start("busybox", "httpd -f", name="web", ports="tcp 8080 80\\n",
                       mounts=bocker.volume_line("./www:/www:ro") + "\\n")

As a command it takes the seed's arguments and docker's options for run and
prints what examples/bocker prints: `bocker.py run [-d] [--rm] [-v SRC:DST]
... IMG CMD...`, `bocker.py ps`, `bocker.py --mem-limit=64 run IMG CMD`, ...
"""

import argparse
import errno
import os
import select
import signal
import sys
import termios
import threading
import tty

ROOT = os.environ.get("BOCKERFS", "/run/bockerfs")


class Missing(LookupError):
    """The seed's messages: "No container named 'X' exists" and the like."""


class Refused(ValueError):
    """An option refused before anything is written (docker's status 125)."""


class TreeError(OSError):
    """A failed operation on the tree: its errno and the tree's message; file
    names the new container's file whose write was refused ("name" when its
    directory could not be made; None otherwise)."""

    file = None

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
    open file (the new id); a failed write raises TreeError with the reply.
    A newline in LINE would make a second command: refused (EINVAL)."""
    if "\n" in line:
        raise TreeError(errno.EINVAL, "'%s...': one line only, a command of %s ends at a newline"
                        % (line.split("\n")[0], rel))
    fd = os.open(path(rel), os.O_RDWR)
    try:
        try:
            os.write(fd, (line + "\n").encode())
        except OSError as e:
            msg = _read_all(fd).strip()
            raise TreeError(e.errno, msg[len("error: "):] if msg.startswith("error: ") else e.strerror) from None
        try:
            return _read_all(fd).strip()
        except FileNotFoundError:  # rm force: the object and its reply are gone
            return ""
    finally:
        os.close(fd)


def put(rel, text):
    """Write a value file (image, cmd, limits); TreeError with its err file."""
    try:
        with open(path(rel), "w") as f:
            f.write(text)
    except OSError as e:
        err = TreeError(e.errno, _last_error(os.path.dirname(rel)) or e.strerror)
        err.file = os.path.basename(rel)
        raise err from None


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


def rm(oid, force=False):
    """Remove an image, even one containers were made from (the seed's rm;
    `rm force` on images/ID/ctl), or a container (rmdir; force: `rm force`
    on its ctl, a running one too)."""
    for kind in ("images", "containers"):
        if oid and os.path.isdir(path(kind, oid)):
            if kind == "images" or force:
                ctl("%s/%s/ctl" % (kind, oid), "rm force")
                return
            try:
                os.rmdir(path(kind, oid))
            except OSError as e:
                raise TreeError(e.errno, _last_error(kind, oid) or e.strerror) from None
            return
    if oid.startswith("img_"):
        raise Missing("No image named '%s' exists" % oid)
    raise Missing("No container named '%s' exists" % oid)


# ---- docker's option values as lines of the container's files ---------------


def _fstab(p):
    """A path as the mounts file writes it (\\040 a space, \\011 a tab, \\134 a backslash)."""
    return p.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")


def volume_line(spec):
    """-v SRC:DST[:ro|rw] as a line of mounts: a SRC starting with / or . is
    a host path (made if missing, ./x made absolute, as docker does), any
    other a volume's name."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise Refused("-v %s: SRC:DST[:ro] only (no anonymous volumes)" % spec)
    src, dst, mode = parts[0], parts[1], (parts[2:] or [""])[0]
    if mode not in ("", "ro", "rw"):
        raise Refused("-v %s: mode '%s' (ro or rw)" % (spec, mode))
    tail = " " + mode if mode else ""
    if not src.startswith(("/", ".")):
        return "volume %s %s%s" % (src, _fstab(dst), tail)
    src = os.path.abspath(src)
    if not os.path.lexists(src):
        os.makedirs(src)
    return "bind %s %s%s" % (_fstab(src), _fstab(dst), tail)


def tmpfs_line(spec):
    """--tmpfs DST[:OPTIONS] as a line of mounts: of docker's options size=N,
    and the defaults rw, nosuid, nodev, noexec."""
    dst, _, opts = spec.partition(":")
    size = ""
    for o in filter(None, opts.split(",")):
        if o.startswith("size="):
            size = " " + o[5:]
        elif o not in ("rw", "nosuid", "nodev", "noexec"):
            raise Refused("--tmpfs %s: option '%s' not supported (size=N)" % (spec, o))
    return "tmpfs %s%s" % (_fstab(dst), size)


def port_line(spec):
    """-p HOST:CONTAINER[/tcp|/udp] as a line of ports."""
    p, _, proto = spec.partition("/")
    parts = p.split(":")
    if len(parts) == 3:
        raise Refused("-p %s: a host address is not supported (HOST:CONTAINER)" % spec)
    if len(parts) != 2 or not all(parts):
        raise Refused("-p %s: HOST:CONTAINER[/tcp|/udp] only" % spec)
    return "%s %s %s" % (proto or "tcp", parts[0], parts[1])


def env_line(spec):
    """-e KEY=VALUE, or -e KEY: its value here if it is set (None if not), as docker does."""
    if "=" in spec:
        return spec
    if not spec.isidentifier():
        raise Refused("-e %s: not a name" % spec)
    return "%s=%s" % (spec, os.environ[spec]) if spec in os.environ else None


# ---- containers ----------------------------------------------------------------

FILES = ("env", "mounts", "ports", "net", "user", "workdir", "restart", "stdin", "tty", "limits")


def create(image, cmd="", name=None, **files):
    """A container, not started: containers/NAME (mkdir) or containers/clone,
    then image, cmd and each FILE=TEXT of files (env, mounts, ports, net, user,
    workdir, restart, stdin, tty, limits: the text as the tree reads it).  A refusal
    removes it again and raises TreeError (its file names the file)."""
    if image.startswith("img_") and not os.path.isdir(path("images", image)):
        raise Missing("No image named '%s' exists" % image)
    if name:
        if "/" in name:
            raise Refused("--name %s: not a valid name" % name)
        try:
            os.mkdir(path("containers", name))
        except OSError as e:
            taken = isinstance(e, FileExistsError)
            err = TreeError(e.errno, "the container name '%s' is in use" % name if taken
                            else _last_error("containers") or e.strerror)
            err.file = "name"
            raise err from None
        cid = name
    else:
        cid = read("containers", "clone").strip()
    try:
        put("containers/%s/image" % cid, image + "\n")
        put("containers/%s/cmd" % cid, cmd + "\n")
        for f in FILES:
            if files.get(f):
                put("containers/%s/%s" % (cid, f), files[f])
    except OSError:
        os.rmdir(path("containers", cid))
        raise
    return cid


def start(image, cmd="", cpu_share=None, mem_limit=None, name=None, rm_failed=False, **files):
    """Create and start a container; returns its id at once.  cpu_share and
    mem_limit (MB) are the seed's BOCKER_CPU_SHARE and BOCKER_MEM_LIMIT, added
    before files["limits"]; name and files as create().  rm_failed: remove
    the container if its start fails (run --rm)."""
    if image.startswith("img_") and not os.path.isdir(path("images", image)):
        raise Missing("No image named '%s' exists" % image)
    seed = "" if cpu_share is None else "cpu.shares %s\n" % cpu_share
    seed += "" if mem_limit is None else "memory %sM\n" % mem_limit
    files["limits"] = seed + (files.get("limits") or "")
    if not name and not any(files.values()) and "\n" not in cmd:  # containers/run: one line
        return ctl("containers/run", "%s %s" % (image, cmd) if cmd else image)
    cid = create(image, cmd, name, **files)
    try:
        ctl("containers/%s/ctl" % cid, "start")
    except OSError:
        if rm_failed:
            os.rmdir(path("containers", cid))
        raise
    return cid


def wait(cid):
    """Block until the container stops; its exit code."""
    return code(read("containers", cid, "wait"))


def follow(cid, out):
    """Write the container's log to out (a binary file) as it grows, until
    its wait file answers; returns the exit code (the seed tee'd the output)."""
    result = []

    def waiter():
        try:
            result.append(wait(cid))
        except OSError:
            result.append(1)

    def copy(fd):
        b = os.read(fd, 65536)
        while b:
            out.write(b)
            out.flush()
            b = os.read(fd, 65536)

    t = threading.Thread(target=waiter, daemon=True)
    t.start()
    log = path("containers", cid, "log")
    fd, was = os.open(log, os.O_RDONLY), 0
    try:
        while True:
            done = not t.is_alive()
            copy(fd)
            # Past its cap the log turns into log.1 and a new one starts (the
            # size drops): the rest of the old one, then the new one.
            try:
                now = os.stat(log).st_size
            except OSError:
                now = was
            if now < was:
                copy(fd)
                os.close(fd)
                fd = os.open(log, os.O_RDONLY)
                copy(fd)
            was = now
            if done:
                return result[0]
            t.join(0.05)
    finally:
        os.close(fd)


def attach(rel, interactive=True, terminal=False, out=None):
    """The command of REL (containers/ID or containers/ID/exec/N) here, as
    docker attaches it: REL/out to out (our stdout) until the command stops;
    returns its exit code.  interactive: our stdin goes to REL/in as it comes
    (its end closes in).  terminal, with our stdin a terminal: its size goes to
    REL/ctl ("resize COLS ROWS") now and at each SIGWINCH; with interactive it
    is raw (each key, Ctrl-C too, goes to the command as typed) until we
    return, however we do (a SIGTERM or SIGHUP ends us)."""
    out = out or sys.stdout.buffer
    fd0 = sys.stdin.fileno()
    term = terminal and os.isatty(fd0)
    saved = termios.tcgetattr(fd0) if term and interactive else None
    done_r, done_w = os.pipe()
    inp, old = None, {}

    def copy_out():
        try:
            with open(path(rel, "out"), "rb", buffering=0) as f:
                for b in iter(lambda: f.read(65536), b""):
                    out.write(b)
                    out.flush()
        finally:
            os.write(done_w, b".")

    def resize(*_):
        cols, rows = os.get_terminal_size(fd0)
        _try(ctl, rel + "/ctl", "resize %d %d" % (cols, rows))

    copier = threading.Thread(target=copy_out, daemon=True)
    try:
        if term:
            old[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, resize)
            resize()
        if saved:
            for sig in (signal.SIGHUP, signal.SIGTERM):
                old[sig] = signal.signal(sig, lambda n, _: sys.exit(128 + n))
            tty.setraw(fd0)
        if interactive:
            inp = os.open(path(rel, "in"), os.O_WRONLY)
        copier.start()
        # Our keys (or pipe) to in, as they come, until out ends; a signal
        # (SIGWINCH) runs its handler and select goes on.
        while done_r not in select.select([done_r] + ([fd0] if inp is not None else []), [], [])[0]:
            b = os.read(fd0, 4096)
            try:
                if b:
                    os.write(inp, b)
                    continue
            except OSError:  # the command stopped reading
                pass
            os.close(inp)
            inp = None
        copier.join()
        return code(read(rel, "wait"))
    finally:
        if saved:
            termios.tcsetattr(fd0, termios.TCSADRAIN, saved)
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if inp is not None:
            os.close(inp)
        if not copier.is_alive():  # else it still writes done_w (we are exiting)
            os.close(done_r)
            os.close(done_w)


def run(image, cmd="", cpu_share=None, mem_limit=None, **opts):
    """Run a container to its end; returns (id, exit code).  logs(id) has its
    output.  opts: name and the files, as create()."""
    cid = start(image, cmd, cpu_share, mem_limit, **opts)
    return cid, wait(cid)


def _act(cid, line):
    _need_container(cid)
    ctl("containers/%s/ctl" % cid, line)


def start_existing(cid):
    """Start a container that is not running (docker start)."""
    _act(cid, "start")


def stop(cid, secs=None):
    _act(cid, "stop" if secs is None else "stop %s" % secs)


def kill(cid, sig=None):
    _act(cid, "kill" if sig is None else "kill %s" % sig)


def restart(cid, secs=None):
    _act(cid, "restart" if secs is None else "restart %s" % secs)


def exec_start(cid, cmd, terminal=False):
    """Start CMD in a running container (on a terminal of its own with
    terminal: "tty" on its ctl first); returns its session, containers/ID/exec/N,
    for attach() or its in, out and wait files."""
    _need_container(cid)
    if read("containers", cid, "state").strip() != "running":
        raise Missing("Container '%s' exists but is not running" % cid)
    if "\n" in cmd:
        raise Refused("exec: a command of one line only (exec/N/ctl takes one)")
    s = "containers/%s/exec/%s" % (cid, read("containers", cid, "exec", "clone").strip())
    if terminal:
        ctl(s + "/ctl", "tty")
    ctl(s + "/ctl", "exec " + cmd)
    return s


def exec_(cid, cmd, stdin=b""):
    """Run CMD in a running container; returns (exit code, output bytes)."""
    s = exec_start(cid, cmd)

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


def logs_follow(cid, out):
    """Write the container's output to out (a binary file) from the start of
    its log as it comes, until it stops (docker logs -f: its out file)."""
    _need_container(cid)
    with open(path("containers", cid, "out"), "rb", buffering=0) as f:
        for b in iter(lambda: f.read(65536), b""):
            out.write(b)
            out.flush()


def commit(cid, image=None):
    """Make an image of the container's filesystem (replacing IMAGE when it
    is an image id, as the seed did); returns the image id."""
    _need_container(cid)
    if image and image.startswith("img_") and not os.path.isdir(path("images", image)):
        raise Missing("No image named '%s' exists" % image)
    return ctl("containers/%s/ctl" % cid, "commit %s" % image if image else "commit") or image


# ---- volumes -------------------------------------------------------------------


def volumes():
    """[(name, owner)] ("-" for a named volume, else the container)."""
    return [tuple(l.split("\t", 1)) for l in read("volumes/index").splitlines()[1:]]


def volume_create(name):
    try:
        os.mkdir(path("volumes", name))
    except FileExistsError:
        raise TreeError(errno.EEXIST, "volume '%s' exists" % name) from None
    except OSError as e:
        raise TreeError(e.errno, _last_error("volumes") or e.strerror) from None


def volume_rm(name):
    if not name or not os.path.isdir(path("volumes", name)):
        raise Missing("No volume named '%s' exists" % name)
    try:
        os.rmdir(path("volumes", name))
    except OSError as e:
        raise TreeError(e.errno, _last_error("volumes", name) or e.strerror) from None


# ---- the command line ----------------------------------------------------------

USAGE = """usage: bocker.py [--mem-limit=MB] [--cpu-share=N] COMMAND
  pull NAME TAG | init DIR | images | ps | rm [-f] ID | logs ID | commit ID IMG
  run [OPTIONS] IMG CMD...  (-d, -i, -t, --rm, --name, -e, -v, --tmpfs, -p, -m, --memory-swap,
      --cpus, -c, --pids-limit, --restart, -u, -w, --network: docker's)
  exec [-i] [-t] ID CMD... | logs -f ID | start ID | stop [-t SECS] ID | kill [-s SIG] ID | restart [-t SECS] ID
  volume create|ls|rm NAME | help"""


class Parser(argparse.ArgumentParser):
    """argparse with docker's status for a refused option (125)."""

    def error(self, message):
        raise Refused(message)


def _run_parser():
    p = Parser(prog="bocker.py run", allow_abbrev=False, add_help=False)
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("--rm", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("--name")
    for flags in (("-e", "--env"), ("-v", "--volume"), ("--tmpfs",), ("-p", "--publish")):
        p.add_argument(*flags, action="append", default=[])
    for flags in (("-m", "--memory"), ("--memory-swap",), ("--cpus",), ("-c", "--cpu-shares"),
                  ("--pids-limit",), ("--restart",), ("-u", "--user"), ("-w", "--workdir"),
                  ("--network", "--net")):
        p.add_argument(*flags)
    p.add_argument("image")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    return p


def _lines(items):
    return "".join(l + "\n" for l in items if l)


def _run_files(o):
    """run's options as the files of the container: {file: text}."""
    limits = [("memory", o.memory), ("memory-swap", "max" if o.memory_swap == "-1" else o.memory_swap),
              ("cpus", o.cpus), ("cpu.shares", o.cpu_shares),
              ("pids", "max" if o.pids_limit in ("-1", "0") else o.pids_limit)]
    net = "bridge" if o.network == "default" else o.network
    return {"env": _lines(env_line(e) for e in o.env),
            "mounts": _lines([volume_line(v) for v in o.volume] + [tmpfs_line(t) for t in o.tmpfs]),
            "ports": _lines(port_line(p) for p in o.publish), "net": _lines(["mode " + net] if net else []),
            "user": _lines([o.user]), "workdir": _lines([o.workdir]), "restart": _lines([o.restart]),
            "stdin": "1\n" if o.interactive else "", "tty": "1\n" if o.tty else "",
            "limits": _lines("%s %s" % (k, v) for k, v in limits if v is not None)}


def _detached_rm(cid):
    """--rm with -d: a process of its own removes the container when it exits."""
    if os.fork():
        return
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 1024)
        wait(cid)
        os.rmdir(path("containers", cid))
    finally:
        os._exit(0)


def cli_run(args, env):
    o = _run_parser().parse_args(args)
    if o.rm and o.restart not in (None, "", "no"):
        raise Refused("conflicting options: --restart and --rm")
    if o.interactive and o.tty and not sys.stdin.isatty():
        print("the input device is not a TTY", file=sys.stderr)
        return 1
    files = _run_files(o)
    try:
        cid = start(o.image, " ".join(o.cmd), env.get("BOCKER_CPU_SHARE") or None,
                    env.get("BOCKER_MEM_LIMIT") or None, name=o.name, rm_failed=o.rm, **files)
    except TreeError as e:
        # What a docker option wrote was refused: docker's 125 (limits only if an option set one).
        lim = any(getattr(o, k) for k in ("memory", "memory_swap", "cpus", "cpu_shares", "pids_limit"))
        if e.file not in (None, "image", "cmd", "limits") or e.file == "limits" and lim:
            e.status = 125
        raise
    if o.detach:
        if o.rm:
            _detached_rm(cid)
        print(cid)
        return 0
    # Docker's sig-proxy: a Ctrl-C or a TERM here goes to the command (a raw terminal types Ctrl-C).
    for sig, name in ((signal.SIGINT, "INT"), (signal.SIGTERM, "TERM")):
        signal.signal(sig, lambda *_, n=name: _try(ctl, "containers/%s/ctl" % cid, "kill " + n))
    if o.interactive or o.tty:
        status = attach("containers/" + cid, o.interactive, o.tty)
    else:
        status = follow(cid, sys.stdout.buffer)
    if o.rm:
        _try(os.rmdir, path("containers", cid))
    return status


def _try(fn, *args):
    try:
        fn(*args)
    except OSError:
        pass


def _opt(args, flags):
    """A leading option of flags and its value (stop -t 5, kill -s HUP): (value, rest)."""
    if len(args) > 1 and args[0] in flags:
        return args[1], args[2:]
    return None, args


def main(argv):
    env = dict(os.environ)
    while argv and argv[0].startswith(("--mem-limit=", "--cpu-share=")):
        key, _, val = argv.pop(0)[2:].partition("=")
        env["BOCKER_" + key.upper().replace("-", "_")] = val
    cmd, args = (argv[0], argv[1:]) if argv else ("help", [])
    need = {"pull": 2, "exec": 2, "init": 1, "rm": 1, "run": 1, "logs": 1, "commit": 1, "start": 1, "stop": 1,
            "kill": 1, "restart": 1, "volume": 1, "images": 0, "ps": 0}
    if cmd not in need or len(args) < need[cmd]:
        ok = cmd not in need
        print(USAGE, file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 1
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
            force = args[0] == "-f"
            rest = args[1:] if force else args
            oid = rest[0] if rest else ""
            rm(oid, force)
            print("Removed: " + oid)
        elif cmd == "run":
            return cli_run(args, env)
        elif cmd == "exec":
            flags = set()
            while args and args[0].startswith("-"):
                f = {"-i": "i", "--interactive": "i", "-t": "t", "--tty": "t", "-it": "it", "-ti": "it"}
                if args[0] not in f:
                    raise Refused("unknown flag: " + args[0])
                flags |= set(f[args.pop(0)])
            if len(args) < 2:
                print(USAGE, file=sys.stderr)
                return 1
            if flags == {"i", "t"} and not sys.stdin.isatty():
                print("the input device is not a TTY", file=sys.stderr)
                return 1
            s = exec_start(args[0], " ".join(args[1:]), "t" in flags)
            # Without a terminal our stdin feeds the command, -i or not.
            return attach(s, "i" in flags or "t" not in flags, "t" in flags)
        elif cmd == "logs":
            if args[0] in ("-f", "--follow"):
                logs_follow(args[1] if len(args) > 1 else "", sys.stdout.buffer)
            else:
                sys.stdout.write(logs(args[0]))
        elif cmd == "commit":
            print("Created: " + commit(*args[:2]))
        elif cmd in ("start", "stop", "kill", "restart"):
            val, rest = _opt(args, ("-s", "--signal") if cmd == "kill" else ("-t", "--time"))
            cid = rest[0] if rest else ""
            if cmd == "start":
                start_existing(cid)
            else:
                {"stop": stop, "kill": kill, "restart": restart}[cmd](cid, val)
            print(cid)
        elif cmd == "volume":
            if args[0] == "ls":
                sys.stdout.write(read("volumes", "index"))
            elif args[0] in ("create", "rm") and len(args) == 2:
                (volume_create if args[0] == "create" else volume_rm)(args[1])
                print(args[1])
            else:
                print(USAGE, file=sys.stderr)
                return 1
    except Missing as e:
        print(e)
        return 1
    except Refused as e:
        print("bocker: %s" % e, file=sys.stderr)
        return 125
    except OSError as e:
        print(e if isinstance(e, TreeError) else "error: %s" % e, file=sys.stderr)
        return getattr(e, "status", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

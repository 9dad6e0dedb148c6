"""The Python examples as tests: examples/bocker.py's functions (run, logs,
rm, init, images, ps, limits, exec, commit, create with the container's
files, follow, volumes, and the seed's messages) and its command line (run
streaming the output while the command runs, the seed's --mem-limit= and
--cpu-share=, rm of an image containers were made from, docker's options for
run checked in their files and by their effects, status 125 for a refused
one, -i with a pipe, -t, logs -f, and run -it and exec -it on a pseudo-terminal
of the test's (keys typed, the screen read, resized, Ctrl-C, the exit code,
the terminal restored), volume, start, stop, kill, restart), and
examples/monitor.py started as a process, printing a container's running and
exited lines as they happen.

One daemon for the module (the `bk` fixture of conftest.py) with the busybox
image (`bb`).  Every container made here is removed with `rm force` at the end
of the module, and any init that outlives it is killed by PID (checked against
its start time).
"""

import errno
import fcntl
import importlib.util
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import pytest

from conftest import CTR_ID_RE as ID_RE, DEADLINE, IMG_ID_RE as IMG_RE, REPO, read, wait_until

EXAMPLES = os.path.join(REPO, "examples")


def load(name):
    spec = importlib.util.spec_from_file_location("example_" + name, os.path.join(EXAMPLES, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bocker = load("bocker")


@pytest.fixture(scope="module")
def bb(bk, bb):
    """The busybox image (conftest's bb), with bocker.ROOT on the fixture's tree."""
    bocker.ROOT = bk.mnt
    return bb


def running(cid):
    return wait_until(lambda: bocker.read("containers", cid, "state").strip() == "running")


def test_run_logs_rm(bk, bb):
    cid, code = bocker.run("busybox", "echo hello; echo oops >&2; exit 3")
    assert ID_RE.match(cid)
    assert code == 3
    assert bocker.logs(cid) == "hello\noops\n"
    assert (cid, "echo hello; echo oops >&2; exit 3") in bocker.ps()
    cid2, code2 = bocker.run(bb, "echo by id")
    assert code2 == 0 and bocker.logs(cid2) == "by id\n"
    bocker.rm(cid)
    assert not os.path.exists(bk.path("containers", cid))
    assert cid not in [c for c, _ in bocker.ps()]
    with pytest.raises(bocker.Missing, match=r"^No container named '%s' exists$" % cid):
        bocker.rm(cid)
    with pytest.raises(bocker.Missing, match=r"^No container named '%s' exists$" % cid):
        bocker.logs(cid)


def test_signal_exit_code(bk, bb):
    cid = bocker.start("busybox", "sleep 60")
    assert running(cid)
    bocker.stop(cid, 1)
    assert bocker.wait(cid) == 128 + 15
    bocker.rm(cid)


def test_init_images_rm(bk, bb, busybox):
    img = bocker.init(busybox)
    assert IMG_RE.match(img)
    assert (img, busybox) in bocker.images()
    assert bocker.images()[0] == (bb, busybox)
    bocker.rm(img)
    assert img not in [i for i, _ in bocker.images()]
    with pytest.raises(bocker.Missing, match=r"^No image named '%s' exists$" % img):
        bocker.rm(img)
    with pytest.raises(bocker.Missing, match=r"^No directory named"):
        bocker.init(os.path.join(bk.tmp, "nowhere"))


def test_errors(bk, bb):
    with pytest.raises(bocker.TreeError) as e:
        bocker.run("nope", "true")
    assert e.value.errno == errno.ENOENT
    assert str(e.value) == "error: run: no image named 'nope'"
    with pytest.raises(bocker.Missing, match=r"^No image named 'img_000000000000' exists$"):
        bocker.run("img_000000000000", "true")
    # A volume in use: EBUSY, with the text of the volume's err file.
    bocker.run("busybox", "true", mounts="volume inuse /v\n")
    with pytest.raises(bocker.TreeError) as e:
        bocker.volume_rm("inuse")
    assert e.value.errno == errno.EBUSY
    assert "used by container" in str(e.value)
    cid, _ = bocker.run("busybox", "true")
    with pytest.raises(bocker.Missing, match=r"^Container '%s' exists but is not running$" % cid):
        bocker.exec_(cid, "true")


def test_limits(bk, bb):
    before = set(os.listdir(bk.path("containers")))
    cid, code = bocker.run("busybox", "echo limited", cpu_share=256, mem_limit=64)
    assert code == 0 and bocker.logs(cid) == "limited\n"
    limits = bocker.read("containers", cid, "limits").splitlines()
    assert "cpu.shares 256" in limits
    assert "memory %d" % (64 << 20) in limits
    with pytest.raises(bocker.TreeError) as e:
        bocker.run("busybox", "true", mem_limit="lots")
    assert e.value.errno == errno.EINVAL and "memory" in str(e.value)
    # The container made for it was removed again.
    assert set(os.listdir(bk.path("containers"))) == before | {cid}


def test_cli(bk, bb):
    env = dict(os.environ, BOCKERFS=bk.mnt)
    cli = [sys.executable, os.path.join(EXAMPLES, "bocker.py")]

    def run(*args, **kw):
        return subprocess.run(cli + list(args), env=dict(env, **kw), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60)

    r = run("run", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout, r.stderr) == (0, "hi\n", "")
    r = run("ps")
    assert r.stdout.splitlines()[0] == "CONTAINER_ID\t\tCOMMAND"
    cid = r.stdout.splitlines()[-1].split("\t")[0]
    assert r.stdout.splitlines()[-1] == cid + "\t\techo hi"
    assert run("logs", cid).stdout == "hi\n"
    assert run("images").stdout.splitlines()[0] == "IMAGE_ID\t\tSOURCE"
    r = run("run", "busybox", "true", BOCKER_CPU_SHARE="300")
    assert r.returncode == 0
    new = run("ps").stdout.splitlines()[-1].split("\t")[0]
    assert "cpu.shares 300" in bocker.read("containers", new, "limits").splitlines()
    r = run("rm", cid)
    assert (r.returncode, r.stdout) == (0, "Removed: %s\n" % cid)
    r = run("rm", cid)
    assert (r.returncode, r.stdout) == (1, "No container named '%s' exists\n" % cid)
    r = run("run", "nope", "true")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "error: run: no image named 'nope'\n")


def test_exec(bk, bb):
    cid = bocker.start("busybox", "sleep 60")
    assert running(cid)
    assert os.path.isdir(bk.path("containers", cid, "exec")), "no containers/ID/exec/ in the tree"
    assert bocker.exec_(cid, "cat /etc/hostname") == (0, (cid + "\n").encode())
    assert bocker.exec_(cid, "cat", b"fed\n") == (0, b"fed\n")
    assert bocker.exec_(cid, "false")[0] == 1
    # exec/N/ctl takes one line: "exec echo\nkill" would kill the container.
    with pytest.raises(bocker.Refused):
        bocker.exec_(cid, "echo a\nkill")
    assert bocker.read("containers", cid, "state") == "running\n"
    bocker.stop(cid, 0)


def test_commit(bk, bb):
    cid, _ = bocker.run("busybox", "echo changed >/marker")
    img = bocker.commit(cid, "mine:2")
    assert IMG_RE.match(img)
    cid2, code = bocker.run(img, "cat /marker")
    assert code == 0 and bocker.logs(cid2) == "changed\n"


class Lines:
    """A process's output lines, collected by a thread."""

    def __init__(self, stream):
        self.lines = []
        self.t = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.t.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, regex, timeout=DEADLINE):
        pat = re.compile(regex)
        ok = wait_until(lambda: any(pat.match(l) for l in self.lines), timeout)
        assert ok, "no line /%s/ in %r" % (regex, self.lines)


def test_monitor(bk, bb):
    mon = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "monitor.py"), bk.mnt],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = Lines(mon.stdout), Lines(mon.stderr)
        err.wait_for(r"^watching ")
        t = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z"
        cid = bocker.start("busybox", "sleep 60")
        out.wait_for(r"^%s %s running$" % (t, cid))
        bocker.stop(cid, 1)
        out.wait_for(r"^%s %s exited$" % (t, cid))
        bocker.rm(cid)
        out.wait_for(r"^%s %s removed$" % (t, cid))
        mine = [l.split()[2] for l in out.lines if l.split()[1] == cid]
        # In this order ("removing" may show between exited and removed).
        assert mine.index("running") < mine.index("exited") < mine.index("removed"), mine
        assert mine[-1] == "removed", mine
        # A container that exits on its own, without anyone touching the tree.
        cid2 = bocker.start("busybox", "sleep 0.3")
        out.wait_for(r"^%s %s exited$" % (t, cid2))
        assert mon.poll() is None, err.lines
    finally:
        mon.terminate()
        mon.wait(timeout=DEADLINE)


# ---- docker's options, the seed's behaviour: the module and its command line ----


def cli(bk, *args, timeout=60, **kw):
    """examples/bocker.py ARGS on the fixture's tree; environment additions in kw."""
    env = dict(os.environ, BOCKERFS=bk.mnt, **kw)
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, "bocker.py")] + list(args), env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)


def last_ctr():
    return bocker.ps()[-1][0]


def test_create_files_follow(bk, bb):
    """create() writes each file as the tree reads it; follow() streams the log."""
    host = bk.mkdtemp("host")
    cid = bocker.start("busybox", "echo $A; echo in >/h/f", name="made", env="A=1\n", mounts=bocker.volume_line(host + ":/h") + "\n",
                       limits="pids 100\n", net="mode none\n")
    assert cid == "made"

    class Out:
        data = b""

        def write(self, b):
            self.data += b

        def flush(self):
            pass

    out = Out()
    assert bocker.follow(cid, out) == 0
    assert out.data == b"1\n"
    assert read(os.path.join(host, "f")) == "in\n"
    assert bocker.read("containers", cid, "mounts") == "bind %s /h\n" % host
    assert bocker.read("containers", cid, "net").splitlines()[0] == "mode none"
    # A refused file: TreeError naming it; the container is removed again.
    before = set(os.listdir(bk.path("containers")))
    with pytest.raises(bocker.TreeError) as e:
        bocker.create("busybox", "true", workdir="rel\n")
    assert e.value.errno == errno.EINVAL and e.value.file == "workdir"
    assert str(e.value) == "error: workdir 'rel': an absolute path"
    assert set(os.listdir(bk.path("containers"))) == before
    with pytest.raises(bocker.TreeError) as e:
        bocker.create("busybox", name="made")
    assert e.value.errno == errno.EEXIST and e.value.file == "name"
    assert bocker.volume_line("v1:/data:ro") == "volume v1 /data ro"
    assert bocker.tmpfs_line("/t:size=1m,rw") == "tmpfs /t 1m"
    assert bocker.port_line("8080:80/udp") == "udp 8080 80"
    with pytest.raises(bocker.Refused):
        bocker.port_line("127.0.0.1:80:80")


def test_multiline_cmd(bk, bb):
    """containers/run takes one line: a command of several goes to the cmd file."""
    cid, code = bocker.run("busybox", "for i in 1 2; do\n echo $i\ndone")
    assert (code, bocker.logs(cid)) == (0, "1\n2\n")
    assert bocker.read("containers", cid, "cmd") == "for i in 1 2; do\n echo $i\ndone\n"
    r = cli(bk, "run", "busybox", "echo a\necho b")
    assert (r.returncode, r.stdout) == (0, "a\nb\n")


def test_cli_follows_rotation(daemons, busybox):
    """Past --log-max-size the log turns into log.1 and a new one starts: run
    follows into the new one and loses nothing."""
    d = daemons("--log-max-size", "64K")
    d.import_dir(busybox, "busybox")
    # 200 KiB in bursts of 25 KiB, each shorter than the cap: three rotations while run follows.
    r = cli(d, "run", "busybox", 'i=0; while [ $i -lt 200 ]; do head -c 1000 /dev/zero | tr "\\0" x; '
            'echo " $i"; i=$((i + 1)); [ $((i % 25)) != 0 ] || sleep 0.5; done; echo END')
    assert r.returncode == 0, r.stderr
    cid = read(d.path("containers", "index")).splitlines()[-1].split("\t")[0]
    assert os.path.exists(os.path.join(d.store, "containers", cid, "log.1"))
    assert r.stdout.splitlines() == ["x" * 1000 + " %d" % i for i in range(200)] + ["END"]


def test_cli_live_output(bk, bb):
    """run prints each line while the command runs (the seed tee'd it) and exits with its code."""
    p = subprocess.Popen([sys.executable, os.path.join(EXAMPLES, "bocker.py"), "run", "busybox",
                          "echo a; sleep 2; echo b; exit 5"], env=dict(os.environ, BOCKERFS=bk.mnt),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    got = []
    for line in p.stdout:
        got.append((time.monotonic(), line.rstrip("\n"), bocker.read("containers", last_ctr(), "state").strip()))
    end = time.monotonic()
    assert p.wait(timeout=DEADLINE) == 5
    assert [(l, s) for _, l, s in got][0] == ("a", "running"), got
    assert [l for _, l, _ in got] == ["a", "b"]
    assert got[1][0] - got[0][0] >= 1.5 and end - got[0][0] >= 1.5, got
    r = cli(bk, "run", "busybox", "echo before; kill -9 $$")
    assert (r.returncode, r.stdout) == (137, "before\n")


def test_cli_seed_limits_and_rm_image(bk, bb, busybox):
    r = cli(bk, "--mem-limit=64", "--cpu-share=300", "run", "busybox", "echo", "capped")
    assert (r.returncode, r.stdout) == (0, "capped\n")
    limits = bocker.read("containers", last_ctr(), "limits").splitlines()
    assert "memory %d" % (64 << 20) in limits and "cpu.shares 300" in limits
    r = cli(bk, "--mem-limit=32", "run", "busybox", "true", BOCKER_MEM_LIMIT="512", BOCKER_CPU_SHARE="100")
    limits = bocker.read("containers", last_ctr(), "limits").splitlines()
    assert "memory %d" % (32 << 20) in limits and "cpu.shares 100" in limits
    r = cli(bk, "--mem-limit=lots", "run", "busybox", "true")
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "memory" in r.stderr

    # rm of an image a container was made from: rm force, as the seed's rm; the container runs on.
    img = bocker.init(busybox)
    cid, code = bocker.run(img, "echo first")
    r = cli(bk, "rm", img)
    assert (r.returncode, r.stdout) == (0, "Removed: %s\n" % img)
    assert not os.path.exists(bk.path("images", img))
    r = cli(bk, "start", cid)
    assert (r.returncode, r.stdout) == (0, cid + "\n")
    assert bocker.wait(cid) == 0 and bocker.logs(cid) == "first\nfirst\n"


def test_cli_detach_rm_name_verbs(bk, bb):
    t0 = time.monotonic()
    r = cli(bk, "run", "-d", "--name", "pysleepy", "busybox", "sleep", "60")
    assert (r.returncode, r.stdout, r.stderr) == (0, "pysleepy\n", "")
    assert time.monotonic() - t0 < 5
    assert bocker.read("containers", "pysleepy", "state") == "running\n"
    r = cli(bk, "run", "-d", "--name=pysleepy", "busybox", "true")
    assert r.returncode == 125 and "in use" in r.stderr
    assert cli(bk, "stop", "-t", "1", "pysleepy").stdout == "pysleepy\n"
    assert bocker.read("containers", "pysleepy", "wait") == "signal 15\n"
    assert cli(bk, "start", "pysleepy").stdout == "pysleepy\n"
    pid = bocker.read("containers", "pysleepy", "pid")
    assert cli(bk, "restart", "-t", "0", "pysleepy").stdout == "pysleepy\n"
    assert bocker.read("containers", "pysleepy", "pid") != pid
    assert cli(bk, "kill", "-s", "HUP", "pysleepy").stdout == "pysleepy\n"
    assert bocker.read("containers", "pysleepy", "wait") == "signal 1\n"
    r = cli(bk, "kill", "pysleepy")
    assert r.returncode == 1 and "not running" in r.stderr
    r = cli(bk, "run", "-d", "busybox", "sleep", "60")
    cid = r.stdout.strip()
    assert ID_RE.match(cid)
    assert cli(bk, "rm", cid).returncode == 1  # running: EBUSY
    assert cli(bk, "rm", "-f", cid).stdout == "Removed: %s\n" % cid
    assert not os.path.exists(bk.path("containers", cid))

    # --rm: gone after the exit, with its code; -d --rm: gone when it exits.
    before = set(os.listdir(bk.path("containers")))
    r = cli(bk, "run", "--rm", "busybox", "echo gone; exit 7")
    assert (r.returncode, r.stdout) == (7, "gone\n")
    r = cli(bk, "run", "-d", "--rm", "busybox", "sleep 1")
    cid = r.stdout.strip()
    assert r.returncode == 0 and os.path.isdir(bk.path("containers", cid))
    assert wait_until(lambda: not os.path.exists(bk.path("containers", cid))), "%s not removed" % cid
    r = cli(bk, "run", "--rm", "--restart", "always", "busybox", "true")
    assert r.returncode == 125 and "--restart and --rm" in r.stderr
    assert set(os.listdir(bk.path("containers"))) == before


def test_cli_volumes_mounts(bk, bb):
    host = bk.mkdtemp("pyhost")
    r = cli(bk, "run", "-v", host + ":/data", "busybox", "echo from-inside >/data/f")
    assert r.returncode == 0, r.stderr
    assert read(os.path.join(host, "f")) == "from-inside\n"
    # ./x made absolute (and made); ro.
    rel = subprocess.run([sys.executable, os.path.join(EXAMPLES, "bocker.py"), "run", "--volume=./rel:/rel:ro",
                          "busybox", "touch /rel/x"], cwd=host, env=dict(os.environ, BOCKERFS=bk.mnt),
                         capture_output=True, text=True, timeout=60)
    assert rel.returncode == 1 and "Read-only file system" in rel.stdout
    assert bocker.read("containers", last_ctr(), "mounts") == "bind %s/rel /rel ro\n" % host
    r = cli(bk, "run", "--rm", "-v", "pyvol:/v", "busybox", "echo kept >/v/f")
    assert r.returncode == 0 and os.path.isdir(bk.path("volumes", "pyvol"))
    assert cli(bk, "run", "-v", "pyvol:/v:ro", "busybox", "cat /v/f").stdout == "kept\n"
    r = cli(bk, "run", "--tmpfs", "/t:size=1m", "busybox", "grep ' /t ' /proc/mounts")
    assert r.stdout.startswith("tmpfs /t tmpfs ") and "size=1024k" in r.stdout
    assert bocker.read("containers", last_ctr(), "mounts") == "tmpfs /t 1048576\n"

    assert (cli(bk, "volume", "create", "pydata").stdout, os.path.isdir(bk.path("volumes", "pydata"))) == \
        ("pydata\n", True)
    assert "pydata\t-" in cli(bk, "volume", "ls").stdout.splitlines()
    r = cli(bk, "volume", "create", "pydata")
    assert r.returncode == 1 and "exists" in r.stderr
    assert cli(bk, "volume", "rm", "pydata").stdout == "pydata\n"
    r = cli(bk, "volume", "rm", "pydata")
    assert (r.returncode, r.stdout) == (1, "No volume named 'pydata' exists\n")


def test_cli_options_files(bk, bb):
    r = cli(bk, "run", "--name", "pyopts", "-e", "A=1", "--env=B=2", "-e", "FROM_HERE", "-e", "UNSET_HERE",
            "-w", "/wd", "-u", "65534:65534", "--restart", "on-failure:2", "--network", "none",
            "-p", "18080:80", "--publish=18053:53/udp", "-m", "64m", "--memory-swap=-1", "--cpus", "0.5",
            "-c", "512", "--pids-limit", "100", "busybox",
            'echo "$A $B $FROM_HERE ${UNSET_HERE-unset} $(pwd) $(id -u):$(id -g)"; ls /sys/class/net',
            FROM_HERE="7")
    assert (r.returncode, r.stdout, r.stderr) == (0, "1 2 7 unset /wd 65534:65534\nlo\n", "")
    def f(name):
        return bocker.read("containers", "pyopts", name)

    assert sorted(f("env").splitlines()) == ["A=1", "B=2", "FROM_HERE=7"]
    assert (f("workdir"), f("user"), f("restart")) == ("/wd\n", "65534:65534\n", "on-failure:2\n")
    assert f("net").splitlines()[0] == "mode none"
    assert f("ports") == "tcp 18080 80\nudp 18053 53\n"
    limits = f("limits").splitlines()
    for l in ("memory %d" % (64 << 20), "memory-swap max", "cpus 0.500", "cpu.shares 512", "pids 100"):
        assert l in limits, limits
    r = cli(bk, "run", "-eX=attached", "-w/tmp", "busybox", "echo", "$X", "-c", "$(pwd)")
    assert r.stdout == "attached -c /tmp\n"


@pytest.mark.parametrize("args,text", [
    (["--cpus", "1000"], "cpus"), (["-w", "rel"], "absolute"), (["--network", "nope"], "mode"),
    (["-u", "a/b"], "user"), (["-p", "1:2:3"], "host address"), (["-p", "80"], "HOST:CONTAINER"),
    (["-v", "/x"], "SRC:DST"), (["--tmpfs", "/t:mode=1"], "mode=1"), (["-e", "1x"], "not a name"),
    (["--bogus"], "--bogus"), (["--name", "a/b"], "not a valid name"),
])
def test_cli_refused(bk, bb, args, text):
    before = set(os.listdir(bk.path("containers")))
    r = cli(bk, "run", *args, "busybox", "true")
    assert (r.returncode, r.stdout) == (125, ""), r.stderr
    assert text in r.stderr
    assert set(os.listdir(bk.path("containers"))) == before


def test_cli_stdin_tty_logs_follow(bk, bb):
    """-i: a pipe feeds the command, its end is EOF; -t: a terminal, output
    only; -it needs one here; logs -f: the output as it comes, to the end."""
    py = [sys.executable, os.path.join(EXAMPLES, "bocker.py")]
    env = dict(os.environ, BOCKERFS=bk.mnt)
    r = subprocess.run(py + ["run", "-i", "busybox", "wc -l; exit 4"], input="a\nb\n", env=env,
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (4, "2\n"), r.stderr
    assert (bocker.read("containers", last_ctr(), "stdin"), bocker.read("containers", last_ctr(), "tty")) == \
        ("1\n", "0\n")

    def raw_out(*args):  # bytes: a terminal's lines end in \r\n
        return subprocess.run(py + list(args), env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)

    r = raw_out("run", "-t", "busybox", "[ -t 0 ] && [ -t 1 ] && echo tty; stty size")
    assert (r.returncode, r.stdout) == (0, b"tty\r\n24 80\r\n")
    assert bocker.read("containers", last_ctr(), "tty") == "1\n"
    before = set(os.listdir(bk.path("containers")))
    r = cli(bk, "run", "-it", "busybox", "sh")
    assert (r.returncode, r.stderr) == (1, "the input device is not a TTY\n")
    assert set(os.listdir(bk.path("containers"))) == before

    cid = bocker.start("busybox", "echo first; until [ -e /go ]; do sleep 0.1; done; echo second")
    f = subprocess.Popen(py + ["logs", "-f", cid], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         text=True)
    try:
        assert f.stdout.readline() == "first\n"
        assert bocker.read("containers", cid, "state") == "running\n" and f.poll() is None
        open(bk.path("containers", cid, "root", "go"), "w").close()
        assert (f.stdout.read(), f.wait(timeout=DEADLINE)) == ("second\n", 0)
    finally:
        f.kill()
        f.wait()
    assert cli(bk, "logs", "--follow", cid).stdout == "first\nsecond\n"
    assert cli(bk, "logs", "-f", "nope").stdout == "No container named 'nope' exists\n"

    cid = bocker.start("busybox", "sleep 60")
    assert running(cid)
    r = subprocess.run(py + ["exec", "-i", cid, "cat"], input="fed\n", env=env, capture_output=True, text=True,
                       timeout=60)
    assert (r.returncode, r.stdout) == (0, "fed\n")
    r = raw_out("exec", "-t", cid, "tty; exit 2")
    assert r.returncode == 2 and re.match(rb"^/dev/pts/\d+\r\n$", r.stdout), r.stdout
    r = cli(bk, "exec", "-it", cid, "sh")
    assert (r.returncode, r.stderr) == (1, "the input device is not a TTY\n")
    bocker.stop(cid, 0)


class Screen:
    """sh -c 'CMD; echo rc=$?; stty -a' on a pseudo-terminal of ours (pty.fork),
    ROWSxCOLS: keys typed, what it printed read back."""

    def __init__(self, cmd, env, rows=30, cols=100):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.execve("/bin/sh", ["sh", "-c", cmd + '; echo "rc=$?"; stty -a'], env)
            finally:
                os._exit(127)
        self.data, self.at = b"", 0

    def expect(self, regex):
        """Until the output after the last match matches regex; its match."""
        pat = re.compile(regex.encode())
        end = time.monotonic() + DEADLINE
        while True:
            m = pat.search(self.data, self.at)
            if m:
                self.at = m.end()
                return m
            left = end - time.monotonic()
            assert left > 0, "no /%s/ in %r" % (regex, self.data[self.at:])
            if select.select([self.fd], [], [], left)[0]:
                try:
                    b = os.read(self.fd, 4096)
                except OSError:  # EIO: the terminal's last process exited
                    b = b""
                assert b, "the end, and no /%s/ in %r" % (regex, self.data[self.at:])
                self.data += b

    def type(self, text):
        os.write(self.fd, text.encode())

    def resize(self, rows, cols):
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def stty(self):
        """The terminal's local modes now (the master reads the slave's)."""
        return termios.tcgetattr(self.fd)[3]

    def close(self):
        if os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def sleeping(cid):
    """A process `sleep 100` runs in the container (its PID namespace)."""
    ns = os.readlink("/proc/%s/ns/pid" % bocker.read("containers", cid, "pid").strip())
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if read("/proc/%s/cmdline" % p) == "sleep\0" "100\0" and os.readlink("/proc/%s/ns/pid" % p) == ns:
                return True
        except OSError:
            pass
    return False


def restored(screen):
    """After `rc=N`, the `stty -a` of the shell: echo and icanon on."""
    modes = screen.expect(r"(-?)icanon [^\n]*?(-?)echo ")
    return modes.groups() == (b"", b"")


def test_cli_run_it_on_a_terminal(bk, bb):
    """bocker.py run -it busybox sh on a pseudo-terminal: raw while it runs,
    keys typed, its size and a resize, Ctrl-C, the exit code, restored."""
    env = dict(os.environ, BOCKERFS=bk.mnt)
    s = Screen("%s %s run -it busybox sh" % (sys.executable, os.path.join(EXAMPLES, "bocker.py")), env)
    try:
        s.expect(r"/ # ")
        cid = last_ctr()
        assert (bocker.read("containers", cid, "tty"), bocker.read("containers", cid, "stdin")) == ("1\n", "1\n")
        assert not s.stty() & (termios.ECHO | termios.ICANON), "not raw while it runs"
        # Each line once the prompt is there (typed ahead, the container's terminal would echo it too).
        s.type("echo $((6*7))\r")
        s.expect(r"\r\n42\r\n/ # ")
        s.type("stty size\r")
        s.expect(r"\r\n30 100\r\n/ # ")
        s.resize(40, 120)
        s.type("stty size\r")
        s.expect(r"\r\n40 120\r\n/ # ")
        s.type("sleep 100\r")
        assert wait_until(lambda: sleeping(cid)), "no sleep 100 in the container"
        s.type("\x03")
        s.expect(r"\^C\r\n/ # ")
        s.type("echo back$((1+1))\r")
        s.expect(r"\r\nback2\r\n/ # ")
        s.type("exit 3\r")
        s.expect(r"rc=3\r\n")
        assert restored(s)
        assert bocker.read("containers", cid, "wait") == "exit 3\n"
    finally:
        s.close()


def test_cli_exec_it_on_a_terminal(bk, bb):
    """bocker.py exec -it ID sh: the container's shell on our terminal; a TERM
    to bocker.py restores the terminal (143) and the container runs on."""
    cid = bocker.start("busybox", "sleep 60")
    assert running(cid)
    env = dict(os.environ, BOCKERFS=bk.mnt)
    py = "%s %s" % (sys.executable, os.path.join(EXAMPLES, "bocker.py"))
    s = Screen("%s exec -it %s sh" % (py, cid), env, 25, 90)
    try:
        s.expect(r"/ # ")
        s.type("cat /etc/hostname; stty size\r")
        s.expect(r"\r\n%s\r\n25 90\r\n/ # " % cid)
        s.type("exit 5\r")
        s.expect(r"rc=5\r\n")
        assert restored(s)
    finally:
        s.close()
    s = Screen("sh -c 'echo $$ >%s/pid; exec %s exec -it %s sh'" % (bk.tmp, py, cid), env)
    try:
        s.expect(r"/ # ")
        assert not s.stty() & (termios.ECHO | termios.ICANON), "not raw while it runs"
        os.kill(int(read(os.path.join(bk.tmp, "pid"))), signal.SIGTERM)
        s.expect(r"rc=143\r\n")
        assert restored(s)
    finally:
        s.close()
    assert bocker.read("containers", cid, "state") == "running\n"
    bocker.stop(cid, 0)

"""images/build through the tree with plain os.open/os.read/os.write: a
multi-step Dockerfile whose result runs with its CMD, ENV, WORKDIR and copied
files; the build log followed while the build runs; failures (a failing RUN,
unsupported instructions, ADD of a URL, COPY ../x) with their errno and line,
leaving nothing behind; two builds at once.

One daemon for the module (the `bk` fixture of conftest.py) with a busybox
image (`bb`); every container made here is removed with `rm force` at the end
of the module, and any init still alive after that is killed by PID (checked
against its start time).
"""

import errno
import json
import os
import threading

import pytest

import bkio
from conftest import IMG_ID_RE as ID_RE, check_error, read, wait_until, write_ctl


# ---- helpers --------------------------------------------------------------


def context(bk, dockerfile, files=None):
    """A new build context with this Dockerfile and files ({relative path: text})."""
    d = bk.mkdtemp("ctx")
    with open(os.path.join(d, "Dockerfile"), "w") as f:
        f.write(dockerfile)
    for rel, text in (files or {}).items():
        os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
        with open(os.path.join(d, rel), "w") as f:
            f.write(text)
    return d


def run_and_wait(bk, line):
    """containers/run, then the container's wait and log."""
    c = bk.run(line)
    return c.read("wait"), c.read("log")


def snapshot(bk):
    """What a failed build must leave as it was: the tree's indexes and the store."""
    return (
        read(bk.path("images", "index")),
        read(bk.path("containers", "index")),
        bk.store_images(),
        sorted(os.listdir(os.path.join(bk.store, "containers"))),
    )


def store_tmp(bk):
    """tmp/ in the store, but the spare pool's refills, which come and go."""
    return [n for n in os.listdir(os.path.join(bk.store, "tmp")) if not n.startswith("spare-")]


def building(bk):
    """Ids of the images in state building."""
    out = []
    for n in os.listdir(bk.path("images")):
        if ID_RE.match(n):
            try:
                if read(bk.path("images", n, "state")) == "building\n":
                    out.append(n)
            except OSError:
                pass
    return out


# ---- fixtures -------------------------------------------------------------


@pytest.fixture(scope="module")
def bb(bk, bb):
    """The busybox image (conftest's bb), in a tree that has images/build."""
    assert os.path.exists(bk.path("images", "build")), "no images/build in the tree"
    return bb


# ---- tests ----------------------------------------------------------------


def test_multistep_build_runs_with_its_cmd_env_workdir_and_files(bk, bb):
    ctx = context(
        bk,
        "FROM busybox\n"
        "COPY greeting.txt /data/\n"
        "ENV COLOR=blue \\\n"
        "    SIZE=large\n"
        "WORKDIR /work/dir\n"
        'RUN echo "made in $(pwd) with $COLOR" > made.txt\n'
        'RUN ["sh", "-c", "echo \\"it\'s exec\\" >> made.txt"]\n'
        "CMD cat /data/greeting.txt made.txt; echo $COLOR $SIZE $(pwd)\n",
        {"greeting.txt": "hello, build\n"},
    )
    images = bk.index_ids()
    ctrs = read(bk.path("containers", "index"))
    image = bk.build(ctx, "pyapp:2")
    assert read(bk.path("images", image, "state")) == "ready\n"
    assert read(bk.path("images", image, "ref")) == "pyapp:2\n"
    # Only the result is new: intermediates and step containers are gone.
    assert bk.index_ids() == images + [image]
    assert read(bk.path("containers", "index")) == ctrs
    cfg = json.loads(read(bk.path("images", image, "config")))["config"]
    assert cfg["WorkingDir"] == "/work/dir" and "COLOR=blue" in cfg["Env"], cfg
    log = read(bk.path("images", image, "log"))
    assert "Step 1/7 : FROM busybox\n" in log and "Successfully built %s\n" % image in log, log
    wait, out = run_and_wait(bk, "pyapp:2")
    assert wait == "exit 0\n"
    assert out == "hello, build\nmade in /work/dir with blue\nit's exec\nblue large /work/dir\n"


def test_failing_run_leaves_no_image_and_no_step_container(bk, bb):
    ctx = context(bk, "FROM busybox\nCOPY f /f\nRUN echo good\nRUN echo bad-output; exit 7\n", {"f": "x\n"})
    before = snapshot(bk)
    code, reply = write_ctl(bk.path("images", "build"), ctx + " broken\n")
    assert code == errno.EIO, (errno.errorcode.get(code), reply)
    check_error(bk, errno.EIO, "/images/build", "write", "images/err", reply, "line 4", "RUN exited with code 7",
                "bad-output")
    assert snapshot(bk) == before
    assert wait_until(lambda: store_tmp(bk) == []), store_tmp(bk)


@pytest.mark.parametrize("instr", ["HEALTHCHECK CMD true", "ONBUILD RUN true"])
def test_unsupported_instruction_is_einval_with_its_line(bk, bb, instr):
    ctx = context(bk, "FROM busybox\nRUN true\n\n%s\n" % instr)
    before = snapshot(bk)
    code, reply = write_ctl(bk.path("images", "build"), ctx + "\n")
    assert code == errno.EINVAL, (errno.errorcode.get(code), reply)
    check_error(bk, errno.EINVAL, "/images/build", "write", "images/err", reply, "line 4",
                "unsupported instruction '%s'" % instr.split()[0])
    assert snapshot(bk) == before


@pytest.mark.parametrize(
    "line,text",
    [
        ("ADD https://example.com/app.tar.gz /app", "URLs are not supported"),
        ("COPY ../outside /x", "'../outside' is outside the build context"),
    ],
)
def test_url_and_parent_sources_are_einval(bk, bb, line, text):
    ctx = context(bk, "FROM busybox\n%s\n" % line)
    before = snapshot(bk)
    code, reply = write_ctl(bk.path("images", "build"), ctx + " x\n")
    assert code == errno.EINVAL, (errno.errorcode.get(code), reply)
    check_error(bk, errno.EINVAL, "/images/build", "write", "images/err", reply, "line 2", text)
    assert snapshot(bk) == before


def test_log_is_readable_while_building(bk, bb):
    ctx = context(bk, "FROM busybox\nRUN echo early; sleep 3; echo late\n")
    result = {}
    t = threading.Thread(
        target=lambda: result.update(r=bkio.write_errno(bk.path("images", "build"), ctx + " slowpy\n"))
    )
    t.start()
    try:
        assert wait_until(lambda: building(bk)), "no image in state building"
        (bid,) = building(bk)
        log = bk.path("images", bid, "log")
        assert wait_until(lambda: "early\n" in read(log)), read(log)
        assert read(bk.path("images", bid, "state")) == "building\n"
        assert "\nlate\n" not in read(log)
        assert os.stat(log).st_size > 0
    finally:
        t.join(60)
    assert result["r"] == ("OK", bid + "\n"), result
    assert "\nlate\n" in read(log) and read(bk.path("images", bid, "state")) == "ready\n"


def test_two_builds_at_once(bk, bb):
    ctxs = [context(bk, "FROM busybox\nRUN echo from-%d; sleep 1\nCMD echo image-%d\n" % (n, n)) for n in (1, 2)]
    results = [None, None]

    def one(n):
        results[n] = bkio.write_errno(bk.path("images", "build"), "%s twin:%d\n" % (ctxs[n], n + 1))

    ts = [threading.Thread(target=one, args=(n,)) for n in (0, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    ids = []
    for n, (res, reply) in enumerate(results):
        assert res == "OK", (res, reply)
        ids.append(reply.strip())
        assert "from-%d\n" % (n + 1) in read(bk.path("images", ids[-1], "log"))
        assert run_and_wait(bk, "twin:%d" % (n + 1)) == ("exit 0\n", "image-%d\n" % (n + 1))
    assert ids[0] != ids[1]

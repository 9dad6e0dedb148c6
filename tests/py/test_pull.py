"""images/pull through plain system calls: the id read back on the same fd,
bytes on disk, errno and text of a bad reference, and two pulls at once
while the rest of the tree keeps answering.  The registries are those of
tests/lib/registry.bash (Debian's docker-registry on 127.0.0.1), started
once for the module.
"""

import os
import threading
import time

import pytest

from conftest import fixture_bash


@pytest.fixture(scope="module")
def registry():
    """The registries of tests/lib/registry.bash (bk_registry_setup), stopped by
    bk_registry_teardown at the end of the module; their variables as a dict."""
    out = fixture_bash(
        'bk_registry_setup >&2 && for v in BK_REG BK_REG_BASIC BK_REG_TOKEN BK_REG_DIR; do echo "$v=${!v}"; done',
        libs=("fixture", "registry"), capture=True)
    env = dict(l.split("=", 1) for l in out.stdout.splitlines() if "=" in l)
    try:
        assert out.returncode == 0, "bk_registry_setup failed (its output is above)"
        yield env
    finally:
        if env.get("BK_REG_DIR"):
            fixture_bash("bk_registry_teardown", libs=("fixture", "registry"), sets={"BK_REG_DIR": env["BK_REG_DIR"]})


@pytest.fixture(scope="module")
def bk(registry, daemons):
    b = daemons("--auth-config", os.path.join(registry["BK_REG_DIR"], "auth.json"))
    assert os.path.exists(b.path("images", "pull")), "no images/pull in the tree"
    return b


def test_pull_busybox(bk, registry):
    img = bk.pull(registry["BK_REG"] + "/test/busybox")
    assert bk.read("images", img, "state") == "ready\n"
    with open("/bin/busybox", "rb") as a, open(bk.path("images", img, "root", "bin", "busybox"), "rb") as b:
        assert a.read() == b.read()
    assert img in bk.index_ids()
    for line in bk.read("images", img, "layers").splitlines():
        digest, size = line.split(" ")
        assert digest.startswith("sha256:") and len(digest) == 71 and int(size) > 0


def test_bad_reference(bk):
    res, readback = bk.write_errno("images/pull", "127.0.0.1:5000/UPPER\n")
    assert res == "EINVAL", (res, readback)
    assert readback.startswith("error: ") and "lowercase" in readback


def test_two_pulls_at_once_while_the_tree_answers(bk, registry):
    refs = [registry["BK_REG"] + "/test/big", registry["BK_REG_TOKEN"] + "/test/zstd"]
    results = {}

    def run(ref):
        try:
            results[ref] = bk.pull(ref)
        except Exception as e:  # reported below
            results[ref] = e

    threads = [threading.Thread(target=run, args=(r,)) for r in refs]
    for t in threads:
        t.start()
    slowest = 0.0
    while any(t.is_alive() for t in threads):
        t0 = time.monotonic()
        bk.read("version")
        os.listdir(bk.path("images"))
        slowest = max(slowest, time.monotonic() - t0)
        time.sleep(0.01)
    for t in threads:
        t.join()
    for ref in refs:
        assert isinstance(results[ref], str), (ref, results[ref])
    assert slowest < 1.0, "the tree stalled %.3f s during the pulls" % slowest
    img = results[refs[0]]
    assert os.path.getsize(bk.path("images", img, "root", "big3")) == 8 << 20
    assert bk.read("images", results[refs[1]], "root", "zstd-marker") == "compressed with zstd\n"

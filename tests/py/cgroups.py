"""Containers' cgroups as the tests see them, on cgroup v1 (one hierarchy per
controller, /sys/fs/cgroup/<controller>/...) or cgroup v2 (one tree,
/sys/fs/cgroup/...), whichever the host has; the Python side of
tests/lib/cgroup.bash, with the same names and keys.

A container's group is the `cgroup` line of its status (as /proc/PID/cgroup
names it); every function taking a group takes that path ("/..."), or a
conftest.Ctr, whose status gives it.

    VERSION                 1 or 2, decided as the engine decides (statfs of /sys/fs/cgroup)
    unusable_reason()       why the engine would find no usable cgroups here ("" if it would)
    path(g)                 the group's path
    dir(g, ctrl)            its directory for controller ctrl
    dirs(g)                 its directories that exist, sorted
    present(g), absent(g)   every / none of them exists
    file(g, key), read(g, key)  the file that holds key, and key's value (below)
    limit_files(g)          {file name: raw content} of every limit file
    proc_in(pid, g)         /proc/PID/cgroup puts pid in the group (v1: in every hierarchy used)
    store_parents(tag_or_store), store_groups(tag_or_store)
                            a store's parent groups (found by the tag's name anywhere
                            under /sys/fs/cgroup), and the groups in them

Keys and what read() gives, the same on both versions: memory.limit,
memory.swap (bytes or "max"), cpu.weight (v1 cpu.shares, v2 cpu.weight, as
the file has it), cpu.quota ("QUOTA PERIOD" or "max PERIOD"), cpu.period,
pids.max ("N" or "max"), pids.current, pids.denied (pids.events max),
memory.usage, memory.peak, oom_kills, cpu.usage (microseconds) as ints;
procs (a list of pid strings).
"""

import os
import re
import subprocess

ROOT = "/sys/fs/cgroup"
V1_UNLIMITED = 9223372036854771712  # memory.limit_in_bytes when unlimited: LONG_MAX rounded to a page


def _version():
    fstype = subprocess.run(["stat", "-f", "-c", "%T", ROOT], capture_output=True, text=True).stdout.strip()
    return 2 if fstype == "cgroup2fs" else 1


VERSION = _version()
# The controllers the engine uses (engine/proc/cgroup.c).
CTRLS = ("cpu", "memory", "pids") if VERSION == 2 else ("cpu", "cpuacct", "memory", "pids", "devices")

# key: (v1 controller, v1 file, v2 file)
KEYS = {
    "memory.limit": ("memory", "memory.limit_in_bytes", "memory.max"),
    "memory.swap": ("memory", "memory.memsw.limit_in_bytes", "memory.swap.max"),
    "cpu.weight": ("cpu", "cpu.shares", "cpu.weight"),
    "cpu.quota": ("cpu", "cpu.cfs_quota_us", "cpu.max"),
    "cpu.period": ("cpu", "cpu.cfs_period_us", "cpu.max"),
    "pids.max": ("pids", "pids.max", "pids.max"),
    "pids.current": ("pids", "pids.current", "pids.current"),
    "pids.denied": ("pids", "pids.events", "pids.events"),
    "memory.usage": ("memory", "memory.usage_in_bytes", "memory.current"),
    "memory.peak": ("memory", "memory.max_usage_in_bytes", "memory.peak"),
    "oom_kills": ("memory", "memory.oom_control", "memory.events"),
    "cpu.usage": ("cpuacct", "cpuacct.usage", "cpu.stat"),
    "procs": ("pids", "cgroup.procs", "cgroup.procs"),
}


def v1_mount(ctrl):
    """Where the v1 hierarchy of ctrl is mounted ("" if it is not)."""
    d = os.path.join(ROOT, ctrl)
    if os.path.exists(os.path.join(d, "cgroup.procs")):
        return d
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, fstype, opts = line.split()[:4]
            if fstype == "cgroup" and ctrl in opts.split(","):
                return mnt
    return ""


def unusable_reason():
    if VERSION == 2:
        try:
            have = open(os.path.join(ROOT, "cgroup.controllers")).read().split()
        except OSError:
            have = []
        if not all(c in have for c in ("cpu", "memory", "pids")):
            return "needs cgroup v2 with cpu, memory and pids in %s/cgroup.controllers (or cgroup v1)" % ROOT
        return ""
    if not all(v1_mount(c) for c in ("cpu", "cpuacct", "memory", "pids")):
        return "needs the cgroup v1 cpu, cpuacct, memory and pids hierarchies (or cgroup v2)"
    return ""


def _kv(text):
    return dict(l.split(" ", 1) for l in text.splitlines() if " " in l)


def path(g):
    """The group's path: g itself ("/..."), or the `cgroup` line of a Ctr's status."""
    if isinstance(g, str):
        assert g.startswith("/"), g
        return g
    p = _kv(g.read("status")).get("cgroup")
    assert p and p.startswith("/"), "no cgroup line in the status of %s: %r" % (g.id, g.read("status"))
    return p


def dir(g, ctrl):  # noqa: A001 (the bash helper's name)
    p = path(g)
    return ROOT + p if VERSION == 2 else v1_mount(ctrl) + p


def dirs(g):
    p = path(g)
    return sorted({os.path.realpath(dir(p, c)) for c in CTRLS if os.path.isdir(dir(p, c))})


def present(g):
    p = path(g)
    return all(os.path.isdir(dir(p, c)) for c in CTRLS)


def absent(g):
    return not dirs(g)


def file(g, key):
    ctrl, v1, v2 = KEYS[key]
    return os.path.join(dir(g, ctrl), v2 if VERSION == 2 else v1)


def _cat(f):
    with open(f) as fh:
        return fh.read().strip()


def read(g, key):
    p = path(g)
    v = _cat(file(p, key))
    if key in ("memory.limit", "memory.swap"):
        if v == "max" or (VERSION == 1 and int(v) >= V1_UNLIMITED):
            return "max"
        return v
    if key == "cpu.quota":
        if VERSION == 2:
            return v
        return "%s %s" % ("max" if v == "-1" else v, _cat(file(p, "cpu.period")))
    if key == "cpu.period":
        return int(v.split()[-1])
    if key == "pids.denied":
        return int(_kv(v).get("max", 0))
    if key == "oom_kills":
        return int(_kv(v).get("oom_kill", 0))
    if key == "cpu.usage":
        return int(v) // 1000 if VERSION == 1 else int(_kv(v)["usage_usec"])
    if key in ("pids.current", "memory.usage", "memory.peak"):
        return int(v)
    if key == "procs":
        return v.split()
    return v


def limit_files(g):
    """{file name: raw content} of every file the engine writes limits to."""
    p = path(g)
    out = {}
    for key in ("memory.limit", "memory.swap", "cpu.weight", "cpu.quota", "cpu.period", "pids.max"):
        f = file(p, key)
        if os.path.exists(f):  # memsw: only with swap accounting
            out[os.path.basename(f)] = _cat(f)
    return out


def proc_in(pid, g):
    """/proc/PID/cgroup puts pid in the group (v1: in every hierarchy the engine uses)."""
    p = path(g)
    try:
        lines = [l.split(":", 2) for l in open("/proc/%s/cgroup" % pid).read().splitlines()]
    except OSError:
        return False
    if VERSION == 2:
        return ["0", "", p] in lines
    where = {}
    for _, ctrls, grp in lines:
        for c in ctrls.split(","):
            where[c] = grp
    return all(where.get(c) == p for c in CTRLS)


def store_tag(tag_or_store):
    t = tag_or_store
    if os.path.isdir(t):
        try:
            t = open(os.path.join(t, "cgroup-tag")).read()[:8]
        except OSError:
            return ""
    return t if re.fullmatch(r"[0-9a-f]{8}", t) else ""


def store_parents(tag_or_store):
    """The directories named like the store's tag under /sys/fs/cgroup (v1: one per hierarchy)."""
    tag = store_tag(tag_or_store)
    out = []
    if not tag:
        return out
    for top, subdirs, _ in os.walk(ROOT):
        if tag in subdirs:
            out.append(os.path.join(top, tag))
        subdirs[:] = [d for d in subdirs if d != tag]
    return sorted(out)


def store_groups(tag_or_store):
    """The groups in the store's parents (containers', spare inits'), sorted directories."""
    out = []
    for parent in store_parents(tag_or_store):
        try:
            out += [os.path.join(parent, n) for n in os.listdir(parent) if os.path.isdir(os.path.join(parent, n))]
        except OSError:
            pass
    return sorted(out)

#!/usr/bin/python3
"""Write the hand-made seeds of the fuzz targets: seeds.py OUTDIR [OCI_LAYOUT [V2S2_DIR]]

OUTDIR/NAME/ gets the seeds of target NAME: references, challenges, control
writes, Dockerfiles, and layers crafted to attack extraction (traversal,
absolute paths, links out, whiteouts out, device nodes, xattrs, long and
sparse entries).  With OCI_LAYOUT (tests/lib/registry/build-images.sh's
OUTDIR/oci) the real manifests, index and configs of the test images are
added, and their small layers as plain tars; V2S2_DIR is `skopeo copy
--format v2s2 oci:LAYOUT:multi dir:V2S2_DIR` for Docker's media types.

The committed corpus (tests/fuzz/corpus) is these seeds (less a few that
added no coverage) and what the fuzzers found from them, minimized on edges
with libFuzzer's -merge=1 -use_counters=0 to stay small.
"""
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile

D = "sha256:" + "0123456789abcdef" * 4
D2 = "sha256:" + "fedcba9876543210" * 4


# No 10 KiB record padding: the two end blocks only, so that seeds stay small.
tarfile.RECORDSIZE = 1024


def tar(entries, fmt=tarfile.PAX_FORMAT):
    """entries: (name, kind, arg, extra) with kind f(ile) d(ir) l(symlink) h(ardlink)
    c(har) b(lock) p(fifo); arg the data or link target; extra a dict of TarInfo fields."""
    buf = io.BytesIO()
    with tarfile.TarFile(fileobj=buf, mode="w", format=fmt) as t:
        for e in entries:
            name, kind, arg = e[:3]
            extra = e[3] if len(e) > 3 else {}
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            ti.mode = 0o755 if kind == "d" else 0o644
            data = None
            if kind == "f":
                data = arg or b""
                ti.size = len(data)
            else:
                ti.type = {"d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE,
                           "c": tarfile.CHRTYPE, "b": tarfile.BLKTYPE,
                           "p": tarfile.FIFOTYPE}[kind]
                if kind in "lh":
                    ti.linkname = arg
            for k, v in extra.items():
                setattr(ti, k, v)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def layers():
    victim = "../victim"
    return {
        "basic": tar([("./", "d", None), ("bin/", "d", None),
                      ("bin/busybox", "f", b"#!elf\n", {"mode": 0o4755}),
                      ("bin/sh", "l", "busybox"), ("bin/ash", "h", "bin/busybox"),
                      ("tmp", "d", None, {"mode": 0o1777}),
                      ("etc/passwd", "f", b"root:x:0:0::/root:/bin/sh\n"),
                      ("run/fifo", "p", None)]),
        "dotdot": tar([("../victim/dotdot", "f", b"x"), ("a/../../victim/x", "f", b"x")]),
        "absolute": tar([("/etc/bockerfs-fuzz-abs", "f", b"x\n"),
                         ("/../victim/abs", "f", b"x")]),
        "symlink-out": tar([("localetc", "l", victim), ("localetc/hello", "f", b"pwned\n"),
                            ("up", "l", "../../../../../../../.."),
                            ("up/victim/hello", "f", b"pwned\n"),
                            ("chain1", "l", "chain2"), ("chain2", "l", "/dummy/../../"),
                            ("chain1/victim/x", "f", b"pwned\n")]),
        "hardlink-out": tar([("dotdot", "h", "../victim/hello"),
                             ("abs", "h", "/etc/passwd"),
                             ("loophole", "l", victim), ("through", "h", "loophole/hello"),
                             ("d/", "d", None), ("dirlink", "h", "d"),
                             ("self", "f", b"s"), ("self", "h", "self")]),
        "dir-to-symlink": tar([("d/", "d", None), ("d/f", "f", b"in d"),
                               ("d", "l", victim), ("d/f2", "f", b"through"),
                               ("e", "l", victim, {"mode": 0o777}), ("e/", "d", None)]),
        "whiteouts": tar([("etc/", "d", None), ("etc/.wh.hello", "f", b""),
                          ("data/", "d", None), ("data/.wh..wh..opq", "f", b""),
                          ("data/c", "f", b"c"), (".wh.gone", "f", b""),
                          (".wh..wh.plnk", "f", b""), ("etc/.wh..", "f", b""),
                          ("link", "l", victim), ("link/.wh.hello", "f", b""),
                          ("link/.wh..wh..opq", "f", b"")]),
        "overlay-whiteout": tar([("gone", "c", None, {"devmajor": 0, "devminor": 0}),
                                 ("dir/", "d", None),
                                 ("dir/x", "c", None, {"devmajor": 0, "devminor": 0})]),
        "devices": tar([("dev/null", "c", None, {"devmajor": 1, "devminor": 3}),
                        ("dev/sda", "b", None, {"devmajor": 8, "devminor": 0}),
                        ("dev/fifo", "p", None, {"mode": 0o600}),
                        ("owned", "f", b"o", {"uid": 1000, "gid": 1001}),
                        ("suid", "f", b"s", {"mode": 0o6755})]),
        "xattrs": tar([("f", "f", b"x", {"pax_headers": {
            "SCHILY.xattr.user.comment": "hello",
            "SCHILY.xattr.security.capability": "\x01\x00\x00\x02",
            "SCHILY.xattr.trusted.overlay.opaque": "y",
            "SCHILY.xattr.system.posix_acl_access": "x"}})]),
        "root-entries": tar([("./", "d", None, {"mode": 0o700}), (".", "l", "/etc"),
                             ("./", "f", b"x"), ("", "f", b"y")]),
        "type-changes": tar([("f", "f", b"file"), ("f", "d", None), ("f", "l", "target"),
                             ("f", "p", None), ("f/", "d", None), ("f/g", "f", b"g")]),
        "long-names": tar([("a" * 200 + "/" + "b" * 200, "f", b"long"),
                           ("l" * 255, "l", "t" * 300), ("c" * 256, "f", b"too long")]),
        "gnu-long": tar([("g" * 150 + "/x", "f", b"gnu"), ("h" * 120, "l", "y" * 120)],
                        tarfile.GNU_FORMAT),
        "ustar": tar([("u/", "d", None), ("u/f", "f", b"ustar"), ("u/l", "l", "f")],
                     tarfile.USTAR_FORMAT),
        "pax-path": tar([("x", "f", b"pax", {"pax_headers": {"path": "../victim/pax",
                                                               "linkpath": "/etc"}})]),
        "times": tar([("d/", "d", None, {"mtime": 0}), ("d/f", "f", b"t", {"mtime": 2**33}),
                      ("n", "f", b"n", {"pax_headers": {"mtime": "-1.5",
                                                        "atime": "1.000000001"}})]),
    }


def sparse_tar():
    """A GNU tar sparse file (1 MiB, one data block at 512 KiB), if GNU tar is here."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "sparse")
        with open(p, "wb") as f:
            f.seek(512 * 1024)
            f.write(b"data")
            f.truncate(1 << 20)
        try:
            return subprocess.run(["tar", "--sparse", "--format=pax", "-b", "2", "-C", d, "-cf", "-",
                                   "sparse"], capture_output=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None


REFS = [
    "busybox", "busybox:1.36", "library/busybox", "docker.io/library/busybox:latest",
    "index.docker.io/busybox", "myuser/myapp", "localhost:5000/team/app:1.0",
    "localhost/x", "localhost:5000", "127.0.0.1:5000/test/busybox:latest",
    "registry:5000/app", "[::1]:5000/x:y", "[2001:db8::1]/x", "quay.io/org/app@" + D,
    "busybox:1.36@" + D, "Foo/bar", "my-registry.example.com/a.b/c_d/e__f/g--h:V_1.0-rc",
    "gcr.io/distroless/static-debian12:nonroot", "busybox:1/x", "docker.io/localhost/x",
    "docker.io/docker.io/o", D[7:], "busybox@sha512:" + "ab" * 64, "a_b.c/x",
    "linux/amd64", "linux/arm64/v8", "Linux/ARM/v7", D,
]

CHALLENGES = [
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
    'scope="repository:library/busybox:pull"',
    'Bearer realm="http://127.0.0.1:5001/auth",service="bockerfs-test",'
    'scope="repository:test/busybox:pull",error="insufficient_scope"',
    'Basic realm="bockerfs-test"',
    '  bEaReR   Realm = "http://h/auth" , Service=x',
    'Bearer realm="http://h/t\\"x\\\\y",scope="a,b c"',
    'Negotiate abc==, Basic realm=x',
    'Basic realm="r", Bearer realm="https://t/x",service=s',
    'Bearer realm=, scope="x"',
    "Ymt0OmJrcHc=",
    '{"auths": {"127.0.0.1:5000": {"auth": "Yms6Ymtwdw=="}, '
    '"https://index.docker.io/v1/": {"username": "u", "password": "p"}}}',
    '{"auths": {"http://localhost:5000/v1/": {"auth": "dTpw"}}, "credsStore": "secret"}',
    '{"auths": {"docker.io": {"auth": "bm9jb2xvbg=="}}}',
    '{"auths": []}',
]

VALUES = [
    "memory 64M\ncpus 1.5\npids 100\ncpu.shares 512\n", "memory max\ncpus max\npids max\n",
    "  memory   6M  \r\n\n", "cpus 0.01", "memory 1.5G", "memory 20GB", "cpu.shares 262144",
    "tcp 8080 80\nudp 5353 53\n", "# comment\ntcp 1 65535\n", "tcp 80 80\ntcp 80 81\n",
    "20G", "4096", "1.5T", "SIGTERM", "9", "64", "KILL", "bridge", "none", "host",
]

CTL = [
    (0, 3, "/srv/rootfs myimage:1\n"), (1, 16, "localhost:5000/team/app:1.0 linux/arm64/v8\n"),
    (2, 255, "/ctx app:1\n"), (3, 5, "busybox echo hello\n"),
    (4, 1, "start\nstop 5\nkill SIGTERM\nrestart 3\nrm force\ncommit web:v1\n"),
    (4, 64, "stop 86401\nkill 65\n"), (5, 7, "exec ps aux\nkill 9\n"),
    (5, 255, "exec\n"), (4, 32, "commit caf\xc3\xa9\r\n"), (0, 200, "relative/dir x\n"),
    (6, 64, "busybox\n"), (7, 64, "echo hi\n"), (8, 64, "A=b\nC=d\n"),
    (9, 64, "memory 64M\n"), (10, 64, "none\n"), (11, 64, "tcp 8080 80\n"),
    (4, 255, "start\n" * 65),
]

DOCKERFILES = [
    "FROM busybox\nRUN echo hello > /hello\nCMD [\"cat\", \"/hello\"]\n",
    "# escape=`\nARG BASE=busybox\nFROM ${BASE}:latest\nARG BASE\nENV A=1 B=\"two words\" "
    "C=${A:-x}\nWORKDIR /app\nCOPY --chown=1000:1000 --chmod=0644 a.txt b/ /app/\n"
    "ADD c.tar /opt/\nUSER 1000:1000\nLABEL k=v \"a b\"=c\nEXPOSE 80 53/udp 8000-8002/tcp\n"
    "ENTRYPOINT [\"/bin/sh\", \"-c\"]\nCMD echo `\n  $A ${B} ${C:+set} $HOME\n",
    "# a comment\n\nFROM busybox\nRUN echo one \\\n    two \\\n# inside\n\n    three\r\n"
    "  run   echo lower case   \nCMD echo last \\",
    "FROM scratch\nCOPY ../escape /x\n", "FROM busybox\nCOPY http://example.com/x /x\n",
    "ARG V\nFROM busybox:$V\nRUN echo ${V:?required}\n",
    "FROM busybox\nHEALTHCHECK CMD true\n", "FROM a\nFROM b\n", "RUN x\nFROM a\n",
    "FROM busybox\nENV PATH=$PATH:/opt/bin\nRUN [\"echo\", \"${PATH}\"]\n",
    "FROM busybox\nSHELL [\"/bin/bash\"]\nONBUILD RUN x\nVOLUME /v\n",
    "FROM busybox\nRUN --mount=type=cache,target=/x echo\nCOPY --from=x a b\n",
    "FROM busybox\nENV A='single $X' B=\"dq \\$Y\" C=\\${Z}\nEXPOSE 70000\n",
    # Found by fuzz_dockerfile: gigabytes from a few lines, and a stack overflow.
    "FROM busybox\nENV A=0123456789abcdef\n" + "ENV A=$A$A\n" * 24,
    "FROM busybox\nARG A=0123456789abcdef\n" + "ARG A=$A$A\n" * 17 + "RUN true\n" * 2,
    "FROM busybox\n" + "EXPOSE 1-65535\n" * 2,
    "FROM busybox\nWORKDIR " + "${a:-" * 40 + "/x" + "}" * 40 + "\n",
    # A last line of just the escape read the RUN before it again.
    "FROM busybox\nRUN echo hi\n\\",
]


def manifests(layout, v2s2):
    out = {}
    if layout:
        blobs = os.path.join(layout, "blobs", "sha256")
        out["oci-layout-index"] = open(os.path.join(layout, "index.json"), "rb").read()
        for name in sorted(os.listdir(blobs)):
            data = open(os.path.join(blobs, name), "rb").read()
            if len(data) < 4096 and data[:1] == b"{":
                kind = "manifest" if b'"layers"' in data else "config"
                out["oci-%s-%s" % (kind, name[:12])] = data
    if v2s2:
        out["docker-v2s2-manifest"] = open(os.path.join(v2s2, "manifest.json"), "rb").read()
    docker_list = {"schemaVersion": 2,
                   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                   "manifests": [
                       {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "digest": D, "size": 525,
                        "platform": {"architecture": "amd64", "os": "linux"}},
                       {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "digest": D2, "size": 525,
                        "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
                       {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": D2, "size": 838,
                        "platform": {"architecture": "unknown", "os": "unknown"}}]}
    oci_index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [
                     {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D,
                      "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
                     {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D2,
                      "size": 1, "platform": {"os": "linux", "architecture": "arm64",
                                              "variant": "v8"}}]}
    zstd = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D,
                       "size": 100},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
                        "digest": D2, "size": 10},
                       {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": D,
                        "size": 10}]}
    helm = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": D,
                       "size": 16},
            "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                        "digest": D2, "size": 9}]}
    schema1 = {"schemaVersion": 1, "name": "x", "tag": "latest", "fsLayers": []}
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
              "rootfs": {"type": "layers", "diff_ids": [D, D2]}}
    for name, doc in [("docker-list", docker_list), ("oci-index", oci_index),
                      ("zstd-manifest", zstd), ("helm-artifact", helm), ("schema1", schema1),
                      ("config", config)]:
        out[name] = json.dumps(doc).encode()
    return out


def write(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def main():
    outdir = sys.argv[1]
    layout = sys.argv[2] if len(sys.argv) > 2 else None
    v2s2 = sys.argv[3] if len(sys.argv) > 3 else None
    for i, r in enumerate(REFS):
        write(outdir, "ref", "seed-%02d" % i, r)
    for i, c in enumerate(CHALLENGES):
        write(outdir, "auth", "seed-%02d" % i, c)
    for i, v in enumerate(VALUES):
        write(outdir, "values", "seed-%02d" % i, v)
    for i, (kind, chunk, text) in enumerate(CTL):
        write(outdir, "ctl", "seed-%02d" % i, bytes([kind, chunk - 1]) + text.encode())
    for i, d in enumerate(DOCKERFILES):
        write(outdir, "dockerfile", "seed-%02d" % i, d)
    for name, data in manifests(layout, v2s2).items():
        write(outdir, "manifest", name, data)
    for name, data in layers().items():
        write(outdir, "layer", name, data)
    write(outdir, "layer", "basic.gz", gzip.compress(layers()["basic"], mtime=0))
    try:
        z = subprocess.run(["zstd", "-q", "-c"], input=layers()["whiteouts"],
                           capture_output=True, check=True).stdout
        write(outdir, "layer", "whiteouts.zst", z)
    except (OSError, subprocess.CalledProcessError):
        pass
    sparse = sparse_tar()
    if sparse:
        write(outdir, "layer", "gnu-sparse", sparse)
    if layout:
        blobs = os.path.join(layout, "blobs", "sha256")
        for name in sorted(os.listdir(blobs)):
            data = open(os.path.join(blobs, name), "rb").read()
            if data[:2] == b"\x1f\x8b" and len(data) < 8192:
                write(outdir, "layer", "umoci-" + name[:12], gzip.decompress(data))


if __name__ == "__main__":
    main()

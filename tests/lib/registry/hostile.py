#!/usr/bin/env python3
"""Push hostile images to a test registry on 127.0.0.1 (plain http, no auth).

Usage: hostile.py CASE REG REPO TAG CANARY GHOST [ARG]

Every image is test/busybox:latest's layer(s) (pushed again into REPO) plus
one or more crafted layers.  CANARY is an existing host directory holding
"keep" that no layer may touch; GHOST an absolute host path that does not
exist and must not come to exist (e.g. /bkcanary-<random>).  Crafted names
aim at them by absolute path or by enough ".." to reach "/" from anywhere in
the store, so a failed defence shows as a change on the host, never as
damage to a real host file.  Prints the manifest digest.

Cases (see tests/e2e/80-hostile-layers.bats for what each must give):
  traversal-dotdot  traversal-deep  traversal-etc  traversal-mid
  absolute          symlink-out  symlink-ghost  symlink-up
  symlink-across    symlink-across-inside
  hardlink-dotdot   hardlink-abs  hardlink-shadow  hardlink-via-symlink
  swap-symlink-dir  swap-dir-symlink
  whiteout-dotdot   whiteout-invalid  whiteout-abs  whiteout-opaque-symlink
  devices           setuid
  bomb-gzip-tail GIB    bomb-zstd-tail GIB   zeros after the tar's end
  bomb-gzip-file GIB    one file of GIB GiB of zeros
  zeros MIB             one file of MIB MiB of zeros (not a bomb: a big layer)
  huge-header           a file whose header claims 1 TiB, with no data
  entries N             N self-hardlink entries (cheap for any extractor)
  aliases N             a 2040-deep directory, then N symlinks to its top and a
                        file made through each: few entries, millions of paths
  good                  a harmless one-file layer

The big layers are made without compressing gigabytes: a deflate block of
zeros ended by a full flush (or a zstd RLE block) is repeated.  The config's
diff id is honest for every layer except the bombs, whose uncompressed
stream (gigabytes) is not hashed here: an extractor that does not stop them
fails later with "diff id mismatch", which the tests tell apart.
"""
import gzip
import hashlib
import io
import json
import struct
import sys
import tarfile
import zlib

from push import get_blob, get_manifest, put_blob, put_manifest, sha

OCI_MAN = "application/vnd.oci.image.manifest.v1+json"
OCI_CFG = "application/vnd.oci.image.config.v1+json"
GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
ZST = "application/vnd.oci.image.layer.v1.tar+zstd"
MTIME = 1700000000
MiB = 1 << 20
GiB = 1 << 30

# ---- pushing (push.py's registry helpers) -------------------------------------


def push_image(reg, repo, tag, layers):
    """layers: (blob, media type, diff id) on top of test/busybox:latest."""
    base, _, _ = get_manifest(reg, "test/busybox", "latest")
    cfg = json.loads(get_blob(reg, "test/busybox", base["config"]["digest"]))
    descs = []
    for l in base["layers"]:
        put_blob(reg, repo, get_blob(reg, "test/busybox", l["digest"]))
        descs.append({"mediaType": GZ, "digest": l["digest"], "size": l["size"]})
    for blob, media, diff in layers:
        descs.append({"mediaType": media, "digest": put_blob(reg, repo, blob),
                      "size": len(blob)})
        cfg["rootfs"]["diff_ids"].append(diff)
    cfg_data = json.dumps(cfg).encode()
    man = {"schemaVersion": 2, "mediaType": OCI_MAN,
           "config": {"mediaType": OCI_CFG, "digest": put_blob(reg, repo, cfg_data),
                      "size": len(cfg_data)},
           "layers": descs}
    return put_manifest(reg, repo, tag, man, OCI_MAN)[0]


# ---- small tars ---------------------------------------------------------------


class Tar:
    """A pax tar built entry by entry; names are written exactly as given."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.t = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _add(self, ti, data=None, mode=0o644, uid=0, gid=0):
        ti.mtime = MTIME
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        if data is not None:
            ti.size = len(data)
        self.t.addfile(ti, io.BytesIO(data) if data else None)
        return self

    def file(self, name, data=b"pwned\n", mode=0o644, uid=0, gid=0):
        return self._add(tarfile.TarInfo(name), data, mode, uid, gid)

    def dir(self, name, mode=0o755):
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.DIRTYPE
        return self._add(ti, mode=mode)

    def symlink(self, name, target):
        ti = tarfile.TarInfo(name)
        ti.type, ti.linkname = tarfile.SYMTYPE, target
        return self._add(ti, mode=0o777)

    def hardlink(self, name, target, data=None):
        """data: pax lets a hardlink carry data; it must never reach the target."""
        ti = tarfile.TarInfo(name)
        ti.type, ti.linkname = tarfile.LNKTYPE, target
        return self._add(ti, data)

    def device(self, name, kind, major, minor, mode, uid=0, gid=0):
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.CHRTYPE if kind == "c" else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = major, minor
        return self._add(ti, mode=mode, uid=uid, gid=gid)

    def layer(self):
        """(gzip blob, media type, diff id) of the finished tar."""
        self.t.close()
        tar = self.buf.getvalue()
        return gzip.compress(tar, mtime=0), GZ, sha(tar)


def tar_layers(*tars):
    return [t.layer() for t in tars]


# ---- big layers without big buffers ---------------------------------------------

CHUNK = 4 * MiB


def deflate_zeros_chunk():
    """Raw deflate of CHUNK zeros, byte-aligned and history-free: repeatable."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(bytes(CHUNK)) + c.flush(zlib.Z_FULL_FLUSH)


def gzip_prefix_zeros(prefix, nzero_chunks, crc=True):
    """A gzip member: prefix then nzero_chunks * CHUNK zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    body = deflate_zeros_chunk()
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty last block
    size = len(prefix) + nzero_chunks * CHUNK
    check = zlib.crc32(prefix)
    if crc:
        zeros = bytes(CHUNK)
        for _ in range(nzero_chunks):
            check = zlib.crc32(zeros, check)
    hdr = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\xff"
    return b"".join([hdr, head, body * nzero_chunks, final,
                     struct.pack("<II", check & 0xffffffff, size & 0xffffffff)])


def zstd_prefix_zeros(prefix, nzeros):
    """A zstd frame (no content size, no checksum): a raw block, then RLE blocks of zeros."""
    blk = 128 << 10
    out = [b"\x28\xb5\x2f\xfd", b"\x00", bytes([7 << 3])]  # window 2^(10+7) = 128 KiB
    assert len(prefix) <= blk
    out.append(struct.pack("<I", (len(prefix) << 3) | (0 << 1))[:3] + prefix)
    left = nzeros
    while left > 0:
        n = min(blk, left)
        left -= n
        out.append(struct.pack("<I", (n << 3) | (1 << 1) | (left == 0))[:3] + b"\x00")
    return b"".join(out)


def tar_header(name, size):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime, ti.mode = size, MTIME, 0o644
    return ti.tobuf(tarfile.PAX_FORMAT)


def small_tar_end(name, data):
    """A complete tar holding one file, with its two zero blocks at the end."""
    t = Tar().file(name, data)
    t.t.close()
    return t.buf.getvalue()


def bomb_tail(gib, zstd):
    """A one-file tar, then gib GiB of zeros after its end: nothing to write, all to read."""
    tar = small_tar_end("bomb-marker", b"after this, zeros\n")
    bogus = "sha256:" + "0" * 64
    if zstd:
        return [(zstd_prefix_zeros(tar, gib * GiB), ZST, bogus)]
    return [(gzip_prefix_zeros(tar, gib * GiB // CHUNK, crc=False), GZ, bogus)]


def zeros_file(nbytes, honest):
    """One file of nbytes zeros (a CHUNK multiple); the tar end is zeros too."""
    hdr = tar_header("zeros", nbytes)
    nchunks = nbytes // CHUNK + 1  # the last chunk holds the tar's end (1024 zeros)
    blob = gzip_prefix_zeros(hdr, nchunks, crc=honest)
    if not honest:
        return [(blob, GZ, "sha256:" + "0" * 64)]
    h = hashlib.sha256(hdr)
    zeros = bytes(CHUNK)
    for _ in range(nchunks):
        h.update(zeros)
    return [(blob, GZ, "sha256:" + h.hexdigest())]


def huge_header():
    """A pax header saying 1 TiB, then the tar's end: the data is not there."""
    tar = tar_header("huge", 1 << 40) + bytes(1024)
    return [(gzip.compress(tar, mtime=0), GZ, sha(tar))]


def aliases(n):
    deep = "a/" * 2040
    t = Tar().file("d/" + deep + "f", b"deep\n")
    for i in range(n):
        t.symlink("s%d" % i, "d").file("s%d/%sg" % (i, deep), b"")
    return [t.layer()]


def many_entries(n):
    """n ustar hardlink entries 'e/NNNNNNNNN' -> themselves, then the tar's end."""
    ti = tarfile.TarInfo("e/000000000")
    ti.type, ti.linkname, ti.mtime, ti.mode = tarfile.LNKTYPE, "e/000000000", MTIME, 0o644
    tmpl = bytearray(ti.tobuf(tarfile.USTAR_FORMAT))
    assert len(tmpl) == 512
    tmpl[148:156] = b" " * 8
    base = sum(tmpl) - 2 * sum(b"000000000")
    out = bytearray(512 * n + 1024)
    for i in range(n):
        num = b"%09d" % i
        h = tmpl[:]
        h[2:11] = num
        h[159:168] = num
        h[148:156] = b"%06o\0 " % (base + 2 * sum(num))
        out[512 * i:512 * (i + 1)] = h
    tar = bytes(out)
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    blob = c.compress(tar) + c.flush()
    return [(blob, GZ, sha(tar))]


# ---- the cases ------------------------------------------------------------------


def cases(canary, ghost, arg):
    up = "../" * 24  # from anywhere in the store, up to the host's "/"
    rel = canary.lstrip("/")
    ghost_name = ghost.lstrip("/")
    return {
        "traversal-dotdot": lambda: tar_layers(Tar().file("../x")),
        "traversal-deep": lambda: tar_layers(Tar().file(up + rel + "/pwned")),
        "traversal-etc": lambda: tar_layers(Tar().file(up + "etc/" + ghost_name)),
        "traversal-mid": lambda: tar_layers(Tar().dir("a/").file("a/../../" + up + rel + "/x")),
        "absolute": lambda: tar_layers(Tar().file("/etc/" + ghost_name).file(canary + "/pwned")
                                       .file(ghost + "/x")),
        "symlink-out": lambda: tar_layers(Tar().symlink("esc", canary).file("esc/pwned")),
        "symlink-ghost": lambda: tar_layers(Tar().symlink("esc", ghost).file("esc/x")),
        "symlink-up": lambda: tar_layers(Tar().symlink("up", up.rstrip("/"))
                                         .file("up/" + rel + "/pwned")),
        "symlink-across": lambda: tar_layers(Tar().symlink("esc", canary),
                                             Tar().file("esc/pwned")),
        "symlink-across-inside": lambda: tar_layers(Tar().dir(rel + "/").symlink("esc", canary),
                                                    Tar().file("esc/pwned")),
        "hardlink-dotdot": lambda: tar_layers(Tar().hardlink("hl", up + rel + "/keep")),
        "hardlink-abs": lambda: tar_layers(Tar().hardlink("hl", canary + "/keep", b"pwned\n")),
        "hardlink-shadow": lambda: tar_layers(Tar().hardlink("shadow", "/etc/shadow")),
        "hardlink-via-symlink": lambda: tar_layers(Tar().symlink("lnk", canary)
                                                   .hardlink("hl", "lnk/keep")),
        "swap-symlink-dir": lambda: tar_layers(Tar().symlink("d", canary),
                                               Tar().dir("d/").file("d/new")),
        "swap-dir-symlink": lambda: tar_layers(Tar().dir("d/").file("d/old"),
                                               Tar().symlink("d", canary),
                                               Tar().file("d/new")),
        "whiteout-dotdot": lambda: tar_layers(Tar().file("../.wh.keep", b"")),
        "whiteout-invalid": lambda: tar_layers(Tar().dir("etc/").file("etc/.wh..", b"")),
        "whiteout-abs": lambda: tar_layers(
            Tar().file(rel + "/keep", b"inside\n").symlink("s", canary),
            Tar().file(canary + "/.wh.keep", b"").file("s/.wh.gone", b"")
                 .file(ghost + "/.wh.x", b"")),
        "whiteout-opaque-symlink": lambda: tar_layers(
            Tar().file(rel + "/keep", b"inside\n").symlink("s", canary).symlink("g", ghost),
            Tar().file("s/.wh..wh..opq", b"").file("g/.wh..wh..opq", b"")),
        "devices": lambda: tar_layers(Tar().device("dev-zero", "c", 1, 5, 0o666)
                                      .device("dev-loop", "b", 7, 0, 0o660, 0, 6)
                                      .device("sub/dev-null", "c", 1, 3, 0o620, 1000, 5)),
        "setuid": lambda: tar_layers(Tar().file("usr/local/bin/suid", b"#!/bin/sh\n", 0o4755)
                                     .file("usr/local/bin/sgid", b"#!/bin/sh\n", 0o2755, 0, 50)
                                     .file("usr/local/bin/suid-user", b"#!/bin/sh\n",
                                           0o6750, 1000, 1000)
                                     .dir("sticky/", 0o1777)),
        "bomb-gzip-tail": lambda: bomb_tail(int(arg), zstd=False),
        "bomb-zstd-tail": lambda: bomb_tail(int(arg), zstd=True),
        "bomb-gzip-file": lambda: zeros_file(int(arg) * GiB, honest=False),
        "zeros": lambda: zeros_file(int(arg) * MiB, honest=True),
        "huge-header": huge_header,
        "entries": lambda: many_entries(int(arg)),
        "aliases": lambda: aliases(int(arg)),
        "good": lambda: tar_layers(Tar().file("good", b"good\n")),
    }


def main():
    if len(sys.argv) < 7:
        sys.exit(__doc__)
    case, reg, repo, tag, canary, ghost = sys.argv[1:7]
    arg = sys.argv[7] if len(sys.argv) > 7 else None
    table = cases(canary.rstrip("/"), ghost.rstrip("/"), arg)
    if case not in table:
        sys.exit("unknown case " + case)
    print(push_image(reg, repo, tag, table[case]()))


if __name__ == "__main__":
    main()

"""images/ through plain system calls: import, index, the per-image files,
rmdir, the errno and text of each failure, restart, and inotify (ctypes).

All tests share one daemon (the module-scoped `bk` fixture), so none assumes
the store is empty: each compares against what it saw before acting.
"""

import errno
import json
import os
import re
import stat

import pytest

import bkio
from conftest import IN_CREATE, IN_DELETE, IN_ISDIR, IN_MODIFY, Inotify, check_error, errno_of

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def test_version(bk):
    assert re.match(r"^bockerfs [0-9.]+ api 1$", bk.read("version").rstrip("\n"))
    assert bk.read("images", "index").splitlines()[0] == "IMAGE_ID\t\tSOURCE"
    for d in ("images", "containers", "net"):
        assert stat.S_ISDIR(os.stat(bk.path(d)).st_mode)


def test_import_busybox(bk, busybox):
    before = bk.index_ids()
    img = bk.import_dir(busybox, "busybox")
    assert re.match(r"^img_[0-9a-f]{12}$", img)
    assert bk.index_ids() == before + [img]
    assert "%s\t\t%s" % (img, busybox) in bk.read("images", "index").splitlines()
    assert bk.read("images", img, "source") == busybox + "\n"
    assert bk.read("images", img, "ref") == "busybox:latest\n"
    assert bk.read("images", img, "state") == "ready\n"
    assert bk.read("images", img, "err") == ""
    assert bk.read("images", img, "size") == "%d\n" % bkio.regular_size(busybox)

    config = json.loads(bk.read("images", img, "config"))
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    assert config["architecture"] == arch
    assert config["os"] == "linux"
    assert config["config"]["Env"] == [PATH_ENV]
    assert config["config"]["Cmd"] == ["/bin/sh"]
    assert config["rootfs"]["type"] == "layers"

    root = bk.path("images", img, "root")
    assert os.path.islink(root)
    assert os.readlink(root).startswith("/")
    with open(os.path.join(root, "bin", "busybox"), "rb") as a, open("/bin/busybox", "rb") as b:
        assert a.read() == b.read()
    assert os.readlink(os.path.join(root, "bin", "sh")) == "busybox"
    assert os.path.samefile(root, os.path.join(bk.store, "images", img, "rootfs"))
    assert os.path.isfile(os.path.join(bk.store, "images", img, "image.json"))
    assert errno_of(os.open, os.path.join(root, "new"), os.O_WRONLY | os.O_CREAT, 0o644) == errno.EROFS
    assert errno_of(os.open, os.path.join(root, "etc", "passwd"), os.O_WRONLY) == errno.EROFS
    assert errno_of(os.unlink, os.path.join(root, "etc", "passwd")) == errno.EROFS


def test_import_keeps_metadata(bk):
    src = bk.mkdtemp("meta")
    os.makedirs(os.path.join(src, "d", "sub"))
    with open(os.path.join(src, "d", "file"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(src, "d", "random"), "wb") as f:
        f.write(os.urandom(200000))
    for name, mode in (("suid", 0o4755), ("sgid", 0o2710), ("none", 0o000)):
        with open(os.path.join(src, name), "w") as f:
            f.write(name)
        os.chown(os.path.join(src, name), 1234, 5678)  # before chmod: chown clears setuid
        os.chmod(os.path.join(src, name), mode)
    os.mkdir(os.path.join(src, "sticky"))
    os.chmod(os.path.join(src, "sticky"), 0o1777)
    os.symlink("/etc/passwd", os.path.join(src, "abs-link"))
    os.symlink("../file", os.path.join(src, "d", "sub", "rel-link"))
    os.symlink("nowhere", os.path.join(src, "dangling"))
    os.lchown(os.path.join(src, "dangling"), 1111, 2222)
    os.link(os.path.join(src, "d", "file"), os.path.join(src, "hardlink"))
    os.mknod(os.path.join(src, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(os.path.join(src, "blk"), 0o600 | stat.S_IFBLK, os.makedev(7, 200))
    os.mkfifo(os.path.join(src, "fifo"), 0o640)
    os.setxattr(os.path.join(src, "d", "random"), "user.bk", b"value\0binary")
    os.setxattr(os.path.join(src, "d"), "user.dir", b"x")
    # Times last, children before their directory.
    for dirpath, dirnames, filenames in os.walk(src, topdown=False):
        for n in filenames + dirnames:
            os.utime(os.path.join(dirpath, n), ns=(981173106_123456789, 981173106_123456789), follow_symlinks=False)
    os.utime(os.path.join(src, "suid"), ns=(0, 946684799_500000000))

    img = bk.import_dir(src)
    diffs = bkio.tree_compare(src, bk.path("images", img, "root") + "/")
    assert not diffs, "\n".join(diffs)


def test_split_write_and_reply(bk, busybox):
    """A command split across two write()s on one fd is joined at the newline."""
    fd = os.open(bk.path("images", "import"), os.O_RDWR)
    try:
        os.write(fd, busybox.encode())
        os.write(fd, b" split:one\n")
        reply = os.read(fd, 100).decode()
    finally:
        os.close(fd)
    assert re.match(r"^img_[0-9a-f]{12}\n$", reply), repr(reply)
    assert bk.read("images", reply.strip(), "ref") == "split:one\n"


def test_ref_moves_to_newest(bk, busybox):
    a = bk.import_dir(busybox, "moving")
    assert bk.read("images", a, "ref") == "moving:latest\n"
    b = bk.import_dir(busybox, "moving:latest")
    assert a != b
    assert bk.read("images", b, "ref") == "moving:latest\n"
    assert bk.read("images", a, "ref") == ""
    c = bk.import_dir(busybox, "docker.io/library/other:1.0")
    assert bk.read("images", c, "ref") == "other:1.0\n"


def test_rmdir(bk, busybox):
    img = bk.import_dir(busybox)
    assert img in bk.tree_images() and img in bk.store_images()
    os.rmdir(bk.path("images", img))
    assert img not in bk.index_ids()
    assert img not in bk.tree_images()
    assert img not in bk.store_images()
    assert errno_of(os.stat, bk.path("images", img)) == errno.ENOENT
    assert errno_of(os.rmdir, bk.path("images", img)) == errno.ENOENT
    assert errno_of(os.rmdir, bk.path("images", "img_000000000000")) == errno.ENOENT


def _malformed(bk, busybox):
    return [
        ("a b c d\n", ()),
        ("rel/dir\n", ("rel/dir",)),
        ("\n", ()),
        ("%s busybox:bad:tag\n" % busybox, ("busybox:bad:tag",)),
    ]


@pytest.mark.parametrize("case", range(4))
def test_import_malformed_einval(bk, busybox, case):
    line, needles = _malformed(bk, busybox)[case]
    before = bk.index_ids()
    result, back = bk.write_errno("images/import", line)
    assert result == "EINVAL", (line, result)
    check_error(bk, "EINVAL", "/images/import", "write", "images/err", back, *needles)
    assert bk.index_ids() == before


def test_import_missing_enoent(bk):
    missing = os.path.join(bk.tmp, "missing-dir")
    before = bk.index_ids()
    result, back = bk.write_errno("images/import", missing + "\n")
    assert result == "ENOENT"
    check_error(bk, "ENOENT", "/images/import", "write", "images/err", back, missing, "No such file or directory")
    assert bk.index_ids() == before


def test_import_file_enotdir(bk):
    path = os.path.join(bk.mkdtemp(), "file")
    with open(path, "w") as f:
        f.write("x")
    result, back = bk.write_errno("images/import", path + "\n")
    assert result == "ENOTDIR"
    check_error(bk, "ENOTDIR", "/images/import", "write", "images/err", back, path, "Not a directory")


def test_big_write_efbig(bk):
    before = bk.index_ids()
    result, back = bk.write_errno("images/import", "/" + "a" * 70000 + "\n")
    assert result == "EFBIG"
    check_error(bk, "EFBIG", "/images/import", "write", "images/err", back)
    assert bk.index_ids() == before


@pytest.mark.parametrize("rel", ["version", "errors", "images/index", "STATE"])
def test_read_only_files_eacces(bk, busybox, rel):
    if rel == "STATE":
        ids = bk.index_ids() or [bk.import_dir(busybox)]
        rel = "images/%s/state" % ids[0]
    before = bk.read(*rel.split("/"))
    result, _ = bk.write_errno(rel, "x\n")
    assert result == "EACCES"
    if rel != "errors":
        assert bk.read(*rel.split("/")) == before


@pytest.mark.parametrize("rel", ["version", "errors", "images/index"])
def test_read_only_refusal_recorded(bk, rel):
    result, _ = bk.write_errno(rel, "x\n")
    assert result == "EACCES"
    check_error(bk, "EACCES", "/" + rel, "open|write", None, None)


def test_unknown_names_enoent(bk):
    assert errno_of(os.open, bk.path("nope"), os.O_RDONLY) == errno.ENOENT
    assert errno_of(os.open, bk.path("images", "img_000000000000", "state"), os.O_RDONLY) == errno.ENOENT
    assert errno_of(os.stat, bk.path("images", "nope")) == errno.ENOENT


def test_mkdir_refused(bk):
    before = sorted(os.listdir(bk.path("images")))
    with pytest.raises(OSError) as e:
        os.mkdir(bk.path("images", "foo"))
    assert e.value.errno in (errno.EACCES, errno.EPERM), bkio.errname(e.value.errno)
    assert sorted(os.listdir(bk.path("images"))) == before
    assert not os.path.exists(os.path.join(bk.store, "images", "foo"))


def test_mkdir_refusal_recorded(bk):
    with pytest.raises(OSError) as e:
        os.mkdir(bk.path("images", "bar"))
    check_error(bk, bkio.errname(e.value.errno), "/images/bar", "mkdir", "images/err", None)


def test_restart_keeps_images(bk, busybox):
    img = bk.import_dir(busybox, "survivor")
    index = bk.read("images", "index")
    files = {n: bk.read("images", img, n) for n in ("source", "ref", "state", "size")}
    config = json.loads(bk.read("images", img, "config"))
    assert bk.stop() == 0
    bk.start()
    assert bk.read("images", "index") == index
    for n, text in files.items():
        assert bk.read("images", img, n) == text, n
    assert json.loads(bk.read("images", img, "config")) == config
    with open(bk.path("images", img, "root", "bin", "busybox"), "rb") as a, open("/bin/busybox", "rb") as b:
        assert a.read() == b.read()


# ---- inotify through ctypes ----------------------------------------------


def test_inotify_images(bk, busybox):
    ino = Inotify()
    try:
        wd_dir = ino.add(bk.path("images"), IN_CREATE | IN_DELETE)
        wd_idx = ino.add(bk.path("images", "index"), IN_MODIFY)
        img = bk.import_dir(busybox)
        ino.wait_for([(wd_dir, IN_CREATE | IN_ISDIR, img), (wd_idx, IN_MODIFY, "")])
        os.rmdir(bk.path("images", img))
        ino.wait_for([(wd_dir, IN_DELETE | IN_ISDIR, img), (wd_idx, IN_MODIFY, "")])
    finally:
        ino.close()

#!/usr/bin/env python3
"""Push hand-made blobs, manifests and indexes to a test registry on 127.0.0.1.

Subcommands (REG is "127.0.0.1:PORT", plain http, no auth):
  opaque-layer OUT.tar            a tar layer with an opaque directory and whiteouts
  index REG REPO TAG SRCREPO SRCTAG
        an OCI index with two platforms: linux/amd64 -> SRCREPO:SRCTAG's
        manifest, and linux/arm64 -> a copy whose config says arm64 and whose
        one extra layer holds /platform = "arm64"
  zstd REG REPO TAG SRCREPO SRCTAG
        SRCREPO:SRCTAG plus a zstd-compressed layer holding /zstd-marker
  artifact REG REPO TAG           a manifest whose config is a Helm chart's
  image REG REPO TAG LAYER.tar.gz a one-layer image from a gzip tarball; prints its digest
  no-root-entry REG REPO TAG SRCREPO SRCTAG USER
        SRCREPO:SRCTAG's first layer made again without an entry for "." (as
        a tar made of the files, not of the directory), the other layers as
        they are, and User set to USER in the config
  manifest-digest REG REPO TAG    print the manifest digest of REPO:TAG
"""
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import urllib.request

OCI_MAN = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = ", ".join([OCI_MAN, OCI_INDEX, "application/vnd.docker.distribution.manifest.v2+json"])


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def req(method, url, data=None, headers=None):
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(r) as resp:
        return resp.status, dict(resp.headers), resp.read()


def put_blob(reg, repo, data):
    d = sha(data)
    _, h, _ = req("POST", "http://%s/v2/%s/blobs/uploads/" % (reg, repo), b"")
    loc = h["Location"]
    if loc.startswith("/"):
        loc = "http://%s%s" % (reg, loc)
    sep = "&" if "?" in loc else "?"
    req("PUT", "%s%sdigest=%s" % (loc, sep, d), data,
        {"Content-Type": "application/octet-stream"})
    return d


def put_manifest(reg, repo, ref, body, media_type):
    data = json.dumps(body, separators=(",", ":")).encode()
    req("PUT", "http://%s/v2/%s/manifests/%s" % (reg, repo, ref), data,
        {"Content-Type": media_type})
    return sha(data), len(data)


def get_manifest(reg, repo, ref):
    _, h, data = req("GET", "http://%s/v2/%s/manifests/%s" % (reg, repo, ref), None,
                     {"Accept": ACCEPT})
    return json.loads(data), h.get("Content-Type"), data


def get_blob(reg, repo, digest):
    return req("GET", "http://%s/v2/%s/blobs/%s" % (reg, repo, digest))[2]


def make_tar(entries):
    """entries: (name, data or None for a directory)"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            else:
                ti.size = len(data)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def copy_with_layer(reg, src_repo, src_tag, repo, layer_tar, layer_blob, layer_type,
                    arch=None):
    man, _, _ = get_manifest(reg, src_repo, src_tag)
    cfg = json.loads(get_blob(reg, src_repo, man["config"]["digest"]))
    for l in man["layers"]:  # cross-repo: push the bytes again (the registry dedupes)
        put_blob(reg, repo, get_blob(reg, src_repo, l["digest"]))
    ld = put_blob(reg, repo, layer_blob)
    cfg["rootfs"]["diff_ids"].append(sha(layer_tar))
    if arch:
        cfg["architecture"] = arch
    cfg_data = json.dumps(cfg).encode()
    cd = put_blob(reg, repo, cfg_data)
    man = dict(man)
    man["mediaType"] = OCI_MAN
    man["config"] = {"mediaType": "application/vnd.oci.image.config.v1+json",
                     "digest": cd, "size": len(cfg_data)}
    man["layers"] = [dict(l, mediaType=l["mediaType"].replace(
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.oci.image.layer.v1.tar+gzip")) for l in man["layers"]]
    man["layers"].append({"mediaType": layer_type, "digest": ld, "size": len(layer_blob)})
    return man


def main():
    cmd = sys.argv[1]
    if cmd == "opaque-layer":
        tar = make_tar([("data/", None), ("data/c", b"c from the opaque layer\n"),
                        ("data/.wh..wh..opq", b""), (".wh.gone", b""),
                        ("etc/", None), ("etc/opaque-layer", b"yes\n")])
        open(sys.argv[2], "wb").write(tar)
    elif cmd == "index":
        reg, repo, tag, src_repo, src_tag = sys.argv[2:7]
        amd, ct, raw = get_manifest(reg, src_repo, src_tag)
        for l in amd["layers"]:
            put_blob(reg, repo, get_blob(reg, src_repo, l["digest"]))
        put_blob(reg, repo, get_blob(reg, src_repo, amd["config"]["digest"]))
        amd_d, amd_n = sha(raw), len(raw)
        req("PUT", "http://%s/v2/%s/manifests/%s" % (reg, repo, amd_d), raw,
            {"Content-Type": ct})
        tar = make_tar([("platform", b"arm64\n")])
        arm = copy_with_layer(reg, src_repo, src_tag, repo, tar, tar,
                              "application/vnd.oci.image.layer.v1.tar", arch="arm64")
        arm_d, arm_n = put_manifest(reg, repo, sha(json.dumps(arm, separators=(",", ":")).encode()),
                                    arm, OCI_MAN)
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": ct.split(";")[0], "digest": amd_d, "size": amd_n,
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MAN, "digest": arm_d, "size": arm_n,
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}
        print(put_manifest(reg, repo, tag, index, OCI_INDEX)[0])
    elif cmd == "zstd":
        reg, repo, tag, src_repo, src_tag = sys.argv[2:7]
        tar = make_tar([("zstd-marker", b"compressed with zstd\n")])
        blob = subprocess.run(["zstd", "-q", "-c"], input=tar, capture_output=True,
                              check=True).stdout
        man = copy_with_layer(reg, src_repo, src_tag, repo, tar, blob,
                              "application/vnd.oci.image.layer.v1.tar+zstd")
        print(put_manifest(reg, repo, tag, man, OCI_MAN)[0])
    elif cmd == "artifact":
        reg, repo, tag = sys.argv[2:5]
        cfg = b'{"name":"chart"}'
        cd = put_blob(reg, repo, cfg)
        layer = b"not a tar"
        ld = put_blob(reg, repo, layer)
        man = {"schemaVersion": 2, "mediaType": OCI_MAN,
               "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json",
                          "digest": cd, "size": len(cfg)},
               "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                           "digest": ld, "size": len(layer)}]}
        print(put_manifest(reg, repo, tag, man, OCI_MAN)[0])
    elif cmd == "image":
        # image REG REPO TAG LAYER.tar.gz: a one-layer image from a gzip tarball
        reg, repo, tag, path = sys.argv[2:6]
        data = open(path, "rb").read()
        tar = subprocess.run(["gzip", "-dc", path], capture_output=True, check=True).stdout
        ld = put_blob(reg, repo, data)
        cfg = json.dumps({"architecture": "amd64", "os": "linux",
                          "config": {"Cmd": ["/bin/sh"]},
                          "rootfs": {"type": "layers", "diff_ids": [sha(tar)]}}).encode()
        cd = put_blob(reg, repo, cfg)
        man = {"schemaVersion": 2, "mediaType": OCI_MAN,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                          "digest": cd, "size": len(cfg)},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                           "digest": ld, "size": len(data)}]}
        put_manifest(reg, repo, tag, man, OCI_MAN)
        print(ld)
    elif cmd == "no-root-entry":
        reg, repo, tag, src_repo, src_tag, user = sys.argv[2:8]
        man, _, _ = get_manifest(reg, src_repo, src_tag)
        cfg = json.loads(get_blob(reg, src_repo, man["config"]["digest"]))
        first = man["layers"][0]
        src = tarfile.open(fileobj=io.BytesIO(get_blob(reg, src_repo, first["digest"])),
                           mode="r:*")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            dropped = 0
            for m in src.getmembers():
                if m.name.strip("/") in ("", "."):
                    dropped += 1
                    continue
                t.addfile(m, src.extractfile(m) if m.isfile() else None)
        if dropped == 0:
            sys.exit("%s:%s's first layer has no entry for '.'" % (src_repo, src_tag))
        tar = buf.getvalue()
        blob = gzip.compress(tar, mtime=0)
        layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                   "digest": put_blob(reg, repo, blob), "size": len(blob)}]
        for l in man["layers"][1:]:
            put_blob(reg, repo, get_blob(reg, src_repo, l["digest"]))
            layers.append(dict(l))
        cfg["rootfs"]["diff_ids"][0] = sha(tar)
        cfg.setdefault("config", {})["User"] = user
        cfg_data = json.dumps(cfg).encode()
        man = {"schemaVersion": 2, "mediaType": OCI_MAN,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                          "digest": put_blob(reg, repo, cfg_data), "size": len(cfg_data)},
               "layers": layers}
        print(put_manifest(reg, repo, tag, man, OCI_MAN)[0])
    elif cmd == "manifest-digest":
        reg, repo, tag = sys.argv[2:5]
        print(sha(get_manifest(reg, repo, tag)[2]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()

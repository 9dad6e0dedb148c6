#!/bin/bash
# Build the test images as an OCI layout with umoci, from Debian's
# busybox-static (/bin/busybox):
#   busybox  one gzip layer: scripts/busybox-rootfs.sh's busybox rootfs
#   multi    busybox + a layer adding files (setuid, hardlink, owner 1000,
#            symlink) + a layer deleting /etc/hello (umoci writes
#            etc/.wh.hello) + a layer with an opaque /data and .wh.gone
#   corrupt  busybox + a layer of its own (its blob is damaged once pushed)
#   big      busybox + 3 layers of 8 MiB of random data each
# Usage: build-images.sh OUTDIR   (OUTDIR/oci is the layout)
set -eu
out=$1
oci=$out/oci
work=$out/work
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$oci" "$work"
mkdir -p "$work"
export SOURCE_DATE_EPOCH=1700000000

umoci init --layout "$oci"
umoci new --image "$oci:busybox"
umoci unpack --image "$oci:busybox" "$work/b" >/dev/null
"$here/../../../scripts/busybox-rootfs.sh" "$work/b/rootfs"
umoci repack --image "$oci:busybox" "$work/b"
umoci config --image "$oci:busybox" --config.cmd sh \
	--config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --os linux --architecture amd64

# multi: three more layers on busybox, each unpacked from the one before so
# that umoci writes the deletion as a whiteout.
umoci unpack --image "$oci:busybox" "$work/m" >/dev/null
r=$work/m/rootfs
mkdir -p "$r/data" "$r/gone" "$r/opt"
echo hello >"$r/etc/hello"
echo a >"$r/data/a"
echo b >"$r/data/b"
echo x >"$r/gone/x"
echo file >"$r/opt/file"
ln "$r/opt/file" "$r/opt/hard"
printf '#!/bin/sh\necho suid\n' >"$r/opt/suid"
chmod 4755 "$r/opt/suid"
echo owned >"$r/opt/owned"
chown 1000:1001 "$r/opt/owned"
ln -s ../opt/file "$r/data/link"
umoci repack --image "$oci:multi" "$work/m"
umoci unpack --image "$oci:multi" "$work/m2" >/dev/null
rm "$work/m2/rootfs/etc/hello"
umoci repack --image "$oci:multi" "$work/m2"
/usr/bin/python3 "$here/push.py" opaque-layer "$work/opaque.tar"
umoci raw add-layer --image "$oci:multi" "$work/opaque.tar"

# corrupt: a layer no other image shares, so damaging its blob harms nothing else.
umoci unpack --image "$oci:busybox" "$work/c" >/dev/null
head -c 4096 /dev/urandom >"$work/c/rootfs/corrupt-me"
umoci repack --image "$oci:corrupt" "$work/c"

# big: three layers of random data.
umoci unpack --image "$oci:busybox" "$work/g" >/dev/null
prev=busybox
for i in 1 2 3; do
	umoci unpack --image "$oci:$prev" "$work/g$i" >/dev/null
	head -c 8M /dev/urandom >"$work/g$i/rootfs/big$i"
	umoci repack --image "$oci:big" "$work/g$i"
	prev=big
done
rm -rf "$work"

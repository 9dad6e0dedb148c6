#!/bin/sh
# Make a minimal root filesystem in DIR from Debian's busybox-static, laid out as
# Docker's busybox image is: the busybox binary and a relative link to it for each
# applet in /bin, /etc/passwd and /etc/group with root and nobody, /tmp and
# /var/tmp 1777, /root 0700.  `make start`, the benchmarks and the test fixtures
# (tests/lib/fixture.bash, tests/py/conftest.py, the test registry's images) all
# make their busybox image with this.
set -eu
dir=${1:?usage: busybox-rootfs.sh DIR}
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || { echo "busybox-rootfs: $bb not found (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
mkdir -p bin etc root tmp proc sys dev var/tmp home
chmod 1777 tmp var/tmp
chmod 0700 root
cp "$bb" bin/busybox
chmod 0755 bin/busybox
for applet in $("$bb" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' >etc/group

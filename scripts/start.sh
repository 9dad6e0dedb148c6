#!/bin/sh
# Start bockerfs with its defaults and make sure a `busybox` image exists, so
# that a newcomer can run containers at once and offline.
#   BOCKERFS       mount point     (default /run/bockerfs)
#   BOCKERFS_ROOT  state directory (default /var/lib/bockerfs)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
B=${BOCKERFS:-/run/bockerfs}
root=${BOCKERFS_ROOT:-/var/lib/bockerfs}
bin=${BOCKERFS_BIN:-$here/build/bockerfs}

# A live tree answers; a daemon killed with SIGKILL leaves a dead mount (ENOTCONN),
# which the new daemon detaches itself.
if cat "$B/version" >/dev/null 2>&1; then
	echo "bockerfs: already mounted at $B"
else
	"$bin" --root "$root" "$B"
	i=0
	until cat "$B/version" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "bockerfs: did not come up; see $root/bockerfs.log" >&2; exit 1; }
		sleep 0.1
	done
	echo "bockerfs: $(cat "$B/version") mounted at $B (state in $root, log $root/bockerfs.log)"
fi

if ! cat "$B"/images/img_*/ref 2>/dev/null | grep -qx 'busybox:latest'; then
	rootfs=$root/busybox-rootfs
	rm -rf "$rootfs"
	"$here/scripts/busybox-rootfs.sh" "$rootfs"
	exec 3<>"$B/images/import"
	echo "$rootfs busybox" >&3
	read -r id <&3
	exec 3>&-
	echo "bockerfs: imported busybox as $id"
fi
cat "$B/images/index"

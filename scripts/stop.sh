#!/bin/sh
# Stop the daemon started by scripts/start.sh: unmounting the tree ends it.
set -eu
B=${BOCKERFS:-/run/bockerfs}
root=${BOCKERFS_ROOT:-/var/lib/bockerfs}
pid=$(cat "$root/bockerfs.pid" 2>/dev/null || true)
if mountpoint -q "$B" 2>/dev/null; then
	fusermount3 -u "$B"
fi
if [ -n "$pid" ]; then
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi
echo "bockerfs: stopped"

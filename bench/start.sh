#!/bin/bash
# bench/start.sh: container start on this host's cgroups, v1 or v2, against the
# kernel's floor on the same machine, so that a run in the cgroup v2 lane
# (`make bench-v2`: Debian 12's kernel under emulation, where every figure is
# many times the host's) compares with one on the host as a ratio.  Medians of
# RUNS (default 30) in ms: bockerfs run-to-exit of `true` with `net mode none`
# (image snapshot, spare init, cgroup, wait) and with the bridge; the floor is
# `unshare -fmuipn chroot DIR /bin/true` on the same busybox tree.  Then the
# same start without spare inits (the failpoint spare-init.take), to show the
# head start they give on this host's cgroups.  Prints a table and writes
# build/bench/start-cgroupV.json.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
RUNS=${RUNS:-30}
BIN=${BOCKERFS_BIN:-$top/build/bockerfs}
BKB=$top/build/bench/bkbench
W=$(mktemp -d /var/tmp/bkstart.XXXXXX)
MNT=$W/mnt
daemon=""
cleanup() {
	set +e
	if [ -n "$daemon" ]; then
		kill -TERM "$daemon"
		for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
	fi
	mountpoint -q "$MNT" && umount -l "$MNT"
	mountpoint -q "$W/root/store" && umount -l "$W/root/store"
	for d in $(losetup -j "$W/root/storage.img" -O NAME -n 2>/dev/null); do losetup -d "$d"; done
	rm -rf "$W"
}
trap cleanup EXIT
[ -x "$BKB" ] || { echo "bench/start.sh: no $BKB (make build/bench/bkbench)" >&2; exit 1; }
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then v=2; else v=1; fi

start_daemon() {
	mkdir -p "$MNT"
	env "$@" "$BIN" -f --root "$W/root" --storage-size 4G "$MNT" 2>>"$W/daemon.log" &
	daemon=$!
	for _ in $(seq 600); do cat "$MNT/version" >/dev/null 2>&1 && break; sleep 0.1; done
}
stop_daemon() {
	kill -TERM "$daemon"
	while kill -0 "$daemon" 2>/dev/null; do sleep 0.1; done
	daemon=""
}
start_daemon
"$top/scripts/busybox-rootfs.sh" "$W/bb" >/dev/null
exec 3<>"$MNT/images/import"
echo "$W/bb busybox" >&3
read -r _ <&3
exec 3>&-
sleep 2 # the first spare snapshot and init

none=$("$BKB" "$MNT" runnone "$RUNS" busybox | cut -d' ' -f1)
bridge=$("$BKB" "$MNT" run "$RUNS" busybox | cut -d' ' -f1)
stop_daemon
start_daemon BOCKERFS_FAILPOINTS=spare-init.take=error
sleep 2
nospare=$("$BKB" "$MNT" runnone "$RUNS" busybox | cut -d' ' -f1)
floor=$(python3 - "$RUNS" "$W/bb" <<'PY'
import statistics, subprocess, sys, time
runs, root = int(sys.argv[1]), sys.argv[2]
cmd = ["unshare", "-fmuipn", "--mount-proc", "chroot", root, "/bin/true"]
for _ in range(2):
    subprocess.run(cmd, check=True)
t = []
for _ in range(runs):
    a = time.monotonic()
    subprocess.run(cmd, check=True)
    t.append((time.monotonic() - a) * 1000)
print("%.2f" % statistics.median(t))
PY
)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf 'bockerfs start on cgroup v%s, kernel %s, %s CPUs, RUNS=%s (median ms)\n' "$v" "$(uname -r)" "$(nproc)" "$RUNS"
printf '%-44s %9s %9s\n' "" ms "/ floor"
printf '%-44s %9s %9s\n' "run-to-exit, net mode none" "$none" "$(ratio "$none" "$floor")"
printf '%-44s %9s %9s\n' "run-to-exit, bridge" "$bridge" "$(ratio "$bridge" "$floor")"
printf '%-44s %9s %9s\n' "run-to-exit, none, no spare inits" "$nospare" "$(ratio "$nospare" "$floor")"
printf '%-44s %9s\n' "the spare inits' head start" "$(awk -v a="$nospare" -v b="$none" 'BEGIN { printf "%.2f", a - b }')"
printf '%-44s %9s %9s\n' "unshare -fmuipn chroot /bin/true (floor)" "$floor" 1.00
mkdir -p "$top/build/bench"
printf '{"cgroup": %s, "kernel": "%s", "runs": %s, "run_to_exit_none_ms": %s, "run_to_exit_bridge_ms": %s, "run_to_exit_none_no_spares_ms": %s, "floor_ms": %s, "none_over_floor": %s, "bridge_over_floor": %s}\n' \
	"$v" "$(uname -r)" "$RUNS" "$none" "$bridge" "$nospare" "$floor" "$(ratio "$none" "$floor")" "$(ratio "$bridge" "$floor")" \
	>"$top/build/bench/start-cgroup$v.json"

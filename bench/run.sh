#!/bin/bash
# make bench: bockerfs side by side with its peers, in one run, as ratios.
#
# Each section starts what it needs and removes it afterwards.  Figures are
# medians over RUNS repetitions (default 30; QUICK=1: 10), in ms unless said.
# Peers: crun (the practical floor for a runtime), unshare+chroot (the kernel
# floor), podman (what users would pick).  The two cgroup/rlimit quirks of
# this machine that crun and podman need worked around are handled where
# each is started, below (a hybrid cgroup layout crun 1.8 refuses; podman's
# default ulimits).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
RUNS=${RUNS:-30}
[ "${QUICK:-0}" = 1 ] && RUNS=10
BIN=${BOCKERFS_BIN:-$top/build/bockerfs}
BKB=$top/build/bench/bkbench
W=$(mktemp -d /var/tmp/bkbench.XXXXXX)
MNT=$W/mnt
ROOT=$W/root
daemon=""

cleanup() {
	set +e
	if [ -n "$daemon" ]; then
		for c in $(ls "$MNT/containers" 2>/dev/null | grep -v -e '^clone$' -e '^run$' -e '^index$' -e '^err$'); do
			echo "rm force" >"$MNT/containers/$c/ctl" 2>/dev/null
		done
		kill -TERM "$daemon" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
	fi
	[ -n "${PODMAN:-}" ] && $PODMAN system reset -f >/dev/null 2>&1
	grep -o " $W/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
	mountpoint -q "$MNT" && umount -l "$MNT"
	mountpoint -q "$ROOT/store" && umount -l "$ROOT/store"
	for d in $(losetup -j "$ROOT/storage.img" -O NAME -n 2>/dev/null); do losetup -d "$d"; done
	rm -rf "$W"
}
trap cleanup EXIT

# Every figure also goes to a JSON file beside the table (build/bench/figures.json and a
# dated copy), so that runs can be compared: record KEY VALUE UNIT [PEER_KEY].
export BENCH_FIGURES=$W/figures.tsv
: >"$BENCH_FIGURES"
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$BENCH_FIGURES"; }
write_json() {
	local out=$top/build/bench
	mkdir -p "$out"
	python3 - "$BENCH_FIGURES" "$out" <<'PY'
import json, os, platform, sys, time
src, out = sys.argv[1], sys.argv[2]
figs = {}
for line in open(src):
    key, value, unit, peer = (line.rstrip("\n").split("\t") + [""] * 4)[:4]
    try:
        v = float(value)
    except ValueError:
        v = None
    figs[key] = {"value": v, "unit": unit}
for key, f in figs.items():
    peer = next((l.rstrip("\n").split("\t")[3] for l in open(src) if l.split("\t")[0] == key), "")
    if peer and peer in figs and f["value"] is not None and figs[peer]["value"]:
        f["ratio_to"] = peer
        f["ratio"] = round(f["value"] / figs[peer]["value"], 3)
stamp = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
doc = {"date": stamp, "kernel": platform.release(), "cpus": os.cpu_count(),
       "runs": int(os.environ.get("RUNS", "30")), "figures": figs}
for name in ("figures.json", "figures-%s.json" % stamp):
    with open(os.path.join(out, name), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
print("figures: %s" % os.path.join(out, "figures-%s.json" % stamp))
PY
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
row() { printf "%-46s %10s %10s   %s\n" "$1" "$2" "$3" "$4"; }
# best3 CMD...: the least of three runs' medians (the first field).  A FUSE round trip's
# median here swings between two modes (35 and 70 us, by where the woken threads land):
# a single median made a ratio of two of them a coin toss.
best3() { for _ in 1 2 3; do "$@" | cut -d' ' -f1; done | sort -g | head -n1; }

# Median ms of RUNS runs of a command (no shell in between).
median_cmd() {
	hyperfine -N --runs "$RUNS" --warmup 2 --export-json "$W/h.json" "$@" >/dev/null 2>&1 ||
		{ echo "-"; return; }
	python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$W/h.json"
}

# The FUSE requests that an open+read+close of containers/ID/state costs, by
# opcode ("GETATTR OPEN READ*2 RELEASE"), counted over 200 of them by the
# kernel's fuse tracepoints in a private tracing instance; "-" without tracefs.
fuse_requests() {
	local t=/sys/kernel/tracing/instances/bkbench.$$ dev out
	if [ ! -d /sys/kernel/tracing/events/fuse ] || ! mkdir "$t" 2>/dev/null; then
		echo "-"
		return
	fi
	dev=$(stat -c %d "$MNT")
	echo "connection == $dev" >"$t/events/fuse/fuse_request_send/filter"
	echo 1 >"$t/events/fuse/fuse_request_send/enable"
	"$BKB" "$MNT" state 200 "$1" >/dev/null
	echo 0 >"$t/events/fuse/fuse_request_send/enable"
	out=$(grep -o '(FUSE_[A-Z]*)' "$t/trace" | tr -d '()' | sed 's/^FUSE_//' | sort | uniq -c |
		awk '{ n = $1 / 200; printf "%s%s", (NR > 1 ? " " : ""), (n == 1 ? $2 : $2 "*" n) }')
	rmdir "$t"
	echo "${out:--}"
}

start_daemon() {
	mkdir -p "$MNT"
	"$BIN" -f --root "$ROOT" --storage-size 8G "$MNT" 2>"$W/daemon.log" &
	daemon=$!
	for _ in $(seq 100); do cat "$MNT/version" >/dev/null 2>&1 && break; sleep 0.1; done
	"$top/scripts/busybox-rootfs.sh" "$W/bb" >/dev/null
	exec 3<>"$MNT/images/import"
	echo "$W/bb busybox" >&3
	read -r IMG <&3
	exec 3>&-
	sleep 1 # the first spare snapshot
}

echo "bockerfs bench: $(date -u +%FT%TZ), $(nproc) CPUs, kernel $(uname -r), RUNS=$RUNS"
echo
start_daemon

# ---- container start ------------------------------------------------------
echo "== run-to-exit of 'true' (busybox), median ms; ratio = bockerfs / peer"
bk_run=$("$BKB" "$MNT" run "$RUNS" busybox | cut -d' ' -f1)
floor=$(median_cmd "unshare -fmuipn --mount-proc chroot $W/bb /bin/true")

# crun: an OCI bundle on the same rootfs (already on disk: crun's best case).
mkdir -p "$W/bundle"
(cd "$W/bundle" && crun spec >/dev/null 2>&1)
python3 - "$W/bundle/config.json" "$W/bb" <<'EOF'
import json, sys
p, root = sys.argv[1], sys.argv[2]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"] = {"path": root, "readonly": True}
ns = c["linux"]["namespaces"]
if not any(n["type"] == "network" for n in ns):
    ns.append({"type": "network"})
json.dump(c, open(p, "w"))
EOF
crun_ms="-"
if command -v crun >/dev/null; then
	# crun 1.8 refuses this hybrid cgroup layout unless cgroup2 is hidden from it.
	cat >"$W/crun.sh" <<EOF
#!/bin/sh
umount /sys/fs/cgroup/unified 2>/dev/null
exec crun run -b "$W/bundle" bench-crun-\$\$
EOF
	chmod +x "$W/crun.sh"
	crun_ms=$(median_cmd "unshare -m --propagation private $W/crun.sh")
	# unshare -m itself costs a little; measure it to report crun fairly.
	un_ms=$(median_cmd "unshare -m --propagation private /bin/true")
	crun_ms=$(awk -v a="$crun_ms" -v b="$un_ms" 'BEGIN { printf "%.2f", a - b }')
fi
podman_ms="-"
if command -v podman >/dev/null; then
	cat >"$W/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
	export CONTAINERS_CONF=$W/containers.conf
	# runc: podman's default crun 1.8 refuses this hybrid cgroup layout.
	PODMAN="podman --root $W/podman/root --runroot $W/podman/run --runtime runc"
	if tar -C "$W/bb" -c . | $PODMAN import - localhost/bench-bb >/dev/null 2>&1; then
		podman_ms=$(RUNS=$(( RUNS < 10 ? RUNS : 10 )) median_cmd "$PODMAN run --rm --network none localhost/bench-bb /bin/true")
	fi
fi
record run_to_exit_ms "$bk_run" ms crun_ms
record crun_ms "$crun_ms" ms
record kernel_floor_ms "$floor" ms
record podman_run_ms "$podman_ms" ms
record run_to_exit_vs_floor "$bk_run" ms kernel_floor_ms
record run_to_exit_vs_podman "$bk_run" ms podman_run_ms
row "" "ms" "ratio" ""
row "bockerfs: run write .. wait returns" "$bk_run" "" "fresh snapshot, own netns, cgroup"
row "crun run (existing rootfs, netns)" "$crun_ms" "$(ratio "$bk_run" "$crun_ms")" "target <= 1.0"
row "unshare -fmuipn chroot (kernel floor)" "$floor" "$(ratio "$bk_run" "$floor")" ""
row "podman run --rm --network none" "$podman_ms" "$(ratio "$podman_ms" "$bk_run")x" "podman/bockerfs, target >= 25x"
# The same start alone: 50 ms after the last one, what the daemon makes ahead (snapshot,
# init, network) is ready again and the kernel has cleaned up after it (netns, subvolume).
bk_spaced=$(BKBENCH_GAP_MS=50 "$BKB" "$MNT" run "$RUNS" busybox | cut -d' ' -f1)
record run_to_exit_spaced_ms "$bk_spaced" ms kernel_floor_ms
row "bockerfs, starts 50 ms apart" "$bk_spaced" "$(ratio "$bk_spaced" "$floor")" "ratio to the kernel floor"
# Throughput: 100 run + wait + rmdir in a row, the whole loop.
t0=$(date +%s%N)
"$BKB" "$MNT" run 100 busybox >/dev/null
bk_loop=$(( ($(date +%s%N) - t0) / 1000000 ))
record run_rm_100_ms "$bk_loop" ms
row "100 x (run, wait, rmdir) in a row (ms)" "$bk_loop" "" "whole loop"
echo

# ---- network setup cost ------------------------------------------------------
echo "== networking: run-to-exit of 'true', median ms"
bk_none=$("$BKB" "$MNT" runnone "$RUNS" busybox | cut -d' ' -f1)
record run_to_exit_net_none_ms "$bk_none" ms
row "bockerfs, net mode bridge (veth, address)" "$bk_run" "" ""
row "bockerfs, net mode none (5 file writes)" "$bk_none" "" "bridge adds $(awk -v a="$bk_run" -v b="$bk_none" 'BEGIN { printf "%.1f", a - b }') ms"
row "crun run, new netns" "$crun_ms" "$(ratio "$bk_run" "$crun_ms")" ""
echo

# ---- mounts ------------------------------------------------------------------
echo "== mounts: run-to-exit of 'true' (net mode none), median ms"
mkdir -p "$W/binds/a" "$W/binds/b" "$W/binds/c"
printf 'bind %s /a\nbind %s /b ro\nbind %s /c\nvolume benchvol /v\n' "$W/binds/a" "$W/binds/b" \
	"$W/binds/c" >"$W/mounts.txt"
bk_mounts=$("$BKB" "$MNT" runmounts "$RUNS" busybox "$W/mounts.txt" | cut -d' ' -f1)
record run_to_exit_mounts_ms "$bk_mounts" ms run_to_exit_net_none_ms
row "bockerfs, 3 binds and a named volume" "$bk_mounts" "$(ratio "$bk_mounts" "$bk_none")" "ratio to no mounts, target <= 1.2"
echo

# ---- exec ---------------------------------------------------------------------
echo "== exec of 'true' in a running container, median ms"
exec 3<>"$MNT/containers/run"; echo "busybox sleep 1000" >&3; read -r EXC <&3; exec 3>&-
bk_exec=$("$BKB" "$MNT" exec "$RUNS" "$EXC" | cut -d' ' -f1)
epid=$(cat "$MNT/containers/$EXC/pid")
# In the container's mount namespace its root is /: chroot / keeps the peers' shape.
ns_floor=$(median_cmd "nsenter -t $epid -m -u -i -n -p chroot / /bin/true")
record exec_ms "$bk_exec" ms nsenter_ms
record nsenter_ms "$ns_floor" ms
row "bockerfs: exec/N/ctl write .. wait returns" "$bk_exec" "" ""
row "nsenter -t PID -muinp chroot (floor)" "$ns_floor" "$(ratio "$bk_exec" "$ns_floor")" "target <= 1.5"
# Commit: a snapshot, O(1) in the image's size.
t0=$(date +%s%N)
exec 3<>"$MNT/containers/$EXC/ctl"; echo "commit bench-commit" >&3; read -r CIMG <&3; exec 3>&-
t1=$(date +%s%N)
record commit_ms "$(( (t1 - t0) / 1000000 ))" ms
row "commit of a running container (ms)" "$(( (t1 - t0) / 1000000 ))" "" "a btrfs snapshot"
echo "rm force" >"$MNT/containers/$EXC/ctl"
rmdir "$MNT/images/$CIMG"
echo

# ---- terminals ------------------------------------------------------------------
echo "== keystroke round trip in an attached terminal (a key to 'in' until its echo on 'out'), median ms"
mkdir "$MNT/containers/bench-tty"
echo busybox >"$MNT/containers/bench-tty/image"
echo 'exec cat' >"$MNT/containers/bench-tty/cmd"
echo 1 >"$MNT/containers/bench-tty/tty"
echo start >"$MNT/containers/bench-tty/ctl"
bk_key=$("$BKB" "$MNT" keystroke $((RUNS * 10)) bench-tty | awk '{ printf "%.3f", $1 / 1000 }')
echo "rm force" >"$MNT/containers/bench-tty/ctl"
# The peer: podman exec -it on a pty, the same key-to-echo loop.
podman_key="-"
if [ -n "${PODMAN:-}" ] && $PODMAN run -d --name bench-ks --network none localhost/bench-bb sleep 1000 >/dev/null 2>&1; then
	podman_key=$(python3 - $((RUNS * 10)) $PODMAN exec -it bench-ks cat <<'PY'
import os, pty, select, statistics, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
time.sleep(2)
while select.select([fd], [], [], 0.2)[0]:
    os.read(fd, 4096)
t = []
for i in range(n):
    key = bytes([97 + i % 26])
    a = time.monotonic()
    os.write(fd, key)
    got = b""
    while key not in got:
        if not select.select([fd], [], [], 5)[0]:
            print("-"); sys.exit(0)
        got += os.read(fd, 4096)
    t.append((time.monotonic() - a) * 1000)
os.write(fd, b"\x04")
print("%.3f" % statistics.median(t))
PY
)
	$PODMAN rm -f bench-ks >/dev/null 2>&1
fi
record keystroke_ms "$bk_key" ms podman_keystroke_ms
record podman_keystroke_ms "$podman_key" ms
row "bockerfs: in write .. echo read from out" "$bk_key" "" "target <= 2 ms"
row "podman exec -it (pty)" "$podman_key" "$(ratio "$bk_key" "$podman_key")" ""
echo

# ---- control files ---------------------------------------------------------
echo "== control-file operations"
mkdir "$MNT/containers/bench-state"
echo busybox >"$MNT/containers/bench-state/image"
st=$(best3 "$BKB" "$MNT" state 5000 bench-state)
record state_read_us "$st" us
row "open+read+close containers/ID/state (us)" "$st" "" "target <= 100 us (FUSE floor ~60)"
row "  FUSE requests per open+read+close" "" "" "$(fuse_requests bench-state)"
# The floor: the least libfuse low-level server (bench/fusefloor.c), same loop, one file.
FLOOR=$W/floor
mkdir -p "$FLOOR"
"$top/build/bench/fusefloor" "$FLOOR" &
floor_pid=$!
for _ in $(seq 100); do [ -e "$FLOOR/state" ] && break; sleep 0.05; done
fl=$(best3 "$BKB" "$MNT" read 5000 "$FLOOR/state")
umount "$FLOOR" 2>/dev/null || fusermount3 -u "$FLOOR"
wait "$floor_pid" 2>/dev/null
record fuse_floor_read_us "$fl" us
record state_read_vs_floor "$st" us fuse_floor_read_us
row "  the same on a minimal libfuse server (us)" "$fl" "$(ratio "$st" "$fl")" "bench/fusefloor.c; target <= 1.0"
ctl1=$(best3 "$BKB" "$MNT" ctl 2000 "$MNT/containers/bench-state/env" "A=1")
record ctl_write_us "$ctl1" us
row "open+write+close of a container's env (us)" "$ctl1" "" "a control write that runs nothing"
for i in $(seq 999); do mkdir "$MNT/containers/bench-$i"; done
idx=$("$BKB" "$MNT" index 50 | cut -d' ' -f1)
record index_1000_ms "$idx" ms
row "cat containers/index, 1000 containers (ms)" "$idx" "" "target <= 10 ms (podman ps, 50: ~120)"
for i in $(seq 999); do rmdir "$MNT/containers/bench-$i"; done
echo

# ---- memory and removal ------------------------------------------------------
echo "== 50 running containers"
for i in $(seq 50); do
	exec 3<>"$MNT/containers/run"; echo "busybox sleep 1000" >&3; read -r id <&3; exec 3>&-
	echo "$id" >>"$W/ids"
done
pss=0
for id in $(cat "$W/ids"); do
	p=$(cat "$MNT/containers/$id/pid")
	k=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup")
	pss=$((pss + k))
done
record init_pss_kib "$((pss / 50))" KiB
row "host memory per container: init Pss (KiB)" "$((pss / 50))" "" "podman conmon ~360 KiB; target <= 102"
t0=$(date +%s.%N)
pids=""
for id in $(cat "$W/ids"); do
	echo "rm force" >"$MNT/containers/$id/ctl" &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
t1=$(date +%s.%N)
rm_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
record rm_force_50_ms "$rm_ms" ms
row "rm force of 50 running containers (ms)" "$rm_ms" "$(ratio 4000 "$rm_ms")x" "podman rm -af -t0 ~4000 ms; target <= 500"
echo

# ---- bursts -------------------------------------------------------------------
echo "== 100 runs of 'true' at once: wall ms (each start's p50 / p99 ms)"
read -r bw bp50 bp99 < <("$BKB" "$MNT" burst 100 busybox)
record burst_100_ms "$bw" ms crun_burst_100_ms
record burst_100_p50_ms "$bp50" ms
record burst_100_p99_ms "$bp99" ms
crun_bw="-"
if command -v crun >/dev/null; then
	cat >"$W/crun-burst.sh" <<EOF
#!/bin/bash
umount /sys/fs/cgroup/unified 2>/dev/null
for i in \$(seq 100); do crun run -b "$W/bundle" bench-burst-\$\$-\$i & done
wait
EOF
	chmod +x "$W/crun-burst.sh"
	t0=$(date +%s.%N)
	unshare -m --propagation private "$W/crun-burst.sh" >/dev/null 2>&1
	crun_bw=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
fi
podman_bw="-"
if [ -n "${PODMAN:-}" ] && [ "${QUICK:-0}" != 1 ]; then
	t0=$(date +%s.%N)
	pids=""
	for i in $(seq 100); do
		$PODMAN run --rm --network none localhost/bench-bb /bin/true >/dev/null 2>&1 &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086
	wait $pids
	podman_bw=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
fi
record crun_burst_100_ms "$crun_bw" ms
record podman_burst_100_ms "$podman_bw" ms
row "bockerfs: 100 run writes at once, all waited" "$bw" "$(ratio "$bw" "$crun_bw")" "ratio to 100 crun run at once ($crun_bw ms); target <= 0.5"
row "  each start, p50 / p99 (ms)" "$bp50 / $bp99" "" "podman run --rm x100 at once: $podman_bw ms"
echo

# ---- thousands ------------------------------------------------------------------
N=${BENCH_THOUSANDS:-1000}
M=$((N * 10))
echo "== $N running containers (sleep), $M created"
t0=$(date +%s.%N)
: >"$W/many"
for i in $(seq "$N"); do
	exec 3<>"$MNT/containers/run"; echo "busybox sleep 100000" >&3; read -r id <&3; exec 3>&-
	echo "$id" >>"$W/many"
done
many_ms=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
row "started $N, one after another (ms)" "$many_ms" "" ""
sleep 5
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon/status")
read -r u0 s0 < <(awk '{ print $14, $15 }' "/proc/$daemon/stat")
sleep 10
read -r u1 s1 < <(awk '{ print $14, $15 }' "/proc/$daemon/stat")
idle=$(awk -v d=$((u1 + s1 - u0 - s0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", d / hz / 10 * 100 }')
st_many=$(best3 "$BKB" "$MNT" state 5000 bench-state)
ctl_many=$(best3 "$BKB" "$MNT" ctl 2000 "$MNT/containers/bench-state/env" "A=1")
idx_many=$("$BKB" "$MNT" index 50 | cut -d' ' -f1)
pss=0
for id in $(head -n 200 "$W/many"); do
	p=$(cat "$MNT/containers/$id/pid")
	k=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup")
	pss=$((pss + k))
done
record daemon_rss_1000_kib "$rss" KiB
record daemon_idle_cpu_pct "$idle" pct
record state_read_1000_us "$st_many" us state_read_us
record ctl_write_1000_us "$ctl_many" us ctl_write_us
record index_1000_running_ms "$idx_many" ms
record init_pss_1000_kib "$((pss / 200))" KiB
row "daemon RSS (KiB)" "$rss" "" ""
row "daemon CPU at rest (% of one CPU, 10 s)" "$idle" "" "target <= 1"
row "open+read+close of state (us)" "$st_many" "$(ratio "$st_many" "$st")" "ratio to 1 container; target <= 1.2"
row "open+write+close of env (us)" "$ctl_many" "$(ratio "$ctl_many" "$ctl1")" "ratio to 1 container; target <= 1.2"
row "cat containers/index (ms)" "$idx_many" "" "target <= 5"
row "init Pss per running container (KiB)" "$((pss / 200))" "" "target <= 64"
# The daemon's start with them all to adopt.
kill -TERM "$daemon"; wait "$daemon" 2>/dev/null
t0=$(date +%s.%N)
"$BIN" -f --root "$ROOT" --storage-size 8G "$MNT" 2>>"$W/daemon.log" &
daemon=$!
listed() { local n; n=$(grep -c . "$MNT/containers/index" 2>/dev/null); [ "${n:-0}" -gt "$N" ]; }
until listed; do sleep 0.01; done
adopt_ms=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
record daemon_start_1000_ms "$adopt_ms" ms
row "daemon start, $N running to adopt (ms)" "$adopt_ms" "" "until all are listed"
t0=$(date +%s.%N)
pids=""
for id in $(cat "$W/many"); do
	echo "rm force" >"$MNT/containers/$id/ctl" &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
row "rm force of $N at once (ms)" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", (b - a) * 1000 }')" "" ""
for i in $(seq "$M"); do cat "$MNT/containers/clone" >/dev/null; done
ls_ms=$("$BKB" "$MNT" ls 20 "$MNT/containers" | cut -d' ' -f1)
idx_10k=$("$BKB" "$MNT" index 20 | cut -d' ' -f1)
record ls_10000_ms "$ls_ms" ms
record index_10000_ms "$idx_10k" ms
row "ls containers, $M created (ms)" "$ls_ms" "" "target <= 50"
row "cat containers/index, $M created (ms)" "$idx_10k" "" "target <= 50"
for id in $(ls "$MNT/containers" | grep '^ps_'); do rmdir "$MNT/containers/$id"; done
rmdir "$MNT/containers/bench-state"
echo
if [ "${BENCH_PULL:-1}" = 1 ]; then
	echo "== pull from a local registry (bench/pull.sh)"
	kill -TERM "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; daemon=""
	BK_BENCH_DEBOOTSTRAP=${BK_BENCH_DEBOOTSTRAP:-1} "$here/pull.sh" "${PULL_ROUNDS:-3}" ||
		echo "(pull bench failed)"
fi
if [ "${BENCH_PUSH:-1}" = 1 ]; then
	echo "== push to a local registry (bench/push.sh)"
	[ -n "$daemon" ] && { kill -TERM "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; daemon=""; }
	"$here/push.sh" "${PUSH_ROUNDS:-3}" || echo "(push bench failed)"
fi
if [ "${BENCH_RUNTIME:-1}" = 1 ]; then
	echo "== the OCI runtime: bockerfs-runtime, runc, crun (bench/runtime.sh)"
	[ -n "$daemon" ] && { kill -TERM "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; daemon=""; }
	"$here/runtime.sh" || echo "(runtime bench failed)"
	echo
fi
write_json

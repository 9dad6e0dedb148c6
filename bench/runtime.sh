#!/bin/bash
# bockerfs-runtime against runc and crun, side by side in one run, each as the
# OCI runtime of the same callers:
#   direct   RT run -b BUNDLE of /bin/true (busybox rootfs on disk, own netns)
#   ctr      ctr run --rm --runc-binary RT of the same image, a private
#            containerd 1.6 (overlayfs or native snapshotter)
#   podman   podman run --rm --network none --runtime RT, private storage
# crun 1.8 refuses this machine's hybrid cgroup layout unless the cgroup2
# mount is hidden from it: crun's direct runs and every podman run happen in
# a mount namespace where /sys/fs/cgroup/unified is unmounted (what that
# namespace costs, measured, is taken off), containerd runs in one.
# Medians in ms over RUNS (direct) and CALLER_RUNS (ctr, podman) runs.
# Figures, not assertions.  Usage: bench/runtime.sh
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-30}
CALLER_RUNS=${CALLER_RUNS:-10}
BK_RT=${BK_RUNTIME_BIN:-$here/build/bockerfs-runtime}
W=$(mktemp -d /var/tmp/bkrtbench-XXXXXX)
ctd_pid=""

cleanup() {
	set +e
	if [ -n "$ctd_pid" ]; then
		kill -TERM "$ctd_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$ctd_pid" 2>/dev/null || break; sleep 0.1; done
	fi
	# The shims ctr's tasks left (none when every run ended): found by our socket.
	for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $W/ctd.sock" 2>/dev/null); do
		kill -KILL "$p" 2>/dev/null
	done
	[ -z "${PODMAN:-}" ] || $PODMAN system reset -f >/dev/null 2>&1
	grep -o " $W/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$W"
}
trap cleanup EXIT

record() { [ -z "${BENCH_FIGURES:-}" ] || printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$BENCH_FIGURES"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
row() { printf "%-46s %10s %10s   %s\n" "$1" "$2" "$3" "$4"; }
median_cmd() {
	local n=$1
	shift
	hyperfine -N --runs "$n" --warmup 2 --export-json "$W/h.json" "$@" >"$W/h.log" 2>&1 ||
		{ echo "-"; tail -n 5 "$W/h.log" >&2; return; }
	python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$W/h.json"
}

# The mount namespace every side runs in (see the top).
cat >"$W/inns.sh" <<'EOF'
#!/bin/sh
exec unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' sh "$@"
EOF
chmod +x "$W/inns.sh"

# ---- direct ----------------------------------------------------------------------
"$here/scripts/busybox-rootfs.sh" "$W/bundle/rootfs" >/dev/null
(cd "$W/bundle" && runc spec)
python3 - "$W/bundle/config.json" <<'EOF'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
ns = c["linux"]["namespaces"]
if not any(n["type"] == "network" for n in ns):
    ns.append({"type": "network"})
json.dump(c, open(p, "w"))
EOF
declare -A rt=([bk]=$BK_RT [runc]=$(command -v runc) [crun]=$(command -v crun))
declare -A direct ctr podman
# What the namespace itself costs, taken off the sides that run in one per run.
ns_ms=$(median_cmd "$RUNS" "$W/inns.sh /bin/true")
for k in bk runc crun; do
	cat >"$W/run-$k.sh" <<EOF
#!/bin/sh
exec ${rt[$k]} --root $W/state-$k run -b $W/bundle bench-\$\$
EOF
	chmod +x "$W/run-$k.sh"
	if [ "$k" = crun ]; then
		direct[$k]=$(median_cmd "$RUNS" "$W/inns.sh $W/run-$k.sh")
		direct[$k]=$(awk -v a="${direct[$k]}" -v b="$ns_ms" 'BEGIN { printf "%.2f", a - b }')
	else
		direct[$k]=$(median_cmd "$RUNS" "$W/run-$k.sh")
	fi
done

# ---- ctr --------------------------------------------------------------------------
# The image: the same busybox rootfs as an OCI archive (umoci), imported.
(cd "$W" && umoci init --layout lay && umoci new --image lay:bb &&
	umoci unpack --image lay:bb ub >/dev/null && rm -rf ub/rootfs &&
	cp -a bundle/rootfs ub/rootfs && umoci repack --image lay:bb ub &&
	tar -C lay -cf bb.tar .) >/dev/null 2>&1
snap=native
mkdir -p "$W/o/l" "$W/o/u" "$W/o/w" "$W/o/m"
if mount -t overlay overlay -o "lowerdir=$W/o/l,upperdir=$W/o/u,workdir=$W/o/w" "$W/o/m" 2>/dev/null; then
	umount "$W/o/m"
	snap=overlayfs
fi
cat >"$W/ctd.toml" <<EOF
version = 2
root = "$W/ctd/root"
state = "$W/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$W/ctd.sock"
[ttrpc]
  address = "$W/ctd.sock.ttrpc"
EOF
CTR="ctr --address $W/ctd.sock --namespace bkbench"
if command -v containerd >/dev/null; then
	"$W/inns.sh" containerd --config "$W/ctd.toml" >"$W/ctd.log" 2>&1 &
	ctd_pid=$!
	for _ in $(seq 100); do $CTR version >/dev/null 2>&1 && break; sleep 0.1; done
	$CTR images import --base-name bench/bb --digests "$W/bb.tar" >/dev/null 2>&1
	for k in bk runc crun; do
		# Each run's id differs: hyperfine runs the command as is, so a wrapper names it.
		cat >"$W/ctr-$k.sh" <<EOF
#!/bin/sh
exec $CTR run --rm --snapshotter $snap --runc-binary ${rt[$k]} --runc-root $W/ctrstate-$k bench/bb:bb c\$\$ /bin/true
EOF
		chmod +x "$W/ctr-$k.sh"
		ctr[$k]=$(median_cmd "$CALLER_RUNS" "$W/ctr-$k.sh")
	done
else
	ctr=([bk]=- [runc]=- [crun]=-)
fi

# ---- podman ----------------------------------------------------------------------
cat >"$W/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime_supports_json = ["crun", "runc", "bockerfs"]
[engine.runtimes]
bockerfs = ["$BK_RT"]
EOF
export CONTAINERS_CONF=$W/containers.conf
PODMAN="podman --root $W/podman/root --runroot $W/podman/run"
if command -v podman >/dev/null && tar -C "$W/bundle/rootfs" -c . | $PODMAN import - localhost/bench-bb >/dev/null 2>&1; then
	for k in bk runc crun; do
		name=$k
		[ "$k" = bk ] && name=bockerfs
		podman[$k]=$(median_cmd "$CALLER_RUNS" "$W/inns.sh $PODMAN --runtime $name run --rm --network none localhost/bench-bb /bin/true")
		podman[$k]=$(awk -v a="${podman[$k]}" -v b="$ns_ms" 'BEGIN { printf "%.2f", a - b }')
	done
else
	podman=([bk]=- [runc]=- [crun]=-)
fi

for way in direct ctr podman; do
	declare -n v=$way
	record "oci_${way}_bk_ms" "${v[bk]}" ms "oci_${way}_crun_ms"
	record "oci_${way}_runc_ms" "${v[runc]}" ms
	record "oci_${way}_crun_ms" "${v[crun]}" ms
	record "oci_${way}_bk_vs_runc" "${v[bk]}" ms "oci_${way}_runc_ms"
	unset -n v
done
row "" "ms" "ratio" ""
row "bockerfs-runtime run (bundle, netns)" "${direct[bk]}" "" ""
row "  runc run" "${direct[runc]}" "$(ratio "${direct[bk]}" "${direct[runc]}")" "target <= 0.5"
row "  crun run" "${direct[crun]}" "$(ratio "${direct[bk]}" "${direct[crun]}")" "target <= 1.0"
row "ctr run --rm, --runc-binary bockerfs-runtime" "${ctr[bk]}" "" "containerd 1.6, $snap"
row "  --runc-binary runc" "${ctr[runc]}" "$(ratio "${ctr[bk]}" "${ctr[runc]}")" "target <= 0.5"
row "  --runc-binary crun" "${ctr[crun]}" "$(ratio "${ctr[bk]}" "${ctr[crun]}")" "target <= 1.0"
row "podman run --rm --runtime bockerfs-runtime" "${podman[bk]}" "" "network none"
row "  --runtime runc" "${podman[runc]}" "$(ratio "${podman[bk]}" "${podman[runc]}")" "target <= 0.5"
row "  --runtime crun" "${podman[crun]}" "$(ratio "${podman[bk]}" "${podman[crun]}")" "target <= 1.0"

#!/bin/bash
# Pull times from a local registry (Debian's docker-registry on 127.0.0.1),
# side by side, all writing to the same btrfs store, each on a fresh daemon:
#   floor     curl -s BLOB | tar -xz into a directory of the store
#   bockerfs  echo REF > images/pull (download, verify, unpack, snapshot)
#   skopeo    skopeo copy to an OCI directory on the store (no unpacking)
#   podman    podman pull, when podman is installed (its own storage)
# Images: test/busybox, and a large one-layer image: a debootstrap minbase
# when BK_BENCH_DEBOOTSTRAP=1 and debootstrap is installed, else a tarball
# of host directories (BK_BENCH_DIRS).  Figures, not assertions.
# For the large image it also prints the CPU seconds each side kept busy (from
# /proc/stat) and the daemon's own; BK_BENCH_PERF=FILE records a perf profile
# of the daemon during the first large pull.
# Usage: bench/pull.sh [ROUNDS]    (default 3; needs a daemon with images/pull)
set -eu
rounds=${1:-3}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

elapsed() { echo "$(now) - $1" | bc; }

bk_registry_setup
bench_large_layer 0
big=$("$BK_REG_PY" "$BK_REG_LIB/push.py" image "$BK_REG" bench/big latest "$work/layer.tar.gz")
small=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://$BK_REG/v2/test/busybox/manifests/latest" | jq -r '.layers[0].digest')
echo "large image ($label): $(stat -c %s "$work/layer.tar.gz") bytes compressed," \
	"$(gzip -dc "$work/layer.tar.gz" | wc -c) bytes of tar"

# Seconds all CPUs were busy since boot (/proc/stat: all but idle and iowait).
cpu_busy() {
	awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.3f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat
}
# A process's user and system CPU seconds ("U S").
proc_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f %.3f", $14 / hz, $15 / hz }' "/proc/$1/stat"
}

declare -A total
for ((r = 1; r <= rounds; r++)); do
	for img in busybox big; do
		if [ "$img" = big ]; then repo=bench/big blob=$big; else repo=test/busybox blob=$small; fi
		bk_start
		[ -e "$BK_MNT/images/pull" ] || { echo "the daemon has no images/pull" >&2; exit 1; }
		mkdir "$BK_STORE/floor"
		sync
		t=$(now)
		curl -s "http://$BK_REG/v2/$repo/blobs/$blob" | tar -xzf - -C "$BK_STORE/floor"
		f=$(elapsed "$t")
		rm -rf "$BK_STORE/floor"
		sync
		cpu0=$(cpu_busy) d0=$(proc_cpu "$BK_PID")
		if [ "$img" = big ] && [ "$r" = 1 ] && [ -n "${BK_BENCH_PERF:-}" ]; then
			perf record -q -g -p "$BK_PID" -o "$BK_BENCH_PERF" 2>/dev/null &
			perf_pid=$!
			sleep 0.5
		fi
		t=$(now)
		echo "$BK_REG/$repo" >"$BK_MNT/images/pull"
		b=$(elapsed "$t")
		cpu1=$(cpu_busy) d1=$(proc_cpu "$BK_PID")
		[ -z "${perf_pid:-}" ] || { kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; perf_pid=""; }
		sync
		cpu2=$(cpu_busy)
		t=$(now)
		skopeo copy -q --src-tls-verify=false "docker://$BK_REG/$repo" "oci:$BK_STORE/oci:x"
		s=$(elapsed "$t")
		cpu3=$(cpu_busy)
		if [ "$img" = big ]; then
			# What bounds the pull on this machine: the CPUs' busy seconds against
			# the wall time's CPU seconds (nproc x wall), the daemon's own share.
			printf '%-8s round %d: CPU busy: bockerfs %.2f s of %.2f (daemon user %.2f s, sys %.2f s), skopeo %.2f s of %.2f\n' \
				"$img" "$r" "$(echo "$cpu1 - $cpu0" | bc)" "$(echo "$b * $(nproc)" | bc)" \
				"$(echo "${d1% *} - ${d0% *}" | bc)" "$(echo "${d1#* } - ${d0#* }" | bc)" \
				"$(echo "$cpu3 - $cpu2" | bc)" "$(echo "$s * $(nproc)" | bc)"
		fi
		p=-
		if command -v podman >/dev/null; then
			podman rmi -f "$BK_REG/$repo" >/dev/null 2>&1 || true
			t=$(now)
			podman pull -q --tls-verify=false "$BK_REG/$repo" >/dev/null
			p=$(printf '%.3f s' "$(elapsed "$t")")
			podman rmi -f "$BK_REG/$repo" >/dev/null 2>&1 || true
		fi
		bk_stop
		printf '%-8s round %d: floor %.3f s  bockerfs %.3f s  skopeo %.3f s  podman %s\n' \
			"$img" "$r" "$f" "$b" "$s" "$p"
		total[$img.floor]=$(echo "${total[$img.floor]:-0} + $f" | bc)
		total[$img.bk]=$(echo "${total[$img.bk]:-0} + $b" | bc)
	done
done
for img in busybox big; do
	printf '%-8s bockerfs / floor = %.2f\n' "$img" \
		"$(echo "${total[$img.bk]} / ${total[$img.floor]}" | bc -l)"
	# Sums over the rounds, for run.sh's JSON file (BENCH_FIGURES).
	if [ -n "${BENCH_FIGURES:-}" ]; then
		printf 'pull_%s_s\t%s\ts\tpull_%s_floor_s\n' "$img" "${total[$img.bk]}" "$img" >>"$BENCH_FIGURES"
		printf 'pull_%s_floor_s\t%s\ts\t\n' "$img" "${total[$img.floor]}" >>"$BENCH_FIGURES"
	fi
done

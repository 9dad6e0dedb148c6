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
		t=$(now)
		echo "$BK_REG/$repo" >"$BK_MNT/images/pull"
		b=$(elapsed "$t")
		sync
		t=$(now)
		skopeo copy -q --src-tls-verify=false "docker://$BK_REG/$repo" "oci:$BK_STORE/oci:x"
		s=$(elapsed "$t")
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

#!/bin/bash
# Push times to a local registry (Debian's docker-registry on 127.0.0.1), side
# by side in one run:
#   bockerfs  echo "push REF" > images/ID/ctl of the large image pulled first
#             (its blob kept as it came: no compression), to an empty registry
#             (no mount, nothing present: every byte is uploaded)
#   skopeo    skopeo copy from an OCI directory of the same image (on the same
#             btrfs) to another empty registry
#   re-push   the same push again (the registry has every blob: HEADs only)
#   mount     a push to the registry the image came from (cross-repository mounts)
#   diff      the layer of a container that changed 1,000 files of the image,
#             made at its first push (the daemon logs how long the blob took),
#             against `tar -c` of just those files piped to `gzip -1`
# The large image is a debootstrap minbase when debootstrap is installed (kept
# in build/bench/cache/ for later runs), else a tarball of host directories.
# Figures, not assertions.  Usage: bench/push.sh [ROUNDS]    (default 3)
set -eu
rounds=${1:-3}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ms_since() { echo "($(now) - $1) * 1000" | bc; }
record() { [ -z "${BENCH_FIGURES:-}" ] || printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$BENCH_FIGURES"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# fresh_registry: a docker-registry of its own, empty (a registry knows a blob
# any repository of it has: each side of a round gets a new one); prints host:port.
fresh_registry() {
	local port dir pid
	port=$(bk_free_port)
	dir=$(mktemp -d "$BK_REG_DIR/fresh-XXXXXX")
	cat >"$dir/config.yml" <<-EOF
	version: 0.1
	log:
	  level: error
	storage:
	  filesystem:
	    rootdirectory: $dir/storage
	http:
	  addr: 127.0.0.1:$port
	  secret: bockerfs-bench
	EOF
	docker-registry serve "$dir/config.yml" </dev/null >"$dir/log" 2>&1 3>&- &
	pid=$!
	bk_reg_track "$pid"
	bk_reg_wait_http "http://127.0.0.1:$port/v2/" >&2 || return 1
	echo "127.0.0.1:$port"
}

# push ID REF: through the image's ctl; the digest read back.
push() {
	local fd d
	exec {fd}<>"$BK_MNT/images/$1/ctl"
	echo "push $2" >&"$fd"
	read -r d <&"$fd"
	exec {fd}>&-
	[[ $d == sha256:* ]] || { echo "push $2: $d" >&2; return 1; }
}

bk_registry_setup
bench_large_layer 1
"$BK_REG_PY" "$BK_REG_LIB/push.py" image "$BK_REG" bench/big latest "$work/layer.tar.gz" >/dev/null
echo "large image ($label): $(stat -c %s "$work/layer.tar.gz") bytes compressed"

bk_start --auth-config "$BK_REG_DIR/auth.json"
id=$(bk_pull "$BK_REG/bench/big")
skopeo copy -q --src-tls-verify=false "docker://$BK_REG/bench/big" "oci:$BK_STORE/oci:x"
: >"$work/bk" && : >"$work/sk" && : >"$work/re"
for ((r = 1; r <= rounds; r++)); do
	a=$(fresh_registry)
	b=$(fresh_registry)
	sync
	t=$(now)
	push "$id" "$a/bk/big:1"
	ms_since "$t" >>"$work/bk"
	t=$(now)
	push "$id" "$a/bk/big:1"
	ms_since "$t" >>"$work/re"
	sync
	t=$(now)
	skopeo copy -q --dest-tls-verify=false "oci:$BK_STORE/oci:x" "docker://$b/sk/big:1"
	ms_since "$t" >>"$work/sk"
	printf 'round %d: bockerfs %.0f ms  skopeo %.0f ms  re-push %.1f ms\n' "$r" \
		"$(tail -n1 "$work/bk")" "$(tail -n1 "$work/sk")" "$(tail -n1 "$work/re")"
done
t=$(now)
push "$id" "$BK_REG/mounted/big:1"
mount_ms=$(ms_since "$t")

# The layer of a container that changed 1,000 files.
exec 3<>"$BK_MNT/containers/run"
echo "$id sh -c 'find /usr -type f | head -n 1000 >/tmp/changed; while read -r f; do echo x >>\"\$f\"; done </tmp/changed'" >&3
read -r ctr <&3
exec 3>&-
[ "$(cat "$BK_MNT/containers/$ctr/wait")" = "exit 0" ]
exec 3<>"$BK_MNT/containers/$ctr/ctl"
echo commit >&3
read -r img <&3
exec 3>&-
push "$img" "$BK_REG_TOKEN/bk/changed:1"
diff_ms=$(grep -o 'blob made in [0-9]* ms' "$BK_LOG" | tail -n1 | grep -o '[0-9]*')
root=$BK_MNT/images/$img/root
sed 's|^/||' "$root/tmp/changed" >"$work/list"
sync
t=$(now)
tar -C "$root" -cf - -T "$work/list" | gzip -1 >/dev/null
tar_ms=$(ms_since "$t")

bk=$(median <"$work/bk")
sk=$(median <"$work/sk")
re=$(median <"$work/re")
printf '%-46s %10.0f %10.2f   %s\n' "push of the large image (ms)" "$bk" "$(echo "$bk / $sk" | bc -l)" "ratio to skopeo copy oci: -> registry ($(printf '%.0f' "$sk") ms), target <= 1.0"
printf '%-46s %10.1f %10s   %s\n' "re-push, nothing changed (ms)" "$re" "" "target <= 50"
printf '%-46s %10.1f %10s   %s\n' "push to the registry it came from (ms)" "$mount_ms" "" "cross-repository mounts"
printf '%-46s %10.0f %10.2f   %s\n' "layer of 1,000 changed files (ms)" "$diff_ms" "$(echo "$diff_ms / $tar_ms" | bc -l)" "ratio to tar of those files | gzip -1 ($(printf '%.0f' "$tar_ms") ms)"
record push_big_ms "$bk" ms skopeo_push_big_ms
record skopeo_push_big_ms "$sk" ms
record repush_ms "$re" ms
record push_mount_ms "$mount_ms" ms
record layer_diff_1000_ms "$diff_ms" ms tar_gzip_1000_ms
record tar_gzip_1000_ms "$tar_ms" ms

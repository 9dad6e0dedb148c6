#!/usr/bin/env bats
# Concurrent pulls share their downloads: two pulls of one reference, or of
# images on the same base, fetch each blob once (the proxy's request log,
# tests/lib/registry/faulty.py, counts the GETs); a pull that needs a layer
# another pull is downloading waits for it and reuses it, and takes it over
# when that pull fails.
#
# The failpoint pull.mid-blob=sleep (engine/base/failpoint.c) holds the first
# download halfway, so that the pulls overlap at every run.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/registry'
load '../lib/faulty'

: "${BATS_TEST_TIMEOUT:=300}"

# manifest_of REPO: the manifest of REPO:latest in the plain registry.
manifest_of() {
	curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$BK_REG/v2/$1/manifests/latest"
}

setup_file() {
	bk_registry_setup && bk_faulty_start || return 1
	BIG_LAYERS=$(manifest_of test/big | jq -r '.layers[].digest' | tr '\n' ' ')
	BIG_CONFIG=$(manifest_of test/big | jq -r '.config.digest')
	MULTI_LAYERS=$(manifest_of test/multi | jq -r '.layers[].digest' | tr '\n' ' ')
	MULTI_CONFIG=$(manifest_of test/multi | jq -r '.config.digest')
	export BIG_LAYERS BIG_CONFIG MULTI_LAYERS MULTI_CONFIG
}

teardown_file() {
	bk_faulty_stop
	bk_registry_teardown
}

setup() {
	bk_faulty_rules
}

teardown() {
	bk_teardown
}

# ready ID: an image id, ready.
ready() {
	[[ $1 =~ ^img_[0-9a-f]{12}$ ]] || bk_fail "'$1' is not an image id" || return
	[ "$(cat "$BK_MNT/images/$1/state")" = ready ] || bk_fail "$1 is not ready"
}

@test "two pulls of one reference at once: one image, each blob fetched once" {
	BOCKERFS_FAILPOINTS='pull.mid-blob=sleep:1500@1' bk_start
	run bk_write_parallel "$BK_MNT/images/pull" "$BK_FAULTY/test/big" "$BK_FAULTY/test/big"
	[ "${#lines[@]}" = 2 ] || bk_fail "replies: $output"
	ready "${lines[0]}"
	[ "${lines[1]}" = "${lines[0]}" ] || bk_fail "two images: $output"
	grep -q 'failpoint pull.mid-blob: sleep' "$BK_LOG" || bk_fail "the pulls did not overlap"
	for d in $BIG_LAYERS; do
		bk_faulty_want_gets front "/blobs/$d" 1 || return
	done
	bk_faulty_want_gets front "/blobs/$BIG_CONFIG" 1
	# Both images are whole: big3 is the top layer's file.
	[ "$(stat -c %s "$BK_MNT/images/${lines[0]}/root/big3")" = $((8 << 20)) ]
	cmp /bin/busybox "$BK_MNT/images/${lines[0]}/root/bin/busybox"
	bk_nothing_partial
}

@test "pulls of two images on the same base at once: the shared layer is fetched once" {
	BOCKERFS_FAILPOINTS='pull.mid-blob=sleep:1500@1' bk_start
	base=${BIG_LAYERS%% *}
	[ "$base" = "${MULTI_LAYERS%% *}" ] || bk_fail "test/big and test/multi do not share their base"
	run bk_write_parallel "$BK_MNT/images/pull" "$BK_FAULTY/test/big" "$BK_FAULTY/test/multi"
	ready "${lines[0]}"
	ready "${lines[1]}"
	[ "${lines[0]}" != "${lines[1]}" ] || bk_fail "one image for two references: $output"
	bk_faulty_want_gets front "/blobs/$base" 1
	for d in $BIG_LAYERS $MULTI_LAYERS; do
		bk_faulty_want_gets front "/blobs/$d" 1 || return
	done
	[ "$(ls "$BK_STORE/layers" | wc -l)" = 7 ] || bk_fail "layers: $(ls "$BK_STORE/layers")"
	cmp /bin/busybox "$BK_MNT/images/${lines[1]}/root/bin/busybox"
	bk_nothing_partial
}

@test "the pull that downloads a shared layer fails: the one waiting for it downloads it itself" {
	BOCKERFS_FAILPOINTS='pull.mid-blob=sleep:1500@1' bk_start
	top=${BIG_LAYERS% }
	top=${top##* }
	# The first GET of the top layer is refused: the pull that makes it fails.
	bk_faulty_rules "/blobs/$top status 403 times=1"
	run bk_write_parallel "$BK_MNT/images/pull" "$BK_FAULTY/test/big" "$BK_FAULTY/test/big"
	ok=0
	for r in "${lines[@]}"; do
		if [[ $r =~ ^img_ ]]; then
			ready "$r" || return
			ok=$((ok + 1))
		else
			[[ $r == EACCES:*"HTTP 403"* ]] || bk_fail "reply: $r" || return
		fi
	done
	[ "$ok" = 1 ] || bk_fail "replies: $output"
	bk_faulty_want_gets front "/blobs/$top" 2
	for d in ${BIG_LAYERS% *}; do
		[ "$d" = "$top" ] || bk_faulty_want_gets front "/blobs/$d" 1 || return
	done
	bk_nothing_partial
}

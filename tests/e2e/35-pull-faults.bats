#!/usr/bin/env bats
# Pulling through a faulty registry: tests/lib/registry/faulty.py in front of
# the plain test registry drops connections mid-blob, stalls, corrupts bytes,
# answers 5xx and 429, redirects blobs to another host, sends odd 401
# challenges, huge manifests and configs, and lies about Content-Length.
# Each test asserts the errno and the text of the failure, the number of
# attempts from the proxy's log (at most 4 per GET), that a broken blob
# download resumes with Range, that credentials never reach the other host,
# that nothing partial is left (no image, nothing in the store's tmp/, no
# orphan subvolume), and that the same pull succeeds once the fault is gone.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/registry'
load '../lib/faulty'

: "${BATS_TEST_TIMEOUT:=300}"

setup_file() {
	bk_registry_setup && bk_faulty_start || return 1
	local m
	m=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$BK_REG/v2/test/busybox/manifests/latest")
	BB_LAYER=$(jq -r '.layers[0].digest' <<<"$m")
	BB_SIZE=$(jq -r '.layers[0].size' <<<"$m")
	BB_CONFIG=$(jq -r '.config.digest' <<<"$m")
	export BB_LAYER BB_SIZE BB_CONFIG
}

teardown_file() {
	bk_faulty_stop
	bk_registry_teardown
}

setup() {
	HANG_PID=""
	bk_faulty_rules
	BB=$BK_FAULTY/test/busybox
}

teardown() {
	bk_teardown
}

start() {
	bk_tmp_init
	bk_faulty_auth_config "$BK_TMP/auth.json" bk:faultypw
	bk_start --auth-config "$BK_TMP/auth.json" "$@"
}

# ok_pull REF: pull REF; the image's busybox is the host's.
ok_pull() {
	local id
	id=$(bk_pull "$1") || return
	[ "$(cat "$BK_MNT/images/$id/state")" = ready ] || bk_fail "$id not ready" || return
	cmp /bin/busybox "$BK_MNT/images/$id/root/bin/busybox" || bk_fail "$id: busybox differs"
}

# fail_pull ERRNO REF SUBSTR...: the pull fails with ERRNO, every SUBSTR is in
# the three error texts, and nothing is left: no new image, nothing in tmp/,
# no orphan subvolume.
fail_pull() {
	local e=$1 ref=$2 before
	shift 2
	before=$(bk_tree_images)
	run bk_write_errno "$BK_MNT/images/pull" "$ref"$'\n'
	[ "${lines[0]}" = "$e" ] || bk_fail "pull '$ref': ${lines[0]}, want $e: ${lines[1]}" || return
	bk_check_error "$e" /images/pull 'pull|write' images/err "${lines[1]}" "$@" || return
	[ "$(bk_tree_images)" = "$before" ] || bk_fail "images changed: $(bk_tree_images)" || return
	[ "$(bk_store_images)" = "$before" ] || bk_fail "store images: $(bk_store_images)" || return
	bk_nothing_partial
}

# A new daemon on a new store: nothing pulled before (a pull that succeeded
# keeps its layers, its config and its manifest digest, and fetches nothing
# the next time).
fresh() {
	bk_stop
	start
}

# The layer was never committed to the store.
no_layer() {
	! grep -l "\"digest\": \"$BB_LAYER\"" "$BK_STORE"/layers/*/layer.json 2>/dev/null || false
}

# The faults are gone: the same pull succeeds.
heals() {
	bk_faulty_rules
	ok_pull "$BB"
}

@test "without faults the proxy is transparent: one GET each for manifest, config and layer" {
	start
	ok_pull "$BB"
	bk_faulty_want_gets front /manifests/latest 1
	bk_faulty_want_gets front "/blobs/$BB_CONFIG" 1
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 1
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 5)" = - ]
	bk_nothing_partial
}

@test "a connection dropped mid-blob once: resumed with Range where it stopped" {
	start
	half=$((BB_SIZE / 2))
	bk_faulty_rules "/blobs/$BB_LAYER drop 50% times=1"
	ok_pull "$BB"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 2
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 7 | head -n1)" = "drop@$half" ]
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 5 | tail -n1)" = "bytes=$half-" ]
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 7 | tail -n1)" = pass ]
	grep -q "attempt 2 of 4" "$BK_LOG"
	bk_nothing_partial
}

@test "a connection reset mid-blob once: resumed with Range" {
	start
	bk_faulty_rules "/blobs/$BB_LAYER reset 50% times=1"
	ok_pull "$BB"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 2
	[[ $(bk_faulty_col front "/blobs/$BB_LAYER" 5 | tail -n1) =~ ^bytes=[0-9]+-$ ]]
	bk_nothing_partial
}

@test "a server that answers a resumed GET with 200: the bytes already had are skipped" {
	start
	bk_faulty_rules "/blobs/$BB_LAYER noranges" "/blobs/$BB_LAYER drop 50% times=1"
	ok_pull "$BB"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 2
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 5 | tail -n1)" = "bytes=$((BB_SIZE / 2))-" ]
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 7 | tail -n1)" = noranges+pass ]
}

@test "a blob dropped at the same byte every time: ECONNRESET after 4 attempts, then it heals" {
	start
	bk_faulty_rules "/blobs/$BB_LAYER drop 50%"
	fail_pull ECONNRESET "$BB" "$BB_LAYER" "after 4 attempts"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 4
	no_layer
	# Every retry resumed at the byte the first attempt reached.
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 5 | tail -n3 | sort -u)" = "bytes=$((BB_SIZE / 2))-" ]
	heals
}

@test "manifest and config dropped mid-body once: fetched again from the start" {
	start
	bk_faulty_rules "/manifests/ drop 50% times=1" "/blobs/$BB_CONFIG drop 50% times=1"
	ok_pull "$BB"
	bk_faulty_want_gets front /manifests/latest 2
	bk_faulty_want_gets front "/blobs/$BB_CONFIG" 2
	[ "$(bk_faulty_col front /manifests/latest 5 | sort -u)" = - ]
	[ "$(bk_faulty_col front "/blobs/$BB_CONFIG" 5 | sort -u)" = - ]
}

@test "a stall (headers, then nothing): retried with Range; ETIMEDOUT after 4 attempts" {
	export BOCKERFS_REGISTRY_TIMEOUT=1
	start
	bk_faulty_rules "/blobs/$BB_LAYER stall 50% times=1"
	ok_pull "$BB"
	# The stalled GET is logged when the daemon hangs up on it.
	bk_wait_until 10 bk_faulty_gets_are front "/blobs/$BB_LAYER" 2 || bk_faulty_want_gets front "/blobs/$BB_LAYER" 2
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 7 | grep -c "^stall@$((BB_SIZE / 2))$")" = 1 ]
	bk_faulty_col front "/blobs/$BB_LAYER" 5 | grep -qx "bytes=$((BB_SIZE / 2))-"
	fresh
	bk_faulty_rules "/blobs/$BB_LAYER stall 50%"
	fail_pull ETIMEDOUT "$BB" "no data for 1 s" "after 4 attempts" "$BB_LAYER"
	bk_wait_until 10 bk_faulty_gets_are front "/blobs/$BB_LAYER" 4 ||
		bk_fail "stalled GETs: $(cat "$BK_FAULTY_LOG")"
	heals
}

@test "a stalled manifest (headers, nothing else) is retried too" {
	export BOCKERFS_REGISTRY_TIMEOUT=1
	start
	bk_faulty_rules "/manifests/ stall 0 times=1"
	ok_pull "$BB"
	bk_wait_until 10 bk_faulty_gets_are front /manifests/latest 2
}

@test "wrong bytes in a layer or the config: EBADMSG at once, no retry" {
	start
	bk_faulty_rules "/blobs/$BB_LAYER corrupt"
	fail_pull EBADMSG "$BB" "digest mismatch" "$BB_LAYER"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 1
	no_layer
	fresh
	bk_faulty_rules "/blobs/$BB_CONFIG corrupt"
	fail_pull EBADMSG "$BB" "digest mismatch" "$BB_CONFIG"
	bk_faulty_want_gets front "/blobs/$BB_CONFIG" 1
	heals
}

@test "HTTP 500 twice then success; 500 every time: EIO after 4 attempts" {
	start
	bk_faulty_rules "/blobs/$BB_LAYER status 500 times=2"
	ok_pull "$BB"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 3
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 7 | tr '\n' ' ')" = "status:500 status:500 pass " ]
	fresh
	bk_faulty_rules "/manifests/ status 500"
	fail_pull EIO "$BB" "server error, HTTP 500" "injected HTTP 500" "after 4 attempts"
	bk_faulty_want_gets front /manifests/ 4
	heals
}

@test "HTTP 503 three times then success (the fourth and last attempt); 502 every time: EIO" {
	start
	bk_faulty_rules "/blobs/$BB_CONFIG status 503 times=3"
	ok_pull "$BB"
	bk_faulty_want_gets front "/blobs/$BB_CONFIG" 4
	fresh
	bk_faulty_rules "/blobs/$BB_LAYER status 502"
	fail_pull EIO "$BB" "HTTP 502" "after 4 attempts" "$BB_LAYER"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 4
	heals
}

@test "429 with Retry-After: waited for, then success; a Retry-After past the cap: EAGAIN at once" {
	start
	bk_faulty_rules "/manifests/ status 429 retry-after=1 times=1"
	ok_pull "$BB"
	bk_faulty_want_gets front /manifests/latest 2
	# The second GET came at least the second Retry-After asked for after the first.
	bk_faulty_col front /manifests/latest 1 | awk 'NR == 1 { t = $1 } NR == 2 { exit !($1 - t >= 0.95) }' ||
		bk_fail "retried too early: $(cat "$BK_FAULTY_LOG")"
	fresh
	bk_faulty_rules "/manifests/ status 429 retry-after=3600"
	fail_pull EAGAIN "$BB" "HTTP 429" "retry after 3600 s"
	bk_faulty_want_gets front /manifests/ 1
	heals
}

@test "4xx other than 429 are final: 403 EACCES, 404 ENOENT, 400 EPROTO, one GET each" {
	start
	bk_faulty_rules "/blobs/$BB_LAYER status 403"
	fail_pull EACCES "$BB" "access denied, HTTP 403" "$BB_LAYER"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 1
	fresh
	bk_faulty_rules "/manifests/ status 404"
	fail_pull ENOENT "$BB" "not found"
	bk_faulty_want_gets front /manifests/ 1
	bk_faulty_rules "/blobs/$BB_CONFIG status 400"
	fail_pull EPROTO "$BB" "unexpected HTTP status 400"
	bk_faulty_want_gets front "/blobs/$BB_CONFIG" 1
	heals
}

@test "blobs redirected to another host: credentials never reach it; a drop there resumes" {
	start
	bk_faulty_rules '^/v2/ auth basic bk:faultypw' '/blobs/ redirect' \
		"^/blob/$BB_LAYER drop 50% times=1"
	ok_pull "$BB"
	# The registry saw the credentials; the other host saw none, on any request.
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 6 | sort -u)" = Basic ]
	bk_faulty_want_gets other "^/blob/$BB_LAYER" 2
	bk_faulty_want_gets other "^/blob/$BB_CONFIG" 1
	[ "$(awk '$2 == "other" { print $6 }' "$BK_FAULTY_LOG" | sort -u)" = - ]
	# The resumed GET went through the registry again, and asked the other host for the rest.
	[ "$(bk_faulty_col other "^/blob/$BB_LAYER" 5 | tail -n1)" = "bytes=$((BB_SIZE / 2))-" ]
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 5 | tail -n1)" = "bytes=$((BB_SIZE / 2))-" ]
	bk_nothing_partial
}

@test "a redirect to a host that refuses: retried (the registry is up), ECONNREFUSED after 4" {
	start
	bk_faulty_rules "/blobs/$BB_LAYER redirect dead"
	fail_pull ECONNREFUSED "$BB" "127.0.0.2:1" "after 4 attempts"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 4
	# The query of a signed URL is a secret: never in the error text.
	grep -q s3cr3t "$BK_MNT/errors" && bk_fail "the signed URL's query is in errors"
	heals
}

@test "a registry that refuses connections is down: ECONNREFUSED at once, no retry" {
	start
	fail_pull ECONNREFUSED "127.0.0.1:1/test/busybox" "127.0.0.1:1"
	grep "attempt 2 of" "$BK_LOG" && bk_fail "a refused first connection was retried"
	true
}

@test "401 with the token realm on another host over http: the token is fetched without credentials" {
	start
	bk_faulty_rules '^/v2/ auth bearer other-host' '/blobs/ redirect'
	ok_pull "$BB"
	[ "$(bk_faulty_count ' other GET /token')" -ge 1 ]
	[ "$(awk '$2 == "other" { print $6 }' "$BK_FAULTY_LOG" | sort -u)" = - ]
	[ "$(bk_faulty_col front /manifests/latest 6 | tail -n1)" = Bearer ]
	[ "$(bk_faulty_col front "/blobs/$BB_LAYER" 6 | sort -u)" = Bearer ]
}

@test "the token service answers 503 once: the token is asked for again, the pull goes on" {
	start
	bk_faulty_rules '^/v2/ auth bearer other-host' '^/token status 503 times=1'
	ok_pull "$BB"
	[ "$(awk '$2 == "other" && $4 ~ /^\/token/ { print $7 }' "$BK_FAULTY_LOG" | head -n2 | tr '\n' ' ')" = \
		"status:503 token " ] || bk_fail "token GETs: $(cat "$BK_FAULTY_LOG")"
}

@test "401 realm variants: unquoted token params work; unquoted realm URL, no realm, garbled: EACCES" {
	start
	bk_faulty_rules '^/v2/ auth bearer unquoted'
	ok_pull "$BB"
	[ "$(bk_faulty_count ' other GET /token')" -ge 1 ]
	fresh
	for v in unquoted-realm no-realm garbled; do
		bk_faulty_rules "^/v2/ auth bearer $v"
		fail_pull EACCES "$BB" "HTTP 401 without a usable challenge" "Bearer" || return
		# One GET, answered 401; no token request, no retry.
		bk_faulty_want_gets front /manifests/ 1 || return
		[ "$(bk_faulty_count ' other ')" = 0 ] || bk_fail "$v: the other host was asked" || return
	done
	heals
}

@test "a huge manifest and a huge config: EFBIG, with or without Content-Length; no retry" {
	start
	bk_faulty_rules '/manifests/ huge 5M'
	fail_pull EFBIG "$BB" "larger than 4194304 bytes"
	bk_faulty_want_gets front /manifests/ 1
	bk_faulty_rules '/manifests/ huge 5M chunked'
	fail_pull EFBIG "$BB" "larger than 4194304 bytes"
	bk_faulty_want_gets front /manifests/ 1
	bk_faulty_rules "/blobs/$BB_CONFIG huge 17M"
	fail_pull EFBIG "$BB" "larger than 16777216 bytes" "$BB_CONFIG"
	bk_faulty_want_gets front "/blobs/$BB_CONFIG" 1
	bk_faulty_rules "/blobs/$BB_CONFIG huge 17M chunked"
	fail_pull EFBIG "$BB" "larger than 16777216 bytes"
	bk_faulty_want_gets front "/blobs/$BB_CONFIG" 1
	heals
}

@test "a response with a 1 MiB header or with 10,000 headers: EPROTO at once, no retry; then it heals" {
	start
	# The config first: once fetched, it is cached in the store.
	bk_faulty_rules "/blobs/$BB_CONFIG headers 10000"
	fail_pull EPROTO "$BB" "response headers too large" "$BB_CONFIG"
	bk_faulty_want_gets front "/blobs/$BB_CONFIG" 1
	bk_faulty_rules '/manifests/ bigheader 1M'
	fail_pull EPROTO "$BB" "response headers too large"
	bk_faulty_want_gets front /manifests/ 1
	bk_faulty_rules "/blobs/$BB_LAYER bigheader 1M"
	fail_pull EPROTO "$BB" "response headers too large" "$BB_LAYER"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 1
	bk_faulty_rules "/blobs/$BB_LAYER headers 10000"
	fail_pull EPROTO "$BB" "response headers too large" "$BB_LAYER"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 1
	no_layer
	! grep "attempt 2 of" "$BK_LOG" || bk_fail "an oversized answer was retried"
	heals
}

@test "Content-Length lies: longer (then closed) is whole by its digest; shorter: EBADMSG; manifest retried" {
	start
	bk_faulty_rules "/blobs/$BB_LAYER lie 1000"
	ok_pull "$BB"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 1
	fresh
	bk_faulty_rules "/blobs/$BB_LAYER lie -1000"
	fail_pull EBADMSG "$BB" "digest mismatch" "from $((BB_SIZE - 1000)) bytes, the manifest says $BB_SIZE"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 1
	no_layer
	fresh
	bk_faulty_rules "/manifests/ lie 100 times=1"
	ok_pull "$BB"
	bk_faulty_want_gets front /manifests/latest 2
}

@test "Ctrl-C while waiting to retry: EINTR, nothing partial" {
	start
	bk_faulty_rules "/blobs/$BB_LAYER status 503 retry-after=8"
	n=$(bk_index_ids | wc -l)
	bk_bg "$BK_TMP/intr.out" "$BK_PY" "$BK_LIB/bkio.py" intr-write "$BK_MNT/images/pull" "$BB"$'\n' 2
	pid=$BK_BG_PID
	wait "$pid" || true
	[ "$(head -n1 "$BK_TMP/intr.out")" = EINTR ] || bk_fail "intr-write: $(cat "$BK_TMP/intr.out")"
	bk_faulty_want_gets front "/blobs/$BB_LAYER" 1
	bk_wait_until 5 eval 'test "$(bk_index_ids | wc -l)" = "$n"'
	bk_wait_until 5 bk_tmp_is_empty
	bk_nothing_partial
	heals
}

#!/usr/bin/env bats
# Pulling from registries through images/pull, end to end: Debian's
# docker-registry on 127.0.0.1 (plain, Basic, token auth), filled with
# images built by umoci and skopeo (tests/lib/registry.bash).  Bytes on disk,
# whiteouts, platforms, compressions, auth, mirrors, redirects, every errno
# with its text, cancellation, a full disk, kill -9, and a second pull that
# fetches no blob.  Nothing here reaches beyond 127.0.0.1.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/registry'

: "${BATS_TEST_TIMEOUT:=300}"

setup_file() {
	bk_registry_setup
}

teardown_file() {
	bk_registry_teardown
}

setup() {
	HANG_PID=""
}

teardown() {
	[ -n "$HANG_PID" ] && kill "$HANG_PID" 2>/dev/null
	bk_teardown
}

start() {
	bk_start --auth-config "$BK_REG_DIR/auth.json" "$@"
}

# A TCP server on 127.0.0.1 that accepts and never answers; sets HANG_PORT.
start_hanging_server() {
	local out=$BK_TMP/hang.port
	/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
conns = []
end = time.time() + 120
while time.time() < end:
    s.settimeout(1)
    try:
        conns.append(s.accept())
    except OSError:
        pass
' >"$out" 2>/dev/null 3>&- &
	HANG_PID=$!
	bk_track helper "$HANG_PID"
	bk_wait_until 5 test -s "$out"
	HANG_PORT=$(cat "$out")
}

pulling_state() {
	grep -qx pulling "$BK_MNT"/images/img_*/state 2>/dev/null
}

@test "pull a single-layer image: id, state, files, digest, layers, bytes on disk" {
	start
	id=$(bk_pull "$BK_REG/test/busybox")
	d=$BK_MNT/images/$id
	bk_assert_content "$d/state" $'ready\n'
	grep -q "^$id" <(bk_index_ids)
	[ "$(cat "$d/source")" = "$BK_REG/test/busybox:latest" ]
	grep -qx "$BK_REG/test/busybox:latest" "$d/ref"
	want=$("$BK_REG_PY" "$BK_REG_LIB/push.py" manifest-digest "$BK_REG" test/busybox latest)
	[ "$(cat "$d/digest")" = "$want" ]
	[ "sha256:$(sha256sum <"$d/manifest" | cut -d' ' -f1)" = "$want" ]
	[ "$(wc -l <"$d/layers")" = 1 ]
	[[ $(cat "$d/layers") =~ ^sha256:[0-9a-f]{64}\ [0-9]+$ ]]
	jq -e '.config.Cmd == ["sh"]' "$d/config" >/dev/null
	cmp /bin/busybox "$d/root/bin/busybox"
	[ "$(readlink "$d/root/bin/sh")" = busybox ]
	[ "$(stat -c %a "$d/root/tmp")" = 1777 ]
	[ "$(stat -c %a "$d/root/root")" = 700 ]
	[ "$(btrfs property get -ts "$BK_STORE/images/$id/rootfs" ro)" = ro=true ]
	bk_nothing_partial
}

@test "a second pull of the same image fetches no blob; shared layers are stored once" {
	start
	bk_pull "$BK_REG/test/busybox" >/dev/null
	before=$(bk_registry_blob_gets plain)
	id2=$(bk_pull "$BK_REG/test/busybox")
	[ "$(bk_registry_blob_gets plain)" = "$before" ] ||
		bk_fail "second pull fetched $(($(bk_registry_blob_gets plain) - before)) blob(s)"
	cmp /bin/busybox "$BK_MNT/images/$id2/root/bin/busybox"
	# multi shares busybox's base layer: one subvolume for it under layers/.
	bk_pull "$BK_REG/test/multi" >/dev/null
	base=$(head -n1 "$BK_MNT/images/$id2/layers" | cut -d' ' -f1)
	[ "$(grep -c "\"digest\": \"$base\"" "$BK_STORE"/layers/*/layer.json | awk -F: '{ s += $2 } END { print s }')" = 1 ]
}

@test "multi-layer image: whiteouts, an opaque directory, setuid, hardlinks, owners" {
	start
	id=$(bk_pull "$BK_REG/test/multi")
	r=$BK_MNT/images/$id/root
	[ "$(wc -l <"$BK_MNT/images/$id/layers")" = 4 ]
	[ ! -e "$r/etc/hello" ]                         # .wh.hello from umoci
	[ ! -e "$r/gone" ]                              # .wh.gone
	[ "$(ls -A "$r/data")" = c ]                    # opaque: a, b, link hidden
	bk_assert_content "$r/data/c" $'c from the opaque layer\n'
	bk_assert_content "$r/etc/opaque-layer" $'yes\n'
	[ "$(stat -c %a "$r/opt/suid")" = 4755 ]
	[ "$(stat -c %i "$r/opt/file")" = "$(stat -c %i "$r/opt/hard")" ]
	[ "$(stat -c %u:%g "$r/opt/owned")" = 1000:1001 ]
	[ -z "$(find "$r" -name '.wh.*')" ]
	cmp /bin/busybox "$r/bin/busybox"
}

@test "a first layer without an entry for / gives a root 0755 root:root, as Docker does; USER nobody can run" {
	start
	"$BK_REG_PY" "$BK_REG_LIB/push.py" no-root-entry "$BK_REG" test/no-root-entry latest \
		test/busybox latest 65534:65534 >/dev/null
	id=$(bk_pull "$BK_REG/test/no-root-entry")
	r=$BK_MNT/images/$id/root
	[ "$(stat -L -c '%a %u:%g' "$r/")" = '755 0:0' ] || bk_fail "root: $(stat -L -c '%a %u:%g' "$r/")"
	[ "$(stat -c '%a %u:%g' "$BK_STORE/images/$id/rootfs")" = '755 0:0' ]
	cmp /bin/busybox "$r/bin/busybox"
	# A container of it runs its command as 65534 (no network: not needed here).
	mkdir "$BK_MNT/containers/nobody"
	echo "$id" >"$BK_MNT/containers/nobody/image"
	echo 'mode none' >"$BK_MNT/containers/nobody/net"
	echo 'id -u; ls -d /bin' >"$BK_MNT/containers/nobody/cmd"
	run bk_write_errno "$BK_MNT/containers/nobody/ctl" $'start\n'
	[ "${lines[0]}" = OK ] || bk_fail "start as nobody: $output"
	bk_assert_content "$BK_MNT/containers/nobody/wait" $'exit 0\n'
	bk_assert_content "$BK_MNT/containers/nobody/log" $'65534\n/bin\n'
	# An image whose layer has an entry for "." keeps the mode it says.
	id2=$(bk_pull "$BK_REG/test/busybox")
	[ "$(stat -L -c '%u:%g' "$BK_MNT/images/$id2/root/")" = 0:0 ]
	run bk_write_errno "$BK_MNT/containers/nobody/ctl" $'rm force\n'
	[ "${lines[0]}" = OK ] || bk_fail "rm: $output"
}

@test "zstd layers are decompressed" {
	start
	id=$(bk_pull "$BK_REG/test/zstd")
	bk_assert_content "$BK_MNT/images/$id/root/zstd-marker" $'compressed with zstd\n'
}

@test "an index gives the host's platform; 'REF os/arch' picks another; a missing one is ENOENT" {
	start
	id=$(bk_pull "$BK_REG/test/index")
	[ ! -e "$BK_MNT/images/$id/root/platform" ]
	jq -e '.architecture == "amd64"' "$BK_MNT/images/$id/config" >/dev/null
	id=$(bk_pull "$BK_REG/test/index linux/arm64")
	bk_assert_content "$BK_MNT/images/$id/root/platform" $'arm64\n'
	jq -e '.architecture == "arm64"' "$BK_MNT/images/$id/config" >/dev/null
	run bk_write_errno "$BK_MNT/images/pull" "$BK_REG/test/index linux/s390x"$'\n'
	[ "${lines[0]}" = ENOENT ]
	bk_check_error ENOENT /images/pull 'pull|write' images/err "${lines[1]}" "no manifest for linux/s390x" \
		"linux/amd64"
}

@test "pull by digest" {
	start
	want=$("$BK_REG_PY" "$BK_REG_LIB/push.py" manifest-digest "$BK_REG" test/busybox latest)
	id=$(bk_pull "$BK_REG/test/busybox@$want")
	[ "$(cat "$BK_MNT/images/$id/digest")" = "$want" ]
}

@test "errors: ENOENT, EINVAL, ECONNREFUSED, EBADMSG, EPROTO, each with its text, nothing partial" {
	start
	n=$(bk_index_ids | wc -l)
	check() { # ERRNO REF SUBSTR...
		local e=$1 ref=$2
		shift 2
		run bk_write_errno "$BK_MNT/images/pull" "$ref"$'\n'
		[ "${lines[0]}" = "$e" ] || bk_fail "pull '$ref': ${lines[0]}, want $e: ${lines[1]}" || return
		bk_check_error "$e" /images/pull 'pull|write' images/err "${lines[1]}" "$@"
	}
	check ENOENT "$BK_REG/test/nope" "not found" "test/nope"
	check ENOENT "$BK_REG/test/busybox:nope" "not found" "manifests/nope"
	check EINVAL "$BK_REG/test/Bad" "must be lowercase"
	check ECONNREFUSED "127.0.0.1:1/test/busybox" "127.0.0.1:1"
	check EBADMSG "$BK_REG/test/corrupt" "digest mismatch" "$BK_REG_CORRUPT_LAYER"
	check EPROTO "$BK_REG/test/artifact" "not a container image"
	[ "$(bk_index_ids | wc -l)" = "$n" ]
	# The damaged layer was never committed; the good base layer below it was.
	# (bats ignores `! cmd`: a negated command never fails a test)
	if grep -l "\"digest\": \"$BK_REG_CORRUPT_LAYER\"" "$BK_STORE"/layers/*/layer.json; then
		bk_fail "the damaged layer was committed"
	fi
	bk_nothing_partial
}

@test "auth: Basic and token registries with credentials; EACCES without or with bad ones" {
	start
	id=$(bk_pull "$BK_REG_BASIC/test/busybox")
	cmp /bin/busybox "$BK_MNT/images/$id/root/bin/busybox"
	id=$(bk_pull "$BK_REG_TOKEN/test/multi")
	[ "$(ls -A "$BK_MNT/images/$id/root/data")" = c ]
	grep -q ' 200$' "$BK_REG_DIR/tokens.log"
	bk_daemon_term
	printf '{"auths": {"%s": {"auth": "%s"}, "%s": {"auth": "%s"}}}\n' "$BK_REG_BASIC" \
		"$(printf bk:wrong | base64)" "$BK_REG_TOKEN" "$(printf tk:wrong | base64)" >"$BK_TMP/bad.json"
	bk_daemon_start --auth-config "$BK_TMP/bad.json"
	run bk_write_errno "$BK_MNT/images/pull" "$BK_REG_BASIC/test/zstd"$'\n'
	[ "${lines[0]}" = EACCES ]
	bk_check_error EACCES /images/pull 'pull|write' images/err "${lines[1]}" "credentials"
	run bk_write_errno "$BK_MNT/images/pull" "$BK_REG_TOKEN/test/zstd"$'\n'
	[ "${lines[0]}" = EACCES ]
	bk_check_error EACCES /images/pull 'pull|write' images/err "${lines[1]}" "refused the credentials"
	bk_daemon_term
	bk_daemon_start
	run bk_write_errno "$BK_MNT/images/pull" "$BK_REG_BASIC/test/zstd"$'\n'
	[ "${lines[0]}" = EACCES ]
	bk_check_error EACCES /images/pull 'pull|write' images/err "${lines[1]}" "no credentials"
}

@test "a registry that never answers: ETIMEDOUT" {
	export BOCKERFS_REGISTRY_TIMEOUT=2
	start
	start_hanging_server
	run bk_write_errno "$BK_MNT/images/pull" "127.0.0.1:$HANG_PORT/test/x"$'\n'
	[ "${lines[0]}" = ETIMEDOUT ]
	bk_check_error ETIMEDOUT /images/pull 'pull|write' images/err "${lines[1]}" "no data for 2 s"
}

@test "Docker Hub names go to the mirrors first, the next mirror when one is down" {
	start --registry-mirror http://127.0.0.1:1 --registry-mirror "http://$BK_REG"
	id=$(bk_pull busybox)
	grep -qx busybox:latest "$BK_MNT/images/$id/ref"
	cmp /bin/busybox "$BK_MNT/images/$id/root/bin/busybox"
	grep -q '"GET /v2/library/busybox/manifests/latest' "$BK_REG_DIR/plain.log"
}

@test "credentials are not sent after a redirect to another host" {
	bk_tmp_init
	"$BK_REG_PY" "$BK_REG_LIB/redirector.py" "$BK_REG" "$BK_TMP/redir.log" bk:bkpw \
		>"$BK_TMP/redir.ports" 2>/dev/null 3>&- &
	bk_track helper $!
	bk_wait_until 5 test -s "$BK_TMP/redir.ports"
	read -r front storage <"$BK_TMP/redir.ports"
	printf '{"auths": {"127.0.0.1:%s": {"auth": "%s"}}}\n' "$front" "$(printf bk:bkpw | base64)" \
		>"$BK_TMP/auth.json"
	bk_daemon_start --auth-config "$BK_TMP/auth.json"
	id=$(bk_pull "127.0.0.1:$front/test/multi")
	[ "$(ls -A "$BK_MNT/images/$id/root/data")" = c ]
	grep -q '^front GET /v2/test/multi/blobs/.* Basic ' "$BK_TMP/redir.log"
	grep -q '^storage GET /blob/' "$BK_TMP/redir.log"
	! grep '^storage ' "$BK_TMP/redir.log" | grep -v ' -$' || false
}

@test "while a pull runs: state pulling, progress, the tree answers; Ctrl-C: EINTR, nothing partial" {
	start
	start_hanging_server
	n=$(bk_index_ids | wc -l)
	bk_bg "$BK_TMP/intr.out" "$BK_PY" "$BK_LIB/bkio.py" intr-write "$BK_MNT/images/pull" \
		"127.0.0.1:$HANG_PORT/test/x"$'\n' 3
	pid=$BK_BG_PID
	bk_wait_until 5 pulling_state || bk_fail "no image directory in state pulling"
	timeout 2 cat "$BK_MNT/version" >/dev/null
	[ -f "$(ls -d "$BK_MNT"/images/img_*/ | head -n1)/progress" ]
	wait "$pid" || true
	[ "$(head -n1 "$BK_TMP/intr.out")" = EINTR ] || bk_fail "intr-write: $(cat "$BK_TMP/intr.out")"
	bk_wait_until 5 eval 'test "$(bk_index_ids | wc -l)" = "$n"'
	bk_nothing_partial
}

@test "a full disk: ENOSPC, the store intact, the same pull succeeds once there is room" {
	BK_STORAGE_SIZE=256M start
	id=$(bk_pull "$BK_REG/test/busybox")
	dd if=/dev/zero of="$BK_STORE/filler" bs=1M 2>/dev/null || true
	sync
	run bk_write_errno "$BK_MNT/images/pull" "$BK_REG/test/big"$'\n'
	[ "${lines[0]}" = ENOSPC ]
	bk_check_error ENOSPC /images/pull 'pull|write' images/err "${lines[1]}" "no space left"
	rm -f "$BK_STORE/filler"
	sync
	bk_nothing_partial
	cmp /bin/busybox "$BK_MNT/images/$id/root/bin/busybox"
	id2=$(bk_pull "$BK_REG/test/big")
	[ "$(stat -c %s "$BK_MNT/images/$id2/root/big3")" = 8388608 ]
}

@test "kill -9 mid-pull: after restart no partial image, no orphan subvolume; layers are reused" {
	start
	bk_pull "$BK_REG/test/busybox" >/dev/null
	start_hanging_server
	bk_bg "$BK_TMP/pull.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/pull" \
		"127.0.0.1:$HANG_PORT/test/x"$'\n'
	sleep 0.5
	bk_daemon_kill9
	umount -l "$BK_MNT" 2>/dev/null || true
	bk_daemon_start --auth-config "$BK_REG_DIR/auth.json"
	bk_nothing_partial
	before=$(bk_registry_blob_gets plain)
	bk_pull "$BK_REG/test/busybox" >/dev/null
	[ "$(bk_registry_blob_gets plain)" = "$before" ]
}

@test "two pulls at once through images/pull: one that hangs does not hold back the other" {
	start
	start_hanging_server
	bk_bg "$BK_TMP/hang.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/pull" \
		"127.0.0.1:$HANG_PORT/test/x"$'\n'
	hung=$BK_BG_PID
	bk_wait_until 5 pulling_state || bk_fail "no image directory in state pulling"
	# Each open of a control file is an inode of its own: no queue behind the first write.
	id=$(timeout 60 "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/pull" "$BK_REG/test/busybox"$'\n' |
		sed -n 2p)
	[[ $id =~ ^img_[0-9a-f]{12}$ ]] || bk_fail "second pull: '$id'"
	bk_alive "$hung" || bk_fail "the hanging pull ended: $(cat "$BK_TMP/hang.out")"
	cmp /bin/busybox "$BK_MNT/images/$id/root/bin/busybox"
}

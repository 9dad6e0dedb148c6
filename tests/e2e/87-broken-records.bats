#!/usr/bin/env bats
# Records that fail to load are shown, not dropped (issue 13).  With the
# daemon stopped, a container's or an image's record in the store is torn,
# emptied, garbled, given another id or deleted, or an image's filesystem
# goes; after a restart the object is still listed, its state is `broken`,
# its `err` and the top-level `errors` say why (op `load`), and it can be
# removed.  A broken container whose init still runs is found by its root
# (not by the lost record): its pid is shown, `kill` reaches it, and
# `rm force` ends it and releases its cgroup, address and veth.  The daemon
# runs in a network namespace of its own (tests/lib/net.bash).

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'
load '../lib/net'
load '../lib/crash'

: "${BATS_TEST_TIMEOUT:=180}"

setup_file() {
	ct_setup_file
}

teardown_file() {
	ct_teardown_file
}

teardown() {
	net_teardown
}

# corrupt FILE HOW: damage a record the way a torn write, a full disk or a bad sector would.
corrupt() {
	case $2 in
	truncated) truncate -s "$(($(stat -c %s "$1") / 2))" "$1" ;;
	empty) : >"$1" ;;
	garbage) head -c 300 /dev/urandom >"$1" ;;
	wrong-id) sed -i 's/"id": *"[^"]*"/"id": "ps_000000000000"/; s/"id": *"img_[0-9a-f]*"/"id": "img_000000000000"/' "$1" ;;
	missing) rm -f "$1" ;;
	*) bk_fail "corrupt: unknown '$2'" ;;
	esac
}

# stop_with_store: SIGTERM the daemon (containers keep running) and mount its
# store again (a clean exit unmounts it), as an operator would to look at it;
# the next daemon reuses a mounted store as it is.
stop_with_store() {
	bk_daemon_term TERM || return
	mount -o loop,nosuid,nodev "$BK_ROOT/storage.img" "$BK_STORE"
}

# check_broken KIND ID ERRNAME: listed, state broken, `err` and `errors` name the load failure.
check_broken() {
	local dir=$BK_MNT/$1/$2
	[ -d "$dir" ] || bk_fail "$1/$2 is not listed: $(ls "$BK_MNT/$1")" || return
	grep -q "^$2"$'\t' "$BK_MNT/$1/index" || bk_fail "$2 not in $1/index" || return
	bk_assert_content "$dir/state" $'broken\n' || return
	grep -qE "^$BK_TIME_RE load: .+" "$dir/err" || bk_fail "err: $(cat "$dir/err")" || return
	grep -qE "^$BK_TIME_RE /$1/$2 load $3: .+" "$BK_MNT/errors" ||
		bk_fail "errors: $(cat "$BK_MNT/errors")"
}

# cg_gone ID: no cgroup of ID in any hierarchy.
cg_gone() {
	! crash_cgroups | grep -qx "$1"
}

broken_running_ctr() {
	local how=$1 errname=$2 id pid
	net_start
	net_create id 'i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done' ports='tcp 18087 80'
	net_start_ctr "$id"
	pid=$(cat "$C/$id/pid")
	[ -n "$(net_leases_of "$id")" ] || bk_fail "no lease" || return
	stop_with_store
	corrupt "$BK_STORE/containers/$id/container.json" "$how"
	net_daemon_start
	check_broken containers "$id" "$errname"
	# Its init was found although the record is lost.
	bk_assert_content "$C/$id/pid" "$pid"$'\n'
	bk_alive "$pid" || bk_fail "init $pid is gone"
	grep -q '^state broken$' "$C/$id/status" || bk_fail "status: $(cat "$C/$id/status")"
	# What needs the record fails with the reason; what does not works.
	run bk_write_errno "$C/$id/ctl" $'start\n'
	[ "${lines[0]}" = "$errname" ] || bk_fail "start: $output"
	[[ ${lines[1]} == *"is broken"* ]] || bk_fail "start: $output"
	run bk_write_errno "$C/$id/cmd" $'true\n'
	[ "${lines[0]}" = "$errname" ] || bk_fail "cmd: $output"
	run ct_ctl "$id" commit
	[ "${lines[0]}" = "$errname" ] || bk_fail "commit: $output"
	run bk_errno rmdir "$C/$id"
	[ "$output" = EBUSY ] || bk_fail "rmdir of a running broken container: $output"
	run ct_ctl "$id" 'kill USR1'
	[ "$status" -eq 0 ] || bk_fail "kill: $output"
	run ct_ctl "$id" 'rm force'
	[ "$status" -eq 0 ] || bk_fail "rm force: $output"
	bk_wait_gone "$pid" || bk_fail "init $pid still runs after rm force"
	[ ! -e "$C/$id" ] || bk_fail "still listed"
	[ ! -e "$BK_STORE/containers/$id" ] || bk_fail "still in the store"
	bk_wait_until 5 cg_gone "$id" || bk_fail "cgroups left: $(crash_cgroups)"
	[ -z "$(net_leases_of "$id")" ] || bk_fail "lease left: $(cat "$BK_MNT/net/leases")"
	bk_wait_until 5 crash_links_are "" || bk_fail "veths left: $(net_bk_links)"
	[ -z "$(net_elements "$id")" ] || bk_fail "published port left"
	bk_tmp_empty
}

@test "running container, record truncated: listed broken, pid found, kill and rm force release everything" {
	broken_running_ctr truncated EBADMSG
}

@test "running container, record empty: listed broken, found, removed with all it held" {
	broken_running_ctr empty EBADMSG
}

@test "running container, record garbage: listed broken, found, removed with all it held" {
	broken_running_ctr garbage EBADMSG
}

@test "running container, record with another id: listed broken, found, removed with all it held" {
	broken_running_ctr wrong-id EBADMSG
}

@test "running container, record missing: listed broken, found, removed with all it held" {
	broken_running_ctr missing ENOENT
}

@test "a broken container's init exits: wait reads its exit, the state stays broken" {
	local id pid out
	net_start
	net_create id 'trap "exit 7" TERM; while :; do sleep 0.1; done'
	net_start_ctr "$id"
	pid=$(cat "$C/$id/pid")
	stop_with_store
	corrupt "$BK_STORE/containers/$id/container.json" garbage
	net_daemon_start
	check_broken containers "$id" EBADMSG
	bk_bg "$BK_TMP/out" timeout 20 cat "$C/$id/wait"
	sleep 0.3
	ct_ctl "$id" 'kill TERM'
	bk_wait_gone "$pid"
	bk_wait_until 10 test -s "$BK_TMP/out" || bk_fail "wait did not return"
	[ "$(cat "$BK_TMP/out")" = "exit 7" ] || bk_fail "wait: $(cat "$BK_TMP/out")"
	bk_assert_content "$C/$id/state" $'broken\n'
	bk_assert_content "$C/$id/pid" $'0\n'
	# The record is left as found, for the operator.
	[ "$(head -c 300 "$BK_STORE/containers/$id/container.json" | wc -c)" = 300 ]
	rmdir "$C/$id"
	[ ! -e "$BK_STORE/containers/$id" ]
}

@test "an exited container with a broken record: wait fails with the reason, rmdir removes it" {
	local id
	net_start
	net_create id 'exit 3'
	net_start_ctr "$id"
	ct_wait_state "$id" exited
	stop_with_store
	corrupt "$BK_STORE/containers/$id/container.json" truncated
	net_daemon_start
	check_broken containers "$id" EBADMSG
	run bk_errno read "$C/$id/wait"
	[ "$output" = EBADMSG ] || bk_fail "wait: $output"
	bk_assert_content "$C/$id/pid" $'0\n'
	rmdir "$C/$id"
	[ ! -e "$C/$id" ] && [ ! -e "$BK_STORE/containers/$id" ]
	[ -z "$(net_leases_of "$id")" ] || bk_fail "lease left"
}

# broken_image HOW ERRNAME: an image record damaged with the daemon stopped.
broken_image() {
	local img
	net_start
	img=$(bk_import "$BB" victim:1)
	stop_with_store
	if [ "$1" = rootfs ]; then
		btrfs -q subvolume delete "$BK_STORE/images/$img/rootfs" >/dev/null
	else
		corrupt "$BK_STORE/images/$img/image.json" "$1"
	fi
	net_daemon_start
	check_broken images "$img" "$2"
	# A run names the reason and makes no container.
	run bk_write_errno "$C/run" "$img true"$'\n'
	[ "${lines[0]}" = "$2" ] || bk_fail "run: $output"
	[[ ${lines[1]} == *"$img is broken"* ]] || bk_fail "run: $output"
	[ -z "$(ct_ids)" ] || bk_fail "a container was made: $(ct_ids)"
	rmdir "$BK_MNT/images/$img"
	[ ! -e "$BK_MNT/images/$img" ] && [ ! -e "$BK_STORE/images/$img" ]
	bk_tmp_empty
}

@test "image record garbage: listed broken with the reason; run refused; rmdir removes it" {
	broken_image garbage EBADMSG
}

@test "image record with another id: listed broken with the reason; rmdir removes it" {
	broken_image wrong-id EBADMSG
}

@test "image record truncated: listed broken; rmdir removes it" {
	broken_image truncated EBADMSG
}

@test "image record empty: listed broken; rmdir removes it" {
	broken_image empty EBADMSG
}

@test "image record missing: listed broken; rmdir removes it" {
	broken_image missing ENOENT
}

@test "image filesystem deleted from the store while stopped: broken, by its name too; rmdir" {
	broken_image rootfs ENOENT
}

@test "image filesystem deleted while the daemon runs: run fails naming the container, the image turns broken" {
	local img id out fd s
	net_start
	img=$(bk_import "$BB" victim:2)
	# The spare snapshots made ahead would hide the loss: drop them first.
	bk_wait_until 10 bk_spares_ready "$img" 4 || bk_fail "spares: $(ls "$BK_STORE/spare")"
	for s in "$BK_STORE"/spare/"$img".*; do btrfs -q subvolume delete "$s" >/dev/null; done
	btrfs -q subvolume delete "$BK_STORE/images/$img/rootfs" >/dev/null
	exec {fd}<>"$C/run"
	printf '%s\n' "victim:2 true" >&"$fd" || true
	read -r out <&"$fd"
	exec {fd}>&-
	[[ $out =~ ^error:.*(ps_[0-9a-f]{12}) ]] || bk_fail "reply: $out"
	id=${BASH_REMATCH[1]}
	[[ $out == *"$img"* ]] || bk_fail "reply does not name the image: $out"
	bk_assert_content "$C/$id/state" $'created\n'
	bk_assert_content "$BK_MNT/images/$img/state" $'broken\n'
	grep -q "load: .*$img" "$BK_MNT/images/$img/err" || bk_fail "err: $(cat "$BK_MNT/images/$img/err")"
	run bk_write_errno "$C/run" $'victim:2 true\n'
	[ "${lines[0]}" = ENOENT ] || bk_fail "second run: $output"
	rmdir "$C/$id"
	rmdir "$BK_MNT/images/$img"
}

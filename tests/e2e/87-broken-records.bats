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

# refused ID ERRNAME FILE LINE: one write of LINE to ID's FILE fails with
# ERRNAME, and the reason, "container ID is broken: ...", is in `errors`, in
# ID's `err` and, for ctl, in the read-back (docs/tree.md, "Broken records").
refused() {
	local id=$1 e=$2 f=$3 line=$4 out back=-
	out=$(bk_write_errno "$C/$id/$f" "$line"$'\n')
	[ "${out%%$'\n'*}" = "$e" ] || bk_fail "$f '$line': $(tr '\n' ' ' <<<"$out"), want $e" || return
	[ "$f" = ctl ] && back=$(sed -n 2p <<<"$out")
	bk_check_error "$e" "/containers/$id/$f" "write|$f|${line%% *}" "containers/$id/err" "$back" \
		"container $id is broken"
}

# refuses_all ID ERRNAME: everything that needs ID's record (writes to
# limits, env, net, ports, image, cmd; commit; start) fails with ERRNAME and
# the reason; every miss is reported.  (exec and a running one's restart:
# their own tests below.)
refuses_all() {
	local id=$1 e=$2 kv bad=0
	for kv in 'limits=memory 64m' 'limits=pids 100' 'env=A=1' 'net=mode none' \
		'ports=tcp 18088 80' 'image=busybox' "image=$BB_ID" 'cmd=true'; do
		refused "$id" "$e" "${kv%%=*}" "${kv#*=}" || bad=1
	done
	refused "$id" "$e" ctl commit || bad=1
	refused "$id" "$e" ctl 'commit broken:1' || bad=1
	refused "$id" "$e" ctl start || bad=1
	return "$bad"
}

# broken_running HOW ERRNAME VAR: a running container (its command exits 9 on
# TERM) whose record is then damaged with the daemon stopped; VAR gets its
# id, BROKEN_PID its init's pid.
broken_running() {
	local -n _br=$3
	net_start || return
	net_create _br 'trap "exit 9" TERM; while :; do sleep 0.1; done' || return
	net_start_ctr "$_br" || return
	BROKEN_PID=$(cat "$C/$_br/pid")
	stop_with_store || return
	corrupt "$BK_STORE/containers/$_br/container.json" "$1"
	net_daemon_start || return
	check_broken containers "$_br" "$2" || return
	bk_assert_content "$C/$_br/pid" "$BROKEN_PID"$'\n'
}

# broken_running_ops HOW ERRNAME: a running broken container: what needs the
# record is refused with the reason, and its init runs on; `stop` stops it
# (its cgroup and veth go, `wait` reads the exit); then, stopped and still
# broken, start, restart and everything else are refused the same way, stop
# and kill are ESRCH, and rmdir removes it with its address.
broken_running_ops() {
	local how=$1 e=$2 id pid w line bad=0
	broken_running "$how" "$e" id
	pid=$BROKEN_PID
	refuses_all "$id" "$e" || bad=1
	bk_alive "$pid" || bk_fail "init $pid is gone after the refusals" || bad=1
	bk_assert_content "$C/$id/pid" "$pid"$'\n' || bad=1
	bk_assert_content "$C/$id/state" $'broken\n' || bad=1
	[ "$bad" = 0 ] || return
	# stop reaches it by its pidfd, as kill does.
	run ct_ctl "$id" 'stop 5'
	[ "${lines[0]}" = OK ] || bk_fail "stop: $output" || return
	bk_wait_gone "$pid" 1 || bk_fail "init $pid runs after stop returned" || return
	bk_assert_content "$C/$id/state" $'broken\n'
	bk_assert_content "$C/$id/pid" $'0\n'
	w=$(timeout 5 cat "$C/$id/wait") || bk_fail "wait after stop: '$w'" || return
	[ "$w" = "exit 9" ] || bk_fail "wait after stop: '$w', want 'exit 9' (its TERM trap)" || return
	bk_wait_until 5 cg_gone "$id" || bk_fail "cgroups left after stop: $(crash_cgroups)" || return
	bk_wait_until 5 crash_links_are "" || bk_fail "veth left after stop: $(net_bk_links)" || return
	# Stopped and broken.
	refuses_all "$id" "$e" || bad=1
	refused "$id" "$e" ctl 'restart 1' || bad=1
	for line in 'stop 1' 'kill TERM'; do
		run ct_ctl "$id" "$line"
		[ "${lines[0]}" = ESRCH ] || bk_fail "$line on a stopped broken container: $output" || bad=1
	done
	[ "$bad" = 0 ] || return
	rmdir "$C/$id"
	[ ! -e "$C/$id" ] && [ ! -e "$BK_STORE/containers/$id" ] || bk_fail "not removed" || return
	[ -z "$(net_leases_of "$id")" ] || bk_fail "lease left: $(cat "$BK_MNT/net/leases")" || return
	bk_tmp_empty
}

@test "running broken container (record garbage): commit, start, writes to limits, env, net, ports, image, cmd fail with EBADMSG and the reason; stop stops it; then the same and restart refused while stopped" {
	broken_running_ops garbage EBADMSG
}

@test "running broken container (record missing): the same with ENOENT" {
	broken_running_ops missing ENOENT
}

# A restart needs the record (its start does): refused like start, before
# its stop, so that the init runs on (a broken container cannot be started
# again: a restart that stopped it first would end the service for good).
@test "running broken container: restart is refused with the errno and the reason, and its init runs on" {
	local id pid out
	broken_running garbage EBADMSG id
	pid=$BROKEN_PID
	refused "$id" EBADMSG ctl 'restart 1'
	bk_alive "$pid" || bk_fail "init $pid is gone after a refused restart"
	bk_assert_content "$C/$id/pid" "$pid"$'\n'
	bk_assert_content "$C/$id/state" $'broken\n'
	run ct_ctl "$id" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force: $output"
}

# exec_refused ID ERRNAME: an exec session of broken ID cannot be had: the
# read of exec/clone fails with ERRNAME and the reason is in `err` and `errors`.
exec_refused() {
	local id=$1 e=$2 out
	out=$(bk_errno read "$C/$id/exec/clone")
	[ "$out" = "$e" ] || bk_fail "read exec/clone: $out, want $e" || return
	bk_check_error "$e" "/containers/$id/exec/clone" 'read|open|exec|clone' "containers/$id/err" - \
		"container $id is broken"
}

@test "broken container, running and stopped: exec (a read of exec/clone) fails with the errno and the reason" {
	local id pid
	broken_running garbage EBADMSG id
	pid=$BROKEN_PID
	exec_refused "$id" EBADMSG
	bk_alive "$pid" || bk_fail "init $pid is gone"
	run ct_ctl "$id" 'stop 5'
	[ "${lines[0]}" = OK ] || bk_fail "stop: $output"
	exec_refused "$id" EBADMSG
	rmdir "$C/$id"
}

# broken_stopped_ops HOW ERRNAME: a container that exited, its record then
# damaged: start, restart, commit and the writes are refused with the
# reason; stop and kill are ESRCH; rm force removes it and its address.
broken_stopped_ops() {
	local how=$1 e=$2 id bad=0 line
	net_start
	net_create id 'exit 0' ports='tcp 18086 80'
	net_start_ctr "$id"
	ct_wait_state "$id" exited
	stop_with_store
	corrupt "$BK_STORE/containers/$id/container.json" "$how"
	net_daemon_start
	check_broken containers "$id" "$e"
	bk_assert_content "$C/$id/pid" $'0\n'
	refuses_all "$id" "$e" || bad=1
	refused "$id" "$e" ctl 'restart 1' || bad=1
	for line in 'stop 1' 'kill TERM'; do
		run ct_ctl "$id" "$line"
		[ "${lines[0]}" = ESRCH ] || bk_fail "$line: $output" || bad=1
	done
	bk_assert_content "$C/$id/state" $'broken\n' || bad=1
	[ "$bad" = 0 ] || return
	run ct_ctl "$id" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force: $output" || return
	[ ! -e "$C/$id" ] && [ ! -e "$BK_STORE/containers/$id" ] || bk_fail "not removed" || return
	[ -z "$(net_leases_of "$id")" ] || bk_fail "lease left: $(cat "$BK_MNT/net/leases")" || return
	bk_wait_until 5 cg_gone "$id" || bk_fail "cgroups left: $(crash_cgroups)" || return
	bk_tmp_empty
}

@test "stopped broken container (record truncated): start, restart, commit, writes fail with EBADMSG and the reason; stop, kill ESRCH; rm force removes it" {
	broken_stopped_ops truncated EBADMSG
}

@test "stopped broken container (record missing): the same with ENOENT" {
	broken_stopped_ops missing ENOENT
}

# busybox httpd on port 80 answering "hello from HOSTNAME" (as in 50-network.bats).
HTTPD_CMD='mkdir -p /www && echo "hello from $HOSTNAME" >/www/index.html && exec httpd -f -vv -p 80 -h /www'

# The whole table "ip bockerfs" in the daemon's namespace, as nft lists it.
nft_table() {
	nh nft list table ip bockerfs
}

@test "a running container with a published port whose record breaks: after rm force the port is published for a new container and reached; nothing of the old one is left in the table" {
	local id pid ip new port=18089
	net_start
	net_create id "$HTTPD_CMD" ports="tcp $port 80"
	net_start_ctr "$id"
	pid=$(cat "$C/$id/pid")
	ip=$(net_ip "$id")
	net_wait_http "http://127.0.0.1:$port/"
	[ -n "$(net_elements "$id")" ] || bk_fail "no element for $id: $(net_elements)"
	stop_with_store
	corrupt "$BK_STORE/containers/$id/container.json" garbage
	net_daemon_start
	check_broken containers "$id" EBADMSG
	run ct_ctl "$id" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force: $output"
	bk_wait_gone "$pid" || bk_fail "init $pid still runs"
	bk_wait_until 5 cg_gone "$id" || bk_fail "cgroups left: $(crash_cgroups)"
	[ -z "$(net_leases_of "$id")" ] || bk_fail "lease left: $(cat "$BK_MNT/net/leases")"
	bk_wait_until 5 crash_links_are "" || bk_fail "veths left: $(net_bk_links)"
	[ -z "$(net_elements)" ] || bk_fail "elements left: $(net_elements)"
	! nft_table | grep -qwF -e "$id" -e "$ip" || bk_fail "the table names $id or $ip: $(nft_table)"
	# The port is free: a new container publishes it, and is the one reached.
	net_create new "$HTTPD_CMD" ports="tcp $port 80"
	net_start_ctr "$new"
	net_wait_http "http://127.0.0.1:$port/"
	[ "$(net_curl "http://127.0.0.1:$port/")" = "hello from $new" ] ||
		bk_fail "port $port answers '$(net_curl "http://127.0.0.1:$port/")', not $new"
	[ "$(net_elements)" = "tcp . $port : $(net_ip "$new") . 80  # $new" ] ||
		bk_fail "elements: $(net_elements)"
	run ct_ctl "$new" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force $new: $output"
	[ -z "$(net_elements)" ] || bk_fail "elements left: $(net_elements)"
	! nft_table | grep -qE "(^|[^0-9])$port([^0-9]|$)" || bk_fail "port $port still in the table: $(nft_table)"
	bk_tmp_empty
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

# image_refused ERRNAME IMG NAME: IMG, named NAME (its id, or a name its
# record gives it), cannot be used: a run (no container made), a container's
# `image`, a build's FROM (from_refused) fail with ERRNAME and "image IMG is
# broken", in the read-back or `err` and in `errors`.  Every miss is reported.
# A broken image whose errno is ENOENT is not tried with FROM here: see the
# FROM tests below.
image_refused() {
	local e=$1 img=$2 name=$3 out id bad=0
	out=$(bk_write_errno "$C/run" "$name true"$'\n')
	[ "${out%%$'\n'*}" = "$e" ] || bk_fail "run $name: $(tr '\n' ' ' <<<"$out")" || bad=1
	bk_check_error "$e" /containers/run 'write|run' containers/err "$(sed -n 2p <<<"$out")" \
		"image $img is broken" || bad=1
	[ -z "$(ct_ids)" ] || bk_fail "run $name made a container: $(ct_ids)" || bad=1
	id=$(cat "$C/clone")
	out=$(bk_write_errno "$C/$id/image" "$name"$'\n')
	[ "${out%%$'\n'*}" = "$e" ] || bk_fail "image $name: $(tr '\n' ' ' <<<"$out")" || bad=1
	bk_check_error "$e" "/containers/$id/image" 'write|image' "containers/$id/err" - \
		"image $img is broken" || bad=1
	rmdir "$C/$id"
	if [ "$e" != ENOENT ]; then
		from_refused "$e" "$img" "$name" || bad=1
	fi
	return "$bad"
}

# from_refused ERRNAME IMG NAME: a build FROM NAME (IMG, broken) fails with
# ERRNAME and "image IMG is broken" (read-back, images/err, errors), pulls
# nothing, and leaves no image.
from_refused() {
	local e=$1 img=$2 name=$3 out ctx bad=0 before
	ctx=$(mktemp -d "$BK_TMP/ctx.XXXXXX")
	printf 'FROM %s\nRUN true\n' "$name" >"$ctx/Dockerfile"
	before=$(bk_tree_images)
	out=$(bk_write_errno "$BK_MNT/images/build" "$ctx"$'\n')
	[ "${out%%$'\n'*}" = "$e" ] || bk_fail "build FROM $name: $(tr '\n' ' ' <<<"$out")" || bad=1
	bk_check_error "$e" /images/build 'write|build' images/err "$(sed -n 2p <<<"$out")" \
		"image $img is broken" || bad=1
	[[ $out != *pull* ]] || bk_fail "build FROM $name tried a pull: $(tr '\n' ' ' <<<"$out")" || bad=1
	[ "$(bk_tree_images)" = "$before" ] || bk_fail "the build left: $(bk_tree_images)" || bad=1
	bk_tmp_empty || bad=1
	return "$bad"
}

# broken_image HOW ERRNAME: an image record damaged with the daemon stopped.
broken_image() {
	local img out
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
	# Run, image, FROM: refused with the reason, by its id.
	image_refused "$2" "$img" "$img"
	if [ "$1" = rootfs ]; then
		# Its record stands, and with it its name: by the name, the same.
		bk_assert_content "$BK_MNT/images/$img/ref" $'victim:1\n'
		image_refused "$2" "$img" victim:1
	else
		# The name was in the lost record: it names nothing now.
		out=$(bk_write_errno "$C/run" $'victim:1 true\n')
		[ "${out%%$'\n'*}" = ENOENT ] && [[ $out == *"no image named 'victim:1'"* ]] ||
			bk_fail "run victim:1: $(tr '\n' ' ' <<<"$out")"
	fi
	[ -z "$(ct_ids)" ] || bk_fail "a container was made: $(ct_ids)"
	rmdir "$BK_MNT/images/$img"
	[ ! -e "$BK_MNT/images/$img" ] && [ ! -e "$BK_STORE/images/$img" ]
	bk_tmp_empty
}

@test "image record garbage: listed broken with the reason; run, image, FROM refused; rmdir removes it" {
	broken_image garbage EBADMSG
}

@test "image record with another id: listed broken with the reason; run, image, FROM refused; rmdir removes it" {
	broken_image wrong-id EBADMSG
}

@test "image record truncated: listed broken; run, image, FROM refused; rmdir removes it" {
	broken_image truncated EBADMSG
}

@test "image record empty: listed broken; run, image, FROM refused; rmdir removes it" {
	broken_image empty EBADMSG
}

@test "image record missing: listed broken; run, image refused; rmdir removes it" {
	broken_image missing ENOENT
}

@test "image filesystem deleted from the store while stopped: run, image refused by its id and by its name too; rmdir" {
	broken_image rootfs ENOENT
}

# broken_image_stopped HOW VAR: an image "victim:4" whose record (or, with
# HOW rootfs, its filesystem) is damaged with the daemon stopped; VAR gets its id.
broken_image_stopped() {
	local -n _bis=$2
	net_start || return
	_bis=$(bk_import "$BB" victim:4) || return
	stop_with_store || return
	if [ "$1" = rootfs ]; then
		btrfs -q subvolume delete "$BK_STORE/images/$_bis/rootfs" >/dev/null
	else
		corrupt "$BK_STORE/images/$_bis/image.json" "$1"
	fi
	net_daemon_start
}

@test "build FROM a broken image (record garbage): EBADMSG and the reason; nothing pulled, no image left" {
	local img
	broken_image_stopped garbage img
	from_refused EBADMSG "$img" "$img"
}

# A broken image whose errno is ENOENT (a missing record, a deleted
# filesystem) is still known: FROM must not take it for an unknown name and
# pull it from a registry (its id, or its name, sent to docker.io).
@test "build FROM a broken image whose errno is ENOENT (record missing; filesystem deleted), by id and by name: ENOENT and the reason, no pull" {
	local lost gone bad=0
	net_start
	lost=$(bk_import "$BB" victim:5)
	gone=$(bk_import "$BB" victim:6)
	stop_with_store
	corrupt "$BK_STORE/images/$lost/image.json" missing
	btrfs -q subvolume delete "$BK_STORE/images/$gone/rootfs" >/dev/null
	net_daemon_start
	check_broken images "$lost" ENOENT
	check_broken images "$gone" ENOENT
	from_refused ENOENT "$lost" "$lost" || bad=1
	from_refused ENOENT "$gone" "$gone" || bad=1
	from_refused ENOENT "$gone" victim:6 || bad=1
	[ "$bad" = 0 ]
}

# As docker's "image is being used by container": a broken image a
# container was made from stays until that container goes; the container
# itself cannot start from it.
@test "a broken image that a container was made from: rmdir EBUSY naming the container; its start refused with the reason; rmdir once it is gone" {
	local img id out
	net_start
	img=$(bk_import "$BB" victim:3)
	id=$(cat "$C/clone")
	echo "$img" >"$C/$id/image"
	stop_with_store
	corrupt "$BK_STORE/images/$img/image.json" garbage
	net_daemon_start
	check_broken images "$img" EBADMSG
	bk_assert_content "$C/$id/state" $'created\n'
	run bk_errno rmdir "$BK_MNT/images/$img"
	[ "$output" = EBUSY ] || bk_fail "rmdir: $output"
	bk_check_error EBUSY "/images/$img" rmdir "images/$img/err" - "used by container $id"
	[ -d "$BK_STORE/images/$img" ] || bk_fail "the image went from the store"
	out=$(ct_ctl "$id" start)
	[ "${out%%$'\n'*}" = EBADMSG ] || bk_fail "start: $(tr '\n' ' ' <<<"$out")"
	[[ $out == *"image $img is broken"* ]] || bk_fail "start: $(tr '\n' ' ' <<<"$out")"
	rmdir "$C/$id"
	rmdir "$BK_MNT/images/$img"
	[ ! -e "$BK_MNT/images/$img" ] && [ ! -e "$BK_STORE/images/$img" ]
	bk_tmp_empty
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

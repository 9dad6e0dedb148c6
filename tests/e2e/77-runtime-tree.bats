#!/usr/bin/env bats
# The runtime's containers in the tree (issue #18, "the tree shows them"):
# bockerfs-runtime enlists each container it creates in the store
# (<state dir>/runtime/), and the daemon on that store shows it in
# containers/ beside its own: state, status (with its bundle and caller),
# pid, stats and limits, the same inotify events and events lines, and kill
# and stop through its ctl, whatever started it.  Everything else is its
# caller's, refused with EPERM.  A daemon started later adopts the
# containers created before it; entries that outlived their containers, and
# entries an attacker with the store's directory planted (a FIFO, a symlink,
# malformed JSON, a record naming PID 1 or the daemon), never block the
# daemon nor put a host process in the tree.
#
# Bundles and the runtime are driven directly (tests/lib/ocibundle.bash);
# the runtime finds the test's store through BOCKERFS_STORE, as a caller
# configured for a non-default store would.  containerd's ctr drives it in
# the last test (tests/lib/containerd.bash).

# shellcheck disable=SC2016
bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'
load '../lib/ocibundle'
load '../lib/rttree'

: "${BATS_TEST_TIMEOUT:=120}"

setup_file() {
	ob_setup_file
}

teardown_file() {
	ob_teardown_file
}

setup() {
	rt_setup
}

teardown() {
	rt_teardown
}

# exit_told: the kernel tells a reaped process's exit to a pidfd (PIDFD_INFO_EXIT).
exit_told() {
	bk_kernel_at_least 6.15
}

@test "create shows the container (created, its pid, bundle and caller); start makes it running" {
	bk_bg "$BK_TMP/events" cat "$BK_MNT/events"
	sleep 0.2
	rt_sleeper web
	bk_wait_until 10 tree_has web || bk_fail "not in the tree: $(ls "$C")"
	ct_wait_state web created
	[ "$(cat "$C/web/pid")" = "$OB_PID" ]
	[ "$(tree_status web runtime)" = bockerfs-runtime ]
	[ "$(tree_status web oci_id)" = web ]
	[ "$(tree_status web oci_root)" = "$OB_ROOT" ]
	[ "$(tree_status web oci_status)" = created ]
	[ "$(tree_status web bundle)" = "$OB_TMP/web" ]
	tree_status web caller | grep -E '^[^ ]+\[[0-9]+\]$'
	[ "$(tree_status web cgroup)" = "$OB_CG/web" ]
	[ "$(readlink "$C/web/root")" = "$OB_TMP/web/rootfs" ]
	bk_inotify_start "$BK_TMP/inw" modify "$C/web/state"
	ob_start web
	bk_inotify_wait "$BK_TMP/inw"
	bk_assert_content "$C/web/state" $'running\n'
	[ "$(tree_status web oci_status)" = running ]
	[ "$(tree_status web started)" != - ]
	bk_wait_until 5 grep -q "container web start pid=$OB_PID" "$BK_TMP/events" ||
		bk_fail "events: $(cat "$BK_TMP/events")"
	grep -q "container web create runtime=bockerfs-runtime" "$BK_TMP/events"
}

@test "stats and limits come from the group the config asked for" {
	b=$(ob_bundle lim)
	ob_args "$b" sleep 1000
	ob_edit "$b" 'cg.setdefault("resources", {})["memory"] = {"limit": 67108864}
cg["resources"]["pids"] = {"limit": 50}'
	ob_create lim "$b"
	ob_start lim
	bk_wait_until 10 ct_state_is lim running || bk_fail "state: $(cat "$C/lim/state")"
	grep -qx 'memory 67108864' "$C/lim/limits" || bk_fail "limits: $(cat "$C/lim/limits")"
	grep -qx 'pids 50' "$C/lim/limits" || bk_fail "limits: $(cat "$C/lim/limits")"
	pids=$(awk '$1 == "pids" { print $2 }' "$C/lim/stats")
	[ "$pids" -ge 1 ] || bk_fail "stats: $(cat "$C/lim/stats")"
	mem=$(awk '$1 == "memory" { print $2 }' "$C/lim/stats")
	[ "$mem" -gt 0 ] || bk_fail "stats: $(cat "$C/lim/stats")"
	# The caller changes them (runtime update): the tree reads the kernel's.
	echo '{"memory": {"limit": 100663296}}' | ob_rt update --resources - lim
	grep -qx 'memory 100663296' "$C/lim/limits" || bk_fail "limits: $(cat "$C/lim/limits")"
}

@test "kill through ctl ends it: the caller sees the exit, the tree its signal" {
	rt_sleeper k1
	ob_start k1
	bk_wait_until 10 ct_state_is k1 running || bk_fail "state: $(cat "$C/k1/state" 2>&1)"
	bk_inotify_start "$BK_TMP/inw" modify "$C/k1/state"
	run ct_ctl k1 'kill TERM'
	[ "${lines[0]}" = OK ]
	# PID 1 of its namespace ignores TERM without a handler, as in Docker: KILL ends it.
	run ct_ctl k1 kill
	[ "${lines[0]}" = OK ]
	ob_wait_exit k1
	bk_inotify_wait "$BK_TMP/inw"
	ct_wait_state k1 exited
	run ob_rt state k1
	[[ "$output" == *'"status": "stopped"'* ]]
	# Reaped by its caller: the exit is told where the kernel says it (Linux 6.15).
	w=$(timeout 10 cat "$C/k1/wait")
	if exit_told; then [ "$w" = "signal 9" ]; else [ "$w" = "exit -" ]; fi
	[ "$(tree_status k1 oci_status)" = stopped ]
	[ "$(cat "$C/k1/pid")" = 0 ]
	run ct_ctl k1 kill
	[ "${lines[0]}" = ESRCH ]
}

@test "stop through ctl: TERM, then KILL after the grace time" {
	rt_sleeper s1
	ob_start s1
	bk_wait_until 10 ct_state_is s1 running
	start=$SECONDS
	run ct_ctl s1 'stop 1'
	[ "${lines[0]}" = OK ]
	ct_wait_state s1 exited
	[ $((SECONDS - start)) -lt 15 ]
	ob_wait_exit s1
}

@test "everything but kill and stop is the caller's: EPERM, and the reason in err" {
	rt_sleeper own
	ob_start own
	bk_wait_until 10 ct_state_is own running
	for line in start 'restart 1' 'rm force' commit 'resize 80 24'; do
		run ct_ctl own "$line"
		[ "${lines[0]}" = EPERM ] || [ "${lines[0]}" = ENOTTY ] ||
			bk_fail "ctl '$line': ${lines[*]}"
	done
	run bk_write_errno "$C/own/cmd" $'echo hi\n'
	[ "${lines[0]}" = EPERM ]
	run bk_write_errno "$C/own/limits" $'memory 64m\n'
	[ "${lines[0]}" = EPERM ]
	run bk_errno rmdir "$C/own"
	[ "$output" = EPERM ]
	run bk_write_errno "$C/own/exec/$(cat "$C/own/exec/clone" 2>/dev/null || echo 1)/ctl" $'exec true\n'
	[ "${lines[0]}" != OK ]
	grep -q "belongs to .*bockerfs-runtime" "$C/own/err" || bk_fail "err: $(cat "$C/own/err")"
	# Still running, untouched.
	bk_assert_content "$C/own/state" $'running\n'
	kill -0 "$OB_PID"
	# prune leaves it too, once it has exited.
	ob_rt kill own KILL
	ob_wait_exit own
	ct_wait_state own exited
	echo containers >"$BK_MNT/prune"
	[ -d "$C/own" ]
}

@test "pause and resume are seen; delete removes it from the tree with a remove event" {
	rt_sleeper p1
	ob_start p1
	bk_wait_until 10 ct_state_is p1 running
	bk_bg "$BK_TMP/events" cat "$BK_MNT/events"
	sleep 0.2
	ob_rt pause p1
	bk_wait_until 10 grep -q "container p1 pause" "$BK_TMP/events" ||
		bk_fail "events: $(cat "$BK_TMP/events")"
	[ "$(tree_status p1 oci_status)" = paused ]
	ob_rt resume p1
	bk_wait_until 10 grep -q "container p1 unpause" "$BK_TMP/events"
	[ "$(tree_status p1 oci_status)" = running ]
	bk_inotify_start "$BK_TMP/inw" delete "$C"
	ob_rt delete --force p1
	bk_inotify_wait "$BK_TMP/inw"
	grep -E " DELETE,ISDIR p1\$" "$BK_TMP/inw"
	! tree_has p1
	bk_wait_until 5 grep -q "container p1 remove" "$BK_TMP/events"
	grep -q "container p1 exit" "$BK_TMP/events"
	# Its entry went with it.
	[ -z "$(ls "$BK_ROOT/runtime")" ]
}

@test "a container that exits by itself: start before exit in the events, then its code" {
	bk_bg "$BK_TMP/events" cat "$BK_MNT/events"
	sleep 0.2
	b=$(ob_bundle quick)
	ob_args "$b" sh -c 'exit 3'
	ob_create quick "$b"
	bk_wait_until 10 tree_has quick
	ob_start quick
	ob_wait_exit quick
	ct_wait_state quick exited
	w=$(timeout 10 cat "$C/quick/wait")
	if exit_told; then [ "$w" = "exit 3" ]; else [ "$w" = "exit -" ]; fi
	bk_wait_until 5 grep -q "container quick exit" "$BK_TMP/events"
	grep "container quick" "$BK_TMP/events" | awk '{ print $4 }' | tr '\n' ' ' |
		grep -qx 'create start exit ' || bk_fail "events: $(cat "$BK_TMP/events")"
}

@test "a daemon started later adopts them; one that restarts keeps them running" {
	bk_daemon_term
	rt_sleeper before
	ob_start before
	bk_daemon_start
	bk_wait_until 10 ct_state_is before running || bk_fail "$(ls "$C")"
	[ "$(cat "$C/before/pid")" = "$OB_PID" ]
	bk_daemon_term KILL
	kill -0 "$OB_PID"
	bk_daemon_start
	ct_wait_state before running
	run ct_ctl before kill
	[ "${lines[0]}" = OK ]
	ob_wait_exit before
	ct_wait_state before exited
}

@test "a daemon container's name is taken: the runtime's shows as oci-<key>" {
	mkdir "$C/dup"
	rt_sleeper dup
	bk_wait_until 10 bash -c "ls '$C' | grep -q '^oci-'"
	n=$(ls "$C" | grep '^oci-')
	[ "$(awk '$1 == "oci_id" { print $2 }' "$C/$n/status")" = dup ]
	[ -z "$(cat "$C/dup/pid" | tr -d 0)" ]
}

@test "entries that outlived their containers go at the daemon's start" {
	rt_sleeper stale
	bk_wait_until 10 tree_has stale
	bk_daemon_term
	entry=$(ls "$BK_ROOT/runtime")
	cp "$BK_ROOT/runtime/$entry" "$BK_TMP/entry"
	ob_rt delete --force stale
	cp "$BK_TMP/entry" "$BK_ROOT/runtime/$entry" # as if the delete had not reached it
	bk_daemon_start
	! tree_has stale
	[ ! -e "$BK_ROOT/runtime/$entry" ]
}

@test "hostile entries: a FIFO, a symlink, bad JSON, records naming PID 1 or the daemon" {
	d=$BK_ROOT/runtime
	hex=0123456789abcdef0123456789abcdef
	mkfifo "$d/${hex:0:31}1.json"
	ln -s /etc/passwd "$d/${hex:0:31}2.json"
	echo '{"root": ' >"$d/${hex:0:31}3.json"
	# A fake runtime root whose records name PID 1 and the daemon.
	mkdir -p "$OB_TMP/fake/one" "$OB_TMP/fake/daemon" "$OB_TMP/fake/other"
	printf '{"pid": 1, "pid_start": %s, "bundle": "/", "cgroup": "/"}' "$(bk_proc_start 1)" \
		>"$OB_TMP/fake/one/state.json"
	printf '{"pid": %s, "pid_start": %s, "bundle": "/"}' "$BK_PID" "$(bk_proc_start "$BK_PID")" \
		>"$OB_TMP/fake/daemon/state.json"
	# A record of another user's making: not trusted.
	printf '{"pid": %s, "pid_start": %s}' "$$" "$(bk_proc_start $$)" >"$OB_TMP/fake/other/state.json"
	chmod 666 "$OB_TMP/fake/other/state.json"
	for id in one daemon other; do
		printf '{"root": "%s", "id": "%s"}' "$OB_TMP/fake" "$id" >"$d/$(echo "$id" | md5sum | cut -c1-32).json"
	done
	# The daemon answers, and shows none of them.
	sleep 0.5
	timeout 5 cat "$C/index" >/dev/null
	[ "$(ls "$C")" = "$(printf 'clone\nerr\nindex\nrun')" ] || bk_fail "containers/: $(ls "$C")"
	# And after a restart, which reads them all.  The old daemon's pid is now
	# a stopped container's, at most: shown exited, with nothing to kill.
	bk_daemon_term
	bk_daemon_start
	timeout 5 cat "$C/index" >/dev/null
	for n in $(ls "$C"); do
		case $n in
		clone | err | index | run) ;;
		daemon)
			bk_assert_content "$C/daemon/state" $'exited\n'
			bk_assert_content "$C/daemon/pid" $'0\n'
			;;
		*) bk_fail "containers/: $(ls "$C")" ;;
		esac
	done
	kill -0 1
	rm -f "$d"/*
	# A real one is still seen after all that.
	rt_sleeper real
	bk_wait_until 10 tree_has real
}

@test "without a store the runtime runs as before (nothing enlisted, no error)" {
	b=$(ob_bundle alone)
	ob_args "$b" true
	BOCKERFS_STORE=$OB_TMP/nostore ob_run_out alone "$b"
	[ ! -e "$OB_TMP/nostore" ]
	! grep -q warn "$OB_LOG"
	! tree_has alone
}

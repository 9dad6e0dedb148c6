#!/usr/bin/env bats
# The runtime's containers in the tree (77-runtime-tree.bats), attacked:
# the races between the runtime's verbs and the daemon's monitor (an id
# deleted and created again before the daemon looked, a container that ran
# and ended while the daemon could not look, a delete while a tree `stop`
# waits), inits that exited but are not reaped yet, paused ones, ids that are
# names of containers/ itself, a bundle path with a newline, a runtime root
# reached through the tree itself, entries and records that are not what
# they say (a key that is not the digest of its root and id, a record naming
# a host process), and the daemon's file descriptors over many lifecycles.
#
# Some tests stop the daemon with SIGSTOP (by its pid) to hold its monitor
# thread, as a busy or swapped-out daemon would be held; teardown sends it
# SIGCONT before anything else.

# shellcheck disable=SC2016
bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'
load '../lib/ocibundle'
load '../lib/rttree'

: "${BATS_TEST_TIMEOUT:=150}"

setup_file() {
	ob_setup_file
}

teardown_file() {
	ob_teardown_file
}

setup() {
	rt_setup
	REAPER_PID=""
}

teardown() {
	if [ -n "${REAPER_PID:-}" ]; then
		kill -KILL "$REAPER_PID" 2>/dev/null
		wait "$REAPER_PID" 2>/dev/null
	fi
	rt_teardown
}

# fd_count PID: the open file descriptors of PID.
fd_count() {
	ls "/proc/$1/fd" | wc -l
}

@test "an id that is a name of containers/ itself (index, clone, run, err) shows as oci-<key>" {
	for id in index clone run err; do
		rt_sleeper "$id"
	done
	rt_sleeper last
	bk_wait_until 10 tree_has last || bk_fail "not in the tree: $(ls "$C")"
	# containers/ lists each name once, and its files are still its files.
	[ -z "$(ls "$C" | sort | uniq -d)" ] || bk_fail "listed twice: $(ls "$C" | sort | uniq -d)"
	[ -f "$C/index" ] && [ -f "$C/err" ] && [ -f "$C/clone" ] && [ -f "$C/run" ]
	for id in index clone run err; do
		n=$(tree_oci_name "$id")
		[[ "$n" == oci-* ]] || bk_fail "$id is shown as '$n': $(ls -la "$C")"
		[ "$(cat "$C/$n/state")" = created ]
	done
}

@test "deleted and created again under the same id before the daemon looked: the new one is shown" {
	rt_sleeper again
	ob_start again
	bk_wait_until 10 ct_state_is again running || bk_fail "state: $(cat "$C/again/state" 2>&1)"
	old=$OB_PID
	ob_rt kill again KILL
	ob_wait_exit again
	ct_wait_state again exited
	# Its exit told too (once its caller reaped it): wait answers then.
	timeout 10 cat "$C/again/wait" >/dev/null
	bk_bg "$BK_TMP/events" cat "$BK_MNT/events"
	sleep 0.2
	# docker restart, containerd's task restart: delete, then create under the same id.
	daemon_hold
	ob_rt delete again
	b=$(ob_bundle again2)
	ob_args "$b" sleep 1000
	ob_create again "$b"
	new=$OB_PID
	[ "$new" != "$old" ]
	daemon_release
	bk_wait_until 10 eval '[ "$(cat "$C/again/pid" 2>/dev/null)" = "$new" ]' ||
		bk_fail "again: state $(cat "$C/again/state"), pid $(cat "$C/again/pid"), want the new init $new"
	bk_assert_content "$C/again/state" $'created\n'
	ob_start again
	bk_wait_until 10 ct_state_is again running || bk_fail "state: $(cat "$C/again/state")"
	run ct_ctl again kill
	[ "${lines[0]}" = OK ]
	ob_wait_exit again
	ct_wait_state again exited
	bk_wait_until 5 grep -q "container again create" <(events_of again "$BK_TMP/events") || true
	[[ "$(events_of again "$BK_TMP/events")" == "remove create start exit "* ]] ||
		bk_fail "events: $(events_of again "$BK_TMP/events")"
}

@test "a container that ran and ended while the daemon could not look: create, start, exit told" {
	bk_bg "$BK_TMP/events" cat "$BK_MNT/events"
	sleep 0.2
	b=$(ob_bundle brief)
	ob_args "$b" sh -c 'exit 3'
	daemon_hold
	ob_run_out brief "$b"
	# Reaped too (not a zombie any more), before the daemon looks.
	bk_wait_until 10 eval '[ ! -e "/proc/$OB_PID" ]' || bk_fail "$OB_PID not reaped"
	daemon_release
	bk_wait_until 10 tree_has brief || bk_fail "not in the tree: $(ls "$C")"
	ct_wait_state brief exited
	bk_wait_until 5 eval '[[ "$(events_of brief "$BK_TMP/events")" == *exit* ]]' ||
		bk_fail "events: $(events_of brief "$BK_TMP/events")"
	[ "$(events_of brief "$BK_TMP/events")" = "create start exit " ]
}

@test "the runtime's delete while a tree stop waits: the stop ends, the container goes, the daemon answers" {
	rt_sleeper sw
	ob_start sw
	bk_wait_until 10 ct_state_is sw running
	# sleep as PID 1 ignores TERM: the stop waits its 30 seconds.
	bk_bg "$BK_TMP/stop" bash -c "exec {fd}<>'$C/sw/ctl'; echo 'stop 30' >&\$fd; read -r r <&\$fd; echo \"\$r\""
	stopper=$BK_BG_PID
	sleep 0.5
	start=$SECONDS
	ob_rt delete --force sw
	bk_wait_gone "$stopper" 10 || bk_fail "the stop still waits"
	[ $((SECONDS - start)) -lt 10 ]
	bk_wait_until 5 eval '! tree_has sw' || bk_fail "still shown: $(ls "$C")"
	timeout 5 cat "$C/index" >/dev/null
	# And the monitor still follows new ones.
	rt_sleeper after
	bk_wait_until 10 tree_has after
}

# rt_create_reaper ID B: create ID from B under a subreaper that never reaps
# (a caller slow to wait for its children); REAPER_PID is that caller.
rt_create_reaper() {
	local id=$1 b=$2
	ob_track_id "$id"
	python3 - "$OB_RT" "$OB_ROOT" "$b" "$OB_TMP/$id.pid" "$id" "$OB_TMP/reaper.ready" \
		</dev/null >>"$OB_TMP/$id.out" 2>&1 3>&- <<-'EOF' &
		import ctypes, subprocess, sys, time
		ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
		rt, root, bundle, pidfile, cid, ready = sys.argv[1:]
		subprocess.run([rt, "--root", root, "create", "--bundle", bundle, "--pid-file", pidfile, cid],
		               check=True)
		open(ready, "w").close()
		time.sleep(1000)
	EOF
	REAPER_PID=$!
	bk_wait_until 20 test -e "$OB_TMP/reaper.ready" || bk_fail "create $id: $(cat "$OB_TMP/$id.out")" || return
	OB_PID=$(cat "$OB_TMP/$id.pid")
	echo "$OB_PID $(bk_proc_start "$OB_PID")" >>"$OB_TMP/pids"
}

@test "an init that exited and is not reaped yet: stopped, as the runtime says; stop does not wait 30 s" {
	b=$(ob_bundle zomb)
	ob_args "$b" sleep 1000
	rt_create_reaper zomb "$b"
	ob_start zomb
	bk_wait_until 10 ct_state_is zomb running || bk_fail "state: $(cat "$C/zomb/state" 2>&1)"
	run ct_ctl zomb kill
	[ "${lines[0]}" = OK ]
	# Dead, a zombie of its caller's (which reaps it later): the runtime says stopped.
	bk_wait_until 10 eval '[ "$(bk_proc_stat "$OB_PID" | cut -c1)" = Z ]'
	run ob_rt state zomb
	[[ "$output" == *'"status": "stopped"'* ]] || bk_fail "runtime state: $output"
	sleep 1
	[ "$(tree_status zomb oci_status)" = stopped ] ||
		bk_fail "tree: state $(cat "$C/zomb/state"), oci_status $(tree_status zomb oci_status)"
	start=$SECONDS
	run ct_ctl zomb 'stop 1'
	[ $((SECONDS - start)) -lt 10 ] || bk_fail "stop took $((SECONDS - start))s: ${lines[*]}"
}

@test "a bundle path with a newline cannot add lines to status" {
	b=$(ob_bundle nl)
	ob_args "$b" sleep 1000
	evil="$OB_TMP/x"$'\n'"pid 1"$'\n'"state exited"
	mv "$b" "$evil"
	ob_create nl "$evil"
	bk_wait_until 10 tree_has nl || bk_fail "not in the tree: $(ls "$C")"
	[ "$(grep -c '^pid ' "$C/nl/status")" = 1 ] || bk_fail "status: $(cat "$C/nl/status")"
	[ "$(grep -c '^state ' "$C/nl/status")" = 1 ] || bk_fail "status: $(cat "$C/nl/status")"
}

@test "stop of a paused container ends it (or fails at once), never holds the ctl 30 s" {
	rt_sleeper pz
	ob_start pz
	bk_wait_until 10 ct_state_is pz running
	ob_rt pause pz
	bk_wait_until 10 eval '[ "$(tree_status pz oci_status)" = paused ]'
	start=$SECONDS
	run ct_ctl pz 'stop 1'
	took=$((SECONDS - start))
	[ "$took" -lt 10 ] || bk_fail "stop took ${took}s: ${lines[*]}"
}

@test "an entry under a key that is not its root's and id's digest is not a second container" {
	rt_sleeper orig
	bk_wait_until 10 tree_has orig
	entry=$(ls "$BK_ROOT/runtime")
	cp "$BK_ROOT/runtime/$entry" "$BK_TMP/copy"
	mv "$BK_TMP/copy" "$BK_ROOT/runtime/ffffffffffffffffffffffffffffffff.json"
	sleep 1
	timeout 5 cat "$C/index" >/dev/null
	[ "$(ls "$C" | grep -c '^oci-')" = 0 ] || bk_fail "shown twice: $(ls "$C")"
}

@test "a record naming a host process (root's, its start time right) puts no host process in the tree" {
	bk_bg "$BK_TMP/sleeper" sleep 1000
	host=$BK_BG_PID
	mkdir -p "$OB_TMP/fake/hostproc"
	printf '{"pid": %s, "pid_start": %s, "bundle": "/", "rootfs": "/", "cgroup": ""}' \
		"$host" "$(bk_proc_start "$host")" >"$OB_TMP/fake/hostproc/state.json"
	chmod 644 "$OB_TMP/fake/hostproc/state.json"
	printf '{"root": "%s", "id": "hostproc"}' "$OB_TMP/fake" \
		>"$BK_ROOT/runtime/0123456789abcdef0123456789abcdef.json"
	sleep 1
	timeout 5 cat "$C/index" >/dev/null
	if [ -d "$C/hostproc" ]; then
		run ct_ctl hostproc kill
		bk_fail "the host's sleep $host is in the tree (state $(cat "$C/hostproc/state")); kill through its ctl: ${lines[*]}; alive: $(bk_alive "$host" && echo yes || echo no)"
	fi
	bk_alive "$host"
}

@test "many lifecycles leave the daemon no more file descriptors than before" {
	b=$(ob_bundle fds)
	ob_args "$b" sleep 1000
	# One first: what the daemon opens once is not a leak.
	ob_create fds "$b"
	ob_start fds
	bk_wait_until 10 ct_state_is fds running
	ob_rt delete --force fds
	bk_wait_until 10 eval '! tree_has fds'
	before=$(fd_count "$BK_PID")
	for i in 1 2 3 4 5 6; do
		ob_create fds "$b"
		bk_wait_until 10 tree_has fds
		ob_start fds
		bk_wait_until 10 ct_state_is fds running
		if [ $((i % 2)) = 0 ]; then
			run ct_ctl fds kill
			[ "${lines[0]}" = OK ]
			ob_wait_exit fds
			ct_wait_state fds exited
		fi
		ob_rt delete --force fds
		bk_wait_until 10 eval '! tree_has fds' || bk_fail "cycle $i: still shown"
	done
	after=$(fd_count "$BK_PID")
	[ "$after" -le "$before" ] || bk_fail "fds $before -> $after: $(ls -l "/proc/$BK_PID/fd")"
}

@test "a runtime root reached through the tree itself: an init that ends before its start does not hang the daemon" {
	# A's root link in the tree leads to its bundle's rootfs; B's runtime
	# root is under it, so the daemon reading B's state goes through its
	# own FUSE mount (the runtime's root may be any path, symlinks followed).
	rt_sleeper a
	bk_wait_until 10 tree_has a
	froot=$C/a/root/rtstate
	b=$(ob_bundle b)
	ob_args "$b" sleep 1000
	"$OB_RT" --root "$froot" create --bundle "$b" --pid-file "$OB_TMP/b.pid" b \
		</dev/null >>"$OB_TMP/b.out" 2>&1 || bk_fail "create: $(cat "$OB_TMP/b.out")"
	ob_track_id b
	bpid=$(cat "$OB_TMP/b.pid")
	echo "$bpid $(bk_proc_start "$bpid")" >>"$OB_TMP/pids"
	bk_wait_until 10 tree_has b || bk_fail "not in the tree: $(ls "$C")"
	# Killed while created: its exit comes before any start.  (The runtime reads
	# its root through the tree too: in the background, since a hung daemon
	# would hold it.)
	bk_bg "$BK_TMP/kill" "$OB_RT" --root "$froot" kill b KILL
	bk_wait_until 10 eval '[ ! -e "/proc/$bpid" ]' || bk_fail "$bpid not reaped"
	sleep 1
	# A read in the background: one the daemon never answers sleeps uninterruptibly.
	bk_bg "$BK_TMP/state" cat "$C/b/state"
	reader=$BK_BG_PID
	if ! bk_wait_gone "$reader" 10; then
		w=$(for t in /proc/"$BK_PID"/task/*; do printf '%s ' "$(cat "$t/wchan")"; done)
		kill -KILL "$BK_PID"
		bk_fuse_abort "$BK_MNT"
		bk_daemon_reap "$BK_PID"
		bk_fail "the daemon does not answer; its threads wait in: $w"
	fi
	ct_wait_state b exited 5
	timeout -k 2 10 "$OB_RT" --root "$froot" delete --force b
}

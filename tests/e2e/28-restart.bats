#!/usr/bin/env bats
# Restart policies (docker run --restart), end to end: `restart` read and
# written (before and while running; bad values refused), on-failure:N
# stopping after N with Docker's doubling backoff, always restarting after a
# success too, a user's stop, kill and rm respected (also between two
# restarts), the count in status and events, and what the daemon starts at
# its own start: after a SIGKILL and after a reboot (the record's boot id
# changed while the daemon was down), always and unless-stopped as dockerd.
# Each test starts its own daemon with a busybox image and removes every
# container it made.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'

: "${BATS_TEST_TIMEOUT:=120}"

setup_file() {
	ct_setup_file
}

teardown_file() {
	ct_teardown_file
}

teardown() {
	ct_teardown
}

# mk NAME POLICY CMD: a busybox container NAME with restart POLICY running `sh -c CMD`.
mk() {
	mkdir "$C/$1" && ct_track "$1" && echo busybox >"$C/$1/image" &&
		printf '%s\n' "$3" >"$C/$1/cmd" && printf '%s\n' "$2" >"$C/$1/restart"
}

# runs NAME: how many times its command ran (lines "run" in its log).
runs() {
	grep -c '^run$' "$C/$1/log" || true
}

# ran NAME N: its command ran at least N times (for bk_wait_until, which runs it again and again).
ran() {
	[ "$(runs "$1")" -ge "$2" ]
}

# stays NAME SECS: its log gains no run for SECS seconds.
stays() {
	local before
	before=$(runs "$1")
	sleep "$2"
	[ "$(runs "$1")" = "$before" ] || bk_fail "$1 ran again: $before -> $(runs "$1")"
}

@test "restart: read back, 'no' by default, refused when malformed (EINVAL, the reason, the old value kept), changed while running" {
	ct_start
	mkdir "$C/p1"
	ct_track p1
	bk_assert_content "$C/p1/restart" $'no\n'
	for v in always unless-stopped on-failure on-failure:5 no; do
		echo "$v" >"$C/p1/restart"
		bk_assert_content "$C/p1/restart" "$v"$'\n' || return
	done
	echo on-failure:0 >"$C/p1/restart"
	bk_assert_content "$C/p1/restart" $'on-failure\n'
	echo always >"$C/p1/restart"
	for v in sometimes always:3 on-failure:x on-failure:-1 'on-failure:' 'no no'; do
		run bk_write_errno "$C/p1/restart" "$v"$'\n'
		[ "${lines[0]}" = EINVAL ] || bk_fail "'$v': $output" || return
		bk_assert_content "$C/p1/restart" $'always\n' || return
	done
	bk_check_error EINVAL /containers/p1/restart 'write|flush' containers/p1/err - "restart 'no no'" || return
	echo busybox >"$C/p1/image"
	echo 'sleep 1000' >"$C/p1/cmd"
	echo start >"$C/p1/ctl"
	echo unless-stopped >"$C/p1/restart"
	bk_assert_content "$C/p1/restart" $'unless-stopped\n'
	grep -qx 'restart unless-stopped' "$C/p1/status"
	grep -qx 'restarts 0' "$C/p1/status"
}

@test "on-failure:3: a failing command runs four times, with a doubling backoff, then stays exited; restarts 3 in status, restart events" {
	ct_start
	exec {evfd}<"$BK_MNT/events"
	mk f1 on-failure:3 'echo run; exit 3'
	t0=$(date +%s%N)
	run ct_ctl f1 start
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_wait_until 20 ran f1 4
	t1=$(date +%s%N)
	stays f1 1.5
	[ "$(runs f1)" = 4 ]
	bk_assert_content "$C/f1/state" $'exited\n'
	grep -qx 'restarts 3' "$C/f1/status"
	bk_assert_content "$C/f1/wait" $'exit 3\n'
	# 100 + 200 + 400 ms at least between the four runs.
	[ $(((t1 - t0) / 1000000)) -ge 700 ] || bk_fail "four runs in $(((t1 - t0) / 1000000)) ms"
	timeout 2 cat <&"$evfd" >"$BK_TMP/events" || true
	exec {evfd}<&-
	for n in 1 2 3; do
		grep -q "container f1 restart count=$n" "$BK_TMP/events" || bk_fail "no restart count=$n: $(cat "$BK_TMP/events")" || return
	done
	! grep -q 'container f1 restart count=4' "$BK_TMP/events"
}

@test "always: restarted after a success too; a stop, a kill and rm by the user are respected; a stop between two restarts ends them" {
	ct_start
	mk a1 always 'echo run; sleep 0.3'
	run ct_ctl a1 start
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_wait_until 20 ran a1 3
	bk_wait_until 10 ct_state_is a1 running
	run ct_ctl a1 'stop 1'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	stays a1 1.5
	bk_assert_content "$C/a1/state" $'exited\n'
	# A start of the user's: the count begins again.
	run ct_ctl a1 start
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	grep -qx 'restarts 0' "$C/a1/status"
	mk k1 always 'echo run; sleep 1000'
	run ct_ctl k1 start
	ct_wait_log k1 '^run$'
	run ct_ctl k1 'kill KILL'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_wait_until 10 ct_state_is k1 exited
	stays k1 1
	# Failing fast: between two restarts (backoff) a stop makes it stay down.
	mk b1 always 'echo run; exit 1'
	run ct_ctl b1 start
	bk_wait_until 20 ran b1 5
	run ct_ctl b1 'stop 1'
	[ "${lines[0]}" = OK ] || [ "${lines[0]}" = ESRCH ] || bk_fail "$output"
	stays b1 3
	run ct_ctl a1 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ ! -e "$C/a1" ]
	sleep 1
	[ ! -e "$C/a1" ]
}

@test "no policy, and on-failure after a success: not restarted" {
	ct_start
	mk n1 no 'echo run; exit 1'
	mk n2 on-failure 'echo run; exit 0'
	for n in n1 n2; do
		run ct_ctl "$n" start
		[ "${lines[0]}" = OK ] || bk_fail "$output"
	done
	bk_wait_until 10 ct_state_is n1 exited
	bk_wait_until 10 ct_state_is n2 exited
	stays n1 1
	[ "$(runs n1)" = 1 ] && [ "$(runs n2)" = 1 ]
}

@test "at the daemon's start (after a SIGKILL): always ones start again, also one the user stopped; unless-stopped ones unless stopped; on-failure ones whose last run failed; never-started ones stay" {
	ct_start
	mk al always 'echo run; sleep 1000'
	mk us unless-stopped 'echo run; sleep 1000'
	mk ust unless-stopped 'echo run; sleep 1000'
	mk of on-failure:5 'echo run; exit 2'
	mk nv always 'echo run; sleep 1000'
	for n in al us ust; do
		run ct_ctl "$n" start
		[ "${lines[0]}" = OK ] || bk_fail "$n: $output"
		ct_wait_log "$n" '^run$'
	done
	for n in al ust; do
		run ct_ctl "$n" 'stop 1'
		[ "${lines[0]}" = OK ] || bk_fail "$output"
	done
	# of fails and fails: the daemon dies between two of its runs.
	run ct_ctl of start
	bk_wait_until 20 ran of 2
	kill -KILL "$BK_PID"
	bk_wait_gone "$BK_PID"
	before=$(runs of)
	bk_daemon_start
	bk_wait_until 20 ran of $((before + 1))
	bk_wait_until 20 ct_state_is al running || bk_fail "al: $(cat "$C/al/state")"
	bk_wait_until 20 ct_state_is us running
	[ "$(runs us)" = 1 ] # still the same run: adopted, not started again
	stays ust 1
	bk_assert_content "$C/ust/state" $'exited\n'
	bk_assert_content "$C/nv/state" $'created\n'
}

@test "after a reboot (the records' boot differs): always, unless-stopped and on-failure containers start again (the reboot ended their runs: SIGKILL, as dockerd sees it); no policy, not" {
	ct_start
	mk al always 'echo run; sleep 1000'
	mk us unless-stopped 'echo run; sleep 1000'
	mk of on-failure 'echo run; sleep 1000'
	mk np no 'echo run; sleep 1000'
	pids=""
	for n in al us of np; do
		run ct_ctl "$n" start
		[ "${lines[0]}" = OK ] || bk_fail "$n: $output"
		ct_wait_log "$n" '^run$'
		pids+=" $(cat "$C/$n/pid")"
	done
	bk_daemon_term TERM
	# What a reboot does: the processes are gone, the daemon comes back on a new boot.
	for p in $pids; do kill -KILL "$p"; done
	for p in $pids; do bk_wait_gone "$p"; done
	mount -o loop "$BK_ROOT/storage.img" "$BK_STORE"
	for n in al us of np; do
		"$BK_PY" -c 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["boot_id"]="00000000-0000-0000-0000-000000000000"; json.dump(c, open(p,"w"))' \
			"$BK_STORE/containers/$n/container.json"
	done
	umount "$BK_STORE"
	bk_daemon_start
	bk_wait_until 20 ct_state_is al running
	bk_wait_until 20 ct_state_is us running
	bk_wait_until 20 ct_state_is of running
	[ "$(runs al)" = 2 ] && [ "$(runs us)" = 2 ] && [ "$(runs of)" = 2 ]
	[ "$(ct_status np signal)" = 9 ] || bk_fail "np: $(cat "$C/np/status")"
	stays np 1
	bk_assert_content "$C/np/state" $'exited\n'
}

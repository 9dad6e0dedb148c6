#!/usr/bin/env bats
# Containers, end to end: containers/run and clone, mkdir NAME, image/cmd/env,
# the ctl verbs, state/status/wait/log/pid, the errno and text of each failure,
# inotify and the events stream, 100 parked wait readers, what a container can
# see of the host, containers surviving a SIGKILLed daemon, 50 parallel runs,
# and log rotation.  Each test starts its own daemon with a busybox image
# (tests/lib/fixture.bash, tests/lib/containers.bash) and removes every
# container it made (rm force, then the inits by PID) before the daemon goes.

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

PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# ---- run, log, hostname, pids, exit status --------------------------------

@test "containers/run: the id on the same fd, echo in the log, exit 0, index and status" {
	ct_start
	id=$(ct_run busybox echo hello world)
	[ -d "$C/$id" ]
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	bk_assert_content "$C/$id/log" $'hello world\n'
	bk_assert_content "$C/$id/state" $'exited\n'
	bk_assert_content "$C/$id/image" $'busybox\n'
	bk_assert_content "$C/$id/cmd" $'echo hello world\n'
	bk_assert_content "$C/$id/pid" $'0\n'
	bk_assert_content "$C/$id/err" ""
	[ "$(ct_status "$id" state)" = exited ]
	[ "$(ct_status "$id" exit)" = 0 ]
	[ "$(ct_status "$id" signal)" = 0 ]
	[ "$(ct_status "$id" image)" = busybox ]
	[ "$(ct_status "$id" image_id)" = "$BB_ID" ]
	[[ $(ct_status "$id" started) =~ ^$BK_TIME_RE$ ]]
	[[ $(ct_status "$id" finished) =~ ^$BK_TIME_RE$ ]]
	bk_assert_content "$C/index" $'CONTAINER_ID\t\tCOMMAND\n'"$id"$'\t\techo hello world\n'
	# The log's real size is reported (tail -f polls it).
	[ "$(stat -c %s "$C/$id/log")" -eq 12 ]
	# The container's filesystem is a snapshot (a subvolume) in the store.
	[ -L "$C/$id/root" ]
	[ -x "$C/$id/root/bin/busybox" ]
	btrfs subvolume show "$BK_STORE/containers/$id/rootfs" >/dev/null
}

@test "hostname, uname -n, /etc/hostname and HOSTNAME are the id" {
	ct_start
	id=$(ct_run busybox 'uname -n; hostname; cat /etc/hostname; echo "$HOSTNAME"')
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	bk_assert_content "$C/$id/log" "$id"$'\n'"$id"$'\n'"$id"$'\n'"$id"$'\n'
}

@test "pids: the command is pid 2 under the init, its children low pids" {
	ct_start
	id=$(ct_run busybox 'echo "sh=$$"; cat /proc/self/stat; echo done')
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	run cat "$C/$id/log"
	[ "${lines[0]}" = sh=2 ]
	read -r pid comm st ppid _ <<<"${lines[1]}"
	[ "$comm" = "(cat)" ] || bk_fail "stat: ${lines[1]}"
	[ "$pid" -ge 3 ] && [ "$pid" -le 10 ] || bk_fail "cat is pid $pid"
	[ "$ppid" = 2 ] || bk_fail "cat's parent is $ppid"
	[ "${lines[2]}" = done ]
	# A lone command: the shell execs it, so it is pid 2, child of the init (pid 1).
	id=$(ct_run busybox cat /proc/self/stat)
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	read -r pid comm st ppid _ <"$C/$id/log"
	[ "$pid" = 2 ] && [ "$ppid" = 1 ] || bk_fail "stat: $(cat "$C/$id/log")"
}

@test "exit 3: wait 'exit 3', status exit 3 signal 0, state exited, events exit code=3" {
	ct_start
	bk_bg "$BK_TMP/events" cat "$BK_MNT/events"
	ct_wait_open "$BK_BG_PID" "$BK_MNT/events"
	id=$(ct_run busybox 'echo bye; exit 3')
	bk_assert_content "$C/$id/wait" $'exit 3\n'
	[ "$(ct_status "$id" exit)" = 3 ]
	[ "$(ct_status "$id" signal)" = 0 ]
	[ "$(ct_status "$id" state)" = exited ]
	[ "$(ct_status "$id" pid)" = 0 ]
	bk_assert_content "$C/$id/log" $'bye\n'
	bk_wait_until "$BK_DEADLINE" grep -q "container $id exit" "$BK_TMP/events"
	grep -qE "^$BK_TIME_RE container $id exit code=3\$" "$BK_TMP/events" ||
		bk_fail "events: $(cat "$BK_TMP/events")"
}

@test "kill -TERM \$\$ inside: wait 'signal 15', status exit 143 signal 15" {
	ct_start
	id=$(ct_run busybox 'kill -TERM $$; echo not reached')
	bk_assert_content "$C/$id/wait" $'signal 15\n'
	[ "$(ct_status "$id" exit)" = 143 ]
	[ "$(ct_status "$id" signal)" = 15 ]
	bk_assert_content "$C/$id/log" ""
}

@test "stop: SIGTERM reaches the command at once; stop 1 of one that ignores it kills after ~1 s" {
	ct_start
	id=$(ct_run busybox 'echo ready; sleep 100')
	ct_wait_log "$id" '^ready$'
	ms=$(ct_ms ct_ctl "$id" stop)
	[ "$ms" -lt 2000 ] || bk_fail "stop of a plain sleep took $ms ms (SIGTERM blocked?)"
	bk_assert_content "$C/$id/wait" $'signal 15\n'

	id=$(ct_run busybox "trap '' TERM; echo ready; sleep 100")
	ct_wait_log "$id" '^ready$'
	t0=$(date +%s%N)
	run ct_ctl "$id" 'stop 1'
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "${lines[0]}" = OK ] || bk_fail "stop 1: $output"
	[ "$ms" -ge 900 ] && [ "$ms" -le 3000 ] || bk_fail "stop 1 took $ms ms"
	# The write returned when the container had stopped.
	bk_assert_content "$C/$id/state" $'exited\n'
	bk_assert_content "$C/$id/wait" $'signal 9\n'
	[ "$(ct_status "$id" exit)" = 137 ]
}

@test "kill: default SIGKILL; kill TERM, kill 15, kill SIGTERM; kill USR1 reaches a trap" {
	ct_start
	# "-" stands for a bare `kill`.
	local -A want=([-]=9 [TERM]=15 [15]=15 [SIGTERM]=15 [HUP]=1)
	local -A ids=()
	for sig in "${!want[@]}"; do
		ids[$sig]=$(ct_run busybox 'echo ready; sleep 100')
	done
	for sig in "${!want[@]}"; do
		ct_wait_log "${ids[$sig]}" '^ready$'
		verb=kill
		[ "$sig" = - ] || verb="kill $sig"
		run ct_ctl "${ids[$sig]}" "$verb"
		[ "${lines[0]}" = OK ] || bk_fail "$verb: $output"
	done
	for sig in "${!want[@]}"; do
		bk_assert_content "$C/${ids[$sig]}/wait" "signal ${want[$sig]}"$'\n'
	done
	id=$(ct_run busybox "trap 'echo got USR1; exit 7' USR1; echo ready; while :; do sleep 0.1; done")
	ct_wait_log "$id" '^ready$'
	run ct_ctl "$id" 'kill USR1'
	[ "${lines[0]}" = OK ] || bk_fail "kill USR1: $output"
	bk_assert_content "$C/$id/wait" $'exit 7\n'
	grep -qx 'got USR1' "$C/$id/log"
}

@test "kill 34 and 35 (the first real-time signals, glibc's SIGRTMIN) reach the command; one the daemon's starter ignored is not ignored in the container" {
	trap '' 34
	ct_start
	trap - 34
	id=$(ct_run busybox 'trap "echo got34" 34; trap "echo got35" 35; grep ^SigIgn: /proc/1/status /proc/self/status; echo ready; while :; do sleep 0.1; done')
	ct_wait_log "$id" '^ready$'
	for sig in 34 35; do
		run ct_ctl "$id" "kill $sig"
		[ "${lines[0]}" = OK ] || bk_fail "kill $sig: $output"
		ct_wait_log "$id" "^got$sig\$"
	done
	# Bit 33 of SigIgn is signal 34.
	while read -r _ mask; do
		[ $((16#$mask & (1 << 33))) -eq 0 ] || bk_fail "signal 34 ignored: $(cat "$C/$id/log")"
	done < <(grep SigIgn: "$C/$id/log")
	[ "$(grep -c SigIgn: "$C/$id/log")" = 2 ]
	ct_ctl "$id" 'rm force' >/dev/null
}

@test "restart keeps the container's filesystem" {
	ct_start
	id=$(ct_run busybox 'if [ -f /keep ]; then echo "again: $(cat /keep)"; else echo first >/keep; echo "new"; fi; sleep 100')
	ct_wait_log "$id" '^new$'
	pid1=$(cat "$C/$id/pid")
	run ct_ctl "$id" 'restart 1'
	[ "${lines[0]}" = OK ] || bk_fail "restart: $output"
	ct_wait_log "$id" '^again: first$'
	ct_track "$id"
	bk_assert_content "$C/$id/state" $'running\n'
	pid2=$(cat "$C/$id/pid")
	[ "$pid2" -gt 0 ] && [ "$pid2" != "$pid1" ] || bk_fail "pid $pid1 -> $pid2"
	bk_assert_content "$C/$id/root/keep" $'first\n'
	# Restarting a container that exited starts it again too.
	run ct_ctl "$id" 'kill'
	bk_assert_content "$C/$id/wait" $'signal 9\n'
	run ct_ctl "$id" 'start'
	[ "${lines[0]}" = OK ] || bk_fail "start again: $output"
	ct_wait_state "$id" running
	ct_track "$id"
	ct_wait_log "$id" '^again: first$'
	bk_wait_until "$BK_DEADLINE" eval "test \"\$(grep -c '^again: first\$' \"\$C/\$id/log\")\" -eq 2" ||
		bk_fail "log: $(cat "$C/$id/log")"
}

# ---- clone, mkdir NAME, image/cmd/env ------------------------------------

@test "clone: each cat allocates a new id, usable at once (created), then image, cmd, env, start" {
	ct_start
	a=$(cat "$C/clone")
	b=$(cat "$C/clone")
	[[ $a =~ $CT_ID_RE ]] && [[ $b =~ $CT_ID_RE ]] && [ "$a" != "$b" ] || bk_fail "clone: '$a' '$b'"
	[ "$(ct_ids)" = "$(printf '%s\n' "$a" "$b" | sort)" ]
	bk_assert_content "$C/$a/state" $'created\n'
	[ "$(ct_status "$a" exit)" = - ]
	bk_assert_content "$C/$a/image" ""
	bk_assert_content "$C/$a/pid" $'0\n'
	echo busybox >"$C/$a/image"
	echo 'echo "A=$A B=$B"; exit 4' >"$C/$a/cmd"
	echo A=1 >"$C/$a/env"
	echo B=2 >>"$C/$a/env"
	bk_assert_content "$C/$a/image" $'busybox\n'
	bk_assert_content "$C/$a/env" $'A=1\nB=2\n'
	echo start >"$C/$a/ctl"
	bk_assert_content "$C/$a/wait" $'exit 4\n'
	bk_assert_content "$C/$a/log" $'A=1 B=2\n'
	[ "$(ct_status "$a" image_id)" = "$BB_ID" ]
	# The other one is untouched.
	bk_assert_content "$C/$b/state" $'created\n'
}

@test "mkdir containers/NAME: the name is the id and the hostname" {
	ct_start
	mkdir "$C/web-1.a_b"
	bk_assert_content "$C/web-1.a_b/state" $'created\n'
	echo "$BB_ID" >"$C/web-1.a_b/image"
	echo 'hostname' >"$C/web-1.a_b/cmd"
	echo start >"$C/web-1.a_b/ctl"
	bk_assert_content "$C/web-1.a_b/wait" $'exit 0\n'
	bk_assert_content "$C/web-1.a_b/log" $'web-1.a_b\n'
	[ "$(ct_status web-1.a_b image_id)" = "$BB_ID" ]
	grep -qx $'web-1.a_b\t\thostname' "$C/index"
	# 64 characters is the longest name.
	long=$(printf 'n%.0s' {1..64})
	mkdir "$C/$long"
	bk_assert_content "$C/$long/state" $'created\n'
	rmdir "$C/$long"
	rmdir "$C/web-1.a_b"
	[ -z "$(ct_ids)" ]
	[ ! -e "$BK_STORE/containers/web-1.a_b" ]
}

@test "env: '>' sets, '>>' adds, a later KEY wins; the image's Env, HOME and HOSTNAME are there" {
	ct_start
	id=$(cat "$C/clone")
	echo busybox >"$C/$id/image"
	echo env >"$C/$id/cmd"
	echo X=old >"$C/$id/env"
	echo A=1 >"$C/$id/env"
	echo B=2 >>"$C/$id/env"
	echo C=3 >>"$C/$id/env"
	echo C='x y' >>"$C/$id/env"
	bk_assert_content "$C/$id/env" $'A=1\nB=2\nC=x y\n'
	echo start >"$C/$id/ctl"
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	run sort "$C/$id/log"
	for want in A=1 B=2 'C=x y' "$PATH_ENV" HOME=/root "HOSTNAME=$id"; do
		printf '%s\n' "${lines[@]}" | grep -qxF "$want" || bk_fail "no '$want' in: $output"
	done
	! printf '%s\n' "${lines[@]}" | grep -q '^X=' || bk_fail "X survived: $output"
}

@test "cmd empty: the image's Cmd (/bin/sh, stdin /dev/null) runs and exits 0" {
	ct_start
	id=$(cat "$C/clone")
	echo busybox >"$C/$id/image"
	echo 'exit 9' >"$C/$id/cmd"
	echo >"$C/$id/cmd"
	bk_assert_content "$C/$id/cmd" ""
	echo start >"$C/$id/ctl"
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	bk_assert_content "$C/$id/log" ""
	# Through run: no command after the image.
	id=$(ct_run busybox)
	bk_assert_content "$C/$id/wait" $'exit 0\n'
}

# ---- errors: errno and text ----------------------------------------------
# The OP of an `errors` line for a failed write is "write" (the file operation,
# as 10-foundation.bats expects) or, in older builds, the command's name: both
# are accepted; the ERRNAME, the path and the message's text are checked.

@test "unknown image in 'image': ENOENT, in err and errors; the value is unchanged" {
	ct_start
	id=$(cat "$C/clone")
	echo busybox >"$C/$id/image"
	run bk_write_errno "$C/$id/image" $'nope\n'
	[ "${lines[0]}" = ENOENT ] || bk_fail "$output"
	bk_check_error ENOENT "/containers/$id/image" 'write|image' "containers/$id/err" - "no image named 'nope'"
	bk_assert_content "$C/$id/image" $'busybox\n'
	run env LC_ALL=C bash -c 'echo nope:1.0 >"$1"' _ "$C/$id/image"
	[ "$status" -ne 0 ]
	[[ $output == *"No such file or directory"* ]]
}

@test "unknown image in run: ENOENT, text in the read-back, containers/err and errors; no container made" {
	ct_start
	before_store=$(ls "$BK_STORE/containers")
	run bk_write_errno "$C/run" $'nope echo hi\n'
	[ "${lines[0]}" = ENOENT ] || bk_fail "$output"
	bk_check_error ENOENT /containers/run 'write|run' containers/err "${lines[1]}" "no image named 'nope'"
	[ -z "$(ct_ids)" ] || bk_fail "containers: $(ct_ids)"
	[ "$(ls "$BK_STORE/containers")" = "$before_store" ]
	bk_assert_content "$C/index" $'CONTAINER_ID\t\tCOMMAND\n'
}

@test "start while running: EBUSY; stop and kill when not running: ESRCH" {
	ct_start
	id=$(ct_run busybox sleep 100)
	run ct_ctl "$id" start
	[ "${lines[0]}" = EBUSY ] || bk_fail "$output"
	bk_check_error EBUSY "/containers/$id/ctl" 'write|start' "containers/$id/err" "${lines[1]}" \
		"$id is already running"
	bk_assert_content "$C/$id/state" $'running\n'

	created=$(cat "$C/clone")
	for verb in stop 'stop 1' kill 'kill TERM'; do
		for c in "$created" exited; do
			if [ "$c" = exited ]; then
				c=$id
				[ "$(cat "$C/$id/state")" = exited ] || { ct_ctl "$id" kill >/dev/null && cat "$C/$id/wait" >/dev/null; }
			fi
			run ct_ctl "$c" "$verb"
			[ "${lines[0]}" = ESRCH ] || bk_fail "$verb on $c: $output"
			bk_check_error ESRCH "/containers/$c/ctl" "write|${verb%% *}" "containers/$c/err" "${lines[1]}" \
				"$c is not running"
		done
	done
}

@test "image, cmd and env cannot change after the first start: EBUSY" {
	ct_start
	id=$(ct_run busybox sleep 100)
	for f in image cmd env; do
		run bk_write_errno "$C/$id/$f" $'busybox\n'
		[ "${lines[0]}" = EBUSY ] || bk_fail "$f: $output"
		bk_check_error EBUSY "/containers/$id/$f" "write|$f" "containers/$id/err" - \
			"$id has been started: $f cannot change"
	done
	ct_ctl "$id" kill >/dev/null
	bk_assert_content "$C/$id/wait" $'signal 9\n'
	# Still after it exited.
	run bk_write_errno "$C/$id/cmd" $'echo other\n'
	[ "${lines[0]}" = EBUSY ] || bk_fail "cmd after exit: $output"
	bk_assert_content "$C/$id/cmd" $'sleep 100\n'
	bk_assert_content "$C/$id/image" $'busybox\n'
}

@test "bad names: EINVAL (blank, leading dot or dash, other characters); name taken: EEXIST" {
	ct_start
	for name in "a b" .x -x 'a:b' 'é' 'a\b'; do
		run bk_errno mkdir "$C/$name"
		[ "$output" = EINVAL ] || bk_fail "mkdir '$name': $output"
		bk_check_error EINVAL "/containers/$name" mkdir containers/err - "$name"
	done
	[ -z "$(ct_ids)" ] || bk_fail "made: $(ct_ids)"
	mkdir "$C/taken"
	# The kernel answers EEXIST itself for a name it has looked up (no daemon
	# call, so nothing in errors); the daemon's own EEXIST is tested below.
	run bk_errno mkdir "$C/taken"
	[ "$output" = EEXIST ]
	run env LC_ALL=C mkdir "$C/taken"
	[ "$status" -ne 0 ]
	[[ $output == *"File exists"* ]]
	[ "$(ct_ids)" = taken ]
	# A clone's id is taken too.
	id=$(cat "$C/clone")
	run bk_errno mkdir "$C/$id"
	[ "$output" = EEXIST ]
}

@test "a 65-character name: EINVAL, and errors names the whole path" {
	ct_start
	long=$(printf 'n%.0s' {1..65})
	run bk_errno mkdir "$C/$long"
	[ "$output" = EINVAL ]
	[ -z "$(ct_ids)" ]
	grep -qF "'$long'" "$BK_MNT/containers/err" || bk_fail "containers/err: $(cat "$BK_MNT/containers/err")"
	bk_check_error EINVAL "/containers/$long" mkdir containers/err - "bad name '$long'"
}

@test "20 concurrent mkdir of one name: one succeeds, the others EEXIST (recorded in errors)" {
	ct_start
	run "$BK_PY" - "$C/race" <<-'EOF'
		import errno, os, sys, threading
		go = threading.Barrier(20)
		out = []
		def one():
		    go.wait()
		    try:
		        os.mkdir(sys.argv[1])
		        out.append("OK")
		    except OSError as e:
		        out.append(errno.errorcode[e.errno])
		ts = [threading.Thread(target=one) for _ in range(20)]
		for t in ts:
		    t.start()
		for t in ts:
		    t.join()
		print(" ".join(sorted(out)))
	EOF
	[ "$status" -eq 0 ] || bk_fail "$output"
	[ "$(tr ' ' '\n' <<<"$output" | grep -c '^OK$')" -eq 1 ] || bk_fail "$output"
	[ "$(tr ' ' '\n' <<<"$output" | grep -vc '^\(OK\|EEXIST\)$')" -eq 0 ] || bk_fail "$output"
	[ "$(ct_ids)" = race ]
	bk_assert_content "$C/race/state" $'created\n'
	# Those that reached the daemon are in errors, with the text.
	if grep -q ' /containers/race mkdir EEXIST' "$BK_MNT/errors"; then
		bk_check_error EEXIST /containers/race mkdir containers/err - race
	fi
}

@test "ctl: unknown verb or bad argument EINVAL, and a write with one bad line runs nothing" {
	ct_start
	id=$(cat "$C/clone")
	echo busybox >"$C/$id/image"
	echo 'sleep 100' >"$C/$id/cmd"
	run ct_ctl "$id" frob
	[ "${lines[0]}" = EINVAL ] || bk_fail "$output"
	bk_check_error EINVAL "/containers/$id/ctl" 'write|frob' "containers/$id/err" "${lines[1]}" \
		"unknown command 'frob'"
	run bk_write_errno "$C/$id/ctl" $'start\nfrob\n'
	[ "${lines[0]}" = EINVAL ] || bk_fail "$output"
	bk_assert_content "$C/$id/state" $'created\n'
	run ct_ctl "$id" 'stop soon'
	[ "${lines[0]}" = EINVAL ] || bk_fail "stop soon: $output"
	bk_check_error EINVAL "/containers/$id/ctl" 'write|stop' "containers/$id/err" "${lines[1]}" soon
	run ct_ctl "$id" 'kill NOPE'
	[ "${lines[0]}" = EINVAL ] || bk_fail "kill NOPE: $output"
	bk_check_error EINVAL "/containers/$id/ctl" 'write|kill' "containers/$id/err" "${lines[1]}" NOPE
	run ct_ctl "$id" 'rm'
	[ "${lines[0]}" = EINVAL ] || bk_fail "rm: $output"
	bk_assert_content "$C/$id/state" $'created\n'
	[ "$(ct_ids)" = "$id" ]
}

@test "rmdir: EBUSY while running (text everywhere), then rm force; unknown: ENOENT; exited: gone" {
	ct_start
	id=$(ct_run busybox sleep 100)
	pid=$(cat "$C/$id/pid")
	run bk_errno rmdir "$C/$id"
	[ "$output" = EBUSY ]
	bk_check_error EBUSY "/containers/$id" rmdir "containers/$id/err" - "$id is running" "rm force"
	run env LC_ALL=C rmdir "$C/$id"
	[[ $output == *"Device or resource busy"* ]]
	bk_assert_content "$C/$id/state" $'running\n'
	run ct_ctl "$id" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force: $output"
	run bk_errno stat "$C/$id"
	[ "$output" = ENOENT ]
	bk_wait_gone "$pid" || bk_fail "init $pid still alive"
	[ ! -e "$BK_STORE/containers/$id" ]
	! btrfs subvolume list "$BK_STORE" | grep -q "$id" || bk_fail "subvolume of $id left"

	run bk_errno rmdir "$C/ps_000000000000"
	[ "$output" = ENOENT ]
	run bk_errno rmdir "$C/nosuch"
	[ "$output" = ENOENT ]

	id=$(ct_run busybox true)
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	rmdir "$C/$id"
	[ -z "$(ct_ids)" ]
	bk_assert_content "$C/index" $'CONTAINER_ID\t\tCOMMAND\n'
}

@test "no command: start fails EINVAL 'no command' on an image without Cmd; the container stays created" {
	ct_start
	plain=$BK_TMP/plain
	mkdir -p "$plain/data"
	echo hi >"$plain/data/hi"
	bk_import "$plain" plain >/dev/null
	id=$(cat "$C/clone")
	echo plain >"$C/$id/image"
	run ct_ctl "$id" start
	[ "${lines[0]}" = EINVAL ] || bk_fail "$output"
	bk_check_error EINVAL "/containers/$id/ctl" 'write|start' "containers/$id/err" "${lines[1]}" \
		"start $id" "no command"
	bk_assert_content "$C/$id/state" $'created\n'
	# Through run: the start fails, the container stays and its id is in the message.
	ids_before=$(ct_ids)
	run bk_write_errno "$C/run" $'plain\n'
	[ "${lines[0]}" = EINVAL ] || bk_fail "run: $output"
	new=$(comm -13 <(echo "$ids_before") <(ct_ids))
	[[ $new =~ $CT_ID_RE ]] || bk_fail "new containers: '$new'"
	bk_check_error EINVAL /containers/run 'write|run' containers/err "${lines[1]}" "$new" "no command"
	bk_assert_content "$C/$new/state" $'created\n'
}

@test "command not found: exec form fails start with ENOENT; with cmd the shell says 'not found', exit 127" {
	ct_start
	# /bin/sh is there (so the image's Cmd is ["/bin/sh"]) but cannot be
	# executed: a dynamic binary whose loader the image lacks.
	dyn=$BK_TMP/dyn
	mkdir -p "$dyn/bin"
	cp /bin/true "$dyn/bin/sh"
	dyn_id=$(bk_import "$dyn" dyn)
	grep -q '"Cmd":\["/bin/sh"\]' <(tr -d ' \n' <"$BK_MNT/images/$dyn_id/config")
	id=$(cat "$C/clone")
	echo dyn >"$C/$id/image"
	run ct_ctl "$id" start
	[ "${lines[0]}" = ENOENT ] || bk_fail "$output"
	bk_check_error ENOENT "/containers/$id/ctl" 'write|start' "containers/$id/err" "${lines[1]}" \
		"start $id: exec '/bin/sh': No such file or directory"
	bk_assert_content "$C/$id/state" $'created\n'

	id=$(ct_run busybox nope --help)
	bk_assert_content "$C/$id/wait" $'exit 127\n'
	grep -q 'nope: not found' "$C/$id/log" || bk_fail "log: $(cat "$C/$id/log")"
}

@test "rmdir of an image a container was made from: EBUSY until the container is removed" {
	ct_start
	id=$(ct_run busybox true)
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	run bk_errno rmdir "$BK_MNT/images/$BB_ID"
	[ "$output" = EBUSY ]
	bk_check_error EBUSY "/images/$BB_ID" rmdir "images/$BB_ID/err" - "$id"
	[ -d "$BK_MNT/images/$BB_ID" ]
	rmdir "$C/$id"
	rmdir "$BK_MNT/images/$BB_ID"
	run bk_errno stat "$BK_MNT/images/$BB_ID"
	[ "$output" = ENOENT ]
}

# ---- watching -----------------------------------------------------------

@test "inotifywait -e modify on state wakes when the container exits by itself" {
	ct_start
	id=$(ct_run busybox 'sleep 1; exit 2')
	bk_inotify_start "$BK_TMP/inw" modify "$C/$id/state"
	bk_assert_content "$C/$id/state" $'running\n'
	bk_inotify_wait "$BK_TMP/inw"
	grep -q MODIFY "$BK_TMP/inw"
	bk_assert_content "$C/$id/state" $'exited\n'
	bk_assert_content "$C/$id/wait" $'exit 2\n'
}

@test "inotifywait -e create on containers/ sees the directory a run makes" {
	ct_start
	bk_inotify_start "$BK_TMP/inw" create "$C"
	id=$(ct_run busybox true)
	bk_inotify_wait "$BK_TMP/inw"
	grep -E " CREATE,ISDIR $id\$" "$BK_TMP/inw" || bk_fail "events: $(cat "$BK_TMP/inw")"
	bk_inotify_start "$BK_TMP/inw2" delete "$C"
	rmdir "$C/$id"
	bk_inotify_wait "$BK_TMP/inw2"
	grep -E " DELETE,ISDIR $id\$" "$BK_TMP/inw2" || bk_fail "events: $(cat "$BK_TMP/inw2")"
}

@test "events: head -n1 readers see 'start pid=N' and 'exit code=N'; the stream has create and remove" {
	ct_start
	bk_bg "$BK_TMP/all" cat "$BK_MNT/events"
	all=$BK_BG_PID
	ct_wait_open "$all" "$BK_MNT/events"
	mkdir "$C/ev"
	echo busybox >"$C/ev/image"
	echo 'read -t 1 x; sleep 1; exit 5' >"$C/ev/cmd"
	bk_bg "$BK_TMP/first" head -n1 "$BK_MNT/events"
	head1=$BK_BG_PID
	ct_wait_open "$head1" "$BK_MNT/events"
	echo start >"$C/ev/ctl"
	pid=$(cat "$C/ev/pid")
	bk_wait_gone "$head1" || bk_fail "head -n1 did not return"
	grep -qE "^$BK_TIME_RE container ev start pid=$pid\$" "$BK_TMP/first" ||
		bk_fail "first event: $(cat "$BK_TMP/first"), pid $pid"
	bk_bg "$BK_TMP/second" head -n1 "$BK_MNT/events"
	head2=$BK_BG_PID
	ct_wait_open "$head2" "$BK_MNT/events"
	bk_assert_content "$C/ev/state" $'running\n'
	bk_wait_gone "$head2" || bk_fail "head -n1 did not return"
	grep -qE "^$BK_TIME_RE container ev exit code=5\$" "$BK_TMP/second" ||
		bk_fail "second event: $(cat "$BK_TMP/second")"
	rmdir "$C/ev"
	bk_wait_until "$BK_DEADLINE" grep -q 'container ev remove' "$BK_TMP/all" ||
		bk_fail "stream: $(cat "$BK_TMP/all")"
	run sed -E "s/^$BK_TIME_RE //; s/pid=[0-9]+/pid=N/" "$BK_TMP/all"
	[ "$output" = $'container ev create\ncontainer ev start pid=N\ncontainer ev exit code=5\ncontainer ev remove' ] ||
		bk_fail "stream: $output"
}

# ---- wait ---------------------------------------------------------------

@test "100 parked wait readers: ls and cat state answer within 1 s; all get 'signal 9'" {
	ct_start
	id=$(ct_run busybox sleep 100)
	local -a pids=()
	for i in $(seq 100); do
		bk_bg "$BK_TMP/w.$i" cat "$C/$id/wait"
		pids+=("$BK_BG_PID")
	done
	sleep 0.5
	for p in "${pids[@]}"; do
		bk_alive "$p" || bk_fail "a wait reader returned early: $(cat "$BK_TMP"/w.* | sort | uniq -c)"
	done
	for i in 1 2 3; do
		for what in "ls $C" "cat $C/$id/state" "cat $C/$id/status" "cat $BK_MNT/version"; do
			ms=$(ct_ms timeout 5 $what)
			[ "$ms" -lt 1000 ] || bk_fail "'$what' took $ms ms with 100 wait readers"
		done
	done
	[ "$(cat "$C/$id/state")" = running ]
	# Another container still runs to completion meanwhile.
	other=$(ct_run busybox echo hi)
	bk_assert_content "$C/$other/wait" $'exit 0\n'
	ct_ctl "$id" kill >/dev/null
	for p in "${pids[@]}"; do
		bk_wait_gone "$p" || bk_fail "wait reader $p still blocked"
	done
	[ "$(cat "$BK_TMP"/w.* | sort | uniq -c | awk '{ print $1, $2, $3 }')" = "100 signal 9" ] ||
		bk_fail "readers got: $(cat "$BK_TMP"/w.* | sort | uniq -c)"
}

@test "wait: Ctrl-C interrupts it (EINTR); removal of a waited-for container ENOENT; an exited one at once" {
	ct_start
	id=$(ct_run busybox sleep 100)
	run ct_intr_read "$C/$id/wait" 0.5
	[ "${lines[0]}" = EINTR ] || bk_fail "read: $output"
	[ "${lines[1]}" -ge 400 ] && [ "${lines[1]}" -lt 2000 ] || bk_fail "read took ${lines[1]} ms"
	# cat killed by SIGINT: timeout reports it timed out, and it did not hang.
	ms=$(ct_ms timeout -s INT 0.5 cat "$C/$id/wait")
	[ "$ms" -lt 2000 ] || bk_fail "cat wait ignored SIGINT for $ms ms"
	st=0
	timeout -s INT 0.5 cat "$C/$id/wait" || st=$?
	[ "$st" -eq 124 ] || bk_fail "timeout -s INT 0.5 cat wait: status $st"
	bk_assert_content "$C/$id/state" $'running\n'

	ct_ctl "$id" kill >/dev/null
	bk_assert_content "$C/$id/wait" $'signal 9\n'

	# wait blocks on a created container too; removing it answers ENOENT.
	made=$(cat "$C/clone")
	bk_bg "$BK_TMP/gone" "$BK_PY" "$BK_LIB/bkio.py" errno read "$C/$made/wait"
	reader=$BK_BG_PID
	sleep 0.3
	bk_alive "$reader" || bk_fail "the reader returned early: $(cat "$BK_TMP/gone")"
	rmdir "$C/$made"
	bk_wait_gone "$reader" || bk_fail "the reader still waits after rmdir"
	bk_assert_content "$BK_TMP/gone" $'ENOENT\n'

	id=$(ct_run busybox exit 1)
	bk_assert_content "$C/$id/wait" $'exit 1\n'
	ms=$(ct_ms cat "$C/$id/wait")
	[ "$ms" -lt 1000 ]
}

# ---- isolation ----------------------------------------------------------

@test "isolation: no tree, no leaked fds, read-only /proc/sys, no CAP_SYS_ADMIN, own pids, init unreachable" {
	ct_start
	host_caps=$(awk '/^CapEff/ { print $2 }' /proc/self/status)
	local -a script=(
		"echo mnt=\$(grep -cF '$BK_MNT' /proc/self/mountinfo) store=\$(grep -cF '$BK_STORE' /proc/self/mountinfo)"
		"echo fds=\$(ls /proc/self/fd | tr '\n' ' ')"
		"echo 1 >/proc/sys/kernel/domainname 2>/dev/null; echo procsys=\$?"
		"if [ -e /proc/sysrq-trigger ]; then echo h >/proc/sysrq-trigger 2>/dev/null; echo sysrq=\$?; else echo sysrq=absent; fi"
		"grep -E '^Cap(Eff|Bnd|Inh):' /proc/self/status"
		"mkdir -p /tmp/m; mount -t tmpfs x /tmp/m 2>&1; echo mount=\$?"
		"ps -o pid,comm >/tmp/ps.out; echo ps=\$(tail -n +2 /tmp/ps.out | awk '{ print \$1 \":\" \$2 }')"
		"echo cmdline=\$(tr '\0' ' ' </proc/1/cmdline)"
		"readlink /proc/1/exe >/dev/null 2>&1; echo exe=\$?"
		"ok=0; for f in /proc/1/fd/*; do readlink \$f >/dev/null 2>&1 && ok=1; cat \$f >/dev/null 2>&1 && ok=1; done; echo initfd=\$ok"
		"echo done"
	)
	line=$(printf '%s; ' "${script[@]}")
	id=$(ct_run busybox "$line")
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	log=$(cat "$C/$id/log")
	field() { sed -n "s/^$1=//p" <<<"$log"; }
	[ "$(field mnt)" = "0 store=0" ] || bk_fail "mountinfo names the tree or the store: $log"
	# ls's own fd is the directory it reads: 0 1 2 and one more.
	[[ $(field fds) =~ ^0\ 1\ 2\ [0-9]+$ ]] || bk_fail "fds: $(field fds)"
	[ "$(field procsys)" != 0 ] || bk_fail "/proc/sys is writable"
	[ "$(field sysrq)" = absent ] || [ "$(field sysrq)" != 0 ] || bk_fail "/proc/sysrq-trigger is writable"
	eff=$(awk '/^CapEff:/ { print $2 }' <<<"$log")
	bnd=$(awk '/^CapBnd:/ { print $2 }' <<<"$log")
	inh=$(awk '/^CapInh:/ { print $2 }' <<<"$log")
	[ $((16#$eff & (1 << 21))) -eq 0 ] || bk_fail "CAP_SYS_ADMIN in CapEff $eff"
	[ $((16#$bnd & (1 << 21))) -eq 0 ] || bk_fail "CAP_SYS_ADMIN in CapBnd $bnd"
	# Docker's default set, and the test's own shell really has more.
	[ "$eff" = 00000000a80425fb ] || bk_fail "CapEff $eff"
	[ $((16#$host_caps & (1 << 21))) -ne 0 ] || skip "the test runs without CAP_SYS_ADMIN"
	[ "$inh" = 0000000000000000 ] || bk_fail "CapInh $inh"
	[ "$(field mount)" != 0 ] || bk_fail "mount -t tmpfs worked"
	grep -qi 'permission denied\|not permitted' <<<"$log" || bk_fail "mount error: $log"
	# ps sees the init, the shell and itself: no host process.
	[[ $(field ps) =~ ^1:(bockerfs-)?init\ 2:sh\ [0-9]+:ps$ ]] || bk_fail "ps: $(field ps)"
	[[ $(field cmdline) == bockerfs-init* ]] || bk_fail "cmdline: $(field cmdline)"
	[ "$(field exe)" != 0 ] || bk_fail "/proc/1/exe readable"
	[ "$(field initfd)" = 0 ] || bk_fail "an fd of the init could be read or opened"
	[ "$(tail -n1 <<<"$log")" = done ]
}

@test "/proc/sys and /proc/sysrq-trigger are read-only mounts in the container" {
	ct_start
	id=$(ct_run busybox "grep -E ' /proc/(sys|sysrq-trigger) ' /proc/self/mountinfo")
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	grep -qE ' /proc/sys ro[, ]' "$C/$id/log" || bk_fail "mountinfo: $(cat "$C/$id/log")"
	# This host's kernel may lack /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ=n).
	if [ -e /proc/sysrq-trigger ]; then
		grep -qE ' /proc/sysrq-trigger ro[, ]' "$C/$id/log" ||
			bk_fail "no read-only /proc/sysrq-trigger mount: $(cat "$C/$id/log")"
	else
		! grep -q sysrq "$C/$id/log" || false
	fi
}

# A container's /proc and /dev as "MOUNTPOINT OPTIONS FSTYPE SUPEROPTIONS" lines, sorted.
proc_dev_mounts() {
	awk '$5 ~ /^\/(proc|dev)(\/|$)/ { for (i = 7; $i != "-"; i++) ; print $5, $6, $(i + 1), $(i + 3) }' "$1" |
		sed -E 's/(size|nr_inodes)=[0-9]+k?/\1=N/g' | sort
}

@test "/proc and /dev made ahead by a spare init (before its container's root was known) are those a fresh init makes at its start" {
	ct_start
	sleep 1 # the spare inits are made
	spare=$(ct_run busybox 'cat /proc/self/mountinfo')
	bk_assert_content "$C/$spare/wait" $'exit 0\n'
	# net mode host takes no spare init: that init makes them after the root.
	mkdir "$C/fresh"
	echo busybox >"$C/fresh/image"
	echo 'cat /proc/self/mountinfo' >"$C/fresh/cmd"
	echo 'mode host' >"$C/fresh/net"
	echo start >"$C/fresh/ctl"
	bk_assert_content "$C/fresh/wait" $'exit 0\n'
	# mountinfo lists mounts in the order they were made (mount ids are reused: not those).
	root_line() { awk '$5 == "/" { print NR }' "$1"; }
	proc_line() { awk '$5 == "/proc" { print NR }' "$1"; }
	[ "$(proc_line "$C/$spare/log")" -lt "$(root_line "$C/$spare/log")" ] ||
		bk_fail "the spare's /proc was mounted after its root: $(cat "$C/$spare/log")"
	[ "$(proc_line "$C/fresh/log")" -gt "$(root_line "$C/fresh/log")" ] ||
		bk_fail "the fresh init's /proc came before its root: $(cat "$C/fresh/log")"
	a=$(proc_dev_mounts "$C/$spare/log")
	b=$(proc_dev_mounts "$C/fresh/log")
	[ "$a" = "$b" ] || bk_fail "spare:"$'\n'"$a"$'\n'"fresh:"$'\n'"$b"
	# The masks and nodes are there, and nothing of the staging is left.
	grep -q '^/proc/sys ro,' <<<"$a" || bk_fail "$a"
	grep -q '^/dev/null ' <<<"$a" || bk_fail "$a"
	grep -q '^/dev/pts ' <<<"$a" || bk_fail "$a"
	grep -q '^/dev/mqueue ' <<<"$a" || bk_fail "$a"
	! grep -qF "$BK_MNT" "$C/$spare/log" || bk_fail "the tree's mount point shows: $(cat "$C/$spare/log")"
	! grep -q 'size=64k' "$C/$spare/log" || bk_fail "a staging tmpfs shows: $(cat "$C/$spare/log")"
}

@test "a spare init's container: init, command and exec under the seccomp filter, in a cgroup namespace rooted at the container's group" {
	ct_start
	sleep 1 # the spare inits are made
	id=$(ct_run busybox 'grep ^Seccomp: /proc/1/status /proc/self/status; cat /proc/self/cgroup; sleep 100')
	ct_wait_log "$id" '^0::'
	log=$(cat "$C/$id/log")
	[ "$(grep -c $'Seccomp:\t2' <<<"$log")" = 2 ] || bk_fail "$log"
	! grep -v Seccomp <<<"$log" | grep -qv ':/$' || bk_fail "a cgroup outside the namespace's root: $log"
	pid=$(cat "$C/$id/pid")
	grep -q "/$id\$" "/proc/$pid/cgroup" || bk_fail "init $pid not in the container's group: $(cat "/proc/$pid/cgroup")"
	n=$(cat "$C/$id/exec/clone")
	echo 'exec grep ^Seccomp: /proc/self/status; cat /proc/self/cgroup' >"$C/$id/exec/$n/ctl"
	out=$(cat "$C/$id/exec/$n/out")
	bk_assert_content "$C/$id/exec/$n/wait" $'exit 0\n'
	grep -qx $'Seccomp:\t2' <<<"$out" || bk_fail "exec: $out"
	! grep -v Seccomp <<<"$out" | grep -qv ':/$' || bk_fail "exec: $out"
	echo 'rm force' >"$C/$id/ctl"
}

@test "the container's root allows setuid programs (as Docker) but stays nodev" {
	ct_start
	id=$(ct_run busybox "awk '\$5 == \"/\" { print \$6 }' /proc/self/mountinfo")
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	line=$(cat "$C/$id/log")
	[[ $line == *nodev* ]] || bk_fail "root not nodev: $line"
	[[ $line != *nosuid* ]] || bk_fail "root is nosuid: $line"
}

# ---- surviving the daemon --------------------------------------------------

@test "containers survive kill -9 of the daemon, keep logging, and are adopted on restart" {
	ct_start
	chatty=$(ct_run busybox 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done')
	short=$(ct_run busybox 'echo short; sleep 2; echo bye; exit 6')
	ct_wait_log "$chatty" '^3$'
	pid=$(cat "$C/$chatty/pid")
	[ "$pid" -gt 0 ]
	start=$(bk_proc_start "$pid")
	bk_daemon_kill9
	sleep 3
	bk_alive "$pid" || bk_fail "chatty init $pid died with the daemon"
	log=$BK_STORE/containers/$chatty/log
	s1=$(stat -c %s "$log")
	sleep 0.5
	s2=$(stat -c %s "$log")
	[ "$s2" -gt "$s1" ] || bk_fail "log stopped growing at $s1 bytes"
	grep -qx bye "$BK_STORE/containers/$short/log" || bk_fail "short's log: $(cat "$BK_STORE/containers/$short/log")"

	bk_daemon_start
	bk_assert_content "$C/$chatty/state" $'running\n'
	bk_assert_content "$C/$chatty/pid" "$pid"$'\n'
	[ "$(bk_proc_start "$pid")" = "$start" ]
	bk_assert_content "$C/$short/state" $'exited\n'
	bk_assert_content "$C/$short/wait" $'exit 6\n'
	[ "$(ct_status "$short" exit)" = 6 ]
	bk_assert_content "$C/$short/log" $'short\nbye\n'
	# The log is whole: 1, 2, 3, ... without a gap, and still growing.
	n=$(wc -l <"$C/$chatty/log")
	[ "$(head -n "$n" "$C/$chatty/log")" = "$(seq "$n")" ] || bk_fail "log has gaps"
	[ "$n" -ge 25 ] || bk_fail "only $n lines after 4 s"
	ct_wait_log "$chatty" "^$((n + 3))\$"
	# The adopted container is still followed: its exit is seen and waited for.
	bk_inotify_start "$BK_TMP/inw" modify "$C/$chatty/state"
	run ct_ctl "$chatty" 'stop 5'
	[ "${lines[0]}" = OK ] || bk_fail "stop: $output"
	bk_inotify_wait "$BK_TMP/inw"
	bk_assert_content "$C/$chatty/wait" $'signal 15\n'
	bk_wait_gone "$pid" || bk_fail "init $pid survived stop"
	run ct_ctl "$chatty" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force: $output"
	run ct_ctl "$short" 'rm force'
	[ "${lines[0]}" = OK ]
	[ -z "$(ct_ids)" ]
}

@test "a daemon stopped with SIGTERM leaves containers running; the next one adopts them" {
	ct_start
	run_id=$(ct_run busybox 'echo up; sleep 100')
	ct_wait_log "$run_id" '^up$'
	pid=$(cat "$C/$run_id/pid")
	bk_daemon_term TERM
	[ "$BK_DAEMON_STATUS" -eq 0 ] || bk_fail "daemon exit status $BK_DAEMON_STATUS"
	sleep 0.5
	bk_alive "$pid" || bk_fail "container init $pid died with the daemon"
	bk_daemon_start
	bk_assert_content "$C/$run_id/state" $'running\n'
	bk_assert_content "$C/$run_id/pid" "$pid"$'\n'
	run ct_ctl "$run_id" kill
	[ "${lines[0]}" = OK ] || bk_fail "kill: $output"
	bk_assert_content "$C/$run_id/wait" $'signal 9\n'
	[ "$(ct_status "$run_id" exit)" = 137 ]
}

@test "containers without cmd (the image's default) or not yet set up survive a daemon restart" {
	ct_start
	# An image whose default command (Cmd ["/bin/sh"]) runs for a while.
	long=$BK_TMP/long
	mkdir -p "$long/bin"
	cp "$BB/bin/busybox" "$long/bin/busybox"
	ln -s busybox "$long/bin/sleep"
	printf '#!/bin/busybox sh\necho default; exec sleep 100\n' >"$long/bin/sh"
	chmod 755 "$long/bin/sh"
	bk_import "$long" long >/dev/null
	dflt=$(ct_run long)
	ct_wait_log "$dflt" '^default$'
	pid=$(cat "$C/$dflt/pid")
	exited=$(ct_run busybox)
	bk_assert_content "$C/$exited/wait" $'exit 0\n'
	bare=$(cat "$C/clone")
	mkdir "$C/named"
	echo busybox >"$C/named/image"
	bk_daemon_term TERM
	bk_alive "$pid" || bk_fail "container init $pid died with the daemon"
	bk_daemon_start
	# Every container comes back (none is "malformed").
	[ "$(ct_ids)" = "$(printf '%s\n' "$dflt" "$exited" "$bare" named | sort)" ] ||
		bk_fail "containers after restart: $(ct_ids | tr '\n' ' '); daemon log: $(grep -i warn "$BK_LOG")"
	bk_assert_content "$C/$dflt/state" $'running\n'
	bk_assert_content "$C/$dflt/pid" "$pid"$'\n'
	bk_assert_content "$C/$exited/state" $'exited\n'
	bk_assert_content "$C/$bare/state" $'created\n'
	bk_assert_content "$C/named/image" $'busybox\n'
	run ct_ctl "$dflt" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force: $output"
	bk_wait_gone "$pid" || bk_fail "init $pid survived rm force"
}

# ---- concurrency --------------------------------------------------------

@test "50 containers started in parallel: 50 distinct ids, all running; rm force all" {
	ct_start
	run ct_run_parallel 50 'busybox sleep 30'
	[ "$status" -eq 0 ] || bk_fail "$output"
	[ "${#lines[@]}" -eq 50 ] || bk_fail "$output"
	for id in "${lines[@]}"; do
		[[ $id =~ $CT_ID_RE ]] || bk_fail "reply '$id'"
	done
	all=$(printf '%s\n' "${lines[@]}" | sort)
	[ "$(uniq <<<"$all" | wc -l)" -eq 50 ] || bk_fail "duplicate ids: $(uniq -d <<<"$all")"
	[ "$(ct_ids)" = "$all" ]
	[ "$(tail -n +2 "$C/index" | cut -f1 | sort)" = "$all" ]
	local -A hostpids=()
	for id in $all; do
		[ "$(cat "$C/$id/state")" = running ] || bk_fail "$id: $(cat "$C/$id/state")"
		p=$(cat "$C/$id/pid")
		bk_alive "$p" || bk_fail "$id: pid $p not alive"
		hostpids[$p]=1
	done
	[ "${#hostpids[@]}" -eq 50 ]
	# rm force all of them at once.
	local -a writers=()
	for id in $all; do
		bk_bg "$BK_TMP/rm.$id" "$BK_PY" "$BK_LIB/bkio.py" write "$C/$id/ctl" $'rm force\n'
		writers+=("$BK_BG_PID")
	done
	for w in "${writers[@]}"; do
		bk_wait_gone "$w" 30 || bk_fail "rm force writer $w hangs"
	done
	for id in $all; do
		[ "$(head -n1 "$BK_TMP/rm.$id")" = OK ] || bk_fail "rm force $id: $(cat "$BK_TMP/rm.$id")"
	done
	[ -z "$(ct_ids)" ]
	for p in "${!hostpids[@]}"; do
		bk_wait_gone "$p" 5 || bk_fail "init $p left"
	done
}

# ---- log rotation ---------------------------------------------------------

@test "--log-max-size 64K: 200 KiB of output leave log.1 and a log of at most 64 KiB" {
	ct_start --log-max-size 64K
	# seq 1 36000 is 200 KiB.
	id=$(ct_run busybox 'seq 1 36000')
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	dir=$BK_STORE/containers/$id
	[ -f "$dir/log.1" ] || bk_fail "no log.1: $(ls -l "$dir")"
	size=$(stat -c %s "$dir/log")
	size1=$(stat -c %s "$dir/log.1")
	[ "$size" -le 65536 ] || bk_fail "log is $size bytes"
	[ "$size1" -le 65536 ] && [ "$size1" -gt 0 ] || bk_fail "log.1 is $size1 bytes"
	[ ! -e "$C/$id/log.1" ]
	cmp "$dir/log" "$C/$id/log"
	[ "$(tail -n1 "$C/$id/log")" = 36000 ]
	# log.1 and log join without a gap: together they are the output's last bytes.
	cmp <(cat "$dir/log.1" "$dir/log") <(seq 1 36000 | tail -c $((size1 + size))) ||
		bk_fail "log.1 + log is not the end of the output"
}

@test "commit IMG_ID while spare snapshots of the image are being made: every later run sees the new filesystem" {
	# Each spare snapshot stalls 1.5 s before it joins the pool: the import's refill
	# holds snapshots of the old rootfs while the image is replaced.
	BOCKERFS_FAILPOINTS="spare.made=sleep:1500" ct_start
	id=$(ct_run "busybox sh -c 'echo changed >/marker'")
	[ "$(cat "$C/$id/wait")" = "exit 0" ]
	new=$(bk_command_id "containers/$id/ctl" "commit $BB_ID")
	[ "$new" = "$BB_ID" ]
	for i in 1 2 3 4 5 6; do
		run_id=$(ct_run "busybox cat /marker")
		[ "$(cat "$C/$run_id/wait")" = "exit 0" ] || bk_fail "run $i: $(cat "$C/$run_id/log")"
		[ "$(cat "$C/$run_id/log")" = changed ]
		sleep 0.5
	done
	grep -q "the image changed" "$BK_LOG" || bk_fail "no refill was made stale (the test raced)"
}

@test "commit racing rm force: ENOENT 'no container', never btrfs's text; nothing is left in tmp/" {
	# The commit stalls before its snapshot, while rm force takes the container away.
	BOCKERFS_FAILPOINTS="commit.begin=sleep:1000" ct_start
	id=$(ct_run "busybox sleep 600")
	bk_bg "$BK_TMP/commit" bk_write_errno "$C/$id/ctl" $'commit raced:1\n'
	sleep 0.3
	ct_ctl "$id" 'rm force' >/dev/null
	bk_wait_gone "$BK_BG_PID" 20
	[ "$(head -n1 "$BK_TMP/commit")" = ENOENT ] || bk_fail "commit: $(cat "$BK_TMP/commit")"
	grep -q "no container '$id'" "$BK_TMP/commit" || bk_fail "commit: $(cat "$BK_TMP/commit")"
	! grep -qi "subvolume" "$BK_TMP/commit" || bk_fail "commit: $(cat "$BK_TMP/commit")"
	bk_wait_until 5 bk_tmp_is_empty || bk_fail "tmp/: $(ls "$BK_STORE/tmp")"
	[ ! -e "$BK_MNT/images/index" ] || ! grep -q raced "$BK_MNT/images/index"
}

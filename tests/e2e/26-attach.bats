#!/usr/bin/env bats
# A container's stdin, terminal and live output, end to end (docker run -i,
# -t, logs -f, attach): `stdin` and `tty` set before start, `in` feeding the
# command (a pipe whose last close is EOF, or the terminal), `out` streaming
# the output as it comes and ending when the command stops, `resize` on ctl,
# Ctrl-C through the terminal, a terminal kept across a daemon SIGKILL, exec
# sessions with a terminal (`tty` before `exec`), and the refusals.  Each
# test starts its own daemon with a busybox image and removes every
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

# mk NAME CMD [tty] [stdin]: a busybox container NAME running `sh -c CMD`, not started.
mk() {
	mkdir "$C/$1" && ct_track "$1" && echo busybox >"$C/$1/image" &&
		printf '%s\n' "$2" >"$C/$1/cmd" && echo "${3:-0}" >"$C/$1/tty" &&
		echo "${4:-0}" >"$C/$1/stdin"
}

# start NAME
start() {
	run ct_ctl "$1" start
	[ "${lines[0]}" = OK ] || bk_fail "start $1: $output"
}

# out_until NAME REGEX [SECS]: read NAME's out stream until a line matches (in $BK_TMP/NAME.out).
out_until() {
	timeout "${3:-$BK_DEADLINE}" "$BK_PY" - "$C/$1/out" "$2" "$BK_TMP/$1.out" <<-'PY'
		import os, re, sys
		fd = os.open(sys.argv[1], os.O_RDONLY)
		got = b""
		while not re.search(sys.argv[2].encode(), got):
		    b = os.read(fd, 4096)
		    if not b:
		        break
		    got += b
		open(sys.argv[3], "wb").write(got)
		sys.exit(0 if re.search(sys.argv[2].encode(), got) else 1)
	PY
}

@test "stdin 1: what is written to in is the command's stdin, the last close its EOF; stdin 0: EPIPE with the reason" {
	ct_start
	mk s1 'cat; echo done' 0 1
	bk_assert_content "$C/s1/stdin" $'1\n'
	start s1
	printf 'a\nb\n' >"$C/s1/in"
	bk_wait_until "$BK_DEADLINE" ct_state_is s1 exited
	bk_assert_content "$C/s1/log" $'a\nb\ndone\n'
	mk s2 'sleep 1000'
	start s2
	run bk_write_errno "$C/s2/in" $'x\n'
	[ "${lines[0]}" = EPIPE ] || bk_fail "$output"
	bk_check_error EPIPE /containers/s2/in write containers/s2/err - "has no input" || return
}

@test "out: the output as it comes (the first line while the command still runs), then the end when it stops" {
	ct_start
	mk o1 'echo one; sleep 3; echo two'
	start o1
	t0=$(date +%s%N)
	out_until o1 '^one$' 10 || bk_fail "no 'one' from out: $(cat "$BK_TMP/o1.out")"
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -lt 2500 ] || bk_fail "'one' after $(((t1 - t0) / 1000000)) ms"
	bk_assert_content "$C/o1/state" $'running\n'
	# A whole read to the end returns once the command has stopped.
	timeout 20 cat "$C/o1/out" >"$BK_TMP/all"
	bk_assert_content "$BK_TMP/all" $'one\ntwo\n'
	bk_assert_content "$C/o1/state" $'exited\n'
}

@test "tty 1: the command has a terminal (isatty, /dev/pts, 80x24, TERM=xterm); resize on ctl shows in stty size; input through it, Ctrl-C to the container; exit code back" {
	ct_start
	mk t1 'tty; stty size; [ -t 0 ] && [ -t 1 ] && echo isatty; echo "$TERM"; exec sh' 1 1
	start t1
	out_until t1 'xterm' || bk_fail "$(cat "$BK_TMP/t1.out")"
	grep -q '^/dev/pts/[0-9]' "$BK_TMP/t1.out"
	grep -q '^24 80' "$BK_TMP/t1.out"
	grep -q '^isatty' "$BK_TMP/t1.out"
	run ct_ctl t1 'resize 100 40'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	printf 'stty size\n' >"$C/t1/in"
	out_until t1 '40 100' || bk_fail "$(cat "$BK_TMP/t1.out")"
	# Ctrl-C reaches the foreground command, not the shell: the shell goes on.
	printf 'sleep 100\n' >"$C/t1/in"
	sleep 0.5
	printf '\003' >"$C/t1/in"
	printf 'echo back-$((6*7))\n' >"$C/t1/in"
	out_until t1 'back-42' 10 || bk_fail "$(cat "$BK_TMP/t1.out")"
	printf 'exit 3\n' >"$C/t1/in"
	bk_wait_until "$BK_DEADLINE" ct_state_is t1 exited
	bk_assert_content "$C/t1/wait" $'exit 3\n'
}

@test "a terminal survives a daemon SIGKILL: the next daemon writes to it and resizes it" {
	ct_start
	mk k1 'exec sh' 1 1
	start k1
	printf 'echo first\n' >"$C/k1/in"
	out_until k1 'first' || bk_fail "$(cat "$BK_TMP/k1.out")"
	kill -KILL "$BK_PID"
	bk_wait_gone "$BK_PID"
	bk_daemon_start
	bk_assert_content "$C/k1/state" $'running\n'
	run ct_ctl k1 'resize 90 30'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	printf 'stty size; echo sec""ond\n' >"$C/k1/in"
	# "second" only as output (the terminal echoes the line typed, which spells it apart).
	out_until k1 'second' || bk_fail "$(cat "$BK_TMP/k1.out")"
	grep -q '^30 90' "$BK_TMP/k1.out"
}

@test "exec sessions with a terminal: tty before exec; isatty, input, resize, exit code" {
	ct_start
	mk e1 'sleep 1000'
	start e1
	n=$(cat "$C/e1/exec/clone")
	echo tty >"$C/e1/exec/$n/ctl"
	echo 'exec [ -t 0 ] && echo isatty; tty; read x; echo "got $x"; stty size; exit 4' >"$C/e1/exec/$n/ctl"
	printf 'hello\n' >"$C/e1/exec/$n/in"
	# out first: a session is freed once its wait has been read.
	out=$(cat "$C/e1/exec/$n/out")
	bk_assert_content "$C/e1/exec/$n/wait" $'exit 4\n'
	[[ $out == *isatty* ]] && [[ $out == */dev/pts/* ]] && [[ $out == *"got hello"* ]] &&
		[[ $out == *"24 80"* ]] || bk_fail "out: $out"
	m=$(cat "$C/e1/exec/clone")
	echo tty >"$C/e1/exec/$m/ctl"
	echo 'exec sleep 0.5; stty size' >"$C/e1/exec/$m/ctl"
	echo 'resize 120 50' >"$C/e1/exec/$m/ctl"
	out=$(cat "$C/e1/exec/$m/out")
	bk_assert_content "$C/e1/exec/$m/wait" $'exit 0\n'
	[[ $out == *"50 120"* ]] || bk_fail "out: $out"
}

@test "refusals: tty and stdin other than 0 or 1 (EINVAL), after start (EBUSY); resize without a terminal (ENOTTY) or with bad sizes (EINVAL); tty after an exec ran (EBUSY)" {
	ct_start
	mk r1 'sleep 1000'
	for v in 2 yes -1; do
		run bk_write_errno "$C/r1/tty" "$v"$'\n'
		[ "${lines[0]}" = EINVAL ] || bk_fail "tty '$v': $output" || return
		run bk_write_errno "$C/r1/stdin" "$v"$'\n'
		[ "${lines[0]}" = EINVAL ] || bk_fail "stdin '$v': $output" || return
	done
	bk_assert_content "$C/r1/tty" $'0\n'
	start r1
	run bk_write_errno "$C/r1/tty" $'1\n'
	[ "${lines[0]}" = EBUSY ] || bk_fail "$output"
	[[ ${lines[1]} == *"tty cannot change"* ]] || bk_fail "$output"
	run bk_write_errno "$C/r1/stdin" $'1\n'
	[[ ${lines[1]} == *"stdin cannot change"* ]] || bk_fail "$output"
	run ct_ctl r1 'resize 80 24'
	[ "${lines[0]}" = ENOTTY ] || bk_fail "$output"
	for v in 'resize 0 24' 'resize 80' 'resize a b' 'resize 80 24 1' 'resize 80 100000'; do
		run ct_ctl r1 "$v"
		[ "${lines[0]}" = EINVAL ] || bk_fail "'$v': $output" || return
	done
	n=$(cat "$C/r1/exec/clone")
	echo 'exec true' >"$C/r1/exec/$n/ctl"
	run bk_write_errno "$C/r1/exec/$n/ctl" $'tty\n'
	[ "${lines[0]}" = EBUSY ] || bk_fail "$output"
}

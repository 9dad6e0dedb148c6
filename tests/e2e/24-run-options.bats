#!/usr/bin/env bats
# A container's own user and working directory (docker run -u, -w), end to
# end: what the command and its exec sessions run as and in, the image's
# names looked up in the image, refusals when written (syntax) and at start
# (an unknown name), and EBUSY once started.  Forced image removal (rm force
# on images/ID/ctl, docker rmi -f): the containers made from it run on with
# the image's config; one never started says why it cannot start.  Each test
# starts its own daemon with a busybox image and removes every container it
# made.

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

# mk NAME CMD: a busybox container NAME running `sh -c CMD`, not started.
mk() {
	mkdir "$C/$1" && ct_track "$1" && echo busybox >"$C/$1/image" && printf '%s\n' "$2" >"$C/$1/cmd"
}

# start_wait NAME: start it and wait until it exits.
start_wait() {
	run ct_ctl "$1" start
	[ "${lines[0]}" = OK ] || bk_fail "start $1: $output" || return
	bk_wait_until "$BK_DEADLINE" ct_state_is "$1" exited || bk_fail "$1 did not exit"
}

@test "user: uid:gid, a name from the image's passwd, a name:group; read back; exec sessions run as it; the image's by default" {
	ct_start
	mk u1 'id -u; id -g'
	echo 1000:1001 >"$C/u1/user"
	bk_assert_content "$C/u1/user" $'1000:1001\n'
	start_wait u1
	bk_assert_content "$C/u1/log" $'1000\n1001\n'
	mk u2 'id -un; id -gn'
	echo nobody >"$C/u2/user"
	start_wait u2
	bk_assert_content "$C/u2/log" $'nobody\nnogroup\n'
	mk u3 'id -u; id -g'
	echo nobody:root >"$C/u3/user"
	start_wait u3
	bk_assert_content "$C/u3/log" $'65534\n0\n'
	mk u4 'id -u'
	bk_assert_content "$C/u4/user" ''
	start_wait u4
	bk_assert_content "$C/u4/log" $'0\n'
	# An exec session runs as the container's user.
	mk u5 'sleep 1000'
	echo 4242 >"$C/u5/user"
	run ct_ctl u5 start
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	n=$(cat "$C/u5/exec/clone")
	echo 'exec id -u' >"$C/u5/exec/$n/ctl"
	bk_assert_content "$C/u5/exec/$n/out" $'4242\n'
}

@test "workdir: the command and exec sessions start there; made inside the container when missing; the image's by default" {
	ct_start
	mk w1 'pwd; sleep 1000'
	echo /srv/my/app >"$C/w1/workdir"
	bk_assert_content "$C/w1/workdir" $'/srv/my/app\n'
	run ct_ctl w1 start
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	ct_wait_log w1 '^/srv/my/app$'
	[ -d "$(readlink "$C/w1/root")/srv/my/app" ]
	n=$(cat "$C/w1/exec/clone")
	echo 'exec pwd' >"$C/w1/exec/$n/ctl"
	bk_assert_content "$C/w1/exec/$n/out" $'/srv/my/app\n'
	mk w2 'pwd'
	start_wait w2
	bk_assert_content "$C/w2/log" $'/\n'
}

@test "user and workdir refused when malformed (EINVAL, the reason in err and errors, the old value kept); an unknown user fails the start with ENOENT naming it; EBUSY after start" {
	ct_start
	mk b1 'true'
	echo 1000 >"$C/b1/user"
	echo /w >"$C/b1/workdir"
	for v in 'a b' 'a:' ':x' 'a:b:c' $'a\nb' 'x/y'; do
		run bk_write_errno "$C/b1/user" "$v"$'\n'
		[ "${lines[0]}" = EINVAL ] || bk_fail "user '$v': $output" || return
		bk_assert_content "$C/b1/user" $'1000\n' || return
	done
	bk_check_error EINVAL /containers/b1/user 'write|flush' containers/b1/err - "user 'x/y'" || return
	for v in rel 'a/b' '/x/../y' '/..'; do
		run bk_write_errno "$C/b1/workdir" "$v"$'\n'
		[ "${lines[0]}" = EINVAL ] || bk_fail "workdir '$v': $output" || return
		bk_assert_content "$C/b1/workdir" $'/w\n' || return
	done
	echo ghost >"$C/b1/user"
	run ct_ctl b1 start
	[ "${lines[0]}" = ENOENT ] || bk_fail "$output"
	[[ ${lines[1]} == *ghost* ]] || bk_fail "$output"
	bk_assert_content "$C/b1/state" $'created\n'
	echo 0 >"$C/b1/user"
	start_wait b1
	run bk_write_errno "$C/b1/user" $'1\n'
	[ "${lines[0]}" = EBUSY ] || bk_fail "$output"
	run bk_write_errno "$C/b1/workdir" $'/x\n'
	[ "${lines[0]}" = EBUSY ] || bk_fail "$output"
}

@test "images/ID/ctl rm force removes an image containers were made from: running, exited and restarted ones run on with its config (start, restart, exec, commit, log); one never started fails with ENOENT and why" {
	ct_start
	mkdir -p "$BK_TMP/ctx"
	printf 'FROM busybox\nENV FOO=from-image\nWORKDIR /srv\nCMD ["sh", "-c", "echo $FOO; pwd"]\n' >"$BK_TMP/ctx/Dockerfile"
	img=$(bk_build "$BK_TMP/ctx" gone:1)
	for n in run1 ran1 new1; do
		mkdir "$C/$n"
		ct_track "$n"
		echo gone:1 >"$C/$n/image"
	done
	echo 'sleep 1000' >"$C/run1/cmd"
	run ct_ctl run1 start
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	run ct_ctl ran1 start
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_wait_until "$BK_DEADLINE" ct_state_is ran1 exited
	bk_assert_content "$C/ran1/log" $'from-image\n/srv\n'
	run bk_errno rmdir "$BK_MNT/images/$img"
	[ "$output" = EBUSY ]
	run bk_write_errno "$BK_MNT/images/$img/ctl" $'rm\n'
	[ "${lines[0]}" = EINVAL ] || bk_fail "$output"
	run bk_write_errno "$BK_MNT/images/$img/ctl" $'rm force\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ ! -e "$BK_MNT/images/$img" ]
	! grep -q "$img" "$BK_MNT/images/index"
	[ -z "$(bk_store_images | grep -x "$img")" ]
	# The running one runs on; an exec session gets the image's env and workdir.
	bk_assert_content "$C/run1/state" $'running\n'
	n=$(cat "$C/run1/exec/clone")
	echo 'exec echo $FOO; pwd' >"$C/run1/exec/$n/ctl"
	bk_assert_content "$C/run1/exec/$n/out" $'from-image\n/srv\n'
	# Committed: the new image has the old one's config.
	new=$(bk_command "$C/run1/ctl" "$BK_IMG_ID_RE" commit)
	grep -q FOO=from-image "$BK_MNT/images/$new/config"
	# The exited one starts again with its Cmd, Env and WorkingDir.
	run ct_ctl ran1 start
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_wait_until "$BK_DEADLINE" ct_state_is ran1 exited
	bk_assert_content "$C/ran1/log" $'from-image\n/srv\nfrom-image\n/srv\n'
	run ct_ctl run1 'restart 1'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_assert_content "$C/run1/state" $'running\n'
	# Never started: it has no filesystem of its own, and says why.
	run ct_ctl new1 start
	[ "${lines[0]}" = ENOENT ] || bk_fail "$output"
	[[ ${lines[1]} == *"removed before its first start"* ]] || bk_fail "$output"
	bk_check_error ENOENT /containers/new1/ctl write containers/new1/err - "is gone" || return
}

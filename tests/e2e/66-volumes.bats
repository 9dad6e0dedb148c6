#!/usr/bin/env bats
# Volumes and mounts, end to end: volumes/ (mkdir, rmdir, index, state, root,
# users, size), a container's `mounts` (bind of a host directory or file, ro
# recursively; named volumes made on first use, shared, surviving rm and a
# daemon's SIGKILL; tmpfs with a size; an image's VOLUME as an anonymous
# volume that goes with its container; a fresh volume filled with the image's
# files), commit leaving volume contents out, and hostile mounts: targets
# through the image's symlinks (to /, to /proc, relative ones out), '..', the
# store, the state directory and the tree as sources, a source swapped for a
# symlink after it was written.  Each test starts its own daemon with a
# busybox image and removes every container it made.

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
	local - m
	set +e
	# Host mounts a test made under its own directory (a submount of a bind source).
	[ -f "$BATS_TEST_TMPDIR/mounts-made" ] && while read -r m; do
		mountpoint -q "$m" && umount "$m"
	done <"$BATS_TEST_TMPDIR/mounts-made"
	ct_teardown
}

V=""

# vol_start: ct_start, and V=BK_MNT/volumes.
vol_start() {
	ct_start "$@" || return
	V=$BK_MNT/volumes
	[ -d "$V" ] || bk_fail "no volumes/ in the tree"
}

# mk_ctr NAME CMD [MOUNTS]: a container NAME of busybox running `sh -c CMD`, with
# MOUNTS written to its mounts file (failing the test if refused); not started.
mk_ctr() {
	mkdir "$C/$1" || return
	ct_track "$1"
	echo busybox >"$C/$1/image" || return
	printf '%s\n' "$2" >"$C/$1/cmd" || return
	if [ -n "${3:-}" ]; then
		run bk_write_errno "$C/$1/mounts" "$3"$'\n'
		[ "${lines[0]}" = OK ] || bk_fail "mounts '$3': $output" || return
	fi
}

# run_ctr NAME CMD [MOUNTS]: mk_ctr, start, wait; the log is in $C/NAME/log.
run_ctr() {
	mk_ctr "$@" || return
	run ct_ctl "$1" start
	[ "${lines[0]}" = OK ] || bk_fail "start $1: $output" || return
	bk_wait_until "$BK_DEADLINE" ct_state_is "$1" exited || bk_fail "$1 did not exit: $(cat "$C/$1/log")"
}

# host_mount DIR ARGS...: mount ARGS on DIR (on the host), unmounted at teardown.
host_mount() {
	local dir=$1
	shift
	mount "$@" "$dir" || return
	echo "$dir" >>"$BATS_TEST_TMPDIR/mounts-made"
}

@test "volumes/: mkdir makes one (index, state, created, users, size, root); EEXIST; bad names EINVAL with the reason; rmdir removes it and its files; ENOENT" {
	vol_start
	[ "$(head -n1 "$V/index")" = $'VOLUME\tOWNER' ]
	mkdir "$V/data-1"
	[ -d "$V/data-1" ]
	grep -qx $'data-1\t-' "$V/index"
	bk_assert_content "$V/data-1/state" $'ready\n'
	bk_assert_content "$V/data-1/users" ''
	bk_assert_content "$V/data-1/size" $'0\n'
	[[ $(cat "$V/data-1/created") =~ ^$BK_TIME_RE$ ]]
	root=$(readlink "$V/data-1/root")
	[ -d "$root" ] && [ -z "$(ls -A "$root")" ]
	[ "$(stat -c %a "$root")" = 755 ]
	head -c 1000 /dev/zero >"$root/f"
	bk_assert_content "$V/data-1/size" $'1000\n'
	run mkdir "$V/data-1"
	[ "$status" -ne 0 ] && [[ $output == *"File exists"* ]]
	for bad in .x -x 'a b' "$(printf 'x%.0s' {1..129})"; do
		run bk_errno mkdir "$V/$bad"
		[ "$output" = EINVAL ] || bk_fail "mkdir '$bad': $output" || return
	done
	bk_check_error EINVAL '/volumes/-x' mkdir volumes/err - "bad volume name" || return
	rmdir "$V/data-1"
	[ ! -e "$V/data-1" ] && [ ! -e "$root" ]
	! grep -q data-1 "$V/index"
	run bk_errno rmdir "$V/data-1"
	[ "$output" = ENOENT ]
}

@test "bind: a host directory read and written both ways; a host file; mounts reads back the real path" {
	vol_start
	mkdir -p "$BK_TMP/host/dir" "$BK_TMP/host/real"
	echo from-host >"$BK_TMP/host/dir/in"
	echo a-file >"$BK_TMP/host/one"
	ln -s real "$BK_TMP/host/link"
	run_ctr b1 'cat /data/in; echo from-ctr >/data/out; cat /etc/one.txt; echo x >/link/y' \
		"bind $BK_TMP/host/dir /data
bind $BK_TMP/host/one /etc/one.txt
bind $BK_TMP/host/link /link"
	bk_assert_content "$C/b1/wait" $'exit 0\n'
	bk_assert_content "$C/b1/log" $'from-host\na-file\n'
	bk_assert_content "$BK_TMP/host/dir/out" $'from-ctr\n'
	bk_assert_content "$BK_TMP/host/real/y" $'x\n'
	# The symlink resolved once, when written.
	grep -qx "bind $BK_TMP/host/real /link" "$C/b1/mounts"
	# Nothing of the mounts in the container's own filesystem.
	root=$(readlink "$C/b1/root")
	[ ! -e "$root/data/in" ] && [ ! -e "$root/data/out" ]
}

@test "bind ro: writes fail with EROFS, also on what is mounted below the source; rw is the default" {
	vol_start
	mkdir -p "$BK_TMP/host/ro/sub"
	host_mount "$BK_TMP/host/ro/sub" -t tmpfs tmpfs
	echo keep >"$BK_TMP/host/ro/f"
	run_ctr r1 'cat /ro/f; echo x >/ro/new || echo refused-top; echo x >/ro/sub/new || echo refused-sub; touch /rw/ok' \
		"bind $BK_TMP/host/ro /ro ro
tmpfs /rw"
	bk_assert_content "$C/r1/wait" $'exit 0\n'
	grep -qx keep "$C/r1/log"
	grep -qx refused-top "$C/r1/log"
	grep -qx refused-sub "$C/r1/log"
	grep -qi 'read-only file system' "$C/r1/log"
	[ ! -e "$BK_TMP/host/ro/new" ] && [ ! -e "$BK_TMP/host/ro/sub/new" ]
	grep -qx "bind $BK_TMP/host/ro /ro ro" "$C/r1/mounts"
}

@test "named volume: made on first use, shared by two containers, listed in users; rmdir EBUSY while a container names it; data survives rm and a daemon SIGKILL" {
	vol_start
	mk_ctr w1 'echo one >/v/f; sleep 1000' 'volume shared /v'
	[ -d "$V/shared" ]
	run ct_ctl w1 start
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_wait_until "$BK_DEADLINE" test -s "$(readlink "$V/shared/root")/f"
	run_ctr r2 'cat /data/f' 'volume shared /data ro'
	bk_assert_content "$C/r2/log" $'one\n'
	bk_assert_content "$V/shared/users" $'w1\nr2\n'
	run bk_errno rmdir "$V/shared"
	[ "$output" = EBUSY ]
	bk_check_error EBUSY /volumes/shared rmdir volumes/shared/err - "used by container" || return
	# The daemon dies; the volume and the running container's use of it stay.
	kill -KILL "$BK_PID"
	bk_wait_gone "$BK_PID"
	bk_daemon_start
	bk_assert_content "$V/shared/users" $'w1\nr2\n'
	grep -qx 'volume shared /v' "$C/w1/mounts"
	run ct_ctl w1 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	echo 'rm force' >"$C/r2/ctl"
	[ -d "$V/shared" ]
	bk_assert_content "$(readlink "$V/shared/root")/f" $'one\n'
	rmdir "$V/shared"
	[ ! -e "$V/shared" ]
}

@test "a fresh volume gets the image's files at its target, with the directory's owner and mode; a used one is left as it is" {
	vol_start
	rm -rf "$BK_TMP/img"
	cp -a "$BB" "$BK_TMP/img"
	mkdir -p "$BK_TMP/img/seed/sub"
	echo seeded >"$BK_TMP/img/seed/sub/file"
	chown 1234:2345 "$BK_TMP/img/seed"
	chmod 0750 "$BK_TMP/img/seed"
	bk_import "$BK_TMP/img" seeded:1 >/dev/null
	mkdir "$C/s1"
	ct_track s1
	echo seeded:1 >"$C/s1/image"
	echo 'cat /seed/sub/file; echo more >/seed/more' >"$C/s1/cmd"
	echo 'volume seedvol /seed' >"$C/s1/mounts"
	echo start >"$C/s1/ctl"
	bk_wait_until "$BK_DEADLINE" ct_state_is s1 exited
	bk_assert_content "$C/s1/log" $'seeded\n'
	root=$(readlink "$V/seedvol/root")
	[ "$(stat -c '%u:%g %a' "$root")" = "1234:2345 750" ]
	bk_assert_content "$root/sub/file" $'seeded\n'
	# Not fresh any more: a file removed stays removed at the next start.
	rm "$root/sub/file"
	echo start >"$C/s1/ctl"
	bk_wait_until "$BK_DEADLINE" ct_state_is s1 exited
	[ ! -e "$root/sub/file" ] && [ -e "$root/more" ]
}

@test "tmpfs: its size, noexec, nosuid, nodev, empty at each start" {
	vol_start
	run_ctr t1 'df -k /scratch | tail -n1; grep " /scratch " /proc/mounts; touch /scratch/x' 'tmpfs /scratch 16M'
	bk_assert_content "$C/t1/wait" $'exit 0\n'
	[ "$(awk 'NR == 1 { print $2 }' "$C/t1/log")" = 16384 ] || bk_fail "$(cat "$C/t1/log")"
	grep -q 'tmpfs /scratch tmpfs rw,nosuid,nodev,noexec' "$C/t1/log"
	echo 'ls /scratch' >"$C/t1/cmd" 2>/dev/null || true
	echo start >"$C/t1/ctl"
	bk_wait_until "$BK_DEADLINE" ct_state_is t1 exited
	[ "$(tail -n1 "$C/t1/log")" != x ]
}

@test "an image's VOLUME gets an anonymous volume owned by the container, kept across restarts, removed with it; a mount of the user's there wins" {
	vol_start
	mkdir -p "$BK_TMP/ctx"
	printf 'FROM busybox\nRUN mkdir -p /data && echo base >/data/base\nVOLUME /data\n' >"$BK_TMP/ctx/Dockerfile"
	bk_build "$BK_TMP/ctx" withvol:1 >/dev/null
	mkdir "$C/a1"
	ct_track a1
	echo withvol:1 >"$C/a1/image"
	echo 'cat /data/base; echo run >>/data/runs' >"$C/a1/cmd"
	echo start >"$C/a1/ctl"
	bk_wait_until "$BK_DEADLINE" ct_state_is a1 exited
	bk_assert_content "$C/a1/log" $'base\n'
	name=$(awk '$1 == "volume" && $3 == "/data" { print $2 }' "$C/a1/mounts")
	[[ $name =~ ^[0-9a-f]{64}$ ]] || bk_fail "mounts: $(cat "$C/a1/mounts")"
	grep -qx "$name"$'\ta1' "$V/index"
	echo start >"$C/a1/ctl"
	bk_wait_until "$BK_DEADLINE" ct_state_is a1 exited
	bk_assert_content "$(readlink "$V/$name/root")/runs" $'run\nrun\n'
	rmdir "$C/a1"
	bk_wait_until "$BK_DEADLINE" test ! -e "$V/$name"
	# The user's own mount at the VOLUME's path: no anonymous volume.
	mkdir "$C/a2"
	ct_track a2
	echo withvol:1 >"$C/a2/image"
	echo 'true' >"$C/a2/cmd"
	echo 'tmpfs /data' >"$C/a2/mounts"
	echo start >"$C/a2/ctl"
	bk_wait_until "$BK_DEADLINE" ct_state_is a2 exited
	bk_assert_content "$C/a2/mounts" $'tmpfs /data\n'
	[ "$(grep -c . "$V/index")" = 1 ]
}

@test "commit leaves what is in volumes, binds and tmpfs out of the image" {
	vol_start
	mkdir -p "$BK_TMP/host/b"
	run_ctr c1 'echo v >/v/f; echo b >/b/f; echo t >/t/f; echo own >/own' \
		"volume cv /v
bind $BK_TMP/host/b /b
tmpfs /t"
	img=$(bk_command "$C/c1/ctl" "$BK_IMG_ID_RE" commit)
	root=$(readlink "$BK_MNT/images/$img/root")
	[ -f "$root/own" ]
	[ ! -e "$root/v/f" ] && [ ! -e "$root/b/f" ] && [ ! -e "$root/t/f" ]
}

@test "mounts refused when written, each with its errno and reason, nothing changed: relative, '..', /proc, the store, the state directory, the tree, a missing source; after start EBUSY" {
	vol_start
	mk_ctr m1 'true' 'tmpfs /keep'
	mkdir -p "$BK_TMP/host/ok"
	local -A bad=(
		["bind rel /x"]="EINVAL:not an absolute path"
		["bind $BK_TMP/host/ok /a/../etc"]="EINVAL:'..'"
		["bind $BK_TMP/host/ok /proc/sys"]="EINVAL:/proc"
		["bind $BK_TMP/host/ok /"]="EINVAL:'/'"
		["bind $BK_STORE /x"]="EINVAL:bockerfs's own"
		["bind $BK_ROOT /x"]="EINVAL:bockerfs's own"
		["bind $BK_TMP /x"]="EINVAL:bockerfs's own"
		["bind $BK_MNT /x"]="EINVAL:bockerfs's own"
		["bind / /x"]="EINVAL:bockerfs's own"
		["bind $BK_TMP/host/missing /x"]="ENOENT:missing"
		["volume ../x /x"]="EINVAL:volume name"
		["tmpfs /x 0"]="EINVAL:tmpfs size"
		["bind $BK_TMP/host/ok /x"$'\n'"tmpfs /x"]="EINVAL:two mounts"
	)
	for v in "${!bad[@]}"; do
		run bk_write_errno "$C/m1/mounts" "$v"$'\n'
		[ "${lines[0]}" = "${bad[$v]%%:*}" ] || bk_fail "'$v': $output" || return
		[[ ${lines[1]} == *"${bad[$v]#*:}"* ]] || bk_fail "'$v': $output" || return
		bk_assert_content "$C/m1/mounts" $'tmpfs /keep\n' || return
	done
	# errors keeps each (err only the last).
	bk_check_error EINVAL /containers/m1/mounts 'write|flush' "" - "bockerfs's own" || return
	bk_check_error ENOENT /containers/m1/mounts 'write|flush' "" - "missing" || return
	[ ! -e "$V/x" ]
	# A sibling that only shares the state directory's name as a prefix is no part of it.
	mkdir -p "${BK_ROOT}x"
	run bk_write_errno "$C/m1/mounts" "bind ${BK_ROOT}x /x"$'\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	echo start >"$C/m1/ctl"
	bk_wait_until "$BK_DEADLINE" ct_state_is m1 exited
	run bk_write_errno "$C/m1/mounts" $'tmpfs /other\n'
	[ "${lines[0]}" = EBUSY ] || bk_fail "$output"
}

@test "hostile targets: the image's symlinks to /, relative ones out and a chain land inside its root; one into /proc is refused at start; the host is untouched" {
	vol_start
	rm -rf "$BK_TMP/img"
	cp -a "$BB" "$BK_TMP/img"
	mkdir -p "$BK_TMP/canary"
	echo keep >"$BK_TMP/canary/file"
	ln -s / "$BK_TMP/img/toroot"
	mkdir "$BK_TMP/img/inside" "$BK_TMP/img/inside2"
	ln -s ../../../../../../../../../inside "$BK_TMP/img/rel"
	ln -s ../../../../../../../../../inside2 "$BK_TMP/img/rel2"
	ln -s /toroot/rel2 "$BK_TMP/img/chain"
	ln -s ../../../../../../../../.."$BK_TMP/canary" "$BK_TMP/img/ghost"
	ln -s /proc "$BK_TMP/img/p"
	bk_import "$BK_TMP/img" hostile:1 >/dev/null
	mkdir -p "$BK_TMP/host/src"
	echo mounted >"$BK_TMP/host/src/marker"
	mkdir "$C/h1"
	ct_track h1
	echo hostile:1 >"$C/h1/image"
	echo 'cat /toroot/x/marker /rel/marker /chain/y/marker' >"$C/h1/cmd"
	printf 'bind %s /toroot/x\nbind %s /rel\nbind %s /chain/y\n' "$BK_TMP/host/src" "$BK_TMP/host/src" "$BK_TMP/host/src" >"$C/h1/mounts"
	echo start >"$C/h1/ctl"
	bk_wait_until "$BK_DEADLINE" ct_state_is h1 exited
	bk_assert_content "$C/h1/log" $'mounted\nmounted\nmounted\n'
	# The targets were made in the container's root, never on the host.
	[ ! -e /x ] && [ "$(ls -A "$BK_TMP/canary")" = file ]
	bk_assert_content "$BK_TMP/canary/file" $'keep\n'
	root=$(readlink "$C/h1/root")
	[ -d "$root/x" ] && [ -d "$root/inside2/y" ]
	# Through a symlink to a path the image lacks (but the host has): refused, nothing made.
	mkdir "$C/h3"
	ct_track h3
	echo hostile:1 >"$C/h3/image"
	echo 'true' >"$C/h3/cmd"
	echo "bind $BK_TMP/host/src /ghost/made" >"$C/h3/mounts"
	run ct_ctl h3 start
	[ "${lines[0]}" = ENOENT ] || bk_fail "$output"
	[ "$(ls -A "$BK_TMP/canary")" = file ]
	# Into /proc through a symlink: refused at start, nothing runs; onto a masked directory
	# there too (/proc/acpi: an empty tmpfs when the user's mounts are made).
	for dst in /p/sys /p/acpi /p/scsi; do
		[ -d "${dst/\/p//proc}" ] || continue
		name=h2$RANDOM
		mkdir "$C/$name"
		ct_track "$name"
		echo hostile:1 >"$C/$name/image"
		echo 'true' >"$C/$name/cmd"
		echo "tmpfs $dst" >"$C/$name/mounts"
		run ct_ctl "$name" start
		[ "${lines[0]}" = EINVAL ] || bk_fail "$dst: $output"
		[[ ${lines[1]} == *"/proc or /sys"* ]] || bk_fail "$dst: $output"
		bk_assert_content "$C/$name/state" $'created\n'
	done
}

@test "a bind source swapped for a symlink after it was written: the start fails with the reason, nothing is mounted from where it points" {
	vol_start
	mkdir -p "$BK_TMP/host/src" "$BK_TMP/canary"
	echo secret >"$BK_TMP/canary/secret"
	mk_ctr s1 'cat /data/secret; ls /data' "bind $BK_TMP/host/src /data"
	mv "$BK_TMP/host/src" "$BK_TMP/host/src.old"
	ln -s "$BK_TMP/canary" "$BK_TMP/host/src"
	run ct_ctl s1 start
	[ "${lines[0]}" = ELOOP ] || bk_fail "$output"
	[[ ${lines[1]} == *"symlink"* ]] || bk_fail "$output"
	[ "$(cat "$C/s1/state")" != running ]
	! grep -qx secret "$C/s1/log"
	# Replaced by another directory: refused too (not the inode it was).
	# Replaced by another directory (no symlink): that is the source named, and mounted.
	rm "$BK_TMP/host/src"
	mkdir "$BK_TMP/host/src"
	run ct_ctl s1 start
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_wait_until "$BK_DEADLINE" ct_state_is s1 exited
	! grep -qx secret "$C/s1/log"
}

#!/usr/bin/env bats
# The foundation slice, end to end: version and errors, images/ (import, index,
# the per-image files, rmdir), restart after SIGTERM and SIGKILL, inotify, the
# errno and text of each failure, the store lock, clean exit, and a --root
# that is already btrfs.  Each test starts its own daemon (tests/lib/fixture.bash).

bats_require_minimum_version 1.5.0
load '../lib/fixture'

: "${BATS_TEST_TIMEOUT:=300}"

teardown() {
	bk_teardown
}

PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# A busybox rootfs in the test's directory; sets BB.
make_busybox() {
	BB=$BK_TMP/busybox
	bk_busybox_rootfs "$BB"
}

# What an import must leave in the store for image $1.
check_store_image() {
	[ -f "$BK_STORE/images/$1/image.json" ] || bk_fail "no $BK_STORE/images/$1/image.json" || return
	btrfs subvolume show "$BK_STORE/images/$1/rootfs" >/dev/null ||
		bk_fail "$BK_STORE/images/$1/rootfs is not a subvolume" || return
	[ "$(btrfs property get -ts "$BK_STORE/images/$1/rootfs" ro)" = ro=true ] ||
		bk_fail "$BK_STORE/images/$1/rootfs is not read-only"
}

@test "version, errors, images/index header, containers/ and net/ with no entries" {
	bk_start
	run cat "$BK_MNT/version"
	[ "$status" -eq 0 ]
	[[ $output =~ ^bockerfs\ [0-9.]+\ api\ 1$ ]]
	bk_assert_content "$BK_MNT/images/index" $'IMAGE_ID\t\tSOURCE\n'
	cat "$BK_MNT/errors" >/dev/null
	cat "$BK_MNT/images/err" >/dev/null
	[ -f "$BK_MNT/images/import" ]
	# containers/ and net/ exist; no container exists yet (later slices add files).
	[ -d "$BK_MNT/containers" ]
	[ -z "$(find "$BK_MNT/containers" -mindepth 1 -type d)" ]
	if [ -e "$BK_MNT/containers/index" ]; then
		[ "$(wc -l <"$BK_MNT/containers/index")" -le 1 ]
	fi
	[ -d "$BK_MNT/net" ]
	[ -z "$(find "$BK_MNT/net" -mindepth 1 -type d)" ]
}

@test "import a busybox rootfs: id, index, source, ref, state, config, size, root, err" {
	bk_start
	make_busybox
	id=$(bk_import "$BB" busybox)
	[[ $id =~ ^img_[0-9a-f]{12}$ ]]
	[ -d "$BK_MNT/images/$id" ]
	bk_assert_content "$BK_MNT/images/index" $'IMAGE_ID\t\tSOURCE\n'"$id"$'\t\t'"$BB"$'\n'
	bk_assert_content "$BK_MNT/images/$id/source" "$BB"$'\n'
	bk_assert_content "$BK_MNT/images/$id/ref" $'busybox:latest\n'
	bk_assert_content "$BK_MNT/images/$id/state" $'ready\n'
	bk_assert_content "$BK_MNT/images/$id/err" ""
	bk_assert_content "$BK_MNT/images/$id/size" "$("$BK_PY" "$BK_LIB/bkio.py" regsize "$BB")"$'\n'
	run "$BK_PY" - "$BK_MNT/images/$id/config" "$PATH_ENV" <<-'EOF'
		import json, os, sys
		c = json.load(open(sys.argv[1]))
		arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
		assert c.get("architecture") == arch, "architecture %r" % c.get("architecture")
		assert c.get("os") == "linux", "os %r" % c.get("os")
		assert c["config"]["Env"] == [sys.argv[2]], "Env %r" % c["config"].get("Env")
		assert c["config"]["Cmd"] == ["/bin/sh"], "Cmd %r" % c["config"].get("Cmd")
		assert c["rootfs"]["type"] == "layers", "rootfs %r" % c.get("rootfs")
		assert isinstance(c["rootfs"].get("diff_ids"), list), "rootfs %r" % c.get("rootfs")
	EOF
	[ "$status" -eq 0 ] || bk_fail "config: $output"

	root=$BK_MNT/images/$id/root
	[ -L "$root" ]
	[[ $(readlink "$root") == /* ]]
	cmp "$BB/bin/busybox" "$root/bin/busybox"
	[ "$(readlink "$root/bin/sh")" = busybox ]
	cmp "$BB/etc/passwd" "$root/etc/passwd"
	check_store_image "$id"
	[ "$root" -ef "$BK_STORE/images/$id/rootfs" ]
	# The image's filesystem is a read-only snapshot.
	run bk_errno create "$root/newfile"
	[ "$output" = EROFS ]
	run bk_write_errno "$root/etc/passwd" x
	[ "${lines[0]}" = EROFS ]
	cmp "$BB/etc/passwd" "$root/etc/passwd"
}

@test "echo 'DIR REF' > images/import works" {
	bk_start
	make_busybox
	echo "$BB busybox" >"$BK_MNT/images/import"
	run bk_index_ids
	[ "${#lines[@]}" -eq 1 ]
	bk_assert_content "$BK_MNT/images/${lines[0]}/ref" $'busybox:latest\n'
	bk_assert_content "$BK_MNT/images/${lines[0]}/state" $'ready\n'
}

@test "import without REF of a tree without bin/sh: empty ref, no Cmd" {
	bk_start
	src=$BK_TMP/plain
	mkdir -p "$src/data"
	printf 'hello\n' >"$src/data/hello"
	head -c 12345 /dev/urandom >"$src/blob"
	id=$(bk_import "$src")
	bk_assert_content "$BK_MNT/images/$id/ref" ""
	bk_assert_content "$BK_MNT/images/$id/source" "$src"$'\n'
	bk_assert_content "$BK_MNT/images/$id/size" $'12351\n'
	run "$BK_PY" - "$BK_MNT/images/$id/config" "$PATH_ENV" <<-'EOF'
		import json, sys
		c = json.load(open(sys.argv[1]))
		assert c["config"]["Env"] == [sys.argv[2]], "Env %r" % c["config"].get("Env")
		assert not c["config"].get("Cmd"), "Cmd %r" % c["config"].get("Cmd")
	EOF
	[ "$status" -eq 0 ] || bk_fail "config: $output"
	cmp "$src/blob" "$BK_MNT/images/$id/root/blob"
}

@test "import keeps content, modes, owners, symlinks, hardlinks, devices, fifos, xattrs, mtimes" {
	bk_start
	src=$BK_TMP/meta
	mkdir -p "$src/d/sub" "$src/empty-dir" "$src/sticky" "$src/owned-dir"
	printf 'hello\n' >"$src/d/file"
	head -c 300000 /dev/urandom >"$src/d/random"
	: >"$src/empty"
	printf '#!/bin/sh\n' >"$src/suid"
	chmod 4755 "$src/suid"
	printf 'x' >"$src/sgid"
	chmod 2710 "$src/sgid"
	printf 'x' >"$src/no-perms"
	chmod 0000 "$src/no-perms"
	chmod 1777 "$src/sticky"
	printf 'x' >"$src/owned"
	chown 1234:5678 "$src/owned"
	chown 4321:8765 "$src/owned-dir"
	chmod 0750 "$src/owned-dir"
	ln -s /etc/passwd "$src/abs-link"
	ln -s ../file "$src/d/sub/rel-link"
	ln -s nowhere "$src/dangling"
	chown -h 1111:2222 "$src/dangling"
	ln "$src/d/file" "$src/hardlink"
	ln "$src/d/file" "$src/d/sub/hardlink2"
	mknod "$src/chr" c 1 3
	mknod "$src/blk" b 7 123
	mkfifo -m 0640 "$src/fifo"
	"$BK_PY" -c 'import os, sys; os.setxattr(sys.argv[1], "user.bk", b"value\0bin"); os.setxattr(sys.argv[2], "user.dir", b"d")' \
		"$src/d/random" "$src/d/sub"
	# Depth first, so each directory's time is set after its entries change it.
	find "$src" -depth -exec touch -h -d '2001-02-03 04:05:06.123456789 UTC' {} +
	touch -d '1999-12-31 23:59:59.5 UTC' "$src/suid"
	touch -h -d '2010-01-01 00:00:01 UTC' "$src/dangling"
	id=$(bk_import "$src")
	run "$BK_PY" "$BK_LIB/bkio.py" treecmp "$src" "$BK_MNT/images/$id/root/"
	[ "$status" -eq 0 ] || bk_fail "image differs from its source:
$output"
	[ "$(readlink "$BK_MNT/images/$id/root/abs-link")" = /etc/passwd ]
	[ "$(stat -c %i "$BK_MNT/images/$id/root/hardlink")" = "$(stat -c %i "$BK_MNT/images/$id/root/d/file")" ]
}

@test "refs are normalised, and a name moves to the newest image" {
	bk_start
	make_busybox
	a=$(bk_import "$BB" busybox)
	bk_assert_content "$BK_MNT/images/$a/ref" $'busybox:latest\n'
	b=$(bk_import "$BB" busybox:latest)
	[ "$a" != "$b" ]
	bk_assert_content "$BK_MNT/images/$b/ref" $'busybox:latest\n'
	bk_assert_content "$BK_MNT/images/$a/ref" ""
	c=$(bk_import "$BB" docker.io/library/alpine)
	bk_assert_content "$BK_MNT/images/$c/ref" $'alpine:latest\n'
	d=$(bk_import "$BB" busybox:1.36)
	bk_assert_content "$BK_MNT/images/$d/ref" $'busybox:1.36\n'
	bk_assert_content "$BK_MNT/images/$b/ref" $'busybox:latest\n'
	e=$(bk_import "$BB" localhost:5000/x/y:t)
	bk_assert_content "$BK_MNT/images/$e/ref" $'localhost:5000/x/y:t\n'
}

@test "images/index lists images oldest first" {
	bk_start
	make_busybox
	src2=$BK_TMP/two
	mkdir -p "$src2"
	echo two >"$src2/two"
	a=$(bk_import "$BB")
	b=$(bk_import "$src2")
	c=$(bk_import "$BB")
	bk_assert_content "$BK_MNT/images/index" \
		$'IMAGE_ID\t\tSOURCE\n'"$a"$'\t\t'"$BB"$'\n'"$b"$'\t\t'"$src2"$'\n'"$c"$'\t\t'"$BB"$'\n'
	[ "$(bk_tree_images)" = "$(printf '%s\n' "$a" "$b" "$c" | sort)" ]
}

@test "rmdir removes an image from the index, the tree and the store; unknown id: ENOENT" {
	bk_start
	make_busybox
	keep=$(bk_import "$BB")
	id=$(bk_import "$BB" busybox)
	rmdir "$BK_MNT/images/$id"
	[ "$(bk_index_ids)" = "$keep" ]
	[ "$(bk_tree_images)" = "$keep" ]
	[ "$(bk_store_images)" = "$keep" ]
	run bk_errno stat "$BK_MNT/images/$id"
	[ "$output" = ENOENT ]
	! bk_subvolumes | grep -q "$id" || bk_fail "subvolume of $id left"
	run bk_errno rmdir "$BK_MNT/images/img_000000000000"
	[ "$output" = ENOENT ]
	run bk_errno rmdir "$BK_MNT/images/$id"
	[ "$output" = ENOENT ]
	[ "$(bk_index_ids)" = "$keep" ]
}

@test "images and their files survive a restart" {
	bk_start
	make_busybox
	id=$(bk_import "$BB" busybox)
	index=$(cat "$BK_MNT/images/index")
	size=$(cat "$BK_MNT/images/$id/size")
	bk_daemon_term TERM
	bk_daemon_start
	[ "$(cat "$BK_MNT/images/index")" = "$index" ]
	bk_assert_content "$BK_MNT/images/$id/source" "$BB"$'\n'
	bk_assert_content "$BK_MNT/images/$id/ref" $'busybox:latest\n'
	bk_assert_content "$BK_MNT/images/$id/state" $'ready\n'
	[ "$(cat "$BK_MNT/images/$id/size")" = "$size" ]
	cmp "$BB/bin/busybox" "$BK_MNT/images/$id/root/bin/busybox"
}

@test "after SIGKILL the restarted daemon detaches the dead mount and reuses the store" {
	bk_start
	make_busybox
	id=$(bk_import "$BB" busybox)
	bk_daemon_kill9
	run bk_errno stat "$BK_MNT/version"
	[ "$output" = ENOTCONN ]
	bk_mounted "$BK_ROOT/store"
	bk_daemon_start
	[ "$(bk_index_ids)" = "$id" ]
	cmp "$BB/bin/busybox" "$BK_MNT/images/$id/root/bin/busybox"
	# One FUSE mount on MNT, one store mount, one loop device.
	[ "$(bk_mounts_under "$BK_MNT" | wc -l)" -eq 1 ]
	[ "$(bk_mounts_under "$BK_ROOT/store" | wc -l)" -eq 1 ]
	[ "$(losetup -j "$BK_ROOT/storage.img" | wc -l)" -eq 1 ]
}

@test "inotify: IN_CREATE,ISDIR on images/ when an image is imported" {
	bk_start
	make_busybox
	bk_inotify_start "$BK_TMP/inw" create "$BK_MNT/images"
	id=$(bk_import "$BB")
	bk_inotify_wait "$BK_TMP/inw"
	grep -E " CREATE,ISDIR $id\$" "$BK_TMP/inw" || bk_fail "events: $(cat "$BK_TMP/inw")"
}

@test "inotify: IN_MODIFY on images/index when an image is imported or removed" {
	bk_start
	make_busybox
	bk_inotify_start "$BK_TMP/inw1" modify "$BK_MNT/images/index"
	id=$(bk_import "$BB")
	bk_inotify_wait "$BK_TMP/inw1"
	grep -q MODIFY "$BK_TMP/inw1"
	bk_inotify_start "$BK_TMP/inw2" modify "$BK_MNT/images/index"
	rmdir "$BK_MNT/images/$id"
	bk_inotify_wait "$BK_TMP/inw2"
	grep -q MODIFY "$BK_TMP/inw2"
}

@test "import of a missing path: ENOENT, with the reason in err, errors and the read-back" {
	bk_start
	missing=$BK_TMP/does-not-exist
	run bk_write_errno "$BK_MNT/images/import" "$missing"$'\n'
	[ "${lines[0]}" = ENOENT ]
	bk_check_error ENOENT /images/import write images/err "${lines[1]}" \
		"$missing" "No such file or directory"
	[ -z "$(bk_index_ids)" ]
	[ -z "$(ls -A "$BK_STORE/images")" ]
}

@test "bash: echo of a missing path to images/import says 'No such file or directory'" {
	bk_start
	run env LC_ALL=C bash -c 'echo "$1" >"$2"' _ "$BK_TMP/nope" "$BK_MNT/images/import"
	[ "$status" -ne 0 ]
	[[ $output == *"write error: No such file or directory"* ]]
}

@test "import of a regular file: ENOTDIR" {
	bk_start
	file=$BK_TMP/a-file
	echo data >"$file"
	run bk_write_errno "$BK_MNT/images/import" "$file"$'\n'
	[ "${lines[0]}" = ENOTDIR ]
	bk_check_error ENOTDIR /images/import write images/err "${lines[1]}" "$file" "Not a directory"
	[ -z "$(bk_index_ids)" ]
}

@test "malformed import lines: EINVAL, nothing imported" {
	bk_start
	make_busybox
	local -a cases=("a b c d" "rel/dir" "" "$BB busybox:bad:tag")
	local -a marks=("" "rel/dir" "" "busybox:bad:tag")
	bad=""
	for i in "${!cases[@]}"; do
		run bk_write_errno "$BK_MNT/images/import" "${cases[$i]}"$'\n'
		if [ "${lines[0]}" != EINVAL ]; then
			bad+=" '${cases[$i]}':${lines[0]}"
			continue
		fi
		bk_check_error EINVAL /images/import write images/err "${lines[1]}" ${marks[$i]:+"${marks[$i]}"} ||
			bad+=" '${cases[$i]}':text"
	done
	[ -z "$bad" ] || bk_fail "wrong result for:$bad"
	[ -z "$(bk_index_ids)" ]
	[ -z "$(ls -A "$BK_STORE/images")" ]
	bk_tmp_empty
}

@test "a write over 64 KiB to a control file: EFBIG" {
	bk_start
	run bk_write_errno "$BK_MNT/images/import" - < <(printf /; head -c 70000 /dev/zero | tr '\0' a; echo)
	[ "${lines[0]}" = EFBIG ]
	bk_check_error EFBIG /images/import write images/err "${lines[1]}"
	[ -z "$(bk_index_ids)" ]
	# The daemon still answers, and a normal import works on a new open.
	make_busybox
	bk_import "$BB"
}

@test "writes to read-only files: EACCES, and nothing changes" {
	bk_start
	make_busybox
	id=$(bk_import "$BB")
	version=$(cat "$BK_MNT/version")
	for f in version images/index "images/$id/state" errors; do
		run bk_write_errno "$BK_MNT/$f" $'x\n'
		[ "${lines[0]}" = EACCES ] || bk_fail "$f: ${lines[0]}"
	done
	[ "$(cat "$BK_MNT/version")" = "$version" ]
	bk_assert_content "$BK_MNT/images/$id/state" $'ready\n'
	[ "$(bk_index_ids)" = "$id" ]
}

@test "a refused write to a read-only file is recorded in errors" {
	bk_start
	for f in version images/index errors; do
		run bk_write_errno "$BK_MNT/$f" $'x\n'
		[ "${lines[0]}" = EACCES ] || bk_fail "$f: ${lines[0]}"
		bk_check_error EACCES "/$f" 'open|write' "" -
	done
}

@test "unknown names: ENOENT" {
	bk_start
	run bk_errno open "$BK_MNT/nope"
	[ "$output" = ENOENT ]
	run bk_errno read "$BK_MNT/images/img_000000000000/state"
	[ "$output" = ENOENT ]
	run bk_errno stat "$BK_MNT/images/nope"
	[ "$output" = ENOENT ]
	run env LC_ALL=C cat "$BK_MNT/nope"
	[ "$status" -ne 0 ]
	[[ $output == *"No such file or directory"* ]]
}

@test "mkdir images/foo: EACCES or EPERM, and nothing is created" {
	bk_start
	before=$(ls -A "$BK_MNT/images")
	run bk_errno mkdir "$BK_MNT/images/foo"
	[[ $output == EACCES || $output == EPERM ]]
	[ "$(ls -A "$BK_MNT/images")" = "$before" ]
	run bk_errno stat "$BK_MNT/images/foo"
	[ "$output" = ENOENT ]
	[ ! -e "$BK_STORE/images/foo" ]
	[ -z "$(bk_index_ids)" ]
}

@test "a refused mkdir in images/ is recorded in errors and images/err" {
	bk_start
	run bk_errno mkdir "$BK_MNT/images/foo"
	[[ $output == EACCES || $output == EPERM ]]
	bk_check_error "$output" /images/foo mkdir images/err -
}

@test "a daemon killed with SIGKILL during an import leaves no half image after restart" {
	BK_STORAGE_SIZE=4G bk_start
	make_busybox
	first=$(bk_import "$BB" busybox)
	big=$BK_TMP/big
	bk_big_tree "$big" 300 2
	before_subv=$(bk_subvolumes)
	bk_bg "$BK_TMP/import.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/import" "$big"$'\n'
	writer=$BK_BG_PID
	end=$((SECONDS + BK_DEADLINE))
	while [ -z "$(ls -A "$BK_STORE/tmp")" ] && bk_alive "$writer" && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.01
	done
	[ -n "$(ls -A "$BK_STORE/tmp")" ] || ! bk_alive "$writer" ||
		bk_fail "nothing appeared in $BK_STORE/tmp during the import"
	bk_alive "$writer" || skip "the import finished before it could be killed: $(cat "$BK_TMP/import.out")"
	bk_daemon_kill9
	bk_wait_gone "$writer" || bk_fail "the writer still hangs after the daemon died"
	if [ "$(head -n1 "$BK_TMP/import.out")" = OK ]; then
		skip "the import completed just before the kill"
	fi

	bk_daemon_start
	[ "$(bk_index_ids)" = "$first" ]
	[ "$(bk_tree_images)" = "$first" ]
	[ "$(bk_store_images)" = "$first" ]
	bk_assert_content "$BK_MNT/images/$first/state" $'ready\n'
	bk_tmp_empty
	[ "$(bk_subvolumes)" = "$before_subv" ] ||
		bk_fail "subvolumes before: $before_subv; after restart: $(bk_subvolumes)"

	id=$(bk_import "$big")
	bk_assert_content "$BK_MNT/images/$id/state" $'ready\n'
	bk_assert_content "$BK_MNT/images/$id/size" "$((300 * 2 * 1024 * 1024))"$'\n'
	cmp "$big/f0" "$BK_MNT/images/$id/root/f0"
	cmp "$big/f299" "$BK_MNT/images/$id/root/f299"
}

# check_nothing_left FIRST BEFORE_SUBVOLUMES: after a failed import, the store
# holds only image FIRST, and tmp/ empties (cleanup may finish after the reply).
check_nothing_left() {
	bk_wait_until "$BK_DEADLINE" bk_tmp_is_empty ||
		bk_fail "left in tmp/: $(ls -A "$BK_STORE/tmp")" || return
	[ "$(bk_index_ids)" = "$1" ] || bk_fail "index: $(bk_index_ids)" || return
	[ "$(bk_tree_images)" = "$1" ] || bk_fail "images/: $(bk_tree_images)" || return
	[ "$(bk_store_images)" = "$1" ] || bk_fail "store images/: $(bk_store_images)" || return
	local want=$2
	bk_wait_until "$BK_DEADLINE" eval 'test "$(bk_subvolumes)" = "$want"' ||
		bk_fail "subvolumes before: $2; after: $(bk_subvolumes)"
}

@test "an import interrupted by SIGINT fails with EINTR and leaves nothing" {
	BK_STORAGE_SIZE=4G bk_start
	make_busybox
	first=$(bk_import "$BB")
	big=$BK_TMP/big
	bk_big_tree "$big" 300 2
	before_subv=$(bk_subvolumes)
	# SIGINT reaches the writing thread 0.3 s into its write(2).
	run "$BK_PY" "$BK_LIB/bkio.py" intr-write "$BK_MNT/images/import" "$big"$'\n' 0.3
	case "$output" in
	EINTR) ;;
	*"sigint=0") skip "the import finished within 0.3 s: $output" ;;
	*) bk_fail "the import was not interrupted: $output" ;;
	esac
	check_nothing_left "$first" "$before_subv"
	# The daemon still works, and the same import succeeds afterwards.
	id=$(bk_import "$big")
	bk_assert_content "$BK_MNT/images/$id/state" $'ready\n'
}

@test "Ctrl-C of a shell writing to images/import leaves nothing" {
	BK_STORAGE_SIZE=4G bk_start
	make_busybox
	first=$(bk_import "$BB")
	big=$BK_TMP/big
	bk_big_tree "$big" 300 2
	before_subv=$(bk_subvolumes)
	# SIGINT at its default disposition, as in an interactive shell's child.
	(
		trap - INT QUIT
		exec bash -c 'echo "$1" >"$2"' _ "$big" "$BK_MNT/images/import"
	) </dev/null >"$BK_TMP/writer.out" 2>&1 3>&- &
	writer=$!
	bk_track helper "$writer"
	bk_wait_until "$BK_DEADLINE" eval 'test -n "$(ls -A "$BK_STORE/tmp")"' || ! bk_alive "$writer" ||
		bk_fail "nothing appeared in $BK_STORE/tmp during the import"
	bk_alive "$writer" || skip "the import finished before SIGINT: $(cat "$BK_TMP/writer.out")"
	kill -INT "$writer"
	bk_wait_gone "$writer" || bk_fail "the writer did not stop on SIGINT"
	st=0
	wait "$writer" || st=$?
	[ "$st" -ne 0 ] || bk_fail "the writer succeeded: $(cat "$BK_TMP/writer.out")"
	check_nothing_left "$first" "$before_subv"
}

@test "the mount is root-only" {
	bk_start
	chmod 0755 "$BK_TMP"
	# Control: the unprivileged user can reach the directory holding the mount.
	run setpriv --reuid=65534 --regid=65534 --clear-groups ls "$BK_TMP"
	[ "$status" -eq 0 ]
	[[ $output == *mnt* ]]
	run env LC_ALL=C setpriv --reuid=65534 --regid=65534 --clear-groups ls "$BK_MNT"
	[ "$status" -ne 0 ]
	[[ $output == *"Permission denied"* ]]
	run env LC_ALL=C setpriv --reuid=65534 --regid=65534 --clear-groups cat "$BK_MNT/version"
	[ "$status" -ne 0 ]
	[[ $output == *"Permission denied"* ]]
	run ls "$BK_MNT"
	[ "$status" -eq 0 ]
	[[ $output == *images* ]]
	mode=$(stat -c %a "$BK_MNT")
	[ $((8#$mode & 8#077)) -eq 0 ] || bk_fail "mount root mode $mode"
}

@test "a second daemon on the same --root exits with 'store locked'; the first keeps serving" {
	bk_start
	[ "$(cat "$BK_ROOT/bockerfs.pid")" = "$BK_PID" ]
	run flock -n "$BK_ROOT/lock" true
	[ "$status" -ne 0 ]
	mkdir "$BK_TMP/mnt2"
	run --separate-stderr timeout 20 "$BOCKERFS_BIN" -f --root "$BK_ROOT" --storage-size 1G "$BK_TMP/mnt2"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || bk_fail "second daemon: status $status"
	[[ $stderr == *"store locked"* ]] || bk_fail "second daemon's stderr: $stderr"
	! bk_mounted "$BK_TMP/mnt2" || bk_fail "the second daemon mounted $BK_TMP/mnt2"
	bk_alive "$BK_PID"
	[[ $(cat "$BK_MNT/version") =~ ^bockerfs\  ]]
	[ "$(losetup -j "$BK_ROOT/storage.img" | wc -l)" -eq 1 ]
	make_busybox
	bk_import "$BB"
}

# check_clean_exit HOW: stop the daemon with HOW (TERM, INT, fusermount, umount)
# and check that it unmounted MNT and the store and let the loop device go.
check_clean_exit() {
	bk_start
	make_busybox
	bk_import "$BB" >/dev/null
	[ -n "$(losetup -j "$BK_ROOT/storage.img")" ]
	bk_mounted "$BK_ROOT/store"
	pid=$BK_PID
	case $1 in
	TERM | INT) bk_daemon_term "$1" ;;
	fusermount)
		fusermount3 -u "$BK_MNT"
		bk_daemon_reap "$pid"
		;;
	umount)
		umount "$BK_MNT"
		bk_daemon_reap "$pid"
		;;
	esac
	! bk_mounted "$BK_MNT" || bk_fail "$BK_MNT still mounted"
	! bk_mounted "$BK_ROOT/store" || bk_fail "$BK_ROOT/store still mounted"
	bk_wait_until 5 bk_no_loop "$BK_ROOT/storage.img" ||
		bk_fail "loop device left: $(losetup -j "$BK_ROOT/storage.img")"
	[ "$BK_DAEMON_STATUS" -eq 0 ] || bk_fail "daemon exit status $BK_DAEMON_STATUS"
}

@test "clean exit on SIGTERM: MNT, the store and the loop device are released" {
	check_clean_exit TERM
}

@test "clean exit on SIGINT" {
	check_clean_exit INT
}

@test "clean exit on fusermount3 -u MNT" {
	check_clean_exit fusermount
}

@test "clean exit on umount MNT" {
	check_clean_exit umount
}

@test "without -f the daemon detaches, writes its pid file and logs to DIR/bockerfs.log" {
	bk_tmp_init
	BK_STORE=$BK_ROOT/store
	st=0
	timeout 20 "$BOCKERFS_BIN" --root "$BK_ROOT" --storage-size 1G "$BK_MNT" \
		</dev/null >"$BK_TMP/launch.out" 2>&1 3>&- || st=$?
	[ "$st" -eq 0 ] || bk_fail "launcher status $st: $(cat "$BK_TMP/launch.out")"
	# When the launcher returns, the pid file already names the daemon that serves
	# (it once named the launcher for a moment: a script reading it got a dead pid).
	[ -s "$BK_ROOT/bockerfs.pid" ] || bk_fail "no $BK_ROOT/bockerfs.pid when the launcher returned"
	BK_PID=$(cat "$BK_ROOT/bockerfs.pid")
	bk_track daemon "$BK_PID"
	bk_alive "$BK_PID" || bk_fail "the pid file names $BK_PID, which is not running"
	[ "$(readlink "/proc/$BK_PID/exe")" = "$(readlink -f "$BOCKERFS_BIN")" ] ||
		bk_fail "pid $BK_PID is $(readlink "/proc/$BK_PID/exe")"
	bk_wait_mount "$BK_PID"
	[ -f "$BK_ROOT/bockerfs.log" ]
	run flock -n "$BK_ROOT/lock" true
	[ "$status" -ne 0 ]
	make_busybox
	id=$(bk_import "$BB")
	[ -d "$BK_MNT/images/$id" ]
	kill -TERM "$BK_PID"
	bk_wait_gone "$BK_PID" || bk_fail "daemon $BK_PID still running after SIGTERM"
	BK_PID=""
	! bk_mounted "$BK_MNT" || bk_fail "$BK_MNT still mounted"
	! bk_mounted "$BK_ROOT/store" || bk_fail "$BK_ROOT/store still mounted"
	bk_wait_until 5 bk_no_loop "$BK_ROOT/storage.img"
}

@test "a --root already on btrfs is the store itself" {
	bk_tmp_init
	img=$BK_TMP/btrfs.img
	truncate -s 1G "$img"
	mkfs.btrfs -q "$img"
	dev=$(losetup --find --show "$img")
	BK_ROOT=$BK_TMP/broot
	mkdir -p "$BK_ROOT"
	mount "$dev" "$BK_ROOT"
	# What a crash can leave in tmp/: a directory, a subvolume, a read-only snapshot.
	mkdir -p "$BK_ROOT/tmp/img_0123456789ab"
	echo junk >"$BK_ROOT/tmp/img_0123456789ab/file"
	btrfs -q subvolume create "$BK_ROOT/tmp/img_0123456789ab/rootfs"
	btrfs -q subvolume snapshot -r "$BK_ROOT/tmp/img_0123456789ab/rootfs" "$BK_ROOT/tmp/ro"

	bk_daemon_start
	[ "$BK_STORE" = "$BK_ROOT" ]
	[ ! -e "$BK_ROOT/storage.img" ]
	[ ! -e "$BK_ROOT/store" ]
	[ -d "$BK_ROOT/images" ]
	[ -d "$BK_ROOT/containers" ]
	[ -d "$BK_ROOT/tmp" ]
	[ -z "$(ls -A "$BK_ROOT/tmp")" ] || bk_fail "tmp/ not emptied: $(ls -A "$BK_ROOT/tmp")"
	[ -z "$(bk_subvolumes)" ] || bk_fail "subvolumes left: $(bk_subvolumes)"
	[ "$(losetup -a | grep -c "$BK_TMP")" -eq 1 ]

	make_busybox
	id=$(bk_import "$BB" busybox)
	check_store_image "$id"
	[ "$BK_MNT/images/$id/root" -ef "$BK_ROOT/images/$id/rootfs" ]
	cmp "$BB/bin/busybox" "$BK_MNT/images/$id/root/bin/busybox"

	bk_daemon_term TERM
	! bk_mounted "$BK_MNT" || bk_fail "$BK_MNT still mounted"
	bk_mounted "$BK_ROOT" || bk_fail "the daemon unmounted the btrfs it was given"
	bk_daemon_start
	[ "$(bk_index_ids)" = "$id" ]
	cmp "$BB/bin/busybox" "$BK_MNT/images/$id/root/bin/busybox"
}

#!/usr/bin/env bats
# Hostile layers through a real pull: images crafted by
# tests/lib/registry/hostile.py (Python tarfile, gzip, hand-made deflate and
# zstd streams) are pushed to the test registry and pulled through
# images/pull.  Each layer aims at two things outside the store: a canary
# directory in the test's own temporary directory (BK_TMP/canary/keep), and
# GHOST, a path under "/" that does not exist (/bkcanary-<random>, and
# /etc/bkcanary-<random>); they are reached by absolute names, by enough
# ".." to climb to "/" from anywhere in the store, and by symlinks.  After
# each pull the canary is unchanged and the ghosts absent.
#
# Two outcomes, as Docker does (docs/security.md, "Layers"):
#   refused    EBADMSG with the reason in images/err, errors and the
#              read-back; no image listed, nothing in tmp/, no orphan
#              subvolume; a later good pull works.  For names with "..", a
#              path through a symlink whose target is missing inside the
#              image, a hardlink whose target is not inside, invalid
#              whiteouts, and the caps (unpacked/compressed ratio, entries,
#              paths named, entry size; engine/store/store.h).
#   contained  the pull succeeds and what the entry names lands inside the
#              image: absolute names, symlinks resolved as in a chroot,
#              whiteouts of absolute or symlinked paths.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/registry'
load '../lib/layer_canary'
load '../lib/containers'

: "${BATS_TEST_TIMEOUT:=600}"

# engine/store/store.h
ENTRIES_MAX=1048576

setup_file() {
	bk_registry_setup
}

teardown_file() {
	bk_registry_teardown
}

setup() {
	layer_ghost_pick
}

teardown() {
	ct_cleanup
	bk_teardown
	layer_ghost_remove
}

# start: a daemon (BK_STORAGE_SIZE as the test sets it), and the canary directory.
start() {
	bk_start --auth-config "$BK_REG_DIR/auth.json"
	layer_canary_make
}

# push CASE [ARG]: push hostile.py's CASE as test/h-CASE:latest.
push() {
	"$BK_REG_PY" "$BK_REG_LIB/hostile.py" "$1" "$BK_REG" "test/h-$1" latest "$CANARY" "$GHOST" \
		"${@:2}" >/dev/null
}

# bk_nothing_partial, once the daemon is done with tmp/ (after a pull it may
# be making a spare snapshot of the new image there for a moment).
nothing_partial() {
	bk_wait_until "$BK_DEADLINE" bk_tmp_is_empty || true
	bk_nothing_partial
}

# refused CASE ERRNO SUBSTR...: pushed and pulled (CASE's ARG in $ARG), the
# pull fails with ERRNO and every SUBSTR in its three error places, no image
# appears, nothing partial stays, the canaries are intact.
refused() {
	local case=$1 e=$2 images index
	shift 2
	push "$case" ${ARG:+"$ARG"} || bk_fail "push $case" || return
	images=$(bk_tree_images)
	index=$(bk_index_ids)
	run bk_write_errno "$BK_MNT/images/pull" "$BK_REG/test/h-$case"$'\n'
	[ "${lines[0]}" = "$e" ] || bk_fail "$case: ${lines[0]}, want $e: ${lines[1]}" || return
	bk_check_error "$e" /images/pull 'pull|write' images/err "${lines[1]}" "$@" ||
		bk_fail "$case: the error lacks '$*'" || return
	[ "$(bk_tree_images)" = "$images" ] || bk_fail "$case: images now $(bk_tree_images)" || return
	[ "$(bk_store_images)" = "$images" ] || bk_fail "$case: store has $(bk_store_images)" || return
	[ "$(bk_index_ids)" = "$index" ] || bk_fail "$case: index changed" || return
	nothing_partial || return
	layer_canaries_intact
}

# contained CASE: the pull succeeds; prints the image id.
contained() {
	local id
	push "$1" || bk_fail "push $1" || return
	id=$(bk_pull "$BK_REG/test/h-$1") || return
	[ "$(cat "$BK_MNT/images/$id/state")" = ready ] || bk_fail "$1: not ready" || return
	nothing_partial || return
	layer_canaries_intact || return
	echo "$id"
}

# After refusals the store still pulls and runs a good image.
good_pull_works() {
	local id
	push good || return
	id=$(bk_pull "$BK_REG/test/h-good") || return
	bk_assert_content "$BK_MNT/images/$id/root/good" $'good\n' || return
	cmp /bin/busybox "$BK_MNT/images/$id/root/bin/busybox"
}

@test "path traversal: '../x', '../../etc/x' and '..' mid-path are refused; absolute names land inside" {
	start
	refused traversal-dotdot EBADMSG "'../x' escapes the layer root"
	refused traversal-deep EBADMSG "escapes the layer root"
	refused traversal-etc EBADMSG "escapes the layer root"
	refused traversal-mid EBADMSG "escapes the layer root"
	id=$(contained absolute)
	r=$BK_STORE/images/$id/rootfs
	bk_assert_content "$r/etc/${GHOST#/}" $'pwned\n'
	bk_assert_content "$r${CANARY}/pwned" $'pwned\n'
	bk_assert_content "$r$GHOST/x" $'pwned\n'
	good_pull_works
}

@test "a symlink to outside, then a write through it: refused (same layer, across layers) or inside" {
	start
	refused symlink-out EBADMSG "'esc' is a symlink to a missing directory"
	refused symlink-ghost EBADMSG "'esc' is a symlink to a missing directory"
	refused symlink-across EBADMSG "'esc' is a symlink to a missing directory"
	# Targets that exist inside the image: the write follows the symlink as in a chroot.
	id=$(contained symlink-up)
	bk_assert_content "$BK_STORE/images/$id/rootfs${CANARY}/pwned" $'pwned\n'
	id=$(contained symlink-across-inside)
	r=$BK_STORE/images/$id/rootfs
	[ "$(readlink "$r/esc")" = "$CANARY" ]
	bk_assert_content "$r${CANARY}/pwned" $'pwned\n'
	[ "$(wc -l <"$BK_MNT/images/$id/layers")" = 3 ]
	good_pull_works
}

@test "a hardlink to outside (by '..', absolute, /etc/shadow, through a symlink) is refused" {
	start
	refused hardlink-dotdot EBADMSG "hardlink 'hl'" "escapes the layer root"
	refused hardlink-abs EBADMSG "hardlink 'hl'" "$CANARY/keep' missing"
	refused hardlink-shadow EBADMSG "hardlink 'shadow'" "'/etc/shadow' missing"
	refused hardlink-via-symlink EBADMSG "hardlink 'hl'" "'lnk/keep' missing"
	[ "$(stat -c %h "$CANARY/keep")" = 1 ]
	good_pull_works
}

@test "a symlink swapped for a directory in the next layer, and a directory for a symlink" {
	start
	id=$(contained swap-symlink-dir)
	r=$BK_STORE/images/$id/rootfs
	[ -d "$r/d" ]
	[ ! -L "$r/d" ]
	bk_assert_content "$r/d/new" $'pwned\n'
	refused swap-dir-symlink EBADMSG "'d' is a symlink to a missing directory"
	good_pull_works
}

@test "whiteouts that point outside: '../.wh.x' and '.wh..' refused; absolute and symlinked ones stay inside" {
	start
	refused whiteout-dotdot EBADMSG "'../.wh.keep' escapes the layer root"
	refused whiteout-invalid EBADMSG "invalid whiteout 'etc/.wh..'"
	# The lower layer's copy of the canary's path is whited out; the host's is not.
	id=$(contained whiteout-abs)
	r=$BK_STORE/images/$id/rootfs
	[ -d "$r$CANARY" ]
	[ -z "$(ls -A "$r$CANARY")" ]
	[ "$(readlink "$r/s")" = "$CANARY" ]
	id=$(contained whiteout-opaque-symlink)
	r=$BK_STORE/images/$id/rootfs
	[ -d "$r$CANARY" ]
	[ -z "$(ls -A "$r$CANARY")" ]
	[ -z "$(find "$r" -name '.wh.*')" ]
	good_pull_works
}

@test "device nodes are made as the image says, and are inert: store nodev, containers cannot open them" {
	start
	id=$(contained devices)
	r=$BK_STORE/images/$id/rootfs
	[ "$(stat -c '%F %t:%T %a %u:%g' "$r/dev-zero")" = "character special file 1:5 666 0:0" ]
	[ "$(stat -c '%F %t:%T %a %u:%g' "$r/dev-loop")" = "block special file 7:0 660 0:6" ]
	[ "$(stat -c '%F %t:%T %a %u:%g' "$r/sub/dev-null")" = "character special file 1:3 620 1000:5" ]
	# The store is nodev (and nosuid): opening a node there is refused by the kernel.
	opts=$(findmnt -n -o OPTIONS --target "$BK_STORE")
	[[ ,$opts, == *,nodev,* ]] || bk_fail "store mounted '$opts', not nodev"
	[[ ,$opts, == *,nosuid,* ]] || bk_fail "store mounted '$opts', not nosuid"
	for n in dev-zero dev-loop sub/dev-null; do
		[ "$(bk_errno open "$r/$n")" = EACCES ] || bk_fail "open $n: $(bk_errno open "$r/$n")"
		[ "$(bk_errno open "$BK_MNT/images/$id/root/$n")" = EACCES ]
	done
	# In a container (root, CAP_MKNOD) the nodes are in its root, on the nodev store.
	cid=$(ct_run "$id" 'head -c 1 /dev-zero >/dev/null && echo OPENED-zero; head -c 1 /dev-loop >/dev/null && echo OPENED-loop; grep -E "^[^ ]+ [^ ]+ [^ ]+ [^ ]+ / " /proc/self/mountinfo; echo done')
	bk_assert_content "$BK_MNT/containers/$cid/wait" $'exit 0\n'
	log=$(cat "$BK_MNT/containers/$cid/log")
	[[ $log == *done* ]] || bk_fail "log: $log"
	[[ $log != *OPENED* ]] || bk_fail "a node opened in the container: $log"
	[[ $log == *"Permission denied"* ]] || bk_fail "log: $log"
	root_opts=$(grep -E '^[^ ]+ [^ ]+ [^ ]+ [^ ]+ / ' <<<"$log" | awk '{ print $6 }')
	[[ ,$root_opts, == *,nodev,* ]] || bk_fail "container root mounted '$root_opts'"
}

@test "setuid, setgid and sticky bits and owners are kept as the image says" {
	start
	id=$(contained setuid)
	r=$BK_STORE/images/$id/rootfs
	[ "$(stat -c '%a %u:%g' "$r/usr/local/bin/suid")" = "4755 0:0" ]
	[ "$(stat -c '%a %u:%g' "$r/usr/local/bin/sgid")" = "2755 0:50" ]
	[ "$(stat -c '%a %u:%g' "$r/usr/local/bin/suid-user")" = "6750 1000:1000" ]
	[ "$(stat -c '%a' "$r/sticky")" = 1777 ]
}

@test "decompression bombs (gzip and zstd, in a file and after the tar's end): EBADMSG at the ratio cap" {
	BK_STORAGE_SIZE=3G start
	ARG=4 refused bomb-gzip-tail EBADMSG "more than 100 times its compressed size"
	ARG=8 refused bomb-zstd-tail EBADMSG "more than 100 times its compressed size"
	ARG=4 refused bomb-gzip-file EBADMSG "more than 100 times its compressed size"
	timeout 5 cat "$BK_MNT/version" >/dev/null
	good_pull_works
}

@test "a header claiming 1 TiB: EBADMSG at once, nothing written" {
	start
	refused huge-header EBADMSG "entry 'huge' claims 1099511627776 bytes" "(68719476736)"
	good_pull_works
}

@test "more entries than a layer may have: EBADMSG" {
	start
	ARG=$((ENTRIES_MAX + 1)) refused entries EBADMSG "more than $ENTRIES_MAX entries"
	good_pull_works
}

# The daemon's peak resident memory, in KiB.
daemon_hwm() {
	awk '$1 == "VmHWM:" { print $2 }' "/proc/$BK_PID/status"
}

@test "deep paths through symlink aliases: few entries, over a million paths: EBADMSG, memory bounded" {
	start
	# 600 symlinks to the top of a 2040-deep tree, a file made through each:
	# 1201 entries naming 1.2 million paths, 19 KB of gzip.  A set of full
	# path strings would hold 600 x 2040 paths of 2 KiB on average (2.5 GiB).
	ARG=600 refused aliases EBADMSG "layer names more than $ENTRIES_MAX paths"
	hwm=$(daemon_hwm)
	[ "$hwm" -lt $((1024 * 1024)) ] || bk_fail "the daemon's peak memory reached $hwm KiB"
	good_pull_works
}

@test "a big layer under the caps on a small store: ENOSPC, the store intact, then a good pull" {
	BK_STORAGE_SIZE=256M start
	id=$(bk_pull "$BK_REG/test/busybox")
	ARG=600 refused zeros ENOSPC "no space left"
	cmp /bin/busybox "$BK_MNT/images/$id/root/bin/busybox"
	good_pull_works
}

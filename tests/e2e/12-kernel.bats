#!/usr/bin/env bats
# Older kernels, imitated on this one: the daemon under a seccomp filter that
# makes a system call fail with ENOSYS, as on a kernel from before it.
# Without one it cannot do without, the daemon refuses to start with the
# call, its kernel version and the minimum named, and leaves nothing behind;
# without one it has a fallback for (close_range, Linux 5.9), it runs.

bats_require_minimum_version 1.5.0
load '../lib/fixture'

: "${BATS_TEST_TIMEOUT:=120}"

teardown() {
	bk_teardown
}

NOSYS=$BK_HELPERS/nosys

# refuses SYSCALL: the daemon without SYSCALL exits at once, saying why.
refuses() {
	bk_tmp_init
	run --separate-stderr timeout 20 "$NOSYS" "$1" -- "$BOCKERFS_BIN" -f --root "$BK_ROOT" \
		--storage-size 1G "$BK_MNT"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || bk_fail "without $1: status $status"
	[[ $stderr == *"lacks"*"$1"*"needs Linux 5.6 or later"* ]] ||
		bk_fail "without $1, stderr: $stderr"
	[[ $stderr == *"($(uname -r))"* ]] || bk_fail "the kernel's version is not named: $stderr"
	! bk_mounted "$BK_MNT" || bk_fail "mounted $BK_MNT"
	[ -z "$(ls -A "$BK_ROOT")" ] || bk_fail "left in --root: $(ls -A "$BK_ROOT")"
}

@test "without openat2 (before Linux 5.6): a clear refusal naming it, nothing made" {
	refuses openat2
}

@test "without clone3 (before Linux 5.3): a clear refusal naming it, nothing made" {
	refuses clone3
}

@test "without pidfd_open (before Linux 5.3): a clear refusal naming it, nothing made" {
	refuses pidfd_open
}

@test "without pidfd_send_signal (before Linux 5.1): a clear refusal naming it, nothing made" {
	refuses pidfd_send_signal
}

@test "without close_range (before Linux 5.9): the daemon runs, and no child of it holds /dev/fuse" {
	bk_tmp_init
	BK_STORE=$BK_ROOT/store
	(
		exec "$NOSYS" close_range -- "$BOCKERFS_BIN" -f --root "$BK_ROOT" \
			--storage-size "$BK_STORAGE_SIZE" "$BK_MNT" </dev/null >>"$BK_LOG" 2>&1 3>&-
	) &
	BK_PID=$!
	bk_track daemon "$BK_PID"
	bk_wait_mount "$BK_PID"
	bk_busybox_rootfs "$BK_TMP/bb"
	id=$(bk_import "$BK_TMP/bb")
	# Something for the notifier's child (the toucher) to do: a container's state changes.
	c=$(bk_command "$BK_MNT/containers/run" '^[a-z0-9_.-]+$' "$id true")
	bk_assert_content "$BK_MNT/containers/$c/wait" $'exit 0\n'
	children=$(pgrep -P "$BK_PID") || bk_fail "the daemon has no child"
	for p in $children; do
		for fd in /proc/"$p"/fd/*; do
			[ "$(readlink "$fd")" != /dev/fuse ] || bk_fail "child $p holds /dev/fuse at $fd"
		done
	done
}

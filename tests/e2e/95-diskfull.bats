#!/usr/bin/env bats
# A full store: an import, a commit and a busy log on a small btrfs store
# (a 256 MiB loop file) that fills up.  Each gets a clear ENOSPC (the log: a
# marker line saying how much output was lost), the images and running
# containers made before are unharmed, and the same operation succeeds once
# space is freed, with no manual cleanup.  (A full store during a pull:
# tests/e2e/30-pull.bats.)

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'

: "${BATS_TEST_TIMEOUT:=300}"

setup_file() {
	ct_setup_file
}

teardown_file() {
	ct_teardown_file
}

teardown() {
	ct_teardown
}

# A small store with busybox and a chatty container running in it.
start_small() {
	BK_STORAGE_SIZE=256M ct_start || return
	CHATTY=$(ct_run 'busybox sh -c "i=0; while :; do echo line \$i; i=\$((i+1)); sleep 0.05; done"') ||
		return
	ct_wait_log "$CHATTY" '^line 3$'
}

# Fill the store with a file of zeros (dd stops at ENOSPC), then sync.
fill() {
	dd if=/dev/zero of="$BK_STORE/filler" bs=1M 2>/dev/null || true
	# Small files too: btrfs keeps them in metadata, which fills separately.
	mkdir -p "$BK_STORE/filler.d"
	for ((i = 0; i < 20000; i++)); do
		printf 'x%.0s' {1..2000} >"$BK_STORE/filler.d/$i" 2>/dev/null || break
	done
	sync
}

free_space() {
	rm -rf "$BK_STORE/filler" "$BK_STORE/filler.d"
	sync
}

# What was there before still works: busybox runs, the chatty container runs.
unharmed() {
	ct_state_is "$CHATTY" running || bk_fail "chatty is $(cat "$C/$CHATTY/state")" || return
	[ "$(cat "$BK_MNT/images/$BB_ID/state")" = ready ] || return
	cmp "$BB/bin/busybox" "$BK_MNT/images/$BB_ID/root/bin/busybox"
}

@test "a full store during an import: ENOSPC, nothing kept, the import succeeds after space is freed" {
	start_small
	bk_big_tree "$BK_TMP/big" 8 8
	fill
	run bk_write_errno "$BK_MNT/images/import" "$BK_TMP/big big"$'\n'
	[ "${lines[0]}" = ENOSPC ]
	bk_check_error ENOSPC /images/import 'import|write' images/err "${lines[1]}" "no space left"
	bk_nothing_partial
	! grep -q 'big' "$BK_MNT/images/index" || false
	unharmed
	free_space
	id=$(bk_import "$BK_TMP/big" big)
	cmp "$BK_TMP/big/f7" "$BK_MNT/images/$id/root/f7"
	unharmed
}

@test "a full store during a commit: ENOSPC or a complete image, never a partial one; it succeeds after space is freed" {
	start_small
	fill
	# A commit is a snapshot plus a small record: it may still fit.  If it
	# does not, the error is ENOSPC with its reason and nothing is kept.
	run ct_ctl "$CHATTY" 'commit full:one'
	if [ "${lines[0]}" = OK ]; then
		[ "$(cat "$BK_MNT/images/${lines[1]}/state")" = ready ]
	else
		[ "${lines[0]}" = ENOSPC ]
		bk_check_error ENOSPC "/containers/$CHATTY/ctl" 'ctl|write' "containers/$CHATTY/err" \
			"${lines[1]}" "no space left"
		! grep -q 'full:one' "$BK_MNT/images/index" || false
	fi
	bk_nothing_partial
	unharmed
	free_space
	run ct_ctl "$CHATTY" 'commit full:two'
	[ "${lines[0]}" = OK ]
	[ "$(cat "$BK_MNT/images/${lines[1]}/state")" = ready ]
	id=$(ct_run 'full:two true')
	[ "$(timeout 20 cat "$C/$id/wait")" = "exit 0" ]
	unharmed
}

@test "a full store under a busy log: the container keeps running, the loss is marked in the log, logging resumes" {
	start_small
	fill
	# Lines keep coming while nothing can be written.
	before=$(grep -c '^line ' "$C/$CHATTY/log")
	sleep 1
	ct_state_is "$CHATTY" running
	timeout 5 cat "$C/$CHATTY/state" >/dev/null
	free_space
	ct_wait_log "$CHATTY" '^\[bockerfs: [0-9]+ bytes of output lost: No space left on device\]$'
	last=$(tail -n1 "$C/$CHATTY/log" | awk '{ print $2 }')
	ct_wait_log "$CHATTY" "^line $((last + 5))\$"
	unharmed
	# Lines written after the gap follow on: the log is not corrupted.
	awk '/^line / { n++ } END { exit n < 5 }' "$C/$CHATTY/log"
	[ "$before" -ge 3 ]
}

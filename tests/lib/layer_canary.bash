# shellcheck shell=bash
# The canaries of the hostile-layer suites (80-hostile-layers, 67-save-load):
# GHOST, a path under "/" that does not exist (/bkcanary-<random>, and
# GHOST_ETC beside it in /etc), which a layer escaping its root would make,
# and CANARY, a host directory with one file that a layer escaping through a
# hardlink or a symlink would change.  The hostile layers name both
# (tests/lib/registry/hostile.py).
#
#   setup:     layer_ghost_pick              GHOST, GHOST_ETC
#   start:     layer_canary_make             CANARY (in BK_TMP), CANARY_STAT
#   checks:    layer_canaries_intact         the canary as made, the ghosts absent
#   teardown:  layer_ghost_remove            only what a failed defence made

layer_ghost_pick() {
	GHOST=/bkcanary-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	GHOST_ETC=/etc/${GHOST#/}
}

# Only if a defence failed: the random names this test made up, nothing else.
layer_ghost_remove() {
	if [[ ${GHOST:-} =~ ^/bkcanary-[0-9a-f]{12}$ ]]; then
		rm -rf --one-file-system "$GHOST" "$GHOST_ETC"
	fi
}

layer_canary_make() {
	CANARY=$BK_TMP/canary
	mkdir -p "$CANARY"
	printf 'canary\n' >"$CANARY/keep"
	chmod 0640 "$CANARY/keep"
	chmod 0755 "$CANARY"
	CANARY_STAT=$(layer_canary_stat)
}

layer_canary_stat() {
	stat -c '%i %s %h %a %u:%g %Y %Z' "$CANARY" "$CANARY/keep"
}

# The canary unchanged (content, inode, links, mode, owner, times), nothing
# next to it, and the ghosts absent (not even as dangling symlinks).
layer_canaries_intact() {
	bk_assert_content "$CANARY/keep" $'canary\n' || return
	[ "$(ls -A "$CANARY")" = keep ] || bk_fail "canary dir holds: $(ls -A "$CANARY")" || return
	[ "$(layer_canary_stat)" = "$CANARY_STAT" ] ||
		bk_fail "canary changed: $(layer_canary_stat), was $CANARY_STAT" || return
	local g
	for g in "$GHOST" "$GHOST_ETC"; do
		if [ -e "$g" ] || [ -L "$g" ]; then
			bk_fail "$g exists on the host"
			return 1
		fi
	done
}

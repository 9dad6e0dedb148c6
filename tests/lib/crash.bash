# shellcheck shell=bash
# Helpers for the crash tests (tests/e2e/90-crash.bats), on top of fixture,
# containers and net (load those first).  The daemon is armed with a
# failpoint (engine/base/failpoint.c): BOCKERFS_FAILPOINTS=NAME=kill makes it
# SIGKILL itself when an operation reaches NAME.  Then it is restarted and
# crash_invariants checks what must hold after any crash:
#
#   - tmp/ in the store is empty, every subvolume belongs to an image, a layer,
#     a container or a spare snapshot of a listed image;
#   - every image listed is ready and runs `true`;
#   - no cgroup, veth, published port or lease of a container that is not
#     running (leases: of a container that does not exist), no mount under
#     the store;
#   - the survivor (CRASH_SURVIVOR, started by crash_survivor) still runs with
#     the same pid and its log holds every line written before the crash.
#
#   crash_daemon_start [ARGS...]   (re)start the daemon: net_daemon_start in a
#                                  netns (CRASH_NET=1) or bk_daemon_start
#   crash_arm POINT                restart the daemon with POINT=kill armed
#   crash_expect_death POINT       wait until the armed daemon killed itself at
#                                  POINT, then restart it unarmed
#   crash_invariants               the checks above

CRASH_DAEMON_ARGS=()

crash_daemon_start() {
	if [ -n "${CRASH_NET:-}" ]; then
		net_daemon_start "${CRASH_DAEMON_ARGS[@]}" "$@"
	else
		bk_daemon_start "${CRASH_DAEMON_ARGS[@]}" "$@"
	fi
}

# crash_arm POINT: stop the daemon (containers keep running) and start it again
# with POINT=kill.
crash_arm() {
	bk_daemon_term TERM || return
	BOCKERFS_FAILPOINTS="$1=kill" crash_daemon_start
}

# crash_expect_death POINT: the armed daemon reached POINT and died; start it
# again without failpoints.
crash_expect_death() {
	local pid=$BK_PID
	bk_wait_gone "$pid" || bk_fail "daemon $pid did not die at failpoint $1" || return
	bk_daemon_reap "$pid" || return
	grep -q "failpoint $1: kill" "$BK_LOG" || bk_fail "daemon died, but not at failpoint $1" ||
		return
	crash_daemon_start
}

# The containers whose state is running, sorted.
crash_running() {
	local d
	for d in "$BK_MNT"/containers/*/; do
		[ "$(cat "${d}state" 2>/dev/null)" = running ] && basename "$d"
	done | sort
}

# The names of the groups in the store's cgroup parents (every hierarchy on v1:
# cg_store_groups), sorted, unique; the groups of spare inits (spare-N, made ahead
# of starts on cgroup v1) are not containers'.
crash_cgroups() {
	[ -f "$BK_STORE/cgroup-tag" ] || return 0
	cg_store_groups "$BK_STORE" | sed 's|.*/||' | grep -v '^spare-' | sort -u
}

# crash_survivor: a chatty container that must outlive every crash.
crash_survivor() {
	CRASH_SURVIVOR=$(ct_run 'busybox sh -c "i=0; while :; do echo tick \$i; i=\$((i+1)); sleep 0.1; done"') ||
		return
	ct_wait_log "$CRASH_SURVIVOR" 'tick 3' || return
	CRASH_SURVIVOR_PID=$(cat "$BK_MNT/containers/$CRASH_SURVIVOR/pid")
}

crash_check_survivor() {
	local before n
	[ -n "${CRASH_SURVIVOR:-}" ] || return 0
	ct_state_is "$CRASH_SURVIVOR" running || bk_fail "survivor is $(cat "$BK_MNT/containers/$CRASH_SURVIVOR/state")" || return
	[ "$(cat "$BK_MNT/containers/$CRASH_SURVIVOR/pid")" = "$CRASH_SURVIVOR_PID" ] ||
		bk_fail "survivor's pid changed" || return
	# Every tick from 0 up to the last one, in order, none lost; and still ticking.
	before=$(grep -c '^tick ' "$BK_MNT/containers/$CRASH_SURVIVOR/log")
	n=$(awk '/^tick / { if ($2 != n) { print "gap at " n ": " $0; exit 1 } n++ }' \
		"$BK_MNT/containers/$CRASH_SURVIVOR/log") || bk_fail "survivor's log: $n" || return
	ct_wait_log "$CRASH_SURVIVOR" "^tick $before\$"
}

crash_links_are() {
	[ "$(net_bk_links)" = "$1" ]
}

crash_invariants() {
	local - img id out bad=0 running cg l want
	set +e
	bk_tmp_empty || bad=1
	out=$(bk_orphan_subvolumes)
	[ -z "$out" ] || bk_fail "orphan subvolumes: $out" || bad=1
	for img in "$BK_MNT"/images/img_*/; do
		[ -d "$img" ] || continue
		img=$(basename "$img")
		[ "$(cat "$BK_MNT/images/$img/state")" = ready ] ||
			bk_fail "image $img is $(cat "$BK_MNT/images/$img/state")" || { bad=1; continue; }
		id=$(ct_run "$img true") || { bad=1; continue; }
		out=$(timeout 20 cat "$BK_MNT/containers/$id/wait")
		[ "$out" = "exit 0" ] || bk_fail "image $img: run true: '$out'" || bad=1
		ct_ctl "$id" 'rm force' >/dev/null
	done
	running=$(crash_running)
	cg=$(crash_cgroups)
	[ "$cg" = "$running" ] || bk_fail "cgroups '$cg', running '$running'" || bad=1
	out=$(grep -F " $BK_STORE/" /proc/self/mountinfo)
	[ -z "$out" ] || bk_fail "mounts under the store: $out" || bad=1
	if [ -n "${CRASH_NET:-}" ]; then
		want=$(for id in $running; do net_veth_of "$id"; done | sort)
		# A veth goes with its netns, which the kernel cleans up asynchronously.
		bk_wait_until 5 crash_links_are "$want" ||
			bk_fail "veths '$(net_bk_links)', running '$want'" || bad=1
		out=$(net_elements | sed -n 's/.*# //p' | sort -u)
		for id in $out; do
			[[ $'\n'$running$'\n' == *$'\n'$id$'\n'* ]] ||
				bk_fail "published port of $id, which is not running" || bad=1
		done
		while read -r l _; do
			[ -n "$l" ] || continue
			[ -d "$BK_MNT/containers/$l" ] || bk_fail "lease of $l, which does not exist" || bad=1
		done <"$BK_MNT/net/leases"
	fi
	crash_check_survivor || bad=1
	return "$bad"
}

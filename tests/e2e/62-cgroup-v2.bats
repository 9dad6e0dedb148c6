#!/usr/bin/env bats
# cgroup v2 only (these skip on v1 hosts; the v2 lane runs them: tests/vm/run-v2):
# where the daemon puts its groups and what it refuses.
# - in a cgroup namespace (a daemon in a container), its groups go under its own
#   group, which it leaves for <own>/supervisor first (v2 hands controllers down only
#   from a group without processes); nothing is written outside it;
# - when a controller cannot be enabled there (another process holds the group),
#   the daemon refuses to start, says why and how (--no-cgroups), and leaves every
#   group as it found it; with --no-cgroups it runs containers, without limits;
# - under systemd (the lane's --systemd mode), a unit with Delegate=yes gets its
#   groups under the unit's own.

bats_require_minimum_version 1.5.0
load '../lib/fixture'

: "${BATS_TEST_TIMEOUT:=600}"

setup() {
	[ "$(cg_version)" = 2 ] || skip "cgroup v2 only (the v2 lane: tests/vm/run-v2)"
	OUTER=""
}

teardown() {
	bk_teardown
	# The test's outer group and what the daemon made in it, deepest first.
	[ -z "$OUTER" ] || bk_rmdir_cgroup "$OUTER" 100
}

# A fresh group for the test, with the engine's controllers available in it.
make_outer() {
	OUTER=$CG_ROOT/bk-test-$$-$BATS_TEST_NUMBER
	mkdir "$OUTER"
}

# Everything in the hierarchy that is a directory, as paths: to compare before and after.
cg_tree() {
	find "$CG_ROOT" -type d | sort
}

# ns_daemon ARGS...: the daemon in a new cgroup namespace rooted at OUTER and a mount
# namespace with that namespace's own cgroup2 mount (as a container would give it),
# started like bk_daemon_start.
ns_daemon() {
	bk_tmp_init
	BK_STORE=$BK_ROOT/store
	# The tree and the store, mounted in the daemon's namespace, must show here:
	# the test's directory is a shared mount, and only the namespace's cgroup2
	# mount (over a private copy of the host's) stays its own.  A tmpfs goes in
	# between: the kernel refuses cgroup2 over cgroup2 at the same place.
	mount --bind "$BK_TMP" "$BK_TMP"
	mount --make-shared "$BK_TMP"
	(
		trap - INT QUIT
		echo 0 >"$OUTER/cgroup.procs"
		exec unshare -C -m --propagation unchanged sh -c \
			'mount --make-private /sys/fs/cgroup &&
			mount -t tmpfs none /sys/fs/cgroup &&
			mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' sh \
			"$BOCKERFS_BIN" -f --root "$BK_ROOT" --storage-size "$BK_STORAGE_SIZE" "$@" \
			"$BK_MNT" </dev/null >>"$BK_LOG" 2>&1 3>&-
	) &
	BK_PID=$!
	bk_track daemon "$BK_PID"
}

@test "in a cgroup namespace: groups under the daemon's own group, the daemon in <own>/supervisor, nothing outside" {
	make_outer
	before=$(cg_tree | grep -v "^$OUTER")
	ns_daemon
	bk_wait_mount "$BK_PID"
	bk_busybox_rootfs "$BK_TMP/bb"
	bk_import "$BK_TMP/bb" busybox >/dev/null
	c=$(bk_command "$BK_MNT/containers/run" '^[a-z0-9_.-]+$' "busybox sleep 100")
	# status names the group as the daemon sees it, inside its namespace: from its root.
	p=$(grep '^cgroup ' "$BK_MNT/containers/$c/status" | cut -d' ' -f2)
	[[ $p == /bockerfs/*/"$c" ]] || bk_fail "status cgroup '$p'"
	grep -qx "$(cat "$BK_MNT/containers/$c/pid")" "$OUTER$p/cgroup.procs" ||
		bk_fail "the init is not in $OUTER$p"
	grep -qx "$BK_PID" "$OUTER/supervisor/cgroup.procs" || bk_fail "the daemon is not in $OUTER/supervisor"
	[ -z "$(cat "$OUTER/cgroup.procs")" ] || bk_fail "processes left in $OUTER: $(cat "$OUTER/cgroup.procs")"
	for ctl in cpu memory pids; do
		grep -qw "$ctl" "$OUTER$p/cgroup.controllers" || bk_fail "no $ctl in the container's group"
	done
	# Limits work there, as anywhere.
	printf 'memory 64M\npids 50\n' >"$BK_MNT/containers/$c/limits"
	[ "$(cat "$OUTER$p/memory.max")" = 67108864 ] || bk_fail "memory.max $(cat "$OUTER$p/memory.max")"
	[ "$(cat "$OUTER$p/pids.max")" = 50 ] || bk_fail "pids.max $(cat "$OUTER$p/pids.max")"
	[ "$(cg_tree | grep -v "^$OUTER")" = "$before" ] || bk_fail "groups made outside $OUTER"
	echo "rm force" >"$BK_MNT/containers/$c/ctl"
	[ ! -d "$OUTER$p" ] || bk_fail "$OUTER$p left after rm"
}

@test "a group that cannot hand controllers down: the daemon refuses, says why and how, leaves every group as it was" {
	make_outer
	# Another process in the namespace's root: v2 then enables no controller below it.
	(echo 0 >"$OUTER/cgroup.procs" && exec sleep 300) &
	other=$!
	bk_track sleeper "$other"
	sleep 0.2
	before=$(cg_tree)
	sc_before=$(cat "$OUTER/cgroup.subtree_control")
	ns_daemon
	for _ in $(seq 200); do bk_alive "$BK_PID" || break; sleep 0.1; done
	! bk_alive "$BK_PID" || bk_fail "the daemon runs"
	wait "$BK_PID" && bk_fail "the daemon exited 0"
	grep -q "cgroup.subtree_control" "$BK_LOG" || bk_fail "no reason: $(cat "$BK_LOG")"
	grep -q "holds processes" "$BK_LOG" || bk_fail "the reason does not say why: $(cat "$BK_LOG")"
	grep -q -- "--no-cgroups" "$BK_LOG" || bk_fail "the way out is not named: $(cat "$BK_LOG")"
	! bk_mounted "$BK_MNT" || bk_fail "mounted"
	[ "$(cg_tree)" = "$before" ] || bk_fail "groups changed: $(diff <(echo "$before") <(cg_tree))"
	[ "$(cat "$OUTER/cgroup.subtree_control")" = "$sc_before" ] || bk_fail "subtree_control changed"
	# --no-cgroups: it runs, containers run without limits, and it says so.
	bk_daemon_term 2>/dev/null || true
	ns_daemon --no-cgroups
	bk_wait_mount "$BK_PID"
	grep -q "running without resource limits" "$BK_LOG" || bk_fail "no warning"
	bk_busybox_rootfs "$BK_TMP/bb"
	bk_import "$BK_TMP/bb" busybox >/dev/null
	c=$(bk_command "$BK_MNT/containers/run" '^[a-z0-9_.-]+$' "busybox true")
	bk_assert_content "$BK_MNT/containers/$c/wait" $'exit 0\n'
	grep -qx 'cgroup -' "$BK_MNT/containers/$c/status" || bk_fail "status: $(cat "$BK_MNT/containers/$c/status")"
	kill "$other"
}

@test "under systemd, a unit with Delegate=yes: its groups under the unit's own group, none outside" {
	[ "$(cat /proc/1/comm)" = systemd ] || skip "needs systemd as PID 1 (the lane's --systemd mode)"
	bk_tmp_init
	BK_STORE=$BK_ROOT/store
	unit=bk-deleg-$$
	before=$(cg_tree | grep -v "/$unit.service")
	systemd-run --unit="$unit" -p Delegate=yes -p KillMode=mixed \
		"$BOCKERFS_BIN" -f --root "$BK_ROOT" --storage-size "$BK_STORAGE_SIZE" "$BK_MNT"
	BK_PID=$(systemctl show -p MainPID --value "$unit")
	bk_track daemon "$BK_PID"
	bk_wait_mount "$BK_PID"
	G=$CG_ROOT$(systemctl show -p ControlGroup --value "$unit")
	bk_busybox_rootfs "$BK_TMP/bb"
	bk_import "$BK_TMP/bb" busybox >/dev/null
	c=$(bk_command "$BK_MNT/containers/run" '^[a-z0-9_.-]+$' "busybox sleep 100")
	p=$(grep '^cgroup ' "$BK_MNT/containers/$c/status" | cut -d' ' -f2)
	[[ $CG_ROOT$p == "$G"/bockerfs/*/"$c" ]] || bk_fail "status cgroup '$p', the unit's group $G"
	grep -qx "$BK_PID" "$G/supervisor/cgroup.procs" || bk_fail "the daemon is not in $G/supervisor"
	[ "$(cg_tree | grep -v "/$unit.service")" = "$before" ] || bk_fail "groups made outside $G"
	echo "rm force" >"$BK_MNT/containers/$c/ctl"
	systemctl stop "$unit"
}

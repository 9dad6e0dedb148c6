#!/usr/bin/env bats
# The installed service under a real systemd (PID 1): only in the lane's
# --systemd mode (tests/vm/run-v2 --systemd, make test-v2), skipped elsewhere.
# make install into the guest's / (a throwaway overlay), then through systemctl:
# start (the tree answers), a container runs, `systemctl restart` keeps it
# running and the new daemon adopts it (kill through the tree ends it, wait
# answers), `systemctl stop` unmounts the tree and leaves containers running,
# the log is in the journal, SIGKILL of the daemon brings it back
# (Restart=on-failure) with the container adopted; then uninstall.

bats_require_minimum_version 1.5.0
load '../lib/fixture'

: "${BATS_TEST_TIMEOUT:=1200}"

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
T=/run/bockerfs
UNIT=bockerfs.service

INSTALLED=""

setup() {
	[ "$(cat /proc/1/comm)" = systemd ] || skip "needs systemd as PID 1 (tests/vm/run-v2 --systemd)"
	# The guest's / is an overlay thrown away at poweroff: installing there touches no host.
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$REPO" -o all \
		install PREFIX=/usr/local >/dev/null
	INSTALLED=1
	systemctl daemon-reload
}

teardown() {
	local c
	# Only what setup installed, in the guest: never uninstall from a host.
	[ -n "$INSTALLED" ] || return 0
	for c in $(ls "$T/containers" 2>/dev/null | grep '^ctr_\|^bk-'); do
		echo "rm force" >"$T/containers/$c/ctl" 2>/dev/null
	done
	systemctl stop "$UNIT" 2>/dev/null
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$REPO" -o all \
		uninstall PREFIX=/usr/local >/dev/null
	systemctl daemon-reload
}

tree_up() {
	local i
	for i in $(seq 600); do
		cat "$T/version" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	bk_fail "the tree did not answer: $(systemctl status "$UNIT" 2>&1 | tail -20)"
}

main_pid() {
	systemctl show -p MainPID --value "$UNIT"
}

@test "systemd: start, restart and stop keep a running container; the next daemon adopts it; the log is in the journal" {
	systemctl start "$UNIT"
	tree_up
	bk_busybox_rootfs /var/tmp/bk-systemd-bb
	id=$(bk_command "$T/images/import" "$BK_IMG_ID_RE" "/var/tmp/bk-systemd-bb busybox")
	c=$(bk_command "$T/containers/run" '^[a-z0-9_.-]+$' "busybox sleep 1000")
	init=$(cat "$T/containers/$c/pid")
	first=$(main_pid)

	systemctl restart "$UNIT" || bk_fail "restart: $(systemctl status "$UNIT" 2>&1 | tail -20)"
	tree_up
	[ "$(main_pid)" != "$first" ] || bk_fail "the daemon was not restarted"
	[ "$(cat "$T/containers/$c/state")" = running ] || bk_fail "state $(cat "$T/containers/$c/state")"
	[ "$(cat "$T/containers/$c/pid")" = "$init" ] || bk_fail "another init"
	bk_alive "$init" || bk_fail "the init died at restart"

	systemctl stop "$UNIT"
	! bk_mounted "$T" || bk_fail "the tree is still mounted after stop"
	bk_alive "$init" || bk_fail "the container died at stop"
	journalctl -u "$UNIT" --no-pager | grep -q "started container $c" ||
		bk_fail "no log in the journal: $(journalctl -u "$UNIT" --no-pager | tail)"

	systemctl start "$UNIT"
	tree_up
	[ "$(cat "$T/containers/$c/state")" = running ] || bk_fail "not adopted after stop and start"
	echo kill >"$T/containers/$c/ctl"
	[ "$(cat "$T/containers/$c/wait")" = "signal 9" ] || bk_fail "wait: $(cat "$T/containers/$c/wait")"
	echo "rm force" >"$T/containers/$c/ctl"
	rmdir "$T/images/$id"
}

@test "systemd: a daemon killed with SIGKILL is restarted, the dead mount is detached, the container adopted" {
	systemctl start "$UNIT"
	tree_up
	bk_busybox_rootfs /var/tmp/bk-systemd-bb
	bk_command "$T/images/import" "$BK_IMG_ID_RE" "/var/tmp/bk-systemd-bb busybox" >/dev/null
	c=$(bk_command "$T/containers/run" '^[a-z0-9_.-]+$' "busybox sleep 1000")
	init=$(cat "$T/containers/$c/pid")
	first=$(main_pid)
	kill -KILL "$first"
	for _ in $(seq 600); do
		p=$(main_pid)
		[ "$p" != 0 ] && [ "$p" != "$first" ] && cat "$T/version" >/dev/null 2>&1 && break
		sleep 0.1
	done
	[ "$(main_pid)" != "$first" ] || bk_fail "not restarted: $(systemctl status "$UNIT" 2>&1 | tail)"
	tree_up
	[ "$(cat "$T/containers/$c/state")" = running ] || bk_fail "state $(cat "$T/containers/$c/state")"
	[ "$(cat "$T/containers/$c/pid")" = "$init" ] || bk_fail "another init"
	echo "rm force" >"$T/containers/$c/ctl"
}

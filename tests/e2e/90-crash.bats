#!/usr/bin/env bats
# Crash safety: the daemon SIGKILLs itself at a failpoint (engine/base/failpoint.c)
# in the middle of a pull, an import, a commit, a run or an rm; after a
# restart the invariants of tests/lib/crash.bash hold (only complete images,
# each runs `true`; no orphan subvolume, cgroup, veth, published port, lease
# or mount; a running container keeps running with its whole log) and the
# same operation succeeds.  Pulls use the test registry on 127.0.0.1 with the
# daemon in the host's network namespace; the rest run the daemon in a
# network namespace of its own (tests/lib/net.bash) with a bridge.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'
load '../lib/net'
load '../lib/registry'
load '../lib/crash'

: "${BATS_TEST_TIMEOUT:=300}"

setup_file() {
	ct_setup_file
	bk_registry_setup
}

teardown_file() {
	bk_registry_teardown
	ct_teardown_file
}

teardown() {
	if [ -n "${CRASH_NET:-}" ]; then
		net_teardown
	else
		ct_teardown
	fi
}

# The network tests' daemon, a survivor, and a committed image of it.
start_net() {
	CRASH_NET=1
	net_start || return
	crash_survivor
}

start_pull() {
	CRASH_DAEMON_ARGS=(--auth-config "$BK_REG_DIR/auth.json")
	ct_start "${CRASH_DAEMON_ARGS[@]}" || return
	crash_survivor
}

# write_fails FILE LINE: one write of LINE to FILE fails (the daemon died under it).
write_fails() {
	local out
	out=$(timeout 30 "$BK_PY" "$BK_LIB/bkio.py" write "$1" "$2"$'\n')
	[ "${out%%$'\n'*}" != OK ] || bk_fail "write '$2' to $1 succeeded: $out"
}

pull_crash() {
	start_pull
	crash_arm "$1"
	write_fails "$BK_MNT/images/pull" "$BK_REG/test/multi"
	crash_expect_death "$1"
	crash_invariants
	# The second attempt succeeds and gives a complete image.
	id=$(bk_pull "$BK_REG/test/multi")
	[ "$(cat "$BK_MNT/images/$id/state")" = ready ]
	crash_invariants
}

@test "kill -9 after the manifest of a pull" { pull_crash pull.manifest; }
@test "kill -9 halfway through a blob" { pull_crash pull.mid-blob; }
@test "kill -9 in the middle of a layer's extraction" { pull_crash pull.mid-extraction; }
@test "kill -9 after a blob is verified, before its layer is committed" { pull_crash pull.blob-verified; }
@test "kill -9 after a layer is committed" { pull_crash pull.layer-committed; }
@test "kill -9 before the image record of a pull" { pull_crash pull.before-record; }
@test "kill -9 after the image record, before the image is published" { pull_crash pull.record; }

import_crash() {
	start_net
	crash_arm "$1"
	write_fails "$BK_MNT/images/import" "$BB crashed"
	crash_expect_death "$1"
	crash_invariants
	bk_import "$BB" crashed >/dev/null
	crash_invariants
}

@test "kill -9 after an import copied the files" { import_crash import.copied; }
@test "kill -9 before an import is published" { import_crash image.publish; }

commit_crash() {
	local target=$2 before
	start_net
	echo changed >"$BK_TMP/x"
	if [ "$target" = id ]; then
		target=$(bk_import "$BB" base2)
		cp "$BK_MNT/images/$target/config" "$BK_TMP/config.before"
	fi
	crash_arm "$1"
	write_fails "$BK_MNT/containers/$CRASH_SURVIVOR/ctl" "commit ${target}"
	crash_expect_death "$1"
	if [ "$2" = id ]; then
		# Either the old image whole or the new one whole; here: the old one.
		"$BK_PY" -c 'import json, sys; a, b = (json.load(open(f)) for f in sys.argv[1:]); sys.exit(a != b)' \
			"$BK_TMP/config.before" "$BK_MNT/images/$target/config"
	fi
	crash_invariants
	out=$(ct_ctl "$CRASH_SURVIVOR" "commit ${target}")
	[ "${out%%$'\n'*}" = OK ]
	crash_invariants
}

@test "kill -9 after a commit's snapshot" { commit_crash commit.snapshot snap:one; }
@test "kill -9 before a commit is published" { commit_crash image.publish snap:two; }
@test "kill -9 before a commit replaces an image (commit IMG_ID)" { commit_crash commit.replace id; }

run_crash() {
	start_net
	crash_arm "$1"
	write_fails "$BK_MNT/containers/run" "busybox sh -c 'echo up; sleep 600'"
	crash_expect_death "$1"
	crash_invariants
	# Whatever the crashed run left is a container that is not running, or none.
	for d in "$BK_MNT"/containers/*/; do
		id=$(basename "$d")
		[ "$id" = "$CRASH_SURVIVOR" ] && continue
		state=$(cat "$d/state")
		[ "$state" = created ] || [ "$state" = exited ] || [ "$state" = running ] ||
			bk_fail "$id is '$state' after the crash"
		ct_track "$id"
	done
	id=$(ct_run "busybox sh -c 'echo up; sleep 600'")
	ct_wait_log "$id" '^up$'
	ct_ctl "$id" 'rm force' >/dev/null
	crash_invariants
}

@test "kill -9 after a run's snapshot" { run_crash run.snapshot; }
@test "kill -9 after a run's address lease" { run_crash run.lease; }
@test "kill -9 after a run's cgroup" { run_crash run.cgroup; }
@test "kill -9 after a run's veth and ports" { run_crash run.veth; }
@test "kill -9 after the container's command was started, before it is recorded" { run_crash run.exec; }
@test "kill -9 after a run is recorded" { run_crash run.saved; }

rm_crash() {
	start_net
	victim=$(ct_run "busybox sleep 600")
	echo '18099:80' >/dev/null
	crash_arm "$1"
	write_fails "$BK_MNT/containers/$victim/ctl" "rm force"
	crash_expect_death "$1"
	crash_invariants
	if [ -d "$BK_MNT/containers/$victim" ]; then
		out=$(ct_ctl "$victim" "rm force")
		[ "${out%%$'\n'*}" = OK ]
	fi
	[ ! -e "$BK_MNT/containers/$victim" ]
	crash_invariants
}

@test "kill -9 after rm stopped the container" { rm_crash rm.stopped; }
@test "kill -9 after rm moved the container out" { rm_crash rm.moved; }
@test "kill -9 after rm released cgroup and network" { rm_crash rm.released; }

# edit_record ID PY: apply the Python statement PY to c (ID's container.json) while
# the daemon is stopped (and its store unmounted: mounted here for the edit).
edit_record() {
	mount -o loop "$BK_ROOT/storage.img" "$BK_STORE" || return
	"$BK_PY" - "$BK_STORE/containers/$1/container.json" "$2" <<-'PYEOF'
		import json, sys
		path, stmt = sys.argv[1], sys.argv[2]
		c = json.load(open(path))
		exec(stmt)
		json.dump(c, open(path, "w"))
	PYEOF
	local st=$?
	umount "$BK_STORE"
	return "$st"
}

@test "a reboot: records say running, the boot differs, the pid is another live process: exited, nothing adopted or killed" {
	start_net
	victim=$(ct_run "busybox sleep 600")
	vpid=$(cat "$C/$victim/pid")
	bk_daemon_term TERM
	# What a reboot does to the container: its processes are gone.
	kill -KILL "$vpid"
	bk_wait_gone "$vpid"
	# A process of the new boot holds the pid the record names, with the same start time.
	bk_bg /dev/null sleep 600
	other=$BK_BG_PID
	edit_record "$victim" "c['boot_id'] = '00000000-0000-0000-0000-000000000000'; c['pid'] = $other; c['pid_start'] = $(bk_proc_start "$other")"
	crash_daemon_start
	[ "$(cat "$C/$victim/state")" = exited ]
	grep -q "container $victim: the host rebooted" "$BK_LOG"
	bk_alive "$other"
	crash_invariants
	# It starts again as a new run.
	out=$(ct_ctl "$victim" start)
	[ "${out%%$'\n'*}" = OK ]
	ct_track "$victim"
	[ "$(cat "$C/$victim/pid")" != "$other" ]
	kill "$other"
}

@test "a recycled pid in the same boot (start time differs): exited, the other process untouched" {
	start_net
	victim=$(ct_run "busybox sleep 600")
	vpid=$(cat "$C/$victim/pid")
	bk_daemon_term TERM
	kill -KILL "$vpid"
	bk_wait_gone "$vpid"
	bk_bg /dev/null sleep 600
	other=$BK_BG_PID
	edit_record "$victim" "c['pid'] = $other"
	crash_daemon_start
	[ "$(cat "$C/$victim/state")" = exited ]
	bk_alive "$other"
	crash_invariants
	kill "$other"
}

# The daemon's spare inits (engine/proc/spare_init.c): its children started as
# `bockerfs-init --spare FD` that no start has taken yet (a container's init keeps
# that command line).  On cgroup v1 each is in a spare-N group of the store's (a
# start renames the group of the spare it takes after the container); v2 cannot
# rename a group, and there a start moves the spare into the container's group,
# so a spare is one in no group of the store's.
spare_inits() {
	local p tag
	tag=$(head -c 8 "$BK_STORE/cgroup-tag")
	for p in $(pgrep -P "$BK_PID"); do
		[[ $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) == "bockerfs-init --spare "* ]] || continue
		if [ "$(cg_version)" = 2 ]; then
			! grep -q "/$tag/" "/proc/$p/cgroup" || continue
		else
			spare_group_of "$p" >/dev/null || continue
		fi
		bk_alive "$p" && echo "$p"
	done
	return 0
}

# spare_group_of PID: PID's spare-N group of the store (v1: as its memory hierarchy
# names it); fails if it is in none.
spare_group_of() {
	local g
	g=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' "/proc/$1/cgroup" 2>/dev/null)
	[[ $g =~ /$(head -c 8 "$BK_STORE/cgroup-tag")/spare-[0-9]+$ ]] && echo "$g"
}

# spare_groups [TAG]: the spare-N groups of the store's cgroup parents (every hierarchy).
spare_groups() {
	cg_store_groups "${1:-$BK_STORE}" | grep '/spare-[0-9]*$'
}

# Every spare-N group of the store's cgroup parent holds exactly one live spare init of
# the running daemon, in every hierarchy (so none is left over by an earlier daemon);
# on cgroup v2 there is none.
spare_groups_ok() {
	local d procs live
	live=$(spare_inits)
	for d in $(spare_groups); do
		[ "$(cg_version)" = 1 ] || { echo "spare group $d on cgroup v2" >&2; return 1; }
		procs=$(cat "$d/cgroup.procs")
		[ "$(wc -w <<<"$procs")" = 1 ] && grep -qx "$procs" <<<"$live" ||
			{ echo "$d holds '$procs' (spares: $live)" >&2; return 1; }
	done
}

@test "spare inits: made ahead (v1: in groups of their own), each serves one start; they end with the daemon (TERM or KILL), and a dead daemon's groups go at the next start" {
	start_net
	tag=$(head -c 8 "$BK_STORE/cgroup-tag")
	bk_wait_until "$BK_DEADLINE" eval 'test -n "$(spare_inits)"' || bk_fail "no spare init"
	spares=$(spare_inits)
	for p in $spares; do
		# Its own pid namespace, and (v1) a spare-N group, not a container's.
		[ "$(readlink "/proc/$p/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]
		[ "$(cg_version)" = 2 ] || spare_group_of "$p" >/dev/null || bk_fail "$p: $(cat "/proc/$p/cgroup")"
		# Never in a container's group.
		for d in $(cg_store_groups "$tag"); do
			! grep -qx "$p" "$d/cgroup.procs" || [[ $d == */spare-* ]] || bk_fail "spare $p is in $d"
		done
	done
	spare_groups_ok
	# A start takes one: the container's init was a spare; it is now in the container's group
	# (v1: the spare's, renamed), the one the status names.
	id=$(ct_run "busybox sleep 600")
	pid=$(cat "$C/$id/pid")
	grep -qx "$pid" <<<"$spares" || bk_fail "the init $pid was not a spare ($spares)"
	cg_proc_in "$pid" "$id" || bk_fail "$pid: $(cat "/proc/$pid/cgroup"), status: cgroup $(cg_path "$id")"
	! spare_inits | grep -qx "$pid" || bk_fail "$pid is still counted a spare"
	[ "$(cat "$C/$id/state")" = running ]
	# A clean stop ends the spares and removes their groups; the container runs on.
	old=$(spare_inits)
	bk_daemon_term TERM
	for p in $old; do bk_wait_gone "$p" || bk_fail "spare $p outlived the daemon"; done
	[ -z "$(spare_groups "$tag")" ] || bk_fail "spare groups left: $(spare_groups "$tag")"
	bk_alive "$pid"
	# SIGKILL: the spares see EOF and exit; the next daemon removes their empty groups.
	crash_daemon_start
	bk_wait_until "$BK_DEADLINE" eval 'test -n "$(spare_inits)"' || bk_fail "no spare init"
	old=$(spare_inits)
	bk_daemon_kill9
	for p in $old; do bk_wait_gone "$p" || bk_fail "spare $p outlived the killed daemon"; done
	crash_daemon_start
	bk_wait_until "$BK_DEADLINE" spare_groups_ok
	crash_invariants
	bk_alive "$pid"
	[ "$(cat "$C/$id/state")" = running ]
}

@test "spare inits killed from outside (by pid, as anyone may): every later start still succeeds" {
	start_net
	bk_wait_until "$BK_DEADLINE" eval 'test -n "$(spare_inits)"' || bk_fail "no spare init"
	spares=$(spare_inits)
	for p in $spares; do kill -KILL "$p"; done
	# Each start finds a dead spare (or none) and must not fail for it.
	for i in 1 2 3 4 5 6; do
		id=$(ct_run "busybox true") || bk_fail "run $i after the spares were killed"
		out=$(timeout 20 cat "$C/$id/wait")
		[ "$out" = "exit 0" ] || bk_fail "run $i: $out"
		ct_ctl "$id" 'rm force' >/dev/null
	done
	bk_wait_until "$BK_DEADLINE" spare_groups_ok
	crash_invariants
}

#!/usr/bin/env bats
# Resource limits and stats, end to end, on this host's cgroup v1 hierarchy
# (/sys/fs/cgroup/<controller>/bockerfs/<ID>): `limits` read back and written
# before start, while running and after exit; the cgroup files they give;
# EINVAL for malformed values and the kernel's error for memory below current
# use, the old limits kept; a memory hog OOM-killed and reported; a fork bomb
# contained by pids; stats moving under a busy loop and capped by cpus;
# cgroups removed at stop and rm, left-over ones cleaned at start;
# --default-limit; limits across a daemon restart; two daemons with a
# container of the same name.
#
# Each test runs its daemon in a throwaway network namespace (tests/lib/net.bash
# says why) and removes everything it made even when it fails: containers
# (rm force, then their inits by PID), daemons (by PID), namespaces, and any
# cgroup directory the test made by hand.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'
load '../lib/net'

: "${BATS_TEST_TIMEOUT:=120}"

CTRLS="cpu cpuacct memory pids devices"
V1_UNLIMITED=9223372036854771712 # memory.limit_in_bytes when unlimited (page-rounded LONG_MAX)

setup_file() {
	ct_setup_file
}

teardown_file() {
	ct_teardown_file
}

setup() {
	[ -d "$CT_CG/memory" ] && [ -d "$CT_CG/pids" ] && [ -f "$CT_CG/cpu/cpu.shares" ] ||
		skip "these tests need the cgroup v1 cpu, memory and pids hierarchies"
}

teardown() {
	local - d
	set +e
	[ -n "${D2:-}" ] && ct_rm_all "$D2/mnt"
	# Cgroup directories made by hand (empty ones; rmdir never removes a populated group).
	[ -f "$BATS_TEST_TMPDIR/cg-made" ] && while read -r d; do
		[ -d "$d" ] && rmdir "$d"
	done <"$BATS_TEST_TMPDIR/cg-made"
	net_teardown
}

# cg_dirs ID: ID's group directories, one per controller that has one.
cg_dirs() {
	local c
	for c in $CTRLS; do
		[ -d "$CT_CG/$c/$(ct_cg_parent)/$1" ] && echo "$CT_CG/$c/$(ct_cg_parent)/$1"
	done
	return 0
}

# stat_of ID KEY: one value from ID's stats.
stat_of() {
	awk -v k="$2" '$1 == k { print $2; f = 1 } END { exit !f }' "$C/$1/stats"
}

# lim_write ID TEXT: one write of TEXT to ID's limits; "OK" or the errno, then the read-back.
lim_write() {
	bk_write_errno "$C/$1/limits" "$2"
}

# pids 2048: the daemon's default, podman's (engine/limits.h).
DEFAULTS=$'memory max\ncpu.shares 1024\ncpus max\npids 2048\n'

# ---- limits, read back and applied -------------------------------------------

@test "limits: the full set read back; set before start; cgroup files at start; the container's processes in its groups; stats zero when not running" {
	net_start
	net_create id 'echo up; sleep 1000'
	bk_assert_content "$C/$id/limits" "$DEFAULTS"
	bk_assert_content "$C/$id/stats" $'cpu_usec 0\nmemory 0\nmemory_max 0\npids 0\noom_kills 0\n'
	run lim_write "$id" $'memory 64M\ncpu.shares 512\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	# A write merges its keys into the set.
	run lim_write "$id" $'cpus 0.5\npids 50\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_assert_content "$C/$id/limits" $'memory 67108864\ncpu.shares 512\ncpus 0.500\npids 50\n'
	[ -z "$(cg_dirs "$id")" ] || bk_fail "groups before start: $(cg_dirs "$id")"

	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	[ "$(cg_dirs "$id" | wc -l)" = 5 ] || bk_fail "groups: $(cg_dirs "$id")"
	[ "$(ct_cg cpu "$id" cpu.shares)" = 512 ]
	[ "$(ct_cg cpu "$id" cpu.cfs_period_us)" = 100000 ]
	[ "$(ct_cg cpu "$id" cpu.cfs_quota_us)" = 50000 ]
	[ "$(ct_cg memory "$id" memory.limit_in_bytes)" = 67108864 ]
	[ "$(ct_cg pids "$id" pids.max)" = 50 ]
	pid=$(cat "$C/$id/pid")
	for c in $CTRLS; do
		grep -qx "$pid" "$CT_CG/$c/$(ct_cg_parent)/$id/cgroup.procs" || bk_fail "init $pid is not in $c/$(ct_cg_parent)/$id"
	done
	# The command (pid 2 inside) too.
	for p in $(cat "$CT_CG/pids/$(ct_cg_parent)/$id/cgroup.procs"); do
		[ "$p" = "$pid" ] && continue
		grep -q "^[0-9]*:memory:/$(ct_cg_parent)/$id\$" "/proc/$p/cgroup" || bk_fail "$p: $(cat "/proc/$p/cgroup")"
	done
	[ "$(stat_of "$id" pids)" -ge 2 ] || bk_fail "stats: $(cat "$C/$id/stats")"
}

@test "live change while running: cpus 0.25, memory, pids, cpu.shares applied at once; max removes a limit" {
	net_start
	net_create id 'echo up; sleep 1000' limits=$'cpus 0.5\nmemory 64M'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	[ "$(ct_cg cpu "$id" cpu.cfs_quota_us)" = 50000 ]
	run lim_write "$id" $'cpus 0.25\nmemory 100M\npids 40\ncpu.shares 256\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ "$(ct_cg cpu "$id" cpu.cfs_quota_us)" = 25000 ] || bk_fail "quota $(ct_cg cpu "$id" cpu.cfs_quota_us)"
	[ "$(ct_cg memory "$id" memory.limit_in_bytes)" = 104857600 ]
	[ "$(ct_cg pids "$id" pids.max)" = 40 ]
	[ "$(ct_cg cpu "$id" cpu.shares)" = 256 ]
	bk_assert_content "$C/$id/limits" $'memory 104857600\ncpu.shares 256\ncpus 0.250\npids 40\n'
	# K and G suffixes, and max.
	run lim_write "$id" $'memory 1G\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ "$(ct_cg memory "$id" memory.limit_in_bytes)" = 1073741824 ]
	run lim_write "$id" $'memory max\ncpus max\npids max\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ "$(ct_cg memory "$id" memory.limit_in_bytes)" = "$V1_UNLIMITED" ]
	[ "$(ct_cg cpu "$id" cpu.cfs_quota_us)" = -1 ]
	[ "$(ct_cg pids "$id" pids.max)" = max ]
	bk_assert_content "$C/$id/limits" $'memory max\ncpu.shares 256\ncpus max\npids max\n'
	bk_assert_content "$C/$id/state" $'running\n'
}

@test "limits written after exit apply at the next start" {
	net_start
	net_create id 'echo up; sleep 1000' limits='pids 50'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	run ct_ctl "$id" 'stop 1'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	run lim_write "$id" $'cpus 0.5\nmemory 48M\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_assert_content "$C/$id/limits" $'memory 50331648\ncpu.shares 1024\ncpus 0.500\npids 50\n'
	net_start_ctr "$id"
	[ "$(ct_cg cpu "$id" cpu.cfs_quota_us)" = 50000 ]
	[ "$(ct_cg memory "$id" memory.limit_in_bytes)" = 50331648 ]
	[ "$(ct_cg pids "$id" pids.max)" = 50 ]
}

# ---- errors ----------------------------------------------------------------------

@test "EINVAL for memory -1, cpus abc, pids 0, an unknown key (before start and while running): text in err, errors and the read-back; old limits kept" {
	net_start
	net_create id 'echo up; sleep 1000' limits=$'memory 64M\ncpus 0.5\npids 50'
	want=$'memory 67108864\ncpu.shares 1024\ncpus 0.500\npids 50\n'
	local -A bad=(
		['memory -1']="memory '-1'"
		['cpus abc']="cpus 'abc'"
		['pids 0']="pids '0'"
		['swap 1G']="unknown key 'swap'"
		['memory']="memory"
		[$'memory 100M\npids 0']="pids '0'"
		[$'cpus 0.25\nbogus 1']="bogus"
	)
	for phase in created running; do
		if [ "$phase" = running ]; then
			net_start_ctr "$id"
			ct_wait_log "$id" '^up$'
		fi
		for v in "${!bad[@]}"; do
			run lim_write "$id" "$v"$'\n'
			[ "${lines[0]}" = EINVAL ] || bk_fail "$phase: '$v': $output"
			bk_check_error EINVAL "/containers/$id/limits" 'write|limits' "containers/$id/err" \
				"${lines[1]}" limits "${bad[$v]}" || return
			bk_assert_content "$C/$id/limits" "$want" || bk_fail "$phase: after '$v'"
		done
	done
	# Nothing of a refused write reached the cgroup.
	[ "$(ct_cg memory "$id" memory.limit_in_bytes)" = 67108864 ]
	[ "$(ct_cg cpu "$id" cpu.cfs_quota_us)" = 50000 ]
	[ "$(ct_cg pids "$id" pids.max)" = 50 ]
}

@test "memory below current use on a running container: the kernel's EBUSY with text; limits and cgroup unchanged; it runs on" {
	net_start
	# ~20 MB in /dev/shm (a tmpfs, charged to the container, not reclaimable without swap).
	net_create id 'head -c 20000000 /dev/zero >/dev/shm/x && echo filled; sleep 1000'
	net_start_ctr "$id"
	ct_wait_log "$id" '^filled$'
	used=$(stat_of "$id" memory)
	[ "$used" -ge 20000000 ] || bk_fail "memory use $used after 20 MB in /dev/shm"
	run lim_write "$id" $'memory 8M\n'
	[ "${lines[0]}" = EBUSY ] || bk_fail "memory 8M: $output"
	bk_check_error EBUSY "/containers/$id/limits" 'write|limits' "containers/$id/err" "${lines[1]}" \
		limits memory "busy" || return
	bk_assert_content "$C/$id/limits" "$DEFAULTS"
	[ "$(ct_cg memory "$id" memory.limit_in_bytes)" = "$V1_UNLIMITED" ]
	bk_assert_content "$C/$id/state" $'running\n'
	# A refused write with several keys keeps the others too.
	run lim_write "$id" $'pids 60\nmemory 8M\n'
	[ "${lines[0]}" = EBUSY ] || bk_fail "pids 60 + memory 8M: $output"
	bk_assert_content "$C/$id/limits" "$DEFAULTS"
	[ "$(ct_cg pids "$id" pids.max)" = 2048 ] || bk_fail "pids.max $(ct_cg pids "$id" pids.max) after a refused write"
	# Above the use: accepted.
	run lim_write "$id" $'memory 48M\n'
	[ "${lines[0]}" = OK ] || bk_fail "memory 48M: $output"
	[ "$(ct_cg memory "$id" memory.limit_in_bytes)" = 50331648 ]
}

# ---- OOM, fork bomb ----------------------------------------------------------------

@test "a memory hog under memory 32M is OOM-killed: state exited, oomkilled 1, exit 137, wait signal 9" {
	net_start
	net_create id 'x=a; while true; do x="$x$x"; done' limits='memory 32M'
	net_start_ctr "$id"
	bk_assert_content "$C/$id/wait" $'signal 9\n'
	bk_assert_content "$C/$id/state" $'exited\n'
	[ "$(ct_status "$id" oomkilled)" = 1 ] || bk_fail "status: $(cat "$C/$id/status")"
	[ "$(ct_status "$id" exit)" = 137 ]
	[ "$(ct_status "$id" signal)" = 9 ]
	# A container killed otherwise is not reported as OOM-killed.
	net_create k 'sleep 1000' limits='memory 32M'
	net_start_ctr "$k"
	run ct_ctl "$k" kill
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_assert_content "$C/$k/wait" $'signal 9\n'
	[ "$(ct_status "$k" oomkilled)" = 0 ] || bk_fail "status: $(cat "$C/$k/status")"
}

@test "a child OOM-killed in a running container: oom_kills in stats, the container runs on" {
	net_start
	net_create id 'sh -c '\''x=a; while true; do x="$x$x"; done'\''; echo "child=$?"; sleep 1000' limits='memory 32M'
	net_start_ctr "$id"
	ct_wait_log "$id" '^child='
	grep -qx 'child=137' "$C/$id/log" || bk_fail "log: $(cat "$C/$id/log")"
	bk_assert_content "$C/$id/state" $'running\n'
	[ "$(stat_of "$id" oom_kills)" -ge 1 ] || bk_fail "stats: $(cat "$C/$id/stats")"
	[ "$(stat_of "$id" memory_max)" -ge 16000000 ] || bk_fail "stats: $(cat "$C/$id/stats")"
}

@test "a fork bomb under pids 32 is contained; the tree answers at once; rm force ends it" {
	net_start
	# exec: the last step needs no new process.
	net_create id 'echo start; b() { b | b & }; b; exec sleep 1000' limits=$'pids 32\ncpus 0.5'
	net_start_ctr "$id"
	ct_wait_log "$id" '^start$'
	bk_wait_until "$BK_DEADLINE" ct_pids_limit_hit "$id" || bk_fail "pids.events: $(ct_cg pids "$id" pids.events)"
	for i in 1 2 3 4 5; do
		n=$(ct_cg pids "$id" pids.current)
		[ "$n" -le 32 ] || bk_fail "pids.current $n"
		ms=$(ct_ms cat "$C/$id/state")
		[ "$ms" -lt 1000 ] || bk_fail "reading state took $ms ms"
		sleep 0.3
	done
	[ "$(stat_of "$id" pids)" -le 32 ] || bk_fail "stats: $(cat "$C/$id/stats")"
	bk_assert_content "$C/$id/state" $'running\n'
	ms=$(ct_ms ct_ctl "$id" 'rm force')
	[ ! -e "$C/$id" ] || bk_fail "still there after rm force"
	[ "$ms" -lt 10000 ] || bk_fail "rm force took $ms ms"
	[ -z "$(cg_dirs "$id")" ] || bk_fail "groups left: $(cg_dirs "$id")"
}
# ---- stats -----------------------------------------------------------------------------

@test "stats move while a busy loop runs: cpu_usec grows in 0.5 s; memory, memory_max, pids" {
	net_start
	net_create id 'echo up; while :; do :; done'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	u1=$(stat_of "$id" cpu_usec)
	sleep 0.5
	u2=$(stat_of "$id" cpu_usec)
	[ $((u2 - u1)) -ge 100000 ] || bk_fail "cpu_usec $u1 -> $u2 in 0.5 s"
	# As cpuacct counts it.
	acct=$(($(ct_cg cpuacct "$id" cpuacct.usage) / 1000))
	[ "$acct" -ge "$u2" ] || bk_fail "cpuacct.usage $acct us < cpu_usec $u2"
	mem=$(stat_of "$id" memory)
	[ "$mem" -gt 0 ] || bk_fail "stats: $(cat "$C/$id/stats")"
	[ "$(stat_of "$id" memory_max)" -ge "$mem" ] || bk_fail "stats: $(cat "$C/$id/stats")"
	[ "$(stat_of "$id" pids)" -ge 2 ] || bk_fail "stats: $(cat "$C/$id/stats")"
	[ "$(stat_of "$id" oom_kills)" = 0 ] || bk_fail "stats: $(cat "$C/$id/stats")"
	run ct_ctl "$id" 'stop 1'
	bk_assert_content "$C/$id/stats" $'cpu_usec 0\nmemory 0\nmemory_max 0\npids 0\noom_kills 0\n'
}

@test "cpus 0.5 caps two busy loops at half a CPU" {
	[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"
	net_start
	net_create id 'echo up; while :; do :; done & while :; do :; done' limits='cpus 0.5'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	sleep 0.3
	t1=$(date +%s%N)
	u1=$(stat_of "$id" cpu_usec)
	sleep 1
	u2=$(stat_of "$id" cpu_usec)
	t2=$(date +%s%N)
	wall=$(((t2 - t1) / 1000))
	used=$((u2 - u1))
	# One quota (50 ms) of slack for the period boundaries.
	[ "$used" -le $((wall / 2 + 60000)) ] || bk_fail "used $used us of CPU in $wall us under cpus 0.5"
	[ "$used" -gt 0 ] || bk_fail "no CPU used"
}

# ---- cleanup -----------------------------------------------------------------------

@test "cgroups: removed when the container stops and at rm force of a running one" {
	net_start
	net_create id 'echo up; sleep 1000' limits='pids 50'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	[ "$(cg_dirs "$id" | wc -l)" = 5 ] || bk_fail "groups: $(cg_dirs "$id")"
	run ct_ctl "$id" 'stop 1'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ -z "$(cg_dirs "$id")" ] || bk_fail "groups left after stop: $(cg_dirs "$id")"
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	[ "$(cg_dirs "$id" | wc -l)" = 5 ] || bk_fail "groups: $(cg_dirs "$id")"
	run ct_ctl "$id" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ -z "$(cg_dirs "$id")" ] || bk_fail "groups left after rm: $(cg_dirs "$id")"
	# One that exits by itself.
	net_create id 'exit 0'
	net_start_ctr "$id"
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	bk_wait_until 5 eval 'test -z "$(cg_dirs "$id")"' || bk_fail "groups left after exit: $(cg_dirs "$id")"
}

@test "left-over groups of our stopped containers are removed at daemon start; a running one's and unknown ones are kept" {
	net_start
	net_create gone 'exit 0'
	net_start_ctr "$gone"
	bk_assert_content "$C/$gone/wait" $'exit 0\n'
	net_create live 'echo up; sleep 1000' limits='pids 50'
	net_start_ctr "$live"
	ct_wait_log "$live" '^up$'
	bk_daemon_kill9
	# What a crash between start and cleanup leaves: empty groups of a stopped container.
	foreign=bkt$$-foreign
	for c in $CTRLS; do
		for g in "$gone" "$foreign"; do
			mkdir "$CT_CG/$c/$(ct_cg_parent)/$g" && echo "$CT_CG/$c/$(ct_cg_parent)/$g" >>"$BATS_TEST_TMPDIR/cg-made"
		done
	done
	net_daemon_start
	[ -z "$(cg_dirs "$gone")" ] || bk_fail "left-over groups kept: $(cg_dirs "$gone")"
	[ "$(cg_dirs "$foreign" | wc -l)" = 5 ] || bk_fail "unknown groups removed: $(cg_dirs "$foreign")"
	[ "$(cg_dirs "$live" | wc -l)" = 5 ] || bk_fail "running container's groups: $(cg_dirs "$live")"
	grep -qx "$(cat "$C/$live/pid")" "$CT_CG/memory/$(ct_cg_parent)/$live/cgroup.procs" || bk_fail "init left its group"
}

# ---- daemon options and restarts -----------------------------------------------------------

@test "--default-limit 'pids 100' and 'memory 256M': new containers start with them; their own limits override; a bad one is refused" {
	net_start --default-limit 'pids 100' --default-limit 'memory 256M'
	net_create id 'echo up; sleep 1000'
	bk_assert_content "$C/$id/limits" $'memory 268435456\ncpu.shares 1024\ncpus max\npids 100\n'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	[ "$(ct_cg pids "$id" pids.max)" = 100 ]
	[ "$(ct_cg memory "$id" memory.limit_in_bytes)" = 268435456 ]
	net_create own 'echo up; sleep 1000' limits='pids 20'
	bk_assert_content "$C/$own/limits" $'memory 268435456\ncpu.shares 1024\ncpus max\npids 20\n'
	net_start_ctr "$own"
	[ "$(ct_cg pids "$own" pids.max)" = 20 ]
	# A malformed default: the daemon refuses to start, saying why (run in our
	# namespace, on a directory of its own, in case it got further).
	mkdir -p "$BK_TMP/bad/root" "$BK_TMP/bad/mnt"
	run timeout 20 "$BOCKERFS_BIN" -f --root "$BK_TMP/bad/root" --storage-size 1G \
		--bridge "$NET_BR" --subnet "$NET_SUBNET" --default-limit 'pids 0' "$BK_TMP/bad/mnt"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ] || bk_fail "daemon with 'pids 0': status $status: $output"
	[[ $output == *pids* ]] || bk_fail "no reason given: $output"
}

@test "limits survive a daemon restart: still in force, applied at the next start, read back" {
	net_start
	net_create run 'echo up; sleep 1000' limits=$'memory 64M\npids 50\ncpus 0.5'
	net_create later 'echo up; sleep 1000' limits=$'memory 48M\npids 40'
	net_start_ctr "$run"
	ct_wait_log "$run" '^up$'
	bk_daemon_term
	net_daemon_start
	[ "$(ct_cg pids "$run" pids.max)" = 50 ] || bk_fail "pids.max $(ct_cg pids "$run" pids.max)"
	net_start_ctr "$later"
	[ "$(ct_cg pids "$later" pids.max)" = 40 ] && [ "$(ct_cg memory "$later" memory.limit_in_bytes)" = 50331648 ] ||
		bk_fail "started after the restart with pids.max $(ct_cg pids "$later" pids.max), memory.limit_in_bytes $(ct_cg memory "$later" memory.limit_in_bytes) (wanted 40, 50331648)"
	bk_assert_content "$C/$run/limits" $'memory 67108864\ncpu.shares 1024\ncpus 0.500\npids 50\n'
	bk_assert_content "$C/$later/limits" $'memory 50331648\ncpu.shares 1024\ncpus max\npids 40\n'
}

# ---- two daemons -----------------------------------------------------------------------------

# A second daemon on a store and network namespace of its own (d2).
D2_NS=bkt$$-h2
lim_d2_start() {
	net_ns_add "$D2_NS" || return
	D2=$BK_TMP/d2
	mkdir -p "$D2/root" "$D2/mnt"
	(
		trap - INT QUIT
		exec nsenter --net="/run/netns/$D2_NS" "$NET_BIN_REAL" -f \
			--root "$D2/root" --storage-size 1G --bridge "bkt$$b" --subnet 10.202.0.0/16 \
			"$D2/mnt" </dev/null >>"$D2/log" 2>&1 3>&-
	) &
	D2_PID=$!
	bk_track daemon "$D2_PID"
	bk_wait_until "$BK_DEADLINE" bk_mounted "$D2/mnt" || bk_fail "second daemon: $(cat "$D2/log")" || return
	bk_wait_until "$BK_DEADLINE" cat "$D2/mnt/version" >/dev/null || return
	bk_command "$D2/mnt/images/import" "$BK_IMG_ID_RE" "$BB" busybox >/dev/null ||
		bk_fail "import into the second daemon"
}

@test "two daemons, each with a container named web: each keeps its own limits and stats; one stopping leaves the other's group alone" {
	net_start
	lim_d2_start
	mkdir "$C/web"
	echo busybox >"$C/web/image"
	echo 'echo up; sleep 1000' >"$C/web/cmd"
	echo 'memory 64M' >"$C/web/limits"
	net_start_ctr web
	ct_wait_log web '^up$'
	pid1=$(cat "$C/web/pid")
	procs=$(stat_of web pids)
	mkdir "$D2/mnt/containers/web"
	echo busybox >"$D2/mnt/containers/web/image"
	echo 'echo up; sleep 1000' >"$D2/mnt/containers/web/cmd"
	echo 'memory 128M' >"$D2/mnt/containers/web/limits"
	run bk_write_errno "$D2/mnt/containers/web/ctl" $'start\n'
	if [ "${lines[0]}" = OK ]; then
		pid2=$(cat "$D2/mnt/containers/web/pid")
		bk_track helper "$pid2"
	fi
	# Every check is made (and reported) before the test fails.
	bad=0
	# Ours is still limited to 64M, and its group holds only its own processes.
	cgline=$(grep ':memory:' "/proc/$pid1/cgroup")
	limit=$(cat "$CT_CG/memory${cgline##*:memory:}/memory.limit_in_bytes")
	[ "$limit" = 67108864 ] ||
		bk_fail "our web's memory limit is $limit (its group: ${cgline##*:memory:}), the other daemon's web set 128M" || bad=1
	[ "$(stat_of web pids)" = "$procs" ] ||
		bk_fail "our web's stats count $(stat_of web pids) processes, not $procs" || bad=1
	# The other one stops: ours keeps its group, its limit and its stats.
	run bk_write_errno "$D2/mnt/containers/web/ctl" $'stop 1\n'
	cgline=$(grep ':memory:' "/proc/$pid1/cgroup")
	[[ $cgline == *:memory:/bockerfs/*web ]] ||
		bk_fail "our web was moved out of its group when the other daemon's web stopped: $cgline" || bad=1
	[ "$(stat_of web pids)" = "$procs" ] || bk_fail "our web's stats: $(cat "$C/web/stats" | tr '\n' ' ')" || bad=1
	return "$bad"
}

@test "a clean exit removes the store's cgroup parent, unless a running container keeps it" {
	net_start
	parent=$(ct_cg_parent)
	id=$(ct_run "busybox sleep 600")
	[ -d "$CT_CG/memory/$parent/$id" ]
	bk_daemon_term TERM
	# The running container keeps its group, and so the parent.
	[ -d "$CT_CG/memory/$parent/$id" ]
	net_daemon_start
	out=$(ct_ctl "$id" 'rm force')
	[ "${out%%$'\n'*}" = OK ]
	bk_daemon_term TERM
	for c in $CTRLS; do
		[ ! -e "$CT_CG/$c/$parent" ] || bk_fail "$CT_CG/$c/$parent is left after a clean exit"
	done
}

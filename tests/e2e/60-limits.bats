#!/usr/bin/env bats
# Resource limits and stats, end to end, on this host's cgroups, v1 or v2
# (tests/lib/cgroup.bash reads either; a container's group is the one its
# `status` names): `limits` read back and written before start, while running
# and after exit; the cgroup files they give, and `limits`'s own text written
# back changing none of them; EINVAL for malformed values and EBUSY for memory
# below current use, the old limits kept; a memory hog OOM-killed and
# reported; a fork bomb contained by pids; stats moving under a busy loop and
# capped by cpus; exec sessions in the container's group; device access;
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

setup_file() {
	ct_setup_file
}

teardown_file() {
	ct_teardown_file
}

setup() {
	cg_usable || skip "$(cg_unusable_reason)"
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

# stat_of ID KEY: one value from ID's stats.
stat_of() {
	awk -v k="$2" '$1 == k { print $2; f = 1 } END { exit !f }' "$C/$1/stats"
}

# lim_write ID TEXT: one write of TEXT to ID's limits; "OK" or the errno, then the read-back.
lim_write() {
	bk_write_errno "$C/$1/limits" "$2"
}

# pids 2048: the daemon's default, podman's (engine/parse/parse.h).
DEFAULTS=$'memory max\nmemory-swap default\ncpu.shares 1024\ncpus max\npids 2048\n'

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
	bk_assert_content "$C/$id/limits" $'memory 67108864\nmemory-swap default\ncpu.shares 512\ncpus 0.500\npids 50\n'
	# The status names the group before it exists: under the store's parent, named by the id.
	grp=$(cg_path "$id")
	[[ $grp == /*/"$(head -c 8 "$BK_STORE/cgroup-tag")/$id" ]] || bk_fail "status: cgroup $grp"
	cg_absent "$grp" || bk_fail "groups before start: $(cg_dirs "$grp")"

	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	[ "$(cg_path "$id")" = "$grp" ] || bk_fail "status: cgroup $(cg_path "$id") once running, $grp before"
	cg_present "$grp" || bk_fail "groups: $(cg_dirs "$grp")"
	[ "$(cg_version)" = 2 ] || [ "$(cg_read "$grp" cpu.weight)" = 512 ] || bk_fail "cpu.shares $(cg_read "$grp" cpu.weight)"
	[ "$(cg_read "$grp" cpu.quota)" = "50000 100000" ] || bk_fail "cpu quota $(cg_read "$grp" cpu.quota)"
	[ "$(cg_read "$grp" memory.limit)" = 67108864 ]
	[ "$(cg_read "$grp" pids.max)" = 50 ]
	# The init is where the status says, in every hierarchy, and in each group's cgroup.procs.
	pid=$(cat "$C/$id/pid")
	cg_proc_in "$pid" "$grp" || bk_fail "init $pid: $(cat "/proc/$pid/cgroup"), status: cgroup $grp"
	for d in $(cg_dirs "$grp"); do
		grep -qx "$pid" "$d/cgroup.procs" || bk_fail "init $pid is not in $d"
	done
	# The command (pid 2 inside) too.
	procs=$(cg_read "$grp" procs)
	[ "$(wc -w <<<"$procs")" -ge 2 ] || bk_fail "cgroup.procs: $procs"
	for p in $procs; do
		cg_proc_in "$p" "$grp" || bk_fail "$p: $(cat "/proc/$p/cgroup")"
	done
	[ "$(stat_of "$id" pids)" -ge 2 ] || bk_fail "stats: $(cat "$C/$id/stats")"
}

@test "live change while running: cpus 0.25, memory, pids, cpu.shares applied at once; max removes a limit" {
	net_start
	net_create id 'echo up; sleep 1000' limits=$'cpus 0.5\nmemory 64M'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	grp=$(cg_path "$id")
	[ "$(cg_read "$grp" cpu.quota)" = "50000 100000" ]
	w=$(cg_read "$grp" cpu.weight)
	run lim_write "$id" $'cpus 0.25\nmemory 100M\npids 40\ncpu.shares 256\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ "$(cg_read "$grp" cpu.quota)" = "25000 100000" ] || bk_fail "quota $(cg_read "$grp" cpu.quota)"
	[ "$(cg_read "$grp" memory.limit)" = 104857600 ]
	[ "$(cg_read "$grp" pids.max)" = 40 ]
	# A quarter of the default shares: less weight than before (v1: the shares themselves).
	[ "$(cg_read "$grp" cpu.weight)" -lt "$w" ] || bk_fail "cpu weight $w -> $(cg_read "$grp" cpu.weight) for shares 1024 -> 256"
	[ "$(cg_version)" = 2 ] || [ "$(cg_read "$grp" cpu.weight)" = 256 ]
	bk_assert_content "$C/$id/limits" $'memory 104857600\nmemory-swap default\ncpu.shares 256\ncpus 0.250\npids 40\n'
	# K and G suffixes, and max.
	run lim_write "$id" $'memory 1G\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ "$(cg_read "$grp" memory.limit)" = 1073741824 ]
	run lim_write "$id" $'memory max\ncpus max\npids max\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ "$(cg_read "$grp" memory.limit)" = max ]
	[ "$(cg_read "$grp" cpu.quota)" = "max 100000" ]
	[ "$(cg_read "$grp" pids.max)" = max ]
	bk_assert_content "$C/$id/limits" $'memory max\nmemory-swap default\ncpu.shares 256\ncpus max\npids max\n'
	bk_assert_content "$C/$id/state" $'running\n'
}

# swap_is GRP TOTAL MEM: the group's swap limit is memory plus swap TOTAL (bytes or max)
# for memory MEM: v1's memsw holds TOTAL, v2's memory.swap.max the swap alone.
swap_is() {
	local got want=$2
	got=$(cg_read "$1" memory.swap) || return
	if [ "$(cg_version)" = 2 ] && [ "$2" != max ]; then want=$(($2 - $3)); fi
	[ "$got" = "$want" ] || bk_fail "swap: $got, want $want (memory plus swap $2, memory $3)"
}

@test "memory-swap: docker's memory plus swap, twice memory by default, live both ways, refused below memory or without it; EOPNOTSUPP where the kernel does not account swap" {
	net_start
	net_create id 'echo up; sleep 1000' limits=$'memory 64M\nmemory-swap 100M'
	[ "$(lim_of "$id" memory-swap)" = 104857600 ]
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	grp=$(cg_path "$id")
	if ! [ -e "$(cg_file "$grp" memory.swap)" ]; then
		# No swap accounting: a size cannot hold, default and max change nothing.
		run lim_write "$id" $'memory-swap 200M\n'
		[ "${lines[0]}" = EOPNOTSUPP ] || bk_fail "$output"
		run lim_write "$id" $'memory-swap max\n'
		[ "${lines[0]}" = OK ] || bk_fail "$output"
		return
	fi
	swap_is "$grp" 104857600 67108864
	# Both up (v1: memsw first), both down (v1: memory first), then docker's default.
	run lim_write "$id" $'memory 200M\nmemory-swap 300M\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ "$(cg_read "$grp" memory.limit)" = 209715200 ]
	swap_is "$grp" 314572800 209715200
	run lim_write "$id" $'memory-swap 60M\nmemory 50M\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ "$(cg_read "$grp" memory.limit)" = 52428800 ]
	swap_is "$grp" 62914560 52428800
	run lim_write "$id" $'memory-swap default\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	swap_is "$grp" 104857600 52428800
	# Equal to memory: no swap at all.
	run lim_write "$id" $'memory-swap 50M\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	swap_is "$grp" 52428800 52428800
	# Refused whole, nothing changed: below memory, memory raised above it, no memory limit.
	files=$(cg_limit_files "$grp")
	shown=$(cat "$C/$id/limits")
	for v in $'memory-swap 40M' $'memory 60M' $'memory max' $'cpus 0.5\nmemory-swap 10M'; do
		run lim_write "$id" "$v"$'\n'
		[ "${lines[0]}" = EINVAL ] || bk_fail "'$v': $output" || return
		[[ ${lines[1]} == *"memory-swap"* ]] || bk_fail "'$v': $output" || return
		[ "$(cat "$C/$id/limits")" = "$shown" ] || bk_fail "'$v': limits $(cat "$C/$id/limits")" || return
		[ "$(cg_limit_files "$grp")" = "$files" ] || bk_fail "'$v' changed the cgroup" || return
	done
	run lim_write "$id" $'memory max\nmemory-swap default\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ "$(cg_read "$grp" memory.limit)" = max ]
	[ "$(cg_read "$grp" memory.swap)" = max ]
	run lim_write "$id" $'memory 64M\nmemory-swap max\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	[ "$(cg_read "$grp" memory.swap)" = max ]
	bk_assert_content "$C/$id/state" $'running\n'
}

# lim_of ID KEY: one value from ID's limits.
lim_of() {
	awk -v k="$2" '$1 == k { print $2; f = 1 } END { exit !f }' "$C/$1/limits"
}

@test "round trip: each value reads back as written; writing back what limits shows changes no cgroup file; a start applies what a live write does" {
	net_start
	net_create id 'echo up; sleep 1000'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	grp=$(cg_path "$id")
	# Each KEY VALUE reads back as VALUE (memory in bytes, here not a multiple of a page;
	# cpus with three decimals).
	local -a vals=(
		'cpu.shares 2' 'cpu.shares 3' 'cpu.shares 100' 'cpu.shares 1000' 'cpu.shares 1023'
		'cpu.shares 1024' 'cpu.shares 1025' 'cpu.shares 4096' 'cpu.shares 100000' 'cpu.shares 262144'
		'memory 100000001' 'memory 67108864' 'cpus 0.333' 'cpus 0.010' 'pids 77' 'pids 1'
	)
	prev_w=0
	local -a ends=()
	for kv in "${vals[@]}"; do
		run lim_write "$id" "$kv"$'\n'
		[ "${lines[0]}" = OK ] || bk_fail "$kv: $output" || return
		[ "$(lim_of "$id" "${kv% *}")" = "${kv#* }" ] || bk_fail "wrote '$kv', limits: $(cat "$C/$id/limits")" || return
		files=$(cg_limit_files "$grp")
		shown=$(cat "$C/$id/limits")
		# What limits shows, written back: every file and the read-back as they were.
		run lim_write "$id" "$shown"
		[ "${lines[0]}" = OK ] || bk_fail "writing back '$shown': $output" || return
		[ "$(cg_limit_files "$grp")" = "$files" ] ||
			bk_fail "after '$kv', writing back what limits shows changed the cgroup: $files -> $(cg_limit_files "$grp")" || return
		[ "$(cat "$C/$id/limits")" = "$shown" ] || bk_fail "limits $shown -> $(cat "$C/$id/limits")" || return
		# More shares never give less weight (v2: cpu.weight, not hard-coded here).
		if [[ $kv == cpu.shares* ]]; then
			w=$(cg_read "$grp" cpu.weight)
			[ "$w" -ge "$prev_w" ] || bk_fail "'$kv': weight $w, below the $prev_w of fewer shares" || return
			[ "$(cg_version)" = 2 ] || [ "$w" = "${kv#* }" ] || bk_fail "'$kv': cpu.shares $w" || return
			case ${kv#* } in 2 | 1024 | 262144) ends+=("$w") ;; esac
			prev_w=$w
		fi
	done
	# The least, the default and the most shares: three different weights.
	[ "${ends[0]}" -lt "${ends[1]}" ] && [ "${ends[1]}" -lt "${ends[2]}" ] || bk_fail "weights for 2, 1024, 262144: ${ends[*]}"
	# The files hold the last values.
	[ "$(cg_read "$grp" memory.limit)" = 67108864 ] && [ "$(cg_read "$grp" pids.max)" = 1 ] &&
		[ "$(cg_read "$grp" cpu.quota)" = "1000 100000" ]
	# A container started with those limits gets the same files as the live writes gave.
	shown=$(cat "$C/$id/limits")
	files=$(cg_limit_files "$grp")
	net_create two 'echo up; sleep 1000' limits="$shown"
	[ "$(cat "$C/$two/limits")" = "$shown" ] || bk_fail "limits: $(cat "$C/$two/limits"), written: $shown"
	run lim_write "$id" $'pids 50\n'
	run lim_write "$two" $'pids 50\n'
	files=$(cg_limit_files "$grp")
	net_start_ctr "$two"
	ct_wait_log "$two" '^up$'
	[ "$(cg_limit_files "$two")" = "$files" ] || bk_fail "at start: $(cg_limit_files "$two"); live: $files"
}

@test "exec sessions join the container's group: the same group as the init, as the status names it; counted in its stats" {
	net_start
	net_create id 'echo up; sleep 1000'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	grp=$(cg_path "$id")
	n=$(cat "$C/$id/exec/clone")
	run bk_write_errno "$C/$id/exec/$n/ctl" $'exec echo in; exec sleep 4243\n'
	[ "${lines[0]}" = OK ] || bk_fail "exec: $output"
	# The session's process on the host: sleep 4243 in the container's pid namespace.
	ns=$(readlink "/proc/$(cat "$C/$id/pid")/ns/pid")
	find_exec() {
		local p
		for p in $(pgrep -f '^sleep 4243$'); do
			[ "$(readlink "/proc/$p/ns/pid")" = "$ns" ] && echo "$p"
		done
	}
	bk_wait_until "$BK_DEADLINE" eval '[ -n "$(find_exec)" ]' || bk_fail "no exec process"
	pid=$(find_exec)
	bk_track helper "$pid"
	cg_proc_in "$pid" "$grp" || bk_fail "exec session $pid: $(cat "/proc/$pid/cgroup"); status: cgroup $grp"
	grep -qx "$pid" <<<"$(cg_read "$grp" procs)" || bk_fail "$pid not in $(cg_file "$grp" procs)"
	[ "$(cg_read "$grp" pids.current)" -ge 3 ] || bk_fail "pids.current $(cg_read "$grp" pids.current)"
	[ "$(stat_of "$id" pids)" -ge 3 ] || bk_fail "stats: $(cat "$C/$id/stats")"
	kill "$pid"
	bk_assert_content "$C/$id/exec/$n/wait" $'signal 15\n'
	bk_assert_content "$C/$id/state" $'running\n'
}

# cg_open GROUP NODE: open NODE for reading from a process in GROUP (every hierarchy
# on v1): OK or the errno.
cg_open() {
	sh -c 'for d in $1; do echo $$ >"$d/cgroup.procs" || exit 1; done; shift; exec "$@"' sh \
		"$(cg_dirs "$1" | tr '\n' ' ')" "$BK_PY" "$BK_LIB/bkio.py" errno open "$2"
}

@test "devices: the standard nodes open, mknod is allowed, other devices are refused, inside the container and to any process in its group" {
	net_start
	net_create id 'echo up; sleep 1000'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	grp=$(cg_path "$id")
	# Inside: Docker's rules (v1: devices.allow; v2: the engine's BPF program).
	n=$(cat "$C/$id/exec/clone")
	run bk_write_errno "$C/$id/exec/$n/ctl" $'exec for d in null zero full random urandom; do head -c 1 /dev/$d >/dev/null && echo "$d ok"; done; mknod /tmp/loop b 7 0 && mknod /tmp/mem c 1 1 && echo mknod ok; head -c 1 /tmp/mem; echo "mem $?"\n'
	[ "${lines[0]}" = OK ] || bk_fail "exec: $output"
	out=$(timeout 20 cat "$C/$id/exec/$n/out")
	bk_assert_content "$C/$id/exec/$n/wait" $'exit 0\n'
	for want in 'null ok' 'zero ok' 'full ok' 'random ok' 'urandom ok' 'mknod ok' 'mem 1'; do
		grep -qxF "$want" <<<"$out" || bk_fail "no '$want': $out"
	done
	# From the host, on a file system that honours device nodes: the same rules hold for a
	# process moved into the group, where no nodev mount hides them.
	mkdir "$BK_TMP/devs"
	mount -t tmpfs -o dev,size=1M bkt-devs "$BK_TMP/devs"
	mknod "$BK_TMP/devs/null" c 1 3
	mknod "$BK_TMP/devs/loop" b 7 0
	mknod "$BK_TMP/devs/mem" c 1 1
	[ "$(bk_errno open "$BK_TMP/devs/null")" = OK ]
	[ "$(bk_errno open "$BK_TMP/devs/loop")" != EPERM ] || bk_fail "loop: EPERM outside the group"
	[ "$(cg_open "$grp" "$BK_TMP/devs/null")" = OK ] || bk_fail "null: $(cg_open "$grp" "$BK_TMP/devs/null")"
	[ "$(cg_open "$grp" "$BK_TMP/devs/loop")" = EPERM ] || bk_fail "loop: $(cg_open "$grp" "$BK_TMP/devs/loop")"
	[ "$(cg_open "$grp" "$BK_TMP/devs/mem")" = EPERM ] || bk_fail "mem: $(cg_open "$grp" "$BK_TMP/devs/mem")"
	umount "$BK_TMP/devs"
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
	bk_assert_content "$C/$id/limits" $'memory 50331648\nmemory-swap default\ncpu.shares 1024\ncpus 0.500\npids 50\n'
	net_start_ctr "$id"
	[ "$(cg_read "$id" cpu.quota)" = "50000 100000" ]
	[ "$(cg_read "$id" memory.limit)" = 50331648 ]
	[ "$(cg_read "$id" pids.max)" = 50 ]
}

# ---- errors ----------------------------------------------------------------------

@test "EINVAL for memory -1, cpus abc, pids 0, an unknown key (before start and while running): text in err, errors and the read-back; old limits kept" {
	net_start
	net_create id 'echo up; sleep 1000' limits=$'memory 64M\ncpus 0.5\npids 50'
	want=$'memory 67108864\nmemory-swap default\ncpu.shares 1024\ncpus 0.500\npids 50\n'
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
	[ "$(cg_read "$id" memory.limit)" = 67108864 ]
	[ "$(cg_read "$id" cpu.quota)" = "50000 100000" ]
	[ "$(cg_read "$id" pids.max)" = 50 ]
}

@test "memory below current use on a running container: EBUSY with text; limits and cgroup unchanged; it runs on" {
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
		limits memory || return
	bk_assert_content "$C/$id/limits" "$DEFAULTS"
	[ "$(cg_read "$id" memory.limit)" = max ] || bk_fail "memory limit $(cg_read "$id" memory.limit) after a refused write"
	bk_assert_content "$C/$id/state" $'running\n'
	# Nothing was killed to make room (cgroup v2 would, for a limit below the use).
	[ "$(cg_read "$id" oom_kills)" = 0 ] || bk_fail "oom kills: $(cg_read "$id" oom_kills)"
	[ "$(stat_of "$id" memory)" -ge 20000000 ] || bk_fail "stats: $(cat "$C/$id/stats")"
	# A refused write with several keys keeps the others too.
	run lim_write "$id" $'pids 60\nmemory 8M\n'
	[ "${lines[0]}" = EBUSY ] || bk_fail "pids 60 + memory 8M: $output"
	bk_assert_content "$C/$id/limits" "$DEFAULTS"
	[ "$(cg_read "$id" pids.max)" = 2048 ] || bk_fail "pids.max $(cg_read "$id" pids.max) after a refused write"
	[ "$(cg_read "$id" memory.limit)" = max ]
	# Above the use: accepted.
	run lim_write "$id" $'memory 48M\n'
	[ "${lines[0]}" = OK ] || bk_fail "memory 48M: $output"
	[ "$(cg_read "$id" memory.limit)" = 50331648 ]
	bk_assert_content "$C/$id/state" $'running\n'
}

# ---- OOM, fork bomb ----------------------------------------------------------------

@test "a memory hog under memory 32M is OOM-killed: state exited, oomkilled 1, exit 137, wait signal 9; the whole container ends, its group goes" {
	net_start
	# A second process beside the hog: it goes with the container.
	net_create id 'sleep 1000 & x=a; while true; do x="$x$x"; done' limits='memory 32M'
	grp=$(cg_path "$id")
	net_start_ctr "$id"
	pid=$(cat "$C/$id/pid")
	bk_assert_content "$C/$id/wait" $'signal 9\n'
	bk_assert_content "$C/$id/state" $'exited\n'
	[ "$(ct_status "$id" oomkilled)" = 1 ] || bk_fail "status: $(cat "$C/$id/status")"
	[ "$(ct_status "$id" exit)" = 137 ]
	[ "$(ct_status "$id" signal)" = 9 ]
	bk_wait_gone "$pid" || bk_fail "init $pid outlived the container"
	bk_wait_until 5 cg_absent "$grp" || bk_fail "groups left: $(cg_dirs "$grp"): $(cat "$(cg_file "$grp" procs)")"
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
	# As the cgroup counts them.
	[ "$(cg_read "$id" oom_kills)" = "$(stat_of "$id" oom_kills)" ] ||
		bk_fail "oom kills: cgroup $(cg_read "$id" oom_kills), stats $(stat_of "$id" oom_kills)"
	[ "$(cg_read "$id" memory.peak)" -ge 16000000 ] || bk_fail "memory peak: $(cg_read "$id" memory.peak)"
}

@test "a fork bomb under pids 32 is contained; the tree answers at once; rm force ends it" {
	net_start
	# exec: the last step needs no new process.
	net_create id 'echo start; b() { b | b & }; b; exec sleep 1000' limits=$'pids 32\ncpus 0.5'
	net_start_ctr "$id"
	ct_wait_log "$id" '^start$'
	grp=$(cg_path "$id")
	bk_wait_until "$BK_DEADLINE" ct_pids_limit_hit "$id" || bk_fail "pids.events: $(cat "$(cg_file "$grp" pids.denied)")"
	for i in 1 2 3 4 5; do
		n=$(cg_read "$grp" pids.current)
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
	cg_absent "$grp" || bk_fail "groups left: $(cg_dirs "$grp")"
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
	# As the cgroup counts it (v1: cpuacct.usage, v2: cpu.stat).
	acct=$(cg_read "$id" cpu.usage)
	[ "$acct" -ge "$u2" ] || bk_fail "cgroup's cpu usage $acct us < cpu_usec $u2"
	mem=$(stat_of "$id" memory)
	[ "$mem" -gt 0 ] || bk_fail "stats: $(cat "$C/$id/stats")"
	# Each read of the cgroup file as new as the stats before it.
	[ "$(cg_read "$id" memory.peak)" -ge "$mem" ] || bk_fail "memory peak $(cg_read "$id" memory.peak) < $mem"
	[ "$(cg_read "$id" pids.current)" -ge 2 ] || bk_fail "pids.current $(cg_read "$id" pids.current)"
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
	grp=$(cg_path "$id")
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	cg_present "$grp" || bk_fail "groups: $(cg_dirs "$grp")"
	run ct_ctl "$id" 'stop 1'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	cg_absent "$grp" || bk_fail "groups left after stop: $(cg_dirs "$grp")"
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	cg_present "$grp" || bk_fail "groups: $(cg_dirs "$grp")"
	run ct_ctl "$id" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	cg_absent "$grp" || bk_fail "groups left after rm: $(cg_dirs "$grp")"
	# One that exits by itself.
	net_create id 'exit 0'
	grp=$(cg_path "$id")
	net_start_ctr "$id"
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	bk_wait_until 5 cg_absent "$grp" || bk_fail "groups left after exit: $(cg_dirs "$grp")"
	# Nothing of the store's is left but its parent groups.
	[ -z "$(cg_store_groups "$BK_STORE" | grep -v /spare-)" ] ||
		bk_fail "groups in the store's parent: $(cg_store_groups "$BK_STORE")"
}

@test "left-over groups of our stopped containers are removed at daemon start; a running one's and unknown ones are kept" {
	net_start
	net_create gone 'exit 0'
	net_start_ctr "$gone"
	bk_assert_content "$C/$gone/wait" $'exit 0\n'
	net_create live 'echo up; sleep 1000' limits='pids 50'
	net_start_ctr "$live"
	ct_wait_log "$live" '^up$'
	grp=$(cg_path "$live")
	parent=${grp%/*}
	bk_daemon_kill9
	# What a crash between start and cleanup leaves: empty groups of a stopped container,
	# beside the running one's (in each hierarchy on v1).
	foreign=bkt$$-foreign
	for d in $(cg_dirs "$grp"); do
		for g in "$gone" "$foreign"; do
			mkdir "${d%/*}/$g" && echo "${d%/*}/$g" >>"$BATS_TEST_TMPDIR/cg-made"
		done
	done
	cg_present "$parent/$gone" && cg_present "$parent/$foreign" || bk_fail "made: $(cat "$BATS_TEST_TMPDIR/cg-made")"
	net_daemon_start
	cg_absent "$parent/$gone" || bk_fail "left-over groups kept: $(cg_dirs "$parent/$gone")"
	cg_present "$parent/$foreign" || bk_fail "unknown groups removed: $(cg_dirs "$parent/$foreign")"
	cg_present "$grp" || bk_fail "running container's groups: $(cg_dirs "$grp")"
	cg_proc_in "$(cat "$C/$live/pid")" "$grp" || bk_fail "init left its group"
}

# ---- daemon options and restarts -----------------------------------------------------------

@test "--default-limit 'pids 100' and 'memory 256M': new containers start with them; their own limits override; a bad one is refused" {
	net_start --default-limit 'pids 100' --default-limit 'memory 256M'
	net_create id 'echo up; sleep 1000'
	bk_assert_content "$C/$id/limits" $'memory 268435456\nmemory-swap default\ncpu.shares 1024\ncpus max\npids 100\n'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	[ "$(cg_read "$id" pids.max)" = 100 ]
	[ "$(cg_read "$id" memory.limit)" = 268435456 ]
	net_create own 'echo up; sleep 1000' limits='pids 20'
	bk_assert_content "$C/$own/limits" $'memory 268435456\nmemory-swap default\ncpu.shares 1024\ncpus max\npids 20\n'
	net_start_ctr "$own"
	[ "$(cg_read "$own" pids.max)" = 20 ]
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
	[ "$(cg_read "$run" pids.max)" = 50 ] || bk_fail "pids.max $(cg_read "$run" pids.max)"
	[ "$(cg_read "$run" memory.limit)" = 67108864 ] && [ "$(cg_read "$run" cpu.quota)" = "50000 100000" ] ||
		bk_fail "after the restart: memory $(cg_read "$run" memory.limit), cpu $(cg_read "$run" cpu.quota)"
	net_start_ctr "$later"
	[ "$(cg_read "$later" pids.max)" = 40 ] && [ "$(cg_read "$later" memory.limit)" = 50331648 ] ||
		bk_fail "started after the restart with pids.max $(cg_read "$later" pids.max), memory limit $(cg_read "$later" memory.limit) (wanted 40, 50331648)"
	bk_assert_content "$C/$run/limits" $'memory 67108864\nmemory-swap default\ncpu.shares 1024\ncpus 0.500\npids 50\n'
	bk_assert_content "$C/$later/limits" $'memory 50331648\nmemory-swap default\ncpu.shares 1024\ncpus max\npids 40\n'
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
	grp1=$(cg_path web)
	grp2=$(cg_path web "$D2/mnt")
	[ "$grp1" != "$grp2" ] || bk_fail "both webs are in $grp1" || bad=1
	# Ours is still limited to 64M, and its group holds only its own processes.
	cg_proc_in "$pid1" "$grp1" || bk_fail "our web's init is in $(cat "/proc/$pid1/cgroup"), not $grp1" || bad=1
	limit=$(cg_read "$grp1" memory.limit)
	[ "$limit" = 67108864 ] ||
		bk_fail "our web's memory limit is $limit (its group: $grp1), the other daemon's web set 128M" || bad=1
	[ -z "${pid2:-}" ] || [ "$(cg_read "$grp2" memory.limit)" = 134217728 ] ||
		bk_fail "the other web's memory limit is $(cg_read "$grp2" memory.limit)" || bad=1
	[ "$(stat_of web pids)" = "$procs" ] ||
		bk_fail "our web's stats count $(stat_of web pids) processes, not $procs" || bad=1
	# The other one stops: ours keeps its group, its limit and its stats.
	run bk_write_errno "$D2/mnt/containers/web/ctl" $'stop 1\n'
	cg_proc_in "$pid1" "$grp1" ||
		bk_fail "our web was moved out of its group when the other daemon's web stopped: $(cat "/proc/$pid1/cgroup")" || bad=1
	[ "$(cg_read "$grp1" memory.limit)" = 67108864 ] || bk_fail "our web's memory limit: $(cg_read "$grp1" memory.limit)" || bad=1
	[ -z "${pid2:-}" ] || cg_absent "$grp2" || bk_fail "the other web's group is left: $(cg_dirs "$grp2")" || bad=1
	[ "$(stat_of web pids)" = "$procs" ] || bk_fail "our web's stats: $(cat "$C/web/stats" | tr '\n' ' ')" || bad=1
	return "$bad"
}

@test "a clean exit removes the store's cgroup parent, unless a running container keeps it" {
	net_start
	tag=$(head -c 8 "$BK_STORE/cgroup-tag")
	id=$(ct_run "busybox sleep 600")
	grp=$(cg_path "$id")
	cg_present "$grp"
	parents=$(cg_store_parents "$tag")
	[ -n "$parents" ] || bk_fail "no parent group named $tag"
	bk_daemon_term TERM
	# The running container keeps its group, and so the parent.
	cg_present "$grp" || bk_fail "groups after a clean exit: $(cg_dirs "$grp")"
	[ "$(cg_store_parents "$tag")" = "$parents" ] || bk_fail "parents: $(cg_store_parents "$tag"), before: $parents"
	net_daemon_start
	out=$(ct_ctl "$id" 'rm force')
	[ "${out%%$'\n'*}" = OK ]
	bk_daemon_term TERM
	[ -z "$(cg_store_parents "$tag")" ] || bk_fail "left after a clean exit: $(cg_store_parents "$tag")"
}

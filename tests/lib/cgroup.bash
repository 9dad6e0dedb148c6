# shellcheck shell=bash
# Containers' cgroups as the tests see them, on cgroup v1 (one hierarchy per
# controller, /sys/fs/cgroup/<controller>/...) and on cgroup v2 (one tree,
# /sys/fs/cgroup/...), whichever the host has: the engine decides the same way
# (statfs of /sys/fs/cgroup, engine/proc/cgroup.c).  Sourced by fixture.bash;
# the Python tests have the same in tests/py/cgroups.py.
#
# A container's group is named by the `cgroup` line of its `status` (as
# /proc/PID/cgroup names it: /bockerfs/<store tag>/<id>, or deeper on v2 when
# the daemon runs in a delegated group); it is never rebuilt from the tag.
# Every function taking ID also takes that path itself (starting with /), so
# that a test can keep it for after the container is gone: p=$(cg_path ID).
#
#   cg_version                  1 or 2
#   cg_usable                   the engine's controllers are there (v1: cpu, cpuacct,
#                               memory, pids hierarchies; v2: cpu, memory, pids in the
#                               root's cgroup.controllers); cg_unusable_reason says why not
#   cg_path ID [MNT]            ID's group from its status (MNT: the tree, default BK_MNT)
#   cg_dir ID CTRL              the directory of ID's group for controller CTRL
#   cg_dirs ID                  the directories of ID's group that exist, one a line
#   cg_present ID / cg_absent ID  every / none of them exists
#   cg_file ID KEY              the file that holds KEY (below)
#   cg_read ID KEY              KEY's value, the same on both versions (below)
#   cg_limit_files ID           "FILE VALUE" for every limit file, raw (to compare
#                               before and after a write)
#   cg_proc_in PID ID           /proc/PID/cgroup puts PID in ID's group (v1: in every
#                               hierarchy the engine uses)
#   cg_store_parents TAG|STORE  a store's parent groups (bockerfs/<tag>), found by name
#                               under /sys/fs/cgroup, so with no container at all
#   cg_store_groups TAG|STORE   the groups in them (containers', spare inits'), one a line
#
# KEYs (v1 file | v2 file: what cg_read gives):
#   memory.limit  memory.limit_in_bytes | memory.max: bytes, or max
#   memory.swap   memory.memsw.limit_in_bytes | memory.swap.max: bytes, or max (v1
#                 counts memory+swap, v2 swap alone)
#   cpu.weight    cpu.shares | cpu.weight: as the file has it
#   cpu.quota     cpu.cfs_quota_us, cpu.cfs_period_us | cpu.max: "QUOTA PERIOD" or
#                 "max PERIOD" (microseconds)
#   pids.max      pids.max: N or max
#   pids.current  pids.current
#   pids.denied   pids.events: forks the pids limit refused ("max N")
#   memory.usage  memory.usage_in_bytes | memory.current
#   memory.peak   memory.max_usage_in_bytes | memory.peak
#   oom_kills     memory.oom_control | memory.events: the oom_kill count
#   cpu.usage     cpuacct.usage (ns) | cpu.stat usage_usec: microseconds
#   procs         cgroup.procs (v1: of the pids hierarchy)

CG_ROOT=/sys/fs/cgroup
if [ "$(stat -f -c %T "$CG_ROOT" 2>/dev/null)" = cgroup2fs ]; then
	CG_VERSION=2
	CG_CTRLS="cpu memory pids" # engine/proc/cgroup.c: v2_controllers
else
	CG_VERSION=1
	CG_CTRLS="cpu cpuacct memory pids devices" # v1_controllers
fi
# memory.limit_in_bytes (and memsw) when unlimited: LONG_MAX rounded down to a page.
CG_V1_UNLIMITED=9223372036854771712

cg_version() {
	echo "$CG_VERSION"
}

# cg_unusable_reason: why the engine would find no usable cgroups here (empty if it would).
cg_unusable_reason() {
	local c
	if [ "$CG_VERSION" = 2 ]; then
		for c in cpu memory pids; do
			grep -qw "$c" "$CG_ROOT/cgroup.controllers" 2>/dev/null ||
				{ echo "needs cgroup v2 with cpu, memory and pids in $CG_ROOT/cgroup.controllers (or cgroup v1)"; return; }
		done
	else
		for c in cpu cpuacct memory pids; do
			[ -n "$(cg_v1_mount "$c")" ] ||
				{ echo "needs the cgroup v1 cpu, cpuacct, memory and pids hierarchies (or cgroup v2)"; return; }
		done
	fi
}

cg_usable() {
	[ -z "$(cg_unusable_reason)" ]
}

# cg_v1_mount CTRL: where the v1 hierarchy of CTRL is mounted (empty if it is not).
cg_v1_mount() {
	if [ -d "$CG_ROOT/$1" ] && [ -e "$CG_ROOT/$1/cgroup.procs" ]; then
		echo "$CG_ROOT/$1"
		return
	fi
	awk -v c="$1" '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $2; exit } }' \
		/proc/self/mounts
}

# cg_path ID [MNT]: ID's group, from the `cgroup` line of its status; a path is given back as is.
cg_path() {
	case $1 in
	/*) echo "$1" ;;
	*)
		awk '$1 == "cgroup" { print $2; f = 1 } END { exit !f }' "${2:-$BK_MNT}/containers/$1/status" ||
			bk_fail "no cgroup line in the status of $1"
		;;
	esac
}

# cg_dir ID CTRL: the directory of ID's group for controller CTRL (v2: the group's).
cg_dir() {
	local p
	p=$(cg_path "$1") || return
	if [ "$CG_VERSION" = 2 ]; then
		echo "$CG_ROOT$p"
	else
		echo "$(cg_v1_mount "$2")$p"
	fi
}

# cg_dirs ID: the directories of ID's group that exist, one a line.
cg_dirs() {
	local p c d
	p=$(cg_path "$1") || return
	for c in $CG_CTRLS; do
		d=$(cg_dir "$p" "$c")
		[ -d "$d" ] && realpath "$d"
	done | sort -u
}

# cg_present ID: ID's group exists for every controller the engine uses.
cg_present() {
	local p c
	p=$(cg_path "$1") || return
	for c in $CG_CTRLS; do
		[ -d "$(cg_dir "$p" "$c")" ] || return 1
	done
}

# cg_absent ID: no directory of ID's group is left.
cg_absent() {
	[ -z "$(cg_dirs "$1")" ]
}

# cg_file ID KEY: the file that holds KEY (see the top).
cg_file() {
	local v1 v2 c
	case $2 in
	memory.limit) c=memory v1=memory.limit_in_bytes v2=memory.max ;;
	memory.swap) c=memory v1=memory.memsw.limit_in_bytes v2=memory.swap.max ;;
	cpu.weight) c=cpu v1=cpu.shares v2=cpu.weight ;;
	cpu.quota) c=cpu v1=cpu.cfs_quota_us v2=cpu.max ;;
	cpu.period) c=cpu v1=cpu.cfs_period_us v2=cpu.max ;;
	pids.max | pids.current) c=pids v1=$2 v2=$2 ;;
	pids.denied) c=pids v1=pids.events v2=pids.events ;;
	memory.usage) c=memory v1=memory.usage_in_bytes v2=memory.current ;;
	memory.peak) c=memory v1=memory.max_usage_in_bytes v2=memory.peak ;;
	oom_kills) c=memory v1=memory.oom_control v2=memory.events ;;
	cpu.usage) c=cpuacct v1=cpuacct.usage v2=cpu.stat ;;
	procs) c=pids v1=cgroup.procs v2=cgroup.procs ;;
	*)
		bk_fail "cg_file: unknown key '$2'"
		return
		;;
	esac
	if [ "$CG_VERSION" = 2 ]; then
		echo "$(cg_dir "$1" "$c")/$v2"
	else
		echo "$(cg_dir "$1" "$c")/$v1"
	fi
}

# cg_read ID KEY: KEY's value, in the same form on both versions (see the top).
cg_read() {
	local f v q
	f=$(cg_file "$1" "$2") || return
	v=$(cat "$f") || return
	case $2 in
	memory.limit | memory.swap)
		if [ "$CG_VERSION" = 1 ] && [ "$v" -ge "$CG_V1_UNLIMITED" ]; then v=max; fi
		;;
	cpu.quota)
		if [ "$CG_VERSION" = 1 ]; then
			q=$v
			[ "$q" = -1 ] && q=max
			v="$q $(cat "$(cg_file "$1" cpu.period)")" || return
		fi
		;;
	cpu.period) [ "$CG_VERSION" = 2 ] && v=${v#* } ;;
	pids.denied) v=$(awk '$1 == "max" { print $2 }' <<<"$v") ;;
	oom_kills) v=$(awk '$1 == "oom_kill" { print $2 }' <<<"$v") ;;
	cpu.usage)
		if [ "$CG_VERSION" = 1 ]; then
			v=$((v / 1000))
		else
			v=$(awk '$1 == "usage_usec" { print $2 }' <<<"$v")
		fi
		;;
	esac
	printf '%s\n' "$v"
}

# cg_limit_files ID: "FILE VALUE" for every file the engine writes limits to, raw.
cg_limit_files() {
	local k f
	for k in memory.limit memory.swap cpu.weight cpu.quota cpu.period pids.max; do
		f=$(cg_file "$1" "$k") || return
		[ -e "$f" ] || continue # memsw: only with swap accounting
		printf '%s %s\n' "${f##*/}" "$(cat "$f")"
	done | sort -u
}

# cg_proc_in PID ID: /proc/PID/cgroup puts PID in ID's group (v1: in every hierarchy
# the engine uses; a line may name several controllers mounted together).
cg_proc_in() {
	local p c
	p=$(cg_path "$2") || return
	[ -r "/proc/$1/cgroup" ] || return 1
	if [ "$CG_VERSION" = 2 ]; then
		grep -qxF "0::$p" "/proc/$1/cgroup"
		return
	fi
	for c in $CG_CTRLS; do
		awk -F: -v c="$c" -v p="$p" '
			{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { found = ($3 == p) } }
			END { exit !found }' "/proc/$1/cgroup" || return 1
	done
}

# cg_store_tag TAG|STORE: the store's tag (what a daemon keeps in STORE/cgroup-tag).
cg_store_tag() {
	local tag=$1
	[ -d "$1" ] && { tag=$(head -c 8 "$1/cgroup-tag" 2>/dev/null) || return 0; }
	[[ $tag =~ ^[0-9a-f]{8}$ ]] && echo "$tag"
	return 0
}

# cg_store_parents TAG|STORE: the directories named like the store's tag anywhere
# under /sys/fs/cgroup (v1: one per hierarchy), sorted.
cg_store_parents() {
	local tag
	tag=$(cg_store_tag "$1")
	[ -n "$tag" ] || return 0
	find "$CG_ROOT" -mindepth 1 -type d -name "$tag" -prune -print 2>/dev/null | sort
}

# cg_store_groups TAG|STORE: the groups in the store's parents, one directory a line.
cg_store_groups() {
	local parents
	parents=$(cg_store_parents "$1")
	[ -n "$parents" ] || return 0
	# shellcheck disable=SC2086 # one directory a word
	find $parents -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort
}

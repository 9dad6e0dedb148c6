# shellcheck shell=bash
# What the runtime suites' private daemons share (tests/lib/containerd.bash,
# tests/lib/dockerd.bash, and podman's leftovers in
# tests/e2e/73-runtime-podman.bats): the base of a private containerd's
# config, and the pieces of their teardowns.  What is left of a daemon is
# found by PID (a command line naming something of ours, our cgroups,
# parentage), never by a program's name.  Sourced by containerd.bash and
# dockerd.bash; needs fixture.bash.
#
#   daemon_ctd_config DIR SOCK CRI    a private containerd's config.toml (below)
#   daemon_cmdline_pids GREP_ARGS...  the pids whose command line (NULs as
#                              spaces) grep -q GREP_ARGS... matches
#   daemon_shims SOCK          the pids of the containerd shims that serve the
#                              containerd on SOCK (a shim daemonizes and is
#                              reparented to init; its command line has
#                              "-address SOCK")
#   daemon_shim_sockets STATE  the shims' sockets (containerd 1.6 puts them in
#                              /run/containerd/s/ whatever its state dir) that
#                              the tasks in containerd's state dir STATE name
#   daemon_descendants PID...  the descendants of the PIDs (by ppid), one a line
#   daemon_cgroups NAME DEPTH  the cgroup directories named NAME at most DEPTH
#                              below /sys/fs/cgroup (every hierarchy) and every
#                              group under them, deepest first
#   daemon_cgroup_procs NAME DEPTH    the pids in those groups
#   daemon_cgroups_remove NAME DEPTH  those groups removed (bk_rmdir_cgroup)
#   daemon_term TAG WHAT PID SECONDS  SIGTERM, SIGKILL after SECONDS, reaped
#   daemon_kill TAG PID...     SIGKILL each, then wait (5 s) for each to be gone
#   daemon_unmount TAG DIR     every mount at or under DIR lazily unmounted
#   daemon_dir_remove TAG DIR  DIR removed, unless something is still mounted
#                              under it or BK_TEST_KEEP=1
# TAG begins each message on stderr (ctd, dkd, ...).

# daemon_ctd_config DIR SOCK CRI: containerd's config.toml with its root,
# state, temp and opt directories in DIR, its gRPC socket SOCK (ttrpc:
# SOCK.ttrpc), debug logging, no metrics, no cgroup of its own; the tracing
# plugins and the snapshotters but overlayfs and native disabled, the CRI
# plugin too unless CRI is 1.  Ends in the [plugins] table: the caller may
# add to it.
daemon_ctd_config() {
	local disabled='"io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"'
	[ "$3" = 1 ] || disabled="$disabled, \"io.containerd.grpc.v1.cri\""
	cat <<-EOT
	version = 2
	root = "$1/root"
	state = "$1/state"
	temp = "$1/tmp"
	oom_score = 0
	disabled_plugins = [$disabled]

	[grpc]
	  address = "$2"
	[ttrpc]
	  address = "$2.ttrpc"
	[debug]
	  address = ""
	  level = "debug"
	[metrics]
	  address = ""
	[cgroup]
	  path = ""

	[plugins]
	  [plugins."io.containerd.internal.v1.opt"]
	    path = "$1/opt"
	EOT
}

# daemon_cmdline_pids GREP_ARGS...: see the top.
daemon_cmdline_pids() {
	local p
	for p in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "$@" && echo "${p#/proc/}"
	done
	return 0
}

# daemon_shims SOCK: see the top.
daemon_shims() {
	[ -n "$1" ] || return 0
	daemon_cmdline_pids -F -- "-address $1 "
}

# daemon_shim_sockets STATE: see the top (read while the tasks' state is still there).
daemon_shim_sockets() {
	awk 'sub("^unix://", "") && /^\/run\/containerd\/s\/[0-9a-f]+$/' \
		"$1"/io.containerd.runtime.v2.task/*/*/address 2>/dev/null
}

# daemon_descendants PID...: see the top.
daemon_descendants() {
	local ps_out p
	ps_out=$(ps -e -o pid=,ppid=)
	for p; do
		awk -v root="$p" '{ parent[$1] = $2 } END {
			for (c in parent) { q = parent[c]; while (q > 1) { if (q == root) { print c; break } q = parent[q] } } }' \
			<<<"$ps_out"
	done
}

# daemon_cgroups NAME DEPTH: see the top.
daemon_cgroups() {
	[ -n "$1" ] || return 0
	find /sys/fs/cgroup -mindepth 1 -maxdepth "$2" -type d -name "$1" -prune -print 2>/dev/null |
		while read -r d; do find "$d" -depth -type d; done
}

# daemon_cgroup_procs NAME DEPTH: see the top.
daemon_cgroup_procs() {
	daemon_cgroups "$@" | while read -r d; do cat "$d/cgroup.procs" 2>/dev/null; done
}

# daemon_cgroups_remove NAME DEPTH: see the top.
daemon_cgroups_remove() {
	daemon_cgroups "$@" | while read -r d; do bk_rmdir_cgroup "$d" 40; done
}

# daemon_term TAG WHAT PID SECONDS: see the top.
daemon_term() {
	local tag=$1 what=$2 pid=$3 secs=$4
	kill -TERM "$pid" 2>/dev/null
	bk_wait_gone "$pid" "$secs" || {
		echo "$tag: $what $pid ignored SIGTERM for $secs s; SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null
		bk_wait_gone "$pid" 5
	}
	wait "$pid" 2>/dev/null
	return 0
}

# daemon_kill TAG PID...: see the top.
daemon_kill() {
	local tag=$1 p
	shift
	for p; do kill -KILL "$p" 2>/dev/null; done
	for p; do bk_wait_gone "$p" 5 || echo "$tag: process $p survives SIGKILL" >&2; done
}

# daemon_unmount TAG DIR: see the top.
daemon_unmount() {
	local m
	while read -r m; do
		[ -n "$m" ] || continue
		umount -l "$m" || echo "$1: cannot unmount $m" >&2
	done < <(bk_mounts_under "$2")
}

# daemon_dir_remove TAG DIR: see the top.
daemon_dir_remove() {
	if [ -n "$(bk_mounts_under "$2")" ]; then
		echo "$1: still mounted, keeping $2" >&2
	elif [ "${BK_TEST_KEEP:-}" = 1 ]; then
		echo "$1: BK_TEST_KEEP=1, kept $2" >&2
	else
		rm -rf --one-file-system "$2"
	fi
}

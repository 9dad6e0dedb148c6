# shellcheck shell=bash
# A private containerd 1.6 (Debian's package) for the suites that run an OCI
# runtime under it (tests/e2e/72-runtime-ctr.bats).  Load after fixture.bash
# (this file sources tests/lib/daemons.bash, the teardown pieces it shares
# with tests/lib/dockerd.bash).
#
#   ctd_start RUNTIME [cri]   start containerd on a directory of its own,
#                             CTD_DIR=/var/tmp/bkctd<pid>-XXXXXX:
#                               config.toml, root/, state/, tmp/, opt/
#                               containerd.sock (gRPC; CTD_SOCK) and .ttrpc
#                               containerd.log (its stderr, debug level)
#                               fifo/       ctr's IO fifos (ctd_run passes --fifo-dir)
#                               runc/       the runtime's --root (ctd_run: --runc-root)
#                               cni/        an empty CNI config dir for the CRI plugin
#                             The CRI plugin is disabled unless "cri" is given; then
#                             its runtime "bk" (the default one) is io.containerd.runc.v2
#                             with BinaryName = RUNTIME and Root = CTD_DIR/runc, its
#                             stream server on 127.0.0.1 and its pods' netns under
#                             state/.  The snapshotter (CTD_SNAP) is overlayfs when an
#                             overlay mount works in CTD_DIR, else native.  Waits until
#                             `ctr version` answers.  Every ctr call uses a namespace of
#                             its own, CTD_NS (bk<pid>x<random>), so the cgroups the
#                             runtime makes (/CTD_NS/<id> in each hierarchy) are ours.
#   ctd ARGS...               ctr on that socket and namespace (and snapshotter), killed
#                             after CTD_T seconds (default 60)
#   ctd_pull REF              ctr images pull --plain-http (the test registry, on loopback)
#   ctd_run ARGS...           ctr run with --runc-binary RUNTIME, --runc-root and --fifo-dir
#   ctd_exec ARGS...          ctr task exec with --fifo-dir
#   ctd_pid ID                the task's pid (ctr task ls)
#   ctd_status ID             the task's status (RUNNING, STOPPED, ...)
#   ctd_clean_containers      kill and delete every task and container of CTD_NS
#   ctd_stop                  everything ctd_start made goes (below); safe to call twice
#   ctd_dump                  containerd's log, for a failed test
#
# containerd is recorded by PID and start time in CTD_DIR/pids and stopped by
# that PID.  Its shims are not its children (they daemonize and are reparented
# to init), so they are found by the gRPC socket in their command line
# (containerd-shim-runc-v2 -namespace NS -id ID -address CTD_SOCK), which no
# other containerd has; what runs in a container is found through the cgroups
# of CTD_NS and as the shims' descendants.  Teardown kills those by PID,
# unmounts what is mounted under CTD_DIR, removes the cgroups of CTD_NS, the
# shims' sockets (containerd 1.6 puts them in /run/containerd/s/ whatever its
# state dir: read from the tasks' `address` files) and CTD_DIR.  /run/containerd
# itself is removed when it was not there before, is empty again and no other
# containerd or shim runs on the machine.

# shellcheck source=tests/lib/daemons.bash
source "$BK_LIB/daemons.bash"

# Kept when set: bats loads this file again in each test, after setup_file exported them.
CTD_DIR=${CTD_DIR:-}
CTD_PID=${CTD_PID:-}
CTD_SOCK=${CTD_SOCK:-}
CTD_NS=${CTD_NS:-}
CTD_SNAP=${CTD_SNAP:-}
CTD_RUNTIME=${CTD_RUNTIME:-}
CTD_DEADLINE=${CTD_DEADLINE:-20}

# ctd_snapshotter DIR: overlayfs if an overlay mount with DIR's filesystem as
# upper layer works (ext4, xfs, btrfs), else native (copies, works anywhere).
ctd_snapshotter() {
	local d=$1/ovl-probe snap=native
	mkdir -p "$d/lower" "$d/upper" "$d/work" "$d/merged" || return
	if mount -t overlay overlay -o "lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work" \
		"$d/merged" 2>/dev/null; then
		umount "$d/merged"
		snap=overlayfs
	fi
	rm -rf "$d"
	echo "$snap"
}

# ctd_config CRI: containerd's config.toml for CTD_DIR (CRI: 1 or 0).
ctd_config() {
	daemon_ctd_config "$CTD_DIR" "$CTD_SOCK" "$1"
	cat <<-EOT
	  [plugins."io.containerd.grpc.v1.cri"]
	    disable_tcp_service = true
	    stream_server_address = "127.0.0.1"
	    stream_server_port = "0"
	    netns_mounts_under_state_dir = true
	    enable_selinux = false
	    disable_apparmor = true
	    sandbox_image = "127.0.0.1/none/pause:never-pulled"
	    [plugins."io.containerd.grpc.v1.cri".containerd]
	      snapshotter = "$CTD_SNAP"
	      default_runtime_name = "bk"
	      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.bk]
	        runtime_type = "io.containerd.runc.v2"
	        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.bk.options]
	          BinaryName = "$CTD_RUNTIME"
	          Root = "$CTD_DIR/runc"
	    [plugins."io.containerd.grpc.v1.cri".cni]
	      bin_dir = "/usr/lib/cni"
	      conf_dir = "$CTD_DIR/cni"
	EOT
}

# ctd ARGS...: ctr against the private containerd, in CTD_NS, killed after CTD_T
# seconds (default 60; --foreground: `ctr run -t` reads its terminal).
ctd() {
	CONTAINERD_SNAPSHOTTER=$CTD_SNAP timeout --foreground -k 5 "${CTD_T:-60}" \
		ctr --address "$CTD_SOCK" --namespace "$CTD_NS" "$@"
}

# ctd_start RUNTIME [cri]: see the top.
ctd_start() {
	local cri=0 end pid
	CTD_RUNTIME=$1
	[ "${2:-}" = cri ] && cri=1
	CTD_DIR=$(mktemp -d "/var/tmp/bkctd$$-XXXXXX") || return
	CTD_SOCK=$CTD_DIR/containerd.sock
	CTD_NS=bk$$x$RANDOM
	: >"$CTD_DIR/pids"
	[ -d /run/containerd ] || touch "$CTD_DIR/run-containerd-made"
	mkdir -p "$CTD_DIR"/{root,state,tmp,opt,fifo,runc,cni} || return
	CTD_SNAP=$(ctd_snapshotter "$CTD_DIR") || return
	ctd_config "$cri" >"$CTD_DIR/config.toml" || return
	command -v containerd >/dev/null || bk_fail "containerd is not installed (scripts/deps.sh test)" ||
		return
	# fd 3 is bats' output: a process holding it makes bats wait for it.
	containerd --config "$CTD_DIR/config.toml" </dev/null >"$CTD_DIR/containerd.log" 2>&1 3>&- &
	pid=$!
	CTD_PID=$pid
	echo "$pid $(bk_proc_start "$pid")" >>"$CTD_DIR/pids"
	end=$((SECONDS + CTD_DEADLINE))
	until CTD_T=5 ctd version >/dev/null 2>&1; do
		if ! bk_alive "$pid"; then
			bk_fail "containerd exited before it answered: $(tail -n 20 "$CTD_DIR/containerd.log")"
			return 1
		fi
		[ "$SECONDS" -lt "$end" ] ||
			bk_fail "containerd does not answer on $CTD_SOCK after ${CTD_DEADLINE}s" || return
		sleep 0.05
	done
	export CTD_DIR CTD_SOCK CTD_NS CTD_SNAP CTD_RUNTIME CTD_PID
}

# ctd_pull REF: pull REF over plain HTTP (the test registry on 127.0.0.1) and unpack it.
ctd_pull() {
	CTD_T=120 ctd images pull --plain-http "$1" >"$CTD_DIR/pull.log" 2>&1 ||
		bk_fail "ctr images pull $1: $(tail -n 5 "$CTD_DIR/pull.log")"
}

# ctd_run ARGS...: ctr run with the runtime under test, its root and fifos in CTD_DIR.
ctd_run() {
	ctd run --runc-binary "$CTD_RUNTIME" --runc-root "$CTD_DIR/runc" --fifo-dir "$CTD_DIR/fifo" "$@"
}

# ctd_exec ARGS...: ctr task exec with its fifos in CTD_DIR.
ctd_exec() {
	ctd task exec --fifo-dir "$CTD_DIR/fifo" "$@"
}

# ctd_pid ID: the pid of ID's task.
ctd_pid() {
	ctd task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2; f = 1 } END { exit !f }'
}

# ctd_status ID: the status of ID's task (RUNNING, STOPPED, ...).
ctd_status() {
	ctd task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3; f = 1 } END { exit !f }'
}

# ctd_clean_containers: every task of CTD_NS killed and deleted, every container removed.
ctd_clean_containers() {
	local - id
	set +e
	[ -n "$CTD_DIR" ] && [ -n "$CTD_PID" ] && bk_alive "$CTD_PID" || return 0
	for id in $(CTD_T=10 ctd task ls -q 2>/dev/null); do
		CTD_T=10 ctd task kill -a -s SIGKILL "$id" >/dev/null 2>&1
	done
	for id in $(CTD_T=10 ctd task ls -q 2>/dev/null); do
		CTD_T=20 ctd task delete -f "$id" >/dev/null 2>&1
	done
	for id in $(CTD_T=10 ctd containers ls -q 2>/dev/null); do
		CTD_T=20 ctd containers rm "$id" >/dev/null 2>&1
	done
	return 0
}

# ctd_shims: the pids of the shims serving this containerd.
ctd_shims() {
	daemon_shims "$CTD_SOCK"
}

# ctd_any_running: some containerd or containerd shim runs on this machine (anyone's).
ctd_any_running() {
	local p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		case $exe in
		*/containerd | */containerd-shim*) return 0 ;;
		esac
	done
	return 1
}

ctd_dump() {
	[ -n "$CTD_DIR" ] && [ -f "$CTD_DIR/containerd.log" ] || return 0
	echo "---- containerd log ($CTD_DIR/containerd.log, last 60 lines) ----"
	tail -n 60 "$CTD_DIR/containerd.log"
	echo "---- end of containerd log ----"
}

# ctd_stop: see the top.  Safe to call twice, and after a failed ctd_start.
ctd_stop() {
	local - pid start shims procs sock socks
	set +e
	[ -n "$CTD_DIR" ] && [ -d "$CTD_DIR" ] || return 0
	ctd_clean_containers
	# The shims' sockets, while their tasks' bundles still say where they are.
	socks=$(daemon_shim_sockets "$CTD_DIR/state")
	if read -r pid start <"$CTD_DIR/pids" && [ "$(bk_proc_start "$pid")" = "$start" ]; then
		daemon_term ctd containerd "$pid" 10
	fi
	# What is left in the containers (by their cgroups, and under the shims), then the shims.
	shims=$(ctd_shims)
	# shellcheck disable=SC2086 # one pid a word
	procs=$({
		daemon_cgroup_procs "$CTD_NS" 3
		[ -n "$shims" ] && daemon_descendants $shims
	} | sort -u)
	if [ -n "$procs" ]; then
		# shellcheck disable=SC2086 # one pid a word
		echo "ctd: killing container processes left:" $procs >&2
		# shellcheck disable=SC2086
		daemon_kill ctd $procs
	fi
	if [ -n "$shims" ]; then
		# shellcheck disable=SC2086 # one pid a word
		echo "ctd: killing shims left:" $shims >&2
		# shellcheck disable=SC2086
		daemon_kill ctd $shims
	fi
	for sock in $socks; do
		[ -S "$sock" ] && rm -f "$sock"
	done
	# /run/containerd when this start made it and no other containerd or shim runs (one
	# could be making its socket there right now).
	if [ -f "$CTD_DIR/run-containerd-made" ] && ! ctd_any_running; then
		rmdir /run/containerd/s /run/containerd 2>/dev/null
	fi
	daemon_unmount ctd "$CTD_DIR"
	daemon_cgroups_remove "$CTD_NS" 3
	daemon_dir_remove ctd "$CTD_DIR"
	CTD_DIR="" CTD_PID="" CTD_SOCK="" CTD_NS=""
}

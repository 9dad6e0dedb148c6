#!/usr/bin/env bats
# An OCI runtime under podman 4.3 (Debian's, with conmon 2.1.6): the runtime is
# BK_OCI_RUNTIME, by default bockerfs-runtime next to the daemon
# (tests/lib/ociruntime.bash).  The same tests pass with runc and with crun:
#   BK_OCI_RUNTIME=/usr/sbin/runc bats tests/e2e/73-runtime-podman.bats
#   BK_OCI_RUNTIME=/usr/bin/crun BK_OCI_HIDE_UNIFIED=1 bats tests/e2e/73-runtime-podman.bats
#
# One private podman for the file (tests/lib/images.bash podman_private: its
# own root, runroot, tmpdir and containers.conf, vfs storage), where the
# runtime is registered by name, "bkrt", under [engine.runtimes] (through the
# logging wrapper: a failed test prints the runtime's calls) and listed in
# runtime_supports_json, so that podman passes it --log-format=json --log
# FILE as it does to runc and crun.  Every podman command runs in a network
# namespace of the file's own (POD_NS, lo up): the published-port test's
# bridge, veths and the CNI portmap plugin's iptables rules are made there
# and nowhere else, its CNI network "bkpod" (a conflist in PODMAN_DIR/cni,
# IPAM state in PODMAN_DIR) uses a subnet that exists only in POD_NS, and
# curl talks to 127.0.0.1 in POD_NS.  The other containers have
# --network none.  Every container gets --cgroup-parent POD_CG, so its cgroups
# and conmon's (POD_CG/conmon) are ours to find and remove.
#
# OOMKilled: conmon 2.1.6 writes its "oom" file into its working directory
# and podman 4.3 looks for it in the container's bundle (its static dir), so
# podman reports an OOM kill only when conmon starts there: the OOM test
# creates the container, then starts it from that directory.

# Single-quoted commands are expanded in the container:
# shellcheck disable=SC2016
bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/registry'
load '../lib/images'
load '../lib/ociruntime'
load '../lib/daemons'
load '../lib/tty'

: "${BATS_TEST_TIMEOUT:=120}"

setup_file() {
	bk_registry_setup || return
	oci_suite_setup || return
	PODMAN_RUNTIME=bkrt
	podman_init 'runtime_supports_json = ["bkrt"]' || return
	cat >>"$PODMAN_DIR/containers.conf" <<-EOT
	[engine.runtimes]
	bkrt = ["$OCI_RT"]
	[network]
	network_config_dir = "$PODMAN_DIR/cni"
	EOT
	mkdir -p "$PODMAN_DIR/cni"
	cat >"$PODMAN_DIR/cni/bkpod.conflist" <<-EOT
	{ "cniVersion": "0.4.0", "name": "bkpod", "plugins": [
	  { "type": "bridge", "bridge": "bkpod0", "isGateway": true, "ipMasq": false,
	    "hairpinMode": true,
	    "ipam": { "type": "host-local", "dataDir": "$PODMAN_DIR/cni-ipam",
	              "routes": [{ "dst": "0.0.0.0/0" }],
	              "ranges": [[{ "subnet": "10.89.250.0/24", "gateway": "10.89.250.1" }]] } },
	  { "type": "portmap", "capabilities": { "portMappings": true } } ] }
	EOT
	POD_NS=bkt$$-pod
	POD_CG=/bkpod$$
	ip netns add "$POD_NS" && ip -n "$POD_NS" link set lo up || return
	export PODMAN_DIR PODMAN_RUNTIME POD_NS POD_CG
	# The registry listens on the host's loopback: the one command run outside POD_NS.
	podman_private pull -q --tls-verify=false "$BK_REG/test/busybox:latest" >/dev/null
}

teardown_file() {
	local pid
	pm_clean
	podman_cleanup
	for pid in $(ip netns pids "$POD_NS" 2>/dev/null); do
		echo "teardown: killing $pid, left in $POD_NS" >&2
		kill -KILL "$pid"
	done
	[ -n "${POD_NS:-}" ] && ip netns del "$POD_NS" 2>/dev/null
	daemon_cgroups_remove "${POD_CG#/}" 3
	oci_suite_teardown podman
	bk_registry_teardown
}

setup() {
	IMG=$BK_REG/test/busybox:latest
	oci_log_mark
	oci_runtime_check
}

teardown() {
	tty_stop
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		oci_log_test
	fi
	pm_clean
}

# pm ARGS...: the private podman, in POD_NS, killed after PM_T seconds (default 60).
pm() {
	timeout --foreground -k 5 "${PM_T:-60}" nsenter --net="/run/netns/$POD_NS" -- \
		bash -c "$(declare -f podman_private)"$'\n''podman_private "$@"' pm "$@"
}

# prun ARGS...: pm run in POD_CG.
prun() {
	pm run --cgroup-parent "$POD_CG" "$@"
}

# pm_clean: every container removed (no stop timeout); then conmons and
# container processes podman left, by PID: conmons by PODMAN_DIR in their
# command line, the containers' by POD_CG's cgroups.
pm_clean() {
	local - p pids=""
	set +e
	[ -n "${PODMAN_DIR:-}" ] && [ -d "$PODMAN_DIR" ] || return 0
	PM_T=30 pm rm -a -f -t 0 >/dev/null 2>&1
	pids="$(daemon_cmdline_pids "^/usr/bin/conmon .*$PODMAN_DIR/") $(daemon_cgroup_procs "${POD_CG#/}" 3)"
	for p in $pids; do
		echo "teardown: killing $p ($(cat "/proc/$p/comm" 2>/dev/null)), left by podman" >&2
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}

# pod_cgroups: the cgroup directories under POD_CG, in every hierarchy, deepest first.
pod_cgroups() {
	daemon_cgroups "${POD_CG#/}" 3
}

# in_dir DIR CMD...: CMD run in DIR (from `run`, a subshell: the test's directory stays).
in_dir() {
	cd "$1" && shift && "$@"
}

# gone NAME: podman lists no container NAME and no cgroup of it is left.
gone() {
	run -0 pm ps -a --format '{{.Names}}'
	! grep -qx "$1" <<<"$output" || bk_fail "$1 is still listed: $output" || return
	! pod_cgroups | grep -q /libpod- || bk_fail "cgroups left: $(pod_cgroups | grep /libpod-)"
}

@test "podman run --rm: the output and the exit status, 0 and 3" {
	run -0 prun --rm --network none "$IMG" sh -c 'echo "out $((6 * 7))"; echo err >&2'
	# Two streams, two pipes: their order is not kept.
	[ "$(sort <<<"$output")" = $'err\nout 42' ] || bk_fail "output: $output"
	run -3 prun --rm --network none --name run3 "$IMG" sh -c 'echo three; exit 3'
	[ "$output" = three ] || bk_fail "output: $output"
	gone run3
	# podman asked the runtime for json logs, as it was told to (the wrapper's log says).
	if [ "$BK_OCI_WRAP" != 0 ]; then
		grep -q -- '--log-format=json --log .* create --bundle ' "$OCI_LOG" ||
			bk_fail "no 'create' with --log-format=json in $OCI_LOG"
	fi
}

@test "podman run --env --workdir --user --hostname, --read-only" {
	run -0 prun --rm --network none --env FOO=bar --workdir /tmp --user 1000:1000 \
		--hostname bk-pod "$IMG" sh -c 'echo "$FOO"; pwd; id -u; id -g; hostname; touch /tmp/x 2>&1 && echo tmp-ok'
	[ "$output" = $'bar\n/tmp\n1000\n1000\nbk-pod\ntmp-ok' ] || bk_fail "output: $output"
	run -1 prun --rm --network none --read-only --read-only-tmpfs=false "$IMG" touch /newfile
	[[ $output == *"Read-only file system"* ]] || bk_fail "output: $output"
}

@test "podman: capabilities, seccomp (its default profile, unconfined, a profile of ours)" {
	local prof=$BATS_TEST_TMPDIR/seccomp.json
	# podman's defaults: a seccomp filter and Docker's capabilities.
	run -0 prun --rm --network none "$IMG" grep -E '^(Seccomp|CapEff|CapBnd):' /proc/self/status
	[ "$output" = $'CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nSeccomp:\t2' ] ||
		bk_fail "$output"
	run -0 prun --rm --network none --security-opt seccomp=unconfined "$IMG" grep ^Seccomp: /proc/self/status
	[ "$output" = $'Seccomp:\t0' ] || bk_fail "$output"
	# A profile of ours: mkdir answers EOPNOTSUPP, everything else is allowed.
	echo '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"],
		"action": "SCMP_ACT_ERRNO", "errnoRet": 95}]}' >"$prof"
	run -1 prun --rm --network none --security-opt "seccomp=$prof" "$IMG" sh -c 'touch /tmp/f && mkdir /tmp/d'
	[[ $output == *"Operation not supported"* ]] || bk_fail "mkdir under our profile: $output"
	[ "$(grep -c . <<<"$output")" = 1 ] || bk_fail "$output"
}

@test "podman run -d, exec (status, stdin, user), stop, rm" {
	local pid
	run -0 prun -d --name d1 --network none "$IMG" \
		sh -c 'trap "echo got-term; exit 7" TERM; echo started; sleep 1000 & wait'
	bk_wait_until 10 eval 'pm logs d1 2>/dev/null | grep -q started' || bk_fail "d1 never started"
	run -0 pm inspect --format '{{.State.Status}} {{.State.Pid}}' d1
	[[ $output =~ ^running\ ([0-9]+)$ ]] || bk_fail "inspect: $output"
	pid=${BASH_REMATCH[1]}
	[ "$(cgroup_of "$pid" memory)" != "$(cgroup_of $$ memory)" ] ||
		bk_fail "d1 runs in the test's own memory cgroup"

	run -4 pm exec d1 sh -c 'echo "in exec, pid $$"; exit 4'
	[[ $output =~ ^"in exec, pid "[0-9]+$ ]] || bk_fail "exec output: $output"
	run -0 piped $'piped\n' pm exec -i d1 cat
	[ "$output" = piped ] || bk_fail "exec -i: $output"
	run -0 pm exec --user 1000:1000 --workdir /etc d1 sh -c 'id -u; pwd'
	[ "$output" = $'1000\n/etc' ] || bk_fail "exec --user: $output"

	run -0 pm stop -t 10 d1
	run -0 pm inspect --format '{{.State.Status}} {{.State.ExitCode}}' d1
	[ "$output" = "exited 7" ] || bk_fail "after stop: $output (the trap exits 7)"
	run -0 pm logs d1
	[ "$output" = $'started\ngot-term' ] || bk_fail "logs: $output"
	bk_wait_gone "$pid" 5
	run -0 pm rm d1
	gone d1
}

@test "podman run -it, exec -it: a terminal, typed commands, its size, the exit status" {
	tty_start prun -it --rm --network none --name tty1 "$IMG" sh
	oci_tty_shell
	tty_type 'exit 5'
	run tty_status
	[ "$output" = 5 ] || bk_fail "podman run -it exited $output, not 5"
	gone tty1

	# exec -it: a terminal of its own in a running container.
	run -0 prun -d --name tty2 --network none "$IMG" sleep 1000
	tty_start pm exec -it tty2 sh
	tty_wait '^/ #'
	tty_type 'tty; echo "ppid $PPID"'
	tty_wait '^/dev/pts/[0-9]+$'
	tty_wait '^ppid 0$'
	tty_type 'exit 6'
	run tty_status
	[ "$output" = 6 ] || bk_fail "podman exec -it exited $output, not 6"
}

@test "podman run -p 127.0.0.1:PORT:80: busybox httpd answers curl through the published port" {
	local port page
	port=$(bk_free_port)
	page="hello from $RANDOM"
	run -0 prun -d --name web --network bkpod -p "127.0.0.1:$port:80" "$IMG" \
		sh -c "mkdir -p /www && echo '$page' >/www/index.html && exec httpd -f -p 80 -h /www"
	bk_wait_until 10 nsenter --net="/run/netns/$POD_NS" curl -sf --noproxy '*' --max-time 2 \
		-o /dev/null "http://127.0.0.1:$port/" || bk_fail "nothing answers on 127.0.0.1:$port"
	run -0 nsenter --net="/run/netns/$POD_NS" curl -sf --noproxy '*' --max-time 3 "http://127.0.0.1:$port/"
	[ "$output" = "$page" ] || bk_fail "page: $output"
	run -0 pm rm -f -t 0 web
	gone web
	# The port and its DNAT rule went with the container.
	run nsenter --net="/run/netns/$POD_NS" iptables -t nat -S
	[[ $output != *"--dport $port "* ]] || bk_fail "DNAT rule left: $output"
	run nsenter --net="/run/netns/$POD_NS" curl -s --noproxy '*' --max-time 2 "http://127.0.0.1:$port/"
	[ "$status" != 0 ] || bk_fail "something still answers on $port"
}

@test "podman run --memory 32m: the limit in the container's cgroup, an OOM kill reported" {
	local pid dir sd
	run -0 prun -d --name mem1 --network none --memory 32m "$IMG" sleep 1000
	run -0 pm inspect --format '{{.State.Pid}}' mem1
	pid=$output
	dir=$(cgroup_of "$pid" memory)
	[[ $dir == *"$POD_CG/libpod-"* ]] || bk_fail "memory cgroup of $pid is $dir, not in $POD_CG"
	if [ "$CG_VERSION" = 2 ]; then
		run -0 cat "$dir/memory.max"
	else
		run -0 cat "$dir/memory.limit_in_bytes"
	fi
	[ "$output" = 33554432 ] || bk_fail "limit: $output"
	run -0 pm rm -f -t 0 mem1
	[ ! -d "$dir" ] || bk_fail "$dir is left after rm"

	# dd's 64 MiB buffer does not fit: the kernel kills it, podman says so (see the top).
	run -0 pm create --cgroup-parent "$POD_CG" --name oom1 --network none --memory 32m "$IMG" \
		dd if=/dev/zero of=/dev/null bs=64M count=1
	run -0 pm inspect --format '{{.StaticDir}}' oom1
	sd=$output
	[ -d "$sd" ] || bk_fail "no static dir '$sd'"
	run -137 in_dir "$sd" pm start -a oom1
	run -0 pm inspect --format '{{.State.OOMKilled}} {{.State.ExitCode}}' oom1
	[ "$output" = "true 137" ] || bk_fail "inspect: $output"
	run -0 pm rm oom1
	gone oom1
}

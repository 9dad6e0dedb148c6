#!/usr/bin/env bats
# An OCI runtime under containerd 1.6 (Debian's), driven with ctr: the
# runtime is BK_OCI_RUNTIME, by default bockerfs-runtime next to the daemon
# (tests/lib/ociruntime.bash).  The same tests pass with runc and with crun,
# which is what shows they test the runtime and not our reading of ctr:
#   BK_OCI_RUNTIME=/usr/sbin/runc bats tests/e2e/72-runtime-ctr.bats
#   BK_OCI_RUNTIME=/usr/bin/crun BK_OCI_HIDE_UNIFIED=1 bats tests/e2e/72-runtime-ctr.bats
# (crun 1.8 refuses this machine's hybrid cgroup layout unless it does not see
# /sys/fs/cgroup/unified; BK_OCI_HIDE_UNIFIED hides it from the runtime alone).
#
# One containerd for the file (tests/lib/containerd.bash: a directory,
# socket, namespace and runtime root of its own, overlayfs or native
# snapshotter), the test registry's busybox pulled into it over loopback.  The
# shim is io.containerd.runc.v2, told by ctr to run the runtime
# (--runc-binary) through the logging wrapper: a failed test prints the
# runtime's calls (argv, config.json, exit status).
#
# ctr 1.6 has no `run --user` and sets no hostname nor seccomp profile by
# default: the user is set on `task exec --user`, the hostname is the host's
# in a UTS namespace of the container's own, and seccomp is Docker's default
# profile when `--seccomp` is given.  Each container is removed by its test
# and by teardown; the runtime's cgroups (/<namespace>/<id>) must be gone
# after `ctr task delete`.

# Single-quoted commands are expanded in the container:
# shellcheck disable=SC2016
bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/registry'
load '../lib/ociruntime'
load '../lib/containerd'
load '../lib/tty'

: "${BATS_TEST_TIMEOUT:=120}"

setup_file() {
	bk_registry_setup || return
	oci_suite_setup || return
	if ! ctd_start "$OCI_RT" || ! ctd_pull "$BK_REG/test/busybox:latest"; then
		ctd_dump >&3
		ctd_stop
		return 1
	fi
}

teardown_file() {
	ctd_stop
	oci_suite_teardown ctr
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
		ctd_dump
	fi
	ctd_clean_containers
	rm -f "$OCI_WRAP_DIR/env"
	if [ -n "${BK_TMP:-}" ]; then
		bk_teardown
	fi
}

# gone ID: no task, no container, no cgroup, nothing in the runtime's list for ID.
gone() {
	local id=$1
	run ctd task ls -q
	[[ $output != *"$id"* ]] || bk_fail "task $id is still listed: $output" || return
	run ctd containers ls -q
	[[ $output != *"$id"* ]] || bk_fail "container $id is still listed: $output" || return
	[ -z "$(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path "*/$CTD_NS/$id" 2>/dev/null)" ] ||
		bk_fail "cgroups of $id left: $(find /sys/fs/cgroup -type d -path "*/$CTD_NS/$id")" || return
	run -0 "$BK_OCI_RUNTIME" --root "$CTD_DIR/runc/$CTD_NS" list -q
	[[ $output != *"$id"* ]] || bk_fail "the runtime still lists $id: $output"
}

# stopped ID: ID's task has exited.
stopped() {
	[ "$(ctd_status "$1")" = STOPPED ]
}

@test "ctr run --rm: the output and the exit status, 0 and 3" {
	run -0 ctd_run --rm "$IMG" rm0 sh -c 'echo "out $((6 * 7))"; echo err >&2'
	# Two streams, two pipes: their order is not kept.
	[ "$(sort <<<"$output")" = $'err\nout 42' ] || bk_fail "output: $output"
	gone rm0

	run -3 ctd_run --rm "$IMG" rm3 sh -c 'echo three; exit 3'
	[ "$output" = three ] || bk_fail "output: $output"
	gone rm3

	# Standard input reaches the container (ctr 1.6 never closes it on `run`: no EOF test here).
	run -0 piped $'line1\nline2\n' ctd_run --rm "$IMG" rmin head -n 1
	[ "$output" = line1 ] || bk_fail "stdin: $output"
	gone rmin
}

@test "ctr run -d, task exec, task ps, kill SIGTERM, task delete, container rm" {
	local log=$BATS_TEST_TMPDIR/d1.log pid child
	run -0 ctd_run -d --log-uri "file://$log" "$IMG" d1 \
		sh -c 'trap "echo got-term; exit 7" TERM; echo started; sleep 1000 & wait'
	bk_wait_until 10 grep -q started "$log" || bk_fail "no 'started' in $log: $(cat "$log")"
	pid=$(ctd_pid d1)
	[ "$(ctd_status d1)" = RUNNING ]

	# exec: its output, its exit status; its stdin; a second exec id.
	run -4 ctd_exec --exec-id x1 d1 sh -c 'echo "in exec, pid $$"; exit 4'
	[[ $output =~ ^"in exec, pid "[0-9]+$ ]] || bk_fail "exec output: $output"
	[ "${output##* }" != 1 ] || bk_fail "exec ran as pid 1"
	run -0 piped $'piped\n' ctd_exec --exec-id x2 d1 cat
	[ "$output" = piped ] || bk_fail "exec stdin: $output"

	# ps: the init and its child (sleep), as the host numbers them.
	child=$(ps -o pid= --ppid "$pid" | tr -d ' ')
	[ -n "$child" ] || bk_fail "no child of $pid"
	run -0 ctd task ps d1
	grep -qE "^${pid}[[:space:]]" <<<"$output" || bk_fail "task ps lacks $pid: $output"
	grep -qE "^${child}[[:space:]]" <<<"$output" || bk_fail "task ps lacks $child: $output"

	# SIGTERM reaches the init's trap; the exit status is the trap's.
	run -0 ctd task kill -s SIGTERM d1
	bk_wait_until 10 stopped d1 || bk_fail "d1 still $(ctd_status d1) after SIGTERM"
	grep -q got-term "$log" || bk_fail "the trap did not run: $(cat "$log")"
	bk_wait_gone "$pid" 5
	run -0 ctd task delete d1
	[[ $output == *"exit code 7"* ]] || bk_fail "task delete: $output"
	run -0 ctd containers rm d1
	gone d1
}

@test "ctr run -t, task exec -t: a terminal, typed commands, its size and a resize, the exit status" {
	tty_start ctd_run -t --rm "$IMG" tty1 sh
	oci_tty_shell
	tmux -S "$TTY_SOCK" resize-window -t bk -x 100 -y 25
	tty_type 'clear; stty size'
	tty_wait '^25 100$'
	tty_type 'exit 5'
	run tty_status
	[ "$output" = 5 ] || bk_fail "ctr run -t exited $output, not 5"
	gone tty1

	# task exec -t: a terminal of its own in a running container.
	run -0 ctd_run -d "$IMG" tty2 sleep 1000
	tty_start ctd_exec -t --exec-id sh1 tty2 sh
	tty_wait '^/ #'
	tty_type 'tty; echo "ppid $PPID"'
	tty_wait '^/dev/pts/[0-9]+$'
	tty_wait '^ppid 0$'
	tty_type 'exit 6'
	run tty_status
	[ "$output" = 6 ] || bk_fail "ctr task exec -t exited $output, not 6"
}

@test "ctr run --env --cwd, task exec --user 1000:1000 --cwd" {
	run -0 ctd_run --rm --env FOO=bar --env 'SP=a b' --cwd /tmp "$IMG" env1 \
		sh -c 'echo "$FOO|$SP|$PATH"; pwd; id -u; id -g'
	[ "$output" = $'bar|a b|/usr/sbin:/usr/bin:/sbin:/bin\n/tmp\n0\n0' ] || bk_fail "output: $output"

	run -0 ctd_run -d --env FOO=bar "$IMG" env2 sleep 1000
	run -0 ctd_exec --exec-id u1 --user 1000:1000 --cwd /etc env2 sh -c 'id; pwd; echo "$FOO"'
	[ "$output" = $'uid=1000 gid=1000 groups=1000\n/etc\nbar' ] || bk_fail "exec output: $output"
	# The user is really 1000: root's 0700 home is closed to it.
	run -1 ctd_exec --exec-id u2 --user 1000:1000 env2 touch /root/x
	[[ $output == *"Permission denied"* ]] || bk_fail "exec as 1000 wrote into /root: $output"
}

@test "ctr run --read-only: / and /tmp refuse writes, the tmpfs mounts take them" {
	run -1 ctd_run --rm --read-only "$IMG" ro1 touch /newfile
	[[ $output == *"Read-only file system"* ]] || bk_fail "output: $output"
	run -0 ctd_run --rm --read-only "$IMG" ro2 sh -c \
		'touch /tmp/x 2>/dev/null && echo tmp-writable; touch /dev/shm/x && touch /run/x && echo tmpfs-ok;
		 awk "\$2 == \"/\" { print \$4 }" /proc/mounts'
	[ "$(sed -n 1p <<<"$output")" = tmpfs-ok ] || bk_fail "output: $output"
	[[ $(sed -n 2p <<<"$output") == ro,* ]] || bk_fail "/ is not mounted ro: $output"
	# Without --read-only the same write works (and goes to the container's layer only).
	run -0 ctd_run --rm "$IMG" rw1 sh -c 'touch /newfile && echo written'
	[ "$output" = written ]
	gone ro1
	gone rw1
}

@test "ctr run --memory-limit: the container's memory cgroup has the limit, and goes with it" {
	local pid dir
	run -0 ctd_run -d --memory-limit 33554432 "$IMG" mem1 sleep 1000
	pid=$(ctd_pid mem1)
	dir=$(cgroup_of "$pid" memory)
	[[ $dir == */$CTD_NS/mem1 ]] || bk_fail "memory cgroup of $pid is $dir, not .../$CTD_NS/mem1"
	if [ "$CG_VERSION" = 2 ]; then
		run -0 cat "$dir/memory.max"
	else
		run -0 cat "$dir/memory.limit_in_bytes"
	fi
	[ "$output" = 33554432 ] || bk_fail "limit: $output"
	# Every process of the container is in it, the exec'd ones too.
	run -0 ctd_exec --exec-id m1 mem1 cat /proc/self/cgroup
	# v1: "N:memory:/NS/mem1"; v2: "0::/NS/mem1".
	grep -qE "^[0-9]+:(memory)?:/$CTD_NS/mem1\$" <<<"$output" || bk_fail "exec's cgroups: $output"
	run -0 ctd task kill -s SIGKILL mem1
	bk_wait_until 10 stopped mem1
	run -0 ctd task delete mem1
	[ ! -d "$dir" ] || bk_fail "$dir is left after task delete"
	run -0 ctd containers rm mem1
	gone mem1
}

@test "masked and read-only paths: /proc/kcore, /proc/keys, /proc/timer_list, /sys/firmware, /proc/sys" {
	local p masked=() n=0
	# The paths containerd's default spec masks that this kernel has (/proc/kcore only with
	# CONFIG_PROC_KCORE): a file reads empty, a directory lists empty, each is a mount point.
	for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/acpi /sys/firmware; do
		[ -e "$p" ] || continue
		masked+=("$p")
		n=$((n + 1))
	done
	[ "$n" -ge 3 ] || bk_fail "only ${masked[*]} to check on this host"
	run -0 ctd_run --rm "$IMG" mask1 sh -c '
		for p; do
			if [ -d "$p" ]; then echo "$p dir $(ls -A "$p" | wc -l)"; else echo "$p file $(cat "$p" | wc -c)"; fi
			awk -v p="$p" "\$5 == p { m = 1 } END { exit !m }" /proc/self/mountinfo || echo "$p not a mount"
		done
		echo 1 >/proc/sys/kernel/domainname 2>/dev/null && echo proc-sys-writable
		awk "\$5 == \"/proc/sys\" { print \$6 }" /proc/self/mountinfo
		ls /proc/kcore 2>&1; true' _ "${masked[@]}"
	for p in "${masked[@]}"; do
		grep -qE "^$p (dir|file) 0\$" <<<"$output" || bk_fail "$p is not empty inside: $output"
	done
	[[ $output != *"not a mount"* ]] || bk_fail "$output"
	[[ $output != *proc-sys-writable* ]] || bk_fail "/proc/sys is writable: $output"
	grep -qE '^ro,' <<<"$output" || bk_fail "/proc/sys is not mounted ro: $output"
	if [ ! -e /proc/kcore ]; then
		[[ $output == *"/proc/kcore"*"No such file"* ]] || bk_fail "/proc/kcore: $output"
	fi
}

@test "capabilities: Docker's default set, all of them with --privileged" {
	local host_bnd
	# CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW
	# SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
	run -0 ctd_run --rm "$IMG" cap1 grep ^Cap /proc/self/status
	grep -qx $'CapPrm:\t00000000a80425fb' <<<"$output" || bk_fail "$output"
	grep -qx $'CapEff:\t00000000a80425fb' <<<"$output" || bk_fail "$output"
	grep -qx $'CapBnd:\t00000000a80425fb' <<<"$output" || bk_fail "$output"
	grep -qx $'CapAmb:\t0000000000000000' <<<"$output" || bk_fail "$output"
	# no_new_privs, as the spec says.
	run -0 ctd_run --rm "$IMG" cap2 grep ^NoNewPrivs /proc/self/status
	[ "$output" = $'NoNewPrivs:\t1' ] || bk_fail "$output"
	# --privileged: what containerd itself has (this host's bounding set).
	host_bnd=$(awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)
	run -0 ctd_run --rm --privileged "$IMG" cap3 grep ^Cap /proc/self/status
	grep -qx $'CapEff:\t'"$host_bnd" <<<"$output" || bk_fail "not $host_bnd: $output"
	grep -qx $'CapBnd:\t'"$host_bnd" <<<"$output" || bk_fail "not $host_bnd: $output"
	# A privileged container sees the host's devices; a default one does not.
	run -0 ctd_run --rm --privileged "$IMG" cap4 sh -c 'ls /dev | wc -l'
	[ "$output" -gt 20 ] || bk_fail "privileged /dev has $output entries"
	run -0 ctd_run --rm "$IMG" cap5 sh -c 'ls /dev/loop0 2>&1; head -c1 /dev/null && echo null-ok'
	[[ $output == *"No such file"*null-ok ]] || bk_fail "$output"
}

@test "seccomp: --seccomp loads Docker's profile (unshare fails), none without it, a profile of ours" {
	run -0 ctd_run --rm --seccomp "$IMG" sec1 sh -c \
		'grep ^Seccomp: /proc/self/status; unshare -U true 2>&1; echo "unshare $?"'
	grep -qx $'Seccomp:\t2' <<<"$output" || bk_fail "$output"
	[[ $output == *"Operation not permitted"*"unshare 1" ]] || bk_fail "$output"
	# The same command works without the profile: the filter refused it, not the capabilities.
	run -0 ctd_run --rm "$IMG" sec2 sh -c \
		'grep ^Seccomp: /proc/self/status; unshare -U true 2>&1; echo "unshare $?"'
	grep -qx $'Seccomp:\t0' <<<"$output" || bk_fail "$output"
	[[ $output == *"unshare 0" ]] || bk_fail "$output"
	# A profile of ours: mkdir answers EOPNOTSUPP, everything else is allowed.
	echo '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"],
		"action": "SCMP_ACT_ERRNO", "errnoRet": 95}]}' >"$BATS_TEST_TMPDIR/seccomp.json"
	run -1 ctd_run --rm --seccomp --seccomp-profile "$BATS_TEST_TMPDIR/seccomp.json" "$IMG" sec3 \
		sh -c 'touch /tmp/f && mkdir /tmp/d'
	[ "$output" = "mkdir: can't create directory '/tmp/d': Operation not supported" ] ||
		bk_fail "mkdir under our profile: $output"
}

@test "namespaces: pid 1, the hostname in a UTS namespace of its own, only lo, its own mounts and ipc" {
	local host_name host_ns ns
	host_name=$(hostname)
	host_ns=$(readlink /proc/self/ns/uts /proc/self/ns/net /proc/self/ns/ipc /proc/self/ns/mnt /proc/self/ns/pid | tr '\n' ' ')
	run -0 ctd_run --rm "$IMG" ns1 sh -c 'echo "pid $$"; hostname
		for ns in uts net ipc mnt pid; do readlink /proc/self/ns/$ns; done
		awk "NR > 2 { print \$1 }" /proc/net/dev'
	[ "$(sed -n 1p <<<"$output")" = "pid 1" ] || bk_fail "$output"
	[ "$(sed -n 2p <<<"$output")" = "$host_name" ] || bk_fail "hostname: $output"
	while read -r ns; do
		[[ " $host_ns " != *" $ns "* ]] || bk_fail "$ns is the host's"
	done < <(sed -n 3,7p <<<"$output")
	[ "$(sed -n '8,$p' <<<"$output")" = "lo:" ] || bk_fail "links: $output"
	# A privileged container changes its own hostname, not the host's.
	run -0 ctd_run --rm --privileged "$IMG" ns2 sh -c 'hostname bk-inside && hostname'
	[ "$output" = bk-inside ] || bk_fail "$output"
	[ "$(hostname)" = "$host_name" ] || bk_fail "the host's hostname changed to $(hostname)"
}

# cri_probe: a second containerd, with its CRI plugin and the runtime as the CRI's
# default handler; prints what the test checks, then removes it whatever happened.
cri_probe() {
	local -
	set +e
	ctd_start "$OCI_RT" cri || { ctd_dump; ctd_stop; return 1; }
	echo "cri plugin: $(ctd plugins ls 2>&1 | awk '$1 == "io.containerd.grpc.v1" && $2 == "cri" { print $NF }')"
	# The config as the plugin logs it (Go's %+v): Options:map[BinaryName:PATH Root:DIR].
	grep -o 'Options:map\[BinaryName:[^ ]*' "$CTD_DIR/containerd.log" | sort -u
	grep -o 'failed to load plugin io.containerd.grpc.v1.cri.*' "$CTD_DIR/containerd.log"
	ctd_pull "$IMG" && ctd_run --rm "$IMG" cri1 echo via-cri-containerd 2>&1
	echo "dir $CTD_DIR"
	ctd_stop
}

task_stopped() {
	[ "$(ctd_status "$1")" = STOPPED ]
}

@test "the tree shows the task: its state and caller, kill through its ctl, ctr sees the exit" {
	"$BK_OCI_RUNTIME" --version | grep -q '^bockerfs-runtime' ||
		skip "the tree shows bockerfs-runtime's containers only"
	[ "$BK_OCI_WRAP" != 0 ] || skip "the store is told to the runtime through the wrapper"
	bk_start
	echo "export BOCKERFS_STORE=$BK_ROOT" >"$OCI_WRAP_DIR/env"
	C=$BK_MNT/containers
	ctd_run -d "$IMG" treek sleep 1000
	bk_wait_until 10 test -d "$C/treek" || bk_fail "not in the tree: $(ls "$C")"
	bk_wait_until 10 grep -qx running "$C/treek/state"
	[ "$(cat "$C/treek/pid")" = "$(ctd_pid treek)" ]
	# Its caller: the shim, or the test's logging wrapper whose parent the shim is.
	caller=$(awk '$1 == "caller" { print $2 }' "$C/treek/status")
	cpid=${caller##*[}
	cpid=${cpid%]}
	[[ "$caller" == containerd-shim* ]] ||
		grep -E "call [^ ]+ pid $cpid parent [0-9]+ \(containerd-shim" "$OCI_LOG" ||
		bk_fail "caller $caller: $(cat "$C/treek/status")"
	grep -qx "oci_root $CTD_DIR/runc/$CTD_NS" "$C/treek/status"
	grep -qx "cgroup /$CTD_NS/treek" "$C/treek/status"
	echo kill >"$C/treek/ctl"
	bk_wait_until 10 task_stopped treek || bk_fail "task: $(ctd task ls)"
	bk_wait_until 10 grep -qx exited "$C/treek/state"
	# Its caller reaped it: the kernel tells its status to others from Linux 6.15.
	if bk_kernel_at_least 6.15; then
		bk_assert_content "$C/treek/wait" $'signal 9\n'
	fi
	ctd task delete treek
	ctd containers delete treek
	bk_wait_until 10 test ! -e "$C/treek" || bk_fail "still in the tree: $(ls "$C")"
}

@test "containerd with its CRI plugin: the runtime is the default handler, ctr still runs it" {
	run -0 cri_probe
	[[ $output == *"cri plugin: ok"* ]] || bk_fail "$output"
	[[ $output == *"Options:map[BinaryName:$OCI_RT"$'\n'* ]] || bk_fail "BinaryName is not $OCI_RT: $output"
	[[ $output != *"failed to load plugin"* ]] || bk_fail "$output"
	[[ $output == *via-cri-containerd* ]] || bk_fail "$output"
	[ ! -e "$(sed -n 's/^dir //p' <<<"$output")" ] || bk_fail "the second containerd's directory is left"
}

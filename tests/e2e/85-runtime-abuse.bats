#!/usr/bin/env bats
# Runtime abuse from inside a container: what a hostile workload (root in
# its container, with Docker's default capabilities) tries against the
# host, and what it must get: a refusal with the errno Docker's gives, or a
# contained effect, and the host unchanged.
#
#   - seccomp: the command, the init (PID 1) and exec sessions all run under
#     the default profile (Docker's); refused calls answer EPERM, clone3 and
#     syscalls newer than the profile ENOSYS; what Docker allows still works
#   - raw system calls (tests/e2e/helpers/abuse.c, built static by the
#     Makefile into BK_HELPERS and copied into the busybox image): reboot, settimeofday, clock_settime,
#     swapon, acct, kexec, module loading, open_by_handle_at, keyctl, bpf,
#     perf_event_open, userfaultfd, io_uring, iopl, syslog, mount (old and
#     new API), pivot_root, unshare, clone with namespaces, setns,
#     personality, AF_VSOCK and AF_ALG sockets
#   - busybox as an attacker would use it: mount, unshare -U/-m/-n, ip link
#   - /proc and /sys: sysrq-trigger, core_pattern, kcore, keys, release_agent,
#     and /proc/PID/exe of the init and of the exec helper (CVE-2019-5736)
#   - ptrace and signals to host processes (not visible), to the init
#   - the host's network: links added or taken down from the container's own
#     namespace and from `net host`; the daemon's namespace unchanged
#   - a fork bomb under the default pids limit (2048, podman's) and a memory
#     hog under a memory limit: contained, the daemon and other containers
#     fine
#
# Each test runs its daemon in a throwaway network namespace (tests/lib/net.bash)
# and removes everything it made even when it fails.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'
load '../lib/net'

: "${BATS_TEST_TIMEOUT:=180}"

setup_file() {
	ct_setup_file || return
	# The probe helper, static (the image has no libc), built by the Makefile.
	bk_helper abuse "$CT_BB_DIR/busybox/bin/abuse"
}

teardown_file() {
	ct_teardown_file
}

teardown() {
	net_teardown
}

# ab_run VAR CMD [FILE=VALUE...]: create, start and wait for a container
# running CMD; its log goes into VAR.  Fails unless it exits 0.
ab_run() {
	local -n _log=$1
	local id
	net_create id "$2" "${@:3}" || return
	net_start_ctr "$id" || return
	bk_assert_content "$C/$id/wait" $'exit 0\n' || bk_fail "log: $(cat "$C/$id/log")" || return
	_log=$(cat "$C/$id/log")
}

# ab_exec VAR ID CMD: run CMD in an exec session of running container ID;
# its output goes into VAR.  Fails unless it exits 0.
ab_exec() {
	local -n _out=$1
	local n res
	n=$(cat "$C/$2/exec/clone") || return
	res=$(bk_write_errno "$C/$2/exec/$n/ctl" "exec $3"$'\n')
	[ "${res%%$'\n'*}" = OK ] || bk_fail "exec '$3': $res" || return
	_out=$(timeout 60 cat "$C/$2/exec/$n/out")
	bk_assert_content "$C/$2/exec/$n/wait" $'exit 0\n' || bk_fail "output: $_out"
}

# ab_check OUTPUT EXPECTED...: each EXPECTED is "PROBE RESULT", and OUTPUT
# (abuse's lines) must hold exactly that line; every miss is reported.
ab_check() {
	local out=$1 want bad=0 got
	shift
	for want in "$@"; do
		grep -qxF -- "$want" <<<"$out" && continue
		got=$(grep -F -- "${want%% *} " <<<"$out" | head -n1)
		bk_fail "want '$want', got '${got:-nothing}'" || bad=1
	done
	return "$bad"
}

# What Docker's default profile and capabilities give root in a container.
REFUSED=(
	'reboot EPERM' 'settimeofday EPERM' 'clock_settime EPERM' 'swapon EPERM' 'acct EPERM'
	'kexec_load EPERM' 'kexec_file_load EPERM' 'init_module EPERM' 'finit_module EPERM'
	'delete_module EPERM' 'open_by_handle_at EPERM' 'keyctl EPERM' 'add_key EPERM'
	'bpf EPERM' 'perf_event_open EPERM' 'userfaultfd EPERM' 'io_uring_setup EPERM'
	'iopl EPERM' 'syslog EPERM' 'mount_tmpfs EPERM' 'mount_proc EPERM' 'mount_bind EPERM'
	'remount_proc_sys EPERM' 'umount_proc_sys EPERM' 'fsopen EPERM' 'open_tree EPERM'
	'pivot_root EPERM' 'unshare:user EPERM' 'unshare:mnt EPERM' 'unshare:net EPERM'
	'unshare:pid EPERM' 'clone_newuser EPERM' 'setns EPERM' 'sethostname EPERM'
	'personality:0x0040000 EPERM' 'socket:vsock EPERM' 'socket:alg EPERM'
	'ptrace:1 EPERM' 'process_vm_readv:1 EPERM'
	# glibc falls back to clone on ENOSYS; a syscall newer than the profile is "not here".
	'clone3 ENOSYS' 'nr:1000 ENOSYS'
)
ALLOWED=('fork OK' 'personality:0xffffffff OK' 'socket:inet OK' 'socket:unix OK')

ab_probes() {
	local p probes=""
	for p in "${REFUSED[@]}" "${ALLOWED[@]}"; do
		probes+=" ${p%% *}"
	done
	echo "$probes"
}

# ---- seccomp -------------------------------------------------------------------

@test "seccomp: the command, the init and an exec session are filtered (mode 2), without no_new_privs; the daemon is not" {
	net_start
	ab_run log 'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status /proc/1/status'
	for f in /proc/self/status /proc/1/status; do
		grep -qxF "$f:Seccomp:	2" <<<"$log" || bk_fail "$f: $log"
		grep -qxF "$f:NoNewPrivs:	0" <<<"$log" || bk_fail "$f: $log"
	done
	net_create id 'echo up; exec sleep 1000'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	ab_exec out "$id" 'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status'
	[ "$out" = $'NoNewPrivs:\t0\nSeccomp:\t2' ] || bk_fail "exec session: $out"
	# The daemon itself is not filtered.
	grep -qx $'Seccomp:\t0' "/proc/$BK_PID/status"
}

@test "refused system calls: EPERM as with Docker's profile, ENOSYS for clone3 and unknown numbers; what Docker allows works" {
	net_start
	ab_run log "abuse $(ab_probes)"
	ab_check "$log" "${REFUSED[@]}" "${ALLOWED[@]}"
}

@test "an exec session gets the same refusals as the container's command" {
	net_start
	net_create id 'echo up; exec sleep 1000'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	ab_exec out "$id" "abuse $(ab_probes)"
	ab_check "$out" "${REFUSED[@]}" "${ALLOWED[@]}"
	bk_assert_content "$C/$id/state" $'running\n'
}

@test "busybox as an attacker: mount tmpfs/proc/bind, unshare -U/-m/-n, dmesg, insmod: Operation not permitted" {
	net_start
	local -a script=(
		'mkdir -p /mnt/a'
		'mount -t tmpfs none /mnt/a 2>&1; echo "tmpfs=$?"'
		'mount -t proc proc /mnt/a 2>&1; echo "proc=$?"'
		'mount --bind / /mnt/a 2>&1; echo "bind=$?"'
		'mount -t cgroup -o memory cgroup /mnt/a 2>&1; echo "cgroup=$?"'
		'unshare -U true 2>&1; echo "unshare_U=$?"'
		'unshare -m true 2>&1; echo "unshare_m=$?"'
		'unshare -n true 2>&1; echo "unshare_n=$?"'
		'unshare -r true 2>&1; echo "unshare_r=$?"'
		'dmesg >/dev/null 2>&1; echo "dmesg=$?"'
		'printf "\177ELF" >/tmp/x.ko; insmod /tmp/x.ko 2>&1; echo "insmod=$?"'
		'grep -c " /mnt/a " /proc/self/mountinfo'
		'echo done'
	)
	ab_run log "$(printf '%s; ' "${script[@]}")"
	for k in tmpfs proc bind cgroup unshare_U unshare_m unshare_n unshare_r dmesg insmod; do
		v=$(sed -n "s/^$k=//p" <<<"$log")
		[ -n "$v" ] && [ "$v" != 0 ] || bk_fail "$k worked: $log"
	done
	# Each refusal is the kernel's EPERM, as the tool words it (busybox mount: "permission
	# denied (are you root?)"; dmesg is silenced).
	n=$(grep -c 'Operation not permitted' <<<"$log")
	[ "$n" -eq 5 ] || bk_fail "$n refusals say 'Operation not permitted': $log"
	n=$(grep -c '^mount: permission denied' <<<"$log")
	[ "$n" -eq 4 ] || bk_fail "$n mount refusals: $log"
	grep -qx 0 <<<"$log" || bk_fail "something got mounted on /mnt/a: $log"
	[ "$(tail -n1 <<<"$log")" = done ]
}

# ---- /proc, /sys, the init and the exec helper ------------------------------------------

@test "/proc and /sys: sysrq-trigger, core_pattern, drop_caches, uevent_helper read-only; kcore, keys, timer_list read empty; host files unchanged" {
	net_start
	core=$(cat /proc/sys/kernel/core_pattern)
	local -a probes=(
		open_w:/proc/sysrq-trigger open_w:/proc/sys/kernel/core_pattern
		open_w:/proc/sys/vm/drop_caches open_w:/proc/sys/kernel/modprobe
		open_w:/sys/kernel/uevent_helper open_w:/sys/power/state
		read:/proc/kcore read:/proc/keys read:/proc/timer_list read:/proc/sched_debug
	)
	ab_run log "abuse ${probes[*]}; find /sys/fs/cgroup -name release_agent | sed 's/^/open_w:/' | xargs -r abuse"
	local -a want=()
	for p in "${probes[@]}"; do
		f=${p#*:}
		if [ ! -e "$f" ]; then
			want+=("$p ENOENT") # this kernel has no such file: nothing to reach
		elif [[ $p == open_w:* ]]; then
			want+=("$p EROFS")
		else
			want+=("$p OK 0")
		fi
	done
	ab_check "$log" "${want[@]}"
	# No release_agent is reachable, and none is writable.
	! grep -E '^open_w:.*release_agent OK' <<<"$log" || bk_fail "$log"
	[ "$(cat /proc/sys/kernel/core_pattern)" = "$core" ]
}

@test "CVE-2019-5736 class: the init's /proc/1/exe, mem and environ refused; the exec helper not visible from its session" {
	net_start
	net_create id 'echo up; exec sleep 1000'
	net_start_ctr "$id"
	ct_wait_log "$id" '^up$'
	local -a script=(
		'abuse open_w:/proc/1/exe open_w:/proc/1/mem read:/proc/1/environ read:/proc/1/exe ptrace:1'
		'echo ppid=$(awk "/^PPid:/ { print \$2 }" /proc/$$/status)'
		'for p in /proc/[0-9]*; do echo "proc ${p#/proc/} $(tr "\0" " " <$p/cmdline 2>/dev/null)"; done'
		'readlink /proc/1/exe >/dev/null 2>&1; echo exe=$?'
	)
	ab_exec out "$id" "$(printf '%s; ' "${script[@]}")"
	ab_check "$out" 'open_w:/proc/1/exe EACCES' 'open_w:/proc/1/mem EACCES' \
		'read:/proc/1/environ EACCES' 'read:/proc/1/exe EACCES' 'ptrace:1 EPERM'
	# The session's parent, the helper, lives outside the container's pid namespace.
	grep -qx 'ppid=0' <<<"$out" || bk_fail "$out"
	! grep -E '^proc .*(--exec|bockerfs-exec)' <<<"$out" || bk_fail "the helper is visible: $out"
	grep -qE '^proc 1 bockerfs-init' <<<"$out" || bk_fail "no init in the listing: $out"
	grep -qx 'exe=1' <<<"$out" || bk_fail "$out"
	# And from the host: neither the init nor a helper can be dumped.
	[ "$(awk '/^Seccomp:/ { print $2 }' "/proc/$(cat "$C/$id/pid")/status")" = 2 ]
}

@test "host processes: not visible, no signal, no ptrace (ESRCH); the daemon unharmed" {
	net_start
	host_pid=$BK_PID
	ab_run log "ls -d /proc/$host_pid 2>/dev/null; echo seen=\$?; abuse ptrace:$host_pid kill0:$host_pid process_vm_readv:$host_pid"
	grep -qx 'seen=1' <<<"$log" || bk_fail "/proc/$host_pid exists in the container: $log"
	ab_check "$log" "ptrace:$host_pid ESRCH" "kill0:$host_pid ESRCH" "process_vm_readv:$host_pid ESRCH"
	bk_alive "$BK_PID"
	grep -qx 'TracerPid:	0' "/proc/$BK_PID/status"
}

# ---- the host's network --------------------------------------------------------

# links [PREFIX...]: the links of PREFIX's namespace (nh: the daemon's; env: the
# test's), each with "up" or "down" as set by an administrator (not the
# carrier, which follows the containers' veths); not the host ends of veths
# made ahead (bkq + 12 hex digits), which come and go with the daemon's pool
# and the containers.
links() {
	"$@" ip -o link show | awk -F': ' '{
		sub(/@.*/, "", $2)
		if ($2 !~ /^bkq[0-9a-f]+$/)
			print $2, ($3 ~ /^<([^>]*,)?UP[,>]/ ? "up" : "down")
	}' | sort
}

@test "network: ip link add, set lo down, addresses and routes refused in the container's namespace and with net host; the daemon's namespace unchanged" {
	net_start
	before=$(links nh)
	outer_lo=$(links env | awk '$1 == "lo"')
	local -a script=(
		'ip link add bkabuse0 type dummy 2>&1; echo "add=$?"'
		'ip link set lo down 2>&1; echo "lo=$?"'
		'ip addr add 198.51.100.7/32 dev lo 2>&1; echo "addr=$?"'
		'ip route add 198.51.100.0/24 dev lo 2>&1; echo "route=$?"'
	)
	line=$(printf '%s; ' "${script[@]}")
	ab_run own "$line"
	ab_run host "$line" net='mode host'
	for log in "$own" "$host"; do
		for k in add lo addr route; do
			v=$(sed -n "s/^$k=//p" <<<"$log")
			[ -n "$v" ] && [ "$v" != 0 ] || bk_fail "$k worked: $log"
		done
		[ "$(grep -c 'Operation not permitted' <<<"$log")" -ge 4 ] || bk_fail "$log"
	done
	after=$(links nh)
	[ "$after" = "$before" ] || bk_fail "daemon's namespace changed: $before -> $after"
	nh ip link show lo | grep -q 'state UNKNOWN\|LOWER_UP' || bk_fail "lo: $(nh ip link show lo)"
	! nh ip link show bkabuse0 2>/dev/null || false
	! ip link show bkabuse0 2>/dev/null || false
	[ "$(links env | awk '$1 == "lo"')" = "$outer_lo" ]
	! nh ip -o addr | grep -q 198.51.100.7 || false
}

# ---- pids and memory ---------------------------------------------------------------

@test "a fork bomb under the default pids limit (2048, podman's) is contained: the host forks, the daemon answers, another container runs; rm force ends it" {
	cg_usable || skip "$(cg_unusable_reason)"
	net_start
	net_create id 'echo start; b() { b | b & }; b; exec sleep 1000' limits='cpus 0.5'
	grep -qx 'pids 2048' "$C/$id/limits" || bk_fail "limits: $(cat "$C/$id/limits")"
	net_start_ctr "$id"
	ct_wait_log "$id" '^start$'
	grp=$(cg_path "$id")
	[ "$(cg_read "$grp" pids.max)" = 2048 ]
	bk_wait_until 60 ct_pids_limit_hit "$id" || bk_fail "pids.events: $(cat "$(cg_file "$grp" pids.denied)")"
	n=$(cg_read "$grp" pids.current)
	[ "$n" -le 2048 ] || bk_fail "pids.current $n"
	# The host is fine: it forks, the daemon answers, a second container starts and ends.
	bash -c 'true'
	bk_assert_content "$C/$id/state" $'running\n'
	ab_run other 'echo other'
	[ "$other" = other ]
	run ct_ctl "$id" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force: $output"
	[ ! -e "$C/$id" ]
	cg_absent "$grp" || bk_fail "groups left: $(cg_dirs "$grp")"
	# `pids max` still lifts it for a container that needs more.
	net_create big 'true' limits='pids max'
	grep -qx 'pids max' "$C/$big/limits"
}

@test "a memory hog under memory 64M is OOM-killed inside its group; a neighbour runs on and the daemon answers" {
	cg_usable || skip "$(cg_unusable_reason)"
	net_start
	net_create calm 'echo up; exec sleep 1000'
	net_start_ctr "$calm"
	ct_wait_log "$calm" '^up$'
	net_create hog 'x=a; while :; do x="$x$x"; done' limits='memory 64M'
	net_start_ctr "$hog"
	bk_assert_content "$C/$hog/wait" $'signal 9\n'
	[ "$(ct_status "$hog" oomkilled)" = 1 ] || bk_fail "status: $(cat "$C/$hog/status")"
	bk_assert_content "$C/$calm/state" $'running\n'
	ab_exec out "$calm" 'echo still here'
	[ "$out" = 'still here' ]
	bk_alive "$BK_PID"
	[ "$(cat "$BK_MNT/version")" != "" ]
}

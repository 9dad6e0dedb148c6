#!/usr/bin/env bats
# An OCI runtime under Kubernetes' Container Runtime Interface: containerd 1.6
# (Debian's) with its CRI plugin, the runc shim's BinaryName set to the
# runtime, driven as kubelet drives it by tests/py/cri/cri_client.py:
# PullImage, RunPodSandbox (a pause container, a network namespace made by
# containerd and wired by CNI), CreateContainer, StartContainer, ExecSync,
# ContainerStatus, StopContainer, RemoveContainer, StopPodSandbox,
# RemovePodSandbox, ListContainers, ListPodSandbox.  The runtime is
# BK_OCI_RUNTIME (tests/lib/ociruntime.bash: bockerfs-runtime next to the
# daemon by default, called through the logging wrapper); the same tests pass
# with runc and crun, which is what shows they test the runtime:
#   BK_OCI_RUNTIME=/usr/sbin/runc bats tests/e2e/74-runtime-cri.bats
#   BK_OCI_RUNTIME=/usr/bin/crun BK_OCI_HIDE_UNIFIED=1 bats tests/e2e/74-runtime-cri.bats
#
# One containerd for the file (tests/lib/containerd.bash), the pod network a
# bridge of our own with no address on the host and the pause image the test
# registry's busybox waiting for SIGTERM (tests/lib/cri.bash).  Each test
# makes its own pods; teardown stops and removes every pod, then containerd,
# the bridge and CNI's cache files of our pods.  A failed test prints the
# runtime's calls (argv, config.json, exit status), the pods and containers
# CRI lists, and containerd's log.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/registry'
load '../lib/ociruntime'
load '../lib/containerd'
load '../lib/cri'

: "${BATS_TEST_TIMEOUT:=180}"

setup_file() {
	bk_registry_setup || return
	OCI_WRAP_DIR=$(mktemp -d "/var/tmp/bkoci$$-XXXXXX") || return
	oci_wrap "$OCI_WRAP_DIR" || return
	export OCI_WRAP_DIR OCI_RT OCI_LOG OCI_LOG_DIR
	if ! ctd_start "$OCI_RT" cri || ! cri_setup; then
		{
			oci_log_dump
			ctd_dump
		} >&3
		cri_teardown
		return 1
	fi
}

teardown_file() {
	cri_teardown
	oci_log_save cri
	[ -n "${OCI_WRAP_DIR:-}" ] && rm -rf "$OCI_WRAP_DIR"
	bk_registry_teardown
}

setup() {
	OCI_LOG_START=$(wc -l <"$OCI_LOG")
	oci_runtime_check
}

teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		echo "---- OCI runtime calls of this test ($OCI_LOG) ----"
		tail -n +"$((OCI_LOG_START + 1))" "$OCI_LOG" | head -n 300
		cri_dump
		ctd_dump
	fi
	cri_clean_pods
}

# rt ARGS...: the runtime itself on the CRI plugin's root (namespace k8s.io).
rt() {
	"$BK_OCI_RUNTIME" --root "$CTD_DIR/runc/k8s.io" "$@"
}

# rt_listed ID: the runtime lists ID.
rt_listed() {
	rt list 2>/dev/null | awk -v id="$1" '$1 == id { f = 1 } END { exit !f }'
}

# ctr_cgroups ID: the cgroup directories named ID under our namespace's (every hierarchy).
ctr_cgroups() {
	find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -path "*/$CTD_NS/*" -name "$1" 2>/dev/null
}

# log_has FILE TEXT: the CRI log FILE has a line whose message is TEXT.
log_has() {
	grep -qE "^[^ ]+ (stdout|stderr) F $2\$" "$1" 2>/dev/null
}

# ctr_log ID: the container's log file (its pod's log_directory + log_path).
ctr_log() {
	cri inspect "$1" | jq -er .log_path
}

# failed_calls: the argv of each runtime call of this test that exited non-zero, with its status.
failed_calls() {
	tail -n +"$((OCI_LOG_START + 1))" "$OCI_LOG" | awk '
		/^[^ ]+ call [^ ]+ pid / { n = $3 }
		/^  argv: / && n != "" { argv[n] = substr($0, 9) }
		/^[^ ]+ call [^ ]+ rc [0-9]+ / && $5 != 0 { print "rc " $5 ": " argv[$3] }'
}

# pod_gone POD_ID IDS...: CRI lists neither the pod nor the containers IDS, the
# runtime has none of them (nor their state directories), their cgroups are gone.
pod_gone() {
	local pod=$1 id ps
	shift
	run cri pods
	[[ $output != *"$pod"* ]] || bk_fail "pod $pod still listed: $output" || return
	ps=$(cri ps) || return
	for id in "$pod" "$@"; do
		[[ $ps != *"\"$id\""* ]] || bk_fail "container $id still listed: $ps" || return
		! rt_listed "$id" || bk_fail "the runtime still lists $id: $(rt list)" || return
		[ ! -e "$CTD_DIR/runc/k8s.io/$id" ] || bk_fail "runtime state of $id left" || return
		[ -z "$(ctr_cgroups "$id")" ] || bk_fail "cgroups of $id left: $(ctr_cgroups "$id")" || return
	done
}

@test "Version and Status: containerd answers runtime.v1; runtime and network ready" {
	run -0 cri version
	[ "$(jq -r .runtime_api_version <<<"$output")" = v1 ] || bk_fail "$output"
	[ "$(jq -r .runtime_name <<<"$output")" = containerd ] || bk_fail "$output"
	run -0 cri status
	[ "$(jq -c '[.status.conditions[] | [.type, .status]] | sort' <<<"$output")" = \
		'[["NetworkReady",true],["RuntimeReady",true]]' ] || bk_fail "$output"
}

@test "PullImage: the test registry's busybox over plain HTTP on loopback; ImageStatus and ListImages" {
	run -0 cri pull "$BK_REG/test/busybox:latest"
	[ "$output" = "$CRI_IMAGE" ] || bk_fail "image ref $output, setup pulled $CRI_IMAGE"
	[[ $output =~ ^sha256:[0-9a-f]{64}$ ]] || bk_fail "image ref: $output"
	run -0 cri call ImageService ImageStatus "{\"image\": {\"image\": \"$BK_REG/test/busybox:latest\"}}"
	[ "$(jq -r .image.id <<<"$output")" = "$CRI_IMAGE" ] || bk_fail "$output"
	jq -e --arg t "$BK_REG/test/busybox:latest" '.image.repo_tags | index($t)' <<<"$output" >/dev/null ||
		bk_fail "$output"
	run -0 cri call ImageService ListImages
	jq -e --arg id "$CRI_IMAGE" '[.images[].id] | index($id)' <<<"$output" >/dev/null || bk_fail "$output"
	# An image the registry does not have: the RPC fails (the client's status 2).
	run -2 cri pull "$BK_REG/test/nosuch:latest"
	[[ $output == *"PullImage"* ]] || bk_fail "$output"
}

@test "RunPodSandbox: the pause container runs through the runtime, in the pod's cgroup and network namespace" {
	local pod pid uid ip
	pod=$(cri_runp sb)
	run -0 cri inspectp "$pod"
	[ "$(jq -r .status.state <<<"$output")" = SANDBOX_READY ] || bk_fail "$output"
	ip=$(jq -r .status.network.ip <<<"$output")
	[[ $ip =~ ^10\.231\.0\.[0-9]+$ ]] || bk_fail "pod IP '$ip' not of $CRI_SUBNET"
	uid=$(jq -r .status.metadata.uid <<<"$output")
	# The runtime made and started it.
	oci_calls create | grep -q " $pod\$" || bk_fail "no create of $pod: $(oci_calls create)"
	oci_calls start | grep -q " start $pod\$" || bk_fail "no start of $pod: $(oci_calls start)"
	run -0 rt state "$pod"
	[ "$(jq -r .status <<<"$output")" = running ] || bk_fail "runtime state: $output"
	pid=$(jq -r .pid <<<"$output")
	# The pause process: busybox sh waiting, in /CTD_NS/kubepods/pod<uid>/<id>.
	[[ $(tr '\0' ' ' <"/proc/$pid/cmdline") == "/bin/sh -c trap "* ]] ||
		bk_fail "pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
	grep -q ":/$CTD_NS/kubepods/pod$uid/$pod\$" "/proc/$pid/cgroup" ||
		bk_fail "cgroups of $pid: $(cat "/proc/$pid/cgroup")"
	# Its network namespace has lo and eth0 with the pod's address, and one veth on our bridge.
	run -0 nsenter --net="/proc/$pid/ns/net" ip -4 -o addr show
	[[ $output == *"lo    inet 127.0.0.1/8"* ]] || bk_fail "$output"
	[[ $output == *"eth0    inet $ip/24"* ]] || bk_fail "$output"
	[ "$(ip -o link show master "$CRI_BR" | wc -l)" = 1 ] || bk_fail "$(ip -o link show master "$CRI_BR")"
	# ListPodSandbox.
	run -0 cri pods
	[ "$(jq -r --arg id "$pod" '.[] | select(.id == $id) | .state' <<<"$output")" = SANDBOX_READY ] ||
		bk_fail "$output"
}

@test "a container: CreateContainer, StartContainer, RUNNING, its log; ExecSync output and exit codes" {
	local pod c log pid
	pod=$(cri_runp ctr)
	c=$(cri_run "$pod" c1 'echo started; echo to-stderr >&2; while :; do sleep 1; done')
	cri_wait_state "$c" CONTAINER_RUNNING
	run -0 cri inspect "$c"
	[ "$(jq -r .metadata.name <<<"$output")" = c1 ] || bk_fail "$output"
	[ "$(jq -r .started_at <<<"$output")" -gt 0 ] || bk_fail "$output"
	[[ $(jq -r .image_ref <<<"$output") == "$BK_REG/test/busybox@sha256:"* ]] || bk_fail "$output"
	oci_calls create | grep -q " $c\$" || bk_fail "no create of $c: $(oci_calls create)"
	# The log, in CRI's format, stdout and stderr.
	log=$(ctr_log "$c")
	bk_wait_until 10 log_has "$log" started || bk_fail "log $log: $(cat "$log")"
	bk_wait_until 10 log_has "$log" to-stderr || bk_fail "log $log: $(cat "$log")"
	grep -qE '^[^ ]+ stderr F to-stderr$' "$log" || bk_fail "log $log: $(cat "$log")"
	# ExecSync: stdout and stderr apart, the exit code.
	# shellcheck disable=SC2016 # expanded in the container
	run -3 --separate-stderr cri exec "$c" sh -c 'echo out; echo err >&2; exit 3'
	[ "$output" = out ] || bk_fail "stdout: $output"
	# shellcheck disable=SC2154 # set by run --separate-stderr
	[ "$stderr" = err ] || bk_fail "stderr: $stderr"
	# shellcheck disable=SC2016
	run -0 cri exec "$c" sh -c 'echo "$POD_NAME $KUBERNETES_SERVICE_HOST $(id -u) $(pwd)"'
	[ "$output" = "ctr 10.96.0.1 0 /" ] || bk_fail "$output"
	run -0 cri exec "$c" true
	[ -z "$output" ] || bk_fail "$output"
	# A program the image does not have: the RPC fails (kubelet's probe fails), nothing runs.
	run cri exec "$c" /no/such/program
	[ "$status" != 0 ] || bk_fail "exec of a missing program succeeded: $output"
	# The container still runs, ListContainers has it.
	[ "$(cri_state "$c")" = CONTAINER_RUNNING ] || bk_fail "$(cri inspect "$c")"
	run -0 cri ps --pod "$pod"
	[ "$(jq -r --arg id "$c" '.[] | select(.id == $id) | .state' <<<"$output")" = CONTAINER_RUNNING ] ||
		bk_fail "$output"
	# RemoveContainer of a running container kills it first.
	pid=$(cri_pid "$c")
	run -0 cri rm "$c"
	bk_wait_gone "$pid" 10 || bk_fail "process $pid survives RemoveContainer"
	run -0 cri ps --pod "$pod"
	[ "$output" = "[]" ] || bk_fail "$output"
	! rt_listed "$c" || bk_fail "the runtime still lists $c: $(rt list)"
}

@test "the container as kubelet configures it: hostname, DNS, mounts, masked and read-only paths, capabilities, seccomp, cgroups" {
	local pod c pid uid d
	pod=$(cri_runp cfg)
	uid=$(cri inspectp "$pod" | jq -r .status.metadata.uid)
	c=$(cri_run "$pod" c1 'while :; do sleep 1; done')
	cri_wait_state "$c" CONTAINER_RUNNING
	run -0 cri exec "$c" hostname
	[ "$output" = cfg ] || bk_fail "hostname: $output"
	run -0 cri exec "$c" cat /etc/resolv.conf
	[[ $output == *"nameserver 10.96.0.10"* ]] || bk_fail "resolv.conf: $output"
	[[ $output == *"search bktest.svc.cluster.local svc.cluster.local cluster.local"* ]] ||
		bk_fail "resolv.conf: $output"
	[[ $output == *"options ndots:5"* ]] || bk_fail "resolv.conf: $output"
	run -0 cri exec "$c" cat /etc/hosts
	[[ $output == *"kubelet-managed hosts of cfg"* ]] || bk_fail "/etc/hosts: $output"
	# /dev/termination-log is the pod's file, written through.
	run -0 cri exec "$c" sh -c 'echo done-msg >/dev/termination-log'
	[ "$(cat "$CRI_DIR/pods/cfg/c1-termination-log")" = done-msg ] ||
		bk_fail "termination-log: $(cat "$CRI_DIR/pods/cfg/c1-termination-log")"
	# Masked paths read empty, /proc/sys is read-only.
	# shellcheck disable=SC2016
	run -0 cri exec "$c" sh -c '
		for p in /proc/kcore /proc/keys /proc/timer_list /sys/firmware; do
			[ -e "$p" ] || continue
			if [ -d "$p" ]; then echo "$p dir $(ls -A "$p" | wc -l)"; else echo "$p file $(cat "$p" | wc -c)"; fi
		done
		echo 1 >/proc/sys/kernel/domainname 2>/dev/null && echo proc-sys-writable
		awk "\$5 == \"/proc/sys\" { print \$6 }" /proc/self/mountinfo'
	[[ $output != *proc-sys-writable* ]] || bk_fail "/proc/sys is writable: $output"
	grep -qE '^ro,' <<<"$output" || bk_fail "/proc/sys is not mounted ro: $output"
	grep -E '^/(proc|sys)/' <<<"$output" | grep -vqE ' 0$' && bk_fail "a masked path is not empty: $output"
	# containerd's default capabilities, seccomp RuntimeDefault (filter mode).
	run -0 cri exec "$c" grep -E '^(CapEff|Seccomp):' /proc/self/status
	grep -qx $'CapEff:\t00000000a80425fb' <<<"$output" || bk_fail "$output"
	grep -qx $'Seccomp:\t2' <<<"$output" || bk_fail "$output"
	# The cgroup: where kubelet's cgroup_parent says, with kubelet's limits.
	pid=$(cri_pid "$c")
	grep -q ":/$CTD_NS/kubepods/pod$uid/$c\$" "/proc/$pid/cgroup" ||
		bk_fail "cgroups of $pid: $(cat "/proc/$pid/cgroup")"
	[ "$(cat "/proc/$pid/oom_score_adj")" = 968 ] || bk_fail "oom_score_adj $(cat "/proc/$pid/oom_score_adj")"
	if [ "$CG_VERSION" = 2 ]; then
		d=$(cri_cgroup "$pid" memory)
		[ "$(cat "$d/memory.max")" = 67108864 ] || bk_fail "$d/memory.max: $(cat "$d/memory.max")"
		[ "$(cat "$d/cpu.max")" = "50000 100000" ] || bk_fail "$d/cpu.max: $(cat "$d/cpu.max")"
	else
		d=$(cri_cgroup "$pid" memory)
		[ "$(cat "$d/memory.limit_in_bytes")" = 67108864 ] || bk_fail "$d: $(cat "$d/memory.limit_in_bytes")"
		d=$(cri_cgroup "$pid" cpu)
		[ "$(cat "$d/cpu.cfs_quota_us")" = 50000 ] || bk_fail "$d: $(cat "$d/cpu.cfs_quota_us")"
		[ "$(cat "$d/cpu.cfs_period_us")" = 100000 ] || bk_fail "$d: $(cat "$d/cpu.cfs_period_us")"
		[ "$(cat "$d/cpu.shares")" = 256 ] || bk_fail "$d: $(cat "$d/cpu.shares")"
	fi
}

@test "two containers in one pod share its network, IPC and UTS namespaces, not their PID namespaces" {
	local pod ip c1 c2 pause n1 n2
	pod=$(cri_runp share)
	ip=$(cri_pod_ip "$pod")
	c1=$(cri_run "$pod" web 'mkdir -p /www && echo hello-from-web >/www/index.html &&
		exec httpd -f -p 8080 -h /www')
	c2=$(cri_run "$pod" client 'while :; do sleep 1; done')
	cri_wait_state "$c1" CONTAINER_RUNNING
	cri_wait_state "$c2" CONTAINER_RUNNING
	# The same interfaces, the pod's address on eth0 in both.
	n1=$(cri exec "$c1" ip -4 -o addr show)
	n2=$(cri exec "$c2" ip -4 -o addr show)
	[ "$n1" = "$n2" ] || bk_fail "c1: $n1"$'\n'"c2: $n2"
	[[ $n1 == *"eth0    inet $ip/24"* ]] || bk_fail "no $ip on eth0: $n1"
	# One's server answers the other on the pod's loopback and on the pod's address (nc:
	# the static busybox's wget crashes resolving even a numeric address without NSS).
	for a in 127.0.0.1 "$ip"; do
		run -0 cri exec "$c2" sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $a 8080"
		[[ $output == *$'\r\n\r\nhello-from-web' ]] || bk_fail "GET from $a: $output"
	done
	# The namespaces, by inode: net, ipc and uts are the pause container's; pid is each one's own.
	pause=$(rt state "$pod" | jq -r .pid)
	for ns in net ipc uts; do
		n1=$(cri exec "$c1" readlink "/proc/self/ns/$ns")
		n2=$(cri exec "$c2" readlink "/proc/self/ns/$ns")
		[ "$n1" = "$n2" ] && [ "$n1" = "$(readlink "/proc/$pause/ns/$ns")" ] ||
			bk_fail "$ns: c1 $n1, c2 $n2, pause $(readlink "/proc/$pause/ns/$ns")"
	done
	n1=$(cri exec "$c1" readlink /proc/self/ns/pid)
	n2=$(cri exec "$c2" readlink /proc/self/ns/pid)
	[ "$n1" != "$n2" ] && [ "$n1" != "$(readlink "/proc/$pause/ns/pid")" ] ||
		bk_fail "pid: c1 $n1, c2 $n2, pause $(readlink "/proc/$pause/ns/pid")"
	# IPC: the pod's /dev/shm is one.
	cri exec "$c1" sh -c 'echo shm-data >/dev/shm/shared'
	run -0 cri exec "$c2" cat /dev/shm/shared
	[ "$output" = shm-data ] || bk_fail "/dev/shm: $output"
	# Each container sees only its own processes: its init is pid 1.
	run -0 cri exec "$c1" cat /proc/1/cmdline
	[[ $output == httpd* ]] || bk_fail "c1's pid 1: $output"
}

@test "shareProcessNamespace (pid POD): the containers see the pause process as pid 1 and each other" {
	local pod c1 c2 pause
	pod=$(cri_runp pidpod '.linux.security_context.namespace_options.pid = "POD"')
	c1=$(cri_run "$pod" a 'exec sleep 1000' '.linux.security_context.namespace_options.pid = "POD"')
	c2=$(cri_run "$pod" b 'while :; do sleep 1; done' '.linux.security_context.namespace_options.pid = "POD"')
	cri_wait_state "$c1" CONTAINER_RUNNING
	cri_wait_state "$c2" CONTAINER_RUNNING
	run -0 cri exec "$c2" ps -o pid,args
	grep -qE '^ +1 /bin/sh -c trap' <<<"$output" || bk_fail "pid 1 is not the pause process: $output"
	grep -qE '^ +[0-9]+ sleep 1000$' <<<"$output" || bk_fail "b does not see a's sleep: $output"
	pause=$(rt state "$pod" | jq -r .pid)
	[ "$(cri exec "$c1" readlink /proc/self/ns/pid)" = "$(readlink "/proc/$pause/ns/pid")" ] ||
		bk_fail "a is not in the pod's pid namespace"
	[ "$(cri exec "$c2" readlink /proc/self/ns/pid)" = "$(readlink "/proc/$pause/ns/pid")" ] ||
		bk_fail "b is not in the pod's pid namespace"
}

@test "containers that exit: EXITED with the exit code, reason Error or Completed; a restart is a new attempt" {
	local pod c3 c0 c0b log
	pod=$(cri_runp exits)
	c3=$(cri_run "$pod" three 'echo failing; exit 3')
	c0=$(cri_run "$pod" zero 'echo bye')
	cri_wait_state "$c3" CONTAINER_EXITED
	cri_wait_state "$c0" CONTAINER_EXITED
	run -0 cri inspect "$c3"
	[ "$(jq -r .exit_code <<<"$output")" = 3 ] || bk_fail "$output"
	[ "$(jq -r .reason <<<"$output")" = Error ] || bk_fail "$output"
	[ "$(jq -r '[.started_at, .finished_at] | map(tonumber > 0) | all' <<<"$output")" = true ] ||
		bk_fail "times: $output"
	run -0 cri inspect "$c0"
	[ "$(jq -r .exit_code <<<"$output")" = 0 ] || bk_fail "$output"
	[ "$(jq -r .reason <<<"$output")" = Completed ] || bk_fail "$output"
	log=$(ctr_log "$c0")
	log_has "$log" bye || bk_fail "log $log: $(cat "$log")"
	# ListContainers by state.
	run -0 cri ps --pod "$pod" --state CONTAINER_EXITED
	[ "$(jq -r '[.[].id] | sort | join(" ")' <<<"$output")" = "$(printf '%s\n' "$c3" "$c0" | sort | xargs)" ] ||
		bk_fail "$output"
	run -0 cri ps --pod "$pod" --state CONTAINER_RUNNING
	[ "$output" = "[]" ] || bk_fail "$output"
	# No exec into an exited container.
	run cri exec "$c0" true
	[ "$status" != 0 ] || bk_fail "exec into an exited container: $output"
	# kubelet's restart: remove, then create attempt 1 with the same name.
	cri rm "$c0"
	c0b=$(cri_run "$pod" zero 'echo again' '.metadata.attempt = 1 | .log_path = "zero/1.log"')
	cri_wait_state "$c0b" CONTAINER_EXITED
	run -0 cri inspect "$c0b"
	[ "$(jq -r '[.metadata.attempt, .exit_code] | join(" ")' <<<"$output")" = "1 0" ] || bk_fail "$output"
	cri rm "$c3"
	cri rm "$c0b"
	run -0 cri ps --pod "$pod"
	[ "$output" = "[]" ] || bk_fail "$output"
	for c in "$c3" "$c0" "$c0b"; do
		! rt_listed "$c" || bk_fail "the runtime still lists $c"
		[ -z "$(ctr_cgroups "$c")" ] || bk_fail "cgroups of $c left: $(ctr_cgroups "$c")"
	done
}

@test "StopContainer with a timeout: SIGTERM first; one that ignores it is killed when the timeout ends" {
	local pod ct ci log t0 t1
	pod=$(cri_runp stop)
	ct=$(cri_run "$pod" term 'trap "echo got-TERM; exit 7" TERM; echo ready; while :; do sleep 1 & wait $!; done')
	ci=$(cri_run "$pod" ignore 'trap "" TERM; echo ready; while :; do sleep 1; done')
	log=$(ctr_log "$ct")
	bk_wait_until 10 log_has "$log" ready || bk_fail "log $log: $(cat "$log")"
	bk_wait_until 10 log_has "$(ctr_log "$ci")" ready || bk_fail "$(cat "$(ctr_log "$ci")")"
	# The trap's exit, well before the timeout.
	t0=$SECONDS
	run -0 cri stop --timeout 30 "$ct"
	t1=$SECONDS
	[ $((t1 - t0)) -lt 15 ] || bk_fail "StopContainer took $((t1 - t0))s for a container that exits on SIGTERM"
	run -0 cri inspect "$ct"
	[ "$(jq -r '[.state, .exit_code] | join(" ")' <<<"$output")" = "CONTAINER_EXITED 7" ] || bk_fail "$output"
	log_has "$log" got-TERM || bk_fail "log $log: $(cat "$log")"
	# SIGTERM ignored: SIGKILL after 3 s, exit code 137.
	t0=$SECONDS
	run -0 cri stop --timeout 3 "$ci"
	t1=$SECONDS
	[ $((t1 - t0)) -ge 2 ] && [ $((t1 - t0)) -lt 20 ] || bk_fail "StopContainer --timeout 3 took $((t1 - t0))s"
	run -0 cri inspect "$ci"
	[ "$(jq -r '[.state, .exit_code] | join(" ")' <<<"$output")" = "CONTAINER_EXITED 137" ] || bk_fail "$output"
	# Stopping again is a no-op.
	run -0 cri stop --timeout 3 "$ci"
	oci_calls kill | grep -q " $ci" || bk_fail "no kill of $ci: $(oci_calls kill)"
}

# no_sleep30 ID: no `sleep 30` runs in the container.
no_sleep30() {
	! cri exec "$1" ps -o args | grep -q '^sleep 30'
}

@test "ExecSync with a timeout: a command that outlives it is stopped, the container is not" {
	local c pod
	pod=$(cri_runp exectimeout)
	c=$(cri_run "$pod" c1 'while :; do sleep 1; done')
	cri_wait_state "$c" CONTAINER_RUNNING
	run cri exec --timeout 2 "$c" sleep 30
	[ "$status" != 0 ] || bk_fail "exec outlived its timeout and succeeded: $output"
	[[ $output == *"timeout"* || $output == *"DEADLINE"* ]] || bk_fail "$output"
	# The sleep is gone (the kill may take a moment), the container still runs.
	bk_wait_until 10 no_sleep30 "$c" ||
		bk_fail "sleep 30 still runs: $(cri exec "$c" ps -o pid,args)"
	[ "$(cri_state "$c")" = CONTAINER_RUNNING ] || bk_fail "$(cri inspect "$c")"
}

@test "security context: run_as_user and run_as_group, readonly_rootfs, seccomp Unconfined" {
	local pod c
	pod=$(cri_runp secctx)
	c=$(cri_run "$pod" c1 'while :; do sleep 1; done' '.linux.security_context += {
		run_as_user: {value: 1000}, run_as_group: {value: 1000}, readonly_rootfs: true,
		seccomp: {profile_type: "Unconfined"}}')
	cri_wait_state "$c" CONTAINER_RUNNING
	run -0 cri exec "$c" id
	[[ $output == "uid=1000 gid=1000"* ]] || bk_fail "id: $output"
	run cri exec "$c" touch /rootfs-write
	[ "$status" != 0 ] || bk_fail "wrote to a read-only rootfs"
	[[ $stderr$output == *"Read-only file system"* ]] || bk_fail "touch: $output"
	run -0 cri exec "$c" grep -E '^(Seccomp|CapEff):' /proc/self/status
	grep -qx $'Seccomp:\t0' <<<"$output" || bk_fail "$output"
	# Not root: no effective capabilities.
	grep -qx $'CapEff:\t0000000000000000' <<<"$output" || bk_fail "$output"
}

@test "StopPodSandbox stops the containers and tears down the network; RemovePodSandbox leaves nothing" {
	local pod c1 c2 pause p1 p2 ip veth netns uid
	pod=$(cri_runp down)
	uid=$(cri inspectp "$pod" | jq -r .status.metadata.uid)
	ip=$(cri_pod_ip "$pod")
	c1=$(cri_run "$pod" c1 'while :; do sleep 1; done')
	c2=$(cri_run "$pod" c2 'trap "" TERM; while :; do sleep 1; done')
	cri_wait_state "$c1" CONTAINER_RUNNING
	cri_wait_state "$c2" CONTAINER_RUNNING
	pause=$(rt state "$pod" | jq -r .pid)
	p1=$(cri_pid "$c1")
	p2=$(cri_pid "$c2")
	veth=$(ip -o link show master "$CRI_BR" | awk -F': ' '{ print $2 }' | sed 's/@.*//')
	[ "$(wc -w <<<"$veth")" = 1 ] || bk_fail "veths on $CRI_BR: $veth"
	netns=$(cri call RuntimeService PodSandboxStatus "{\"pod_sandbox_id\": \"$pod\", \"verbose\": true}" |
		jq -r '.info.info | fromjson | .runtimeSpec.linux.namespaces[] | select(.type == "network") | .path')
	[ -e "$netns" ] || bk_fail "no netns file '$netns'"
	[ -e "$CRI_DIR/ipam/$CRI_BR/$ip" ] || bk_fail "no IPAM lease of $ip: $(ls "$CRI_DIR/ipam/$CRI_BR")"

	run -0 cri stopp "$pod"
	[ "$(cri inspectp "$pod" | jq -r .status.state)" = SANDBOX_NOTREADY ] || bk_fail "$(cri inspectp "$pod")"
	[ "$(cri_state "$c1")" = CONTAINER_EXITED ] || bk_fail "c1: $(cri inspect "$c1")"
	[ "$(cri_state "$c2")" = CONTAINER_EXITED ] || bk_fail "c2: $(cri inspect "$c2")"
	for p in "$pause" "$p1" "$p2"; do
		bk_wait_gone "$p" 10 || bk_fail "process $p survives StopPodSandbox"
	done
	[ ! -e "/sys/class/net/$veth" ] || bk_fail "veth $veth left"
	[ ! -e "$netns" ] || bk_fail "netns $netns left"
	[ ! -e "$CRI_DIR/ipam/$CRI_BR/$ip" ] || bk_fail "IPAM lease of $ip left"
	compgen -G "/var/lib/cni/results/*-$pod-*" >/dev/null &&
		bk_fail "CNI cache left: $(ls /var/lib/cni/results/*-"$pod"-*)"
	# Stopping twice is fine (kubelet retries).
	run -0 cri stopp "$pod"

	run -0 cri rmp "$pod"
	pod_gone "$pod" "$c1" "$c2"
	# Only the pod's cgroup parent is left (kubelet's to remove), empty.
	[ -z "$(find /sys/fs/cgroup -mindepth 2 -maxdepth 5 -type d -path "*/$CTD_NS/kubepods/pod$uid/*" 2>/dev/null)" ] ||
		bk_fail "groups left: $(find /sys/fs/cgroup -type d -path "*/$CTD_NS/kubepods/pod$uid/*")"
	# Removing twice is fine too.
	run -0 cri rmp "$pod"
}

@test "volumes and devices as kubelet passes them: a shared emptyDir, a read-only configMap, a device, a new working directory" {
	local pod d j c1 c2
	pod=$(cri_runp vol)
	d=$CRI_DIR/pods/vol
	mkdir -p "$d/empty" "$d/cm"
	echo v1 >"$d/cm/key"
	# (the paths have no quotes: mktemp's names)
	j=".mounts += [{container_path: \"/cache\", host_path: \"$d/empty\"},
		{container_path: \"/etc/config\", host_path: \"$d/cm\", readonly: true}]
		| .devices = [{container_path: \"/dev/bknull\", host_path: \"/dev/null\", permissions: \"rwm\"}]
		| .working_dir = \"/data/work\""
	c1=$(cri_run "$pod" writer 'echo from-writer >/cache/f; while :; do sleep 1; done' "$j")
	c2=$(cri_run "$pod" reader 'while :; do sleep 1; done' "$j")
	cri_wait_state "$c1" CONTAINER_RUNNING
	cri_wait_state "$c2" CONTAINER_RUNNING
	bk_wait_until 10 test -s "$d/empty/f" || bk_fail "the writer wrote nothing to the emptyDir"
	run -0 cri exec "$c2" cat /cache/f /etc/config/key
	[ "$output" = $'from-writer\nv1' ] || bk_fail "$output"
	run cri exec "$c2" sh -c 'echo x >/etc/config/key'
	[ "$status" = 1 ] && [[ $output == *"Read-only file system"* ]] || bk_fail "configMap write: $status $output"
	[ "$(cat "$d/cm/key")" = v1 ] || bk_fail "the configMap changed: $(cat "$d/cm/key")"
	run -0 cri exec "$c2" sh -c 'stat -c "%F %t:%T" /dev/bknull && echo y >/dev/bknull && echo written'
	[ "$output" = $'character special file 1:3\nwritten' ] || bk_fail "/dev/bknull: $output"
	run -0 cri exec "$c2" pwd
	[ "$output" = /data/work ] || bk_fail "working directory: $output"
}

@test "pod sysctls are set in the pod's namespaces; host PID and IPC namespaces (NODE)" {
	local pod c hp
	pod=$(cri_runp sysctl '.linux.sysctls = {"net.ipv4.ip_unprivileged_port_start": "80",
		"kernel.shm_rmid_forced": "1", "net.ipv4.ping_group_range": "0 1000"}')
	c=$(cri_run "$pod" s 'while :; do sleep 1; done')
	cri_wait_state "$c" CONTAINER_RUNNING
	run -0 cri exec "$c" cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shm_rmid_forced \
		/proc/sys/net/ipv4/ping_group_range
	[ "$output" = $'80\n1\n0\t1000' ] || bk_fail "sysctls in the container: $output"
	# The host's are untouched.
	[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" != 80 ] || bk_fail "the host's sysctl changed"

	pod=$(cri_runp hostns '.linux.security_context.namespace_options += {pid: "NODE", ipc: "NODE"}')
	c=$(cri_run "$pod" h 'while :; do sleep 1; done' \
		'.linux.security_context.namespace_options += {pid: "NODE", ipc: "NODE"}')
	cri_wait_state "$c" CONTAINER_RUNNING
	for ns in pid ipc; do
		hp=$(readlink "/proc/self/ns/$ns")
		run -0 cri exec "$c" readlink "/proc/self/ns/$ns"
		[ "$output" = "$hp" ] || bk_fail "$ns namespace $output, the host's $hp"
	done
	# The network stays the pod's own.
	run -0 cri exec "$c" readlink /proc/self/ns/net
	[ "$output" != "$(readlink /proc/self/ns/net)" ] || bk_fail "in the host's network namespace"
}

@test "privileged pod and container: every capability, the host's devices, no seccomp, no masked paths" {
	local pod c bnd
	pod=$(cri_runp priv '.linux.security_context.privileged = true')
	c=$(cri_run "$pod" p 'while :; do sleep 1; done' '.linux.security_context.privileged = true')
	cri_wait_state "$c" CONTAINER_RUNNING
	bnd=$(awk '$1 == "CapBnd:" { print $2 }' "/proc/$CTD_PID/status")
	run -0 cri exec "$c" grep -E '^(CapEff|Seccomp):' /proc/self/status
	grep -qx $'CapEff:\t'"$bnd" <<<"$output" || bk_fail "CapEff is not containerd's bounding set $bnd: $output"
	grep -qx $'Seccomp:\t0' <<<"$output" || bk_fail "$output"
	# The host's block and character devices are there (containerd lists them all in the config).
	for dev in /dev/loop0 /dev/kmsg /dev/mem; do
		[ -e "$dev" ] || continue
		run -0 cri exec "$c" stat -c '%F %t:%T' "$dev"
		[ "$output" = "$(stat -c '%F %t:%T' "$dev")" ] || bk_fail "$dev: $output"
	done
	# Nothing masked: /proc/timer_list reads as on the host.
	if [ -s /proc/timer_list ]; then
		run -0 cri exec "$c" sh -c 'head -c 100 /proc/timer_list | wc -c'
		[ "$output" = 100 ] || bk_fail "/proc/timer_list is masked: $output"
	fi
}

@test "a tty container: its output comes through the console into the log" {
	local pod c log
	pod=$(cri_runp tty)
	# shellcheck disable=SC2016 # expanded in the container
	c=$(cri_run "$pod" t 'echo "tty is $(tty)"; [ -t 1 ] && echo stdout-is-a-tty' '.tty = true')
	cri_wait_state "$c" CONTAINER_EXITED
	[ "$(cri inspect "$c" | jq -r .exit_code)" = 0 ] || bk_fail "$(cri inspect "$c")"
	log=$(ctr_log "$c")
	grep -qE '^[^ ]+ stdout F tty is /dev/pts/[0-9]+\r?$' "$log" || bk_fail "log: $(cat -A "$log")"
	grep -qE '^[^ ]+ stdout F stdout-is-a-tty\r?$' "$log" || bk_fail "log: $(cat -A "$log")"
	oci_calls create | grep -- "--console-socket" | grep -q " $c\$" ||
		bk_fail "no create --console-socket for $c: $(oci_calls create)"
}

@test "UpdateContainerResources: the runtime changes a running container's cgroup limits" {
	local pod c pid d
	pod=$(cri_runp update)
	c=$(cri_run "$pod" u 'while :; do sleep 1; done')
	cri_wait_state "$c" CONTAINER_RUNNING
	run -0 cri call RuntimeService UpdateContainerResources "{\"container_id\": \"$c\", \"linux\": {
		\"cpu_period\": 100000, \"cpu_quota\": 20000, \"cpu_shares\": 512,
		\"memory_limit_in_bytes\": 100663296, \"cpuset_cpus\": \"0\", \"cpuset_mems\": \"0\"}}"
	oci_calls update | grep -q " $c\$" || bk_fail "no update of $c: $(oci_calls update)"
	pid=$(cri_pid "$c")
	if [ "$CG_VERSION" = 2 ]; then
		d=$(cri_cgroup "$pid" memory)
		[ "$(cat "$d/memory.max")" = 100663296 ] || bk_fail "$d/memory.max: $(cat "$d/memory.max")"
		[ "$(cat "$d/cpu.max")" = "20000 100000" ] || bk_fail "$d/cpu.max: $(cat "$d/cpu.max")"
	else
		d=$(cri_cgroup "$pid" memory)
		[ "$(cat "$d/memory.limit_in_bytes")" = 100663296 ] || bk_fail "$d: $(cat "$d/memory.limit_in_bytes")"
		d=$(cri_cgroup "$pid" cpu)
		[ "$(cat "$d/cpu.cfs_quota_us")" = 20000 ] || bk_fail "$d: $(cat "$d/cpu.cfs_quota_us")"
		[ "$(cat "$d/cpu.shares")" = 512 ] || bk_fail "$d: $(cat "$d/cpu.shares")"
		d=$(cri_cgroup "$pid" cpuset)
		[ "$(cat "$d/cpuset.cpus")" = 0 ] || bk_fail "$d: $(cat "$d/cpuset.cpus")"
	fi
	# kubelet's CPU manager pins the container to CPU 0.
	grep -qx $'Cpus_allowed_list:\t0' "/proc/$pid/status" || bk_fail "$(grep Cpus_allowed "/proc/$pid/status")"
	# The container still runs.
	[ "$(cri_state "$c")" = CONTAINER_RUNNING ] || bk_fail "$(cri inspect "$c")"
}

# cpu_used ID: ContainerStats counts more than 1 ms of CPU for ID.
cpu_used() {
	[ "$(cri call RuntimeService ContainerStats "{\"container_id\": \"$1\"}" |
		jq -r '.stats.cpu.usage_core_nano_seconds.value | tonumber > 1000000')" = true ]
}

@test "ContainerStats: cpu and memory of the container's cgroup; a container over its memory limit is OOMKilled" {
	local pod c o
	pod=$(cri_runp stats)
	# shellcheck disable=SC2016 # expanded in the container
	c=$(cri_run "$pod" busy 'i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done; while :; do sleep 1; done')
	cri_wait_state "$c" CONTAINER_RUNNING
	bk_wait_until 20 cpu_used "$c" ||
		bk_fail "cpu usage: $(cri call RuntimeService ContainerStats "{\"container_id\": \"$c\"}")"
	run -0 cri call RuntimeService ContainerStats "{\"container_id\": \"$c\"}"
	[ "$(jq -r '.stats.memory.working_set_bytes.value | tonumber > 0' <<<"$output")" = true ] ||
		bk_fail "memory: $output"
	[ "$(jq -r .stats.attributes.id <<<"$output")" = "$c" ] || bk_fail "$output"

	# tail keeps the line it reads, and /dev/zero has no end of line.
	o=$(cri_run "$pod" oom 'echo start; tail /dev/zero' '.linux.resources.memory_limit_in_bytes = 33554432')
	cri_wait_state "$o" CONTAINER_EXITED 30
	run -0 cri inspect "$o"
	[ "$(jq -r '[.exit_code, .reason] | join(" ")' <<<"$output")" = "137 OOMKilled" ] || bk_fail "$output"
}

# no_shims: no shim of our containerd runs.
no_shims() {
	[ -z "$(ctd_shims)" ]
}

@test "every runtime call of a pod's life succeeds, the shim's cleanup delete --force of a deleted container too" {
	local pod c
	# runc and crun exit 0 for `delete --force` of a container that is not there (runc:
	# "if force { return nil }"): the shim runs it at every shutdown after its `delete`.
	pod=$(cri_runp calls)
	c=$(cri_run "$pod" c 'echo hi')
	cri_wait_state "$c" CONTAINER_EXITED
	run -0 cri rm "$c"
	run -0 cri stopp "$pod"
	run -0 cri rmp "$pod"
	pod_gone "$pod" "$c"
	# The shims exit after RemovePodSandbox: their last calls may come a moment later.
	bk_wait_until 10 no_shims || true
	run failed_calls
	[ -z "$output" ] || bk_fail "runtime calls that failed:"$'\n'"$output"
}

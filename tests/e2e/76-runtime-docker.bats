#!/usr/bin/env bats
# An OCI runtime under Docker (Debian's docker.io 20.10, its dockerd on
# Debian's containerd 1.6 and the containerd-shim-runc-v2 shim), driven with
# /usr/bin/docker.  The runtime is registered as "bk" (--add-runtime bk=...):
# bockerfs-runtime next to the daemon through the logging wrapper of
# tests/lib/ociruntime.bash (BK_OCI_RUNTIME chooses another).  Each test runs
# its containers with `--runtime $BK_DOCKER_RUNTIME`, "bk" by default; the same
# tests pass with Docker's own runc, and with runc behind the wrapper, which
# is what shows they test the runtime and not our reading of Docker:
#   BK_DOCKER_RUNTIME=runc bats tests/e2e/76-runtime-docker.bats
#   BK_OCI_RUNTIME=/usr/sbin/runc bats tests/e2e/76-runtime-docker.bats
# BK_OCI_LOG_KEEP=DIR keeps the wrapper's log (DIR/docker/calls.log, files/)
# and one call of each kind (DIR/docker/<subcommand>.txt, config.json with
# its hooks, process.json): what Docker asks of a runtime.
#
# One dockerd for the file (tests/lib/dockerd.bash): its own data and exec
# roots, socket, containerd, cgroup parent, and a network namespace of its
# own in which its bridge, iptables rules and published ports live (the
# "host" of its network: curl runs there); the test registry's busybox
# pulled over loopback.  Docker's network is libnetwork's: the container's
# config.json has a prestart hook (dockerd's own binary, libnetwork-setkey)
# through which dockerd learns the container's netns and moves a veth in.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/registry'
load '../lib/ociruntime'
load '../lib/dockerd'
load '../lib/tty'

: "${BATS_TEST_TIMEOUT:=120}"
BK_DOCKER_RUNTIME=${BK_DOCKER_RUNTIME:-bk}

setup_file() {
	bk_registry_setup || return
	oci_suite_setup || return
	if ! dkd_start "$OCI_RT" || ! dkd_pull "$BK_REG/test/busybox:latest"; then
		dkd_dump >&3
		dkd_stop
		return 1
	fi
}

teardown_file() {
	dkd_stop
	[ -n "${BK_OCI_LOG_KEEP:-}" ] && dkd_samples "$BK_OCI_LOG_KEEP/docker"
	oci_suite_teardown docker
	bk_registry_teardown
}

setup() {
	IMG=$BK_REG/test/busybox:latest
	RT=$BK_DOCKER_RUNTIME
	oci_log_mark
	[ "$RT" = runc ] || oci_runtime_check
}

teardown() {
	tty_stop
	# The second Docker of the cleanup test, if it failed before stopping it.
	if [ -n "${DKD_FILE_DIR:-}" ]; then
		dkd_stop
		DKD_DIR=$DKD_FILE_DIR DKD_SOCK=$DKD_FILE_SOCK DKD_NS=$DKD_FILE_NS DKD_BR=$DKD_FILE_BR
		DKD_CGROUP=$DKD_FILE_CGROUP
	fi
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		echo "---- the last command's output ----"
		printf '%s\n' "${output:-}" ${stderr:+"$stderr"}
		[ -s "$BATS_TEST_TMPDIR/docker.err" ] && cat "$BATS_TEST_TMPDIR/docker.err"
		oci_log_test
		dkd_dump
	fi
	dkd_clean_containers
}

# dkd_run ARGS...: docker run with the runtime under test.
dkd_run() {
	dkd run --runtime "$RT" "$@"
}

# full_id NAME: the container's id.
full_id() {
	dkd inspect -f '{{.Id}}' "$1"
}

# gone ID: Docker does not list ID, the runtime has no state for it, its cgroups are gone.
gone() {
	local id=$1
	run dkd ps -aq --no-trunc
	[[ $output != *"$id"* ]] || bk_fail "container $id is still listed: $output" || return
	[ -z "$(find "$DKD_DIR/exec" -maxdepth 3 -path "*/runtime-*/moby/$id" 2>/dev/null)" ] ||
		bk_fail "runtime state of $id left: $(find "$DKD_DIR/exec" -path "*/runtime-*/moby/$id")" || return
	[ -z "$(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path "*/$DKD_CGROUP/$id" 2>/dev/null)" ] ||
		bk_fail "cgroups of $id left: $(find /sys/fs/cgroup -type d -path "*/$DKD_CGROUP/$id")"
}

# state NAME: Docker's status of NAME (running, exited, paused...).
state() {
	dkd inspect -f '{{.State.Status}}' "$1"
}

exited() {
	[ "$(state "$1")" = exited ]
}

# logs_have NAME TEXT: docker logs NAME has the line TEXT.
logs_have() {
	dkd logs "$1" 2>&1 | grep -qxF -- "$2"
}

# tty_docker ERRFILE ARGS...: dkd ARGS... with the client's own errors in ERRFILE
# (run in the terminal: what Docker says when the container does not start).
tty_docker() {
	local err=$1
	shift
	dkd "$@" 2>>"$err"
}

# ip_of NAME: NAME's address on its (only) network.
ip_of() {
	dkd inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"
}

@test "docker run --rm: the output, the exit status 0 and 3, standard input" {
	run -0 --separate-stderr dkd_run --rm "$IMG" sh -c 'echo hi; echo err >&2'
	[ "$output" = hi ] || bk_fail "stdout: $output"
	[ "$stderr" = err ] || bk_fail "stderr: $stderr"

	run -3 dkd_run --rm --name rm3 "$IMG" sh -c 'echo hi; exit 3'
	[ "$output" = hi ] || bk_fail "output: $output"

	# -i: standard input reaches the container, and its end too (wc ends).
	run -0 piped $'line1\nline2\n' dkd_run --rm -i "$IMG" wc -l
	[ "$output" = 2 ] || bk_fail "stdin: $output"

	# Nothing is left of them: no container, no runtime state, no cgroup.
	run -0 dkd ps -aq
	[ -z "$output" ] || bk_fail "containers left: $output"
	[ -z "$(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -path "*/$DKD_CGROUP/*")" ] ||
		bk_fail "cgroups left: $(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -path "*/$DKD_CGROUP/*")"
}

@test "docker run -d, exec (output, status, stdin, user, cwd), stop (SIGTERM to the init), rm" {
	local id pid
	run -0 dkd_run -d --name d1 "$IMG" \
		sh -c 'trap "echo got-term; exit 7" TERM; echo started; sleep 1000 & wait'
	id=$output
	bk_wait_until 10 logs_have d1 started || bk_fail "no 'started' in the logs: $(dkd logs d1 2>&1)"
	[ "$(state d1)" = running ]
	pid=$(dkd inspect -f '{{.State.Pid}}' d1)
	bk_alive "$pid" || bk_fail "the init $pid does not run"

	run -4 dkd exec d1 sh -c 'echo "in exec, pid $$"; exit 4'
	[[ $output =~ ^"in exec, pid "[0-9]+$ ]] || bk_fail "exec output: $output"
	[ "${output##* }" != 1 ] || bk_fail "exec ran as pid 1"
	run -0 piped $'piped\n' dkd exec -i d1 cat
	[ "$output" = piped ] || bk_fail "exec stdin: $output"
	run -0 dkd exec -u 1000:1000 -w /tmp -e FOO=bar d1 sh -c 'id -u; id -g; pwd; echo "$FOO"'
	[ "$output" = $'1000\n1000\n/tmp\nbar' ] || bk_fail "exec -u -w -e: $output"
	run -1 dkd exec -u 1000 d1 touch /root/x
	[[ $output == *"Permission denied"* ]] || bk_fail "exec as 1000 wrote into /root: $output"

	# docker stop: SIGTERM reaches the init's trap; its exit status is Docker's.
	run -0 dkd stop -t 10 d1
	[ "$(state d1)" = exited ]
	run -0 dkd inspect -f '{{.State.ExitCode}}' d1
	[ "$output" = 7 ] || bk_fail "exit code: $output"
	logs_have d1 got-term || bk_fail "the trap did not run: $(dkd logs d1 2>&1)"
	bk_wait_gone "$pid" 5
	run -0 dkd rm d1
	gone "$id"
}

@test "docker pause/unpause, top, update --memory, kill -s" {
	local id pid dir
	run -0 dkd_run -d --name p1 --memory 64m "$IMG" sh -c 'trap "exit 9" USR1; sleep 1000 & wait'
	id=$output
	bk_wait_until 10 eval '[ "$(state p1)" = running ]'
	pid=$(dkd inspect -f '{{.State.Pid}}' p1)

	run -0 dkd top p1 -o pid,comm
	grep -qE "^$pid +sh$" <<<"$output" || bk_fail "top lacks the init $pid: $output"
	grep -qE ' sleep$' <<<"$output" || bk_fail "top lacks sleep: $output"

	run -0 dkd pause p1
	[ "$(state p1)" = paused ]
	if [ "$CG_VERSION" = 2 ]; then
		run -0 cat "$(cgroup_of "$pid" x)/cgroup.freeze"
		[ "$output" = 1 ] || bk_fail "cgroup.freeze: $output"
	else
		run -0 cat "$(cgroup_of "$pid" freezer)/freezer.state"
		[ "$output" = FROZEN ] || bk_fail "freezer.state: $output"
	fi
	run -0 dkd unpause p1
	[ "$(state p1)" = running ]
	run -0 dkd exec p1 echo after-unpause
	[ "$output" = after-unpause ]

	dir=$(cgroup_of "$pid" memory)
	[[ $dir == */$DKD_CGROUP/$id ]] || bk_fail "memory cgroup of $pid is $dir, not .../$DKD_CGROUP/$id"
	run -0 dkd update --memory 96m --memory-swap 192m p1
	if [ "$CG_VERSION" = 2 ]; then
		run -0 cat "$dir/memory.max"
	else
		run -0 cat "$dir/memory.limit_in_bytes"
	fi
	[ "$output" = $((96 << 20)) ] || bk_fail "limit after update: $output"

	run -0 dkd kill -s USR1 p1
	bk_wait_until 10 exited p1 || bk_fail "p1 is $(state p1) after SIGUSR1"
	run -0 dkd inspect -f '{{.State.ExitCode}}' p1
	[ "$output" = 9 ] || bk_fail "exit code: $output"
	run -0 dkd rm p1
	gone "$id"
}

@test "the default bridge: eth0 with an address of its subnet, the gateway; the libnetwork hook" {
	local cfg
	run -0 dkd_run --rm "$IMG" sh -c 'hostname; ip -4 -o addr show eth0; ip route'
	[[ ${lines[0]} =~ ^[0-9a-f]{12}$ ]] || bk_fail "hostname: $output"
	[[ ${lines[1]} =~ eth0\ +inet\ 10\.213\.0\.([0-9]+)/24 ]] || bk_fail "eth0: $output"
	[ "${BASH_REMATCH[1]}" != 1 ] || bk_fail "the container has the gateway's address: $output"
	grep -qx "default via $DKD_GW dev eth0 *" <<<"$output" || bk_fail "no default route: $output"

	# What Docker gave the runtime: a prestart hook running dockerd's binary.
	[ "$RT" = runc ] && return
	cfg=$(ls -t "$OCI_LOG_DIR"/files/*-config.json | head -n 1)
	run -0 jq -r '.hooks.prestart[0].args[0], .hooks.prestart[0].path' "$cfg"
	[ "${lines[0]}" = libnetwork-setkey ] || bk_fail "hooks: $(jq .hooks "$cfg")"
	[[ ${lines[1]} =~ ^/proc/[0-9]+/exe$ ]] || bk_fail "hooks: $(jq .hooks "$cfg")"
}

@test "a user-defined network: two containers reach each other by address and by name" {
	local ip
	run -0 dkd network create --subnet 10.213.1.0/24 bknet
	run -0 dkd_run -d --name peer1 --network bknet "$IMG" nc -l -p 7777 -e echo pong
	ip=$(ip_of peer1)
	[[ $ip == 10.213.1.* ]] || bk_fail "peer1's address: $ip"
	run -0 dkd_run --rm --name peer2 --network bknet "$IMG" sh -c \
		"ip -4 -o addr show eth0; ping -c1 -W2 $ip && echo ping-ok; ping -c1 -W2 peer1 && echo name-ok"
	[[ ${lines[0]} =~ eth0\ +inet\ 10\.213\.1\.[0-9]+/24 ]] || bk_fail "peer2's eth0: $output"
	[[ $output == *$'\nping-ok'* ]] || bk_fail "ping by address: $output"
	[[ $output == *$'\nname-ok'* ]] || bk_fail "ping by name (Docker's DNS): $output"
	# TCP too: busybox nc to peer1's listener.
	run -0 dkd_run --rm --network bknet "$IMG" sh -c "nc -w 3 $ip 7777 </dev/null"
	[ "$output" = pong ] || bk_fail "nc: $output"
}

@test "a published port on 127.0.0.1: busybox httpd answers curl on the host" {
	local port=18080
	run -0 dkd_run -d --name web1 -p "127.0.0.1:$port:80" "$IMG" \
		sh -c 'mkdir /www && echo "hello from $(hostname)" >/www/index.html && exec httpd -f -p 80 -h /www'
	run -0 dkd port web1 80
	[ "$output" = "127.0.0.1:$port" ] || bk_fail "docker port: $output"
	bk_wait_until 10 dkd_in curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$port/" ||
		bk_fail "nothing answers on 127.0.0.1:$port"
	run -0 dkd_in curl -sf --max-time 3 "http://127.0.0.1:$port/"
	[ "$output" = "hello from $(dkd inspect -f '{{.Config.Hostname}}' web1)" ] ||
		bk_fail "page: $output"
	# The listener is Docker's proxy in Docker's namespace, not in the test's.
	run -0 dkd_in ss -ltnpH "sport = :$port"
	[[ $output == *docker-proxy* ]] || bk_fail "listener on $port in $DKD_NS: $output"
	run -0 ss -ltnpH "sport = :$port"
	[[ $output != *docker-proxy* ]] || bk_fail "docker-proxy listens in the test's namespace: $output"
}

@test "--memory 32m: the cgroup has the limit; past it the OOM killer, OOMKilled and 137" {
	local id
	run -0 dkd_run --rm --memory 32m "$IMG" sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null ||
		cat /sys/fs/cgroup/memory.max'
	[ "$output" = 33554432 ] || bk_fail "limit seen inside: $output"

	# A moment before the allocation: the shim watches for OOM events only once
	# the task has started, and one before that would go unseen (runc's too).
	run -137 dkd_run --name oom1 --memory 32m "$IMG" sh -c 'sleep 2; exec dd if=/dev/zero of=/dev/null bs=100M count=1'

	run -0 dkd inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' oom1
	[ "$output" = "true 137" ] || bk_fail "OOMKilled, ExitCode: $output"
	id=$(full_id oom1)
	run -0 dkd rm oom1
	gone "$id"
}

@test "docker run -it in a terminal: a shell, typed commands, the exit status" {
	tty_start tty_docker "$BATS_TEST_TMPDIR/docker.err" run --runtime "$RT" -it --rm --name tty1 "$IMG" sh
	oci_tty_shell
	tty_type 'exit 5'
	run tty_status 20
	[ "$output" = 5 ] || bk_fail "docker run -it exited $output, not 5"
	run -0 dkd ps -aq
	[ -z "$output" ] || bk_fail "containers left: $output"
}

@test "docker exec -it in a terminal: typed commands, a resize, the exit status" {
	run -0 dkd_run -d --name tty2 "$IMG" sleep 1000
	tty_start tty_docker "$BATS_TEST_TMPDIR/docker.err" exec -it tty2 sh
	oci_tty_shell
	tmux -S "$TTY_SOCK" resize-window -t bk -x 100 -y 25
	tty_type 'clear; stty size'
	tty_wait '^25 100$'
	tty_type 'exit 6'
	run tty_status 20
	[ "$output" = 6 ] || bk_fail "docker exec -it exited $output, not 6"
	[ "$(state tty2)" = running ] || bk_fail "tty2 is $(state tty2) after its exec ended"
}

@test "HOME from the container's /etc/passwd when Docker sets none, as runc does (run and exec)" {
	# Docker's config.json has PATH and HOSTNAME only: the runtime sets HOME
	# (runc: the user's home in the container's /etc/passwd, / without an entry).
	run -0 dkd_run --rm "$IMG" sh -c 'echo "HOME=$HOME"'
	[ "$output" = HOME=/root ] || bk_fail "root: $output"
	run -0 dkd_run --rm -u nobody "$IMG" sh -c 'echo "HOME=$HOME"'
	[ "$output" = HOME=/nonexistent ] || bk_fail "nobody: $output"
	run -0 dkd_run --rm -u 1000 "$IMG" sh -c 'echo "HOME=$HOME"'
	[ "$output" = HOME=/ ] || bk_fail "uid 1000 (no passwd entry): $output"
	run -0 dkd_run --rm -e HOME=/tmp "$IMG" sh -c 'echo "HOME=$HOME"'
	[ "$output" = HOME=/tmp ] || bk_fail "HOME given: $output"

	run -0 dkd_run -d --name home1 "$IMG" sleep 1000
	run -0 dkd exec home1 sh -c 'echo "HOME=$HOME"'
	[ "$output" = HOME=/root ] || bk_fail "exec as root: $output"
	run -0 dkd exec -u nobody home1 sh -c 'echo "HOME=$HOME"'
	[ "$output" = HOME=/nonexistent ] || bk_fail "exec as nobody: $output"
}

@test "dkd_stop after dockerd is SIGKILLed: nothing of that Docker is left, the host's network untouched" {
	local dir ns br cg pid socks p
	# A second Docker of its own, so that killing it harms no other test.
	DKD_FILE_DIR=$DKD_DIR DKD_FILE_SOCK=$DKD_SOCK DKD_FILE_NS=$DKD_NS DKD_FILE_BR=$DKD_BR
	DKD_FILE_CGROUP=$DKD_CGROUP
	DKD_DIR="" DKD_NS=${DKD_NS}k DKD_BR=${DKD_BR}k DKD_CGROUP=${DKD_CGROUP}k
	dkd_start "$OCI_RT" || { dkd_dump; false; }
	dir=$DKD_DIR ns=$DKD_NS br=$DKD_BR cg=$DKD_CGROUP
	dkd_pull "$IMG"
	run -0 dkd network create --subnet 10.213.2.0/24 bknet2
	run -0 dkd_run -d --name k1 --network bknet2 -p 127.0.0.1:18081:80 "$IMG" httpd -f -p 80
	run -0 dkd_run -d --name k2 "$IMG" sleep 1000
	run -0 dkd exec k2 true
	pid=$(dkd inspect -f '{{.State.Pid}}' k2)
	bk_alive "$pid" || bk_fail "k2's init $pid does not run"
	socks=$(awk 'sub("^unix://", "")' "$dir"/ctd/state/io.containerd.runtime.v2.task/*/*/address)
	[ -n "$socks" ] || bk_fail "no shim socket recorded under $dir/ctd/state"

	# Nothing of it in the test's network namespace while it runs.
	! ip link show "$br" >/dev/null 2>&1 || bk_fail "bridge $br is in the test's namespace"
	run -0 dkd_in ip -br link show type bridge
	[[ $output == *"$br "* ]] || bk_fail "no $br in $ns: $output"
	[ -z "$(iptables-save 2>/dev/null | grep -E "$br|10\.213\.")" ] ||
		bk_fail "iptables rules of ours in the test's namespace: $(iptables-save | grep -E "$br|10\.213\.")"

	kill -KILL "$(dkd_pid dockerd)"
	dkd_stop
	DKD_DIR=$DKD_FILE_DIR DKD_SOCK=$DKD_FILE_SOCK DKD_NS=$DKD_FILE_NS DKD_BR=$DKD_FILE_BR
	DKD_CGROUP=$DKD_FILE_CGROUP
	DKD_FILE_DIR=""

	[ ! -e "$dir" ] || bk_fail "$dir is left: $(ls -la "$dir")"
	[ ! -e "/run/netns/$ns" ] || bk_fail "netns $ns is left"
	! bk_alive "$pid" || bk_fail "k2's init $pid survives"
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "$dir"; then
			bk_fail "a process of that Docker is left: ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline")"
		fi
	done
	! grep -qF -- "$dir" /proc/self/mountinfo || bk_fail "mounts left: $(grep -F -- "$dir" /proc/self/mountinfo)"
	[ -z "$(find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -name "$cg")" ] ||
		bk_fail "cgroups left: $(find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -name "$cg")"
	for p in $socks; do
		[ ! -e "$p" ] || bk_fail "shim socket $p is left"
	done
	! ip link show "$br" >/dev/null 2>&1 || bk_fail "bridge $br is left"
	[ -z "$(iptables-save 2>/dev/null | grep -E "$br|10\.213\.")" ] || bk_fail "iptables rules of ours left"
}

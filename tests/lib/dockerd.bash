# shellcheck shell=bash
# A private Docker daemon (Debian's docker.io 20.10: dockerd, /usr/bin/docker)
# on a private containerd (Debian's containerd 1.6), for the suites that run
# an OCI runtime under Docker (tests/e2e/76-runtime-docker.bats).  Load after
# fixture.bash (this file sources tests/lib/daemons.bash, the teardown pieces
# it shares with tests/lib/containerd.bash).
#
#   dkd_start RUNTIME      start containerd, then dockerd, with RUNTIME (a
#                          path) registered as the runtime "bk"
#                          (--add-runtime bk=RUNTIME); Docker's own "runc"
#                          (/usr/sbin/runc) stays the default.  Waits until
#                          `docker version` answers.
#   dkd ARGS...            /usr/bin/docker on our socket (killed after DKD_T
#                          seconds, default 60).  Not `docker` from PATH:
#                          /usr/local/bin/docker is a newer client.
#   dkd_in CMD...          CMD in dockerd's network namespace (the "host" of
#                          Docker's network: published ports listen there)
#   dkd_pull REF           docker pull REF (the test registry: BK_REG, which
#                          tests/lib/registry.bash started on the host's
#                          loopback, is served in DKD_NS on the same address
#                          from the same storage by a docker-registry of ours)
#   dkd_clean_containers   every container removed (rm -f), every network
#                          but Docker's own removed
#   dkd_stop               everything dkd_start made goes (below); safe to call twice
#   dkd_dump               dockerd's and containerd's logs, for a failed test
#   dkd_samples DEST       one runtime call of each kind from the logging
#                          wrapper's log (tests/lib/ociruntime.bash) into DEST
#
# Where everything is (DKD_DIR=/var/tmp/bkdkd<pid>-XXXXXX):
#   data/            dockerd --data-root (overlay2 layers, containers' files)
#   exec/            dockerd --exec-root (its containerd bundles and fifos,
#                    the sandboxes' netns bind mounts in exec/netns, and
#                    runtime-runc/moby: the --root Docker 20.10 gives every
#                    runtime of the runc shim, "bk" too; it does not exist
#                    before the first container: the runtime makes it)
#   docker.sock      dockerd -H unix://... (DKD_SOCK; DOCKER_HOST for dkd)
#   dockerd.pid, dockerd.log (-D), daemon.json (/etc/docker/daemon.json is
#                    never read), key.json (dockerd's trust key, which 20.10
#                    would make as /etc/docker/key.json: daemon.json's
#                    deprecated-key-path), client/ (DOCKER_CONFIG: the client's)
#   registry.yml, registry.log: the test registry's storage served in DKD_NS
#                    (dkd_registry), when BK_REG is set
#   ctd/             containerd: config.toml, root/, state/, tmp/, opt/,
#                    containerd.sock (+ .ttrpc), containerd.log
#   pids             "KIND PID START" of containerd, dockerd and the registry
# Outside DKD_DIR:
#   network namespace DKD_NS (bkdkd<pid>): dockerd and containerd run in it
#     (nsenter --net, nothing else changes), so Docker's bridges, veths,
#     iptables rules (iptables-nft: the tables "nat" and "filter" of that
#     namespace), its ip_forward and its docker-proxy listeners are all
#     there and go with it; the host's network is never touched.  The default
#     bridge is DKD_BR (bkdk<pid>), made here with DKD_GW on DKD_SUBNET and
#     given to dockerd with -b; user-defined networks take DKD_POOL unless
#     given a subnet.
#   cgroups /DKD_CGROUP (bkdkd<pid>) in each hierarchy: --cgroup-parent, so
#     every container's cgroupsPath is /bkdkd<pid>/<container id>
#   /run/containerd/s/<hash>: containerd 1.6 puts its shims' sockets there
#     whatever its state dir (read from the tasks' `address` files at stop);
#     /run/containerd itself is removed if it was not there before and is
#     empty again
#   /etc/docker/key.json: not made (key.json above); should a dockerd make it
#     all the same, it is removed if it was not there before (and /etc/docker
#     if it was not there either)
#
# Teardown (dkd_stop): containers removed through Docker, dockerd then
# containerd SIGTERMed by PID (start time checked), then SIGKILLed; what is
# left, by PID: every process in DKD_NS (docker-proxy, shims), the shims
# (their command line names our containerd's socket), the processes in our
# cgroups and under the shims; then the mounts under DKD_DIR, our cgroups,
# the namespace (with everything in it), the files outside DKD_DIR listed
# above, DKD_DIR (kept when BK_TEST_KEEP=1).

# shellcheck source=tests/lib/daemons.bash
source "$BK_LIB/daemons.bash"

DKD_DIR=${DKD_DIR:-}
DKD_SOCK=${DKD_SOCK:-}
DKD_NS=${DKD_NS:-bkdkd$$}
DKD_BR=${DKD_BR:-bkdk$$} # <= 15 characters
DKD_CGROUP=${DKD_CGROUP:-bkdkd$$}
DKD_RUNTIME=${DKD_RUNTIME:-}
DKD_SUBNET=10.213.0.0/24
DKD_GW=10.213.0.1
DKD_POOL=10.213.128.0/17
DKD_DOCKER=${DKD_DOCKER:-/usr/bin/docker}
DKD_DEADLINE=${DKD_DEADLINE:-30}
DKD_OUTER_NS=$(readlink /proc/self/ns/net)
# For `dkd` in scripts that inherit only the environment (tests/lib/tty.bash).
export DKD_DOCKER

# dkd ARGS...: the Docker client on our daemon (its own config dir).
dkd() {
	DOCKER_HOST=unix://$DKD_SOCK DOCKER_CONFIG=$DKD_DIR/client DOCKER_CLI_EXPERIMENTAL=disabled \
		timeout --foreground -k 5 "${DKD_T:-60}" "$DKD_DOCKER" "$@"
}

# dkd_in CMD...: CMD in dockerd's network namespace (only that changes).
dkd_in() {
	nsenter --net="/run/netns/$DKD_NS" "$@"
}

# dkd_track KIND PID: remember a process for dkd_stop.
dkd_track() {
	echo "$1 $2 $(bk_proc_start "$2")" >>"$DKD_DIR/pids"
}

# dkd_pid KIND: the recorded PID of KIND if that process still runs.
dkd_pid() {
	local kind pid start
	[ -f "$DKD_DIR/pids" ] || return 1
	while read -r kind pid start; do
		[ "$kind" = "$1" ] || continue
		[ "$(bk_proc_start "$pid")" = "$start" ] && bk_alive "$pid" && echo "$pid" && return 0
	done <"$DKD_DIR/pids"
	return 1
}

# dkd_netns: DKD_NS, checked to be a new namespace, lo up, our bridge in it.
dkd_netns() {
	local inside
	[ ! -e "/run/netns/$DKD_NS" ] || bk_fail "netns $DKD_NS already exists" || return
	ip netns add "$DKD_NS" || bk_fail "ip netns add $DKD_NS" || return
	touch "$DKD_DIR/netns-made"
	inside=$(dkd_in readlink /proc/self/ns/net)
	if [ -z "$DKD_OUTER_NS" ] || [ -z "$inside" ] || [ "$inside" = "$DKD_OUTER_NS" ]; then
		bk_fail "namespace $DKD_NS ($inside) is the one the test started in ($DKD_OUTER_NS)"
		return 1
	fi
	ip -n "$DKD_NS" link set lo up &&
		ip -n "$DKD_NS" link add "$DKD_BR" type bridge &&
		ip -n "$DKD_NS" addr add "$DKD_GW/${DKD_SUBNET#*/}" dev "$DKD_BR" &&
		ip -n "$DKD_NS" link set "$DKD_BR" up
}

# dkd_ctd_config: containerd's config.toml (no CRI, nothing outside DKD_DIR/ctd
# but the shims' sockets, which containerd 1.6 always puts in /run/containerd/s).
dkd_ctd_config() {
	daemon_ctd_config "$DKD_DIR/ctd" "$DKD_DIR/ctd/containerd.sock" 0
}

# dkd_wait_answer PID WHAT LOG CMD...: until CMD succeeds, while PID lives.
dkd_wait_answer() {
	local pid=$1 what=$2 log=$3 end=$((SECONDS + DKD_DEADLINE))
	shift 3
	until "$@" >/dev/null 2>&1; do
		if ! bk_alive "$pid"; then
			bk_fail "$what exited before it answered: $(tail -n 20 "$log")"
			return 1
		fi
		[ "$SECONDS" -lt "$end" ] || bk_fail "$what does not answer after ${DKD_DEADLINE}s" || return
		sleep 0.1
	done
}

# dkd_outside_before: note which of the paths Docker and containerd make
# outside DKD_DIR were there before, so that dkd_stop removes only ours.
dkd_outside_before() {
	[ -d /run/containerd ] || touch "$DKD_DIR/made-run-containerd"
	[ -d /etc/docker ] || touch "$DKD_DIR/made-etc-docker"
	[ -e /etc/docker/key.json ] || touch "$DKD_DIR/made-key-json"
	return 0
}

# dkd_registry: the test registry (tests/lib/registry.bash, plain mode) seen
# from DKD_NS: a second docker-registry on the same storage, in DKD_NS on the
# same 127.0.0.1 port, so that BK_REG names it for dockerd as for the host.
dkd_registry() {
	local pid port=${BK_REG##*:}
	bk_reg_config plain "$port" >"$DKD_DIR/registry.yml" || return
	nsenter --net="/run/netns/$DKD_NS" docker-registry serve "$DKD_DIR/registry.yml" \
		</dev/null >"$DKD_DIR/registry.log" 2>&1 3>&- &
	pid=$!
	dkd_track registry "$pid"
	dkd_wait_answer "$pid" "the registry in $DKD_NS" "$DKD_DIR/registry.log" \
		dkd_in curl -s -o /dev/null --max-time 1 "http://$BK_REG/v2/"
}

# dkd_start RUNTIME: see the top.
dkd_start() {
	local pid
	DKD_RUNTIME=$1
	[ -x "$DKD_DOCKER" ] && command -v dockerd >/dev/null ||
		bk_fail "Docker is not installed (apt-get install docker.io: scripts/deps.sh test)" || return
	command -v containerd >/dev/null || bk_fail "containerd is not installed" || return
	DKD_DIR=$(mktemp -d "/var/tmp/bkdkd$$-XXXXXX") || return
	DKD_SOCK=$DKD_DIR/docker.sock
	export DKD_DIR DKD_SOCK DKD_NS DKD_BR DKD_CGROUP DKD_RUNTIME
	: >"$DKD_DIR/pids"
	dkd_outside_before
	mkdir -p "$DKD_DIR"/{data,exec,client,ctd/root,ctd/state,ctd/tmp,ctd/opt} || return
	# dockerd 20.10 makes a trust key at /etc/docker/key.json unless told where.
	printf '{"deprecated-key-path": "%s"}\n' "$DKD_DIR/key.json" >"$DKD_DIR/daemon.json"
	dkd_ctd_config >"$DKD_DIR/ctd/config.toml" || return
	dkd_netns || return
	if [ -n "${BK_REG:-}" ]; then
		dkd_registry || return
	fi

	# fd 3 is bats' output: a process holding it makes bats wait for it.
	nsenter --net="/run/netns/$DKD_NS" containerd --config "$DKD_DIR/ctd/config.toml" \
		</dev/null >"$DKD_DIR/ctd/containerd.log" 2>&1 3>&- &
	pid=$!
	dkd_track containerd "$pid"
	dkd_wait_answer "$pid" containerd "$DKD_DIR/ctd/containerd.log" \
		ctr --address "$DKD_DIR/ctd/containerd.sock" version || return

	nsenter --net="/run/netns/$DKD_NS" dockerd \
		--config-file "$DKD_DIR/daemon.json" \
		--data-root "$DKD_DIR/data" \
		--exec-root "$DKD_DIR/exec" \
		--pidfile "$DKD_DIR/dockerd.pid" \
		-H "unix://$DKD_SOCK" \
		--containerd "$DKD_DIR/ctd/containerd.sock" \
		--bridge "$DKD_BR" \
		--default-address-pool "base=$DKD_POOL,size=24" \
		--cgroup-parent "/$DKD_CGROUP" \
		--exec-opt native.cgroupdriver=cgroupfs \
		--storage-driver overlay2 \
		--add-runtime "bk=$DKD_RUNTIME" \
		${BK_REG:+--insecure-registry "$BK_REG"} \
		--debug \
		</dev/null >"$DKD_DIR/dockerd.log" 2>&1 3>&- &
	pid=$!
	dkd_track dockerd "$pid"
	dkd_wait_answer "$pid" dockerd "$DKD_DIR/dockerd.log" dkd_server_version || return
	dkd_check_netns "$pid"
}

dkd_server_version() {
	DKD_T=5 dkd version --format '{{.Server.Version}}'
}

# dkd_check_netns PID: PID runs in DKD_NS.
dkd_check_netns() {
	local want got
	want=$(stat -L -c %i "/run/netns/$DKD_NS")
	got=$(stat -L -c %i "/proc/$1/ns/net")
	[ "$got" = "$want" ] || bk_fail "process $1 is in netns inode $got, not $DKD_NS ($want)"
}

# dkd_pull REF: docker pull REF.
dkd_pull() {
	DKD_T=120 dkd pull -q "$1" >"$DKD_DIR/pull.log" 2>&1 ||
		bk_fail "docker pull $1: $(tail -n 5 "$DKD_DIR/pull.log")"
}

# dkd_clean_containers: every container removed, every network of ours removed.
dkd_clean_containers() {
	local - ids net
	set +e
	[ -n "$DKD_DIR" ] && dkd_pid dockerd >/dev/null || return 0
	ids=$(DKD_T=10 dkd ps -aq 2>/dev/null)
	# shellcheck disable=SC2086 # one id a word
	[ -n "$ids" ] && DKD_T=40 dkd rm -f $ids >/dev/null 2>&1
	for net in $(DKD_T=10 dkd network ls -q --filter type=custom 2>/dev/null); do
		DKD_T=20 dkd network rm "$net" >/dev/null 2>&1
	done
	return 0
}

# dkd_leftovers: what still runs of ours: in DKD_NS, the shims, in our cgroups, under the shims.
dkd_leftovers() {
	local shims
	[ -n "$DKD_DIR" ] && shims=$(daemon_shims "$DKD_DIR/ctd/containerd.sock")
	{
		[ -e "/run/netns/$DKD_NS" ] && ip netns pids "$DKD_NS" 2>/dev/null
		echo "$shims"
		daemon_cgroup_procs "$DKD_CGROUP" 2
		# shellcheck disable=SC2086 # one pid a word
		[ -n "$shims" ] && daemon_descendants $shims
	} | grep -E '^[0-9]+$' | sort -u
}

# dkd_term KIND SECONDS: SIGTERM the recorded KIND, SIGKILL after SECONDS.
dkd_term() {
	local pid
	pid=$(dkd_pid "$1") || return 0
	daemon_term dkd "$1" "$pid" "$2"
}

dkd_dump() {
	[ -n "$DKD_DIR" ] && [ -d "$DKD_DIR" ] || return 0
	echo "---- dockerd log ($DKD_DIR/dockerd.log, last 80 lines) ----"
	tail -n 80 "$DKD_DIR/dockerd.log" 2>/dev/null
	echo "---- containerd log ($DKD_DIR/ctd/containerd.log, last 40 lines) ----"
	tail -n 40 "$DKD_DIR/ctd/containerd.log" 2>/dev/null
	echo "---- end of the Docker logs ----"
}

# dkd_stop: see the top.  Safe to call twice, and after a failed dkd_start.
dkd_stop() {
	local - socks procs p
	set +e
	[ -n "$DKD_DIR" ] && [ -d "$DKD_DIR" ] || return 0
	dkd_clean_containers
	# The shims' sockets, while the tasks' state still says where they are.
	socks=$(daemon_shim_sockets "$DKD_DIR/ctd/state")
	dkd_term dockerd 20
	dkd_term containerd 10
	dkd_term registry 5
	procs=$(dkd_leftovers)
	for p in $procs; do
		echo "dkd: killing $p ($(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | head -c 200)) left" >&2
	done
	# shellcheck disable=SC2086 # one pid a word
	[ -n "$procs" ] && daemon_kill dkd $procs
	for p in $socks; do
		[ -S "$p" ] && rm -f "$p"
	done
	daemon_unmount dkd "$DKD_DIR"
	daemon_cgroups_remove "$DKD_CGROUP" 2
	if [ -f "$DKD_DIR/netns-made" ] && [ -e "/run/netns/$DKD_NS" ]; then
		ip -n "$DKD_NS" link del "$DKD_BR" 2>/dev/null
		ip netns del "$DKD_NS" || echo "dkd: cannot delete netns $DKD_NS" >&2
	fi
	[ -f "$DKD_DIR/made-run-containerd" ] && rmdir /run/containerd/s /run/containerd 2>/dev/null
	[ -f "$DKD_DIR/made-key-json" ] && rm -f /etc/docker/key.json
	[ -f "$DKD_DIR/made-etc-docker" ] && rmdir /etc/docker 2>/dev/null
	daemon_dir_remove dkd "$DKD_DIR"
	DKD_DIR="" DKD_SOCK=""
}

# dkd_samples DEST: what the logging wrapper (tests/lib/ociruntime.bash)
# saw, as samples for whoever writes a runtime: DEST/calls.log (the whole
# log); DEST/<subcommand>.txt, the log block of one call for each distinct
# shape of that subcommand's command line (ids and temporary names set
# aside: `create` with and without --console-socket, `delete` with and
# without --force, `kill` with each signal...); DEST/config.json, the first
# bundle config.json with hooks, DEST/config-tty.json the first with a
# terminal; DEST/process.json, the first exec process.json (process-tty.json
# the first with a terminal), and DEST/update-resources.json, the first
# `update --resources -` input.
dkd_samples() {
	local dest=$1 f
	[ -n "${OCI_LOG:-}" ] && [ -s "$OCI_LOG" ] || return 0
	mkdir -p "$dest" || return
	rm -f "$dest"/*.txt
	cp "$OCI_LOG" "$dest/calls.log"
	awk -v dest="$dest" '
		function flush() {
			if (sub_ != "" && !(shape in seen)) { seen[shape] = 1; printf "%s", block >>(dest "/" sub_ ".txt") }
			block = ""; sub_ = ""; shape = ""
		}
		/^[^ ].* call [0-9]+-[0-9]+ pid / { flush(); block = $0 "\n"; next }
		/^  argv: / {
			block = block $0 "\n"
			# The shape: the subcommand and its arguments, paths and ids as placeholders.
			n = split($0, w, " ")
			for (i = 3; i <= n; i++) {
				if (sub_ == "" && w[i] !~ /^-/ && w[i - 1] !~ /^--(root|log|log-format)$/)
					sub_ = w[i]
				if (sub_ == "")
					continue
				a = w[i]
				if (a ~ /\//)
					a = "PATH"
				else if (length(a) >= 32 && a ~ /^[0-9a-f]+$/)
					a = "ID"
				shape = shape " " a
			}
			next
		}
		{ block = block $0 "\n" }
		END { flush() }' "$OCI_LOG"
	for f in "$OCI_LOG_DIR"/files/*-config.json; do
		[ -f "$f" ] || continue
		[ -f "$dest/config.json" ] || ! jq -e '.hooks | length > 0' "$f" >/dev/null 2>&1 ||
			jq . "$f" >"$dest/config.json"
		[ -f "$dest/config-tty.json" ] || ! jq -e '.process.terminal' "$f" >/dev/null 2>&1 ||
			jq . "$f" >"$dest/config-tty.json"
	done
	for f in "$OCI_LOG_DIR"/files/*-process.json; do
		[ -f "$f" ] || continue
		[ -f "$dest/process.json" ] || jq . "$f" >"$dest/process.json"
		[ -f "$dest/process-tty.json" ] || ! jq -e '.terminal' "$f" >/dev/null 2>&1 ||
			jq . "$f" >"$dest/process-tty.json"
	done
	for f in "$OCI_LOG_DIR"/files/*-stdin; do
		[ -f "$f" ] && jq . "$f" >"$dest/update-resources.json" && break
	done
	return 0
}

#!/usr/bin/env bats
# Networks made ahead (engine/net/netpool.c), attacked: a previous run's
# network namespace that outlives its init (held open by anyone, here
# `ip netns attach`, as an operator does to debug a container), starts that
# run the pool dry, a spare init killed between its plan and its go (the
# -ECHILD retry), a bind source on a mount newer than the spares (the -EXDEV
# retry), a clean stop.  Whatever happens, no container's init, command or
# exec session may be in the daemon's network namespace, and no link marked
# "bockerfs ID" may be left on the bridge next to the container's own.
#
# Like 50-network.bats, each test runs its daemon in a network namespace of
# its own (tests/lib/net.bash) and removes everything it made; a namespace a
# test holds open is listed for net_cleanup, which deletes it.

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

teardown() {
	if [ -n "${LATER_MNT:-}" ]; then
		umount -l "$LATER_MNT" 2>/dev/null || true
	fi
	net_teardown
}

# bkq_links: the host ends of networks made ahead in NET_NS, sorted.
bkq_links() {
	nh ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -E '^bkq[0-9a-f]{12}$' | sort
}

# netns_hold ID: keep ID's current network namespace alive after its init is
# gone (ip netns attach), as an operator debugging it would; prints its name.
# Listed for net_cleanup, which deletes it (and the pair in it) at teardown.
netns_hold() {
	local name=bkt$$-hold$RANDOM pid
	pid=$(ct_status "$1" pid) || return
	ip netns attach "$name" "$pid" || bk_fail "ip netns attach $name $pid" || return
	echo "$name" >>"$(net_made_file)"
	echo "$name"
}

# spare_inits N: the daemon has N or more spare inits waiting (bockerfs-init --spare).
spare_inits() {
	[ "$(pgrep -c -P "$BK_PID" -f -- 'init --spare')" -ge "$1" ]
}

# ready: the pool's four veths and the spare inits are there (a start then takes both).
ready() {
	bk_wait_until "$BK_DEADLINE" eval '[ "$(bkq_links | wc -l)" -ge 4 ]' ||
		bk_fail "links made ahead: $(bkq_links | tr '\n' ' ')" || return
	bk_wait_until "$BK_DEADLINE" spare_inits 4 || bk_fail "spare inits: $(pgrep -a -P "$BK_PID")"
}

# ns_of PID: the inode of PID's network namespace.
ns_of() {
	stat -L -c %i "/proc/$1/ns/net"
}

# marked_count ID: how many links in NET_NS carry the alias "bockerfs ID".
marked_count() {
	net_veth_of "$1" | sed '/^$/d' | wc -l
}

# ---- a previous run's namespace that outlives its init ------------------------

@test "restart while the previous run's network namespace is held open: the old veth is replaced, never two links marked 'bockerfs ID' on the bridge with one address" {
	net_start
	ready || return
	net_create id 'sleep 1000'
	net_start_ctr "$id"
	ip=$(net_ip "$id")
	old=$(net_veth_of "$id")
	[ -n "$old" ] || bk_fail "no veth marked for $id: $(nh ip -d link show)"
	hold=$(netns_hold "$id") || return

	run ct_ctl "$id" 'stop 1'
	[ "${lines[0]}" = OK ] || bk_fail "stop: $output"
	ct_wait_state "$id" exited
	net_start_ctr "$id"
	[ "$(net_ip "$id")" = "$ip" ] || bk_fail "address after restart: $(net_ip "$id"), was $ip"

	# Before the pool, the start found its name taken by the old veth (marked
	# as its own) and deleted it.  Two ports with the same address and MAC
	# on one bridge: the bridge's FDB sends the container's traffic to either.
	n=$(marked_count "$id")
	[ "$n" = 1 ] || bk_fail "$n links marked 'bockerfs $id': $(net_veth_of "$id" | tr '\n' ' ')" \
		"(old $old), bridge ports: $(net_veths | tr '\n' ' ');" \
		"the held namespace still has $(ip -n "$hold" -o -4 addr show dev eth0 2>&1 | awk '{ print $4 }')" \
		"and the restarted container has $ip"
	[ "$(net_veths | wc -l)" = 1 ] || bk_fail "bridge ports: $(net_veths | tr '\n' ' ')"
}

@test "rm of a container whose network namespace is held open: its veth marked 'bockerfs ID' goes with it, not left on the bridge with the released address" {
	net_start
	net_create a 'sleep 1000'
	net_start_ctr "$a"
	ip=$(net_ip "$a")
	[ -n "$(net_veth_of "$a")" ] || bk_fail "no veth marked for $a"
	hold=$(netns_hold "$a") || return

	run ct_ctl "$a" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force: $output"
	bk_assert_content "$BK_MNT/net/leases" ""
	# Before the pool, the removal deleted a veth of its name marked as its own.
	if ! bk_wait_until 3 eval '[ "$(marked_count "$a")" = 0 ]'; then
		net_create b 'sleep 1000'
		net_start_ctr "$b"
		bk_fail "removed $a's veth $(net_veth_of "$a" | tr '\n' ' ') is left on the bridge" \
			"(ports: $(net_veths | tr '\n' ' ')), its eth0 in the held namespace with" \
			"$(ip -n "$hold" -o -4 addr show dev eth0 2>&1 | awk '{ print $4 }');" \
			"the next container $b got $(net_ip "$b") (was $a's $ip)"
	fi
}

# ---- never the daemon's namespace ---------------------------------------------

@test "no init, command or exec session in the daemon's network namespace: 10 bridge and 4 none starts at once (the pool runs dry), each in a namespace of its own" {
	net_start
	hostns=$(stat -L -c %i "/run/netns/$NET_NS")
	ready || return
	cmd='echo "ns $(readlink /proc/self/ns/net)"; ls /sys/class/net | tr "\n" " "; echo; echo END; sleep 1000'
	ids=() modes=()
	for i in $(seq 1 14); do
		mode=bridge
		[ "$i" -gt 10 ] && mode=none
		net_create id "$cmd" net="mode $mode"
		ids+=("$id")
		modes+=("$mode")
	done
	bgs=()
	for id in "${ids[@]}"; do
		ct_ctl "$id" start >"$BK_TMP/start-$id" 2>&1 &
		bgs+=($!)
	done
	for p in "${bgs[@]}"; do
		wait "$p" || true
	done
	seen=()
	for i in "${!ids[@]}"; do
		id=${ids[$i]}
		[ "$(head -n1 "$BK_TMP/start-$id")" = OK ] || bk_fail "start $id: $(cat "$BK_TMP/start-$id")"
		ct_track "$id"
		ct_wait_log "$id" '^END$'
		pid=$(ct_status "$id" pid)
		ns=$(ns_of "$pid")
		[ "$ns" != "$hostns" ] || bk_fail "$id's init $pid is in the daemon's network namespace"
		grep -qx "ns net:\[$ns\]" "$C/$id/log" || bk_fail "$id's command: $(head -n1 "$C/$id/log"), init net:[$ns]"
		for child in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do
			[ "$(ns_of "$child")" = "$ns" ] || bk_fail "$id: child $child in net:[$(ns_of "$child")], init in net:[$ns]"
		done
		if [ "${modes[$i]}" = bridge ]; then
			want='eth0 lo '
		else
			want='lo '
		fi
		[ "$(sed -n 2p "$C/$id/log")" = "$want" ] || bk_fail "$id (${modes[$i]}): links '$(sed -n 2p "$C/$id/log")'"
		seen+=("$ns")
	done
	[ "$(printf '%s\n' "${seen[@]}" | sort -u | wc -l)" = 14 ] || bk_fail "namespaces shared: ${seen[*]}"
	# One marked veth per bridge container, all on the bridge.
	want=$(for i in "${!ids[@]}"; do [ "${modes[$i]}" = bridge ] && net_veth_of "${ids[$i]}"; done | sort)
	[ "$(net_veths)" = "$want" ] || bk_fail "bridge ports $(net_veths | tr '\n' ' '), want $want"
	# An exec session joins the init's namespace, not the daemon's.
	for id in "${ids[0]}" "${ids[13]}"; do
		ns=$(ns_of "$(ct_status "$id" pid)")
		n=$(cat "$C/$id/exec/clone")
		echo 'exec readlink /proc/self/ns/net' >"$C/$id/exec/$n/ctl"
		bk_assert_content "$C/$id/exec/$n/out" "net:[$ns]"$'\n'
	done
}

@test "a spare init killed between its plan and its go: the start retries with a new init in a namespace of its own; the veth made ahead it claimed is deleted at once" {
	# The first start stalls after its cgroup step (the spare has its plan and
	# its namespace made ahead): the spare is killed meanwhile.
	BOCKERFS_FAILPOINTS='run.cgroup=sleep:1500@1' net_start
	hostns=$(stat -L -c %i "/run/netns/$NET_NS")
	ready || return
	net_create id 'echo "ns $(readlink /proc/self/ns/net)"; echo END; sleep 1000'
	bk_bg "$BK_TMP/start.out" ct_ctl "$id" start
	bk_wait_until 5 test -s "$BK_STORE/containers/$id/starting" || bk_fail "no 'starting' for $id"
	spare=$(awk '{ print $1 }' "$BK_STORE/containers/$id/starting")
	tr '\0' ' ' <"/proc/$spare/cmdline" | grep -q -- '--spare' ||
		bk_fail "init $spare is not a spare: $(tr '\0' ' ' <"/proc/$spare/cmdline")"
	kill -KILL "$spare"
	wait "$BK_BG_PID" || true
	[ "$(head -n1 "$BK_TMP/start.out")" = OK ] || bk_fail "start: $(cat "$BK_TMP/start.out")"
	ct_track "$id"
	ct_wait_log "$id" '^END$'
	grep -q 'a spare init was killed' "$BK_LOG" || bk_fail "no retry in the log"
	pid=$(ct_status "$id" pid)
	[ "$pid" != "$spare" ] || bk_fail "the killed spare $spare is the init"
	ns=$(ns_of "$pid")
	[ "$ns" != "$hostns" ] || bk_fail "$id's init is in the daemon's network namespace"
	grep -qx "ns net:\[$ns\]" "$C/$id/log" || bk_fail "command: $(head -n1 "$C/$id/log")"
	# The retry (a new init) made its veth, named from the id; the one made
	# ahead that the first attempt had marked is gone already.
	[ "$(marked_count "$id")" = 1 ] || bk_fail "links marked for $id: $(net_veth_of "$id" | tr '\n' ' ')"
	[ "$(net_veth_of "$id")" = "$(net_ifname "$id")" ] || bk_fail "veth $(net_veth_of "$id"), want $(net_ifname "$id")"
	[ "$(net_veths)" = "$(net_ifname "$id")" ] || bk_fail "bridge ports: $(net_veths | tr '\n' ' ')"
}

@test "a bind source on a mount made after the spares (the EXDEV retry): the new init has a namespace of its own; the veth made ahead of the first attempt is deleted" {
	net_start
	hostns=$(stat -L -c %i "/run/netns/$NET_NS")
	ready || return
	LATER_MNT=$BK_TMP/later
	mkdir -p "$LATER_MNT"
	mount -t tmpfs -o size=1m bkt-later "$LATER_MNT"
	echo hi >"$LATER_MNT/f"
	net_create id 'cat /m/f; echo "ns $(readlink /proc/self/ns/net)"; echo END; sleep 1000' \
		mounts="bind $LATER_MNT /m"
	net_start_ctr "$id"
	ct_wait_log "$id" '^END$'
	grep -qx hi "$C/$id/log" || bk_fail "log: $(cat "$C/$id/log")"
	grep -q 'again with a new init' "$BK_LOG" || bk_fail "no EXDEV retry: the first attempt did not use a spare"
	ns=$(ns_of "$(ct_status "$id" pid)")
	[ "$ns" != "$hostns" ] || bk_fail "$id's init is in the daemon's network namespace"
	grep -qx "ns net:\[$ns\]" "$C/$id/log" || bk_fail "command: $(sed -n 2p "$C/$id/log")"
	[ "$(marked_count "$id")" = 1 ] || bk_fail "links marked for $id: $(net_veth_of "$id" | tr '\n' ' ')"
	[ "$(net_veths)" = "$(net_veth_of "$id")" ] || bk_fail "bridge ports: $(net_veths | tr '\n' ' ')"
	run ct_ctl "$id" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force: $output"
}

# ---- the daemon goes --------------------------------------------------------------

@test "a clean stop (SIGTERM): the networks made ahead go, a running container's veth stays" {
	net_start
	ready || return
	net_create a 'sleep 1000'
	net_start_ctr "$a"
	veth=$(net_veth_of "$a")
	bk_daemon_term
	bk_wait_until "$BK_DEADLINE" eval '[ "$(bkq_links)" = "$veth" ]' ||
		bk_fail "links made ahead left by a stopped daemon: $(bkq_links | tr '\n' ' '), want $veth"
	# And no spare init is left in the daemon's namespace.
	for pid in $(ip netns pids "$NET_NS"); do
		! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- '--spare' ||
			bk_wait_gone "$pid" 5 || bk_fail "spare $pid left in $NET_NS"
	done
}

# ---- quick restarts, nobody holding anything ------------------------------------------

@test "stop then start at once, 20 times: when the start returns, only the new run's veth is marked 'bockerfs ID'" {
	net_start
	net_create id 'sleep 1000'
	net_start_ctr "$id"
	bad=0
	for i in $(seq 1 20); do
		run ct_ctl "$id" 'kill KILL'
		ct_wait_state "$id" exited
		run ct_ctl "$id" start
		[ "${lines[0]}" = OK ] || bk_fail "start $i: $output"
		ct_track "$id"
		n=$(marked_count "$id")
		[ "$n" = 1 ] || {
			bad=$((bad + 1))
			echo "round $i: $n links marked: $(net_veth_of "$id" | tr '\n' ' ') ports $(net_veths | tr '\n' ' ')" >&3
		}
	done
	[ "$bad" = 0 ] || bk_fail "$bad of 20 starts returned with the previous run's veth still on the bridge"
}

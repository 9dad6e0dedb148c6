#!/usr/bin/env bats
# Container networking, end to end: the bridge, leased addresses, veths and
# eth0, containers pinging each other and the bridge, `net` modes (bridge,
# none, host) and their errors, published ports (busybox httpd reached at
# 127.0.0.1, at the host's own address, from an upstream machine and from
# another container), EADDRINUSE, masquerade seen from an upstream machine,
# nothing left after rm of 20 containers, and a daemon killed and restarted
# under a running container's published port.
#
# Each test runs its daemon in a throwaway network namespace of its own, with
# its own bridge and subnet (tests/lib/net.bash says why), and removes
# everything it made even when it fails: containers (rm force, then their
# inits by PID), the daemon (by PID), the namespaces with their bridge and
# veths.  Traffic goes only to 127.0.0.1, our namespaces' own addresses and
# our containers: none of these namespaces has a route out.

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
	net_teardown
}

# mac_of IP: the MAC the daemon derives from an address (02:42 + its 4 bytes).
mac_of() {
	local IFS=.
	# shellcheck disable=SC2086
	set -- $1
	printf '02:42:%02x:%02x:%02x:%02x\n' "$1" "$2" "$3" "$4"
}

HTTPD_CMD='mkdir -p /www && echo "hello from $HOSTNAME" >/www/index.html && exec httpd -f -vv -p 80 -h /www'

# ---- the bridge, the address, what the container sees ----------------------

@test "bridge: net/bridge, net, leases, status ip; eth0, MAC, route, /etc/hosts inside; the veth; address kept by stop/start, freed by rm" {
	net_start
	bk_assert_content "$BK_MNT/net/bridge" "$NET_BR $NET_GW/$NET_PREFIX"$'\n'
	nh ip -o -4 addr show dev "$NET_BR" | grep -q "inet $NET_GW/$NET_PREFIX " ||
		bk_fail "bridge address: $(nh ip -o -4 addr show dev "$NET_BR")"
	net_create id 'ip -o -4 addr show dev eth0; ip -o link show dev eth0; ip route;
		cat /etc/hosts; ls /sys/class/net | tr "\n" " "; echo; echo END; sleep 1000'
	bk_assert_content "$C/$id/net" $'mode bridge\n'
	[ "$(ct_status "$id" ip)" = - ] || bk_fail "status ip before start: $(ct_status "$id" ip)"
	net_start_ctr "$id"
	ct_wait_log "$id" '^END$'

	ip=$(net_ip "$id")
	mac=$(mac_of "$ip")
	[[ $ip == 10.201.* ]] || bk_fail "address $ip is not in $NET_SUBNET"
	[ "$ip" != "$NET_GW" ] && [ "$ip" != 10.201.0.0 ] && [ "$ip" != 10.201.255.255 ] ||
		bk_fail "address $ip is the network, gateway or broadcast address"
	bk_assert_content "$C/$id/net" "mode bridge"$'\n'"ip $ip"$'\n'"mac $mac"$'\n'"gateway $NET_GW"$'\n'
	[ "$(ct_status "$id" ip)" = "$ip" ]
	[ "$(net_leases_of "$id")" = "$id $ip $mac" ] || bk_fail "leases: $(cat "$BK_MNT/net/leases")"

	log=$(cat "$C/$id/log")
	[[ $log == *"inet $ip/$NET_PREFIX "* ]] || bk_fail "eth0 address: $log"
	[[ $log == *"link/ether $mac "* ]] || bk_fail "eth0 MAC: $log"
	[[ $log == *"default via $NET_GW dev eth0"* ]] || bk_fail "default route: $log"
	grep -qxE "${ip}[[:space:]]+$id" "$C/$id/log" || bk_fail "/etc/hosts does not name $id: $log"
	grep -qx 'eth0 lo ' "$C/$id/log" || bk_fail "/sys/class/net: $log"

	# The host end: marked with the id, on our bridge, up; the only one.
	veth=$(net_veth_of "$id")
	[ -n "$veth" ] || bk_fail "no link marked 'bockerfs $id': $(nh ip -d link show)"
	[ "$(net_veths)" = "$veth" ] || bk_fail "bridge ports: '$(net_veths)', want $veth"
	nh ip -br link show dev "$veth" | grep -q 'UP' || bk_fail "$(nh ip -br link show dev "$veth")"

	# stop: the veth goes with the netns, the lease stays; a new start gets it again.
	run ct_ctl "$id" 'stop 1'
	[ "${lines[0]}" = OK ] || bk_fail "stop: $output"
	# The kernel removes a dead namespace's veth from a work queue: soon, not at once.
	bk_wait_until "$BK_DEADLINE" eval 'test -z "$(net_bk_links)"' ||
		bk_fail "veth left after stop: $(net_bk_links)"
	[ "$(net_leases_of "$id")" = "$id $ip $mac" ] || bk_fail "lease after stop: $(cat "$BK_MNT/net/leases")"
	net_start_ctr "$id"
	ct_wait_log "$id" '^END$'
	[ "$(net_ip "$id")" = "$ip" ] || bk_fail "address after restart: $(net_ip "$id"), was $ip"
	[ "$(net_veths)" = "$(net_veth_of "$id")" ] || bk_fail "bridge ports after restart: '$(net_veths)'"

	# rm: no veth, no lease.
	run ct_ctl "$id" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force: $output"
	bk_wait_until "$BK_DEADLINE" eval 'test -z "$(net_bk_links)"' ||
		bk_fail "veth left after rm: $(net_bk_links)"
	[ -z "$(net_veths)" ] || bk_fail "bridge ports left after rm: $(net_veths)"
	! net_leases_of "$id" || bk_fail "lease left after rm: $(cat "$BK_MNT/net/leases")"
}

@test "two containers ping each other and the bridge address" {
	net_start
	# Each pings the other and the bridge, then stays up for the other's ping.
	cmd='until [ -s /tmp/peer ]; do sleep 0.05; done
		ping -c1 -W2 "$(cat /tmp/peer)"; echo "peer=$?"
		ping -c1 -W2 '"$NET_GW"'; echo "gateway=$?"; sleep 1000'
	net_create a "$cmd"
	net_create b "$cmd"
	net_start_ctr "$a"
	net_start_ctr "$b"
	ipa=$(net_ip "$a")
	ipb=$(net_ip "$b")
	[ "$ipa" != "$ipb" ] || bk_fail "both containers have $ipa"
	# Each learns the other's address through a file in its own filesystem.
	echo "$ipb" >"$C/$a/root/tmp/peer"
	echo "$ipa" >"$C/$b/root/tmp/peer"
	ct_wait_log "$a" '^gateway='
	ct_wait_log "$b" '^gateway='
	for x in "$a:$ipb" "$b:$ipa"; do
		grep -qx 'peer=0' "$C/${x%%:*}/log" || bk_fail "${x%%:*}: $(cat "$C/${x%%:*}/log")"
		grep -qx 'gateway=0' "$C/${x%%:*}/log" || bk_fail "${x%%:*}: $(cat "$C/${x%%:*}/log")"
		grep -q "^PING ${x#*:} " "$C/${x%%:*}/log" || bk_fail "${x%%:*}: $(cat "$C/${x%%:*}/log")"
		grep -q "^PING $NET_GW " "$C/${x%%:*}/log" || bk_fail "${x%%:*}: $(cat "$C/${x%%:*}/log")"
		[ "$(grep -c '1 packets received' "$C/${x%%:*}/log")" = 2 ] ||
			bk_fail "${x%%:*}: $(cat "$C/${x%%:*}/log")"
	done
	# The host reaches them too.
	nh busybox ping -c1 -W2 "$ipa" >/dev/null || bk_fail "the host cannot ping $ipa"
}

# ---- net modes -------------------------------------------------------------

@test "net: mode bridge|none|host before start, read back; EINVAL for anything else; EBUSY after start" {
	net_start
	net_create id 'sleep 1000'
	for m in none host bridge; do
		run bk_write_errno "$C/$id/net" "mode $m"$'\n'
		[ "${lines[0]}" = OK ] || bk_fail "mode $m: $output"
		bk_assert_content "$C/$id/net" "mode $m"$'\n'
	done
	for bad in 'mode foo' 'mode' 'modes none' 'mode none x' 'mode BRIDGE'; do
		run bk_write_errno "$C/$id/net" "$bad"$'\n'
		[ "${lines[0]}" = EINVAL ] || bk_fail "'$bad': $output"
		bk_check_error EINVAL "/containers/$id/net" 'write|net' "containers/$id/err" "${lines[1]}" \
			net || return
		bk_assert_content "$C/$id/net" $'mode bridge\n'
	done
	run bk_write_errno "$C/$id/net" $'mode none\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	net_start_ctr "$id"
	run bk_write_errno "$C/$id/net" $'mode bridge\n'
	[ "${lines[0]}" = EBUSY ] || bk_fail "after start: $output"
	bk_check_error EBUSY "/containers/$id/net" 'write|net' "containers/$id/err" "${lines[1]}" \
		"$id" "net cannot change"
	bk_assert_content "$C/$id/net" $'mode none\n'
}

@test "mode none: only lo inside, no address, no lease, no veth" {
	net_start
	net_create id 'ls /sys/class/net; echo ---; ip -o -4 addr | grep -v " lo "; ip route; echo END' net='mode none'
	net_start_ctr "$id"
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	bk_assert_content "$C/$id/log" $'lo\n---\nEND\n'
	bk_assert_content "$C/$id/net" $'mode none\n'
	[ "$(ct_status "$id" ip)" = - ] || bk_fail "status ip: $(ct_status "$id" ip)"
	! net_leases_of "$id" || bk_fail "a lease for a mode none container: $(cat "$BK_MNT/net/leases")"
	[ -z "$(net_bk_links)" ] || bk_fail "veths: $(net_bk_links)"
}

# bkq_links: the links of networks made ahead in NET_NS (bkq + 12 hex digits), sorted.
bkq_links() {
	nh ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -E '^bkq[0-9a-f]{12}$' | sort
}

@test "networks made ahead: kept down and off the bridge until a start marks one; bridge and none starts use them; they go with the daemon" {
	net_start
	# Four with a veth are kept (engine/net/netpool.c): none is anyone's yet.
	bk_wait_until "$BK_DEADLINE" eval '[ "$(bkq_links | wc -l)" -ge 4 ]' ||
		bk_fail "links made ahead: $(bkq_links | tr '\n' ' ')"
	for l in $(bkq_links); do
		nh ip -d link show dev "$l" | grep -q 'state DOWN' || bk_fail "$l is up: $(nh ip -d link show dev "$l")"
		! nh ip -d link show dev "$l" | grep -q 'alias' || bk_fail "$l is marked: $(nh ip -d link show dev "$l")"
	done
	[ -z "$(net_veths)" ] || bk_fail "on the bridge before any start: $(net_veths)"
	before=$(bkq_links)

	# A bridge start takes one: its host end keeps its name, is marked, on the bridge, up.
	net_create a 'ip -o link; echo END; sleep 1000'
	net_start_ctr "$a"
	ct_wait_log "$a" '^END$'
	veth=$(net_veth_of "$a")
	grep -qx "$veth" <<<"$before" || bk_fail "$a's veth $veth was not made ahead: $before"
	[ "$(net_veths)" = "$veth" ] || bk_fail "bridge ports: $(net_veths)"
	nh ip -br link show dev "$veth" | grep -q 'UP' || bk_fail "$(nh ip -br link show dev "$veth")"
	# Inside: lo and eth0 only, whatever the init saw before its plan came.
	[ "$(grep -c ': ' "$C/$a/log")" = 2 ] || bk_fail "links inside: $(cat "$C/$a/log")"
	grep -q ': eth0@' "$C/$a/log" || bk_fail "no eth0: $(cat "$C/$a/log")"

	# none: a namespace with lo alone; two at once, neither sees the other's or the host's.
	net_create b 'ls /sys/class/net; echo END; sleep 1000' net='mode none'
	net_create c 'ls /sys/class/net; echo END; sleep 1000' net='mode none'
	net_start_ctr "$b"
	net_start_ctr "$c"
	ct_wait_log "$b" '^END$'
	ct_wait_log "$c" '^END$'
	bk_assert_content "$C/$b/log" $'lo\nEND\n'
	bk_assert_content "$C/$c/log" $'lo\nEND\n'
	[ "$(readlink "/proc/$(ct_status "$b" pid)/ns/net")" != "$(readlink "/proc/$(ct_status "$c" pid)/ns/net")" ] ||
		bk_fail "b and c share a network namespace"

	# SIGKILL: the namespaces only the daemon held go, and their links with them.
	bk_daemon_kill9
	bk_wait_until "$BK_DEADLINE" eval '[ "$(bkq_links)" = "$veth" ]' ||
		bk_fail "links made ahead left by a killed daemon: $(bkq_links | tr '\n' ' ')"
}

@test "mode host: the host's interfaces (our bridge) inside, no eth0, no lease, no veth" {
	net_start
	net_create id 'ls /sys/class/net; echo END; sleep 1000' net='mode host'
	net_start_ctr "$id"
	ct_wait_log "$id" '^END$'
	grep -qx "$NET_BR" "$C/$id/log" || bk_fail "no $NET_BR in /sys/class/net: $(cat "$C/$id/log")"
	grep -qx lo "$C/$id/log" || bk_fail "no lo: $(cat "$C/$id/log")"
	! grep -qx eth0 "$C/$id/log" || bk_fail "an eth0: $(cat "$C/$id/log")"
	# It is the daemon's own network namespace.
	pid=$(cat "$C/$id/pid")
	[ "$(stat -L -c %i "/proc/$pid/ns/net")" = "$(stat -L -c %i "/run/netns/$NET_NS")" ] ||
		bk_fail "container netns $(readlink "/proc/$pid/ns/net") is not $NET_NS"
	bk_assert_content "$C/$id/net" $'mode host\n'
	[ "$(ct_status "$id" ip)" = - ] || bk_fail "status ip: $(ct_status "$id" ip)"
	! net_leases_of "$id" || bk_fail "a lease for a mode host container"
	[ -z "$(net_bk_links)" ] || bk_fail "veths: $(net_bk_links)"
}

# ---- published ports ---------------------------------------------------------

@test "ports: httpd reached at 127.0.0.1, at the host's own address, from an upstream machine and from another container" {
	net_start
	net_uplink
	port=18080
	net_create id "$HTTPD_CMD" ports="tcp $port 80"
	bk_assert_content "$C/$id/ports" "tcp $port 80"$'\n'
	net_start_ctr "$id"
	ip=$(net_ip "$id")
	[ "$(net_elements "$id")" = "tcp . $port : $ip . 80" ] || bk_fail "elements: $(net_elements)"
	want="hello from $id"

	net_wait_http "http://127.0.0.1:$port/"
	[ "$(net_curl "http://127.0.0.1:$port/")" = "$want" ] || bk_fail "127.0.0.1: $(net_curl "http://127.0.0.1:$port/" 2>&1)"
	# The host's own address: one of an interface that is not the bridge.
	haddr=$(nh ip -4 -o addr show scope global | awk -v br="$NET_BR" '$2 != br { sub(/\/.*/, "", $4); print $4; exit }')
	[ "$haddr" = "$NET_UP_HOST" ] || bk_fail "host address '$haddr'"
	[ "$(net_curl "http://$haddr:$port/")" = "$want" ] || bk_fail "$haddr: $(net_curl "http://$haddr:$port/" 2>&1)"
	# Another machine, through the host's address.
	got=$(nup curl -sS --noproxy '*' --max-time 3 "http://$NET_UP_HOST:$port/" 2>&1)
	[ "$got" = "$want" ] || bk_fail "from upstream: $got"
	# Another container, through the host's address (hairpin).  (busybox nc:
	# the static busybox's wget crashes on this host, outside containers too.)
	net_create cl "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc $NET_UP_HOST $port"
	net_start_ctr "$cl"
	bk_assert_content "$C/$cl/wait" $'exit 0\n' || bk_fail "nc: $(cat "$C/$cl/log")"
	grep -q '^HTTP/1.[01] 200' "$C/$cl/log" || bk_fail "nc: $(cat "$C/$cl/log")"
	grep -qx "$want" "$C/$cl/log" || bk_fail "nc: $(cat "$C/$cl/log")"
	# httpd saw: the gateway for 127.0.0.1 (masqueraded, see engine/net/nat.c), the
	# real addresses of the host and of the upstream machine.
	log=$(cat "$C/$id/log")
	[[ $log == *"[::ffff:$NET_GW]"*"url:/"* ]] || bk_fail "httpd log: $log"
	[[ $log == *"[::ffff:$NET_UP_HOST]"*"url:/"* ]] || bk_fail "httpd log: $log"
	[[ $log == *"[::ffff:$NET_UP_PEER]"*"url:/"* ]] || bk_fail "httpd log: $log"

	# Stopped: the port is unpublished.
	run ct_ctl "$id" 'stop 1'
	[ "${lines[0]}" = OK ] || bk_fail "stop: $output"
	[ -z "$(net_elements)" ] || bk_fail "elements after stop: $(net_elements)"
	! net_curl "http://127.0.0.1:$port/" >/dev/null 2>&1 || bk_fail "port $port still answers"
}

@test "ports: tcp and udp lines read back; EINVAL for malformed lines (old value kept); EBUSY after start" {
	net_start
	net_create id 'sleep 1000'
	bk_assert_content "$C/$id/ports" ""
	run bk_write_errno "$C/$id/ports" $'tcp 18081 80\nudp 5353 53\n'
	[ "${lines[0]}" = OK ] || bk_fail "$output"
	bk_assert_content "$C/$id/ports" $'tcp 18081 80\nudp 5353 53\n'
	local -A bad=(
		['tcp 80']="expected"
		['sctp 1 2']="sctp"
		['tcp 0 80']="'0'"
		['tcp 70000 80']="70000"
		['tcp 80 0']="'0'"
		['tcp 1 2 3']="expected"
		['tcp x 80']="'x'"
		[$'tcp 5 6\ntcp 5 7']="line 2"
	)
	for v in "${!bad[@]}"; do
		run bk_write_errno "$C/$id/ports" "$v"$'\n'
		[ "${lines[0]}" = EINVAL ] || bk_fail "'$v': $output"
		bk_check_error EINVAL "/containers/$id/ports" 'write|ports' "containers/$id/err" \
			"${lines[1]}" ports "${bad[$v]}" || return
		bk_assert_content "$C/$id/ports" $'tcp 18081 80\nudp 5353 53\n'
	done
	net_start_ctr "$id"
	ip=$(net_ip "$id")
	[ "$(net_elements "$id" | sort)" = "tcp . 18081 : $ip . 80"$'\n'"udp . 5353 : $ip . 53" ] ||
		bk_fail "elements: $(net_elements)"
	run bk_write_errno "$C/$id/ports" $'tcp 18082 80\n'
	[ "${lines[0]}" = EBUSY ] || bk_fail "after start: $output"
	bk_check_error EBUSY "/containers/$id/ports" 'write|ports' "containers/$id/err" "${lines[1]}" \
		"ports cannot change"
	bk_assert_content "$C/$id/ports" $'tcp 18081 80\nudp 5353 53\n'
}

@test "ports: a host port another running container publishes: start fails EADDRINUSE, nothing of it left; free again once that one stops" {
	net_start
	port=18090
	net_create a "$HTTPD_CMD" ports="tcp $port 80"
	net_start_ctr "$a"
	net_wait_http "http://127.0.0.1:$port/"
	links=$(net_bk_links)
	# Writing the same port is fine; starting with it is not.
	net_create b "$HTTPD_CMD" ports=$'tcp 18091 80\n'"tcp $port 8080"
	run ct_ctl "$b" start
	[ "${lines[0]}" = EADDRINUSE ] || bk_fail "second start: $output"
	bk_check_error EADDRINUSE "/containers/$b/ctl" 'write|start' "containers/$b/err" "${lines[1]}" \
		"$port" "$a" || return
	bk_assert_content "$C/$b/state" $'created\n'
	# Nothing of b: no veth, no element (not even its other port); a is untouched.
	[ "$(net_bk_links)" = "$links" ] || bk_fail "links: '$(net_bk_links)', was '$links'"
	[ -z "$(net_elements "$b")" ] || bk_fail "b's elements: $(net_elements)"
	[ "$(net_elements)" = "tcp . $port : $(net_ip "$a") . 80  # $a" ] || bk_fail "elements: $(net_elements)"
	[ "$(net_curl "http://127.0.0.1:$port/")" = "hello from $a" ] || bk_fail "a no longer answers"
	! net_curl "http://127.0.0.1:18091/" >/dev/null 2>&1 || bk_fail "b's other port answers"

	run ct_ctl "$a" 'stop 1'
	[ "${lines[0]}" = OK ] || bk_fail "stop a: $output"
	net_start_ctr "$b"
	net_wait_http "http://127.0.0.1:18091/"
	[ "$(net_curl "http://127.0.0.1:18091/")" = "hello from $b" ] || bk_fail "18091: $(net_curl "http://127.0.0.1:18091/" 2>&1)"
	# The port now leads to b's 8080, where nothing listens: refused, not a's page.
	! net_curl "http://127.0.0.1:$port/" >/dev/null 2>&1 || bk_fail "port $port still reaches a"
	# a cannot start again while b holds the port.
	run ct_ctl "$a" start
	[ "${lines[0]}" = EADDRINUSE ] || bk_fail "restart of a: $output"
}

@test "a start that fails after the network was set up (no /bin/sh in the image) leaves no veth and no published port; rm frees the lease" {
	net_start
	mkdir -p "$BK_TMP/empty/etc"
	bk_import "$BK_TMP/empty" empty >/dev/null
	net_create id 'true' ports='tcp 18097 80'
	echo empty >"$C/$id/image"
	run ct_ctl "$id" start
	[ "${lines[0]}" = ENOENT ] || bk_fail "start: $output"
	[[ ${lines[1]} == *"exec '/bin/sh'"* ]] || bk_fail "start: $output"
	bk_assert_content "$C/$id/state" $'created\n'
	[ -z "$(net_bk_links)" ] || bk_fail "veth left: $(net_bk_links)"
	[ -z "$(net_veths)" ] || bk_fail "bridge ports left: $(net_veths)"
	[ -z "$(net_elements)" ] || bk_fail "elements left: $(net_elements)"
	! net_curl http://127.0.0.1:18097/ >/dev/null 2>&1 || bk_fail "port 18097 answers"
	run ct_ctl "$id" 'rm force'
	[ "${lines[0]}" = OK ] || bk_fail "rm force: $output"
	bk_assert_content "$BK_MNT/net/leases" ""
}

# ---- NAT out -----------------------------------------------------------------

@test "NAT out: a listener on an upstream machine is reached and sees the host's address (masquerade)" {
	net_start
	net_uplink
	# No route back from upstream to the containers: only masquerade can work.
	[ -z "$(nup ip route show 10.201.0.0/16)" ] || bk_fail "upstream has a route to the subnet"
	bk_bg "$BK_TMP/listener" nup "$BK_PY" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9000))
s.listen(5)
print("listening", flush=True)
s.settimeout(20)
c, addr = s.accept()
c.settimeout(5)
data = b""
while b"\n" not in data:
    d = c.recv(100)
    if not d:
        break
    data += d
c.sendall(b"ack\n")
print(addr[0], data.decode().strip(), flush=True)
c.close()' "$NET_UP_PEER"
	bk_wait_until "$BK_DEADLINE" grep -q listening "$BK_TMP/listener" ||
		bk_fail "listener: $(cat "$BK_TMP/listener")"
	net_create id "echo \"hello from \$HOSTNAME\" | nc $NET_UP_PEER 9000"
	net_start_ctr "$id"
	bk_assert_content "$C/$id/wait" $'exit 0\n' || bk_fail "nc: $(cat "$C/$id/log")"
	bk_wait_gone "$BK_BG_PID" || bk_fail "the listener is still waiting: $(cat "$BK_TMP/listener")"
	bk_assert_content "$BK_TMP/listener" $'listening\n'"$NET_UP_HOST hello from $id"$'\n'
	bk_assert_content "$C/$id/log" $'ack\n'
}

# ---- nothing left --------------------------------------------------------------

@test "20 containers: distinct addresses, a veth, a lease and a published port each; after rm none of them left" {
	net_start
	before=$(net_bk_links)
	ids=()
	for i in $(seq 1 20); do
		net_create id 'echo up; sleep 1000' ports="tcp $((20000 + i)) 80"
		net_start_ctr "$id"
		ids+=("$id")
	done
	for id in "${ids[@]}"; do
		ct_wait_log "$id" '^up$'
	done
	ips=$(for id in "${ids[@]}"; do net_ip "$id"; done)
	[ "$(sort -u <<<"$ips" | wc -l)" = 20 ] || bk_fail "addresses not distinct: $ips"
	! grep -qxE "10\.201\.0\.[01]|10\.201\.255\.255" <<<"$ips" || bk_fail "reserved address in: $ips"
	want_veths=$(for id in "${ids[@]}"; do net_veth_of "$id"; done | sort)
	[ "$(net_veths)" = "$want_veths" ] || bk_fail "bridge ports: $(net_veths | tr '\n' ' ')"
	for i in "${!ids[@]}"; do
		id=${ids[$i]}
		net_leases_of "$id" >/dev/null || bk_fail "no lease for $id"
		[ "$(net_elements "$id")" = "tcp . $((20001 + i)) : $(net_ip "$id") . 80" ] ||
			bk_fail "$id's elements: $(net_elements "$id")"
	done
	[ "$(wc -l <"$BK_MNT/net/leases")" = 20 ] || bk_fail "leases: $(cat "$BK_MNT/net/leases")"

	for id in "${ids[@]}"; do
		run ct_ctl "$id" 'rm force'
		[ "${lines[0]}" = OK ] || bk_fail "rm force $id: $output"
	done
	# A veth made ahead goes with its namespace, or (held) on a thread after the removal.
	bk_wait_until "$BK_DEADLINE" eval '[ "$(net_bk_links)" = "$before" ]' ||
		bk_fail "bk links left: $(net_bk_links | tr '\n' ' ')"
	[ -z "$(net_veths)" ] || bk_fail "bridge ports left: $(net_veths | tr '\n' ' ')"
	bk_assert_content "$BK_MNT/net/leases" ""
	[ -z "$(net_elements)" ] || bk_fail "elements left: $(net_elements)"
}

# ---- the daemon goes away -----------------------------------------------------

@test "daemon SIGKILLed then restarted: a running container's published port keeps working; clean exit drops the table, restart republishes" {
	net_start
	port=18095
	net_create id "$HTTPD_CMD" ports="tcp $port 80"
	net_start_ctr "$id"
	ip=$(net_ip "$id")
	pid=$(cat "$C/$id/pid")
	net_wait_http "http://127.0.0.1:$port/"

	bk_daemon_kill9
	# The rules stay with a killed daemon: the port still works meanwhile.
	[ "$(net_curl "http://127.0.0.1:$port/")" = "hello from $id" ] || bk_fail "port lost with the daemon"
	net_daemon_start
	bk_assert_content "$C/$id/state" $'running\n'
	got=$(net_curl "http://127.0.0.1:$port/" 2>&1) || true
	[ "$got" = "hello from $id" ] || bk_fail "port $port lost after the restart: $got; elements: '$(net_elements)'"
	[ "$(net_elements "$id")" = "tcp . $port : $ip . 80" ] || bk_fail "elements: $(net_elements)"
	bk_assert_content "$C/$id/net" "mode bridge"$'\n'"ip $ip"$'\n'"mac $(mac_of "$ip")"$'\n'"gateway $NET_GW"$'\n'
	bk_assert_content "$C/$id/ports" "tcp $port 80"$'\n'
	[ "$(ct_status "$id" ip)" = "$ip" ] || bk_fail "status ip after restart: $(ct_status "$id" ip)"
	[ "$(net_leases_of "$id")" = "$id $ip $(mac_of "$ip")" ] || bk_fail "leases: $(cat "$BK_MNT/net/leases")"
	[ "$(net_veths)" = "$(net_veth_of "$id")" ] || bk_fail "bridge ports: $(net_veths)"

	# A clean exit removes the table (the bridge stays, the container runs on) ...
	bk_daemon_term
	[ "$BK_DAEMON_STATUS" = 0 ] || bk_fail "daemon exit status $BK_DAEMON_STATUS"
	! nh nft list table ip bockerfs >/dev/null 2>&1 || bk_fail "table left: $(nh nft list table ip bockerfs)"
	nh ip link show dev "$NET_BR" >/dev/null || bk_fail "bridge gone"
	bk_alive "$pid" || bk_fail "container died with the daemon"
	# ... and a new daemon publishes the running container's port again.
	net_daemon_start
	[ "$(net_elements "$id")" = "tcp . $port : $ip . 80" ] || bk_fail "elements: $(net_elements)"
	net_wait_http "http://127.0.0.1:$port/"
	[ "$(net_curl "http://127.0.0.1:$port/")" = "hello from $id" ] || bk_fail "port lost after restart"
	# And the container still answers on the bridge (its veth survived).
	nh busybox ping -c1 -W2 "$ip" >/dev/null || bk_fail "cannot ping $ip after the restarts"
}

@test "net and ports of containers not started yet survive a daemon restart (mode none stays none)" {
	net_start
	net_create none 'ls /sys/class/net' net='mode none'
	net_create host 'ls /sys/class/net' net='mode host'
	net_create pub 'sleep 1000' ports=$'tcp 18096 80\nudp 5353 53'
	bk_daemon_term
	net_daemon_start
	bk_assert_content "$C/$none/net" $'mode none\n'
	bk_assert_content "$C/$host/net" $'mode host\n'
	bk_assert_content "$C/$pub/ports" $'tcp 18096 80\nudp 5353 53\n'
	net_start_ctr "$none"
	bk_assert_content "$C/$none/wait" $'exit 0\n'
	bk_assert_content "$C/$none/log" $'lo\n'
	net_start_ctr "$pub"
	[ "$(net_elements "$pub" | sort)" = "tcp . 18096 : $(net_ip "$pub") . 80"$'\n'"udp . 5353 : $(net_ip "$pub") . 53" ] ||
		bk_fail "elements: $(net_elements)"
}

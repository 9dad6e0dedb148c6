# shellcheck shell=bash
# Helpers for the network and resource-limit end-to-end tests
# (tests/e2e/50-network.bats, tests/e2e/60-limits.bats), on top of
# tests/lib/fixture.bash and tests/lib/containers.bash (load those first).
#
# The daemon under test runs in a throwaway network namespace of its own,
# NET_NS, which plays "the host": its bridge, veths, forwarding and the
# nftables table "ip bockerfs" are made there and nowhere else.  Why not in
# the host's namespace: every daemon start deletes and rebuilds the whole
# table "ip bockerfs" and every clean exit deletes it, and the table name is
# the same for every daemon, so a test daemon in the host's namespace would
# wipe out the rules (masquerade, published ports) of any other bockerfs
# daemon running on the machine, and theirs would wipe out ours mid-test.
# The daemon still uses a bridge name and subnet of its own (NET_BR,
# NET_SUBNET), so nothing could collide even if it ran on the host.
#
# Network namespaces a test makes (tests/net/run.sh's safety checks: each is
# compared with the namespace the test started in before anything is
# configured in it):
#   NET_NS   bkt<pid>-h   the daemon's "host"; lo up
#   NET_UP   bkt<pid>-up  an "upstream" machine (net_uplink), linked to NET_NS
#                         by a veth: NET_UP_DEV (NET_UP_HOST/30) in NET_NS,
#                         eth0 (NET_UP_PEER/30) in NET_UP, with no route back to
#                         the containers' subnet.  NET_UP_HOST doubles as "the
#                         host's own address" (an interface that is not the bridge).
# Traffic goes only to 127.0.0.1, those addresses and the containers: NET_NS
# has no default route, so nothing can leave it.
#
#   setup/teardown:  net_start [DAEMON ARGS...]   NET_NS, then ct_start in it (sets
#                                                 NET_BIN_REAL, the daemon's binary)
#                    net_daemon_start [ARGS...]   (re)start the daemon in NET_NS
#                    net_teardown                 containers, daemon, namespaces
#                    net_uplink                   make NET_UP and its veth
#   in NET_NS:       nh CMD...                    run CMD in NET_NS (the "host")
#                    nup CMD...                   run CMD in NET_UP
#   containers:      net_create VAR CMD [FILE=VALUE...]
#                                                 a container from containers/clone
#                                                 (id in VAR): image busybox, cmd,
#                                                 and other files (net, ports,
#                                                 limits) written before start
#                    net_start_ctr ID             ctl start; its init tracked
#                    net_ip ID                    its address (from `net`)
#                    net_ifname ID                the name a start without a network
#                                                 made ahead gives its veth's host end
#                                                 ("bk" + 11 hex of the id's FNV-1a hash)
#                    net_veth_of ID               the host end marked "bockerfs ID"
#                    net_veths                    the links enslaved to NET_BR
#                    net_bk_links                 every container's veth host end in
#                                                 NET_NS (not those made ahead)
#                    net_elements [ID]            the map "published" of NET_NS's
#                                                 table: "tcp . 18080 : A . 80" for
#                                                 each element commented ID, or
#                                                 every element, its comment after #
#                    net_leases_of ID             ID's line in net/leases
#                    net_curl URL                 curl in NET_NS (no proxy, 3 s)
#                    net_wait_http URL [SECS]     until curl in NET_NS gets a page
#   on failure:      net_dump                     links, addresses, routes, ruleset
#
# Everything is removed by net_teardown, even after a failure: containers
# (rm force, then their inits by PID), the daemon (by PID), processes left in
# our namespaces (by PID, from `ip netns pids`), the bridge, the namespaces.

# shellcheck disable=SC2034 # used by the tests
NET_BR=bkt$$ # <= 15 characters
NET_SUBNET=10.201.0.0/16
NET_GW=10.201.0.1
NET_PREFIX=16
NET_NS=bkt$$-h
NET_UP=bkt$$-up
NET_UP_DEV=up0
NET_UP_HOST=198.18.77.1 # RFC 2544 benchmarking addresses
NET_UP_PEER=198.18.77.2
NET_OUTER_NS=$(readlink /proc/self/ns/net)

# The namespaces this test made, in a file so that helpers run in a subshell
# (`run ...`) are seen by teardown too; NET_MADE_FILE names it outside bats
# (tests/py/conftest.py).
net_made_file() {
	echo "${NET_MADE_FILE:-${BATS_TEST_TMPDIR:-${BK_TMP:-/tmp}}/bk-netns}"
}

# net_ns_add NAME: a new network namespace, checked to be a fresh one.
net_ns_add() {
	local inside
	ip netns add "$1" || bk_fail "ip netns add $1" || return
	echo "$1" >>"$(net_made_file)"
	inside=$(ip netns exec "$1" readlink /proc/self/ns/net)
	if [ -z "$NET_OUTER_NS" ] || [ -z "$inside" ] || [ "$inside" = "$NET_OUTER_NS" ]; then
		bk_fail "namespace $1 ($inside) is the one the test started in ($NET_OUTER_NS)"
		return 1
	fi
	ip -n "$1" link set lo up
}

# nh CMD...: run CMD in the daemon's namespace (only the network namespace
# changes: the mounts, the tree included, are the test's).
nh() {
	nsenter --net="/run/netns/$NET_NS" "$@"
}

# nup CMD...: run CMD in the upstream namespace.
nup() {
	nsenter --net="/run/netns/$NET_UP" "$@"
}

# net_daemon_start [ARGS...]: (re)start the daemon (bk_daemon_start) in
# NET_NS, with our bridge and subnet, and check that it really runs there.
net_daemon_start() {
	[ "$BOCKERFS_BIN" = "$BK_TMP/bockerfs-in-netns" ] ||
		bk_fail "net_daemon_start before net_start: the daemon would run in the host's netns" ||
		return
	bk_daemon_start --bridge "$NET_BR" --subnet "$NET_SUBNET" "$@" || return
	net_daemon_check
}

# net_start [ARGS...]: NET_NS, then a daemon in it with a busybox image (ct_start).
net_start() {
	net_ns_add "$NET_NS" || return
	bk_tmp_init || return
	NET_BIN_REAL=$(realpath "$BOCKERFS_BIN") || return
	[ -x "$NET_BIN_REAL" ] || bk_fail "no daemon at '$NET_BIN_REAL' (run make)" || return
	# bk_daemon_start execs BOCKERFS_BIN: a wrapper that enters NET_NS and
	# execs the daemon (nsenter without --fork: the PID stays the daemon's).
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' "$NET_NS" "$NET_BIN_REAL" \
		>"$BK_TMP/bockerfs-in-netns"
	chmod +x "$BK_TMP/bockerfs-in-netns"
	BOCKERFS_BIN=$BK_TMP/bockerfs-in-netns
	ct_start --bridge "$NET_BR" --subnet "$NET_SUBNET" "$@" || return
	net_daemon_check
}

# net_daemon_check: the daemon BK_PID runs in NET_NS.
net_daemon_check() {
	local want got
	want=$(stat -L -c %i "/run/netns/$NET_NS")
	got=$(stat -L -c %i "/proc/$BK_PID/ns/net")
	[ "$got" = "$want" ] || bk_fail "daemon $BK_PID is in netns inode $got, not $NET_NS ($want)"
}

# net_uplink: the upstream namespace and its veth (see the top).
net_uplink() {
	net_ns_add "$NET_UP" || return
	nh ip link add "$NET_UP_DEV" type veth peer name eth0 netns "$NET_UP" || return
	nh ip addr add "$NET_UP_HOST/30" dev "$NET_UP_DEV" || return
	nh ip link set "$NET_UP_DEV" up || return
	ip -n "$NET_UP" addr add "$NET_UP_PEER/30" dev eth0 || return
	ip -n "$NET_UP" link set eth0 up || return
	# The veth is up when both ends are: wait for the link (no packet is sent).
	bk_wait_until "$BK_DEADLINE" net_link_up "$NET_UP_DEV" ||
		bk_fail "$NET_UP_DEV did not come up: $(nh ip -br link)"
}
net_link_up() {
	nh ip -br link show dev "$1" | grep -q LOWER_UP
}

# net_dump: the network state, for a failed test's output.
net_dump() {
	local - ns
	set +e
	[ -f "$(net_made_file)" ] || return 0
	for ns in $(cat "$(net_made_file)"); do
		[ -e "/run/netns/$ns" ] || continue
		echo "---- netns $ns: links, addresses, routes ----"
		ip -n "$ns" -br link
		ip -n "$ns" -br -4 addr
		ip -n "$ns" route
	done
	if [ -e "/run/netns/$NET_NS" ]; then
		echo "---- netns $NET_NS: nft list ruleset ----"
		nh nft list ruleset 2>&1
	fi
}

# net_cleanup: whatever still runs in our namespaces (by PID), our bridge,
# then the namespaces.  Safe to call twice.
net_cleanup() {
	local - ns pid f
	set +e
	f=$(net_made_file)
	[ -f "$f" ] || return 0
	for ns in $(cat "$f"); do
		[ -e "/run/netns/$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			echo "teardown: killing $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)) in netns $ns" >&2
			kill -KILL "$pid" 2>/dev/null
		done
	done
	for ns in $(cat "$f"); do
		[ -e "/run/netns/$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			bk_wait_gone "$pid" 5 || echo "teardown: $pid survives in $ns" >&2
		done
		ip -n "$ns" link del "$NET_BR" 2>/dev/null
		ip netns del "$ns" || echo "teardown: cannot delete netns $ns" >&2
	done
	rm -f "$f"
	return 0
}

# bats teardown: the network state if the test failed, then containers,
# daemon and the namespaces.
net_teardown() {
	[ -z "${BATS_TEST_COMPLETED:-}" ] && net_dump
	ct_teardown
	net_cleanup
}

# net_create VAR CMD [FILE=VALUE...]: a new container (containers/clone) with
# image busybox, cmd CMD and FILE (net, ports, limits, env) set to VALUE; its
# id goes into the variable VAR.  Not started.
net_create() {
	local -n _id=$1
	local cmd=$2 kv
	shift 2
	_id=$(cat "$BK_MNT/containers/clone") || return
	[[ $_id =~ $CT_ID_RE ]] || bk_fail "clone gave '$_id'" || return
	echo busybox >"$BK_MNT/containers/$_id/image" || return
	printf '%s\n' "$cmd" >"$BK_MNT/containers/$_id/cmd" || return
	for kv in "$@"; do
		printf '%s\n' "${kv#*=}" >"$BK_MNT/containers/$_id/${kv%%=*}" ||
			bk_fail "$_id: cannot write '${kv#*=}' to ${kv%%=*}" || return
	done
}

# net_start_ctr ID: ctl start, then remember its init for teardown.
net_start_ctr() {
	local out
	out=$(ct_ctl "$1" start)
	[ "${out%%$'\n'*}" = OK ] || bk_fail "start $1: $out" || return
	ct_track "$1"
}

# net_ip ID: the container's address, from its `net` file.
net_ip() {
	awk '$1 == "ip" { print $2; f = 1 } END { exit !f }' "$BK_MNT/containers/$1/net"
}

# net_ifname ID: the host end's name of a veth made at ID's start (when no
# network made ahead was ready, or under the failpoint netpool.take), "bk"
# and 11 hex digits of the FNV-1a hash of the id (engine/net/netlink.c).
net_ifname() {
	"$BK_PY" -c '
import sys
h = 0xcbf29ce484222325
for b in sys.argv[1].encode():
    h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
print("bk%011x" % (h & 0xFFFFFFFFFFF))' "$1"
}

# net_veths: the links enslaved to our bridge, sorted.
net_veths() {
	nh ip -o link show master "$NET_BR" | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
}

# net_links_marked [ID]: names of the links in NET_NS whose alias is
# "bockerfs ID" (any ID without one), and of those named bk + 11 hex digits
# (without ID), sorted.  A network made ahead (a "bkq" link with no alias)
# is no container's until a start marks it.
net_links_marked() {
	nh ip -j -d link show | "$BK_PY" -c '
import json, re, sys
want = sys.argv[1] if len(sys.argv) > 1 else None
names = []
for link in json.load(sys.stdin):
    name, alias = link.get("ifname", ""), link.get("ifalias", "")
    if want is not None:
        if alias == "bockerfs " + want:
            names.append(name)
    elif alias.startswith("bockerfs ") or re.fullmatch("bk[0-9a-f]{11}", name):
        names.append(name)
print("\n".join(sorted(names)))' "$@" | sed '/^$/d'
}

# net_veth_of ID: the host end of ID's veth (marked with its alias).
net_veth_of() {
	net_links_marked "$1"
}

# net_bk_links: the host ends of containers' veths in NET_NS, sorted.
net_bk_links() {
	net_links_marked
}

# net_elements [ID]: elements of map "published" in NET_NS's table, as
# "tcp . 18080 : 10.201.0.2 . 80", of ID (by their comment) or all.
net_elements() {
	nh nft -j list map ip bockerfs published | "$BK_PY" -c '
import json, sys
want = sys.argv[1] if len(sys.argv) > 1 else None
for item in json.load(sys.stdin)["nftables"]:
    m = item.get("map")
    if not m:
        continue
    for key, val in m.get("elem", []):
        comment = None
        if isinstance(key, dict) and "elem" in key:
            comment = key["elem"].get("comment")
            key = key["elem"]["val"]
        if want is not None and comment != want:
            continue
        k = " . ".join(str(x) for x in key["concat"])
        v = " . ".join(str(x) for x in val["concat"])
        print("%s : %s" % (k, v) + ("" if want else "  # %s" % comment))' "$@"
}

# net_leases_of ID: ID's line in net/leases ("ID IP MAC"); fails if none.
net_leases_of() {
	awk -v id="$1" '$1 == id { print; f = 1 } END { exit !f }' "$BK_MNT/net/leases"
}

# net_curl URL: fetch URL from NET_NS (never through a proxy).
net_curl() {
	nh curl -sS --noproxy '*' --max-time 3 "$1"
}
net_wait_http() {
	bk_wait_until "${2:-$BK_DEADLINE}" net_curl "$1" >/dev/null 2>&1 ||
		bk_fail "no answer from $1: $(net_curl "$1" 2>&1)"
}

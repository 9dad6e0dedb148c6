#!/usr/bin/env bats
# Races of the container network with the lifecycle: quick restarts, whose new
# veth wants the name of the previous run's, which goes with its network
# namespace in the kernel's own time; and a removal whose release of the
# network (ports, veth, lease, all named by the container's id) overlaps a
# new container of the same name that is already starting or running.
#
# Failpoints (engine/base/failpoint.c) widen the windows so that each race is met
# at every run, not once in hundreds:
#   net.veth-exists  after a start's veth creation found the name taken
#                    (engine/net/netlink.c), before it looks at the link
#   rm.moved         after a removal took the container out of the table,
#                    before it releases its network (engine/ops/lifecycle.c)
#   net.release      when that release has begun (engine/ops/network.c)
#   netpool.take     a start finds no network made ahead (engine/net/netpool.c):
#                    its veth is made then, named from the id, as in the tests
#                    of quick restarts (a veth made ahead keeps its own name)
#
# Like 50-network.bats, each test runs its daemon in a network namespace of
# its own (tests/lib/net.bash) and removes everything it made.

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

# restarts ID N: write "restart" to ID's ctl N times, one open file each, as
# fast as they are answered; prints "failed K" and the first failures.
restarts() {
	"$BK_PY" - "$C/$1/ctl" "$2" <<-'EOF'
		import os, sys
		path, n = sys.argv[1], int(sys.argv[2])
		failed = []
		for i in range(n):
		    fd = os.open(path, os.O_RDWR)
		    try:
		        os.write(fd, b"restart\n")
		    except OSError as e:
		        failed.append("restart %d: errno %d: %s" % (i + 1, e.errno, os.read(fd, 400).decode().strip()))
		        # Running again for the next round, whatever the failure left.
		        try:
		            os.write(fd, b"start\n")
		        except OSError:
		            pass
		    finally:
		        os.close(fd)
		print("failed %d" % len(failed))
		print("\n".join(failed[:5]))
	EOF
}

# check_net ID PORT: ID runs with its address, its lease, its veth on our
# bridge (with the alias "bockerfs ID") and its one published port.
check_net() {
	local ip veth
	bk_assert_content "$C/$1/state" $'running\n'
	ip=$(net_ip "$1") || bk_fail "$1 has no address: $(cat "$C/$1/net")" || return
	[ "$(net_elements "$1")" = "tcp . $2 : $ip . 80" ] ||
		bk_fail "$1's elements: '$(net_elements "$1")'; all: $(net_elements)" || return
	net_leases_of "$1" >/dev/null || bk_fail "no lease for $1: $(cat "$BK_MNT/net/leases")" || return
	# Marked as its own, so that a later start can tell it from a stranger.
	veth=$(net_veth_of "$1")
	[ -n "$veth" ] || bk_fail "no veth marked 'bockerfs $1': $(nh ip -d link show)" || return
	net_veths | grep -qx "$veth" ||
		bk_fail "veth $veth of $1 is not on the bridge: $(net_veths | tr '\n' ' ')" || return
}

# new_web PORT: make a container named web (busybox sleep) with PORT
# published, open its ctl as CTL_FD (kept: see check_net_store) and start it
# through it; its init is tracked for teardown.
new_web() {
	local reply
	mkdir "$C/web" || return
	echo busybox >"$C/web/image"
	echo 'sleep 1000' >"$C/web/cmd"
	echo "tcp $1 80" >"$C/web/ports"
	exec {CTL_FD}<>"$C/web/ctl" || return
	reply=$(ctl_fd_cmd "$CTL_FD" start)
	[ "$reply" = OK ] || bk_fail "start web: $reply" || return
	ct_track web
}

# check_net_store ID PORT: as check_net, from outside ID's directory in the
# tree (the store's record, net/leases, the links and the nft map).  After the
# removal of an earlier container of the same name, the tree's entry for the
# name may stay dead (fsd: the removal's rmdir by the toucher comes after the
# new container's mkdir, and the kernel marks the new directory deleted).
check_net_store() {
	local ip state veth
	state=$("$BK_PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["state"])' \
		"$BK_STORE/containers/$1/container.json") || return
	[ "$state" = running ] || bk_fail "$1 is $state" || return
	ip=$(net_leases_of "$1" | awk '{ print $2 }') ||
		bk_fail "no lease for $1: $(cat "$BK_MNT/net/leases")" || return
	[ "$(net_elements "$1")" = "tcp . $2 : $ip . 80" ] ||
		bk_fail "$1's elements: '$(net_elements "$1")'; all: $(net_elements)" || return
	veth=$(net_veth_of "$1")
	[ -n "$veth" ] || bk_fail "no veth marked for $1: $(nh ip -d link show)" || return
	net_veths | grep -qx "$veth" ||
		bk_fail "$veth is not on the bridge: $(net_veths | tr '\n' ' ')" || return
	nh busybox ping -c1 -W2 "$ip" >/dev/null || bk_fail "cannot ping $1 at $ip"
}

# ctl_fd_cmd FD LINE: one command on an open ctl file; prints OK or the reply.
ctl_fd_cmd() {
	local reply=""
	if printf '%s\n' "$2" >&"$1"; then
		echo OK
	else
		read -r reply <&"$1"
		echo "$reply"
	fi
}

@test "restart 300 times in a row: every restart succeeds (the previous run's veth is replaced or waited out)" {
	net_start
	net_create id 'sleep 1000' ports='tcp 18200 80'
	net_start_ctr "$id"
	run restarts "$id" 300
	[ "${lines[0]}" = "failed 0" ] || bk_fail "$output"
	ct_track "$id"
	check_net "$id" 18200
}

@test "restart while the previous run's veth goes away under the start (failpoint): every restart succeeds" {
	# Each start that finds its name taken looks at the link only 200 ms
	# later, when the previous run's netns has been cleaned up: the link it
	# was told exists is gone.
	# Starts without a network made ahead, whose veths are named from the id.
	BOCKERFS_FAILPOINTS='net.veth-exists=sleep:200;netpool.take=error' net_start
	net_create id 'sleep 1000' ports='tcp 18201 80'
	net_start_ctr "$id"
	run restarts "$id" 15
	[ "${lines[0]}" = "failed 0" ] || bk_fail "$output"
	ct_track "$id"
	grep -q 'failpoint net.veth-exists: sleep' "$BK_LOG" ||
		bk_fail "no restart found its veth name taken: the race was not met"
	check_net "$id" 18201
}

@test "a veth name taken by a link that is not the container's: start fails EEXIST, that link is left alone" {
	# A start without a network made ahead names its veth from the id.
	BOCKERFS_FAILPOINTS='netpool.take=error' net_start
	net_create id 'sleep 1000'
	veth=$(net_ifname "$id")
	# Another veth of that name, on no bridge and with no alias of ours.
	nh ip link add "$veth" type veth peer name "${veth}p"
	run ct_ctl "$id" start
	[ "${lines[0]}" = EEXIST ] || bk_fail "start: $output"
	bk_check_error EEXIST "/containers/$id/ctl" 'write|start' "containers/$id/err" "${lines[1]}" \
		"$veth" "not this container's" || return
	nh ip link show dev "$veth" >/dev/null || bk_fail "the other link was deleted"
	bk_assert_content "$C/$id/state" $'created\n'
	[ -z "$(net_veths)" ] || bk_fail "bridge ports: $(net_veths)"
	nh ip link del "$veth"
	net_start_ctr "$id"
	check_net_veth=$(net_veths)
	[ "$check_net_veth" = "$veth" ] || bk_fail "bridge ports after the link went: '$check_net_veth'"
}

@test "rm force of a container whose name is taken again at once: the new container keeps its port, veth and lease; nothing of either is left after its own rm" {
	# The removal sleeps after the container left the table and before it
	# releases its network: the new container of the same name starts then.
	BOCKERFS_FAILPOINTS='rm.moved=sleep:2000@1' net_start
	port=18202
	new_web "$port"
	exec {CTL_FD}>&-
	old_ip=$(net_ip web)
	bk_bg "$BK_TMP/rm.out" "$BK_PY" "$BK_LIB/bkio.py" write "$C/web/ctl" $'rm force\n'
	rm_pid=$BK_BG_PID
	bk_wait_until "$BK_DEADLINE" grep -q 'failpoint rm.moved: sleep' "$BK_LOG" ||
		bk_fail "the removal never reached rm.moved: $(cat "$BK_TMP/rm.out")"

	new_web "$port"
	bk_wait_gone "$rm_pid" || bk_fail "the first rm still runs"
	[ "$(head -n1 "$BK_TMP/rm.out")" = OK ] || bk_fail "first rm: $(cat "$BK_TMP/rm.out")"

	check_net_store web "$port"
	# The new container has the old one's lease (leases are by name).
	[ "$(net_leases_of web | awk '{ print $2 }')" = "$old_ip" ] ||
		bk_fail "lease $(net_leases_of web), the old one had $old_ip"

	[ "$(ctl_fd_cmd "$CTL_FD" 'rm force')" = OK ] || bk_fail "rm force of the new web"
	exec {CTL_FD}>&-
	[ -z "$(net_elements)" ] || bk_fail "elements left: $(net_elements)"
	bk_wait_until "$BK_DEADLINE" eval 'test -z "$(net_bk_links)"' ||
		bk_fail "veths left: $(net_bk_links | tr '\n' ' ')"
	bk_assert_content "$BK_MNT/net/leases" ""
}

@test "a container of the same name started while a removal releases the old one's network: its start waits, then it has its port, veth and lease" {
	BOCKERFS_FAILPOINTS='net.release=sleep:1500@1' net_start
	port=18203
	new_web "$port"
	exec {CTL_FD}>&-
	bk_bg "$BK_TMP/rm.out" "$BK_PY" "$BK_LIB/bkio.py" write "$C/web/ctl" $'rm force\n'
	rm_pid=$BK_BG_PID
	bk_wait_until "$BK_DEADLINE" grep -q 'failpoint net.release: sleep' "$BK_LOG" ||
		bk_fail "the removal never reached net.release: $(cat "$BK_TMP/rm.out")"

	new_web "$port"
	bk_wait_gone "$rm_pid" || bk_fail "the first rm still runs"
	[ "$(head -n1 "$BK_TMP/rm.out")" = OK ] || bk_fail "first rm: $(cat "$BK_TMP/rm.out")"
	check_net_store web "$port"

	[ "$(ctl_fd_cmd "$CTL_FD" 'rm force')" = OK ] || bk_fail "rm force of the new web"
	exec {CTL_FD}>&-
	[ -z "$(net_elements)" ] || bk_fail "elements left: $(net_elements)"
	bk_wait_until "$BK_DEADLINE" eval 'test -z "$(net_bk_links)"' ||
		bk_fail "veths left: $(net_bk_links | tr '\n' ' ')"
	bk_assert_content "$BK_MNT/net/leases" ""
}

@test "start and rm force at once, 60 containers with published ports: no element, veth or lease of a removed container is left" {
	net_start
	ids=()
	for i in $(seq 1 60); do
		net_create id 'sleep 1000' ports="tcp $((18300 + i % 20)) 80"$'\n'"udp $((18400 + i)) 53"
		ids+=("$id")
	done
	# Per container, one thread writes start and another rm force (retried
	# while the start holds the container), released together in batches.
	run "$BK_PY" - "$C" "${ids[@]}" <<-'EOF'
		import errno, os, random, sys, threading
		C, ids = sys.argv[1], sys.argv[2:]
		bad = []
		def write(cid, line, retry_busy):
		    while True:
		        try:
		            fd = os.open(os.path.join(C, cid, "ctl"), os.O_RDWR)
		        except OSError as e:
		            if e.errno != errno.ENOENT or line != b"start\n":
		                bad.append("%s %r: open: %s" % (cid, line, e))
		            return
		        try:
		            os.write(fd, line)
		            return
		        except OSError as e:
		            if retry_busy and e.errno == errno.EBUSY:
		                continue
		            ok = {b"start\n": (errno.ENOENT, errno.EADDRINUSE, errno.EBUSY)}.get(line, ())
		            if e.errno not in ok:
		                bad.append("%s %r: %s" % (cid, line, os.read(fd, 400).decode().strip()))
		            return
		        finally:
		            os.close(fd)
		for k in range(0, len(ids), 10):
		    ts = []
		    for cid in ids[k:k + 10]:
		        ts.append(threading.Thread(target=write, args=(cid, b"start\n", False)))
		        ts.append(threading.Thread(target=write, args=(cid, b"rm force\n", True)))
		    random.shuffle(ts)
		    for t in ts:
		        t.start()
		    for t in ts:
		        t.join()
		print("bad %d" % len(bad))
		print("\n".join(bad[:5]))
	EOF
	[ "${lines[0]}" = "bad 0" ] || bk_fail "$output"
	[ -z "$(ct_ids)" ] || bk_fail "containers left: $(ct_ids | tr '\n' ' ')"
	[ -z "$(net_elements)" ] || bk_fail "elements left: $(net_elements)"
	bk_wait_until "$BK_DEADLINE" eval 'test -z "$(net_bk_links)"' ||
		bk_fail "veths left: $(net_bk_links | tr '\n' ' ')"
	bk_assert_content "$BK_MNT/net/leases" ""
}

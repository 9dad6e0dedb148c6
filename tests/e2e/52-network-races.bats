#!/usr/bin/env bats
# Races of the container network with the lifecycle: quick restarts, whose new
# veth wants the name of the previous run's, which goes with its network
# namespace in the kernel's own time.
#
# Failpoints (engine/failpoint.c) widen the windows so that each race is met
# at every run, not once in hundreds:
#   net.veth-exists  after a start's veth creation found the name taken
#                    (engine/netlink.c), before it looks at the link
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
	local ip
	bk_assert_content "$C/$1/state" $'running\n'
	ip=$(net_ip "$1") || bk_fail "$1 has no address: $(cat "$C/$1/net")" || return
	[ "$(net_elements "$1")" = "tcp . $2 : $ip . 80" ] ||
		bk_fail "$1's elements: '$(net_elements "$1")'; all: $(net_elements)" || return
	net_leases_of "$1" >/dev/null || bk_fail "no lease for $1: $(cat "$BK_MNT/net/leases")" || return
	net_veths | grep -qx "$(net_ifname "$1")" ||
		bk_fail "no veth $(net_ifname "$1") for $1 on the bridge: $(net_veths | tr '\n' ' ')" || return
	# Marked as its own, so that a later start can tell it from a stranger.
	nh ip -d link show dev "$(net_ifname "$1")" | grep -q "alias bockerfs $1\$" ||
		bk_fail "veth without the alias 'bockerfs $1': $(nh ip -d link show dev "$(net_ifname "$1")")"
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
	BOCKERFS_FAILPOINTS='net.veth-exists=sleep:200' net_start
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
	net_start
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

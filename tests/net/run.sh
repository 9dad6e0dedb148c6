#!/bin/sh
# Self test of the engine's networking against the real kernel, entirely
# inside throwaway network namespaces: the host's own links, addresses and
# nftables rules are never touched, and no packet leaves these namespaces.
#
#   bktNNN-host  plays the host: net_selftest runs in it (bridge, veths, table)
#   bktNNN-up    an "upstream" machine, linked to bktNNN-host by a veth
#                (198.18.0.1 host side, 198.18.0.2 upstream side, RFC 2544
#                benchmarking addresses) with no route back to 10.88.0.0/16
#
# The "containers" are children of net_selftest, each in its own netns.
# Usage: make net-selftest  (as root; SAN=1 for an ASan+UBSan build;
# BK_TEST_KEEP=1 keeps the namespaces for a look afterwards).
set -eu
cd "$(dirname "$0")/../.."

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (network namespaces)"
	exit 0
fi
for tool in ip busybox; do
	command -v $tool >/dev/null || { echo "1..0 # SKIP no $tool"; exit 0; }
done
# Built by `make net-selftest` with the project's flags (SAN=1: in build-asan/).
BIN=${NET_SELFTEST_BIN:-build/tests/net_selftest}
[ -x "$BIN" ] || { echo "run.sh: no $BIN: run it with make net-selftest" >&2; exit 1; }

P=bkt$$
HOST=$P-host
UP=$P-up
made=""
TMPDIR=$(mktemp -d "/tmp/$P.XXXXXX") # the self test's ipam.json goes here
export TMPDIR

cleanup() {
	rc=$?
	trap - EXIT INT TERM
	if [ "${BK_TEST_KEEP:-0}" = 1 ]; then
		echo "# kept network namespaces:$made" >&2
		exit $rc
	fi
	# Whatever still runs in our namespaces, by pid (the containers die with
	# net_selftest: PR_SET_PDEATHSIG), then the namespaces themselves.
	for ns in $made; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
	done
	for ns in $made; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$TMPDIR"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$HOST"
made="$made $HOST"
ip netns add "$UP"
made="$made $UP"

# Never configure anything unless we really are in a throwaway namespace:
# compare with the one this script was started in (PID 1's may be unreadable).
BK_NET_OUTER=$(readlink /proc/self/ns/net)
export BK_NET_OUTER
for ns in "$HOST" "$UP"; do
	inside=$(ip netns exec "$ns" readlink /proc/self/ns/net)
	if [ -z "$BK_NET_OUTER" ] || [ "$inside" = "$BK_NET_OUTER" ]; then
		echo "Bail out! $ns is the network namespace run.sh was started in"
		exit 1
	fi
done

ip -n "$HOST" link add up0 type veth peer name eth0 netns "$UP"
ip -n "$HOST" addr add 198.18.0.1/24 dev up0
ip -n "$HOST" link set up0 up
ip -n "$HOST" link set lo up
ip -n "$UP" addr add 198.18.0.2/24 dev eth0
ip -n "$UP" link set eth0 up
ip -n "$UP" link set lo up

ip netns exec "$HOST" "$BIN" "/run/netns/$UP" 198.18.0.2 198.18.0.1

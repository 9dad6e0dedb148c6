# shellcheck shell=bash
# The runtime's containers in the tree (tests/e2e/77-runtime-tree.bats and
# 78-runtime-tree-abuse.bats): a daemon per test on its own store, and
# bockerfs-runtime driven directly (tests/lib/ocibundle.bash), pointed at that
# store through BOCKERFS_STORE.  Load after fixture.bash, containers.bash and
# ocibundle.bash.
#
#   rt_setup / rt_teardown   (setup/teardown) ob_setup, a daemon (C: its
#                            containers/), BOCKERFS_STORE; teardown continues a
#                            held daemon first
#   rt_sleeper ID            a bundle running `sleep 1000`, created (not started)
#   tree_has ID              containers/ID is listed (directory and index line)
#   tree_status ID KEY       the value of KEY in containers/ID/status
#   tree_oci_name OCI_ID     the tree's name of the runtime container OCI_ID
#   daemon_hold / daemon_release   the daemon stopped (SIGSTOP) and continued
#   events_of ID FILE        the actions of ID's lines in an events FILE, on one line

rt_setup() {
	ob_is_ours || skip "the tree shows bockerfs-runtime's containers only"
	ob_setup
	bk_start || return
	C=$BK_MNT/containers
	export BOCKERFS_STORE=$BK_ROOT
}

rt_teardown() {
	[ -n "${BK_PID:-}" ] && kill -CONT "$BK_PID" 2>/dev/null
	ob_teardown
	ct_teardown
}

rt_sleeper() {
	local b
	b=$(ob_bundle "$1") && ob_args "$b" sleep 1000 && ob_create "$1" "$b"
}

tree_has() {
	[ -d "$C/$1" ] && grep -q "^$1"$'\t' "$C/index"
}

tree_status() {
	awk -v k="$2" '$1 == k { print $2 }' "$C/$1/status"
}

tree_oci_name() {
	local n
	for n in $(ls "$C"); do
		[ -f "$C/$n/status" ] || continue
		[ "$(tree_status "$n" oci_id)" = "$1" ] && echo "$n"
	done
	return 0
}

daemon_hold() {
	kill -STOP "$BK_PID"
	bk_wait_until 5 eval '[ "$(bk_proc_stat "$BK_PID" | cut -c1)" = T ]'
}

daemon_release() {
	kill -CONT "$BK_PID"
}

events_of() {
	awk -v id="$1" '$2 == "container" && $3 == id { printf "%s ", $4 }' "$2"
}

# shellcheck shell=bash
# What bench/pull.sh and bench/push.sh share: the test fixtures (a daemon, the
# local registries), a work directory removed at exit with all they made,
# and the large image's layer.
here=$(cd "$(dirname "$0")/.." && pwd)
BOCKERFS_BIN=${BOCKERFS_BIN:-$here/build/bockerfs}
BK_STORAGE_SIZE=${BK_STORAGE_SIZE:-4G}
# shellcheck source=../tests/lib/fixture.bash
. "$here/tests/lib/fixture.bash"
# shellcheck source=../tests/lib/registry.bash
. "$here/tests/lib/registry.bash"

work=$(mktemp -d /var/tmp/bkbench-XXXXXX)
cleanup() {
	set +e
	bk_stop
	bk_registry_teardown
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }

# bench_large_layer DEFAULT: $work/layer.tar.gz, the large image's one layer,
# and $label: a debootstrap minbase when BK_BENCH_DEBOOTSTRAP (DEFAULT if
# unset) is 1 and debootstrap is installed (made once, kept in
# build/bench/cache/: it takes a minute), else a tarball of the host's
# BK_BENCH_DIRS.
bench_large_layer() {
	local cache=$here/build/bench/cache dirs=${BK_BENCH_DIRS:-/usr/lib/python3 /usr/lib/python3.11 /usr/share/doc}
	if [ "${BK_BENCH_DEBOOTSTRAP:-$1}" = 1 ] && [ -s "$cache/debian-minbase.tar.gz" ]; then
		cp "$cache/debian-minbase.tar.gz" "$work/layer.tar.gz"
		label="debian minbase"
	elif [ "${BK_BENCH_DEBOOTSTRAP:-$1}" = 1 ] && command -v debootstrap >/dev/null; then
		debootstrap --variant=minbase bookworm "$work/rootfs" >"$work/debootstrap.log" 2>&1
		tar -C "$work/rootfs" -czf "$work/layer.tar.gz" .
		mkdir -p "$cache" && cp "$work/layer.tar.gz" "$cache/debian-minbase.tar.gz"
		label="debian minbase"
	else
		# shellcheck disable=SC2086
		tar -czf "$work/layer.tar.gz" $dirs 2>/dev/null
		label="host dirs"
	fi
}

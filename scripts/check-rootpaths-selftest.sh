#!/bin/sh
# check-rootpaths-selftest.sh: plant each kind of violation that
# check-rootpaths.sh must refuse in a copy of the tree, one at a time, and
# fail unless it is refused (and unless the clean copy and a harmless
# comment pass).  Run by `make check-layers`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
fresh() {
	rm -rf "$tmp/t" && mkdir -p "$tmp/t" &&
		(cd "$here/.." && cp -r engine fsd common runtime scripts "$tmp/t/")
}
# expect pass|fail WHAT TEXT: append TEXT to engine/ops/commit.c of a fresh copy.
expect() {
	fresh || exit 1
	printf '%s\n' "$3" >>"$tmp/t/engine/ops/commit.c"
	if ROOTPATHS_ALLOW="$tmp/t/scripts/rootpaths.allow" "$here/check-rootpaths.sh" "$tmp/t" \
		>"$tmp/out" 2>&1; then got=pass; else got=fail; fi
	if [ "$got" != "$1" ]; then
		echo "check-rootpaths self-test: $2: $got, expected $1"
		sed 's/^/  /' "$tmp/out"
		status=1
	fi
}
expect pass "the tree as it is" ''
expect pass "a raw call named in a comment" '/* open("x") and unlinkat(root_fd, "etc", 0) */'
expect pass "a raw call named in a string" 'static const char *s = "open(path)";'
expect fail "openat2 outside inroot.c" 'static int f(int d, struct open_how *h) { return openat2(d, "x", h, sizeof(*h)); }'
expect fail "an *at() call on a root's fd over two lines" 'static int f(int rootfs_fd) { return openat(
	rootfs_fd, "etc/passwd", O_RDONLY); }'
expect fail "an *at() call on a root's fd after a '*'" 'static void f(int *fd, int root_fd) {
	*fd = openat(root_fd, "etc/passwd", O_RDONLY);
}'
expect fail "a path into a root as a string" 'static const char *p = "%s/rootfs/etc/passwd";'
expect fail "a new open() of a path" 'static int f(const char *p) { return open(p, O_RDONLY); }'
expect fail "a new *at() call on a fd of another name" 'static int f(int src_fd) { return unlinkat(src_fd, "etc/hosts", 0); }'
expect fail "a new stat() over two lines" 'static int f(const char *p, struct stat *st) { return stat(
	p, st); }'
# One call fewer than allowed: the allowance must come down.
fresh || exit 1
awk '$2 == "engine/ops/commit.c" { $1 = $1 + 1 } { print }' "$tmp/t/scripts/rootpaths.allow" \
	>"$tmp/allow"
if ROOTPATHS_ALLOW="$tmp/allow" "$here/check-rootpaths.sh" "$tmp/t" >"$tmp/out" 2>&1 ||
	! grep -q 'lower it' "$tmp/out"; then
	echo "check-rootpaths self-test: an allowance above the count was not refused"
	status=1
fi
exit $status

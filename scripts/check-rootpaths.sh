#!/bin/sh
# check-rootpaths.sh: the one-way rule of engine/base/inroot.h, enforced.  Every
# path the daemon or bockerfs-init opens, makes or removes inside an image's
# or a container's filesystem (a "root") goes through engine/base/inroot.c.  This
# fails when a file elsewhere
#   1. calls openat2 or names RESOLVE_IN_ROOT/RESOLVE_BENEATH (a second way
#      of resolving under a root);
#   2. makes a raw *at() call whose directory fd is a root's (by the names
#      roots' fds have here: root, rootfd, root_fd, rootfs_fd, *_root_fd,
#      *_rootfs_fd, x->root);
#   3. builds a path into a root as a string ("rootfs/...", "%s/rootfs/").
# A root's own fd may still be passed whole to the store (snapshots,
# read-only flags, the copy of an import), which never resolves a path in it.
set -u
cd "$(dirname "$0")/.."
status=0
files=$(find engine fsd common -name '*.[ch]' ! -path engine/base/inroot.c ! -path engine/base/inroot.h \
	! -path common/syscalls.h | sort)

# Comment lines are left out: they may name what they explain.
code() {
	grep -nE "$1" $files | grep -vE '^[^:]+:[0-9]+:\s*(/?\*|//)'
}

hits=$(code 'sys_openat2|SYS_openat2|openat2 *\(|linux/openat2\.h|RESOLVE_(IN_ROOT|BENEATH)')
if [ -n "$hits" ]; then
	echo "check-rootpaths: openat2 outside engine/base/inroot.c (use inroot_*):"
	echo "$hits"
	status=1
fi

calls='openat|fstatat|newfstatat|unlinkat|mkdirat|mknodat|symlinkat|linkat|renameat2?|readlinkat|fchownat|fchmodat|utimensat|faccessat2?|statx|name_to_handle_at|execveat|opendir_at|read_file_at|write_file_atomic|write_file_replace'
roots='(root|rootfd|root_fd|rootfs_fd|[a-z_]+_root_fd|[a-z_]+_rootfs_fd|[a-z]+->root(fs)?(_fd)?)'
hits=$(code "\\b($calls)\\s*\\(\\s*$roots\\s*,")
if [ -n "$hits" ]; then
	echo "check-rootpaths: a raw *at() call on a root's fd (use inroot_*):"
	echo "$hits"
	status=1
fi

hits=$(code '"[^"]*rootfs/[^"]*"')
if [ -n "$hits" ]; then
	echo "check-rootpaths: a path into a root built as a string (open the root, then inroot_*):"
	echo "$hits"
	status=1
fi
exit $status

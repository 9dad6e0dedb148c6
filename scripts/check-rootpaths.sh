#!/bin/sh
# check-rootpaths.sh [TREE]: the one-way rule of engine/base/inroot.h, enforced.
# Every path the daemon or bockerfs-init opens, makes or removes inside an
# image's or a container's filesystem (a "root") goes through
# engine/base/inroot.c.  Which fd is a root's cannot be told from the text, so
# besides three direct checks this is a ratchet: every raw path call (open,
# stat, unlink, mkdir, the *at() family, exec, mount, ...) outside inroot.c
# is counted per file, comments and strings left out, calls over several
# lines included, and each file may have exactly as many as
# scripts/rootpaths.allow grants it, with the reason they never resolve a
# path inside a root.  A new raw call anywhere fails here until it goes
# through inroot_* or the allowance is raised with its reason, in review;
# one removed fails until the allowance is lowered, so none is ever free.
# It also fails when a file
#   1. calls openat2 or names RESOLVE_IN_ROOT/RESOLVE_BENEATH (a second way
#      of resolving under a root);
#   2. makes a raw *at() call whose directory fd is named as a root's (root,
#      rootfd, root_fd, rootfs_fd, *_root_fd, *_rootfs_fd, x->root);
#   3. builds a path into a root as a string ("rootfs/...", "%s/rootfs/").
# `check-rootpaths.sh --self-test` plants each kind of violation in a copy of
# the tree and fails unless each one is caught.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = --self-test ]; then
	exec "$here/check-rootpaths-selftest.sh"
fi
cd "${1:-$here/..}"
allow=${ROOTPATHS_ALLOW:-scripts/rootpaths.allow}
status=0
files=$(find engine fsd common runtime -name '*.[ch]' ! -path engine/base/inroot.c ! -path engine/base/inroot.h \
	! -path common/syscalls.h | sort)

# Each file's code without comments and with empty string and character
# literals, line numbers kept: "FILE:LINE:CODE".
code_of() {
	awk '
	FNR == 1 { incomment = 0 }
	{
		line = $0; out = ""; i = 1; n = length(line)
		while (i <= n) {
			c = substr(line, i, 1); c2 = substr(line, i, 2)
			if (incomment) {
				if (c2 == "*/") { incomment = 0; i += 2; continue }
				i++; continue
			}
			if (c2 == "/*") { incomment = 1; i += 2; continue }
			if (c2 == "//") break
			if (c == "\"" || c == "\047") {
				q = c; i++
				while (i <= n) {
					d = substr(line, i, 1)
					if (d == "\\") { i += 2; continue }
					if (d == q) break
					i++
				}
				i++; out = out q q; continue
			}
			out = out c; i++
		}
		print FILENAME ":" FNR ":" out
	}' "$@"
}

# The same with strings kept (check 3 looks into them), comments still out.
code() {
	grep -nE "$1" $files | grep -vE '^[^:]+:[0-9]+:\s*(/\*|//|\*( |/|$))'
}

hits=$(code 'sys_openat2|SYS_openat2|openat2 *\(|linux/openat2\.h|RESOLVE_(IN_ROOT|BENEATH)')
if [ -n "$hits" ]; then
	echo "check-rootpaths: openat2 outside engine/base/inroot.c (use inroot_*):"
	echo "$hits"
	status=1
fi

atcalls='openat|fstatat|newfstatat|unlinkat|mkdirat|mknodat|symlinkat|linkat|renameat2?|readlinkat|fchownat|fchmodat|utimensat|faccessat2?|statx|name_to_handle_at|open_by_handle_at|execveat|opendir_at|read_file_at|write_file_atomic|write_file_replace'
roots='(root|rootfd|root_fd|rootfs_fd|[a-z_]+_root_fd|[a-z_]+_rootfs_fd|[a-z]+->root(fs)?(_fd)?)'
# Calls over several lines are joined: a statement's text up to its ';'.
hits=$(code_of $files | awk -F: '{ f = $1; l = $2; sub(/^[^:]+:[0-9]+:/, "") }
	f != pf || done { start = l; text = "" } { text = text " " $0; pf = f; done = ($0 ~ /[;{}][ \t]*$/) }
	done { print f ":" start ":" text }' |
	grep -E "\\b($atcalls)\\s*\\(\\s*$roots\\s*,")
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

# The ratchet.
pathcalls="$atcalls|open|open64|creat|fopen|freopen|opendir|stat|lstat|unlink|remove|rmdir|mkdir|mknod|mkfifo|rename|readlink|chmod|chown|lchown|truncate|access|symlink|link|realpath|nftw|ftw|execv|execve|execvp|execl|execlp|mount|umount|umount2|chdir|chroot|pivot_root"
calls=$(code_of $files | grep -nE '.' | sed 's/^[0-9]*://' |
	grep -oE "^[^:]+:[0-9]+:|(^|[^A-Za-z0-9_>.])($pathcalls)\\s*\\(" |
	awk '/^[^:]+:[0-9]+:$/ { where = $0; next } { sub(/^[^A-Za-z_]/, ""); sub(/[ \t]*\($/, ""); print where $0 }')
[ -f "$allow" ] || { echo "check-rootpaths: no $allow"; exit 1; }
for f in $files; do
	n=$(printf '%s\n' "$calls" | grep -c "^$f:")
	want=$(awk -v f="$f" '$1 !~ /^#/ && $2 == f { print $1; exit }' "$allow")
	want=${want:-0}
	if [ "$n" -gt "$want" ]; then
		echo "check-rootpaths: $f has $n raw path calls, $allow allows $want: a new one"
		echo "  must go through inroot_* if it can touch a root, or raise the allowance with why it cannot:"
		printf '%s\n' "$calls" | grep "^$f:" | sed 's/^/    /'
		status=1
	elif [ "$n" -lt "$want" ]; then
		echo "check-rootpaths: $f has $n raw path calls, $allow allows $want: lower it to $n"
		status=1
	fi
done
awk '$1 !~ /^#/ && NF { print $2 }' "$allow" | while read -r f; do
	[ -f "$f" ] || { echo "check-rootpaths: $allow names $f, which does not exist"; exit 1; }
done || status=1
exit $status

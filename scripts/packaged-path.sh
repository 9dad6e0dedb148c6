#!/bin/sh
# packaged-path.sh DIR [PART]: fill DIR with links to the programs a fresh
# Debian 12 machine would have after `scripts/deps.sh PART` (default test):
# those of the packages PART lists, of everything they depend on, and of
# Debian's required packages, which every install has (a minimal image, as
# cloud and container images are, has no "important" ones: nftables is
# one of those, and the tests once needed it unlisted).
# `make test` runs the suites with PATH=DIR, so a program the tests or the
# daemon use that no list names fails here, as it would on a fresh machine,
# instead of passing on a machine where someone once installed it by hand.
# Programs installed outside Debian's packages (/usr/local, pip) are never
# on it.  Prints nothing; exits non-zero if a listed package is missing.
set -eu
dir=$1
part=${2:-test}
here=$(cd "$(dirname "$0")" && pwd)

pkgs=$("$here/deps.sh" --list "$part")
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || {
		echo "packaged-path: $p is not installed (run scripts/deps.sh $part)" >&2
		exit 1
	}
done
# shellcheck disable=SC2086
closure=$({
	apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances $pkgs 2>/dev/null | grep -v '^[ <]'
	dpkg-query -W -f='${Package} ${Priority}\n' | awk '$2 == "required" { print $1 }'
} | sed 's/:.*//' | sort -u)

# Every program those packages own, by its real path (merged /usr, alternatives),
# linked into DIR under the names it has in the system's bin directories.  Made
# beside DIR and moved in place: `make test` runs with PATH=DIR, and this script
# itself is then run from it.
rm -rf "$dir.new" "$dir.new.old"
# shellcheck disable=SC2086
dpkg-query -L $closure 2>/dev/null | python3 -c '
import os, sys
owned = {os.path.realpath(l.strip()) for l in sys.stdin if l.startswith(("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/"))}
d = sys.argv[1]
os.makedirs(d)
for b in ("/usr/bin", "/usr/sbin", "/bin", "/sbin"):
    for name in sorted(os.listdir(b)):
        f = os.path.join(b, name)
        link = os.path.join(d, name)
        if os.path.lexists(link) or os.path.isdir(f) or not os.access(f, os.X_OK):
            continue
        if os.path.realpath(f) in owned:
            os.symlink(f, link)
# In place in one process: the shell may have no rm or mv once DIR is gone.
import shutil
if os.path.lexists(sys.argv[2]):
    os.rename(sys.argv[2], d + ".old")
os.rename(d, sys.argv[2])
shutil.rmtree(d + ".old", ignore_errors=True)
' "$dir.new" "$dir"

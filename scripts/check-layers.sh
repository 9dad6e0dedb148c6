#!/bin/sh
# check-layers.sh: the layers of docs/design.md, enforced.  Each folder may
# include the headers of the folders on its line below and nothing else of
# the project (an allow-list: a new folder or a new arrow must be added here,
# on purpose).  System headers (<...>) are not checked, but FUSE's: the
# engine knows nothing of FUSE.  Then the rule of engine/base/inroot.h
# (scripts/check-rootpaths.sh).
set -u
cd "$(dirname "$0")/.."

# folder: the folders (or single headers) its files may include, besides their own folder.
allowed() {
	case $1 in
	common) echo "" ;;
	engine/base) echo "common engine/bocker.h" ;;
	engine/parse) echo "common engine/bocker.h engine/base" ;;
	engine/registry) echo "common engine/bocker.h engine/base engine/parse" ;;
	engine/store) echo "common engine/bocker.h engine/base engine/parse" ;;
	engine/net) echo "common engine/bocker.h engine/base engine/parse" ;;
	engine/proc) echo "common engine/bocker.h engine/base engine/parse engine/init/plan_keys.h" ;;
	engine/model) echo "common engine/bocker.h engine/base engine/parse engine/store engine/net" ;;
	engine/ops) echo "common engine/bocker.h engine/base engine/parse engine/registry engine/store
		engine/net engine/proc engine/model" ;;
	engine/oci) echo "common engine/bocker.h engine/runtime.h engine/base engine/parse engine/proc" ;;
	engine) echo "common engine/base engine/parse engine/registry engine/store engine/net
		engine/proc engine/model engine/ops" ;;
	engine/init) echo "common engine/base/inroot.h" ;;
	fsd) echo "common engine/bocker.h" ;;
	runtime) echo "common engine/runtime.h engine/bocker.h" ;;
	*) echo "UNKNOWN" ;;
	esac
}

# Where an include names a file: relative to the including file's folder,
# else to engine/ (-Iengine), else to the top (-I.).
resolve() {
	dir=$1
	inc=$2
	for p in "$dir/$inc" "engine/$inc" "$inc"; do
		if [ -f "$p" ]; then
			realpath --relative-to=. "$p"
			return
		fi
	done
	echo "$inc"
}

status=0
for f in $(find common engine fsd runtime -name '*.[ch]' | sort); do
	dir=$(dirname "$f")
	ok=$(allowed "$dir")
	if [ "$ok" = UNKNOWN ]; then
		echo "check-layers: $f: folder $dir has no line in scripts/check-layers.sh"
		status=1
		continue
	fi
	grep -n '^#include "' "$f" | while IFS=: read -r line text; do
		inc=$(echo "$text" | sed 's/^#include "\(.*\)".*/\1/')
		target=$(resolve "$dir" "$inc")
		tdir=$(dirname "$target")
		[ "$tdir" = "$dir" ] && continue
		pass=false
		for a in $ok; do
			case $target in
			"$a" | "$a"/*) pass=true ;;
			esac
		done
		$pass || echo "check-layers: $f:$line includes $target, which $dir may not use"
	done
done >/tmp/check-layers.$$
if [ -s /tmp/check-layers.$$ ]; then
	cat /tmp/check-layers.$$
	status=1
fi
rm -f /tmp/check-layers.$$

# The engine knows nothing of FUSE.
hits=$(grep -rn -E '#include <fuse|\bfuse_[a-z_]+\(' engine common)
if [ -n "$hits" ]; then
	echo "check-layers: engine/ uses FUSE:"
	echo "$hits"
	status=1
fi

scripts/check-rootpaths.sh || status=1
exit $status

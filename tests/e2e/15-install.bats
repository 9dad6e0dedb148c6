#!/usr/bin/env bats
# make install and make uninstall, staged in a DESTDIR under the test's
# directory (never the real /): every file with its mode and nothing else,
# paths in the unit and in bockerfs(8) that are the installed ones, the unit
# through systemd-analyze verify, both man pages rendered by man without a
# warning and naming every option of `bockerfs --help`, the installed daemon
# running a container with the init installed next to it, and uninstall
# leaving no file.  The build is the one `make e2e` tests (SAN=1 when
# BOCKERFS_BIN is in build-asan/).

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'

: "${BATS_TEST_TIMEOUT:=600}" # make install first runs `all`, which may build

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
case $BOCKERFS_BIN in
*/build-asan/*) INST_SAN=1 ;;
*) INST_SAN= ;;
esac

teardown() {
	ct_teardown
}

# inst_make TARGET DESTDIR [VAR=VALUE...]: make TARGET in the checkout, PREFIX=/usr unless
# given.  Without the caller's MAKEFLAGS: its jobserver fds are not ours (fd 3 is bats').
inst_make() {
	local target=$1 dest=$2
	shift 2
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PREFIX make --no-print-directory -C "$REPO" \
		${INST_SAN:+SAN=1} "$target" DESTDIR="$dest" PREFIX=/usr "$@"
}

# The files install must make under PREFIX=$1, as "MODE PATH" lines relative to DESTDIR.
expected_files() {
	local p=${1#/} f
	{
		echo "755 $p/sbin/bockerfs"
		echo "755 $p/sbin/bockerfs-init"
		echo "755 $p/sbin/bockerfs-runtime"
		echo "755 $p/bin/bocker"
		echo "644 $p/lib/systemd/system/bockerfs.service"
		echo "644 $p/share/man/man8/bockerfs.8"
		echo "644 $p/share/man/man5/bockerfs-tree.5"
		for f in "$REPO"/docs/*.md; do
			echo "644 $p/share/doc/bockerfs/${f##*/}"
		done
		for f in "$REPO"/examples/*; do
			if [ -x "$f" ]; then
				echo "755 $p/share/doc/bockerfs/examples/${f##*/}"
			else
				echo "644 $p/share/doc/bockerfs/examples/${f##*/}"
			fi
		done
	} | sort
}

# Every file under DESTDIR $1 (not directories) as "MODE PATH".
staged_files() {
	find "$1" ! -type d -printf '%m %P\n' | sort
}

# What the real / has at each expected path: "PATH absent" or its inode and mtime.
real_state() {
	local mode p
	while read -r mode p; do
		stat -c "%n %i %Y" "/$p" 2>/dev/null || echo "/$p absent"
	done < <(expected_files /usr)
}

@test "install: every file with its mode, nothing else, nothing outside DESTDIR" {
	bk_tmp_init
	local d=$BK_TMP/dest before
	before=$(real_state)
	run -0 inst_make install "$d"
	[ "$(staged_files "$d")" = "$(expected_files /usr)" ] ||
		bk_fail "staged files differ: $(diff <(expected_files /usr) <(staged_files "$d"))"
	[ "$(real_state)" = "$before" ] || bk_fail "install changed the real /: $(diff <(echo "$before") <(real_state))"
	local build
	build=$(dirname "$BOCKERFS_BIN")
	cmp "$build/bockerfs" "$d/usr/sbin/bockerfs"
	cmp "$build/bockerfs-init" "$d/usr/sbin/bockerfs-init"
	cmp "$build/bockerfs-runtime" "$d/usr/sbin/bockerfs-runtime"
	run -0 "$d/usr/sbin/bockerfs-runtime" --version
	[[ $output =~ ^bockerfs-runtime\ version\ [0-9.]+ ]]
	cmp "$REPO/examples/bocker" "$d/usr/bin/bocker"
	cmp "$REPO/docs/tree.md" "$d/usr/share/doc/bockerfs/tree.md"
	run -0 "$d/usr/sbin/bockerfs" --version
	[[ $output =~ ^bockerfs\ [0-9.]+\ api\ [0-9]+$ ]]
}

@test "install: the unit and bockerfs(8) name the installed paths; PREFIX defaults to /usr/local" {
	bk_tmp_init
	local d=$BK_TMP/dest l=$BK_TMP/local unit
	run -0 inst_make install "$d"
	unit=$d/usr/lib/systemd/system/bockerfs.service
	grep -qx 'ExecStart=/usr/sbin/bockerfs -f --root /var/lib/bockerfs /run/bockerfs' "$unit" ||
		bk_fail "no ExecStart of /usr/sbin/bockerfs in $unit: $(grep ExecStart "$unit")"
	grep -q '^\.I /usr/sbin/bockerfs\\-init$' "$d/usr/share/man/man8/bockerfs.8"
	grep -q '^\.IR /usr/share/doc/bockerfs/ \.$' "$d/usr/share/man/man8/bockerfs.8"
	! grep -nE '@[A-Z]+@' "$unit" "$d"/usr/share/man/man*/* || bk_fail "a placeholder was left"

	# PREFIX unset: /usr/local (env -u PREFIX in inst_make; PREFIX= would be empty).
	run -0 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PREFIX make --no-print-directory \
		-C "$REPO" ${INST_SAN:+SAN=1} install DESTDIR="$l"
	[ "$(staged_files "$l")" = "$(expected_files /usr/local)" ] ||
		bk_fail "staged files differ: $(diff <(expected_files /usr/local) <(staged_files "$l"))"
	grep -q '^ExecStart=/usr/local/sbin/bockerfs -f ' "$l/usr/local/lib/systemd/system/bockerfs.service"
	grep -q '^\.I /usr/local/sbin/bockerfs\\-init$' "$l/usr/local/share/man/man8/bockerfs.8"
}

@test "install: systemd-analyze verify accepts the unit, with no warning" {
	command -v systemd-analyze >/dev/null ||
		bk_fail "no systemd-analyze (package systemd, in scripts/deps.sh test)"
	bk_tmp_init
	local d=$BK_TMP/dest v=$BK_TMP/verify out st=0
	run -0 inst_make install "$d"
	# verify checks that ExecStart's program exists on this host, and `man` finds the
	# pages of Documentation=: point both at the staged copies, change nothing else.
	mkdir -p "$v"
	sed "s|=/usr/sbin/bockerfs |=$d/usr/sbin/bockerfs |" \
		"$d/usr/lib/systemd/system/bockerfs.service" >"$v/bockerfs.service"
	grep -q "^ExecStart=$d/usr/sbin/bockerfs " "$v/bockerfs.service"
	out=$(MANPATH=$d/usr/share/man systemd-analyze verify "$v/bockerfs.service" 2>&1) || st=$?
	[ "$st" = 0 ] && [ -z "$out" ] || bk_fail "systemd-analyze verify: status $st: $out"
}

@test "install: man renders bockerfs(8) and bockerfs-tree(5) without warnings" {
	command -v man >/dev/null || bk_fail "no man (package man-db, in scripts/deps.sh test)"
	bk_tmp_init
	local d=$BK_TMP/dest page out opt text
	run -0 inst_make install "$d"
	for page in "$d/usr/share/man/man8/bockerfs.8" "$d/usr/share/man/man5/bockerfs-tree.5"; do
		# Both ways a host may be set: a UTF-8 locale, and none at all (a minimal system,
		# where groff's ascii device has no glyph for a typographic ellipsis or quote).
		for loc in C.UTF-8 C; do
			out=$(env -u LANG -u LANGUAGE LC_ALL=$loc MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
			[ -z "$out" ] || bk_fail "LC_ALL=$loc man --warnings -l ${page##*/}: $out"
		done
		# whatis/apropos read the NAME section.
		run -0 lexgrog "$page"
		[[ $output == *'"bockerfs'*' - '* ]] || bk_fail "lexgrog ${page##*/}: $output"
	done
	# bockerfs(8) describes every option the daemon's --help lists.
	text=$(LC_ALL=C MANWIDTH=1000 man -l "$d/usr/share/man/man8/bockerfs.8" 2>/dev/null)
	for opt in $("$d/usr/sbin/bockerfs" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -qE "^ +(-[a-zA-Z], )?$opt( |,|$)" <<<"$text" ||
			bk_fail "bockerfs(8) has no entry for $opt (bockerfs --help lists it)"
	done
	# bockerfs-tree(5) is docs/tree.md: its sections and the tree's listing.
	text=$(LC_ALL=C MANWIDTH=1000 man -l "$d/usr/share/man/man5/bockerfs-tree.5" 2>/dev/null)
	grep -q '^The bockerfs tree' <<<"$text"
	grep -qE '^ +version +r +"bockerfs' <<<"$text"
	grep -q 'IN_CREATE' <<<"$text" # not taken for emphasis
}

@test "install: the installed daemon runs a container with the init installed next to it" {
	bk_tmp_init
	local d=$BK_TMP/dest id pid
	run -0 inst_make install "$d"
	unset BOCKERFS_INIT
	BOCKERFS_BIN=$d/usr/sbin/bockerfs
	ct_start
	id=$(ct_run busybox echo hello)
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	bk_assert_content "$C/$id/log" $'hello\n'
	id=$(ct_run busybox sleep 30)
	ct_wait_state "$id" running
	pid=$(cat "$C/$id/pid")
	[ "$(readlink "/proc/$pid/exe")" = "$d/usr/sbin/bockerfs-init" ] ||
		bk_fail "container init $pid runs '$(readlink "/proc/$pid/exe")'"
	[ "$(ct_ctl "$id" 'kill KILL' | head -n1)" = OK ]
	bk_assert_content "$C/$id/wait" $'signal 9\n'
	# bockerfs(8): SIGTERM unmounts and exits with 0 (systemd's Restart=on-failure
	# relies on it).
	bk_daemon_term TERM
	[ "$BK_DAEMON_STATUS" = 0 ] || bk_fail "daemon exited with $BK_DAEMON_STATUS after SIGTERM"
	! bk_mounted "$BK_MNT"
}

@test "uninstall: removes every file install made, and the doc directory" {
	bk_tmp_init
	local d=$BK_TMP/dest before
	before=$(real_state)
	run -0 inst_make install "$d"
	run -0 inst_make uninstall "$d"
	[ -z "$(staged_files "$d")" ] || bk_fail "left behind: $(staged_files "$d")"
	[ ! -e "$d/usr/share/doc/bockerfs" ]
	[ "$(real_state)" = "$before" ] || bk_fail "uninstall changed the real /"
	# Twice is harmless; a file of someone else's in the doc directory stays.
	run -0 inst_make uninstall "$d"
	run -0 inst_make install "$d"
	echo mine >"$d/usr/share/doc/bockerfs/notes"
	run -0 inst_make uninstall "$d"
	[ "$(find "$d" ! -type d -printf '%P\n')" = usr/share/doc/bockerfs/notes ]
}

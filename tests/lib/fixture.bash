# shellcheck shell=bash
# Fixture for the bats end-to-end tests: start bockerfs on a private temporary
# directory, drive the mounted tree, and remove everything a test made (the
# daemon and helper processes by PID, mounts, loop devices, files) even when
# the test fails.  BK_TEST_KEEP=1 keeps the temporary directory.
#
# Use from a .bats file:
#   load '../lib/fixture'
#   teardown() { bk_teardown; }
#   @test "..." { bk_start; id=$(bk_import "$dir" busybox); ... }
#
# Variables set by bk_start:
#   BK_TMP    the test's directory, /var/tmp/bkt<pid>-XXXXXX
#   BK_ROOT   the daemon's --root: BK_TMP/root, or another path under BK_TMP
#             that the test sets after bk_tmp_init
#   BK_STORE  the btrfs store: BK_ROOT/store, or BK_ROOT when that is btrfs
#   BK_MNT    the mount point (BK_TMP/mnt)
#   BK_LOG    the daemon's stderr, every start appended, printed on failure
#   BK_PID    the daemon's PID
#
# Every process a helper starts is recorded in BK_TMP/bk-pids ("KIND PID
# START", START from /proc/PID/stat so a recycled PID is never killed), and
# every BK_TMP in BATS_TEST_TMPDIR/bk-tmpdirs, so teardown finds them even
# when a helper ran in a subshell (`run bk_start`).  Teardown also unmounts
# whatever is mounted under BK_TMP and detaches every loop device whose
# backing file is under BK_TMP.
#
# Containers' cgroups, v1 or v2, are read through tests/lib/cgroup.bash (cg_*),
# which this file sources.
#
# The Python tests (tests/py/conftest.py) clean up with this same teardown:
# they record their daemons in DIR/bk-pids and run ct_cleanup and bk_stop
# (and net_cleanup) through bash.

BK_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/cgroup.bash
source "$BK_LIB/cgroup.bash"
# The daemon and the static helpers of tests/e2e/helpers/ (`make e2e` builds both
# and sets these); by default those of the build directory next to the tests.
if [ -n "${BATS_TEST_FILENAME:-}" ]; then
	BK_BUILD="$(dirname "$BATS_TEST_FILENAME")/../../build"
else
	BK_BUILD="$BK_LIB/../../build"
fi
BOCKERFS_BIN=${BOCKERFS_BIN:-$BK_BUILD/bockerfs}
BK_HELPERS=${BK_HELPERS:-$BK_BUILD/tests/helpers}
BK_PY=${BK_PY:-python3}
BK_DEADLINE=${BK_DEADLINE:-10} # seconds to wait for a mount, an exit, an event
BK_STORAGE_SIZE=${BK_STORAGE_SIZE:-1G}
BK_TMP=""
BK_PID=""
BK_TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z'
BK_IMG_ID_RE='^img_[0-9a-f]{12}$'

bk_fail() {
	echo "FAIL: $*" >&2
	return 1
}

# bk_proc_stat PID: the fields of /proc/PID/stat after the command's name, the
# state letter first; fails if there is no such process.  PID may be PID/task/TID.
bk_proc_stat() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	echo "${st##*) }"
}

# bk_alive PID: the process exists and is not a zombie.
bk_alive() {
	local st
	st=$(bk_proc_stat "$1") || return 1
	[ "${st%% *}" != Z ]
}

# bk_proc_start PID: the process's start time (clock ticks after boot).
bk_proc_start() {
	local st
	st=$(bk_proc_stat "$1") || return 1
	# shellcheck disable=SC2086 # split on purpose: the fields
	set -- $st
	echo "${20}"
}

# bk_track KIND PID: remember a process for teardown (KIND: daemon or helper).
bk_track() {
	echo "$1 $2 $(bk_proc_start "$2")" >>"$BK_TMP/bk-pids"
}

# bk_wait_gone PID [SECONDS]: wait until PID has exited; 1 at the deadline.
bk_wait_gone() {
	local end=$((SECONDS + ${2:-$BK_DEADLINE}))
	while bk_alive "$1"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# bk_wait_until SECONDS CMD...: run CMD until it succeeds; 1 at the deadline.
# CMD's words are expanded once, by the caller: a condition on what a
# command prints must be re-run each time, as
#   bk_wait_until 5 eval 'test -z "$(net_bk_links)"'
# (with "test -z "$(net_bk_links)"" the output is taken once, and never waited for).
bk_wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# bk_mounted PATH: PATH is a mount point (read from mountinfo, so it works on
# a dead FUSE mount, where stat fails with ENOTCONN).
bk_mounted() {
	awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# Mount points at or under DIR, deepest first.
bk_mounts_under() {
	awk -v p="$1" '$5 == p || index($5, p "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

bk_tmp_init() {
	[ -n "$BK_TMP" ] && return 0
	BK_TMP=$(mktemp -d "/var/tmp/bkt$$-XXXXXX") || return 1
	if [ -n "${BATS_TEST_TMPDIR:-}" ]; then
		echo "$BK_TMP" >>"$BATS_TEST_TMPDIR/bk-tmpdirs"
	fi
	BK_ROOT=${BK_ROOT:-$BK_TMP/root}
	BK_MNT=$BK_TMP/mnt
	BK_LOG=$BK_TMP/bockerfs.log
	mkdir -p "$BK_ROOT" "$BK_MNT"
	: >"$BK_LOG"
}

# bk_daemon_start [ARGS...]: start the daemon in the foreground (in the
# background of the test) on BK_ROOT and BK_MNT, and wait for the mount.
bk_daemon_start() {
	if [ "$(stat -f -c %T "$BK_ROOT")" = btrfs ]; then
		BK_STORE=$BK_ROOT
	else
		BK_STORE=$BK_ROOT/store
	fi
	[ -x "$BOCKERFS_BIN" ] || bk_fail "no daemon at '$BOCKERFS_BIN' (run make)" || return
	echo "=== $(date -u +%FT%TZ) start: $BOCKERFS_BIN -f --root $BK_ROOT --storage-size $BK_STORAGE_SIZE $* $BK_MNT" >>"$BK_LOG"
	# fd 3 is bats' own output: a daemon holding it would make bats wait for it.
	# An asynchronous command starts with SIGINT and SIGQUIT ignored; reset them so
	# the daemon sees them as it would when started from a terminal.
	(
		trap - INT QUIT
		exec "$BOCKERFS_BIN" -f --root "$BK_ROOT" --storage-size "$BK_STORAGE_SIZE" "$@" \
			"$BK_MNT" </dev/null >>"$BK_LOG" 2>&1 3>&-
	) &
	BK_PID=$!
	bk_track daemon "$BK_PID"
	bk_wait_mount "$BK_PID"
}

# bk_wait_mount PID: wait (BK_DEADLINE) until BK_MNT is mounted and answers
# `cat version`; fail at once if PID exits first.
bk_wait_mount() {
	local - pid=$1 end=$((SECONDS + BK_DEADLINE)) st=0
	set +e
	while :; do
		if ! bk_alive "$pid"; then
			wait "$pid" 2>/dev/null || st=$?
			bk_fail "daemon $pid exited (status $st) before the mount was ready"
			return 1
		fi
		if bk_mounted "$BK_MNT" && timeout 5 cat "$BK_MNT/version" >/dev/null 2>&1; then
			return 0
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			bk_fail "mount not ready at $BK_MNT after ${BK_DEADLINE}s"
			return 1
		fi
		sleep 0.05
	done
}

# bk_start [ARGS...]: make the test's directory and start a daemon.
bk_start() {
	bk_tmp_init && bk_daemon_start "$@"
}

# bk_daemon_term [SIGNAL]: send SIGNAL (TERM) to the daemon and wait for its
# exit; sets BK_DAEMON_STATUS.  Fails if it is still running at the deadline.
bk_daemon_term() {
	local pid=$BK_PID
	kill "-${1:-TERM}" "$pid" || return 1
	bk_daemon_reap "$pid"
}

# bk_daemon_reap PID: wait for the daemon to exit by itself (e.g. after
# fusermount3 -u); sets BK_DAEMON_STATUS, clears BK_PID.
bk_daemon_reap() {
	local - pid=$1
	set +e
	bk_wait_gone "$pid" || bk_fail "daemon $pid still running after ${BK_DEADLINE}s" || return
	BK_DAEMON_STATUS=0
	wait "$pid" 2>/dev/null || BK_DAEMON_STATUS=$?
	[ "$BK_PID" = "$pid" ] && BK_PID=""
	return 0
}

# bk_daemon_kill9: SIGKILL the daemon and reap it (its FUSE mount stays, dead).
bk_daemon_kill9() {
	local pid=$BK_PID
	kill -KILL "$pid" || return 1
	bk_daemon_reap "$pid"
}

# Abort the FUSE connection behind mount point $1 (the last resort when a
# daemon thread is stuck in D state and survives SIGKILL).
bk_fuse_abort() {
	local - dev minor ctl=/sys/fs/fuse/connections mounted_ctl=""
	set +e
	dev=$(awk -v p="$1" '$5 == p { for (i = 7; $i != "-"; i++); if ($(i + 1) ~ /^fuse/) print $3 }' \
		/proc/self/mountinfo | tail -n1)
	[ -n "$dev" ] || return 0
	minor=${dev#*:}
	if ! bk_mounted "$ctl"; then
		mount -t fusectl none "$ctl" 2>/dev/null && mounted_ctl=1
	fi
	[ -w "$ctl/$minor/abort" ] && echo 1 >"$ctl/$minor/abort"
	[ -n "$mounted_ctl" ] && umount "$ctl"
	return 0
}

bk_dump_log() {
	[ -n "$BK_TMP" ] || return 0
	echo "---- bockerfs log ($BK_LOG) ----"
	cat "$BK_LOG" 2>/dev/null
	if [ -s "$BK_ROOT/bockerfs.log" ]; then
		echo "---- $BK_ROOT/bockerfs.log ----"
		cat "$BK_ROOT/bockerfs.log"
	fi
	echo "---- end of log; mounts under $BK_TMP: $(bk_mounts_under "$BK_TMP" | tr '\n' ' ')"
}

# bk_kill_tracked DIR: kill what DIR/bk-pids lists: helpers with SIGKILL,
# daemons with SIGTERM, then SIGKILL; sets BK_STUCK to the daemons that
# survive SIGKILL (a thread stuck in D state on its own mount).
bk_kill_tracked() {
	local - kind pid start
	set +e
	BK_STUCK=""
	[ -f "$1/bk-pids" ] || return 0
	while read -r kind pid start; do
		[ "$(bk_proc_start "$pid")" = "$start" ] || continue
		if [ "$kind" = helper ]; then
			kill -KILL "$pid" 2>/dev/null
			continue
		fi
		bk_alive "$pid" || continue
		kill -TERM "$pid" 2>/dev/null
		bk_wait_gone "$pid" "$BK_DEADLINE" && continue
		echo "teardown: daemon $pid ignored SIGTERM; SIGKILL" >&2
		kill -KILL "$pid" 2>/dev/null
		bk_wait_gone "$pid" 5 || BK_STUCK="$BK_STUCK $pid"
	done <"$1/bk-pids"
	while read -r kind pid start; do
		# Reap those that are children of this shell; never wait for a live one.
		bk_alive "$pid" || wait "$pid" 2>/dev/null
	done <"$1/bk-pids"
}

# bk_store_tags DIR: the cgroup tags of the stores mounted under DIR.
bk_store_tags() {
	local m
	while read -r m; do
		[ -f "$m/cgroup-tag" ] && head -c 8 "$m/cgroup-tag" && echo
	done < <(bk_mounts_under "$1")
	return 0
}

# bk_remove_cgroups TAG...: the groups the daemons of these stores made
# (the store's parent groups, bockerfs/TAG in every hierarchy on cgroup v1,
# and the groups in them: cg_store_parents), once they are empty: a killed
# daemon leaves its spare inits' groups, and a running container's, for the
# next daemon on that store, which a test's store never gets.
bk_remove_cgroups() {
	local tag d
	for tag in "$@"; do
		[[ $tag =~ ^[0-9a-f]{8}$ ]] || continue
		for d in $(cg_store_parents "$tag"); do
			# The spare inits of a killed daemon leave at EOF on their sockets: give them a moment.
			bk_rmdir_cgroup "$d" 40
		done
	done
}

# bk_rmdir_cgroup DIR TRIES: remove the group DIR and every group under it,
# deepest first, trying TRIES times 50 ms apart while processes leave them.
bk_rmdir_cgroup() {
	local dir=$1 i
	[ -d "$dir" ] || return 0
	for i in $(seq "$2"); do
		find "$dir" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
		rmdir "$dir" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "teardown: cannot remove cgroup $dir" >&2
}

# bk_cleanup_dir DIR: kill DIR's processes, unmount what is mounted under it,
# detach the loop devices of files under it, remove the cgroups of its stores,
# remove it.
bk_cleanup_dir() {
	local - dir=$1 stuck m dev tags
	set +e
	tags=$(bk_store_tags "$dir")
	bk_kill_tracked "$dir"
	stuck=$BK_STUCK
	while read -r m; do
		[ -n "$m" ] || continue
		[ -n "$stuck" ] && bk_fuse_abort "$m"
		echo "teardown: unmounting $m" >&2
		umount -l "$m" || echo "teardown: cannot unmount $m" >&2
	done < <(bk_mounts_under "$dir")
	for m in $stuck; do
		kill -KILL "$m" 2>/dev/null
		bk_wait_gone "$m" 5 || echo "teardown: daemon $m is stuck" >&2
	done
	for dev in $(losetup -l -n -O NAME,BACK-FILE 2>/dev/null |
		awk -v p="$dir/" 'index($2, p) == 1 { print $1 }'); do
		echo "teardown: detaching $dev" >&2
		losetup -d "$dev" 2>/dev/null
	done
	# shellcheck disable=SC2086 # one tag per word
	bk_remove_cgroups $tags
	if [ -n "$(bk_mounts_under "$dir")" ]; then
		echo "teardown: still mounted, keeping $dir" >&2
	elif [ "${BK_TEST_KEEP:-}" = 1 ]; then
		echo "teardown: BK_TEST_KEEP=1, kept $dir" >&2
	else
		rm -rf --one-file-system "$dir"
	fi
}

# bk_stop: remove everything the test made.  Safe to call twice.
bk_stop() {
	local - d list=${BATS_TEST_TMPDIR:-/nonexistent}/bk-tmpdirs
	set +e
	[ -n "$BK_TMP" ] && [ -d "$BK_TMP" ] && bk_cleanup_dir "$BK_TMP"
	if [ -f "$list" ]; then
		while read -r d; do
			[ -d "$d" ] && [ "$d" != "$BK_TMP" ] && bk_cleanup_dir "$d"
		done <"$list"
		rm -f "$list"
	fi
	BK_TMP=""
	BK_ROOT=""
	BK_PID=""
}

# bats teardown: the daemon log when the test failed, then bk_stop.
bk_teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		bk_dump_log
	fi
	bk_stop
}

# bk_bg OUTFILE CMD...: run CMD in the background (stdout+stderr to OUTFILE),
# remembered for teardown; sets BK_BG_PID.
bk_bg() {
	local out=$1
	shift
	"$@" </dev/null >"$out" 2>&1 3>&- &
	BK_BG_PID=$!
	bk_track helper "$BK_BG_PID"
}

# bk_command PATH RE LINE...: write "LINE...\n" to the control file PATH and
# read the reply on the same open file; prints it when it matches RE (an id),
# fails with the reply otherwise, also when the write failed.
bk_command() {
	local - path=$1 re=$2 fd reply="" what
	set +e
	shift 2
	what="${path#"$BK_MNT"/} '$*'"
	exec {fd}<>"$path" || return 1
	if ! printf '%s\n' "$*" >&"$fd"; then
		read -r reply <&"$fd"
		exec {fd}>&-
		bk_fail "$what: the write failed, reply '$reply'"
		return 1
	fi
	read -r reply <&"$fd"
	exec {fd}>&-
	[[ $reply =~ $re ]] || bk_fail "$what: reply '$reply' is not an id" || return
	printf '%s\n' "$reply"
}

# bk_command_id FILE LINE...: bk_command on FILE (relative to the mount) for an
# image id (import, pull, build); prints the id.
bk_command_id() {
	local file=$1
	shift
	bk_command "$BK_MNT/$file" "$BK_IMG_ID_RE" "$@"
}

# bk_import DIR [REF]: import through the tree with one open file; prints the id.
bk_import() {
	bk_command_id images/import "$@"
}

# bk_pull REF: pull through images/pull with one open file; prints the id.
bk_pull() {
	bk_command_id images/pull "$@"
}

# bk_build DIR [REF]: build through images/build with one open file; prints the id.
bk_build() {
	bk_command_id images/build "$@"
}

# bk_write_parallel FILE LINE...: each LINE written to FILE at the same moment,
# each on an open file of its own, and its reply read there; prints one reply a
# LINE, in order: what was read, or "ERRNAME: what was read" (bkio.py parallel).
bk_write_parallel() {
	"$BK_PY" "$BK_LIB/bkio.py" parallel "$@"
}

# bk_write_errno FILE DATA|-: one write(2) of DATA ("-": stdin); prints OK or
# the errno name, then what a read() on the same fd returned.
bk_write_errno() {
	"$BK_PY" "$BK_LIB/bkio.py" write "$@"
}

# bk_errno OP PATH: OP is open, read, create, mkdir, rmdir, stat, lstat or
# listdir; prints OK or the errno name.
bk_errno() {
	"$BK_PY" "$BK_LIB/bkio.py" errno "$@"
}

# bk_kernel_at_least X.Y: the running kernel is X.Y or later.
bk_kernel_at_least() {
	local v
	v=$(uname -r)
	v=${v%%-*}
	[ "$(printf '%s\n%s\n' "$1" "$v" | sort -V | head -n1)" = "$1" ]
}

# bk_busybox_rootfs DIR: a minimal busybox root file system in DIR (scripts/busybox-rootfs.sh).
bk_busybox_rootfs() {
	"$BK_LIB/../../scripts/busybox-rootfs.sh" "$1"
}

# bk_helper NAME DEST: copy the static helper NAME (tests/e2e/helpers/NAME.c,
# built by the Makefile into BK_HELPERS) to DEST, e.g. into a busybox rootfs.
bk_helper() {
	[ -x "$BK_HELPERS/$1" ] || bk_fail "no helper at '$BK_HELPERS/$1' (run make build/tests/helpers/$1)" ||
		return
	cp "$BK_HELPERS/$1" "$2"
}

# bk_big_tree DIR COUNT MIB: COUNT files of MIB MiB of random data (one random
# block, copied), so an import of DIR takes a while on a non-reflink source.
bk_big_tree() {
	local dir=$1 n=$2 mib=$3 i
	mkdir -p "$dir"
	head -c "${mib}M" /dev/urandom >"$dir/f0"
	for ((i = 1; i < n; i++)); do
		cp --reflink=never "$dir/f0" "$dir/f$i"
	done
}

# bk_assert_content FILE EXPECTED: FILE holds exactly EXPECTED (bytes, with
# its trailing newline if any).
bk_assert_content() {
	local got
	got=$(cat "$1" && echo x) || bk_fail "cannot read $1" || return
	got=${got%x}
	[ "$got" = "$2" ] || bk_fail "$1: got $(printf %q "$got"), want $(printf %q "$2")"
}

# bk_no_loop FILE: no loop device is attached to FILE.
bk_no_loop() {
	[ -z "$(losetup -j "$1" 2>/dev/null)" ]
}

# Image ids listed in images/index, oldest first.
bk_index_ids() {
	tail -n +2 "$BK_MNT/images/index" | cut -f1
}

# Image directories in the tree and in the store, one per line, sorted.
bk_tree_images() {
	ls "$BK_MNT/images" | grep '^img_' | sort
}
bk_store_images() {
	ls "$BK_STORE/images" | sort
}

# Subvolume paths in the store, sorted (btrfs subvolume list -o is relative to
# the filesystem, so compare these only against each other).
bk_subvolumes() {
	btrfs subvolume list "$BK_STORE" | awk '{ print $NF }' | sort
}

# Subvolumes of the store that belong to nothing: neither an image's rootfs, a
# layer's, a container's, a listed volume's data, nor a spare snapshot of a listed image (the daemon
# makes those in the background, through tmp/).
bk_orphan_subvolumes() {
	local v img
	btrfs subvolume list -o "$BK_STORE" | awk '{ print $NF }' |
		grep -v -E '(^|/)(images/img_[0-9a-f]{12}|layers/[0-9a-f]{64}|layers/local-[0-9a-f]{24}|containers/[^/]+)/rootfs$' |
		while read -r v; do
			# A spare of a listed image, made (tmp/spare-ID.N) or being made (spare/ID.N).
			img=$(expr "$v" : '.*spare[-/]\(img_[0-9a-f]\{12\}\)\.[0-9]*$')
			if [ -n "$img" ] && [ -d "$BK_MNT/images/$img" ]; then
				continue
			fi
			# The files of a listed volume.
			if [[ $v =~ ^volumes/([^/]+)/data$ ]] && [ -d "$BK_MNT/volumes/${BASH_REMATCH[1]}" ]; then
				continue
			fi
			echo "$v"
		done
}

# bk_tmp_empty: the store's tmp/ is empty.  Snapshots made ahead of time for
# images (spare-*) pass through it in the background, so wait a little for
# those; work left by a failure stays and fails the check.
bk_tmp_empty() {
	bk_wait_until 5 bk_tmp_is_empty || bk_fail "tmp/ not empty: $(ls -A "$BK_STORE/tmp")"
}
bk_tmp_is_empty() {
	[ -z "$(ls -A "$BK_STORE/tmp")" ]
}

# bk_spares_ready IMG N: the store holds N or more spare snapshots of image IMG
# (spare/IMG.K, made ahead of runs).
bk_spares_ready() {
	[ "$(find "$BK_STORE/spare" -mindepth 1 -maxdepth 1 -name "$1.*" | wc -l)" -ge "$2" ]
}

# bk_nothing_partial: the store's tmp/ is empty and no subvolume is orphaned.
bk_nothing_partial() {
	bk_tmp_empty || return
	[ -z "$(bk_orphan_subvolumes)" ] || bk_fail "orphan subvolumes: $(bk_orphan_subvolumes)"
}

# bk_check_error ERRNAME TREEPATH OPS ERRFILE READBACK SUBSTR...
# The failure is recorded in the three places the API names:
#   MNT/errors has "TIME TREEPATH OP ERRNAME: message" (OP matching regex OPS),
#   ERRFILE (relative to MNT; "" to skip) holds "TIME OP: message",
#   READBACK ("-" to skip) is "error: message",
# and each message contains every SUBSTR (case-insensitively).  Every place
# is checked and every miss reported before it fails.
bk_check_error() {
	local - ename=$1 tpath=$2 ops=$3 errfile=$4 readback=$5 s line ok="" bad=0
	set +e
	shift 5
	while IFS= read -r line; do
		[[ $line =~ ^$BK_TIME_RE\ "$tpath"\ ($ops)\ "$ename":\ (.+)$ ]] || continue
		ok=1
		for s in "$@"; do
			[[ ${line,,} == *"${s,,}"* ]] || ok=""
		done
		[ -n "$ok" ] && break
	done <"$BK_MNT/errors"
	[ -n "$ok" ] || bk_fail "no line 'TIME $tpath ($ops) $ename: ...$*...' in errors:
$(cat "$BK_MNT/errors")" || bad=1
	if [ -n "$errfile" ]; then
		line=$(cat "$BK_MNT/$errfile")
		[[ $line =~ ^$BK_TIME_RE\ [^\ ]+:\ (.+)$ ]] ||
			bk_fail "$errfile is not 'TIME OP: message': '$line'" || bad=1
		for s in "$@"; do
			[[ ${line,,} == *"${s,,}"* ]] || bk_fail "$errfile lacks '$s': '$line'" || bad=1
		done
	fi
	if [ "$readback" != - ]; then
		[[ $readback == "error: "?* ]] ||
			bk_fail "read after the failed write gave '$readback', not 'error: message'" || bad=1
		for s in "$@"; do
			[[ ${readback,,} == *"${s,,}"* ]] || bk_fail "read-back lacks '$s': '$readback'" || bad=1
		done
	fi
	return "$bad"
}

# bk_inotify_start OUT EVENTS PATH: inotifywait for one EVENTS on PATH in the
# background (-t BK_DEADLINE), returning once its watch is established.
bk_inotify_start() {
	local out=$1 events=$2 path=$3
	inotifywait -t "$BK_DEADLINE" -e "$events" "$path" </dev/null >"$out" 2>"$out.err" 3>&- &
	BK_INOTIFY_PID=$!
	bk_track helper "$BK_INOTIFY_PID"
	bk_wait_until "$BK_DEADLINE" grep -q "Watches established" "$out.err" ||
		bk_fail "inotifywait did not start: $(cat "$out.err")"
}

# bk_inotify_wait OUT: wait for that inotifywait; succeed if it saw an event.
bk_inotify_wait() {
	local - st=0
	set +e
	bk_wait_gone "$BK_INOTIFY_PID" $((BK_DEADLINE + 5)) || bk_fail "inotifywait hung" || return
	wait "$BK_INOTIFY_PID" || st=$?
	[ "$st" = 0 ] || bk_fail "inotifywait saw no event (status $st): $(cat "$1" "$1.err")"
}

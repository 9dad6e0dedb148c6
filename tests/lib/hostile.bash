# shellcheck shell=bash
# Helpers for tests/e2e/86-hostile-rootfs.bats: a container (or an image)
# that rearranges its own filesystem before the daemon, host root, touches
# it.  On top of tests/lib/fixture.bash, containers.bash and net.bash (load
# those first).
#
#   helper:      /bin/hostile in the containers: tests/e2e/helpers/hostile.c,
#                built static by the Makefile (bk_helper hostile DEST copies it)
#   canary:      hostile_canary               HOSTILE_CAN, a host directory that no
#                                             operation may touch, its reference copy
#                                             and an inotify watcher on it
#                hostile_canary_check         unchanged, never opened; the ghost absent
#   writes:      hostile_write VAR FILE LINE [SECS]
#                                             one write(2), with a deadline and the
#                                             writer's state watched (D = stuck)
#                hostile_write_start FILE LINE, hostile_write_finish VAR HANDLE [SECS]
#                                             the same in two halves, for writers that
#                                             run at once
#                hostile_unblock [SECS]       open the store's FIFOs for writing until no
#                                             daemon thread waits on one (clean-up)
#                hostile_daemon_waits         the daemon's threads that wait on
#                                             something else than their work queues
#                hostile_term                 SIGTERM; the daemon exits within the deadline
#                hostile_finish               hostile_term, then hostile_canary_check
#                hostile_ok RESULT            RESULT (hostile_write's) is a success;
#                                             prints the read-back
#                hostile_failed_cleanly RESULT ERRFILE
#                                             an errno, "error: ..." read back, and
#                                             ERRFILE (under the mount) says why
#                hostile_finished RESULT ERRFILE  either of the two
#   objects:     hostile_rootfs DIR           a copy of the busybox rootfs (BB) in DIR
#                hostile_import VAR DIR [REF] images/import with hostile_write
#                hostile_build VAR DOCKERFILE [FILE=CONTENT...]
#                                             images/build of a fresh context
#                hostile_build_ok VAR DOCKERFILE [FILE=CONTENT...]
#                                             the same, must succeed; VAR: the image id
#                hostile_run_ok VAR IMAGE CMD [FILE=VALUE...]
#                                             hostile_create, then start (must succeed)
#                hostile_create VAR IMAGE CMD [FILE=VALUE...]
#                                             a container (net mode none), not started
#                hostile_ctl VAR ID LINE [SECS]  hostile_write to ID's ctl
#                hostile_exec VAR ID CMD      an exec session: VAR gets its output,
#                                             HOSTILE_EXEC_WAIT its wait line
#                hostile_err ID               ID's err file (one line)
#
# Paths a hostile filesystem points at (set by hostile_canary):
#   HOSTILE_CAN    BK_TMP/cp/canary: hosts, hostname and resolv.conf empty (what
#                  the runtime's placeholders look like, so a clean-up that
#                  followed a symlink would remove them), passwd and group with a
#                  user "canary" (uid 4242) and homes /canary-home (so a lookup
#                  that read them shows), sub/keep
#   HOSTILE_GHOST  an absolute host path that does not exist and must not come to
#                  exist (a mkdir -p that followed a symlink would make it)
#   HOSTILE_UP     "../" repeated: from anywhere in the store it reaches "/", so
#                  HOSTILE_UP${HOSTILE_CAN#/} is a relative way to the canary
#
# Everything is removed by hostile_teardown (bats teardown): a stuck daemon
# is let go on (hostile_unblock), then net_teardown (containers, daemon, the
# watcher and the writers by PID, mounts, loop devices, namespaces), the
# cgroups of the test's stores even when a SIGTERMed daemon unmounted its
# store, and the ghost if a failed defence made it.

# hostile_sanitized: the daemon under test is the ASan+UBSan build (`make
# SAN=1 test` runs this suite against build-asan/bockerfs): its path, or the
# sanitizer's runtime in the binary (a copy elsewhere).
hostile_sanitized() {
	case $(realpath -m -- "${BOCKERFS_BIN:-}" 2>/dev/null) in
	*/build-asan/*) return 0 ;;
	esac
	[ -f "${BOCKERFS_BIN:-}" ] && LC_ALL=C grep -q -a -m 1 __asan_init "$BOCKERFS_BIN"
}

# Seconds an operation may take (and the daemon, to exit on SIGTERM): 5, or
# 15 under the sanitizers (-O1 with ASan and UBSan: the daemon's work is a
# few times slower, its start and exit more so); an explicit value wins.
if [ -z "${HOSTILE_DEADLINE:-}" ]; then
	if hostile_sanitized; then
		HOSTILE_DEADLINE=15
	else
		HOSTILE_DEADLINE=5
	fi
fi
HOSTILE_UP=$(printf '../%.0s' $(seq 32))

# ---- the canary ---------------------------------------------------------------

# hostile_canary: make HOSTILE_CAN (see the top), its reference copy, and an
# inotify watcher that records every open, read, write, attribute change,
# creation, removal and move in it from now on, by any process.
hostile_canary() {
	local top=$BK_TMP/cp
	# The store's cgroup tag, for teardown: a daemon that a test stopped with
	# SIGTERM unmounted its store, where the fixture reads the tag, and leaves
	# its running containers (and their groups) behind, by design.
	if [ -f "$BK_STORE/cgroup-tag" ]; then
		head -c 8 "$BK_STORE/cgroup-tag" >>"${BATS_TEST_TMPDIR:-$BK_TMP}/hostile-tags"
		echo >>"${BATS_TEST_TMPDIR:-$BK_TMP}/hostile-tags"
	fi
	HOSTILE_CAN=$top/canary
	HOSTILE_GHOST=/bkghost-$$-$RANDOM$RANDOM
	[ ! -e "$HOSTILE_GHOST" ] || bk_fail "ghost $HOSTILE_GHOST exists already" || return
	echo "$HOSTILE_GHOST" >>"${BATS_TEST_TMPDIR:-$BK_TMP}/hostile-ghosts"
	mkdir -p "$HOSTILE_CAN/sub" || return
	: >"$HOSTILE_CAN/hosts"
	: >"$HOSTILE_CAN/hostname"
	: >"$HOSTILE_CAN/resolv.conf"
	printf '%s\n' 'root:x:0:0:CANARY:/canary-home:/bin/sh' \
		'canary:x:4242:4242:CANARY:/canary-home:/bin/sh' \
		'nobody:x:4243:4243:CANARY:/canary-home:/bin/sh' >"$HOSTILE_CAN/passwd"
	printf '%s\n' 'root:x:0:' 'canary:x:4242:' 'nogroup:x:4243:canary' >"$HOSTILE_CAN/group"
	echo keep >"$HOSTILE_CAN/sub/keep"
	# Old times, so that a write or a new entry shows in the mtimes too.
	touch -h -d '2001-02-03 04:05:06.789' "$HOSTILE_CAN"/* "$HOSTILE_CAN/sub/keep" "$HOSTILE_CAN"
	rm -rf "$BK_TMP/cp.ref"
	cp -a "$top" "$BK_TMP/cp.ref" || return
	inotifywait -m -r -e open,access,modify,attrib,close_write,create,delete,delete_self,move,move_self \
		--format '%e %w%f' "$top" </dev/null >"$BK_TMP/canary.events" 2>"$BK_TMP/canary.events.err" 3>&- &
	HOSTILE_WATCH_PID=$!
	bk_track helper "$HOSTILE_WATCH_PID"
	bk_wait_until "$BK_DEADLINE" grep -q "Watches established" "$BK_TMP/canary.events.err" ||
		bk_fail "inotifywait did not start: $(cat "$BK_TMP/canary.events.err")"
}

# hostile_canary_check: the canary has the same entries, contents, modes,
# owners and mtimes as its reference copy, no process opened or changed
# anything in it, and the ghost does not exist.  Every miss is reported.
hostile_canary_check() {
	local - bad=0 out
	set +e
	if [ -n "${HOSTILE_WATCH_PID:-}" ]; then
		sleep 0.2 # let the watcher print what the kernel queued
		kill -TERM "$HOSTILE_WATCH_PID" 2>/dev/null
		bk_wait_gone "$HOSTILE_WATCH_PID" 5
		wait "$HOSTILE_WATCH_PID" 2>/dev/null
		HOSTILE_WATCH_PID=""
		if [ -s "$BK_TMP/canary.events" ]; then
			bk_fail "something opened or changed the canary: $(head -n 20 "$BK_TMP/canary.events" | tr '\n' ';')"
			bad=1
		fi
	fi
	out=$("$BK_PY" "$BK_LIB/bkio.py" treecmp "$BK_TMP/cp.ref" "$BK_TMP/cp") ||
		{ bk_fail "the canary changed: $(tr '\n' ';' <<<"$out")"; bad=1; }
	if [ -e "$HOSTILE_GHOST" ] || [ -L "$HOSTILE_GHOST" ]; then
		bk_fail "the ghost $HOSTILE_GHOST was made on the host: $(ls -laR "$HOSTILE_GHOST" 2>&1 | head -n 5)"
		bad=1
	fi
	return "$bad"
}

# ---- writes with a deadline ---------------------------------------------------

# hostile_state PID: the process's state letter (R, S, D, Z...), "-" if gone.
hostile_state() {
	local st
	st=$(bk_proc_stat "$1") || { echo -; return; }
	echo "${st%% *}"
}

# hostile_daemon_waits: the daemon's threads blocked in something else than
# waiting for work (futex, epoll, FUSE reads): "TID:STATE:WCHAN" each.
hostile_daemon_waits() {
	local t st w out=""
	[ -n "$BK_PID" ] || return 0
	for t in /proc/"$BK_PID"/task/*; do
		st=$(hostile_state "$BK_PID/task/${t##*/}")
		w=$(cat "$t/wchan" 2>/dev/null)
		case $w in
		futex* | do_epoll_wait | fuse_dev_do_read | 0 | "") continue ;;
		esac
		out+="${t##*/}:$st:$w "
	done
	echo "${out% }"
}

# hostile_write VAR FILE LINE [SECS]: one write(2) of "LINE\n" to FILE and a
# read(2) on the same fd (tests/lib/bkio.py), from a process of its own,
# given SECS (HOSTILE_DEADLINE) to finish.  VAR gets bkio's output: "OK" or
# the errno's name, a newline, the read-back; or "HUNG".  HOSTILE_MS: how
# long it took.  A writer still blocked at the deadline fails the test, with
# its state and what the daemon's threads wait on; it is then SIGKILLed, and
# a writer whose request the daemon has read stays in D state (unkillable)
# until the daemon answers or dies (hostile_unblock, teardown).
#
# D state (uninterruptible: Ctrl-C cannot end the writer) is watched too, by
# where the writer sleeps (/proc/PID/wchan):
#   - in FUSE's wait for the daemon's answer (request_wait_answer, fuse_*):
#     never normal.  The kernel waits for an answer interruptibly (S); it
#     waits killably (D) only once the writer took a signal and the daemon
#     has not answered the interrupt, or when the daemon refused interrupts
#     (ENOSYS) for the whole mount.  Measured on 6.18: not one D sample in
#     a whole run of this suite; two writers of one file both wait in S.
#     One sample fails the test.
#   - on the file's inode lock (rwsem_down_write_slowpath, down_write...):
#     not counted.  Kernels before 6.2 (no parallel direct writes; Debian
#     12's 6.1, the cgroup v2 lane) hold it across a whole direct_io write,
#     so a writer started with another one of the same file (two runs, two
#     builds) waits there, in D, for as long as the other's command runs:
#     the kernel's doing, and that command has its own deadline.
#   - anything else (disk reads of bkio.py's own start, page faults, memory
#     reclaim on a loaded machine): tolerated up to 1 s in all, which such
#     waits do not reach; more fails the test.
hostile_write() {
	hostile_write_start "$2" "$3" || return
	hostile_write_finish "$1" "$HOSTILE_HANDLE" "${4:-}"
}

# hostile_write_start FILE LINE: start such a writer; HOSTILE_HANDLE names it
# for hostile_write_finish.  Writers started together share their deadline.
declare -gA HOSTILE_HW_FILE=() HOSTILE_HW_LINE=() HOSTILE_HW_OUT=() HOSTILE_HW_T0=()
hostile_write_start() {
	local out pid
	out=$(mktemp "$BK_TMP/hw.XXXXXX") || return
	"$BK_PY" "$BK_LIB/bkio.py" write "$1" "$2"$'\n' </dev/null >"$out" 2>&1 3>&- &
	pid=$!
	bk_track helper "$pid"
	HOSTILE_HW_FILE[$pid]=$1
	HOSTILE_HW_LINE[$pid]=$2
	HOSTILE_HW_OUT[$pid]=$out
	HOSTILE_HW_T0[$pid]=$(date +%s%N)
	HOSTILE_HANDLE=$pid
}

# hostile_write_finish VAR HANDLE [SECS]: wait for the writer HANDLE (see hostile_write).
hostile_write_finish() {
	local -n _hw=$1
	local pid=$2 secs=${3:-$HOSTILE_DEADLINE} st="" dticks=0 dfuse="" dseen="" w what
	local t0=${HOSTILE_HW_T0[$pid]} out=${HOSTILE_HW_OUT[$pid]}
	what="write '${HOSTILE_HW_LINE[$pid]}' to ${HOSTILE_HW_FILE[$pid]#"$BK_MNT"/}"
	while bk_alive "$pid"; do
		st=$(hostile_state "$pid")
		if [ "$st" = D ]; then
			w=$(cat "/proc/$pid/wchan" 2>/dev/null)
			case " $dseen " in *" ${w:-?} "*) ;; *) dseen+=" ${w:-?}" ;; esac
			case $w in
			request_wait_answer | fuse_*) dfuse=$w ;;
			*rwsem* | down_write* | down_read*) ;;
			*) dticks=$((dticks + 1)) ;;
			esac
		fi
		[ $((($(date +%s%N) - t0) / 1000000)) -lt $((secs * 1000)) ] || break
		sleep 0.05
	done
	HOSTILE_MS=$((($(date +%s%N) - t0) / 1000000))
	if bk_alive "$pid"; then
		w=$(cat "/proc/$pid/wchan" 2>/dev/null)
		kill -KILL "$pid" 2>/dev/null
		sleep 0.3
		_hw="HUNG"
		bk_fail "$what: still blocked after ${secs}s (state $st, wchan $w);" \
			"after SIGKILL: state $(hostile_state "$pid"); daemon threads waiting: $(hostile_daemon_waits)"
		return 1
	fi
	wait "$pid" 2>/dev/null
	_hw=$(cat "$out")
	rm -f "$out"
	[ -z "$dfuse" ] || bk_fail "$what: the writer waited for the daemon in D state (wchan $dfuse)" || return
	[ "$dticks" -lt 20 ] ||
		bk_fail "$what: the writer was in D state for $((dticks * 50)) ms (wchan:$dseen)" || return
	return 0
}

# hostile_ok RESULT: RESULT (hostile_write's) is a success; prints the read-back.
hostile_ok() {
	[ "${1%%$'\n'*}" = OK ] || bk_fail "failed: $(tr '\n' ' ' <<<"$1")" || return
	printf '%s\n' "${1#*$'\n'}"
}

# hostile_failed_cleanly RESULT ERRFILE: RESULT is a failure with an errno and an
# "error: ..." read-back, and ERRFILE (relative to the mount) says why.
hostile_failed_cleanly() {
	local res=$1 errfile=$2 bad=0
	[[ ${res%%$'\n'*} =~ ^E[A-Z0-9]+$ ]] || bk_fail "not an errno: $(tr '\n' ' ' <<<"$res")" || bad=1
	[[ ${res#*$'\n'} == "error: "?* ]] || bk_fail "read-back is not 'error: ...': $(tr '\n' ' ' <<<"$res")" || bad=1
	[[ $(cat "$BK_MNT/$errfile" 2>&1) =~ ^$BK_TIME_RE\ [^\ ]+:\ .+ ]] ||
		bk_fail "$errfile: '$(cat "$BK_MNT/$errfile" 2>&1)'" || bad=1
	return "$bad"
}

# hostile_finished RESULT ERRFILE: the operation succeeded, or it failed cleanly.
hostile_finished() {
	[ "${1%%$'\n'*}" = OK ] && return 0
	hostile_failed_cleanly "$@"
}

# hostile_unblock [SECS]: open every FIFO in the store for writing (and close
# it), so that a daemon thread waiting to read one goes on, until no daemon
# thread waits on a FIFO (SECS, 5 by default).  Clean-up only: it lets a
# daemon that a test found stuck answer its writers and exit.
hostile_unblock() {
	local end=$((SECONDS + ${1:-5}))
	[ -n "${BK_STORE:-}" ] && [ -d "$BK_STORE" ] && [ -n "$BK_PID" ] || return 0
	while [[ $(hostile_daemon_waits) == *wait_for_partner* || $(hostile_daemon_waits) == *pipe_read* ]]; do
		find "$BK_STORE" -xdev -type p -print0 2>/dev/null | "$BK_PY" -c '
import os, sys
for p in sys.stdin.buffer.read().split(b"\0"):
    if not p:
        continue
    try:
        os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass'
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
	return 0
}

# hostile_finish: what every test ends with: SIGTERM stops the daemon within
# the deadline, and the canary is as it was (every miss reported).
hostile_finish() {
	local bad=0
	hostile_term || bad=1
	hostile_canary_check || bad=1
	return "$bad"
}

# hostile_term: SIGTERM to the daemon; it must exit within HOSTILE_DEADLINE.
hostile_term() {
	local pid=$BK_PID waits
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" || return
	if ! bk_wait_gone "$pid" "$HOSTILE_DEADLINE"; then
		waits=$(hostile_daemon_waits)
		bk_fail "daemon $pid still runs ${HOSTILE_DEADLINE}s after SIGTERM; threads waiting: $waits"
		return 1
	fi
	bk_daemon_reap "$pid"
}

# ---- images and containers ----------------------------------------------------

# hostile_rootfs DIR: a copy of the busybox rootfs (BB) in DIR.
hostile_rootfs() {
	rm -rf "$1" && cp -a "$BB" "$1"
}

# hostile_import VAR DIR [REF]: import DIR; VAR gets the image id.
hostile_import() {
	local -n _hi=$1
	local res
	hostile_write res "$BK_MNT/images/import" "${*:2}" || return
	_hi=$(hostile_ok "$res") || return
	[[ $_hi =~ $BK_IMG_ID_RE ]] || bk_fail "import: '$_hi'"
}

# hostile_build VAR DOCKERFILE [FILE=CONTENT...]: build DOCKERFILE (its text)
# in a fresh context holding FILEs; VAR gets hostile_write's result.
hostile_build() {
	local -n _hb=$1
	local df=$2 ctx kv
	ctx=$(mktemp -d "$BK_TMP/ctx.XXXXXX") || return
	printf '%s\n' "$df" >"$ctx/Dockerfile"
	for kv in "${@:3}"; do
		printf '%s\n' "${kv#*=}" >"$ctx/${kv%%=*}"
	done
	hostile_write _hb "$BK_MNT/images/build" "$ctx"
}

# hostile_build_ok VAR DOCKERFILE [FILE=CONTENT...]: the same, and it must
# succeed; VAR gets the new image's id.
hostile_build_ok() {
	local -n _hbo=$1
	local res
	hostile_build res "${@:2}" || return
	_hbo=$(hostile_ok "$res") || return
	[[ $_hbo =~ $BK_IMG_ID_RE ]] || bk_fail "build: '$_hbo'"
}

# hostile_create VAR IMAGE CMD [FILE=VALUE...]: a new container of IMAGE
# running CMD ("" for the image's own), networking none; not started.
hostile_create() {
	local -n _hc=$1
	local img=$2 cmd=$3 kv
	_hc=$(cat "$BK_MNT/containers/clone") || return
	[[ $_hc =~ $CT_ID_RE ]] || bk_fail "clone gave '$_hc'" || return
	echo "$img" >"$BK_MNT/containers/$_hc/image" || return
	if [ -n "$cmd" ]; then
		printf '%s\n' "$cmd" >"$BK_MNT/containers/$_hc/cmd" || return
	fi
	echo 'mode none' >"$BK_MNT/containers/$_hc/net" || return
	for kv in "${@:4}"; do
		printf '%s\n' "${kv#*=}" >"$BK_MNT/containers/$_hc/${kv%%=*}" ||
			bk_fail "$_hc: cannot write '${kv#*=}' to ${kv%%=*}" || return
	done
}

# hostile_ctl VAR ID LINE [SECS]: hostile_write of LINE to ID's ctl.
hostile_ctl() {
	local -n _hct=$1
	hostile_write _hct "$BK_MNT/containers/$2/ctl" "$3" "${4:-}"
	local st=$?
	ct_track "$2"
	return "$st"
}

# hostile_run_ok VAR IMAGE CMD [FILE=VALUE...]: create and start; must succeed.
hostile_run_ok() {
	local -n _hr=$1
	local res
	hostile_create _hr "${@:2}" || return
	hostile_ctl res "$_hr" start || return
	hostile_ok "$res" >/dev/null || bk_fail "start: $(hostile_err "$_hr")"
}

# hostile_err ID: the container's err file.
hostile_err() {
	cat "$BK_MNT/containers/$1/err" 2>&1
}

# hostile_exec VAR ID CMD: an exec session of running container ID; VAR gets
# its output and HOSTILE_EXEC_WAIT its wait line.  Fails if the write to the
# session's ctl does not finish (hostile_write) or fails.
hostile_exec() {
	local -n _he=$1
	local id=$2 n res
	HOSTILE_EXEC_WAIT=""
	n=$(cat "$BK_MNT/containers/$id/exec/clone") || return
	hostile_write res "$BK_MNT/containers/$id/exec/$n/ctl" "exec $3" || return
	hostile_ok "$res" >/dev/null || bk_fail "exec '$3': $(tr '\n' ' ' <<<"$res")" || return
	_he=$(timeout 20 cat "$BK_MNT/containers/$id/exec/$n/out")
	HOSTILE_EXEC_WAIT=$(timeout 20 cat "$BK_MNT/containers/$id/exec/$n/wait")
	[ -n "$HOSTILE_EXEC_WAIT" ] || bk_fail "exec '$3': the session did not end in 40 s: '$_he'"
}

# hostile_teardown: let a stuck daemon go on (so that teardown's rm force
# and SIGTERM are not stuck behind it), then the network tests' teardown;
# remove the groups of the test's stores (also when the store is gone) and
# a ghost a failed defence made.
hostile_teardown() {
	local g
	hostile_unblock 5
	net_teardown
	if [ -f "${BATS_TEST_TMPDIR:-/nonexistent}/hostile-tags" ]; then
		# shellcheck disable=SC2046 # one tag per word
		bk_remove_cgroups $(cat "$BATS_TEST_TMPDIR/hostile-tags")
	fi
	if [ -f "${BATS_TEST_TMPDIR:-/nonexistent}/hostile-ghosts" ]; then
		while read -r g; do
			[[ $g == /bkghost-* ]] && rm -rf --one-file-system "$g"
		done <"$BATS_TEST_TMPDIR/hostile-ghosts"
	fi
	return 0
}

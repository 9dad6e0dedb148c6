# shellcheck shell=bash
# Helpers for the containers end-to-end tests (tests/e2e/20-containers.bats),
# on top of tests/lib/fixture.bash (load that first).
#
#   setup/teardown:  ct_setup_file, ct_teardown_file  one busybox rootfs per file
#                    ct_start [DAEMON ARGS...]   bk_start + a busybox image "busybox"
#                    ct_teardown                 ct_cleanup, then bk_teardown
#                    ct_cleanup                  rm force every container (ct_rm_all), kill
#                                                any init left (by PID and start time)
#                    ct_rm_all MNT               rm force every container of the tree at MNT
#   containers:      ct_run LINE                 containers/run, id read on the same fd
#                    ct_ctl ID LINE              one write to ctl; prints OK|ERRNO, read-back
#                    ct_wait_state ID STATE [S]  poll `state` until STATE
#                    ct_wait_log ID REGEX [S]    poll `log` until a line matches
#                    ct_status ID KEY            one value from `status`
#                    ct_ids                      the containers in containers/, sorted
#                    ct_track ID                 kill ID's init at teardown (ct_run does it)
#   processes:       ct_wait_open PID FILE       until PID has FILE open
#                    ct_ms CMD...                CMD's wall time in ms
#                    ct_intr_read FILE SECS      read(2) interrupted by SIGINT
#                    ct_run_parallel N LINE      N simultaneous containers/run writes
#   cgroups:         ct_pids_limit_hit ID        ID's pids limit refused a fork (pids.events);
#                                                the rest is in tests/lib/cgroup.bash (cg_*)
#
# Variables set by ct_start: BB (the busybox rootfs directory), BB_ID (its image id),
# C (BK_MNT/containers).

CT_ID_RE='^ps_[0-9a-f]{12}$'

# ct_setup_file / ct_teardown_file (bats setup_file, teardown_file): one
# busybox rootfs for the whole file, in CT_BB_DIR (making it takes seconds).
ct_setup_file() {
	CT_BB_DIR=$(mktemp -d "/var/tmp/bkt$$-bb-XXXXXX") || return
	export CT_BB_DIR
	bk_busybox_rootfs "$CT_BB_DIR/busybox"
}
ct_teardown_file() {
	[ -n "${CT_BB_DIR:-}" ] && [ -d "$CT_BB_DIR" ] && rm -rf --one-file-system "$CT_BB_DIR"
	return 0
}

# ct_start [ARGS...]: start a daemon (ARGS go to bockerfs) and import busybox
# (from CT_BB_DIR when set).
ct_start() {
	bk_start "$@" || return
	# shellcheck disable=SC2034 # C, BB_ID: for the tests
	C=$BK_MNT/containers
	if [ -n "${CT_BB_DIR:-}" ]; then
		BB=$CT_BB_DIR/busybox
	else
		BB=$BK_TMP/busybox
		bk_busybox_rootfs "$BB" || return
	fi
	# shellcheck disable=SC2034
	BB_ID=$(bk_import "$BB" busybox) || return
}

# ct_track ID: remember ID's init (if running) for teardown, so that it is
# killed by PID even when the daemon and its store are gone.
ct_track() {
	local pid
	pid=$(cat "$BK_MNT/containers/$1/pid" 2>/dev/null) || return 0
	[ -n "$pid" ] && [ "$pid" != 0 ] && bk_track helper "$pid"
	return 0
}

# ct_run LINE: write "LINE\n" to containers/run and read the reply on the same
# open file (bk_command); prints the new id, fails if the reply is not an id.
ct_run() {
	local id
	id=$(bk_command "$BK_MNT/containers/run" "$CT_ID_RE" "$@") || return
	ct_track "$id"
	printf '%s\n' "$id"
}

# ct_ctl ID LINE: one write(2) of "LINE\n" to ID's ctl (see bk_write_errno).
ct_ctl() {
	bk_write_errno "$BK_MNT/containers/$1/ctl" "$2"$'\n'
}

# ct_wait_state ID STATE [SECONDS]
ct_wait_state() {
	bk_wait_until "${3:-$BK_DEADLINE}" ct_state_is "$1" "$2" ||
		bk_fail "$1: state '$(cat "$BK_MNT/containers/$1/state" 2>&1)', want '$2'"
}
ct_state_is() {
	[ "$(cat "$BK_MNT/containers/$1/state" 2>/dev/null)" = "$2" ]
}

# ct_wait_log ID REGEX [SECONDS]: until a line of ID's log matches REGEX (grep -E).
ct_wait_log() {
	bk_wait_until "${3:-$BK_DEADLINE}" grep -qE "$2" "$BK_MNT/containers/$1/log" ||
		bk_fail "$1: no line /$2/ in the log: $(head -c 2000 "$BK_MNT/containers/$1/log")"
}

# ct_status ID KEY: the value of KEY in ID's status.
ct_status() {
	awk -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }' \
		"$BK_MNT/containers/$1/status"
}

# The directories in containers/, sorted.
ct_ids() {
	find "$BK_MNT/containers" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort
}

# ct_wait_open PID FILE: until process PID has FILE open (a reader of events
# sees only what happens after its open).
ct_has_open() {
	local f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "$2" ] && return 0
	done
	return 1
}
ct_wait_open() {
	bk_wait_until "$BK_DEADLINE" ct_has_open "$1" "$2" || bk_fail "process $1 did not open $2"
}

# ct_ms CMD...: run CMD; prints its wall time in milliseconds (CMD's output is discarded).
ct_ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

# ct_kill_inits STORE: SIGKILL the init of every container in STORE whose
# container.json names a live process with the recorded start time (the
# pid namespace dies with it).  The last resort when rm force was not possible.
ct_kill_inits() {
	local - f pid start
	set +e
	# shellcheck disable=SC2015
	for f in "$1"/containers/*/container.json; do
		[ -f "$f" ] || continue
		read -r pid start < <("$BK_PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))
print(c.get("pid", 0), c.get("pid_start", 0))' "$f" 2>/dev/null)
		[ -n "$pid" ] && [ "$pid" != 0 ] || continue
		if bk_alive "$pid" && [ "$(bk_proc_start "$pid")" = "$start" ]; then
			echo "teardown: killing container init $pid ($f)" >&2
			kill -KILL "$pid" 2>/dev/null
			bk_wait_gone "$pid" 5
		fi
	done
}

# ct_kill_inits_under DIR: SIGKILL every bockerfs-init that holds a file
# under DIR open (its container directory and log in the store) or whose
# root is on a loop device backed by a file under DIR (which still holds when
# the store was unmounted).  Never another test's: parallel suites share the
# machine.
ct_kill_inits_under() {
	local - p f loops
	set +e
	loops=$(losetup -l -n -O NAME,BACK-FILE 2>/dev/null | awk -v d="$1/" 'index($2, d) == 1 { print $1 }')
	for p in /proc/[0-9]*; do
		[[ $(tr '\0' ' ' 2>/dev/null <"$p/cmdline") == bockerfs-init* ]] || continue
		for f in "$p"/fd/*; do
			[[ $(readlink "$f" 2>/dev/null) == "$1"/* ]] && break
			f=""
		done
		if [ -z "$f" ] && [ -n "$loops" ]; then
			# Only its root counts: a spare init of another daemon has a copy of the
			# whole mount table, this store's mount included, and is not ours to kill.
			awk -v l="$loops" 'BEGIN { n = split(l, a, "\n"); for (i = 1; i <= n; i++) want[a[i]] = 1 }
				$5 == "/" { for (i = 1; i < NF; i++) if ($i == "-" && ($(i + 2) in want)) found = 1 }
				END { exit !found }' "$p/mountinfo" 2>/dev/null && f=loop
		fi
		[ -n "$f" ] || continue
		echo "teardown: killing container init ${p#/proc/}" >&2
		kill -KILL "${p#/proc/}" 2>/dev/null
	done
}

# ct_rm_all MNT: rm force every container of the tree at MNT (when it answers),
# then SIGKILL any init that outlived it (its PID read before, checked against
# its start time).
ct_rm_all() {
	local - d pid inits=""
	set +e
	[ -n "$1" ] && timeout 5 cat "$1/version" >/dev/null 2>&1 || return 0
	for d in "$1"/containers/*/; do
		[ -d "$d" ] || continue
		pid=$(timeout 5 cat "${d}pid" 2>/dev/null)
		[ -n "$pid" ] && [ "$pid" != 0 ] && inits="$inits $pid:$(bk_proc_start "$pid")"
		timeout 20 "$BK_PY" "$BK_LIB/bkio.py" write "${d}ctl" $'rm force\n' >/dev/null 2>&1
	done
	for d in $inits; do
		pid=${d%%:*}
		if bk_alive "$pid" && [ "$(bk_proc_start "$pid")" = "${d#*:}" ]; then
			echo "teardown: killing container init $pid" >&2
			kill -KILL "$pid"
		fi
	done
	return 0
}

# ct_cleanup: ct_rm_all on the test's tree, then kill any init still running,
# for every daemon directory of this test (by the store's records, by the
# files it holds open, by its root's loop device).
ct_cleanup() {
	local - d list=${BATS_TEST_TMPDIR:-/nonexistent}/bk-tmpdirs dirs=""
	set +e
	ct_rm_all "$BK_MNT"
	[ -f "$list" ] && dirs=$(cat "$list")
	# shellcheck disable=SC2086 # dirs is one directory a line
	for d in $(printf '%s\n' "$BK_TMP" $dirs | sort -u); do
		[ -d "$d/root/store/containers" ] && ct_kill_inits "$d/root/store"
		[ -d "$d/root/containers" ] && ct_kill_inits "$d/root"
		ct_kill_inits_under "$d"
	done
	return 0
}

ct_teardown() {
	ct_cleanup
	bk_teardown
}

# ct_intr_read FILE SECS: read(2) FILE, with SIGINT (a no-op handler, no
# SA_RESTART) sent SECS later; prints "EINTR", another errno name, or
# "OK <data>", then the time the read took in milliseconds.
ct_intr_read() {
	"$BK_PY" - "$@" <<-'EOF'
		import ctypes, errno, os, signal, sys, threading, time
		path, delay = sys.argv[1], float(sys.argv[2])
		signal.signal(signal.SIGINT, lambda *_: None)
		signal.siginterrupt(signal.SIGINT, True)
		libc = ctypes.CDLL(None, use_errno=True)
		libc.read.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
		libc.read.restype = ctypes.c_ssize_t
		fd = os.open(path, os.O_RDONLY)
		buf = ctypes.create_string_buffer(4096)
		timer = threading.Timer(delay, signal.pthread_kill, (threading.get_ident(), signal.SIGINT))
		t0 = time.monotonic()
		timer.start()
		n = libc.read(fd, buf, 4096)
		code = ctypes.get_errno()
		ms = int((time.monotonic() - t0) * 1000)
		timer.cancel()
		print(errno.errorcode.get(code, code) if n < 0 else "OK " + buf.raw[:n].decode().strip())
		print(ms)
	EOF
}

# ct_run_parallel N LINE: N writes of LINE to containers/run at the same moment,
# each on an open file of its own (bk_write_parallel); prints the N replies.
ct_run_parallel() {
	local i lines=()
	for ((i = 0; i < $1; i++)); do
		lines+=("$2")
	done
	bk_write_parallel "$BK_MNT/containers/run" "${lines[@]}"
}

# ct_pids_limit_hit ID: ID's pids limit has refused a fork (a fork bomb hit it).
ct_pids_limit_hit() {
	local n
	n=$(cg_read "$1" pids.denied)
	[ "${n:-0}" -gt 0 ]
}

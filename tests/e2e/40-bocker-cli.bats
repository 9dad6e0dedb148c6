#!/usr/bin/env bats
# examples/bocker, the seed's CLI as file operations on the tree, end to end:
# every command, each of the seed's messages and output formats ("Created:",
# "Removed:", the IMAGE_ID and CONTAINER_ID tables, run streaming the output
# while the command runs, "No container named", "Container ... exists but is
# not running", "No image named"), the seed's limits (BOCKER_CPU_SHARE,
# BOCKER_MEM_LIMIT, --cpu-share=, --mem-limit=) in containers/ID/limits, rm of
# an image containers were made from; docker's options for run, each checked
# in the file it writes and by its effect (-d, --rm, --name, -e, -v, --tmpfs,
# -p, -m, --memory-swap, --cpus, -c, --pids-limit, --restart, -u, -w,
# --network), status 125 for a refused one; -i with a pipe, -t, logs -f, and
# run -it and exec -it on a real terminal (a tmux pane: keys typed, the
# screen read, the window resized, Ctrl-C, the exit code, the terminal
# restored); volume, start, stop, kill, restart; save, load, system df and
# prune, push's refusal; and examples/events.sh.
# Each test starts its own daemon with a busybox image and removes every
# container it made (rm force, then any init left, by PID and start time),
# and the tmux sessions it made (by name, on a server of its own).

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'
load '../lib/registry'

: "${BATS_TEST_TIMEOUT:=300}" # the pull test builds and fills a registry

EX=$(cd "$BATS_TEST_DIRNAME/../../examples" && pwd)
BOCKER=$EX/bocker

setup_file() {
	ct_setup_file
}

teardown_file() {
	ct_teardown_file
}

# A daemon with the busybox image "busybox" (BB_ID); BOCKERFS points at it.
setup() {
	ct_start || return
	export BOCKERFS=$BK_MNT
}

teardown() {
	tm_cleanup
	ct_cleanup
	bk_registry_teardown
	bk_teardown
}

# The newest container (the last line of containers/index).
last_ctr() {
	tail -n 1 "$C/index" | cut -f1
}

# A running container (sleep), through containers/run; prints its id.
sleeper() {
	local id
	id=$(ct_run busybox sleep 60) || return
	ct_wait_state "$id" running || return
	echo "$id"
}

need_exec() {
	local st=0
	timeout 10 test -d "$C/$1/exec" || st=$?
	[ "$st" != 124 ] || bk_fail "a lookup of containers/$1/exec hung" || return
	[ "$st" = 0 ] || bk_fail "no containers/$1/exec/ in the tree"
}

# tmux on a server of the test's own (its socket in BK_TMP, no configuration).
tm() {
	tmux -S "$BK_TMP/tmux.sock" -f /dev/null "$@" 3>&-
}

# term NAME CMD...: in a new detached 100x30 terminal (tmux session NAME), sh
# runs CMD, writing its PID to BK_TMP/NAME.pid, then `echo "rc=$?"` to
# BK_TMP/NAME.rc and the terminal's `stty -a` to BK_TMP/NAME.stty.  The server
# is tracked for teardown, which kills NAME (tm_cleanup).
term() {
	local name=$1 f=$BK_TMP/$1
	shift
	cat >"$f.sh" <<-EOF
		sh -c 'echo \$\$ >"\$0.pid"; exec "\$@"' $f $(printf '%q ' "$@")
		echo "rc=\$?" >$f.rc
		stty -a >$f.stty
	EOF
	tm new-session -d -s "$name" -x 100 -y 30 "sh $f.sh" || return
	TM_SESSIONS="${TM_SESSIONS:-} $name"
	bk_track helper "$(tm display-message -p '#{pid}')"
}

# ended NAME: until NAME's command has returned (its stty -a is written).
ended() {
	bk_wait_until "$BK_DEADLINE" test -s "$BK_TMP/$1.stty" ||
		bk_fail "$1 did not return: $(tm capture-pane -p -t "$1")"
}

tm_cleanup() {
	local s
	for s in ${TM_SESSIONS:-}; do
		tm kill-session -t "$s" 2>/dev/null
	done
	return 0
}

# see NAME REGEX: until a line of NAME's screen matches REGEX (grep -E).
see() {
	bk_wait_until "$BK_DEADLINE" on_screen "$1" "$2" ||
		bk_fail "no line /$2/ on the screen of $1: $(tm capture-pane -p -t "$1")"
}
on_screen() {
	tm capture-pane -p -t "$1" | grep -Eq "$2"
}

# keys NAME TEXT: TEXT typed on NAME's terminal, then Enter.
keys() {
	tm send-keys -t "$1" -l "$2" && tm send-keys -t "$1" Enter
}

# size_is NAME ROWS COLS: `stty size` typed on NAME until it answers ROWS COLS
# (bocker writes resize at the SIGWINCH, while the keys go their own way).
size_is() {
	bk_wait_until "$BK_DEADLINE" asked "$1" "$2 $3" || bk_fail "$1: no size $2 $3: $(tm capture-pane -p -t "$1")"
}
asked() {
	keys "$1" 'stty size' && sleep 0.2 && on_screen "$1" "^$2\$"
}

# sleeping ID: a process `sleep 100` runs in container ID (its PID namespace).
sleeping() {
	pgrep --ns "$(cat "$C/$1/pid")" --nslist pid -fx 'sleep 100' >/dev/null
}

# pane_stty NAME: stty -a of NAME's terminal, as it is now.
pane_stty() {
	stty -a -F "$(tm display-message -p -t "$1" '#{pane_tty}')"
}

# cooked FILE: stty -a's output in FILE has echo and icanon on (raw: off).
cooked() {
	grep -Eq '(^| )echo( |$)' "$1" || bk_fail "no echo: $(cat "$1")" || return
	grep -Eq '(^| )icanon( |$)' "$1" || bk_fail "no icanon: $(cat "$1")"
}
raw() {
	grep -Eq '(^| )-echo( |$)' "$1" || bk_fail "echo: $(cat "$1")" || return
	grep -Eq '(^| )-icanon( |$)' "$1" || bk_fail "icanon: $(cat "$1")"
}

@test "bocker is POSIX sh and shellcheck-clean; events.sh too" {
	command -v shellcheck >/dev/null || bk_fail "no shellcheck (scripts/deps.sh test installs it)" || return
	head -n 1 "$BOCKER" | grep -qx '#!/bin/sh'
	shellcheck -s sh "$BOCKER" "$EX/events.sh"
}

@test "help: every command, as the seed printed it; no arguments and unknown commands too" {
	run "$BOCKER" help
	[ "$status" -eq 0 ]
	for c in "pull <name> <tag>" "init <directory>" "images" "rm <image_id or container_id>" "ps" \
		"run <image_id> <command>" "exec <container_id> <command>" "logs <container_id>" \
		"commit <container_id> <image_id>" "help" "exec [-i] [-t] <container_id> <command>" "logs -f <container_id>"; do
		grep -qxF "	$BOCKER $c" <<<"$output" || bk_fail "help lacks '$c': $output"
	done
	grep -qx 'Create an image from a directory:' <<<"$output"
	run "$BOCKER"
	[ "$status" -eq 0 ]
	grep -q "init <directory>" <<<"$output"
	run "$BOCKER" frobnicate
	grep -q "init <directory>" <<<"$output"
	run "$BOCKER" logs # too few arguments: the help, on stderr, and a failure
	[ "$status" -eq 1 ]
}

@test "init: Created:, the IMAGE_ID table, a relative directory; rm: Removed:, No image named" {
	run "$BOCKER" images
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = $'IMAGE_ID\t\tSOURCE' ]
	[ "${lines[1]}" = "$BB_ID"$'\t\t'"$BB" ]

	run "$BOCKER" init "$BB"
	[ "$status" -eq 0 ]
	[[ $output =~ ^Created:\ (img_[0-9a-f]{12})$ ]]
	img=${BASH_REMATCH[1]}
	[ -d "$BK_MNT/images/$img" ]
	run "$BOCKER" images
	[ "${lines[2]}" = "$img"$'\t\t'"$BB" ]

	# A relative directory becomes an absolute path for the daemon.
	cd "$BB/.."
	run "$BOCKER" init "busybox"
	[[ $output =~ ^Created:\ (img_[0-9a-f]{12})$ ]]
	rel=${BASH_REMATCH[1]}
	bk_assert_content "$BK_MNT/images/$rel/source" "$BB"$'\n'

	run "$BOCKER" init "$BK_TMP/nowhere"
	[ "$status" -eq 1 ]
	[ "$output" = "No directory named '$BK_TMP/nowhere' exists" ]

	run "$BOCKER" rm "$img"
	[ "$status" -eq 0 ]
	[ "$output" = "Removed: $img" ]
	[ ! -e "$BK_MNT/images/$img" ]
	run "$BOCKER" rm "$img"
	[ "$status" -eq 1 ]
	[ "$output" = "No image named '$img' exists" ]
	run "$BOCKER" rm "$rel"
	[ "$output" = "Removed: $rel" ]
	run "$BOCKER" images
	[ "${#lines[@]}" -eq 2 ]
}

@test "run prints the container's output and exits with its code; ps shows the CONTAINER_ID table; logs" {
	run --separate-stderr "$BOCKER" run busybox 'echo hello; echo oops >&2'
	[ "$status" -eq 0 ]
	[ "$output" = $'hello\noops' ]
	id=$(last_ctr)
	[[ $id =~ $CT_ID_RE ]]
	bk_assert_content "$C/$id/state" $'exited\n'

	run "$BOCKER" run "$BB_ID" echo by id
	[ "$status" -eq 0 ]
	[ "$output" = "by id" ]
	id2=$(last_ctr)

	run "$BOCKER" run busybox 'echo bye; exit 3'
	[ "$status" -eq 3 ]
	[ "$output" = bye ]

	run "$BOCKER" ps
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = $'CONTAINER_ID\t\tCOMMAND' ]
	[ "${lines[1]}" = "$id"$'\t\techo hello; echo oops >&2' ]
	[ "${lines[2]}" = "$id2"$'\t\techo by id' ]
	[ "${#lines[@]}" -eq 4 ]

	run "$BOCKER" logs "$id"
	[ "$status" -eq 0 ]
	[ "$output" = $'hello\noops' ]

	run "$BOCKER" rm "$id"
	[ "$output" = "Removed: $id" ]
	[ ! -e "$C/$id" ]
	run "$BOCKER" ps
	[ "${#lines[@]}" -eq 3 ]
}

@test "the seed's messages: No container named, No image named, Container exists but is not running" {
	run "$BOCKER" run busybox true
	id=$(last_ctr)
	for cmd in logs rm commit; do
		run "$BOCKER" "$cmd" ps_000000000000
		[ "$status" -eq 1 ]
		[ "$output" = "No container named 'ps_000000000000' exists" ]
	done
	run "$BOCKER" exec nosuch ls
	[ "$status" -eq 1 ]
	[ "$output" = "No container named 'nosuch' exists" ]

	run "$BOCKER" exec "$id" ls
	[ "$status" -eq 1 ]
	[ "$output" = "Container '$id' exists but is not running" ]

	run "$BOCKER" run img_000000000000 true
	[ "$status" -eq 1 ]
	[ "$output" = "No image named 'img_000000000000' exists" ]
	run "$BOCKER" commit "$id" img_000000000000
	[ "$status" -eq 1 ]
	[ "$output" = "No image named 'img_000000000000' exists" ]
	run "$BOCKER" rm img_000000000000
	[ "$status" -eq 1 ]
	[ "$output" = "No image named 'img_000000000000' exists" ]
	# No container was made by any of these.
	[ "$(find "$C" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 1 ]
}

@test "errors from the tree: the read-back or err text on stderr, a failure status" {
	# An unknown reference: the tree's ENOENT, read back on the same fd.
	run --separate-stderr "$BOCKER" run nope true
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "error: run: no image named 'nope'" ]

	# A volume a container names: EBUSY, its text from the volume's err file.
	run "$BOCKER" run -v busy:/v busybox true
	run --separate-stderr "$BOCKER" volume rm busy
	[ "$status" -eq 1 ]
	[[ $stderr == "error: "*"busy"*"used by"* ]] || bk_fail "stderr: $stderr"
	[ -d "$BK_MNT/volumes/busy" ]

	# rmdir of a running container: EBUSY.
	id=$(sleeper)
	run --separate-stderr "$BOCKER" rm "$id"
	[ "$status" -eq 1 ]
	[[ $stderr == "error: "*"$id"*"running"* ]] || bk_fail "stderr: $stderr"
	[ -d "$C/$id" ]

	# No tree at all.
	BOCKERFS=$BK_TMP/none run --separate-stderr "$BOCKER" ps
	[ "$status" -eq 1 ]
	[[ $stderr == *"no bockerfs tree at $BK_TMP/none"* ]]
}

@test "BOCKER_CPU_SHARE and BOCKER_MEM_LIMIT (MB) end up in containers/ID/limits" {
	BOCKER_CPU_SHARE=256 BOCKER_MEM_LIMIT=64 run "$BOCKER" run busybox echo limited
	[ "$status" -eq 0 ]
	[ "$output" = limited ]
	id=$(last_ctr)
	grep -qx 'cpu.shares 256' "$C/$id/limits"
	grep -qx "memory $((64 << 20))" "$C/$id/limits"
	bk_assert_content "$C/$id/cmd" $'echo limited\n'
	bk_assert_content "$C/$id/image" $'busybox\n'

	# One of them alone; the other keeps the daemon's default.
	BOCKER_MEM_LIMIT=512 run "$BOCKER" run busybox 'exit 2'
	[ "$status" -eq 2 ]
	id2=$(last_ctr)
	[ "$id2" != "$id" ]
	grep -qx "memory $((512 << 20))" "$C/$id2/limits"
	# Without them, containers/run: the daemon's defaults.
	"$BOCKER" run busybox true
	grep -qx 'memory max' "$C/$(last_ctr)/limits"

	# A bad value: the tree's EINVAL text, and no container left behind.
	n=$(find "$C" -mindepth 1 -maxdepth 1 -type d | wc -l)
	BOCKER_MEM_LIMIT=lots run --separate-stderr "$BOCKER" run busybox true
	[ "$status" -eq 1 ]
	[[ $stderr == "error: "*"memory"* ]] || bk_fail "stderr: $stderr"
	[ "$(find "$C" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq "$n" ]
}

@test "exec: output, exit code, stdin, the container's own view; not running" {
	id=$(sleeper)
	need_exec "$id"
	run "$BOCKER" exec "$id" cat /etc/hostname </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "$id" ]
	run "$BOCKER" exec "$id" false </dev/null
	[ "$status" -eq 1 ]
	run --separate-stderr "$BOCKER" exec "$id" 'echo out; echo err >&2; exit 4' </dev/null
	[ "$status" -eq 4 ]
	[ "$output" = $'out\nerr' ] # out streams both, as the seed's terminal showed them
	run bash -c 'printf "fed\n" | "$0" exec "$1" cat' "$BOCKER" "$id"
	[ "$status" -eq 0 ]
	[ "$output" = fed ]
	# ps inside sees the container's processes only: its init, sleep, ps.
	run "$BOCKER" exec "$id" ps -o pid,args </dev/null
	[ "$status" -eq 0 ]
	grep -Eq '^ +2 sleep 60$' <<<"$output" || bk_fail "ps in the container: $output"
	[ "${#lines[@]}" -le 5 ] || bk_fail "ps in the container: $output"

	echo "kill" >"$C/$id/ctl"
	bk_wait_until "$BK_DEADLINE" grep -qx exited "$C/$id/state"
	run "$BOCKER" exec "$id" true
	[ "$status" -eq 1 ]
	[ "$output" = "Container '$id' exists but is not running" ]
}

@test "commit: Created:, and a run of the new image sees the change" {
	run "$BOCKER" run busybox 'echo changed >/marker'
	[ "$status" -eq 0 ]
	id=$(last_ctr)
	run --separate-stderr "$BOCKER" commit "$id" mine:1
	[ "$status" -eq 0 ] || bk_fail "commit: $stderr"
	[[ $output =~ ^Created:\ (img_[0-9a-f]{12})$ ]]
	img=${BASH_REMATCH[1]}
	run "$BOCKER" run "$img" cat /marker
	[ "$output" = changed ]
	run "$BOCKER" run mine:1 cat /marker
	[ "$output" = changed ]

	# The seed's form: commit onto an existing image id replaces that image.
	run "$BOCKER" init "$BB"
	[[ $output =~ ^Created:\ (img_[0-9a-f]{12})$ ]]
	old=${BASH_REMATCH[1]}
	run "$BOCKER" commit "$id" "$old"
	[ "$status" -eq 0 ]
	[[ $output =~ ^Created:\ (img_[0-9a-f]{12})$ ]]
	new=${BASH_REMATCH[1]}
	run "$BOCKER" run "$new" cat /marker
	[ "$output" = changed ]
}

@test "pull: Created:, the image in the table, runnable; a missing tag fails; a bar only on a terminal" {
	[ -e "$BK_MNT/images/pull" ] || bk_fail "no images/pull in the tree"
	for t in docker-registry umoci skopeo htpasswd; do
		command -v "$t" >/dev/null || bk_fail "no $t for the test registry (scripts/deps.sh test)"
	done
	bk_registry_setup # on 127.0.0.1 only
	run --separate-stderr "$BOCKER" pull "$BK_REG/test/busybox" latest
	[ "$status" -eq 0 ]
	[[ $output =~ ^Created:\ (img_[0-9a-f]{12})$ ]] || bk_fail "output: $output"
	img=${BASH_REMATCH[1]}
	[[ $output != *$'\r'* ]]
	run "$BOCKER" images
	grep -qx "$img"$'\t\t'"$BK_REG/test/busybox:latest" <<<"$output"
	run "$BOCKER" run "$img" echo pulled
	[ "$output" = pulled ]

	run --separate-stderr "$BOCKER" pull "$BK_REG/test/busybox" nosuchtag
	[ "$status" -eq 1 ]
	[[ $stderr == "error: "* ]] || bk_fail "stderr: $stderr"

	# On a terminal (script's pty) the bar is drawn while the layers come in.
	command -v script >/dev/null || bk_fail "no script(1) for a terminal (scripts/deps.sh test)"
	run script -qec "BOCKERFS='$BK_MNT' '$BOCKER' pull '$BK_REG/test/big' latest" /dev/null
	[ "$status" -eq 0 ]
	[[ $output =~ Created:\ img_[0-9a-f]{12} ]] || bk_fail "output: $output"
}

@test "events.sh follows the stream: create, start, exit, remove of one container" {
	out=$BK_TMP/events.out
	bk_bg "$out" "$EX/events.sh"
	events_pid=$BK_BG_PID
	# Its cat has events open once the stream is being read.
	bk_wait_until "$BK_DEADLINE" sh -c 'for p in $(pgrep -P "$1"); do ls -l /proc/$p/fd; done 2>/dev/null |
		grep -q "$2"' _ "$events_pid" "$BK_MNT/events"
	kids=$(pgrep -P "$events_pid")
	for p in $kids; do
		bk_track helper "$p" # its cat and loop, killed by PID at teardown too
	done
	"$BOCKER" run busybox true
	id=$(last_ctr)
	"$BOCKER" rm "$id"
	bk_wait_until "$BK_DEADLINE" grep -q " remove$" "$out" || bk_fail "events: $(cat "$out")"
	grep -E "^$BK_TIME_RE container +$id +create$" "$out"
	grep -E "^$BK_TIME_RE container +$id +start pid=[0-9]+$" "$out"
	grep -E "^$BK_TIME_RE container +$id +exit code=0$" "$out"
	# shellcheck disable=SC2086
	kill $kids "$events_pid"
}

# ---- the seed's behaviour: live output, global limits, rm of a used image ----

@test "run streams the output while the command runs (the seed's tee) and exits with its code" {
	out=$BK_TMP/live
	# Each line with the time it came (ms) and the container's state then.
	{
		st=0
		"$BOCKER" run busybox 'echo a; sleep 2; echo b; exit 5' || st=$?
		echo "status $st"
	} | while IFS= read -r l; do
		echo "$(($(date +%s%N) / 1000000)) $l $(cat "$C/$(last_ctr)/state")"
	done >"$out"
	cat "$out"
	mapfile -t got <"$out"
	[ "${#got[@]}" -eq 3 ]
	read -r ta a sa <<<"${got[0]}"
	read -r tb b _ <<<"${got[1]}"
	read -r te _ code se <<<"${got[2]}"
	[ "$a $b $code" = "a b 5" ]
	[ "$sa" = running ] || bk_fail "'a' came when the container was $sa"
	[ "$se" = exited ]
	[ $((tb - ta)) -ge 1500 ] && [ $((te - ta)) -ge 1500 ] || bk_fail "a, b and the end: $(cat "$out")"

	# A signal's code, 128+N; the output before it is there.
	run "$BOCKER" run busybox 'echo before; kill -9 $$'
	[ "$status" -eq 137 ]
	[ "$output" = before ]
}

@test "--mem-limit=MB and --cpu-share=N before the command (the seed's options) reach limits; over the environment's" {
	run "$BOCKER" --mem-limit=64 --cpu-share=300 run busybox echo capped
	[ "$status" -eq 0 ]
	[ "$output" = capped ]
	id=$(last_ctr)
	grep -qx "memory $((64 << 20))" "$C/$id/limits"
	grep -qx 'cpu.shares 300' "$C/$id/limits"

	BOCKER_MEM_LIMIT=512 BOCKER_CPU_SHARE=100 run "$BOCKER" --mem-limit=32 run busybox true
	[ "$status" -eq 0 ]
	id=$(last_ctr)
	grep -qx "memory $((32 << 20))" "$C/$id/limits"
	grep -qx 'cpu.shares 100' "$C/$id/limits"

	# docker's -m after them wins; a bad value is the seed's failure, status 1.
	run "$BOCKER" --mem-limit=32 run -m 48m busybox true
	grep -qx "memory $((48 << 20))" "$C/$(last_ctr)/limits"
	n=$(ct_ids | wc -l)
	run --separate-stderr "$BOCKER" --mem-limit=lots run busybox true
	[ "$status" -eq 1 ]
	[[ $stderr == "error: "*"memory"* ]] || bk_fail "stderr: $stderr"
	[ "$(ct_ids | wc -l)" -eq "$n" ]
}

@test "rm of an image containers were made from removes it (rm force), as the seed's rm did; they run on" {
	run "$BOCKER" init "$BB"
	[[ $output =~ ^Created:\ (img_[0-9a-f]{12})$ ]]
	img=${BASH_REMATCH[1]}
	run "$BOCKER" run "$img" 'echo first'
	[ "$output" = first ]
	id=$(last_ctr)
	run "$BOCKER" rm "$img"
	[ "$status" -eq 0 ]
	[ "$output" = "Removed: $img" ]
	[ ! -e "$BK_MNT/images/$img" ]
	run ! grep -q "^$img" "$BK_MNT/images/index"
	# The container stays and starts again with the image's config.
	run "$BOCKER" start "$id"
	[ "$status" -eq 0 ]
	[ "$output" = "$id" ]
	bk_assert_content "$C/$id/wait" $'exit 0\n'
	bk_assert_content "$C/$id/log" $'first\nfirst\n'
}

# ---- docker's options for run --------------------------------------------------

@test "run -d prints the id at once; --name; start, stop -t, kill -s, restart print the id; rm -f" {
	t0=$(date +%s%N)
	run --separate-stderr "$BOCKER" run -d --name sleepy busybox sleep 60
	t1=$(date +%s%N)
	ct_track sleepy
	[ "$status" -eq 0 ] || bk_fail "stderr: $stderr"
	[ "$output" = sleepy ]
	[ $(((t1 - t0) / 1000000)) -lt 5000 ]
	ct_state_is sleepy running
	run "$BOCKER" run -d busybox sleep 60
	[[ $output =~ $CT_ID_RE ]]
	id=$output
	ct_track "$id"

	run "$BOCKER" stop -t 1 sleepy
	[ "$status" -eq 0 ]
	[ "$output" = sleepy ]
	bk_assert_content "$C/sleepy/wait" $'signal 15\n'
	run "$BOCKER" start sleepy
	[ "$output" = sleepy ]
	ct_state_is sleepy running
	ct_track sleepy
	pid=$(cat "$C/sleepy/pid")
	run "$BOCKER" restart -t 0 sleepy
	[ "$output" = sleepy ]
	ct_state_is sleepy running
	[ "$(cat "$C/sleepy/pid")" != "$pid" ]
	ct_track sleepy
	run "$BOCKER" kill -s HUP sleepy
	[ "$output" = sleepy ]
	bk_assert_content "$C/sleepy/wait" $'signal 1\n'
	run --separate-stderr "$BOCKER" kill sleepy
	[ "$status" -eq 1 ]
	[[ $stderr == "error: "*"not running"* ]] || bk_fail "stderr: $stderr"
	run "$BOCKER" stop nosuch
	[ "$output" = "No container named 'nosuch' exists" ]

	# The name is taken: 125, as docker's conflict.
	run --separate-stderr "$BOCKER" run -d --name sleepy busybox true
	[ "$status" -eq 125 ]
	[[ $stderr == *"sleepy"*"in use"* ]] || bk_fail "stderr: $stderr"

	# rm of a running container: EBUSY; rm -f kills and removes it.
	run "$BOCKER" rm "$id"
	[ "$status" -eq 1 ]
	run "$BOCKER" rm -f "$id"
	[ "$status" -eq 0 ]
	[ "$output" = "Removed: $id" ]
	[ ! -e "$C/$id" ]
}

@test "run --rm removes the container after it exits, with its code; -d --rm when it exits; not with --restart" {
	before=$(ct_ids)
	run "$BOCKER" run --rm busybox 'echo gone; exit 7'
	[ "$status" -eq 7 ]
	[ "$output" = gone ]
	[ "$(ct_ids)" = "$before" ]

	run "$BOCKER" run -d --rm busybox 'sleep 1'
	[ "$status" -eq 0 ]
	id=$output
	[[ $id =~ $CT_ID_RE ]]
	ct_track "$id"
	[ -d "$C/$id" ]
	bk_wait_until "$BK_DEADLINE" test ! -e "$C/$id" || bk_fail "$id still there: $(cat "$C/$id/state")"

	run --separate-stderr "$BOCKER" run --rm --restart always busybox true
	[ "$status" -eq 125 ]
	[[ $stderr == *"--restart and --rm"* ]]
	[ "$(ct_ids)" = "$before" ]
}

@test "run -v: a host directory (written from inside, ro, relative, made if missing, with a blank), a named volume; --tmpfs" {
	mkdir "$BK_TMP/host"
	run "$BOCKER" run -v "$BK_TMP/host:/data" busybox 'echo from-inside >/data/f'
	[ "$status" -eq 0 ]
	bk_assert_content "$BK_TMP/host/f" $'from-inside\n'
	bk_assert_content "$C/$(last_ctr)/mounts" "bind $BK_TMP/host /data"$'\n'

	# ./x is made absolute (and made, as docker makes a missing host directory); ro.
	cd "$BK_TMP"
	run "$BOCKER" run --volume=./rel:/rel:ro busybox 'touch /rel/x'
	[ "$status" -eq 1 ]
	[[ $output == *"Read-only file system"* ]]
	[ -d "$BK_TMP/rel" ] && [ ! -e "$BK_TMP/rel/x" ]
	bk_assert_content "$C/$(last_ctr)/mounts" "bind $BK_TMP/rel /rel ro"$'\n'
	mkdir "$BK_TMP/a b"
	run "$BOCKER" run -v "$BK_TMP/a b:/ab" busybox 'echo x >/ab/f'
	[ -f "$BK_TMP/a b/f" ]
	grep -qxF "bind $BK_TMP/a\\040b /ab" "$C/$(last_ctr)/mounts"

	# A name is a volume, made at its first use, kept after the container.
	run "$BOCKER" run --rm -v vol1:/v busybox 'echo kept >/v/f'
	[ "$status" -eq 0 ]
	[ -d "$BK_MNT/volumes/vol1" ]
	run "$BOCKER" run -v vol1:/v:ro busybox 'cat /v/f'
	[ "$output" = kept ]
	bk_assert_content "$C/$(last_ctr)/mounts" $'volume vol1 /v ro\n'

	run "$BOCKER" run --tmpfs /t:size=1m,noexec busybox 'grep " /t " /proc/mounts'
	[ "$status" -eq 0 ]
	[[ $output == "tmpfs /t tmpfs "*"size=1024k"* ]] || bk_fail "output: $output"
	bk_assert_content "$C/$(last_ctr)/mounts" $'tmpfs /t 1048576\n'
}

@test "run -e, -w, -u, --restart, --network, -p and the limits options reach their files and the command" {
	FROM_HERE=7 run --separate-stderr "$BOCKER" run --name opts -e A=1 --env=B=2 -e FROM_HERE -e UNSET_HERE \
		-w /wd -u 65534:65534 --restart on-failure:2 --network none -p 18080:80 --publish=18053:53/udp \
		-m 64m --memory-swap=-1 --cpus 0.5 -c 512 --pids-limit 100 \
		busybox 'echo "$A $B $FROM_HERE ${UNSET_HERE-unset} $(pwd) $(id -u):$(id -g)"; ls /sys/class/net'
	ct_track opts
	[ "$status" -eq 0 ] || bk_fail "stderr: $stderr"
	[ "$output" = $'1 2 7 unset /wd 65534:65534\nlo' ]
	[ "$(grep -c . "$C/opts/env")" -eq 3 ]
	grep -qx A=1 "$C/opts/env" && grep -qx B=2 "$C/opts/env" && grep -qx FROM_HERE=7 "$C/opts/env"
	bk_assert_content "$C/opts/workdir" $'/wd\n'
	bk_assert_content "$C/opts/user" $'65534:65534\n'
	bk_assert_content "$C/opts/restart" $'on-failure:2\n'
	[ "$(head -n1 "$C/opts/net")" = "mode none" ]
	bk_assert_content "$C/opts/ports" $'tcp 18080 80\nudp 18053 53\n'
	for l in "memory $((64 << 20))" "memory-swap max" "cpus 0.500" "cpu.shares 512" "pids 100"; do
		grep -qx "$l" "$C/opts/limits" || bk_fail "limits lack '$l': $(cat "$C/opts/limits")"
	done
	bk_assert_content "$C/opts/cmd" \
		$'echo "$A $B $FROM_HERE ${UNSET_HERE-unset} $(pwd) $(id -u):$(id -g)"; ls /sys/class/net\n'

	run "$BOCKER" run --net=host busybox true
	[ "$(head -n1 "$C/$(last_ctr)/net")" = "mode host" ]
	# Short options with their value attached; after the image, the words are the command's
	# (joined by blanks as the seed's were, run by /bin/sh -c).
	run "$BOCKER" run -eX=attached -w/tmp busybox echo '$X' -c '$(pwd)'
	[ "$output" = "attached -c /tmp" ]
	bk_assert_content "$C/$(last_ctr)/cmd" $'echo $X -c $(pwd)\n'
}

@test "run: a refused option is status 125 with the reason on stderr, and leaves no container" {
	n=$(ct_ids | wc -l)
	for args in "--cpus 1000|cpus" "-w rel|absolute" "--network nope|mode" "-u a/b|user" "--restart sometimes|restart" \
		"-p 1:2:3|host address" "-p 80|HOST:CONTAINER" "-v /x|SRC:DST" "-v /x:/y:rx|mode" "--tmpfs /t:mode=1|mode=1" \
		"-e 1x|not a name" "--bogus|unknown flag" "--name a/b|not a valid name"; do
		# shellcheck disable=SC2086 # the options are words
		run --separate-stderr "$BOCKER" run ${args%|*} busybox true
		[ "$status" -eq 125 ] || bk_fail "run ${args%|*}: status $status, $output $stderr"
		[[ $stderr == *"${args#*|}"* ]] || bk_fail "run ${args%|*}: stderr '$stderr'"
		[ -z "$output" ]
	done
	[ "$(ct_ids | wc -l)" -eq "$n" ] || bk_fail "containers left: $(ct_ids)"
	# The tree's text: what the err file of the container said.
	run --separate-stderr "$BOCKER" run -w rel busybox true
	[ "$stderr" = "error: workdir 'rel': an absolute path" ]
}

@test "run -i: a pipe feeds the command, its end is EOF; -t: a terminal, output only; -it needs one" {
	run bash -c 'echo hi | "$0" run -i busybox cat' "$BOCKER"
	[ "$status" -eq 0 ]
	[ "$output" = hi ]
	id=$(last_ctr)
	bk_assert_content "$C/$id/stdin" $'1\n'
	bk_assert_content "$C/$id/tty" $'0\n'
	run bash -c 'printf "a\nb\n" | "$0" run --rm --interactive busybox "wc -l; exit 4"' "$BOCKER"
	[ "$status" -eq 4 ]
	[ "$output" = 2 ]
	# -t: the command's stdin and stdout are a terminal (80x24), its lines end in \r\n.
	run "$BOCKER" run -t busybox '[ -t 0 ] && [ -t 1 ] && echo tty; stty size' </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = $'tty\r\n24 80\r' ] || bk_fail "output: $(printf %q "$output")"
	bk_assert_content "$C/$(last_ctr)/tty" $'1\n'
	# -it without a terminal here: docker's refusal, before any container is made.
	n=$(ct_ids | wc -l)
	run --separate-stderr "$BOCKER" run -it busybox sh </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "the input device is not a TTY" ]
	[ "$(ct_ids | wc -l)" -eq "$n" ]
	# exec -i is what exec does already: our stdin feeds the command.
	id=$(sleeper)
	need_exec "$id"
	run bash -c 'echo fed | "$0" exec -i "$1" cat' "$BOCKER" "$id"
	[ "$status" -eq 0 ]
	[ "$output" = fed ]
	run "$BOCKER" exec -t "$id" 'tty; exit 2' </dev/null
	[ "$status" -eq 2 ]
	[[ $output == /dev/pts/*$'\r' ]] || bk_fail "exec -t: $output"
	run --separate-stderr "$BOCKER" exec -it "$id" sh </dev/null
	[ "$status" -eq 1 ]
	[ "$stderr" = "the input device is not a TTY" ]
	# exec/N/ctl takes one line: "exec echo\nkill" would kill the container.
	run --separate-stderr "$BOCKER" exec "$id" $'echo a\nkill'
	[ "$status" -eq 125 ]
	[[ $stderr == *"one line only"* ]]
	ct_state_is "$id" running
}

@test "logs -f: the output as it comes while the container runs, and the end when it stops" {
	id=$("$BOCKER" run -d busybox 'echo first; until [ -e /go ]; do sleep 0.1; done; echo second')
	ct_track "$id"
	bk_bg "$BK_TMP/follow" "$BOCKER" logs -f "$id"
	pid=$BK_BG_PID
	bk_wait_until "$BK_DEADLINE" grep -qx first "$BK_TMP/follow" || bk_fail "logs -f: $(cat "$BK_TMP/follow")"
	ct_state_is "$id" running
	bk_alive "$pid"
	touch "$C/$id/root/go"
	bk_wait_gone "$pid" || bk_fail "logs -f still runs after the container stopped"
	st=0
	wait "$pid" || st=$?
	[ "$st" = 0 ]
	bk_assert_content "$BK_TMP/follow" $'first\nsecond\n'
	# Of a stopped container: all of it, at once.
	run timeout 10 "$BOCKER" logs --follow "$id"
	[ "$status" -eq 0 ]
	[ "$output" = $'first\nsecond' ]
	run "$BOCKER" logs -f nope
	[ "$status" -eq 1 ]
	[ "$output" = "No container named 'nope' exists" ]
}

@test "run -it in a terminal: keys typed, raw while it runs, its size and resizes, Ctrl-C, the exit code, the terminal restored" {
	command -v tmux >/dev/null || bk_fail "no tmux (scripts/deps.sh test installs it)" || return
	term it "$BOCKER" run -it busybox sh
	see it '^/ #'
	id=$(last_ctr)
	bk_assert_content "$C/$id/tty" $'1\n'
	bk_assert_content "$C/$id/stdin" $'1\n'
	pane_stty it >"$BK_TMP/raw.stty"
	raw "$BK_TMP/raw.stty"
	keys it 'echo $((6*7))'
	see it '^42$'
	keys it 'stty size; tty'
	see it '^30 100$'
	see it '^/dev/pts/[0-9]+$'
	tm resize-window -t it -x 120 -y 40
	size_is it 40 120
	# Ctrl-C goes through (raw: \003 to in) and interrupts the foreground command.
	keys it 'sleep 100'
	see it '^/ # sleep 100$'
	bk_wait_until "$BK_DEADLINE" sleeping "$id" || bk_fail "no sleep 100 in $id"
	tm send-keys -t it C-c
	keys it 'echo back$((1+1))'
	see it '^back2$'
	ct_state_is "$id" running
	keys it 'exit 3'
	ended it
	bk_assert_content "$BK_TMP/it.rc" $'rc=3\n'
	cooked "$BK_TMP/it.stty"
	bk_assert_content "$C/$id/wait" $'exit 3\n'
}

@test "exec -it in a terminal: a shell in the container, its size, the exit code; a TERM restores the terminal" {
	command -v tmux >/dev/null || bk_fail "no tmux (scripts/deps.sh test installs it)" || return
	id=$(sleeper)
	need_exec "$id"
	term ex "$BOCKER" exec -it "$id" sh
	see ex '^/ #'
	keys ex 'cat /etc/hostname; stty size; ps -o args | grep -c "^sleep 60"'
	see ex "^$id\$"
	see ex '^30 100$'
	see ex '^1$'
	tm resize-window -t ex -x 90 -y 25
	size_is ex 25 90
	keys ex 'exit 5'
	ended ex
	bk_assert_content "$BK_TMP/ex.rc" $'rc=5\n'
	cooked "$BK_TMP/ex.stty"
	ct_state_is "$id" running

	# A TERM to bocker while the terminal is raw: restored, 143; the container runs on.
	term ex2 "$BOCKER" exec -it "$id" sh
	see ex2 '^/ #'
	pane_stty ex2 >"$BK_TMP/raw.stty"
	raw "$BK_TMP/raw.stty"
	kill -TERM "$(cat "$BK_TMP/ex2.pid")"
	ended ex2
	bk_assert_content "$BK_TMP/ex2.rc" $'rc=143\n'
	cooked "$BK_TMP/ex2.stty"
	ct_state_is "$id" running
}

@test "volume create, ls, rm: mkdir, index, rmdir of volumes/; the tree's refusals" {
	run "$BOCKER" volume create data1
	[ "$status" -eq 0 ]
	[ "$output" = data1 ]
	[ -d "$BK_MNT/volumes/data1" ]
	run "$BOCKER" volume ls
	[ "${lines[0]}" = $'VOLUME\tOWNER' ]
	grep -qx $'data1\t-' <<<"$output"
	run --separate-stderr "$BOCKER" volume create data1
	[ "$status" -eq 1 ]
	[[ $stderr == "error: "*"data1"*"exists"* ]] || bk_fail "stderr: $stderr"
	run --separate-stderr "$BOCKER" volume create -bad
	[ "$status" -eq 1 ]
	[[ $stderr == "error: "* ]]

	run "$BOCKER" run -v data1:/d busybox 'echo in >/d/f'
	id=$(last_ctr)
	run --separate-stderr "$BOCKER" volume rm data1
	[ "$status" -eq 1 ]
	[[ $stderr == "error: "*"used by container $id"* ]] || bk_fail "stderr: $stderr"
	"$BOCKER" rm "$id"
	run "$BOCKER" volume rm data1
	[ "$status" -eq 0 ]
	[ "$output" = data1 ]
	[ ! -e "$BK_MNT/volumes/data1" ]
	run "$BOCKER" volume rm data1
	[ "$status" -eq 1 ]
	[ "$output" = "No volume named 'data1' exists" ]
}

@test "run follows the log across its rotation (past --log-max-size, log turns into log.1): nothing lost" {
	bk_daemon_term
	bk_daemon_start --log-max-size 64K
	# 200 KiB in bursts of 25 KiB, each shorter than the cap: three rotations while run follows.
	run --separate-stderr "$BOCKER" run busybox 'i=0; while [ $i -lt 200 ]; do
		head -c 1000 /dev/zero | tr "\0" x; echo " $i"; i=$((i + 1)); [ $((i % 25)) != 0 ] || sleep 0.5; done; echo END'
	[ "$status" -eq 0 ] || bk_fail "stderr: $stderr"
	[ -f "$BK_STORE/containers/$(last_ctr)/log.1" ] || bk_fail "the log did not rotate"
	[ "${#lines[@]}" -eq 201 ] || bk_fail "${#lines[@]} lines"
	x=$(printf '%1000s' '' | tr ' ' x)
	for i in $(seq 0 199); do
		[ "${lines[i]}" = "$x $i" ] || bk_fail "line $i: ${lines[i]:990}"
	done
	[ "${lines[200]}" = END ]
}

@test "save, load, system df and prune: docker's commands over images/save, images/load, df and prune" {
	run "$BOCKER" save "$BATS_TEST_TMPDIR/bb.tar" busybox
	[ "$status" -eq 0 ] && [ "$output" = "Saved: $BATS_TEST_TMPDIR/bb.tar" ] || bk_fail "$output"
	tar -tf "$BATS_TEST_TMPDIR/bb.tar" | grep -qx manifest.json
	run "$BOCKER" rm "$BB_ID"
	[ "$status" -eq 0 ]
	run "$BOCKER" load "$BATS_TEST_TMPDIR/bb.tar"
	[ "$status" -eq 0 ] && [[ $output =~ ^Loaded:\ img_[0-9a-f]{12}$ ]] || bk_fail "$output"
	id=${output#Loaded: }
	grep -qx busybox:latest "$BK_MNT/images/$id/ref"
	run "$BOCKER" system df
	[ "${lines[0]}" = "TYPE TOTAL ACTIVE SIZE RECLAIMABLE" ] || bk_fail "$output"
	grep -q "^image $id " <<<"$output"
	run "$BOCKER" run busybox true
	ctr=$(last_ctr)
	run "$BOCKER" system prune
	[ "$status" -eq 0 ] || bk_fail "$output"
	grep -qx "container $ctr" <<<"$output"
	[[ ${lines[-1]} =~ ^reclaimed\ [0-9]+$ ]] || bk_fail "$output"
	[ -d "$BK_MNT/images/$id" ] # named: not dangling
	run --separate-stderr "$BOCKER" load "$BATS_TEST_TMPDIR/missing.tar"
	[ "$status" -eq 1 ] && [[ $stderr == "error: "* ]] || bk_fail "$stderr"
	run --separate-stderr "$BOCKER" push nosuchimage
	[ "$status" -eq 1 ] && [ "$output" = "No image named 'nosuchimage' exists" ] || bk_fail "$output"
}

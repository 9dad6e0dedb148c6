#!/usr/bin/env bats
# examples/bocker, the seed's CLI as file operations on the tree, end to end:
# every command, each of the seed's messages and output formats ("Created:",
# "Removed:", the IMAGE_ID and CONTAINER_ID tables, run printing the output,
# "No container named", "Container ... exists but is not running", "No image
# named"), BOCKER_CPU_SHARE and BOCKER_MEM_LIMIT in containers/ID/limits, and
# examples/events.sh.
# Each test starts its own daemon with a busybox image and removes every
# container it made (rm force, then any init left, by PID and start time).

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
		"commit <container_id> <image_id>" "help"; do
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

	# rmdir of an image a container uses: EBUSY, its text from the image's err file.
	run "$BOCKER" run busybox true
	run --separate-stderr "$BOCKER" rm "$BB_ID"
	[ "$status" -eq 1 ]
	[[ $stderr == "error: "*"$BB_ID"*"used by"* ]] || bk_fail "stderr: $stderr"
	[ -d "$BK_MNT/images/$BB_ID" ]

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

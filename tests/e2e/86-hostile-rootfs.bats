#!/usr/bin/env bats
# A container must never reach the host through its own filesystem (#13).
#
# The daemon, host root, touches paths inside container and image
# filesystems: commit's clean-up of the runtime's placeholder files
# (/etc/hosts, /etc/hostname, /etc/resolv.conf), the binds of the runtime's
# files onto those paths at start and restart, the user and group lookup
# in /etc/passwd and /etc/group (image USER; at start, restart and for every
# exec session), WorkingDir creation at start, the read-ahead of the image's
# entrypoint and /bin/sh when it prepares spare snapshots, build COPY/ADD
# destinations, WORKDIR and USER, import's look at /bin/sh.  Here a
# container (or an image) rearranges its own filesystem adversarially before
# each of those: symlinks (absolute, relative, chains, loops) to a canary
# directory on the host at every path the daemon uses, FIFOs, sockets, device
# nodes, 100 GiB sparse files, deep trees, nested btrfs subvolumes, and a
# directory swapped for a symlink in a tight loop while the operation runs.
#
# After each operation (tests/lib/hostile.bash):
#   - the canary (BK_TMP/cp/canary: hosts, hostname, resolv.conf, passwd,
#     group, sub/keep) has the same entries, contents, modes, owners and
#     mtimes, and no process opened it (inotify); a "ghost" host path that a
#     mkdir -p through a symlink would make does not exist;
#   - the operation finished within HOSTILE_DEADLINE seconds (5; 15 with
#     the sanitizers), either successfully or with an errno, an "error: ..."
#     read-back and a reason in the object's err file; the writer never
#     waited for the daemon in D state (see hostile_write);
#   - the daemon exits on SIGTERM within the deadline.
#
# Also: nothing under /proc/1 of a container names the tree's mount point,
# the store or the daemon's binary; an image whose layers have no entry for
# "/" (or a FROM scratch build) gets "/" 0755 root:root, as Docker, so that
# USER nobody can run.
#
# Each test runs its daemon in a throwaway network namespace
# (tests/lib/net.bash); containers use `net mode none`.  A test that finds
# the daemon stuck lets it go on at teardown by opening the store's FIFOs
# (hostile_unblock), then removes everything by PID.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'
load '../lib/net'
load '../lib/registry'
load '../lib/hostile'

: "${BATS_TEST_TIMEOUT:=120}"

setup_file() {
	ct_setup_file || return
	bk_helper hostile "$CT_BB_DIR/busybox/bin/hostile"
}

teardown_file() {
	ct_teardown_file
}

teardown() {
	hostile_teardown
}

# A daemon in its own netns with the busybox image, and the canary.
hostile_setup() {
	net_start && hostile_canary
}

# ctr_exit VAR IMAGE SCRIPT: a container of IMAGE runs SCRIPT and must exit 0.
ctr_exit() {
	local -n _ce=$1
	local w
	hostile_run_ok _ce "$2" "$3" || return
	w=$(timeout 20 cat "$C/$_ce/wait")
	[ "$w" = "exit 0" ] || bk_fail "$_ce: '$w': $(cat "$C/$_ce/log")"
}

# ctr_up VAR IMAGE SCRIPT: a container of IMAGE runs SCRIPT, then stays up.
ctr_up() {
	local -n _cu=$1
	hostile_run_ok _cu "$2" "$3; echo ready; exec sleep 1000" || return
	ct_wait_log "$_cu" '^ready$'
}

# image_root IMG: the image's filesystem in the store.
image_root() {
	readlink "$BK_MNT/images/$1/root"
}

# ---- commit's clean-up of the runtime's files ----------------------------------------

# commit_keeps_link ID TARGET: commit ID; it succeeds within the deadline, the
# image's /etc is still the symlink to TARGET, and the host is untouched.
commit_keeps_link() {
	local id=$1 target=$2 res img bad=0
	hostile_ctl res "$id" "commit hostile:1" || bad=1
	if img=$(hostile_ok "$res"); then
		[ "$(readlink "$(image_root "$img")/etc")" = "$target" ] ||
			bk_fail "the image's /etc is '$(readlink "$(image_root "$img")/etc")', not the symlink" || bad=1
	else
		bad=1
	fi
	hostile_finish || bad=1
	return "$bad"
}

# #13 item 1.  The container's /etc is an absolute symlink to a host
# directory when it is committed: commit's clean-up of the runtime's empty
# placeholders (/etc/hosts, hostname, resolv.conf) must act inside the
# snapshot, never on the host's files the symlink names (with /etc -> /etc,
# the host's own).  The image keeps the symlink as the container made it.
@test "commit: /etc an absolute symlink to a host directory: the host's hosts, hostname, resolv.conf stay; the image keeps the symlink" {
	hostile_setup
	ctr_exit id busybox "mv /etc /etc.real && ln -s $HOSTILE_CAN /etc"
	commit_keeps_link "$id" "$HOSTILE_CAN"
}

# #13 item 1, the same with a relative symlink (enough ../ to climb out of
# the store from containers/ID/rootfs or tmp/WORK/rootfs).
@test "commit: /etc a relative ../../ symlink to a host directory" {
	hostile_setup
	ctr_exit id busybox "mv /etc /etc.real && ln -s $HOSTILE_UP${HOSTILE_CAN#/} /etc"
	commit_keeps_link "$id" "$HOSTILE_UP${HOSTILE_CAN#/}"
}

# #13 item 1 through a chain: every hop but the last stays inside the
# container, so only a resolution rooted in the snapshot stops it; and a
# symlink loop, which must not fail the commit.
@test "commit: /etc a chain of symlinks inside the container whose last link leads to the host; /etc a symlink loop" {
	hostile_setup
	# etc -> l1 -> l2 -> the host directory: each hop but the last stays inside.
	ctr_exit chain busybox "mv /etc /etc.real && ln -s l1 /etc && ln -s l2 /l1 && ln -s $HOSTILE_CAN /l2"
	# etc -> e1 -> etc: ELOOP for everyone.
	ctr_exit loop busybox "mv /etc /etc.real && ln -s e1 /etc && ln -s etc /e1"
	bad=0
	for id in "$chain" "$loop"; do
		hostile_ctl res "$id" "commit" || bad=1
		hostile_ok "$res" >/dev/null || bad=1
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# The placeholders themselves replaced: symlinks to the canary's files (an
# unlink never follows a last component, so these are safe), a FIFO, a
# socket, device nodes 1:3 and 1:5, a 100 GiB sparse file.  Only empty
# regular files are the runtime's: everything else stays in the image as it
# is, and nothing is opened.
@test "commit: /etc/hosts, /etc/hostname, /etc/resolv.conf as symlinks to the host's files, a FIFO, a socket, a device node, a 100 GiB sparse file: kept as they are, the host untouched" {
	hostile_setup
	local -a prep=(
		'mv /etc /etc.real && mkdir /etc && cp -a /etc.real/passwd /etc.real/group /etc/'
		"ln -s $HOSTILE_CAN/hosts /etc/hosts && ln -s $HOSTILE_UP${HOSTILE_CAN#/}/hostname /etc/hostname && ln -s /r1 /etc/resolv.conf && ln -s $HOSTILE_CAN/resolv.conf /r1"
		'mkfifo /etc/hosts && hostile sock /etc/hostname && mknod /etc/resolv.conf c 1 3'
		'truncate -s 100G /etc/hosts && mknod /etc/hostname c 1 5 && mkfifo /etc/resolv.conf'
	)
	bad=0
	for i in 1 2 3; do
		ctr_exit id busybox "${prep[0]} && ${prep[i]}"
		before=$(ls -l --time-style=+ "$BK_STORE/containers/$id/rootfs/etc" | awk '{ $2 = ""; print }')
		hostile_ctl res "$id" commit || { bad=1; continue; }
		img=$(hostile_ok "$res") || { bad=1; continue; }
		after=$(ls -l --time-style=+ "$(image_root "$img")/etc" | awk '{ $2 = ""; print }')
		[ "$after" = "$before" ] || bk_fail "case $i: the image's /etc: $after, not $before" || bad=1
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# #13 item 1 as a race: a process of the container exchanges /etc and a
# symlink to the host (renameat2 RENAME_EXCHANGE) in a tight loop while the
# container is committed ten times (commit IMG_ID after the first), so some
# snapshots catch /etc as the symlink.
@test "commit: 10 commits while the container flips /etc between its directory and a symlink to the host (RENAME_EXCHANGE in a tight loop)" {
	hostile_setup
	ctr_up id busybox "ln -s $HOSTILE_CAN /etc.flip && { hostile swap /etc /etc.flip & }"
	bad=0
	img=""
	for i in $(seq 10); do
		hostile_ctl res "$id" "commit${img:+ $img}" || { bad=1; break; }
		out=$(hostile_ok "$res") || { bad=1; break; }
		img=${img:-$out}
		[ "$out" = "$img" ] || bk_fail "commit $img gave $out" || bad=1
	done
	hostile_ctl res "$id" 'rm force' || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# ---- user and group lookup: FIFOs ------------------------------------------------------

# fifo_image VAR FILE DOCKERFILE_TAIL: an image whose FILE (etc/passwd...) is a
# FIFO, with DOCKERFILE_TAIL's instructions on top (USER nobody...).
fifo_image() {
	local -n _fi=$1
	local dir=$BK_TMP/fifo-rootfs base
	hostile_rootfs "$dir" || return
	rm -f "$dir/$2" && mkfifo "$dir/$2" || return
	hostile_import base "$dir" || return
	hostile_build_ok _fi "FROM $base"$'\n'"$3"
}

# #13 item 2.  An image with USER nobody whose /etc/passwd (or /etc/group) is
# a FIFO: the user lookup at start must not wait for a writer that never
# comes.  The run fails at once with an errno and a reason (in containers/err
# and the read-back), and the daemon still stops on SIGTERM.
@test "run: images with USER nobody whose /etc/passwd, or /etc/group, is a FIFO fail within seconds, with an errno and a reason" {
	hostile_setup
	fifo_image pw etc/passwd 'USER nobody'
	fifo_image gr etc/group 'USER nobody'
	bad=0
	# Both at once: they share the deadline.
	hostile_write_start "$C/run" "$pw id"
	h1=$HOSTILE_HANDLE
	hostile_write_start "$C/run" "$gr id"
	h2=$HOSTILE_HANDLE
	for h in "$h1" "$h2"; do
		hostile_write_finish res "$h" || { bad=1; continue; }
		hostile_failed_cleanly "$res" containers/err || bad=1
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# #13 item 2.  A container (root, no USER) that replaced its own /etc/passwd
# with a FIFO: the lookup of root at its restart either does without the file
# or fails; it never waits.
@test "restart: a container that replaced its /etc/passwd with a FIFO restarts or fails within seconds" {
	hostile_setup
	ctr_exit id busybox 'rm -f /etc/passwd && mkfifo /etc/passwd'
	bad=0
	hostile_ctl res "$id" restart || bad=1
	[ "$res" = HUNG ] || hostile_finished "$res" "containers/$id/err" || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# #13 item 2.  Every exec session looks the user up in the running
# container's own /etc/passwd and /etc/group, which the container may have
# made FIFOs meanwhile: a session starts (as root) or fails, within seconds.
@test "exec: sessions into containers whose /etc/passwd, then /etc/group, is a FIFO start or fail within seconds" {
	hostile_setup
	ctr_up pw busybox 'rm -f /etc/passwd && mkfifo /etc/passwd'
	ctr_up gr busybox 'rm -f /etc/group && mkfifo /etc/group'
	bad=0
	declare -A handle=() session=()
	for id in "$pw" "$gr"; do
		session[$id]=$(cat "$C/$id/exec/clone")
		hostile_write_start "$C/$id/exec/${session[$id]}/ctl" 'exec id -u'
		handle[$id]=$HOSTILE_HANDLE
	done
	for id in "$pw" "$gr"; do
		hostile_write_finish res "${handle[$id]}" || { bad=1; continue; }
		if [ "${res%%$'\n'*}" = OK ]; then
			out=$(timeout 20 cat "$C/$id/exec/${session[$id]}/out")
			[ "$out" = 0 ] || bk_fail "$id: session output '$out'" || bad=1
		else
			hostile_failed_cleanly "$res" "containers/$id/err" || bad=1
		fi
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# ---- user and group lookup: everything else ---------------------------------------

# The same lookup against everything else a container can put there: sockets
# and device nodes (never opened: the store is nodev, and a node is no
# passwd), 100 GiB sparse files (read up to a cap), directories, symlinks to
# the host's canary (absolute, relative, a chain, a loop) and /etc itself a
# symlink to the host.  Each session runs as root with HOME /root, or fails
# with an errno and a reason: the canary's passwd (root's home /canary-home)
# is never read.
@test "exec: /etc/passwd and /etc/group as sockets, device nodes, 100 GiB sparse files, directories, symlinks to the host (absolute, relative, chain, loop), /etc a symlink to the host: each session runs or fails cleanly, never with the host's passwd" {
	hostile_setup
	up=$HOSTILE_UP${HOSTILE_CAN#/}
	local -a cases=(
		'hostile sock /etc/passwd && hostile sock /etc/group'
		'mknod /etc/passwd c 1 3 && mknod /etc/group c 1 3'
		'mknod /etc/passwd c 1 5 && mknod /etc/group c 1 5'
		'truncate -s 100G /etc/passwd /etc/group'
		'mkdir /etc/passwd /etc/group'
		"ln -s $HOSTILE_CAN/passwd /etc/passwd && ln -s $HOSTILE_CAN/group /etc/group"
		"ln -s $up/passwd /etc/passwd && ln -s $up/group /etc/group"
		"ln -s /p1 /etc/passwd && ln -s p2 /p1 && ln -s $HOSTILE_CAN/passwd /p2 && ln -s /p1 /etc/group"
		'ln -s passwd /etc/passwd && ln -s /etc/group /etc/group'
		"mv /etc /etc.real && ln -s $HOSTILE_CAN /etc"
		"mv /etc /etc.real && ln -s $up /etc"
	)
	for i in "${!cases[@]}"; do
		[[ ${cases[i]} == mv* ]] || cases[i]="rm -f /etc/passwd /etc/group && ${cases[i]}"
	done
	bad=0
	for c in "${cases[@]}"; do
		# A container per case: once its user lookup fails, no session could put /etc back.
		ctr_up id busybox "$c" || { bad=1; continue; }
		# Not id(1): it would read the container's own 100 GiB passwd.
		n=$(cat "$C/$id/exec/clone")
		hostile_write res "$C/$id/exec/$n/ctl" 'exec echo "HOME=$HOME $(grep ^Uid: /proc/self/status | tr -s "\t" " ")"' ||
			{ bad=1; continue; }
		if [ "${res%%$'\n'*}" = OK ]; then
			out=$(timeout 20 cat "$C/$id/exec/$n/out")
			w=$(timeout 20 cat "$C/$id/exec/$n/wait")
			[ "$out" = "HOME=/root Uid: 0 0 0 0" ] && [ "$w" = "exit 0" ] ||
				bk_fail "'$c': the session gave '$out' ($w)" || bad=1
		else
			hostile_failed_cleanly "$res" "containers/$id/err" || bk_fail "'$c'" || bad=1
		fi
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# An image with USER canary (a user only the host's canary passwd knows, uid
# 4242) whose /etc/passwd is a symlink to that file: the lookup stays in the
# image, so the user does not exist (ENOENT, "no such user"), and nothing
# ever runs as uid 4242.
@test "run: USER canary, with /etc/passwd a symlink to the host canary's passwd (absolute, relative, /etc itself): ENOENT, never the host's uid 4242" {
	hostile_setup
	local -a cases=(
		"rm etc/passwd && ln -s $HOSTILE_CAN/passwd etc/passwd"
		"rm etc/passwd && ln -s $HOSTILE_UP${HOSTILE_CAN#/}/passwd etc/passwd"
		"rm -rf etc && ln -s $HOSTILE_CAN etc"
	)
	bad=0
	for c in "${cases[@]}"; do
		dir=$BK_TMP/user-rootfs
		hostile_rootfs "$dir"
		(cd "$dir" && eval "$c")
		hostile_import base "$dir" || { bad=1; continue; }
		hostile_build_ok img "FROM $base"$'\n'"USER canary" || { bad=1; continue; }
		hostile_write res "$C/run" "$img id -u" || { bad=1; continue; }
		if [ "${res%%$'\n'*}" = OK ]; then
			id=$(hostile_ok "$res")
			ct_track "$id"
			timeout 20 cat "$C/$id/wait" >/dev/null
			bk_fail "'$c': the container ran as '$(cat "$C/$id/log")', from the host's passwd"
			bad=1
			continue
		fi
		hostile_failed_cleanly "$res" containers/err || bad=1
		[ "${res%%$'\n'*}" = ENOENT ] && [[ $res == *"no such user"* ]] ||
			bk_fail "'$c': $(tr '\n' ' ' <<<"$res")" || bad=1
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# #13 item 4.  USER nobody with /etc/passwd a device node (1:3, 1:5; a
# container has CAP_MKNOD), a socket, a 100 GiB sparse file, a directory, a
# symlink loop: the start fails within seconds with an errno and a reason,
# without opening the node.
@test "run: USER nobody with /etc/passwd a device node (1:3, 1:5), a socket, a 100 GiB sparse file, a directory, a symlink loop: fails within seconds, never opening the node" {
	hostile_setup
	local -a cases=(
		'mknod /etc/passwd c 1 3'
		'mknod /etc/passwd c 1 5'
		'hostile sock /etc/passwd'
		'truncate -s 100G /etc/passwd'
		'mkdir /etc/passwd'
		'ln -s passwd /etc/passwd'
	)
	bad=0
	for c in "${cases[@]}"; do
		# Made by root in a container, committed, then USER on top.
		ctr_exit id busybox "rm -f /etc/passwd && $c" || { bad=1; continue; }
		hostile_ctl res "$id" commit || { bad=1; continue; }
		base=$(hostile_ok "$res") || { bad=1; continue; }
		hostile_build_ok img "FROM $base"$'\n'"USER nobody" || { bad=1; continue; }
		hostile_write res "$C/run" "$img true" || { bad=1; continue; }
		hostile_failed_cleanly "$res" containers/err || bk_fail "'$c'" || bad=1
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# ---- WorkingDir --------------------------------------------------------------------

# WorkingDir creation at start (mkdir -p of the image's WorkingDir): the
# container replaced /w (or /w/x) by a symlink to the canary, to a host path
# that does not exist (the ghost), a FIFO, a loop.  The restart makes it
# inside the container or fails; no directory appears on the host.
@test "restart: WorkingDir /w/x whose parent became a symlink to the host canary, to a missing host path, a FIFO, a loop: nothing made on the host, done within seconds" {
	hostile_setup
	hostile_build_ok wimg "FROM busybox"$'\n'"WORKDIR /w/x"
	local -a cases=(
		"ln -s $HOSTILE_CAN /w"
		"ln -s $HOSTILE_UP${HOSTILE_CAN#/} /w"
		"ln -s $HOSTILE_GHOST /w"
		"ln -s $HOSTILE_UP${HOSTILE_GHOST#/} /w"
		"mkdir /w && ln -s $HOSTILE_CAN /w/x"
		"mkdir /w && ln -s $HOSTILE_GHOST/a/b /w/x"
		'mkfifo /w'
		'ln -s w /w'
	)
	bad=0
	for c in "${cases[@]}"; do
		# The first run rearranges; the restart makes the WorkingDir again.
		hostile_create id "$wimg" "[ -e /done ] && exit 0; touch /done; cd / && rm -rf /w && $c" || { bad=1; continue; }
		hostile_ctl res "$id" start || { bad=1; continue; }
		hostile_ok "$res" >/dev/null || { bad=1; continue; }
		w=$(timeout 20 cat "$C/$id/wait")
		[ "$w" = "exit 0" ] || bk_fail "'$c': $w: $(cat "$C/$id/log")" || { bad=1; continue; }
		hostile_ctl res "$id" restart || { bad=1; continue; }
		hostile_finished "$res" "containers/$id/err" || bad=1
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# ---- bind targets: /etc/hosts, /etc/hostname, /etc/resolv.conf at start and restart -----
#
# At every start the daemon's hosts, hostname and resolv.conf are bound onto
# /etc/hosts, /etc/hostname and /etc/resolv.conf of the container's
# filesystem, each made if missing (engine/init/setup.c, bind_file).  What is
# there may be anything the image's author (import keeps FIFOs, sockets and
# device nodes as they are) or the container itself (before a restart) put
# there.  Each start or restart finishes within the deadline, succeeding
# (then the container's /etc/hostname is the daemon's) or failing with an
# errno and the reason; no node or FIFO is opened, nothing on the host is
# opened, made or changed (the canary, the ghost); the daemon exits on SIGTERM.

# bind_kinds PATH: BIND_CASES, commands that put something else than a
# regular file at PATH: a FIFO, a socket, device nodes (1:3, 1:5, block
# 7:0), symlinks to the canary's file of that name (absolute, relative, a
# chain whose first hops stay inside), dangling ones to a new file in the
# canary (its directory exists on the host) and to the ghost.  A relative PATH
# (etc/hosts) is for an image's rootfs, where host root runs the commands;
# an absolute one (/etc/hosts) for a container's own shell.
bind_kinds() {
	local p=$1 base=${1##*/} root=${1%%etc/*} sock
	if [ -n "$root" ]; then
		sock="hostile sock $p"
	else
		sock="$BK_PY -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"$p\")'"
	fi
	BIND_CASES=(
		"mkfifo $p"
		"$sock"
		"mknod $p c 1 3"
		"mknod $p c 1 5"
		"mknod $p b 7 0"
		"ln -s $HOSTILE_CAN/$base $p"
		"ln -s $HOSTILE_UP${HOSTILE_CAN#/}/$base $p"
		"ln -s /l1 $p && ln -s l2 ${root}l1 && ln -s $HOSTILE_CAN/$base ${root}l2"
		"ln -s $HOSTILE_CAN/sub/new-$base $p"
		"ln -s $HOSTILE_GHOST/a/$base $p"
	)
}

# bind_etc_kinds ROOT: BIND_CASES, commands that put something else than a
# directory at ROOT/etc (ROOT "" in an image's rootfs, "/" in a container):
# symlinks to the canary (absolute, relative), to the ghost, a FIFO, a
# socket, a device node.
bind_etc_kinds() {
	local e=${1}etc sock
	if [ -n "$1" ]; then
		sock="hostile sock $e"
	else
		sock="$BK_PY -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"$e\")'"
	fi
	BIND_CASES=(
		"ln -s $HOSTILE_CAN $e"
		"ln -s $HOSTILE_UP${HOSTILE_CAN#/} $e"
		"ln -s $HOSTILE_GHOST $e"
		"mkfifo $e"
		"$sock"
		"mknod $e c 1 3"
	)
}

# bind_checked RES ID ERRFILE: a start (RES, hostile_write's; ID "" for a
# run, whose reply is the id) either succeeded, and the container, whose
# command ends with `cat /etc/hostname`, exits 0 having printed the daemon's
# hostname (its id), or it failed cleanly with the reason in ERRFILE.
bind_checked() {
	local res=$1 id=$2 errfile=$3 out w
	if [ "${res%%$'\n'*}" != OK ]; then
		hostile_failed_cleanly "$res" "$errfile"
		return
	fi
	[ -n "$id" ] || id=$(hostile_ok "$res")
	ct_track "$id"
	w=$(timeout 20 cat "$C/$id/wait")
	out=$(cat "$C/$id/log")
	[ "$w" = "exit 0" ] && [ "${out##*$'\n'}" = "$id" ] ||
		bk_fail "$id ran ($w) but its /etc/hostname is not the daemon's: '$out'"
}

# bind_start PREP: for each of BIND_CASES an image, a copy of the busybox
# rootfs where PREP then the case ran (host root, in the rootfs), is run;
# see bind_checked.  Every miss is reported.
bind_start() {
	local prep=$1 c dir=$BK_TMP/bind-rootfs img res bad=0
	for c in "${BIND_CASES[@]}"; do
		hostile_rootfs "$dir"
		(cd "$dir" && eval "$prep && $c") || { bk_fail "'$c'"; bad=1; continue; }
		hostile_import img "$dir" || { bad=1; continue; }
		hostile_write res "$C/run" "$img cat /etc/hostname" || { bad=1; continue; }
		bind_checked "$res" "" containers/err || { bk_fail "'$c'"; bad=1; }
	done
	return "$bad"
}

# bind_restart PREP: for each of BIND_CASES a running container runs PREP
# then the case in its own filesystem, then is restarted (its restarted
# command prints /etc/hostname and exits); see bind_checked.  Its runtime
# files are mount points, which the container cannot remove: PREP moves
# /etc away (the mounts go with it).
bind_restart() {
	local prep=$1 c id res bad=0
	for c in "${BIND_CASES[@]}"; do
		ctr_up id busybox "if [ -e /done ]; then cat /etc/hostname; exit 0; fi; touch /done && $prep && $c && echo made" ||
			{ bk_fail "'$c'"; bad=1; continue; }
		grep -qx made "$C/$id/log" || { bk_fail "'$c' failed: $(cat "$C/$id/log")"; bad=1; continue; }
		hostile_ctl res "$id" 'restart 1' || { bad=1; continue; }
		bind_checked "$res" "$id" "containers/$id/err" || { bk_fail "'$c'"; bad=1; }
	done
	return "$bad"
}

# In a container: /etc moved away, a new one with the image's passwd and group.
BIND_NEW_ETC='mv /etc /etc.real && mkdir /etc && cp -a /etc.real/passwd /etc.real/group /etc/'

@test "start: images whose /etc/hosts is a FIFO, a socket, a device node (1:3, 1:5, block 7:0), a symlink to the host canary (absolute, relative, chain, dangling) or the ghost: each run starts with the daemon's file or fails within seconds; the host untouched" {
	hostile_setup
	bind_kinds etc/hosts
	bad=0
	bind_start 'rm -f etc/hosts' || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

@test "start: /etc/hostname a FIFO, a socket, a device node, a symlink to the host canary or the ghost (as for /etc/hosts): each run starts or fails within seconds; the host untouched" {
	hostile_setup
	bind_kinds etc/hostname
	bad=0
	bind_start 'rm -f etc/hostname' || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

@test "start: /etc/resolv.conf a FIFO, a socket, a device node, a symlink to the host canary or the ghost (as for /etc/hosts): each run starts or fails within seconds; the host untouched" {
	hostile_setup
	bind_kinds etc/resolv.conf
	bad=0
	bind_start 'rm -f etc/resolv.conf' || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

@test "start: images whose /etc is a symlink to the host canary (absolute, relative), to the ghost, a FIFO, a socket, a device node: each run fails or starts within seconds; the host untouched" {
	hostile_setup
	bind_etc_kinds ""
	bad=0
	bind_start 'rm -rf etc' || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

@test "restart: a running container that made its /etc/hosts a FIFO, a socket, a device node (1:3, 1:5, block 7:0), a symlink to the host canary (absolute, relative, chain, dangling) or the ghost: each restart finishes or fails within seconds; the host untouched" {
	hostile_setup
	bind_kinds /etc/hosts
	bad=0
	bind_restart "$BIND_NEW_ETC" || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

@test "restart: /etc/hostname a FIFO, a socket, a device node, a symlink to the host canary or the ghost (as for /etc/hosts): each restart finishes or fails within seconds; the host untouched" {
	hostile_setup
	bind_kinds /etc/hostname
	bad=0
	bind_restart "$BIND_NEW_ETC" || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

@test "restart: /etc/resolv.conf a FIFO, a socket, a device node, a symlink to the host canary or the ghost (as for /etc/hosts): each restart finishes or fails within seconds; the host untouched" {
	hostile_setup
	bind_kinds /etc/resolv.conf
	bad=0
	bind_restart "$BIND_NEW_ETC" || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

@test "restart: a running container that made its /etc a symlink to the host canary (absolute, relative), to the ghost, a FIFO, a socket, a device node: each restart finishes or fails within seconds; the host untouched" {
	hostile_setup
	bind_etc_kinds /
	bad=0
	bind_restart 'mv /etc /etc.real' || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# ---- spare snapshots: the read-ahead of the entrypoint and /bin/sh -------------------------

# #13 item 2.  The spare-snapshot thread reads ahead each image's
# entrypoint (else Cmd[0]) and /bin/sh: an image whose /bin/sh is a FIFO, and
# one whose Entrypoint is a FIFO.  The read-ahead must not wait on them:
# runs of other images stay prompt, the FIFO entrypoint's run fails or runs,
# and SIGTERM stops the daemon within the deadline.
@test "spares: images whose /bin/sh, or Entrypoint, is a FIFO: runs stay prompt, and SIGTERM stops the daemon within the deadline" {
	hostile_setup
	dir=$BK_TMP/fifo-sh
	hostile_rootfs "$dir"
	rm "$dir/bin/sh" && mkfifo "$dir/bin/sh"
	hostile_import shimg "$dir"
	dir=$BK_TMP/fifo-entry
	hostile_rootfs "$dir"
	mkfifo "$dir/entry"
	hostile_import base "$dir"
	hostile_build_ok entimg "FROM $base"$'\n''ENTRYPOINT ["/entry"]'
	bad=0
	# Their spares are made in the background; runs meanwhile.
	sleep 0.5
	hostile_write res "$C/run" "busybox true" || bad=1
	hostile_ok "$res" >/dev/null || bad=1
	hostile_write res "$C/run" "$entimg" || bad=1
	[ "$res" = HUNG ] || hostile_finished "$res" containers/err || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# The read-ahead against symlinks to the host (absolute, relative, /bin
# itself), device nodes, a socket, a symlink loop and a 100 GiB sparse
# /bin/sh: every image gets its spares, the canary is never opened (inotify
# sees no open), SIGTERM stops the daemon.
@test "spares: /bin/sh, /bin and the entrypoint as symlinks to the host, device nodes, a socket, a 100 GiB sparse file: spares are made, the host's files never opened" {
	hostile_setup
	up=$HOSTILE_UP${HOSTILE_CAN#/}
	local -a cases=(
		"ln -sf $HOSTILE_CAN/passwd bin/sh"
		"ln -sf $up/passwd bin/sh"
		"rm -rf bin && ln -s $HOSTILE_CAN bin"
		"rm bin/sh && mknod bin/sh c 1 5"
		"rm bin/sh && mknod bin/sh c 1 3"
		"rm bin/sh && $BK_PY -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"bin/sh\")'"
		"ln -s $HOSTILE_CAN/passwd entry"
		"ln -s e2 entry && ln -s entry e2"
	)
	bad=0
	imgs=()
	for c in "${cases[@]}"; do
		dir=$BK_TMP/spare-rootfs
		hostile_rootfs "$dir"
		(cd "$dir" && eval "$c") || { bk_fail "'$c'"; bad=1; continue; }
		hostile_import base "$dir" || { bad=1; continue; }
		imgs+=("$base")
		hostile_build_ok img "FROM $base"$'\n''ENTRYPOINT ["/entry"]' || { bad=1; continue; }
		imgs+=("$img")
	done
	# A 100 GiB sparse /bin/sh, made by a container (import would copy it) and committed.
	ctr_exit id busybox 'rm /bin/sh && truncate -s 100G /bin/sh'
	hostile_ctl res "$id" commit || bad=1
	img=$(hostile_ok "$res") && imgs+=("$img") || bad=1
	for img in "${imgs[@]}"; do
		bk_wait_until 10 bk_spares_ready "$img" 1 ||
			bk_fail "no spare of $img: $(hostile_daemon_waits)" || bad=1
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# Import gives an image Cmd ["/bin/sh"] when it has a /bin/sh.  Whether it
# has one must be looked up inside the image: a /bin/sh that is an absolute
# symlink to a host file is dangling in the image.  Following it on the host
# tells the image's author whether a host path is a regular file.
@test "import: /bin/sh an absolute symlink to a host file does not give the image Cmd [/bin/sh] (its target is looked up inside the image)" {
	hostile_setup
	dir=$BK_TMP/sh-out
	hostile_rootfs "$dir"
	ln -sf "$HOSTILE_CAN/passwd" "$dir/bin/sh"
	hostile_import img "$dir"
	cmd=$(jq -c '.config.Cmd' "$BK_MNT/images/$img/config")
	bad=0
	[ "$cmd" = null ] || bk_fail "Cmd is $cmd: the daemon followed /bin/sh to the host's $HOSTILE_CAN/passwd" || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# ---- builds ------------------------------------------------------------------------

# Builds FROM a committed image whose /etc, /w, /g and /x/y are symlinks to
# the host (the canary, and the ghost): COPY and ADD destinations, COPY
# --chown (a user lookup), WORKDIR (a mkdir -p, made by the USER), USER then
# WORKDIR, RUN with and without USER.  Each build succeeds with its files
# inside the image or fails cleanly, within seconds; the host is untouched.
@test "build FROM a committed hostile image: COPY, ADD, COPY --chown, WORKDIR, USER, RUN through symlinks to the host finish within seconds, inside the image" {
	hostile_setup
	# The base has its own hosts, hostname, resolv.conf, so that the commit
	# below has no placeholder to clean up (what commit does is tested above).
	dir=$BK_TMP/etc-rootfs
	hostile_rootfs "$dir"
	for f in hosts hostname resolv.conf; do echo "# image's own" >"$dir/etc/$f"; done
	hostile_import base "$dir"
	ctr_exit id "$base" "mv /etc /etc.real && ln -s $HOSTILE_CAN /etc && ln -s $HOSTILE_UP${HOSTILE_CAN#/} /w && ln -s $HOSTILE_GHOST /g && mkdir /x && ln -s $HOSTILE_CAN /x/y"
	hostile_ctl res "$id" "commit hostile:1"
	himg=$(hostile_ok "$res")
	ctx=$BK_TMP/ctx-tar
	mkdir -p "$ctx/in/sub"
	echo tarred >"$ctx/in/sub/t.txt"
	tar -C "$ctx/in" -cf "$ctx/t.tar" sub
	local -a steps=(
		'COPY f.txt /etc/f.txt'
		'COPY f.txt /w/'
		'COPY f.txt /g/sub/f.txt'
		'COPY f.txt /x/y/z/'
		'COPY --chown=nobody f.txt /w/f2'
		'ADD t.tar /w/'
		'ADD t.tar /g/'
		'WORKDIR /w/a/b'
		'WORKDIR /g/a'
		'WORKDIR /x/y/z'
		$'USER nobody\nWORKDIR /x/y/u'
		'RUN echo run >/etc/run.txt'
		$'USER nobody\nRUN id'
	)
	bad=0
	for s in "${steps[@]}"; do
		printf 'FROM %s\n%s\n' "$himg" "$s" >"$ctx/Dockerfile"
		echo copied >"$ctx/f.txt"
		hostile_write res "$BK_MNT/images/build" "$ctx" || { bad=1; continue; }
		hostile_finished "$res" images/err || bk_fail "step '$s'" || bad=1
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# #13 item 2 in builds: USER then WORKDIR (the directory is made owned by the
# USER, looked up in the image's passwd) and COPY --chown against an image
# whose /etc/passwd is a FIFO: both builds finish within seconds.
@test "build FROM an image whose /etc/passwd is a FIFO: USER then WORKDIR, and COPY --chown, finish within seconds" {
	hostile_setup
	dir=$BK_TMP/fifo-rootfs
	hostile_rootfs "$dir"
	rm "$dir/etc/passwd" && mkfifo "$dir/etc/passwd"
	hostile_import base "$dir"
	bad=0
	handles=()
	for s in $'USER nobody\nWORKDIR /w' 'COPY --chown=nobody f.txt /f'; do
		ctx=$(mktemp -d "$BK_TMP/ctx.XXXXXX")
		printf 'FROM %s\n%s\n' "$base" "$s" >"$ctx/Dockerfile"
		echo x >"$ctx/f.txt"
		hostile_write_start "$BK_MNT/images/build" "$ctx"
		handles+=("$HOSTILE_HANDLE")
	done
	for h in "${handles[@]}"; do
		hostile_write_finish res "$h" || { bad=1; continue; }
		hostile_finished "$res" images/err || bad=1
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# ---- deep trees, loops, nested subvolumes, swaps during stop and rm ------------------

# What else a container can leave in its filesystem for the daemon: a
# 3000-level deep tree, 64 symlinks in a loop, btrfs subvolumes made inside
# it and snapshots of its own root (allowed to root without CAP_SYS_ADMIN),
# and its root subvolume made read-only under it.  Commit, exec, stop,
# restart, rm (rmdir) and rm force each finish within seconds, and nothing is
# left in the store (no orphan subvolume, tmp/ empty).
@test "deep trees, symlink loops, nested btrfs subvolumes and snapshots, a read-only root: commit, exec, stop, restart, rm, rm force finish within seconds; nothing left" {
	hostile_setup
	local -a prep=(
		'hostile deep /deep 3000'
		'mkdir /loops && hostile loops /loops 64 && ln -s loops/l0 /etc/l'
		'hostile subvol /sv && echo x >/sv/f && hostile subvol /sv/inner'
		'hostile snap / /snap && hostile snap /sv /snap/sv2'
	)
	# Once: a restart runs it again.
	ctr_up id busybox "if [ ! -e /done ]; then $(printf '%s && ' "${prep[@]}") touch /done; fi"
	bad=0
	hostile_ctl res "$id" commit || bad=1
	img=$(hostile_ok "$res") || bad=1
	hostile_exec out "$id" 'ls /deep /sv /snap >/dev/null && echo ok' || bad=1
	[ "$out" = ok ] || bk_fail "exec: $out" || bad=1
	for line in 'stop 1' 'restart 1' 'stop 1'; do
		hostile_ctl res "$id" "$line" || bad=1
		hostile_ok "$res" >/dev/null || bk_fail "$line: $(hostile_err "$id")" || bad=1
	done
	# rm of the stopped container (rmdir), with everything still in place.
	timeout "$HOSTILE_DEADLINE" rmdir "$C/$id" || bk_fail "rmdir $id" || bad=1
	[ ! -e "$C/$id" ] || bk_fail "$id still listed" || bad=1
	if [ -n "$img" ]; then
		timeout 20 rmdir "$BK_MNT/images/$img" || bk_fail "rmdir $img" || bad=1
	fi
	# A container that makes its own root read-only under itself.
	ctr_up ro busybox 'hostile ro /'
	grep -q 'hostile:' "$C/$ro/log" && bk_fail "hostile ro: $(cat "$C/$ro/log")" && bad=1
	for line in commit 'restart 1' 'rm force'; do
		hostile_ctl res "$ro" "$line" || { bad=1; continue; }
		hostile_finished "$res" "containers/$ro/err" || bk_fail "$line" || bad=1
	done
	bk_nothing_partial || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# A container whose processes keep exchanging /etc, its WorkingDir /w and /bin
# with symlinks to the host while the daemon runs exec sessions (user
# lookup), stop, restart (user lookup, WorkingDir) and rm force: each
# finishes within seconds, sessions never get the canary's passwd.
@test "stop, restart, exec and rm force while the container swaps /etc, its WorkingDir and /bin with symlinks to the host in tight loops" {
	hostile_setup
	hostile_build_ok wimg "FROM busybox"$'\n'"WORKDIR /w/x"
	local -a prep=(
		"ln -sfn $HOSTILE_CAN /etc.flip"
		"ln -sfn $HOSTILE_UP${HOSTILE_CAN#/} /w.flip"
		"ln -sfn $HOSTILE_CAN /bin.flip"
		# The loops run from a copy outside /bin: /bin is one of the paths swapped away.
		'cp /bin/hostile /hostile.keep'
		'{ /hostile.keep swap /etc /etc.flip & }'
		'{ /hostile.keep swap /w /w.flip & }'
		'{ /hostile.keep swap /bin /bin.flip & }'
		'echo ready'
		'exec /hostile.keep swap /w /w.flip'
	)
	hostile_run_ok id "$wimg" "cd / && $(printf '%s; ' "${prep[@]}")"
	ct_wait_log "$id" '^ready$'
	bad=0
	for i in 1 2 3 4 5; do
		n=$(cat "$C/$id/exec/clone")
		hostile_write res "$C/$id/exec/$n/ctl" 'exec echo HOME=$HOME' || { bad=1; continue; }
		if [ "${res%%$'\n'*}" = OK ]; then
			out=$(timeout 20 cat "$C/$id/exec/$n/out")
			[[ $out != *canary-home* ]] || bk_fail "session $i: '$out': the host's passwd" || bad=1
		else
			hostile_failed_cleanly "$res" "containers/$id/err" || bad=1
		fi
	done
	hostile_ctl res "$id" 'stop 1' || bad=1
	hostile_ok "$res" >/dev/null || bad=1
	for i in 1 2; do
		hostile_ctl res "$id" 'restart 1' || bad=1
		hostile_finished "$res" "containers/$id/err" || bad=1
	done
	hostile_ctl res "$id" 'rm force' || bad=1
	hostile_ok "$res" >/dev/null || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# ---- /proc/1 ------------------------------------------------------------------------

# The host paths that nothing in a container's /proc/1 may name.
host_paths() {
	echo "$BK_TMP" "$BK_MNT" "$BK_STORE" "$(dirname "$NET_BIN_REAL")"
}

# proc1_scan: a one-line script (an exec session takes one line) that prints
# PID 1's command line, then "LEAK FILE" for every readable file under /proc/1
# (and its task and net) holding one of host_paths, then "scanned".  (NULs
# become newlines: busybox grep stops at a NUL.)
proc1_scan() {
	local p pat=""
	for p in $(host_paths); do
		pat+=" -e $p"
	done
	printf '%s; %s; %s' \
		"echo \"cmdline: \$(tr '\\0' ' ' </proc/1/cmdline)\"" \
		"cd /proc/1 && for f in * task/1/* net/*; do case \$f in *mem | *pagemap | *clear_refs) continue ;; esac; [ -f \"\$f\" ] && timeout 2 cat \"\$f\" 2>/dev/null | tr '\\0' '\\n' | grep -qF $pat && echo \"LEAK \$f\"; done" \
		'echo scanned'
}

# #13 item 3.  Nothing under /proc/1 of a container (cmdline, mountinfo,
# environ if readable, status, its task's files, net/...), read from the
# container's command and from an exec session, names the tree's mount point
# (BK_MNT), the store (BK_STORE), their directory or the daemon's binary.
# mountinfo's roots such as /containers/ID/rootfs are paths inside the btrfs
# filesystem, not host paths, and are allowed.
@test "/proc/1 in a container (its command, an exec session) names neither the tree's mount point, the store nor the daemon's binary" {
	hostile_setup
	hostile_run_ok id busybox "$(proc1_scan); echo ready; exec sleep 1000"
	ct_wait_log "$id" '^ready$'
	log=$(cat "$C/$id/log")
	hostile_exec out "$id" "$(proc1_scan)"
	bad=0
	for o in "$log" "$out"; do
		grep -qx scanned <<<"$o" || bk_fail "the scan did not finish: $o" || bad=1
		! grep -q '^LEAK' <<<"$o" ||
			bk_fail "host paths ($(host_paths)) in: $(grep -E '^(LEAK|cmdline)' <<<"$o" | tr '\n' ';')" || bad=1
	done
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# ---- images with no entry for / -----------------------------------------------------

# What an image's command prints: its uid, /'s mode:uid:gid, and that it can list /bin.
ROOT_CHECK='id -u; stat -c %a:%u:%g /; ls /bin >/dev/null && echo listed'

# run_as_nobody IMG: run IMG's own command; it must exit 0 and print
# 65534, 755:0:0, listed.  Also / in the store.
run_as_nobody() {
	local img=$1 res id w bad=0 mode
	mode=$(stat -c %a:%u:%g "$(image_root "$img")")
	[ "$mode" = 755:0:0 ] || bk_fail "the image's / is $mode" || bad=1
	hostile_write res "$C/run" "$img" || return 1
	id=$(hostile_ok "$res") || { bk_fail "run: $(cat "$BK_MNT/containers/err")"; return 1; }
	ct_track "$id"
	w=$(timeout 20 cat "$C/$id/wait")
	[ "$w" = "exit 0" ] && [ "$(cat "$C/$id/log")" = $'65534\n755:0:0\nlisted' ] ||
		bk_fail "$w: $(cat "$C/$id/log")" || bad=1
	return "$bad"
}

# A FROM scratch build: the image's / is made by the daemon, not by a layer;
# it must be 0755 root:root as Docker's, or USER nobody cannot reach /bin.
@test "build FROM scratch: / is 0755 root:root as Docker's, so USER nobody runs" {
	hostile_setup
	ctx=$BK_TMP/ctx-scratch
	mkdir -p "$ctx"
	hostile_rootfs "$ctx/rootfs"
	# Directories one by one: a COPY of the whole tree to / could set /'s mode from its source.
	cat >"$ctx/Dockerfile" <<-EOF
		FROM scratch
		COPY rootfs/bin /bin
		COPY rootfs/etc /etc
		USER nobody
		CMD ["/bin/sh", "-c", "$ROOT_CHECK"]
	EOF
	hostile_write res "$BK_MNT/images/build" "$ctx"
	img=$(hostile_ok "$res")
	bad=0
	run_as_nobody "$img" || bad=1
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

# A plain registry in the daemon's namespace (the daemon pulls from its own
# 127.0.0.1), filled by push.py's helpers from the host through nsenter.
reg_start() {
	BK_REG_DIR=$BK_TMP/reg
	mkdir -p "$BK_REG_DIR"
	bk_reg_config plain 5000 >"$BK_REG_DIR/plain.yml"
	# exec: $! is the registry itself, killed and reaped by teardown.
	(exec nsenter --net="/run/netns/$NET_NS" docker-registry serve "$BK_REG_DIR/plain.yml") \
		</dev/null >"$BK_REG_DIR/plain.log" 2>&1 3>&- &
	bk_track helper $!
	REG=127.0.0.1:5000
	bk_wait_until 10 nh curl -s -o /dev/null --max-time 1 "http://$REG/v2/" ||
		bk_fail "no registry: $(cat "$BK_REG_DIR/plain.log")"
}

# A pulled image whose only layer has no entry for "/" (a tar of named
# directories, as many tools write them) and whose config says USER nobody:
# / must be 0755 root:root, as Docker makes it, so that the image runs, and an
# exec session too.
@test "pull: an image whose layer has no entry for / gets / 0755 root:root, so USER nobody runs" {
	hostile_setup
	reg_start
	dir=$BK_TMP/noroot
	hostile_rootfs "$dir"
	# Named entries only (bin, etc, ...): no "./" for the root, as many tools write them.
	tar -C "$dir" -cf "$BK_TMP/layer.tar" bin etc tmp root
	! tar -tf "$BK_TMP/layer.tar" | grep -qxE '\./?' || bk_fail "the layer has a root entry"
	arch=$(uname -m)
	case $arch in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
	nh "$BK_PY" - "$BK_LIB/registry" "$REG" "$BK_TMP/layer.tar" "$arch" "$ROOT_CHECK" <<-'EOF'
		import hashlib, json, sys
		sys.path.insert(0, sys.argv[1])
		from push import put_blob, put_manifest
		reg, layer, arch, cmd = sys.argv[2], open(sys.argv[3], "rb").read(), sys.argv[4], sys.argv[5]
		repo = "test/noroot"
		ldig = put_blob(reg, repo, layer)
		cfg = json.dumps({"architecture": arch, "os": "linux",
		                  "config": {"User": "nobody", "Env": ["PATH=/bin"],
		                             "Cmd": ["/bin/sh", "-c", cmd]},
		                  "rootfs": {"type": "layers",
		                             "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
		man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
		                  "digest": put_blob(reg, repo, cfg), "size": len(cfg)},
		       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
		                   "digest": ldig, "size": len(layer)}]}
		put_manifest(reg, repo, "1", man, man["mediaType"])
	EOF
	hostile_write res "$BK_MNT/images/pull" "$REG/test/noroot:1" 30
	img=$(hostile_ok "$res")
	bad=0
	run_as_nobody "$img" || bad=1
	# An exec session as the image's user too.
	if hostile_run_ok id "$img" 'echo ready; exec sleep 1000' && ct_wait_log "$id" '^ready$'; then
		hostile_exec out "$id" "$ROOT_CHECK" || bad=1
		[ "$out" = $'65534\n755:0:0\nlisted' ] || bk_fail "exec: $out" || bad=1
	else
		bad=1
	fi
	hostile_finish || bad=1
	[ "$bad" = 0 ]
}

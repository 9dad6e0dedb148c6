#!/usr/bin/env bats
# An attacker's review of the OCI runtime (bockerfs-runtime), driven directly
# with bundles made here (tests/lib/ocibundle.bash: a busybox rootfs, `runc
# spec` edited with python3, a private --root, a JSON --log), no containerd.
# What runc does is the bar: the tests that set an expectation pass with it,
#   BK_OCI_RUNTIME=/usr/sbin/runc bats tests/e2e/75-runtime-abuse.bats
# (those about bockerfs-runtime's own limits and messages skip there).  Debian's
# runc 1.1.5 fails four, on bugs of its own that this runtime must not share:
# it makes /dev's symlinks (fd, stdin, ptmx...) through an image's /dev link
# on the host (the /dev link tests), falls for an image's /dev/null symlink
# (CVE-2025-31133: here a harmless file, not core_pattern), and two creates
# of one id at once leave the winner without its state and its init running.
#
#   - a hostile rootfs or bundle: root.path a symlink; mount destinations
#     through absolute and relative symlinks out of the rootfs and with ".."
#     (the mount lands inside, the host canary directory untouched); masked
#     and read-only paths, device nodes and the cwd through symlinks out;
#     /proc and /dev of the image symlinks; CVE-2019-5736 (the runtime's
#     binary reached through /proc/PID/exe of a created init, and through a
#     process.args[0] that is a symlink to /proc/self/exe): the host's binary
#     (a copy the test runs) keeps its sha256
#   - leaked fds: the container gets 0, 1, 2 (and --preserve-fds), never the
#     caller's others, the bundle or the state root; CVE-2024-21626
#     (process.cwd /proc/self/fd/N) at create and at exec
#   - bad config.json: each fails create with a message on stderr and a
#     "level":"error" line in the log, and leaves no state dir, group,
#     process or mount
#   - ids that are paths, empty or too long: refused, nothing made or removed
#     outside --root
#   - the isolation a containerd-like config asks for: capabilities, masked
#     and read-only /proc and /sys, seccomp, no_new_privs, hostname, user and
#     groups, rlimits, a read-only root, sysctls only in the container's own
#     namespaces, a pid namespace
#   - lifecycle abuse: start twice, start after the init died (fails fast),
#     delete of a running container, kill of a stopped one, two creates of
#     one id at once, state of a missing id, a pid file that cannot be
#     written
#   - the state dir and exec.fifo out of the container's reach
#
# Cleanup (ob_teardown) is by the ids, pids, groups and paths a test made.

# Single-quoted scripts are expanded in the container; echo $(...) on purpose
# makes a container's output one line of words:
# shellcheck disable=SC2016,SC2005,SC2046,SC2086,SC2116
bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/ocibundle'

: "${BATS_TEST_TIMEOUT:=120}"

setup_file() {
	ob_setup_file
}

teardown_file() {
	ob_teardown_file
}

setup() {
	ob_setup
}

teardown() {
	ob_teardown
	# A bind that escaped to the host's /etc (the symlink test) would have made this.
	[ -n "${ETC_PROBE:-}" ] && rm -rf "/etc/${ETC_PROBE:?}"
	return 0
}

# refused ID: say (in the TAP output) that a create a test allows to fail did, and why.
refused() {
	echo "# $1: refused: $(head -c 200 "$OB_TMP/$1.out")" >&3
}

# The names at the top of the busybox rootfs: what `ls /` prints inside.
ROOT_LS="bin dev etc home proc root sys tmp var"

# created_fails ID BUNDLE [OPTS]: create must fail (status != 0) with a
# message on stderr and an error line in the JSON log, and leave nothing.
create_fails() {
	local id=$1 b=$2 rc=0
	shift 2
	ob_track_id "$id"
	: >"$OB_LOG"
	# Files, never a pipe: an init that wrongly survives would hold it open.
	ob_rt create --bundle "$b" --pid-file "${PIDFILE:-$OB_TMP/$id.pid}" "$@" "$id" \
		</dev/null >"$OB_TMP/$id.out" 2>"$OB_TMP/$id.err" || rc=$?
	CREATE_ERR=$(cat "$OB_TMP/$id.err")
	[ "$rc" != 0 ] || bk_fail "create $id succeeded: $(cat "$OB_TMP/$id.out")" || return
	[ -n "$CREATE_ERR" ] || bk_fail "create $id failed (rc $rc) with nothing on stderr" || return
	grep -q '"level":"error"' "$OB_LOG" ||
		bk_fail "no error in the log: $(cat "$OB_LOG")" || return
	ob_nothing_left "$id" "$b"
}

# ---- 1. A hostile rootfs or bundle ------------------------------------------------------------

@test "root.path a symlink: followed to its target at create, or refused as runc refuses; a dangling one leaves nothing" {
	local b
	b=$(ob_bundle rp)
	mv "$b/rootfs" "$b/real" && ln -s real "$b/rootfs"
	echo inside >"$b/real/marker"
	ob_args "$b" sh -c 'cat /marker; ls /'
	if ob_try_create rp1 "$b"; then
		# The link swapped after create changes nothing: the root was resolved once.
		rm "$b/rootfs" && ln -s / "$b/rootfs"
		ob_start rp1
		ob_wait_exit rp1
		[ "$(echo $(cat "$OB_TMP/rp1.out"))" = "inside bin dev etc home marker proc root sys tmp var" ] ||
			bk_fail "container: $(cat "$OB_TMP/rp1.out")"
	else
		grep -qi 'symlink\|root' "$OB_TMP/rp1.out"
		refused rp1
		ob_nothing_left rp1 "$b"
	fi

	b=$(ob_bundle rp2)
	rm -rf "$b/rootfs" && ln -s "$OB_TMP/nowhere" "$b/rootfs"
	create_fails rp2 "$b"
	[ ! -e "$OB_TMP/nowhere" ]
}

# binds_through_link LINK_TARGET: /evil in the rootfs is a symlink to
# LINK_TARGET, which names the host's canary; binds (a directory, a file) and
# a tmpfs are asked at /evil/x, /evil/y, /evil/t.  They must land in the
# rootfs (where the canary's path, made there too, resolves inside), never on
# the host canary, and the container sees them.
binds_through_link() {
	local b=$OB_TMP/$1
	b=$(ob_bundle "$1")
	mkdir -p "$b/rootfs$OB_CANARY" "$OB_TMP/src"
	echo bound-dir >"$OB_TMP/src/f"
	echo bound-file >"$OB_TMP/srcfile"
	ln -s "$2" "$b/rootfs/evil"
	ob_edit "$b" '
c["mounts"] += [
  {"destination": "/evil/x", "type": "bind", "source": sys.argv[2], "options": ["rbind", "ro"]},
  {"destination": "/evil/y", "type": "bind", "source": sys.argv[3], "options": ["bind", "ro"]},
  {"destination": "/evil/t", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}]' \
		"$OB_TMP/src" "$OB_TMP/srcfile"
	ob_args "$b" sh -c 'cat /evil/x/f /evil/y; echo made >/evil/t/n && cat /evil/t/n'
	ob_run_out "$1" "$b"
	ob_canary_intact
	[ "$OB_OUT" = $'bound-dir\nbound-file\nmade' ] || bk_fail "container saw: $OB_OUT"
	# The mount points were made inside the rootfs, at the link's target there.
	[ -d "$b/rootfs$OB_CANARY/x" ] && [ -f "$b/rootfs$OB_CANARY/y" ]
}

@test "mount destinations through an absolute symlink to a host directory land inside the rootfs" {
	binds_through_link abs "$OB_CANARY"
}

@test "mount destinations through a relative symlink climbing out of the rootfs land inside it" {
	binds_through_link rel "../../../../../../../../../..$OB_CANARY"
}

@test "rootfs/etc -> /etc and a bind to /etc/x: the host's /etc is never touched" {
	local b
	ETC_PROBE=bkob-probe-${OB_TMP##*-}
	b=$(ob_bundle etc)
	rm -rf "$b/rootfs/etc"
	ln -s /etc "$b/rootfs/etc"
	echo bound >"$OB_TMP/srcfile"
	ob_edit "$b" 'c["mounts"].append({"destination": "/etc/" + sys.argv[2], "type": "bind",
  "source": sys.argv[3], "options": ["bind"]})' "$ETC_PROBE" "$OB_TMP/srcfile"
	ob_args "$b" cat "/etc/$ETC_PROBE"
	if ob_try_create etc "$b"; then
		ob_start etc
		ob_wait_exit etc
		[ "$(cat "$OB_TMP/etc.out")" = bound ]
	else
		# /etc -> /etc inside the root is a loop: refused.
		refused etc
		ob_nothing_left etc "$b"
	fi
	[ ! -e "/etc/$ETC_PROBE" ] || bk_fail "the bind made /etc/$ETC_PROBE on the host"
}

@test "mount destinations with .. components stay inside the rootfs" {
	local b
	b=$(ob_bundle dots)
	mkdir -p "$OB_TMP/src"
	echo bound >"$OB_TMP/src/f"
	ob_edit "$b" '
c["mounts"] += [
  {"destination": "/tmp/../../../../../../../.." + sys.argv[2] + "/dd", "type": "bind",
   "source": sys.argv[3], "options": ["rbind"]},
  {"destination": "/../../../../../../../.." + sys.argv[2] + "/t2", "type": "tmpfs", "source": "tmpfs",
   "options": ["size=1m"]}]' "$OB_CANARY" "$OB_TMP/src"
	ob_args "$b" sh -c 'cat '"$OB_CANARY"'/dd/f && echo made >'"$OB_CANARY"'/t2/n && cat '"$OB_CANARY"'/t2/n'
	if ob_try_create dots "$b"; then
		ob_start dots
		ob_wait_exit dots
		[ "$(cat "$OB_TMP/dots.out")" = $'bound\nmade' ] || bk_fail "container: $(cat "$OB_TMP/dots.out")"
	else
		refused dots
		ob_nothing_left dots "$b"
	fi
	ob_canary_intact
	# Nothing mounted on the host under the test's directory (the bind or the tmpfs).
	[ -z "$(bk_mounts_under "$OB_TMP")" ]
}

@test "maskedPaths and readonlyPaths through symlinks out of the rootfs apply inside it" {
	local b
	b=$(ob_bundle mask)
	mkdir -p "$b/rootfs$OB_CANARY"
	echo inside >"$b/rootfs$OB_CANARY/HOSTMARK"
	ln -s "$OB_CANARY/HOSTMARK" "$b/rootfs/m"
	ln -s "../../../../../../..$OB_CANARY" "$b/rootfs/r"
	ob_edit "$b" 'cg["maskedPaths"] = ["/m"]; cg["readonlyPaths"] = ["/r"]'
	ob_args "$b" sh -c 'echo "m=$(cat /m)"; touch /r/new 2>/dev/null && echo r=writable || echo r=ro'
	ob_run_out mask "$b"
	[ "$OB_OUT" = $'m=\nr=ro' ] || bk_fail "container: $OB_OUT"
	ob_canary_intact
	[ "$(cat "$b/rootfs$OB_CANARY/HOSTMARK")" = inside ]
}

@test "linux.devices under a /dev that is a symlink out of the rootfs are made inside it" {
	local b
	b=$(ob_bundle devs)
	rm -rf "$b/rootfs/dev"
	ln -s "$OB_CANARY" "$b/rootfs/dev"
	mkdir -p "$b/rootfs$OB_CANARY"
	# No /dev file system of the container's own: the image's /dev (the link) is used.
	ob_edit "$b" '
c["mounts"] = [m for m in c["mounts"] if not m["destination"].startswith("/dev")]
cg["maskedPaths"] = []  # they would need a /dev/null in the image
cg["devices"] = [{"path": "/dev/bkob-null", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]'
	ob_args "$b" sh -c 'echo hi >/dev/bkob-null && stat -c "%F %t:%T" /dev/bkob-null'
	if ob_try_create devs "$b"; then
		ob_start devs
		ob_wait_exit devs
		[ "$(cat "$OB_TMP/devs.out")" = "character special file 1:3" ] ||
			bk_fail "container: $(cat "$OB_TMP/devs.out")"
		[ -c "$b/rootfs$OB_CANARY/bkob-null" ]
	else
		refused devs
		ob_nothing_left devs "$b"
	fi
	ob_canary_intact
}

@test "linux.devices paths outside /dev and with .. are made inside the rootfs or refused" {
	local b
	b=$(ob_bundle devout)
	mkdir -p "$b/rootfs$OB_CANARY"
	ob_edit "$b" '
cg["devices"] = [
  {"path": "/../../../../../../../.." + sys.argv[2] + "/node1", "type": "c", "major": 1, "minor": 3},
  {"path": "/etc/node2", "type": "c", "major": 1, "minor": 5}]' "$OB_CANARY"
	ob_args "$b" sh -c 'stat -c "%F %t:%T" '"$OB_CANARY"'/node1 /etc/node2'
	if ob_try_create devout "$b"; then
		ob_start devout
		ob_wait_exit devout
		[ "$(cat "$OB_TMP/devout.out")" = $'character special file 1:3\ncharacter special file 1:5' ] ||
			bk_fail "container: $(cat "$OB_TMP/devout.out")"
	else
		refused devout
		ob_nothing_left devout "$b"
	fi
	ob_canary_intact
	[ ! -e /etc/node2 ] && [ ! -e "$OB_TMP/node1" ]
}

@test "process.cwd through a symlink out of the rootfs, or with .., stays inside it" {
	local b cwd i=0
	for cwd in /w /w/sub /../../../../../.. /tmp/../../../..; do
		i=$((i + 1))
		b=$(ob_bundle "cwd$i")
		ln -s "$OB_CANARY" "$b/rootfs/w"
		ob_edit "$b" 'p["cwd"] = sys.argv[2]' "$cwd"
		ob_args "$b" sh -c 'ls -A; echo "--"; cd ../../../../../../..; ls'
		if ob_try_create "cwd$i" "$b"; then
			ob_start "cwd$i"
			ob_wait_exit "cwd$i"
			run cat "$OB_TMP/cwd$i.out"
			[[ "$output" != *HOSTMARK* ]] || bk_fail "cwd $cwd: the host canary is seen: $output"
			[ "$(echo ${output#*--})" = "$ROOT_LS w" ] || bk_fail "cwd $cwd: .. reached $output"
		else
			refused "cwd$i"
			ob_nothing_left "cwd$i" "$b"
		fi
		ob_canary_intact
	done
}

# The isolation a containerd-like config gives, as a container of bundle B sees it.
masks_hold() {
	local id=$1 b=$2
	ob_args "$b" sh -c '
echo "timer_list=$(head -c 16 /proc/timer_list | wc -c)"
m=$(readlink -f /proc/sys)
echo "sys=$(awk -v m=$m '\''$5 == m { split($6, o, ","); print o[1] }'\'' /proc/self/mountinfo)"
echo "firmware=$(ls -A /sys/firmware | wc -l)"
echo "status=$(grep -c ^NoNewPrivs /proc/self/status)"'
	ob_run_out "$id" "$b"
	[ "$OB_OUT" = $'timer_list=0\nsys=ro\nfirmware=0\nstatus=1' ] || bk_fail "$id: $OB_OUT"
}

@test "/proc of the image a symlink: refused as runc refuses, or procfs mounted inside with its masks" {
	local b target i=0
	for target in /tmp "$OB_CANARY" ../../../../../../../../tmp; do
		i=$((i + 1))
		b=$(ob_bundle "proc$i")
		ob_containerd_like "$b"
		rm -rf "$b/rootfs/proc"
		ln -s "$target" "$b/rootfs/proc"
		ob_args "$b" true
		if ob_try_create "proc$i" "$b"; then
			ob_rt delete --force "proc$i"
			masks_hold "proc${i}b" "$b"
		else
			refused "proc$i"
			ob_nothing_left "proc$i" "$b"
		fi
		ob_canary_intact
	done
}

@test "with the bundle on a shared mount, nothing the container mounts shows on the host (rslave and shared rootfsPropagation)" {
	local b prop
	for prop in "" shared; do
		b=$(ob_bundle "prop$prop")
		mount --bind "$b" "$b" && mount --make-rshared "$b"
		# runc spec sets none (rslave); "shared" is what a caller may ask.
		[ -z "$prop" ] || ob_edit "$b" 'cg["rootfsPropagation"] = sys.argv[2]' "$prop"
		ob_args "$b" sleep 1000
		ob_create "prop$prop" "$b"
		ob_start "prop$prop"
		wait_workload "$OB_PID"
		[ "$(bk_mounts_under "$b")" = "$b" ] || bk_fail "propagation '$prop': on the host: $(bk_mounts_under "$b")"
		ob_rt delete --force "prop$prop"
		[ "$(bk_mounts_under "$b")" = "$b" ] || bk_fail "propagation '$prop', deleted: $(bk_mounts_under "$b")"
		umount "$b"
	done
}

# The names a runtime makes in a container's /dev.
DEV_NAMES="null zero full random urandom tty ptmx pts shm mqueue fd stdin stdout stderr console"

# dev_names_in DIR: those of DEV_NAMES that DIR has.
dev_names_in() {
	local n
	for n in $DEV_NAMES; do
		[ -e "$1/$n" ] || [ -L "$1/$n" ] && echo "$n"
	done
	return 0
}

@test "/dev of the image a symlink to /tmp: the container's nodes are made inside, the host's /tmp untouched" {
	local b n before made=""
	b=$(ob_bundle devtmp)
	rm -rf "$b/rootfs/dev"
	ln -s /tmp "$b/rootfs/dev"
	before=$(dev_names_in /tmp)
	ob_args "$b" sh -c 'echo x >/dev/null && stat -c "%F %t:%T" /dev/null /dev/zero'
	ob_run_out devtmp "$b" || true
	for n in $(dev_names_in /tmp); do
		[[ $'\n'"$before"$'\n' == *$'\n'"$n"$'\n'* ]] && continue
		made="$made $n -> $(readlink "/tmp/$n")"
		# Only what this test made there (links and nodes), never a directory.
		[ -L "/tmp/$n" ] || [ -c "/tmp/$n" ] && rm -f "/tmp/$n"
	done
	[ -z "$made" ] || bk_fail "made in the host's /tmp:$made"
	[ "$OB_OUT" = $'character special file 1:3\ncharacter special file 1:5' ] || bk_fail "container: $OB_OUT"
}

@test "CVE-2025-31133: an image's /dev/null that is a symlink is never what covers a masked path" {
	local b
	b=$(ob_bundle devnull)
	# No /dev of the container's own: the image's /dev/null is what a runtime finds.
	# The attack points it at /proc/sys/kernel/core_pattern; here at a file of the
	# image, so that a runtime that falls for it (runc 1.1.5 does: the container's
	# stdio and the masked path become that file) harms nothing.
	rm -f "$b/rootfs/dev/null"
	echo not-null >"$b/rootfs/notnull"
	ln -s /notnull "$b/rootfs/dev/null"
	ob_edit "$b" '
c["mounts"] = [m for m in c["mounts"] if not m["destination"].startswith("/dev")]
cg["maskedPaths"] = ["/proc/timer_list"]
cg["readonlyPaths"] = []'
	ob_args "$b" sh -c 'echo "$(head -c 64 /proc/timer_list | wc -c) $(stat -c %t:%T /proc/timer_list)"'
	if ob_try_create devnull "$b"; then
		ob_start devnull
		ob_wait_exit devnull
		# Masked: /dev/null's 1:3, empty; never core_pattern bound there.
		[ "$(cat "$OB_TMP/devnull.out")" = "0 1:3" ] || bk_fail "container: $(cat "$OB_TMP/devnull.out")"
	else
		refused devnull
		ob_nothing_left devnull "$b"
	fi
}

# A copy of the runtime for a test that tries to overwrite it; OB_RT runs it.
rt_copy() {
	mkdir -p "$OB_TMP/bin" && cp "$OB_RT" "$OB_TMP/bin/" || return
	OB_RT=$OB_TMP/bin/$(basename "$OB_RT")
	RT_SUM=$(sha256sum <"$OB_RT")
}

@test "CVE-2019-5736: the runtime's binary, reached through /proc/1/exe of a created container, cannot be overwritten" {
	local b i
	rt_copy
	b=$(ob_bundle exe)
	ob_args "$b" sh -c 'sleep 6'
	ob_create exe "$b"
	# Exec'd while the init waits for start: it holds what /proc/1/exe is, and writes
	# through it once start has let the init go (the binary is then no longer busy).
	ob_rt exec -d exe sh -c '
: >/tmp/res
command exec 5</proc/1/exe 2>/dev/null && echo "opened $(readlink /proc/1/exe)" >>/tmp/res
: >/tmp/ready
while [ ! -e /tmp/go ]; do sleep 0.05; done
i=0
while [ $i -lt 60 ]; do
	if (echo PWNED >/proc/self/fd/5) 2>/dev/null; then echo wrote >>/tmp/res; break; fi
	i=$((i + 1)); sleep 0.05
done
echo done >>/tmp/res' </dev/null >"$OB_TMP/exec.out" 2>&1
	bk_wait_until 10 test -e "$b/rootfs/tmp/ready" || bk_fail "the exec'd process did not start"
	ob_start exe
	touch "$b/rootfs/tmp/go"
	bk_wait_until 10 grep -q '^done$' "$b/rootfs/tmp/res" || bk_fail "no result: $(cat "$b/rootfs/tmp/res")"
	echo "# $(tr '\n' ' ' <"$b/rootfs/tmp/res")" >&3
	[ "$(sha256sum <"$OB_RT")" = "$RT_SUM" ] ||
		bk_fail "the runtime's binary was overwritten from the container: $(head -c 64 "$OB_RT")"
	if grep -q '^wrote$' "$b/rootfs/tmp/res"; then bk_fail "the container wrote the binary"; fi
}

@test "CVE-2019-5736: process.args[0] a symlink to /proc/self/exe never gives the container the runtime's binary to write" {
	local b f i
	rt_copy
	b=$(ob_bundle selfexe)
	# The runtime's libraries in the image, as an attacker's image would carry them,
	# so that the runtime's binary, exec'd in the container, runs there.
	for f in $(ldd "$OB_RT" | grep -o '/[^ ]*'); do
		mkdir -p "$b/rootfs$(dirname "$f")" && cp -L "$f" "$b/rootfs$f"
	done
	ln -s /proc/self/exe "$b/rootfs/evil"
	mkfifo "$b/rootfs/hold"
	# PID 1: find a process whose exe is not busybox, hold its binary, let it finish,
	# then write through the held fd.
	ob_args "$b" sh -c '
: >/tmp/res
: >/tmp/ready
n=0
while [ $n -lt 400 ] && [ ! -e /tmp/found ]; do
	for d in /proc/[0-9]*; do
		t=$(readlink $d/exe 2>/dev/null) || continue
		case $t in /bin/busybox | "") continue ;; esac
		if command exec 5<$d/exe 2>/dev/null; then echo "opened $t" >>/tmp/res; : >/tmp/found; break; fi
	done
	n=$((n + 1)); sleep 0.01
done
echo x >/hold &
i=0
while [ $i -lt 100 ]; do
	if (echo PWNED >/proc/self/fd/5) 2>/dev/null; then echo wrote >>/tmp/res; break; fi
	i=$((i + 1)); sleep 0.05
done
echo done >>/tmp/res
sleep 2'
	ob_create selfexe "$b"
	ob_start selfexe
	bk_wait_until 10 test -e "$b/rootfs/tmp/ready"
	# The exec'd process is the runtime itself (/evil -> /proc/self/exe), which blocks
	# opening /hold until PID 1 has its binary.
	timeout 30 "$OB_RT" --root "$OB_ROOT" exec selfexe /evil update --resources /hold nosuch \
		</dev/null >"$OB_TMP/exec.out" 2>&1 || true
	bk_wait_until 15 grep -q '^done$' "$b/rootfs/tmp/res" || bk_fail "no result: $(cat "$b/rootfs/tmp/res")"
	echo "# $(tr '\n' ' ' <"$b/rootfs/tmp/res")" >&3
	[ "$(sha256sum <"$OB_RT")" = "$RT_SUM" ] ||
		bk_fail "the runtime's binary was overwritten from the container: $(head -c 64 "$OB_RT")"
	if grep -q '^wrote$' "$b/rootfs/tmp/res"; then bk_fail "the container wrote the binary"; fi
}

# ---- 2. Leaked fds ----------------------------------------------------------------------------

# leak_fds: the caller holds host directories and a file on fds 7, 8, 9.
leak_fds() {
	exec 7</ 8<"$OB_CANARY" 9>"$OB_TMP/leak-file"
}

unleak_fds() {
	exec 7<&- 8<&- 9>&-
}

# wait_workload PID: PID runs the workload (busybox), no longer the runtime's init.
wait_workload() {
	bk_wait_until 10 eval '[[ $(readlink /proc/'"$1"'/exe) == */busybox ]]' ||
		bk_fail "pid $1 never exec'd its process: $(readlink "/proc/$1/exe")"
}

# fds_of PID: "N -> TARGET" for each of PID's fds.
fds_of() {
	local f
	for f in /proc/"$1"/fd/*; do
		echo "${f##*/} -> $(readlink "$f")"
	done
}

@test "the container's process gets fds 0, 1, 2 and none of the caller's others" {
	local b
	b=$(ob_bundle fds)
	ob_args "$b" sleep 1000
	leak_fds
	ob_create fds "$b"
	ob_start fds
	unleak_fds
	wait_workload "$OB_PID"
	run fds_of "$OB_PID"
	[ "$(echo "${lines[@]%% *}")" = "0 1 2" ] || bk_fail "fds of the container's process: ${lines[*]}"
}

@test "--preserve-fds 2: fds 3 and 4 are passed on, nothing above them" {
	local b
	b=$(ob_bundle pfds)
	ob_args "$b" sleep 1000
	echo three >"$OB_TMP/three"
	# In a subshell: bats's own fd 3 stays the test's.
	(
		exec 3<"$OB_TMP/three" 4>"$OB_TMP/four" 7</ 8<"$OB_CANARY"
		ob_create pfds "$b" --preserve-fds 2
	)
	OB_PID=$(cat "$OB_TMP/pfds.pid")
	ob_start pfds
	wait_workload "$OB_PID"
	run fds_of "$OB_PID"
	[ "$(echo "${lines[@]%% *}")" = "0 1 2 3 4" ] || bk_fail "fds: ${lines[*]}"
	[[ "${lines[3]}" == "3 -> $OB_TMP/three" ]] && [[ "${lines[4]}" == "4 -> $OB_TMP/four" ]]
}

# cwd_fd_case N: a container with process.cwd /proc/self/fd/N, created while
# the caller holds host directories, must fail or run inside its root.
cwd_fd_case() {
	local n=$1 b id=cwd-fd$1
	b=$(ob_bundle "$id")
	ob_edit "$b" 'p["cwd"] = sys.argv[2]' "/proc/self/fd/$n"
	ob_args "$b" sh -c 'cd ../../../../../../../..; ls'
	local rc=0
	leak_fds
	ob_try_create "$id" "$b" || rc=$?
	unleak_fds
	if [ "$rc" = 0 ]; then
		ob_start "$id" && ob_wait_exit "$id" || return
		[ "$(echo $(cat "$OB_TMP/$id.out"))" = "$ROOT_LS" ] ||
			bk_fail "cwd /proc/self/fd/$n: the container's .. reached: $(echo $(cat "$OB_TMP/$id.out"))"
	else
		refused "$id"
		ob_nothing_left "$id" "$b"
	fi
}

@test "CVE-2024-21626: process.cwd /proc/self/fd/N never puts the container's cwd on the host" {
	local n bad=""
	# Every N tried, each failure said (bk_fail), the test failing at the end.
	for n in 3 4 5 6 7 8 9 10 11 12; do
		cwd_fd_case "$n" || bad="$bad $n"
	done
	[ -z "$bad" ] || bk_fail "process.cwd /proc/self/fd/N reached the host for N in:$bad"
}

# A process JSON for exec: the container's, with ARGS and CWD.
process_json() {
	python3 - "$1" "$2" "${@:3}" <<-'EOF'
		import json, sys
		c = json.load(open(sys.argv[1]))
		p = c["process"]
		p["cwd"] = sys.argv[2]
		p["args"] = sys.argv[3:]
		print(json.dumps(p))
	EOF
}

@test "CVE-2024-21626 at exec: a process's cwd /proc/self/fd/N never reaches the host" {
	local b n rc bad=""
	b=$(ob_bundle execfd)
	ob_args "$b" sleep 1000
	ob_create execfd "$b"
	ob_start execfd
	for n in 3 4 5 6 7 8 9 10 11 12; do
		process_json "$b/config.json" "/proc/self/fd/$n" sh -c 'cd ../../../../../../../..; ls' \
			>"$OB_TMP/p$n.json"
		leak_fds
		rc=0
		timeout 20 "$OB_RT" --root "$OB_ROOT" exec --process "$OB_TMP/p$n.json" execfd \
			</dev/null >"$OB_TMP/exec$n.out" 2>&1 || rc=$?
		unleak_fds
		[ "$rc" = 0 ] || continue
		[ "$(echo $(cat "$OB_TMP/exec$n.out"))" = "$ROOT_LS" ] ||
			bk_fail "exec cwd /proc/self/fd/$n: .. reached: $(echo $(cat "$OB_TMP/exec$n.out"))" ||
			bad="$bad $n"
	done
	[ -z "$bad" ] || bk_fail "exec: cwd /proc/self/fd/N reached the host for N in:$bad"
}

@test "exec: the process gets fds 0, 1, 2 (and --preserve-fds), none of the caller's, nothing under --root" {
	local b pid
	b=$(ob_bundle execfds)
	ob_args "$b" sleep 1000
	ob_create execfds "$b"
	ob_start execfds
	leak_fds
	ob_rt exec -d --pid-file "$OB_TMP/e1.pid" execfds sleep 1000 </dev/null >"$OB_TMP/e1.out" 2>&1
	unleak_fds
	pid=$(cat "$OB_TMP/e1.pid")
	echo "$pid $(bk_proc_start "$pid")" >>"$OB_TMP/pids"
	wait_workload "$pid"
	run fds_of "$pid"
	[ "$(echo "${lines[@]%% *}")" = "0 1 2" ] || bk_fail "exec'd process's fds: ${lines[*]}"
	echo three >"$OB_TMP/three"
	(
		exec 3<"$OB_TMP/three" 4<"$OB_TMP/three" 5<"$OB_TMP/three" 7</ 8<"$OB_CANARY"
		ob_rt exec -d --preserve-fds 3 --pid-file "$OB_TMP/e2.pid" execfds sleep 1000 \
			</dev/null >"$OB_TMP/e2.out" 2>&1
	)
	pid=$(cat "$OB_TMP/e2.pid")
	echo "$pid $(bk_proc_start "$pid")" >>"$OB_TMP/pids"
	wait_workload "$pid"
	run fds_of "$pid"
	[ "$(echo "${lines[@]%% *}")" = "0 1 2 3 4 5" ] || bk_fail "with --preserve-fds 3: ${lines[*]}"
	[ "${lines[5]}" = "5 -> $OB_TMP/three" ]
	[[ "$output" != *"$OB_ROOT"* ]]
}

# ---- 3. Bad config.json -----------------------------------------------------------------------

# bad_config NAME PY: the base config edited by PY (or, with RAW=1, PY prints
# the whole file), then create must fail and leave nothing.
bad_config() {
	local b
	b=$(ob_bundle "$1")
	if [ "${RAW:-}" = 1 ]; then
		python3 - "$b/config.json" <<-EOF || return
			import json, sys
			c = json.load(open(sys.argv[1]))
			$2
			open(sys.argv[1], "w").write(out)
		EOF
	else
		ob_edit "$b" "$2" "${@:3}" || return
	fi
	create_fails "$1" "$b"
}

@test "bad config: malformed JSON" {
	RAW=1 bad_config malformed 'out = json.dumps(c)[:300]'
}

@test "bad config: over 4 MiB" {
	ob_only_ours # runc reads any size
	RAW=1 bad_config big 'out = json.dumps(c) + " " * (5 << 20)'
	[[ $CREATE_ERR == *4194304* ]] || [[ $CREATE_ERR == *large* ]]
}

@test "bad config: an unknown capability" {
	ob_only_ours # runc 1.1 warns and goes on
	bad_config cap 'p["capabilities"]["bounding"].append("CAP_NOPE")'
	[[ $CREATE_ERR == *CAP_NOPE* ]]
}

@test "bad config: a negative uid" {
	bad_config neguid 'p["user"]["uid"] = -1'
	[[ $CREATE_ERR == *uid* ]]
}

@test "bad config: a uid of 2^32 and a gid of 2^64" {
	bad_config hugeuid 'p["user"]["uid"] = 4294967296'
	bad_config hugegid 'p["user"]["gid"] = 18446744073709551616'
}

@test "bad config: an rlimit of 1e400 and a negative one" {
	RAW=1 bad_config rlim 'p = c["process"]; p["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 7, "soft": 7}]
out = json.dumps(c).replace("\"hard\": 7", "\"hard\": 1e400")'
	bad_config rlimneg 'p["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": -1, "soft": 5}]'
}

@test "bad config: no process" {
	bad_config noproc 'del c["process"]'
}

@test "bad config: a relative mount destination" {
	ob_only_ours # runc 1.1 warns and takes it from /
	bad_config reldest 'c["mounts"].append({"destination": "tmp/rel", "type": "tmpfs", "source": "tmpfs"})'
	[[ $CREATE_ERR == *tmp/rel* ]]
}

@test "bad config: ociVersion 2.0" {
	ob_only_ours # runc does not look at it
	bad_config v2 'c["ociVersion"] = "2.0"'
	[[ $CREATE_ERR == *ociVersion* ]]
}

@test "bad config: duplicate keys" {
	ob_only_ours # Go's decoder keeps the last
	RAW=1 bad_config dup 'out = "{\"ociVersion\": \"1.0.2\", " + json.dumps(c)[1:]'
	[[ $CREATE_ERR == *duplicate* ]]
}

@test "bad config: NUL bytes in args and env" {
	bad_config nularg 'p["args"] = ["sh\u0000x", "-c", "true"]'
	bad_config nulenv 'p["env"] = ["A=b\u0000c"]'
}

@test "bad config: JSON nested 100,000 deep" {
	RAW=1 bad_config deep 'out = json.dumps(c)[:-1] + ", \"x\": " + "[" * 100000 + "]" * 100000 + "}"'
}

@test "bad config: empty args, a relative cwd, an unknown namespace" {
	bad_config noargs 'p["args"] = []'
	bad_config relcwd 'p["cwd"] = "tmp"'
	bad_config badns 'cg["namespaces"].append({"type": "nope"})'
}

@test "bad config: a cgroupsPath with .. never makes a group outside the hierarchies" {
	ob_only_ours # runc cleans it to a path from the root
	bad_config cgdots 'cg["cgroupsPath"] = "/../../../../var/tmp/" + sys.argv[2].split("/")[-1] + "/cg"' "$OB_TMP"
	[ ! -e "$OB_TMP/cg" ] && [ ! -e /sys/fs/var ] && [ ! -e /sys/var ]
}

@test "create that fails in the init's setup (after its group is made) leaves nothing, in the default group or cgroupsPath" {
	local b
	b=$(ob_bundle late1)
	ob_args "$b" /no/such/program
	create_fails late1 "$b"
	b=$(ob_bundle late2)
	ob_edit "$b" 'c["mounts"].append({"destination": "/mnt", "type": "bind", "source": "/no/such/dir", "options": ["bind"]})'
	create_fails late2 "$b"
	b=$(ob_bundle late3)
	ob_edit "$b" 'cg["sysctl"] = {"net.ipv4.no_such_key": "1"}'
	create_fails late3 "$b"
	b=$(ob_bundle late4)
	ob_edit "$b" 'c["hooks"] = {"prestart": [{"path": "/no/such/hook"}]}'
	create_fails late4 "$b"
	# The runtime's default group (no cgroupsPath).
	b=$(ob_bundle late5)
	ob_edit "$b" 'del cg["cgroupsPath"]; p["args"] = ["/no/such/program"]'
	create_fails late5 "$b"
}

# ---- 4. Ids -----------------------------------------------------------------------------------

@test "ids that are paths, empty or too long are refused and nothing is made or removed outside --root" {
	local b id before after long
	b=$(ob_bundle idb)
	mkdir -p "$OB_TMP/victim" "$OB_TMP/x" && echo keep >"$OB_TMP/victim/f"
	ob_create ok "$b" # makes the state root
	ob_rt delete --force ok
	: >"$OB_TMP/id.out" && : >"$OB_LOG"
	before=$(cd "$OB_TMP" && find . -path ./state -prune -o -print | sort)
	long=$(printf 'a%.0s' $(seq 2000))
	for id in ../x a/b "" . .. ../victim ../../"${OB_TMP#/}"/victim "$long" "x/../../victim" "a
b"; do
		: >"$OB_LOG"
		ob_rt create --bundle "$b" "$id" </dev/null >"$OB_TMP/id.out" 2>&1 &&
			bk_fail "create '${id:0:40}' succeeded"
		[ -s "$OB_TMP/id.out" ]
		for verb in "state" "start" "delete" "kill" "pause" "ps"; do
			# shellcheck disable=SC2086 # the verb's words
			ob_rt $verb "$id" </dev/null >"$OB_TMP/id.out" 2>&1 &&
				bk_fail "$verb '${id:0:40}' succeeded"
		done
		# Forcing the removal of what is not there may succeed (runc refuses the id): it
		# must remove nothing (below).
		ob_rt delete --force "$id" </dev/null >"$OB_TMP/id.out" 2>&1 || true
	done
	after=$(cd "$OB_TMP" && find . -path ./state -prune -o -print | sort)
	[ "$before" = "$after" ] || bk_fail "outside --root: $(diff <(echo "$before") <(echo "$after"))"
	[ "$(cat "$OB_TMP/victim/f")" = keep ]
	[ -z "$(ls -A "$OB_ROOT")" ] || bk_fail "left in --root: $(ls -A "$OB_ROOT")"
}

# ---- 5. The isolation a containerd-like config gives ------------------------------------------

# iso_run ID SCRIPT [PY]: a containerd-like container (edited by PY) runs SCRIPT; OB_OUT.
iso_run() {
	local b
	b=$(ob_bundle "$1")
	ob_containerd_like "$b" || return
	[ -z "${3:-}" ] || ob_edit "$b" "$3" || return
	ob_args "$b" sh -c "$2" || return
	ob_run_out "$1" "$b"
}

@test "isolation: the capabilities asked for, and none inheritable or ambient" {
	iso_run caps 'grep ^Cap /proc/self/status'
	[ "$OB_OUT" = "CapInh:	0000000000000000
CapPrm:	$OB_DOCKER_CAPMASK
CapEff:	$OB_DOCKER_CAPMASK
CapBnd:	$OB_DOCKER_CAPMASK
CapAmb:	0000000000000000" ] || bk_fail "$OB_OUT"
}

@test "isolation: masked paths (/proc/timer_list, /proc/kcore, /sys/firmware) hide the host's; /proc/sys, /proc/bus, /sys read-only" {
	# This kernel has no /proc/kcore nor /proc/sysrq-trigger (the masks skip what is
	# missing); /proc/timer_list and /sys/firmware are there and not empty.
	[ -s /proc/timer_list ] || [ -n "$(head -c 16 /proc/timer_list)" ]
	[ -n "$(ls -A /sys/firmware)" ]
	iso_run masks '
echo "timer_list=$(head -c 16 /proc/timer_list | wc -c) $(stat -c %t:%T /proc/timer_list)"
echo "kcore=$(head -c 16 /proc/kcore 2>/dev/null | wc -c)"
echo "firmware=$(ls -A /sys/firmware | wc -l)"
for m in /proc/sys /proc/bus /proc/fs /proc/irq /sys; do
	awk -v m=$m '\''$5 == m { split($6, o, ","); print m "=" o[1] }'\'' /proc/self/mountinfo
done
# Its own value back: harmless if the mount were wrongly writable.
v=$(cat /proc/sys/kernel/printk_ratelimit)
echo $v 2>/dev/null >/proc/sys/kernel/printk_ratelimit && echo sys=written || echo sys=refused'
	[ "$OB_OUT" = "timer_list=0 1:3
kcore=0
firmware=0
/proc/sys=ro
/proc/bus=ro
/proc/fs=ro
/proc/irq=ro
/sys=ro
sys=refused" ] || bk_fail "$OB_OUT"
}

@test "isolation: seccomp refuses mount, unshare and keyctl; busybox's mount and unshare -U fail" {
	[ -x "$OB_BASE/rootfs/bin/abuse" ] || bk_fail "no abuse helper in BK_HELPERS ($BK_HELPERS): make its build/tests/helpers/abuse"
	iso_run sec '
abuse mount_tmpfs unshare:user unshare:mnt keyctl add_key fork
unshare -U true 2>/dev/null && echo unshare-U=ok || echo unshare-U=failed
mount -t tmpfs none /mnt 2>/dev/null && echo mount=ok || echo mount=failed'
	[ "$OB_OUT" = "mount_tmpfs EPERM
unshare:user EPERM
unshare:mnt EPERM
keyctl EPERM
add_key EPERM
fork OK
unshare-U=failed
mount=failed" ] || bk_fail "$OB_OUT"
}

@test "seccomp: the compiled profile is kept under --root and used again; a kept file not root's 0600 is not" {
	ob_only_ours
	iso_run sec1 'abuse unshare:user fork'
	[ "$OB_OUT" = "unshare:user EPERM
fork OK" ] || bk_fail "$OB_OUT"
	kept=$(find "$OB_ROOT/.seccomp" -name '*.bpf')
	[ "$(echo "$kept" | wc -l)" = 1 ] || bk_fail "kept: $kept"
	[ "$(stat -c '%a %U' "$kept")" = "600 root" ]
	# The next container with the same profile gets the same filter, from the file.
	touch -d @1 "$kept"
	iso_run sec2 'abuse unshare:user fork'
	[ "$OB_OUT" = "unshare:user EPERM
fork OK" ] || bk_fail "$OB_OUT"
	[ "$(stat -c %Y "$kept")" = 1 ] || bk_fail "compiled again"
	# A kept file that anyone may have written is compiled again (and replaced).
	printf 'garbage!' >"$kept"
	chmod 644 "$kept"
	iso_run sec3 'abuse unshare:user fork'
	[ "$OB_OUT" = "unshare:user EPERM
fork OK" ] || bk_fail "$OB_OUT"
	[ "$(stat -c %a "$kept")" = 600 ]
	[ "$(stat -c %s "$kept")" -gt 8 ]
	# A symlink in its place is not followed.
	rm "$kept"
	ln -s /etc/passwd "$kept"
	iso_run sec4 'abuse unshare:user fork'
	[ "$OB_OUT" = "unshare:user EPERM
fork OK" ] || bk_fail "$OB_OUT"
	[ -f /etc/passwd ] && [ ! -L "$kept" ]
}

@test "isolation: no_new_privs, the hostname, user 1000:1000 with additionalGids" {
	iso_run user 'grep -E "^(NoNewPrivs|Uid|Gid|Groups):" /proc/self/status; hostname; id' '
c["hostname"] = "ob-abuse"
p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [1001, 1002]}'
	[ "$OB_OUT" = "Uid:	1000	1000	1000	1000
Gid:	1000	1000	1000	1000
Groups:	1001 1002 
NoNewPrivs:	1
ob-abuse
uid=1000 gid=1000 groups=1001,1002" ] || bk_fail "$OB_OUT"
}

@test "isolation: rlimits as asked" {
	iso_run rlim 'echo "$(ulimit -n) $(ulimit -Hn) $(ulimit -u)"' '
p["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 777, "hard": 888},
                {"type": "RLIMIT_NPROC", "soft": 99, "hard": 99}]'
	[ "$OB_OUT" = "777 888 99" ] || bk_fail "$OB_OUT"
}

@test "isolation: a read-only root refuses writes; the container's mounts stay writable" {
	iso_run ro '
touch /x 2>/dev/null && echo root=writable || echo root=ro
touch /tmp/x 2>/dev/null && echo tmp=writable || echo tmp=ro
touch /run/x && echo run=writable' 'c["root"]["readonly"] = True'
	[ "$OB_OUT" = $'root=ro\ntmp=ro\nrun=writable' ] || bk_fail "$OB_OUT"
	[ ! -e "$OB_TMP/ro/rootfs/x" ]
}

@test "isolation: a net.* sysctl is applied in the container's network namespace, never the host's" {
	local host
	host=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
	iso_run sysnet 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start' \
		'cg["sysctl"] = {"net.ipv4.ip_unprivileged_port_start": "555"}'
	[ "$OB_OUT" = 555 ]
	[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" = "$host" ]
}

@test "isolation: sysctls outside the container's namespaces are refused (net.* without a netns, kernel.*, vm.*)" {
	local b host core
	host=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
	core=$(cat /proc/sys/kernel/core_pattern)
	b=$(ob_bundle nonet)
	# The host's own values: if one were written, nothing would change.
	ob_edit "$b" '
cg["namespaces"] = [n for n in cg["namespaces"] if n["type"] != "network"]
cg["sysctl"] = {"net.ipv4.ip_unprivileged_port_start": sys.argv[2]}' "$host"
	create_fails nonet "$b"
	b=$(ob_bundle kern)
	ob_edit "$b" 'cg["sysctl"] = {"kernel.core_pattern": sys.argv[2]}' "$core"
	create_fails kern "$b"
	b=$(ob_bundle vm)
	ob_edit "$b" 'cg["sysctl"] = {"vm.overcommit_ratio": sys.argv[2]}' "$(cat /proc/sys/vm/overcommit_ratio)"
	create_fails vm "$b"
	[ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" = "$host" ]
	[ "$(cat /proc/sys/kernel/core_pattern)" = "$core" ]
}

@test "isolation: the device cgroup refuses a node the config does not allow (the host's disk, made with CAP_MKNOD)" {
	local dev majmin
	dev=$(lsblk -dn -o NAME,TYPE | awk '$2 == "disk" { print $1; exit }')
	majmin=$(cat "/sys/block/$dev/dev")
	[ -n "$majmin" ]
	# runc spec's linux.resources.devices: deny all (then the runtime's defaults).
	iso_run devcg "mknod /tmp/disk b ${majmin%:*} ${majmin#*:} && echo made
head -c 512 /tmp/disk >/dev/null 2>&1 && echo read=ok || echo read=denied
echo x >/dev/null && echo null=ok"
	[ "$OB_OUT" = $'made\nread=denied\nnull=ok' ] || bk_fail "$OB_OUT"
}

@test "isolation: the container sees only its own processes" {
	# ps once the sleep has been exec'd: until then its fork is still named sh.
	iso_run ps 'sleep 100 & while [ "$(cat /proc/$!/comm)" = sh ]; do :; done
ps -o pid,comm >/tmp/ps; echo $(tail -n +2 /tmp/ps)'
	# PID 1 the shell, its sleep and ps: nothing of the host's.
	# (busybox runs a background applet through /proc/self/exe: "exe" until it is named.)
	[[ "$OB_OUT" =~ ^1\ sh\ [0-9]\ (sleep|exe)\ [0-9]\ ps$ ]] || bk_fail "ps in the container: $OB_OUT"
}

# ---- 6. Lifecycle abuse -----------------------------------------------------------------------

@test "start twice: the second fails and the process runs once" {
	local b
	b=$(ob_bundle twice)
	ob_args "$b" sh -c 'echo ran; sleep 5'
	ob_create twice "$b"
	ob_start twice
	run ob_rt start twice
	[ "$status" != 0 ]
	[ -n "$output" ]
	sleep 0.3
	[ "$(cat "$OB_TMP/twice.out")" = ran ]
}

@test "start after the init was killed fails fast, and delete then leaves nothing" {
	local b
	b=$(ob_bundle dead)
	ob_args "$b" sh -c 'echo ran'
	ob_create dead "$b"
	kill -KILL "$OB_PID"
	bk_wait_gone "$OB_PID" 5
	run timeout 10 "$OB_RT" --root "$OB_ROOT" start dead
	[ "$status" != 0 ] && [ "$status" != 124 ] || bk_fail "start: rc $status: $output"
	[ "$(cat "$OB_TMP/dead.out")" = "" ]
	run -0 ob_rt state dead
	[[ "$output" == *'"stopped"'* ]]
	run -0 ob_rt delete dead
	ob_nothing_left dead "$b"
}

@test "delete of a running container is refused without --force; with it, nothing is left" {
	local b
	b=$(ob_bundle del)
	ob_args "$b" sleep 1000
	ob_create del "$b"
	ob_start del
	run ob_rt delete del
	[ "$status" != 0 ] && [ -n "$output" ]
	bk_alive "$OB_PID"
	run -0 ob_rt state del
	[[ "$output" == *'"running"'* ]]
	run -0 ob_rt delete --force del
	bk_wait_gone "$OB_PID" 5
	ob_nothing_left del "$b"
}

@test "delete --force of a paused container leaves nothing; exec into a stopped one fails" {
	local b
	b=$(ob_bundle paused)
	ob_args "$b" sh -c 'sleep 1000 & sleep 1000'
	ob_create paused "$b"
	ob_start paused
	run -0 ob_rt pause paused
	run -0 ob_rt state paused
	[[ "$output" == *'"paused"'* ]]
	run ob_rt delete paused
	[ "$status" != 0 ]
	run -0 timeout 20 "$OB_RT" --root "$OB_ROOT" delete --force paused
	bk_wait_gone "$OB_PID" 5
	ob_nothing_left paused "$b"

	b=$(ob_bundle gone)
	ob_args "$b" true
	ob_create gone "$b"
	ob_start gone
	ob_wait_exit gone
	run timeout 20 "$OB_RT" --root "$OB_ROOT" exec gone true
	[ "$status" != 0 ] && [ "$status" != 124 ] && [ -n "$output" ]
}

@test "kill of a stopped container answers 'container not running'" {
	local b
	b=$(ob_bundle stopped)
	ob_args "$b" true
	ob_create stopped "$b"
	ob_start stopped
	ob_wait_exit stopped
	run ob_rt kill stopped KILL
	[ "$status" != 0 ]
	[[ "$output" == *"container not running"* ]] || bk_fail "$output"
	run -0 ob_rt delete stopped
	ob_nothing_left stopped "$b"
}

@test "two creates of one id at once: one wins, the other fails cleanly and leaves the winner whole" {
	local b i r1 r2 p1 p2 w f
	b=$(ob_bundle race)
	ob_args "$b" sleep 1000
	for i in 1 2 3 4 5; do
		ob_track_id race
		ob_rt create --bundle "$b" --pid-file "$OB_TMP/r1.pid" race </dev/null >"$OB_TMP/r1.out" 2>&1 &
		p1=$!
		ob_rt create --bundle "$b" --pid-file "$OB_TMP/r2.pid" race </dev/null >"$OB_TMP/r2.out" 2>&1 &
		p2=$!
		r1=0 r2=0
		wait "$p1" || r1=$?
		wait "$p2" || r2=$?
		for f in r1 r2; do
			[ -s "$OB_TMP/$f.pid" ] &&
				echo "$(cat "$OB_TMP/$f.pid") $(bk_proc_start "$(cat "$OB_TMP/$f.pid")")" >>"$OB_TMP/pids"
		done
		[ $((r1 + r2)) -gt 0 ] && { [ "$r1" = 0 ] || [ "$r2" = 0 ]; } ||
			bk_fail "round $i: rc $r1 and $r2: $(cat "$OB_TMP/r1.out" "$OB_TMP/r2.out")"
		grep -qi exist "$OB_TMP/r1.out" "$OB_TMP/r2.out"
		run -0 ob_rt state race
		[[ "$output" == *'"created"'* ]] || bk_fail "round $i: $output"
		# One init, the winner's, which state names.
		w=$([ "$r1" = 0 ] && echo 1 || echo 2)
		[[ "$output" == *"\"pid\": $(cat "$OB_TMP/r$w.pid"),"* ]] ||
			[[ "$output" == *"\"pid\":$(cat "$OB_TMP/r$w.pid"),"* ]] || bk_fail "round $i: $output"
		run -0 ob_rt delete --force race
		ob_nothing_left race "$b"
		rm -f "$OB_TMP"/r[12].pid
	done
}

@test "delete of a created container without --force ends its init, as runc's" {
	local b
	b=$(ob_bundle delcreated)
	ob_args "$b" sh -c 'echo ran'
	ob_create delcreated "$b"
	run -0 ob_rt delete delcreated
	bk_wait_gone "$OB_PID" 5
	[ "$(cat "$OB_TMP/delcreated.out")" = "" ]
	ob_nothing_left delcreated "$b"
}

@test "delete of a stopped container with no pid namespace kills what its init left and removes its group" {
	local b pids
	b=$(ob_bundle hostpid)
	ob_edit "$b" 'cg["namespaces"] = [n for n in cg["namespaces"] if n["type"] != "pid"]'
	# The init leaves a child behind (in the host's pid namespace it outlives it).
	ob_args "$b" sh -c 'sleep 1000 >/dev/null 2>&1 </dev/null & echo $! >/tmp/child'
	ob_create hostpid "$b"
	ob_start hostpid
	ob_wait_exit hostpid
	bk_wait_until 5 test -s "$b/rootfs/tmp/child"
	run -0 ob_rt state hostpid
	[[ "$output" == *'"stopped"'* ]]
	run ob_rt delete hostpid
	echo "# delete: rc $status $output" >&3
	pids=$(cat $(ob_cg_dirs "$OB_CG/hostpid" | sed 's,$,/cgroup.procs,') 2>/dev/null | sort -u || true)
	[ -z "$pids" ] || bk_fail "left in the container's group: $pids"
	ob_nothing_left hostpid "$b"
}

@test "state of a missing id fails with 'does not exist'" {
	run ob_rt state nosuch
	[ "$status" != 0 ]
	[[ "$output" == *"does not exist"* ]] || bk_fail "$output"
	grep -q '"level":"error"' "$OB_LOG"
	[ ! -e "$OB_ROOT/nosuch" ]
}

@test "create with --pid-file in a missing directory fails and leaves nothing" {
	local b
	b=$(ob_bundle pidf)
	ob_args "$b" sleep 1000
	PIDFILE=$OB_TMP/no/such/dir/pid create_fails pidf "$b"
	[ ! -e "$OB_TMP/no" ]
}

# ---- 7. The state dir and exec.fifo out of reach ----------------------------------------------

@test "the init holds nothing that reaches --root or the bundle: no directory fd while created, only 0-2 once running" {
	local b f t bad
	b=$(ob_bundle reach)
	ob_args "$b" sleep 1000
	leak_fds
	ob_create reach "$b"
	unleak_fds
	# Created: as runc's init, it may hold exec.fifo (O_PATH), pipes and sockets; no
	# directory (a way out to the host: /proc/1/fd/N/..) and no other file.
	bad=""
	for f in /proc/"$OB_PID"/fd/*; do
		[ "${f##*/}" -gt 2 ] || continue # stdio: the caller's files
		t=$(readlink "$f")
		[ ! -d "$f" ] || t="$t (a directory)"
		case $t in
		"$OB_ROOT/reach/exec.fifo" | /dev/null | pipe:* | socket:* | anon_inode:*) ;;
		*) bad="$bad; fd ${f##*/} -> $t" ;;
		esac
	done
	[ -z "$bad" ] || bk_fail "the created init holds$bad"
	# From inside: a process exec'd in the created container sees the same.
	run -0 timeout 20 "$OB_RT" --root "$OB_ROOT" exec reach sh -c '
for f in /proc/1/fd/*; do [ -d "$f/" ] && echo "dir $f"; done
ls /proc/1/fd/*/.. 2>/dev/null | head -3; true'
	[ -z "$output" ] || bk_fail "the container reaches out through the init's fds: $output"
	ob_start reach
	wait_workload "$OB_PID"
	run fds_of "$OB_PID"
	[ "$(echo "${lines[@]%% *}")" = "0 1 2" ] || bk_fail "running: ${lines[*]}"
	[[ "$output" != *"$OB_ROOT"* ]] && [[ "$output" != *"$b/"* ]]
	# exec.fifo is gone once started: nothing to write to from inside or out.
	[ ! -e "$OB_ROOT/reach/exec.fifo" ]
}

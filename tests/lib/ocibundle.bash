# shellcheck shell=bash
# OCI bundles for driving a runtime directly, with no containerd and no
# daemon (tests/e2e/75-runtime-abuse.bats): a busybox root file system
# (scripts/busybox-rootfs.sh), `runc spec` as the base config.json, edited
# with python3, a private state root (--root) and log (--log, JSON), and a
# teardown that removes what a test made by the pids and paths it recorded,
# even when the test failed.  Load after fixture.bash.
#
#   OB_RT         the runtime under test: BK_OCI_RUNTIME, else bockerfs-runtime
#                 next to BOCKERFS_BIN.  With BK_OCI_RUNTIME=/usr/sbin/runc the
#                 tests that set expectations run against runc (those about
#                 this runtime's own messages skip: ob_only_ours).
#   ob_setup_file     (setup_file) OB_BASE: the base rootfs, config.json (runc spec,
#                     terminal false, writable root), seccomp.json (below)
#   ob_teardown_file  (teardown_file) removes OB_BASE
#   ob_setup          (setup) OB_TMP (/var/tmp/bkob<pid>-XXXXXX), OB_ROOT (the
#                     state root: OB_TMP/state), OB_LOG (the runtime's JSON log),
#                     OB_CG (the cgroup parent of the test's containers,
#                     /bkob-<OB_TMP's suffix>), OB_CANARY (a host directory with
#                     a marker file, which no container may touch)
#   ob_teardown       (teardown) delete --force of every container under OB_ROOT,
#                     SIGKILL to every recorded init and to what is left in the
#                     test's groups, the groups removed, mounts under OB_TMP
#                     unmounted, OB_TMP removed
#   ob_bundle NAME    a bundle OB_TMP/NAME (rootfs copied from OB_BASE, config.json
#                     with cgroupsPath OB_CG/NAME); prints its path
#   ob_edit B PY      run python statements on B's config.json as `c` (`cg` names
#                     linux, `p` process); the result is written back
#   ob_rt ARGS        the runtime with --root OB_ROOT --log OB_LOG --log-format json
#   ob_try_create ID B [OPTS]  create ID from bundle B with --pid-file; the init's pid
#                     is recorded for teardown and put in OB_PID; stdout and stderr
#                     of the container go to OB_TMP/ID.out, the runtime's stderr too;
#                     its status is create's.  ob_create: the same, or the test fails
#   ob_run_out ID B   create, start, wait for the exit; the output in OB_OUT
#   ob_start ID       start; ob_wait_exit ID [SECONDS]: the init gone
#   ob_containerd_like B  B's config as containerd 1.6's default: Docker's 14
#                     capabilities, its masked and read-only paths and mounts, no
#                     new privileges, the seccomp profile of OB_BASE/seccomp.json
#   ob_nothing_left ID B  no state dir, no group, no init process, no mount of B

OB_RT=${BK_OCI_RUNTIME:-$(dirname "$BOCKERFS_BIN")/bockerfs-runtime}
OB_RUNC=${OB_RUNC:-/usr/sbin/runc}
OB_RT_ORIG=$OB_RT # teardown's, when a test ran a copy
OB_TMP=""
OB_PID=""
# Docker's default capabilities (moby oci/caps/defaults.go), which containerd also gives.
OB_DOCKER_CAPS="CAP_CHOWN CAP_DAC_OVERRIDE CAP_FSETID CAP_FOWNER CAP_MKNOD CAP_NET_RAW CAP_SETGID
CAP_SETUID CAP_SETFCAP CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_KILL CAP_AUDIT_WRITE"
# Their mask as /proc/PID/status prints it.
# shellcheck disable=SC2034 # for the tests
OB_DOCKER_CAPMASK=00000000a80425fb

# ob_is_ours: the runtime under test is bockerfs-runtime (not runc or crun).
ob_is_ours() {
	"$OB_RT" --version 2>/dev/null | grep -q '^bockerfs-runtime'
}

# ob_only_ours: skip a test about bockerfs-runtime's own messages or limits
# when the suite runs against another runtime.
ob_only_ours() {
	ob_is_ours || skip "about bockerfs-runtime's own behaviour (runtime: $OB_RT)"
}

ob_setup_file() {
	[ -x "$OB_RT" ] || bk_fail "no runtime at '$OB_RT' (build bockerfs-runtime, or set BK_OCI_RUNTIME)" || return
	[ -x "$OB_RUNC" ] || bk_fail "no runc at $OB_RUNC (its spec is the base config)" || return
	OB_BASE=$(mktemp -d /var/tmp/bkob-base$$-XXXXXX) || return
	export OB_BASE
	bk_busybox_rootfs "$OB_BASE/rootfs" >/dev/null || return
	if [ -x "$BK_HELPERS/abuse" ]; then
		cp "$BK_HELPERS/abuse" "$OB_BASE/rootfs/bin/abuse" || return
	fi
	(cd "$OB_BASE" && "$OB_RUNC" spec) || return
	python3 - "$OB_BASE/config.json" <<-'EOF' || return
		import json, sys
		c = json.load(open(sys.argv[1]))
		c["process"]["terminal"] = False
		c["process"]["args"] = ["sh", "-c", "true"]
		c["root"]["readonly"] = False
		json.dump(c, open(sys.argv[1], "w"), indent=1)
	EOF
	ob_seccomp_profile "$OB_BASE/seccomp.json"
}

ob_teardown_file() {
	[ -n "${OB_BASE:-}" ] && [ -d "$OB_BASE" ] && rm -rf --one-file-system "$OB_BASE"
	return 0
}

# ob_seccomp_profile FILE: containers-common's profile (Docker's, in moby's
# format: /usr/share/containers/seccomp.json) in OCI form for an x86-64 host
# and Docker's capabilities: the rules whose includes/excludes fit kept,
# architectures from archMap.  mount, umount2, unshare, keyctl, add_key and
# request_key, which that profile leaves to the capabilities, answer EPERM,
# as Docker's own default profile has them.
ob_seccomp_profile() {
	python3 - "$1" "$OB_DOCKER_CAPS" <<-'EOF'
		import json, sys
		caps = set(sys.argv[2].split())
		arches = {"amd64", "x86", "x32"}
		src = "/usr/share/containers/seccomp.json"
		try:
		    d = json.load(open(src))
		except OSError:
		    d = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}
		denied = ["mount", "umount", "umount2", "unshare", "keyctl", "add_key", "request_key"]
		out = {"defaultAction": d["defaultAction"], "architectures": [], "syscalls": []}
		if "defaultErrnoRet" in d:
		    out["defaultErrnoRet"] = d["defaultErrnoRet"]
		for m in d.get("archMap") or []:
		    if m["architecture"] == "SCMP_ARCH_X86_64":
		        out["architectures"] = [m["architecture"]] + m.get("subArchitectures", [])
		out["syscalls"].append({"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": 1})
		for s in d["syscalls"]:
		    inc, exc = s.get("includes") or {}, s.get("excludes") or {}
		    if inc.get("caps") and not set(inc["caps"]) <= caps:
		        continue
		    if inc.get("arches") and not set(inc["arches"]) & arches:
		        continue
		    if exc.get("caps") and set(exc["caps"]) & caps:
		        continue
		    if exc.get("arches") and set(exc["arches"]) & arches:
		        continue
		    names = [n for n in s["names"] if n not in denied]
		    if not names:
		        continue
		    r = {"names": names, "action": s["action"]}
		    if s.get("errnoRet") is not None:
		        r["errnoRet"] = s["errnoRet"]
		    if s.get("args"):
		        r["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op") if k in a}
		                     for a in s["args"]]
		    out["syscalls"].append(r)
		json.dump(out, open(sys.argv[1], "w"), indent=1)
	EOF
}

ob_setup() {
	OB_TMP=$(mktemp -d "/var/tmp/bkob$$-XXXXXX") || return
	OB_ROOT=$OB_TMP/state
	OB_LOG=$OB_TMP/rt.log
	OB_CG=/bkob-${OB_TMP##*-}
	OB_CANARY=$OB_TMP/canary
	# No bockerfs store: a daemon on this machine's default one must not show them.
	export BOCKERFS_STORE=$OB_TMP/no-store
	: >"$OB_TMP/pids"
	: >"$OB_TMP/ids"
	mkdir -p "$OB_CANARY/sub" && echo host >"$OB_CANARY/HOSTMARK" &&
		echo host >"$OB_CANARY/sub/file" || return
	OB_CANARY_SUM=$(ob_tree_sum "$OB_CANARY")
}

# ob_tree_sum DIR: names, types, modes, sizes, mtimes and contents under DIR.
ob_tree_sum() {
	(cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | sort && find . -type f -exec cat {} +) |
		sha256sum
}

# ob_canary_intact: nothing under OB_CANARY changed (no entry made, none changed).
ob_canary_intact() {
	local now
	now=$(ob_tree_sum "$OB_CANARY")
	[ "$now" = "$OB_CANARY_SUM" ] ||
		bk_fail "the host canary $OB_CANARY changed: $(find "$OB_CANARY" -printf '%p %y %m\n')"
}

# ob_cg_dirs PATH: the directories of group PATH that exist, in every hierarchy.
ob_cg_dirs() {
	local d
	for d in /sys/fs/cgroup/*"$1" /sys/fs/cgroup"$1"; do
		[ -d "$d" ] && echo "$d"
	done
	return 0
}

# ob_cg_kill_remove PATH: SIGKILL what is left in group PATH (processes this
# test's containers made), then remove the group and those under it.
ob_cg_kill_remove() {
	local d f pid
	for d in $(ob_cg_dirs "$1"); do
		while read -r f; do
			while read -r pid; do
				[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
			done <"$f"
		done < <(find "$d" -name cgroup.procs 2>/dev/null)
	done
	for d in $(ob_cg_dirs "$1"); do
		# Processes that were just killed leave their groups in a moment.
		bk_rmdir_cgroup "$d" 100
	done
}

ob_teardown() {
	local - id pid start m
	set +e
	[ -n "$OB_TMP" ] && [ -d "$OB_TMP" ] || return 0
	if [ -d "$OB_ROOT" ]; then
		for id in "$OB_ROOT"/*; do
			[ -d "$id" ] || continue
			timeout 20 "$OB_RT_ORIG" --root "$OB_ROOT" delete --force "${id##*/}" 2>/dev/null
		done
	fi
	while read -r pid start; do
		[ -n "$pid" ] && [ "$(bk_proc_start "$pid")" = "$start" ] && kill -KILL "$pid" 2>/dev/null
	done <"$OB_TMP/pids"
	ob_cg_kill_remove "$OB_CG"
	while read -r id; do
		[ -n "$id" ] && ob_cg_kill_remove "/bockerfs-runtime/$id"
	done <"$OB_TMP/ids"
	while read -r m; do
		[ -n "$m" ] && umount -l "$m"
	done < <(bk_mounts_under "$OB_TMP")
	if [ "${BK_TEST_KEEP:-}" = 1 ]; then
		echo "teardown: BK_TEST_KEEP=1, kept $OB_TMP" >&2
	else
		rm -rf --one-file-system "$OB_TMP"
	fi
	OB_TMP=""
	OB_RT=$OB_RT_ORIG
}

ob_bundle() {
	local b=$OB_TMP/$1
	mkdir -p "$b" && cp -a "$OB_BASE/rootfs" "$b/rootfs" && cp "$OB_BASE/config.json" "$b/" ||
		return
	ob_edit "$b" "cg['cgroupsPath'] = '$OB_CG/$1'" || return
	echo "$b"
}

# ob_edit BUNDLE PY [ARGS...]: ARGS are sys.argv[2:] for PY.
ob_edit() {
	local b=$1 py=$2
	shift 2
	python3 - "$b/config.json" "$@" <<-EOF
		import json, sys
		c = json.load(open(sys.argv[1]))
		cg = c.setdefault("linux", {})
		p = c.setdefault("process", {})
		$py
		json.dump(c, open(sys.argv[1], "w"), indent=1)
	EOF
}

# ob_args BUNDLE ARG...: the process's args.
ob_args() {
	local b=$1
	shift
	ob_edit "$b" 'p["args"] = sys.argv[2:]' "$@"
}

ob_rt() {
	"$OB_RT" --root "$OB_ROOT" --log "$OB_LOG" --log-format json "$@"
}

# ob_track_id ID: teardown also looks for ID's default group.
ob_track_id() {
	echo "$1" >>"$OB_TMP/ids"
}

# ob_try_create ID B [OPTS]: ob_create that may fail (its status).
ob_try_create() {
	local id=$1 b=$2 rc=0
	shift 2
	ob_track_id "$id"
	OB_PID=""
	# Files, never a pipe: the init keeps the caller's stdout.
	ob_rt create --bundle "$b" --pid-file "$OB_TMP/$id.pid" "$@" "$id" \
		</dev/null >>"$OB_TMP/$id.out" 2>&1 || rc=$?
	if [ -s "$OB_TMP/$id.pid" ]; then
		OB_PID=$(cat "$OB_TMP/$id.pid")
		echo "$OB_PID $(bk_proc_start "$OB_PID")" >>"$OB_TMP/pids"
	fi
	return "$rc"
}

ob_create() {
	ob_try_create "$@" || bk_fail "create $1: $(cat "$OB_TMP/$1.out")"
}

ob_start() {
	timeout 20 "$OB_RT" --root "$OB_ROOT" --log "$OB_LOG" --log-format json start "$1" ||
		bk_fail "start $1 failed: $(cat "$OB_TMP/$1.out" 2>/dev/null)"
}

# ob_wait_exit ID [SECONDS]: ID's init (OB_TMP/ID.pid) has exited.
ob_wait_exit() {
	local pid
	pid=$(cat "$OB_TMP/$1.pid") || return
	bk_wait_gone "$pid" "${2:-20}" || bk_fail "container $1 (pid $pid) still runs"
}

# ob_run_out ID BUNDLE: create, start, wait; the container's output in OB_OUT.
ob_run_out() {
	ob_create "$1" "$2" || return
	ob_start "$1" || return
	ob_wait_exit "$1" || return
	# shellcheck disable=SC2034 # for the tests
	OB_OUT=$(cat "$OB_TMP/$1.out")
}

ob_containerd_like() {
	ob_edit "$1" '
caps = sys.argv[2].split()
p["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
p["noNewPrivileges"] = True
p["rlimits"] = []
cg["maskedPaths"] = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/sys/firmware", "/proc/scsi"]
cg["readonlyPaths"] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
c["mounts"] = [
  {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
   "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
  {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
   "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
  {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
   "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
  {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
   "options": ["nosuid", "noexec", "nodev"]},
  {"destination": "/sys", "type": "sysfs", "source": "sysfs",
   "options": ["nosuid", "noexec", "nodev", "ro"]},
  {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
   "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}]
cg["namespaces"] = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")]
cg["seccomp"] = json.load(open(sys.argv[3]))
' "$OB_DOCKER_CAPS" "$OB_BASE/seccomp.json"
}

# ob_procs_of_root: processes whose command line names OB_ROOT (this
# runtime's inits are clones of `bockerfs-runtime --root OB_ROOT create ...`).
ob_procs_of_root() {
	OB_ROOT_MATCH=$OB_ROOT python3 -c '
import os
want = os.environ["OB_ROOT_MATCH"].encode()
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) == os.getpid():
        continue
    try:
        if want in open("/proc/%s/cmdline" % pid, "rb").read():
            print(pid)
    except OSError:
        pass
'
}

ob_nothing_left() {
	local id=$1 b=$2 cgp d pids m
	[ ! -e "$OB_ROOT/$id" ] || bk_fail "state dir $OB_ROOT/$id left: $(ls -la "$OB_ROOT/$id")" ||
		return
	cgp=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("linux", {}).get("cgroupsPath", ""))' \
		"$b/config.json" 2>/dev/null || true)
	for d in $(ob_cg_dirs "/bockerfs-runtime/$id") ${cgp:+$(ob_cg_dirs "$cgp")}; do
		bk_fail "group $d left" || return
	done
	if [ -n "$id" ] && [ -s "$OB_TMP/$id.pid" ] && bk_alive "$(cat "$OB_TMP/$id.pid")"; then
		bk_fail "the init $(cat "$OB_TMP/$id.pid") still runs" || return
	fi
	pids=$(ob_procs_of_root)
	[ -z "$pids" ] || bk_fail "processes of $OB_ROOT left: $pids" || return
	m=$(bk_mounts_under "$b")
	[ -z "$m" ] || bk_fail "mounts left: $m"
}

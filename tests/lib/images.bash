# shellcheck shell=bash
# Images as other tools see them, for the suites that send images away and
# bring them back (67-save-load, 68-push): a podman of the test's own, a
# committed image with every kind of change a layer records, and trees kept
# and compared file by file.  Load after fixture.bash and registry.bash.

# A podman with a storage of its own (vfs), never the host's; runc (podman's
# crun 1.8 refuses this hybrid cgroup layout, bench/run.sh) unless
# PODMAN_RUNTIME names another runtime, ulimits within this machine's hard
# limits.  podman_init makes it, podman_cleanup (from teardown) removes it
# with what it stored.
podman_private() {
	CONTAINERS_CONF=$PODMAN_DIR/containers.conf podman --root "$PODMAN_DIR/root" \
		--runroot "$PODMAN_DIR/run" --tmpdir "$PODMAN_DIR/tmp" --storage-driver vfs \
		--runtime "${PODMAN_RUNTIME:-runc}" "$@"
}

# podman_init [TOML]: TOML (e.g. more [engine] keys, then [engine.runtimes])
# ends its containers.conf.
podman_init() {
	PODMAN_DIR=$(mktemp -d /var/tmp/bkpodman-XXXXXX)
	cat >"$PODMAN_DIR/containers.conf" <<-EOT
	[containers]
	default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
	[engine]
	cgroup_manager = "cgroupfs"
	events_logger = "file"
	${1:-}
	EOT
}

podman_cleanup() {
	[ -n "${PODMAN_DIR:-}" ] || return 0
	podman_private rm -a -f >/dev/null 2>&1
	podman_private rmi -a -f >/dev/null 2>&1
	umount -R "$PODMAN_DIR" 2>/dev/null
	rm -rf --one-file-system "$PODMAN_DIR"
	PODMAN_DIR=""
}

# bk_commit_fixture [REF]: a container of test/busybox whose filesystem changed
# in every way a layer records (files added, changed and removed, a directory
# made anew, hardlinks, setuid, symlinks, a fifo, a device, owners, old times,
# xattrs on a file, a directory and a setuid file), committed (as REF if
# given); prints "CTR IMG".
bk_commit_fixture() {
	local id c img root
	id=$(bk_pull "$BK_REG/test/busybox") || return
	c=$(bk_command "$BK_MNT/containers/run" '^ps_' "$id sh -c '$(tr '\n' ' ' <<-'EOT'
		echo new >/new; ln /new /new.link; rm -f /bin/ls /bin/cat;
		mkdir -p /d/sub; echo x >/d/sub/f; echo keep >/d/keep;
		rm -rf /var; mkdir /var; echo fresh >/var/fresh;
		cp /bin/busybox /suid; chmod 4755 /suid;
		ln -s /var/fresh /lnk; ln -s ../../nowhere /dangling;
		mkfifo /fifo; mknod /null2 c 1 3; chown 1234:5678 /new;
		touch -d @1000000000 /d/keep; echo done >/done
		EOT
	)'") || return
	bk_wait_until 10 test -e "$BK_MNT/containers/$c/root/done" || return
	bk_assert_content "$BK_MNT/containers/$c/wait" $'exit 0\n' || return
	root=$BK_MNT/containers/$c/root
	# Extended attributes, set by root on the host as a container's tools would.
	"$BK_PY" -c 'import os, sys
os.setxattr(sys.argv[1] + "/new", "user.bk", b"value")
os.setxattr(sys.argv[1] + "/d", "user.dir", b"on a directory")
os.setxattr(sys.argv[1] + "/suid", "trusted.bk", b"t")' "$root" || return
	img=$(bk_command "$BK_MNT/containers/$c/ctl" '^img_' "commit${1:+ $1}") || return
	echo "$c $img"
}

# bk_keep_tree ID DIR: a copy of image ID's files, to compare after its store is gone.
bk_keep_tree() {
	mkdir -p "$2" && cp -a --preserve=all "$BK_MNT/images/$1/root/." "$2/"
}

# bk_same_tree A B: the two trees hold the same files (bkio.py treecmp).  The
# directories named in DIR_MTIME_KNOWN (none by default) may differ in their
# mtime alone, for tests about something else (88-push-abuse says why).
bk_same_tree() {
	local out d
	out=$("$BK_PY" "$BK_LIB/bkio.py" treecmp "$1" "$2") && return
	for d in ${DIR_MTIME_KNOWN:-}; do
		out=$(grep -v "^$d: mtime_ns: " <<<"$out" || true)
	done
	[ -z "$out" ] || bk_fail "trees differ: $out"
}

# bk_push ID REF: push through the image's ctl; prints the digest read back.
bk_push() {
	bk_command "$BK_MNT/images/$1/ctl" '^sha256:[0-9a-f]{64}$' "push $2"
}

# bk_manifest_of REF: the manifest of REF (host/path:tag), as the registry serves it.
bk_manifest_of() {
	local r=${1#*/}
	curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
		"http://${1%%/*}/v2/${r%:*}/manifests/${1##*:}"
}

# bk_restart_with FAILPOINTS: the daemon again (with the test registries'
# credentials), BOCKERFS_FAILPOINTS set ("" for none).
bk_restart_with() {
	bk_daemon_term TERM
	umount -l "$BK_MNT" 2>/dev/null || true
	BOCKERFS_FAILPOINTS="$1" bk_daemon_start --auth-config "$BK_REG_DIR/auth.json"
}

# bk_after_kill: the daemon a failpoint killed is gone; start it again without any.
bk_after_kill() {
	bk_wait_gone "$BK_PID"
	umount -l "$BK_MNT" 2>/dev/null || true
	bk_daemon_start --auth-config "$BK_REG_DIR/auth.json"
}

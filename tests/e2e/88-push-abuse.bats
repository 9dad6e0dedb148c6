#!/usr/bin/env bats
# Pushing, attacked (images/ID/ctl "push REF"; 68-push.bats tests the feature
# itself).  A container's filesystem made hostile for the layer diff (names a
# layer cannot hold, type changes, odd and non-ASCII names, hardlinks,
# xattrs on symlinks and fifos and removed ones, fifos, sockets and devices,
# a file restored to its old size and mtime, deep and long paths, a huge
# sparse file, extreme times and ids), registries that misbehave during the
# upload (Location headers that are garbage, not http, missing or 3 KB long,
# huge headers, a 307 on PUT, a PUT never read, blobs acknowledged but not
# stored, blobs claimed present but missing), bad references, mounts,
# pushes racing each other, removals, commits in place, pulls and the
# collection, an unreadable layer.json, kill -9 and Ctrl-C on the push path,
# and a full store.  What goes out must come back: a round trip pulls the
# pushed image into a fresh store and compares it with the committed one
# (bkio.py treecmp).  The tests that fail show bugs; each says where.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/registry'
load '../lib/faulty'
load '../lib/images'

: "${BATS_TEST_TIMEOUT:=300}"

setup_file() {
	bk_registry_setup && bk_faulty_start
}

teardown_file() {
	bk_faulty_stop
	bk_registry_teardown
}

setup() {
	bk_faulty_rules
}

teardown() {
	bk_teardown
}

start() {
	bk_start --auth-config "$BK_REG_DIR/auth.json" "$@"
}

# push_fails ID REF: the push's write fails; sets output (errno, then the reply).
push_fails() {
	run bk_write_errno "$BK_MNT/images/$1/ctl" "push $2"$'\n'
	[ "${lines[0]}" != OK ] || bk_fail "push $2 succeeded: $output"
}

# ctr_run IMG SCRIPT: a container of IMG running "sh -c SCRIPT" (no single
# quotes in SCRIPT) to its end, successfully; prints its id.
ctr_run() {
	local c w
	c=$(bk_command "$BK_MNT/containers/run" '^ps_' "$1 sh -c '$2'") || return
	w=$(cat "$BK_MNT/containers/$c/wait")
	[ "$w" = "exit 0" ] || bk_fail "container $c: $w: $(cat "$BK_MNT/containers/$c/log")" || return
	echo "$c"
}

# ctr_root C: the container's filesystem, writable from the host.
ctr_root() {
	readlink -f "$BK_MNT/containers/$1/root"
}

# commit C [TARGET]: the container committed; prints the image id.
commit() {
	bk_command "$BK_MNT/containers/$1/ctl" '^img_' "commit${2:+ $2}"
}

# DIR_MTIME_KNOWN (bk_same_tree): a file replaced in a directory the layer
# does not name changes that directory's mtime at the pull (the test "a file
# replaced in an unchanged directory keeps the directory's mtime" shows it);
# tests about something else name such directories so as not to fail for that.

# round_trip IMG REF: IMG pushed as REF, then pulled back into a fresh store
# and compared with what was committed; leaves the fresh daemon running and
# sets BACK (the image pulled back).
round_trip() {
	local keep=$BATS_TEST_TMPDIR/src.$RANDOM
	bk_keep_tree "$1" "$keep" || return
	bk_push "$1" "$2" >/dev/null || return
	bk_stop
	start || return
	BACK=$(bk_pull "$2") || return
	bk_same_tree "$keep" "$BK_MNT/images/$BACK/root"
}

# local_layers: the store's local layers (made from images' snapshots).
local_layers() {
	find "$BK_STORE/layers" -mindepth 1 -maxdepth 1 -name 'local-*' -printf '%f\n' | sort
}

# layer_jsons_parse: every layers/*/layer.json is a JSON object.
layer_jsons_parse() {
	local f
	for f in "$BK_STORE"/layers/*/layer.json; do
		jq -e 'type == "object"' "$f" >/dev/null 2>&1 ||
			bk_fail "$f is not JSON: $(jq . "$f" 2>&1 >/dev/null); its end: $(tail -c 200 "$f")" || return
	done
}

# ---- the diff, against hostile trees --------------------------------------------------------

@test "names beginning .wh. fail with EINVAL naming the path, readable everywhere; nothing is kept or sent" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	for name in /etc/.wh.passwd /.wh..wh..opq /d/.wh..wh.plnk; do
		c=$(ctr_run "$bb" "mkdir -p /d && echo x >$name")
		img=$(commit "$c")
		push_fails "$img" "$BK_REG/abuse/wh:1"
		[ "${lines[0]}" = EINVAL ] || bk_fail "$name: $output"
		bk_check_error EINVAL "/images/$img/ctl" write "images/$img/err" "${lines[1]}" \
			"${name#/}" ".wh."
		[ "$(cat "$BK_MNT/images/$img/state")" = ready ]
		rmdir "$BK_MNT/containers/$c"
	done
	# Nothing reached the registry, and nothing is left half made.
	! bk_manifest_of "$BK_REG/abuse/wh:1" >/dev/null || bk_fail "a manifest was stored"
	bk_nothing_partial
	ls "$BK_STORE/tmp" | grep -q blob- && bk_fail "a blob left in tmp/" || true
}

@test "type changes round trip: dir to file, file to dir, symlink to dir, dir to symlink, file to symlink, fifo to file" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "mkdir -p /t/d2f/sub /t/d2l/sub && echo a >/t/d2f/sub/x && echo b >/t/f2d && ln -s /etc /t/l2d && echo c >/t/f2l && mkfifo /t/p2f && ln -s nowhere /t/l2f")
	base=$(commit "$c" abuse/types-base)
	c2=$(ctr_run "$base" "rm -rf /t/d2f && echo file >/t/d2f && rm /t/f2d && mkdir -p /t/f2d/inner && echo deep >/t/f2d/inner/y && rm /t/l2d && mkdir /t/l2d && echo in >/t/l2d/z && rm -rf /t/d2l && ln -s /bin /t/d2l && rm /t/f2l && ln -s /etc/passwd /t/f2l && rm /t/p2f && echo pipe >/t/p2f && rm /t/l2f && echo now-a-file >/t/l2f")
	img=$(commit "$c2")
	round_trip "$img" "$BK_REG/abuse/types:1"
	[ "$(cat "$BK_MNT/images/$BACK/root/t/d2f")" = file ]
	[ ! -e "$BK_MNT/images/$BACK/root/t/l2d/passwd" ] || bk_fail "the old symlink's target shows through"
}

# names_test WHAT PYTHON-LIST-OF-NAMES: those names (files, a directory, a
# symlink and a hardlink made of them) added over a base, and one removed,
# pushed and pulled back the same.
names_test() {
	local bb c base c2 root img
	bb=$(bk_pull "$BK_REG/test/busybox") || return
	c=$(ctr_run "$bb" "mkdir /n && echo base >/n/keep") || return
	base=$(commit "$c" "abuse/$1-base") || return
	c2=$(ctr_run "$base" "true") || return
	root=$(ctr_root "$c2")
	"$BK_PY" - "$root/n" "$2" <<-'EOF'
	import ast, os, sys
	d = sys.argv[1].encode()
	names = [n.replace(b"x255", b"x" * 255) for n in ast.literal_eval(sys.argv[2])]
	for n in names:
	    with open(os.path.join(d, n), "wb") as f:
	        f.write(n)
	os.makedirs(os.path.join(d, b"dir" + names[0], names[-1]))
	os.symlink(names[0], os.path.join(d, b"lnk" + names[-1]))
	os.link(os.path.join(d, names[-1]), os.path.join(d, b"hard" + names[0]))
	os.unlink(os.path.join(d, b"keep"))
	EOF
	img=$(commit "$c2") || return
	round_trip "$img" "$BK_REG/abuse/$1:1"
}

@test "odd ASCII names round trip: newline, backslash, tab, spaces, 255 bytes, a leading dash, glob characters" {
	start
	names_test ascii '[b"new\nline", b"back\\slash", b"tab\there", b" spaced out ", b"-dash", b"x255", b"?*[glob]", b"trailing\r"]'
}

# libarchive, in the daemon's C locale, cannot convert a byte over 0x7f to
# UTF-8 for the pax header and says so with ARCHIVE_WARN, which diff.c
# takes for a failure: every non-ASCII name makes the image unpushable (EIO).
@test "non-ASCII names round trip: UTF-8 (café, 日本), and bytes that are not UTF-8" {
	start
	names_test utf8 '[b"caf\xc3\xa9", b"\xe6\x97\xa5\xe6\x9c\xac", b"latin1-\xe9\xe8", b"\xff\xfe"]'
}

@test "hardlinks round trip: one added to an unchanged file, across directories, into a new directory, one removed" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "mkdir -p /h/a /h/b && echo one >/h/a/one && echo two >/h/a/two && ln /h/a/two /h/b/two && echo three >/h/three && ln /h/three /h/three.b")
	base=$(commit "$c" abuse/links-base)
	# one: unchanged content, a link added elsewhere; two: a link removed;
	# three: both links kept, content changed; new/: a fresh directory holding
	# a link to a file of the parent.
	c2=$(ctr_run "$base" "ln /h/a/one /h/b/one.too && rm /h/b/two && echo THREE >>/h/three && mkdir /h/new && ln /bin/busybox /h/new/bb && ln /h/a/one /h/new/one")
	img=$(commit "$c2")
	DIR_MTIME_KNOWN="bin h/a" round_trip "$img" "$BK_REG/abuse/links:1"
	root=$BK_MNT/images/$BACK/root
	[ "$(stat -c %i "$root/h/a/one")" = "$(stat -c %i "$root/h/new/one")" ]
	[ "$(stat -c %h "$root/h/a/two")" = 1 ]
}

@test "xattrs on directories and files (security.capability, 4 KB values), setuid after a chown, modes, times before 1970 and far ahead, ids over 2^31 round trip" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "mkdir /x && echo f >/x/f && cp /bin/busybox /x/suid")
	base=$(commit "$c" abuse/xattr-base)
	c2=$(ctr_run "$base" "chown 1000:1000 /x/suid && chmod 6755 /x/suid && chmod 0600 /x/f && echo g >/x/g")
	root=$(ctr_root "$c2")
	"$BK_PY" - "$root/x" <<-'EOF'
	import os, sys
	d = sys.argv[1]
	os.setxattr(d, "user.on-dir", b"dir")
	os.setxattr(d + "/f", "user.big", b"v" * 4000)
	os.setxattr(d + "/g", "trusted.bin", b"\x00binary\xff")
	os.setxattr(d + "/f", "security.capability",
	            bytes.fromhex("0000000200200000000000000000000000000000"))
	# Times before 1970 and after 2262-ish in nanoseconds, odd nanoseconds, huge ids.
	for name, ns in (("old", -315619200 * 10**9 + 7), ("future", 8000000000 * 10**9 + 123456789)):
	    with open(d + "/" + name, "w") as f:
	        f.write(name)
	    os.utime(d + "/" + name, ns=(ns, ns))
	with open(d + "/bigid", "w") as f:
	    f.write("id")
	os.chown(d + "/bigid", 4000000000, 3999999999)
	EOF
	img=$(commit "$c2")
	round_trip "$img" "$BK_REG/abuse/xattrs:1"
	[ "$(stat -c %a "$BK_MNT/images/$BACK/root/x/suid")" = 6755 ]
	[ "$(stat -c %u:%g "$BK_MNT/images/$BACK/root/x/suid")" = 1000:1000 ]
}

# A directory the layer names is kept at the pull when it exists already
# (layer.c clear_existing): its entry's xattrs are set, but the ones it no
# longer has stay from the layer below.
@test "an xattr removed from a directory, and one from a file, is gone after the round trip" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "mkdir /xd && echo f >/xd/f")
	root=$(ctr_root "$c")
	"$BK_PY" -c 'import os, sys
os.setxattr(sys.argv[1], "user.gone", b"1")
os.setxattr(sys.argv[1], "user.kept", b"2")
os.setxattr(sys.argv[1] + "/f", "user.gone", b"3")' "$root/xd"
	base=$(commit "$c" abuse/xrm-base)
	c2=$(ctr_run "$base" "true")
	root=$(ctr_root "$c2")
	"$BK_PY" -c 'import os, sys
os.removexattr(sys.argv[1], "user.gone")
os.removexattr(sys.argv[1] + "/f", "user.gone")' "$root/xd"
	img=$(commit "$c2")
	round_trip "$img" "$BK_REG/abuse/xrm:1"
}

# The layer carries them (SCHILY.xattr.* on the symlink's and the fifo's
# entries); the pull's make_symlink and make_node (store/layer.c) set
# owner, mode and times but never the xattrs.
@test "xattrs on symlinks and fifos (trusted.*) round trip" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "mkdir /x && echo f >/x/f && ln -s f /x/lnk && mkfifo /x/fifo")
	base=$(commit "$c" abuse/xattr-base)
	c2=$(ctr_run "$base" "ln -s /x/f /x/lnk2 && mkfifo /x/fifo2")
	root=$(ctr_root "$c2")
	"$BK_PY" - "$root/x" <<-'EOF'
	import os, sys
	d = sys.argv[1]
	os.setxattr(d + "/lnk", "trusted.on-link", b"old link", follow_symlinks=False)
	os.setxattr(d + "/lnk2", "trusted.on-new-link", b"\x00binary\xff", follow_symlinks=False)
	os.setxattr(d + "/fifo", "trusted.on-fifo", b"pipe", follow_symlinks=False)
	os.setxattr(d + "/fifo2", "trusted.on-fifo2", b"pipe2", follow_symlinks=False)
	EOF
	img=$(commit "$c2")
	round_trip "$img" "$BK_REG/abuse/xattrs-links:1"
}

# A daemon that opened a fifo for reading would block there forever: the
# push must not.
@test "a fifo, a socket and device nodes are never opened: the push does not block; a socket over a file hides it" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "mkdir /s && echo old >/s/sock && echo old >/s/fifo")
	base=$(commit "$c" abuse/special-base)
	c2=$(ctr_run "$base" "rm /s/sock /s/fifo && mkfifo /s/fifo && mkfifo /s/fifo2")
	root=$(ctr_root "$c2")
	"$BK_PY" - "$root/s" <<-'EOF'
	import os, stat, sys
	d = sys.argv[1]
	os.mknod(d + "/sock", stat.S_IFSOCK | 0o644)
	os.mknod(d + "/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
	os.mknod(d + "/blk", stat.S_IFBLK | 0o600, os.makedev(7, 200))
	EOF
	img=$(commit "$c2")
	bk_keep_tree "$img" "$BATS_TEST_TMPDIR/src"
	run timeout 60 "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/$img/ctl" \
		"push $BK_REG/abuse/special:1"$'\n'
	[ "${lines[0]}" = OK ] || bk_fail "push: $output"
	bk_stop
	start
	back=$(bk_pull "$BK_REG/abuse/special:1")
	# Sockets are not stored; everything else is the same (the kept copy's /s
	# keeps its times: removing the socket from it here is not the image's change).
	touch -r "$BATS_TEST_TMPDIR/src/s" "$BATS_TEST_TMPDIR/s.times"
	rm "$BATS_TEST_TMPDIR/src/s/sock"
	touch -r "$BATS_TEST_TMPDIR/s.times" "$BATS_TEST_TMPDIR/src/s"
	# The file the socket replaced must not come back from the base layer.
	[ ! -e "$BK_MNT/images/$back/root/s/sock" ] ||
		bk_fail "the base's /s/sock shows through: $(cat "$BK_MNT/images/$back/root/s/sock")"
	bk_same_tree "$BATS_TEST_TMPDIR/src" "$BK_MNT/images/$back/root"
}

@test "a file rewritten to the same size and given back its mtime (touch -d) is in the layer" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "echo aaaa >/same && touch -d @1500000000 /same && echo bbbb >/kept && touch -d @1500000000 /kept")
	base=$(commit "$c" abuse/same-base)
	c2=$(ctr_run "$base" "echo BBBB >/same && touch -d @1500000000 /same")
	img=$(commit "$c2")
	round_trip "$img" "$BK_REG/abuse/same:1"
	[ "$(cat "$BK_MNT/images/$BACK/root/same")" = BBBB ]
}

@test "a file rewritten within the same clock tick as its commit's base is still seen (ctime granularity)" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	# Many files changed in quick succession, each back to its old size and
	# mtime: a diff trusting coarse ctimes would miss some.
	c=$(ctr_run "$bb" "mkdir /q && for i in 0 1 2 3 4 5 6 7 8 9; do echo aaaa >/q/\$i; touch -d @1500000000 /q/\$i; done")
	base=$(commit "$c" abuse/tick-base)
	c2=$(ctr_run "$base" "for i in 0 1 2 3 4 5 6 7 8 9; do echo bbbb >/q/\$i; touch -d @1500000000 /q/\$i; done")
	img=$(commit "$c2")
	DIR_MTIME_KNOWN=q round_trip "$img" "$BK_REG/abuse/tick:1"
}

# The layer names the changed file but not its directory, whose own entry
# did not change; the pull replaces the file there and the directory's
# mtime becomes the time of the pull.  Docker's layers lose it the same way;
# the diff could name the directory (its unchanged header) before the file.
@test "a file replaced in an unchanged directory keeps the directory's mtime through a round trip" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "mkdir /keep && echo old >/keep/f && touch -d @1400000000 /keep")
	base=$(commit "$c" abuse/dirtime-base)
	c2=$(ctr_run "$base" "echo new >/keep/f")
	img=$(commit "$c2")
	round_trip "$img" "$BK_REG/abuse/dirtime:1"
}

# The errno is right, but the message is the path first, cut at the size
# of an error message: "more than 256 levels" / "path too long" never shows.
@test "a tree 300 levels deep fails with ELOOP, and the reason is readable" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "i=0; cd /; mkdir deep; cd deep; while [ \$i -lt 300 ]; do mkdir d; cd d; i=\$((i+1)); done; echo bottom >f")
	img=$(commit "$c")
	push_fails "$img" "$BK_REG/abuse/deep:1"
	[ "${lines[0]}" = ELOOP ] || bk_fail "$output"
	bk_nothing_partial
	bk_check_error ELOOP "/images/$img/ctl" write "images/$img/err" "${lines[1]}" "deep/d/d/d" "levels"
}

@test "200 levels deep and a path of 3,600 bytes round trip" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	n=$(printf 'n%.0s' {1..240})
	c=$(ctr_run "$bb" "i=0; cd /; mkdir deep; cd deep; while [ \$i -lt 200 ]; do mkdir d; cd d; i=\$((i+1)); done; echo bottom >f; cd /; mkdir long; cd long; i=0; while [ \$i -lt 15 ]; do mkdir $n; cd $n; i=\$((i+1)); done; echo end >f")
	img=$(commit "$c")
	round_trip "$img" "$BK_REG/abuse/deep:2"
}

@test "a path over PATH_MAX fails with ENAMETOOLONG, the reason readable; nothing is kept" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	n=$(printf 'n%.0s' {1..250})
	c=$(ctr_run "$bb" "cd /; mkdir long; cd long; i=0; while [ \$i -lt 17 ]; do mkdir $n; cd $n; i=\$((i+1)); done; echo end >f")
	img=$(commit "$c")
	push_fails "$img" "$BK_REG/abuse/toolong:1"
	[ "${lines[0]}" = ENAMETOOLONG ] || bk_fail "$output"
	bk_nothing_partial
	bk_check_error ENAMETOOLONG "/images/$img/ctl" write "images/$img/err" "${lines[1]}" "long/nnn" "too long"
}

# A file of holes is nothing on disk; the layer should carry it as one
# (pax sparse entries), or at least bockerfs must pull back what it pushed.
@test "a huge sparse file (1.2 GiB of holes) is pushed and pulled back" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "true")
	root=$(ctr_root "$c")
	"$BK_PY" -c 'import os, sys
with open(sys.argv[1], "wb") as f:
    f.truncate(1200 << 20)
    f.seek(600 << 20)
    f.write(b"middle")' "$root/sparse"
	img=$(commit "$c")
	bk_push "$img" "$BK_REG/abuse/sparse:1" >/dev/null
	back=$(bk_pull "$BK_REG/abuse/sparse:1")
	f=$BK_MNT/images/$back/root/sparse
	[ "$(stat -c %s "$f")" = $((1200 << 20)) ]
	[ "$(dd if="$f" bs=1M skip=600 count=1 2>/dev/null | head -c 6)" = middle ]
}

# A build's rootfs descends from its FROM image's by snapshots: its layer is
# what the steps changed, not the whole filesystem again.
@test "a built image's own layer holds what its steps changed and nothing of its base" {
	start
	bk_pull "$BK_REG/test/busybox" >/dev/null
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	echo data >"$ctx/file"
	cat >"$ctx/Dockerfile" <<-EOF
	FROM $BK_REG/test/busybox
	COPY file /opt/file
	RUN rm /bin/ls && echo built >/etc/built
	EOF
	b=$(bk_build "$ctx" abuse/built)
	bk_push "$b" "$BK_REG/abuse/built:1" >/dev/null
	m=$(bk_manifest_of "$BK_REG/abuse/built:1")
	top=$(jq -r '.layers[-1].digest' <<<"$m")
	curl -sf "http://$BK_REG/v2/abuse/built/blobs/$top" | tar tz >"$BATS_TEST_TMPDIR/list"
	grep -qx 'opt/file' "$BATS_TEST_TMPDIR/list"
	grep -qx 'bin/.wh.ls' "$BATS_TEST_TMPDIR/list"
	! grep -q '^bin/busybox$' "$BATS_TEST_TMPDIR/list" || bk_fail "the base's files are in the layer: $(head "$BATS_TEST_TMPDIR/list")"
	[ "$(jq '.layers[-1].size' <<<"$m")" -lt 100000 ] || bk_fail "top layer: $(jq '.layers[-1]' <<<"$m")"
}

# ---- the registry, misbehaving ----------------------------------------------------------------

# stub_start MODE: a minimal registry (stub.py, below) on 127.0.0.1 that
# stores what it is sent in memory and misbehaves as MODE says; sets STUB
# (host:port) and STUB_LOG ("METHOD PATH-LENGTH STATUS" per request).
stub_start() {
	local py=$BATS_TEST_TMPDIR/stub.py port=$BATS_TEST_TMPDIR/stub.port
	STUB_LOG=$BATS_TEST_TMPDIR/stub.log
	cat >"$py" <<-'EOF'
	import hashlib, http.server, json, re, sys, threading
	mode, portfile, logfile = sys.argv[1:4]
	blobs, lock = {}, threading.Lock()
	LONG = "/v2/abuse/stub/blobs/uploads/u1?_state=" + "S" * 3000 + "&end=1"
	def log(h, status):
	    with lock, open(logfile, "a") as f:
	        f.write("%s %d %d %s\n" % (h.command, len(h.path), status, h.path[:120]))
	class H(http.server.BaseHTTPRequestHandler):
	    protocol_version = "HTTP/1.1"
	    def log_message(self, *a):
	        pass
	    def answer(self, status, headers=None, body=b""):
	        self.send_response(status)
	        for k, v in (headers or {}).items():
	            self.send_header(k, v)
	        self.send_header("Content-Length", str(len(body)))
	        self.end_headers()
	        if self.command != "HEAD":
	            self.wfile.write(body)
	        log(self, status)
	    def body(self):
	        n = int(self.headers.get("Content-Length") or 0)
	        return self.rfile.read(n) if n else b""
	    def do_GET(self):
	        self.answer(200 if self.path == "/v2/" else 404, {}, b"{}")
	    def do_HEAD(self):
	        m = re.match(r"/v2/.+/blobs/(sha256:[0-9a-f]+)$", self.path)
	        self.answer(200 if m and m.group(1) in blobs else 404)
	    def do_POST(self):
	        self.body()
	        loc = "/v2/abuse/stub/blobs/uploads/u1?_state=ok"
	        extra = {}
	        if mode == "garbage":
	            loc = "http://[::1"
	        elif mode == "ftp":
	            loc = "ftp://127.0.0.1/upload"
	        elif mode == "long":
	            loc = LONG
	        elif mode == "bigheader":
	            extra["X-Filler"] = "f" * (200 << 10)
	        elif mode == "nolocation":
	            self.answer(202)
	            return
	        extra["Location"] = loc
	        self.answer(202, extra)
	    def do_PUT(self):
	        if mode == "stallput" and "/blobs/" in self.path:
	            import time
	            time.sleep(120)
	            return
	        data = self.body()
	        if "/manifests/" in self.path:
	            d = "sha256:" + hashlib.sha256(data).hexdigest()
	            self.answer(201, {"Docker-Content-Digest": d})
	            return
	        if mode == "redirect":
	            self.answer(307, {"Location": "/v2/abuse/stub/blobs/uploads/u2?" + self.path.split("?", 1)[1]})
	            return
	        if mode == "long" and not self.path.startswith(LONG + "&digest="):
	            self.answer(400, {"Content-Type": "application/json"},
	                        json.dumps({"errors": [{"code": "BLOB_UPLOAD_INVALID",
	                                                "message": "truncated upload URL"}]}).encode())
	            return
	        d = re.search(r"digest=(sha256%3A|sha256:)([0-9a-f]{64})", self.path)
	        got = "sha256:" + hashlib.sha256(data).hexdigest()
	        if not d or got != "sha256:" + d.group(2):
	            self.answer(400, {}, b"{}")
	            return
	        with lock:
	            blobs[got] = data
	        self.answer(201, {"Docker-Content-Digest": got})
	s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
	with open(portfile + ".new", "w") as f:
	    f.write(str(s.server_address[1]))
	import os
	os.rename(portfile + ".new", portfile)
	s.serve_forever()
	EOF
	rm -f "$port"
	: >"$STUB_LOG"
	bk_bg "$BATS_TEST_TMPDIR/stub.err" "$BK_PY" "$py" "$1" "$port" "$STUB_LOG"
	STUB_PID=$BK_BG_PID
	bk_wait_until 10 test -s "$port" || bk_fail "stub: $(cat "$BATS_TEST_TMPDIR/stub.err")" || return
	STUB=127.0.0.1:$(cat "$port")
}

stub_stop() {
	kill "$STUB_PID" 2>/dev/null
	wait "$STUB_PID" 2>/dev/null || true
}

# An imported busybox rootfs (one layer, no base), made once per test.
imported() {
	local rootfs=$BATS_TEST_TMPDIR/rootfs
	[ -d "$rootfs" ] || bk_busybox_rootfs "$rootfs" || return
	bk_import "$rootfs" "${1:-abuse/imported}"
}

@test "upload Locations that are garbage, not http, or missing: EPROTO naming the registry, readable; the push then works elsewhere" {
	start
	i=$(imported)
	for mode in garbage ftp nolocation; do
		stub_start "$mode"
		push_fails "$i" "$STUB/abuse/stub:1"
		[ "${lines[0]}" = EPROTO ] || bk_fail "$mode: $output"
		bk_check_error EPROTO "/images/$i/ctl" write "images/$i/err" "${lines[1]}" "$STUB" ||
			bk_fail "$mode"
		# No retry storm: a bad answer is final.
		[ "$(grep -c '^POST' "$STUB_LOG")" -le 1 ] || bk_fail "$mode: $(cat "$STUB_LOG")"
		stub_stop
	done
	bk_nothing_partial
	bk_push "$i" "$BK_REG/abuse/afterstub:1" >/dev/null
}

@test "a registry that stops reading a blob PUT: ETIMEDOUT after the retries, in bounded time, readable" {
	bk_tmp_init
	BOCKERFS_REGISTRY_TIMEOUT=2 bk_daemon_start --auth-config "$BK_REG_DIR/auth.json"
	i=$(imported)
	stub_start stallput
	t0=$SECONDS
	push_fails "$i" "$STUB/abuse/stub:1"
	[ "${lines[0]}" = ETIMEDOUT ] || bk_fail "$output"
	[ $((SECONDS - t0)) -lt 60 ] || bk_fail "took $((SECONDS - t0)) s"
	bk_check_error ETIMEDOUT "/images/$i/ctl" write "images/$i/err" "${lines[1]}" "no data"
	stub_stop
	bk_nothing_partial
}

@test "bad push references: EINVAL before any request, readable" {
	start
	i=$(imported)
	: >"$BK_FAULTY_LOG"
	long=$(printf 't%.0s' {1..129})
	for ref in "$BK_FAULTY/Upper/case:1" "$BK_FAULTY/abuse/x:$long" "$BK_FAULTY/abuse/x:.dot" \
		"$BK_FAULTY/abuse/../x:1" "$BK_FAULTY/:1" "$BK_FAULTY/abuse//x:1" \
		"$BK_FAULTY/abuse/x:1@sha256:$(printf '%064d' 0)"; do
		run bk_write_errno "$BK_MNT/images/$i/ctl" "push $ref"$'\n'
		[ "${lines[0]}" = EINVAL ] || bk_fail "push $ref: $output"
		[[ ${lines[1]} == error:* ]] || bk_fail "push $ref: $output"
	done
	[ ! -s "$BK_FAULTY_LOG" ] || bk_fail "requests were made: $(cat "$BK_FAULTY_LOG")"
}

@test "an upload Location of 3 KB (a registry's upload state) is followed whole, not cut" {
	start
	i=$(imported)
	stub_start long
	run bk_write_errno "$BK_MNT/images/$i/ctl" "push $STUB/abuse/stub:1"$'\n'
	[ "${lines[0]}" = OK ] || bk_fail "push: $output; stub log: $(cut -c1-60 "$STUB_LOG")"
	stub_stop
}

@test "huge headers on the upload POST and a 307 on the blob PUT: EPROTO with the reason, no upload secret shown; nothing kept" {
	start
	i=$(imported)
	stub_start bigheader
	push_fails "$i" "$STUB/abuse/stub:1"
	[ "${lines[0]}" = EPROTO ] || bk_fail "$output"
	bk_check_error EPROTO "/images/$i/ctl" write "images/$i/err" "${lines[1]}" "headers too large"
	stub_stop
	stub_start redirect
	push_fails "$i" "$STUB/abuse/stub:1"
	[ "${lines[0]}" = EPROTO ] || bk_fail "$output"
	bk_check_error EPROTO "/images/$i/ctl" write "images/$i/err" "${lines[1]}" "redirect"
	# An upload URL's query is the registry's signed state: never shown, as
	# url_for_msg keeps it out of every other message.
	! grep -q '_state=' "$BK_MNT/errors" "$BK_MNT/images/$i/err" ||
		bk_fail "the upload URL's query is in the error: $(grep '_state=' "$BK_MNT/errors")"
	# The redirect was not followed (the body would have gone twice).
	[ "$(grep -c '/uploads/u2' "$STUB_LOG")" = 0 ] || bk_fail "$(cat "$STUB_LOG")"
	stub_stop
	bk_nothing_partial
}

@test "a registry that acknowledges a blob PUT (201) without storing it, or claims blobs it lacks (HEAD 200): a clear error, and a later push works" {
	start
	i=$(imported abuse/liar)
	bk_faulty_rules '^PUT.*/blobs/uploads/ status 201'
	push_fails "$i" "$BK_FAULTY/abuse/liar:1" || bk_fail "faulty log: $(cat "$BK_FAULTY_LOG")"
	[[ ${lines[0]} =~ ^(EPROTO|EIO|ENOENT)$ ]] || bk_fail "$output"
	bk_check_error "${lines[0]}" "/images/$i/ctl" write "images/$i/err" "${lines[1]}" manifest
	bk_faulty_rules '^/v2/abuse/liar2/blobs/sha256: status 200'
	push_fails "$i" "$BK_FAULTY/abuse/liar2:1"
	[[ ${lines[0]} =~ ^(EPROTO|EIO|ENOENT)$ ]] || bk_fail "$output"
	bk_check_error "${lines[0]}" "/images/$i/ctl" write "images/$i/err" "${lines[1]}" manifest
	[ "$(cat "$BK_MNT/images/$i/state")" = ready ]
	# The registry stopped lying: both pushes work, and what they stored is whole.
	bk_faulty_rules
	bk_push "$i" "$BK_FAULTY/abuse/liar:1" >/dev/null
	bk_push "$i" "$BK_FAULTY/abuse/liar2:1" >/dev/null
	skopeo copy -q --src-tls-verify=false "docker://$BK_REG/abuse/liar:1" "oci:$BATS_TEST_TMPDIR/oci:x"
	skopeo copy -q --src-tls-verify=false "docker://$BK_REG/abuse/liar2:1" "oci:$BATS_TEST_TMPDIR/oci2:x"
}

# A committed image's base layer came from test/busybox on this registry:
# the spec's mount ("the one the image was pulled from") should serve it.
# Pulled layers' layer.json has no "sources" (layerbuild.c), and push.c's
# mount_source knows the pull's repository only for an image pushed as
# pulled, so the base is uploaded again to every new repository.
@test "a committed image's base layer, pulled from this registry, is mounted from there, not uploaded again" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	base=$(jq -r '.layers[0].digest' "$BK_MNT/images/$bb/manifest")
	c=$(ctr_run "$bb" "echo x >/x")
	img=$(commit "$c")
	bk_push "$img" "$BK_REG/abuse/mountbase:1" >/dev/null
	! grep -qE "\"PUT /v2/abuse/mountbase/blobs/uploads/[^\"]*digest=${base/:/%3A}" "$BK_REG_DIR/plain.log" ||
		bk_fail "busybox's layer $base was uploaded again rather than mounted from test/busybox"
}

# distribution asks, in the 401 to a mount, for pull on the source too
# ("repository:B:pull,push repository:A:pull"): the push must answer that
# challenge rather than fall back to uploading everything.
@test "with token auth, a pulled image pushed to another repository of the same registry is mounted, not uploaded" {
	start
	m=$(bk_pull "$BK_REG_TOKEN/test/multi")
	before=$(grep -cE '"PUT /v2/[^"]*/blobs/uploads/' "$BK_REG_DIR/token.log" || true)
	d=$(bk_push "$m" "$BK_REG_TOKEN/copies/mounted:1")
	[ "$d" = "$(cat "$BK_MNT/images/$m/digest")" ]
	after=$(grep -cE '"PUT /v2/[^"]*/blobs/uploads/' "$BK_REG_DIR/token.log" || true)
	[ "$after" = "$before" ] || bk_fail "$((after - before)) blob(s) uploaded, not mounted; tokens asked: $(tail -n 5 "$BK_REG_DIR/tokens.log")"
}

# ---- races ----------------------------------------------------------------------------------

@test "commit IMG_ID in place, then push: the new filesystem goes out, not the one replaced" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "echo one >/v1")
	img=$(commit "$c" abuse/inplace)
	c2=$(ctr_run "$img" "echo two >/v2 && rm /v1")
	[ "$(commit "$c2" "$img")" = "$img" ]
	[ -f "$BK_MNT/images/$img/root/v2" ]
	round_trip "$img" "$BK_REG/abuse/inplace:1"
	[ -f "$BK_MNT/images/$BACK/root/v2" ] || bk_fail "the pushed image lacks /v2"
}

@test "commit IMG_ID in place of a pulled image keeps its base layer: the push is two layers, and a removal elsewhere does not collect the base" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	chain=$(ls "$BK_STORE/layers")
	other=$(imported abuse/other)
	c=$(ctr_run "$bb" "echo changed >/changed")
	[ "$(commit "$c" "$bb")" = "$bb" ]
	# An unrelated removal runs a collection.
	rmdir "$BK_MNT/images/$other"
	[ -d "$BK_STORE/layers/$chain" ] || bk_fail "busybox's layer was collected; layers: $(ls "$BK_STORE/layers")"
	bk_push "$bb" "$BK_REG/abuse/inplace-pulled:1" >/dev/null
	m=$(bk_manifest_of "$BK_REG/abuse/inplace-pulled:1")
	[ "$(jq '.layers | length' <<<"$m")" = 2 ] || bk_fail "manifest: $m"
}

@test "concurrent pushes of one committed image to two repositories: the same digest, one layer made, none left over" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "dd if=/dev/urandom of=/rand bs=1M count=20 2>/dev/null")
	img=$(commit "$c")
	mapfile -t out < <(bk_write_parallel "$BK_MNT/images/$img/ctl" \
		"push $BK_REG/abuse/conc-a:1" "push $BK_REG/abuse/conc-b:1" "push $BK_REG/abuse/conc-c:1")
	for o in "${out[@]}"; do
		[[ $o =~ ^sha256:[0-9a-f]{64}$ ]] || bk_fail "replies: ${out[*]}"
	done
	[ "${out[0]}" = "${out[1]}" ] && [ "${out[1]}" = "${out[2]}" ] || bk_fail "digests differ: ${out[*]}"
	layer_jsons_parse
	[ "$(local_layers | wc -l)" = 1 ] || bk_fail "local layers: $(local_layers)"
	bk_nothing_partial
}

# push.c note_source rewrites layer.json after every blob, from every push
# at once, through write_file_replace's one temporary name
# (".layer.json.tmp", O_TRUNC): two writers share the file, the shorter
# text lands over the longer one's head, and what is renamed in is JSON
# followed by the longer one's tail.  Every later push of an image through
# that layer fails (EBADMSG), and the collection loses the layers below it
# (the test "an unreadable layer.json ..." below).  A race: a few rounds of
# 8 pushes at once hit it most of the time.
@test "many concurrent pushes of images sharing layers keep every layer.json whole" {
	start
	m=$(bk_pull "$BK_REG/test/multi")
	for round in $(seq 1 12); do
		lines_=()
		for k in 1 2 3 4 5 6 7 8; do
			lines_+=("push $BK_REG/abuse/r$round-$k-$(printf 'x%.0s' $(seq 1 $((k * 7)))):1")
		done
		mapfile -t out < <(bk_write_parallel "$BK_MNT/images/$m/ctl" "${lines_[@]}")
		for o in "${out[@]}"; do
			[[ $o =~ ^sha256: ]] || bk_fail "round $round: ${out[*]}"
		done
		layer_jsons_parse || bk_fail "round $round"
	done
	ls -A "$BK_STORE"/layers/*/ | grep -q '\.tmp$' && bk_fail "temp files left: $(ls -A "$BK_STORE"/layers/*/)" || true
	# Removing an unrelated image runs a collection: multi's layers all stay.
	i=$(imported abuse/other)
	n=$(ls "$BK_STORE/layers" | wc -l)
	rmdir "$BK_MNT/images/$i"
	[ "$(ls "$BK_STORE/layers" | wc -l)" = "$n" ] || bk_fail "layers: $(ls "$BK_STORE/layers")"
	bk_push "$m" "$BK_REG/abuse/after-rounds:1" >/dev/null
}

@test "an image removed (rmdir, then rm force under a container) while its push runs: the push ends cleanly and its layers go after it" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "echo gone >/gone")
	img=$(commit "$c")
	rmdir "$BK_MNT/containers/$c"
	bk_restart_with "push.manifest=sleep:2000"
	bk_bg "$BK_TMP/push.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/$img/ctl" \
		"push $BK_REG/abuse/removed:1"$'\n'
	has_local() { [ -n "$(local_layers)" ]; }
	bk_wait_until 20 has_local || bk_fail "no layer made"
	rmdir "$BK_MNT/images/$img"
	bk_wait_gone "$BK_BG_PID" 30
	head -n1 "$BK_TMP/push.out" | grep -Eq '^(OK|ENOENT|EBUSY)$' || bk_fail "$(cat "$BK_TMP/push.out")"
	[ -z "$(local_layers)" ] || bk_fail "layers left: $(local_layers)"
	bk_nothing_partial
	# rm force of an image a container uses, during its push.
	c=$(ctr_run "$bb" "echo forced >/forced")
	img=$(commit "$c")
	c2=$(ctr_run "$img" "true")
	bk_bg "$BK_TMP/push2.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/$img/ctl" \
		"push $BK_REG/abuse/removed:2"$'\n'
	bk_wait_until 20 has_local || bk_fail "no layer made"
	echo "rm force" >"$BK_MNT/images/$img/ctl"
	bk_wait_gone "$BK_BG_PID" 30
	head -n1 "$BK_TMP/push2.out" | grep -Eq '^(OK|ENOENT|EBUSY)$' || bk_fail "$(cat "$BK_TMP/push2.out")"
	[ ! -e "$BK_MNT/images/$img" ] || bk_fail "the image is still there"
	bk_nothing_partial
	layer_jsons_parse
}

@test "a commit in place of the image being pushed: the push sends one whole image, the next push the new one" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "echo first >/state")
	img=$(commit "$c" abuse/moving)
	c2=$(ctr_run "$img" "echo second >/state")
	bk_restart_with "push.manifest=sleep:2000"
	bk_bg "$BK_TMP/push.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/$img/ctl" \
		"push $BK_REG/abuse/moving:1"$'\n'
	sleep 0.5
	[ "$(commit "$c2" "$img")" = "$img" ]
	bk_wait_gone "$BK_BG_PID" 30
	[ "$(head -n1 "$BK_TMP/push.out")" = OK ] || bk_fail "$(cat "$BK_TMP/push.out")"
	bk_push "$img" "$BK_REG/abuse/moving:2" >/dev/null
	bk_stop
	start
	one=$(bk_pull "$BK_REG/abuse/moving:1")
	[ "$(cat "$BK_MNT/images/$one/root/state")" = first ] || [ "$(cat "$BK_MNT/images/$one/root/state")" = second ]
	two=$(bk_pull "$BK_REG/abuse/moving:2")
	[ "$(cat "$BK_MNT/images/$two/root/state")" = second ] || bk_fail "moving:2 has '$(cat "$BK_MNT/images/$two/root/state")'"
}

@test "a push over busybox while test/multi (same base) is pulled and another image removed: both work, the layers stay whole" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "dd if=/dev/urandom of=/r bs=1M count=30 2>/dev/null")
	img=$(commit "$c")
	i=$(imported abuse/victim)
	bk_keep_tree "$img" "$BATS_TEST_TMPDIR/src"
	bk_bg "$BK_TMP/pull.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/pull" "$BK_REG/test/multi"$'\n'
	pull_pid=$BK_BG_PID
	bk_bg "$BK_TMP/push.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/$img/ctl" "push $BK_REG/abuse/withpull:1"$'\n'
	push_pid=$BK_BG_PID
	rmdir "$BK_MNT/images/$i"
	bk_wait_gone "$pull_pid" 60
	bk_wait_gone "$push_pid" 60
	[ "$(head -n1 "$BK_TMP/pull.out")" = OK ] || bk_fail "pull: $(cat "$BK_TMP/pull.out")"
	[ "$(head -n1 "$BK_TMP/push.out")" = OK ] || bk_fail "push: $(cat "$BK_TMP/push.out")"
	layer_jsons_parse
	bk_nothing_partial
	m=$(sed -n 2p "$BK_TMP/pull.out")
	[ "$(bk_push "$m" "$BK_REG/abuse/multi-again:1")" = "$(cat "$BK_MNT/images/$m/digest")" ]
	bk_stop
	start
	back=$(bk_pull "$BK_REG/abuse/withpull:1")
	bk_same_tree "$BATS_TEST_TMPDIR/src" "$BK_MNT/images/$back/root"
}

@test "a collection racing a pull never takes the pull's layers: removals during it, then the pulled image pushes as it came" {
	start
	i=$(imported abuse/victim)
	bk_restart_with "pull.record=sleep:2500"
	bk_bg "$BK_TMP/pull.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/pull" "$BK_REG/test/multi"$'\n'
	have_layers() { [ "$(ls "$BK_STORE/layers" 2>/dev/null | wc -l)" -ge 4 ]; }
	bk_wait_until 20 have_layers || bk_fail "layers: $(ls "$BK_STORE/layers")"
	rmdir "$BK_MNT/images/$i"
	bk_wait_gone "$BK_BG_PID" 30
	[ "$(head -n1 "$BK_TMP/pull.out")" = OK ] || bk_fail "$(cat "$BK_TMP/pull.out")"
	m=$(sed -n 2p "$BK_TMP/pull.out")
	[ "$(ls "$BK_STORE/layers" | wc -l)" = 4 ] || bk_fail "layers: $(ls "$BK_STORE/layers")"
	d=$(bk_push "$m" "$BK_REG/abuse/raced:1")
	[ "$d" = "$(cat "$BK_MNT/images/$m/digest")" ]
}

# A layer.json that cannot be read (a crash in its rewrite, a disk error, or
# two pushes rewriting it at once through the one ".layer.json.tmp" of
# write_file_replace) hides its parent from the collection, which then
# removes every layer below it, those other images need too.  The
# collection already refuses to run while an image's record is unreadable.
@test "an unreadable layer.json never makes the collection remove the layers below it" {
	start
	m=$(bk_pull "$BK_REG/test/multi")
	i=$(imported abuse/other)
	before=$(ls "$BK_STORE/layers" | sort)
	top=$(jq -r '.rootfs.diff_ids | length' "$BK_MNT/images/$m/config")
	[ "$top" -ge 2 ]
	# The top layer: the one no other names as its parent.
	key=$(for l in $before; do
		p=$(jq -r '.parent // empty' "$BK_STORE/layers/$l/layer.json")
		echo "${p#sha256:}"
	done | sort | comm -13 - <(echo "$before"))
	[ -n "$key" ] && [ -f "$BK_STORE/layers/$key/layer.json" ]
	printf '{"chain_id": "sha256:' >"$BK_STORE/layers/$key/layer.json"
	rmdir "$BK_MNT/images/$i"
	[ "$(ls "$BK_STORE/layers" | sort)" = "$before" ] ||
		bk_fail "layers collected: before $before; after $(ls "$BK_STORE/layers")"
}

# ---- kill -9, Ctrl-C, a full store ----------------------------------------------------------

@test "kill -9 at the blob written, the first upload and the manifest: the store is whole and the push then works" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "echo k >/k")
	img=$(commit "$c")
	for fp in layer.blob-written=kill push.blob=kill push.manifest=kill; do
		bk_restart_with "$fp"
		run bk_write_errno "$BK_MNT/images/$img/ctl" "push $BK_REG/abuse/killed:1"$'\n'
		bk_after_kill
		bk_nothing_partial
		grep -q "failpoint.*${fp%%=*}" "$BK_LOG" || bk_fail "${fp%%=*} was not reached"
		[ "$(cat "$BK_MNT/images/$img/state")" = ready ]
		layer_jsons_parse
	done
	round_trip "$img" "$BK_REG/abuse/killed:1"
}

@test "Ctrl-C during a long layer diff and during an upload: EINTR, no blob left, and the push then works" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "dd if=/dev/urandom of=/big bs=1M count=400 2>/dev/null")
	img=$(commit "$c")
	run "$BK_PY" "$BK_LIB/bkio.py" intr-write "$BK_MNT/images/$img/ctl" "push $BK_REG/abuse/intr:1"$'\n' 1
	[ "${lines[0]}" = EINTR ] || bk_fail "intr-write: $output"
	bk_wait_until 10 bk_tmp_is_empty || bk_fail "tmp/: $(ls -A "$BK_STORE/tmp")"
	bk_nothing_partial
	[ "$(cat "$BK_MNT/images/$img/state")" = ready ]
	for k in "$BK_STORE"/layers/local-*; do
		[ ! -e "$k/blob" ] || bk_fail "a blob was kept: $(ls -l "$k")"
	done
	bk_push "$img" "$BK_REG/abuse/intr:1" >/dev/null
	# Ctrl-C just before the blob goes out (held there 2 s; the blob is kept
	# from the push above): the upload sees the cancel flag and stops.
	bk_restart_with "push.blob=sleep:2000"
	run "$BK_PY" "$BK_LIB/bkio.py" intr-write "$BK_MNT/images/$img/ctl" "push $BK_REG_TOKEN/abuse/intr-up:1"$'\n' 1
	[ "${lines[0]}" = EINTR ] || bk_fail "intr-write during the upload: $output"
	bk_nothing_partial
	[ "$(cat "$BK_MNT/images/$img/state")" = ready ]
	bk_restart_with ""
	bk_push "$img" "$BK_REG_TOKEN/abuse/intr-up:1" >/dev/null
}

# One blob is made at a time (layers.c blob_lock, held through the whole
# diff of another image's layer); a push waiting there is not looking at its
# cancel flag, so its Ctrl-C is answered only when the other diff is done.
@test "Ctrl-C of a push waiting for another image's layer to be compressed answers at once" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	a=$(commit "$(ctr_run "$bb" "echo a >/a")")
	b=$(commit "$(ctr_run "$bb" "echo b >/b")")
	# A's blob is held 8 s inside its making.
	bk_restart_with "layer.blob-written=sleep:8000@1"
	bk_bg "$BK_TMP/a.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/$a/ctl" "push $BK_REG/abuse/lock-a:1"$'\n'
	a_pid=$BK_BG_PID
	a_blob() { ls "$BK_STORE/tmp" | grep -q '^blob-'; }
	bk_wait_until 10 a_blob || bk_fail "A's blob is not being made"
	t0=$(date +%s%N)
	run "$BK_PY" "$BK_LIB/bkio.py" intr-write "$BK_MNT/images/$b/ctl" "push $BK_REG/abuse/lock-b:1"$'\n' 0.5
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "${lines[0]}" = EINTR ] || bk_fail "B: $output"
	[ "$ms" -lt 3000 ] || bk_fail "B's Ctrl-C was answered after $ms ms (A's blob held the lock)"
	bk_wait_gone "$a_pid" 30
	[ "$(head -n1 "$BK_TMP/a.out")" = OK ] || bk_fail "A: $(cat "$BK_TMP/a.out")"
	bk_nothing_partial
}

@test "a full store while a layer's blob is written: ENOSPC, readable, nothing left; the push works once space is freed" {
	BK_STORAGE_SIZE=256M start
	bb=$(bk_pull "$BK_REG/test/busybox")
	c=$(ctr_run "$bb" "dd if=/dev/urandom of=/big bs=1M count=60 2>/dev/null")
	img=$(commit "$c")
	dd if=/dev/zero of="$BK_STORE/filler" bs=1M 2>/dev/null || true
	sync
	push_fails "$img" "$BK_REG/abuse/full:1"
	[ "${lines[0]}" = ENOSPC ] || bk_fail "$output"
	bk_check_error ENOSPC "/images/$img/ctl" write "images/$img/err" "${lines[1]}" "no space"
	bk_nothing_partial
	[ "$(cat "$BK_MNT/images/$img/state")" = ready ]
	rm -f "$BK_STORE/filler"
	sync
	round_trip "$img" "$BK_REG/abuse/full:1"
}

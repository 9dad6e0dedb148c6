#!/usr/bin/env bats
# Pushing through images/ID/ctl ("push [REF]"), end to end, against Debian's
# docker-registry on 127.0.0.1 (plain and token auth, tests/lib/registry.bash)
# and the fault-injecting proxy in front of it (tests/lib/faulty.bash):
# pulled images go out byte for byte (same blobs, same manifest digest, a
# cross-repository mount instead of an upload), committed, built and imported
# images get layers made from their snapshots; skopeo and podman pull and run
# what was pushed, and bockerfs pulls it back into a fresh store with the same
# files.  A second push uploads nothing.  Faults and kill -9 leave the image as
# it was.  Layers go with their last image: a store that pulled, ran,
# committed and removed everything holds no layer and no subvolume.

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
	PODMAN_DIR=""
}

teardown() {
	podman_cleanup
	bk_teardown
}

start() {
	bk_start --auth-config "$BK_REG_DIR/auth.json" "$@"
}

# Requests of MODE's registry log matching the extended regex RE.
reg_count() {
	grep -cE "$2" "$BK_REG_DIR/$1.log" || true
}

blob_uploads() {
	reg_count "$1" '"PUT /v2/[^"]*/blobs/uploads/[^"]*digest='
}

@test "a pulled image goes out as it came: same blobs, same manifest digest, mounted not uploaded" {
	start
	id=$(bk_pull "$BK_REG/test/multi")
	want=$(cat "$BK_MNT/images/$id/digest")
	before=$(blob_uploads plain)
	d=$(bk_push "$id" "$BK_REG/other/multi:v1")
	[ "$d" = "$want" ] || bk_fail "pushed $d, the image is $want"
	[ "$(bk_manifest_of "$BK_REG/other/multi:v1")" = "$(cat "$BK_MNT/images/$id/manifest")" ]
	[ "$(blob_uploads plain)" = "$before" ] || bk_fail "blobs were uploaded, not mounted"
	[ "$(reg_count plain '"POST /v2/other/multi/blobs/uploads/\?mount=sha256%3A[0-9a-f]+&from=test%2Fmulti[^"]*" 201')" -ge 4 ]
	skopeo inspect --tls-verify=false "docker://$BK_REG/other/multi:v1" >/dev/null
}

@test "to another registry with token auth the blobs are uploaded byte for byte; a second push uploads nothing" {
	start
	id=$(bk_pull "$BK_REG/test/multi")
	d=$(bk_push "$id" "$BK_REG_TOKEN/copies/multi:1")
	[ "$d" = "$(cat "$BK_MNT/images/$id/digest")" ]
	[ "$(blob_uploads token)" -ge 1 ]
	# The token service was asked for pull,push on the repository.
	grep -q 'scope=repository%3Acopies%2Fmulti%3Apull%2Cpush' "$BK_REG_DIR/tokens.log"
	for l in $(jq -r '.layers[].digest' "$BK_MNT/images/$id/manifest"); do
		curl -sf -o "$BATS_TEST_TMPDIR/a" "http://$BK_REG/v2/test/multi/blobs/$l"
		tok=$(curl -sf -u tk:tkpw "http://127.0.0.1:$BK_TOKEN_PORT/auth?service=bockerfs-test&scope=repository:copies/multi:pull" | jq -r .token)
		curl -sf -H "Authorization: Bearer $tok" -o "$BATS_TEST_TMPDIR/b" \
			"http://$BK_REG_TOKEN/v2/copies/multi/blobs/$l"
		cmp "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	done
	uploads=$(blob_uploads token)
	d2=$(bk_push "$id" "$BK_REG_TOKEN/copies/multi:1")
	[ "$d2" = "$d" ]
	[ "$(blob_uploads token)" = "$uploads" ] || bk_fail "the second push uploaded"
}

@test "a committed image: whiteouts, an opaque directory, hardlinks, setuid, symlinks, xattrs, devices survive a round trip" {
	start
	read -r c img < <(bk_commit_fixture)
	[ -n "$img" ]
	bk_keep_tree "$img" "$BATS_TEST_TMPDIR/src"
	d=$(bk_push "$img" "$BK_REG/mine/committed:1")
	m=$(bk_manifest_of "$BK_REG/mine/committed:1")
	[ "$(jq '.layers | length' <<<"$m")" = 2 ] || bk_fail "manifest: $m"
	[ "$(jq -r .config.mediaType <<<"$m")" = application/vnd.oci.image.config.v1+json ]
	# The new layer holds whiteouts for what was removed and an opaque /etc.
	top=$(jq -r '.layers[1].digest' <<<"$m")
	curl -sf "http://$BK_REG/v2/mine/committed/blobs/$top" | tar tz >"$BATS_TEST_TMPDIR/list"
	grep -qx 'bin/.wh.ls' "$BATS_TEST_TMPDIR/list"
	grep -qx 'var/.wh..wh..opq' "$BATS_TEST_TMPDIR/list"
	! grep -q '^bin/busybox$' "$BATS_TEST_TMPDIR/list" || bk_fail "unchanged files in the layer"
	# The config lists the diff ids of the two blobs.
	cfg=$(jq -r .config.digest <<<"$m")
	[ "$(curl -sf "http://$BK_REG/v2/mine/committed/blobs/$cfg" | jq '.rootfs.diff_ids | length')" = 2 ]
	# Back into a fresh store: the same files.
	bk_stop
	start
	back=$(bk_pull "$BK_REG/mine/committed:1")
	[ "$(cat "$BK_MNT/images/$back/digest")" = "$d" ]
	bk_same_tree "$BATS_TEST_TMPDIR/src" "$BK_MNT/images/$back/root"
}

@test "a built and an imported image are pushed, pulled back the same, and run" {
	start
	bk_pull "$BK_REG/test/busybox" >/dev/null
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	echo data >"$ctx/file"
	cat >"$ctx/Dockerfile" <<-EOF
	FROM $BK_REG/test/busybox
	COPY file /opt/file
	RUN rm -rf /usr && echo built >/built
	CMD ["cat", "/built"]
	EOF
	b=$(bk_build "$ctx" mybuilt)
	rootfs=$BATS_TEST_TMPDIR/rootfs
	bk_busybox_rootfs "$rootfs"
	i=$(bk_import "$rootfs" myimport)
	bk_keep_tree "$b" "$BATS_TEST_TMPDIR/b"
	bk_keep_tree "$i" "$BATS_TEST_TMPDIR/i"
	bk_push "$b" "$BK_REG/mine/built:1" >/dev/null
	bk_push "$i" "$BK_REG/mine/imported:1" >/dev/null
	[ "$(bk_manifest_of "$BK_REG/mine/imported:1" | jq '.layers | length')" = 1 ]
	[ "$(bk_manifest_of "$BK_REG/mine/built:1" | jq '.layers | length')" = 2 ]
	bk_stop
	start
	b2=$(bk_pull "$BK_REG/mine/built:1")
	i2=$(bk_pull "$BK_REG/mine/imported:1")
	bk_same_tree "$BATS_TEST_TMPDIR/b" "$BK_MNT/images/$b2/root"
	bk_same_tree "$BATS_TEST_TMPDIR/i" "$BK_MNT/images/$i2/root"
	c=$(bk_command "$BK_MNT/containers/run" '^ps_' "$b2")
	[ "$(cat "$BK_MNT/containers/$c/wait")" = "exit 0" ]
	[ "$(cat "$BK_MNT/containers/$c/log")" = built ]
}

@test "skopeo and podman pull and run what bockerfs pushed" {
	start
	read -r c img < <(bk_commit_fixture)
	bk_push "$img" "$BK_REG/mine/forpodman:1" >/dev/null
	skopeo copy -q --src-tls-verify=false "docker://$BK_REG/mine/forpodman:1" \
		"oci:$BATS_TEST_TMPDIR/oci:x"
	[ -f "$BATS_TEST_TMPDIR/oci/index.json" ]
	podman_init
	podman_private pull -q --tls-verify=false "$BK_REG/mine/forpodman:1" >/dev/null
	out=$(podman_private run --rm --net none "$BK_REG/mine/forpodman:1" busybox cat /var/fresh /new)
	[ "$out" = $'fresh\nnew' ] || bk_fail "podman run: '$out'"
	out=$(podman_private run --rm --net none "$BK_REG/mine/forpodman:1" sh -c 'test ! -e /bin/ls && stat -c %a /suid')
	[ "$out" = 4755 ] || bk_fail "podman run: '$out'"
}

@test "push errors: no name, a digest, an unknown image, a refused registry, bad credentials; all readable" {
	start
	rootfs=$BATS_TEST_TMPDIR/rootfs
	bk_busybox_rootfs "$rootfs"
	i=$(bk_import "$rootfs")
	run bk_write_errno "$BK_MNT/images/$i/ctl" "push"$'\n'
	[[ $output == EINVAL* ]] && [[ $output == *"has no name"* ]] || bk_fail "$output"
	run bk_write_errno "$BK_MNT/images/$i/ctl" "push $BK_REG/x@sha256:$(printf '%064d' 0)"$'\n'
	[[ $output == EINVAL* ]] || bk_fail "$output"
	run bk_write_errno "$BK_MNT/images/$i/ctl" "push 127.0.0.1:1/x:1"$'\n'
	[[ $output == ECONNREFUSED* ]] || bk_fail "$output"
	grep -q "push.*127.0.0.1:1/x:1" "$BK_MNT/images/$i/err"
	grep -q "ECONNREFUSED" "$BK_MNT/errors"
	run bk_write_errno "$BK_MNT/images/$i/ctl" "push a b"$'\n'
	[[ $output == EINVAL* ]] || bk_fail "$output"
	bk_stop
	bk_start
	i=$(bk_import "$rootfs")
	run bk_write_errno "$BK_MNT/images/$i/ctl" "push $BK_REG_BASIC/x:1"$'\n'
	[[ $output == EACCES* ]] || bk_fail "$output"
	run bk_write_errno "$BK_MNT/images/$i/ctl" "push $BK_REG_TOKEN/x:1"$'\n'
	[[ $output == EACCES* ]] || bk_fail "$output"
}

@test "registry errors and resets during a push are retried; past the retries the image is as it was and a later push works" {
	start
	rootfs=$BATS_TEST_TMPDIR/rootfs
	bk_busybox_rootfs "$rootfs"
	i=$(bk_import "$rootfs" faulted)
	bk_faulty_rules '^PUT.*/blobs/uploads/ status 500 times=1' '^POST.*/blobs/uploads/ reset times=1'
	bk_push "$i" "$BK_FAULTY/faults/a:1" >/dev/null
	grep -q 'status:500' "$BK_FAULTY_LOG"
	grep -q 'POST.*reset' "$BK_FAULTY_LOG"
	bk_faulty_rules '^PUT.*/manifests/ status 503'
	run bk_write_errno "$BK_MNT/images/$i/ctl" "push $BK_FAULTY/faults/b:1"$'\n'
	[[ $output == EIO* ]] && [[ $output == *"after 4 attempts"* ]] || bk_fail "$output"
	[ "$(cat "$BK_MNT/images/$i/state")" = ready ]
	bk_faulty_rules
	bk_push "$i" "$BK_FAULTY/faults/b:1" >/dev/null
	skopeo inspect --tls-verify=false "docker://$BK_REG/faults/b:1" >/dev/null
}

@test "Basic auth; a relative upload Location; one on another host gets no credentials" {
	bk_start
	rootfs=$BATS_TEST_TMPDIR/rootfs
	bk_busybox_rootfs "$rootfs"
	printf '{"auths": {"%s": {"auth": "%s"}, "%s": {"auth": "%s"}}}\n' \
		"$BK_REG_BASIC" "$(printf bk:bkpw | base64)" "$BK_FAULTY" "$(printf bk:bkpw | base64)" \
		>"$BATS_TEST_TMPDIR/auth.json"
	bk_stop
	bk_start --auth-config "$BATS_TEST_TMPDIR/auth.json"
	i=$(bk_import "$rootfs" basicpush)
	bk_push "$i" "$BK_REG_BASIC/basic/bb:1" >/dev/null
	skopeo inspect --tls-verify=false --creds bk:bkpw "docker://$BK_REG_BASIC/basic/bb:1" >/dev/null
	bk_faulty_rules '^POST.*/blobs/uploads/ location relative'
	bk_push "$i" "$BK_FAULTY/rel/bb:1" >/dev/null
	grep -q 'location:relative' "$BK_FAULTY_LOG"
	bk_faulty_rules '/v2/ auth basic bk:bkpw' \
		'^POST.*/blobs/uploads/ location other'
	bk_push "$i" "$BK_FAULTY/oth/bb:1" >/dev/null
	# The uploads went to the other host, without the registry's credentials.
	[ "$(awk '$2 == "other" && $3 == "PUT"' "$BK_FAULTY_LOG" | wc -l)" -ge 1 ]
	awk '$2 == "other" && $6 != "-" { bad = 1 } END { exit bad }' "$BK_FAULTY_LOG" ||
		bk_fail "credentials sent to the other host: $(cat "$BK_FAULTY_LOG")"
	awk '$2 == "front" && $3 == "PUT" && $6 == "Basic" { ok = 1 } END { exit !ok }' "$BK_FAULTY_LOG"
	skopeo inspect --tls-verify=false "docker://$BK_REG/oth/bb:1" >/dev/null
}

@test "kill -9 during a push: the image and its layers are whole after the restart, and the push then works" {
	start
	read -r c img < <(bk_commit_fixture)
	state=$(jq -S . "$BK_MNT/images/$img/config")
	bk_restart_with "push.blob=kill@2"
	run bk_write_errno "$BK_MNT/images/$img/ctl" "push $BK_REG/mine/killed:1"$'\n'
	bk_after_kill
	bk_nothing_partial
	[ "$(jq -S . "$BK_MNT/images/$img/config")" = "$state" ]
	d=$(bk_push "$img" "$BK_REG/mine/killed:1")
	[ "$(bk_manifest_of "$BK_REG/mine/killed:1" | sha256sum | cut -d' ' -f1)" = "${d#sha256:}" ]
}

@test "progress shows the blobs while a push runs" {
	start
	id=$(bk_pull "$BK_REG/test/big")
	bk_restart_with "push.manifest=sleep:3000"
	bk_bg "$BK_TMP/push.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/$id/ctl" \
		"push $BK_REG_TOKEN/big/copy:1"$'\n'
	progress_full() { [ "$(grep -c ' \([0-9]*\) \1$' "$BK_MNT/images/$id/progress")" -ge 3 ]; }
	bk_wait_until 20 progress_full || bk_fail "progress: $(cat "$BK_MNT/images/$id/progress")"
	bk_wait_gone "$BK_BG_PID" 30
	grep -q '^OK' "$BK_TMP/push.out" || bk_fail "$(cat "$BK_TMP/push.out")"
	[ -z "$(cat "$BK_MNT/images/$id/progress")" ]
}

@test "layers go with their last image: pull, run, commit, build, push, remove all leaves no layer and no subvolume" {
	start
	empty=$(du -sb "$BK_STORE" | cut -f1)
	a=$(bk_pull "$BK_REG/test/busybox")
	m=$(bk_pull "$BK_REG/test/multi")
	read -r c img < <(bk_commit_fixture)
	bk_push "$img" "$BK_REG/mine/gc:1" >/dev/null
	[ -n "$(ls "$BK_STORE/layers")" ]
	# test/multi shares busybox's base: removing busybox keeps it for multi.
	rmdir "$BK_MNT/containers/$c"
	rmdir "$BK_MNT/images/$img"
	base=$(head -n1 "$BK_MNT/images/$a/layers" | cut -d' ' -f1)
	rmdir "$BK_MNT/images/$a"
	grep -qs "\"digest\": \"$base\"" "$BK_STORE"/layers/*/layer.json || bk_fail "the shared base layer went"
	rmdir "$BK_MNT/images/$m"
	[ -z "$(ls "$BK_STORE/layers")" ] || bk_fail "layers left: $(ls "$BK_STORE/layers")"
	[ -z "$(bk_subvolumes)" ] || bk_fail "subvolumes left: $(bk_subvolumes)"
	sync
	now=$(du -sb "$BK_STORE" | cut -f1)
	[ "$now" -le $((empty + 65536)) ] || bk_fail "store was $empty bytes, now $now"
}

@test "a layer left unnamed by a crash is removed at the next start; one an image names stays" {
	start
	id=$(bk_pull "$BK_REG/test/busybox")
	# kill -9 between the last layer's commit and the image's record.
	bk_restart_with "pull.record=kill"
	run bk_pull "$BK_REG/test/multi"
	bk_wait_gone "$BK_PID"
	umount -l "$BK_MNT" 2>/dev/null || true
	[ "$(ls "$BK_STORE/layers" | wc -l)" -gt 1 ]
	bk_daemon_start --auth-config "$BK_REG_DIR/auth.json"
	[ "$(ls "$BK_STORE/layers" | wc -l)" = 1 ] || bk_fail "layers: $(ls "$BK_STORE/layers")"
	c=$(bk_command "$BK_MNT/containers/run" '^ps_' "$id true")
	[ "$(cat "$BK_MNT/containers/$c/wait")" = "exit 0" ]
}

@test "kill -9 at each step of making a layer and of collecting: the store stays whole and the work can be done again" {
	start
	read -r c img < <(bk_commit_fixture)
	for fp in layer.snapshot layer.blob-written; do
		bk_restart_with "$fp=kill"
		run bk_write_errno "$BK_MNT/images/$img/ctl" "push $BK_REG/mine/fp:1"$'\n'
		bk_after_kill
		bk_nothing_partial
		grep -q "failpoint.*$fp" "$BK_LOG" || bk_fail "$fp was not reached"
	done
	bk_push "$img" "$BK_REG/mine/fp:1" >/dev/null
	skopeo inspect --tls-verify=false "docker://$BK_REG/mine/fp:1" >/dev/null
	rmdir "$BK_MNT/containers/$c"
	# Killed while removing the committed image's layers: the next start finishes.
	bk_restart_with "layer.gc=kill"
	rmdir "$BK_MNT/images/$img" || true
	bk_after_kill
	bk_nothing_partial
	id=$(ls "$BK_MNT/images" | grep '^img_')
	rmdir "$BK_MNT/images/$id"
	[ -z "$(ls "$BK_STORE/layers")" ] || bk_fail "layers left: $(ls "$BK_STORE/layers")"
	[ -z "$(bk_subvolumes)" ] || bk_fail "subvolumes left: $(bk_subvolumes)"
}

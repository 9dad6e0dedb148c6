#!/usr/bin/env bats
# images/save ("FILE IMAGE...") and images/load ("FILE"), end to end: the
# archive is an OCI image layout in a tar with Docker's manifest.json beside
# it (Docker >= 25's format).  Images saved and loaded into a fresh store have
# the same files (bkio.py treecmp: modes, owners, sizes, contents, symlinks,
# hardlinks, xattrs, times) and the same manifest digests; skopeo reads our
# archives (oci-archive: and docker-archive:) and we load what skopeo and
# podman write (both formats); podman loads ours and runs it.  Hostile
# archives (tests/lib/registry/hostile.py's layers, names out of the archive,
# digests that lie, truncation, missing blobs, caps) fail with their errno,
# readable in images/err, errors and the read-back, and leave nothing.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/registry'
load '../lib/layer_canary'
load '../lib/images'

: "${BATS_TEST_TIMEOUT:=600}"

setup_file() {
	bk_registry_setup || return
	# The registry's images as an OCI layout: skopeo and mkarchive.py read them.
	export BK_REG_IMAGES
	mkarchive_write "$BATS_FILE_TMPDIR/mkarchive.py"
}

teardown_file() {
	bk_registry_teardown
}

setup() {
	PODMAN_DIR=""
	layer_ghost_pick
}

teardown() {
	podman_cleanup
	ct_cleanup_all
	bk_teardown
	layer_ghost_remove
}

start() {
	bk_start --auth-config "$BK_REG_DIR/auth.json" "$@"
	layer_canary_make
}

# Containers of the test's daemons, removed before the daemons go.
ct_cleanup_all() {
	local d
	[ -n "${BK_MNT:-}" ] && timeout 5 cat "$BK_MNT/version" >/dev/null 2>&1 || return 0
	for d in "$BK_MNT"/containers/*/; do
		[ -d "$d" ] && timeout 20 "$BK_PY" "$BK_LIB/bkio.py" write "${d}ctl" $'rm force\n' \
			>/dev/null 2>&1
	done
	return 0
}

# ctl FILE LINE: write LINE to the control file FILE (under images/), print the reply.
ctl() {
	local fd
	exec {fd}<>"$BK_MNT/images/$1" || return
	if ! printf '%s\n' "$2" >&"$fd"; then
		cat <&"$fd" >&2
		exec {fd}>&-
		return 1
	fi
	cat <&"$fd"
	exec {fd}>&-
}

# save FILE IMAGE...: "ID DIGEST" lines.  load FILE: the ids, one a line.
save() {
	ctl save "$*"
}
load_ok() {
	ctl load "$1"
}

# An archive's member (tar xO).
member() {
	tar -xOf "$1" "$2"
}

# bk_nothing_partial once the daemon is done with tmp/ (spare snapshots pass there).
nothing_partial() {
	bk_wait_until "$BK_DEADLINE" bk_tmp_is_empty || true
	bk_nothing_partial
}

# refused CONTROL ERRNO LINE SUBSTR...: the write of LINE to images/CONTROL fails
# with ERRNO, every SUBSTR in the three error places; no image appears or goes,
# nothing partial stays, the canaries are intact.
refused() {
	local file=$1 e=$2 line=$3 images index
	shift 3
	images=$(bk_tree_images)
	index=$(bk_index_ids)
	run bk_write_errno "$BK_MNT/images/$file" "$line"$'\n'
	[ "${lines[0]}" = "$e" ] || bk_fail "$file '$line': ${lines[0]}, want $e: ${lines[1]}" || return
	bk_check_error "$e" "/images/$file" "$file|write" images/err "${lines[1]}" "$@" || return
	[ "$(bk_tree_images)" = "$images" ] || bk_fail "images now $(bk_tree_images)" || return
	[ "$(bk_store_images)" = "$images" ] || bk_fail "store has $(bk_store_images)" || return
	[ "$(bk_index_ids)" = "$index" ] || bk_fail "index changed" || return
	nothing_partial || return
	layer_canaries_intact
}

# load_refused FILE ERRNO SUBSTR...
load_refused() {
	local f=$1
	shift
	refused load "$1" "$f" "${@:2}"
}

# mkarchive OUT FORMAT CASE [ARG]: an archive made by mkarchive.py (below).
mkarchive() {
	BK_REG_LIB=$BK_REG_LIB CANARY=$CANARY GHOST=$GHOST "$BK_REG_PY" \
		"$BATS_FILE_TMPDIR/mkarchive.py" "$@"
}

@test "a pulled multi-layer image and a committed one: saved, loaded into a fresh store, the same files, digests and names" {
	start
	multi=$(bk_pull "$BK_REG/test/multi")
	committed=$(bk_commit_fixture mine/committed:1 | cut -d" " -f2)
	bk_keep_tree "$multi" "$BATS_TEST_TMPDIR/multi"
	bk_keep_tree "$committed" "$BATS_TEST_TMPDIR/committed"
	f=$BATS_TEST_TMPDIR/two.tar
	out=$(save "$f" "$multi" mine/committed:1)
	[ "$(wc -l <<<"$out")" = 2 ] || bk_fail "reply: $out"
	read -r id1 d1 <<<"$(sed -n 1p <<<"$out")"
	read -r id2 d2 <<<"$(sed -n 2p <<<"$out")"
	[ "$id1" = "$multi" ] && [ "$id2" = "$committed" ] || bk_fail "reply: $out"
	# The pulled image keeps its manifest digest.
	[ "$d1" = "$(cat "$BK_MNT/images/$multi/digest")" ] || bk_fail "$d1"
	# The layout: oci-layout, index.json (a descriptor per name), manifest.json, blobs.
	[ "$(member "$f" oci-layout)" = '{"imageLayoutVersion":"1.0.0"}' ]
	idx=$(member "$f" index.json)
	[ "$(jq -r '.manifests[0].digest' <<<"$idx")" = "$d1" ]
	[ "$(jq -r '.manifests[1].digest' <<<"$idx")" = "$d2" ]
	[ "$(jq -r '.manifests[0].annotations["io.containerd.image.name"]' <<<"$idx")" = "$BK_REG/test/multi:latest" ]
	[ "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' <<<"$idx")" = latest ]
	[ "$(jq -r '.manifests[1].annotations["io.containerd.image.name"]' <<<"$idx")" = docker.io/mine/committed:1 ]
	dm=$(member "$f" manifest.json)
	[ "$(jq -r '.[1].RepoTags[0]' <<<"$dm")" = mine/committed:1 ]
	[ "$(jq -r '.[0].Layers | length' <<<"$dm")" = 4 ]
	[ "$(jq -r '.[1].Layers | length' <<<"$dm")" = 2 ]
	for b in $(jq -r '.[].Layers[], .[].Config' <<<"$dm"); do
		[[ $b =~ ^blobs/sha256/[0-9a-f]{64}$ ]] || bk_fail "member $b"
		[ "sha256:$(member "$f" "$b" | sha256sum | cut -d' ' -f1)" = "sha256:${b##*/}" ] ||
			bk_fail "$b holds other bytes"
	done
	# A fresh store.
	bk_stop
	start
	ids=$(load_ok "$f")
	[ "$(wc -l <<<"$ids")" = 2 ] || bk_fail "loaded: $ids"
	l1=$(sed -n 1p <<<"$ids")
	l2=$(sed -n 2p <<<"$ids")
	[[ $l1 =~ $BK_IMG_ID_RE ]] && [[ $l2 =~ $BK_IMG_ID_RE ]]
	bk_same_tree "$BATS_TEST_TMPDIR/multi" "$BK_MNT/images/$l1/root"
	bk_same_tree "$BATS_TEST_TMPDIR/committed" "$BK_MNT/images/$l2/root"
	[ "$(cat "$BK_MNT/images/$l1/digest")" = "$d1" ]
	[ "$(cat "$BK_MNT/images/$l2/digest")" = "$d2" ]
	bk_assert_content "$BK_MNT/images/$l1/ref" "$BK_REG/test/multi:latest"$'\n'
	bk_assert_content "$BK_MNT/images/$l2/ref" $'mine/committed:1\n'
	[ "$(cat "$BK_MNT/images/$l1/state")" = ready ]
	[ "$(wc -l <"$BK_MNT/images/$l1/layers")" = 4 ]
	# The record of a pulled image: a save of what was loaded gives the same manifests.
	out2=$(save "$BATS_TEST_TMPDIR/again.tar" "$l1" "$l2")
	[ "$(cut -d' ' -f2 <<<"$out2")" = "$(printf '%s\n%s' "$d1" "$d2")" ] || bk_fail "$out2"
	# The same archive again: no copy, the same images.
	[ "$(load_ok "$f")" = "$ids" ]
	[ "$(bk_index_ids | wc -l)" = 2 ]
	# The loaded images run.
	c=$(bk_command "$BK_MNT/containers/run" '^ps_' "mine/committed:1 cat /var/fresh /new")
	bk_assert_content "$BK_MNT/containers/$c/wait" $'exit 0\n'
	bk_assert_content "$BK_MNT/containers/$c/log" $'fresh\nnew\n'
	nothing_partial
}

@test "names: by name that name, by id all of them; an unnamed image; a name moves on load; a gzip archive loads" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	printf 'a/x:1\na/x:2\n' >>"$BK_MNT/images/$bb/ref"
	rootfs=$BATS_TEST_TMPDIR/rootfs
	bk_busybox_rootfs "$rootfs"
	echo unnamed >"$rootfs/marker"
	u=$(bk_import "$rootfs")
	save "$BATS_TEST_TMPDIR/byid.tar" "$bb" >/dev/null
	save "$BATS_TEST_TMPDIR/byname.tar" a/x:1 >/dev/null
	save "$BATS_TEST_TMPDIR/unnamed.tar" "$u" >/dev/null
	# The same image twice, by id and by name: once.
	[ "$(save "$BATS_TEST_TMPDIR/twice.tar" "$bb" a/x:2 | wc -l)" = 1 ]
	names=$(member "$BATS_TEST_TMPDIR/byid.tar" index.json |
		jq -r '.manifests[].annotations["io.containerd.image.name"]' | sort)
	[ "$names" = "$(printf '%s\n%s\n%s' "$BK_REG/test/busybox:latest" docker.io/a/x:1 docker.io/a/x:2 | sort)" ] ||
		bk_fail "names: $names"
	[ "$(member "$BATS_TEST_TMPDIR/byname.tar" manifest.json | jq -c '.[0].RepoTags')" = '["a/x:1"]' ]
	[ "$(member "$BATS_TEST_TMPDIR/unnamed.tar" index.json | jq -c '.manifests[0].annotations')" = null ]
	[ "$(member "$BATS_TEST_TMPDIR/unnamed.tar" manifest.json | jq -c '.[0].RepoTags')" = '[]' ]
	gzip -k "$BATS_TEST_TMPDIR/byid.tar"
	bk_stop
	start
	# Another image has a/x:1: loading moves the name, as docker load does.
	other=$(bk_import "$rootfs" a/x:1)
	l=$(load_ok "$BATS_TEST_TMPDIR/byname.tar")
	bk_assert_content "$BK_MNT/images/$l/ref" $'a/x:1\n'
	bk_assert_content "$BK_MNT/images/$other/ref" ''
	# The same image with all its names: no copy, the names added.
	[ "$(load_ok "$BATS_TEST_TMPDIR/byid.tar")" = "$l" ]
	[ "$(sort "$BK_MNT/images/$l/ref")" = "$(printf '%s\n%s\n%s' "$BK_REG/test/busybox:latest" a/x:1 a/x:2 | sort)" ]
	n=$(load_ok "$BATS_TEST_TMPDIR/unnamed.tar")
	[ "$n" != "$l" ]
	bk_assert_content "$BK_MNT/images/$n/ref" ''
	bk_assert_content "$BK_MNT/images/$n/source" "$BATS_TEST_TMPDIR/unnamed.tar"$'\n'
	bk_assert_content "$BK_MNT/images/$n/root/marker" $'unnamed\n'
	# docker load takes a compressed archive too.
	bk_stop
	start
	g=$(load_ok "$BATS_TEST_TMPDIR/byid.tar.gz")
	[ "$(wc -l <"$BK_MNT/images/$g/ref")" = 3 ]
	cmp /bin/busybox "$BK_MNT/images/$g/root/bin/busybox"
	nothing_partial
}

@test "skopeo reads our archive as oci-archive and docker-archive; archives skopeo made load here" {
	start
	multi=$(bk_pull "$BK_REG/test/multi")
	bk_keep_tree "$multi" "$BATS_TEST_TMPDIR/multi"
	f=$BATS_TEST_TMPDIR/ours.tar
	read -r _ d <<<"$(save "$f" "$multi")"
	# oci-archive: into an OCI directory, the same manifest; and back into an archive.
	skopeo copy -q "oci-archive:$f" "oci:$BATS_TEST_TMPDIR/dir:m"
	[ "$(skopeo inspect --raw "oci:$BATS_TEST_TMPDIR/dir:m" | sha256sum | cut -d' ' -f1)" = "${d#sha256:}" ]
	skopeo copy -q "oci:$BATS_TEST_TMPDIR/dir:m" "oci-archive:$BATS_TEST_TMPDIR/back.tar:test/back:1"
	# docker-archive: the manifest.json view, its layers given uncompressed.
	skopeo copy -q "docker-archive:$f" "oci:$BATS_TEST_TMPDIR/dir2:m"
	[ "$(skopeo inspect --config "oci:$BATS_TEST_TMPDIR/dir2:m" | jq -r '.rootfs.diff_ids | length')" = 4 ]
	skopeo copy -q "oci:$BATS_TEST_TMPDIR/dir2:m" "docker-archive:$BATS_TEST_TMPDIR/back-docker.tar:test/backd:1"
	# Archives skopeo made from the registry's OCI layout, both formats.
	skopeo copy -q "oci:$BK_REG_IMAGES/oci:multi" "oci-archive:$BATS_TEST_TMPDIR/sk-oci.tar:sk/multi:oci"
	skopeo copy -q "oci:$BK_REG_IMAGES/oci:multi" "docker-archive:$BATS_TEST_TMPDIR/sk-docker.tar:sk/multi:docker"
	bk_stop
	start
	# The docker-archive first: its layers keep their blobs (plain tars), as it gave them.
	for a in sk-docker:sk/multi:docker back-docker:test/backd:1 back:test/back:1 sk-oci:sk/multi:oci; do
		id=$(load_ok "$BATS_TEST_TMPDIR/${a%%:*}.tar") || bk_fail "load ${a%%:*}"
		[[ $id =~ $BK_IMG_ID_RE ]] || bk_fail "${a%%:*}: $id"
		# Two archives of the same manifest (both docker-archives) are one image.
		grep -qx "${a#*:}" "$BK_MNT/images/$id/ref" || bk_fail "${a%%:*}: $(cat "$BK_MNT/images/$id/ref")"
		bk_same_tree "$BATS_TEST_TMPDIR/multi" "$BK_MNT/images/$id/root"
		[ "$(wc -l <"$BK_MNT/images/$id/layers")" = 4 ]
	done
	# The OCI ones keep the registry's manifest; the docker ones get one made here.
	[ "$(cat "$BK_MNT/images/$(bk_image_of sk/multi:oci)/digest")" = "$d" ]
	dk=$(bk_image_of sk/multi:docker)
	[ "$(jq -r .mediaType "$BK_MNT/images/$dk/manifest")" = application/vnd.oci.image.manifest.v1+json ]
	[ "$(jq -r '.layers[0].mediaType' "$BK_MNT/images/$dk/manifest")" = application/vnd.oci.image.layer.v1.tar ]
	# What was loaded from a docker-archive is saved with the same manifest again.
	read -r _ d2 <<<"$(save "$BATS_TEST_TMPDIR/again.tar" "$dk")"
	[ "$d2" = "$(cat "$BK_MNT/images/$dk/digest")" ]
	nothing_partial
}

# bk_image_of NAME: the id of the image NAME names (through images/*/ref).
bk_image_of() {
	grep -lx "$1" "$BK_MNT"/images/img_*/ref | head -n1 | xargs dirname | xargs basename
}

@test "podman loads our archive (one image, two images) and runs it; podman save of an image podman pulled loads here and runs" {
	start
	bb=$(bk_pull "$BK_REG/test/busybox")
	zs=$(bk_pull "$BK_REG/test/zstd")
	save "$BATS_TEST_TMPDIR/one.tar" "$bb" >/dev/null
	save "$BATS_TEST_TMPDIR/two.tar" "$bb" "$zs" >/dev/null
	podman_init
	podman_private load -q -i "$BATS_TEST_TMPDIR/one.tar"
	out=$(podman_private run --rm --net none "$BK_REG/test/busybox:latest" sh -c 'echo ran one')
	[ "$out" = "ran one" ] || bk_fail "podman run: '$out'"
	podman_private rmi -a -f >/dev/null
	# Two images: podman reads manifest.json, whose layers are our gzip and zstd blobs.
	podman_private load -q -i "$BATS_TEST_TMPDIR/two.tar"
	out=$(podman_private run --rm --net none "$BK_REG/test/zstd:latest" cat /zstd-marker)
	[ -n "$out" ] || bk_fail "podman run: no /zstd-marker"
	podman_private rmi -a -f >/dev/null
	# podman save, both formats, of what podman pulled.
	podman_private pull -q --tls-verify=false "$BK_REG/test/multi" >/dev/null
	podman_private save -q -o "$BATS_TEST_TMPDIR/pd-docker.tar" "$BK_REG/test/multi:latest"
	podman_private save -q --format oci-archive -o "$BATS_TEST_TMPDIR/pd-oci.tar" "$BK_REG/test/multi:latest"
	multi=$(bk_pull "$BK_REG/test/multi")
	bk_keep_tree "$multi" "$BATS_TEST_TMPDIR/multi"
	bk_stop
	start
	# Our archive of the two, zstd layer and all, loads here too.
	[ "$(load_ok "$BATS_TEST_TMPDIR/two.tar" | wc -l)" = 2 ]
	[ -s "$BK_MNT/images/$(bk_image_of "$BK_REG/test/zstd:latest")/root/zstd-marker" ]
	for a in pd-docker pd-oci; do
		id=$(load_ok "$BATS_TEST_TMPDIR/$a.tar") || bk_fail "load $a"
		bk_same_tree "$BATS_TEST_TMPDIR/multi" "$BK_MNT/images/$id/root"
		grep -qx "$BK_REG/test/multi:latest" "$BK_MNT/images/$id/ref" ||
			bk_fail "$a: named $(cat "$BK_MNT/images/$id/ref")"
		c=$(bk_command "$BK_MNT/containers/run" '^ps_' "$id cat /opt/file")
		bk_assert_content "$BK_MNT/containers/$c/wait" $'exit 0\n'
		bk_assert_content "$BK_MNT/containers/$c/log" $'file\n'
	done
	nothing_partial
}

@test "hostile layers in an archive: refused as a pull refuses them, or kept inside the image" {
	start
	for c in traversal-dotdot:"'../x' escapes the layer root" \
		traversal-deep:"escapes the layer root" traversal-mid:"escapes the layer root" \
		symlink-out:"'esc' is a symlink to a missing directory" \
		symlink-across:"'esc' is a symlink to a missing directory" \
		hardlink-abs:"$CANARY/keep' missing" hardlink-shadow:"'/etc/shadow' missing" \
		hardlink-via-symlink:"'lnk/keep' missing" \
		swap-dir-symlink:"'d' is a symlink to a missing directory" \
		whiteout-dotdot:"'../.wh.keep' escapes the layer root" \
		whiteout-invalid:"invalid whiteout 'etc/.wh..'" \
		huge-header:"claims 1099511627776 bytes"; do
		mkarchive "$BATS_TEST_TMPDIR/h.tar" oci "hostile:${c%%:*}"
		load_refused "$BATS_TEST_TMPDIR/h.tar" EBADMSG "${c#*:}" || bk_fail "case ${c%%:*}"
	done
	# A decompression bomb (2 GiB of zeros in 2 MiB): the ratio cap.
	mkarchive "$BATS_TEST_TMPDIR/h.tar" docker hostile:bomb-gzip-tail 2
	load_refused "$BATS_TEST_TMPDIR/h.tar" EBADMSG "more than 100 times its compressed size"
	# Contained: absolute names and symlinks resolved inside the image.
	mkarchive "$BATS_TEST_TMPDIR/h.tar" oci hostile:absolute
	id=$(load_ok "$BATS_TEST_TMPDIR/h.tar")
	r=$BK_STORE/images/$id/rootfs
	bk_assert_content "$r/etc/${GHOST#/}" $'pwned\n'
	bk_assert_content "$r${CANARY}/pwned" $'pwned\n'
	layer_canaries_intact
	mkarchive "$BATS_TEST_TMPDIR/h.tar" docker hostile:symlink-up
	id=$(load_ok "$BATS_TEST_TMPDIR/h.tar")
	bk_assert_content "$BK_STORE/images/$id/rootfs${CANARY}/pwned" $'pwned\n'
	layer_canaries_intact
	nothing_partial
}

@test "hostile archives: names out of it, lies, truncation, missing blobs, caps, not a tar: refused with their errno, nothing left" {
	start
	t=$BATS_TEST_TMPDIR
	mkarchive "$t/a.tar" docker outside-dotdot
	load_refused "$t/a.tar" EBADMSG "'../x' escapes the archive"
	mkarchive "$t/a.tar" docker outside-abs
	load_refused "$t/a.tar" EBADMSG "'/etc/passwd' is absolute"
	mkarchive "$t/a.tar" docker symlink-out
	load_refused "$t/a.tar" EBADMSG "'l.tar' is a symlink out of the archive"
	mkarchive "$t/a.tar" docker symlink-climb
	load_refused "$t/a.tar" EBADMSG "'s/layer.tar' is a symlink to '../../" "out of the archive"
	mkarchive "$t/a.tar" oci member-dotdot
	load_refused "$t/a.tar" EBADMSG "archive member '../evil' escapes the archive"
	mkarchive "$t/a.tar" oci member-abs
	load_refused "$t/a.tar" EBADMSG "archive member '/etc/evil' is absolute"
	mkarchive "$t/a.tar" oci dup-member
	load_refused "$t/a.tar" EBADMSG "'index.json' appears twice"
	mkarchive "$t/a.tar" oci many-members
	load_refused "$t/a.tar" EBADMSG "more than 65536 members in the archive"
	# docker-archive gives no digest to check: the flipped byte breaks the layer itself.
	mkarchive "$t/a.tar" oci lie-blob
	load_refused "$t/a.tar" EBADMSG "digest mismatch"
	mkarchive "$t/a.tar" docker lie-blob
	load_refused "$t/a.tar" EBADMSG "layer '"
	for f in oci docker; do
		mkarchive "$t/a.tar" $f lie-diffid
		load_refused "$t/a.tar" EBADMSG "diff id mismatch" || bk_fail "$f lie-diffid"
		mkarchive "$t/a.tar" $f missing-blob
		load_refused "$t/a.tar" EBADMSG "is not in the archive" || bk_fail "$f missing-blob"
	done
	mkarchive "$t/a.tar" oci lie-config
	load_refused "$t/a.tar" EBADMSG "digest mismatch"
	mkarchive "$t/a.tar" oci lie-manifest
	load_refused "$t/a.tar" EBADMSG "digest mismatch"
	mkarchive "$t/a.tar" oci lie-size
	load_refused "$t/a.tar" EBADMSG "the manifest says"
	mkarchive "$t/a.tar" oci big-index
	load_refused "$t/a.tar" EFBIG "'index.json' is 4194305 bytes, more than 4194304"
	mkarchive "$t/a.tar" oci big-manifest
	load_refused "$t/a.tar" EFBIG "more than 4194304"
	mkarchive "$t/a.tar" oci big-config
	load_refused "$t/a.tar" EFBIG "config of 16777217 bytes is over the cap"
	mkarchive "$t/a.tar" oci no-image
	load_refused "$t/a.tar" EPROTO "holds no image"
	# Cut short in a layer's data, in the ones we write and in compressed ones.
	mkarchive "$t/a.tar" oci good
	size=$(stat -c %s "$t/a.tar")
	head -c $((size / 2)) "$t/a.tar" >"$t/cut.tar"
	load_refused "$t/cut.tar" EBADMSG "truncated"
	gzip -c "$t/a.tar" | head -c $((size / 4)) >"$t/cut.tar.gz"
	load_refused "$t/cut.tar.gz" EBADMSG "truncated"
	# Not an archive at all, an empty file, no image in it.
	head -c 100000 /dev/urandom >"$t/random"
	load_refused "$t/random" EBADMSG "not a tar archive"
	: >"$t/empty"
	load_refused "$t/empty" EBADMSG "load '$t/empty'"
	tar -cf "$t/plain.tar" -C "$BK_REG_LIB" hostile.py
	load_refused "$t/plain.tar" EBADMSG "not an image archive"
	# The good one still loads after all that, and links inside the archive are followed.
	id=$(load_ok "$t/a.tar")
	cmp /bin/busybox "$BK_MNT/images/$id/root/bin/busybox"
	mkarchive "$t/l.tar" docker links-in
	id=$(load_ok "$t/l.tar")
	bk_assert_content "$BK_MNT/images/$id/ref" $'test/mk:1\n'
	nothing_partial
}

@test "load and save arguments: missing (ENOENT), relative (EINVAL), a directory (EISDIR), bockerfs's own places (EINVAL), unknown images" {
	start
	t=$BATS_TEST_TMPDIR
	bb=$(bk_pull "$BK_REG/test/busybox")
	load_refused "$t/nope.tar" ENOENT "'$t/nope.tar'" "no such file"
	load_refused nope.tar EINVAL "path must be absolute"
	load_refused "$t" EISDIR "not a regular file"
	cp "$BK_STORE/images/$bb/config.json" "$BK_STORE/x.tar"
	load_refused "$BK_STORE/x.tar" EINVAL "inside bockerfs's own"
	o=$t/out
	mkdir "$o"
	refused save EINVAL "x.tar $bb" "path must be absolute"
	refused save EINVAL "$o/x.tar" "usage: FILE IMAGE..."
	refused save EINVAL "$o/x.tar $bb $bb $bb $bb $bb $bb $bb $bb" "too many words (at most 8)"
	refused save ENOENT "$o/x.tar nope:1" "nope:1"
	refused save ENOENT "$o/nodir/x.tar $bb" "'$o/nodir/x.tar'"
	refused save EISDIR "$o $bb" "is a directory"
	for own in "$BK_STORE/x.tar" "$BK_ROOT/x.tar" "$BK_MNT/x.tar" "$BK_ROOT" "$BK_MNT/images"; do
		refused save EINVAL "$own $bb" "inside bockerfs's own" || bk_fail "save to $own"
	done
	[ -z "$(ls -A "$o")" ] || bk_fail "left in $o: $(ls -A "$o")"
	[ ! -e "$BK_ROOT/x.tar" ]
}

@test "Ctrl-C during a save or a load, or kill -9 during a load: nothing partial, FILE untouched, then both work" {
	BOCKERFS_FAILPOINTS='save.layer=sleep:2000@1;load.mid-blob=sleep:2000@1' start
	t=$BATS_TEST_TMPDIR
	mkdir "$t/out"
	bb=$(bk_pull "$BK_REG/test/busybox")
	echo old >"$t/out/x.tar"
	run "$BK_PY" "$BK_LIB/bkio.py" intr-write "$BK_MNT/images/save" "$t/out/x.tar $bb"$'\n' 0.5
	[ "$output" = EINTR ] || bk_fail "save: $output"
	grep -q 'failpoint save.layer: sleep' "$BK_LOG"
	bk_wait_until 5 eval 'test "$(ls -A "$t/out")" = x.tar' || bk_fail "left: $(ls -A "$t/out")"
	bk_assert_content "$t/out/x.tar" $'old\n'
	save "$t/out/x.tar" "$bb" >/dev/null
	[ "$(ls -A "$t/out")" = x.tar ]
	mkarchive "$t/big.tar" oci big
	images=$(bk_tree_images)
	bk_bg "$t/intr.out" "$BK_PY" "$BK_LIB/bkio.py" intr-write "$BK_MNT/images/load" \
		"$t/big.tar"$'\n' 1
	# The image shows while it loads (state pulling, with progress), then goes.
	bk_wait_until 5 loading || bk_fail "no image in state pulling"
	wait "$BK_BG_PID" || true
	[ "$(head -n1 "$t/intr.out")" = EINTR ] || bk_fail "load: $(cat "$t/intr.out")"
	grep -q 'failpoint load.mid-blob: sleep' "$BK_LOG"
	bk_wait_until 10 eval 'test "$(bk_tree_images)" = "$images"' || bk_fail "images: $(bk_tree_images)"
	grep -q "load.*interrupted" "$BK_MNT/errors" || bk_fail "errors: $(cat "$BK_MNT/errors")"
	nothing_partial
	id=$(load_ok "$t/big.tar")
	[ "$(stat -c %s "$BK_MNT/images/$id/root/big3")" = 8388608 ]
	# kill -9 halfway through a blob: after a restart, nothing of the load.
	bk_stop
	BOCKERFS_FAILPOINTS='load.mid-blob=kill@2' start
	images=$(bk_tree_images)
	run bk_write_errno "$BK_MNT/images/load" "$t/big.tar"$'\n'
	[[ ${lines[0]} == ENOTCONN || ${lines[0]} == ECONNABORTED ]] || bk_fail "load: $output"
	grep -q 'failpoint load.mid-blob: kill' "$BK_LOG"
	bk_wait_gone "$BK_PID" || true
	bk_daemon_reap "$BK_PID"
	umount -l "$BK_MNT" 2>/dev/null || true
	bk_daemon_start --auth-config "$BK_REG_DIR/auth.json"
	[ "$(bk_tree_images)" = "$images" ]
	nothing_partial
	id=$(load_ok "$t/big.tar")
	[ "$(stat -c %s "$BK_MNT/images/$id/root/big3")" = 8388608 ]
}

# An image of the tree in state pulling, with a progress line.
loading() {
	local d
	for d in "$BK_MNT"/images/img_*/; do
		[ "$(cat "${d}state" 2>/dev/null)" = pulling ] && [ -s "${d}progress" ] && return 0
	done
	return 1
}

# mkarchive.py: written at setup_file.
mkarchive_write() {
	cat >"$1" <<'EOF'
"""mkarchive.py OUT FORMAT CASE [ARG]: an image archive for 67-save-load.bats.

FORMAT: oci (oci-layout, index.json, blobs/sha256/<hex>) or docker
(manifest.json, <hex>.tar layers, <hex>.json config).  The image,
"test/mk:1", is test/busybox's layer (from $BK_REG_IMAGES/oci) plus:

  good                nothing
  big                 the three 8 MiB layers of "big"
  hostile:NAME        hostile.py's layers of case NAME (ARG its argument;
                      CANARY and GHOST from the environment)
  lie-blob            a byte of the last layer's blob flipped (same name, size)
  lie-diffid          the config's last diff id another one
  lie-config          a byte of the config flipped (oci)
  lie-manifest        a byte of the manifest flipped (oci)
  lie-size            the last layer's descriptor size off by one (oci)
  missing-blob        the last layer's blob left out
  outside-dotdot      (docker) the last layer named "../x"
  outside-abs         (docker) the config named "/etc/passwd"
  symlink-out         (docker) the last layer a member "l.tar" -> /etc/passwd
  symlink-climb       (docker) the last layer a member "s/layer.tar" -> ../../<it>
  links-in            (docker) the last layer through a symlink, the config a hardlink
  member-dotdot       a member "../evil" besides
  member-abs          a member "/etc/evil" besides
  dup-member          index.json twice
  many-members        65537 empty members besides
  big-index           index.json of 4 MiB + 1
  big-manifest        a manifest of 4 MiB + 1
  big-config          a config of 16 MiB + 1
  no-image            an index.json without manifests
"""
import io
import json
import os
import sys
import tarfile

sys.path.insert(0, os.environ["BK_REG_LIB"])
from hostile import cases, sha  # noqa: E402

OCI_MAN = "application/vnd.oci.image.manifest.v1+json"
OCI_CFG = "application/vnd.oci.image.config.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
NAME = "test/mk:1"


def layout_image(ref):
    lay = os.environ["BK_REG_IMAGES"] + "/oci"
    idx = json.load(open(lay + "/index.json"))
    d = [m for m in idx["manifests"]
         if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref][0]

    def blob(dg):
        with open(lay + "/blobs/sha256/" + dg.split(":")[1], "rb") as f:
            return f.read()

    man = json.loads(blob(d["digest"]))
    cfg = json.loads(blob(man["config"]["digest"]))
    return cfg, [(blob(l["digest"]), l["mediaType"], diff)
                 for l, diff in zip(man["layers"], cfg["rootfs"]["diff_ids"])]


def flip(b):
    b = bytearray(b)
    b[len(b) // 2] ^= 0xff
    return bytes(b)


class Out:
    def __init__(self, path):
        self.t = tarfile.open(path, "w", format=tarfile.PAX_FORMAT)

    def add(self, name, data=b"", link=None, hardlink=None):
        ti = tarfile.TarInfo(name)
        ti.mtime, ti.mode = 1700000000, 0o644
        if link is not None or hardlink is not None:
            ti.type = tarfile.SYMTYPE if link is not None else tarfile.LNKTYPE
            ti.linkname = link if link is not None else hardlink
            self.t.addfile(ti)
            return
        ti.size = len(data)
        self.t.addfile(ti, io.BytesIO(data))

    def close(self):
        self.t.close()


def main():
    out, fmt, case = sys.argv[1:4]
    arg = sys.argv[4] if len(sys.argv) > 4 else None
    cfg, layers = layout_image("busybox")
    if case == "big":
        cfg, layers = layout_image("big")
    elif case.startswith("hostile:"):
        table = cases(os.environ["CANARY"], os.environ["GHOST"], arg)
        layers = layers + table[case[len("hostile:"):]]()
    diffs = [d for _, _, d in layers]
    if case == "lie-diffid":
        diffs[-1] = sha(b"another layer")
    cfg = dict(cfg, rootfs={"type": "layers", "diff_ids": diffs})
    if case == "big-config":
        cfg["pad"] = ""
        cfg["pad"] = " " * (16 * 1024 * 1024 + 1 - len(json.dumps(cfg).encode()))
    cfgb = json.dumps(cfg).encode()
    blobs = [b for b, _, _ in layers]
    descs = [{"mediaType": m, "digest": sha(b), "size": len(b)} for b, m, _ in layers]
    if case == "lie-size":
        descs[-1]["size"] += 1
    man = {"schemaVersion": 2, "mediaType": OCI_MAN,
           "config": {"mediaType": OCI_CFG, "digest": sha(cfgb), "size": len(cfgb)},
           "layers": descs}
    if case == "big-manifest":
        man["annotations"] = {"pad": ""}
        man["annotations"]["pad"] = " " * (4 * 1024 * 1024 + 1 - len(json.dumps(man).encode()))
    manb = json.dumps(man).encode()
    stored = {sha(b): b for b in blobs}
    if case == "lie-blob":
        stored[sha(blobs[-1])] = flip(blobs[-1])
    if case == "missing-blob":
        del stored[sha(blobs[-1])]
    o = Out(out)
    if case == "member-dotdot":
        o.add("../evil", b"evil\n")
    if case == "member-abs":
        o.add("/etc/evil", b"evil\n")
    if case == "many-members":
        for i in range(65537):
            o.add("m/%d" % i)
    if fmt == "oci":
        stored[sha(cfgb)] = flip(cfgb) if case == "lie-config" else cfgb
        stored[sha(manb)] = flip(manb) if case == "lie-manifest" else manb
        o.add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        for d, b in stored.items():
            o.add("blobs/sha256/" + d.split(":")[1], b)
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MAN, "digest": sha(manb), "size": len(manb),
             "annotations": {"io.containerd.image.name": "docker.io/" + NAME,
                             "org.opencontainers.image.ref.name": "1"}}]}
        if case == "no-image":
            index["manifests"] = []
        ib = json.dumps(index).encode()
        if case == "big-index":
            ib = ib + b" " * (4 * 1024 * 1024 + 1 - len(ib))
        o.add("index.json", ib)
        if case == "dup-member":
            o.add("index.json", ib)
    else:
        names = []
        for b in blobs:
            d = sha(b).split(":")[1]
            names.append(d + ".tar")
            if sha(b) in stored:
                o.add(d + ".tar", stored[sha(b)])
        config = sha(cfgb).split(":")[1] + ".json"
        o.add(config, cfgb)
        if case == "outside-dotdot":
            names[-1] = "../x"
        if case == "outside-abs":
            config = "/etc/passwd"
        if case == "symlink-out":
            o.add("l.tar", link="/etc/passwd")
            names[-1] = "l.tar"
        if case == "symlink-climb":
            o.add("s/layer.tar", link="../../" + names[-1])
            names[-1] = "s/layer.tar"
        if case == "links-in":
            # Docker before 25 links a layer saved twice to its first copy.
            o.add("s/layer.tar", link="../" + names[-1])
            o.add("h.json", hardlink=config)
            names[-1], config = "s/layer.tar", "h.json"
        o.add("manifest.json", json.dumps(
            [{"Config": config, "RepoTags": [NAME], "Layers": names}]).encode())
    o.close()


main()
EOF
}

#!/usr/bin/env bats
# images/build, end to end: a multi-step Dockerfile whose result, run with no
# cmd, shows what COPY, RUN, ENV, WORKDIR and CMD did; the build log read while
# the build runs; a failing RUN, unsupported instructions, ADD of a URL and
# sources outside the context, each failing with its errno and line and
# leaving no image, no step container and no subvolume behind; ADD of a local
# archive; Ctrl-C of a build; two builds at once.  Each test starts its own
# daemon with a busybox image (tests/lib/fixture.bash, tests/lib/containers.bash)
# and removes what it made.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'

: "${BATS_TEST_TIMEOUT:=180}"

setup_file() {
	ct_setup_file
}

teardown_file() {
	ct_teardown_file
}

teardown() {
	ct_teardown
}

# bd_start: a daemon with busybox; it fails when the tree has no images/build.
bd_start() {
	ct_start || return
	[ -e "$BK_MNT/images/build" ] || bk_fail "no images/build in the tree"
}

# bd_snapshot: what must be the same after a failed build (images, containers, store).
bd_snapshot() {
	cat "$BK_MNT/images/index"
	echo "--"
	cat "$BK_MNT/containers/index"
	echo "--"
	bk_store_images
	echo "--"
	ls "$BK_STORE/containers"
}

# bd_nothing_left SNAPSHOT SUBVOLUMES: the tree and the store are as they were.
bd_nothing_left() {
	local now
	now=$(bd_snapshot)
	[ "$now" = "$1" ] || bk_fail "after the failed build:
$now
before:
$1" || return
	# Work in progress lives in tmp/; the spare pool's refills (spare-*) come and go.
	bk_wait_until "$BK_DEADLINE" bd_tmp_clean || bk_fail "store tmp/: $(ls "$BK_STORE/tmp")" || return
	bk_wait_until "$BK_DEADLINE" bd_subvolumes_are "$2" ||
		bk_fail "subvolumes before: $2; after: $(bd_subvolumes)"
}
bd_tmp_clean() {
	[ -z "$(ls "$BK_STORE/tmp" | grep -v '^spare-')" ]
}

# Subvolumes but the spare pool's, which step containers draw from and which refills
# (spare/ and, while a refill makes one, tmp/spare-*).
bd_subvolumes() {
	bk_subvolumes | grep -v -e '^spare/' -e '^tmp/spare-'
}
bd_subvolumes_are() {
	[ "$(bd_subvolumes)" = "$1" ]
}

# bd_building: the id of the image in state building (one line), when there is one.
bd_building() {
	local d
	for d in "$BK_MNT"/images/img_*/; do
		[ "$(cat "${d}state" 2>/dev/null)" = building ] && basename "$d"
	done
	return 0
}
bd_is_building() {
	[ -n "$(bd_building)" ]
}

@test "build: COPY, RUN, ENV, WORKDIR, CMD; the result run with no cmd honours them all" {
	bd_start
	ctx=$BK_TMP/ctx
	mkdir -p "$ctx/conf"
	echo "hello from the context" >"$ctx/hello.txt"
	echo "key=value" >"$ctx/conf/app.conf"
	cat >"$ctx/Dockerfile" <<-'EOF'
		# comments and continuations are part of the format
		FROM busybox
		ARG WHO=world
		COPY hello.txt /data/
		COPY conf /etc/app
		ENV GREETING="hi there" \
		    MODE=production
		WORKDIR /srv/app
		RUN echo "built for $WHO in $(pwd), mode $MODE" > made.txt && \
		    echo "output of the first RUN"
		RUN ["/bin/sh", "-c", "echo exec form >> /srv/app/made.txt"]
		CMD cat /data/hello.txt /etc/app/app.conf made.txt; echo "GREETING=$GREETING WHO=${WHO:-unset} PWD=$(pwd)"
	EOF
	images_before=$(bk_index_ids)
	ctrs_before=$(cat "$C/index")
	id=$(bk_build "$ctx" myapp:1)
	bk_assert_content "$BK_MNT/images/$id/state" $'ready\n'
	bk_assert_content "$BK_MNT/images/$id/ref" $'myapp:1\n'
	bk_assert_content "$BK_MNT/images/$id/source" "$ctx"$'\n'
	# Only the result is new: the intermediate images and step containers are gone.
	[ "$(bk_index_ids)" = "$images_before"$'\n'"$id" ] || bk_fail "index: $(bk_index_ids)"
	[ "$(cat "$C/index")" = "$ctrs_before" ] || bk_fail "containers: $(cat "$C/index")"
	[ "$(bk_store_images)" = "$(printf '%s\n' "$BB_ID" "$id" | sort)" ]
	# The config has what the Dockerfile set (ARG is not in it).
	"$BK_PY" - "$BK_MNT/images/$id/config" <<-'EOF'
		import json, sys
		c = json.load(open(sys.argv[1]))["config"]
		assert c["WorkingDir"] == "/srv/app", c
		assert "GREETING=hi there" in c["Env"] and "MODE=production" in c["Env"], c
		assert not any(e.startswith("WHO=") for e in c["Env"]), c
		assert c["Cmd"][:2] == ["/bin/sh", "-c"], c
	EOF
	# The build log: each step, and the RUNs' output.
	grep -qx 'Step 1/9 : FROM busybox' "$BK_MNT/images/$id/log"
	grep -qx 'Step 8/9 : RUN \["/bin/sh", "-c", "echo exec form >> /srv/app/made.txt"\]' \
		"$BK_MNT/images/$id/log"
	grep -qx 'output of the first RUN' "$BK_MNT/images/$id/log"
	grep -qx "Successfully built $id" "$BK_MNT/images/$id/log"
	grep -qx "Successfully tagged myapp:1" "$BK_MNT/images/$id/log"
	# A run with no cmd: the image's CMD, in its WORKDIR, with its ENV and files.
	cid=$(ct_run myapp:1)
	bk_assert_content "$C/$cid/wait" $'exit 0\n'
	bk_assert_content "$C/$cid/log" "hello from the context
key=value
built for world in /srv/app, mode production
exec form
GREETING=hi there WHO=unset PWD=/srv/app
"
}

@test "the build log is readable while the build runs: images/ID/log of the image in state building" {
	bd_start
	ctx=$BK_TMP/ctx
	mkdir -p "$ctx"
	printf 'FROM busybox\nRUN echo first-output; sleep 8; echo second-output\n' >"$ctx/Dockerfile"
	bk_bg "$BK_TMP/build.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/build" \
		"$ctx slow"$'\n'
	writer=$BK_BG_PID
	bk_wait_until "$BK_DEADLINE" bd_is_building || bk_fail "no image in state building"
	bid=$(bd_building)
	[[ $bid =~ $BK_IMG_ID_RE ]]
	bk_assert_content "$BK_MNT/images/$bid/source" "$ctx"$'\n'
	bk_wait_until "$BK_DEADLINE" grep -q first-output "$BK_MNT/images/$bid/log" ||
		bk_fail "log: $(cat "$BK_MNT/images/$bid/log")"
	# Seen while it runs: still building, the second line not written yet.
	[ "$(cat "$BK_MNT/images/$bid/state")" = building ]
	! grep -qx second-output "$BK_MNT/images/$bid/log" || false
	grep -qx 'Step 2/2 : RUN echo first-output; sleep 8; echo second-output' \
		"$BK_MNT/images/$bid/log"
	# tail -f follows it: its size is the log's.
	[ "$(stat -c %s "$BK_MNT/images/$bid/log")" -gt 0 ]
	bk_wait_gone "$writer" 60 || bk_fail "the build did not end"
	run cat "$BK_TMP/build.out"
	[ "${lines[0]}" = OK ] || bk_fail "build: $output"
	# The image that was building is the result, with the same id.
	[ "${lines[1]}" = "$bid" ]
	bk_assert_content "$BK_MNT/images/$bid/state" $'ready\n'
	grep -qx second-output "$BK_MNT/images/$bid/log"
	grep -qx "Successfully built $bid" "$BK_MNT/images/$bid/log"
}

@test "a failing RUN: EIO with its line and last output; no image, container or subvolume left" {
	bd_start
	ctx=$BK_TMP/ctx
	mkdir -p "$ctx"
	echo data >"$ctx/f"
	cat >"$ctx/Dockerfile" <<-'EOF'
		FROM busybox
		COPY f /f
		RUN echo fine
		ENV X=1
		RUN echo oops-1; echo oops-2 >&2; exit 3
		RUN echo never
	EOF
	before=$(bd_snapshot)
	subv=$(bd_subvolumes)
	run bk_write_errno "$BK_MNT/images/build" "$ctx broken"$'\n'
	[ "${lines[0]}" = EIO ] || bk_fail "write: $output"
	bk_check_error EIO /images/build write images/err "${lines[1]}" \
		"line 5" "RUN exited with code 3" "oops-1" "oops-2"
	bd_nothing_left "$before" "$subv"
	run bk_write_errno "$BK_MNT/containers/run" "broken"$'\n'
	[ "${lines[0]}" = ENOENT ]
}

@test "unsupported instructions: EINVAL with the line number, nothing made" {
	bd_start
	ctx=$BK_TMP/ctx
	mkdir -p "$ctx"
	before=$(bd_snapshot)
	subv=$(bd_subvolumes)
	bad=""
	for instr in "HEALTHCHECK CMD true" "ONBUILD RUN true" 'SHELL ["/bin/bash", "-c"]' \
		"STOPSIGNAL SIGKILL" "FROBNICATE x"; do
		printf 'FROM busybox\n\n%s\nRUN true\n' "$instr" >"$ctx/Dockerfile"
		run bk_write_errno "$BK_MNT/images/build" "$ctx x"$'\n'
		if [ "${lines[0]}" != EINVAL ]; then
			bad+=" '$instr':${lines[0]}"
			continue
		fi
		bk_check_error EINVAL /images/build write images/err "${lines[1]}" \
			"line 3" "instruction '${instr%% *}'" || bad+=" '$instr':text"
	done
	[ -z "$bad" ] || bk_fail "wrong result for:$bad"
	bd_nothing_left "$before" "$subv"
}

@test "ADD of a URL, COPY ../x and a symlink out of the context: EINVAL; a missing source: ENOENT" {
	bd_start
	ctx=$BK_TMP/ctx
	mkdir -p "$ctx"
	echo secret >"$BK_TMP/secret"
	ln -s ../secret "$ctx/escape"
	ln -s /etc/passwd "$ctx/abs"
	before=$(bd_snapshot)
	subv=$(bd_subvolumes)
	local -a lines_=("ADD http://127.0.0.1:9/x.tar.gz /x" "COPY ../secret /x" "COPY escape /x"
		"COPY abs /x" "ADD [\"a/../../secret\", \"/x\"]" "COPY nope /x")
	local -a want=(EINVAL EINVAL EINVAL EINVAL EINVAL ENOENT)
	local -a text=("URLs are not supported" "outside the build context"
		"'escape' leads outside the build context" "'abs' leads outside the build context"
		"outside the build context" "'nope'")
	bad=""
	for i in "${!lines_[@]}"; do
		printf 'FROM busybox\nRUN true\n%s\n' "${lines_[$i]}" >"$ctx/Dockerfile"
		run bk_write_errno "$BK_MNT/images/build" "$ctx x"$'\n'
		if [ "${lines[0]}" != "${want[$i]}" ]; then
			bad+=" '${lines_[$i]}':${lines[0]}"
			continue
		fi
		bk_check_error "${want[$i]}" /images/build write images/err "${lines[1]}" \
			"line 3" "${text[$i]}" || bad+=" '${lines_[$i]}':text"
	done
	[ -z "$bad" ] || bk_fail "wrong result for:$bad"
	bd_nothing_left "$before" "$subv"
}

@test "bad build lines: EINVAL (relative path, bad name), ENOENT (no context, no Dockerfile)" {
	bd_start
	mkdir -p "$BK_TMP/empty"
	run bk_write_errno "$BK_MNT/images/build" "rel/ctx x"$'\n'
	[ "${lines[0]}" = EINVAL ]
	bk_check_error EINVAL /images/build write images/err "${lines[1]}" "must be absolute"
	run bk_write_errno "$BK_MNT/images/build" "$BK_TMP/empty Bad:Name:x"$'\n'
	[ "${lines[0]}" = EINVAL ]
	run bk_write_errno "$BK_MNT/images/build" "$BK_TMP/nope x"$'\n'
	[ "${lines[0]}" = ENOENT ]
	run bk_write_errno "$BK_MNT/images/build" "$BK_TMP/empty x"$'\n'
	[ "${lines[0]}" = ENOENT ]
	bk_check_error ENOENT /images/build write images/err "${lines[1]}" "Dockerfile"
	[ "$(bk_index_ids)" = "$BB_ID" ]
}

@test "ADD extracts a local tar.gz; COPY merges a directory and takes globs, --chown, --chmod" {
	bd_start
	ctx=$BK_TMP/ctx
	mkdir -p "$ctx/tree/a/b" "$ctx/etc"
	echo in-tar >"$ctx/tree/a/b/f"
	ln -s b/f "$ctx/tree/a/link"
	tar -C "$ctx/tree" -czf "$ctx/files.tar.gz" a
	rm -rf "$ctx/tree"
	echo one >"$ctx/one.txt"
	echo two >"$ctx/two.txt"
	echo extra >"$ctx/etc/extra.conf"
	cat >"$ctx/Dockerfile" <<-'EOF'
		FROM busybox
		ADD files.tar.gz /opt/
		COPY *.txt /texts/
		COPY etc /etc
		COPY --chown=nobody --chmod=0640 one.txt /owned
		CMD cat /opt/a/b/f /opt/a/link; ls /texts; cat /etc/extra.conf; grep -c root /etc/passwd; stat -c '%u %g %a' /owned
	EOF
	id=$(bk_build "$ctx" added)
	cid=$(ct_run "$id")
	bk_assert_content "$C/$cid/wait" $'exit 0\n'
	bk_assert_content "$C/$cid/log" $'in-tar\nin-tar\none.txt\ntwo.txt\nextra\n1\n65534 65534 640\n'
}

@test "Ctrl-C during a RUN: EINTR, the step container and every intermediate removed" {
	bd_start
	ctx=$BK_TMP/ctx
	mkdir -p "$ctx"
	echo f >"$ctx/f"
	printf 'FROM busybox\nCOPY f /f\nRUN echo started; sleep 30\n' >"$ctx/Dockerfile"
	before=$(bd_snapshot)
	subv=$(bd_subvolumes)
	# SIGINT reaches the writing thread 2 s into its write(2), while the RUN sleeps.
	run "$BK_PY" "$BK_LIB/bkio.py" intr-write "$BK_MNT/images/build" "$ctx x"$'\n' 2
	[ "$output" = EINTR ] || bk_fail "the build was not interrupted: $output"
	bd_nothing_left "$before" "$subv"
	# The daemon still builds.
	printf 'FROM busybox\nRUN true\n' >"$ctx/Dockerfile"
	bk_build "$ctx" after >/dev/null
}

@test "two builds at once: each its own image and log" {
	bd_start
	for n in 1 2; do
		mkdir -p "$BK_TMP/ctx$n"
		printf 'FROM busybox\nRUN echo build-%s; sleep 1\nCMD echo result-%s\n' "$n" "$n" \
			>"$BK_TMP/ctx$n/Dockerfile"
	done
	bk_bg "$BK_TMP/b1.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/build" \
		"$BK_TMP/ctx1 par:1"$'\n'
	p1=$BK_BG_PID
	bk_bg "$BK_TMP/b2.out" "$BK_PY" "$BK_LIB/bkio.py" write "$BK_MNT/images/build" \
		"$BK_TMP/ctx2 par:2"$'\n'
	p2=$BK_BG_PID
	bk_wait_gone "$p1" 60 && bk_wait_gone "$p2" 60 || bk_fail "the builds did not end"
	for n in 1 2; do
		run cat "$BK_TMP/b$n.out"
		[ "${lines[0]}" = OK ] || bk_fail "build $n: $output"
		id=${lines[1]}
		bk_assert_content "$BK_MNT/images/$id/ref" "par:$n"$'\n'
		grep -qx "build-$n" "$BK_MNT/images/$id/log"
		! grep -q "build-$((3 - n))" "$BK_MNT/images/$id/log" || false
		cid=$(ct_run "par:$n")
		bk_assert_content "$C/$cid/wait" $'exit 0\n'
		bk_assert_content "$C/$cid/log" "result-$n"$'\n'
	done
	[ "$(bk_index_ids | wc -l)" -eq 3 ]
}

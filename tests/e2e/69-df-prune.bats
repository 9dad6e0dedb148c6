#!/usr/bin/env bats
# Disk usage and prune, end to end: the top-level `df` (docker system df -v)
# and `prune` (docker system prune).  df's figures against the files and the
# filesystem: an image's size against its files' bytes, two images pulled over
# one base layer (the local registry's test/busybox and test/multi) counting
# it once, a container's writes as its own bytes leaving its image's figures
# alone, a volume's bytes; RECLAIMABLE against what prune reports and what
# btrfs then frees (its data `used`, after the cleaner ran).  prune: each kind
# removes exactly what it should (a running container, an image a container
# uses, a named image, a volume a container's mounts name, a container its
# restart policy restarts all stay), its reply, EINVAL with usage, errors in
# `errors`; a removal that fails is skipped and said; a kill -9 at each of its
# steps leaves a store that loads whole.  Hostile trees (FIFOs, devices,
# symlinks out) neither hang df nor count what they point at; the walk's
# bound ends a big tree's walk, said by a `partial` line.

bats_require_minimum_version 1.5.0
load '../lib/fixture'
load '../lib/containers'
load '../lib/registry'
load '../lib/crash'

: "${BATS_TEST_TIMEOUT:=300}"

setup_file() {
	ct_setup_file
	bk_registry_setup
}

teardown_file() {
	bk_registry_teardown
	ct_teardown_file
}

teardown() {
	ct_teardown
}

MIB=1048576
DF=""

# df_read: DF is what a read of df gives now.
df_read() {
	DF=$(timeout 30 cat "$BK_MNT/df") || bk_fail "df: cannot read it"
}

# row KIND N: field N of the summary line of KIND (2 TOTAL, 3 ACTIVE, 4 SIZE, 5 RECLAIMABLE).
row() {
	awk -v k="$1" -v f="$2" '$1 == k { print $f; n++ } END { exit n != 1 }' <<<"$DF"
}

# obj KIND ID N: field N of KIND's line for ID (image: 3 SIZE, 4 SHARED, 5 UNIQUE,
# 6 CONTAINERS; container: 3 OWN, 4 IMAGE, 5 STATE; volume: 3 SIZE, 4 USERS).
obj() {
	awk -v k="$1" -v id="$2" -v f="$3" '$1 == k && $2 == id { print $f; n++ } END { exit n != 1 }' \
		<<<"$DF"
}

# within A B PCT [SLACK]: A and B differ by at most PCT percent of B plus SLACK bytes.
within() {
	local a=$1 b=$2 pct=$3 slack=${4:-0} d
	d=$((a > b ? a - b : b - a))
	[ "$d" -le $((b * pct / 100 + slack)) ] || bk_fail "$a and $b differ by $d (more than $pct% + $slack)"
}

# own_is ID BYTES: df shows BYTES or more of ID's own (what it wrote was written back).
own_at_least() {
	df_read && [ "$(obj container "$1" 3)" -ge "$2" ]
}

# prune WORDS: one write of "WORDS\n" to prune; PRUNE_ST is OK or the errno, PRUNE_REPLY
# the reply read on the same open file.
prune() {
	local out
	out=$(bk_write_errno "$BK_MNT/prune" "$*"$'\n')
	PRUNE_ST=${out%%$'\n'*}
	PRUNE_REPLY=${out#*$'\n'}
	[ "$out" != "$PRUNE_ST" ] || PRUNE_REPLY=""
}

# prune_ok WORDS: prune, which must succeed.
prune_ok() {
	prune "$@"
	[ "$PRUNE_ST" = OK ] || bk_fail "prune $*: $PRUNE_ST: $PRUNE_REPLY"
}

# reclaimed: the BYTES of the reply's last line, "reclaimed BYTES".
reclaimed() {
	local last=${PRUNE_REPLY##*$'\n'}
	[[ $last =~ ^reclaimed\ [0-9]+$ ]] || bk_fail "reply's last line '$last'" || return
	echo "${last#reclaimed }"
}

# data_used: btrfs's data bytes in use in the store, once deleted subvolumes are
# cleaned and everything is on the disk.
data_used() {
	btrfs filesystem sync "$BK_STORE" >/dev/null &&
		btrfs subvolume sync "$BK_STORE" >/dev/null &&
		btrfs filesystem sync "$BK_STORE" >/dev/null || return
	btrfs filesystem df -b "$BK_STORE" |
		awk -F'[=, ]+' '/^Data/ { for (i = 1; i <= NF; i++) if ($i == "used") print $(i + 1) }'
}

# store_whole: what crash_invariants checks of the store, volumes allowed: nothing
# partial, nothing mounted under the store, every image ready and running `true`.
store_whole() {
	local img id out
	bk_nothing_partial || return
	out=$(grep -F " $BK_STORE/" /proc/self/mountinfo || true)
	[ -z "$out" ] || bk_fail "mounts under the store: $out" || return
	for img in "$BK_MNT"/images/img_*/; do
		img=$(basename "$img")
		[ "$(cat "$BK_MNT/images/$img/state")" = ready ] || bk_fail "image $img is not ready" || return
		id=$(ct_run "$img true") || return
		out=$(timeout 20 cat "$C/$id/wait")
		[ "$out" = "exit 0" ] || bk_fail "image $img: run true: '$out'" || return
		ct_ctl "$id" 'rm force' >/dev/null
	done
}

# mk_ctr NAME IMAGE CMD [MOUNTS]: container NAME (not started).
mk_ctr() {
	mkdir "$C/$1" || return
	ct_track "$1"
	echo "$2" >"$C/$1/image" || return
	printf '%s\n' "$3" >"$C/$1/cmd" || return
	if [ -n "${4:-}" ]; then
		printf '%s\n' "$4" >"$C/$1/mounts" || return
	fi
}

# run_exited CMD: a busybox container that ran CMD and exited; prints its id.
run_exited() {
	local id
	id=$(ct_run "busybox $1") || return
	ct_wait_state "$id" exited 30 || return
	echo "$id"
}

@test "df: the summary, then a line per image, container and volume; an image's size is its files' bytes; a container's 5 MiB are its own and leave its image's figures; a 1 MiB volume is 1 MiB" {
	ct_start
	df_read
	[ "$(sed -n 1p <<<"$DF")" = "TYPE TOTAL ACTIVE SIZE RECLAIMABLE" ]
	[ "$(sed -n '2,5p' <<<"$DF" | cut -d' ' -f1 | tr '\n' ' ')" = "images containers volumes layers " ]
	grep -qx 'IMAGE ID SIZE SHARED UNIQUE CONTAINERS' <<<"$DF"
	grep -qx 'CONTAINER ID OWN IMAGE STATE' <<<"$DF"
	grep -qx 'VOLUME NAME SIZE USERS' <<<"$DF"
	run ! grep -q '^partial' <<<"$DF"
	# du's count of the image's files (each inode once), against its extents.
	files=$("$BK_PY" "$BK_LIB/bkio.py" regsize "$BK_MNT/images/$BB_ID/root/")
	size=$(obj image "$BB_ID" 3)
	within "$size" "$files" 1
	[ "$(obj image "$BB_ID" 4)" = 0 ]
	[ "$(obj image "$BB_ID" 5)" = "$size" ]
	[ "$(obj image "$BB_ID" 6)" = 0 ]
	# One image, in no use: all of it reclaimable.
	[ "$(row images 2) $(row images 3) $(row images 4) $(row images 5)" = "1 0 $size $size" ]
	[ "$(row containers 2) $(row containers 4)" = "0 0" ]
	[ "$(row volumes 2) $(row volumes 4)" = "0 0" ]
	# Read-only.
	[ "$(bk_errno create "$BK_MNT/df")" = EACCES ]

	id=$(ct_run "busybox dd if=/dev/urandom of=/big bs=1M count=5 && echo written && exec sleep 600")
	ct_wait_log "$id" '^written$'
	bk_wait_until 10 own_at_least "$id" $((5 * MIB)) || bk_fail "own bytes: $DF"
	within "$(obj container "$id" 3)" $((5 * MIB)) 0 65536
	[ "$(obj container "$id" 4)" = "$BB_ID" ]
	[ "$(obj container "$id" 5)" = running ]
	# Its image: the same figures, now in use.
	[ "$(obj image "$BB_ID" 3)" = "$size" ]
	[ "$(obj image "$BB_ID" 4)" = 0 ]
	[ "$(obj image "$BB_ID" 6)" = 1 ]
	[ "$(row images 3) $(row images 4) $(row images 5)" = "1 $size 0" ]
	[ "$(row containers 2) $(row containers 3) $(row containers 5)" = "1 1 0" ]
	[ "$(row containers 4)" = "$(obj container "$id" 3)" ]

	mkdir "$BK_MNT/volumes/v1"
	head -c 1M /dev/urandom >"$BK_MNT/volumes/v1/root/f"
	df_read
	[ "$(obj volume v1 3) $(obj volume v1 4)" = "$MIB 0" ]
	[ "$(row volumes 2) $(row volumes 3) $(row volumes 4) $(row volumes 5)" = "1 0 $MIB $MIB" ]
	# Named by a container's mounts (one never started): in use.
	mk_ctr user busybox true "volume v1 /data"
	df_read
	[ "$(obj volume v1 4)" = 1 ]
	[ "$(row volumes 3) $(row volumes 5)" = "1 0" ]
	# Never started: no filesystem yet, nothing of its own.
	[ "$(obj container user 3) $(obj container user 5)" = "0 created" ]
}

@test "df: two images pulled over one base layer count it once; prune images all frees what RECLAIMABLE said, their layers with them" {
	bk_start --auth-config "$BK_REG_DIR/auth.json"
	a=$(bk_pull "$BK_REG/test/busybox")
	b=$(bk_pull "$BK_REG/test/multi")
	df_read
	sa=$(obj image "$a" 3)
	sb=$(obj image "$b" 3)
	sha=$(obj image "$a" 4)
	shb=$(obj image "$b" 4)
	total=$(row images 4)
	# The base layer is shared: counted once in the row, shown as shared by both.
	[ "$sha" -gt 0 ]
	[ "$sha" = "$shb" ]
	[ "$total" -lt $((sa + sb)) ]
	[ "$total" = $((sa + sb - sha)) ]
	[ "$(obj image "$a" 5)" = $((sa - sha)) ]
	[ "$(obj image "$b" 5)" = $((sb - shb)) ]
	# busybox is multi's base: all of it is shared.
	[ "$sha" = "$sa" ]
	# Four layers (busybox's is multi's first), all reached; their blobs count too.
	[ "$(row layers 2) $(row layers 3)" = "4 4" ]
	[ "$(row layers 4)" -gt "$total" ]
	[ "$(row layers 5)" = 0 ]
	# Nothing uses either: all reclaimable, the layers and their blobs included.
	[ "$(row images 3)" = 0 ]
	want=$(row images 5)
	[ "$want" -ge "$(row layers 4)" ]

	# Both have names: not dangling.
	prune_ok images
	[ "$PRUNE_REPLY" = "reclaimed 0" ]
	[ -d "$BK_MNT/images/$a" ]
	[ -d "$BK_MNT/images/$b" ]

	before=$(data_used)
	prune_ok images all
	[ "$PRUNE_REPLY" = "image $a"$'\n'"image $b"$'\n'"reclaimed $want" ]
	after=$(data_used)
	# What btrfs freed (file data; the few inline bytes live in metadata).
	within $((before - after)) "$want" 3 65536
	df_read
	[ "$(sed -n '2,5p' <<<"$DF" | tr '\n' ' ')" = "images 0 0 0 0 containers 0 0 0 0 volumes 0 0 0 0 layers 0 0 0 0 " ]
	[ -z "$(ls -A "$BK_STORE/layers")" ]
	bk_nothing_partial
}

@test "RECLAIMABLE is what prune containers and prune volumes then report and free; what runs or is named stays" {
	ct_start
	x1=$(run_exited "dd if=/dev/urandom of=/a bs=1M count=2")
	x2=$(run_exited "dd if=/dev/urandom of=/a bs=1M count=3")
	r=$(ct_run "busybox dd if=/dev/urandom of=/a bs=1M count=1 && echo written && exec sleep 600")
	ct_wait_log "$r" '^written$'
	bk_wait_until 10 own_at_least "$r" "$MIB" || bk_fail "own bytes: $DF"
	want=$(row containers 5)
	[ "$want" = $(($(obj container "$x1" 3) + $(obj container "$x2" 3))) ]
	within "$want" $((5 * MIB)) 0 131072
	[ "$(row containers 2) $(row containers 3)" = "3 1" ]

	before=$(data_used)
	prune_ok containers
	[ "$PRUNE_REPLY" = "container $x1"$'\n'"container $x2"$'\n'"reclaimed $want" ]
	after=$(data_used)
	within $((before - after)) "$want" 2 65536
	[ ! -e "$C/$x1" ]
	[ ! -e "$C/$x2" ]
	ct_state_is "$r" running
	df_read
	[ "$(row containers 2) $(row containers 3) $(row containers 5)" = "1 1 0" ]
	[ "$(row containers 4)" = "$(obj container "$r" 3)" ]

	# Volumes: one no container names, one a running container writes, one an
	# exited container's mounts name.
	mkdir "$BK_MNT/volumes/free"
	head -c 1M /dev/urandom >"$BK_MNT/volumes/free/root/f"
	mk_ctr used-by busybox "head -c 2097152 /dev/urandom >/data/f && echo written && exec sleep 600" \
		"volume used /data"
	run ct_ctl used-by start
	[ "${lines[0]}" = OK ]
	ct_wait_log used-by '^written$'
	mk_ctr stopped busybox true "volume kept /data"
	run ct_ctl stopped start
	ct_wait_state stopped exited
	df_read
	[ "$(row volumes 2) $(row volumes 3) $(row volumes 5)" = "3 2 $MIB" ]
	before=$(data_used)
	prune_ok volumes
	[ "$PRUNE_REPLY" = "volume free"$'\n'"reclaimed $MIB" ]
	after=$(data_used)
	within $((before - after)) "$MIB" 0 65536
	[ -d "$BK_MNT/volumes/used" ]
	[ -d "$BK_MNT/volumes/kept" ]
	[ ! -e "$BK_MNT/volumes/free" ]
	bk_nothing_partial
}

@test "prune: each kind removes exactly what it should; all goes containers, images, volumes; a container its restart policy restarts stays" {
	ct_start
	n1=$(bk_import "$BB")
	k=$(bk_import "$BB" keep:1)
	n2=$(bk_import "$BB")
	mk_ctr y "$n2" true
	r=$(ct_run "busybox sleep 600")
	x=$(run_exited true)
	mk_ctr again busybox "sleep 0.2"
	echo always >"$C/again/restart"
	run ct_ctl again start
	[ "${lines[0]}" = OK ]
	df_read
	n1_size=$(obj image "$n1" 3)

	# Dangling images: without a name, unused (n2 is y's).
	prune_ok images
	[ "$PRUNE_REPLY" = "image $n1"$'\n'"reclaimed $n1_size" ]
	[ ! -e "$BK_MNT/images/$n1" ]
	for i in "$k" "$n2" "$BB_ID"; do [ -d "$BK_MNT/images/$i" ]; done

	# Containers: created and exited; not the running one, not the one restarting.
	prune_ok containers
	[ "$(head -n -1 <<<"$PRUNE_REPLY")" = "container y"$'\n'"container $x" ]
	[ ! -e "$C/y" ]
	[ ! -e "$C/$x" ]
	ct_state_is "$r" running
	[ -d "$C/again" ]
	for i in 1 2 3; do
		prune_ok containers
		[ "$PRUNE_REPLY" = "reclaimed 0" ]
		sleep 0.2
	done
	[ -d "$C/again" ]

	# n2 is dangling now; keep:1 has a name; busybox is used.
	prune_ok images
	[ "$(head -n -1 <<<"$PRUNE_REPLY")" = "image $n2" ]
	[ "$(reclaimed)" -gt 0 ]
	prune_ok images all
	[ "$(head -n -1 <<<"$PRUNE_REPLY")" = "image $k" ]
	[ -d "$BK_MNT/images/$BB_ID" ]

	# all: an exited container, a dangling image, a volume nobody names, in that order.
	x3=$(run_exited true)
	n3=$(bk_import "$BB")
	mkdir "$BK_MNT/volumes/spare"
	prune_ok all
	[ "$(head -n -1 <<<"$PRUNE_REPLY")" = "container $x3"$'\n'"image $n3"$'\n'"volume spare" ]
	[ "$(reclaimed)" -gt 0 ]
	ct_state_is "$r" running
	[ -d "$C/again" ]
	[ -d "$BK_MNT/images/$BB_ID" ]
	bk_nothing_partial
}

@test "prune: an unknown word, extra words, images with another word than all: EINVAL with the usage, in errors and the reply; df is read-only" {
	ct_start
	prune nothing
	[ "$PRUNE_ST" = EINVAL ]
	[ "$PRUNE_REPLY" = "error: unknown command 'nothing' (containers | images [all] | volumes | all)" ]
	grep -E "^$BK_TIME_RE /prune write EINVAL: unknown command 'nothing' \(containers \| images \[all\] \| volumes \| all\)$" \
		"$BK_MNT/errors"
	prune images some
	[ "$PRUNE_ST" = EINVAL ]
	[ "$PRUNE_REPLY" = "error: images: wrong arguments (containers | images [all] | volumes | all)" ]
	prune containers now
	[ "$PRUNE_ST" = EINVAL ]
	grep -q "/prune write EINVAL: images: wrong arguments" "$BK_MNT/errors"
	grep -q "/prune write EINVAL: containers: wrong arguments" "$BK_MNT/errors"
	prune ""
	[ "$PRUNE_ST" = EINVAL ]
	[ "$PRUNE_REPLY" = "error: empty command (containers | images [all] | volumes | all)" ]
	# Nothing was removed by any of them.
	[ -d "$BK_MNT/images/$BB_ID" ]
	run bk_write_errno "$BK_MNT/df" $'x\n'
	[ "${lines[0]}" = EACCES ]
}

@test "prune: a removal that fails is skipped and said in the reply; the others go on (a container started under the prune, a failpoint's error)" {
	BOCKERFS_FAILPOINTS='prune.container=sleep:1500@1;prune.image=error:16@1' ct_start
	mk_ctr late busybox "sleep 600"
	x=$(run_exited true)
	n1=$(bk_import "$BB")
	n2=$(bk_import "$BB")
	exec {fd}<>"$BK_MNT/prune"
	printf 'containers\n' >&"$fd" &
	writer=$!
	bk_wait_until 10 grep -q 'failpoint prune.container: sleep' "$BK_LOG"
	# Started while the prune waits before removing it.
	run ct_ctl late start
	[ "${lines[0]}" = OK ]
	wait "$writer"
	reply=$(cat <&"$fd")
	exec {fd}>&-
	[ "$reply" = "skipped container late: container late is running: stop it or use 'rm force'"$'\n'"container $x"$'\n'"reclaimed $(reclaimed_of "$reply")" ]
	ct_state_is late running
	[ ! -e "$C/$x" ]
	# The first image's removal fails (EBUSY by the failpoint): skipped; the second goes.
	prune_ok images
	[ "$(head -n -1 <<<"$PRUNE_REPLY")" = "skipped image $n1: failpoint prune.image"$'\n'"image $n2" ]
	[ -d "$BK_MNT/images/$n1" ]
	[ ! -e "$BK_MNT/images/$n2" ]
	[ "$(cat "$BK_MNT/images/$n1/state")" = ready ]
	grep -q "prune: $n1 skipped: failpoint prune.image" "$BK_LOG"
	# And again, with nothing in the way.
	prune_ok images
	[ "$(head -n -1 <<<"$PRUNE_REPLY")" = "image $n1" ]
}

@test "prune: Ctrl-C stops it before its next removal; the one under way goes whole, the next is not begun" {
	BOCKERFS_FAILPOINTS='prune.container=sleep:1500@1' ct_start
	x1=$(run_exited true)
	x2=$(run_exited true)
	run "$BK_PY" "$BK_LIB/bkio.py" intr-write "$BK_MNT/prune" $'containers\n' 0.5
	[ "${lines[0]}" = EINTR ]
	[ ! -e "$C/$x1" ]
	[ "$(cat "$C/$x2/state")" = exited ]
	grep -qE "^$BK_TIME_RE /prune write EINTR: .*interrupted" "$BK_MNT/errors"
	bk_nothing_partial
}

@test "prune never removes a broken record (a container, an image, a volume): it is the operator's to repair" {
	ct_start
	x=$(run_exited true)
	n=$(bk_import "$BB")
	mkdir "$BK_MNT/volumes/vb"
	bk_daemon_term TERM
	mount -o loop,nosuid,nodev "$BK_ROOT/storage.img" "$BK_STORE"
	head -c 300 /dev/urandom >"$BK_STORE/containers/$x/container.json"
	head -c 300 /dev/urandom >"$BK_STORE/images/$n/image.json"
	head -c 300 /dev/urandom >"$BK_STORE/volumes/vb/volume.json"
	bk_daemon_start
	[ "$(cat "$C/$x/state") $(cat "$BK_MNT/images/$n/state") $(cat "$BK_MNT/volumes/vb/state")" = "broken broken broken" ]
	prune_ok all
	[ "$PRUNE_REPLY" = "reclaimed 0" ]
	prune_ok images all
	[ "$(head -n -1 <<<"$PRUNE_REPLY")" = "image $BB_ID" ]
	[ -d "$C/$x" ]
	[ -d "$BK_MNT/images/$n" ]
	[ -d "$BK_MNT/volumes/vb" ]
	df_read
	[ "$(obj container "$x" 5)" = broken ]
	[ "$(row images 2) $(row volumes 2)" = "1 1" ]
	# The layers' collection waits while a broken image is there: none reclaimable.
	[ "$(row layers 5)" = 0 ]
}

# reclaimed_of REPLY: the bytes of REPLY's last line.
reclaimed_of() {
	local last=${1##*$'\n'}
	echo "${last#reclaimed }"
}

# count PATH...: how many of the PATHs exist (globs that matched).
count() {
	local n=0 p
	for p; do [ -e "$p" ] && n=$((n + 1)); done
	echo "$n"
}

# prune_crash POINT LEFT_CTRS LEFT_IMAGES LEFT_VOLUMES: two exited containers, two
# dangling images and two unused volumes; the daemon dies at POINT during `prune
# all`; after a restart exactly LEFT_* of each remain, everything loads, nothing is
# partial, and a second prune removes the rest.
prune_crash() {
	local point=$1 name=${1%@*} act=kill left
	[[ $point != *@* ]] || act=kill@${point#*@}
	ct_start
	run_exited true >/dev/null
	run_exited true >/dev/null
	bk_import "$BB" >/dev/null
	bk_import "$BB" >/dev/null
	mkdir "$BK_MNT/volumes/v1" "$BK_MNT/volumes/v2"
	echo data >"$BK_MNT/volumes/v1/root/f"
	bk_daemon_term TERM
	BOCKERFS_FAILPOINTS="$name=$act" bk_daemon_start
	run bk_write_errno "$BK_MNT/prune" $'all\n'
	[ "${lines[0]}" != OK ] || bk_fail "prune all succeeded: $output"
	crash_expect_death "$name"
	left="$(count "$C"/ps_*) $(count "$BK_MNT"/images/img_*) $(count "$BK_MNT"/volumes/v[12])"
	# busybox is an image too.
	[ "$left" = "$2 $(($3 + 1)) $4" ] || bk_fail "left: $left"
	for d in "$C"/*/ "$BK_MNT"/images/img_*/ "$BK_MNT"/volumes/v*/; do
		[ -d "$d" ] || continue
		case $(cat "$d/state") in
		exited | ready) ;;
		*) bk_fail "$d is $(cat "$d/state")" ;;
		esac
	done
	store_whole
	prune_ok all
	df_read
	[ "$(row containers 2) $(row images 2) $(row volumes 2)" = "0 1 0" ]
	[ "$(row images 5) $(row layers 5)" = "$(obj image "$BB_ID" 3) 0" ]
	bk_nothing_partial
}

@test "kill -9 after prune's scan: nothing removed" { prune_crash prune.scanned 2 2 2; }
@test "kill -9 before prune's second container: the first removed whole" { prune_crash prune.container@2 1 2 2; }
@test "kill -9 before prune's second image: the containers and the first image removed" { prune_crash prune.image@2 0 1 2; }
@test "kill -9 before prune's second volume: all but a volume removed" { prune_crash prune.volume@2 0 0 1; }

@test "df: FIFOs, devices and symlinks out of an image or a running container are not opened or followed, and hang nothing" {
	ct_start
	# Four MiB on the host that a followed symlink would count.
	head -c 4M /dev/urandom >"$BK_TMP/secret"
	root=$BK_TMP/hostile
	cp -a "$BB" "$root"
	mkfifo "$root/fifo"
	mknod "$root/null" c 1 3
	mknod "$root/loop" b 7 0
	ln -s "$BK_TMP/secret" "$root/out"
	ln -s /etc/shadow "$root/shadow"
	ln -s ../../../../../../../../.. "$root/up"
	img=$(bk_import "$root")
	df_read
	files=$("$BK_PY" "$BK_LIB/bkio.py" regsize "$BK_MNT/images/$img/root/")
	within "$(obj image "$img" 3)" "$files" 1
	[ "$(obj image "$img" 3)" -lt $((4 * MIB)) ]

	id=$(ct_run "$img mkfifo /fifo2 && mknod /zero c 1 5 && ln -s $BK_TMP/secret /out2 && ln -sf /etc/shadow /etc/passwd && echo made && exec sleep 600")
	ct_wait_log "$id" '^made$'
	start=$SECONDS
	df_read
	[ $((SECONDS - start)) -lt 5 ]
	[ "$(obj container "$id" 3)" -lt 65536 ]
	[ "$(obj container "$id" 5)" = running ]
}

@test "df: a tree past the walk's bound stops there, said by a partial line; the figures are lower bounds" {
	bk_tmp_init
	root=$BK_TMP/many
	cp -a "$CT_BB_DIR/busybox" "$root"
	mkdir "$root/many"
	for i in $(seq 1 3000); do echo "$i" >"$root/many/f$i"; done
	BOCKERFS_DF_TREE_MAX=1000 ct_start
	img=$(bk_import "$root")
	df_read
	grep -qx "partial image $img" <<<"$DF"
	run ! grep -qx "partial image $BB_ID" <<<"$DF"
	[ "$(obj image "$img" 3)" -gt 0 ]
	[ "$(obj image "$img" 3)" -le "$("$BK_PY" "$BK_LIB/bkio.py" regsize "$BK_MNT/images/$img/root/")" ]
}

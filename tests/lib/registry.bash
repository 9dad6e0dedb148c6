# shellcheck shell=bash
# Test registries on 127.0.0.1: Debian's docker-registry (distribution 2.8)
# in three modes sharing one storage directory, filled with images built by
# umoci and pushed by skopeo (and push.py for what the tools cannot make):
#
#   plain  no auth                     BK_REG        (host:port)
#   basic  htpasswd Basic auth         BK_REG_BASIC  (user bk, password bkpw)
#   token  Bearer tokens from token_server.py, signed with a test key
#                                      BK_REG_TOKEN  (token service: user tk, tkpw)
#
# Repositories: test/busybox:latest (1 gzip layer), test/multi:latest (4
# layers: whiteouts, an opaque directory, an uncompressed layer),
# test/zstd:latest (a zstd layer), test/index:latest (an OCI index,
# linux/amd64 and linux/arm64/v8), test/corrupt:latest (one layer's blob
# damaged in storage), test/big:latest (3 x 8 MiB random layers),
# test/artifact:latest (a Helm chart, not an image), library/busybox:latest
# (for "busybox" through --registry-mirror).
#
# Use from bats, after tests/lib/fixture.bash:
#   setup_file() { bk_registry_setup; }      # builds, starts, fills
#   teardown_file() { bk_registry_teardown; }
# Every process is started here, recorded with its start time in
# BK_REG_DIR/pids and killed by PID; BK_REG_DIR is removed at teardown.
# The registries' access logs are BK_REG_DIR/{plain,basic,token}.log, the
# token server's BK_REG_DIR/tokens.log.

BK_REG_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/registry
# Debian's python, where python3-jwt and python3-cryptography are installed.
BK_REG_PY=${BK_REG_PY:-/usr/bin/python3}

bk_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bk_reg_track PID: record PID and its start time in BK_REG_DIR/pids.
bk_reg_track() {
	local start
	start=$(bk_proc_start "$1") || return 0
	echo "$1 $start" >>"$BK_REG_DIR/pids"
}

# bk_reg_kill PID...: SIGTERM each PID that is still the process recorded in
# BK_REG_DIR/pids (same start time), give them 3 s, then SIGKILL those left.
bk_reg_kill() {
	local - pid
	set +e
	for pid; do
		bk_reg_recorded "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	for pid; do
		bk_wait_gone "$pid" 3 || { bk_reg_recorded "$pid" && kill -KILL "$pid" 2>/dev/null; }
		wait "$pid" 2>/dev/null
	done
	return 0
}

# bk_reg_recorded PID: PID runs and is the process recorded in BK_REG_DIR/pids.
bk_reg_recorded() {
	local start
	start=$(awk -v p="$1" '$1 == p { print $2 }' "$BK_REG_DIR/pids" | tail -n1)
	[ -n "$start" ] && [ "$(bk_proc_start "$1")" = "$start" ]
}

# bk_reg_wait_http URL: until URL answers at all (any status), 10 s at most.
bk_reg_wait_http() {
	local i
	for ((i = 0; i < 200; i++)); do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.05
	done
	echo "registry: nothing answers at $1" >&2
	return 1
}

# bk_reg_config MODE PORT: the registry's config.yml for MODE on PORT.
bk_reg_config() {
	local mode=$1 port=$2
	cat <<-EOT
	version: 0.1
	log:
	  level: info
	  accesslog:
	    disabled: false
	storage:
	  filesystem:
	    rootdirectory: $BK_REG_DIR/storage
	  delete:
	    enabled: true
	  cache:
	    blobdescriptor: inmemory
	http:
	  addr: 127.0.0.1:$port
	  secret: bockerfs-test-secret
	EOT
	case $mode in
	basic)
		cat <<-EOT
		auth:
		  htpasswd:
		    realm: bockerfs-test
		    path: $BK_REG_DIR/htpasswd
		EOT
		;;
	token)
		cat <<-EOT
		auth:
		  token:
		    realm: http://127.0.0.1:$BK_TOKEN_PORT/auth
		    service: bockerfs-test
		    issuer: bockerfs-test-issuer
		    rootcertbundle: $BK_REG_DIR/token.crt
		EOT
		;;
	esac
}

# bk_registry_start MODE: start one registry; sets BK_REG / BK_REG_BASIC / BK_REG_TOKEN.
bk_registry_start() {
	local mode=$1 port pid
	port=$(bk_free_port)
	bk_reg_config "$mode" "$port" >"$BK_REG_DIR/$mode.yml"
	docker-registry serve "$BK_REG_DIR/$mode.yml" </dev/null >"$BK_REG_DIR/$mode.log" 2>&1 3>&- &
	pid=$!
	bk_reg_track "$pid"
	bk_reg_wait_http "http://127.0.0.1:$port/v2/" || return 1
	case $mode in
	plain) BK_REG=127.0.0.1:$port ;;
	basic) BK_REG_BASIC=127.0.0.1:$port ;;
	token) BK_REG_TOKEN=127.0.0.1:$port ;;
	esac
}

bk_token_server_start() {
	local pid
	BK_TOKEN_PORT=$(bk_free_port)
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bockerfs-test-token \
		-keyout "$BK_REG_DIR/token.key" -out "$BK_REG_DIR/token.crt" 2>/dev/null || return 1
	"$BK_REG_PY" "$BK_REG_LIB/token_server.py" "$BK_TOKEN_PORT" "$BK_REG_DIR/token.key" \
		"$BK_REG_DIR/token.crt" bockerfs-test-issuer bockerfs-test "$BK_REG_DIR/tokens.log" \
		tk:tkpw </dev/null >"$BK_REG_DIR/token-server.log" 2>&1 3>&- &
	pid=$!
	bk_reg_track "$pid"
	bk_reg_wait_http "http://127.0.0.1:$BK_TOKEN_PORT/"
}

# bk_registry_fill: push every test image through the plain registry.
bk_registry_fill() {
	local img oci=$BK_REG_IMAGES/oci layer
	for img in busybox multi corrupt big; do
		skopeo copy -q --dest-tls-verify=false "oci:$oci:$img" \
			"docker://$BK_REG/test/$img:latest" || return 1
	done
	# What a Docker Hub mirror serves for "busybox".
	skopeo copy -q --dest-tls-verify=false "oci:$oci:busybox" \
		"docker://$BK_REG/library/busybox:latest" || return 1
	"$BK_REG_PY" "$BK_REG_LIB/push.py" zstd "$BK_REG" test/zstd latest test/busybox latest >/dev/null &&
		"$BK_REG_PY" "$BK_REG_LIB/push.py" index "$BK_REG" test/index latest test/busybox latest \
			>/dev/null &&
		"$BK_REG_PY" "$BK_REG_LIB/push.py" artifact "$BK_REG" test/artifact latest >/dev/null ||
		return 1
	# Damage the blob of test/corrupt's top layer: one byte, same length.
	layer=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$BK_REG/v2/test/corrupt/manifests/latest" | jq -r '.layers[-1].digest')
	layer=${layer#sha256:}
	BK_REG_CORRUPT_LAYER=sha256:$layer
	"$BK_REG_PY" - "$BK_REG_DIR/storage/docker/registry/v2/blobs/sha256/${layer:0:2}/$layer/data" <<-'EOT'
	import sys
	p = sys.argv[1]
	b = bytearray(open(p, "rb").read())
	b[len(b) // 2] ^= 0xff
	open(p, "wb").write(b)
	EOT
}

# bk_reg_config_json FILE: a docker config.json with the test credentials.
bk_reg_auth_config() {
	local basic tok
	basic=$(printf 'bk:bkpw' | base64)
	tok=$(printf 'tk:tkpw' | base64)
	printf '{"auths": {"%s": {"auth": "%s"}, "%s": {"auth": "%s"}}}\n' \
		"$BK_REG_BASIC" "$basic" "$BK_REG_TOKEN" "$tok" >"$1"
}

# bk_registry_setup: build the images (once per BK_REG_IMAGES), start the
# token server and the three registries, fill them.  Sets BK_REG_DIR.
bk_registry_setup() {
	BK_REG_DIR=$(mktemp -d "/var/tmp/bkreg$$-XXXXXX") || return 1
	export BK_REG_DIR
	: >"$BK_REG_DIR/pids"
	BK_REG_IMAGES=${BK_REG_IMAGES:-$BK_REG_DIR/images}
	if [ ! -f "$BK_REG_IMAGES/oci/index.json" ]; then
		"$BK_REG_LIB/build-images.sh" "$BK_REG_IMAGES" >"$BK_REG_DIR/build.log" 2>&1 ||
			{ cat "$BK_REG_DIR/build.log" >&2; return 1; }
	fi
	htpasswd -Bbn bk bkpw >"$BK_REG_DIR/htpasswd" 2>/dev/null || return 1
	bk_token_server_start || return 1
	bk_registry_start plain && bk_registry_fill && bk_registry_start basic &&
		bk_registry_start token || return 1
	bk_reg_auth_config "$BK_REG_DIR/auth.json"
	export BK_REG BK_REG_BASIC BK_REG_TOKEN BK_TOKEN_PORT BK_REG_CORRUPT_LAYER
}

# bk_registry_blob_gets MODE: how many blob GETs MODE's registry has logged.
bk_registry_blob_gets() {
	grep -c '"GET /v2/[^"]*/blobs/sha256:' "$BK_REG_DIR/$1.log" || true
}

# bk_registry_teardown: kill what bk_registry_setup started (by PID and start
# time), remove BK_REG_DIR (unless BK_TEST_KEEP=1).
bk_registry_teardown() {
	if [ -z "${BK_REG_DIR:-}" ] || [ ! -d "$BK_REG_DIR" ]; then
		return 0
	fi
	# shellcheck disable=SC2046 # one PID per word
	bk_reg_kill $(awk '{ print $1 }' "$BK_REG_DIR/pids")
	if [ "${BK_TEST_KEEP:-}" = 1 ]; then
		echo "registry: BK_TEST_KEEP=1, kept $BK_REG_DIR" >&2
	else
		rm -rf "$BK_REG_DIR"
	fi
}

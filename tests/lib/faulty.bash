# shellcheck shell=bash
# A fault-injecting proxy (registry/faulty.py) in front of the plain test
# registry of registry.bash (BK_REG), for the pull's retry and error tests.
# Load after registry.bash and start it after bk_registry_setup:
#
#   setup_file() { bk_registry_setup && bk_faulty_start; }
#   teardown_file() { bk_faulty_stop; bk_registry_teardown; }
#   setup() { bk_faulty_rules; }       # no faults, a fresh log
#   @test ... { bk_faulty_rules '/blobs/ drop 50% times=1'; ...; bk_faulty_count ' front GET /v2/.*/blobs/'; }
#
# Sets BK_FAULTY (127.0.0.1:PORT, the registry to pull from), BK_FAULTY_OTHER
# (127.0.0.2:PORT, the "other host": blob storage and token service),
# BK_FAULTY_RULES and BK_FAULTY_LOG (its request log; the line format and the
# rules are described at the top of faulty.py).  The proxy is recorded in
# BK_REG_DIR/pids like the registries (bk_registry_teardown kills it too) and
# killed by PID and start time.

BK_FAULTY_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/registry

bk_faulty_start() {
	local out=$BK_REG_DIR/faulty.ports pid i
	BK_FAULTY_RULES=$BK_REG_DIR/faulty.rules
	BK_FAULTY_LOG=$BK_REG_DIR/faulty.log
	: >"$BK_FAULTY_RULES"
	: >"$BK_FAULTY_LOG"
	"$BK_REG_PY" "$BK_FAULTY_LIB/faulty.py" "$BK_REG" "$BK_FAULTY_RULES" "$BK_FAULTY_LOG" \
		</dev/null >"$out" 2>"$BK_REG_DIR/faulty.err" 3>&- &
	pid=$!
	bk_reg_track "$pid"
	BK_FAULTY_PID=$pid
	for ((i = 0; i < 200; i++)); do
		[ -s "$out" ] && break
		sleep 0.05
	done
	[ -s "$out" ] || { echo "faulty.py did not start: $(cat "$BK_REG_DIR/faulty.err")" >&2; return 1; }
	read -r BK_FAULTY BK_FAULTY_OTHER <"$out"
	BK_FAULTY=127.0.0.1:$BK_FAULTY
	BK_FAULTY_OTHER=127.0.0.2:$BK_FAULTY_OTHER
	bk_reg_wait_http "http://$BK_FAULTY/v2/" || return 1
	export BK_FAULTY BK_FAULTY_OTHER BK_FAULTY_RULES BK_FAULTY_LOG BK_FAULTY_PID
}

# bk_faulty_stop: kill the proxy (by PID, if it is still the process started).
bk_faulty_stop() {
	local - pid=${BK_FAULTY_PID:-} start st
	set +e
	[ -n "$pid" ] && [ -f "$BK_REG_DIR/pids" ] || return 0
	start=$(awk -v p="$pid" '$1 == p { print $2 }' "$BK_REG_DIR/pids" | tail -n1)
	st=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
	st=${st##*) }
	# shellcheck disable=SC2086 # split on purpose: the fields of /proc/PID/stat
	set -- $st
	[ "${20}" = "$start" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do
		[ -e "/proc/$pid" ] || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# bk_faulty_rules [RULE...]: replace the rules (none: no faults) and empty the
# log.  The file is renamed into place, so the proxy sees a new one and the
# rules' times= counters start again.
bk_faulty_rules() {
	local tmp=$BK_FAULTY_RULES.new
	printf '%s\n' "$@" >"$tmp"
	mv -f "$tmp" "$BK_FAULTY_RULES"
	: >"$BK_FAULTY_LOG"
}

# bk_faulty_count REGEX: how many log lines match REGEX (grep -E).
bk_faulty_count() {
	grep -cE -- "$1" "$BK_FAULTY_LOG" || true
}

# bk_faulty_auth_config FILE USER:PASS: a docker config.json with USER:PASS for BK_FAULTY.
bk_faulty_auth_config() {
	printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$BK_FAULTY" "$(printf %s "$2" | base64)" >"$1"
}


# shellcheck shell=bash
# A fault-injecting proxy (registry/faulty.py) in front of the plain test
# registry of registry.bash (BK_REG), for the pull's retry and error tests.
# Load after registry.bash and start it after bk_registry_setup:
#
#   setup_file() { bk_registry_setup && bk_faulty_start; }
#   teardown_file() { bk_faulty_stop; bk_registry_teardown; }
#   setup() { bk_faulty_rules; }       # no faults, a fresh log
#   @test ... { bk_faulty_rules '/blobs/ drop 50% times=1'; ...; bk_faulty_want_gets front /blobs/ 2; }
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
	[ -n "${BK_FAULTY_PID:-}" ] && [ -f "$BK_REG_DIR/pids" ] || return 0
	bk_reg_kill "$BK_FAULTY_PID"
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

# bk_faulty_gets LISTENER PATHRE: how many GETs LISTENER (front: the registry
# pulled from, other: the other host) logged for a path matching PATHRE (awk).
bk_faulty_gets() {
	awk -v l="$1" -v re="$2" '$2 == l && $3 == "GET" && $4 ~ re' "$BK_FAULTY_LOG" | wc -l
}

# bk_faulty_gets_are LISTENER PATHRE N: exactly N such GETs.
bk_faulty_gets_are() {
	[ "$(bk_faulty_gets "$1" "$2")" = "$3" ]
}

# bk_faulty_want_gets LISTENER PATHRE N: exactly N such GETs, or fail with the log.
bk_faulty_want_gets() {
	bk_faulty_gets_are "$@" || bk_fail "$1 GETs of $2: $(bk_faulty_gets "$1" "$2"), want $3; log:
$(cat "$BK_FAULTY_LOG")"
}

# bk_faulty_col LISTENER PATHRE N: field N (1 time, 5 range, 6 auth, 7 fault) of
# those GETs' lines, in order.
bk_faulty_col() {
	awk -v l="$1" -v re="$2" -v f="$3" '$2 == l && $3 == "GET" && $4 ~ re { print $f }' \
		"$BK_FAULTY_LOG"
}

# bk_faulty_count REGEX: how many log lines match REGEX (grep -E).
bk_faulty_count() {
	grep -cE -- "$1" "$BK_FAULTY_LOG" || true
}

# bk_faulty_auth_config FILE USER:PASS: a docker config.json with USER:PASS for BK_FAULTY.
bk_faulty_auth_config() {
	printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$BK_FAULTY" "$(printf %s "$2" | base64)" >"$1"
}


#!/bin/sh
# Run libFuzzer targets for a while each: `make fuzz` calls this.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...
#
# Each target BUILD_DIR/fuzz/fuzz_NAME starts from tests/fuzz/corpus/NAME
# (read only: what it finds goes to a temporary directory) with
# tests/fuzz/NAME.dict if there is one.  A crash, a leak, an input slower than
# 10 s or more than 2 GB of memory fails the run: the input is kept as
# BUILD_DIR/crashes/NAME-*, the log as BUILD_DIR/crashes/NAME.log.  Nothing
# else is left behind (the layer target extracts into a tmpfs of its own under
# the temporary directory, see fuzz_layer.c).
set -u
build=$1
secs=$2
shift 2
targets=$*
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/bkfuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
# Symbolized reports: llvm-14's symbolizer is not on PATH under that name everywhere.
[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] &&
	export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/crashes"
failed=""
summary=""
# The positional parameters are reused below for each target's options.
for t in $targets; do
	bin=$build/fuzz/fuzz_$t
	out=$work/$t
	mkdir -p "$out" "$work/$t.tmp"
	set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/crashes/$t-"
	[ -f "$here/$t.dict" ] && set -- "$@" -dict="$here/$t.dict"
	# Layers and Dockerfiles need room; the other inputs are short lines or small documents.
	case $t in
	layer) set -- "$@" -max_len=65536 ;;
	dockerfile | manifest) set -- "$@" -max_len=16384 ;;
	esac
	echo "fuzz: $t for ${secs}s"
	# The outer timeout only catches a hang libFuzzer itself cannot interrupt.
	FUZZ_TMP=$work/$t.tmp timeout -k 10 $((secs * 2 + 60)) "$bin" "$@" "$out" \
		"$here/corpus/$t" >"$work/$t.log" 2>&1
	rc=$?
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/$t.log" | tail -n 1)
	execs=$(sed -n 's/^stat::average_exec_per_sec:[[:space:]]*//p' "$work/$t.log")
	runs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$work/$t.log")
	cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$done_line" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
	summary="$summary$(printf '%-11s %10s %8s %6s %6s %6s' "$t" "${runs:-?}" "${execs:-?}" \
		"${cov:-?}" "${ft:-?}" "${corp:-?}")
"
	if [ "$rc" -ne 0 ] || [ -z "$done_line" ]; then
		failed="$failed $t"
		cp "$work/$t.log" "$build/crashes/$t.log"
		echo "fuzz: $t FAILED (exit $rc); log: $build/crashes/$t.log" >&2
		grep -E -A40 '^==[0-9]+==ERROR|runtime error|^fuzz: |DEADLY SIGNAL|Test unit written' \
			"$work/$t.log" | head -n 80 >&2
	fi
done
printf '%-11s %10s %8s %6s %6s %6s\n' target runs exec/s cov ft corpus
printf '%s' "$summary"
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed" >&2
	exit 1
fi
rmdir "$build/crashes" 2>/dev/null
echo "fuzz: all targets ran ${secs}s without a crash, leak or timeout"

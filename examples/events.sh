#!/bin/sh
# events.sh [ID]: follow the bockerfs event stream, for every object or only
# for ID.  $BOCKERFS/events (default /run/bockerfs) is a blocking stream that
# starts at open: "TIME KIND ID ACTION [k=v ...]", e.g.
#   2026-01-02T03:04:05.123456789Z container ps_0123456789ab start pid=4242
#   2026-01-02T03:04:05.234567890Z container ps_0123456789ab exit code=0
# Stop it with Ctrl-C (or take what you need: `events.sh ID | head -n 2`).
set -u
B=${BOCKERFS:-/run/bockerfs}
[ -r "$B/events" ] || { echo "events.sh: no bockerfs tree at $B (set BOCKERFS)" >&2 && exit 1; }
# Through cat: the shell's read takes one byte per read(), and the stream hands
# out whole events, so it is read in large blocks.
# shellcheck disable=SC2002
cat "$B/events" | while read -r time kind id action rest; do
	[ -z "${1:-}" ] || [ "$id" = "$1" ] || continue
	printf '%s %-9s %-15s %s%s\n' "$time" "$kind" "$id" "$action" "${rest:+ $rest}"
done

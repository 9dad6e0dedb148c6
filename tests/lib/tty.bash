# shellcheck shell=bash
# A terminal for the tests of interactive containers (`ctr run -t`, `podman
# run -it`): tmux on a socket of the test's own, a 120x30 window, driven with
# send-keys and read with capture-pane.
#
#   tty_start CMD...   run CMD (a program or a function of the test's: the
#                      script tmux runs is given every function defined here)
#                      in a new tmux session; TTY_PID is the tmux server; when
#                      CMD ends, its status goes to TTY_DIR/rc
#   tty_type TEXT      type TEXT, then Enter
#   tty_wait REGEX [SECONDS]  until the screen matches REGEX (grep -E); on a
#                      timeout, fail and show the screen
#   tty_screen         the screen as it is now
#   tty_status [SECONDS]  wait until CMD has ended; print its status
#   tty_stop           the tmux server killed by its PID if it is still there
#                      (it goes by itself when CMD ends); for teardown
#
# TTY_DIR defaults to BATS_TEST_TMPDIR (short enough for a socket path).

TTY_PID=""

tty_start() {
	local script
	TTY_DIR=${TTY_DIR:-$BATS_TEST_TMPDIR}
	TTY_SOCK=$TTY_DIR/tmux.sock
	script=$TTY_DIR/tty-cmd.sh
	rm -f "$TTY_DIR/rc"
	{
		echo '#!/bin/bash'
		declare -f
		printf '%q ' "$@"
		echo
		printf 'echo $? >%q\n' "$TTY_DIR/rc"
	} >"$script" || return
	command -v tmux >/dev/null || bk_fail "tmux is not installed (scripts/deps.sh test)" || return
	tmux -S "$TTY_SOCK" -f /dev/null new-session -d -x 120 -y 30 -s bk "bash $script" 3>&- ||
		bk_fail "tmux did not start" || return
	TTY_PID=$(tmux -S "$TTY_SOCK" display-message -p '#{pid}' 2>/dev/null)
	[ -n "$TTY_PID" ] && TTY_PID_START=$(bk_proc_start "$TTY_PID")
	return 0
}

tty_screen() {
	tmux -S "$TTY_SOCK" capture-pane -p -t bk 2>/dev/null
}

tty_type() {
	tmux -S "$TTY_SOCK" send-keys -t bk -l "$1" && tmux -S "$TTY_SOCK" send-keys -t bk Enter
}

tty_wait() {
	local re=$1 end=$((SECONDS + ${2:-15}))
	until tty_screen | grep -qE -- "$re"; do
		if [ "$SECONDS" -ge "$end" ]; then
			bk_fail "the terminal never showed /$re/; screen:
$(tty_screen)"
			return 1
		fi
		sleep 0.1
	done
}

tty_status() {
	local end=$((SECONDS + ${1:-15}))
	until [ -s "$TTY_DIR/rc" ]; do
		if [ "$SECONDS" -ge "$end" ]; then
			bk_fail "the command in the terminal did not end; screen:
$(tty_screen)"
			return 1
		fi
		sleep 0.1
	done
	cat "$TTY_DIR/rc"
}

tty_stop() {
	[ -n "$TTY_PID" ] || return 0
	if [ "$(bk_proc_start "$TTY_PID")" = "${TTY_PID_START:-}" ]; then
		kill -TERM "$TTY_PID" 2>/dev/null
		bk_wait_gone "$TTY_PID" 5 || kill -KILL "$TTY_PID" 2>/dev/null
	fi
	TTY_PID=""
	return 0
}

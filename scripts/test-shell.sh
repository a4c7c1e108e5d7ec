#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-shell.sh LOG VM-ARGS...: what `make shell` gives a user, driven
# as a user drives it: vm.sh VM-ARGS --mode shell (VM-ARGS: --kdir or
# --release, --ko, --tests) on a terminal (a detached tmux
# session), then, at the guest's prompt, ptmarkctl maps of the demo's
# PID, then exit.  Passes when the prompt came, ptmarkctl found the
# demo's guarded thread stacks, and the guest powered off clean (module
# unloaded, no splat: vm-verdict.sh).  LOG is the console log.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

log=$1
shift
args=$(printf " %q" "$@")
command -v tmux > /dev/null || die "test-shell.sh: no tmux; fix: apt-get install tmux"
work=$(mktemp -d "${TMPDIR:-/tmp}/ptmark-shell.XXXXXX")
session=ptmark-shell-$$
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT
: > "$log"

# wait_for PATTERN SECONDS: PATTERN (grep -E) shows in the console log.
wait_for() {
	for _ in $(seq "$2"); do
		grep -Eq "$1" "$log" && return 0
		[ -e "$work"/rc ] && break
		sleep 1
	done
	grep -Eq "$1" "$log" || {
		echo "ptmark: test-shell: no '$1' after ${2}s; the console's end:" >&2
		tail -n 20 "$log" | tr -d '\r' >&2
		return 1
	}
}

tmux new-session -d -s "$session" -x 200 -y 50 \
	"$PTMARK_ROOT/scripts/vm.sh$args --mode shell --name shell --log '$log' \
	 2> '$work/err'; echo \$? > '$work/rc.new'; mv '$work/rc.new' '$work/rc'"

ok=1
wait_for 'ptmark_demo is pid [0-9]+' 600 || ok=0
wait_for 'ptmark-vm# ' 60 || ok=0
pid=$(sed -n 's/.*ptmark_demo is pid \([0-9]*\).*/\1/p' "$log" | head -n1)
if [ "$ok" = 1 ]; then
	tmux send-keys -t "$session" "ptmarkctl maps $pid; echo shell-rc=\$?" Enter
	wait_for 'shell-rc=[0-9]+' 120 || ok=0
	grep -q 'shell-rc=0' "$log" || { echo "ptmark: test-shell: ptmarkctl maps $pid failed" >&2; ok=0; }
	grep -Eq '^  guard [0-9a-f]+-[0-9a-f]+ 1 pages' "$log" ||
		{ echo "ptmark: test-shell: ptmarkctl maps $pid shows no guard page" >&2; ok=0; }
fi
tmux send-keys -t "$session" "exit" Enter
for _ in $(seq 300); do
	[ -e "$work"/rc ] && break
	sleep 1
done
if [ ! -e "$work"/rc ]; then
	echo "ptmark: test-shell: the guest did not power off after exit" >&2
	exit 1
fi
[ "$(cat "$work"/rc)" = 0 ] || {
	echo "ptmark: test-shell: vm.sh exited $(cat "$work"/rc)" >&2
	grep -v '^\[ptmark ' "$work"/err >&2
	ok=0
}
[ "$ok" = 1 ]

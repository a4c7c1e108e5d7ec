#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-verdict.sh: the verdict code's own tests.  Each scripts/tests/verdict/
# *.log is a small fake console log whose "#@" header says which verdict
# it feeds (tool: verdict, for verdict.sh; tool: vm, for vm-verdict.sh),
# with what (kernel: the kernel whose rules they are, "test" if not
# given; programs:; skips: lines of a skip-rules file; known: lines
# of a known-bugs file; splats: lines of a known-splats file, "|" for its
# tabs; fixed: IDs a patch series fixes; complete: 1 when
# every program ran), and what must come out: want: lines of verdict.sh's
# stdout, exit: the exit status of vm-verdict.sh, says: / says-not: text
# that must / must not be on stderr.  Prints kselftest-style TAP, so the
# run is counted like any test program.

set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

header() { sed -n "s/^#@ $2: //p" "$1"; }

cases=("$here"/tests/verdict/*.log)
echo "TAP version 13"
echo "1..${#cases[@]}"
pass=0 fail=0
for log in "${cases[@]}"; do
	name=verdict.$(basename "$log" .log)
	why=
	header "$log" skips > "$work/skips"
	header "$log" known > "$work/known"
	case $(header "$log" tool) in
	verdict)
		opts=(--kernel "$(header "$log" kernel | grep . || echo test)" --skips "$work/skips" --known "$work/known"
		      --fixed "$(header "$log" fixed)")
		[ "$(header "$log" complete)" = 1 ] && opts+=(--complete)
		"$here"/verdict.sh "${opts[@]}" \
			--bugs "$root"/Documentation/kernel-bugs.rst \
			--programs "$(header "$log" programs)" "$log" \
			> "$work/out" 2> "$work/err"
		header "$log" want > "$work/want"
		cmp -s "$work/want" "$work/out" ||
			why="stdout '$(xargs < "$work/out")', want '$(xargs < "$work/want")'"
		;;
	vm)
		header "$log" splats | tr '|' '\t' > "$work/splats"
		"$here"/vm-verdict.sh fake "$log" "$work/splats" > "$work/out" 2> "$work/err"
		rc=$?
		[ "$rc" = "$(header "$log" exit)" ] ||
			why="exit $rc, want $(header "$log" exit)"
		;;
	*)
		why="no '#@ tool:' header"
		;;
	esac
	while IFS= read -r text; do
		grep -qF -- "$text" "$work/err" || why+="${why:+; }stderr lacks '$text'"
	done < <(header "$log" says)
	while IFS= read -r text; do
		! grep -qF -- "$text" "$work/err" || why+="${why:+; }stderr has '$text'"
	done < <(header "$log" says-not)
	if [ -z "$why" ]; then
		pass=$((pass + 1))
		echo "ok $((pass + fail)) $name"
	else
		fail=$((fail + 1))
		echo "not ok $((pass + fail)) $name #  $why"
		sed 's/^/# /' "$work/err"
	fi
done
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" = 0 ]

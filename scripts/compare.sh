#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# compare.sh BASE NEW: `make compare BASE=... NEW=...`, the cases whose
# result changed between two runs of the suite.  Each of BASE and NEW is
# a console log (build/logs/vm-*.log of make check, build/vm-kdir/
# console.log of make vm, a native.log) or a built kernel tree, which is
# run first as `make vm KDIR=` runs it (PTMARK_TESTS applies).  So two
# kernels compare, or one tree built without and with a patch series.
# Prints one line per case, "PROG:CASE BASE-RESULT -> NEW-RESULT"
# (pass, fail, skip, xfail, xpass, or "-" where the run has no such
# case), then the count; exits 1 when any case changed.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

[ $# = 2 ] || die "usage: compare.sh BASE NEW (logs or built kernel trees)"
work=$PTMARK_ROOT/build/compare
mkdir -p "$work"

# cases WHICH ARG: the "PROG:CASE RESULT" lines of ARG's run, in
# $work/WHICH.cases.
cases() {
	local which=$1 arg=$2 log opts=()
	if [ -d "$arg" ]; then
		step "compare: the suite on $arg"
		# Its verdict against the baseline is not the question here.
		"$PTMARK_ROOT"/scripts/vm-kdir.sh "$arg" || true
		log=$work/$which.log
		cp "$PTMARK_ROOT"/build/vm-kdir/console.log "$log"
	elif [ -f "$arg" ]; then
		log=$arg
	else
		die "compare: $arg is neither a log nor a kernel tree"
	fi
	grep -q '^ptmark-run: begin ' "$log" && opts=(--run-tests)
	"$PTMARK_ROOT"/scripts/kselftest-counts.sh --cases "${opts[@]}" "$log" |
		sort -u > "$work/$which.cases"
	[ -s "$work/$which.cases" ] || die "compare: no test results in $log"
}

cases base "$1"
cases new "$2"
if ! join -a1 -a2 -e - -o 0,1.2,2.2 "$work"/base.cases "$work"/new.cases |
	awk '$2 != $3 { print $1, $2, "->", $3; n++ }
	     END { printf "%d of %d cases changed\n", n, NR; exit n > 0 }'; then
	exit 1
fi

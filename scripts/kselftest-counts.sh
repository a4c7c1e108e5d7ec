#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kselftest-counts.sh [--collection C] LOG: read the output of the
# kernel's run_kselftest.sh the way a test farm's parser does (LKFT's and
# KernelCI's read exactly these lines) and print
#
#   counts PASSED FAILED SKIPPED
#   program NAME RESULT        (one a program: pass, skip, fail)
#
# counting the subtest results each program printed, nested under its
# "# selftests: C: NAME" header as "# ok N name [# SKIP|XFAIL|XPASS ...]",
# the way make check's verdict counts them (XFAIL with the skips, XPASS
# with the passes), and every "ok|not ok N selftests: C: NAME" result line
# of the runner's own stream.  A program the runner failed (a timeout, an
# exit status other than 0 or 4) counts as one failure more; a program
# with a result but no subtests, or a header without a result, too, but
# for one that skipped as a whole ("1..0 # SKIP REASON", exit 4): one skip.
#
# kselftest-counts.sh --cases [--run-tests] LOG prints instead one
# "PROG:CASE OUTCOME" line a subtest (pass, skip, xfail, xpass, fail), of
# a run_kselftest.sh log, or with --run-tests of a run_tests.sh one
# ("ptmark-run: begin/end" frames), so two runs can be compared case by
# case.

set -euo pipefail

collection=ptmark cases=0 run_tests=0
while [ $# -gt 1 ]; do
	case $1 in
	--collection) collection=$2; shift 2 ;;
	--cases) cases=1; shift ;;
	--run-tests) run_tests=1; shift ;;
	*) break ;;
	esac
done
[ $# = 1 ] || { echo "usage: kselftest-counts.sh [--collection C] [--cases [--run-tests]] LOG" >&2; exit 2; }

if [ "$cases" = 1 ]; then
	awk -v coll="$collection" -v run_tests="$run_tests" '
	run_tests && /^ptmark-run: begin / { prog = $3; next }
	run_tests && /^ptmark-run: end / { prog = ""; next }
	!run_tests && $0 ~ "^# selftests: " coll ": " { prog = $4; next }
	!run_tests && $0 ~ "^(not )?ok [0-9]+ selftests: " coll ": " { prog = ""; next }
	prog != "" {
		line = $0
		if (!run_tests) {
			if (line !~ /^# /)
				next
			line = substr(line, 3)
		}
		if (line !~ /^(not )?ok [0-9]+ /)
			next
		name = line
		sub(/^(not )?ok [0-9]+ /, "", name)
		outcome = "pass"
		if (line ~ /^not ok/)
			outcome = "fail"
		else if (match(name, / # (SKIP|XFAIL|XPASS)( |$)/))
			outcome = tolower(substr(name, RSTART + 3, 5))
		sub(/ # .*/, "", name)
		sub(/ +$/, "", outcome)
		print prog ":" name, outcome
	}' "$1"
	exit 0
fi

awk -v coll="$collection" '
function close_program() {
	if (prog != "") {
		print "program " prog " unfinished"
		failed++
	}
	prog = ""
}
$0 ~ "^# selftests: " coll ": " {
	close_program()
	prog = $4
	subtests = 0
	whole_skip = 0
	next
}
prog != "" && /^# 1\.\.0 # SKIP/ { whole_skip = 1; next }
prog != "" && /^# (not )?ok [0-9]+ / {
	subtests++
	if ($2 == "not")
		failed++
	else if ($0 ~ / # (SKIP|XFAIL)( |$)/)
		skipped++
	else
		passed++
	next
}
$0 ~ "^(not )?ok [0-9]+ selftests: " coll ": " {
	name = $0
	sub("^(not )?ok [0-9]+ selftests: " coll ": ", "", name)
	sub(/ .*/, "", name)
	if (name != prog) {
		print "program " name " result without its header"
		failed++
		next
	}
	if ($1 == "not") {
		result = "fail"
		failed++
	} else if ($0 ~ / # SKIP( |$)/)
		result = "skip"
	else
		result = "pass"
	if (!subtests && whole_skip && result == "skip")
		skipped++
	else if (!subtests) {
		result = result "-without-subtests"
		failed++
	}
	print "program " prog " " result
	prog = ""
	next
}
END {
	close_program()
	printf "counts %d %d %d\n", passed, failed, skipped
}' "$1"

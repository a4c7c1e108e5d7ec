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
# with a result but no subtests, or a header without a result, too.

set -euo pipefail

collection=ptmark
if [ "${1:-}" = --collection ]; then
	collection=$2
	shift 2
fi
[ $# = 1 ] || { echo "usage: kselftest-counts.sh [--collection C] LOG" >&2; exit 2; }

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
	next
}
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
	if (!subtests) {
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

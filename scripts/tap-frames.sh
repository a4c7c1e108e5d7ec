#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tap-frames.sh LOG...: the test-program output of console or native logs
# in ptmark's run_tests.sh framing, whichever runner wrote it.  Lines of
# run_tests.sh ("ptmark-run: begin/end P") pass as they are; the kernel's
# run_kselftest.sh is read the same way: its "# selftests: C: P" header
# begins a program, the program's own lines lose their "# " prefix, and
# its "ok|not ok N selftests: C: P" result ends the program with the exit
# status it stands for (0, 4 for SKIP, N for "# exit=N", 124 for a
# timeout).  Every other line passes as it is.

set -euo pipefail

awk '
/^# selftests: [^ ]+: [^ ]+$/ {
	if (prog != "")
		print "ptmark-run: end " prog " rc=unknown"
	prog = $4
	print "ptmark-run: begin " prog
	next
}
prog != "" && $0 ~ "^(not )?ok [0-9]+ selftests: [^ ]+: " prog "( |$)" {
	rc = 0
	if ($1 == "not") {
		rc = 1
		if (match($0, / # exit=[0-9]+/))
			rc = substr($0, RSTART + 8, RLENGTH - 8)
		else if ($0 ~ / # TIMEOUT/)
			rc = 124
	} else if ($0 ~ / # SKIP( |$)/)
		rc = 4
	print "ptmark-run: end " prog " rc=" rc
	prog = ""
	next
}
prog != "" && /^# / { print substr($0, 3); next }
{ print }' "$@"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tap-count.sh LOG...: print "passed failed skipped" summed over the
# kselftest programs in the logs.  A program's "# Totals:" line gives its
# counts; a program that ended without one (crash, timeout) counts as one
# failure, so a dying test can never vanish from the sum.  An XFAIL is a
# known kernel bug the test caught: it is no pass, so it counts with the
# skips, and each one is listed on stderr; an XPASS (the bug is gone, the
# test must be updated) counts as a failure.

awk '
/^ptmark-run: begin / { prog = $3; totals = 0 }
/^# .*known kernel bug: / {
	sub(/^# [^ ]*:[0-9]*:[^:]*:/, "")
	print "ptmark: " prog ": " $0 > "/dev/stderr"
}
/^# Totals: / {
	for (i = 3; i <= NF; i++) {
		split($i, kv, ":")
		c[kv[1]] += kv[2]
	}
	totals = 1
}
/^ptmark-run: end / {
	if (!totals) {
		c["fail"]++
		print "ptmark: " $3 " ended (" $4 ") without TAP totals" > "/dev/stderr"
	}
}
END {
	printf "%d %d %d\n", c["pass"],
	       c["fail"] + c["xpass"] + c["error"], c["skip"] + c["xfail"]
}' "$@"

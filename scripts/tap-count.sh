#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tap-count.sh LOG...: print "passed failed skipped" summed over the
# kselftest programs in the logs.  A program's "# Totals:" line gives its
# counts; a program that ended without one (crash, timeout) counts as one
# failure, so a dying test can never vanish from the sum.

awk '
/^ptmark-run: begin / { prog = $3; totals = 0 }
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
	printf "%d %d %d\n", c["pass"] + c["xfail"],
	       c["fail"] + c["xpass"] + c["error"], c["skip"]
}' "$@"

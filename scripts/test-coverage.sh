#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-coverage.sh: the tests of make coverage's table code
# (scripts/coverage-table.py), on the fixture in scripts/tests/coverage/:
# a small source file, the functions to tabulate, and two lcov tracefiles,
# a.info in lcov 1.x's format (one file split over two records) and b.info
# in lcov 2.x's (FN with an end line, DA with a checksum), whose paths have
# different prefixes.  table.expected is what must come out.  Prints
# kselftest-style TAP, so the run is counted like any test program.

set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fix=$here/tests/coverage
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

table() {
	"$here"/coverage-table.py --src "$fix"/src "$@" \
		ptmark="$fix"/a.info upstream="$fix"/b.info
}

echo "TAP version 13"
echo "1..3"
pass=0 fail=0
result() {
	if [ "$1" = 0 ]; then
		echo "ok $2 $3"
		pass=$((pass + 1))
	else
		echo "not ok $2 $3"
		fail=$((fail + 1))
	fi
}

# The whole table: extents (a prototype first, the built one of two
# #ifdef variants, a name on the line after its type), percentages,
# lines only one suite reaches, branches none takes.
table --functions "$fix"/functions.txt --unreached > "$work"/out 2> "$work"/err
r=$?
diff -u "$fix"/table.expected "$work"/out | sed 's/^/# /'
[ "$r" = 0 ] && cmp -s "$fix"/table.expected "$work"/out && [ ! -s "$work"/err ]
result $? 1 coverage.table

# A function the source lacks is an error, not a row of dashes.
{ cat "$fix"/functions.txt; printf 'walk\tmm/demo.c\tdemo_gone\n'; } > "$work"/gone.txt
table --functions "$work"/gone.txt > "$work"/out 2> "$work"/err
r=$?
sed 's/^/# /' "$work"/err
[ "$r" = 2 ] && grep -q 'no definition of demo_gone in mm/demo.c' "$work"/err
result $? 2 coverage.missing_function

# A list line that is not GROUP PATH FUNCTION stops it.
printf 'walk mm/demo.c\n' > "$work"/bad.txt
table --functions "$work"/bad.txt > "$work"/out 2> "$work"/err
r=$?
[ "$r" != 0 ] && grep -q 'GROUP PATH FUNCTION' "$work"/err
result $? 3 coverage.bad_list

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" = 0 ]

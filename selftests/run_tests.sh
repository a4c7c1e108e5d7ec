#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run_tests.sh [ROOT]: run every program named in the kselftest tree
# ROOT's kselftest-list.txt, "COLLECTION:PROG" run in ROOT/COLLECTION
# (default ROOT: the tree this script is installed in; only the programs
# in $PTMARK_TESTS, if set), each framed by "ptmark-run:" lines so that
# a runner can tell a program that died before its TAP totals from one
# that finished.  The end line also says how long the program took.  The kernel's run_kselftest.sh runs the same programs;
# this is the runner make check judges.  POSIX sh: it runs under busybox
# in the test VM too.

root=${1:-$(dirname "$0")/..}
timeout_s=${PTMARK_TEST_TIMEOUT:-600}

for entry in $(cat "$root/kselftest-list.txt"); do
	prog=${entry#*:}
	collection=${entry%%:*}
	if [ -n "$PTMARK_TESTS" ]; then
		case " $PTMARK_TESTS " in
		*" $prog "*) ;;
		*) continue ;;
		esac
	fi
	echo "ptmark-run: begin $prog"
	t0=$(date +%s)
	(cd "$root/$collection" && timeout "$timeout_s" "./$prog")
	rc=$?
	echo "ptmark-run: end $prog rc=$rc secs=$(($(date +%s) - t0))"
done

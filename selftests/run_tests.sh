#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run_tests.sh [DIR]: run every program named in DIR/kselftest-list.txt
# (or only those in $PTMARK_TESTS), each framed by "ptmark-run:" lines so
# that a runner can tell a program that died before its TAP totals from
# one that finished.  POSIX sh: it runs under busybox in the test VM too.

dir=${1:-$(dirname "$0")}
timeout_s=${PTMARK_TEST_TIMEOUT:-600}

for entry in $(cat "$dir/kselftest-list.txt"); do
	prog=${entry#*:}
	if [ -n "$PTMARK_TESTS" ]; then
		case " $PTMARK_TESTS " in
		*" $prog "*) ;;
		*) continue ;;
		esac
	fi
	echo "ptmark-run: begin $prog"
	(cd "$dir" && timeout "$timeout_s" "./$prog")
	echo "ptmark-run: end $prog rc=$?"
done

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make fuzz`: the long fuzzer run, selftests/fuzz.c alone in the dev VM:
# 10^6 calls by default (PTMARK_FUZZ_CALLS), bounded by
# PTMARK_FUZZ_SECONDS (default 5400), with PTMARK_FUZZ_SEED to replay a
# seed.  make check runs the same program for its default, shorter
# bounds.  The log is build/fuzz/console.log; exits non-zero on a failed
# test, a kernel report or a kmemleak report.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

export PTMARK_FUZZ_CALLS=${PTMARK_FUZZ_CALLS:-1000000}
export PTMARK_FUZZ_SECONDS=${PTMARK_FUZZ_SECONDS:-5400}
export PTMARK_TEST_TIMEOUT=$((PTMARK_FUZZ_SECONDS + 300))

"$PTMARK_ROOT"/scripts/deps.sh
kdev=$("$PTMARK_ROOT"/scripts/dev-kernel.sh)
work=$PTMARK_ROOT/build/fuzz
rm -rf "$work"
mkdir -p "$work"
"$PTMARK_ROOT"/scripts/build-module.sh "$kdev" "$work"/ko
build_selftests "$kdev" "$work"/selftests-build "$work"/tests
vm_ok=1
"$PTMARK_ROOT"/scripts/vm.sh --kdir "$kdev" --ko "$work"/ko/ptmark.ko \
	--tests "$work"/tests --name fuzz --only fuzz --log "$work"/console.log \
	--timeout $((PTMARK_TEST_TIMEOUT + 300)) || vm_ok=0
read -r _ passed failed skipped < <("$PTMARK_ROOT"/scripts/verdict.sh \
	--kernel dev --skips "$PTMARK_ROOT"/selftests/expected/dev.skip \
	--known "$PTMARK_ROOT"/selftests/expected/dev.bugs \
	--bugs "$PTMARK_ROOT"/Documentation/kernel-bugs.rst \
	--programs fuzz "$work"/console.log | grep '^counts ')
[ "$vm_ok" = 1 ] || failed=$((failed + 1))
grep -E 'random_calls:(seed|[0-9]+ calls)' "$work"/console.log || true
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]

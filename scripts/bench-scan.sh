#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-scan.sh [KDIR]: how fast PTMARK_IOC_SCAN reads page tables next to
# /proc/self/pagemap and PAGEMAP_SCAN.  Builds ptmark.ko and bench_scan
# against KDIR (a built kernel tree with its source/ and usr/include/;
# default: the dev kernel, built if need be), boots it in the test VM running
# bench_scan alone, and prints bench_scan's table.  Fails if the VM run
# does (kernel splat, timeout) or bench_scan reports a failure.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

kdir=${1:-$("$PTMARK_ROOT"/scripts/dev-kernel.sh)}
[ -f "$kdir"/arch/x86/boot/bzImage ] || die "bench-scan.sh: no built kernel in $kdir"

work=$(mktemp -d "${TMPDIR:-/tmp}/ptmark-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

step "ptmark.ko and bench_scan for $(basename "$kdir")"
"$PTMARK_ROOT"/scripts/build-module.sh "$kdir" "$work"/ko
# Installed as the only test program, so run_tests.sh runs just it.
build_selftests "$kdir" "$work"/build "$work"/tests \
	TEST_GEN_PROGS=bench_scan TEST_GEN_FILES= install

step "booting the VM"
rc=0
"$PTMARK_ROOT"/scripts/vm.sh --kdir "$kdir" --ko "$work"/ko/ptmark.ko \
	--tests "$work"/tests --name bench --timeout 1800 \
	--log "$work"/console.log > "$work"/out.txt || rc=$?

sed -n 's/^# bench: \{0,1\}//p' "$work"/out.txt
read -r _ passed failed skipped < <("$PTMARK_ROOT"/scripts/verdict.sh \
	--programs bench_scan "$work"/out.txt)
step "bench_scan: $passed passed, $failed failed, $skipped skipped"
if [ "$rc" != 0 ] || [ "$failed" != 0 ] || [ "$passed" = 0 ]; then
	grep -E '^(not ok|# .*(FAIL|fail|Totals))' "$work"/out.txt >&2 || true
	die "bench-scan.sh: VM run failed (vm.sh rc=$rc)"
fi

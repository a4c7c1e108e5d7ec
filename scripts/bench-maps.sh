#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-maps.sh [--kdir DIR | --release REL] [--threads N] [--timeout S]:
# build ptmark.ko, ptmarkctl and bench_maps, run bench_maps alone in the
# QEMU guest, and print its figures: `ptmarkctl maps` of a process with N
# (default 10000) threads on guarded stacks against reading its
# /proc/PID/smaps once (selftests/bench_maps.c).
#
#   --kdir DIR     a built kernel tree (default: the cached dev kernel)
#   --release REL  a Debian kernel (make check's copy in the cache, else
#                  an installed one); built with the dev kernel's headers

set -euo pipefail
. "$(dirname "$0")"/lib.sh

KDIR= RELEASE= TIMEOUT=1200 THREADS=10000
while [ $# -gt 0 ]; do
	case $1 in
	--kdir) KDIR=$2 ;;
	--release) RELEASE=$2 ;;
	--threads) THREADS=$2 ;;
	--timeout) TIMEOUT=$2 ;;
	*) die "bench-maps.sh: unknown argument $1" ;;
	esac
	shift 2
done
[[ $THREADS =~ ^[0-9]+$ ]] || die "bench-maps.sh: --threads takes a number"

if [ -n "$KDIR" ]; then
	khdr=$KDIR
else
	khdr=$("$PTMARK_ROOT"/scripts/dev-kernel.sh)
fi
if [ -n "$RELEASE" ]; then
	kbuild=$(stock_root "$RELEASE")/lib/modules/$RELEASE/build
	target=(--release "$RELEASE")
else
	KDIR=${KDIR:-$khdr}
	kbuild=$KDIR
	target=(--kdir "$KDIR")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ptmark-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

step "ptmark.ko for $(basename "${RELEASE:-$KDIR}")"
"$PTMARK_ROOT"/scripts/build-module.sh "$kbuild" "$work"/ko
step "bench_maps and ptmarkctl"
build_selftests "$khdr" "$work"/build "$work"/tests \
	TEST_GEN_PROGS=bench_maps TEST_GEN_FILES=ptmarkctl install
# The runner calls it with no arguments: give it the thread count.
mv "$work"/tests/ptmark/bench_maps "$work"/tests/ptmark/bench_maps.bin
printf '#!/bin/sh\nexec "$(dirname "$0")"/bench_maps.bin %s\n' "$THREADS" \
	> "$work"/tests/ptmark/bench_maps
chmod +x "$work"/tests/ptmark/bench_maps

rc=0
"$PTMARK_ROOT"/scripts/vm.sh "${target[@]}" --ko "$work"/ko/ptmark.ko \
	--tests "$work"/tests --name bench --timeout "$TIMEOUT" \
	--log "$work"/console.log >"$work"/vm.out || rc=$?

sed -n '/^ptmark-run: begin bench_maps/,/^ptmark-run: end bench_maps/p' \
	"$work"/vm.out | sed -n 's/^# //p'
grep -q '^ok 1 ' "$work"/vm.out || rc=1
exit $rc

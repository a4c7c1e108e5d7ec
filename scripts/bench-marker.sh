#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-marker.sh [--kdir DIR | --release REL] [--timeout S]: build
# ptmark.ko and bench_marker, run bench_marker alone in the QEMU guest,
# and print its table: guard markers through PTMARK_IOC_MARKER against
# madvise(), install and remove, one call and 4 KiB strides, unpopulated
# and populated.
#
#   --kdir DIR     a built kernel tree with its source/ and usr/include/,
#                  as scripts/dev-kernel.sh leaves them (default: that
#                  script's dev kernel, built if not cached)
#   --release REL  a Debian kernel instead (make check's copy in the
#                  cache, else an installed one); the benchmark is
#                  still built with the dev kernel's headers
#
# The guest runs under TCG unless KVM works here, so the milliseconds are
# emulated time; the ratios are what to read.  Exit status non-zero when
# the VM run fails (splat, timeout) or the benchmark does not pass.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

KDIR= RELEASE= TIMEOUT=1200
while [ $# -gt 0 ]; do
	case $1 in
	--kdir) KDIR=$2 ;;
	--release) RELEASE=$2 ;;
	--timeout) TIMEOUT=$2 ;;
	*) die "bench-marker.sh: unknown argument $1" ;;
	esac
	shift 2
done

# The benchmark builds against the harness and uapi of a dev tree.
if [ -n "$KDIR" ]; then
	khdr=$KDIR
else
	khdr=$("$PTMARK_ROOT"/scripts/dev-kernel.sh)
fi
[ -d "$khdr/source" ] && [ -d "$khdr/usr/include" ] ||
	die "bench-marker.sh: $khdr has no source/ and usr/include/"
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
step "bench_marker"
# kselftest-list.txt names exactly TEST_GEN_PROGS: bench_marker alone.
build_selftests "$khdr" "$work"/build "$work"/tests \
	TEST_GEN_PROGS=bench_marker TEST_GEN_FILES= install

rc=0
"$PTMARK_ROOT"/scripts/vm.sh "${target[@]}" --ko "$work"/ko/ptmark.ko \
	--tests "$work"/tests --name bench --timeout "$TIMEOUT" \
	--log "$work"/console.log >"$work"/vm.out || rc=$?

sed -n '/^ptmark-run: begin bench_marker/,/^ptmark-run: end bench_marker/p' \
	"$work"/vm.out | sed -n 's/^# //p'
grep -q '^ok 1 ' "$work"/vm.out || rc=1
exit $rc

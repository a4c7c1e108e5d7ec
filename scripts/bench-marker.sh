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

bench_setup bench-marker.sh "$KDIR" "$RELEASE"
step "bench_marker"
# kselftest-list.txt names exactly TEST_GEN_PROGS: bench_marker alone.
build_selftests "$BENCH_KHDR" "$BENCH_WORK"/build "$BENCH_WORK"/tests \
	TEST_GEN_PROGS=bench_marker TEST_GEN_FILES= install
bench_run bench_marker "$TIMEOUT"

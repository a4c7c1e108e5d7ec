#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-maps.sh [--kdir DIR | --release REL] [--threads N] [--runs N]
#                [--timeout S]:
# build ptmark.ko, ptmarkctl and bench_maps, run bench_maps alone in the
# QEMU guest, and print its figures: `ptmarkctl maps` of a process with N
# (default 10000) threads on guarded stacks against reading its
# /proc/PID/smaps once, as `cat` run the same way (ratio a) and as a read
# in the benchmark's own process (ratio b), and where ptmarkctl's time
# goes (selftests/bench_maps.c), medians of --runs (default 5, at most
# 15).  It fails unless maps listed one guard run per thread.
#
#   --kdir DIR     a built kernel tree (default: the cached dev kernel)
#   --release REL  a Debian kernel (make check's copy in the cache, else
#                  an installed one); built with the dev kernel's headers

set -euo pipefail
. "$(dirname "$0")"/lib.sh

KDIR= RELEASE= TIMEOUT=1200 THREADS=10000 RUNS=5
while [ $# -gt 0 ]; do
	case $1 in
	--kdir) KDIR=$2 ;;
	--release) RELEASE=$2 ;;
	--threads) THREADS=$2 ;;
	--runs) RUNS=$2 ;;
	--timeout) TIMEOUT=$2 ;;
	*) die "bench-maps.sh: unknown argument $1" ;;
	esac
	shift 2
done
[[ $THREADS =~ ^[0-9]+$ ]] || die "bench-maps.sh: --threads takes a number"
[[ $RUNS =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] && [ "$RUNS" -le 15 ] ||
	die "bench-maps.sh: --runs takes a number from 1 to 15"

bench_setup bench-maps.sh "$KDIR" "$RELEASE"
step "bench_maps and ptmarkctl"
build_selftests "$BENCH_KHDR" "$BENCH_WORK"/build "$BENCH_WORK"/tests \
	TEST_GEN_PROGS=bench_maps TEST_GEN_FILES=ptmarkctl install
# The runner calls it with no arguments: give it the thread and run counts.
bin=$BENCH_WORK/tests/ptmark/bench_maps
mv "$bin" "$bin".bin
printf '#!/bin/sh\nexec "$(dirname "$0")"/bench_maps.bin %s %s\n' "$THREADS" "$RUNS" > "$bin"
chmod +x "$bin"
bench_run bench_maps "$TIMEOUT"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make coverage`: which mm code ptmark's suite reaches, and which the
# kernel's own mm selftests (make check-upstream's) reach, from gcov.
#
#   lcov -> the dev kernel with gcov over mm/, fs/proc/task_mmu.c and
#   fs/hugetlbfs/ (PTMARK_COVERAGE=1 scripts/dev-kernel.sh, cached apart)
#   -> ptmark's suite in the VM, as make check's dev run -> the upstream
#   mm selftests in the VM, as make check-upstream -> after each run the
#   guest's /sys/kernel/debug/gcov comes back (vm.sh --gcov) -> lcov data
#   against the build tree -> build/coverage/:
#
#     ptmark/, upstream/, union/   genhtml reports (lines and branches)
#     ptmark.info, upstream.info, union.info   the lcov tracefiles
#     table.txt                    scripts/coverage-table.py over the
#                                  functions of configs/coverage-functions.txt
#     times.txt                    how long each step took
#     logs/                        the VM consoles and the runs' output
#
# A failing test does not stop the report (the coverage of a run with
# failures is still what it reached), but is said, and the exit status is
# non-zero if a VM run failed or brought no data back.  Like make check,
# it leaves /boot and /lib/modules alone: the kernel goes to the cache.
# PTMARK_TESTS="prog ..." runs only those of ptmark's programs;
# PTMARK_COVERAGE_SUITES="ptmark" (or "upstream") runs one suite only.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

OUT=$PTMARK_ROOT/build/coverage
rm -rf "$OUT"
mkdir -p "$OUT"/logs "$OUT"/data
t_start=$SECONDS
SUITES=${PTMARK_COVERAGE_SUITES:-ptmark upstream}
rc=0

# timed NAME CMD...: run CMD, noting its time in times.txt.
timed() {
	local name=$1 t0=$SECONDS r=0
	shift
	"$@" || r=$?
	printf '%-20s %5ds%s\n' "$name" $((SECONDS - t0)) \
		"$([ "$r" = 0 ] || echo " (exit $r)")" >> "$OUT"/times.txt
	return $r
}

step "dependencies (and lcov)"
"$PTMARK_ROOT"/scripts/deps.sh lcov
# gcov must be the one of the compiler that built the kernel.
gccver=$(gcc -dumpversion | cut -d. -f1)
GCOV=$(command -v "gcov-$gccver" || command -v gcov) ||
	die "coverage: no gcov for gcc $gccver"

step "dev kernel with gcov"
export PTMARK_COVERAGE=1
timed kernel "$PTMARK_ROOT"/scripts/dev-kernel.sh > "$OUT"/kdir ||
	die "coverage: the gcov dev kernel did not build"
KDIR=$(cat "$OUT"/kdir)
SRC=$(readlink -f "$KDIR"/source)

# capture NAME: the guest's counters of suite NAME as lcov data.  The
# guest wrote each .gcda under the build directory's own path; geninfo
# wants the .gcno beside it.
capture() {
	local name=$1 data=$OUT/data/$1 tree
	tree=$data$KDIR
	[ -d "$tree" ] || { echo "coverage: no gcov data from the $name run" >&2; return 1; }
	(cd "$KDIR" && find . -name '*.gcno' -print0) |
		(cd "$KDIR" && cpio -0 -pdm --quiet "$tree")
	lcov --quiet --capture --directory "$tree" --base-directory "$KDIR" \
		--gcov-tool "$GCOV" --rc lcov_branch_coverage=1 \
		--ignore-errors gcov,source,graph \
		--test-name "$name" --output-file "$OUT/$name.info" \
		> "$OUT/logs/lcov-$name.log" 2>&1 || {
		tail -n 5 "$OUT/logs/lcov-$name.log" >&2
		return 1
	}
}

for suite in $SUITES; do
	case $suite in
	ptmark)
		step "coverage: ptmark's suite"
		"$PTMARK_ROOT"/scripts/build-module.sh "$KDIR" "$OUT"/ko ||
			die "coverage: ptmark.ko does not build"
		build_selftests "$KDIR" "$OUT"/selftests-build "$OUT"/tests ||
			die "coverage: the selftests do not build"
		build_reproducers "$KDIR" "$OUT"/reproducers-build "$OUT"/tests ||
			die "coverage: the reproducers do not build"
		PTMARK_VM_TIMEOUT=${PTMARK_VM_TIMEOUT:-3600} \
		timed vm-ptmark "$PTMARK_ROOT"/scripts/vm.sh --kdir "$KDIR" \
			--ko "$OUT"/ko/ptmark.ko --tests "$OUT"/tests \
			--name coverage-ptmark --mode kselftest \
			--only "${PTMARK_TESTS:-}" --gcov "$OUT"/data/ptmark \
			--log "$OUT"/logs/vm-ptmark.log > "$OUT"/logs/ptmark.out ||
			{ echo "coverage: the ptmark run failed (see $OUT/logs/vm-ptmark.log)" >&2; rc=1; }
		;;
	upstream)
		step "coverage: the kernel's mm selftests"
		# gcov slows the guest: each program gets twice check-upstream's
		# default 600 s.
		PTMARK_VM_GCOV=$OUT/data/upstream \
		PTMARK_TEST_TIMEOUT=${PTMARK_TEST_TIMEOUT:-1200} \
		timed vm-upstream "$PTMARK_ROOT"/scripts/check-upstream.sh \
			> "$OUT"/logs/upstream.out 2>&1 ||
			echo "coverage: make check-upstream reported failures (see $OUT/logs/upstream.out)" >&2
		cp "$PTMARK_ROOT"/build/logs/upstream-mm/vm.log "$OUT"/logs/vm-upstream.log 2>/dev/null || true
		tail -n 1 "$OUT"/logs/upstream.out >&2
		;;
	*) die "coverage: unknown suite $suite (ptmark, upstream)" ;;
	esac
	timed "lcov-$suite" capture "$suite" || rc=1
done

step "coverage: reports"
infos=() labels=()
for suite in $SUITES; do
	[ -s "$OUT/$suite.info" ] || continue
	infos+=(--add-tracefile "$OUT/$suite.info")
	labels+=("$suite=$OUT/$suite.info")
done
[ "${#labels[@]}" -gt 0 ] || die "coverage: no suite brought data back"
lcov --quiet --rc lcov_branch_coverage=1 "${infos[@]}" \
	--output-file "$OUT"/union.info
html() {
	local name
	for name in "${labels[@]%%=*}" union; do
		genhtml --quiet --branch-coverage --legend \
			--title "$name on $(basename "$KDIR")" \
			--output-directory "$OUT/$name" "$OUT/$name.info" \
			> "$OUT/logs/genhtml-$name.log" 2>&1 || return 1
	done
}
timed genhtml html || { echo "coverage: genhtml failed (see $OUT/logs/)" >&2; rc=1; }
{
	echo "kernel: $(basename "$KDIR") (source $(basename "$SRC"))"
	echo
	"$PTMARK_ROOT"/scripts/coverage-table.py --src "$SRC" --unreached \
		--functions "$PTMARK_ROOT"/configs/coverage-functions.txt "${labels[@]}"
} > "$OUT"/table.txt || rc=1
awk 'NR > 2 && !NF { exit } { print }' "$OUT"/table.txt
printf '%-20s %5ds\n' total $((SECONDS - t_start)) >> "$OUT"/times.txt
step "coverage: done in $((SECONDS - t_start))s: build/coverage/table.txt and the HTML of $SUITES union"
cat "$OUT"/times.txt >&2
exit $rc

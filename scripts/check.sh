#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: everything, on a machine that may have nothing installed.
#
#   deps -> dev kernel (cached) -> stock kernel -> ptmark.ko for both ->
#   selftests -> native run on this machine's kernel -> VM on the dev
#   kernel -> VM on stock 6.12 -> one line "N passed, N failed, N skipped"
#
# Every test program's TAP totals are summed; each VM run adds one more
# check of its own (booted, finished, rmmod succeeded, no kernel splat).
# Logs: build/logs/.  Exit status non-zero on any failure.
#
# Environment: PTMARK_STOCK_SERIES (default "6.12"; "" skips stock runs),
# PTMARK_TESTS (run only these programs).

set -uo pipefail
. "$(dirname "$0")"/lib.sh

LOGS=$PTMARK_ROOT/build/logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
t_start=$SECONDS
passed=0 failed=0 skipped=0

add_counts() {
	local p f s
	read -r p f s < <("$PTMARK_ROOT"/scripts/tap-count.sh "$@")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# check NAME CMD...: one harness-level check, counted like a test.
check() {
	local name=$1
	shift
	if "$@"; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		echo "not ok - $name"
		failed=$((failed + 1))
	fi
}

finish() {
	step "make check done in $((SECONDS - t_start))s"
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
	exit $?
}

# A step everything after it needs failed: count it and stop here.
fatal() {
	echo "not ok - $*"
	failed=$((failed + 1))
	finish
}

step "dependencies"
"$PTMARK_ROOT"/scripts/deps.sh || fatal "installing dependencies"

step "dev kernel"
KDEV=$("$PTMARK_ROOT"/scripts/dev-kernel.sh) || fatal "dev kernel build"

STOCK=()
for series in ${PTMARK_STOCK_SERIES-6.12}; do
	step "stock kernel $series"
	rel=$("$PTMARK_ROOT"/scripts/stock-kernel.sh "$series") ||
		fatal "stock kernel $series install"
	STOCK+=("$rel")
done

step "ptmark.ko for $(basename "$KDEV")"
check "module builds for the dev kernel" \
	"$PTMARK_ROOT"/scripts/build-module.sh "$KDEV" "$LOGS"/ko-dev
for rel in "${STOCK[@]}"; do
	step "ptmark.ko for $rel"
	check "module builds for $rel" \
		"$PTMARK_ROOT"/scripts/build-module.sh "/lib/modules/$rel/build" \
		"$LOGS/ko-$rel"
done

step "selftests"
TESTS=$LOGS/tests NATIVE=$LOGS/tests-native
build_selftests "$KDEV" "$PTMARK_CACHE/selftests-build" "$TESTS" ||
	fatal "selftests build"
build_selftests "$KDEV" "$PTMARK_CACHE/selftests-build" "$NATIVE" \
	install-native || fatal "selftests build"

step "native run on $(uname -r)"
"$NATIVE"/run_tests.sh "$NATIVE" 2>&1 | tee "$LOGS"/native.log
add_counts "$LOGS"/native.log

step "VM: dev kernel"
check "VM on $(basename "$KDEV") ran clean" \
	"$PTMARK_ROOT"/scripts/vm.sh --kdir "$KDEV" --ko "$LOGS"/ko-dev/ptmark.ko \
	--tests "$TESTS" --name dev --log "$LOGS"/vm-dev.log \
	--only "${PTMARK_TESTS:-}"
add_counts "$LOGS"/vm-dev.log

for rel in "${STOCK[@]}"; do
	step "VM: stock $rel"
	check "VM on $rel ran clean" \
		"$PTMARK_ROOT"/scripts/vm.sh --release "$rel" \
		--ko "$LOGS/ko-$rel/ptmark.ko" --tests "$TESTS" \
		--name "$rel" --log "$LOGS/vm-$rel.log" --only "${PTMARK_TESTS:-}"
	add_counts "$LOGS/vm-$rel.log"
done

finish

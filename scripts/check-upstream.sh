#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-upstream`: the kernel's own mm selftests that meet what
# ptmark exercises - guard-regions, uffd-unit-tests, cow, gup_longterm,
# pagemap_ioctl, pfnmap and migration - built from the dev kernel's own
# source tree (PTMARK_KERNEL_PATCHES applies here too), with the cases a
# series adds to them (PTMARK_UPSTREAM_TESTS, below), and run in the
# same VM as make check, with ptmark.ko loaded, but with four vCPUs
# (migration wants a thread per node beside its main one).  Prints each program's
# pass/fail/skip counts and a summary line; exits non-zero on any
# failure, or if the VM run fails.  Logs: build/logs/upstream-mm/.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

PROGS=(guard-regions uffd-unit-tests cow gup_longterm pagemap_ioctl pfnmap migration)

"$PTMARK_ROOT"/scripts/deps.sh
kdev=$("$PTMARK_ROOT"/scripts/dev-kernel.sh)
src=$(readlink -f "$kdev/source")
mm=$src/tools/testing/selftests/mm
work=$PTMARK_ROOT/build/logs/upstream-mm
rm -rf "$work"
mkdir -p "$work"/tests/mm "$work"/inc

# Cases a series adds to these selftests: PTMARK_UPSTREAM_TESTS=DIR (a
# series file, or *.patch), by default the selftests/ of
# PTMARK_KERNEL_PATCHES.  They apply to a copy of the selftests, so the
# same cases run on a kernel without the fixes too.
tests=${PTMARK_UPSTREAM_TESTS:-}
if [ -z "$tests" ] && [ -n "${PTMARK_KERNEL_PATCHES:-}" ] &&
   [ -d "$PTMARK_KERNEL_PATCHES/selftests" ]; then
	tests=$PTMARK_KERNEL_PATCHES/selftests
fi
if [ -n "$tests" ]; then
	copy=$work/src
	mkdir -p "$copy"/tools/testing "$copy"/mm
	cp -a "$src"/tools/testing/selftests "$copy"/tools/testing/
	cp -a "$src"/mm/gup_test.h "$copy"/mm/
	if [ -f "$tests/series" ]; then
		list=$(sed -e 's/#.*//' "$tests/series" | awk 'NF { print $1 }')
	else
		list=$(cd "$tests" && ls ./*.patch)
	fi
	for p in $list; do
		step "applying $(basename "$p") to the selftests"
		patch -d "$copy" -p1 --batch --forward --no-backup-if-mismatch \
			-r - < "$tests/$p" > "$work/patch.log" 2>&1 ||
			die "$tests/$p does not apply to the selftests of" \
			    "$(basename "$src") (log: $work/patch.log)"
	done
	mm=$copy/tools/testing/selftests/mm
fi

step "ptmark.ko and the mm selftests from $(basename "$src")"
"$PTMARK_ROOT"/scripts/build-module.sh "$kdev" "$work"/ko
# What the selftests' check_config.sh would find: liburing is installed.
echo '#define LOCAL_CONFIG_HAVE_LIBURING 1' > "$work"/inc/local_config.h_gen
for p in "${PROGS[@]}"; do
	extra=() libs=()
	case $p in
	uffd-unit-tests) extra=(uffd-common.c) ;;
	cow | gup_longterm) libs=(-luring) ;;
	migration) libs=(-lnuma) ;;
	esac
	# Static: the initramfs then needs no libraries for them.
	(cd "$mm" && gcc -static -O2 -Wall -D_GNU_SOURCE= -U_FORTIFY_SOURCE \
		-I"$work"/inc -I"$src" -isystem "$kdev"/usr/include \
		-isystem "$src"/tools/include/uapi \
		-I"$(dirname "$mm")" \
		"$p".c vm_util.c hugepage_settings.c "${extra[@]}" \
		-lrt -lpthread -lm "${libs[@]}" -o "$work/tests/mm/$p") \
		> "$work/build-$p.log" 2>&1 ||
		die "building the mm selftest $p failed (log: $work/build-$p.log)"
	echo "mm:$p"
done > "$work"/tests/kselftest-list.txt
mkdir -p "$work"/tests/ptmark
cp "$PTMARK_ROOT"/selftests/run_tests.sh "$work"/tests/ptmark/

vm_ok=1
"$PTMARK_ROOT"/scripts/vm.sh --kdir "$kdev" --ko "$work"/ko/ptmark.ko \
	--tests "$work"/tests --name upstream-mm --timeout 3600 --cpus 4 \
	--log "$work"/vm.log > "$work"/out.log || vm_ok=0

# Their skips are theirs: count them, without ptmark's expected lists.
rc=0
awk -v want="${PROGS[*]}" '
/^ptmark-run: begin / { prog = $3; seen[prog] = 1; got = 0 }
# A program that skips as a whole says so in its plan.
/^1\.\.0 # SKIP/ && prog != "" {
	reason = $0
	sub(/^1\.\.0 # SKIP */, "", reason)
	printf "%-16s skipped as a whole: %s\n", prog, reason
	ts++; got = 1
}
/^# Totals: / && prog != "" {
	for (i = 3; i <= NF; i++) { split($i, kv, ":"); c[kv[1]] = kv[2] }
	p = c["pass"] + c["xpass"]; f = c["fail"] + c["error"]
	s = c["skip"] + c["xfail"]
	printf "%-16s %5d passed %5d failed %5d skipped\n", prog, p, f, s
	tp += p; tf += f; ts += s; got = 1
}
/^ptmark-run: end / {
	if (!got) { printf "%-16s did not finish (%s)\n", prog, $4; tf++ }
	prog = ""
}
END {
	n = split(want, w, " ")
	for (i = 1; i <= n; i++)
		if (!(w[i] in seen)) { printf "%-16s never started\n", w[i]; tf++ }
	printf "upstream mm selftests: %d passed, %d failed, %d skipped\n", tp, tf, ts
	exit tf > 0
}' "$work"/out.log || rc=1
[ "$vm_ok" = 1 ] || { echo "upstream mm selftests: the VM run failed (see $work/vm.log)"; rc=1; }
exit $rc

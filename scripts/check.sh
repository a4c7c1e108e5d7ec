#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: everything, on a machine that may have nothing installed.
#
#   deps -> dev kernel (cached) -> stock kernels (downloaded and
#   unpacked into the cache, never installed) -> ptmark.ko for each,
#   and through DKMS for the stock ones -> selftests and kernel-bug
#   reproducers (one kselftest install) -> the harness's own tests ->
#   native run on this machine's kernel -> VM on the dev kernel, the suite
#   run by the kernel's run_kselftest.sh as a test farm runs it -> the dev
#   kernel again with debugfs=off (load, access, netlink) -> make shell ->
#   VM on stock 6.12 and 6.1, each loading its DKMS-built module -> one
#   line "N passed, N failed, N skipped".  Beside the VMs, a second lane:
#   the arm64 dev kernel (cached), the module, suite and reproducers
#   cross-built for it, and its VM (log: build/logs/arm64.log).
#
# Every log is judged by scripts/verdict.sh against what is expected of
# that kernel: selftests/expected/<kernel>.skip (the skip rules, each of
# which must be used) and selftests/expected/<kernel>.bugs (the known
# kernel bugs it has: any other one caught is a regression, one it has
# that does not show is a failure too).  With PTMARK_KERNEL_PATCHES, the
# IDs the series says it fixes ("# fixes: ID" in its series file) must
# show fixed on the dev kernels (each the IDs its .bugs expects).  Each
# VM run adds one more check of its own (finished, rmmod succeeded, the
# machine complete, no kernel splat), and the harness's own tests
# (verdicts, mirror detection) run first.
# The last check: /boot and /lib/modules are exactly as they were before
# (apt-get installs build dependencies, nothing else changes the machine).
# The line before the summary names the known kernel bugs caught.  Logs:
# build/logs/.  Exit status non-zero on any failure.
#
# Environment: PTMARK_ARM64=0 leaves out the arm64 dev kernel and its VM
# run (on by default; PTMARK_ARM64_TIMEOUT, default 3600 s, bounds that
# run); PTMARK_STOCK_SERIES (default "6.12 6.1", bookworm's two
# kernels; "6.12" alone saves the 6.1 run; "" skips stock runs), PTMARK_TESTS (run only these programs);
# PTMARK_KASAN=1 and PTMARK_KMEMLEAK=1 reach dev-kernel.sh and so pick the
# debug dev kernel, which under TCG wants PTMARK_VM_TIMEOUT (vm.sh) and
# PTMARK_TEST_TIMEOUT (each program's limit in the guest) raised, e.g. to
# 3600 and 1800.

set -uo pipefail
. "$(dirname "$0")"/lib.sh

LOGS=$PTMARK_ROOT/build/logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
t_start=$SECONDS
passed=0 failed=0 skipped=0 bugs=()
RUNS=() run_p=0 run_f=0 run_s=0

# boot_state: what is under /boot and /lib/modules (names, sizes, times
# and link targets), which make check must leave as it found them.
boot_state() {
	find /boot /lib/modules -printf '%p %s %T@ %l\n' 2>/dev/null | sort
}
boot_state > "$LOGS"/boot-before.txt

# krel KDIR: the release of the kernel built in KDIR.
krel() {
	cat "$1"/include/config/kernel.release 2>/dev/null
}

# stock_kdir REL: the headers of the stock kernel REL, as unpacked.
stock_kdir() {
	local root
	root=$(stock_root "$1")
	echo "${root%/}/lib/modules/$1/build"
}

# fixed_ids DIR KERNEL: the kernel-bug IDs a patch series says it fixes,
# from "# fixes: ID [ID...]" after a patch's name in DIR/series, that
# selftests/expected/KERNEL.bugs expects of KERNEL (a bug only one
# architecture shows is not looked for on the other).
fixed_ids() {
	local id
	[ -f "$1/series" ] || return 0
	for id in $(sed -n '/^[^#[:space:]]/s/^[^#]*#[[:space:]]*fixes:[[:space:]]*//p' \
		"$1/series"); do
		grep -qxE "~?$id" "$PTMARK_ROOT/selftests/expected/$2.bugs" &&
			echo "$id"
	done | xargs
}

# run_row LABEL PASSED FAILED SKIPPED: a row of the per-run table.
run_row() {
	printf '%-34s %6s %6s %6s' "$@"
}

# judge KERNEL LIST LOG LABEL: add LOG's verdict to the totals, with the
# skip rules and known bugs of KERNEL ("-": nothing may skip, no bug is
# known) and the programs of the kselftest list LIST (those PTMARK_TESTS
# names, if set); LABEL names the run in the per-run table.  FIXED, when
# set, names the bugs a patch series fixes.
judge() {
	local kernel=$1 list=$2 log=$3 label=$4 skips=/dev/null known=/dev/null
	local progs out kind a b c opts=()
	if [ "$kernel" != - ]; then
		skips=$PTMARK_ROOT/selftests/expected/$kernel.skip
		known=$PTMARK_ROOT/selftests/expected/$kernel.bugs
	fi
	progs=$(sed 's/^ptmark://' "$list" | xargs)
	if [ -n "${PTMARK_TESTS:-}" ]; then
		progs=$(for p in $progs; do
			case " $PTMARK_TESTS " in *" $p "*) echo "$p" ;; esac
		done | xargs)
	else
		opts+=(--complete)
	fi
	out=$("$PTMARK_ROOT"/scripts/verdict.sh --kernel "$kernel" \
		--skips "$skips" --known "$known" --fixed "${FIXED:-}" "${opts[@]}" \
		--bugs "$PTMARK_ROOT"/Documentation/kernel-bugs.rst \
		--programs "$progs" "$log")
	if ! grep -q '^counts ' <<< "$out"; then
		echo "not ok - verdict on $log"
		failed=$((failed + 1))
		RUNS+=("$(run_row "$label" - 1 -)")
		return
	fi
	while read -r kind a b c; do
		case $kind in
		counts)	passed=$((passed + a)) failed=$((failed + b))
			skipped=$((skipped + c))
			RUNS+=("$(run_row "$label" "$a" "$b" "$c")")
			run_p=$((run_p + a)) run_f=$((run_f + b)) run_s=$((run_s + c)) ;;
		bug)	bugs+=("$a") ;;
		esac
	done <<< "$out"
}

# farm_reads_it LIST LOG: a test farm's reading of the run_kselftest.sh
# log LOG (scripts/kselftest-counts.sh, as LKFT and KernelCI parse it)
# finds every program of LIST (or of PTMARK_TESTS) passed or skipped.
farm_reads_it() {
	local list=$1 log=$2 theirs p bad=0
	theirs=$("$PTMARK_ROOT"/scripts/kselftest-counts.sh "$log")
	for p in ${PTMARK_TESTS:-$(sed 's/^ptmark://' "$list" | xargs)}; do
		grep -Eq "^program $p (pass|skip)$" <<< "$theirs" || {
			echo "ptmark: run_kselftest.sh: $p:" \
			     "$(grep "^program $p " <<< "$theirs" || echo "no result")" >&2
			bad=1
		}
	done
	echo "ptmark: run_kselftest.sh as a farm reads it: $(grep '^counts ' <<< "$theirs")" >&2
	[ "$bad" = 0 ]
}

# config_met FRAGMENT CONFIG: every option FRAGMENT sets is set so in the
# kernel .config CONFIG.
config_met() {
	local opt missing=0
	while read -r opt; do
		grep -qx "$opt" "$2" || { echo "ptmark: $2 lacks $opt" >&2; missing=1; }
	done < <(grep -E '^CONFIG_[A-Z0-9_]+=' "$1")
	[ "$missing" = 0 ]
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

# unchanged_boot: /boot and /lib/modules are as they were at the start.
unchanged_boot() {
	boot_state > "$LOGS"/boot-after.txt
	diff "$LOGS"/boot-before.txt "$LOGS"/boot-after.txt >&2
}

finish() {
	local ids
	[ -n "${arm_pid:-}" ] && arm64_lane_done
	check "/boot and /lib/modules unchanged" unchanged_boot
	step "make check done in $((SECONDS - t_start))s"
	echo "per run                              passed failed skipped (XFAILs count as skipped)"
	for r in "${RUNS[@]}"; do echo "  $r"; done
	echo "  $(run_row "harness checks (builds, VMs, /boot)" \
		$((passed - run_p)) $((failed - run_f)) $((skipped - run_s)))"
	ids=$(printf '%s\n' "${bugs[@]}" | awk 'NF && !seen[$0]++' | xargs)
	echo "$(echo $ids | wc -w) known kernel bugs caught: ${ids:-none}"
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
declare -A SERIES
for series in ${PTMARK_STOCK_SERIES-6.12 6.1}; do
	step "stock kernel $series"
	rel=$("$PTMARK_ROOT"/scripts/stock-kernel.sh "$series") ||
		fatal "stock kernel $series download"
	STOCK+=("$rel")
	SERIES[$rel]=$series
done

check "the dev kernel has every option selftests/config names" \
	config_met "$PTMARK_ROOT"/selftests/config "$KDEV"/.config

step "ptmark.ko for $(basename "$KDEV")"
check "module builds for the dev kernel" \
	"$PTMARK_ROOT"/scripts/build-module.sh "$KDEV" "$LOGS"/ko-dev
for rel in "${STOCK[@]}"; do
	step "ptmark.ko for $rel"
	check "module builds for $rel" \
		"$PTMARK_ROOT"/scripts/build-module.sh "$(stock_kdir "$rel")" \
		"$LOGS/ko-$rel"
done

# DKMS, as a user installs ptmark on a distribution kernel; the stock
# VM runs then load the module DKMS installed, by its path.
declare -A KO
for rel in "${STOCK[@]}"; do
	step "ptmark.ko for $rel through DKMS"
	KO[$rel]=$LOGS/ko-$rel/ptmark.ko
	if ko=$("$PTMARK_ROOT"/scripts/dkms.sh "$rel" "$LOGS/dkms-$rel"); then
		echo "ok - DKMS add, build and install for $rel"
		passed=$((passed + 1))
		KO[$rel]=$ko
	else
		echo "not ok - DKMS add, build and install for $rel"
		failed=$((failed + 1))
	fi
done

# make install as a user runs it for a distribution kernel, staged under
# a root of its own: the module where modprobe finds it, the collection
# where run_kselftest.sh runs it.
install_staged() {
	local rel=$1 src=$LOGS/install-src root=$LOGS/install-root
	rm -rf "$src" "$root"
	mkdir -p "$src"
	rsync -a --exclude build --exclude '*.o' --exclude '*.ko' \
		"$PTMARK_ROOT"/{Makefile,Kbuild,COPYING,module,include,selftests,reproducers,ptmarkctl,Documentation} "$src"/
	make -s -C "$src" install KDIR="$(stock_kdir "$rel")" \
		INSTALL_MOD_PATH="$root" DESTDIR="$root" > "$LOGS"/install.log 2>&1 || {
		tail -n 20 "$LOGS"/install.log >&2
		return 1
	}
	modprobe -d "$root" -S "$rel" --show-depends ptmark | grep -q '/extra/ptmark\.ko' &&
	grep -qx 'ptmark:load' "$root"/usr/local/lib/ptmark/kselftest/kselftest-list.txt &&
	[ -x "$root"/usr/local/lib/ptmark/kselftest/run_kselftest.sh ] &&
	[ -x "$root"/usr/local/lib/ptmark/kselftest/ptmark/load ] &&
	[ -s "$root"/usr/local/share/man/man8/ptmarkctl.8 ] &&
	[ -s "$root"/usr/local/share/bash-completion/completions/ptmarkctl ]
}
if [ "${#STOCK[@]}" -gt 0 ]; then
	step "make install for ${STOCK[0]}"
	check "make install puts ptmark.ko, the collection and ptmarkctl(8) in place" \
		install_staged "${STOCK[0]}"
fi

step "selftests"
TESTS=$LOGS/tests NATIVE=$LOGS/tests-native
build_selftests "$KDEV" "$PTMARK_ROOT/build/selftests-build" "$TESTS" ||
	fatal "selftests build"
build_selftests "$KDEV" "$PTMARK_ROOT/build/selftests-build" "$NATIVE" \
	install-native || fatal "selftests build"
for dest in "$TESTS" "$NATIVE"; do
	build_reproducers "$KDEV" "$PTMARK_ROOT/build/reproducers-build" "$dest" ||
		fatal "reproducers build"
done

step "the harness's own tests (verdicts, mirror, YNL spec, coverage table)"
for t in test-verdict test-mirror test-ynl test-coverage; do
	echo "ptmark-run: begin $t"
	PTMARK_KDEV=$KDEV "$PTMARK_ROOT/scripts/$t.sh"
	echo "ptmark-run: end $t rc=$?"
done > "$LOGS"/self.log 2>&1
grep -E '^(not ok|# Totals)' "$LOGS"/self.log
printf 'ptmark:%s\n' test-verdict test-mirror test-ynl test-coverage > "$LOGS"/self.list
judge - "$LOGS"/self.list "$LOGS"/self.log "the harness's own tests"

# The native run's expectations were written for the kernel these
# machines run (the first line of native.bugs says which).
step "native run on $(uname -r)"
native_for=$(sed -n 's/^# kernel: //p' "$PTMARK_ROOT"/selftests/expected/native.bugs)
case $(uname -r) in
"$native_for".*) ;;
*) echo "ptmark: native expectations are for $native_for, this kernel is $(uname -r): results may differ" >&2 ;;
esac
"$NATIVE"/ptmark/run_tests.sh "$NATIVE" 2>&1 | tee "$LOGS"/native.log
judge native "$NATIVE"/kselftest-list.txt "$LOGS"/native.log "native $(uname -r)"

# arm64 (unless PTMARK_ARM64=0): the arm64 dev kernel, cross-built from
# the same source, the module and the suite cross-built for it, and the
# suite once in QEMU's arm64 virt machine under TCG, judged by dev-arm64's
# rules.  It runs as a second lane beside the x86-64 VMs: a TCG guest
# running one test at a time leaves a host core idle, so the two lanes
# take little more than the longer of them.  Its builds (the kernel, when
# not cached) run at nice 10, taking what the VMs leave rather than
# slowing the x86-64 guests' timed cases; its VM runs at the VMs'
# priority.  The lane records each check's status in ARM_RESULTS
# ("RC<tab>NAME"); the main shell counts them, and judges the lane's VM
# log, once the lane is done.
ARM_RESULTS=$LOGS/arm64.results
arm_check() {
	local name=$1 rc=0
	shift
	"$@" || rc=$?
	printf '%s\t%s\n' "$rc" "$name" >> "$ARM_RESULTS"
	return "$rc"
}

arm64_lane() {
	local karm
	step "arm64 dev kernel"
	karm=$(PTMARK_ARCH=arm64 "$PTMARK_ROOT"/scripts/deps.sh &&
	       PTMARK_ARCH=arm64 nice -n 10 "$PTMARK_ROOT"/scripts/dev-kernel.sh) || {
		arm_check "arm64 dev kernel build" false
		return
	}
	echo "$karm" > "$LOGS"/arm64.kdir
	arm_check "the arm64 dev kernel has every option selftests/config names that arm64 has" \
		config_met <(grep -vE "^($(arm64_drops))=" "$PTMARK_ROOT"/selftests/config) \
		"$karm"/.config
	arm_check "module builds for the arm64 dev kernel" \
		nice -n 10 "$PTMARK_ROOT"/scripts/build-module.sh "$karm" "$LOGS"/ko-arm64
	arm_check "selftests build for arm64" eval \
		'(renice -n 10 $BASHPID > /dev/null &&
		  build_selftests "$karm" "$PTMARK_ROOT/build/selftests-build-arm64" "$LOGS/tests-arm64" &&
		  build_reproducers "$karm" "$PTMARK_ROOT/build/reproducers-build-arm64" "$LOGS/tests-arm64")' ||
		return
	step "VM: arm64 dev kernel"
	: > "$LOGS"/arm64.judge
	arm_check "VM on $(basename "$karm") ran clean" \
		"$PTMARK_ROOT"/scripts/vm.sh --kdir "$karm" \
		--ko "$LOGS"/ko-arm64/ptmark.ko --tests "$LOGS"/tests-arm64 \
		--name dev-arm64 --mode kselftest \
		--timeout "${PTMARK_ARM64_TIMEOUT:-3600}" \
		--log "$LOGS"/vm-dev-arm64.log --only "${PTMARK_TESTS:-}"
}

# arm64_lane_done: wait for the lane, show its log, count its checks and
# judge its VM run.
arm64_lane_done() {
	local rc name
	wait "$arm_pid"
	arm_pid=
	step "arm64 lane finished (build/logs/arm64.log)"
	cat "$LOGS"/arm64.log >&2
	[ -s "$ARM_RESULTS" ] || arm_check "arm64 lane ran" false
	while IFS=$'\t' read -r rc name; do
		check "$name" [ "$rc" = 0 ]
	done < "$ARM_RESULTS"
	[ -e "$LOGS"/arm64.judge ] || return 0
	# The arm64 kernel is built with the same series.
	FIXED=
	[ -n "${PTMARK_KERNEL_PATCHES:-}" ] &&
		FIXED=$(fixed_ids "$PTMARK_KERNEL_PATCHES" dev-arm64)
	judge dev-arm64 "$LOGS"/tests-arm64/kselftest-list.txt \
		"$LOGS"/vm-dev-arm64.log "dev arm64 $(krel "$(cat "$LOGS"/arm64.kdir)")"
	FIXED=
}

# stop_lane: an interrupted make check takes the lane's processes along.
stop_lane() {
	local pids=$arm_pid all=
	while [ -n "$pids" ]; do
		all+=" $pids"
		pids=$(for p in $pids; do pgrep -P "$p"; done | xargs)
	done
	kill $all 2>/dev/null
}

arm_pid=
if [ "${PTMARK_ARM64:-1}" != 0 ]; then
	step "arm64 lane started beside the x86-64 VMs (build/logs/arm64.log)"
	: > "$ARM_RESULTS"
	arm64_lane > "$LOGS"/arm64.log 2>&1 &
	arm_pid=$!
	trap 'stop_lane; exit 130' INT TERM
fi

# The dev kernel once, with the kernel's own runner, as a farm runs it.
step "VM: dev kernel"
FIXED=
[ -n "${PTMARK_KERNEL_PATCHES:-}" ] && FIXED=$(fixed_ids "$PTMARK_KERNEL_PATCHES" dev)
[ -n "$FIXED" ] && echo "ptmark: the patch series fixes: $FIXED" >&2
check "VM on $(basename "$KDEV") ran clean" \
	"$PTMARK_ROOT"/scripts/vm.sh --kdir "$KDEV" --ko "$LOGS"/ko-dev/ptmark.ko \
	--tests "$TESTS" --name dev --mode kselftest --log "$LOGS"/vm-dev.log \
	--only "${PTMARK_TESTS:-}"
judge dev "$TESTS"/kselftest-list.txt "$LOGS"/vm-dev.log "dev x86-64 $(krel "$KDEV")"
FIXED=
check "a test farm reads every program of the dev run as passed or skipped" \
	farm_reads_it "$TESTS"/kselftest-list.txt "$LOGS"/vm-dev.log

# The dev kernel booted with debugfs=off: the module must load, and its
# ioctls and netlink family work, with no debugfs to make files in.
nodebugfs=load
for p in access netlink; do
	case " ${PTMARK_TESTS:-$p} " in *" $p "*) nodebugfs+=" $p" ;; esac
done
if [ "$nodebugfs" != load ]; then
	step "VM: dev kernel, debugfs=off"
	check "VM on $(basename "$KDEV") with debugfs=off ran clean" \
		"$PTMARK_ROOT"/scripts/vm.sh --kdir "$KDEV" \
		--ko "$LOGS"/ko-dev/ptmark.ko --tests "$TESTS" \
		--name dev-nodebugfs --debugfs off \
		--log "$LOGS"/vm-dev-nodebugfs.log --only "$nodebugfs"
	PTMARK_TESTS=$nodebugfs judge dev "$TESTS"/kselftest-list.txt \
		"$LOGS"/vm-dev-nodebugfs.log "dev x86-64, debugfs=off"
fi

step "make shell, as a user drives it"
check "make shell: prompt, ptmarkctl maps of the demo, exit" \
	"$PTMARK_ROOT"/scripts/test-shell.sh "$LOGS"/vm-shell.log --kdir "$KDEV" \
	--ko "$LOGS"/ko-dev/ptmark.ko --tests "$TESTS"

for rel in "${STOCK[@]}"; do
	step "VM: stock $rel"
	check "VM on $rel ran clean" \
		"$PTMARK_ROOT"/scripts/vm.sh --release "$rel" \
		--ko "${KO[$rel]}" --tests "$TESTS" \
		--name "$rel" --mode kselftest --log "$LOGS/vm-$rel.log" \
		--only "${PTMARK_TESTS:-}"
	judge "${SERIES[$rel]}" "$TESTS"/kselftest-list.txt "$LOGS/vm-$rel.log" \
		"stock $rel"
done

finish

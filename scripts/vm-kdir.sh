#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm-kdir.sh KDIR: `make vm KDIR=...`, the suite on a kernel you built
# yourself (an x86-64 build tree whose bzImage has virtio-pci, virtio-blk,
# ext4, devtmpfs, debugfs and a serial console built in), in QEMU.
#
# vm-kdir.sh --ksrc SRC [--out DIR]: `make vm KSRC=... [O=...]`, the same
# for a source tree, built in DIR (default: SRC itself if it has a
# .config, else build/kernel/ of this checkout) when DIR has no bzImage
# yet: a DIR without a .config gets allnoconfig with
# configs/dev-kernel.config, one with a .config gets that fragment merged
# into it (scripts/kconfig/merge_config.sh); then bzImage, modules_prepare
# and headers are built with all CPUs.
# Everything comes from that tree and this checkout; nothing is
# downloaded and the dev kernel is not needed:
#
#  - ptmark.ko is built against KDIR;
#  - the selftests use KDIR's source (KDIR itself, or the tree its
#    "source" link names, for an O= build) for kselftest_harness.h and
#    run_kselftest.sh, and KDIR/usr/include for the uapi headers, made
#    with `make headers` in KDIR when missing;
#  - PTMARK_TESTS="prog1 prog2" runs and judges only those programs.
#
# The run is judged like make check's dev run, against skip rules and
# known bugs of this kernel: PTMARK_EXPECTED=FILE and PTMARK_KNOWN_BUGS=
# FILE when given, else a baseline kept per kernel release in
# $PTMARK_CACHE/expected/<release>.{skip,bugs}.  The first run of a
# program on a release writes its skips (with their reasons) and the
# kernel-bug IDs it caught there, and says so; later runs are judged
# against them, so a skip or a bug that comes or goes is a failure.
# Delete the files to start again.  Exits non-zero on any failure.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

# build_tree SRC OUT: configure (if need be) and build SRC in OUT.
build_tree() {
	local src=$1 out=$2 frag=$PTMARK_ROOT/configs/dev-kernel.config
	local o=()
	[ "$out" != "$src" ] && o=(O="$out")
	mkdir -p "$out"
	if [ ! -f "$out/.config" ]; then
		step "configuring $src in $out: allnoconfig + $frag"
		make -s -C "$src" "${o[@]}" ARCH=x86_64 KCONFIG_ALLCONFIG="$frag" \
			allnoconfig >&2
	else
		step "merging $frag into $out/.config"
		"$src"/scripts/kconfig/merge_config.sh -m -O "$out" \
			"$out/.config" "$frag" >&2
		make -s -C "$src" "${o[@]}" ARCH=x86_64 olddefconfig >&2
	fi
	step "building $src in $out with $(nproc) jobs"
	make -s -C "$src" "${o[@]}" ARCH=x86_64 -j"$(nproc)" bzImage modules >&2
	make -s -C "$src" "${o[@]}" ARCH=x86_64 modules_prepare headers_install >&2
}

if [ "${1:-}" = --ksrc ]; then
	[ $# = 2 ] || { [ $# = 4 ] && [ "$3" = --out ]; } ||
		die "usage: vm-kdir.sh --ksrc SRC [--out DIR]"
	src=$(cd "$2" && pwd) || die "no directory $2"
	[ -f "$src/Kbuild" ] && [ -d "$src/mm" ] || die "$src is not a kernel source tree"
	if [ $# = 4 ]; then
		out=$(realpath -m "$4")
	elif [ -f "$src/.config" ]; then
		out=$src
	else
		out=$PTMARK_ROOT/build/kernel
	fi
	[ -f "$out/arch/x86/boot/bzImage" ] || build_tree "$src" "$out"
	set -- "$out"
fi
[ $# = 1 ] || die "usage: vm-kdir.sh KDIR (make vm KDIR=/path/to/build)"
kdir=$(cd "$1" && pwd) || die "no directory $1"
[ -f "$kdir/arch/x86/boot/bzImage" ] ||
	die "$kdir has no arch/x86/boot/bzImage; fix: make -C $kdir bzImage" \
	    "(a built tree; /lib/modules/*/build of a distribution kernel" \
	    "has headers only)"
ksrc=$kdir
[ -d "$kdir/source" ] && ksrc=$(cd "$kdir/source" && pwd)
[ -f "$ksrc/tools/testing/selftests/kselftest_harness.h" ] ||
	die "$ksrc has no tools/testing/selftests/kselftest_harness.h"
if [ ! -d "$kdir/usr/include/linux" ]; then
	step "make headers in $kdir (the selftests' uapi headers)"
	make -s -C "$kdir" headers >&2 ||
		die "make -C $kdir headers failed"
fi
rel=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' \
	"$kdir/include/generated/utsrelease.h" 2>/dev/null)
[ -n "$rel" ] || die "$kdir has no include/generated/utsrelease.h"

work=$PTMARK_ROOT/build/vm-kdir
rm -rf "$work"
mkdir -p "$work"
step "ptmark.ko and the selftests for $rel"
"$PTMARK_ROOT"/scripts/build-module.sh "$kdir" "$work"/ko
make -s -C "$PTMARK_ROOT"/selftests KSRC="$ksrc" KHDR="$kdir/usr/include" \
	OUTPUT="$work"/selftests-build INSTALL_PATH="$work"/tests install >&2
make -s -C "$PTMARK_ROOT"/reproducers KHDR="$kdir/usr/include" \
	OUTPUT="$work"/reproducers-build INSTALL_PATH="$work"/tests install >&2

progs=$(sed 's/^ptmark://' "$work"/tests/kselftest-list.txt | xargs)
opts=(--complete)
if [ -n "${PTMARK_TESTS:-}" ]; then
	for p in $PTMARK_TESTS; do
		case " $progs " in
		*" $p "*) ;;
		*) die "PTMARK_TESTS: no program $p (there are: $progs)" ;;
		esac
	done
	progs=$(echo $PTMARK_TESTS)
	opts=()
fi

vm_ok=1
"$PTMARK_ROOT"/scripts/vm.sh --kdir "$kdir" --ko "$work"/ko/ptmark.ko \
	--tests "$work"/tests --name "$rel" --mode kselftest \
	--log "$work"/console.log --only "${PTMARK_TESTS:-}" || vm_ok=0

# The baseline: what this release did the first time each program ran.
base=$PTMARK_CACHE/expected/$rel
skips=${PTMARK_EXPECTED:-$base.skip}
known=${PTMARK_KNOWN_BUGS:-$base.bugs}
if [ -z "${PTMARK_EXPECTED:-}${PTMARK_KNOWN_BUGS:-}" ]; then
	mkdir -p "$(dirname "$base")"
	[ -f "$skips" ] || printf '%s\n' "# Skip rules of $rel, written by the" \
		"# first make vm of each program (scripts/vm-kdir.sh)." > "$skips"
	[ -f "$known" ] || printf '%s\n' "# Kernel bugs $rel showed, written by" \
		"# the first make vm of each program." > "$known"
	done_progs=$(sed -n 's/^# programs: //p' "$skips" | xargs)
	new=
	for p in $progs; do
		case " $done_progs " in *" $p "*) ;; *) new="$new $p" ;; esac
	done
	if [ -n "$new" ]; then
		# Only what the run showed: a program's whole skip, a case's
		# skip, a known bug's XFAIL.
		# A bug that is a race (~ID in any kernel's list) may not
		# show in every run.
		races=$(sed -n 's/^~\([a-z0-9-]*\).*/\1/p' \
			"$PTMARK_ROOT"/selftests/expected/*.bugs | sort -u | xargs)
		"$PTMARK_ROOT"/scripts/tap-frames.sh "$work"/console.log |
		awk -v want="$new" -v skips="$skips" -v known="$known" -v races="$races" '
		BEGIN {
			n = split(want, a, " "); for (i = 1; i <= n; i++) w[a[i]] = 1
			n = split(races, a, " "); for (i = 1; i <= n; i++) race[a[i]] = 1
		}
		/^ptmark-run: begin / { prog = ($3 in w) ? $3 : ""; next }
		/^ptmark-run: end / { prog = ""; next }
		prog == "" { next }
		/^1\.\.0 # SKIP / { print prog " # " substr($0, 13) >> skips; next }
		/^ok [0-9]+ .* # SKIP / {
			name = $0; sub(/^ok [0-9]+ /, "", name)
			i = index(name, " # SKIP ")
			print prog ":" substr(name, 1, i - 1) " # " substr(name, i + 8) >> skips
		}
		/^ok [0-9]+ .* # XFAIL kernel-bug [a-z0-9-]+/ {
			match($0, /# XFAIL kernel-bug [a-z0-9-]+/)
			id = substr($0, RSTART + 19, RLENGTH - 19)
			if (!(id in bug)) {
				bug[id] = 1
				print (id in race ? "~" : "") id >> known
			}
		}'
		echo "# programs:$new" >> "$skips"
		step "baseline of$new written to $skips and $known"
	fi
fi

read -r _ passed failed skipped < <("$PTMARK_ROOT"/scripts/verdict.sh \
	--kernel "$rel" --skips "$skips" --known "$known" "${opts[@]}" \
	--bugs "$PTMARK_ROOT"/Documentation/kernel-bugs.rst \
	--programs "$progs" "$work"/console.log | grep '^counts ')
[ "$vm_ok" = 1 ] || failed=$((failed + 1))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]

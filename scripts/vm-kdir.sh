#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm-kdir.sh KDIR: build ptmark.ko and the selftests for a kernel tree
# you built yourself (bzImage with virtio-blk, ext4, debugfs built in)
# and run the suite on it in QEMU.  The selftests use the dev kernel's
# kselftest harness and uapi headers.  The run is judged like make
# check's dev run (selftests/expected/dev.skip, or PTMARK_EXPECTED=FILE
# for your kernel's own list); exits non-zero on any failure.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

kdir=$(cd "$1" && pwd)
[ -f "$kdir/arch/x86/boot/bzImage" ] || die "$kdir has no arch/x86/boot/bzImage"
kdev=$("$PTMARK_ROOT"/scripts/dev-kernel.sh)
work=$PTMARK_ROOT/build/vm-kdir
rm -rf "$work"
"$PTMARK_ROOT"/scripts/build-module.sh "$kdir" "$work"/ko
build_selftests "$kdev" "$work"/selftests-build "$work"/tests
vm_ok=1
"$PTMARK_ROOT"/scripts/vm.sh --kdir "$kdir" --ko "$work"/ko/ptmark.ko \
	--tests "$work"/tests --name "$(basename "$kdir")" \
	--log "$work"/console.log || vm_ok=0
read -r _ passed failed skipped < <("$PTMARK_ROOT"/scripts/verdict.sh \
	--kernel "$(basename "$kdir")" \
	--skips "${PTMARK_EXPECTED:-$PTMARK_ROOT/selftests/expected/dev.skip}" \
	--known "${PTMARK_KNOWN_BUGS:-$PTMARK_ROOT/selftests/expected/dev.bugs}" \
	--bugs "$PTMARK_ROOT"/Documentation/kernel-bugs.rst \
	--programs "$(sed 's/^ptmark://' "$work"/tests/kselftest-list.txt | xargs)" \
	"$work"/console.log | grep '^counts ')
[ "$vm_ok" = 1 ] || failed=$((failed + 1))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm-kdir.sh KDIR: build ptmark.ko and the selftests for a kernel tree
# you built yourself (bzImage with virtio-blk, ext4, debugfs built in)
# and run the suite on it in QEMU.  The selftests use the dev kernel's
# kselftest harness and uapi headers.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

kdir=$(cd "$1" && pwd)
[ -f "$kdir/arch/x86/boot/bzImage" ] || die "$kdir has no arch/x86/boot/bzImage"
kdev=$("$PTMARK_ROOT"/scripts/dev-kernel.sh)
work=$PTMARK_ROOT/build/vm-kdir
rm -rf "$work"
"$PTMARK_ROOT"/scripts/build-module.sh "$kdir" "$work"/ko
build_selftests "$kdev" "$work"/selftests-build "$work"/tests
"$PTMARK_ROOT"/scripts/vm.sh --kdir "$kdir" --ko "$work"/ko/ptmark.ko \
	--tests "$work"/tests --name "$(basename "$kdir")" --log "$work"/console.log
"$PTMARK_ROOT"/scripts/tap-count.sh "$work"/console.log |
	awk '{ printf "%d passed, %d failed, %d skipped\n", $1, $2, $3 }'

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make run`, the main job: build (or reuse) the dev kernel, build
# ptmark.ko and the tools for it, boot it in QEMU, load ptmark, and show
# its features and what it sees of guard regions in anonymous, shmem and
# ext4-file mappings.  The console is printed as it happens.
#
# run.sh shell (`make shell`): the same guest, but a shell on its console
# instead: ptmark loaded, ptmarkctl on the PATH, ptmark_demo left running
# with its PID printed.  `exit` unloads the module and powers off.
#
# PTMARK_ARCH=arm64 (make run ARCH=arm64): the arm64 dev kernel, the
# module and tools cross-built for it, in QEMU's arm64 virt machine.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

"$PTMARK_ROOT"/scripts/deps.sh
step "dev kernel"
kdev=$("$PTMARK_ROOT"/scripts/dev-kernel.sh)
work=$PTMARK_ROOT/build/run
rm -rf "$work"
mkdir -p "$work"
step "ptmark.ko and tools"
"$PTMARK_ROOT"/scripts/build-module.sh "$kdev" "$work"/ko
# Each architecture's objects apart: make would take the other's as built.
sub=
[ "${PTMARK_ARCH:-x86_64}" = arm64 ] && sub=-arm64
build_selftests "$kdev" "$PTMARK_ROOT/build/selftests-build$sub" "$work"/tests
if [ "${1:-}" = shell ]; then
	exec "$PTMARK_ROOT"/scripts/vm.sh --kdir "$kdev" --ko "$work"/ko/ptmark.ko \
		--tests "$work"/tests --mode shell --name shell \
		--log "$work"/console.log
fi
"$PTMARK_ROOT"/scripts/vm.sh --kdir "$kdev" --ko "$work"/ko/ptmark.ko \
	--tests "$work"/tests --mode run --name run --timeout 300 \
	--log "$work"/console.log |
	sed -n '/^ptmark-vm: dmesg begin/,/^ptmark-vm: dmesg end/!p'

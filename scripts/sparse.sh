#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the module with sparse (C=2) against the dev kernel; any sparse
# warning fails.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

kdev=$("$PTMARK_ROOT"/scripts/dev-kernel.sh)
out=$PTMARK_ROOT/build/sparse
log=$out.log
rm -rf "$out"
mkdir -p "$out"
cp -r "$PTMARK_ROOT"/Kbuild "$PTMARK_ROOT"/module "$PTMARK_ROOT"/include "$out"/
make -C "$kdev" M="$out" C=2 modules 2>&1 | tee "$log"
# A kernel that finds sparse too old says so and builds without it.
if grep -q 'sparse is not available' "$log"; then
	die "sparse did not run: $(sparse --version 2>&1 | head -n1) is too old for this kernel"
fi
if grep -E ': (warning|error):' "$log"; then
	die "sparse is not clean"
fi
echo "sparse: clean"

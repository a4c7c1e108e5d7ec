#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.pl --strict over every module source, the uapi header and
# the kernel patch series (kernel-patches/),
# using the dev kernel's copy of checkpatch.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

kdev=$("$PTMARK_ROOT"/scripts/dev-kernel.sh)
cd "$PTMARK_ROOT"
checkpatch=("$kdev"/source/scripts/checkpatch.pl --strict --no-tree --terse
	    --ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG)
"${checkpatch[@]}" -f module/*.[ch] include/uapi/linux/ptmark.h
# The kernel patch series as a maintainer's checkpatch reads it; the
# commits its Fixes: tags name are not in a source package.  Inside a git
# work tree checkpatch reads a tracked file as a source file (as -f), not
# as a patch: GIT_DIR points it away from ours.
GIT_DIR=/nonexistent "$kdev"/source/scripts/checkpatch.pl --strict --no-tree --terse \
	--ignore UNKNOWN_COMMIT_ID \
	$(ls kernel-patches/0*.patch kernel-patches/selftests/0*.patch |
	  grep -v cover-letter)
echo "style: checkpatch --strict clean"

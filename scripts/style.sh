#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.pl --strict over every module source and the uapi header,
# using the dev kernel's copy of checkpatch.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

kdev=$("$PTMARK_ROOT"/scripts/dev-kernel.sh)
cd "$PTMARK_ROOT"
checkpatch=("$kdev"/source/scripts/checkpatch.pl --strict --no-tree --terse
	    --ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG)
# compat.h is the one place allowed to compare kernel versions.
"${checkpatch[@]}" -f $(ls module/*.[ch] | grep -v compat.h) \
	include/uapi/linux/ptmark.h
"${checkpatch[@]}" --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f module/compat.h
echo "style: checkpatch --strict clean"

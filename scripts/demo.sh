#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# What `make run` does inside the VM: show the module's view of the
# kernel, then guard regions in anonymous, shmem and ext4 file mappings,
# and `ptmarkctl maps` of the demo process (its guarded thread stacks).

echo "=== /sys/kernel/debug/ptmark/features"
cat /sys/kernel/debug/ptmark/features
echo "=== guard regions and ptmarkctl maps (ptmark_demo ${PTMARK_EXT4:-/tmp})"
/ptmark/tests/ptmark/ptmark_demo "${PTMARK_EXT4:-/tmp}"
echo "=== /sys/kernel/debug/ptmark/stats"
cat /sys/kernel/debug/ptmark/stats

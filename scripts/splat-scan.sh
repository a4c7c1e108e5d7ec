#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# splat-scan.sh LOG: print every kernel report in a console log that must
# fail a run (BUG, WARNING, KASAN, lockdep, page_table_check, Oops, GPF,
# hung task, soft lockup, and any other stack dump, plus the mm messages
# printed without one: bad swap entries, bad page-table entries, RSS and
# page-table byte counters left over at exit, and kmemleak's reports)
# with a few lines of context; exit 1 if any.

pattern='BUG:|WARNING:|Call Trace:|KASAN|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|lock held when returning|page_table_check|Oops|general protection fault|Kernel panic|soft lockup|hung_task|blocked for more than|kernel BUG|list_add corruption|list_del corruption|bad page state|Bad page|scheduling while atomic|sleeping function called|Bad swap file entry|Bad swap offset entry|bad p[gu4m]d|Bad rss-counter|non-zero pgtables_bytes|Unable to handle kernel|swap_info_get: |swap_dup: |kmemleak: [0-9]+ new suspected|unreferenced object 0x'

if grep -E -n "$pattern" "$1" >/dev/null; then
	echo "ptmark: kernel splat in $1:"
	grep -E -A12 "$pattern" "$1" | head -n 80
	exit 1
fi
exit 0

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# splat-scan.sh LOG [KNOWN]: print every kernel report in a console log
# that must fail a run (BUG, WARNING, KASAN, lockdep, page_table_check,
# Oops, GPF, hung task, soft lockup, and any other stack dump, plus the mm
# messages printed without one: bad swap entries, bad page-table entries,
# RSS and page-table byte counters left over at exit, and kmemleak's
# reports) with a few lines of context; exit 1 if any.
#
# KNOWN, a kernel's known splats (selftests/expected/<kernel>.splats),
# says which warnings are the exact symptom of a known kernel bug, one a
# line: "ID<tab>MESSAGE<tab>FUNCTION", ID a bug of
# Documentation/kernel-bugs.rst, MESSAGE an extended regular expression
# for one line of the report and FUNCTION a function its call trace must
# show.  A report from "[ cut here ]" to "---[ end trace" that has both is
# taken out of the scan and named on stderr ("known kernel bug ID"); the
# rest of the log is scanned as ever, and any other report still fails.

pattern='BUG:|WARNING:|Call Trace:|KASAN|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|lock held when returning|page_table_check|Oops|general protection fault|Kernel panic|soft lockup|hung_task|blocked for more than|kernel BUG|list_add corruption|list_del corruption|bad page state|Bad page|scheduling while atomic|sleeping function called|Bad swap file entry|Bad swap offset entry|bad p[gu4m]d|Bad rss-counter|non-zero pgtables_bytes|Unable to handle kernel|swap_info_get: |swap_dup: |kmemleak: [0-9]+ new suspected|unreferenced object 0x'

log=$1 scan=$1
if [ -n "${2:-}" ]; then
	scan=$(mktemp)
	trap 'rm -f "$scan"' EXIT
	# The log without the reports KNOWN names; "known ID: line" for
	# each on stderr.
	awk -F '\t' -v knownf="$2" '
	BEGIN {
		while ((getline line < knownf) > 0) {
			if (line ~ /^#/ || line !~ /\t/)
				continue
			split(line, f, "\t")
			n++; id[n] = f[1]; msg[n] = f[2]; fn[n] = f[3]
		}
	}
	function flush(   i, j, hit_m, hit_f) {
		for (i = 1; i <= n; i++) {
			hit_m = hit_f = 0
			for (j = 1; j <= nb; j++) {
				if (block[j] ~ msg[i]) { hit_m = j }
				if (index(block[j], " " fn[i] "+0x")) { hit_f = 1 }
			}
			if (hit_m && hit_f) {
				# The guest prints its kernel log again at
				# the end: name each report once.
				if (!said[block[hit_m]]++)
					print "ptmark: known kernel bug " id[i] ": " block[hit_m] > "/dev/stderr"
				nb = 0
				return
			}
		}
		for (j = 1; j <= nb; j++)
			print block[j]
		nb = 0
	}
	/-+\[ cut here \]-+/ { if (nb) flush(); inblock = 1 }
	inblock { block[++nb] = $0; if ($0 ~ /---\[ end trace/) { inblock = 0; flush() }; next }
	{ print }
	END { if (nb) flush() }
	' "$log" > "$scan"
fi

if grep -E -n "$pattern" "$scan" >/dev/null; then
	echo "ptmark: kernel splat in $log:"
	grep -E -A12 "$pattern" "$scan" | head -n 80
	exit 1
fi
exit 0

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bug-report [BUG=ID]`: what an mm maintainer needs about a kernel
# bug the suite found, in one directory, build/bug-report/<ID or last>/:
#
#   report.txt        per log of the last make check (build/logs/): the
#                     kernel it ran on, each failed case with its
#                     assertion lines and the programs that failed (with
#                     ID: the lines naming that bug), any kernel splat in
#                     a VM's log, the features the suite saw and the
#                     fuzz seeds
#   dev-kernel.config the dev kernel's config fragment, and config, the
#                     full .config of the cached dev kernel, if built
#   reproducer/       with ID: reproducers/ID.c and what it builds with
#   kernel-bugs.rst   with ID: the bug's section of the documentation
#   patches/          with ID: the fix and selftest patches for it, from
#                     kernel-patches/, and get_maintainer.txt for them
#                     (from the cached kernel source's get_maintainer.pl)
#
# Without an ID it gathers every failure of the last run, for a bug that
# has no ID yet.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

id=${1:-}
logs=$PTMARK_ROOT/build/logs
doc=$PTMARK_ROOT/Documentation/kernel-bugs.rst
if [ -n "$id" ] && ! grep -qx ".. _kernel-bug-$id:" "$doc"; then
	die "no kernel bug $id in Documentation/kernel-bugs.rst"
fi
ls "$logs"/*.log > /dev/null 2>&1 ||
	die "no logs in $logs: run make check first"

# failures LOG: each failed case of LOG whole, from its RUN line to its
# FAIL line (a VM's run_kselftest.sh nests the TAP one "# " deeper), then
# the programs that failed or died; "(no failing line)" if none.
failures() {
	awk '
		/^(# )?#  RUN / { n = 0; on = 1 }
		on { buf[++n] = $0 }
		/^(# )?# +(OK|SKIP|XFAIL|XPASS) / { on = 0 }
		/^(# )?# +FAIL / {
			for (i = 1; i <= n; i++) print buf[i]
			on = 0; any = 1
		}
		/^not ok|^ptmark(-run)?: .*(fail|died)/ { print; any = 1 }
		END { if (!any) print "(no failing line)" }
	' "$1"
}

out=$PTMARK_ROOT/build/bug-report/${id:-last}
rm -rf "$out"
mkdir -p "$out"

{
	echo "ptmark bug report${id:+ for $id}, from the logs of $(date -u -r "$logs" '+%F %T UTC')"
	for log in "$logs"/*.log; do
		name=$(basename "$log" .log)
		kernel=$(sed -n 's/^ptmark-vm: init at .* on //p' "$log" | head -n1)
		[ -n "$kernel" ] || kernel="$(uname -r) (this machine)"
		echo
		echo "== $name: kernel $kernel"
		if [ -n "$id" ]; then
			grep -F "kernel-bug $id" "$log" || echo "(no line names $id)"
		else
			failures "$log"
		fi
		# Only a VM's log holds a kernel's messages.
		if grep -q '^ptmark-vm: ' "$log"; then
			"$PTMARK_ROOT"/scripts/splat-scan.sh "$log" || true
		fi
		grep -E '^(# )?# (userfaultfd features|ptmark features|features)' "$log" |
			sort -u || true
		grep -Eo 'seed [0-9]+ \(PTMARK_FUZZ_SEED\)' "$log" | sort -u || true
	done
} > "$out/report.txt"

cp "$PTMARK_ROOT"/configs/dev-kernel.config "$out"/dev-kernel.config
cfg=$(ls -t "$PTMARK_CACHE"/kernels/dev-*/.config 2>/dev/null | head -n1 || true)
[ -z "$cfg" ] || cp "$cfg" "$out"/config

if [ -n "$id" ]; then
	if [ -f "$PTMARK_ROOT/reproducers/$id.c" ]; then
		mkdir -p "$out"/reproducer
		cp "$PTMARK_ROOT/reproducers/$id.c" "$PTMARK_ROOT"/reproducers/repro.h \
			"$out"/reproducer/
		echo "cc -O2 -Wall -o $id $id.c -lpthread" > "$out"/reproducer/BUILD
	fi
	# The section, up to the next label or title.
	awk -v label=".. _kernel-bug-$id:" '
		$0 == label { on = 1; print; next }
		!on { next }
		/^\.\. _/ { exit }
		/^=+$/ && ++bars > 1 { have = 0; exit }
		{ if (have) print held; held = $0; have = 1 }
		END { if (have) print held }
	' "$doc" > "$out"/kernel-bugs.rst
	mkdir -p "$out"/patches
	for dir in "$PTMARK_ROOT"/kernel-patches "$PTMARK_ROOT"/kernel-patches/selftests; do
		[ -f "$dir/series" ] || continue
		awk -v id="$id" '/^[^#[:space:]]/ && $0 ~ "#[[:space:]]*(fixes|tests):.*(^|[[:space:]])" id "([[:space:]]|$)" { print $1 }' \
			"$dir/series" | while read -r p; do
			cp "$dir/$p" "$out"/patches/
		done
	done
	src=$(ls -d "$PTMARK_CACHE"/src/linux-source-*/ 2>/dev/null | head -n1 || true)
	if ls "$out"/patches/*.patch > /dev/null 2>&1 && [ -n "$src" ]; then
		(cd "$src" && ./scripts/get_maintainer.pl --no-git --no-git-fallback \
			--no-rolestats "$out"/patches/*.patch) \
			> "$out"/patches/get_maintainer.txt 2>/dev/null || true
	fi
fi
step "bug report in $out"
ls "$out"

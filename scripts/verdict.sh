#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# verdict.sh [--expected FILE] [--bugs RST] [--programs "p1 p2"] LOG...
# verdict.sh --emit-skips LOG...
#
# Count the kselftest programs in console or native logs and decide what
# each result means.  Prints on stdout
#
#   counts PASSED FAILED SKIPPED
#   bug ID          (once per known kernel bug caught)
#
# and, on stderr, one "ptmark: ..." line per failure or notable result.
#
# The rules, each one a failure where it says so:
#  - every program in --programs must start ("ptmark-run: begin P"), end
#    ("ptmark-run: end P rc=N") and print its "# Totals:" line in between;
#    a program that never started, never ended, or has no totals is one
#    failure.  Its results must agree with its plan ("1..N") and totals.
#  - the exit status after the totals must fit them: 0 or 4 (KSFT_SKIP)
#    with no failure, 1 with failures; anything else (timeout's 124, a
#    signal) is one failure.
#  - a SKIP must be listed in --expected ("prog:test.name # reason", the
#    reason a shell glob); one that is not is a failure.  A listed case
#    that ran instead is reported, unless its line starts with "~" (a
#    case that skips only sometimes: a transient kernel answer).
#  - an XFAIL must name a known kernel bug: its reason starts with
#    "kernel-bug ID:" and ID is a section label (kernel-bug-ID) in --bugs.
#    It counts with the skips.  Any other XFAIL is a failure.
#  - an XPASS (a known bug's symptom did not show) counts as a pass and
#    is reported.
#
# PASSED/SKIPPED count result lines; FAILED counts "not ok" lines and the
# rule breaks above.
#
# --emit-skips prints every SKIP of the logs as expected-skip list lines
# instead: the start of a new kernel's list, to be read and trimmed.

set -uo pipefail

expected=/dev/null bugs=/dev/null programs= emit=0
while [ $# -gt 0 ]; do
	case $1 in
	--emit-skips) emit=1; shift ;;
	--expected) expected=$2; shift 2 ;;
	--bugs) bugs=$2; shift 2 ;;
	--programs) programs=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "verdict.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "verdict.sh: no log given" >&2; exit 2; }
[ -r "$expected" ] || { echo "verdict.sh: cannot read $expected" >&2; exit 2; }
[ -r "$bugs" ] || { echo "verdict.sh: cannot read $bugs" >&2; exit 2; }

known_ids=$(sed -n 's/^\.\. _kernel-bug-\([a-z0-9-]*\):$/\1/p' "$bugs" | xargs)

awk -v programs="$programs" -v known_ids="$known_ids" -v expected="$expected" \
    -v emit="$emit" '
function complain(msg) { print "ptmark: " msg > "/dev/stderr" }
function fail(msg) { failed++; complain(msg) }
# A shell glob as an anchored regular expression.
function glob_re(g,    out, i, c) {
	out = "^"
	for (i = 1; i <= length(g); i++) {
		c = substr(g, i, 1)
		if (c == "*")
			out = out ".*"
		else if (c == "?")
			out = out "."
		else if (index("\\^$.[]|()+{}", c))
			out = out "\\" c
		else
			out = out c
	}
	return out "$"
}
function end_program(how,    sum) {
	if (prog == "")
		return
	if (!totals)
		fail(prog ": " how " without TAP totals")
	else {
		sum = t["pass"] + t["fail"] + t["xfail"] + t["xpass"] + t["skip"] + t["error"]
		if (sum != results || (plan != "" && plan != results))
			fail(prog ": " results " results, plan " (plan == "" ? "none" : plan) \
			     ", totals " sum ": garbled TAP")
	}
	prog = ""
}
BEGIN {
	n = split(programs, p, " ")
	for (i = 1; i <= n; i++)
		want[p[i]] = 1
	n = split(known_ids, p, " ")
	for (i = 1; i <= n; i++)
		known[p[i]] = 1
	while ((getline line < expected) > 0) {
		if (line ~ /^[ \t]*(#|$)/)
			continue
		sep = index(line, " # ")
		if (!sep) {
			fail("expected-skip list " expected ": no \" # \" in: " line)
			continue
		}
		key = substr(line, 1, sep - 1)
		if (key ~ /^~/) {
			key = substr(key, 2)
			may_run[key] = 1
		}
		exp_reason[key] = substr(line, sep + 3)
		exp_prog[key] = substr(key, 1, index(key, ":") - 1)
	}
}
/^ptmark-run: begin / {
	end_program("ended (no end line)")
	prog = $3
	began[prog] = 1
	totals = 0; results = 0; plan = ""
	delete t
	next
}
prog != "" && /^1\.\.[0-9]+$/ { plan = substr($0, 4) + 0; next }
prog != "" && /^(not )?ok [0-9]+ / {
	results++
	line = $0
	name = $0
	sub(/^(not )?ok [0-9]+ /, "", name)
	directive = ""
	reason = ""
	if ((i = index(name, " # ")) > 0) {
		rest = substr(name, i + 3)
		name = substr(name, 1, i - 1)
		if (rest ~ /^(SKIP|XFAIL|XPASS)( |$)/) {
			directive = rest
			sub(/ .*/, "", directive)
			reason = substr(rest, length(directive) + 2)
		}
	}
	key = prog ":" name
	ran[key] = directive
	if (line ~ /^not ok/) {
		failed++
		complain(key ": FAIL")
	} else if (directive == "SKIP") {
		skipped++
		if (emit)
			print key " # " reason
		if (!(key in exp_reason))
			fail(key ": unexpected SKIP: " reason)
		else if (reason !~ glob_re(exp_reason[key]))
			fail(key ": SKIP for another reason: \"" reason \
			     "\", expected \"" exp_reason[key] "\"")
	} else if (directive == "XFAIL") {
		id = reason
		if (match(id, /^kernel-bug [a-z0-9-]+:/)) {
			id = substr(id, 12, RLENGTH - 12)
		} else
			id = ""
		if (id == "" || !(id in known))
			fail(key ": XFAIL without a known kernel-bug ID: " reason)
		else {
			skipped++
			if (!(id in caught))
				order[++nbugs] = id
			caught[id]++
			complain(key ": known kernel bug caught: " reason)
		}
	} else {
		passed++
		if (directive == "XPASS")
			complain(key ": XPASS: " reason)
	}
	next
}
prog != "" && /^# Totals: / {
	if ($0 !~ /^# Totals: pass:[0-9]+ fail:[0-9]+ xfail:[0-9]+ xpass:[0-9]+ skip:[0-9]+ error:[0-9]+$/) {
		fail(prog ": garbled totals line: " $0)
		next
	}
	for (i = 3; i <= NF; i++) {
		split($i, kv, ":")
		t[kv[1]] = kv[2] + 0
	}
	totals = 1
	next
}
/^ptmark-run: end / {
	name = $3
	if (prog == "" || name != prog) {
		fail("end line for " name " without its begin line")
		next
	}
	ended[prog] = 1
	rc = $4
	if (rc !~ /^rc=[0-9]+$/) {
		fail(prog ": garbled end line: " $0)
	} else if (totals) {
		rc = substr(rc, 4) + 0
		bad = t["fail"] + t["error"]
		if (!(bad == 0 && (rc == 0 || rc == 4)) && !(bad > 0 && rc == 1))
			fail(prog ": exit status " rc " after totals with " bad " failures" \
			     (rc == 124 ? " (timeout)" : rc > 128 ? " (signal " rc - 128 ")" : ""))
	}
	end_program("ended (" $4 ")")
	next
}
END {
	if (emit)
		exit
	end_program("did not finish (log ends)")
	for (q in want)
		if (!(q in began))
			fail(q ": never started")
		else if (!(q in ended))
			fail(q ": did not finish")
	for (key in exp_reason)
		if ((exp_prog[key] in began) && (key in ran) && ran[key] != "SKIP" &&
		    !(key in may_run))
			complain(key ": listed as an expected SKIP but " \
				 (ran[key] == "" ? "ran" : ran[key]) " now")
	printf "counts %d %d %d\n", passed, failed, skipped
	for (i = 1; i <= nbugs; i++)
		print "bug " order[i]
}' "$@"

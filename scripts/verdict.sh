#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# verdict.sh [--kernel NAME] [--skips FILE] [--known FILE] [--fixed "ID..."]
#            [--complete] [--bugs RST] [--programs "p1 p2"] LOG...
#
# Count the kselftest programs in console or native logs and decide what
# each result means for the kernel NAME (dev, 6.12, 6.1, native, ...).
# A log is the output of ptmark's run_tests.sh ("ptmark-run: begin/end"
# frames) or of the kernel's run_kselftest.sh ("# selftests: C: P"
# headers, the program's TAP prefixed "# ", and the runner's own
# "ok|not ok N selftests: C: P" line), or both.  Prints on stdout
#
#   counts PASSED FAILED SKIPPED
#   bug ID          (once per known kernel bug caught)
#
# and, on stderr, one "ptmark: ..." line per failure or notable result.
#
# The rules, each one a failure where it says so:
#  - every program in --programs must start, end and print its
#    "# Totals:" line in between (or skip as a whole, below); its results
#    must agree with its plan and totals, and its exit status with them:
#    0 or 4 (KSFT_SKIP) with no failure, 1 with failures; a timeout or a
#    signal is one failure.
#  - a program that skips as a whole ("1..0 # SKIP REASON", exit 4)
#    counts as one skip, and the --skips file must have the rule
#    "PROG # REASON" for it.
#  - a SKIP of a case must match a rule "PROG:CASE-GLOB # REASON" of the
#    --skips file: CASE-GLOB a shell glob over the case name, REASON the
#    exact reason.  A rule whose program ran and that matched no case is
#    a failure ("unused skip rule"), unless it starts with "~": a case
#    that skips only sometimes, on a transient kernel answer, whose
#    REASON must name that one errno (EAGAIN, EBUSY, ...); or, in the
#    native run's rules only (--kernel native), with "?": a case that
#    skips on some machines and not others, on a fact of the machine its
#    REASON states (no huge pages reserved, no swap), which the VMs fix
#    and the user's own machine does not.
#  - an XFAIL must name a known kernel bug, "kernel-bug ID: SYMPTOM" with
#    ID a section label (kernel-bug-ID) in --bugs, and ID must be one the
#    --known file expects of this kernel: "ID" (it shows every run) or
#    "~ID" (a race: it may not show in a run).  An XFAIL of any other ID
#    is a regression; so is one of an ID in --fixed (a fix applied to
#    this kernel).  XFAILs count with the skips.
#  - an XPASS ("kernel-bug ID not seen ...") counts as a pass.  An
#    expected ID that never XFAILed but was looked for (XPASS) is a
#    failure: the kernel lost the bug, or the test lost its power.  A race
#    ID's XPASS must say how many windows it hit ("not seen in N ...",
#    N > 0).  An ID in --fixed must show XPASS and never XFAIL.  With
#    --complete (every program ran), an expected or fixed ID that no case
#    reported at all is a failure too.
#
# PASSED/SKIPPED count result lines; FAILED counts "not ok" lines and the
# rule breaks above.

set -uo pipefail

skips=/dev/null known=/dev/null bugs=/dev/null programs= kernel=this fixed=
complete=0
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--skips) skips=$2; shift 2 ;;
	--known) known=$2; shift 2 ;;
	--fixed) fixed=$2; shift 2 ;;
	--complete) complete=1; shift ;;
	--bugs) bugs=$2; shift 2 ;;
	--programs) programs=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "verdict.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "verdict.sh: no log given" >&2; exit 2; }
for f in "$skips" "$known" "$bugs"; do
	[ -r "$f" ] || { echo "verdict.sh: cannot read $f" >&2; exit 2; }
done

known_ids=$(sed -n 's/^\.\. _kernel-bug-\([a-z0-9-]*\):$/\1/p' "$bugs" | xargs)

"$(dirname "$0")"/tap-frames.sh "$@" |
awk -v programs="$programs" -v known_ids="$known_ids" -v skips="$skips" \
    -v knownf="$known" -v fixed_ids="$fixed" -v kernel="$kernel" \
    -v complete="$complete" '
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
# The rule a SKIP of case KEY of program P with REASON obeys: its index,
# 0 for none, -1 when rules match the case but none has that reason.
function skip_rule(p, key, reason,    i, seen) {
	seen = 0
	for (i = 1; i <= nrules; i++) {
		if (rule_prog[i] != p || rule_case[i] == "" ||
		    key !~ rule_re[i])
			continue
		if (rule_reason[i] == reason)
			return i
		seen = 1
	}
	return seen ? -1 : 0
}
# The reasons the rules matching case KEY of program P expect, each of
# those rules counted as used: the SKIP broke them once already.
function expected_reasons(p, key,    i, out) {
	out = ""
	for (i = 1; i <= nrules; i++)
		if (rule_prog[i] == p && rule_case[i] != "" && key ~ rule_re[i]) {
			out = out (out == "" ? "" : " or ") "\"" rule_reason[i] "\""
			used[i] = 1
		}
	return out
}
function end_program(how,    sum, i) {
	if (prog == "")
		return
	if (whole_skip != "") {
		if (results)
			fail(prog ": skipped as a whole after " results " results")
		for (i = 1; i <= nrules; i++)
			if (rule_prog[i] == prog && rule_case[i] == "" &&
			    rule_reason[i] == whole_skip)
				break
		skipped++
		if (i > nrules)
			fail(prog ": unexpected SKIP of the whole program: " whole_skip)
		else
			used[i] = 1
	} else if (!totals)
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
	n = split(programs, a, " ")
	for (i = 1; i <= n; i++)
		want[a[i]] = 1
	n = split(known_ids, a, " ")
	for (i = 1; i <= n; i++)
		documented[a[i]] = 1
	n = split(fixed_ids, a, " ")
	for (i = 1; i <= n; i++)
		fixed[a[i]] = 1
	while ((getline line < skips) > 0) {
		if (line ~ /^[ \t]*(#|$)/)
			continue
		sep = index(line, " # ")
		if (!sep) {
			fail("skip rules " skips ": no \" # \" in: " line)
			continue
		}
		key = substr(line, 1, sep - 1)
		nrules++
		rule_line[nrules] = line
		rule_reason[nrules] = substr(line, sep + 3)
		if (key ~ /^\?/) {
			key = substr(key, 2)
			transient[nrules] = 1
			if (kernel != "native")
				fail("skip rules " skips ": a machine rule (\"?\") belongs to the native run only: " line)
		} else if (key ~ /^~/) {
			key = substr(key, 2)
			transient[nrules] = 1
			if (gsub(/(^|[^A-Za-z0-9_])E[A-Z0-9]+([^A-Za-z0-9_]|$)/, "&",
				 rule_reason[nrules]) != 1)
				fail("skip rules " skips ": a transient rule names one errno: " line)
		}
		c = index(key, ":")
		rule_prog[nrules] = c ? substr(key, 1, c - 1) : key
		rule_case[nrules] = c ? substr(key, c + 1) : ""
		rule_re[nrules] = glob_re(key)
	}
	while ((getline line < knownf) > 0) {
		sub(/[ \t]*#.*/, "", line)
		if (line ~ /^[ \t]*$/)
			continue
		id = line
		gsub(/[ \t]/, "", id)
		race = id ~ /^~/
		if (race)
			id = substr(id, 2)
		if (!(id in documented))
			fail("known bugs " knownf ": " id " has no section in the bug list")
		expect[id] = 1
		is_race[id] = race
	}
	for (id in fixed)
		if (!(id in documented))
			fail("fixed bug " id " has no section in the bug list")
}
/^ptmark-run: begin / {
	end_program("ended (no end line)")
	prog = $3
	began[prog] = 1
	totals = 0; results = 0; plan = ""; whole_skip = ""
	delete t
	next
}
prog != "" && /^1\.\.0 # SKIP( |$)/ {
	whole_skip = substr($0, 13)
	plan = 0
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
	rest = ""
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
	id = ""
	if (directive ~ /^X/ && match(reason, /^kernel-bug [a-z0-9-]+[: ]/))
		id = substr(reason, 12, RLENGTH - 12)
	if (line ~ /^not ok/) {
		failed++
		sub(/^ +/, "", rest)
		complain(key ": FAIL" (rest != "" ? ": " rest : ""))
	} else if (directive == "SKIP") {
		skipped++
		r = skip_rule(prog, key, reason)
		if (r > 0)
			used[r] = 1
		else if (r < 0)
			fail(key ": SKIP for another reason: \"" reason \
			     "\", expected " expected_reasons(prog, key))
		else
			fail(key ": unexpected SKIP: " reason)
	} else if (directive == "XFAIL") {
		if (id == "" || !(id in documented)) {
			fail(key ": XFAIL without a known kernel-bug ID: " reason)
		} else if (id in fixed) {
			fixed_shown[id] = 1
			fail(key ": kernel-bug " id " shows on " kernel \
			     ", whose patches fix it: " reason)
		} else if (!(id in expect)) {
			fail(key ": regression: kernel-bug " id " came back on " \
			     kernel " (not expected there): " reason)
		} else {
			skipped++
			if (!(id in caught))
				order[++nbugs] = id
			caught[id]++
			complain(key ": known kernel bug caught: " reason)
		}
	} else {
		passed++
		if (directive == "XPASS") {
			complain(key ": XPASS: " reason)
			if (id == "") {
				fail(key ": XPASS without a kernel-bug ID: " reason)
			} else {
				notseen[id]++
				notseen_at[id] = key
				if (is_race[id] && !match(reason, / not seen in [1-9][0-9]* /))
					fail(key ": kernel-bug " id " is a race: its XPASS" \
					     " must say how many windows it hit: " reason)
			}
		}
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
	} else if (whole_skip != "") {
		if (rc != "rc=4")
			fail(prog ": skipped as a whole with exit status " substr(rc, 4) ", not 4")
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
	end_program("did not finish (log ends)")
	for (q in want)
		if (!(q in began))
			fail(q ": never started")
		else if (!(q in ended))
			fail(q ": did not finish")
	for (i = 1; i <= nrules; i++)
		if ((rule_prog[i] in began) && !used[i] && !transient[i])
			fail("unused skip rule for " kernel ": " rule_line[i])
	for (id in expect) {
		if (id in fixed || id in caught)
			continue
		if (!is_race[id] && (id in notseen))
			fail("kernel-bug " id " is expected on " kernel " but did not" \
			     " show (XPASS in " notseen_at[id] "): the kernel fixed it" \
			     " or the test lost its power; if fixed, take it out of" \
			     " the expected bugs of " kernel)
		else if (complete && !(id in notseen))
			fail("kernel-bug " id " is expected on " kernel \
			     " but no case looked for it")
	}
	for (id in fixed)
		if (complete && !(id in notseen) && !(id in fixed_shown))
			fail("kernel-bug " id " is fixed on " kernel \
			     " but no case showed it fixed (XPASS)")
	printf "counts %d %d %d\n", passed, failed, skipped
	for (i = 1; i <= nbugs; i++)
		print "bug " order[i]
}'

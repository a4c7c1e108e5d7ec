#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Line and branch coverage of named kernel functions, per suite.

    coverage-table.py --src TREE --functions LIST [--unreached]
                      LABEL=FILE.info [LABEL=FILE.info ...]

LIST has one function a line, "GROUP PATH FUNCTION" (PATH relative to the
source tree TREE; '#' starts a comment).  Each LABEL names an lcov
tracefile (lcov 1.x or 2.x format).  A function's extent is read from the
source: from the line that defines it (its name at the start of a line, or
after the return type, followed by its parameter list and a body) to the
first "}" in column 0 after it; of several definitions (#ifdef variants)
the one with instrumented lines counts.

Prints a table: per function its instrumented lines, then per suite the
lines and branches it reaches (percent, "-" when there are none), the
lines and branches reached by their union, and, with two suites, how many lines only
the first and only the second reaches; then those lines by number.  With
--unreached, the branches no suite takes, with their source line.  A
function missing from the source is an error (exit 2); one with no
instrumented lines (not built, or inlined away) shows "-".
"""

import argparse
import re
import sys


def parse_info(path):
    """{source path: (lines {n: count}, branches {(n, block, br): taken})}"""
    files = {}
    lines = branches = None
    with open(path, encoding='utf-8', errors='replace') as f:
        for raw in f:
            line = raw.rstrip('\n')
            tag, _, val = line.partition(':')
            if tag == 'SF':
                lines, branches = files.setdefault(val, ({}, {}))
            elif tag == 'DA' and lines is not None:
                parts = val.split(',')
                n, count = int(parts[0]), int(parts[1])
                lines[n] = lines.get(n, 0) + count
            elif tag == 'BRDA' and branches is not None:
                n, block, br, taken = val.split(',')[:4]
                key = (int(n), block, br)
                taken = 0 if taken == '-' else int(taken)
                branches[key] = branches.get(key, 0) + taken
            elif line == 'end_of_record':
                lines = branches = None
    return files


def definitions(text, name):
    """[(start, end)] 1-based line ranges of NAME's definitions in text."""
    src = text.split('\n')
    pat = re.compile(r'^(?:[A-Za-z_].*[\s*])?' + re.escape(name) + r'\(')
    found = []
    for i, line in enumerate(src):
        if not pat.match(line):
            continue
        # Past the parameter list: a body follows, not a ';'.
        rest = '\n'.join(src[i:i + 40])
        at = rest.index(name + '(') + len(name)
        depth = 0
        kind = None
        for c in rest[at:]:
            if c == '(':
                depth += 1
            elif c == ')':
                depth -= 1
            elif depth == 0 and c in '{;=':
                kind = c
                break
        if kind != '{':
            continue
        for j in range(i + 1, len(src)):
            if src[j].rstrip() == '}':
                found.append((i + 1, j + 1))
                break
    return found


def find_file(infos, rel):
    """Per suite, the (lines, branches) of the tracefile entry for rel."""
    out = []
    for files in infos:
        lines, branches = {}, {}
        for path, (ln, br) in files.items():
            if path == rel or path.endswith('/' + rel):
                for n, c in ln.items():
                    lines[n] = lines.get(n, 0) + c
                for k, c in br.items():
                    branches[k] = branches.get(k, 0) + c
        out.append((lines, branches))
    return out


def pct(hit, total):
    return '-' if total == 0 else '%d%%' % round(100.0 * hit / total)


def ranges(nums):
    """'10-12,15' for [10, 11, 12, 15]."""
    out = []
    for n in sorted(nums):
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return ','.join(str(a) if a == b else '%d-%d' % (a, b) for a, b in out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--src', required=True)
    ap.add_argument('--functions', required=True)
    ap.add_argument('--unreached', action='store_true')
    ap.add_argument('suites', nargs='+', metavar='LABEL=FILE.info')
    args = ap.parse_args()

    labels, infos = [], []
    for s in args.suites:
        label, _, path = s.partition('=')
        if not path:
            ap.error('%s: LABEL=FILE.info expected' % s)
        labels.append(label)
        infos.append(parse_info(path))

    wanted = []
    with open(args.functions, encoding='utf-8') as f:
        for line in f:
            words = line.split('#', 1)[0].split()
            if not words:
                continue
            if len(words) != 3:
                sys.exit('%s: "GROUP PATH FUNCTION" expected: %s' %
                         (args.functions, line.strip()))
            wanted.append(words)

    two = len(labels) == 2
    head = ['group', 'function', 'lines']
    for label in labels:
        head += [label + ' L', label + ' B']
    head += ['union L', 'union B']
    if two:
        head += ['only ' + labels[0], 'only ' + labels[1]]
    rows, details, unreached = [], [], []
    totals = [[0, 0, 0, 0] for _ in labels + ['union']]
    rc = 0
    sources = {}
    for group, rel, name in wanted:
        if rel not in sources:
            try:
                with open('%s/%s' % (args.src, rel), encoding='utf-8',
                          errors='replace') as f:
                    sources[rel] = f.read()
            except OSError as e:
                print('coverage-table: %s' % e, file=sys.stderr)
                sources[rel] = None
        text = sources[rel]
        defs = definitions(text, name) if text is not None else []
        if not defs:
            print('coverage-table: no definition of %s in %s' % (name, rel),
                  file=sys.stderr)
            rc = 2
            continue
        data = find_file(infos, rel)
        instrumented = set()
        for lines, _ in data:
            instrumented.update(lines)
        # The #ifdef variant that was built.
        start, end = max(defs, key=lambda d: sum(
            1 for n in instrumented if d[0] <= n <= d[1]))
        own = sorted(n for n in instrumented if start <= n <= end)
        row = [group, name, str(len(own)) if own else '-']
        reached = []
        for i, (lines, branches) in enumerate(data):
            hit = {n for n in own if lines.get(n, 0) > 0}
            brs = {k: c for k, c in branches.items() if start <= k[0] <= end}
            taken = sum(1 for c in brs.values() if c > 0)
            row += [pct(len(hit), len(own)), pct(taken, len(brs))]
            reached.append(hit)
            totals[i][0] += len(hit)
            totals[i][1] += len(own)
            totals[i][2] += taken
            totals[i][3] += len(brs)
        union = set().union(*reached)
        keys = set()
        for _, branches in data:
            keys.update(k for k in branches if start <= k[0] <= end)
        utaken = sum(1 for k in keys
                     if any(br.get(k, 0) > 0 for _, br in data))
        row += [pct(len(union), len(own)), pct(utaken, len(keys))]
        totals[-1][0] += len(union)
        totals[-1][1] += len(own)
        totals[-1][2] += utaken
        totals[-1][3] += len(keys)
        if two:
            a, b = reached[0] - reached[1], reached[1] - reached[0]
            row += [str(len(a)), str(len(b))]
            for label, only in ((labels[0], a), (labels[1], b)):
                if only:
                    details.append('%s (%s): only %s reaches lines %s' %
                                   (name, rel, label, ranges(only)))
        rows.append(row)
        if args.unreached:
            src = text.split('\n')
            for key in sorted(keys, key=lambda k: (k[0], k[1], k[2])):
                if all(br.get(key, 0) == 0 for _, br in data):
                    unreached.append('%s:%d %s (block %s branch %s): %s' %
                                     (rel, key[0], name, key[1], key[2],
                                      src[key[0] - 1].strip()))

    total = ['all', '%d functions' % len(rows), str(totals[-1][1])]
    for hit, n, taken, nb in totals:
        total += [pct(hit, n), pct(taken, nb)]
    if two:
        total += [str(sum(int(r[-2]) for r in rows)),
                  str(sum(int(r[-1]) for r in rows))]
    rows.append(total)
    width = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    for r in [head] + rows:
        print('  '.join(c.ljust(w) if i < 2 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, width))).rstrip())
    if details:
        print()
        print('\n'.join(details))
    if args.unreached:
        print()
        print('branches no suite takes:')
        print('\n'.join(unreached) if unreached else '(none)')
    return rc


if __name__ == '__main__':
    sys.exit(main())

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-ynl.sh: the kernel's own YNL tooling against ptmark's genetlink
# spec.  ynl_gen_c.py validates the spec with the genetlink-c JSON schema
# before it renders anything, so a spec it turns into a uapi header is a
# spec it accepts; that header must be the committed
# include/uapi/linux/ptmark_netlink.h, byte for byte.  The kernel tree is
# the dev kernel's source ($PTMARK_KDEV/source, or the first argument).
# Prints kselftest-style TAP, so the run is counted like any test program.

set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
ksrc=${1:-${PTMARK_KDEV:?PTMARK_KDEV (a built dev kernel) is required}/source}
ynl=$ksrc/tools/net/ynl/pyynl/ynl_gen_c.py
spec=Documentation/netlink/specs/ptmark.yaml
header=include/uapi/linux/ptmark_netlink.h
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0 pass=0 fail=0

result() {
	n=$((n + 1))
	if [ "$1" = ok ]; then
		pass=$((pass + 1))
		echo "ok $n ynl.$2"
	else
		fail=$((fail + 1))
		echo "not ok $n ynl.$2 # $3"
	fi
}

# The generator finds the schema two levels above the spec and names the
# spec relative to the directory holding MAINTAINERS: give it a tree of
# that shape, with the kernel's schema in it.
mkdir -p "$work/tree/$(dirname "$spec")"
touch "$work"/tree/MAINTAINERS
cp "$ksrc"/Documentation/netlink/genetlink-c.yaml "$work"/tree/Documentation/netlink/
cp "$root/$spec" "$work/tree/$spec"

if timeout 120 python3 "$ynl" --mode uapi --header --spec "$work/tree/$spec" \
	-o "$work"/uapi.h > "$work"/gen.log 2>&1; then
	result ok spec_accepted
else
	result fail spec_accepted "$(tail -n 1 "$work"/gen.log)"
fi

if [ -s "$work"/uapi.h ] && diff -u "$root/$header" "$work"/uapi.h > "$work"/diff; then
	result ok uapi_header_matches_spec
else
	result fail uapi_header_matches_spec \
		"$header differs from what the spec generates ($(wc -l < "$work"/diff) diff lines)"
	cat "$work"/diff
fi

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" = 0 ]

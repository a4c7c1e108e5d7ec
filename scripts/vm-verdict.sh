#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm-verdict.sh NAME LOG [SPLATS]: did the VM run in console log LOG go as
# it must?  Exit 1, saying why on stderr, when the guest did not finish,
# rmmod ptmark failed, the machine lacked what the suite needs
# ("ptmark-vm: machine incomplete" lines from the guest's init), or the
# kernel printed any report that fails a run (scripts/splat-scan.sh, with
# the known splats SPLATS of the kernel, if given, left out).

name=$1 log=$2 splats=${3:-} fail=0
say() { echo "ptmark-vm: $name: $*" >&2; fail=1; }

grep -q '^ptmark-vm: done' "$log" || say "guest did not finish"
grep -q '^ptmark-vm: rmmod rc=0' "$log" || say "rmmod ptmark failed"
if grep -q '^ptmark-vm: machine incomplete' "$log"; then
	grep -E '^ptmark-vm: (machine incomplete|insmod)' "$log" |
		sed "s/^ptmark-vm: /ptmark-vm: $name: /" >&2
	fail=1
fi
"$(dirname "$0")"/splat-scan.sh "$log" ${splats:+"$splats"} >&2 || fail=1
exit $fail

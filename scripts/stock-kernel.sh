#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# stock-kernel.sh [SERIES]: make sure the newest Debian bookworm kernel of
# SERIES (default 6.12) is installed as a user would install it: the
# unsigned image and its matching headers, through apt.  Prints the
# kernel release; the module then builds with
# KDIR=/lib/modules/<release>/build and the VM boots /boot/vmlinuz-<release>.
# When apt cannot be read, an already installed kernel of the series is
# used, and said so.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

series=${1:-6.12}
sre=${series//./\\.}
log=$PTMARK_CACHE/stock-kernel-$series.log

installed_ok() {
	[ -f "/boot/vmlinuz-$1" ] && [ -e "/lib/modules/$1/build/Makefile" ]
}

candidates() {
	apt-cache pkgnames "linux-image-$series" |
		sed -n 's/^linux-image-\(.*-amd64\)-unsigned$/\1/p' |
		grep -E "^${sre}[.-][0-9]+(\+deb[0-9]+)?(-[0-9]+)?-amd64$" |
		sort -V
}

installed_release() {
	local r
	for r in $(ls /boot 2>/dev/null | sed -n "s/^vmlinuz-\(${sre}[.-].*-amd64\)$/\1/p" | sort -V); do
		installed_ok "$r" && echo "$r"
	done | tail -n1
}

rel=$(candidates | tail -n1)
if [ -z "$rel" ]; then
	apt-get update -q > "$log" 2>&1 ||
		grep -E '^(E|W|Err):' "$log" | head -n5 >&2
	rel=$(candidates | tail -n1)
fi
if [ -z "$rel" ]; then
	rel=$(installed_release)
	[ -n "$rel" ] ||
		die "no linux-image-$series.*-amd64-unsigned in apt, and none" \
		    "installed; fix: make sure /etc/apt/sources.list(.d) has" \
		    "bookworm (or bookworm-backports for newer series) reachable"
	step "apt has no $series kernel: using the installed $rel"
fi

if ! installed_ok "$rel"; then
	step "installing linux-image-$rel-unsigned and linux-headers-$rel"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		"linux-image-$rel-unsigned" "linux-headers-$rel" >> "$log" 2>&1; then
		grep -E '^(E|W):' "$log" | tail -n5 >&2
		old=$(installed_release)
		[ -n "$old" ] ||
			die "installing the $rel kernel failed (log: $log); fix:" \
			    "apt-get install linux-image-$rel-unsigned linux-headers-$rel"
		step "installing $rel failed: using the installed $old"
		rel=$old
	fi
fi
installed_ok "$rel" ||
	die "$rel installed but /boot/vmlinuz-$rel or" \
	    "/lib/modules/$rel/build missing; fix: apt-get install --reinstall" \
	    "linux-image-$rel-unsigned linux-headers-$rel"
echo "$rel"

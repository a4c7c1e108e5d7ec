#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# stock-kernel.sh [SERIES]: make sure the newest Debian bookworm kernel of
# SERIES (default 6.12) is installed as a user would install it: the
# unsigned image and its matching headers, through apt.  Prints the
# kernel release; the module then builds with
# KDIR=/lib/modules/<release>/build and the VM boots /boot/vmlinuz-<release>.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

series=${1:-6.12}

installed_ok() {
	[ -f "/boot/vmlinuz-$1" ] && [ -e "/lib/modules/$1/build/Makefile" ]
}

candidates() {
	apt-cache pkgnames "linux-image-$series" |
		sed -n 's/^linux-image-\(.*-amd64\)-unsigned$/\1/p' |
		grep -E "^${series//./\\.}[.-][0-9]+(\+deb[0-9]+)?(-[0-9]+)?-amd64$" |
		sort -V
}

rel=$(candidates | tail -n1)
if [ -z "$rel" ]; then
	apt-get update -qq
	rel=$(candidates | tail -n1)
fi
[ -n "$rel" ] || die "no linux-image-$series.*-amd64-unsigned in apt"

if ! installed_ok "$rel"; then
	step "installing linux-image-$rel-unsigned and linux-headers-$rel"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		"linux-image-$rel-unsigned" "linux-headers-$rel" >/dev/null ||
		die "installing the $rel kernel failed"
fi
installed_ok "$rel" || die "$rel installed but image or headers missing"
echo "$rel"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# stock-kernel.sh [SERIES]: make sure the newest Debian bookworm kernel of
# SERIES (default 6.12) is in the cache, as Debian ships it: the unsigned
# image, its modules and its matching headers, downloaded with
# `apt-get download` and unpacked with `dpkg-deb -x` into
# $PTMARK_CACHE/stock/<release>/ (stock_root in lib.sh), never installed:
# nothing is written under /boot or /lib/modules, dpkg does not learn of
# it and no boot entry changes.  Prints the kernel release; the module
# then builds with KDIR=$(stock_root REL)/lib/modules/REL/build and the VM
# boots $(stock_root REL)/boot/vmlinuz-REL (vm.sh --release REL).
# When apt cannot be read, a kernel of the series already in the cache is
# used, and said so.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

series=${1:-6.12}
sre=${series//./\\.}
log=$PTMARK_CACHE/stock-kernel-$series.log
: > "$log"

unpacked_ok() {
	local root=$PTMARK_CACHE/stock/$1
	[ -f "$root/.complete" ] && [ -f "$root/boot/vmlinuz-$1" ] &&
		[ -e "$root/lib/modules/$1/build/Makefile" ]
}

candidates() {
	apt-cache pkgnames "linux-image-$series" |
		sed -n 's/^linux-image-\(.*-amd64\)-unsigned$/\1/p' |
		grep -E "^${sre}[.-][0-9]+(\+deb[0-9]+)?(-[0-9]+)?-amd64$" |
		sort -V
}

cached_release() {
	local r
	for r in "$PTMARK_CACHE"/stock/*; do
		r=${r##*/}
		if [[ $r =~ ^${sre}[.-].*-amd64$ ]] && unpacked_ok "$r"; then
			echo "$r"
		fi
	done | sort -V | tail -n1
}

# unpack REL: download the image, the headers and what the headers need
# (the -common tree and kbuild), unpack them into a fresh root, and make
# that root work where it is: Debian's headers Makefile includes the
# -common tree by its absolute /usr/src path, and build/source are
# absolute links; depmod writes modules.dep inside the root.
unpack() {
	local rel=$1 root=$PTMARK_CACHE/stock/$1 tmp debs pkgs deb
	tmp=$(mktemp -d "$PTMARK_CACHE/stock/.unpack.XXXXXX")
	debs=$tmp/debs
	mkdir -p "$debs" "$tmp/root"
	pkgs=("linux-image-$rel-unsigned" "linux-headers-$rel")
	mapfile -t -O 2 pkgs < <(apt-cache depends "linux-headers-$rel" 2>>"$log" |
		sed -n 's/^ *Depends: \(linux-\(headers-.*-common\|kbuild-.*\)\)$/\1/p')
	step "downloading ${pkgs[*]}"
	(cd "$debs" && apt-get download -q -o APT::Sandbox::User=root \
		"${pkgs[@]}") >> "$log" 2>&1 || {
		grep -E '^(E|W|Err):' "$log" | tail -n5 >&2
		rm -rf "$tmp"
		return 1
	}
	for deb in "$debs"/*.deb; do
		dpkg-deb -x "$deb" "$tmp/root"
	done
	sed -i "s|^include /usr/src/|include $root/usr/src/|" \
		"$tmp/root/usr/src/linux-headers-$rel/Makefile"
	ln -sfn "../../../usr/src/linux-headers-$rel" "$tmp/root/lib/modules/$rel/build"
	ln -sfn "../../../usr/src/$(cd "$tmp/root/usr/src" && ls -d linux-headers-*-common | head -n1)" \
		"$tmp/root/lib/modules/$rel/source"
	depmod -b "$tmp/root" "$rel"
	rm -rf "$debs" "$root"
	mkdir -p "$(dirname "$root")"
	mv "$tmp/root" "$root"
	rmdir "$tmp"
	touch "$root/.complete"
}

mkdir -p "$PTMARK_CACHE"/stock
rel=$(candidates | tail -n1)
if [ -z "$rel" ]; then
	apt-get update -q >> "$log" 2>&1 ||
		grep -E '^(E|W|Err):' "$log" | head -n5 >&2
	rel=$(candidates | tail -n1)
fi
if [ -z "$rel" ]; then
	rel=$(cached_release)
	[ -n "$rel" ] ||
		die "no linux-image-$series.*-amd64-unsigned in apt, and none" \
		    "in $PTMARK_CACHE/stock; fix: make sure" \
		    "/etc/apt/sources.list(.d) has bookworm and" \
		    "bookworm-security reachable"
	step "apt has no $series kernel: using the cached $rel"
fi

if ! unpacked_ok "$rel"; then
	step "unpacking $rel into $PTMARK_CACHE/stock/$rel"
	if ! unpack "$rel"; then
		old=$(cached_release)
		[ -n "$old" ] ||
			die "downloading the $rel kernel failed (log: $log)"
		step "downloading $rel failed: using the cached $old"
		rel=$old
	fi
fi
unpacked_ok "$rel" ||
	die "$PTMARK_CACHE/stock/$rel is incomplete; fix: rm -rf it and rerun"
echo "$rel"

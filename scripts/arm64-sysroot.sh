#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# arm64-sysroot.sh: the arm64 libraries and tools the arm64 guest's
# programs need, from Debian bookworm's arm64 packages, downloaded with a
# private apt (apt-get download, never installed) and unpacked with
# dpkg-deb -x into $PTMARK_CACHE/arm64-sysroot/.  Prints that directory.
# The cross compiler's own C library (libc6-arm64-cross, from deps.sh) is
# what the programs are linked against: the same glibc release, so the
# libraries below link and run with it.
#
# The packages: the headers and shared libraries of libmnl, liburing and
# libnuma the suite and ptmarkctl link with, the busybox of the guest's
# init, and coreutils for the kernel's runner's timeout.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

PKGS=(libmnl0 libmnl-dev liburing2 liburing-dev libnuma1 libnuma-dev
      busybox-static coreutils)
ROOT=$PTMARK_CACHE/arm64-sysroot
stamp="${PKGS[*]}"

if [ -f "$ROOT/.complete" ] && [ "$(cat "$ROOT/.complete")" = "$stamp" ]; then
	echo "$ROOT"
	exit 0
fi

codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "arm64-sysroot: no VERSION_CODENAME in /etc/os-release"
papt_use apt-arm64 arm64 "$codename"
papt_setup || die "arm64-sysroot: the private arm64 apt for $codename cannot be read"

step "arm64 sysroot: downloading ${PKGS[*]} ($codename, arm64)"
rm -rf "$ROOT.tmp"
mkdir -p "$ROOT.tmp/debs"
(cd "$ROOT.tmp/debs" && apt-get "${PAPT_OPTS[@]}" download -qq "${PKGS[@]}") ||
	die "arm64-sysroot: apt-get download of ${PKGS[*]} failed"
for deb in "$ROOT.tmp"/debs/*.deb; do
	dpkg-deb -x "$deb" "$ROOT.tmp"
done
rm -rf "$ROOT.tmp/debs" "$ROOT"
echo "$stamp" > "$ROOT.tmp/.complete"
mv "$ROOT.tmp" "$ROOT"
echo "$ROOT"

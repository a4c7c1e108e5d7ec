#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install, only where missing, every Debian package that building ptmark,
# the test kernel and the selftests, and booting the VM, need.  Idempotent:
# a machine that has them all costs one dpkg-query.  Uses the machine's own
# apt sources, whatever their format.  python3-docutils gives rst2man for
# ptmarkctl(8); tmux drives make check's scripted `make shell` session.
# This is all make check installs on the machine; kernels go to the cache.
# Arguments name more packages one target alone needs (make coverage: lcov).

set -euo pipefail
. "$(dirname "$0")"/lib.sh

PACKAGES=(
	build-essential bc bison flex libelf-dev libssl-dev dwarves
	cpio kmod xz-utils zstd rsync patch
	qemu-system-x86 busybox-static e2fsprogs util-linux
	liburing-dev libmnl-dev libnuma-dev numactl
	python3 python3-yaml python3-jsonschema perl
	debian-archive-keyring dkms
	python3-docutils tmux
	"$@"
)
# PTMARK_ARCH=arm64: the cross compiler and the arm64 QEMU as well (the
# arm64 libraries the guest's programs link with come from the private
# apt into the cache, see arm64-sysroot.sh, and are never installed).
case ${PTMARK_ARCH:-x86_64} in
x86_64) ;;
arm64) PACKAGES+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-system-arm) ;;
*) die "deps: PTMARK_ARCH is x86_64 or arm64, not $PTMARK_ARCH" ;;
esac

missing_packages() {
	local p status
	for p in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$status" = installed ] || echo "$p"
	done
}

missing=$(missing_packages | xargs)
[ -z "$missing" ] && exit 0

echo "deps: installing $missing" >&2
[ "$(id -u)" -eq 0 ] ||
	die "deps: installing packages needs root; fix: run as root, or" \
	    "apt-get install $missing"
export DEBIAN_FRONTEND=noninteractive
log=$PTMARK_CACHE/deps.log
if ! apt-get update -q > "$log" 2>&1; then
	# Lists from an earlier update may still serve the install.
	echo "deps: apt-get update failed; trying the lists on disk:" >&2
	grep -E '^(E|W|Err):' "$log" | head -n5 >&2
fi
# shellcheck disable=SC2086 # a list of package names
if ! apt-get install -y -q --no-install-recommends $missing >> "$log" 2>&1; then
	grep -E '^(E|W):' "$log" | tail -n5 >&2
	die "deps: apt-get install failed (full log: $log); fix: check that" \
	    "the archive in /etc/apt/sources.list(.d) is reachable, then" \
	    "rerun, or install by hand: apt-get install $missing"
fi
still=$(missing_packages | xargs)
[ -z "$still" ] || die "deps: still missing after apt-get install: $still (log: $log)"

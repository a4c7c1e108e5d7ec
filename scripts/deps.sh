#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install, only where missing, every Debian package that building ptmark,
# the test kernel and the selftests, and booting the VM, need.  Idempotent:
# a machine that has them all costs one dpkg-query.

set -euo pipefail

PACKAGES=(
	build-essential bc bison flex libelf-dev libssl-dev dwarves
	cpio kmod xz-utils zstd rsync
	qemu-system-x86 busybox-static e2fsprogs util-linux
	liburing-dev libmnl-dev libnuma-dev numactl
	sparse python3 perl
)

missing=()
for p in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: need root to install packages" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

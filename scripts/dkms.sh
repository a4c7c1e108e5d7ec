#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms.sh REL WORK: build and install ptmark through DKMS for the
# Debian kernel REL, the commands a user runs (dkms add, build,
# install, with the checkout's dkms.conf), against the headers of REL
# that stock-kernel.sh unpacked ($(stock_root REL)/lib/modules/REL/build,
# given to DKMS with --kernelsourcedir; /lib/modules/REL/build for a
# kernel the machine has installed).  DKMS gets trees of its own under
# WORK (source, build, install, signing key), so the machine's /usr/src,
# /var/lib/dkms and /lib/modules are not touched and no other kernel's
# autoinstall ever picks ptmark up.  Prints
# the path of the module DKMS installed: WORK/modules/REL/updates/dkms/
# ptmark.ko (DKMS compresses it as /lib/modules/REL's own modules are, so
# for a kernel only in the cache it stays a plain .ko).

set -euo pipefail
. "$(dirname "$0")"/lib.sh

rel=$1 work=$(realpath -m "$2")
command -v dkms > /dev/null || die "dkms.sh: no dkms; fix: apt-get install dkms"
kdir=$(stock_root "$rel")
kdir=${kdir%/}/lib/modules/$rel/build
[ -e "$kdir/Makefile" ] ||
	die "dkms.sh: no headers for $rel in $kdir; fix: scripts/stock-kernel.sh"
name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"$/\1/p' "$PTMARK_ROOT"/dkms.conf)
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$PTMARK_ROOT"/dkms.conf)

rm -rf "$work"
mkdir -p "$work"/stage "$work"/src "$work"/tree "$work/modules/$rel"
# What a release tarball holds: the module's sources and dkms.conf.
cp -r "$PTMARK_ROOT"/{dkms.conf,Kbuild,Makefile,COPYING,module,include} "$work"/stage/

# DKMS signs with this key where the kernel's sign-file exists.
export mok_signing_key=$work/mok.key mok_certificate=$work/mok.pub
trees=(--sourcetree "$work"/src --dkmstree "$work"/tree
       --installtree "$work"/modules --no-depmod
       --kernelsourcedir "$(realpath "$kdir")")
log=$work/dkms.log
for action in add build install; do
	args=(-m "$name" -v "$version" -k "$rel")
	[ "$action" = add ] && args=("$work"/stage)
	if ! dkms "$action" "${trees[@]}" "${args[@]}" >> "$log" 2>&1; then
		tail -n 20 "$log" >&2
		cat "$work/tree/$name/$version/build/make.log" >&2 2>/dev/null || true
		die "dkms $action for $rel failed (log: $log)"
	fi
done
ko=$(ls "$work/modules/$rel/updates/dkms/$name".ko* 2>/dev/null | head -n1)
[ -n "$ko" ] || die "dkms install for $rel left no $name.ko under $work/modules/$rel/updates/dkms"
echo "$ko"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build-module.sh KDIR OUTDIR: build ptmark.ko against KDIR in a copy of
# the sources under OUTDIR, so that builds for several kernels never share
# object files.  Warnings fail the build.  An arm64 tree is built for with
# the cross compiler.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

kdir=$1 out=$(realpath -m "$2")
rm -rf "$out"
mkdir -p "$out"
cp -r "$PTMARK_ROOT"/Kbuild "$PTMARK_ROOT"/module "$PTMARK_ROOT"/include "$out"/
# shellcheck disable=SC2046 # make arguments, or none
make -s -C "$kdir" M="$out" $(kmake_args "$kdir") KCFLAGS=-Werror modules >&2
[ -f "$out"/ptmark.ko ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or find in the cache) the ptmark dev test kernel: the newest
# linux-source-7.* from Debian's trixie-backports suite (sid if backports
# has none), configured as allnoconfig + configs/dev-kernel.config.
#
# Prints the build directory (usable as KDIR=) on stdout; progress goes to
# stderr.  Cache: $PTMARK_CACHE/kernels/dev-<version>-<config hash>/.
#
# Environment: PTMARK_ARCH=arm64 cross-builds the arm64 dev kernel
# (aarch64-linux-gnu-gcc, configs/dev-kernel-arm64.config on top of the
# common fragment, an Image instead of a bzImage), cached apart as
# kernels/dev-arm64-<version>-<config hash>/; the default is x86_64.
# PTMARK_KASAN=1 adds KASAN (slower build and guest);
# PTMARK_KMEMLEAK=1 adds kmemleak (both together make one debug kernel).
# PTMARK_KERNEL_PATCHES=DIR applies a patch series to the source first:
# DIR/series in quilt's format (one patch name a line, in order), or else
# every DIR/*.patch in name order, each with -p1.  The patched tree and its
# build are cached apart, keyed by the patches' contents too; a patch that
# does not apply stops the build, naming the file and the hunk.
# PTMARK_COVERAGE=1 adds gcov (CONFIG_GCOV_KERNEL) with profiling limited,
# by configs/coverage.patch, to mm/, fs/proc/task_mmu.c and fs/hugetlbfs/
# (make coverage; Documentation/coverage.rst); that patch applies after
# any series of PTMARK_KERNEL_PATCHES, and the build is cached apart, as
# $PTMARK_CACHE/kernels/gcov-<version>-<patch hash>-<config hash>/.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

case ${PTMARK_ARCH:-x86_64} in
x86_64)	KARCH=(ARCH=x86_64) KIMAGE=bzImage CC_VERSION=gcc KEY= ;;
arm64)	KARCH=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-) KIMAGE=Image
	CC_VERSION=aarch64-linux-gnu-gcc KEY=arm64- ;;
*)	die "PTMARK_ARCH is x86_64 or arm64, not $PTMARK_ARCH" ;;
esac
command -v "$CC_VERSION" >/dev/null ||
	die "no $CC_VERSION; fix: PTMARK_ARCH=${PTMARK_ARCH:-x86_64} scripts/deps.sh"

# newest_source: "PACKAGE SUITE VERSION" of the newest linux-source-7.*
# in the first private suite that has one.
newest_source() {
	local suite pkg ver best=""
	for suite in $(papt_suites_listed); do
		for pkg in $(apt-cache "${PAPT_OPTS[@]}" pkgnames linux-source-7. |
			     grep -E '^linux-source-7\.[0-9]+$' | sort -V); do
			ver=$(apt-cache "${PAPT_OPTS[@]}" madison "$pkg" |
			      awk -v s="$suite/" '$0 ~ s { print $3; exit }')
			[ -n "$ver" ] && best="$pkg $suite $ver"
		done
		[ -n "$best" ] && break
	done
	[ -n "$best" ] || return 1
	echo "$best"
}

# cached_source: "PACKAGE cache VERSION" of the newest linux-source-7.*
# already in the cache, as an extracted tree or a downloaded .deb, for
# when the archive cannot be read.
cached_source() {
	local d f best
	best=$({
		for d in "$PTMARK_CACHE"/src/linux-source-7.*-*; do
			[ -f "$d/.extracted" ] || continue
			f=$(cat "$d/.extracted")
			[ -n "$f" ] && echo "$(basename "$d" | sed 's/^\(linux-source-7\.[0-9]*\)-.*/\1/') $f"
		done
		for f in "$PTMARK_CACHE"/debs/linux-source-7.*_*_all.deb; do
			[ -f "$f" ] || continue
			f=$(basename "$f" _all.deb)
			echo "${f%%_*} $(echo "${f#*_}" | sed 's/%3a/:/')"
		done
	} | sort -k2,2V | tail -n1)
	[ -n "$best" ] || return 1
	echo "${best% *} cache ${best#* }"
}

src_dir() {
	# Paths with '~' or '+' upset parts of kbuild; keep them plain.
	echo "$PTMARK_CACHE/src/$1-${2//[~+]/_}"
}

fetch_source() {
	local pkg=$1 suite=$2 ver=$3 deb
	SRC_VERSION=$ver
	SRC_DIR=$(src_dir "$pkg" "$ver")
	[ -f "$SRC_DIR/.extracted" ] && return
	mkdir -p "$PTMARK_CACHE/debs"
	deb=$PTMARK_CACHE/debs/${pkg}_${ver//:/%3a}_all.deb
	if [ ! -f "$deb" ]; then
		step "downloading $pkg $ver from $suite"
		(cd "$PTMARK_CACHE/debs" &&
		 apt-get "${PAPT_OPTS[@]}" download -qq "$pkg=$ver") ||
			die "downloading $pkg $ver from $suite failed; fix: check" \
			    "that the mirror in your apt sources is reachable (or" \
			    "set PTMARK_MIRROR)"
	fi
	[ -f "$deb" ] || die "apt-get download left no $deb"
	step "extracting $(basename "$deb")"
	rm -rf "$SRC_DIR" "$SRC_DIR.tmp" "$SRC_DIR.deb"
	mkdir -p "$SRC_DIR.tmp" "$SRC_DIR.deb"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -x -C "$SRC_DIR.deb" --wildcards "./usr/src/$pkg.tar.xz"
	tar -xJf "$SRC_DIR.deb/usr/src/$pkg.tar.xz" -C "$SRC_DIR.tmp" \
		--strip-components=1
	rm -rf "$SRC_DIR.deb"
	echo "$ver" > "$SRC_DIR.tmp/.extracted"
	mv "$SRC_DIR.tmp" "$SRC_DIR"
	rm -f "$deb"
}

# patch_list DIR: the patches of DIR in the order they apply.
patch_list() {
	local dir=$1 name
	if [ -f "$dir/series" ]; then
		sed -e 's/#.*//' "$dir/series" | while read -r name _; do
			[ -n "$name" ] || continue
			[ -f "$dir/$name" ] ||
				die "$dir/series names $name, which is not there"
			echo "$dir/$name"
		done
	else
		ls "$dir"/*.patch 2>/dev/null | sort
	fi
}

# patched_source PATCH...: a copy of SRC_DIR (hard links, which patch
# breaks where it writes) with the patches applied in order; SRC_DIR then
# names it.
patched_source() {
	local tree p out
	tree=$SRC_DIR-p$PATCH_HASH
	if [ ! -f "$tree/.patched" ]; then
		rm -rf "$tree" "$tree.tmp"
		cp -al "$SRC_DIR" "$tree.tmp"
		while read -r p; do
			step "applying $(basename "$p")"
			if ! out=$(patch -d "$tree.tmp" -p1 --batch --forward \
				   --no-backup-if-mismatch -r - < "$p" 2>&1); then
				echo "$out" | grep -E 'FAILED|patching file|malformed|Only garbage|can.t find' >&2
				rm -rf "$tree.tmp"
				die "$p does not apply to $pkg $SRC_VERSION (hunks above)"
			fi
		done < <(printf '%s\n' "$@")
		touch "$tree.tmp/.patched"
		mv "$tree.tmp" "$tree"
	fi
	SRC_DIR=$tree
}

# Every CONFIG_ line of the fragment must have survived olddefconfig:
# a silently dropped option would make the kernel quietly less useful.
check_config() {
	local frag=$1 cfg=$2 line sym bad=0
	while IFS= read -r line; do
		case $line in CONFIG_*) ;; *) continue ;; esac
		sym=${line%%=*}
		if ! grep -qxF "$line" "$cfg"; then
			echo "config: wanted $line, got" \
			     "$(grep -E "^$sym=|^# $sym is not set" "$cfg" || echo unset)" >&2
			bad=1
		fi
	done < "$frag"
	return $bad
}

# The archive decides the version; with no archive, the newest source
# already in the cache is used, and said so.
if papt_setup && src=$(newest_source); then
	:
elif src=$(cached_source); then
	step "the archive cannot be read: using the cached source tree" \
	     "$(echo "$src" | cut -d' ' -f1,3)"
else
	die "no linux-source-7.* in ${PAPT_SUITES[*]} (read from" \
	    "'$(debian_mirror)') and none cached under $PTMARK_CACHE/src;" \
	    "fix: see the private apt messages above"
fi
read -r pkg suite ver <<< "$src"
fetch_source "$pkg" "$suite" "$ver"

# The fragment is this run's own: checkouts building side by side (one
# of them with KASAN) must not see each other's.
frag=$(mktemp "${TMPDIR:-/tmp}/ptmark-dev-kernel.XXXXXX.config")
trap 'rm -f "$frag"' EXIT
if [ -z "$KEY" ]; then
	cat "$PTMARK_ROOT/configs/dev-kernel.config" > "$frag"
else
	# The common fragment less what arm64 lacks ("# drop: CONFIG_X"
	# lines of the arm64 file), then arm64's own lines.
	grep -vE "^($(arm64_drops))=" "$PTMARK_ROOT/configs/dev-kernel.config" > "$frag"
	cat "$PTMARK_ROOT/configs/dev-kernel-arm64.config" >> "$frag"
fi
if [ "${PTMARK_KASAN:-0}" = 1 ]; then
	printf 'CONFIG_KASAN=y\nCONFIG_KASAN_GENERIC=y\nCONFIG_KASAN_INLINE=y\n' >> "$frag"
fi
# kmemleak on from boot; the VM's init triggers a scan at the end of the
# run and the verdict reads its reports.
if [ "${PTMARK_KMEMLEAK:-0}" = 1 ]; then
	printf 'CONFIG_DEBUG_KMEMLEAK=y\n# CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF is not set\n' >> "$frag"
fi
# gcov, profiling only what configs/coverage.patch names.
patches=()
if [ -n "${PTMARK_KERNEL_PATCHES:-}" ]; then
	pdir=$(cd "$PTMARK_KERNEL_PATCHES" 2>/dev/null && pwd) ||
		die "PTMARK_KERNEL_PATCHES=$PTMARK_KERNEL_PATCHES is not a directory"
	[ -n "$(patch_list "$pdir")" ] || die "no series and no *.patch in $pdir"
	mapfile -t patches < <(patch_list "$pdir")
fi
if [ "${PTMARK_COVERAGE:-0}" = 1 ]; then
	printf 'CONFIG_GCOV_KERNEL=y\n# CONFIG_GCOV_PROFILE_ALL is not set\n' >> "$frag"
	patches+=("$PTMARK_ROOT/configs/coverage.patch")
fi
PATCH_HASH=
if [ "${#patches[@]}" -gt 0 ]; then
	# Only what patch applies counts: a reworded commit message, a
	# note or a cover letter does not rebuild the kernel.
	PATCH_HASH=$(for p in "${patches[@]}"; do
			sed -n '/^diff --git \|^--- a\//,$p' "$p"
		     done | sha256sum | cut -c1-12)
	patched_source "${patches[@]}"
fi
hash=$( (cat "$frag"; $CC_VERSION --version | head -n1
	 [ -z "$PATCH_HASH" ] || echo "$PATCH_HASH") | sha256sum | cut -c1-12)
# The gcov build's name does not start with dev-: what looks for the dev
# kernel as kernels/dev-* must never find it, nor hand it on as an output
# directory of its own.
kind=dev
[ "${PTMARK_COVERAGE:-0}" = 1 ] && kind=gcov
OUT=$PTMARK_CACHE/kernels/$kind-$KEY${SRC_VERSION//[~+]/_}${PATCH_HASH:+-p$PATCH_HASH}-$hash

if [ -f "$OUT/.ptmark-built" ]; then
	step "dev kernel $SRC_VERSION (config $hash) cached"
	echo "$OUT"
	exit 0
fi

# One build of a tree at a time: a make style or a second make check that
# needs the same kernel waits for the build under way, then finds it
# cached, instead of running make in the same directory beside it (two
# makes there break each other's objects).
mkdir -p "$(dirname "$OUT")"
exec {lock_fd}> "$OUT.lock"
if ! flock -n "$lock_fd"; then
	step "waiting for the build of $(basename "$OUT") under way"
	flock "$lock_fd"
fi
if [ -f "$OUT/.ptmark-built" ]; then
	step "dev kernel $SRC_VERSION (config $hash) built meanwhile"
	echo "$OUT"
	exit 0
fi

# An interrupted build resumes: make picks up where it stopped.  A tree
# seeded from another configuration is reconfigured, and make rebuilds
# only what the difference touches.
if [ ! -f "$OUT/.config" ] || ! check_config "$frag" "$OUT/.config" 2>/dev/null; then
	step "configuring $pkg $SRC_VERSION (config $hash)"
	mkdir -p "$OUT"
	make -s -C "$SRC_DIR" O="$OUT" "${KARCH[@]}" KCONFIG_ALLCONFIG="$frag" \
		allnoconfig >&2
fi
check_config "$frag" "$OUT/.config" || die "config fragment not honoured"

step "building $KIMAGE, modules_prepare, headers with $(nproc) jobs"
t0=$SECONDS
make -s -C "$SRC_DIR" O="$OUT" "${KARCH[@]}" -j"$(nproc)" "$KIMAGE" modules >&2
make -s -C "$SRC_DIR" O="$OUT" "${KARCH[@]}" modules_prepare >&2
# The selftests build against this kernel's uapi (MADV_GUARD_*, PAGEMAP_SCAN).
make -s -C "$SRC_DIR" O="$OUT" "${KARCH[@]}" headers_install >&2
step "dev kernel built in $((SECONDS - t0))s"
touch "$OUT/.ptmark-built"
echo "$OUT"

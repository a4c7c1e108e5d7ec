#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the module with sparse (C=2) against the dev kernel; any sparse
# warning or error fails, and so does a kernel that refuses the checker.
#
# The sparse is Debian's newest source package of it (trixie-backports or
# sid, through the private apt's deb-src lines), built here with the
# machine's gcc: the kernel wants a sparse that knows __typeof_unqual__,
# newer than Debian 12's, and sid's binary needs a newer glibc.  Only the
# sparse program is built (no LLVM, sqlite, libxml or GTK parts), once per
# source version: $PTMARK_CACHE/sparse/<version>/sparse.  With no
# archive, the newest sparse already built there is used.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

SPARSE_CACHE=$PTMARK_CACHE/sparse
# Source lists live apart from the binary ones (the default private apt's),
# so that neither refresh throws the other's lists away.
papt_use --src apt/src amd64 trixie-backports sid

# newest_archive_version: the highest version of the sparse source
# package in the private source lists.
newest_archive_version() {
	local v best=""
	for v in $(apt-cache "${PAPT_OPTS[@]}" showsrc --only-source sparse 2>/dev/null |
		   awk '/^Version:/ { print $2 }'); do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done
	[ -n "$best" ] && echo "$best"
}

# newest_cached_version: the highest version already built in the cache.
newest_cached_version() {
	local f v best=""
	for f in "$SPARSE_CACHE"/*/.version; do
		[ -x "$(dirname "$f")/sparse" ] || continue
		v=$(cat "$f")
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done
	[ -n "$best" ] && echo "$best"
}

sparse_dir() {
	echo "$SPARSE_CACHE/${1//[~+:]/_}"
}

# build_sparse VERSION: download the source package VERSION, unpack it
# with dpkg-source (dpkg-dev comes with build-essential) and build the
# sparse program into sparse_dir VERSION.
build_sparse() {
	local ver=$1 dir tmp dsc
	dir=$(sparse_dir "$ver")
	tmp=$(mktemp -d "$SPARSE_CACHE/.build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	step "downloading the sparse $ver source package"
	(cd "$tmp" && apt-get "${PAPT_OPTS[@]}" source --download-only -qq \
		"sparse=$ver" > /dev/null) ||
		die "downloading the sparse $ver source failed; fix: check that" \
		    "the mirror in your apt sources is reachable (or set" \
		    "PTMARK_MIRROR)"
	dsc=$tmp/sparse_${ver#*:}.dsc
	[ -f "$dsc" ] || die "apt-get source left no $dsc"
	# apt checked every file against the archive's signed Sources; the
	# uploader's own signature would need debian-keyring.
	dpkg-source --no-check -x "$dsc" "$tmp/src" > /dev/null
	step "building sparse $ver"
	# Debian's packaging names gcc-16; this machine's gcc serves.
	make -C "$tmp/src" -s -j"$(nproc)" CC=gcc HAVE_LLVM=no \
		HAVE_SQLITE=no HAVE_LIBXML=no HAVE_GTK=no HAVE_BOOLECTOR=no \
		SPARSE_VERSION="$ver (Debian source, built by ptmark)" \
		sparse > "$tmp/build.log" 2>&1 ||
		die "building sparse $ver failed: $(tail -n5 "$tmp/build.log")"
	rm -rf "$dir"
	mkdir -p "$tmp/out"
	cp "$tmp/src/sparse" "$tmp/out/"
	echo "$ver" > "$tmp/out/.version"
	mv "$tmp/out" "$dir"
	rm -rf "$tmp"
	trap - EXIT
}

# sparse_tool: the path of the cached sparse built from the newest source
# package, after building it if needed.
sparse_tool() {
	local ver
	mkdir -p "$SPARSE_CACHE"
	if papt_setup && ver=$(newest_archive_version); then
		:
	elif ver=$(newest_cached_version); then
		step "the archive cannot be read: using the cached sparse $ver"
	else
		die "no sparse source package in ${PAPT_SUITES[*]} (read from" \
		    "'$(debian_mirror)') and none built under $SPARSE_CACHE;" \
		    "fix: see the messages above"
	fi
	# Two checkouts may ask at once: one builds, the other waits.
	exec 9> "$SPARSE_CACHE/.lock"
	flock 9
	[ -x "$(sparse_dir "$ver")/sparse" ] || build_sparse "$ver"
	exec 9>&-
	echo "$(sparse_dir "$ver")/sparse"
}

check=$(sparse_tool)
step "sparse: $("$check" --version)"
kdev=$("$PTMARK_ROOT"/scripts/dev-kernel.sh)
out=$PTMARK_ROOT/build/sparse
log=$out.log
rm -rf "$out"
mkdir -p "$out"
cp -r "$PTMARK_ROOT"/Kbuild "$PTMARK_ROOT"/module "$PTMARK_ROOT"/include "$out"/
make -C "$kdev" M="$out" C=2 CHECK="$check" modules 2>&1 | tee "$log"
# A kernel that finds the checker too old says so and builds without it.
if grep -q 'is not available or not up to date' "$log"; then
	die "sparse did not run: the kernel refuses $("$check" --version)"
fi
for src in "$out"/module/*.c; do
	src=module/$(basename "$src")
	grep -qE "^ +CHECK +$src\$" "$log" ||
		die "sparse did not run: no CHECK of $src in $log"
done
if grep -E ': (warning|error):' "$log"; then
	die "sparse is not clean"
fi
echo "sparse: clean"

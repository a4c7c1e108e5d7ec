#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-mirror.sh: debian_mirror()'s own tests.  Each case writes an apt
# configuration the way real Debian 12 machines have one - the installer's
# one-line sources.list, deb822 *.sources, both - into a scratch
# directory, points PTMARK_APT_ETC at it, and checks the mirror found.
# Prints kselftest-style TAP, so the run is counted like any test program.

set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0 pass=0 fail=0

# case NAME WANT: the files written under $etc since the last case.
case_() {
	local name=$1 want=$2 got
	got=$(PTMARK_APT_ETC=$etc PTMARK_MIRROR= bash -c \
		'. "$1"/lib.sh && debian_mirror' _ "$here")
	n=$((n + 1))
	if [ "$got" = "$want" ]; then
		pass=$((pass + 1))
		echo "ok $n mirror.$name"
	else
		fail=$((fail + 1))
		echo "not ok $n mirror.$name #  got '$got', want '$want'"
	fi
}

fresh() { etc=$work/$1; mkdir -p "$etc"/sources.list.d; }

echo "TAP version 13"
echo "1..6"
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-bookworm}")

fresh classic
printf '%s\n' "deb http://sec.example/debian-security $codename-security main" \
	"# deb http://old.example/debian $codename main" \
	"deb http://mirror.example/debian/ $codename main contrib" > "$etc"/sources.list
case_ classic_codename_line http://mirror.example/debian

fresh options
echo "deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://opt.example/debian $codename main" \
	> "$etc"/sources.list
case_ classic_with_options http://opt.example/debian

fresh deb822
cat > "$etc"/sources.list.d/debian.sources <<SRC
Types: deb
URIs: http://sec.example/debian-security
Suites: $codename-security
Components: main

Types: deb
# a comment inside the stanza
URIs: http://snap.example/archive/debian/20250520T000000Z
Suites: $codename $codename-updates
Components: main
SRC
case_ deb822_snapshot http://snap.example/archive/debian/20250520T000000Z

fresh disabled
cat > "$etc"/sources.list.d/debian.sources <<SRC
Types: deb
URIs: http://off.example/debian
Suites: $codename
Enabled: no

Types: deb-src deb
URIs: http://on.example/debian
Suites: $codename
SRC
case_ deb822_disabled_stanza http://on.example/debian

fresh other_suite_only
echo "deb http://plain.example/debian sid main" > "$etc"/sources.list
case_ no_codename_falls_back_to_debian_uri http://plain.example/debian

fresh empty
case_ nothing_found ""

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ "$fail" = 0 ]

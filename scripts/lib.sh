# SPDX-License-Identifier: GPL-2.0
#
# Helpers sourced by the scripts in this directory: step logging with
# elapsed time, the cache location, and a private apt configuration that
# reads suites the machine itself does not use, for `apt-get download` only.

PTMARK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PTMARK_CACHE=${PTMARK_CACHE:-$HOME/.cache/ptmark}
mkdir -p "$PTMARK_CACHE"

step_t0=$SECONDS

# stock_root REL: where stock-kernel.sh unpacked Debian's kernel REL (its
# boot/, lib/modules/REL/ and usr/src/), or / for a kernel the machine
# itself has installed.
stock_root() {
	if [ -f "$PTMARK_CACHE/stock/$1/.complete" ]; then
		echo "$PTMARK_CACHE/stock/$1"
	else
		echo /
	fi
}

# step "what": announce a step; its elapsed time prints with the next one.
step() {
	echo "[ptmark $(date +%H:%M:%S) +$((SECONDS - step_t0))s] $*" >&2
}

die() {
	echo "ptmark: $*" >&2
	exit 1
}

# Every script under `set -e` that sources this file reports the command
# that made it stop, so no step ends without saying why.
if [[ $- == *e* ]]; then
	set -E
	trap 'ptmark_rc=$?; echo "ptmark: ${0##*/}: line $LINENO: \"$BASH_COMMAND\" failed (exit $ptmark_rc)" >&2' ERR
fi

# debian_mirror: the Debian archive this machine's own apt uses, read from
# either sources format (one-line /etc/apt/sources.list and *.list, or
# deb822 *.sources): the first enabled "deb" entry whose suite is the
# release codename (bookworm), else the first URI ending in /debian.
# PTMARK_MIRROR overrides it; PTMARK_APT_ETC reads another /etc/apt (the
# setup tests do).  Prints nothing when there is none.
debian_mirror() {
	if [ -n "${PTMARK_MIRROR:-}" ]; then
		echo "${PTMARK_MIRROR%/}"
		return
	fi
	local etc=${PTMARK_APT_ETC:-/etc/apt} codename f
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	{
		for f in "$etc"/sources.list "$etc"/sources.list.d/*.list; do
			[ -f "$f" ] || continue
			sed -e 's/#.*//' "$f" | awk '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) while ($i !~ /\]$/ && i < NF) i++
				if ($i ~ /^\[/ || $i ~ /\]$/) i++
				print $i, $(i + 1)
			}'
		done
		for f in "$etc"/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			sed -e '/^[[:space:]]*#/d' -e 's/[[:space:]]#.*//' "$f" | awk '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false)$/)
					for (u = 1; u <= nu; u++)
						for (s = 1; s <= ns; s++)
							print uri[u], suite[s]
				types = ""; enabled = ""; nu = 0; ns = 0
			}
			/^[ \t]*$/ { flush(); next }
			{ key = tolower($1); $1 = "" }
			key == "types:" { types = $0 }
			key == "enabled:" { enabled = tolower($2) }
			key == "uris:" { nu = split($0, uri, " ") }
			key == "suites:" { ns = split($0, suite, " ") }
			END { flush() }'
		done
	} | awk -v want="$codename" '
		$1 !~ /^(https?|file):\/\// { next }
		$2 == want && !exact { exact = $1 }
		$1 ~ /\/debian\/?$/ && !plain { plain = $1 }
		END { m = exact ? exact : plain; sub(/\/$/, "", m); if (m) print m }'
}

# Private apt: its own sources, lists and archive cache under the cache
# directory, so the machine's release and sources are never touched.  It
# only ever downloads (apt-get download), so suites of another release
# are safe to read.  The archive may be a frozen snapshot whose Release
# files are past Valid-Until: that is accepted (signatures are still
# checked).  A suite that cannot be fetched is reported, not fatal, as
# long as another one could be.
# papt_use [--src] DIR ARCH SUITE...: point the private apt at its own
# directory under the cache, one architecture and these suites of the
# archive, with binary lists (deb) or, with --src, source lists (deb-src);
# the default, below, is the dev kernel's source package (amd64,
# trixie-backports then sid).  arm64-sysroot.sh takes bookworm's arm64
# packages through another, sparse.sh Debian's sparse source.
papt_use() {
	PAPT_TYPE=deb PAPT_INDEX=Packages
	if [ "$1" = --src ]; then
		PAPT_TYPE=deb-src PAPT_INDEX=Sources
		shift
	fi
	PAPT_DIR=$PTMARK_CACHE/$1
	PAPT_ARCH=$2
	shift 2
	PAPT_SUITES=("$@")
	PAPT_OPTS=(
		-o Dir::Etc::SourceList="$PAPT_DIR"/sources.list
		-o Dir::Etc::SourceParts=/dev/null
		-o Dir::Etc::Preferences=/dev/null
		-o Dir::Etc::PreferencesParts=/dev/null
		-o Dir::State::Lists="$PAPT_DIR"/lists
		-o Dir::State::Status=/dev/null
		-o Dir::Cache="$PAPT_DIR"
		-o Dir::Cache::archives="$PAPT_DIR"/archives
		-o APT::Architecture="$PAPT_ARCH"
		-o APT::Architectures::="$PAPT_ARCH"
		-o APT::Sandbox::User=root
		-o Acquire::Check-Valid-Until=false
		-o Acquire::Languages=none
	)
}
papt_use apt amd64 trixie-backports sid

# papt_suites_listed: the private suites whose package lists are on disk.
papt_suites_listed() {
	local suite
	for suite in "${PAPT_SUITES[@]}"; do
		compgen -G "$PAPT_DIR/lists/*_dists_${suite}_*${PAPT_INDEX}*" >/dev/null &&
			echo "$suite"
	done
	return 0
}

# papt_setup: refresh the private lists (at most once a day).  Returns 0
# when at least one suite has lists to read, fresh or from an earlier
# refresh (said so on stderr); 1, with the reason and the fix on stderr,
# when none has.
papt_setup() {
	local kr=/usr/share/keyrings/debian-archive-keyring.gpg mirror suite
	local stamp=$PAPT_DIR/lists/.updated log=$PAPT_DIR/update.log
	mkdir -p "$PAPT_DIR"/lists/partial "$PAPT_DIR"/archives/partial
	mirror=$(debian_mirror)
	if [ -z "$mirror" ]; then
		echo "ptmark: no Debian archive found in /etc/apt/sources.list or" \
		     "/etc/apt/sources.list.d/*.{list,sources};" \
		     "fix: add one, or set PTMARK_MIRROR=<archive URL>" >&2
		return 1
	fi
	[ -r "$kr" ] || {
		echo "ptmark: $kr missing; fix: apt-get install debian-archive-keyring" >&2
		return 1
	}
	: > "$PAPT_DIR"/sources.list.new
	for suite in "${PAPT_SUITES[@]}"; do
		echo "$PAPT_TYPE [signed-by=$kr] $mirror $suite main" >> "$PAPT_DIR"/sources.list.new
	done
	# A changed mirror means the lists on disk describe another archive.
	if ! cmp -s "$PAPT_DIR"/sources.list.new "$PAPT_DIR"/sources.list; then
		find "$PAPT_DIR"/lists -maxdepth 1 -type f -delete
		mv "$PAPT_DIR"/sources.list.new "$PAPT_DIR"/sources.list
	else
		rm -f "$PAPT_DIR"/sources.list.new
	fi
	if [ -n "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
		return 0
	fi
	# apt-get update exits 0 on some fetch failures: judge by the lists.
	apt-get "${PAPT_OPTS[@]}" update -q > "$log" 2>&1
	local listed missing=0
	listed=$(papt_suites_listed | xargs)
	for suite in "${PAPT_SUITES[@]}"; do
		case " $listed " in
		*" $suite "*) ;;
		*) missing=1
		   echo "ptmark: private apt: suite $suite unavailable from $mirror" \
			"($(grep -A1 -E "^(E|W|Err):.*[ /]$suite[ /]" "$log" | head -n2 | xargs | cut -c1-240))" >&2 ;;
		esac
	done
	if [ "$missing" = 0 ]; then
		touch "$stamp"
		return 0
	fi
	if [ -n "$listed" ]; then
		# Good enough for this run; the refresh is retried next time.
		echo "ptmark: private apt: using the lists of: $listed" \
		     "(full log: $log)" >&2
		return 0
	fi
	echo "ptmark: private apt update from $mirror failed for every suite" \
	     "(${PAPT_SUITES[*]}); fix: make the mirror reachable, or set" \
	     "PTMARK_MIRROR=<archive URL>; full log: $log" >&2
	return 1
}

# build_selftests KDIR OUTPUT INSTALL_PATH [MAKE ARGS...]: build the
# selftests against the kselftest harness and uapi headers of a built dev
# tree (its source/ and usr/include/) and install them, with any extra
# make arguments (a target, TEST_GEN_PROGS=...); "install" if none.
# An arm64 tree (CONFIG_ARM64=y) gets programs cross-built for arm64,
# linked with bookworm's arm64 libraries (arm64-sysroot.sh).
build_selftests() {
	local kdir=$1 out=$2 dest=$3
	shift 3
	cross_env "$kdir" make -s -C "$PTMARK_ROOT"/selftests KSRC="$kdir/source" \
		KHDR="$kdir/usr/include" OUTPUT="$out" INSTALL_PATH="$dest" \
		"${@:-install}" >&2
}

# build_reproducers KDIR OUTPUT INSTALL_PATH: add the stand-alone kernel
# bug reproducers, and their "reproducers" TAP program, to a selftests
# install, built against KDIR's uapi headers.
build_reproducers() {
	cross_env "$1" make -s -C "$PTMARK_ROOT"/reproducers KHDR="$1/usr/include" \
		OUTPUT="$2" INSTALL_PATH="$3" install >&2
}

# bench_setup SCRIPT KDIR RELEASE: what a benchmark run alone in the VM
# needs.  BENCH_KHDR: the dev tree whose harness and uapi headers the
# program builds against (KDIR, else the dev kernel, built if need be);
# BENCH_TARGET: vm.sh's kernel arguments (Debian kernel RELEASE as make
# check caches it, else that tree); BENCH_WORK: a directory removed on
# exit, with ptmark.ko for the target built into BENCH_WORK/ko.
bench_setup() {
	local script=$1 kdir=$2 release=$3 kbuild

	BENCH_KHDR=${kdir:-$("$PTMARK_ROOT"/scripts/dev-kernel.sh)}
	[ -d "$BENCH_KHDR/source" ] && [ -d "$BENCH_KHDR/usr/include" ] ||
		die "$script: $BENCH_KHDR has no source/ and usr/include/"
	if [ -n "$release" ]; then
		kbuild=$(stock_root "$release")/lib/modules/$release/build
		BENCH_TARGET=(--release "$release")
	else
		kbuild=$BENCH_KHDR
		BENCH_TARGET=(--kdir "$BENCH_KHDR")
	fi
	BENCH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/ptmark-bench.XXXXXX")
	trap 'rm -rf "$BENCH_WORK"' EXIT
	step "ptmark.ko for $(basename "${release:-$BENCH_KHDR}")"
	"$PTMARK_ROOT"/scripts/build-module.sh "$kbuild" "$BENCH_WORK"/ko
}

# bench_run PROG TIMEOUT: boot the VM of bench_setup with the selftests
# installed in BENCH_WORK/tests (PROG alone) and print PROG's lines;
# non-zero when the VM run fails (splat, timeout) or PROG does not pass.
bench_run() {
	local prog=$1 timeout=$2 rc=0

	"$PTMARK_ROOT"/scripts/vm.sh "${BENCH_TARGET[@]}" \
		--ko "$BENCH_WORK"/ko/ptmark.ko --tests "$BENCH_WORK"/tests \
		--name bench --timeout "$timeout" \
		--log "$BENCH_WORK"/console.log > "$BENCH_WORK"/vm.out || rc=$?
	sed -n "/^ptmark-run: begin $prog/,/^ptmark-run: end $prog/p" \
		"$BENCH_WORK"/vm.out | sed -n 's/^# //p'
	grep -q '^ok 1 ' "$BENCH_WORK"/vm.out || rc=1
	return $rc
}

# arm64_drops: the options arm64 lacks, as an egrep alternation (the
# "# drop: CONFIG_X" lines of configs/dev-kernel-arm64.config).
arm64_drops() {
	sed -n 's/^# drop: \(CONFIG_[A-Z0-9_]*\).*/\1/p' \
		"$PTMARK_ROOT"/configs/dev-kernel-arm64.config | paste -sd'|'
}

# kmake_args KDIR: the make arguments that build against the kernel tree
# KDIR for its own architecture (none for the host's).
kmake_args() {
	if grep -qx 'CONFIG_ARM64=y' "$1/.config" 2>/dev/null; then
		echo ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
	fi
}

# cross_env KDIR CMD...: run CMD, with the cross compiler and the arm64
# sysroot's headers and libraries in CC and CFLAGS when KDIR is an arm64
# tree (the makefiles add to CFLAGS, and link with it).
cross_env() {
	local kdir=$1 sysroot
	shift
	if ! grep -qx 'CONFIG_ARM64=y' "$kdir/.config" 2>/dev/null; then
		"$@"
		return
	fi
	sysroot=$("$PTMARK_ROOT"/scripts/arm64-sysroot.sh) || return 1
	CC=aarch64-linux-gnu-gcc \
	CFLAGS="-O2 -g -idirafter $sysroot/usr/include -L$sysroot/usr/lib/aarch64-linux-gnu" \
		"$@" CC=aarch64-linux-gnu-gcc
}

# host_kvm_usable IMAGE: 0 if QEMU can actually run the kernel IMAGE with
# KVM here.  /dev/kvm may exist yet fail in two ways seen on these
# machines: QEMU aborts setting up the vCPU (MSRs), or the guest starts
# and then stops for good on its first privileged instructions (a nested
# hypervisor's "INTERNAL_ERROR in batch emul" in the host's log) with
# nothing on the console.  So boot IMAGE itself, without an initramfs or a
# disk: a working KVM takes it to its "no root" panic in seconds, and
# panic=-1 with -no-reboot ends QEMU there.  The answer is kept per host
# boot and image.  PTMARK_ACCEL=kvm or tcg skips the test.
host_kvm_usable() {
	local image=$1 key out
	case ${PTMARK_ACCEL:-} in
	kvm) return 0 ;;
	tcg) return 1 ;;
	esac
	[ -w /dev/kvm ] || return 1
	key=$PTMARK_CACHE/kvm-$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)-$(
		stat -c '%d-%i-%Y' "$image" | md5sum | cut -c1-12)
	if [ ! -f "$key" ]; then
		# A subshell, whose stderr also takes the shell's own
		# "Aborted" report of QEMU's abort.
		out=$( (timeout 30 qemu-system-x86_64 -enable-kvm -cpu host -m 512 \
			-kernel "$image" -append "console=ttyS0 panic=-1" \
			-display none -nodefaults -serial stdio -monitor none \
			-no-reboot </dev/null 2>&1) 2>/dev/null | tr -d '\r')
		if grep -q 'Kernel panic' <<< "$out"; then
			echo kvm > "$key"
		else
			echo tcg > "$key"
		fi
	fi
	[ "$(cat "$key")" = kvm ]
}

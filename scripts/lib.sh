# SPDX-License-Identifier: GPL-2.0
#
# Helpers sourced by the scripts in this directory: step logging with
# elapsed time, the cache location, and a private apt configuration that
# reads suites the machine itself does not use, for `apt-get download` only.

PTMARK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PTMARK_CACHE=${PTMARK_CACHE:-$HOME/.cache/ptmark}
mkdir -p "$PTMARK_CACHE"

step_t0=$SECONDS

# step "what": announce a step; its elapsed time prints with the next one.
step() {
	echo "[ptmark $(date +%H:%M:%S) +$((SECONDS - step_t0))s] $*" >&2
}

die() {
	echo "ptmark: $*" >&2
	exit 1
}

# Private apt: its own sources, lists and archive cache under the cache
# directory, so the machine's release and sources are never touched.
PAPT_DIR=$PTMARK_CACHE/apt
papt_setup() {
	mkdir -p "$PAPT_DIR"/lists/partial "$PAPT_DIR"/archives/partial
	local kr=/usr/share/keyrings/debian-archive-keyring.gpg
	local mirror
	mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' \
		/etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
	mirror=${mirror:-http://deb.debian.org/debian}
	cat > "$PAPT_DIR"/sources.list <<-SRC
	deb [signed-by=$kr] $mirror trixie-backports main
	deb [signed-by=$kr] $mirror sid main
	SRC
	PAPT_OPTS=(
		-o Dir::Etc::SourceList="$PAPT_DIR"/sources.list
		-o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists="$PAPT_DIR"/lists
		-o Dir::Cache="$PAPT_DIR"
		-o Dir::Cache::archives="$PAPT_DIR"/archives
		-o APT::Architecture=amd64
		-o APT::Architectures::=amd64
		-o APT::Sandbox::User=root
	)
	# Refresh the lists at most once a day.
	local stamp="$PAPT_DIR"/lists/.updated
	if [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
		apt-get "${PAPT_OPTS[@]}" update -qq || die "private apt update failed"
		touch "$stamp"
	fi
}

# build_selftests KDIR OUTPUT INSTALL_PATH [MAKE ARGS...]: build the
# selftests against the kselftest harness and uapi headers of a built dev
# tree (its source/ and usr/include/) and install them, with any extra
# make arguments (a target, TEST_GEN_PROGS=...); "install" if none.
build_selftests() {
	local kdir=$1 out=$2 dest=$3
	shift 3
	make -s -C "$PTMARK_ROOT"/selftests KSRC="$kdir/source" \
		KHDR="$kdir/usr/include" OUTPUT="$out" INSTALL_PATH="$dest" \
		"${@:-install}" >&2
}

# host_kvm_usable: 0 if QEMU can actually run a guest with KVM here.
# /dev/kvm may exist yet fail when QEMU sets up the vCPU (MSRs), so try
# it: a guest with no boot device spins in firmware until the timeout
# kills it (124); an unusable KVM makes QEMU exit at once.
host_kvm_usable() {
	[ -w /dev/kvm ] || return 1
	timeout 3 qemu-system-x86_64 -enable-kvm -cpu host -m 128 \
		-display none -nodefaults -serial none -monitor none \
		-no-reboot >/dev/null 2>&1
	[ $? -eq 124 ]
}

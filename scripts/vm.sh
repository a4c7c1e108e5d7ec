#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel in QEMU with ptmark.ko and the selftests, run them, and
# fail on any kernel splat.
#
#   vm.sh --kdir DIR | --release REL   which kernel: a built tree (its
#                                      bzImage, or an arm64 tree's Image,
#                                      built-in drivers) or a
#                                      Debian kernel (boot/, lib/modules/REL
#                                      under $(stock_root REL): the cache's
#                                      unpacked copy, else the machine's)
#         --ko FILE                    ptmark.ko built for that kernel
#                                      (.ko, .ko.xz or .ko.zst)
#         --tests DIR                  installed selftests (make install)
#         [--mode tests|kselftest|run|shell]
#                                      what the guest does (default tests:
#                                      ptmark's run_tests.sh; kselftest:
#                                      the kernel's run_kselftest.sh
#                                      installed beside it, as a farm runs it)
#         [--only "t1 t2"]             run only these test programs
#         [--name NAME] [--timeout S] [--log FILE]
#                                      (--timeout defaults to
#                                      $PTMARK_VM_TIMEOUT, else 900; none
#                                      in shell mode, 0 is none)
#         [--cpus N]                   vCPUs, an even number (default 2)
#         [--debugfs off]              boot with debugfs=off: the module
#                                      must load and work without it
#         [--gcov DIR]                 on a kernel with CONFIG_GCOV_KERNEL:
#                                      zero the counters just before the
#                                      tests, and once they are done put
#                                      the .gcda files of
#                                      /sys/kernel/debug/gcov under DIR
#                                      (default $PTMARK_VM_GCOV, if set)
#
# The guest: N vCPUs on two sockets, one NUMA node each, 2 GiB, a swap
# disk and an ext4 disk (virtio-blk, found by serial), busybox init.  An
# arm64 kernel tree (CONFIG_ARM64=y) boots in qemu-system-aarch64's virt
# machine under TCG with -cpu max, the same disks, NUMA nodes and init; its
# programs (--tests, built for arm64) run with bookworm's arm64 libraries
# and busybox from scripts/arm64-sysroot.sh.
# Serial output streams to stdout with '\r' removed, kernel messages only
# to the log unless PTMARK_VM_VERBOSE=1; the exit status is non-zero on a
# splat, a missing "done", a failed rmmod, a timeout, or a machine that
# lacks what the suite needs (ptmark.ko loaded and /dev/ptmark open, the
# ext4 disk, swap, two NUMA nodes, the huge pages asked for).  A guest
# that has not reached init after $PTMARK_VM_BOOT_TIMEOUT seconds (default
# 300) is stopped and booted once more, said so on stderr; twice is a
# failure.
#
# PTMARK_VM_BREAK="insmod,device,ext4,swap,numa,hugepages" (any subset)
# takes that prerequisite away, to prove that the run then fails.
# PTMARK_FUZZ_SEED, PTMARK_FUZZ_CALLS, PTMARK_FUZZ_SECONDS and
# PTMARK_TEST_TIMEOUT, when set, reach the guest's tests (selftests/fuzz.c,
# run_tests.sh), and so does PTMARK_MISOBSERVE (ptmark_misobserve()).  On a kernel with kmemleak the guest scans for leaks once
# the tests are done and the module is unloaded, and prints the reports.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

KDIR= RELEASE= KO= TESTS= MODE=tests ONLY= NAME=vm LOG= CPUS=2 DEBUGFS=on
TIMEOUT= GCOV=${PTMARK_VM_GCOV:-}
while [ $# -gt 0 ]; do
	case $1 in
	--kdir) KDIR=$2 ;;
	--release) RELEASE=$2 ;;
	--ko) KO=$2 ;;
	--tests) TESTS=$2 ;;
	--mode) MODE=$2 ;;
	--only) ONLY=$2 ;;
	--name) NAME=$2 ;;
	--timeout) TIMEOUT=$2 ;;
	--log) LOG=$2 ;;
	--cpus) CPUS=$2 ;;
	--debugfs) DEBUGFS=$2 ;;
	--gcov) GCOV=$2 ;;
	*) die "vm.sh: unknown argument $1" ;;
	esac
	shift 2
done

[ -n "$KO" ] && [ -f "$KO" ] || die "vm.sh: --ko FILE needed"
# A shell waits for its user: no time limit unless asked for.
[ "$MODE" = shell ] && TIMEOUT=${TIMEOUT:-0}
TIMEOUT=${TIMEOUT:-${PTMARK_VM_TIMEOUT:-900}}
GUEST_ARCH=x86_64
if [ -n "$KDIR" ]; then
	IMAGE=$KDIR/arch/x86/boot/bzImage
	if grep -qx 'CONFIG_ARM64=y' "$KDIR/.config" 2>/dev/null; then
		GUEST_ARCH=arm64
		IMAGE=$KDIR/arch/arm64/boot/Image
	fi
	MODDIR=
elif [ -n "$RELEASE" ]; then
	SROOT=$(stock_root "$RELEASE")
	IMAGE=${SROOT%/}/boot/vmlinuz-$RELEASE
	MODDIR=${SROOT%/}/lib/modules/$RELEASE
else
	die "vm.sh: --kdir or --release needed"
fi
[ -f "$IMAGE" ] || die "vm.sh: no kernel image $IMAGE"

BREAK=,${PTMARK_VM_BREAK:-},
broken() { [[ $BREAK == *,$1,* ]]; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ptmark-vm.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
LOG=${LOG:-$WORK/console.log}

# -- initramfs ------------------------------------------------------------
root=$WORK/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt/ext4,ptmark,lib/ptmark-modules}
SYSROOT=
if [ "$GUEST_ARCH" = arm64 ]; then
	SYSROOT=$("$PTMARK_ROOT"/scripts/arm64-sysroot.sh) ||
		die "vm.sh: no arm64 sysroot"
	cp "$SYSROOT"/bin/busybox "$root"/bin/busybox
else
	cp /bin/busybox "$root"/bin/busybox
fi
# unpack: a module as busybox insmod takes it, decompressed.
unpack() {
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -dcq "$1" ;;
	*) cat "$1" ;;
	esac
}
unpack "$KO" > "$root"/ptmark/ptmark.ko
broken insmod && truncate -s 4096 "$root"/ptmark/ptmark.ko

# arm64_libs FILE...: the guest paths and host copies ("GUEST HOST" lines)
# of the shared libraries arm64 programs need, and those libraries' own:
# the cross compiler's C library, the sysroot's others.  The interpreter
# goes where the programs name it, the rest where the arm64 loader looks
# with no ld.so.cache.
arm64_libs() {
	local todo=("$@") f need dir seen=" "
	while [ ${#todo[@]} -gt 0 ]; do
		f=${todo[0]}
		todo=("${todo[@]:1}")
		# A script, or a static program, has no dynamic section: readelf
		# fails on it, and it needs no library.
		for need in $({ aarch64-linux-gnu-readelf -d "$f" 2>/dev/null || true; } |
			      sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			[[ $seen == *" $need "* ]] && continue
			seen+="$need "
			for dir in /usr/aarch64-linux-gnu/lib \
				   "$SYSROOT"/usr/lib/aarch64-linux-gnu \
				   "$SYSROOT"/lib/aarch64-linux-gnu; do
				[ -e "$dir/$need" ] || continue
				echo "/lib/aarch64-linux-gnu/$need $dir/$need"
				todo+=("$dir/$need")
				break
			done
		done
	done
	echo "/lib/ld-linux-aarch64.so.1 /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1"
}

copy_with_libs() {
	local f lib guest host
	if [ "$GUEST_ARCH" = arm64 ]; then
		arm64_libs "$@" | sort -u | while read -r guest host; do
			mkdir -p "$root$(dirname "$guest")"
			cp -L "$host" "$root$guest"
		done
		return
	fi
	for f in "$@"; do
		# Scripts and static binaries have no libraries to copy.
		{ ldd "$f" 2>/dev/null || true; } | { grep -o '/[^ ]*' || true; } |
		while read -r lib; do
			[ -e "$root$lib" ] && continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	done
}

if [ -n "$TESTS" ]; then
	cp -a "$TESTS" "$root"/ptmark/tests
	copy_with_libs $(find "$root"/ptmark/tests -type f -perm -u+x)
fi
[ "$MODE" = run ] && cp "$PTMARK_ROOT"/scripts/demo.sh "$root"/ptmark/demo.sh

# The kernel's runner times programs out with coreutils' timeout, at
# /usr/bin, where a farm's root filesystem has it (busybox's lacks
# --foreground).
if [ "$MODE" = kselftest ]; then
	mkdir -p "$root"/usr/bin
	if [ "$GUEST_ARCH" = arm64 ]; then
		cp "$SYSROOT"/usr/bin/timeout "$root"/usr/bin/timeout
	else
		cp /usr/bin/timeout "$root"/usr/bin/timeout
	fi
	copy_with_libs "$root"/usr/bin/timeout
fi

# The loader's cache, as an installed system has it: without one, ld.so
# looks for each library in every glibc-hwcaps, tls and platform
# directory before the right one, a dozen failed lookups that each
# dynamically linked program (ptmarkctl, the tests) pays at every start.
if [ "$GUEST_ARCH" = x86_64 ] && [ -d "$root"/lib ]; then
	mkdir -p "$root"/etc
	/sbin/ldconfig -r "$root" ||
		echo "vm.sh: ldconfig failed: the guest has no loader cache" >&2
fi

# A Debian kernel has the disk and ext4 drivers (6.1: virtio-pci too) as
# modules: take them and their dependencies, in load order, decompressed
# for busybox insmod.
if [ -n "$MODDIR" ]; then
	n=0
	for m in virtio_pci virtio_blk ext4; do
		modprobe -d "$SROOT" --show-depends -S "$RELEASE" "$m" | awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		n=$((n + 1))
		base=$(basename "$ko")
		unpack "$ko" > "$root/lib/ptmark-modules/$(printf %02d $n)-${base%%.ko*}.ko"
	done
fi

cat > "$root"/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# What udev makes on a full system, and the kernel's runner writes to.
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null ||
	echo "ptmark-vm: no debugfs"
mount -t tmpfs tmp /tmp
brk=$(sed -n 's/.*ptmark.break=\([a-z,]*\).*/\1/p' /proc/cmdline)
echo "ptmark-vm: init at $(cut -d' ' -f1 /proc/uptime)s on $(uname -r)"
for m in /lib/ptmark-modules/*.ko; do
	[ -e "$m" ] || continue
	err=$(insmod "$m" 2>&1) || echo "ptmark-vm: insmod ${m##*/}: $err"
done
for d in /sys/block/vd*; do
	[ -e "$d/serial" ] || continue
	case $(cat "$d/serial") in
	ptmark-swap) swapon "/dev/${d##*/}" ;;
	ptmark-ext4) mount -t ext4 "/dev/${d##*/}" /mnt/ext4 ;;
	esac
done
export PTMARK_KO=/ptmark/ptmark.ko PTMARK_EXT4=/mnt/ext4
for v in $(tr ' ' '\n' < /proc/cmdline | sed -n 's/^ptmark\.env\.\([A-Z_]*=[a-z0-9,-]*\)$/\1/p'); do
	export "$v"
done
seen=$(dmesg | wc -l)
if err=$(insmod $PTMARK_KO 2>&1); then
	echo "ptmark-vm: insmod ok"
else
	echo "ptmark-vm: insmod failed: $err"
	dmesg | tail -n +$((seen + 1)) | sed 's/^/ptmark-vm: insmod: /'
fi
case ",$brk," in *,device,*) rm -f /dev/ptmark ;; esac
# The machine the suite was written for; anything missing fails the run
# (a test would only skip).
incomplete() { echo "ptmark-vm: machine incomplete: $*"; }
grep -q '^ptmark ' /proc/modules || incomplete "ptmark.ko not loaded"
[ -c /dev/ptmark ] && { : < /dev/ptmark; } 2>/dev/null ||
	incomplete "/dev/ptmark cannot be opened"
grep -q ' /mnt/ext4 ext4 ' /proc/mounts || incomplete "no ext4 disk on /mnt/ext4"
[ "$(awk 'NR > 1' /proc/swaps | wc -l)" -ge 1 ] || incomplete "no active swap"
nodes=$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)
[ "$nodes" -ge 2 ] || incomplete "$nodes NUMA node(s) online, 2 needed"
want=$(sed -n 's/.*ptmark.hugepages=\([0-9]*\).*/\1/p' /proc/cmdline)
have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
[ "${have:-0}" -ge "${want:-0}" ] ||
	incomplete "$have of ${want:-0} huge pages reserved"
echo "ptmark-vm: nodes $nodes swap $(awk 'NR > 1' /proc/swaps | wc -l)" \
     "hugepages $have ext4 $(grep -c ' /mnt/ext4 ext4 ' /proc/mounts)"
# What the module finds in this kernel (scripts/kernel-matrix.sh reads it).
[ -r /sys/kernel/debug/ptmark/features ] &&
	sed 's/^/ptmark-vm: feature /' /sys/kernel/debug/ptmark/features
mode=$(sed -n 's/.*ptmark.mode=\([a-z]*\).*/\1/p' /proc/cmdline)
# Coverage: what the tests reach, not what booting did.
gcov=
grep -q ' ptmark.gcov=1' /proc/cmdline && gcov=/sys/kernel/debug/gcov
if [ -n "$gcov" ]; then
	echo 1 > $gcov/reset && echo "ptmark-vm: gcov counters reset" ||
		echo "ptmark-vm: gcov: no $gcov/reset"
fi
only=$(sed -n 's/.*ptmark.only=\([a-z0-9_,-]*\).*/\1/p' /proc/cmdline)
case $mode in
tests)	PTMARK_TESTS=$(echo "$only" | tr , ' ') \
		sh /ptmark/tests/ptmark/run_tests.sh /ptmark/tests ;;
kselftest)
	sel=
	for p in $(echo "$only" | tr , ' '); do sel="$sel -t ptmark:$p"; done
	(cd /ptmark/tests && sh ./run_kselftest.sh $sel)
	echo "ptmark-vm: run_kselftest.sh rc=$?" ;;
run)	sh /ptmark/demo.sh ;;
shell)	# make shell: the demo left running, ptmarkctl on the PATH.
	/ptmark/tests/ptmark/ptmark_demo --stay "$PTMARK_EXT4" > /tmp/demo.log 2>&1 &
	demo=$!
	sleep 1
	echo "ptmark-vm: shell: ptmark_demo is pid $demo (output in /tmp/demo.log); try: ptmarkctl maps $demo; exit powers off"
	PATH=/bin:/ptmark/tests/ptmark PS1='ptmark-vm# ' setsid cttyhack sh
	kill $demo 2>/dev/null
	wait $demo 2>/dev/null ;;
esac
echo "ptmark-vm: tests done at $(cut -d' ' -f1 /proc/uptime)s"
if grep -q '^ptmark ' /proc/modules; then
	rmmod ptmark
	echo "ptmark-vm: rmmod rc=$?"
else
	echo "ptmark-vm: rmmod rc=not-loaded"
fi
# Leaks show only after a scan; the first one just records what is there,
# so scan twice, and have the reports in the log the verdict reads.
if [ -e /sys/kernel/debug/kmemleak ]; then
	if echo scan > /sys/kernel/debug/kmemleak && sleep 1 &&
	   echo scan > /sys/kernel/debug/kmemleak; then
		echo "ptmark-vm: kmemleak scanned"
		sed 's/^/ptmark-vm: kmemleak: /' /sys/kernel/debug/kmemleak |
			head -n 200
	else
		echo "ptmark-vm: kmemleak cannot scan (disabled at boot?)"
	fi
fi
# The counters of every profiled object, as a tar on the disk the host
# reads back.  The .gcda files are pseudo files: cat gives their contents.
if [ -n "$gcov" ]; then
	out=
	for d in /sys/block/vd*; do
		[ "$(cat "$d/serial" 2>/dev/null)" = ptmark-gcov ] && out=/dev/${d##*/}
	done
	mkdir /tmp/gcov
	n=0
	for f in $(cd $gcov && find . -name '*.gcda'); do
		mkdir -p "/tmp/gcov/${f%/*}"
		cat "$gcov/$f" > "/tmp/gcov/$f" && n=$((n + 1))
	done
	if [ -n "$out" ] && tar -cf "$out" -C /tmp/gcov . && sync; then
		echo "ptmark-vm: gcov: $n files saved"
	else
		echo "ptmark-vm: gcov: saving $n files failed"
	fi
	rm -rf /tmp/gcov
fi
echo "ptmark-vm: dmesg begin"
dmesg
echo "ptmark-vm: dmesg end"
echo "ptmark-vm: done"
poweroff -f
INIT
chmod +x "$root"/init
(cd "$root" && find . | cpio -o -H newc --quiet) > "$WORK"/initramfs.cpio

# -- disks ----------------------------------------------------------------
truncate -s 512M "$WORK"/swap.img
mkswap -q "$WORK"/swap.img
truncate -s 512M "$WORK"/ext4.img
mkfs.ext4 -q -F "$WORK"/ext4.img

# -- boot -----------------------------------------------------------------
if [ "$GUEST_ARCH" = arm64 ]; then
	# An x86-64 host runs arm64 only under TCG.  pauth-impdef: should
	# pointer authentication be on, the hash QEMU computes fast (the dev
	# kernel has no ARM64_PTR_AUTH and leaves it off).
	qemu_bin=qemu-system-aarch64
	accel=(-M virt -accel tcg -cpu max,pauth-impdef=on)
	accel_name=tcg
elif host_kvm_usable "$IMAGE"; then
	qemu_bin=qemu-system-x86_64
	accel=(-enable-kvm -cpu host)
	accel_name=kvm
else
	qemu_bin=qemu-system-x86_64
	accel=(-accel tcg -cpu max)
	accel_name=tcg
fi

# loglevel=5: warnings and worse reach the console as they happen; the
# chatter that could split a TAP line waits for the dmesg dump at the end.
# no_timer_check: under TCG on a busy host the kernel's check that the
# IO-APIC timer ticks can miss its window and panic the boot ("IO-APIC +
# timer doesn't work!", seen with stock 6.12 at a load of 18 on 2 cores).
# numa_balancing=disable: Debian's kernels balance by default, and the
# hinting faults it arms turn present PTEs PROT_NONE behind the tests'
# backs (a scan and a netlink dump of the same page then disagree on its
# write bit); a test that wants balancing turns it on (kernel.numa_balancing).
# arm64's virt machine: the PL011 console, and no IO-APIC timer to check.
if [ "$GUEST_ARCH" = arm64 ]; then
	append="console=ttyAMA0 loglevel=5 panic=-1 numa_balancing=disable"
else
	append="console=ttyS0 loglevel=5 panic=-1 no_timer_check numa_balancing=disable"
fi
append+=" ptmark.mode=$MODE"
append+=" hugepages=$(broken hugepages && echo 0 || echo 16) ptmark.hugepages=16"
[ -n "$ONLY" ] && append+=" ptmark.only=$(echo "$ONLY" | tr ' ' ,)"
case $DEBUGFS in
on) ;;
off) append+=" debugfs=off" ;;
*) die "vm.sh: --debugfs takes on or off, not $DEBUGFS" ;;
esac
# Under KASAN and TCG, ACPI's _PRT method runs past the AML loop timeout,
# the virtio disks get no interrupt and the guest waits forever for them:
# route PCI interrupts without ACPI there.
if [ -n "$KDIR" ] && grep -qx 'CONFIG_KASAN=y' "$KDIR/.config" 2>/dev/null; then
	append+=" pci=noacpi"
fi
for v in PTMARK_FUZZ_SEED PTMARK_FUZZ_CALLS PTMARK_FUZZ_SECONDS PTMARK_TEST_TIMEOUT; do
	[ -n "${!v:-}" ] || continue
	[[ ${!v} =~ ^[0-9]+$ ]] || die "vm.sh: $v must be a number, not ${!v}"
	append+=" ptmark.env.$v=${!v}"
done
if [ -n "${PTMARK_MISOBSERVE:-}" ]; then
	[[ $PTMARK_MISOBSERVE =~ ^[a-z0-9,-]+$ ]] ||
		die "vm.sh: PTMARK_MISOBSERVE takes point names, not $PTMARK_MISOBSERVE"
	append+=" ptmark.env.PTMARK_MISOBSERVE=$PTMARK_MISOBSERVE"
fi
broken device && append+=" ptmark.break=device"

disks=()
broken swap || disks+=(-drive file="$WORK"/swap.img,format=raw,if=none,id=swap
	-device virtio-blk-pci,drive=swap,serial=ptmark-swap)
broken ext4 || disks+=(-drive file="$WORK"/ext4.img,format=raw,if=none,id=ext4
	-device virtio-blk-pci,drive=ext4,serial=ptmark-ext4)
if [ -n "$GCOV" ]; then
	[ -n "$KDIR" ] && grep -qx 'CONFIG_GCOV_KERNEL=y' "$KDIR/.config" ||
		die "vm.sh: --gcov needs --kdir a kernel built with CONFIG_GCOV_KERNEL"
	append+=" ptmark.gcov=1"
	truncate -s 256M "$WORK"/gcov.img
	disks+=(-drive file="$WORK"/gcov.img,format=raw,if=none,id=gcov
		-device virtio-blk-pci,drive=gcov,serial=ptmark-gcov)
fi
[[ $CPUS =~ ^[0-9]+$ ]] && [ $((CPUS % 2)) = 0 ] && [ "$CPUS" -gt 0 ] ||
	die "vm.sh: --cpus takes an even number, not $CPUS"
half=$((CPUS / 2))
if broken numa; then
	numa=(-smp "$CPUS",sockets=1,cores="$CPUS",threads=1)
else
	numa=(-smp "$CPUS",sockets=2,cores="$half",threads=1
	      -object memory-backend-ram,id=m0,size=1G
	      -object memory-backend-ram,id=m1,size=1G
	      -numa node,nodeid=0,cpus=0-$((half - 1)),memdev=m0
	      -numa node,nodeid=1,cpus=$half-$((CPUS - 1)),memdev=m1)
fi

# boot ATTEMPT: run the guest once, its console in $LOG.  A watchdog
# stops QEMU when the guest has not reached init ("ptmark-vm: init")
# within $BOOT_TIMEOUT seconds and leaves $WORK/no-init behind: a guest
# that printed nothing at all for 900 s was seen once under TCG (stock
# 6.1, a boot that worked before and after), and that is a hang of the
# emulated machine, not a result.
BOOT_TIMEOUT=${PTMARK_VM_BOOT_TIMEOUT:-300}
boot() {
	local watchdog
	rm -f "$WORK"/qemu.pid "$WORK"/no-init
	: > "$LOG"
	(
		for _ in $(seq "$BOOT_TIMEOUT"); do
			sleep 1
			grep -q '^ptmark-vm: init' "$LOG" 2>/dev/null && exit 0
		done
		touch "$WORK"/no-init
		[ -s "$WORK"/qemu.pid ] && kill "$(cat "$WORK"/qemu.pid)" 2>/dev/null
		exit 0
	) &
	watchdog=$!
	step "vm $NAME: booting $(basename "$IMAGE") ($accel_name)${1:+, attempt $1}"
	t0=$(date +%s.%N)
	set +e
	qemu=(timeout --foreground "$TIMEOUT" "$qemu_bin" "${accel[@]}"
		-m 2G "${numa[@]}"
		-kernel "$IMAGE" -initrd "$WORK"/initramfs.cpio -append "$append"
		"${disks[@]}"
		-display none -serial stdio -monitor none -nodefaults
		-pidfile "$WORK"/qemu.pid -no-reboot)
	if [ "$MODE" = shell ]; then
		# The terminal talks to the guest's shell: keystrokes in,
		# everything out as it comes (prompts end no line).
		"${qemu[@]}" 2>&1 | tee "$LOG"
		qemu_rc=${PIPESTATUS[0]}
		sed -i 's/\r$//' "$LOG"
		set -e
		kill "$watchdog" 2>/dev/null || true
		wait "$watchdog" 2>/dev/null || true
		return
	fi
	# tr writing to a pipe would hold a quiet guest's lines back in its
	# buffer, from the watchdog and from the log alike: line-buffer it.
	"${qemu[@]}" </dev/null 2>&1 |
		stdbuf -oL tr -d '\r' | tee "$LOG" | {
			first=
			while IFS= read -r line; do
				# Kernel messages stay in the log (and any splat
				# is shown below) unless PTMARK_VM_VERBOSE=1 asks
				# for them.
				if [[ $line != "["* ]] || [ "${PTMARK_VM_VERBOSE:-0}" = 1 ]; then
					printf '%s\n' "$line"
				fi
				if [ -z "$first" ] && [[ $line == "TAP version"* ]]; then
					first=1
					echo "ptmark-vm: first TAP line $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5)s after QEMU start" >&2
				fi
			done
		}
	qemu_rc=${PIPESTATUS[0]}
	set -e
	kill "$watchdog" 2>/dev/null || true
	wait "$watchdog" 2>/dev/null || true
}

boot
if [ -e "$WORK"/no-init ]; then
	echo "ptmark-vm: $NAME: the guest did not reach init in ${BOOT_TIMEOUT}s, booting it again" >&2
	cp "$LOG" "$LOG.no-init"
	boot 2
	if [ -e "$WORK"/no-init ]; then
		echo "ptmark-vm: $NAME: the guest did not reach init in ${BOOT_TIMEOUT}s twice" >&2
		exit 1
	fi
fi

# -- verdict --------------------------------------------------------------
fail=0
if [ -n "$GCOV" ]; then
	mkdir -p "$GCOV"
	if grep -q '^ptmark-vm: gcov: [0-9]* files saved' "$LOG" &&
	   tar -xf "$WORK"/gcov.img -C "$GCOV"; then
		step "vm $NAME: gcov data in $GCOV"
	else
		echo "ptmark-vm: $NAME: no gcov data came back" >&2
		fail=1
	fi
fi
if [ "$qemu_rc" = 124 ]; then
	echo "ptmark-vm: $NAME: TIMEOUT after ${TIMEOUT}s" >&2
	fail=1
fi
# A kernel's known splats (selftests/expected/NAME.splats): the warnings
# that are the exact symptom of a bug the suite reports as XFAIL.
splats=$PTMARK_ROOT/selftests/expected/$NAME.splats
[ -f "$splats" ] || splats=
"$PTMARK_ROOT"/scripts/vm-verdict.sh "$NAME" "$LOG" ${splats:+"$splats"} || fail=1
exit $fail

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel in QEMU with ptmark.ko and the selftests, run them, and
# fail on any kernel splat.
#
#   vm.sh --kdir DIR | --release REL   which kernel: a built tree (its
#                                      bzImage, built-in drivers) or an
#                                      installed Debian kernel (/boot,
#                                      /lib/modules/REL)
#         --ko FILE                    ptmark.ko built for that kernel
#         --tests DIR                  installed selftests (make install)
#         [--mode tests|run|shell]     what the guest does (default tests)
#         [--only "t1 t2"]             run only these test programs
#         [--name NAME] [--timeout S] [--log FILE]
#
# The guest: 2 vCPUs on two sockets, one NUMA node each, 2 GiB, a swap
# disk and an ext4 disk (virtio-blk, found by serial), busybox init.
# Serial output streams to stdout with '\r' removed, kernel messages only
# to the log unless PTMARK_VM_VERBOSE=1; the exit status is non-zero on a
# splat, a missing "done", a failed rmmod or a timeout.

set -euo pipefail
. "$(dirname "$0")"/lib.sh

KDIR= RELEASE= KO= TESTS= MODE=tests ONLY= NAME=vm TIMEOUT=900 LOG=
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
	*) die "vm.sh: unknown argument $1" ;;
	esac
	shift 2
done

[ -n "$KO" ] && [ -f "$KO" ] || die "vm.sh: --ko FILE needed"
if [ -n "$KDIR" ]; then
	IMAGE=$KDIR/arch/x86/boot/bzImage
	MODDIR=
elif [ -n "$RELEASE" ]; then
	IMAGE=/boot/vmlinuz-$RELEASE
	MODDIR=/lib/modules/$RELEASE
else
	die "vm.sh: --kdir or --release needed"
fi
[ -f "$IMAGE" ] || die "vm.sh: no kernel image $IMAGE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ptmark-vm.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
LOG=${LOG:-$WORK/console.log}

# -- initramfs ------------------------------------------------------------
root=$WORK/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,mnt/ext4,ptmark,lib/ptmark-modules}
cp /bin/busybox "$root"/bin/busybox
cp "$KO" "$root"/ptmark/ptmark.ko

copy_with_libs() {
	local f lib
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

# A Debian kernel has the disk and ext4 drivers as modules: take them and
# their dependencies, in load order, decompressed for busybox insmod.
if [ -n "$MODDIR" ]; then
	n=0
	for m in virtio_blk ext4; do
		modprobe --show-depends -S "$RELEASE" "$m" | awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		n=$((n + 1))
		base=$(basename "$ko")
		case $ko in
		*.xz) xz -dc "$ko" ;;
		*.zst) zstd -dcq "$ko" ;;
		*) cat "$ko" ;;
		esac > "$root/lib/ptmark-modules/$(printf %02d $n)-${base%%.ko*}.ko"
	done
fi

cat > "$root"/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmp /tmp
echo "ptmark-vm: init at $(cut -d' ' -f1 /proc/uptime)s on $(uname -r)"
for m in /lib/ptmark-modules/*.ko; do
	[ -e "$m" ] && insmod "$m" 2>/dev/null
done
for d in /sys/block/vd*; do
	[ -e "$d/serial" ] || continue
	case $(cat "$d/serial") in
	ptmark-swap) swapon "/dev/${d##*/}" ;;
	ptmark-ext4) mount -t ext4 "/dev/${d##*/}" /mnt/ext4 ;;
	esac
done
grep -q ' /mnt/ext4 ' /proc/mounts || echo "ptmark-vm: no ext4 disk"
echo "ptmark-vm: nodes $(ls -d /sys/devices/system/node/node* | wc -l)" \
     "swap $(awk 'NR > 1' /proc/swaps | wc -l)"
export PTMARK_KO=/ptmark/ptmark.ko PTMARK_EXT4=/mnt/ext4
if insmod $PTMARK_KO; then
	echo "ptmark-vm: insmod ok"
else
	echo "ptmark-vm: insmod failed"
fi
mode=$(sed -n 's/.*ptmark.mode=\([a-z]*\).*/\1/p' /proc/cmdline)
only=$(sed -n 's/.*ptmark.only=\([a-z0-9_,-]*\).*/\1/p' /proc/cmdline)
case $mode in
tests)	PTMARK_TESTS=$(echo "$only" | tr , ' ') \
		sh /ptmark/tests/run_tests.sh /ptmark/tests ;;
run)	sh /ptmark/demo.sh ;;
shell)	setsid cttyhack sh ;;
esac
if grep -q '^ptmark ' /proc/modules; then
	rmmod ptmark
	echo "ptmark-vm: rmmod rc=$?"
else
	echo "ptmark-vm: rmmod rc=not-loaded"
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
if host_kvm_usable; then
	accel=(-enable-kvm -cpu host)
	accel_name=kvm
else
	accel=(-accel tcg -cpu max)
	accel_name=tcg
fi

append="console=ttyS0 panic=-1 ptmark.mode=$MODE hugepages=16"
[ -n "$ONLY" ] && append+=" ptmark.only=$(echo "$ONLY" | tr ' ' ,)"

step "vm $NAME: booting $(basename "$IMAGE") ($accel_name)"
t0=$(date +%s.%N)
set +e
timeout --foreground "$TIMEOUT" qemu-system-x86_64 "${accel[@]}" \
	-m 2G -smp 2,sockets=2,cores=1,threads=1 \
	-object memory-backend-ram,id=m0,size=1G \
	-object memory-backend-ram,id=m1,size=1G \
	-numa node,nodeid=0,cpus=0,memdev=m0 \
	-numa node,nodeid=1,cpus=1,memdev=m1 \
	-kernel "$IMAGE" -initrd "$WORK"/initramfs.cpio -append "$append" \
	-drive file="$WORK"/swap.img,format=raw,if=none,id=swap \
	-device virtio-blk-pci,drive=swap,serial=ptmark-swap \
	-drive file="$WORK"/ext4.img,format=raw,if=none,id=ext4 \
	-device virtio-blk-pci,drive=ext4,serial=ptmark-ext4 \
	-display none -serial stdio -monitor none -nodefaults \
	-no-reboot </dev/null 2>&1 |
	tr -d '\r' | tee "$LOG" | {
		first=
		while IFS= read -r line; do
			# Kernel messages stay in the log (and any splat is
			# shown below) unless PTMARK_VM_VERBOSE=1 asks for them.
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

# -- verdict --------------------------------------------------------------
fail=0
if [ "$qemu_rc" = 124 ]; then
	echo "ptmark-vm: $NAME: TIMEOUT after ${TIMEOUT}s" >&2
	fail=1
fi
grep -q '^ptmark-vm: done' "$LOG" || { echo "ptmark-vm: $NAME: guest did not finish" >&2; fail=1; }
grep -q '^ptmark-vm: rmmod rc=0' "$LOG" || { echo "ptmark-vm: $NAME: rmmod ptmark failed" >&2; fail=1; }
if "$PTMARK_ROOT"/scripts/splat-scan.sh "$LOG" >&2; then
	:
else
	fail=1
fi
exit $fail

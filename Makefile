# SPDX-License-Identifier: GPL-2.0
#
# ptmark: the one entry point.
#
#   make [KDIR=...]   build ptmark.ko against KDIR (default: the running
#                     kernel's /lib/modules/$(uname -r)/build), and ptmarkctl
#   make module       ptmark.ko only
#   make ptmarkctl    the command-line client only (needs libmnl-dev)
#   make install      install ptmarkctl and its man page (PREFIX=/usr/local)
#   make check        deps, dev kernel, both module builds, native tests,
#                     VM runs on the dev kernel, its arm64 build
#                     (PTMARK_ARM64=0: not) and the stock kernels, one
#                     summary line
#   make run          boot the dev kernel, load ptmark, show what it sees
#                     (ARCH=arm64: the arm64 dev kernel, cross-built, in
#                     QEMU's arm64 virt machine)
#   make shell        the same VM with a shell on its console: ptmark
#                     loaded, ptmarkctl on the PATH, ptmark_demo running
#                     (its PID printed); `exit` powers it off
#   make check-upstream  the kernel's own mm selftests in the same VM
#   make coverage     gcov of the mm code under ptmark's suite and under
#                     check-upstream's, in build/coverage/ (HTML per suite
#                     and their union, table.txt; Documentation/coverage.rst)
#   make bug-report [BUG=ID]  what a maintainer needs about a bug the last
#                     make check found, in build/bug-report/
#   make fuzz         the fuzzer alone in the dev VM for 10^6 calls
#   make vm KDIR=...  run the suite in QEMU on your own built kernel tree
#                     (PTMARK_TESTS="prog ..." for some programs); KSRC=
#                     [O=] a source tree instead, configured with
#                     configs/dev-kernel.config and built first if need be
#   make compare BASE=... NEW=...  the cases whose result changed between
#                     two runs: console logs, or built trees to run first
#   make kernel-matrix  Documentation/kernel-matrix.rst from the last
#                     make check's logs
#   make style        checkpatch.pl --strict over the module
#   make sparse       sparse over the module (C=2) against the dev kernel,
#                     with a sparse built from Debian's source package
#   make install      on a real machine: ptmark.ko into
#                     /lib/modules/<KDIR's release>/extra (modprobe ptmark),
#                     and the kselftest collection into INSTALL_PATH
#                     (default /usr/local/lib/ptmark/kselftest: run its
#                     run_kselftest.sh); the selftests need KSRC= a kernel
#                     source tree with `make headers_install` done, unless
#                     make check's dev kernel is cached.  INSTALL_MOD_PATH=
#                     stages it all under another root.
#   make install-module / make install-tests   either half
#   make clean

KDIR ?= /lib/modules/$(shell uname -r)/build
SCRIPTS := $(CURDIR)/scripts
INSTALL_PATH ?= $(INSTALL_MOD_PATH)/usr/local/lib/ptmark/kselftest

all: module ptmarkctl

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

ptmarkctl:
	$(MAKE) -C ptmarkctl

install: install-module install-tests install-ptmarkctl

# ptmarkctl goes under the same staging root as the module, if any.
install-ptmarkctl: ptmarkctl
	$(MAKE) -C ptmarkctl install DESTDIR=$(or $(DESTDIR),$(INSTALL_MOD_PATH))

# "extra", where 6.1 puts external modules by default (7.x says "updates",
# which DKMS uses): the two never shadow each other.
# The release the module is built for, as the kernel reports it (Debian's
# 6.1 headers give their make another one).
KRELEASE = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"$$/\1/p' \
	$(KDIR)/include/generated/utsrelease.h)

install-module: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) KERNELRELEASE=$(KRELEASE) \
		INSTALL_MOD_DIR=extra modules_install
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KRELEASE)

install-tests:
	$(MAKE) -C selftests install INSTALL_PATH=$(INSTALL_PATH)
	$(MAKE) -C reproducers install INSTALL_PATH=$(INSTALL_PATH) \
		KHDR=$$($(MAKE) -s --no-print-directory -C selftests print-khdr)

check:
	@$(SCRIPTS)/check.sh

# make run ARCH=arm64 (or make shell): the arm64 dev kernel and guest.
RUN_ARCH = $(if $(filter arm64 aarch64,$(ARCH)),arm64,x86_64)

run:
	@PTMARK_ARCH=$(RUN_ARCH) $(SCRIPTS)/run.sh

shell:
	@PTMARK_ARCH=$(RUN_ARCH) $(SCRIPTS)/run.sh shell

check-upstream:
	@$(SCRIPTS)/check-upstream.sh

coverage:
	@$(SCRIPTS)/coverage.sh

bug-report:
	@$(SCRIPTS)/bug-report.sh $(BUG)

fuzz:
	@$(SCRIPTS)/fuzz.sh

kernel-matrix:
	@$(SCRIPTS)/kernel-matrix.sh

deps:
	@$(SCRIPTS)/deps.sh

dev-kernel: deps
	@$(SCRIPTS)/dev-kernel.sh

vm: deps
	@$(SCRIPTS)/vm-kdir.sh $(if $(KSRC),--ksrc $(KSRC) $(if $(O),--out $(O)),$(KDIR))

compare:
	@$(SCRIPTS)/compare.sh "$(BASE)" "$(NEW)"

style: deps
	@$(SCRIPTS)/style.sh

sparse: deps
	@$(SCRIPTS)/sparse.sh

clean:
	$(MAKE) -C selftests clean OUTPUT=$(CURDIR)/selftests/build KSRC=.
	$(MAKE) -C ptmarkctl clean
	rm -rf build *.o *.ko *.mod *.mod.c *.order *.symvers .*.cmd \
		module/*.o module/.*.cmd .module-common.o

.PHONY: all module ptmarkctl install install-module install-tests \
	install-ptmarkctl check check-upstream coverage bug-report fuzz kernel-matrix run shell deps \
	dev-kernel vm compare style sparse clean

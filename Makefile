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
#                     VM runs on the dev and stock kernels, one summary line
#   make run          boot the dev kernel, load ptmark, show what it sees
#   make check-upstream  the kernel's own mm selftests in the same VM
#   make fuzz         the fuzzer alone in the dev VM for 10^6 calls
#   make vm KDIR=...  run the suite in QEMU on your own built kernel tree
#   make style        checkpatch.pl --strict over the module
#   make sparse       sparse over the module (C=2) against the dev kernel
#   make clean

KDIR ?= /lib/modules/$(shell uname -r)/build
SCRIPTS := $(CURDIR)/scripts

all: module ptmarkctl

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

ptmarkctl:
	$(MAKE) -C ptmarkctl

install: ptmarkctl
	$(MAKE) -C ptmarkctl install

check:
	@$(SCRIPTS)/check.sh

run:
	@$(SCRIPTS)/run.sh

check-upstream:
	@$(SCRIPTS)/check-upstream.sh

fuzz:
	@$(SCRIPTS)/fuzz.sh

deps:
	@$(SCRIPTS)/deps.sh

dev-kernel: deps
	@$(SCRIPTS)/dev-kernel.sh

vm: deps
	@$(SCRIPTS)/vm-kdir.sh $(KDIR)

style: deps
	@$(SCRIPTS)/style.sh

sparse: deps
	@$(SCRIPTS)/sparse.sh

clean:
	$(MAKE) -C selftests clean OUTPUT=$(CURDIR)/selftests/build KSRC=.
	$(MAKE) -C ptmarkctl clean
	rm -rf build *.o *.ko *.mod *.mod.c *.order *.symvers .*.cmd \
		module/*.o module/.*.cmd .module-common.o

.PHONY: all module ptmarkctl install check check-upstream fuzz run deps dev-kernel vm style sparse clean

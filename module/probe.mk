# SPDX-License-Identifier: GPL-2.0
#
# Kernel interfaces that leave no macro for module/compat.h to test (they
# are inline functions, or changed only their arguments) are probed here
# in the headers of the kernel being built against, so that a backport
# counts as much as a release.  Each probe defines PTMARK_PROBE_<NAME> to
# 1 or 0; compat.h alone decides what follows from it.

# ptmark_probe NAME,HEADER,GREP: PTMARK_PROBE_NAME=1 when GREP (a grep
# command reading stdin) finds it in the kernel's include/HEADER.
ptmark_probe = -DPTMARK_PROBE_$(1)=$(if $(shell < $(srctree)/include/$(2) $(3) > /dev/null 2>&1 && echo y),1,0)

# The generic page-table readers pudp_get(), p4dp_get(), pgdp_get() and
# pmdp_get(), and pmdp_get_lockless() for every architecture: 6.12 has
# them all, 6.1 none.
ccflags-y += $(call ptmark_probe,PUDP_GET,linux/pgtable.h,grep -qw 'pud_t pudp_get')
ccflags-y += $(call ptmark_probe,PMDP_GET,linux/pgtable.h,grep -qw 'pmd_t pmdp_get')
ccflags-y += $(call ptmark_probe,PMDP_GET_LOCKLESS,linux/pgtable.h,grep -qw 'pmd_t pmdp_get_lockless')
# The VMA flag accessors vm_flags_set() and vm_flags_clear() (6.3).
ccflags-y += $(call ptmark_probe,VM_FLAGS_SET,linux/mm.h,grep -qw 'void vm_flags_set')
# get_user_pages_remote() with a vmas argument (6.1; gone by 6.12).
ccflags-y += $(call ptmark_probe,GUP_REMOTE_VMAS,linux/mm.h,grep -A4 '^long get_user_pages_remote' | grep -q vmas)
# zap_page_range(), the only exported zap of a VMA's pages in 6.1.
ccflags-y += $(call ptmark_probe,ZAP_PAGE_RANGE,linux/mm.h,grep -qw 'void zap_page_range')
# Generic netlink as the ptmark family speaks it: split ops with
# genl_info_dump() and NLA_UINT attributes (6.7; 6.1 has neither).
ccflags-y += $(call ptmark_probe,GENL_INFO_DUMP,net/genetlink.h,grep -qw genl_info_dump)
ccflags-y += $(call ptmark_probe,NLA_UINT,net/netlink.h,grep -qw NLA_UINT)
# linux/leafops.h, where 7.x describes non-present entries as softleaf_t.
ccflags-y += -DPTMARK_PROBE_LEAFOPS=$(if $(wildcard $(srctree)/include/linux/leafops.h),1,0)
# zap_vma_range(), the exported zap of a range of one VMA (7.0).
ccflags-y += $(call ptmark_probe,ZAP_VMA_RANGE,linux/mm.h,grep -qw 'void zap_vma_range')
# The address-space flags that keep migration and compaction off a
# mapping's folios: AS_UNMOVABLE (6.8, with guest_memfd), which 6.11
# replaced by AS_INACCESSIBLE.  Both are enum values, invisible to #ifdef.
ccflags-y += $(call ptmark_probe,AS_INACCESSIBLE,linux/pagemap.h,grep -qw AS_INACCESSIBLE)
ccflags-y += $(call ptmark_probe,AS_UNMOVABLE,linux/pagemap.h,grep -qw AS_UNMOVABLE)
# vmf_insert_pfn_pmd() taking a pfn_t, the type (of linux/pfn_t.h) that
# 7.x dropped for a bare pfn.
ccflags-y += $(call ptmark_probe,INSERT_PFN_PMD_PFN_T,linux/huge_mm.h,grep -q 'vmf_insert_pfn_pmd.*pfn_t pfn')
# The page table check hook for PTE stores: page_table_check_ptes_set()
# (6.6, with set_ptes()), which took the address as well after 6.12; before,
# page_table_check_pte_set().
ccflags-y += $(call ptmark_probe,PTC_PTES_SET,linux/page_table_check.h,grep -qw page_table_check_ptes_set)
ccflags-y += $(call ptmark_probe,PTC_PTES_SET_ADDR,linux/page_table_check.h,grep -q 'void __page_table_check_ptes_set.*unsigned long addr')

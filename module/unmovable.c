// SPDX-License-Identifier: GPL-2.0
/*
 * PTMARK_IOC_UNMOVABLE: set, clear and query the unmovable flag of a
 * shmem file's address space.
 */
#include "ptmark.h"

long ptmark_ioc_unmovable(void __user *uarg)
{
	return -EOPNOTSUPP;
}

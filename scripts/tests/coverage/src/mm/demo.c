// SPDX-License-Identifier: GPL-2.0
/* A fixture for scripts/test-coverage.sh: only its line numbers matter. */

long demo_fault(unsigned long addr, int flags);

static int demo_walk(int x)
{
	if (x > 1)
		return 1;
	if (x < 0)
		return -1;
	return 0;
}

#ifdef CONFIG_DEMO_NONE
static inline int demo_variant(int x)
{
	return 0;
}
#else
static inline int demo_variant(int x)
{
	if (x)
		return x;
	return 2;
}
#endif

long
demo_fault(unsigned long addr,
	   int flags)
{
	if (flags & 1)
		return demo_walk(1);
	return demo_variant(0);
}

int demo_unbuilt(void)
{
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Which mm a request is about, and whether the caller may use it so.
 *
 * A request on the caller's own mm needs nothing more than the device fd
 * (and, to change anything, what ptmark_may_change() asks).  A request on
 * another process stands for what the kernel asks of its own interfaces:
 *
 *  - reading (PTMARK_ACCESS_READ, the scan) is what /proc/pid/pagemap
 *    shows, which proc_mem_open() grants with
 *    mm_access(PTRACE_MODE_READ_FSCREDS);
 *  - writing (PTMARK_ACCESS_WRITE, markers) zaps pages and changes how
 *    the target faults.  process_madvise() takes
 *    mm_access(PTRACE_MODE_READ_FSCREDS) plus CAP_SYS_NICE, and for that
 *    price lets a remote caller give non-destructive advice only; for
 *    destructive changes the kernel asks ptrace-attach (/proc/pid/mem
 *    writes, process_vm_writev()).  ptmark asks both: attach level and
 *    CAP_SYS_NICE.
 *
 * Neither mm_access() nor ptrace_may_access() is exported to modules
 * (kernel/fork.c and kernel/ptrace.c of 7.3 and 6.12), nor is the LSM
 * hook behind them or, in 7.3, a task's dumpability (task_exec_state).
 * So ptmark_may_access() stands for __ptrace_may_access() built from
 * exported pieces, and is stricter wherever it cannot be exact:
 *
 *  - the uid-match grant (same uid and gid, dumpable) is not given,
 *    because dumpability and the LSM cannot be consulted: a process
 *    other than the caller's own needs CAP_SYS_PTRACE;
 *  - that capability is asked over the initial user namespace, which
 *    holds both namespaces the kernel may ask it over (the target's
 *    credentials' and, for a non-dumpable task, its exec-time one);
 *  - it is asked of the caller (ptrace's rule) and of the opener of the
 *    device fd (pagemap's rule: its access is decided at open), so a
 *    passed fd lends no reach beyond its opener's.
 *
 * One thing it cannot be stricter about: LSM ptrace policies (Yama's
 * ptrace_scope, SELinux) are not consulted.  /dev/ptmark is root-only;
 * a system relying on such a policy against root must not load ptmark.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/user_namespace.h>

#include "compat.h"
#include "ptmark.h"

/*
 * May the caller, through the device fd @file, change mm state (markers,
 * the unmovable flag)?  The fd must be open for writing and its opener
 * hold CAP_SYS_ADMIN, the capability pagemap asks of its opener to show
 * pfns: file_ns_capable() reads the credentials the fd was opened with,
 * so a passed fd or a setuid helper writing to it does not elevate.
 */
int ptmark_may_change(struct file *file)
{
	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (!file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN))
		return -EPERM;
	return 0;
}

/* May pfns be shown through @file?  pagemap's rule: its opener's say. */
bool ptmark_may_see_pfns(struct file *file)
{
	return file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN);
}

/*
 * See the top of the file; 0 or -EACCES, as mm_access() answers.  Without
 * a device fd (@file NULL: debugfs, netlink) only the caller is asked.
 */
static int ptmark_may_access(struct file *file, struct mm_struct *mm,
			     unsigned int access)
{
	if (mm == current->mm)
		return 0;
	if (file && !file_ns_capable(file, &init_user_ns, CAP_SYS_PTRACE))
		return -EACCES;
	if (!capable(CAP_SYS_PTRACE))
		return -EACCES;
	/* process_madvise()'s price for influencing another process. */
	if ((access & PTMARK_ACCESS_WRITE) && !capable(CAP_SYS_NICE))
		return -EPERM;
	return 0;
}

/*
 * The mm of @task with a reference (mmput() it), checked like mm_access():
 * under exec_update_lock so that an exec cannot swap the mm between the
 * check and the use.
 */
static struct mm_struct *ptmark_task_mm(struct file *file,
					struct task_struct *task,
					unsigned int access)
{
	struct mm_struct *mm;
	int err;

	err = down_read_killable(&task->signal->exec_update_lock);
	if (err)
		return ERR_PTR(err);

	mm = get_task_mm(task);
	if (!mm) {
		mm = ERR_PTR(-ESRCH);
	} else {
		err = ptmark_may_access(file, mm, access);
		if (err) {
			mmput(mm);
			mm = ERR_PTR(err);
		}
	}
	up_read(&task->signal->exec_update_lock);
	return mm;
}

static struct mm_struct *ptmark_pid_mm(struct file *file, struct pid *pid,
				       unsigned int access)
{
	struct task_struct *task = get_pid_task(pid, PIDTYPE_PID);
	struct mm_struct *mm;

	if (!task)
		return ERR_PTR(-ESRCH);
	mm = ptmark_task_mm(file, task, access);
	put_task_struct(task);
	return mm;
}

struct mm_struct *ptmark_get_mm_pidfd_nr(struct file *file, int pidfd,
					 unsigned int access, pid_t *nr)
{
	struct mm_struct *mm;
	struct file *pidfile;
	struct pid *pid;

	if (pidfd < 0)
		return ERR_PTR(-EBADF);
	pidfile = fget(pidfd);
	if (!pidfile)
		return ERR_PTR(-EBADF);
	pid = ptmark_pidfd_pid(pidfile);
	mm = pid ? ptmark_pid_mm(file, pid, access) : ERR_PTR(-EBADF);
	/* From this very lookup: the number may name another fd by now. */
	if (nr && !IS_ERR(mm))
		*nr = pid_nr(pid);
	fput(pidfile);
	return mm;
}

struct mm_struct *ptmark_get_mm_pidfd_as(struct file *file, int pidfd,
					 unsigned int access)
{
	return ptmark_get_mm_pidfd_nr(file, pidfd, access, NULL);
}

struct mm_struct *ptmark_get_mm_pidfd(int pidfd, unsigned int access)
{
	return ptmark_get_mm_pidfd_as(NULL, pidfd, access);
}

/* debugfs names its target by pid; its files are root-only, read-only. */
struct mm_struct *ptmark_get_mm_pid(pid_t nr)
{
	struct pid *pid = find_get_pid(nr);
	struct mm_struct *mm;

	if (!pid)
		return ERR_PTR(-ESRCH);
	mm = ptmark_pid_mm(NULL, pid, PTMARK_ACCESS_READ);
	put_pid(pid);
	return mm;
}

struct mm_struct *ptmark_get_mm_self(void)
{
	struct mm_struct *mm = get_task_mm(current);

	return mm ?: ERR_PTR(-ESRCH);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Which mm a request is about, and whether the caller may look at it.
 *
 * The kernel's own check, ptrace_may_access() via mm_access(), is not
 * exported to modules, and on 7.x neither is a task's dumpability, which
 * the uid-match half of that check needs.  So ptmark is stricter than
 * ptrace-read: a process outside the caller's thread group can only be
 * inspected with CAP_SYS_PTRACE over its user namespace.  LSM ptrace
 * hooks (Yama and friends) are not consulted; /dev/ptmark and the debugfs
 * files are root-only in any case.
 */
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>

#include "compat.h"
#include "ptmark.h"

static bool ptmark_may_read(struct task_struct *task)
{
	bool ok;

	if (same_thread_group(task, current))
		return true;

	rcu_read_lock();
	ok = ns_capable(__task_cred(task)->user_ns, CAP_SYS_PTRACE);
	rcu_read_unlock();
	return ok;
}

/*
 * The mm of @task with a reference (mmput() it), checked like mm_access():
 * under exec_update_lock so that an exec cannot swap the mm between the
 * check and the use.
 */
static struct mm_struct *ptmark_task_mm(struct task_struct *task)
{
	struct mm_struct *mm;
	int err;

	err = down_read_killable(&task->signal->exec_update_lock);
	if (err)
		return ERR_PTR(err);

	mm = get_task_mm(task);
	if (!mm) {
		mm = ERR_PTR(-ESRCH);
	} else if (!ptmark_may_read(task)) {
		mmput(mm);
		mm = ERR_PTR(-EACCES);
	}
	up_read(&task->signal->exec_update_lock);
	return mm;
}

static struct mm_struct *ptmark_pid_mm(struct pid *pid)
{
	struct task_struct *task = get_pid_task(pid, PIDTYPE_PID);
	struct mm_struct *mm;

	if (!task)
		return ERR_PTR(-ESRCH);
	mm = ptmark_task_mm(task);
	put_task_struct(task);
	return mm;
}

struct mm_struct *ptmark_get_mm_pidfd(int pidfd)
{
	struct mm_struct *mm;
	struct file *file;
	struct pid *pid;

	if (pidfd < 0)
		return ERR_PTR(-EBADF);
	file = fget(pidfd);
	if (!file)
		return ERR_PTR(-EBADF);
	pid = ptmark_pidfd_pid(file);
	mm = pid ? ptmark_pid_mm(pid) : ERR_PTR(-EBADF);
	fput(file);
	return mm;
}

struct mm_struct *ptmark_get_mm_pid(pid_t nr)
{
	struct pid *pid = find_get_pid(nr);
	struct mm_struct *mm;

	if (!pid)
		return ERR_PTR(-ESRCH);
	mm = ptmark_pid_mm(pid);
	put_pid(pid);
	return mm;
}

struct mm_struct *ptmark_get_mm_self(void)
{
	struct mm_struct *mm = get_task_mm(current);

	return mm ?: ERR_PTR(-ESRCH);
}

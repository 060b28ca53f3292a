/* SPDX-License-Identifier: MIT */
/*
 * trim.c - keep the inodes that hold descriptors within the limit.
 *
 * Inodes kept by file handle hold no descriptor (inode.c). The others (a
 * backing filesystem without handles, pending and sealed links) each hold
 * an O_PATH descriptor while the kernel caches them. The kernel forgets
 * inodes only when memory runs short, so a registry with more of those
 * than RLIMIT_NOFILE would make lookups fail with EMFILE. A thread
 * watches them and, past three quarters of the budget, asks the kernel to
 * drop their cached entries until half of it is used; the kernel then
 * sends the forgets that close the descriptors. The limit is read again
 * on every round, so a limit lowered (prlimit) or raised while mounted
 * is followed.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "taglockfs/log.h"

#define TRIM_PERIOD_MS 200
#define TRIM_RESERVE 256 /* descriptors kept for files, dirs and the log */

static pthread_t trimmer;
static struct tlk_fs *fs_of_trimmer; /* set while it runs */
static atomic_bool trimmer_stop;
static bool trimmer_running;

static size_t fd_budget(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return (size_t)1 << 20;
	return rl.rlim_cur > 2 * TRIM_RESERVE ? rl.rlim_cur - TRIM_RESERVE
					      : rl.rlim_cur / 2;
}

static void *trim_loop(void *arg)
{
	struct tlk_fs *fs = arg;
	size_t budget = fd_budget();
	struct timespec until;

	atomic_store(&fs->inodes.trim_high, budget / 4 * 3);
	while (!atomic_load(&trimmer_stop)) {
		/* The period, or at once when the table passes the mark. */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TRIM_PERIOD_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		sem_timedwait(&fs->inodes.trim_wake, &until);
		atomic_store(&fs->inodes.trim_poked, false);
		if (atomic_load(&trimmer_stop))
			break;
		budget = fd_budget();
		atomic_store(&fs->inodes.trim_high, budget / 4 * 3);
		tlk_inodes_trim(&fs->inodes, fs->se, &fs->root, budget / 4 * 3,
				budget / 2);
	}
	atomic_store(&fs->inodes.trim_high, 0);
	return NULL;
}

void tlk_trimmer_start(struct tlk_fs *fs)
{
	sigset_t all, old;
	int ret;

	/* Signals go to the session's threads, never to this one: a SIGTERM
	 * caught here would not wake the session loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	fs_of_trimmer = fs;
	ret = pthread_create(&trimmer, NULL, trim_loop, fs);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (ret != 0)
		tlk_warn("inode trimmer not running (%s): a tag tree larger "
			 "than the descriptor limit will fail with EMFILE",
			 strerror(ret));
	trimmer_running = ret == 0;
}

void tlk_trimmer_stop(void)
{
	if (!trimmer_running)
		return;
	atomic_store(&trimmer_stop, true);
	sem_post(&fs_of_trimmer->inodes.trim_wake);
	pthread_join(trimmer, NULL);
	trimmer_running = false;
}

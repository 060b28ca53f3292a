/* SPDX-License-Identifier: MIT */
/*
 * trim.c - keep the inode table within the descriptor limit.
 *
 * Every inode the kernel caches is an O_PATH descriptor here. The kernel
 * forgets inodes only when memory runs short, so a registry with more tag
 * files than RLIMIT_NOFILE would make lookups fail with EMFILE. A thread
 * watches the table and, past three quarters of the limit, asks the kernel
 * to drop cached entries until half of it is used; the kernel then sends
 * the forgets that close the descriptors.
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
	const struct timespec period = {.tv_nsec = TRIM_PERIOD_MS * 1000000L};
	size_t budget = fd_budget();

	while (!atomic_load(&trimmer_stop)) {
		nanosleep(&period, NULL);
		tlk_inodes_trim(&fs->inodes, fs->se, &fs->root, budget / 4 * 3,
				budget / 2);
	}
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
	pthread_join(trimmer, NULL);
	trimmer_running = false;
}

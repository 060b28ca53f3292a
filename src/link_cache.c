/* SPDX-License-Identifier: MIT */
/*
 * link_cache.c - the kernel may cache the link of a protected tag, and
 * forgets it when the policy changes (docs/design.md, "What the kernel
 * may cache").
 *
 * While a tag is protected and its current/link holds a whole digest,
 * nothing can change what the link says (rules 4 and 6) on any node that
 * runs the same policy: the entry, its attributes and its pages may be
 * cached for cache_timeout. Once a policy edit unprotects tags, an
 * overwrite publishes a new inode under the name `link` behind the
 * kernel's back, so every such entry handed out must be dropped: each
 * lookup that hands one out notes the directory (its node id) here, and a
 * thread, woken by every policy swap, sends notify_inval_entry for each
 * noted directory. The notifications go from this thread only, never from
 * a request handler (the kernel may hold the directory's lock while it
 * waits for that handler).
 *
 * Memory stays bounded: the table of noted directories is renewed every
 * cache_timeout, and the one before is kept until then, since entries it
 * granted may still be cached; beyond NOTED_MAX directories in the
 * current table, links are not cached.
 *
 * The kernel applies an invalidation only to an entry it already has, so
 * a lookup decided under the old policy whose reply reaches the kernel
 * after the thread ran would stay cached: such a lookup notes its
 * directory again after replying (tlk_link_cache_confirm).
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "taglockfs/log.h"

#define NOTED_MAX 65536 /* directories; beyond that, no long entries */
#define SLOTS (NOTED_MAX * 2)

static struct {
	pthread_mutex_t lock;
	uint64_t *noted;    /* open addressing, 0 = empty slot */
	size_t count;	    /* in `noted` */
	uint64_t *previous; /* the table before: its grants may be cached */
	sem_t wake;
	atomic_bool stop;
	pthread_t thread;
	bool running;
	struct tlk_fs *fs;
} lc = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t slot_of(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)id & (SLOTS - 1);
}

/* Remember `dir`; false when the table is full (or not set up). */
static bool note(uint64_t dir)
{
	bool ok = false;
	size_t i;

	pthread_mutex_lock(&lc.lock);
	if (lc.noted) {
		for (i = slot_of(dir);; i = (i + 1) & (SLOTS - 1)) {
			if (lc.noted[i] == dir) {
				ok = true;
				break;
			}
			if (lc.noted[i] == 0) {
				if (lc.count < NOTED_MAX) {
					lc.noted[i] = dir;
					lc.count++;
					ok = true;
				}
				break;
			}
		}
	}
	pthread_mutex_unlock(&lc.lock);
	return ok;
}

bool tlk_link_cache_cacheable(struct tlk_fs *fs, const struct tlk_node *node,
			      const struct stat *st)
{
	bool tag_protected = false;

	if (fs->cache_timeout <= 0 || node->kind != TLK_CURRENT_LINK ||
	    !S_ISREG(st->st_mode) || st->st_nlink != 1 ||
	    st->st_size != TLK_LINK_LEN)
		return false;
	tlk_facts_policy(fs, node, NULL, &tag_protected, NULL);
	return tag_protected;
}

unsigned long tlk_link_cache_grant(struct tlk_fs *fs, fuse_ino_t dir,
				   struct fuse_entry_param *e)
{
	struct tlk_inode *inode = (struct tlk_inode *)(uintptr_t)e->ino;
	unsigned long gen;
	struct tlk_node node;

	if (!S_ISREG(e->attr.st_mode) || e->attr.st_size != TLK_LINK_LEN)
		return 0; /* cheap checks first: most entries are not links */
	tlk_where_of(fs, inode, &node);
	if (node.kind != TLK_CURRENT_LINK || !note((uint64_t)dir))
		return 0;
	/* Noted before the policy is asked: a swap from here on wakes the
	 * thread with `dir` in the table. */
	gen = tlk_live_policy_generation(fs->policy);
	if (!tlk_link_cache_cacheable(fs, &node, &e->attr))
		return 0;
	e->entry_timeout = fs->cache_timeout;
	e->attr_timeout = fs->cache_timeout;
	return gen + 1; /* 0 means "nothing granted" */
}

void tlk_link_cache_confirm(struct tlk_fs *fs, fuse_ino_t dir,
			    unsigned long granted)
{
	if (granted == 0 ||
	    tlk_live_policy_generation(fs->policy) == granted - 1)
		return;
	/* The policy changed while the reply was on its way. */
	note((uint64_t)dir);
	sem_post(&lc.wake);
}

static void policy_swapped(void *arg)
{
	(void)arg;
	sem_post(&lc.wake);
}

/* Invalidate the entry `link` in every directory of `table`. */
static size_t invalidate(struct tlk_fs *fs, const uint64_t *table)
{
	size_t i, n = 0;

	for (i = 0; table && i < SLOTS; i++) {
		if (table[i] == 0)
			continue;
		/* ENOENT: the kernel has forgotten the directory. */
		fuse_lowlevel_notify_inval_entry(fs->se, (fuse_ino_t)table[i],
						 "link", 4);
		n++;
	}
	return n;
}

/* Take both tables (for a policy swap) or only the previous one (a
 * renewal), leaving empty ones; NULL entries when memory is short. */
static void take(bool both, uint64_t **cur, uint64_t **prev)
{
	uint64_t *fresh = calloc(SLOTS, sizeof(*fresh));
	uint64_t *fresh2 = both ? calloc(SLOTS, sizeof(*fresh2)) : NULL;

	*cur = *prev = NULL;
	if (!fresh || (both && !fresh2)) {
		free(fresh);
		free(fresh2);
		return;
	}
	pthread_mutex_lock(&lc.lock);
	*prev = lc.previous;
	if (both) {
		*cur = lc.noted;
		lc.previous = fresh2;
		lc.noted = fresh;
	} else {
		lc.previous = lc.noted;
		lc.noted = fresh;
	}
	lc.count = 0;
	pthread_mutex_unlock(&lc.lock);
}

static void *inval_loop(void *arg)
{
	struct tlk_fs *fs = arg;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)fs->cache_timeout + 1;
	while (!atomic_load(&lc.stop)) {
		uint64_t *cur, *prev;
		bool swapped = sem_timedwait(&lc.wake, &until) == 0;

		if (atomic_load(&lc.stop))
			break;
		if (!swapped) {
			if (errno != ETIMEDOUT)
				continue; /* EINTR */
			/* Every grant of the previous table has expired. */
			take(false, &cur, &prev);
			free(prev);
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += (time_t)fs->cache_timeout + 1;
			continue;
		}
		take(true, &cur, &prev);
		if (!cur && !prev) {
			tlk_err("link cache: out of memory; cached tag links "
				"stay until they time out");
			continue;
		}
		tlk_debug("link cache: policy changed, %zu tag directories "
			  "invalidated",
			  invalidate(fs, cur) + invalidate(fs, prev));
		free(cur);
		free(prev);
	}
	return NULL;
}

int tlk_link_cache_start(struct tlk_fs *fs)
{
	sigset_t all, old;
	int ret;

	if (fs->cache_timeout <= 0)
		return 0;
	lc.noted = calloc(SLOTS, sizeof(*lc.noted));
	lc.previous = calloc(SLOTS, sizeof(*lc.previous));
	if (!lc.noted || !lc.previous || sem_init(&lc.wake, 0, 0) < 0)
		return -ENOMEM;
	lc.fs = fs;
	tlk_live_policy_on_swap(fs->policy, policy_swapped, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = -pthread_create(&lc.thread, NULL, inval_loop, fs);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	lc.running = ret == 0;
	return ret;
}

void tlk_link_cache_stop(void)
{
	if (lc.running) {
		atomic_store(&lc.stop, true);
		sem_post(&lc.wake);
		pthread_join(lc.thread, NULL);
		lc.running = false;
	}
	pthread_mutex_lock(&lc.lock);
	free(lc.noted);
	free(lc.previous);
	lc.noted = lc.previous = NULL;
	pthread_mutex_unlock(&lc.lock);
}

/* SPDX-License-Identifier: MIT */
/*
 * locks.c - the repository locks (docs/design.md, "Lock order"). One
 * stripe of TLK_REPO_LOCKS per repository name: a tag's publish, its index
 * entries, the revision links a protected tag may point to, and every
 * check those depend on, run under the lock of their repository. Two locks
 * (a rename between repositories) are taken in address order.
 */
#include "fs.h"

pthread_mutex_t *tlk_repo_lock(struct tlk_fs *fs, const struct tlk_node *node)
{
	uint32_t h = 2166136261u;
	const char *p;

	if (!node->repo[0])
		return NULL;
	for (p = node->repo; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &fs->repo_locks[h % TLK_REPO_LOCKS];
}

void tlk_repo_lock_two(pthread_mutex_t *a, pthread_mutex_t *b)
{
	if (a && b && b < a) {
		pthread_mutex_t *t = a;
		a = b;
		b = t;
	}
	if (a)
		pthread_mutex_lock(a);
	if (b && b != a)
		pthread_mutex_lock(b);
}

void tlk_repo_unlock_two(pthread_mutex_t *a, pthread_mutex_t *b)
{
	if (b && b != a)
		pthread_mutex_unlock(b);
	if (a)
		pthread_mutex_unlock(a);
}

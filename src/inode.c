/* SPDX-License-Identifier: MIT */
/*
 * inode.c - the table of backing inodes the kernel holds references to,
 * keyed by (st_dev, st_ino). Lookups bump a count that forget lowers; at
 * zero the node and its O_PATH fd go away. Buckets are guarded by striped
 * locks, so lookups of different inodes rarely contend.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs.h"

#define TLK_INODE_BUCKETS (1u << 16)

static size_t bucket_of(const struct tlk_inode_table *t, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (t->nbuckets - 1);
}

static pthread_mutex_t *stripe_of(struct tlk_inode_table *t, size_t bucket)
{
	return &t->stripes[bucket % TLK_INODE_STRIPES];
}

int tlk_inodes_init(struct tlk_inode_table *t)
{
	size_t i;

	t->nbuckets = TLK_INODE_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	for (i = 0; i < TLK_INODE_STRIPES; i++)
		pthread_mutex_init(&t->stripes[i], NULL);
	atomic_init(&t->count, 0);
	return 0;
}

void tlk_inodes_destroy(struct tlk_inode_table *t)
{
	size_t i;

	for (i = 0; t->buckets && i < t->nbuckets; i++) {
		struct tlk_inode *n = t->buckets[i], *next;
		for (; n; n = next) {
			next = n->next;
			close(n->fd);
			if (n->old_fd >= 0)
				close(n->old_fd);
			free(n);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	for (i = 0; i < TLK_INODE_STRIPES; i++)
		pthread_mutex_destroy(&t->stripes[i]);
}

/* A known inode found again by name: count it; a pending link file
 * takes the named fd, so its path shows where it now lives. Called with
 * the stripe lock held; returns whether `fd` was kept. */
static bool found_again(struct tlk_inode *n, int fd, bool pending)
{
	n->nlookup++;
	if (!n->pending || pending)
		return false;
	n->old_fd = n->fd;
	n->fd = fd;
	n->pending = false;
	return true;
}

static struct tlk_inode *find(struct tlk_inode_table *t, size_t b,
			      const struct stat *st)
{
	struct tlk_inode *n;

	for (n = t->buckets[b]; n; n = n->next)
		if (n->ino == st->st_ino && n->dev == st->st_dev)
			return n;
	return NULL;
}

/* Under the stripe lock: count a known inode, or insert `fresh` (which
 * may be NULL on the first, optimistic pass). NULL: not known. */
static struct tlk_inode *find_or_insert(struct tlk_inode_table *t, size_t b,
					int fd, const struct stat *st,
					bool pending, struct tlk_inode *fresh)
{
	pthread_mutex_t *lock = stripe_of(t, b);
	struct tlk_inode *n;
	bool kept = false;

	pthread_mutex_lock(lock);
	n = find(t, b, st);
	if (n) {
		kept = found_again(n, fd, pending);
	} else if (fresh) {
		fresh->next = t->buckets[b];
		t->buckets[b] = fresh;
		atomic_fetch_add(&t->count, 1);
	}
	pthread_mutex_unlock(lock);
	if (n && !kept)
		close(fd);
	return n ? n : fresh;
}

static struct tlk_inode *inode_get(struct tlk_inode_table *t, int fd,
				   const struct stat *st, bool pending)
{
	size_t b = bucket_of(t, st->st_dev, st->st_ino);
	struct tlk_inode *n, *fresh;

	n = find_or_insert(t, b, fd, st, pending, NULL);
	if (n)
		return n;
	/* Allocate outside the lock, then insert unless someone raced us. */
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh) {
		close(fd);
		return NULL;
	}
	fresh->fd = fd;
	fresh->old_fd = -1;
	fresh->pending = pending;
	fresh->dev = st->st_dev;
	fresh->ino = st->st_ino;
	fresh->type = st->st_mode & S_IFMT;
	fresh->nlookup = 1;
	n = find_or_insert(t, b, fd, st, pending, fresh);
	if (n != fresh)
		free(fresh);
	return n;
}

struct tlk_inode *tlk_inode_get(struct tlk_inode_table *t, int fd,
				const struct stat *st)
{
	return inode_get(t, fd, st, false);
}

struct tlk_inode *tlk_inode_get_pending(struct tlk_inode_table *t, int fd,
					const struct stat *st)
{
	return inode_get(t, fd, st, true);
}

void tlk_inode_forget(struct tlk_inode_table *t, struct tlk_inode *ino,
		      uint64_t n)
{
	size_t b = bucket_of(t, ino->dev, ino->ino);
	pthread_mutex_t *lock = stripe_of(t, b);
	struct tlk_inode **pp;

	pthread_mutex_lock(lock);
	if (ino->nlookup > n) {
		ino->nlookup -= n;
		pthread_mutex_unlock(lock);
		return;
	}
	for (pp = &t->buckets[b]; *pp; pp = &(*pp)->next) {
		if (*pp == ino) {
			*pp = ino->next;
			break;
		}
	}
	atomic_fetch_sub(&t->count, 1);
	pthread_mutex_unlock(lock);
	close(ino->fd);
	if (ino->old_fd >= 0)
		close(ino->old_fd);
	free(ino);
}

pthread_mutex_t *tlk_inode_lock(struct tlk_inode_table *t,
				struct tlk_inode *ino)
{
	return stripe_of(t, bucket_of(t, ino->dev, ino->ino));
}

/* SPDX-License-Identifier: MIT */
/*
 * inode.c - the table of backing inodes the kernel holds references to,
 * keyed by (st_dev, st_ino). Lookups bump a count that forget lowers; at
 * zero the node and its O_PATH fd go away. Buckets are guarded by striped
 * locks, so lookups of different inodes rarely contend.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "metrics.h"
#include "taglockfs/log.h"

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
	pthread_mutex_init(&t->unhashed_lock, NULL);
	t->unhashed = NULL;
	atomic_init(&t->count, 0);
	atomic_init(&t->trim_high, 0);
	atomic_init(&t->trim_poked, false);
	sem_init(&t->trim_wake, 0, 0);
	return 0;
}

static void inode_free(struct tlk_inode *n);

void tlk_inodes_destroy(struct tlk_inode_table *t)
{
	size_t i;

	for (i = 0; t->buckets && i < t->nbuckets; i++) {
		struct tlk_inode *n = t->buckets[i], *next;
		for (; n; n = next) {
			next = n->next;
			close(n->fd);
			free(n->where);
			free(n->name);
			free(n);
		}
	}
	while (t->unhashed) {
		struct tlk_inode *n = t->unhashed;
		t->unhashed = n->next;
		close(n->fd);
		inode_free(n);
	}
	pthread_mutex_destroy(&t->unhashed_lock);
	sem_destroy(&t->trim_wake);
	free(t->buckets);
	t->buckets = NULL;
	for (i = 0; i < TLK_INODE_STRIPES; i++)
		pthread_mutex_destroy(&t->stripes[i]);
}

/* A known inode found again by name: count it. A pending link file takes
 * the named fd, so that it is the file under its name from now on: dup3
 * puts it under the same descriptor number, atomically for any thread
 * using it (both name the same inode). Called with the stripe lock held. */
static void found_again(struct tlk_inode *n, int fd, bool pending)
{
	n->nlookup++;
	if (n->pending && !pending && dup3(fd, n->fd, O_CLOEXEC) >= 0)
		n->pending = false;
	close(fd);
}

static struct tlk_inode *find(struct tlk_inode_table *t, size_t b, dev_t dev,
			      ino_t ino)
{
	struct tlk_inode *n;

	for (n = t->buckets[b]; n; n = n->next)
		if (n->ino == ino && n->dev == dev)
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

	pthread_mutex_lock(lock);
	n = find(t, b, st->st_dev, st->st_ino);
	if (n) {
		found_again(n, fd, pending);
	} else if (fresh) {
		fresh->next = t->buckets[b];
		t->buckets[b] = fresh;
		size_t high = atomic_load(&t->trim_high);
		if (atomic_fetch_add(&t->count, 1) + 1 > high && high &&
		    !atomic_exchange(&t->trim_poked, true))
			sem_post(&t->trim_wake); /* trim.c */
	}
	pthread_mutex_unlock(lock);
	return n ? n : fresh;
}

static void inode_free(struct tlk_inode *n)
{
	free(n->where);
	free(n->name);
	free(n);
}

/* A new inode with its position, not yet in the table. */
static struct tlk_inode *inode_new(int fd, const struct stat *st, bool pending,
				   const struct tlk_inode *parent,
				   const char *name,
				   const struct tlk_node *node)
{
	struct tlk_inode *n = calloc(1, sizeof(*n));
	bool oom = false;

	if (!n)
		return NULL;
	n->fd = fd;
	n->pending = pending;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->type = st->st_mode & S_IFMT;
	n->nlookup = 1;
	n->parent_dev = parent->dev;
	n->parent_ino = parent->ino;
	n->name = strdup(name);
	n->where = tlk_layout_pack(node, &oom);
	if (!n->name || oom) {
		inode_free(n);
		return NULL;
	}
	return n;
}

static struct tlk_inode *inode_get(struct tlk_inode_table *t, int fd,
				   const struct stat *st, bool pending,
				   const struct tlk_inode *parent,
				   const char *name,
				   const struct tlk_node *node)
{
	size_t b = bucket_of(t, st->st_dev, st->st_ino);
	struct tlk_inode *n, *fresh;

	n = find_or_insert(t, b, fd, st, pending, NULL);
	if (n) {
		if (tlk_inode_note_where(t, n, parent, name, node, false) < 0) {
			tlk_inode_forget(t, n, 1);
			return NULL;
		}
		return n;
	}
	/* Allocate outside the lock, then insert unless someone raced us. */
	fresh = inode_new(fd, st, pending, parent, name, node);
	if (!fresh) {
		close(fd);
		return NULL;
	}
	n = find_or_insert(t, b, fd, st, pending, fresh);
	if (n != fresh) {
		inode_free(fresh);
		if (tlk_inode_note_where(t, n, parent, name, node, false) < 0) {
			tlk_inode_forget(t, n, 1);
			return NULL;
		}
	}
	return n;
}

struct tlk_inode *tlk_inode_get(struct tlk_inode_table *t, int fd,
				const struct stat *st,
				const struct tlk_inode *parent,
				const char *name, const struct tlk_node *node)
{
	return inode_get(t, fd, st, false, parent, name, node);
}

struct tlk_inode *tlk_inode_get_pending(struct tlk_inode_table *t, int fd,
					const struct stat *st,
					const struct tlk_inode *parent,
					const char *name,
					const struct tlk_node *node)
{
	return inode_get(t, fd, st, true, parent, name, node);
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
	if (ino->nlookup < n)
		tlk_err("forget of %llu lookups on inode %llu that has %llu: "
			"lookup counts are out of step (a bug)",
			(unsigned long long)n, (unsigned long long)ino->ino,
			(unsigned long long)ino->nlookup);
	pthread_mutex_lock(&t->unhashed_lock);
	for (pp = atomic_load(&ino->sealed) ? &t->unhashed : &t->buckets[b];
	     *pp; pp = &(*pp)->next) {
		if (*pp == ino) {
			*pp = ino->next;
			break;
		}
	}
	pthread_mutex_unlock(&t->unhashed_lock);
	atomic_fetch_sub(&t->count, 1);
	pthread_mutex_unlock(lock);
	close(ino->fd);
	inode_free(ino);
}

pthread_mutex_t *tlk_inode_lock(struct tlk_inode_table *t,
				struct tlk_inode *ino)
{
	return stripe_of(t, bucket_of(t, ino->dev, ino->ino));
}

static int weight_of(const struct tlk_packed_node *p)
{
	struct tlk_node node;

	tlk_layout_unpack(p, &node);
	return tlk_layout_weight(&node);
}

int tlk_inode_note_where(struct tlk_inode_table *t, struct tlk_inode *ino,
			 const struct tlk_inode *parent, const char *name,
			 const struct tlk_node *node, bool force)
{
	pthread_mutex_t *lock = tlk_inode_lock(t, ino);
	struct tlk_packed_node *packed, *old_where = NULL;
	char *copy, *old_name = NULL;
	bool oom = false;

	pthread_mutex_lock(lock);
	if (!force && ino->name && ino->parent_ino == parent->ino &&
	    ino->parent_dev == parent->dev && strcmp(ino->name, name) == 0) {
		pthread_mutex_unlock(lock);
		return 0;
	}
	pthread_mutex_unlock(lock);
	copy = strdup(name);
	packed = tlk_layout_pack(node, &oom);
	if (!copy || oom) {
		free(copy);
		free(packed);
		return -ENOMEM;
	}
	pthread_mutex_lock(lock);
	if (force || tlk_layout_weight(node) >= weight_of(ino->where)) {
		old_where = ino->where;
		old_name = ino->name;
		ino->where = packed;
		ino->name = copy;
		ino->parent_dev = parent->dev;
		ino->parent_ino = parent->ino;
		packed = NULL;
		copy = NULL;
	}
	pthread_mutex_unlock(lock);
	free(old_where);
	free(old_name);
	free(packed);
	free(copy);
	return 0;
}

/* Give `n` the position (*packed, *copy) in `parent`; the old ones come
 * back in *packed and *copy for the caller to free. Stripe lock held. */
static void swap_position(struct tlk_inode *n, struct tlk_packed_node **packed,
			  char **copy, const struct tlk_inode *parent)
{
	struct tlk_packed_node *p = n->where;
	char *c = n->name;

	n->where = *packed;
	n->name = *copy;
	n->parent_dev = parent->dev;
	n->parent_ino = parent->ino;
	*packed = p;
	*copy = c;
}

void tlk_inode_note_moved(struct tlk_inode_table *t, dev_t dev, ino_t ino,
			  const struct tlk_inode *parent, const char *name,
			  const struct tlk_node *node)
{
	size_t b = bucket_of(t, dev, ino);
	struct tlk_packed_node *packed;
	char *copy = strdup(name);
	struct tlk_inode *n;
	bool oom = false;

	packed = tlk_layout_pack(node, &oom);
	pthread_mutex_lock(stripe_of(t, b));
	n = find(t, b, dev, ino);
	if (n && copy && !oom) {
		swap_position(n, &packed, &copy, parent);
	} else if (n) {
		/* Renames onto link positions are copies (tag_ops.c), so
		 * the old position is never lighter than a link. */
		tlk_err("out of memory recording a rename of inode %llu",
			(unsigned long long)ino);
	}
	pthread_mutex_unlock(stripe_of(t, b));
	free(packed);
	free(copy);
}

void tlk_inode_seal(struct tlk_inode_table *t, dev_t dev, ino_t ino, int linkfd,
		    const struct tlk_inode *parent, const char *name,
		    const struct tlk_node *node)
{
	size_t b = bucket_of(t, dev, ino);
	struct tlk_inode **pp, *n = NULL;
	struct tlk_packed_node *packed;
	char *copy = strdup(name);
	bool oom = false;

	packed = tlk_layout_pack(node, &oom);
	pthread_mutex_lock(stripe_of(t, b));
	for (pp = &t->buckets[b]; *pp; pp = &(*pp)->next) {
		if ((*pp)->dev == dev && (*pp)->ino == ino) {
			n = *pp;
			break;
		}
	}
	if (n) {
		/* Its fd no longer names (dev, ino), whose number the
		 * backing filesystem may now give to a new file: it leaves
		 * the hash, and lives on for the kernel until forgotten. */
		*pp = n->next;
		pthread_mutex_lock(&t->unhashed_lock);
		n->next = t->unhashed;
		t->unhashed = n;
		atomic_store(&n->sealed, true);
		atomic_store(&n->raw_sealed, true);
		pthread_mutex_unlock(&t->unhashed_lock);
		if (linkfd >= 0)
			dup3(linkfd, n->fd, O_CLOEXEC);
		if (copy && !oom)
			swap_position(n, &packed, &copy, parent);
	}
	pthread_mutex_unlock(stripe_of(t, b));
	if (linkfd >= 0)
		close(linkfd);
	free(packed);
	free(copy);
}

void tlk_inode_seal_in_place(struct tlk_inode_table *t, dev_t dev, ino_t ino)
{
	size_t b = bucket_of(t, dev, ino);
	struct tlk_inode *n;

	pthread_mutex_lock(stripe_of(t, b));
	n = find(t, b, dev, ino);
	if (n)
		atomic_store(&n->raw_sealed, true);
	pthread_mutex_unlock(stripe_of(t, b));
}

unsigned tlk_inode_hidden_writers(struct tlk_inode_table *t, dev_t dev,
				  ino_t ino)
{
	size_t b = bucket_of(t, dev, ino);
	struct tlk_inode *n;
	unsigned w = 0;

	pthread_mutex_lock(stripe_of(t, b));
	n = find(t, b, dev, ino);
	if (n)
		w = atomic_load(&n->hidden_writers);
	pthread_mutex_unlock(stripe_of(t, b));
	return w;
}

void tlk_inode_where(struct tlk_inode_table *t, struct tlk_inode *ino,
		     struct tlk_node *out, dev_t *pdev, ino_t *pino)
{
	pthread_mutex_t *lock = tlk_inode_lock(t, ino);

	pthread_mutex_lock(lock);
	tlk_layout_unpack(ino->where, out);
	*pdev = ino->parent_dev;
	*pino = ino->parent_ino;
	pthread_mutex_unlock(lock);
}

int tlk_inode_dup_fd(struct tlk_inode_table *t, dev_t dev, ino_t ino)
{
	size_t b = bucket_of(t, dev, ino);
	struct tlk_inode *n;
	int fd = -ENOENT;

	pthread_mutex_lock(stripe_of(t, b));
	n = find(t, b, dev, ino);
	if (n) {
		fd = fcntl(n->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			fd = -errno;
	}
	pthread_mutex_unlock(stripe_of(t, b));
	return fd;
}

struct trim_entry {
	dev_t parent_dev;
	ino_t parent_ino;
	char *name;
};

/* Copy up to `max` (parent, name) pairs of one type class out of the
 * table: non-directories first pass, directories second. */
static size_t collect(struct tlk_inode_table *t, struct tlk_inode *root,
		      struct trim_entry *out, size_t max, bool dirs)
{
	size_t b, n = 0;
	struct tlk_inode *u;

	/* Sealed inodes first: only a stale dentry keeps them (their name
	 * is stable; forget takes unhashed_lock before it frees one). */
	pthread_mutex_lock(&t->unhashed_lock);
	for (u = t->unhashed; u && !dirs && n < max; u = u->next) {
		if (!u->name || !(out[n].name = strdup(u->name)))
			continue;
		out[n].parent_dev = u->parent_dev;
		out[n].parent_ino = u->parent_ino;
		n++;
	}
	pthread_mutex_unlock(&t->unhashed_lock);
	for (b = 0; b < t->nbuckets && n < max; b++) {
		pthread_mutex_t *lock = stripe_of(t, b);
		struct tlk_inode *i;

		pthread_mutex_lock(lock);
		for (i = t->buckets[b]; i && n < max; i = i->next) {
			if (!i->name || (i->type == S_IFDIR) != dirs)
				continue;
			out[n].name = strdup(i->name);
			if (!out[n].name)
				continue;
			out[n].parent_dev = i->parent_dev;
			out[n].parent_ino = i->parent_ino;
			n++;
		}
		pthread_mutex_unlock(lock);
	}
	return n;
}

/* The node id of a directory the kernel still holds, or 0. */
static fuse_ino_t parent_id(struct tlk_inode_table *t, struct tlk_inode *root,
			    dev_t dev, ino_t ino)
{
	size_t b = bucket_of(t, dev, ino);
	struct tlk_inode *n;

	if (dev == root->dev && ino == root->ino)
		return FUSE_ROOT_ID;
	pthread_mutex_lock(stripe_of(t, b));
	n = find(t, b, dev, ino);
	pthread_mutex_unlock(stripe_of(t, b));
	return n && n->type == S_IFDIR ? (uintptr_t)n : 0;
}

void tlk_inodes_trim(struct tlk_inode_table *t, struct fuse_session *se,
		     struct tlk_inode *root, size_t high, size_t low)
{
	size_t count = atomic_load(&t->count), want, n, k;
	struct trim_entry *list;

	if (count <= high || low >= count)
		return;
	want = count - low;
	list = calloc(want, sizeof(*list));
	if (!list)
		return;
	n = collect(t, root, list, want, false);
	if (n < want)
		n += collect(t, root, list + n, want - n, true);
	tlk_metrics_trim(n);
	for (k = 0; k < n; k++) {
		fuse_ino_t parent =
		    parent_id(t, root, list[k].parent_dev, list[k].parent_ino);
		if (parent)
			fuse_lowlevel_notify_inval_entry(
			    se, parent, list[k].name, strlen(list[k].name));
		free(list[k].name);
	}
	free(list);
}

/* SPDX-License-Identifier: MIT */
/*
 * inode.c - the table of backing inodes the kernel holds references to,
 * keyed by (st_dev, st_ino). Lookups bump a count that forget lowers; at
 * zero the node goes away. Buckets are guarded by striped locks, so
 * lookups of different inodes rarely contend.
 *
 * Where the backing filesystem has file handles, an inode keeps its
 * handle, not a descriptor: requests pin the inodes they use, the first
 * pin reopens the handle and the last unpin closes it, so the daemon's
 * descriptors follow the requests in flight, not the size of the tree
 * (docs/design.md, "Descriptor ownership"). Otherwise (and for pending
 * and sealed inodes) the inode holds its O_PATH fd until forgotten.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/vfs.h>
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
	atomic_init(&t->held, 0);
	t->mount_fd = -1;
	t->mount_id = -1;
	atomic_init(&t->trim_high, 0);
	atomic_init(&t->trim_poked, false);
	sem_init(&t->trim_wake, 0, 0);
	return 0;
}

static void inode_free(struct tlk_inode *n);

/* The handle of the file behind `fd`, and the id of its mount. */
static struct file_handle *handle_at(int fd, int *mount_id)
{
	_Alignas(struct file_handle) char
	    room[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	struct file_handle *h = (struct file_handle *)room, *copy;

	h->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", h, mount_id, AT_EMPTY_PATH) < 0)
		return NULL;
	copy = malloc(sizeof(*h) + h->handle_bytes);
	if (copy)
		memcpy(copy, h, sizeof(*h) + h->handle_bytes);
	return copy;
}

/* A copy of `h` into *out (NULL for NULL). 0 or -ENOMEM. */
static int handle_copy(const struct file_handle *h, struct file_handle **out)
{
	*out = NULL;
	if (!h)
		return 0;
	*out = malloc(sizeof(*h) + h->handle_bytes);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, h, sizeof(*h) + h->handle_bytes);
	return 0;
}

static bool same_handle(const struct file_handle *a,
			const struct file_handle *b)
{
	if (!a || !b)
		return a == b;
	return a->handle_type == b->handle_type &&
	       a->handle_bytes == b->handle_bytes &&
	       memcmp(a->f_handle, b->f_handle, a->handle_bytes) == 0;
}

/* The handle an inode keeps instead of `fd`, or NULL: the table keeps no
 * handles, or the file is on another mount than the backing directory
 * (then the inode holds its fd). */
static struct file_handle *handle_of(const struct tlk_inode_table *t, int fd)
{
	struct file_handle *h;
	int mount_id;

	if (t->mount_fd < 0)
		return NULL;
	h = handle_at(fd, &mount_id);
	if (h && mount_id != t->mount_id) {
		free(h);
		return NULL;
	}
	return h;
}

/* An O_PATH fd of the inode kept by `h`: the very inode (dev, ino), never
 * another one found by name (docs/design.md, rule 6 and rule 7). */
static int handle_open(int mount_fd, const struct file_handle *h, dev_t dev,
		       ino_t ino)
{
	struct stat st;
	int fd = open_by_handle_at(mount_fd, (struct file_handle *)h,
				   O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* 0 when `mfd` (the backing directory, not O_PATH) can reopen the root
 * `rootfd` by handle, else -errno; *mount_id: the backing mount's id. */
static int handles_work(int rootfd, int mfd, int *mount_id)
{
	struct file_handle *h, *mh;
	struct statfs sfs;
	struct stat rst;
	int mfd_mount = -1, fd;

	/* A FUSE backing may answer handles only while its kernel caches
	 * the inode (without export support): not trusted with them. */
	if (fstatfs(mfd, &sfs) < 0 || fstat(rootfd, &rst) < 0)
		return -errno;
	if (sfs.f_type == FUSE_SUPER_MAGIC)
		return -EOPNOTSUPP;
	h = handle_at(rootfd, mount_id);
	if (!h)
		return -errno;
	mh = handle_at(mfd, &mfd_mount);
	fd = !mh || mfd_mount != *mount_id
		 ? -EXDEV
		 : handle_open(mfd, h, rst.st_dev, rst.st_ino);
	free(mh);
	free(h);
	if (fd >= 0)
		close(fd);
	return fd < 0 ? fd : 0;
}

void tlk_inodes_use_handles(struct tlk_inode_table *t, int rootfd)
{
	char proc[64];
	int mfd, mount_id = -1, ret;

	/* open_by_handle_at wants a mount fd that is not O_PATH; through
	 * /proc it is the backing directory itself, also when mounted on. */
	tlk_proc_fd_path(rootfd, proc, sizeof(proc));
	mfd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = mfd < 0 ? -errno : handles_work(rootfd, mfd, &mount_id);
	if (ret == 0) {
		t->mount_fd = mfd;
		t->mount_id = mount_id;
		tlk_info("inodes are kept by file handle: descriptors are "
			 "opened per request");
		return;
	}
	if (mfd >= 0)
		close(mfd);
	tlk_notice("the backing filesystem gives no usable file handles (%s): "
		   "every cached inode holds a descriptor, trimmed near the "
		   "limit",
		   strerror(-ret));
}

void tlk_inodes_destroy(struct tlk_inode_table *t)
{
	size_t i;

	for (i = 0; t->buckets && i < t->nbuckets; i++) {
		struct tlk_inode *n = t->buckets[i], *next;
		for (; n; n = next) {
			next = n->next;
			if (n->fd >= 0)
				close(n->fd);
			inode_free(n);
		}
	}
	while (t->unhashed) {
		struct tlk_inode *n = t->unhashed;
		t->unhashed = n->next;
		if (n->fd >= 0)
			close(n->fd);
		inode_free(n);
	}
	if (t->mount_fd >= 0)
		close(t->mount_fd);
	t->mount_fd = -1;
	pthread_mutex_destroy(&t->unhashed_lock);
	sem_destroy(&t->trim_wake);
	free(t->buckets);
	t->buckets = NULL;
	for (i = 0; i < TLK_INODE_STRIPES; i++)
		pthread_mutex_destroy(&t->stripes[i]);
}

/* A known inode found again by name: count it. A pending link file takes
 * the named fd, so that it is the file under its name from now on: its
 * handle when no request uses its fd, else dup3 puts the named fd under
 * the same descriptor number, atomically for any thread using it (both
 * name the same inode). Called with the stripe lock held. */
static void found_again(struct tlk_inode_table *t, struct tlk_inode *n, int fd,
			bool pending)
{
	struct file_handle *h;

	n->nlookup++;
	if (n->pending && !pending && n->pins == 0 &&
	    (h = handle_of(t, fd)) != NULL) {
		close(n->fd);
		n->fd = -1;
		n->handle = h;
		n->pending = false;
		atomic_fetch_sub(&t->held, 1);
	} else if (n->pending && !pending && dup3(fd, n->fd, O_CLOEXEC) >= 0) {
		n->pending = false;
	}
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

/* Is `n` the file whose handle is `id`? An inode kept by handle holds
 * nothing open, so its file may be gone and its number given to a new
 * file; the handle's generation tells them apart. A held fd keeps its
 * inode alive: its number cannot be reused. */
static bool same_file(const struct tlk_inode *n, const struct file_handle *id)
{
	return !n->handle || (id && same_handle(n->handle, id));
}

/* A dead file's inode leaves the hash (its number names another file
 * now) and lives on `unhashed` until the kernel forgets it. Stripe lock
 * held. */
static void unhash(struct tlk_inode_table *t, size_t b, struct tlk_inode *n)
{
	struct tlk_inode **pp;

	for (pp = &t->buckets[b]; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	}
	pthread_mutex_lock(&t->unhashed_lock);
	n->next = t->unhashed;
	t->unhashed = n;
	n->off_hash = true;
	pthread_mutex_unlock(&t->unhashed_lock);
}

/* Under the stripe lock: count a known inode, or insert `fresh` (which
 * may be NULL on the first, optimistic pass). `id`: the file's handle, to
 * tell a dead file of the same number from it. NULL: not known. */
static struct tlk_inode *find_or_insert(struct tlk_inode_table *t, size_t b,
					int fd, const struct stat *st,
					bool pending,
					const struct file_handle *id,
					struct tlk_inode *fresh)
{
	pthread_mutex_t *lock = stripe_of(t, b);
	struct tlk_inode *n;

	pthread_mutex_lock(lock);
	n = find(t, b, st->st_dev, st->st_ino);
	if (n && !same_file(n, id)) {
		unhash(t, b, n);
		n = NULL;
	}
	if (n) {
		found_again(t, n, fd, pending);
	} else if (fresh) {
		fresh->next = t->buckets[b];
		t->buckets[b] = fresh;
		atomic_fetch_add(&t->count, 1);
		size_t high = atomic_load(&t->trim_high);
		if (!fresh->handle &&
		    atomic_fetch_add(&t->held, 1) + 1 > high && high &&
		    !atomic_exchange(&t->trim_poked, true))
			sem_post(&t->trim_wake); /* trim.c */
	}
	pthread_mutex_unlock(lock);
	return n ? n : fresh;
}

static void inode_free(struct tlk_inode *n)
{
	free(n->handle);
	free(n->parent_handle);
	free(n->where);
	free(n->name);
	free(n);
}

/* A new inode with its position, not yet in the table: kept by `h`
 * (taken; fd stays the caller's), or holding fd. */
static struct tlk_inode *inode_new(int fd, struct file_handle *h,
				   const struct stat *st, bool pending,
				   const struct tlk_inode *parent,
				   const char *name,
				   const struct tlk_node *node)
{
	struct tlk_inode *n = calloc(1, sizeof(*n));
	bool oom = false;

	if (!n) {
		free(h);
		return NULL;
	}
	n->handle = h;
	n->fd = h ? -1 : fd;
	n->pending = pending;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->type = st->st_mode & S_IFMT;
	n->nlookup = 1;
	n->parent_dev = parent->dev;
	n->parent_ino = parent->ino;
	n->name = strdup(name);
	n->where = tlk_layout_pack(node, &oom);
	if (handle_copy(parent->handle, &n->parent_handle) < 0)
		oom = true;
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
	struct file_handle *id = NULL;
	int mount_id = -1;
	bool keep;

	if (t->mount_fd >= 0)
		id = handle_at(fd, &mount_id);
	n = find_or_insert(t, b, fd, st, pending, id, NULL);
	if (n) {
		free(id);
		if (tlk_inode_note_where(t, n, parent, name, node, false) < 0) {
			tlk_inode_forget(t, n, 1);
			return NULL;
		}
		return n;
	}
	/* Allocate outside the lock, then insert unless someone raced us.
	 * Kept by handle when on the backing directory's mount. */
	keep = id && !pending && mount_id == t->mount_id;
	fresh =
	    inode_new(fd, keep ? id : NULL, st, pending, parent, name, node);
	if (!fresh) {
		if (!keep)
			free(id);
		close(fd);
		return NULL;
	}
	n = find_or_insert(t, b, fd, st, pending, id, fresh);
	if (!keep)
		free(id);
	if (n == fresh && fresh->handle) {
		close(fd); /* kept by handle: no descriptor held */
	} else if (n != fresh) {
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

bool tlk_inode_is_pending(struct tlk_inode_table *t, struct tlk_inode *ino)
{
	pthread_mutex_t *lock = tlk_inode_lock(t, ino);
	bool pending;

	pthread_mutex_lock(lock);
	pending = ino->pending;
	pthread_mutex_unlock(lock);
	return pending;
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
	for (pp = ino->off_hash ? &t->unhashed : &t->buckets[b]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == ino) {
			*pp = ino->next;
			break;
		}
	}
	pthread_mutex_unlock(&t->unhashed_lock);
	atomic_fetch_sub(&t->count, 1);
	if (!ino->handle)
		atomic_fetch_sub(&t->held, 1);
	if (ino->pins > 0) { /* a request still uses it: the last unpin frees */
		ino->forgotten = true;
		pthread_mutex_unlock(lock);
		return;
	}
	pthread_mutex_unlock(lock);
	if (ino->fd >= 0)
		close(ino->fd);
	inode_free(ino);
}

int tlk_inode_pin(struct tlk_inode_table *t, struct tlk_inode *ino)
{
	pthread_mutex_t *lock = tlk_inode_lock(t, ino);
	int ret = 0;

	pthread_mutex_lock(lock);
	if (ino->handle && ino->pins == 0) {
		ret = handle_open(t->mount_fd, ino->handle, ino->dev, ino->ino);
		if (ret >= 0)
			ino->fd = ret;
	}
	if (ret >= 0)
		ino->pins++;
	pthread_mutex_unlock(lock);
	return ret < 0 ? ret : 0;
}

void tlk_inode_unpin(struct tlk_inode_table *t, struct tlk_inode *ino)
{
	pthread_mutex_t *lock = tlk_inode_lock(t, ino);
	bool gone = false;
	int fd = -1;

	pthread_mutex_lock(lock);
	if (--ino->pins == 0) {
		gone = ino->forgotten;
		if (ino->handle || gone) {
			fd = ino->fd;
			ino->fd = -1;
		}
	}
	pthread_mutex_unlock(lock);
	if (fd >= 0)
		close(fd);
	if (gone)
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

/* Give `n` the position (*packed, *copy) in `parent` (*ph: a copy of its
 * handle); the old ones come back for the caller to free. Stripe lock
 * held. */
static void swap_position(struct tlk_inode *n, struct tlk_packed_node **packed,
			  char **copy, struct file_handle **ph,
			  const struct tlk_inode *parent)
{
	struct tlk_packed_node *p = n->where;
	struct file_handle *h = n->parent_handle;
	char *c = n->name;

	n->where = *packed;
	n->name = *copy;
	n->parent_handle = *ph;
	n->parent_dev = parent->dev;
	n->parent_ino = parent->ino;
	*packed = p;
	*copy = c;
	*ph = h;
}

int tlk_inode_note_where(struct tlk_inode_table *t, struct tlk_inode *ino,
			 const struct tlk_inode *parent, const char *name,
			 const struct tlk_node *node, bool force)
{
	pthread_mutex_t *lock = tlk_inode_lock(t, ino);
	struct tlk_packed_node *packed;
	struct file_handle *ph;
	char *copy;
	bool oom = false;

	/* A directory's handle never changes: read without its lock. */
	pthread_mutex_lock(lock);
	if (!force && ino->name && ino->parent_ino == parent->ino &&
	    ino->parent_dev == parent->dev && strcmp(ino->name, name) == 0 &&
	    same_handle(ino->parent_handle, parent->handle)) {
		pthread_mutex_unlock(lock);
		return 0;
	}
	pthread_mutex_unlock(lock);
	copy = strdup(name);
	packed = tlk_layout_pack(node, &oom);
	if (handle_copy(parent->handle, &ph) < 0 || !copy || oom) {
		free(copy);
		free(packed);
		free(ph);
		return -ENOMEM;
	}
	pthread_mutex_lock(lock);
	if (force || tlk_layout_weight(node) >= weight_of(ino->where))
		swap_position(ino, &packed, &copy, &ph, parent);
	pthread_mutex_unlock(lock);
	free(packed);
	free(copy);
	free(ph);
	return 0;
}

void tlk_inode_note_moved(struct tlk_inode_table *t, dev_t dev, ino_t ino,
			  const struct tlk_inode *parent, const char *name,
			  const struct tlk_node *node)
{
	size_t b = bucket_of(t, dev, ino);
	struct tlk_packed_node *packed;
	char *copy = strdup(name);
	struct file_handle *ph;
	struct tlk_inode *n;
	bool oom = false;

	packed = tlk_layout_pack(node, &oom);
	if (handle_copy(parent->handle, &ph) < 0)
		oom = true;
	pthread_mutex_lock(stripe_of(t, b));
	n = find(t, b, dev, ino);
	if (n && copy && !oom) {
		swap_position(n, &packed, &copy, &ph, parent);
	} else if (n) {
		/* Renames onto link positions are copies (tag_ops.c), so
		 * the old position is never lighter than a link. */
		tlk_err("out of memory recording a rename of inode %llu",
			(unsigned long long)ino);
	}
	pthread_mutex_unlock(stripe_of(t, b));
	free(packed);
	free(copy);
	free(ph);
}

void tlk_inode_seal(struct tlk_inode_table *t, dev_t dev, ino_t ino, int linkfd,
		    const struct tlk_inode *parent, const char *name,
		    const struct tlk_node *node)
{
	size_t b = bucket_of(t, dev, ino);
	struct tlk_inode **pp, *n = NULL;
	struct tlk_packed_node *packed;
	char *copy = strdup(name);
	struct file_handle *ph;
	bool oom = false, relinked = false;

	packed = tlk_layout_pack(node, &oom);
	if (handle_copy(parent->handle, &ph) < 0)
		oom = true;
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
		n->off_hash = true;
		atomic_store(&n->sealed, true);
		atomic_store(&n->raw_sealed, true);
		pthread_mutex_unlock(&t->unhashed_lock);
		if (linkfd >= 0 && n->fd < 0) {
			n->fd = linkfd; /* was kept by handle, unpinned */
			linkfd = -1;
			relinked = true;
		} else if (linkfd >= 0) {
			relinked = dup3(linkfd, n->fd, O_CLOEXEC) >= 0;
		}
		if (relinked && n->handle) {
			/* It holds the published link's fd from now on (the
			 * handle named the renamed file). */
			free(n->handle);
			n->handle = NULL;
			atomic_fetch_add(&t->held, 1);
		}
		if (copy && !oom)
			swap_position(n, &packed, &copy, &ph, parent);
	}
	pthread_mutex_unlock(stripe_of(t, b));
	if (linkfd >= 0)
		close(linkfd);
	free(packed);
	free(copy);
	free(ph);
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
	if (n && n->fd >= 0) { /* held, or pinned by a request */
		fd = fcntl(n->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			fd = -errno;
	} else if (n && n->handle) {
		fd = handle_open(t->mount_fd, n->handle, n->dev, n->ino);
	}
	pthread_mutex_unlock(stripe_of(t, b));
	return fd;
}

int tlk_inode_dir_fd(struct tlk_inode_table *t, struct tlk_inode *ino)
{
	pthread_mutex_t *lock = tlk_inode_lock(t, ino);
	struct file_handle *ph;
	dev_t pdev;
	ino_t pino;
	int fd;

	pthread_mutex_lock(lock);
	fd = handle_copy(ino->parent_handle, &ph);
	pdev = ino->parent_dev;
	pino = ino->parent_ino;
	pthread_mutex_unlock(lock);
	if (fd < 0)
		return fd;
	if (!ph) /* a directory that holds its fd */
		return tlk_inode_dup_fd(t, pdev, pino);
	fd = handle_open(t->mount_fd, ph, pdev, pino);
	free(ph);
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
			/* Only inodes that hold a descriptor. */
			if (!i->name || i->handle ||
			    (i->type == S_IFDIR) != dirs)
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
	size_t count = atomic_load(&t->held), want, n, k;
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

/* SPDX-License-Identifier: MIT */
/*
 * fs_file.c - open files: open, create, read, write, flush, fsync,
 * release, fallocate, lseek.
 *
 * Ordinary files are passed straight through to a backing fd (splice where
 * the kernel allows). A write handle on a protected current/link is a
 * "guarded" handle: it has no writable backing fd at all; truncates and
 * writes land in a shadow (shadow.h), and a complete new digest is
 * published with tlk_link_commit(), which never replaces different content.
 * Inspected files get FOPEN_DIRECT_IO so every write reaches us at once and
 * its error reaches the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "taglockfs/log.h"

static void file_drop(struct tlk_fs *fs, struct tlk_inode *inode,
		      struct tlk_file *f);
static void reply_create(fuse_req_t req, const struct fuse_entry_param *e,
			 struct fuse_file_info *fi);

static bool opens_for_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static struct tlk_file *file_new(int fd, struct tlk_guarded *guard)
{
	struct tlk_file *f = malloc(sizeof(*f));

	if (f) {
		f->fd = fd;
		f->guard = guard;
		f->passthrough = false;
	}
	return f;
}

/* Direct I/O for files the daemon inspects; the page cache kept across
 * opens for blob data; kernel passthrough, where the build and the kernel
 * have it, for every other regular file. */
static void choose_io(fuse_req_t req, struct tlk_inode *inode,
		      struct tlk_file *f, enum tlk_kind kind,
		      struct fuse_file_info *fi)
{
	fi->direct_io = f->guard || tlk_layout_is_inspected_file(kind);
	fi->keep_cache = 0;
	if (!fi->direct_io && f->fd >= 0 && S_ISREG(inode->type))
		f->passthrough = tlk_passthrough_attach(req, inode, f->fd, fi);
	/* Blob data is content-addressed: what is cached is still right.
	 * (Passthrough bypasses the page cache; the kernel refuses both.) */
	if (!f->passthrough && tlk_layout_is_blob_data(kind) &&
	    (fi->flags & O_ACCMODE) == O_RDONLY)
		fi->keep_cache = 1;
}

static void guarded_free(struct tlk_guarded *g)
{
	if (!g)
		return;
	if (g->pending.fd >= 0)
		tlk_pending_discard(g->dirfd, &g->pending);
	if (g->dirfd >= 0)
		close(g->dirfd);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* A guarded handle for the protected link `node` in directory `dirfd`
 * (ownership of dirfd passes to the handle), starting from its bytes. */
static struct tlk_guarded *guarded_new(int dirfd, const struct tlk_node *node,
				       const char *cur, size_t cur_len,
				       bool truncate, unsigned mode)
{
	struct tlk_guarded *g = calloc(1, sizeof(*g));

	if (!g) {
		close(dirfd);
		return NULL;
	}
	pthread_mutex_init(&g->lock, NULL);
	tlk_shadow_init(&g->shadow, cur, cur_len, truncate);
	g->dirfd = dirfd;
	g->pending.fd = -1;
	g->mode = mode;
	g->node = *node;
	return g;
}

/* Open an existing protected link for writing; `dirfd` (its directory)
 * passes to the handle. */
static int open_guarded(struct tlk_inode *inode, const struct tlk_node *node,
			int dirfd, int flags, pid_t pid,
			struct tlk_guarded **out)
{
	char raw[TLK_SHADOW_MAX], proc[64];
	struct tlk_link cur;
	struct stat st;
	size_t len = 0;
	int fd, ret;

	tlk_proc_fd_path(inode->fd, proc, sizeof(proc));
	fd = open(proc, O_RDONLY | O_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	if (ret == 0 && fstat(fd, &st) < 0)
		ret = -errno;
	if (ret == 0)
		ret = tlk_link_read_fd(fd, &cur, raw, sizeof(raw), &len);
	if (fd >= 0)
		close(fd);
	if (ret < 0) {
		close(dirfd);
		return ret;
	}
	if ((size_t)st.st_size > len)
		len = (size_t)st.st_size; /* longer than a link: malformed */
	*out = guarded_new(dirfd, node, raw, len, flags & O_TRUNC,
			   st.st_mode & 07777);
	if (!*out)
		return -ENOMEM;
	(*out)->opener = pid;
	return 0;
}

void tlk_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_inode *inode = tlk_inode_of(req, ino);
	struct tlk_guarded *guard = NULL;
	struct tlk_node node;
	struct tlk_file *f;
	char proc[64], dir[PATH_MAX];
	int fd = -1, ret;

	tlk_guard_node_of_inode(fs, inode, &node, dir, sizeof(dir));
	if (opens_for_write(fi->flags) &&
	    tlk_guard_write_protected(fs, inode->fd, dir, &node)) {
		ret = tlk_guard_inode_dir(fs, inode, dir);
		if (ret >= 0)
			ret = open_guarded(inode, &node, ret, fi->flags,
					   fuse_req_ctx(req)->pid, &guard);
		if (ret < 0) {
			fuse_reply_err(req, -ret);
			return;
		}
	} else {
		tlk_proc_fd_path(inode->fd, proc, sizeof(proc));
		fd = open(proc, fi->flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL));
		if (fd < 0) {
			fuse_reply_err(req, errno);
			return;
		}
	}
	f = file_new(fd, guard);
	if (!f) {
		guarded_free(guard);
		if (fd >= 0)
			close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)f;
	choose_io(req, inode, f, node.kind, fi);
	if (fuse_reply_open(req, fi) == -ENOENT)
		file_drop(fs, inode, f); /* interrupted: undo, req is gone */
}

/* CREATE of a protected link that has no content yet: the handle writes
 * into a pending file that becomes "link" only when a digest is complete. */
static void create_guarded(fuse_req_t req, struct tlk_inode *parent,
			   const struct tlk_node *node, mode_t mode,
			   struct fuse_file_info *fi)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct fuse_entry_param e = {0};
	struct tlk_guarded *g;
	struct tlk_file *f;
	char proc[64];
	int dirfd, pfd, ret;

	dirfd = fcntl(parent->fd, F_DUPFD_CLOEXEC, 0);
	if (dirfd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	g = guarded_new(dirfd, node, NULL, 0, true, mode & 07777);
	if (!g) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	g->opener = fuse_req_ctx(req)->pid;
	ret = tlk_pending_create(dirfd, mode & 07777, &g->pending);
	if (ret == 0 && geteuid() == 0 && fuse_req_ctx(req)->uid != 0 &&
	    fchown(g->pending.fd, fuse_req_ctx(req)->uid,
		   fuse_req_ctx(req)->gid) < 0)
		ret = -errno;
	if (ret == 0) {
		tlk_proc_fd_path(g->pending.fd, proc, sizeof(proc));
		pfd = open(proc, O_PATH | O_CLOEXEC);
		ret = pfd < 0 ? -errno : 0;
		if (ret == 0 && fstat(pfd, &e.attr) < 0)
			ret = -errno;
		if (ret == 0) {
			int ldfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
			struct tlk_inode *n =
			    ldfd < 0
				? NULL
				: tlk_inode_get_pending(&fs->inodes, pfd,
							&e.attr, node, ldfd);
			if (ldfd < 0)
				close(pfd);
			ret = n ? 0 : -ENOMEM;
			e.ino = (uintptr_t)n;
		} else if (pfd >= 0) {
			close(pfd);
		}
	}
	f = ret == 0 ? file_new(-1, g) : NULL;
	if (!f) {
		if (ret == 0) /* the inode was counted: give it back */
			tlk_inode_forget(&fs->inodes,
					 (struct tlk_inode *)(uintptr_t)e.ino,
					 1);
		guarded_free(g);
		fuse_reply_err(req, ret < 0 ? -ret : ENOMEM);
		return;
	}
	tlk_entry_timeouts(fs, "link", &e);
	fi->fh = (uintptr_t)f;
	fi->direct_io = 1;
	reply_create(req, &e, fi);
}

/* CREATE that found a protected link already there (a racing writer got
 * there first, or an empty leftover): a guarded open of it. */
static void create_over_existing(fuse_req_t req, struct tlk_inode *dir,
				 const char *name, const struct tlk_node *node,
				 struct fuse_file_info *fi)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_guarded *g = NULL;
	struct fuse_entry_param e;
	struct tlk_file *f = NULL;
	int ret;

	if (fi->flags & O_EXCL) {
		fuse_reply_err(req, EEXIST);
		return;
	}
	ret = tlk_make_entry(req, dir, name, &e);
	if (ret == 0) {
		int dirfd = fcntl(dir->fd, F_DUPFD_CLOEXEC, 0);
		ret = dirfd < 0
			  ? -errno
			  : open_guarded((struct tlk_inode *)(uintptr_t)e.ino,
					 node, dirfd, fi->flags,
					 fuse_req_ctx(req)->pid, &g);
		if (ret < 0)
			tlk_inode_forget(&fs->inodes,
					 (struct tlk_inode *)(uintptr_t)e.ino,
					 1);
	}
	if (ret == 0 && !(f = file_new(-1, g))) {
		guarded_free(g);
		tlk_inode_forget(&fs->inodes,
				 (struct tlk_inode *)(uintptr_t)e.ino, 1);
		ret = -ENOMEM;
	}
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uintptr_t)f;
	fi->direct_io = 1;
	reply_create(req, &e, fi);
}

void tlk_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		   mode_t mode, struct fuse_file_info *fi)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_inode *dir = tlk_inode_of(req, parent);
	struct fuse_entry_param e;
	struct tlk_link cur;
	struct tlk_node node;
	struct tlk_file *f;
	int fd, ret;

	tlk_guard_child(fs, dir, name, &node);
	if (node.kind == TLK_CURRENT_LINK &&
	    tlk_guard_protected(fs, &node, NULL)) {
		ret = tlk_link_read(dir->fd, name, &cur, NULL, 0, NULL);
		if (ret < 0)
			fuse_reply_err(req, -ret);
		else if (cur.state == TLK_LINK_ABSENT)
			create_guarded(req, dir, &node, mode, fi);
		else
			create_over_existing(req, dir, name, &node, fi);
		return;
	}
	ret = tlk_guard_create_in(req, dir, name, &node);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	/* Never through a symlink that appeared since the kernel's lookup. */
	fd = openat(dir->fd, name, fi->flags | O_CREAT | O_NOFOLLOW, mode);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	tlk_chown_new(req, dir->fd, name);
	ret = tlk_make_entry(req, dir, name, &e);
	f = ret == 0 ? file_new(fd, NULL) : NULL;
	if (!f) {
		if (ret == 0)
			tlk_inode_forget(&fs->inodes,
					 (struct tlk_inode *)(uintptr_t)e.ino,
					 1);
		close(fd);
		fuse_reply_err(req, ret < 0 ? -ret : ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)f;
	choose_io(req, (struct tlk_inode *)(uintptr_t)e.ino, f, node.kind, fi);
	reply_create(req, &e, fi);
}

void tlk_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct tlk_file *f = tlk_file_of(fi);
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	char view[TLK_SHADOW_MAX];
	size_t n;

	(void)ino;
	if (f->guard) {
		pthread_mutex_lock(&f->guard->lock);
		n = tlk_shadow_read(&f->guard->shadow, off, view,
				    size < sizeof(view) ? size : sizeof(view));
		pthread_mutex_unlock(&f->guard->lock);
		fuse_reply_buf(req, view, n);
		return;
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = f->fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

/* Report a refused change of a guarded link: `attempt` is what the link
 * would have held. */
static void report_guarded(fuse_req_t req, struct tlk_guarded *g,
			   const char *attempt, size_t len, int err)
{
	struct tlk_facts facts = {.op = TLK_OP_PUBLISH_LINK,
				  .tag_protected = true};
	struct tlk_verdict v = {.kind = TLK_REFUSE,
				.reason = err == EINVAL ? TLK_R_MALFORMED
							: TLK_R_OVERWRITE};

	facts.current = g->shadow.base;
	tlk_link_parse(attempt, len, &facts.next);
	tlk_guard_report(req, g->opener, &facts, v, &g->node);
}

/* The view is a complete digest and the link has none: publish it. */
static int publish_guarded(fuse_req_t req, struct tlk_guarded *g)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	pthread_mutex_t *lock = tlk_guard_tag_lock(fs, &g->node);
	struct tlk_facts facts = {.op = TLK_OP_PUBLISH_LINK,
				  .tag_protected = true};
	enum tlk_commit_result res;
	struct tlk_link found;
	int ret = 0;

	pthread_mutex_lock(lock);
	if (g->pending.fd < 0)
		ret = tlk_pending_create(g->dirfd, g->mode, &g->pending);
	if (ret == 0)
		ret = tlk_link_commit(g->dirfd, &g->pending, g->shadow.bytes,
				      g->shadow.len, &res, &found);
	pthread_mutex_unlock(lock);
	if (ret < 0)
		return ret;
	facts.current = res == TLK_COMMIT_CREATED ? g->shadow.base : found;
	tlk_link_parse(g->shadow.bytes, g->shadow.len, &facts.next);
	tlk_guard_report(req, g->opener, &facts, tlk_decide(&facts), &g->node);
	if (res == TLK_COMMIT_CONFLICT) {
		/* Someone else's digest won: this handle now mirrors it. */
		tlk_shadow_init(&g->shadow, found.digest, TLK_LINK_LEN, false);
		g->shadow.failed = true;
		return -EPERM;
	}
	tlk_shadow_committed(&g->shadow);
	return 0;
}

static int write_guarded(fuse_req_t req, struct tlk_guarded *g,
			 struct fuse_bufvec *in, off_t off, size_t *written)
{
	char data[TLK_SHADOW_MAX];
	size_t size = fuse_buf_size(in);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(sizeof(data));
	ssize_t got;
	int ret;

	if (size > sizeof(data))
		size = sizeof(data) + 1; /* refused below as too long */
	mem.buf[0].mem = data;
	got = size <= sizeof(data) ? fuse_buf_copy(&mem, in, 0) : 0;
	if (got < 0)
		return (int)got;
	pthread_mutex_lock(&g->lock);
	ret = tlk_shadow_write(&g->shadow, off, data, size);
	if (ret < 0)
		report_guarded(req, g, data, size <= sizeof(data) ? size : 0,
			       -ret);
	else if (tlk_shadow_state(&g->shadow, false) == TLK_SHADOW_PUBLISH)
		ret = publish_guarded(req, g);
	pthread_mutex_unlock(&g->lock);
	*written = size;
	return ret;
}

void tlk_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
		      off_t off, struct fuse_file_info *fi)
{
	struct tlk_file *f = tlk_file_of(fi);
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	size_t written = 0;
	ssize_t n;
	int ret;

	(void)ino;
	if (f->guard) {
		ret = write_guarded(req, f->guard, in, off, &written);
		if (ret < 0)
			fuse_reply_err(req, -ret);
		else
			fuse_reply_write(req, written);
		return;
	}
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = f->fd;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in, 0);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

/* What closing (or syncing) a guarded handle means for the link. A flush
 * comes with every close() of a duplicate, so only the release (`final`)
 * reports an unfinished change; earlier calls just answer. */
static int settle_guarded(fuse_req_t req, struct tlk_guarded *g, bool final)
{
	enum tlk_shadow_state st;
	int ret = 0;

	pthread_mutex_lock(&g->lock);
	/* fsync and close ask for the link as it stands: a digest still
	 * being written cannot be made durable, so it is an error here too
	 * (the last release reports it). */
	st = tlk_shadow_state(&g->shadow, true);
	switch (st) {
	case TLK_SHADOW_UNCHANGED:
		ret = g->shadow.failed ? -EPERM : 0;
		break;
	case TLK_SHADOW_PARTIAL: /* still being written: nothing to say */
		ret = g->shadow.failed ? -EPERM : 0;
		break;
	case TLK_SHADOW_PUBLISH:
		ret = publish_guarded(req, g);
		break;
	case TLK_SHADOW_MALFORMED:
	case TLK_SHADOW_CHANGED:
	default:
		ret = st == TLK_SHADOW_MALFORMED ? -EINVAL : -EPERM;
		if (final && !g->shadow.failed)
			report_guarded(req, g, g->shadow.bytes, g->shadow.len,
				       -ret);
		break;
	}
	pthread_mutex_unlock(&g->lock);
	return ret;
}

void tlk_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tlk_file *f = tlk_file_of(fi);
	int fd;

	(void)ino;
	if (f->guard) {
		fuse_reply_err(req, -settle_guarded(req, f->guard, false));
		return;
	}
	/* close() of a duplicate reports delayed write errors (NFS). */
	fd = dup(f->fd);
	fuse_reply_err(req, fd < 0 ? errno : close(fd) < 0 ? errno : 0);
}

void tlk_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi)
{
	struct tlk_file *f = tlk_file_of(fi);
	int ret;

	(void)ino;
	if (f->guard) {
		fuse_reply_err(req, -settle_guarded(req, f->guard, false));
		return;
	}
	ret = datasync ? fdatasync(f->fd) : fsync(f->fd);
	fuse_reply_err(req, ret < 0 ? errno : 0);
}

/* Undo an open whose reply failed: the request is gone, so nothing is
 * reported and a passthrough id stays with the inode until its release. */
static void file_drop(struct tlk_fs *fs, struct tlk_inode *inode,
		      struct tlk_file *f)
{
	(void)fs, (void)inode;
	if (f->fd >= 0)
		close(f->fd);
	guarded_free(f->guard);
	free(f);
}

/* Reply to CREATE; when the kernel did not take it (interrupted), undo
 * the handle and the lookup it would have counted. */
static void reply_create(fuse_req_t req, const struct fuse_entry_param *e,
			 struct fuse_file_info *fi)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_inode *inode = (struct tlk_inode *)(uintptr_t)e->ino;
	struct tlk_file *f = tlk_file_of(fi);

	if (fuse_reply_create(req, e, fi) == -ENOENT) {
		file_drop(fs, inode, f);
		tlk_inode_forget(&fs->inodes, inode, 1);
	}
}

/* The last close of a handle. */
static void file_free(fuse_req_t req, fuse_ino_t ino, struct tlk_file *f)
{
	if (f->passthrough)
		tlk_passthrough_detach(req, tlk_inode_of(req, ino));
	if (f->fd >= 0)
		close(f->fd);
	if (f->guard)
		settle_guarded(req, f->guard, true);
	guarded_free(f->guard);
	free(f);
}

void tlk_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	file_free(req, ino, tlk_file_of(fi));
	fuse_reply_err(req, 0);
}

void tlk_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		      off_t length, struct fuse_file_info *fi)
{
	struct tlk_file *f = tlk_file_of(fi);

	(void)ino;
	if (f->guard) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (mode == 0)
		fuse_reply_err(req, posix_fallocate(f->fd, offset, length));
	else
		fuse_reply_err(req, fallocate(f->fd, mode, offset, length) < 0
					? errno
					: 0);
}

void tlk_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		  struct fuse_file_info *fi)
{
	struct tlk_file *f = tlk_file_of(fi);
	off_t res;

	(void)ino;
	if (f->guard) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	res = lseek(f->fd, off, whence);
	if (res < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, res);
}

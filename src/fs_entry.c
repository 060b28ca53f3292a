/* SPDX-License-Identifier: MIT */
/*
 * fs_entry.c - names: lookup, forget, mkdir, mknod, symlink, link, unlink,
 * rmdir, rename. Each handler asks guard.c first where tag state could be
 * touched, does the fd-relative syscall and replies once.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "taglockfs/log.h"

void tlk_entry_timeouts(struct tlk_fs *fs, const char *name,
			struct fuse_entry_param *e)
{
	/* Links are read from storage every time: another node sharing the
	 * backing directory may have published one a moment ago. Judged by
	 * name alone ("link", "link.<id>.tmp"), which needs no look at where
	 * the parent is; a few other files named so are simply not cached. */
	bool link = !S_ISDIR(e->attr.st_mode) &&
		    (strcmp(name, "link") == 0 || tlk_layout_is_link_tmp(name));
	double t = link ? 0.0 : fs->timeout;

	e->entry_timeout = t;
	e->attr_timeout = t;
}

void tlk_chown_new(fuse_req_t req, int dirfd, const char *name)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	/* The daemon creates as root; the file belongs to the caller. */
	if (geteuid() != 0 || (ctx->uid == 0 && ctx->gid == 0))
		return;
	if (fchownat(dirfd, name, ctx->uid, ctx->gid, AT_SYMLINK_NOFOLLOW) <
	    0) {
		/* best effort, as a non-root daemon would leave it too */
	}
}

/* Once a minute at most: the kernel holds more inodes than fds allow. */
static void warn_out_of_fds(struct tlk_fs *fs, int err)
{
	static atomic_long last;
	long now = (long)time(NULL);
	long prev = atomic_load(&last);

	if (now - prev < 60 ||
	    !atomic_compare_exchange_strong(&last, &prev, now))
		return;
	tlk_err("out of file descriptors (%s) with %zu inodes in use: lookups "
		"fail until the kernel forgets some; raise RLIMIT_NOFILE "
		"(LimitNOFILE=) or lower the cache (echo 2 > "
		"/proc/sys/vm/drop_caches)",
		strerror(err), atomic_load(&fs->inodes.count));
}

int tlk_make_entry(fuse_req_t req, struct tlk_inode *parent, const char *name,
		   struct fuse_entry_param *e)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_inode *inode;
	int fd;

	memset(e, 0, sizeof(*e));
	fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE)
			warn_out_of_fds(fs, errno);
		return -errno;
	}
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) <
	    0) {
		int err = -errno;
		close(fd);
		return err;
	}
	inode = tlk_inode_get(&fs->inodes, fd, &e->attr);
	if (!inode)
		return -ENOMEM;
	e->ino = (uintptr_t)inode;
	tlk_inode_note_name(&fs->inodes, inode, parent, name);
	tlk_entry_timeouts(fs, name, e);
	return 0;
}

void tlk_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int ret = tlk_make_entry(req, tlk_inode_of(req, parent), name, &e);

	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, &e);
}

static void forget_one(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	if (ino != FUSE_ROOT_ID)
		tlk_inode_forget(&tlk_fs_of(req)->inodes,
				 tlk_inode_of(req, ino), n);
}

void tlk_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(req, ino, nlookup);
	fuse_reply_none(req);
}

void tlk_op_forget_multi(fuse_req_t req, size_t count,
			 struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		forget_one(req, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* After a successful create of `name`: own it, reply with its entry. */
static void reply_new_entry(fuse_req_t req, struct tlk_inode *dir,
			    const char *name)
{
	struct fuse_entry_param e;
	int ret;

	tlk_chown_new(req, dir->fd, name);
	ret = tlk_make_entry(req, dir, name, &e);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, &e);
}

void tlk_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode)
{
	struct tlk_inode *dir = tlk_inode_of(req, parent);
	int ret = tlk_guard_mkdir(req, dir, name);

	if (ret == 0 && mkdirat(dir->fd, name, mode) < 0)
		ret = -errno;
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		reply_new_entry(req, dir, name);
}

void tlk_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, dev_t rdev)
{
	struct tlk_inode *dir = tlk_inode_of(req, parent);
	int ret = tlk_guard_symlink(req, dir, name);

	if (ret == 0 && mknodat(dir->fd, name, mode, rdev) < 0)
		ret = -errno;
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		reply_new_entry(req, dir, name);
}

void tlk_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		    const char *name)
{
	struct tlk_inode *dir = tlk_inode_of(req, parent);
	int ret = tlk_guard_symlink(req, dir, name);

	if (ret == 0 && symlinkat(link, dir->fd, name) < 0)
		ret = -errno;
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		reply_new_entry(req, dir, name);
}

void tlk_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		 const char *newname)
{
	struct tlk_inode *inode = tlk_inode_of(req, ino);
	struct tlk_inode *dir = tlk_inode_of(req, newparent);
	struct fuse_entry_param e;
	char proc[64];
	int ret = tlk_guard_link(req, inode, dir, newname);

	tlk_proc_fd_path(inode->fd, proc, sizeof(proc));
	if (ret == 0 &&
	    linkat(AT_FDCWD, proc, dir->fd, newname, AT_SYMLINK_FOLLOW) < 0)
		ret = -errno;
	if (ret == 0)
		ret = tlk_make_entry(req, dir, newname, &e);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, &e);
}

void tlk_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req,
		       -tlk_guard_unlink(req, tlk_inode_of(req, parent), name));
}

void tlk_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req,
		       -tlk_guard_rmdir(req, tlk_inode_of(req, parent), name));
}

void tlk_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		   fuse_ino_t newparent, const char *newname,
		   unsigned int flags)
{
	fuse_reply_err(req, -tlk_guard_rename(
				req, tlk_inode_of(req, parent), name,
				tlk_inode_of(req, newparent), newname, flags));
}

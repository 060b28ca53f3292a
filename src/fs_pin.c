/* SPDX-License-Identifier: MIT */
/*
 * fs_pin.c - the descriptors a request needs, for as long as it runs.
 *
 * An inode kept by file handle has no descriptor between requests
 * (inode.c). Each handler below that works relative to an inode's fd runs
 * with the inodes it names pinned: reopened by handle before it starts,
 * closed after it has replied. A pin that cannot be had (EMFILE, ENFILE,
 * ESTALE) refuses the request with that errno and runs nothing
 * (docs/design.md, rule 5 and "Descriptor ownership"). Handlers that only
 * use a file or directory handle's own fd (read, write, readdir, ...) are
 * not wrapped.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "taglockfs/log.h"

/* Once a minute at most: a request refused for want of a descriptor. */
static void warn_refused(int err)
{
	static atomic_long last;
	long now = (long)time(NULL);
	long prev = atomic_load(&last);

	if ((err != EMFILE && err != ENFILE) || now - prev < 60 ||
	    !atomic_compare_exchange_strong(&last, &prev, now))
		return;
	tlk_err("out of file descriptors (%s): requests are refused until "
		"others finish; raise RLIMIT_NOFILE (LimitNOFILE=)",
		strerror(err));
}

/* Pin `a` and `b` (either may be NULL, or the same inode); on failure
 * nothing stays pinned and the request has been answered. */
static bool pin_two(fuse_req_t req, struct tlk_inode *a, struct tlk_inode *b)
{
	struct tlk_inode_table *t = &tlk_fs_of(req)->inodes;
	int ret = a ? tlk_inode_pin(t, a) : 0;

	if (ret == 0 && b) {
		ret = tlk_inode_pin(t, b);
		if (ret < 0 && a)
			tlk_inode_unpin(t, a);
	}
	if (ret < 0) {
		warn_refused(-ret);
		fuse_reply_err(req, -ret);
	}
	return ret == 0;
}

/* After the handler: `req` is gone once it has replied. */
static void unpin_two(struct tlk_inode_table *t, struct tlk_inode *a,
		      struct tlk_inode *b)
{
	if (b)
		tlk_inode_unpin(t, b);
	if (a)
		tlk_inode_unpin(t, a);
}

/* A handler that uses the fd of the inode `ino` only. */
#define PINNED(op, params, args)                                               \
	void tlk_pinned_##op params                                            \
	{                                                                      \
		struct tlk_inode_table *t = &tlk_fs_of(req)->inodes;           \
		struct tlk_inode *n = tlk_inode_of(req, ino);                  \
                                                                               \
		if (!pin_two(req, n, NULL))                                    \
			return;                                                \
		tlk_op_##op args;                                              \
		unpin_two(t, n, NULL);                                         \
	}

PINNED(lookup, (fuse_req_t req, fuse_ino_t ino, const char *name),
       (req, ino, name))
PINNED(getattr, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
       (req, ino, fi))
PINNED(setattr,
       (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
	struct fuse_file_info *fi),
       (req, ino, attr, valid, fi))
PINNED(readlink, (fuse_req_t req, fuse_ino_t ino), (req, ino))
PINNED(mknod,
       (fuse_req_t req, fuse_ino_t ino, const char *name, mode_t mode,
	dev_t rdev),
       (req, ino, name, mode, rdev))
PINNED(mkdir, (fuse_req_t req, fuse_ino_t ino, const char *name, mode_t mode),
       (req, ino, name, mode))
PINNED(unlink, (fuse_req_t req, fuse_ino_t ino, const char *name),
       (req, ino, name))
PINNED(rmdir, (fuse_req_t req, fuse_ino_t ino, const char *name),
       (req, ino, name))
PINNED(symlink,
       (fuse_req_t req, const char *link, fuse_ino_t ino, const char *name),
       (req, link, ino, name))
PINNED(open, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
       (req, ino, fi))
PINNED(opendir, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
       (req, ino, fi))
PINNED(readdirplus,
       (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	struct fuse_file_info *fi),
       (req, ino, size, off, fi))
PINNED(statfs, (fuse_req_t req, fuse_ino_t ino), (req, ino))
PINNED(setxattr,
       (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
	size_t size, int flags),
       (req, ino, name, value, size, flags))
PINNED(getxattr,
       (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size),
       (req, ino, name, size))
PINNED(listxattr, (fuse_req_t req, fuse_ino_t ino, size_t size),
       (req, ino, size))
PINNED(removexattr, (fuse_req_t req, fuse_ino_t ino, const char *name),
       (req, ino, name))
PINNED(create,
       (fuse_req_t req, fuse_ino_t ino, const char *name, mode_t mode,
	struct fuse_file_info *fi),
       (req, ino, name, mode, fi))

void tlk_pinned_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		     const char *newname)
{
	struct tlk_inode_table *t = &tlk_fs_of(req)->inodes;
	struct tlk_inode *a = tlk_inode_of(req, ino);
	struct tlk_inode *b = tlk_inode_of(req, newparent);

	if (!pin_two(req, a, b))
		return;
	tlk_op_link(req, ino, newparent, newname);
	unpin_two(t, a, b);
}

void tlk_pinned_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags)
{
	struct tlk_inode_table *t = &tlk_fs_of(req)->inodes;
	struct tlk_inode *a = tlk_inode_of(req, parent);
	struct tlk_inode *b = tlk_inode_of(req, newparent);

	if (!pin_two(req, a, b))
		return;
	tlk_op_rename(req, parent, name, newparent, newname, flags);
	unpin_two(t, a, b);
}

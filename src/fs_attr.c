/* SPDX-License-Identifier: MIT */
/*
 * fs_attr.c - attributes: getattr, setattr, readlink, statfs and extended
 * attributes. A size change of a link file goes through tag_ops.c (no
 * handle) or the guarded handle's shadow (ftruncate on a guarded handle).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs.h"

void tlk_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_inode *inode = tlk_inode_of(req, ino);
	struct tlk_node node;
	struct stat st;

	(void)fi;
	if (fstatat(inode->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) <
	    0) {
		fuse_reply_err(req, errno);
		return;
	}
	tlk_where_of(fs, inode, &node);
	/* A pending link file gets its link count when a verdict publishes
	 * it, and a sealed inode's descriptor was swapped for the published
	 * link: their attributes change behind the kernel's back. */
	fuse_reply_attr(req, &st,
			atomic_load(&inode->sealed) ||
				tlk_inode_is_pending(&fs->inodes, inode)
			    ? 0.0
			    : tlk_attr_timeout(fs, &node, &st));
}

static int set_size(fuse_req_t req, struct tlk_inode *inode, off_t size,
		    struct fuse_file_info *fi)
{
	struct tlk_file *f = fi ? tlk_file_of(fi) : NULL;

	if (f && f->guard) /* changes only the handle's shadow */
		return tlk_guarded_truncate(tlk_fs_of(req), f->guard, size);
	if (f && f->blob) /* changes only the handle's pending file */
		return tlk_blob_truncate(f->blob, size);
	if (f && f->fd >= 0)
		return tlk_file_sealed(req, f)	    ? -EPERM
		       : ftruncate(f->fd, size) < 0 ? -errno
						    : 0;
	return tlk_tag_truncate(tlk_fs_of(req), fuse_req_ctx(req)->pid, inode,
				size);
}

static int set_times(struct tlk_inode *inode, const struct stat *attr,
		     int valid)
{
	struct timespec tv[2] = {{.tv_nsec = UTIME_OMIT},
				 {.tv_nsec = UTIME_OMIT}};
	char proc[64];

	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;
	if (S_ISLNK(inode->type))
		return utimensat(inode->fd, "", tv,
				 AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0
			   ? -errno
			   : 0;
	tlk_proc_fd_path(inode->fd, proc, sizeof(proc));
	return utimensat(AT_FDCWD, proc, tv, 0) < 0 ? -errno : 0;
}

void tlk_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		    int valid, struct fuse_file_info *fi)
{
	struct tlk_inode *inode = tlk_inode_of(req, ino);
	char proc[64];
	int ret = 0;

	tlk_proc_fd_path(inode->fd, proc, sizeof(proc));
	if ((valid & FUSE_SET_ATTR_MODE) && !S_ISLNK(inode->type) &&
	    chmod(proc, attr->st_mode) < 0)
		ret = -errno;
	if (ret == 0 && (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid =
		    (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid =
		    (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		if (fchownat(inode->fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			ret = -errno;
	}
	if (ret == 0 && (valid & FUSE_SET_ATTR_SIZE))
		ret = set_size(req, inode, attr->st_size, fi);
	if (ret == 0 &&
	    (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		      FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)))
		ret = set_times(inode, attr, valid);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	tlk_op_getattr(req, ino, fi);
}

/* Rule 2: a symlink standing where an immutable repository keeps its
 * links was made behind the daemon's back; it is never followed. */
void tlk_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_inode *inode = tlk_inode_of(req, ino);
	char buf[PATH_MAX + 1];
	struct tlk_node node;
	ssize_t n;
	int ret;

	tlk_where_of(fs, inode, &node);
	ret = tlk_tag_check(fs, fuse_req_ctx(req)->pid, TLK_OP_FOLLOW, &node,
			    NULL);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	n = readlinkat(inode->fd, "", buf, sizeof(buf));
	if (n < 0)
		fuse_reply_err(req, errno);
	else if ((size_t)n >= sizeof(buf))
		fuse_reply_err(req, ENAMETOOLONG);
	else {
		buf[n] = '\0';
		fuse_reply_readlink(req, buf);
	}
}

void tlk_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(tlk_inode_of(req, ino)->fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

/* xattrs of symlinks and special files are not reachable through an
 * O_PATH fd; regular files and directories go through /proc. */
static int xattr_path(fuse_req_t req, fuse_ino_t ino, char *buf, size_t len)
{
	struct tlk_inode *inode = tlk_inode_of(req, ino);

	if (!S_ISREG(inode->type) && !S_ISDIR(inode->type))
		return -ENOTSUP;
	tlk_proc_fd_path(inode->fd, buf, len);
	return 0;
}

void tlk_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     const char *value, size_t size, int flags)
{
	char proc[64];
	int ret = xattr_path(req, ino, proc, sizeof(proc));

	if (ret == 0 && setxattr(proc, name, value, size, flags) < 0)
		ret = -errno;
	fuse_reply_err(req, -ret);
}

/* Reply to a get/list call: the size when asked for it, else the bytes. */
static void reply_xattr(fuse_req_t req, size_t size, const char *buf, ssize_t n)
{
	if (n < 0)
		fuse_reply_err(req, errno);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

/* getxattr (name set) or listxattr (name NULL). */
static void get_or_list(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char proc[64], *buf = NULL;
	int ret = xattr_path(req, ino, proc, sizeof(proc));

	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	reply_xattr(req, size, buf,
		    name ? getxattr(proc, name, buf, size)
			 : listxattr(proc, buf, size));
	free(buf);
}

void tlk_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     size_t size)
{
	get_or_list(req, ino, name, size);
}

void tlk_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	get_or_list(req, ino, NULL, size);
}

void tlk_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char proc[64];
	int ret = xattr_path(req, ino, proc, sizeof(proc));

	if (ret == 0 && removexattr(proc, name) < 0)
		ret = -errno;
	fuse_reply_err(req, -ret);
}

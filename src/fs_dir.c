/* SPDX-License-Identifier: MIT */
/*
 * fs_dir.c - directory handles: opendir, readdir, readdirplus, releasedir,
 * fsyncdir. A handle owns a DIR stream on its own fd; offsets are the
 * backing filesystem's telldir cookies.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

struct tlk_dir {
	DIR *dp;
	struct dirent *entry; /* read but not yet replied */
	off_t offset;	      /* position of the stream */
};

static struct tlk_dir *dir_of(struct fuse_file_info *fi)
{
	return (struct tlk_dir *)(uintptr_t)fi->fh;
}

void tlk_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct tlk_dir *d = calloc(1, sizeof(*d));
	int fd;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fd = openat(tlk_inode_of(req, ino)->fd, ".",
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d->dp = fdopendir(fd))) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		closedir(d->dp);
		free(d);
	}
}

/* Add one entry to the reply buffer; returns its size, 0 when full. For
 * readdirplus the entry is looked up (and counted) unless it is . or .. */
static size_t add_entry(fuse_req_t req, struct tlk_inode *dir, char *p,
			size_t rem, struct dirent *de, off_t next, bool plus,
			int *err, struct tlk_inode **counted)
{
	struct fuse_entry_param e = {0};
	bool dots =
	    strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	size_t n;

	if (!plus) {
		struct stat st = {.st_ino = de->d_ino,
				  .st_mode = (mode_t)de->d_type << 12};
		return fuse_add_direntry(req, p, rem, de->d_name, &st, next);
	}
	if (dots) {
		e.attr.st_ino = de->d_ino;
		e.attr.st_mode = (mode_t)de->d_type << 12;
	} else {
		*err = -tlk_make_entry(req, dir, de->d_name, &e);
		if (*err)
			return 0;
	}
	n = fuse_add_direntry_plus(req, p, rem, de->d_name, &e, next);
	if (n > rem && !dots) /* did not fit: undo the lookup count */
		tlk_entry_undo(req, &e);
	else if (!dots)
		*counted = (struct tlk_inode *)(uintptr_t)e.ino;
	return n;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct tlk_dir *d = dir_of(fi);
	struct tlk_inode *dir = tlk_inode_of(req, ino);
	char *buf = calloc(1, size), *p = buf;
	/* The entries counted in this reply (a direntplus takes more than
	 * 64 bytes), given back if the kernel does not take it. */
	size_t cap = size / 64 + 1, ncounted = 0, i;
	struct tlk_inode **counted = calloc(cap, sizeof(*counted));
	size_t rem = size;
	int err = 0;

	if (!buf || !counted) {
		free(buf);
		free(counted);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		size_t n;
		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		counted[ncounted] = NULL;
		n = add_entry(req, dir, p, rem, d->entry, d->entry->d_off, plus,
			      &err, &counted[ncounted]);
		if (err == ENOENT) /* removed since readdir: skip it */
			n = err = 0;
		if (err || n > rem)
			break;
		if (counted[ncounted] && ncounted + 1 < cap)
			ncounted++;
		p += n;
		rem -= n;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	/* An error after some entries is reported by the next call. */
	if (err && p == buf) {
		fuse_reply_err(req, err);
	} else if (fuse_reply_buf(req, buf, size - rem) != 0) {
		for (i = 0; i < ncounted; i++)
			tlk_inode_forget(&tlk_fs_of(req)->inodes, counted[i],
					 1);
	}
	free(counted);
	free(buf);
}

void tlk_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void tlk_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void tlk_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct tlk_dir *d = dir_of(fi);

	(void)ino;
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

void tlk_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	int fd = dirfd(dir_of(fi)->dp);
	int ret;

	(void)ino;
	ret = datasync ? fdatasync(fd) : fsync(fd);
	fuse_reply_err(req, ret < 0 ? errno : 0);
}

/* SPDX-License-Identifier: MIT */
/*
 * passthrough.c - kernel FUSE passthrough (Linux >= 6.9, libfuse >= 3.17)
 * for files the daemon does not inspect: read, write, splice and mmap go
 * from the kernel straight to the backing file. The kernel allows one
 * backing id per inode, so opens of an inode share it, counted; the last
 * release drops it. Inspected files (tag links) never take this path.
 */
#include <errno.h>
#include <string.h>

#include "fs.h"
#include "taglockfs/log.h"

#if TLK_HAVE_PASSTHROUGH

void tlk_passthrough_want(struct tlk_fs *fs, struct fuse_conn_info *conn)
{
	if (!fs->passthrough)
		return;
	if (!(conn->capable & FUSE_CAP_PASSTHROUGH)) {
		tlk_notice("kernel FUSE passthrough unavailable: classic I/O");
		fs->passthrough = false;
		return;
	}
	conn->want |= FUSE_CAP_PASSTHROUGH;
}

bool tlk_passthrough_attach(fuse_req_t req, struct tlk_inode *inode, int fd,
			    struct fuse_file_info *fi)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	pthread_mutex_t *lock = tlk_inode_lock(&fs->inodes, inode);
	static atomic_bool warned;
	bool ok = true;

	if (!fs->passthrough)
		return false;
	pthread_mutex_lock(lock);
	if (inode->backing_refs == 0) {
		int id = fuse_passthrough_open(req, fd);
		if (id > 0)
			inode->backing_id = id;
		else
			ok = false;
	}
	if (ok) {
		inode->backing_refs++;
		fi->backing_id = inode->backing_id;
	}
	pthread_mutex_unlock(lock);
	if (!ok && !atomic_exchange(&warned, true))
		tlk_warn("kernel refused passthrough (%s): classic I/O for "
			 "such files",
			 strerror(errno));
	return ok;
}

void tlk_passthrough_detach(fuse_req_t req, struct tlk_inode *inode)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	pthread_mutex_t *lock = tlk_inode_lock(&fs->inodes, inode);

	pthread_mutex_lock(lock);
	if (inode->backing_refs > 0 && --inode->backing_refs == 0)
		fuse_passthrough_close(req, inode->backing_id);
	pthread_mutex_unlock(lock);
}

#else

void tlk_passthrough_want(struct tlk_fs *fs, struct fuse_conn_info *conn)
{
	(void)conn;
	fs->passthrough = false;
}

bool tlk_passthrough_attach(fuse_req_t req, struct tlk_inode *inode, int fd,
			    struct fuse_file_info *fi)
{
	(void)req, (void)inode, (void)fd, (void)fi;
	return false;
}

void tlk_passthrough_detach(fuse_req_t req, struct tlk_inode *inode)
{
	(void)req, (void)inode;
}

#endif

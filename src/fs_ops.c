/* SPDX-License-Identifier: MIT */
/*
 * fs_ops.c - connection setup and the table of low-level operations.
 */
#include "fs.h"
#include "taglockfs/log.h"

static void tlk_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct tlk_fs *fs = userdata;

	/* O_TRUNC must reach open(): a protected link is never truncated
	 * by a separate setattr the daemon cannot tie to the writer. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	else
		tlk_warn("kernel lacks atomic O_TRUNC: O_TRUNC opens of "
			 "protected links arrive as truncate(2)");
	if (conn->capable & FUSE_CAP_SPLICE_READ)
		conn->want |= FUSE_CAP_SPLICE_READ;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	/* Never the writeback cache: writes to links must reach us. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
#ifdef FUSE_CAP_DIRECT_IO_ALLOW_MMAP
	/* Nor shared mappings of direct-I/O (inspected) files. */
	conn->want &= ~FUSE_CAP_DIRECT_IO_ALLOW_MMAP;
#endif
	tlk_passthrough_want(fs, conn);
	tlk_inodes_use_handles(&fs->inodes, fs->root.fd);
}

static void tlk_op_destroy(void *userdata)
{
	(void)userdata;
}

/* Handlers that use an inode's fd run pinned (fs_pin.c). */
const struct fuse_lowlevel_ops tlk_fs_ops = {
    .init = tlk_op_init,
    .destroy = tlk_op_destroy,
    .lookup = tlk_pinned_lookup,
    .forget = tlk_op_forget,
    .forget_multi = tlk_op_forget_multi,
    .getattr = tlk_pinned_getattr,
    .setattr = tlk_pinned_setattr,
    .readlink = tlk_pinned_readlink,
    .mknod = tlk_pinned_mknod,
    .mkdir = tlk_pinned_mkdir,
    .unlink = tlk_pinned_unlink,
    .rmdir = tlk_pinned_rmdir,
    .symlink = tlk_pinned_symlink,
    .rename = tlk_pinned_rename,
    .link = tlk_pinned_link,
    .open = tlk_pinned_open,
    .read = tlk_op_read,
    .write_buf = tlk_op_write_buf,
    .flush = tlk_op_flush,
    .release = tlk_op_release,
    .fsync = tlk_op_fsync,
    .opendir = tlk_pinned_opendir,
    .readdir = tlk_op_readdir,
    .readdirplus = tlk_pinned_readdirplus,
    .releasedir = tlk_op_releasedir,
    .fsyncdir = tlk_op_fsyncdir,
    .statfs = tlk_pinned_statfs,
    .setxattr = tlk_pinned_setxattr,
    .getxattr = tlk_pinned_getxattr,
    .listxattr = tlk_pinned_listxattr,
    .removexattr = tlk_pinned_removexattr,
    .create = tlk_pinned_create,
    .fallocate = tlk_op_fallocate,
    .lseek = tlk_op_lseek,
};

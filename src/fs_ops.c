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
}

static void tlk_op_destroy(void *userdata)
{
	(void)userdata;
}

const struct fuse_lowlevel_ops tlk_fs_ops = {
    .init = tlk_op_init,
    .destroy = tlk_op_destroy,
    .lookup = tlk_op_lookup,
    .forget = tlk_op_forget,
    .forget_multi = tlk_op_forget_multi,
    .getattr = tlk_op_getattr,
    .setattr = tlk_op_setattr,
    .readlink = tlk_op_readlink,
    .mknod = tlk_op_mknod,
    .mkdir = tlk_op_mkdir,
    .unlink = tlk_op_unlink,
    .rmdir = tlk_op_rmdir,
    .symlink = tlk_op_symlink,
    .rename = tlk_op_rename,
    .link = tlk_op_link,
    .open = tlk_op_open,
    .read = tlk_op_read,
    .write_buf = tlk_op_write_buf,
    .flush = tlk_op_flush,
    .release = tlk_op_release,
    .fsync = tlk_op_fsync,
    .opendir = tlk_op_opendir,
    .readdir = tlk_op_readdir,
    .readdirplus = tlk_op_readdirplus,
    .releasedir = tlk_op_releasedir,
    .fsyncdir = tlk_op_fsyncdir,
    .statfs = tlk_op_statfs,
    .setxattr = tlk_op_setxattr,
    .getxattr = tlk_op_getxattr,
    .listxattr = tlk_op_listxattr,
    .removexattr = tlk_op_removexattr,
    .create = tlk_op_create,
    .fallocate = tlk_op_fallocate,
    .lseek = tlk_op_lseek,
};

/* SPDX-License-Identifier: MIT */
/*
 * fs_ops.c - connection setup and the table of low-level operations.
 */
#include "fs.h"
#include "metrics.h"
#include "taglockfs/log.h"

/* The operations a registry uses most, timed for the metrics' latency
 * histograms (docs/design.md, "Metrics"): each handler has replied when
 * it returns, so the time covers the whole request as the daemon sees
 * it. tlk_metrics_clock() is 0, and nothing is measured, unless an export
 * is configured. */
static void timed_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	uint64_t t0 = tlk_metrics_clock();

	tlk_pinned_lookup(req, parent, name);
	tlk_metrics_latency(TLK_LAT_LOOKUP, t0);
}

static void timed_open(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	uint64_t t0 = tlk_metrics_clock();

	tlk_pinned_open(req, ino, fi);
	tlk_metrics_latency(TLK_LAT_OPEN, t0);
}

static void timed_read(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	uint64_t t0 = tlk_metrics_clock();

	tlk_op_read(req, ino, size, off, fi);
	tlk_metrics_latency(TLK_LAT_READ, t0);
}

static void timed_write_buf(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_bufvec *in, off_t off,
			    struct fuse_file_info *fi)
{
	uint64_t t0 = tlk_metrics_clock();

	tlk_op_write_buf(req, ino, in, off, fi);
	tlk_metrics_latency(TLK_LAT_WRITE, t0);
}

static void timed_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, struct fuse_file_info *fi)
{
	uint64_t t0 = tlk_metrics_clock();

	tlk_pinned_create(req, parent, name, mode, fi);
	tlk_metrics_latency(TLK_LAT_CREATE, t0);
}

static void timed_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname,
			 unsigned int flags)
{
	uint64_t t0 = tlk_metrics_clock();

	tlk_pinned_rename(req, parent, name, newparent, newname, flags);
	tlk_metrics_latency(TLK_LAT_RENAME, t0);
}

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
	/* Cached pages of a file whose size or mtime changed are dropped
	 * (fs_file.c keeps readers' pages across opens). */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
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
#ifdef FUSE_CAP_OVER_IO_URING
	/* libfuse starts the rings only if the kernel offers them. */
	if (fs->io_uring && !(conn->capable_ext & FUSE_CAP_OVER_IO_URING))
		tlk_warn("io_uring: the kernel does not offer FUSE over "
			 "io_uring (/sys/module/fuse/parameters/enable_uring "
			 "is N?); requests come through /dev/fuse");
#endif
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
    .lookup = timed_lookup,
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
    .rename = timed_rename,
    .link = tlk_pinned_link,
    .open = timed_open,
    .read = timed_read,
    .write_buf = timed_write_buf,
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
    .create = timed_create,
    .fallocate = tlk_op_fallocate,
    .lseek = tlk_op_lseek,
};

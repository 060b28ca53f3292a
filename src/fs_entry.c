/* SPDX-License-Identifier: MIT */
/*
 * fs_entry.c - names: lookup, forget, mkdir, mknod, symlink, link, unlink,
 * rmdir, rename. Each handler gathers where the names are, asks (directly
 * or through tag_ops.c, which acts under the repository lock), does the
 * fd-relative syscall and replies once. Every entry reply that the kernel
 * does not take gives its lookup back (docs/design.md, "Lookup counts").
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "metrics.h"
#include "taglockfs/log.h"

/* docs/design.md, "What the kernel may cache". */
static bool fixed_dir(enum tlk_kind kind)
{
	/* The registry's own directories, not the root: a dead mount must
	 * show at the next stat of it, which is what the registry's storage
	 * health check does. */
	if (kind == TLK_ROOT)
		return false;
	switch (kind) {
	case TLK_BLOBS:
	case TLK_BLOB_ALG:
	case TLK_BLOB_PREFIX:
	case TLK_BLOB_DIG:
		return true;
	default:
		return tlk_layout_is_structural_dir(kind);
	}
}

double tlk_cache_timeout(const struct tlk_fs *fs, const struct tlk_node *node,
			 const struct stat *st)
{
	/* The tree's fixed directories: never renamed, never replaced
	 * (rule 1). */
	if (S_ISDIR(st->st_mode))
		return fixed_dir(node->kind) ? fs->cache_timeout : fs->timeout;
	/* Files never get more than `timeout`: a rename carries the kernel's
	 * entry, with what is left of its timeout, to the new name, and a
	 * name the daemon replaces behind the kernel's back (a mutable tag's
	 * link, published by rename of a pending file) would then keep
	 * serving the moved file. Anything small enough to become a link, an
	 * empty blob (a leftover a publish replaces, blob.c) and every link
	 * position: 0, read from storage every time. */
	if (S_ISREG(st->st_mode) && st->st_size <= TLK_LINK_LEN)
		return 0.0;
	if (tlk_layout_link_class(node->kind) != TLK_LINK_NONE)
		return 0.0;
	switch (node->kind) {
	case TLK_CURRENT_TMP:
	case TLK_CURRENT_OTHER:
	case TLK_TAG_INDEX_TMP:
	case TLK_REV_TMP:
	case TLK_LAYER_TMP:
	case TLK_BLOB_TMP:
		return 0.0;
	default:
		return fs->timeout;
	}
}

double tlk_attr_timeout(const struct tlk_fs *fs, const struct tlk_node *node,
			const struct stat *st)
{
	/* Blob data is written once (rule 9): its size never changes, and
	 * an O_TRUNC open of a blob with content is refused, so its
	 * attributes keep cache_timeout. A link's attributes keep nothing:
	 * an O_TRUNC open (ATOMIC_O_TRUNC) sets the kernel's size to 0
	 * before it invalidates the cached attributes, and a reader that
	 * sizes its read from fstat in that window read a protected link
	 * empty (red team, 869 of 27,716 reads with 1 s). */
	if (tlk_layout_is_blob_data(node->kind) && S_ISREG(st->st_mode) &&
	    st->st_size > TLK_LINK_LEN)
		return fs->cache_timeout;
	return tlk_cache_timeout(fs, node, st);
}

void tlk_entry_timeouts(struct tlk_fs *fs, const struct tlk_node *node,
			struct fuse_entry_param *e)
{
	e->entry_timeout = tlk_cache_timeout(fs, node, &e->attr);
	e->attr_timeout = tlk_attr_timeout(fs, node, &e->attr);
}

void tlk_new_owner(fuse_req_t req, int dirfd, uid_t *uid, gid_t *gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat st;

	*uid = ctx->uid;
	*gid = ctx->gid;
	if (fstat(dirfd, &st) == 0 && (st.st_mode & S_ISGID))
		*gid = st.st_gid;
}

void tlk_chown_new(fuse_req_t req, int dirfd, const char *name)
{
	uid_t uid;
	gid_t gid;

	/* The daemon creates as root; the file belongs to the caller. */
	if (geteuid() != 0)
		return;
	tlk_new_owner(req, dirfd, &uid, &gid);
	if (uid == 0 && gid == 0)
		return;
	if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
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
	struct tlk_node node;
	int fd;

	memset(e, 0, sizeof(*e));
	fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE) {
			tlk_metrics_emfile();
			warn_out_of_fds(fs, errno);
		}
		return -errno;
	}
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) <
	    0) {
		int err = -errno;
		close(fd);
		return err;
	}
	tlk_where_child(fs, parent, name, &node);
	inode = tlk_inode_get(&fs->inodes, fd, &e->attr, parent, name, &node);
	if (!inode)
		return -ENOMEM;
	e->ino = (uintptr_t)inode;
	tlk_entry_timeouts(fs, &node, e);
	return 0;
}

void tlk_entry_undo(fuse_req_t req, const struct fuse_entry_param *e)
{
	tlk_inode_forget(&tlk_fs_of(req)->inodes,
			 (struct tlk_inode *)(uintptr_t)e->ino, 1);
}

void tlk_reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
	/* Not taken (the request was interrupted): the kernel never counted
	 * this lookup, so neither may we. */
	if (fuse_reply_entry(req, e) != 0)
		tlk_entry_undo(req, e);
}

/* A name not found in a directory that was removed behind the kernel's
 * back (another node deleted a tag, garbage collection a digest
 * directory) while something kept it open, so that its handle still
 * opens: ESTALE, not ENOENT, so that the kernel walks the path again
 * instead of keeping its cached entry of the removed directory
 * (docs/design.md, "What the kernel may cache"). */
static int not_found_in(const struct tlk_inode *dir, int err)
{
	struct stat st;

	if (err == -ENOENT && fstat(dir->fd, &st) == 0 && st.st_nlink == 0)
		return -ESTALE;
	return err;
}

void tlk_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct tlk_inode *dir = tlk_inode_of(req, parent);
	int ret = tlk_make_entry(req, dir, name, &e);

	if (ret < 0)
		fuse_reply_err(req, -not_found_in(dir, ret));
	else
		tlk_reply_entry(req, &e);
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
		tlk_reply_entry(req, &e);
}

static pid_t pid_of(fuse_req_t req)
{
	return fuse_req_ctx(req)->pid;
}

void tlk_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode)
{
	struct tlk_inode *dir = tlk_inode_of(req, parent);
	struct fuse_entry_param e;
	int ret, tries = 2;

	do {
		ret =
		    tlk_tag_mkdir(tlk_fs_of(req), pid_of(req), dir, name, mode);
		if (ret >= 0) {
			tlk_chown_new(req, dir->fd, name);
			ret = tlk_make_entry(req, dir, name, &e);
		}
		/* Gone before its entry was made: the index entry of a first
		 * push that lost, swept by the winner's publish (docs/
		 * design.md, "No debris"). Judged again, it is refused. */
	} while (ret == -ENOENT && --tries > 0);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		tlk_reply_entry(req, &e);
}

/* Rule 1: no symlink or device in the registry's tree (op: SYMLINK or
 * MKNOD, so the log and the audit record say which). */
static int check_new_name(fuse_req_t req, struct tlk_inode *dir,
			  const char *name, enum tlk_op op)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_node node;

	tlk_where_child(fs, dir, name, &node);
	return tlk_tag_check(fs, pid_of(req), op, &node, NULL);
}

void tlk_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, dev_t rdev)
{
	struct tlk_inode *dir = tlk_inode_of(req, parent);
	int ret = check_new_name(req, dir, name, TLK_OP_MKNOD);

	if (ret >= 0)
		ret = mknodat(dir->fd, name, mode, rdev) < 0 ? -errno : 0;
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		reply_new_entry(req, dir, name);
}

void tlk_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		    const char *name)
{
	struct tlk_inode *dir = tlk_inode_of(req, parent);
	int ret = check_new_name(req, dir, name, TLK_OP_SYMLINK);

	if (ret >= 0)
		ret = symlinkat(link, dir->fd, name) < 0 ? -errno : 0;
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		reply_new_entry(req, dir, name);
}

/* Rule 1: no hard link to or from the registry's tree, in any form (the
 * kernel turns link(), linkat(AT_EMPTY_PATH) and /proc links into this). */
void tlk_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		 const char *newname)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_inode *inode = tlk_inode_of(req, ino);
	struct tlk_inode *dir = tlk_inode_of(req, newparent);
	struct fuse_entry_param e;
	struct tlk_node from, to;
	char proc[64];
	int ret;

	tlk_where_of(fs, inode, &from);
	tlk_where_child(fs, dir, newname, &to);
	ret = tlk_tag_check(fs, pid_of(req), TLK_OP_HARDLINK, &from, &to);
	tlk_proc_fd_path(inode->fd, proc, sizeof(proc));
	if (ret >= 0 &&
	    linkat(AT_FDCWD, proc, dir->fd, newname, AT_SYMLINK_FOLLOW) < 0)
		ret = -errno;
	if (ret >= 0)
		ret = tlk_make_entry(req, dir, newname, &e);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		tlk_reply_entry(req, &e);
}

void tlk_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -tlk_tag_unlink(tlk_fs_of(req), pid_of(req),
					    tlk_inode_of(req, parent), name));
}

void tlk_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	/* Only empty directories go: nothing to protect. */
	int ret = unlinkat(tlk_inode_of(req, parent)->fd, name, AT_REMOVEDIR);

	fuse_reply_err(req, ret < 0 ? errno : 0);
}

void tlk_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		   fuse_ino_t newparent, const char *newname,
		   unsigned int flags)
{
	fuse_reply_err(req, -tlk_tag_rename(tlk_fs_of(req), pid_of(req),
					    tlk_inode_of(req, parent), name,
					    tlk_inode_of(req, newparent),
					    newname, flags));
}

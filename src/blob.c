/* SPDX-License-Identifier: MIT */
/*
 * blob.c - blob data: write-once, small blobs verified (docs/design.md,
 * rule 9). Two ways lead to blobs/sha256/<xx>/<hex>/data:
 *
 *   - a write handle (distribution 2.8's PutContent writes a manifest
 *     straight to its blob path): the handle writes into a pending file of
 *     its own, and its bytes become the blob only when a verdict publishes
 *     them, at fsync, flush or close;
 *   - a rename (an upload finishing, 3.1's temporary file): the renamed
 *     file is sealed first (descriptors open on it can no longer write),
 *     then judged, then renamed without replacing anything.
 *
 * Either way tlk_decide (PUBLISH_BLOB) judges the content against what is
 * at the path: an existing blob takes only identical bytes, and a blob of
 * at most TLK_SMALL_BLOB bytes (or any, with verify_blobs=all) appears
 * only if its SHA-256 is its name.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

struct tlk_blob {
	pthread_mutex_t lock; /* protects everything below */
	int dirfd;	      /* O_PATH of blobs/sha256/<xx>/<hex>/, owned */
	struct tlk_pending_link pending; /* the handle's bytes, owned */
	struct tlk_node node;		 /* the blob data position */
	pid_t opener;
	int target; /* O_RDONLY of the blob that existed at open
		       (with content), -1 otherwise; owned */
	size_t target_size;
	bool dirty;	/* written or truncated since the last verdict */
	bool published; /* pending is the blob now: never written again */
	bool failed;	/* refused: stays refused */
};

/* SHA-256 of fd's bytes from offset 0 against `hex`. */
int tlk_blob_hash_check(int fd, const char *hex, enum tlk_digest_check *out)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE], buf[1 << 16];
	char got[TLK_HEX_LEN + 1];
	unsigned mdlen = 0, i;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	off_t off = 0;
	int ret = 0;

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		ret = -ENOMEM;
	while (ret == 0) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		if (n <= 0)
			break;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			ret = -EIO;
		off += n;
	}
	if (ret == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		ret = -EIO;
	EVP_MD_CTX_free(ctx);
	if (ret < 0)
		return ret;
	for (i = 0; i < mdlen && 2 * i + 1 < sizeof(got); i++) {
		got[2 * i] = digits[md[i] >> 4];
		got[2 * i + 1] = digits[md[i] & 15];
	}
	got[2 * i] = '\0';
	*out = strcmp(got, hex) == 0 ? TLK_DIGEST_MATCH : TLK_DIGEST_MISMATCH;
	return 0;
}

/* Copy `src` (an existing blob, at most TLK_SMALL_BLOB bytes) into the
 * handle's pending file, so a handle opened without O_TRUNC starts from
 * the blob's bytes. */
static int copy_in(int src, int dst)
{
	char buf[1 << 16];
	off_t off = 0;

	for (;;) {
		ssize_t n = pread(src, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (pwrite(dst, buf, (size_t)n, off) != n)
			return -EIO;
		off += n;
	}
}

void tlk_blob_free(struct tlk_blob *b)
{
	if (!b)
		return;
	if (b->pending.fd >= 0)
		tlk_pending_discard(b->dirfd, &b->pending);
	if (b->target >= 0)
		close(b->target);
	if (b->dirfd >= 0)
		close(b->dirfd);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

int tlk_blob_open(const struct tlk_node *node, int dirfd, int blobfd, int flags,
		  const struct tlk_owner *owner, pid_t pid,
		  struct tlk_blob **out)
{
	struct tlk_blob *b = calloc(1, sizeof(*b));
	struct tlk_owner own = *owner;
	char proc[64];
	struct stat st;
	int ret, src;

	*out = NULL;
	if (!b) {
		close(dirfd);
		return -ENOMEM;
	}
	pthread_mutex_init(&b->lock, NULL);
	b->dirfd = dirfd;
	b->pending.fd = -1;
	b->target = -1;
	b->node = *node;
	b->opener = pid;
	b->dirty = blobfd < 0 || (flags & O_TRUNC);
	/* A rewrite keeps the blob's owner, as rewriting in place would. */
	if (blobfd >= 0 && fstatat(blobfd, "", &st,
				   AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0) {
		own.uid = st.st_uid;
		own.gid = st.st_gid;
		own.mode = st.st_mode & 07777;
	}
	ret = tlk_pending_create(dirfd, own.mode, &b->pending);
	if (ret == 0 && geteuid() == 0 && (own.uid || own.gid) &&
	    fchown(b->pending.fd, own.uid, own.gid) < 0)
		ret = -errno;
	if (ret == 0 && blobfd >= 0) {
		tlk_proc_fd_path(blobfd, proc, sizeof(proc));
		src = open(proc, O_RDONLY | O_CLOEXEC);
		ret = src < 0 ? -errno : 0;
		if (ret == 0 && !(flags & O_TRUNC))
			ret = copy_in(src, b->pending.fd);
		if (ret == 0 && st.st_size > 0) {
			b->target = src; /* writes are held against it */
			b->target_size = (size_t)st.st_size;
			src = -1;
		}
		if (src >= 0)
			close(src);
	}
	if (ret < 0) {
		tlk_blob_free(b);
		return ret;
	}
	*out = b;
	return 0;
}

int tlk_blob_pending_fd(struct tlk_blob *b)
{
	return b->pending.fd;
}

ssize_t tlk_blob_read(struct tlk_blob *b, void *buf, size_t n, off_t off)
{
	ssize_t got;

	pthread_mutex_lock(&b->lock);
	got = pread(b->pending.fd, buf, n, off);
	if (got < 0)
		got = -errno;
	pthread_mutex_unlock(&b->lock);
	return got;
}

/* Once published, the pending file is the blob: a handle that would
 * change it again is refused like any write to an existing blob. */
static int writable(struct tlk_blob *b)
{
	return b->failed || b->published ? -EPERM : 0;
}

/* Rule 9: onto an existing blob, a write must repeat its bytes where it
 * lands (an identical rewrite); anything else is refused at the write,
 * not later. b->lock held. */
static int held_against_target(struct tlk_fs *fs, struct tlk_blob *b,
			       const void *buf, size_t n, off_t off)
{
	struct tlk_facts f = {.op = TLK_OP_PUBLISH_BLOB, .node = b->node};
	struct tlk_verdict v;
	char *have;
	ssize_t got;

	if (b->target < 0 || n == 0)
		return 0;
	f.has_content = true;
	f.size = b->target_size;
	f.digest_check = TLK_DIGEST_MISMATCH;
	if (off >= 0 && (size_t)off + n <= b->target_size) {
		have = malloc(n);
		if (!have)
			return -ENOMEM;
		got = pread(b->target, have, n, off);
		if (got < 0)
			f.error = errno;
		else if ((size_t)got == n && memcmp(have, buf, n) == 0)
			f.digest_check = TLK_DIGEST_MATCH;
		free(have);
	}
	v = tlk_decide(&f);
	if (v.kind != TLK_REFUSE)
		return 0;
	tlk_report(fs, b->opener, &f, v);
	b->failed = true;
	return -tlk_verdict_errno(v);
}

ssize_t tlk_blob_write(struct tlk_fs *fs, struct tlk_blob *b, const void *buf,
		       size_t n, off_t off)
{
	ssize_t got;

	pthread_mutex_lock(&b->lock);
	got = writable(b);
	if (got == 0)
		got = held_against_target(fs, b, buf, n, off);
	if (got == 0) {
		got = pwrite(b->pending.fd, buf, n, off);
		if (got < 0)
			got = -errno;
		else
			b->dirty = true;
	}
	pthread_mutex_unlock(&b->lock);
	return got;
}

int tlk_blob_truncate(struct tlk_blob *b, off_t size)
{
	int ret;

	pthread_mutex_lock(&b->lock);
	ret = writable(b);
	if (ret == 0 && ftruncate(b->pending.fd, size) < 0)
		ret = -errno;
	if (ret == 0)
		b->dirty = true;
	pthread_mutex_unlock(&b->lock);
	return ret;
}

/* Facts about `fd` (size bytes) becoming the blob `node` in `dirfd`: what
 * is at the path, and the digest check where the rules ask for one (or
 * `force`). */
static void blob_facts(struct tlk_fs *fs, int dirfd, int fd, size_t size,
		       bool force, struct tlk_facts *f)
{
	enum tlk_digest_check check = TLK_DIGEST_UNCHECKED;
	struct stat st;
	int ret = 0;

	f->op = TLK_OP_PUBLISH_BLOB;
	f->size = size;
	f->has_content = false;
	if (fstatat(dirfd, "data", &st, AT_SYMLINK_NOFOLLOW) == 0)
		f->has_content = !S_ISREG(st.st_mode) || st.st_size > 0;
	else if (errno != ENOENT)
		ret = -errno;
	if (ret == 0 && (force || f->has_content || size <= TLK_SMALL_BLOB ||
			 fs->verify_all_blobs))
		ret = tlk_blob_hash_check(fd, f->node.hex, &check);
	f->digest_check = check;
	if (ret < 0 && !f->error)
		f->error = -ret;
}

/* Decide and report: -errno for a refusal, else the verdict kind. */
static int judge(struct tlk_fs *fs, pid_t pid, const struct tlk_facts *f,
		 struct tlk_verdict *v)
{
	*v = tlk_decide(f);
	tlk_report(fs, pid, f, *v);
	return v->kind == TLK_REFUSE ? -tlk_verdict_errno(*v) : 0;
}

int tlk_blob_publish(struct tlk_fs *fs, pid_t pid, int dirfd,
		     const struct tlk_node *node,
		     struct tlk_pending_link *pending, size_t size)
{
	struct tlk_facts f = {.node = *node};
	struct tlk_verdict v;
	int ret;

	blob_facts(fs, dirfd, pending->fd, size, false, &f);
	ret = judge(fs, pid, &f, &v);
	if (ret < 0 || v.reason == TLK_R_IDENTICAL)
		return ret;
	if (fsync(pending->fd) < 0)
		return -errno;
	ret = tlk_pending_link_as(dirfd, pending, "data");
	if (ret != -EEXIST)
		return ret;
	/* Someone got there first, on this node or another: what is there
	 * decides (identical bytes, or a refusal); an empty leftover is
	 * replaced. */
	blob_facts(fs, dirfd, pending->fd, size, true, &f);
	ret = judge(fs, pid, &f, &v);
	if (ret == 0 && !f.has_content)
		ret = tlk_pending_replace_as(dirfd, pending, "data");
	return ret;
}

int tlk_blob_rename(struct tlk_fs *fs, pid_t pid, int olddir,
		    const char *oldname, int newdir,
		    const struct tlk_node *node)
{
	struct tlk_facts f = {.node = *node};
	struct tlk_verdict v;
	struct stat st;
	int fd, ret;

	fd = openat(olddir, oldname,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* From here on no descriptor can change what is judged. */
	tlk_inode_seal_in_place(&fs->inodes, st.st_dev, st.st_ino);
	blob_facts(fs, newdir, fd, (size_t)st.st_size, false, &f);
	ret = judge(fs, pid, &f, &v);
	if (ret == 0 && v.reason != TLK_R_IDENTICAL) {
		ret = renameat2(olddir, oldname, newdir, "data",
				RENAME_NOREPLACE) < 0
			  ? -errno
			  : 0;
		if (ret == -EINVAL) /* no RENAME_NOREPLACE here (NFS) */
			ret = linkat(olddir, oldname, newdir, "data", 0) < 0
				  ? -errno
			      : unlinkat(olddir, oldname, 0) < 0 ? -errno
								 : 0;
		if (ret == -EEXIST) {
			blob_facts(fs, newdir, fd, (size_t)st.st_size, true,
				   &f);
			ret = judge(fs, pid, &f, &v);
			if (ret == 0 && !f.has_content) /* an empty leftover */
				ret = renameat(olddir, oldname, newdir,
					       "data") < 0
					  ? -errno
					  : 2;
			else if (ret == 0)
				ret = 1; /* identical: drop the source */
		} else if (ret == 0) {
			ret = 2; /* renamed */
		}
	} else if (ret == 0) {
		ret = 1;
	}
	close(fd);
	if (ret == 1)
		ret = unlinkat(olddir, oldname, 0) < 0 ? -errno : 0;
	return ret == 2 ? 1 : ret;
}

/* The content judged as the blob: publish it or refuse. b->lock held. */
static int judge_pending(struct tlk_fs *fs, struct tlk_blob *b)
{
	struct stat st;
	int ret;

	if (fstat(b->pending.fd, &st) < 0)
		return -errno;
	ret = tlk_blob_publish(fs, b->opener, b->dirfd, &b->node, &b->pending,
			       (size_t)st.st_size);
	if (ret == 0)
		b->published = true;
	return ret;
}

int tlk_blob_settle(struct tlk_fs *fs, struct tlk_blob *b, bool sync)
{
	int ret = 0;

	pthread_mutex_lock(&b->lock);
	if (b->failed) {
		ret = -EPERM;
	} else if (b->dirty) {
		ret = judge_pending(fs, b);
		b->dirty = false;
		if (ret < 0)
			b->failed = true;
	}
	if (ret == 0 && sync && b->published && fsync(b->pending.fd) < 0)
		ret = -errno;
	pthread_mutex_unlock(&b->lock);
	return ret;
}

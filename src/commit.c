/* SPDX-License-Identifier: MIT */
/*
 * commit.c - publish a tag link without ever replacing different content
 * (see commit.h). The backing filesystem decides races: linkat(2) fails
 * with EEXIST for every writer but one, on this node or any other sharing
 * the storage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taglockfs/commit.h"

#define LINK_NAME "link"

/* Temporary names must not collide between nodes sharing the storage
 * (every container's daemon may be pid 1): host, pid and a counter. */
static atomic_uint counter;

static unsigned long host_id(void)
{
	char host[256] = "";
	unsigned long h = 5381;
	const char *p;

	gethostname(host, sizeof(host) - 1);
	for (p = host; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return h & 0xffffffffUL;
}

int tlk_link_read_fd(int fd, struct tlk_link *out, char *raw, size_t cap,
		     size_t *raw_len)
{
	char buf[TLK_LINK_LEN + 1];
	size_t got = 0;

	/* One byte more than a link: a longer file is malformed. */
	while (got < sizeof(buf)) {
		ssize_t n = pread(fd, buf + got, sizeof(buf) - got, (off_t)got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	tlk_link_parse(buf, got, out);
	if (raw) {
		size_t n = got < cap ? got : cap;
		memcpy(raw, buf, n);
		if (raw_len)
			*raw_len = n;
	}
	return 0;
}

int tlk_link_read(int dirfd, const char *name, struct tlk_link *out, char *raw,
		  size_t raw_cap, size_t *raw_len)
{
	int fd, ret;

	if (raw_len)
		*raw_len = 0;
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT) {
			tlk_link_absent(out);
			return 0;
		}
		if (errno == ELOOP) { /* a symlink is no link */
			tlk_link_parse("?", 1, out);
			return 0;
		}
		return -errno;
	}
	ret = tlk_link_read_fd(fd, out, raw, raw_cap, raw_len);
	close(fd);
	return ret;
}

int tlk_pending_create(int dirfd, unsigned mode, struct tlk_pending_link *out)
{
	int n;

	out->name[0] = '\0';
	out->fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (out->fd >= 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	n = snprintf(out->name, sizeof(out->name),
		     "link.taglockfs-%08lx-%d-%u.tmp", host_id(), (int)getpid(),
		     atomic_fetch_add(&counter, 1));
	if (n < 0 || (size_t)n >= sizeof(out->name))
		return -ENAMETOOLONG;
	out->fd =
	    openat(dirfd, out->name,
		   O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, mode);
	if (out->fd < 0) {
		out->name[0] = '\0';
		return -errno;
	}
	return 0;
}

void tlk_pending_discard(int dirfd, struct tlk_pending_link *pending)
{
	if (pending->name[0])
		unlinkat(dirfd, pending->name, 0);
	if (pending->fd >= 0)
		close(pending->fd);
	pending->fd = -1;
	pending->name[0] = '\0';
}

static int write_all(int fd, const char *buf, size_t len, bool sync)
{
	size_t done = 0;

	if (ftruncate(fd, 0) < 0)
		return -errno;
	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done, (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return sync && fsync(fd) < 0 ? -errno : 0;
}

/* Make the directory entry durable: the link's name is the commit. */
static void sync_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Give the pending file the name "link" unless the name exists. */
static int link_noreplace_as(int dirfd, struct tlk_pending_link *pending,
			     const char *name)
{
	char proc[64];

	if (pending->name[0])
		return linkat(dirfd, pending->name, dirfd, name, 0) < 0 ? -errno
									: 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pending->fd);
	return linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) < 0
		   ? -errno
		   : 0;
}

static int link_noreplace(int dirfd, struct tlk_pending_link *pending)
{
	return link_noreplace_as(dirfd, pending, LINK_NAME);
}

int tlk_pending_link_as(int dirfd, struct tlk_pending_link *pending,
			const char *name)
{
	int ret = link_noreplace_as(dirfd, pending, name);

	if (ret == 0) {
		if (pending->name[0])
			unlinkat(dirfd, pending->name, 0);
		pending->name[0] = '\0';
		sync_dir(dirfd);
	}
	return ret;
}

/* Replace "link" by the pending file (atomically, by rename): only ever
 * called with the repository's lock held, after the link was seen empty,
 * or for content that the rules allow to replace whatever is there. */
static int replace_as(int dirfd, struct tlk_pending_link *pending,
		      const char *name)
{
	struct tlk_pending_link named = {.fd = -1};
	char proc[64];
	int n;

	if (pending->name[0])
		return renameat(dirfd, pending->name, dirfd, name) < 0 ? -errno
								       : 0;
	n = snprintf(named.name, sizeof(named.name),
		     "link.taglockfs-%08lx-%d-%u.tmp", host_id(), (int)getpid(),
		     atomic_fetch_add(&counter, 1));
	if (n < 0 || (size_t)n >= sizeof(named.name))
		return -ENAMETOOLONG;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pending->fd);
	unlinkat(dirfd, named.name, 0);
	if (linkat(AT_FDCWD, proc, dirfd, named.name, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	if (renameat(dirfd, named.name, dirfd, name) < 0) {
		int err = -errno;
		unlinkat(dirfd, named.name, 0);
		return err;
	}
	return 0;
}

static int replace_empty(int dirfd, struct tlk_pending_link *pending)
{
	return replace_as(dirfd, pending, LINK_NAME);
}

int tlk_pending_replace_as(int dirfd, struct tlk_pending_link *pending,
			   const char *name)
{
	int ret = replace_as(dirfd, pending, name);

	if (ret == 0) {
		pending->name[0] = '\0';
		sync_dir(dirfd);
	}
	return ret;
}

int tlk_link_replace(int dirfd, struct tlk_pending_link *pending,
		     const char *content, size_t len, bool sync)
{
	int ret = write_all(pending->fd, content, len, sync);

	/* A new name is one linkat; an existing one is replaced by rename. */
	if (ret == 0)
		ret = link_noreplace(dirfd, pending);
	if (ret == 0 && pending->name[0])
		unlinkat(dirfd, pending->name, 0);
	if (ret == -EEXIST)
		ret = replace_empty(dirfd, pending);
	if (ret == 0) {
		pending->name[0] = '\0';
		if (sync)
			sync_dir(dirfd);
	}
	return ret;
}

/* After EEXIST: what is there decides. */
static int settle_existing(int dirfd, const struct tlk_link *want,
			   enum tlk_commit_result *result,
			   struct tlk_link *found)
{
	int ret = tlk_link_read(dirfd, LINK_NAME, found, NULL, 0, NULL);

	if (ret < 0)
		return ret;
	if (found->state == TLK_LINK_ABSENT)
		return -EAGAIN; /* removed meanwhile: try again */
	if (found->state == TLK_LINK_EMPTY)
		return -ENODATA; /* caller replaces it */
	*result = tlk_link_same(found, want) ? TLK_COMMIT_IDENTICAL
					     : TLK_COMMIT_CONFLICT;
	return 0;
}

int tlk_link_commit(int dirfd, struct tlk_pending_link *pending,
		    const char *content, size_t len,
		    enum tlk_commit_result *result, struct tlk_link *found)
{
	struct tlk_link want;
	int ret, tries;

	tlk_link_parse(content, len, &want);
	ret = write_all(pending->fd, content, len, true);
	if (ret < 0)
		return ret;
	for (tries = 0; tries < 8; tries++) {
		ret = link_noreplace(dirfd, pending);
		if (ret == 0) {
			if (pending->name[0])
				unlinkat(dirfd, pending->name, 0);
			pending->name[0] = '\0';
			sync_dir(dirfd);
			*result = TLK_COMMIT_CREATED;
			*found = want;
			return 0;
		}
		if (ret != -EEXIST)
			return ret;
		ret = settle_existing(dirfd, &want, result, found);
		if (ret == -ENODATA) {
			ret = replace_empty(dirfd, pending);
			if (ret == 0) {
				pending->name[0] = '\0';
				sync_dir(dirfd);
				*result = TLK_COMMIT_CREATED;
				*found = want;
			}
			return ret;
		}
		if (ret != -EAGAIN)
			return ret;
	}
	return -EAGAIN;
}

/* SPDX-License-Identifier: MIT */
/*
 * guarded.c - the guarded-handle state machine (docs/design.md, "Guarded
 * handles"). Every write handle on a link file (a tag's current/link, an
 * index, revision or layer link) is guarded: it has no writable backing
 * fd at all. A write or truncate is applied to a candidate copy of the
 * handle's view (shadow.h); tlk_decide judges the candidate with the
 * policy in force at that moment (rule 4); an accepted candidate becomes
 * the view, and a view the verdict says to publish is committed under the
 * repository lock (tag_ops.c), where the link as it is then decides again.
 *
 *   open ──write/truncate──▶ ALLOW: view := candidate
 *                          ├▶ PUBLISH: view := candidate; commit
 *                          └▶ REFUSE: view unchanged; failed
 *   flush/fsync/release: the view judged as final (closing)
 *
 * A refused handle stays refused: 2.8 checks the error of write and
 * fsync, and the fsync after a refused write must not succeed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs.h"

struct tlk_guarded {
	pthread_mutex_t lock; /* protects everything below */
	struct tlk_shadow shadow;
	int dirfd;			 /* O_PATH of the link's directory,
					    owned */
	struct tlk_pending_link pending; /* fd -1 until needed */
	int published;			 /* O_RDWR of the file last published
					    (the link now), for fsync; owned */
	struct tlk_owner owner;		 /* of what it publishes */
	struct tlk_node node;		 /* the link position */
	pid_t opener;			 /* who opened it, for reports */
	bool failed;			 /* a change was refused */
};

void tlk_guarded_free(struct tlk_guarded *g)
{
	if (!g)
		return;
	if (g->pending.fd >= 0)
		tlk_pending_discard(g->dirfd, &g->pending);
	if (g->published >= 0)
		close(g->published);
	if (g->dirfd >= 0)
		close(g->dirfd);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* The link's bytes at open (up to TLK_SHADOW_MAX), its size and owner. */
static int read_link(int linkfd, char *raw, size_t *len,
		     struct tlk_owner *owner)
{
	struct tlk_link cur;
	char proc[64];
	struct stat st;
	int fd, ret;

	tlk_proc_fd_path(linkfd, proc, sizeof(proc));
	fd = open(proc, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = fstat(fd, &st) < 0 ? -errno : 0;
	if (ret == 0)
		ret = tlk_link_read_fd(fd, &cur, raw, TLK_SHADOW_MAX, len);
	close(fd);
	if (ret == 0) {
		if ((size_t)st.st_size > *len)
			*len = (size_t)st.st_size;
		owner->uid = st.st_uid;
		owner->gid = st.st_gid;
		owner->mode = st.st_mode & 07777;
	}
	return ret;
}

int tlk_guarded_open(struct tlk_fs *fs, const struct tlk_node *node, int dirfd,
		     int linkfd, int flags, const struct tlk_owner *owner,
		     pid_t pid, struct tlk_guarded **out)
{
	struct tlk_owner own = *owner;
	char raw[TLK_SHADOW_MAX];
	struct tlk_guarded *g;
	size_t len = 0;
	int ret = 0;

	(void)fs;
	*out = NULL;
	if (linkfd >= 0)
		ret = read_link(linkfd, raw, &len, &own);
	g = ret == 0 ? calloc(1, sizeof(*g)) : NULL;
	if (!g) {
		close(dirfd);
		return ret < 0 ? ret : -ENOMEM;
	}
	pthread_mutex_init(&g->lock, NULL);
	tlk_shadow_init(&g->shadow, raw, len, linkfd < 0 || (flags & O_TRUNC));
	g->dirfd = dirfd;
	g->pending.fd = -1;
	g->published = -1;
	g->owner = own;
	g->node = *node;
	g->opener = pid;
	if (linkfd < 0)
		ret = tlk_pending_create(dirfd, own.mode, &g->pending);
	if (ret < 0) {
		tlk_guarded_free(g);
		return ret;
	}
	*out = g;
	return 0;
}

int tlk_guarded_pending_fd(struct tlk_guarded *g)
{
	return g->pending.fd;
}

/* Publish the view; on a conflict the handle mirrors the winner. Called
 * with g->lock held. */
static int publish_view(struct tlk_fs *fs, struct tlk_guarded *g)
{
	struct tlk_link found;
	int ret;

	ret = tlk_tag_publish(fs, g->opener, g->dirfd, &g->node, &g->pending,
			      &g->owner, g->shadow.bytes, g->shadow.len, false,
			      &found);
	/* The pending file is the link now (or a loser): never write it
	 * again; the published one is kept for fsync. */
	if (ret == 0 && g->pending.fd >= 0 && !g->pending.name[0]) {
		if (g->published >= 0)
			close(g->published);
		g->published = g->pending.fd;
		g->pending.fd = -1;
	}
	if (g->pending.fd >= 0)
		tlk_pending_discard(g->dirfd, &g->pending);
	if (ret == 0) {
		tlk_shadow_committed(&g->shadow);
		return 0;
	}
	if (ret == -EPERM && found.state == TLK_LINK_VALID)
		tlk_shadow_init(&g->shadow, found.digest, TLK_LINK_LEN, false);
	g->failed = true;
	return ret;
}

/* Judge `view` (the candidate, or the view at close) and act on it.
 * Called with g->lock held. */
static int judge_view(struct tlk_fs *fs, struct tlk_guarded *g,
		      const struct tlk_shadow_view *view, bool closing,
		      bool final)
{
	struct tlk_facts f = {.op = TLK_OP_WRITE_LINK, .node = g->node};
	struct tlk_verdict v;

	f.view = view->bytes;
	f.view_len = view->len;
	f.base = g->shadow.base;
	f.base_len = g->shadow.base_len;
	f.closing = closing;
	tlk_facts_policy(fs, &g->node, &f.repo_immutable, &f.tag_protected,
			 NULL);
	v = tlk_decide(&f);
	switch (v.kind) {
	case TLK_REFUSE:
		if (!closing || final)
			tlk_report(fs, g->opener, &f, v);
		if (!closing)
			g->failed = true;
		return -tlk_verdict_errno(v);
	case TLK_PUBLISH:
		tlk_shadow_accept(&g->shadow, view);
		return publish_view(fs, g);
	case TLK_ALLOW:
	case TLK_INSPECT:
	default:
		tlk_shadow_accept(&g->shadow, view);
		return 0;
	}
}

/* A write (buf) or a truncate (buf NULL, to `off`): the candidate view
 * judged, accepted or refused. */
static int change(struct tlk_fs *fs, struct tlk_guarded *g, off_t off,
		  const void *buf, size_t n)
{
	struct tlk_shadow_view view;
	int ret = -EPERM; /* a refused handle stays refused */

	pthread_mutex_lock(&g->lock);
	if (!g->failed) {
		if (buf)
			tlk_shadow_try_write(&g->shadow, off, buf, n, &view);
		else
			tlk_shadow_try_truncate(&g->shadow, off, &view);
		ret = judge_view(fs, g, &view, false, false);
	}
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int tlk_guarded_write(struct tlk_fs *fs, struct tlk_guarded *g, off_t off,
		      const void *buf, size_t n)
{
	static const char none;

	/* An empty write still needs a non-NULL buffer to be a write. */
	return change(fs, g, off, n ? buf : &none, n);
}

int tlk_guarded_truncate(struct tlk_fs *fs, struct tlk_guarded *g, off_t size)
{
	return change(fs, g, size, NULL, 0);
}

size_t tlk_guarded_read(struct tlk_guarded *g, off_t off, void *buf, size_t n)
{
	size_t got;

	pthread_mutex_lock(&g->lock);
	got = tlk_shadow_read(&g->shadow, off, buf, n);
	pthread_mutex_unlock(&g->lock);
	return got;
}

/* fsync of what this handle published: the file, then its name. */
static int sync_published(struct tlk_guarded *g)
{
	int dfd, ret = 0;

	if (g->published < 0)
		return 0;
	if (fsync(g->published) < 0)
		return -errno;
	dfd = openat(g->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd) < 0)
		ret = -errno;
	close(dfd);
	return ret;
}

int tlk_guarded_settle(struct tlk_fs *fs, struct tlk_guarded *g, bool final,
		       bool sync)
{
	struct tlk_shadow_view view;
	int ret;

	pthread_mutex_lock(&g->lock);
	if (g->failed) {
		ret = -EPERM;
	} else {
		tlk_shadow_current(&g->shadow, &view);
		ret = judge_view(fs, g, &view, true, final);
		if (ret == 0 && sync)
			ret = sync_published(g);
	}
	pthread_mutex_unlock(&g->lock);
	return ret;
}

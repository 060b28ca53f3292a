/* SPDX-License-Identifier: MIT */
/*
 * protected_set.c - the blobs protected tags need (docs/design.md,
 * rule 9): for every protected tag of a repository with protect_delete,
 * its manifest, an index's child manifests, and every config, layer and
 * artifact blob they reference.
 *
 * How the daemon knows it: by reading the tree, not by remembering what it
 * saw, because replicas on shared storage create tags this daemon never
 * sees. Garbage collection deletes thousands of blobs in a row, so the set
 * is computed once and kept for TLK_SET_TTL_MS, or until this daemon
 * publishes a protected tag or the policy changes. The trade-off: a tag
 * that another node protects less than TLK_SET_TTL_MS before a delete may
 * not be counted yet (distribution asks for garbage collection to run
 * with the registry read-only, for the same reason). Any error while
 * computing it makes every answer an error: the delete is refused (rule
 * 5).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "taglockfs/log.h"
#include "taglockfs/manifest.h"

#define TLK_SET_TTL_MS 2000
#define TLK_INDEX_DEPTH 4

struct tlk_protected_set {
	pthread_mutex_t lock; /* protects everything below; taken alone */
	char (*hex)[TLK_HEX_LEN + 1]; /* sorted when valid */
	size_t count, cap;
	/* Everything above per repository, as "<repo>@<hex>": the
	 * revision links of its manifests and the layer links of its other
	 * blobs are needed too, for the registry to serve them there. */
	char **manifests; /* sorted when valid, owned */
	size_t nmanifests, capmanifests;
	bool valid;
	long long computed_ms;
	long long warned_ms; /* the last "cannot establish" log line */
	const void *policy;  /* the policy it was computed under */
};

/* What one computation walks with. */
struct walk {
	struct tlk_fs *fs;
	struct tlk_protected_set *set;
	const char *repo; /* of the tags being walked */
	int v2fd; /* docker/registry/v2 (or the root of a mount at v2) */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tlk_protected_set_new(struct tlk_protected_set **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	pthread_mutex_init(&(*out)->lock, NULL);
	return 0;
}

static void drop_manifests(struct tlk_protected_set *set)
{
	size_t i;

	for (i = 0; i < set->nmanifests; i++)
		free(set->manifests[i]);
	set->nmanifests = 0;
}

void tlk_protected_set_free(struct tlk_protected_set *set)
{
	if (!set)
		return;
	pthread_mutex_destroy(&set->lock);
	drop_manifests(set);
	free(set->manifests);
	free(set->hex);
	free(set);
}

static int add_manifest_key(struct tlk_protected_set *set, const char *repo,
			    const char *hex)
{
	char *key;

	if (set->nmanifests == set->capmanifests) {
		size_t cap = set->capmanifests ? 2 * set->capmanifests : 64;
		void *p = realloc(set->manifests, cap * sizeof(char *));
		if (!p)
			return -ENOMEM;
		set->manifests = p;
		set->capmanifests = cap;
	}
	if (asprintf(&key, "%s@%s", repo, hex) < 0)
		return -ENOMEM;
	set->manifests[set->nmanifests++] = key;
	return 0;
}

void tlk_protected_set_stale(struct tlk_fs *fs)
{
	pthread_mutex_lock(&fs->protected_set->lock);
	fs->protected_set->valid = false;
	pthread_mutex_unlock(&fs->protected_set->lock);
}

static int add(struct tlk_protected_set *set, const char *hex)
{
	if (set->count == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 64;
		void *p = realloc(set->hex, cap * sizeof(*set->hex));
		if (!p)
			return -ENOMEM;
		set->hex = p;
		set->cap = cap;
	}
	memcpy(set->hex[set->count++], hex, TLK_HEX_LEN + 1);
	return 0;
}

/* The bytes of blob <hex> (at most TLK_MANIFEST_MAX + 1). ENOENT when
 * the blob is not there. */
static int read_blob(int v2fd, const char *hex, char **buf, size_t *len)
{
	char path[128];
	size_t cap = TLK_MANIFEST_MAX + 1, got = 0;
	int fd;

	snprintf(path, sizeof(path), "blobs/sha256/%.2s/%s/data", hex, hex);
	fd = openat(v2fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*buf = malloc(cap);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < cap) {
		ssize_t n = read(fd, *buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;
			free(*buf);
			close(fd);
			return err;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
}

/* Add the manifest <hex> and what it references (an index: recursively). */
static int add_manifest(struct walk *w, const char *hex, int depth)
{
	struct tlk_manifest_refs refs = {0};
	char *buf = NULL;
	size_t len = 0, i;
	int ret = add(w->set, hex);

	if (ret == 0)
		ret = add_manifest_key(w->set, w->repo, hex);

	if (ret < 0)
		return ret;
	ret = read_blob(w->v2fd, hex, &buf, &len);
	if (ret == -ENOENT) /* the tag cannot be pulled anyway */
		return 0;
	if (ret < 0)
		return ret;
	/* Too large, or not JSON: not a manifest distribution could serve,
	 * so it references nothing. */
	ret = len > TLK_MANIFEST_MAX ? -EINVAL
				     : tlk_manifest_refs(buf, len, &refs);
	free(buf);
	if (ret == -EINVAL)
		return 0;
	for (i = 0; ret == 0 && i < refs.count; i++) {
		if (refs.refs[i].is_manifest && depth < TLK_INDEX_DEPTH)
			ret = add_manifest(w, refs.refs[i].hex, depth + 1);
		else
			ret = add(w->set, refs.refs[i].hex);
		if (ret == 0 && !refs.refs[i].is_manifest)
			ret =
			    add_manifest_key(w->set, w->repo, refs.refs[i].hex);
	}
	tlk_manifest_refs_free(&refs);
	return ret;
}

/* Every protected tag in `tagsfd` (tags/ of `repo`). */
static int walk_tags(struct walk *w, int tagsfd, const struct tlk_node *repo)
{
	struct tlk_node tags = *repo, tag;
	char path[NAME_MAX + 16];
	struct tlk_link cur;
	struct dirent *de;
	bool prot;
	int ret;
	DIR *d;

	tags.kind = TLK_TAGS;
	ret = tlk_dir_open(tagsfd, ".", &d);
	if (ret < 0)
		return ret;
	while ((ret = tlk_dir_next(d, &de)) > 0) {
		tlk_layout_child(&tags, de->d_name, &tag);
		if (tag.kind != TLK_TAG_DIR)
			continue;
		tlk_facts_policy(w->fs, &tag, NULL, &prot, NULL);
		if (!prot)
			continue;
		snprintf(path, sizeof(path), "%s/current/link", de->d_name);
		ret = tlk_link_read(dirfd(d), path, &cur, NULL, 0, NULL);
		if (ret == -ENOENT || ret == -ENOTDIR) {
			ret = 0;
			continue;
		}
		if (ret == 0 && cur.state == TLK_LINK_VALID)
			ret = add_manifest(w, cur.digest + 7, 0);
		if (ret < 0)
			break;
	}
	closedir(d);
	return ret;
}

/* A directory of the repositories tree (`node` REPOS or REPO_DIR). */
static int walk_repos(struct walk *w, int dfd, const struct tlk_node *node,
		      int depth)
{
	struct tlk_node child;
	struct dirent *de;
	bool pdel;
	int cfd, ret;
	DIR *d;

	if (depth > 64)
		return -ELOOP;
	ret = tlk_dir_open(dfd, ".", &d);
	if (ret < 0)
		return ret;
	while ((ret = tlk_dir_next(d, &de)) > 0) {
		tlk_layout_child(node, de->d_name, &child);
		if (child.kind == TLK_MANIFESTS) {
			tlk_facts_policy(w->fs, &child, NULL, NULL, &pdel);
			if (!pdel)
				continue;
			cfd = openat(dirfd(d), "_manifests/tags",
				     O_PATH | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);
			if (cfd < 0 && errno == ENOENT)
				continue;
		} else if (child.kind == TLK_REPO_DIR) {
			cfd = openat(dirfd(d), de->d_name,
				     O_PATH | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);
			if (cfd < 0 && (errno == ENOTDIR || errno == ENOENT))
				continue;
		} else {
			continue;
		}
		if (cfd < 0) {
			ret = -errno;
			break;
		}
		w->repo = child.repo;
		ret = child.kind == TLK_MANIFESTS
			  ? walk_tags(w, cfd, &child)
			  : walk_repos(w, cfd, &child, depth + 1);
		close(cfd);
		if (ret < 0)
			break;
	}
	closedir(d);
	return ret;
}

static int cmp_hex(const void *a, const void *b)
{
	return memcmp(a, b, TLK_HEX_LEN);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Recompute the set (set->lock held). */
static int compute(struct tlk_fs *fs, struct tlk_protected_set *set)
{
	struct walk w = {.fs = fs, .set = set};
	struct tlk_node repos;
	int reposfd, ret;

	set->count = 0;
	drop_manifests(set);
	w.v2fd = openat(fs->root.fd, "docker/registry/v2",
			O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (w.v2fd < 0 && errno == ENOENT) /* a mount at v2 */
		w.v2fd = fcntl(fs->root.fd, F_DUPFD_CLOEXEC, 0);
	if (w.v2fd < 0)
		return -errno;
	tlk_layout_path("docker/registry/v2/repositories", &repos);
	reposfd = openat(w.v2fd, "repositories",
			 O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (reposfd < 0)
		ret = errno == ENOENT ? 0 : -errno;
	else
		ret = walk_repos(&w, reposfd, &repos, 0);
	if (reposfd >= 0)
		close(reposfd);
	close(w.v2fd);
	if (ret == 0 && set->count)
		qsort(set->hex, set->count, sizeof(*set->hex), cmp_hex);
	if (ret == 0 && set->nmanifests)
		qsort(set->manifests, set->nmanifests, sizeof(char *), cmp_key);
	return ret;
}

/* Bring the set up to date (set->lock held). 0 or -errno. */
static int fresh(struct tlk_fs *fs, struct tlk_protected_set *set,
		 const void *policy)
{
	long long now = now_ms();
	int ret = 0;

	if (!set->valid || set->policy != policy ||
	    now - set->computed_ms > TLK_SET_TTL_MS) {
		ret = compute(fs, set);
		set->valid = ret == 0;
		set->policy = policy;
		set->computed_ms = now;
		if (ret < 0 && now - set->warned_ms > 10000) {
			/* at most every 10 s: a collector retries thousands */
			set->warned_ms = now;
			tlk_err("cannot establish which blobs protected tags "
				"need (%s): their deletes are refused",
				strerror(-ret));
		}
	}
	return ret;
}

int tlk_protected_blob(struct tlk_fs *fs, const char *hex)
{
	struct tlk_protected_set *set = fs->protected_set;
	struct tlk_policy_hold hold;
	int ret;

	tlk_live_policy_acquire(fs->policy, &hold);
	pthread_mutex_lock(&set->lock);
	ret = fresh(fs, set, hold.policy);
	if (ret == 0) /* (bsearch takes no NULL array, even empty) */
		ret = set->count && bsearch(hex, set->hex, set->count,
					    sizeof(*set->hex), cmp_hex);
	pthread_mutex_unlock(&set->lock);
	tlk_live_policy_release(&hold);
	return ret;
}

int tlk_protected_in_repo(struct tlk_fs *fs, const char *repo, const char *hex)
{
	struct tlk_protected_set *set = fs->protected_set;
	struct tlk_policy_hold hold;
	char *key;
	int ret;

	if (asprintf(&key, "%s@%s", repo, hex) < 0)
		return -ENOMEM;
	tlk_live_policy_acquire(fs->policy, &hold);
	pthread_mutex_lock(&set->lock);
	ret = fresh(fs, set, hold.policy);
	if (ret == 0)
		ret = set->nmanifests &&
		      bsearch(&key, set->manifests, set->nmanifests,
			      sizeof(char *), cmp_key);
	pthread_mutex_unlock(&set->lock);
	tlk_live_policy_release(&hold);
	free(key);
	return ret;
}

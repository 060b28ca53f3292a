/* SPDX-License-Identifier: MIT */
/*
 * guard.c - between the FUSE handlers and the pure core: gather the facts
 * of an operation on tag state (where the node is, what the policy says,
 * what the links hold), ask tlk_decide(), report refusals, and perform the
 * guarded namespace operations (unlink, rename, link, ...) under the tag's
 * lock so that the check and the change cannot be separated by another
 * request of this daemon.
 *
 * Where a node is comes from the backing fd's current path
 * (/proc/self/fd), so a renamed ancestor, or a link reached through a
 * symlink, is judged where it really is now.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "taglockfs/log.h"

#define SCAN_DEPTH_MAX 64

void tlk_proc_fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* The path of a backing fd relative to the backing root, or NULL when it
 * is elsewhere or deleted. `buf` holds the result. */
static const char *rel_path_of_fd(struct tlk_fs *fs, int fd, char *buf,
				  size_t len)
{
	char proc[64];
	const char *rel;
	ssize_t n;

	tlk_proc_fd_path(fd, proc, sizeof(proc));
	n = readlink(proc, buf, len - 1);
	if (n < 0 || (size_t)n < fs->root_len)
		return NULL;
	buf[n] = '\0';
	if (memcmp(buf, fs->root_path, fs->root_len) != 0)
		return NULL;
	rel = buf + fs->root_len;
	if (fs->root_len > 1 && *rel != '\0' && *rel++ != '/')
		return NULL; /* a sibling that shares the prefix */
	if (strstr(rel, " (deleted)"))
		return NULL;
	return rel;
}

void tlk_guard_node_of_fd(struct tlk_fs *fs, int fd, struct tlk_node *out,
			  char *dir, size_t dirlen)
{
	char path[PATH_MAX];
	const char *rel = rel_path_of_fd(fs, fd, path, sizeof(path));
	const char *slash;

	out->kind = TLK_OTHER;
	if (dir && dirlen)
		dir[0] = '\0';
	if (!rel)
		return;
	tlk_layout_path(rel, out);
	if (dir) {
		slash = strrchr(rel, '/');
		snprintf(dir, dirlen, "%.*s", slash ? (int)(slash - rel) : 1,
			 slash ? rel : ".");
	}
}

bool tlk_guard_aliased_link(int fd, struct tlk_node *node)
{
	char proc[64];
	struct tlk_link link;
	struct stat st;
	int rfd, ret;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_nlink < 2 ||
	    st.st_size != TLK_LINK_LEN)
		return false;
	tlk_proc_fd_path(fd, proc, sizeof(proc));
	rfd = open(proc, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return false;
	ret = tlk_link_read_fd(rfd, &link, NULL, 0, NULL);
	close(rfd);
	if (ret < 0 || link.state != TLK_LINK_VALID)
		return false;
	memset(node, 0, sizeof(*node));
	node->kind = TLK_CURRENT_LINK;
	snprintf(node->repo, sizeof(node->repo), "(hard link)");
	snprintf(node->tag, sizeof(node->tag), "(unknown)");
	return true;
}

void tlk_guard_node_of_inode(struct tlk_fs *fs, struct tlk_inode *inode,
			     struct tlk_node *out, char *dir, size_t dirlen)
{
	if (inode->link_node) {
		*out = *inode->link_node;
		if (dir && dirlen)
			dir[0] = '\0';
		return;
	}
	tlk_guard_node_of_fd(fs, inode->fd, out, dir, dirlen);
}

int tlk_guard_inode_dir(struct tlk_fs *fs, struct tlk_inode *inode,
			const char *dir)
{
	int dfd;

	if (!inode->link_node)
		return tlk_guard_open_dir(fs, dir);
	dfd = fcntl(inode->link_dirfd, F_DUPFD_CLOEXEC, 0);
	return dfd < 0 ? -errno : dfd;
}

int tlk_guard_open_dir(struct tlk_fs *fs, const char *dir)
{
	/* Relative to the backing root: never through our own mount. */
	int dfd = openat(fs->root.fd, *dir ? dir : ".",
			 O_PATH | O_DIRECTORY | O_CLOEXEC);

	return dfd < 0 ? -errno : dfd;
}

void tlk_guard_child(struct tlk_fs *fs, struct tlk_inode *parent,
		     const char *name, struct tlk_node *out)
{
	struct tlk_node dir;

	if (parent == &fs->root)
		tlk_layout_root(&dir);
	else
		tlk_guard_node_of_fd(fs, parent->fd, &dir, NULL, 0);
	tlk_layout_child(&dir, name, out);
}

pthread_mutex_t *tlk_guard_tag_lock(struct tlk_fs *fs,
				    const struct tlk_node *node)
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = node->repo; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (p = node->tag; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &fs->tag_locks[h % TLK_TAG_LOCKS];
}

bool tlk_guard_protected(struct tlk_fs *fs, const struct tlk_node *node,
			 bool *protect_delete)
{
	struct tlk_policy_hold hold;
	bool prot;

	tlk_live_policy_acquire(fs->policy, &hold);
	prot = tlk_policy_tag_protected(hold.policy, node->repo, node->tag);
	if (protect_delete)
		*protect_delete =
		    tlk_policy_protect_delete(hold.policy, node->repo);
	tlk_live_policy_release(&hold);
	return prot;
}

static bool holds_protected(struct tlk_fs *fs, int fd,
			    const struct tlk_node *node, int depth);

/* Rule 5: the revision link of a manifest a protected tag points to. */
static bool revision_in_use(struct tlk_fs *fs, int dirfd,
			    const struct tlk_node *link)
{
	struct tlk_node dir = *link;
	bool pd = false;

	tlk_guard_protected(fs, link, &pd);
	dir.kind = TLK_REV_DIG;
	return pd && holds_protected(fs, dirfd, &dir, 0);
}

bool tlk_guard_write_protected(struct tlk_fs *fs, int fd, const char *dir,
			       struct tlk_node *node)
{
	bool in_use;
	int dfd;

	if (node->kind == TLK_CURRENT_LINK)
		return tlk_guard_protected(fs, node, NULL);
	if (node->kind == TLK_REV_LINK && dir && *dir) {
		dfd = tlk_guard_open_dir(fs, dir);
		if (dfd < 0)
			return true; /* cannot tell: judge it protected */
		in_use = revision_in_use(fs, dfd, node);
		close(dfd);
		return in_use;
	}
	return tlk_guard_aliased_link(fd, node);
}

static void comm_of(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

void tlk_guard_report(fuse_req_t req, pid_t pid, const struct tlk_facts *facts,
		      struct tlk_verdict verdict, const struct tlk_node *node)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	bool refused = verdict.kind == TLK_REFUSE;
	char comm[32];

	if (!refused && verdict.reason != TLK_R_CREATE &&
	    verdict.reason != TLK_R_IDENTICAL)
		return;
	if (pid == 0)
		pid = fuse_req_ctx(req)->pid;
	comm_of(pid, comm, sizeof(comm));
	if (refused) {
		atomic_fetch_add(&fs->refused, 1);
		tlk_warn("refused %s of %s:%s (current %s, attempted %s) by "
			 "pid %d (%s): %s",
			 tlk_op_name(facts->op), node->repo, node->tag,
			 tlk_link_show(&facts->current),
			 tlk_link_show(&facts->next), (int)pid, comm,
			 tlk_reason_text(verdict.reason));
	} else {
		atomic_fetch_add(&fs->published, 1);
		tlk_debug("allowed %s of %s:%s (%s) by pid %d (%s): %s",
			  tlk_op_name(facts->op), node->repo, node->tag,
			  tlk_link_show(&facts->next), (int)pid, comm,
			  tlk_reason_text(verdict.reason));
	}
	if (fs->audit) {
		struct tlk_audit_event ev = {
		    .decision = refused ? "refuse" : "allow",
		    .op = tlk_op_name(facts->op),
		    .reason = tlk_reason_name(verdict.reason),
		    .repository = node->repo,
		    .tag = node->tag[0] ? node->tag : NULL,
		    .old_digest = tlk_link_show(&facts->current),
		    .new_digest = tlk_link_show(&facts->next),
		    .pid = pid,
		    .comm = comm,
		};
		int ret = tlk_audit_append(fs->audit, &ev);
		if (ret < 0)
			tlk_err("audit log: %s", strerror(-ret));
	}
}

/* Decide, report, and return 0 or -errno. */
static int judge(fuse_req_t req, const struct tlk_facts *facts,
		 const struct tlk_node *node)
{
	struct tlk_verdict v = tlk_decide(facts);

	tlk_guard_report(req, 0, facts, v, node);
	return -tlk_verdict_errno(v);
}

/* Relative path from a directory of `kind` up to its tag directory. */
static const char *up_to_tag_dir(enum tlk_kind kind)
{
	switch (kind) {
	case TLK_TAG_DIR:
		return ".";
	case TLK_CURRENT:
	case TLK_TAG_INDEX:
		return "..";
	case TLK_TAG_INDEX_ALG:
		return "../..";
	case TLK_TAG_INDEX_DIG:
		return "../../..";
	default:
		return NULL;
	}
}

/* The current/link of the tag that directory `dirfd` (of `kind`) is in. */
static int read_tag_current(int dirfd, enum tlk_kind kind, struct tlk_link *out)
{
	const char *up = up_to_tag_dir(kind);
	int tagfd, ret;

	if (!up)
		return -EINVAL;
	tagfd = openat(dirfd, up, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (tagfd < 0)
		return -errno;
	ret = tlk_link_read(tagfd, "current/link", out, NULL, 0, NULL);
	close(tagfd);
	return ret;
}

static void link_of_hex(const char *hex, struct tlk_link *out)
{
	char buf[TLK_LINK_LEN + 1];

	snprintf(buf, sizeof(buf), "sha256:%s", hex);
	tlk_link_parse(buf, strlen(buf), out);
}

/* Does a protected tag of `repo`, whose tags/ dir is `tagsfd`, hold
 * content (hex == NULL) or point to sha256:<hex>? */
static bool tags_hold_protected(struct tlk_fs *fs, int tagsfd,
				const struct tlk_node *repo, const char *hex)
{
	struct tlk_node tags = *repo, tag;
	struct tlk_link want, cur;
	char path[NAME_MAX + 16];
	struct dirent *de;
	bool found = false;
	DIR *d;
	int fd;

	tags.kind = TLK_TAGS;
	fd = openat(tagsfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return errno != ENOENT; /* unreadable: assume protected */
	}
	if (hex)
		link_of_hex(hex, &want);
	while (!found && (de = readdir(d))) {
		tlk_layout_child(&tags, de->d_name, &tag);
		if (tag.kind != TLK_TAG_DIR ||
		    !tlk_guard_protected(fs, &tag, NULL))
			continue;
		snprintf(path, sizeof(path), "%s/current/link", de->d_name);
		if (tlk_link_read(dirfd(d), path, &cur, NULL, 0, NULL) < 0)
			continue;
		if (cur.state == TLK_LINK_VALID ||
		    cur.state == TLK_LINK_MALFORMED)
			found = !hex || tlk_link_same(&cur, &want);
	}
	closedir(d);
	return found;
}

static bool holds_protected(struct tlk_fs *fs, int fd,
			    const struct tlk_node *node, int depth);

/* Recurse into the children of a structural directory. */
static bool children_hold_protected(struct tlk_fs *fs, int fd,
				    const struct tlk_node *node, int depth)
{
	struct tlk_node child;
	struct dirent *de;
	bool found = false;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return errno != ENOENT;
	}
	while (!found && (de = readdir(d))) {
		int cfd;
		if (de->d_name[0] == '.' || de->d_type == DT_REG)
			continue;
		tlk_layout_child(node, de->d_name, &child);
		if (child.kind == TLK_OTHER)
			continue;
		cfd = openat(dirfd(d), de->d_name,
			     O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue;
		found = holds_protected(fs, cfd, &child, depth + 1);
		close(cfd);
	}
	closedir(d);
	return found;
}

/* Is there protected tag state at or below `fd` (a node of `node`)? */
static bool holds_protected(struct tlk_fs *fs, int fd,
			    const struct tlk_node *node, int depth)
{
	struct tlk_link cur, want;

	if (depth > SCAN_DEPTH_MAX)
		return true;
	switch (node->kind) {
	case TLK_TAG_DIR:
	case TLK_CURRENT:
	case TLK_TAG_INDEX:
	case TLK_TAG_INDEX_ALG:
	case TLK_TAG_INDEX_DIG:
		if (!tlk_guard_protected(fs, node, NULL) ||
		    read_tag_current(fd, node->kind, &cur) < 0)
			return false;
		if (cur.state != TLK_LINK_VALID &&
		    cur.state != TLK_LINK_MALFORMED)
			return false;
		if (node->kind != TLK_TAG_INDEX_DIG)
			return true;
		link_of_hex(node->hex, &want);
		return tlk_link_same(&cur, &want);
	case TLK_TAGS:
		return tags_hold_protected(fs, fd, node, NULL);
	case TLK_REVISIONS:
	case TLK_REV_ALG:
	case TLK_REV_DIG: {
		const char *up = node->kind == TLK_REVISIONS ? "../tags"
				 : node->kind == TLK_REV_ALG ? "../../tags"
							     : "../../../tags";
		int tfd = openat(fd, up, O_PATH | O_DIRECTORY | O_CLOEXEC);
		bool found;
		if (tfd < 0)
			return false;
		found = tags_hold_protected(
		    fs, tfd, node,
		    node->kind == TLK_REV_DIG ? node->hex : NULL);
		close(tfd);
		return found;
	}
	case TLK_ROOT:
	case TLK_DOCKER:
	case TLK_REGISTRY:
	case TLK_V2:
	case TLK_REPOS:
	case TLK_REPO_DIR:
	case TLK_MANIFESTS:
		return children_hold_protected(fs, fd, node, depth);
	default:
		return false;
	}
}

/* Facts for moving away or removing the node `name` in `parent`. */
static bool node_holds_protected(struct tlk_fs *fs, struct tlk_inode *parent,
				 const char *name, const struct tlk_node *node)
{
	struct tlk_node dir = *node;
	struct tlk_link cur, want;
	bool found;
	int fd;

	switch (node->kind) {
	case TLK_CURRENT_LINK:
		if (!tlk_guard_protected(fs, node, NULL) ||
		    tlk_link_read(parent->fd, name, &cur, NULL, 0, NULL) < 0)
			return false;
		return cur.state == TLK_LINK_VALID ||
		       cur.state == TLK_LINK_MALFORMED;
	case TLK_TAG_INDEX_LINK:
	case TLK_REV_LINK:
		if (strcmp(name, "link") != 0)
			return false;
		/* Judge as the digest directory holding it. */
		dir.kind = node->kind == TLK_REV_LINK ? TLK_REV_DIG
						      : TLK_TAG_INDEX_DIG;
		if (node->kind == TLK_TAG_INDEX_LINK) {
			if (!tlk_guard_protected(fs, node, NULL) ||
			    read_tag_current(parent->fd, TLK_TAG_INDEX_DIG,
					     &cur) < 0)
				return false;
			link_of_hex(node->hex, &want);
			return tlk_link_same(&cur, &want);
		}
		return holds_protected(fs, parent->fd, &dir, 0);
	default:
		if (!tlk_layout_is_structural_dir(node->kind))
			return false;
		fd = openat(parent->fd, name,
			    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return false;
		found = holds_protected(fs, fd, node, 0);
		close(fd);
		return found;
	}
}

static int refuse_move(fuse_req_t req, const struct tlk_node *node)
{
	struct tlk_facts facts = {.op = TLK_OP_MOVE_AWAY,
				  .holds_protected = true};

	tlk_link_absent(&facts.current);
	tlk_link_absent(&facts.next);
	return judge(req, &facts, node);
}

/* Rule 4: an index entry for another digest than the protected tag's. */
static int check_index_add(fuse_req_t req, int dirfd, enum tlk_kind dirkind,
			   const struct tlk_node *node)
{
	struct tlk_facts facts = {.op = TLK_OP_INDEX_ADD};
	int ret;

	facts.tag_protected = tlk_guard_protected(tlk_fs_of(req), node, NULL);
	if (!facts.tag_protected)
		return 0;
	ret = read_tag_current(dirfd, dirkind, &facts.current);
	if (ret < 0)
		return ret == -ENOENT ? 0 : ret;
	link_of_hex(node->hex, &facts.next);
	return judge(req, &facts, node);
}

/* A name that would alias a protected link (hard link, symlink, dir). */
static int check_alias(fuse_req_t req, const struct tlk_node *node,
		       enum tlk_op op)
{
	struct tlk_facts facts = {.op = op};

	if (node->kind != TLK_CURRENT_LINK)
		return 0;
	facts.tag_protected = tlk_guard_protected(tlk_fs_of(req), node, NULL);
	tlk_link_absent(&facts.current);
	tlk_link_absent(&facts.next);
	return judge(req, &facts, node);
}

int tlk_guard_create_in(fuse_req_t req, struct tlk_inode *parent,
			const char *name, const struct tlk_node *node)
{
	(void)name;
	if (node->kind == TLK_TAG_INDEX_LINK)
		return check_index_add(req, parent->fd, TLK_TAG_INDEX_DIG,
				       node);
	return 0;
}

int tlk_guard_mkdir(fuse_req_t req, struct tlk_inode *parent, const char *name)
{
	struct tlk_node node;

	tlk_guard_child(tlk_fs_of(req), parent, name, &node);
	if (node.kind == TLK_TAG_INDEX_DIG)
		return check_index_add(req, parent->fd, TLK_TAG_INDEX_ALG,
				       &node);
	return check_alias(req, &node, TLK_OP_SYMLINK);
}

/* A symlink standing for a repository, tag or link directory would let
 * the registry follow it out of the protected tree: none may be made while
 * the policy protects anything. */
static int check_structural_symlink(fuse_req_t req, const struct tlk_node *node)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_facts facts = {.op = TLK_OP_SYMLINK, .tag_protected = true};
	struct tlk_policy_hold hold;
	size_t immutable;

	if (node->kind < TLK_REPO_DIR ||
	    !tlk_layout_is_structural_dir(node->kind))
		return 0;
	tlk_live_policy_acquire(fs->policy, &hold);
	immutable = tlk_policy_immutable_count(hold.policy);
	tlk_live_policy_release(&hold);
	if (immutable == 0)
		return 0;
	tlk_link_absent(&facts.current);
	tlk_link_absent(&facts.next);
	return judge(req, &facts, node);
}

int tlk_guard_symlink(fuse_req_t req, struct tlk_inode *parent,
		      const char *name)
{
	struct tlk_node node;
	int ret;

	tlk_guard_child(tlk_fs_of(req), parent, name, &node);
	if (node.kind == TLK_TAG_INDEX_LINK)
		return check_index_add(req, parent->fd, TLK_TAG_INDEX_DIG,
				       &node);
	ret = check_structural_symlink(req, &node);
	return ret < 0 ? ret : check_alias(req, &node, TLK_OP_SYMLINK);
}

int tlk_guard_link(fuse_req_t req, struct tlk_inode *src,
		   struct tlk_inode *newparent, const char *newname)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_node from, to;
	int ret;

	tlk_guard_node_of_fd(fs, src->fd, &from, NULL, 0);
	ret = check_alias(req, &from, TLK_OP_HARDLINK);
	if (ret < 0)
		return ret;
	tlk_guard_child(fs, newparent, newname, &to);
	if (to.kind == TLK_TAG_INDEX_LINK)
		return check_index_add(req, newparent->fd, TLK_TAG_INDEX_DIG,
				       &to);
	return check_alias(req, &to, TLK_OP_HARDLINK);
}

/* Unlink a tag's current/link (REMOVE_LINK) or one of its index entries
 * (INDEX_REMOVE) under the tag's lock, when the verdict allows it. */
static int unlink_tag_entry(fuse_req_t req, struct tlk_inode *parent,
			    const char *name, const struct tlk_node *node,
			    enum tlk_op op)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_facts facts = {.op = op};
	pthread_mutex_t *lock = tlk_guard_tag_lock(fs, node);
	int ret = 0;

	tlk_link_absent(&facts.current);
	tlk_link_absent(&facts.next);
	if (op == TLK_OP_INDEX_REMOVE)
		link_of_hex(node->hex, &facts.next);
	pthread_mutex_lock(lock);
	facts.tag_protected =
	    tlk_guard_protected(fs, node, &facts.protect_delete);
	if (facts.tag_protected)
		ret = op == TLK_OP_REMOVE_LINK
			  ? tlk_link_read(parent->fd, name, &facts.current,
					  NULL, 0, NULL)
			  : read_tag_current(parent->fd, TLK_TAG_INDEX_DIG,
					     &facts.current);
	if (ret == -ENOENT)
		ret = 0;
	if (ret == 0)
		ret = judge(req, &facts, node);
	if (ret == 0 && unlinkat(parent->fd, name, 0) < 0)
		ret = -errno;
	pthread_mutex_unlock(lock);
	return ret;
}

static int unlink_revision(fuse_req_t req, struct tlk_inode *parent,
			   const char *name, const struct tlk_node *node)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_facts facts = {.op = TLK_OP_REVISION_REMOVE};
	struct tlk_node dir = *node;
	int ret;

	tlk_guard_protected(fs, node, &facts.protect_delete);
	dir.kind = TLK_REV_DIG;
	facts.holds_protected = holds_protected(fs, parent->fd, &dir, 0);
	tlk_link_absent(&facts.current);
	link_of_hex(node->hex, &facts.next);
	ret = judge(req, &facts, node);
	if (ret == 0 && unlinkat(parent->fd, name, 0) < 0)
		ret = -errno;
	return ret;
}

int tlk_guard_unlink(fuse_req_t req, struct tlk_inode *parent, const char *name)
{
	struct tlk_node node;
	bool is_link = strcmp(name, "link") == 0;

	tlk_guard_child(tlk_fs_of(req), parent, name, &node);
	if (node.kind == TLK_CURRENT_LINK)
		return unlink_tag_entry(req, parent, name, &node,
					TLK_OP_REMOVE_LINK);
	if (node.kind == TLK_TAG_INDEX_LINK && is_link)
		return unlink_tag_entry(req, parent, name, &node,
					TLK_OP_INDEX_REMOVE);
	if (node.kind == TLK_REV_LINK && is_link)
		return unlink_revision(req, parent, name, &node);
	return unlinkat(parent->fd, name, 0) < 0 ? -errno : 0;
}

int tlk_guard_rmdir(fuse_req_t req, struct tlk_inode *parent, const char *name)
{
	(void)req; /* only empty directories go: nothing to protect */
	return unlinkat(parent->fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/* Facts about the file being renamed onto a protected link. */
static int rename_source(int dirfd, const char *name, struct tlk_link *out,
			 unsigned *mode)
{
	struct stat st;
	int fd =
	    openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink > 1) {
		close(fd);
		return -EPERM; /* would alias the link */
	}
	*mode = st.st_mode & 07777;
	ret = tlk_link_read_fd(fd, out, NULL, 0, NULL);
	close(fd);
	return ret;
}

/* Publish the digest `want` as `dirfd`/link through a fresh file of ours:
 * the renamed file itself never becomes the link, so a descriptor still
 * open on it (3.1 keeps the temporary file open) cannot change the tag. */
static int publish_copy(int dirfd, const struct tlk_link *want, unsigned mode,
			enum tlk_commit_result *res, struct tlk_link *found)
{
	struct tlk_pending_link pending = {.fd = -1};
	int ret = tlk_pending_create(dirfd, mode, &pending);

	if (ret == 0)
		ret = tlk_link_commit(dirfd, &pending, want->digest,
				      TLK_LINK_LEN, res, found);
	if (pending.fd >= 0)
		tlk_pending_discard(dirfd, &pending);
	return ret;
}

/* distribution 3.1+: link.<uuid>.tmp renamed over a protected link. */
static int publish_by_rename(fuse_req_t req, struct tlk_inode *parent,
			     const char *name, struct tlk_inode *newparent,
			     const struct tlk_node *node, unsigned flags)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	pthread_mutex_t *lock = tlk_guard_tag_lock(fs, node);
	struct tlk_facts facts = {.op = TLK_OP_PUBLISH_LINK,
				  .tag_protected = true};
	enum tlk_commit_result res;
	struct tlk_verdict v;
	struct tlk_link found;
	unsigned mode = 0644;
	int ret;

	ret = rename_source(parent->fd, name, &facts.next, &mode);
	if (ret == -EPERM)
		return check_alias(req, node, TLK_OP_HARDLINK);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(lock);
	ret =
	    tlk_link_read(newparent->fd, "link", &facts.current, NULL, 0, NULL);
	if (ret == 0 && (flags & RENAME_NOREPLACE) &&
	    facts.current.state != TLK_LINK_ABSENT)
		ret = -EEXIST;
	if (ret == 0) {
		v = tlk_decide(&facts);
		if (v.kind == TLK_REFUSE) {
			ret = -tlk_verdict_errno(v);
		} else {
			ret = publish_copy(newparent->fd, &facts.next, mode,
					   &res, &found);
			if (ret == 0 && res == TLK_COMMIT_CONFLICT) {
				facts.current = found;
				v = tlk_decide(&facts);
				ret = -EPERM;
			}
			/* Rename semantics: the source name is gone. */
			if (ret == 0 && unlinkat(parent->fd, name, 0) < 0)
				ret = -errno;
		}
		if (ret == 0 || v.kind == TLK_REFUSE)
			tlk_guard_report(req, 0, &facts, v, node);
	}
	pthread_mutex_unlock(lock);
	return ret;
}

static bool is_symlink(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISLNK(st.st_mode);
}

/* The tag locks a rename of `node` must hold so that no publish of a tag
 * below it can slip between the scan and the rename: the tag's own, or
 * all of them (in order) for anything above a tag. None for other names. */
static void lock_for_move(struct tlk_fs *fs, const struct tlk_node *node,
			  bool lock)
{
	int i;

	if (node->kind == TLK_OTHER || node->kind >= TLK_BLOBS)
		return;
	if (node->tag[0]) {
		pthread_mutex_t *m = tlk_guard_tag_lock(fs, node);
		if (lock)
			pthread_mutex_lock(m);
		else
			pthread_mutex_unlock(m);
		return;
	}
	for (i = 0; i < TLK_TAG_LOCKS; i++) {
		int k = lock ? i : TLK_TAG_LOCKS - 1 - i;
		if (lock)
			pthread_mutex_lock(&fs->tag_locks[k]);
		else
			pthread_mutex_unlock(&fs->tag_locks[k]);
	}
}

/* A rename that publishes nothing: refuse moving protected state away,
 * under the locks that keep the verdict true until the rename is done. */
static int move(fuse_req_t req, struct tlk_inode *parent, const char *name,
		const struct tlk_node *src, struct tlk_inode *newparent,
		const char *newname, unsigned flags)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	int ret = 0;

	lock_for_move(fs, src, true);
	if (node_holds_protected(fs, parent, name, src))
		ret = refuse_move(req, src);
	else if ((flags == 0
		      ? renameat(parent->fd, name, newparent->fd, newname)
		      : renameat2(parent->fd, name, newparent->fd, newname,
				  flags)) < 0)
		ret = -errno;
	lock_for_move(fs, src, false);
	return ret;
}

int tlk_guard_rename(fuse_req_t req, struct tlk_inode *parent, const char *name,
		     struct tlk_inode *newparent, const char *newname,
		     unsigned flags)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_node src, dst;
	int ret;

	tlk_guard_child(fs, parent, name, &src);
	tlk_guard_child(fs, newparent, newname, &dst);
	if (node_holds_protected(fs, parent, name, &src))
		return refuse_move(req, &src);
	if ((flags & RENAME_EXCHANGE) &&
	    node_holds_protected(fs, newparent, newname, &dst))
		return refuse_move(req, &dst);
	if ((dst.kind == TLK_CURRENT_LINK &&
	     tlk_guard_protected(fs, &dst, NULL)) ||
	    (dst.kind == TLK_REV_LINK && strcmp(newname, "link") == 0 &&
	     revision_in_use(fs, newparent->fd, &dst))) {
		if (flags & RENAME_EXCHANGE)
			return check_alias(req, &dst, TLK_OP_HARDLINK);
		return publish_by_rename(req, parent, name, newparent, &dst,
					 flags);
	}
	if (is_symlink(parent->fd, name)) {
		ret = check_structural_symlink(req, &dst);
		if (ret < 0)
			return ret;
	}
	if (dst.kind == TLK_TAG_INDEX_LINK || dst.kind == TLK_TAG_INDEX_DIG) {
		ret = check_index_add(req, newparent->fd,
				      dst.kind == TLK_TAG_INDEX_DIG
					  ? TLK_TAG_INDEX_ALG
					  : TLK_TAG_INDEX_DIG,
				      &dst);
		if (ret < 0)
			return ret;
	}
	return move(req, parent, name, &src, newparent, newname, flags);
}

int tlk_guard_truncate(fuse_req_t req, struct tlk_inode *inode, off_t size)
{
	struct tlk_fs *fs = tlk_fs_of(req);
	struct tlk_facts facts = {.op = TLK_OP_TRUNCATE_LINK};
	struct tlk_node node;
	pthread_mutex_t *lock;
	char proc[64], dir[PATH_MAX];
	struct stat st;
	int fd, ret;

	tlk_proc_fd_path(inode->fd, proc, sizeof(proc));
	tlk_guard_node_of_inode(fs, inode, &node, dir, sizeof(dir));
	if (!tlk_guard_write_protected(fs, inode->fd, dir, &node))
		return truncate(proc, size) < 0 ? -errno : 0;

	facts.tag_protected = true;
	facts.new_size = (size_t)size;
	tlk_link_absent(&facts.next);
	lock = tlk_guard_tag_lock(fs, &node);
	pthread_mutex_lock(lock);
	fd = open(proc, O_RDWR | O_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	if (ret == 0 && fstat(fd, &st) < 0)
		ret = -errno;
	if (ret == 0)
		ret = tlk_link_read_fd(fd, &facts.current, NULL, 0, NULL);
	if (ret == 0) {
		facts.current_size = (size_t)st.st_size;
		ret = judge(req, &facts, &node);
	}
	if (ret == 0 && (size_t)size != facts.current_size &&
	    ftruncate(fd, size) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(lock);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * tag_ops.c - the namespace operations that touch a repository's state,
 * decided and performed under that repository's lock (docs/design.md,
 * rule 6: decide where you act). Each gathers the facts (facts.c, scan.c,
 * where.c), asks tlk_decide(), reports what is worth reporting, and does
 * the fd-relative syscall only when allowed. None needs a FUSE request.
 *
 * Facts that cost I/O are gathered only for the nodes whose verdict can
 * depend on them (repository state); tlk_decide is asked every time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "taglockfs/log.h"

/* Decide and report: -errno for a refusal, else the verdict kind. */
static int judge(struct tlk_fs *fs, pid_t pid, const struct tlk_facts *f)
{
	struct tlk_verdict v = tlk_decide(f);

	tlk_report(fs, pid, f, v);
	return v.kind == TLK_REFUSE ? -tlk_verdict_errno(v) : (int)v.kind;
}

/* Keep the first error while gathering. */
static void note_error(struct tlk_facts *f, int ret)
{
	if (ret < 0 && !f->error)
		f->error = -ret;
}

static pthread_mutex_t *state_lock(struct tlk_fs *fs,
				   const struct tlk_node *node)
{
	return tlk_layout_is_repo_state(node->kind) ? tlk_repo_lock(fs, node)
						    : NULL;
}

int tlk_tag_check(struct tlk_fs *fs, pid_t pid, enum tlk_op op,
		  const struct tlk_node *node, const struct tlk_node *dst)
{
	struct tlk_facts f = {.op = op, .node = *node};

	if (dst)
		f.dst = *dst;
	if (op == TLK_OP_FOLLOW)
		tlk_facts_policy(fs, node, &f.repo_immutable, NULL, NULL);
	return judge(fs, pid, &f);
}

/* What removing `name` from `dir` (a node of `node`) takes away. */
static void removal_facts(struct tlk_fs *fs, int dirfd, const char *name,
			  struct tlk_facts *f, bool *tag_protected)
{
	int ret;

	note_error(f, tlk_facts_type(dirfd, name, &f->type, &f->multi_linked));
	tlk_facts_policy(fs, &f->node, &f->repo_immutable, tag_protected,
			 &f->protect_delete);
	if (f->type != TLK_FT_REG)
		return;
	switch (f->node.kind) {
	case TLK_CURRENT_LINK:
		if (*tag_protected)
			note_error(f, tlk_link_read(dirfd, name, &f->current,
						    NULL, 0, NULL));
		break;
	case TLK_TAG_INDEX_LINK:
		if (*tag_protected)
			note_error(f, tlk_facts_tag_current(dirfd,
							    TLK_TAG_INDEX_DIG,
							    &f->tag_current));
		break;
	case TLK_REV_LINK:
		/* Pointed to by a protected tag of this repository, or a
		 * child of a protected index (rule 9): the registry needs the
		 * revision link to serve it. */
		ret = tlk_scan_revision_in_use(fs, dirfd, &f->node);
		if (ret == 0 && f->protect_delete)
			ret = tlk_protected_in_repo(fs, f->node.repo,
						    f->node.hex);
		note_error(f, ret);
		f->in_use = ret > 0;
		break;
	case TLK_LAYER_LINK: /* rule 9: the registry serves a blob of a
				repository only through its layer link */
		ret = f->protect_delete
			  ? tlk_protected_in_repo(fs, f->node.repo, f->node.hex)
			  : 0;
		note_error(f, ret);
		f->in_use = ret > 0;
		break;
	default:
		break;
	}
}

/* Start the facts about `name` in `parent`: where it is, no links yet. */
static void facts_for_name(struct tlk_fs *fs, struct tlk_inode *parent,
			   const char *name, struct tlk_facts *f)
{
	tlk_where_child(fs, parent, name, &f->node);
	tlk_link_absent(&f->current);
	tlk_link_absent(&f->tag_current);
	tlk_link_absent(&f->next);
}

/* Rule 9: does a protected tag need the blob data `name` in dirfd? */
static void blob_removal_facts(struct tlk_fs *fs, int dirfd, const char *name,
			       struct tlk_facts *f)
{
	int ret;

	note_error(f, tlk_facts_type(dirfd, name, &f->type, &f->multi_linked));
	ret = tlk_protected_blob(fs, f->node.hex);
	note_error(f, ret);
	f->in_use = ret > 0;
}

int tlk_tag_unlink(struct tlk_fs *fs, pid_t pid, struct tlk_inode *parent,
		   const char *name)
{
	struct tlk_facts f = {.op = TLK_OP_REMOVE};
	pthread_mutex_t *lock;
	int ret;

	facts_for_name(fs, parent, name, &f);
	lock = state_lock(fs, &f.node);
	if (lock)
		pthread_mutex_lock(lock);
	if (tlk_layout_is_repo_state(f.node.kind))
		removal_facts(fs, parent->fd, name, &f, &f.tag_protected);
	else if (f.node.kind == TLK_BLOB_DATA)
		blob_removal_facts(fs, parent->fd, name, &f);
	ret = judge(fs, pid, &f);
	if (ret >= 0)
		ret = unlinkat(parent->fd, name, 0) < 0 ? -errno : 0;
	if (lock)
		pthread_mutex_unlock(lock);
	return ret;
}

int tlk_tag_mkdir(struct tlk_fs *fs, pid_t pid, struct tlk_inode *parent,
		  const char *name, mode_t mode)
{
	struct tlk_facts f = {.op = TLK_OP_MKDIR};
	pthread_mutex_t *lock;
	int ret;

	facts_for_name(fs, parent, name, &f);
	lock = state_lock(fs, &f.node);
	if (lock)
		pthread_mutex_lock(lock);
	if (f.node.kind == TLK_TAG_INDEX_DIG) {
		tlk_facts_policy(fs, &f.node, NULL, &f.tag_protected, NULL);
		if (f.tag_protected)
			note_error(&f, tlk_facts_tag_current(parent->fd,
							     TLK_TAG_INDEX_ALG,
							     &f.tag_current));
	}
	ret = judge(fs, pid, &f);
	if (ret >= 0)
		ret = mkdirat(parent->fd, name, mode) < 0 ? -errno : 0;
	if (lock)
		pthread_mutex_unlock(lock);
	return ret;
}

int tlk_tag_create_check(struct tlk_fs *fs, pid_t pid, struct tlk_inode *parent,
			 const char *name, struct tlk_node *node)
{
	struct tlk_facts f = {.op = TLK_OP_CREATE};
	pthread_mutex_t *lock = NULL;
	int ret;

	facts_for_name(fs, parent, name, &f);
	if (f.node.kind == TLK_TAG_INDEX_LINK ||
	    f.node.kind == TLK_TAG_INDEX_TMP) {
		/* A temp file is no repository state, but the tag's lock
		 * orders it with the first publish's sweep ("No debris"). */
		lock = tlk_repo_lock(fs, &f.node);
		pthread_mutex_lock(lock);
		tlk_facts_policy(fs, &f.node, NULL, &f.tag_protected, NULL);
		if (f.tag_protected)
			note_error(&f, tlk_facts_tag_current(parent->fd,
							     TLK_TAG_INDEX_DIG,
							     &f.tag_current));
	}
	ret = judge(fs, pid, &f);
	if (lock)
		pthread_mutex_unlock(lock);
	*node = f.node;
	return ret;
}

int tlk_tag_open_check(struct tlk_fs *fs, pid_t pid, struct tlk_inode *inode,
		       int flags, struct tlk_node *node)
{
	struct tlk_facts f = {.op = TLK_OP_OPEN_WRITE,
			      .truncating = (flags & O_TRUNC) != 0};

	tlk_where_of(fs, inode, &f.node);
	if (f.node.in_tree)
		note_error(
		    &f, tlk_facts_fd_type(inode->fd, &f.type, &f.multi_linked));
	if (tlk_layout_link_class(f.node.kind) != TLK_LINK_NONE)
		tlk_facts_policy(fs, &f.node, &f.repo_immutable, NULL, NULL);
	if (f.node.kind == TLK_BLOB_DATA) {
		struct stat st;
		if (fstatat(inode->fd, "", &st,
			    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			note_error(&f, -errno);
		else
			f.size = (size_t)st.st_size;
	}
	*node = f.node;
	return judge(fs, pid, &f);
}

int tlk_tag_truncate(struct tlk_fs *fs, pid_t pid, struct tlk_inode *inode,
		     off_t size)
{
	struct tlk_facts f = {.op = TLK_OP_TRUNCATE, .new_size = (size_t)size};
	pthread_mutex_t *lock;
	char proc[64];
	struct stat st;
	int fd = -1, ret;

	tlk_where_of(fs, inode, &f.node);
	tlk_link_absent(&f.current);
	tlk_link_absent(&f.next);
	tlk_proc_fd_path(inode->fd, proc, sizeof(proc));
	lock = state_lock(fs, &f.node);
	if (lock)
		pthread_mutex_lock(lock);
	if (f.node.kind == TLK_BLOB_DATA) {
		if (fstatat(inode->fd, "", &st,
			    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			note_error(&f, -errno);
		else {
			f.current_size = (size_t)st.st_size;
			f.multi_linked = st.st_nlink > 1;
		}
	} else if (tlk_layout_link_class(f.node.kind) == TLK_LINK_NONE) {
		if (f.node.in_tree)
			note_error(&f, tlk_facts_fd_type(inode->fd, &f.type,
							 &f.multi_linked));
	} else {
		tlk_facts_policy(fs, &f.node, &f.repo_immutable,
				 &f.tag_protected, NULL);
		fd = open(proc, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0)
			note_error(&f, -errno);
		else {
			f.current_size = (size_t)st.st_size;
			f.multi_linked = st.st_nlink > 1;
			note_error(&f, tlk_link_read_fd(fd, &f.current, NULL, 0,
							NULL));
		}
	}
	ret = judge(fs, pid, &f);
	if (ret >= 0)
		ret = truncate(proc, size) < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	if (lock)
		pthread_mutex_unlock(lock);
	return ret;
}

/* Commit `content` as "link" in dirfd: a protected tag through the
 * no-replace commit (the backing filesystem picks one winner, also across
 * nodes); anything else (a mutable tag, a path-determined link, whose only
 * content is known) by an atomic replace. */
static int commit_link(struct tlk_facts *f, int dirfd,
		       struct tlk_pending_link *pending, const char *content,
		       size_t len, bool sync, struct tlk_link *found)
{
	enum tlk_commit_result res;
	int ret;

	if (tlk_layout_link_class(f->node.kind) == TLK_LINK_TAG &&
	    f->tag_protected) {
		ret =
		    tlk_link_commit(dirfd, pending, content, len, &res, found);
		if (ret == 0 && res != TLK_COMMIT_CREATED)
			f->current = *found;
		return ret;
	}
	*found = f->next;
	if (f->current.state == TLK_LINK_VALID &&
	    tlk_link_same(&f->current, &f->next))
		return 0;
	return tlk_link_replace(dirfd, pending, content, len, sync);
}

/* A pending file for a link, owned as the link will be (the daemon runs
 * as root; the registry usually does not). */
static int new_pending(int dirfd, const struct tlk_owner *owner,
		       struct tlk_pending_link *pending)
{
	int ret = tlk_pending_create(dirfd, owner->mode, pending);

	if (ret == 0 && geteuid() == 0 &&
	    (owner->uid != 0 || owner->gid != 0) &&
	    fchown(pending->fd, owner->uid, owner->gid) < 0) {
		ret = -errno;
		tlk_pending_discard(dirfd, pending);
	}
	return ret;
}

/* Empty the digest directory `hex` of an index (its link, and the
 * temporary files of a push still writing one), then remove it. */
static int remove_index_entry(int algfd, int digfd, const char *hex)
{
	DIR *d = fdopendir(digfd);
	struct dirent *de;
	int ret;

	if (!d) {
		close(digfd);
		return -errno;
	}
	while ((ret = tlk_dir_next(d, &de)) > 0) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			ret = -errno;
			break;
		}
	}
	closedir(d);
	if (ret == 0 && unlinkat(algfd, hex, AT_REMOVEDIR) < 0 &&
	    errno != ENOENT)
		ret = -errno;
	return ret;
}

/* Judge and remove one entry `hex` of the index (algfd: its sha256/
 * directory, `alg` its node) of a tag that now points to `published`. */
static void sweep_one(struct tlk_fs *fs, pid_t pid, int algfd,
		      const struct tlk_node *alg, const char *hex,
		      const struct tlk_link *published)
{
	struct tlk_facts f = {.op = TLK_OP_SWEEP_INDEX};
	char own[TLK_LINK_LEN + 1];
	struct tlk_node dig;
	int digfd = -1, ret;

	tlk_layout_child(alg, hex, &dig);
	tlk_layout_child(&dig, "link", &f.node);
	f.tag_current = *published;
	tlk_link_absent(&f.current);
	tlk_link_absent(&f.next);
	tlk_facts_policy(fs, &f.node, &f.repo_immutable, &f.tag_protected,
			 NULL);
	/* The digest directory itself, then its link: a symlink at either
	 * was made behind the daemon's back (rule 2). */
	note_error(&f, tlk_facts_type(algfd, hex, &f.type, &f.multi_linked));
	if (f.type == TLK_FT_DIR) {
		digfd = openat(algfd, hex,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (digfd < 0)
			note_error(&f, -errno);
		else
			note_error(&f, tlk_facts_type(digfd, "link", &f.type,
						      &f.multi_linked));
	} else if (f.type != TLK_FT_SYMLINK) {
		return; /* gone meanwhile, or not the registry's shape */
	}
	/* The entry's own digest, as the record of an index mkdir names it. */
	if (tlk_layout_own_digest(&f.node, own, sizeof(own)))
		tlk_link_parse(own, TLK_LINK_LEN, &f.next);
	if (judge(fs, pid, &f) < 0) {
		if (digfd >= 0)
			close(digfd);
		return;
	}
	ret = remove_index_entry(algfd, digfd, hex);
	if (ret < 0)
		tlk_err("%s:%s: the index entry sha256:%s of a lost first push "
			"could not be removed: %s",
			f.node.repo, f.node.tag, hex, strerror(-ret));
	else
		tlk_notice("%s:%s: removed the index entry sha256:%s of a "
			   "concurrent first push that lost (the tag points "
			   "to %s)",
			   f.node.repo, f.node.tag, hex,
			   tlk_link_show(published));
}

/* Contract rule 4 after the first publish of a protected tag (`node`, its
 * current/link in curfd): a concurrent first push that lost may have
 * written its index entry before this one won (distribution writes the
 * index entry first); those entries go now, under the same repository
 * lock as every index mkdir, create and publish, which the stray-index
 * rule refuses from now on (docs/design.md, "No debris"). */
static void sweep_index(struct tlk_fs *fs, pid_t pid, int curfd,
			const struct tlk_node *node,
			const struct tlk_link *published)
{
	struct tlk_node tag = *node, idx, alg;
	const char *up = tlk_layout_up_to_tag_dir(TLK_CURRENT);
	struct dirent *de;
	int tagfd, algfd, ret;
	DIR *d;

	tag.kind = TLK_TAG_DIR;
	tag.hex[0] = '\0';
	tlk_layout_child(&tag, "index", &idx);
	tlk_layout_child(&idx, "sha256", &alg);
	tagfd =
	    openat(curfd, up, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tagfd < 0) {
		tlk_err("%s:%s: cannot look for index entries of lost first "
			"pushes: %s",
			node->repo, node->tag, strerror(errno));
		return;
	}
	algfd = openat(tagfd, "index/sha256",
		       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(tagfd);
	d = algfd < 0 ? NULL : fdopendir(algfd);
	if (!d) {
		if (errno != ENOENT)
			tlk_err("%s:%s: cannot look for index entries of lost "
				"first pushes: %s",
				node->repo, node->tag, strerror(errno));
		if (algfd >= 0)
			close(algfd);
		return;
	}
	while ((ret = tlk_dir_next(d, &de)) > 0)
		if (tlk_layout_valid_hex(de->d_name) &&
		    strcmp(de->d_name, published->digest + 7) != 0)
			sweep_one(fs, pid, dirfd(d), &alg, de->d_name,
				  published);
	if (ret < 0)
		tlk_err("%s:%s: reading the index: %s", node->repo, node->tag,
			strerror(-ret));
	closedir(d);
}

/* tlk_tag_publish with the repository lock held. */
static int publish_locked(struct tlk_fs *fs, pid_t pid, int dirfd,
			  const struct tlk_node *node,
			  struct tlk_pending_link *pending,
			  const struct tlk_owner *owner, const char *content,
			  size_t len, bool sync, struct tlk_link *found)
{
	struct tlk_facts f = {.op = TLK_OP_PUBLISH_LINK, .node = *node};
	struct tlk_verdict v;
	int ret;

	tlk_link_parse(content, len, &f.next);
	f.next_len = len;
	tlk_link_absent(&f.tag_current);
	note_error(&f, tlk_link_read(dirfd, "link", &f.current, NULL, 0, NULL));
	note_error(&f, tlk_facts_type(dirfd, "link", &f.type, &f.multi_linked));
	tlk_facts_policy(fs, node, &f.repo_immutable, &f.tag_protected, NULL);
	if (node->kind == TLK_TAG_INDEX_LINK && f.tag_protected)
		note_error(&f, tlk_facts_tag_current(dirfd, TLK_TAG_INDEX_DIG,
						     &f.tag_current));
	f.audit_error = tlk_report_audit_error(fs, &f); /* audit_strict */
	v = tlk_decide(&f);
	*found = f.current;
	if (v.kind == TLK_REFUSE) {
		tlk_report(fs, pid, &f, v);
		return -tlk_verdict_errno(v);
	}
	ret = pending->fd >= 0 ? 0 : new_pending(dirfd, owner, pending);
	if (ret == 0)
		ret =
		    commit_link(&f, dirfd, pending, content, len, sync, found);
	if (ret < 0)
		return ret;
	/* What the commit found decides what happened (another writer, on
	 * this node or another, may have got there first). */
	v = tlk_decide(&f);
	tlk_report(fs, pid, &f, v);
	if (v.kind != TLK_REFUSE && f.tag_protected &&
	    tlk_layout_link_class(node->kind) == TLK_LINK_TAG)
		tlk_protected_set_stale(fs); /* a tag now needs its blobs */
	if (v.kind != TLK_REFUSE && v.reason == TLK_R_CREATE &&
	    f.tag_protected && node->kind == TLK_CURRENT_LINK)
		sweep_index(fs, pid, dirfd, node, &f.next);
	return v.kind == TLK_REFUSE ? -tlk_verdict_errno(v) : 0;
}

int tlk_tag_publish(struct tlk_fs *fs, pid_t pid, int dirfd,
		    const struct tlk_node *node,
		    struct tlk_pending_link *pending,
		    const struct tlk_owner *owner, const char *content,
		    size_t len, bool sync, struct tlk_link *found)
{
	pthread_mutex_t *lock = state_lock(fs, node);
	int ret;

	if (lock)
		pthread_mutex_lock(lock);
	ret = publish_locked(fs, pid, dirfd, node, pending, owner, content, len,
			     sync, found);
	if (lock)
		pthread_mutex_unlock(lock);
	return ret;
}

/* Rule 1: a file renamed onto a link position is published as a copy of
 * its bytes; the renamed file never becomes the link, so a descriptor
 * still open on it cannot change the link later. */
static int publish_copy(struct tlk_fs *fs, pid_t pid, struct tlk_inode *parent,
			const char *name, struct tlk_inode *newparent,
			const struct tlk_node *dst, unsigned flags)
{
	struct tlk_pending_link pending = {.fd = -1};
	struct tlk_owner owner;
	char raw[TLK_LINK_LEN + 1];
	struct tlk_link content, found;
	size_t len = 0;
	struct stat st;
	int fd, ret;

	fd = openat(parent->fd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = fstat(fd, &st) < 0 ? -errno : 0;
	if (ret == 0)
		ret = tlk_link_read_fd(fd, &content, raw, sizeof(raw), &len);
	close(fd);
	if (ret < 0)
		return ret;
	if ((flags & RENAME_NOREPLACE) &&
	    faccessat(newparent->fd, "link", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	owner.uid = st.st_uid;
	owner.gid = st.st_gid;
	owner.mode = st.st_mode & 07777;
	ret = publish_locked(fs, pid, newparent->fd, dst, &pending, &owner, raw,
			     len, true, &found);
	if (pending.fd >= 0)
		tlk_pending_discard(newparent->fd, &pending);
	/* Rename semantics: the source name is gone, and whoever still holds
	 * the renamed file (the kernel's dentry, open descriptors) holds the
	 * link now: its raw handles are sealed (rule 6). */
	if (ret == 0 && unlinkat(parent->fd, name, 0) < 0)
		ret = -errno;
	if (ret == 0)
		tlk_inode_seal(&fs->inodes, st.st_dev, st.st_ino,
			       openat(newparent->fd, "link",
				      O_PATH | O_NOFOLLOW | O_CLOEXEC),
			       newparent, "link", dst);
	return ret;
}

/* Does the file `name` have write handles the daemon cannot see the writes
 * of (kernel passthrough)? */
static bool hidden_writers(struct tlk_fs *fs, int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false; /* the rename itself will say */
	return tlk_inode_hidden_writers(&fs->inodes, st.st_dev, st.st_ino) > 0;
}

/* Facts of a rename's source (it goes away) and destination. */
static void rename_facts(struct tlk_fs *fs, struct tlk_inode *parent,
			 const char *name, struct tlk_inode *newparent,
			 const char *newname, struct tlk_facts *f)
{
	note_error(f, tlk_facts_type(newparent->fd, newname, &f->dst_type,
				     &f->dst_multi_linked));
	tlk_facts_policy(fs, &f->dst, &f->dst_repo_immutable, &f->tag_protected,
			 NULL);
	if (tlk_layout_link_class(f->dst.kind) != TLK_LINK_NONE ||
	    f->dst.kind == TLK_BLOB_DATA)
		f->held_hidden = hidden_writers(fs, parent->fd, name);
	if (tlk_layout_is_repo_state(f->node.kind))
		removal_facts(fs, parent->fd, name, f, &f->src_tag_protected);
	else if (f->node.kind == TLK_BLOB_DATA)
		blob_removal_facts(fs, parent->fd, name, f);
	else
		note_error(f, tlk_facts_type(parent->fd, name, &f->type,
					     &f->multi_linked));
}

int tlk_tag_rename(struct tlk_fs *fs, pid_t pid, struct tlk_inode *parent,
		   const char *name, struct tlk_inode *newparent,
		   const char *newname, unsigned flags)
{
	struct tlk_facts f = {.op = TLK_OP_RENAME};
	pthread_mutex_t *la, *lb;
	int ret;

	tlk_where_child(fs, parent, name, &f.node);
	tlk_where_child(fs, newparent, newname, &f.dst);
	tlk_link_absent(&f.current);
	tlk_link_absent(&f.tag_current);
	tlk_link_absent(&f.next);
	f.exchange = (flags & (RENAME_EXCHANGE | RENAME_WHITEOUT)) != 0;
	la = state_lock(fs, &f.node);
	lb = state_lock(fs, &f.dst);
	tlk_repo_lock_two(la, lb);
	rename_facts(fs, parent, name, newparent, newname, &f);
	ret = judge(fs, pid, &f);
	if (ret == TLK_INSPECT && f.dst.kind == TLK_BLOB_DATA) {
		ret = tlk_blob_rename(fs, pid, parent->fd, name, newparent->fd,
				      &f.dst);
		if (ret > 0)
			tlk_where_moved(fs, newparent, newname);
		ret = ret < 0 ? ret : 0;
	} else if (ret == TLK_INSPECT) {
		ret = publish_copy(fs, pid, parent, name, newparent, &f.dst,
				   flags);
	} else if (ret >= 0) {
		ret = (flags ? renameat2(parent->fd, name, newparent->fd,
					 newname, flags)
			     : renameat(parent->fd, name, newparent->fd,
					newname)) < 0
			  ? -errno
			  : 0;
		if (ret == 0) {
			tlk_where_moved(fs, newparent, newname);
			if (flags & RENAME_EXCHANGE)
				tlk_where_moved(fs, parent, name);
		}
	}
	tlk_repo_unlock_two(la, lb);
	return ret;
}

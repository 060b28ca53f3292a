/* SPDX-License-Identifier: MIT */
/*
 * fs.h - private to the daemon: the state every FUSE handler shares.
 *
 * Handlers are thin: gather facts, ask the pure core (directly or through
 * tag_ops.c and guarded.c),
 * do the fd-relative syscall, reply once. Nodes are identified to the kernel
 * by the address of their struct tlk_inode (FUSE_ROOT_ID means fs->root).
 */
#ifndef TAGLOCKFS_FS_H
#define TAGLOCKFS_FS_H

#include <dirent.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "taglockfs/audit.h"
#include "taglockfs/commit.h"
#include "taglockfs/decide.h"
#include "taglockfs/layout.h"
#include "taglockfs/live_policy.h"
#include "taglockfs/shadow.h"

/* One backing inode the kernel knows. */
struct tlk_inode {
	atomic_int fd; /* O_PATH|O_NOFOLLOW, owned. Held (handle NULL):
			  always open; the number is fixed, the file behind
			  it is swapped (dup3) once, when a pending link gets
			  its name or the inode is sealed. With a handle: open
			  only while pinned (pins > 0), else -1
			  (docs/design.md, "Descriptor ownership") */
	struct file_handle *handle; /* the backing file's handle (owned), or
				       NULL: fd is held; protected by the
				       stripe lock */
	unsigned pins;	/* requests using fd now (tlk_inode_pin); stripe
			   lock */
	bool forgotten; /* off the table, freed by the last unpin; stripe
			   lock */
	bool off_hash;	/* on the table's `unhashed` list (sealed, or a
			   dead file whose number was reused); stripe lock */
	struct tlk_packed_node *where;	   /* where it sits in the registry's
					      tree (NULL: outside, OTHER), from
					      the daemon's own lookups and renames
					      (docs/design.md, rule 7); owned;
					      protected by the stripe lock */
	struct file_handle *parent_handle; /* that directory's handle (owned;
					      NULL: it holds its fd); stripe
					      lock */
	dev_t parent_dev; /* the directory it was last found in, and */
	ino_t parent_ino; /* under which name; protected by the stripe */
	char *name;	  /* lock, owned */
	int backing_id;	  /* kernel passthrough id, valid while
			     backing_refs > 0; protected by the stripe lock */
	unsigned backing_refs;
	atomic_bool sealed;	/* renamed onto a link position (published as a
				   copy): fd is the published link now, and the
				   inode is off the hash (on `unhashed`) */
	atomic_bool raw_sealed; /* raw handles may not write any more: set
				   with `sealed`, and for a file renamed
				   onto blob data (it is the blob now) */
	struct timespec pages_ctime; /* the file's ctime when a reader last
					dropped or kept the kernel's pages
					(fs_file.c), under tlk_inode_lock */
	atomic_uint hidden_writers; /* write handles whose writes bypass the
				       daemon (kernel passthrough) */
	bool pending;		/* fd is an unnamed O_TMPFILE: the next lookup
				   that finds this inode by name replaces fd;
				   protected by the table stripe lock */
	dev_t dev;		/* immutable */
	ino_t ino;		/* immutable */
	mode_t type;		/* S_IFMT bits, immutable */
	uint64_t nlookup;	/* protected by the table stripe lock */
	struct tlk_inode *next; /* bucket chain, protected by the stripe lock */
};

#define TLK_INODE_STRIPES 256

/* Hash of (dev, ino) -> inode; a stripe lock guards a set of buckets. */
struct tlk_inode_table {
	struct tlk_inode **buckets;
	size_t nbuckets; /* power of two */
	pthread_mutex_t stripes[TLK_INODE_STRIPES];
	atomic_size_t count;
	atomic_size_t held; /* inodes that hold their fd (no handle) */
	/* File handles (tlk_inodes_use_handles): an fd of the backing
	 * directory's mount for open_by_handle_at, and that mount's id;
	 * mount_fd -1: every inode holds its fd. */
	int mount_fd;
	int mount_id;
	/* Sealed inodes left the hash (tlk_inode_seal): kept here until the
	 * kernel forgets them. Taken after a stripe lock, never before. */
	pthread_mutex_t unhashed_lock;
	struct tlk_inode *unhashed; /* chained through next */
	/* The trimmer (trim.c): woken as soon as `held` passes `trim_high`
	 * (0: no trimmer), not only on its period. */
	atomic_size_t trim_high;
	atomic_bool trim_poked;
	sem_t trim_wake;
};

#define TLK_REPO_LOCKS 64

struct tlk_fs {
	struct tlk_inode root; /* fd: the backing directory */
	struct tlk_inode_table inodes;
	struct tlk_live_policy *policy;
	struct tlk_audit *audit; /* NULL: no audit log */
	bool audit_strict;	 /* no new protected tag while it fails */
	double timeout;		 /* entry/attr timeout, ordinary nodes */
	double cache_timeout;	 /* the same, for what cannot change */
	bool passthrough;	 /* kernel passthrough available */
	bool io_uring;		 /* -o io_uring asked for */
	bool verify_all_blobs;	 /* verify_blobs=all: hash every blob */
	struct tlk_protected_set *protected_set; /* owned */
	/* Decisions on one repository's links and the operations they
	 * allow run under its lock (docs/design.md, "Lock order"). */
	pthread_mutex_t repo_locks[TLK_REPO_LOCKS];
	atomic_ulong refused; /* counters for stats */
	atomic_ulong published;
	struct fuse_session *se; /* set before serving */
};

/* A write handle on a link file (guarded.c), on blob data (blob.c). */
struct tlk_guarded;
struct tlk_blob;
/* The blobs a protected tag needs (protected_set.c). */
struct tlk_protected_set;

/* What fi->fh points to. */
struct tlk_file {
	struct tlk_inode *inode;   /* the kernel holds it while the file is
				      open */
	bool hidden_writer;	   /* counted in inode->hidden_writers */
	int fd;			   /* backing fd, -1 when none */
	struct tlk_guarded *guard; /* non-NULL for a link file */
	struct tlk_blob *blob;	   /* non-NULL for blob data */
	bool passthrough;	   /* I/O goes kernel -> backing file */

	/* Every open handle is on one list, under its lock in fs_file.c. */
	struct tlk_file *prev, *next;
};

/* inode.c */
int tlk_inodes_init(struct tlk_inode_table *t);
void tlk_inodes_destroy(struct tlk_inode_table *t);
/* Take ownership of fd (O_PATH) for the inode st describes, found as
 * `name` in `parent` at `node`; returns the table's node with nlookup
 * raised by one (fd closed if it was known). */
struct tlk_inode *tlk_inode_get(struct tlk_inode_table *t, int fd,
				const struct stat *st,
				const struct tlk_inode *parent,
				const char *name, const struct tlk_node *node);
/* The same for a pending (unnamed) link file that will become `name`
 * (a link position, `node`) in `parent`. */
struct tlk_inode *tlk_inode_get_pending(struct tlk_inode_table *t, int fd,
					const struct stat *st,
					const struct tlk_inode *parent,
					const char *name,
					const struct tlk_node *node);
void tlk_inode_forget(struct tlk_inode_table *t, struct tlk_inode *ino,
		      uint64_t n);
/* Keep inodes by file handle where the backing filesystem of `rootfd`
 * (the backing directory) can reopen them (root: CAP_DAC_READ_SEARCH);
 * else they keep holding fds. Call once, before the first lookup. */
void tlk_inodes_use_handles(struct tlk_inode_table *t, int rootfd);
/* Make ino->fd usable until tlk_inode_unpin: reopens an inode kept by
 * handle (the same inode, checked; never a lookup by name). 0, or -errno
 * (EMFILE, ENFILE, ESTALE: the request is refused, rule 5). A request
 * pins the inodes whose fd it uses (fs_pin.c). */
int tlk_inode_pin(struct tlk_inode_table *t, struct tlk_inode *ino);
void tlk_inode_unpin(struct tlk_inode_table *t, struct tlk_inode *ino);
/* Record that `ino` is now `name` in `parent` at `node`: after a rename
 * (force), or when found again (kept only when at least as weighty as
 * what is known: a hard link made behind the daemon's back cannot hide a
 * link position). Returns -ENOMEM when it could not be recorded. */
int tlk_inode_note_where(struct tlk_inode_table *t, struct tlk_inode *ino,
			 const struct tlk_inode *parent, const char *name,
			 const struct tlk_node *node, bool force);
/* After a rename through the mount: the inode (dev, ino), if the table
 * holds it, is now `name` in `parent` at `node`. */
void tlk_inode_note_moved(struct tlk_inode_table *t, dev_t dev, ino_t ino,
			  const struct tlk_inode *parent, const char *name,
			  const struct tlk_node *node);
/* After a file was renamed onto a link position as a copy: the inode
 * (dev, ino), if the table holds it, becomes that link for whoever still
 * holds it (the kernel's dentry, open handles): sealed, its fd replaced
 * by `linkfd` (an O_PATH of the published link, taken), its position
 * `node`. Returns the number of hidden writers it had. */
void tlk_inode_seal(struct tlk_inode_table *t, dev_t dev, ino_t ino, int linkfd,
		    const struct tlk_inode *parent, const char *name,
		    const struct tlk_node *node);
/* Seal (dev, ino) where it is: raw handles on it may not write any more
 * (a file about to become blob data). */
void tlk_inode_seal_in_place(struct tlk_inode_table *t, dev_t dev, ino_t ino);
/* How many write handles on (dev, ino) bypass the daemon. */
unsigned tlk_inode_hidden_writers(struct tlk_inode_table *t, dev_t dev,
				  ino_t ino);
/* The inode (dev, ino) if the table holds it: its fd duplicated, or
 * reopened by its handle (the caller owns it), or -ENOENT. */
int tlk_inode_dup_fd(struct tlk_inode_table *t, dev_t dev, ino_t ino);
/* An O_PATH fd of the directory `ino` was last found in (owned by the
 * caller): reopened by that directory's handle, so a directory removed
 * since is -ESTALE, never another that took its inode number; a
 * directory that holds its fd is duplicated (-ENOENT: not held). */
int tlk_inode_dir_fd(struct tlk_inode_table *t, struct tlk_inode *ino);
/* Copy out where `ino` sits and its directory (dev, ino). */
void tlk_inode_where(struct tlk_inode_table *t, struct tlk_inode *ino,
		     struct tlk_node *out, dev_t *pdev, ino_t *pino);
/* When more than `high` inodes hold their fd, ask the kernel to drop up
 * to `held - low` of their cached entries (files first) so that it
 * forgets them and their fds close. Call from a thread that serves no
 * request. */
void tlk_inodes_trim(struct tlk_inode_table *t, struct fuse_session *se,
		     struct tlk_inode *root, size_t high, size_t low);
/* Whether the inode is still an unnamed pending link file, whose link
 * count changes when a verdict publishes it. */
bool tlk_inode_is_pending(struct tlk_inode_table *t, struct tlk_inode *ino);
/* The lock that guards an inode's passthrough fields. */
pthread_mutex_t *tlk_inode_lock(struct tlk_inode_table *t,
				struct tlk_inode *ino);

static inline struct tlk_fs *tlk_fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct tlk_inode *tlk_inode_of(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &tlk_fs_of(req)->root;
	return (struct tlk_inode *)(uintptr_t)ino;
}

static inline struct tlk_file *tlk_file_of(struct fuse_file_info *fi)
{
	return (struct tlk_file *)(uintptr_t)fi->fh;
}

/* fs_file.c: true (and reported) when a raw handle may not change its
 * file any more, because the file was renamed onto a link (rule 6). */
bool tlk_file_sealed(fuse_req_t req, const struct tlk_file *f);

/* "/proc/self/fd/N" for an fd, to reopen an O_PATH with real flags. */
void tlk_proc_fd_path(int fd, char *buf, size_t len);

/* fs_entry.c: look `name` up in `parent` and fill the entry (after a
 * create); the entry's lookup is counted: the caller replies with it or
 * gives it back with tlk_entry_undo. */
int tlk_make_entry(fuse_req_t req, struct tlk_inode *parent, const char *name,
		   struct fuse_entry_param *e);
void tlk_entry_undo(fuse_req_t req, const struct fuse_entry_param *e);
/* Reply with an entry; when the kernel did not take it, give the lookup
 * back (docs/design.md, "Lookup counts"). */
void tlk_reply_entry(fuse_req_t req, const struct fuse_entry_param *e);
/* How long the kernel may cache a name (tlk_cache_timeout) and an inode's
 * attributes (tlk_attr_timeout) (docs/design.md, "What the kernel may
 * cache"): cache_timeout for the tree's fixed directories, 0 for links and
 * link-sized files, timeout for the rest; blob data's attributes keep
 * cache_timeout. tlk_entry_timeouts sets both in `e` (e->attr filled). */
double tlk_cache_timeout(const struct tlk_fs *fs, const struct tlk_node *node,
			 const struct stat *st);
double tlk_attr_timeout(const struct tlk_fs *fs, const struct tlk_node *node,
			const struct stat *st);
void tlk_entry_timeouts(struct tlk_fs *fs, const struct tlk_node *node,
			struct fuse_entry_param *e);
/* Give a new node the caller's ownership (the daemon runs as root). */
void tlk_chown_new(fuse_req_t req, int dirfd, const char *name);
/* The owner a node created in dirfd by this request gets, as a kernel
 * filesystem would give it: the caller's uid, and the caller's gid, or the
 * directory's when it is set-group-ID. */
void tlk_new_owner(fuse_req_t req, int dirfd, uid_t *uid, gid_t *gid);

/* where.c: where a node sits, from the daemon's own state (rule 7). */
void tlk_where_of(struct tlk_fs *fs, struct tlk_inode *inode,
		  struct tlk_node *out);
void tlk_where_child(struct tlk_fs *fs, struct tlk_inode *parent,
		     const char *name, struct tlk_node *out);
/* An O_PATH fd of the directory `inode` was found in (owned by the
 * caller), or -errno (-ESTALE when the daemon no longer holds it). */
int tlk_where_dir_fd(struct tlk_fs *fs, struct tlk_inode *inode);
/* After a rename through the mount: `newname` in `newparent` is what was
 * renamed; record its new position. */
void tlk_where_moved(struct tlk_fs *fs, struct tlk_inode *newparent,
		     const char *newname);

/* facts.c: the facts a decision needs (policy in force, link contents,
 * what a name is). Each returns 0 or -errno; the caller puts the errno in
 * facts.error (rule 5 lives in tlk_decide). */
void tlk_facts_policy(struct tlk_fs *fs, const struct tlk_node *node,
		      bool *repo_immutable, bool *tag_protected,
		      bool *protect_delete);
int tlk_facts_type(int dirfd, const char *name, enum tlk_ftype *type,
		   bool *multi_linked);
int tlk_facts_fd_type(int fd, enum tlk_ftype *type, bool *multi_linked);
/* current/link of the tag that `dirfd` (a directory of `kind` inside one
 * tag) belongs to; ABSENT when there is none. */
int tlk_facts_tag_current(int dirfd, enum tlk_kind kind, struct tlk_link *out);
/* A directory to read (`path` relative to dirfd), and its next entry: 1,
 * 0 at the end, or -errno (never an end by mistake: rule 5). */
int tlk_dir_open(int dirfd, const char *path, DIR **out);
int tlk_dir_next(DIR *d, struct dirent **de);
/* scan.c: does a protected tag of the repository point to the revision
 * whose digest directory is `revdir` (`rev` its node)? 1, 0 or -errno:
 * any error while looking is an error, never a "no". */
int tlk_scan_revision_in_use(struct tlk_fs *fs, int revdir,
			     const struct tlk_node *rev);

/* locks.c: the repository locks (docs/design.md, "Lock order"). NULL for
 * nodes that belong to no repository's state. */
pthread_mutex_t *tlk_repo_lock(struct tlk_fs *fs, const struct tlk_node *node);
/* Lock the locks of two nodes in order (either may be NULL, or equal). */
void tlk_repo_lock_two(pthread_mutex_t *a, pthread_mutex_t *b);
void tlk_repo_unlock_two(pthread_mutex_t *a, pthread_mutex_t *b);

/* report.c: log and audit a verdict worth reporting; `pid` names the
 * requester. */
void tlk_report(struct tlk_fs *fs, pid_t pid, const struct tlk_facts *facts,
		struct tlk_verdict verdict);
/* The audit_error fact for publishing `facts` (audit_strict): the errno
 * that keeps the audit log from being written, 0 when it can be or when
 * the fact does not matter (not strict, not a protected tag). */
int tlk_report_audit_error(struct tlk_fs *fs, const struct tlk_facts *facts);

/* tag_ops.c: namespace operations that are decided and performed under
 * the repository lock (rule 6). Each returns 0 or -errno; none needs a
 * FUSE request. */
/* Who a published link file belongs to: the caller who created it, or the
 * owner of the file it replaces or copies (as rename and rewrite keep). */
struct tlk_owner {
	uid_t uid;
	gid_t gid;
	unsigned mode;
};

/* SYMLINK, HARDLINK, FOLLOW: decided from positions alone. */
int tlk_tag_check(struct tlk_fs *fs, pid_t pid, enum tlk_op op,
		  const struct tlk_node *node, const struct tlk_node *dst);
int tlk_tag_unlink(struct tlk_fs *fs, pid_t pid, struct tlk_inode *parent,
		   const char *name);
int tlk_tag_mkdir(struct tlk_fs *fs, pid_t pid, struct tlk_inode *parent,
		  const char *name, mode_t mode);
int tlk_tag_rename(struct tlk_fs *fs, pid_t pid, struct tlk_inode *parent,
		   const char *name, struct tlk_inode *newparent,
		   const char *newname, unsigned flags);
int tlk_tag_truncate(struct tlk_fs *fs, pid_t pid, struct tlk_inode *inode,
		     off_t size);
/* CREATE of `name` in `parent`: ALLOW (0), INSPECT (1: serve a guarded
 * handle) or -errno. */
int tlk_tag_create_check(struct tlk_fs *fs, pid_t pid, struct tlk_inode *parent,
			 const char *name, struct tlk_node *node);
/* OPEN for writing of `inode` with open(2) `flags`: ALLOW (0), INSPECT (1)
 * or -errno. */
int tlk_tag_open_check(struct tlk_fs *fs, pid_t pid, struct tlk_inode *inode,
		       int flags, struct tlk_node *node);
/* Publish `content` as the link `node` in `dirfd` through `pending`
 * (created when its fd is -1): the decision (PUBLISH_LINK, with the link
 * as it is at that moment) and the commit, under the repository lock.
 * `sync`: make it durable now (a protected tag's commit always is; else
 * the caller fsyncs the pending file when asked). */
int tlk_tag_publish(struct tlk_fs *fs, pid_t pid, int dirfd,
		    const struct tlk_node *node,
		    struct tlk_pending_link *pending,
		    const struct tlk_owner *owner, const char *content,
		    size_t len, bool sync, struct tlk_link *found);

/* blob.c: blob data (docs/design.md, rule 9). A write handle on blob
 * data (`blobfd` the existing blob's O_PATH, or -1 for a new one; dirfd
 * is taken), its I/O and its verdict at fsync/flush/release. */
int tlk_blob_open(const struct tlk_node *node, int dirfd, int blobfd, int flags,
		  const struct tlk_owner *owner, pid_t pid,
		  struct tlk_blob **out);
int tlk_blob_pending_fd(struct tlk_blob *b);
ssize_t tlk_blob_read(struct tlk_blob *b, void *buf, size_t n, off_t off);
ssize_t tlk_blob_write(struct tlk_fs *fs, struct tlk_blob *b, const void *buf,
		       size_t n, off_t off);
int tlk_blob_truncate(struct tlk_blob *b, off_t size);
int tlk_blob_settle(struct tlk_fs *fs, struct tlk_blob *b, bool sync);
void tlk_blob_free(struct tlk_blob *b);
/* SHA-256 of fd's bytes against hex. 0 or -errno. */
int tlk_blob_hash_check(int fd, const char *hex, enum tlk_digest_check *out);
/* Publish a written pending file as the blob `node` in dirfd. */
int tlk_blob_publish(struct tlk_fs *fs, pid_t pid, int dirfd,
		     const struct tlk_node *node,
		     struct tlk_pending_link *pending, size_t size);
/* Rename olddir/oldname onto the blob `node` (newdir/data) after the
 * verdict: 1 renamed, 0 identical blob already there (source removed),
 * or -errno. */
int tlk_blob_rename(struct tlk_fs *fs, pid_t pid, int olddir,
		    const char *oldname, int newdir,
		    const struct tlk_node *node);

/* protected_set.c: is the blob <hex> needed by a protected tag (with
 * protect_delete)? 1, 0 or -errno (undecidable: refuse). */
int tlk_protected_blob(struct tlk_fs *fs, const char *hex);
/* Something protected changed (a publish, a policy reload): recompute
 * before the next answer. */
void tlk_protected_set_stale(struct tlk_fs *fs);
/* Does a protected tag of repository `repo` need <hex> there (its
 * manifest, an index's child, a config or layer: so their revision and
 * layer links)? 1, 0 or -errno. */
int tlk_protected_in_repo(struct tlk_fs *fs, const char *repo, const char *hex);
int tlk_protected_set_new(struct tlk_protected_set **out);
void tlk_protected_set_free(struct tlk_protected_set *set);

/* guarded.c: the guarded-handle state machine (docs/design.md). */
/* A handle on the link `node` in `dirfd` (taken, also on failure),
 * starting from the bytes of `linkfd` (an O_PATH fd of the link; -1: a new
 * link, served from a pending file). */
int tlk_guarded_open(struct tlk_fs *fs, const struct tlk_node *node, int dirfd,
		     int linkfd, int flags, const struct tlk_owner *owner,
		     pid_t pid, struct tlk_guarded **out);
/* The pending file of a new link (its O_RDWR fd), for the kernel entry. */
int tlk_guarded_pending_fd(struct tlk_guarded *g);
int tlk_guarded_write(struct tlk_fs *fs, struct tlk_guarded *g, off_t off,
		      const void *buf, size_t n);
int tlk_guarded_truncate(struct tlk_fs *fs, struct tlk_guarded *g, off_t size);
size_t tlk_guarded_read(struct tlk_guarded *g, off_t off, void *buf, size_t n);
/* flush (final false), fsync (sync true) and release (final true). */
int tlk_guarded_settle(struct tlk_fs *fs, struct tlk_guarded *g, bool final,
		       bool sync);
void tlk_guarded_free(struct tlk_guarded *g);

/* fs_*.c: the handlers, collected in fs_ops.c. */
void tlk_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void tlk_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void tlk_op_forget_multi(fuse_req_t req, size_t count,
			 struct fuse_forget_data *forgets);
void tlk_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode);
void tlk_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, dev_t rdev);
void tlk_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		    const char *name);
void tlk_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		 const char *newname);
void tlk_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void tlk_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void tlk_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		   fuse_ino_t newparent, const char *newname,
		   unsigned int flags);
void tlk_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void tlk_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		    int valid, struct fuse_file_info *fi);
void tlk_op_readlink(fuse_req_t req, fuse_ino_t ino);
void tlk_op_statfs(fuse_req_t req, fuse_ino_t ino);
void tlk_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     const char *value, size_t size, int flags);
void tlk_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		     size_t size);
void tlk_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void tlk_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void tlk_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void tlk_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void tlk_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi);
void tlk_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void tlk_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi);
void tlk_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void tlk_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		   mode_t mode, struct fuse_file_info *fi);
void tlk_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void tlk_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
		      off_t off, struct fuse_file_info *fi);
void tlk_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void tlk_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* After the session loop: free the handles the kernel never released (a
 * stop while a client held a file, or before a queued release was read).
 * Nothing is settled or published (docs/design.md, "Lifecycle"). */
void tlk_files_drop_all(void);
void tlk_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi);
void tlk_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		      off_t length, struct fuse_file_info *fi);
void tlk_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		  struct fuse_file_info *fi);

/* fs_pin.c: the handlers above that use an inode's fd, run with the
 * inodes they name pinned (tlk_inode_pin); a pin that fails is the
 * request's answer. */
void tlk_pinned_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void tlk_pinned_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi);
void tlk_pinned_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int valid, struct fuse_file_info *fi);
void tlk_pinned_readlink(fuse_req_t req, fuse_ino_t ino);
void tlk_pinned_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev);
void tlk_pinned_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode);
void tlk_pinned_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void tlk_pinned_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void tlk_pinned_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name);
void tlk_pinned_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void tlk_pinned_opendir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi);
void tlk_pinned_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t off, struct fuse_file_info *fi);
void tlk_pinned_statfs(fuse_req_t req, fuse_ino_t ino);
void tlk_pinned_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags);
void tlk_pinned_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size);
void tlk_pinned_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void tlk_pinned_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void tlk_pinned_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi);
void tlk_pinned_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		     const char *newname);
void tlk_pinned_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags);

/* passthrough.c: kernel passthrough of uninspected files (no-ops when
 * built without it). attach returns true when fi now passes through. */
void tlk_passthrough_want(struct tlk_fs *fs, struct fuse_conn_info *conn);
bool tlk_passthrough_attach(fuse_req_t req, struct tlk_inode *inode, int fd,
			    struct fuse_file_info *fi);
void tlk_passthrough_detach(fuse_req_t req, struct tlk_inode *inode);

/* trim.c: the thread that keeps inodes within the descriptor limit. */
void tlk_trimmer_start(struct tlk_fs *fs);
void tlk_trimmer_stop(void);

extern const struct fuse_lowlevel_ops tlk_fs_ops;

/* gate_server.c: the manifest-PUT verdict endpoint for nginx
 * (docs/design.md, "The gate"). Open binds the socket (before the mount,
 * errors to stderr); start serves it (after daemonising); stop ends it. */
int tlk_gate_open(struct tlk_fs *fs, const char *path, const char *group);
int tlk_gate_start(void);
void tlk_gate_stop(void);

#endif

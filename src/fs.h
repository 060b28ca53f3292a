/* SPDX-License-Identifier: MIT */
/*
 * fs.h - private to the daemon: the state every FUSE handler shares.
 *
 * Handlers are thin: gather facts, ask guard.c (which asks the pure core),
 * do the fd-relative syscall, reply once. Nodes are identified to the kernel
 * by the address of their struct tlk_inode (FUSE_ROOT_ID means fs->root).
 */
#ifndef TAGLOCKFS_FS_H
#define TAGLOCKFS_FS_H

#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
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
	atomic_int fd; /* O_PATH|O_NOFOLLOW, owned; the number is fixed,
			  the file behind it is swapped (dup3) once, when
			  a pending link gets its name (see below) */
	struct tlk_node *link_node; /* a link this daemon created (pending):
				       judged as that link whatever /proc
				       shows; owned, immutable after insert */
	int link_dirfd;		    /* with link_node: its directory, owned */
	dev_t parent_dev; /* where it was last looked up (a hint for */
	ino_t parent_ino; /* cache trimming; protected by the stripe */
	char *name;	  /* lock): the parent and the name, owned */
	int backing_id;	  /* kernel passthrough id, valid while
			     backing_refs > 0; protected by the stripe lock */
	unsigned backing_refs;
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
};

#define TLK_TAG_LOCKS 64

struct tlk_fs {
	struct tlk_inode root;	  /* fd: the backing directory */
	char root_path[PATH_MAX]; /* its path as /proc shows it */
	size_t root_len;
	struct tlk_inode_table inodes;
	struct tlk_live_policy *policy;
	struct tlk_audit *audit; /* NULL: no audit log */
	double timeout;		 /* entry/attr timeout, ordinary nodes */
	bool passthrough;	 /* kernel passthrough available */
	pthread_mutex_t tag_locks[TLK_TAG_LOCKS]; /* per-tag decisions */
	atomic_ulong refused;			  /* counters for stats */
	atomic_ulong published;
	struct fuse_session *se; /* set before serving */
};

/* A write handle on a protected current/link (see shadow.h). */
struct tlk_guarded {
	pthread_mutex_t lock; /* protects everything below */
	struct tlk_shadow shadow;
	int dirfd;			 /* O_PATH of the current/ dir, owned */
	struct tlk_pending_link pending; /* fd -1 until needed */
	unsigned mode;
	struct tlk_node node; /* repository and tag */
	pid_t opener;	      /* who opened it, for reports */
};

/* What fi->fh points to. */
struct tlk_file {
	int fd;			   /* backing fd, -1 when none */
	struct tlk_guarded *guard; /* non-NULL for a protected link */
	bool passthrough;	   /* I/O goes kernel -> backing file */
};

/* inode.c */
int tlk_inodes_init(struct tlk_inode_table *t);
void tlk_inodes_destroy(struct tlk_inode_table *t);
/* Take ownership of fd (O_PATH) for the inode st describes; returns the
 * table's node with nlookup raised by one (fd closed if it was known). */
struct tlk_inode *tlk_inode_get(struct tlk_inode_table *t, int fd,
				const struct stat *st);
/* The same for a pending (unnamed) link file that will become `node`
 * (copied) in directory `dirfd` (owned by the inode on success). */
struct tlk_inode *tlk_inode_get_pending(struct tlk_inode_table *t, int fd,
					const struct stat *st,
					const struct tlk_node *node, int dirfd);
void tlk_inode_forget(struct tlk_inode_table *t, struct tlk_inode *ino,
		      uint64_t n);
/* Remember where `ino` was found (for tlk_inodes_trim). */
void tlk_inode_note_name(struct tlk_inode_table *t, struct tlk_inode *ino,
			 struct tlk_inode *parent, const char *name);
/* When the table holds more than `high` inodes, ask the kernel to drop up
 * to `count - low` cached entries (files first) so that it forgets them and
 * their fds close. Call from a thread that serves no request. */
void tlk_inodes_trim(struct tlk_inode_table *t, struct fuse_session *se,
		     struct tlk_inode *root, size_t high, size_t low);
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

/* "/proc/self/fd/N" for an fd, to reopen an O_PATH with real flags. */
void tlk_proc_fd_path(int fd, char *buf, size_t len);

/* fs_entry.c: reply with the entry for `name` in `parent` (after create). */
int tlk_make_entry(fuse_req_t req, struct tlk_inode *parent, const char *name,
		   struct fuse_entry_param *e);
/* Kernel cache timeouts for the entry `name` (e->attr filled): 0 for
 * link files, which another node may publish at any moment. */
void tlk_entry_timeouts(struct tlk_fs *fs, const char *name,
			struct fuse_entry_param *e);
/* Give a new node the caller's ownership (the daemon runs as root). */
void tlk_chown_new(fuse_req_t req, int dirfd, const char *name);

/* guard.c: facts, verdicts, reports. tlk_guard_unlink, _rmdir, _rename and
 * _truncate perform the operation (under the tag's lock where it matters)
 * and return its result; _mkdir, _create_in, _link and _symlink only
 * decide: 0 to go ahead, -errno to refuse. */
/* Classify an inode: a link this daemon created is that link; anything
 * else as tlk_guard_node_of_fd. */
void tlk_guard_node_of_inode(struct tlk_fs *fs, struct tlk_inode *inode,
			     struct tlk_node *out, char *dir, size_t dirlen);
/* O_PATH fd of the directory of a guarded file: from `dir`, or the
 * directory a created link remembers. -errno on failure. */
int tlk_guard_inode_dir(struct tlk_fs *fs, struct tlk_inode *inode,
			const char *dir);
/* Classify the file behind a backing fd by where it is now; `dir` (may be
 * NULL) receives its directory relative to the backing root, from the
 * same look, so a later rename or unlink cannot make the two disagree. */
void tlk_guard_node_of_fd(struct tlk_fs *fs, int fd, struct tlk_node *out,
			  char *dir, size_t dirlen);
void tlk_guard_child(struct tlk_fs *fs, struct tlk_inode *parent,
		     const char *name, struct tlk_node *out);
/* A digest link reached through another name (a hard link made behind
 * the daemon's back): it is judged as a protected link of unknown tag.
 * Fills *node when true. */
bool tlk_guard_aliased_link(int fd, struct tlk_node *node);
/* Must writes to the file `fd`, classified as *node, be guarded? May
 * rewrite *node (aliased links). */
bool tlk_guard_write_protected(struct tlk_fs *fs, int fd, const char *dir,
			       struct tlk_node *node);
/* O_PATH fd of `dir` (relative to the backing root), or -errno. */
int tlk_guard_open_dir(struct tlk_fs *fs, const char *dir);
pthread_mutex_t *tlk_guard_tag_lock(struct tlk_fs *fs,
				    const struct tlk_node *node);
bool tlk_guard_protected(struct tlk_fs *fs, const struct tlk_node *node,
			 bool *protect_delete);
/* Log (and audit) a decision. `pid` names the requester when the request
 * itself does not (release); 0 takes it from the request. */
void tlk_guard_report(fuse_req_t req, pid_t pid, const struct tlk_facts *facts,
		      struct tlk_verdict verdict, const struct tlk_node *node);
int tlk_guard_unlink(fuse_req_t req, struct tlk_inode *parent,
		     const char *name);
int tlk_guard_rmdir(fuse_req_t req, struct tlk_inode *parent, const char *name);
int tlk_guard_mkdir(fuse_req_t req, struct tlk_inode *parent, const char *name);
int tlk_guard_create_in(fuse_req_t req, struct tlk_inode *parent,
			const char *name, const struct tlk_node *node);
int tlk_guard_link(fuse_req_t req, struct tlk_inode *src,
		   struct tlk_inode *newparent, const char *newname);
int tlk_guard_symlink(fuse_req_t req, struct tlk_inode *parent,
		      const char *name);
int tlk_guard_truncate(fuse_req_t req, struct tlk_inode *inode, off_t size);
int tlk_guard_rename(fuse_req_t req, struct tlk_inode *parent, const char *name,
		     struct tlk_inode *newparent, const char *newname,
		     unsigned flags);

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
void tlk_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi);
void tlk_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		      off_t length, struct fuse_file_info *fi);
void tlk_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		  struct fuse_file_info *fi);

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

#endif

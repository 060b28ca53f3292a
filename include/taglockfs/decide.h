/* SPDX-License-Identifier: MIT */
/*
 * decide.h - every verdict the daemon acts on (docs/design.md, "One place
 * for verdicts").
 *
 * Pure: the caller gathers the facts (where the nodes are, what the policy
 * in force says, what the links hold, what the inode is) and asks; the
 * answer is a typed verdict. tlk_verdict_errno() turns it into an errno,
 * tlk_reason_text() into words for the log and the audit record. Deciding
 * and reporting stay apart.
 *
 * Rule 5 (fail closed) lives here and only here: when facts.error is set,
 * the facts could not be established and the verdict is a refusal carrying
 * that errno, whatever the operation.
 */
#ifndef TAGLOCKFS_DECIDE_H
#define TAGLOCKFS_DECIDE_H

#include <stdbool.h>
#include <stddef.h>

#include "taglockfs/digest.h"
#include "taglockfs/layout.h"

enum tlk_op {
	TLK_OP_CREATE,	     /* create a new regular file `node` */
	TLK_OP_OPEN_WRITE,   /* open the existing file `node` for writing */
	TLK_OP_WRITE_LINK,   /* a guarded handle's view would become `view` */
	TLK_OP_PUBLISH_LINK, /* make `next` the content of the link `node` */
	TLK_OP_TRUNCATE,     /* truncate(2) of `node` without a handle */
	TLK_OP_REMOVE,	     /* unlink the name `node` */
	TLK_OP_MKDIR,	     /* mkdir `node` */
	TLK_OP_SYMLINK,	     /* symlink(2) named `node` */
	TLK_OP_HARDLINK,     /* link(2) of `node` as `dst` */
	TLK_OP_RENAME,	     /* rename `node` to `dst` */
	TLK_OP_FOLLOW,	     /* readlink of the symlink `node` */
	TLK_OP_PUBLISH_BLOB, /* make content (`size` bytes, `digest_check`)
				blobs/sha256/<xx>/<hex>/data */
	TLK_OP_WRITE_RAW,    /* write, truncate or fallocate through a raw
				handle whose file is `sealed` (asked only
				then: an unsealed raw handle is ALLOW) */
	TLK_OP_MKNOD,	     /* mknod(2) (a fifo, socket or device) `node` */
	TLK_OP_SWEEP_INDEX,  /* remove the index entry `node` (its digest
				directory) of a protected tag whose first
				content `tag_current` was just published */
	TLK_OP_COUNT
};

/* What the inode behind a name or handle is. */
enum tlk_ftype {
	TLK_FT_NONE = 0, /* no such name */
	TLK_FT_REG,
	TLK_FT_DIR,
	TLK_FT_SYMLINK,
	TLK_FT_SPECIAL, /* fifo, socket, device */
};

struct tlk_facts {
	enum tlk_op op;
	int error; /* gathering a fact failed with this errno: refuse */
	struct tlk_node node; /* the node acted on (RENAME: the source) */
	enum tlk_ftype type;  /* what `node` is (REMOVE, RENAME, OPEN; PUBLISH:
			       the file at the link position) */
	bool multi_linked;    /* `node` has more than one hard link */
	struct tlk_node dst;  /* RENAME, HARDLINK: the new name */
	enum tlk_ftype dst_type; /* RENAME: what `dst` is now */
	bool dst_multi_linked;	 /* RENAME: `dst` has more than one link */
	bool exchange;		 /* RENAME_EXCHANGE or RENAME_WHITEOUT */
	bool closing;		 /* WRITE_LINK: nothing more will be written */
	bool sealed;		 /* WRITE_RAW: the handle's file was renamed
				    onto a link position and published as a
				    copy */
	bool held_hidden;	 /* RENAME: the source has write handles whose
				    writes bypass the daemon (kernel passthrough) */

	/* Blob data (docs/design.md, rule 9). */
	size_t size;	  /* OPEN_WRITE: the blob's size; PUBLISH_BLOB: the
			     new content's */
	bool truncating;  /* OPEN_WRITE: the open has O_TRUNC */
	bool has_content; /* PUBLISH_BLOB: the blob exists, not empty */
	enum tlk_digest_check {
		TLK_DIGEST_UNCHECKED = 0, /* not hashed (a large blob) */
		TLK_DIGEST_MATCH,	  /* SHA-256 of the content is <hex> */
		TLK_DIGEST_MISMATCH,
	} digest_check;

	/* Policy in force for `node` (RENAME, HARDLINK: also `dst`). */
	bool repo_immutable;
	bool dst_repo_immutable;
	bool tag_protected;	/* node's tag (RENAME: dst's tag, when dst is a
				   link position; TAG index entries: the tag) */
	bool src_tag_protected; /* RENAME: the source's tag */
	bool protect_delete;

	/* What the links hold. */
	struct tlk_link current;     /* the link file as it is now (PUBLISH,
					TRUNCATE, REMOVE of a tag link) */
	struct tlk_link tag_current; /* index entries: the tag's current/link */
	struct tlk_link next;	     /* PUBLISH: the proposed content */
	size_t next_len;	     /* PUBLISH: its length in bytes */
	const char *view;	     /* WRITE_LINK: the handle's view... */
	size_t view_len;
	const char *base; /* ...and the bytes the link held at open */
	size_t base_len;
	size_t new_size;     /* TRUNCATE */
	size_t current_size; /* TRUNCATE: bytes in the file now */
	bool in_use;	     /* REMOVE/RENAME of a revision link: a protected
				tag points to it */

	/* PUBLISH_LINK of a protected tag under audit_strict: the audit log
	 * cannot be written (this errno), so a new tag would go unrecorded. */
	int audit_error;
};

enum tlk_verdict_kind {
	TLK_ALLOW = 0, /* pass the operation through */
	TLK_INSPECT,   /* CREATE/OPEN_WRITE: serve a guarded handle;
			  RENAME: publish the source's content as a copy */
	TLK_PUBLISH,   /* WRITE_LINK: accept the view and publish it now */
	TLK_REFUSE,    /* fail, change nothing */
};

enum tlk_reason {
	TLK_R_NOT_PROTECTED = 0, /* repository or tag is mutable */
	TLK_R_NOT_TAG_STATE,	 /* operation touches no protected state */
	TLK_R_CREATE,		 /* first content of a protected tag */
	TLK_R_IDENTICAL,	 /* byte-identical rewrite */
	TLK_R_GUARDED,		 /* a link file: served through a shadow */
	TLK_R_PENDING,		 /* a digest still being written */
	TLK_R_OVERWRITE,	 /* would point an existing tag elsewhere */
	TLK_R_MALFORMED,	 /* new content is not "sha256:<64 hex>" */
	TLK_R_REMOVE,		 /* would remove a protected tag */
	TLK_R_INDEX_OTHER,	 /* index entry for another digest */
	TLK_R_REVISION_IN_USE,	 /* manifest a protected tag points to */
	TLK_R_MOVE,		 /* rename of protected state or a directory */
	TLK_R_SHAPE,		 /* a shape the registry never makes */
	TLK_R_ALIAS,		 /* reached through a hard or symbolic link */
	TLK_R_WRONG_DIGEST,    /* a path-determined link with another digest */
	TLK_R_UNDECIDABLE,     /* the facts could not be established */
	TLK_R_SEALED,	       /* a descriptor of a file now published as a
				  link elsewhere */
	TLK_R_HELD,	       /* held open for writing where the daemon
				  cannot see the writes */
	TLK_R_WRITE_ONCE,      /* an existing blob never changes */
	TLK_R_DIGEST_MISMATCH, /* the bytes are not the blob's digest */
	TLK_R_BLOB_IN_USE,     /* a protected tag needs the blob */
	TLK_R_AUDIT_DOWN,      /* audit_strict: the audit log cannot be
				  written, so no new protected tag */
	TLK_R_LOST_RACE,       /* SWEEP_INDEX: an index entry of a first push
				  that lost to the published one */
	TLK_R_COUNT
};

struct tlk_verdict {
	enum tlk_verdict_kind kind;
	enum tlk_reason reason;
	int error; /* REFUSE: the errno to answer */
};

/* distribution reads a manifest with a 4 MiB limit: a blob that can be
 * served as a manifest is at most this large, and is hashed when it
 * appears. */
#define TLK_SMALL_BLOB (4u << 20)

struct tlk_verdict tlk_decide(const struct tlk_facts *facts);

/* 0 unless refused; then EPERM, EINVAL (malformed content) or the errno
 * that kept the facts from being established. */
int tlk_verdict_errno(struct tlk_verdict verdict);

/* Whether the verdict is worth a log line and an audit record: refusals,
 * the publishes (create, identical rewrite) of protected tags, and every
 * index entry swept after a first publish. */
bool tlk_verdict_reported(const struct tlk_facts *facts,
			  struct tlk_verdict verdict);

/* One sentence for the log, e.g. "The requested tag already exists and
 * cannot be overwritten." Never NULL. */
const char *tlk_reason_text(enum tlk_reason reason);

/* Short stable token for audit records and tests ("overwrite", ...). */
const char *tlk_reason_name(enum tlk_reason reason);
const char *tlk_op_name(enum tlk_op op);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * decide.h - the verdict for one operation on the registry's tag state.
 *
 * Pure: the caller gathers the facts (classification, policy answer, link
 * contents read from the backing directory) and asks; the answer is a typed
 * verdict. tlk_verdict_errno() turns it into an errno, tlk_reason_text() into
 * words for the log and the audit record. Deciding and reporting stay apart.
 */
#ifndef TAGLOCKFS_DECIDE_H
#define TAGLOCKFS_DECIDE_H

#include <stdbool.h>
#include <stddef.h>

#include "taglockfs/digest.h"

enum tlk_op {
	TLK_OP_OPEN_LINK,     /* open current/link for writing (or create it) */
	TLK_OP_PUBLISH_LINK,  /* make `next` the content of current/link:
				 commit of a write handle, rename over it */
	TLK_OP_TRUNCATE_LINK, /* truncate(2) of current/link to new_size */
	TLK_OP_REMOVE_LINK,   /* unlink of current/link */
	TLK_OP_INDEX_ADD,     /* mkdir/create below index/sha256/<hex> */
	TLK_OP_INDEX_REMOVE,  /* unlink of index/sha256/<hex>/link */
	TLK_OP_REVISION_REMOVE, /* unlink of revisions/sha256/<hex>/link */
	TLK_OP_MOVE_AWAY,	/* rename of a node that holds tag state */
	TLK_OP_REMOVE_DIR, /* removal of a directory that holds tag state */
	TLK_OP_HARDLINK,   /* link(2) from or into current/link */
	TLK_OP_SYMLINK,	   /* symlink(2) named current/link */
	TLK_OP_COUNT
};

struct tlk_facts {
	enum tlk_op op;
	bool tag_protected; /* policy: the tag (or, for MOVE_AWAY/REMOVE_DIR and
			       REVISION_REMOVE, some tag below) is protected */
	bool protect_delete;	 /* policy: removals are refused too */
	struct tlk_link current; /* current/link as it is now */
	struct tlk_link next;	 /* PUBLISH: the proposed content;
				    INDEX_*: the digest of the index entry */
	size_t new_size;	 /* TRUNCATE_LINK */
	size_t current_size;	 /* TRUNCATE_LINK: bytes in current/link now */
	bool holds_protected;	 /* MOVE_AWAY/REMOVE_DIR/REVISION_REMOVE: a
				    protected, non-empty tag is in the subtree or
				    points to the revision */
};

enum tlk_verdict_kind {
	TLK_ALLOW = 0, /* pass the operation through */
	TLK_INSPECT,   /* OPEN_LINK only: serve the handle through a shadow
			  buffer and publish with tlk_link_commit() */
	TLK_REFUSE,    /* fail, change nothing */
};

enum tlk_reason {
	TLK_R_NOT_PROTECTED = 0, /* repository or tag is mutable */
	TLK_R_NOT_TAG_STATE,	 /* operation touches no protected state */
	TLK_R_CREATE,		 /* first content of a protected tag */
	TLK_R_IDENTICAL,	 /* byte-identical rewrite */
	TLK_R_PROTECTED_OPEN,	 /* write handle on a protected link */
	TLK_R_OVERWRITE,	 /* would point an existing tag elsewhere */
	TLK_R_MALFORMED,	 /* new content is not "sha256:<64 hex>" */
	TLK_R_REMOVE,		 /* would remove a protected tag */
	TLK_R_INDEX_OTHER,	 /* index entry for another digest */
	TLK_R_REVISION_IN_USE,	 /* manifest a protected tag points to */
	TLK_R_MOVE,		 /* rename of protected tag state */
	TLK_R_LINK_ALIAS,	 /* hard link or symlink on a protected link */
	TLK_R_COUNT
};

struct tlk_verdict {
	enum tlk_verdict_kind kind;
	enum tlk_reason reason;
};

struct tlk_verdict tlk_decide(const struct tlk_facts *facts);

/* 0 for ALLOW/INSPECT, EPERM for refusals, EINVAL for MALFORMED. */
int tlk_verdict_errno(struct tlk_verdict verdict);

/* One sentence for the log, e.g. "The requested tag already exists and
 * cannot be overwritten." Never NULL. */
const char *tlk_reason_text(enum tlk_reason reason);

/* Short stable token for audit records and tests ("overwrite", ...). */
const char *tlk_reason_name(enum tlk_reason reason);
const char *tlk_op_name(enum tlk_op op);

#endif

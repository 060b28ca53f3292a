/* SPDX-License-Identifier: MIT */
/*
 * test_decide.c - every verdict the daemon acts on: one table row per
 * situation a registry (or an operator) can create, named after the rule
 * it checks. Nodes come from real registry paths through tlk_layout_path,
 * so their kinds and in_tree are what the daemon would see.
 *
 * Rule numbers are decide.c's: 1 registry shapes, 2 aliases (made behind
 * the daemon's back), 3 path-determined links, 4 tag links judged when
 * published, 5 fail closed. "contract N" is the numbered list of what
 * immutability means for a protected tag (create, identical rewrite, no
 * change, no stray index entry, revision in use).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "taglockfs/decide.h"

#define HA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HB "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define DA "sha256:" HA
#define DB "sha256:" HB
/* DA with its last byte changed */
#define DAX                                                                    \
	"sha256:"                                                              \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee"
#define DAUP                                                                   \
	"sha256:"                                                              \
	"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
/* 71 bytes of junk: the part of a longer junk link a shadow holds */
#define J10 "jjjjjjjjjj"
#define J71 J10 J10 J10 J10 J10 J10 J10 "j"
#define SENTENCE "The requested tag already exists and cannot be overwritten."

/* Real positions in the registry's tree. */
#define V2 "docker/registry/v2/"
#define REPO V2 "repositories/team/app/"
#define TAGD REPO "_manifests/tags/v1/"
#define CUR_LINK TAGD "current/link"
#define CUR_TMP TAGD "current/link.0f8e2c3a.tmp"
#define IDX_DIG_A TAGD "index/sha256/" HA
#define IDX_DIG_B TAGD "index/sha256/" HB
#define IDX_LINK_A IDX_DIG_A "/link"
#define IDX_LINK_B IDX_DIG_B "/link"
#define REV_LINK_A REPO "_manifests/revisions/sha256/" HA "/link"
#define LAYER_LINK_A REPO "_layers/sha256/" HA "/link"
#define UPLOAD REPO "_uploads/5f2d/data"
#define BLOB_A V2 "blobs/sha256/01/" HA "/data"
#define OUT "scratch/file"
#define OUT2 "scratch/other"

/* Link contents (struct tlk_link) used in the table; ABS is zero. */
enum lk { ABS = 0, EMP, LA, LB, MAL };

struct row {
	const char *rule;
	const char *node;   /* path of facts.node */
	const char *dst;    /* path of facts.dst, NULL: none */
	struct tlk_facts f; /* the rest of the facts; nodes, links, view and
			       base are filled in from the fields below */
	enum lk cur, tag_cur, next;
	const char *view; /* NULL: empty */
	size_t view_len;  /* 0: strlen(view); more: the rest is not held */
	const char *base; /* NULL: empty */
	size_t base_len;  /* 0: strlen(base); more: the rest is not held */
	enum tlk_verdict_kind kind;
	enum tlk_reason reason;
	int err; /* tlk_verdict_errno */
};

#define ALLOW(r) .kind = TLK_ALLOW, .reason = (r)
#define INSPECT .kind = TLK_INSPECT, .reason = TLK_R_GUARDED
#define PUBLISH(r) .kind = TLK_PUBLISH, .reason = (r)
#define REFUSE(r, e) .kind = TLK_REFUSE, .reason = (r), .err = (e)

/* Facts shorthands. */
#define OP(o) .op = TLK_OP_##o
#define IMM .repo_immutable = true
#define PROT .tag_protected = true, .repo_immutable = true
#define PDEL .protect_delete = true
#define REG .type = TLK_FT_REG
#define CLOSING .closing = true

/* clang-format off */
static const struct row rows[] = {
	/* Rule 5: facts that could not be established refuse, with their
	 * errno, whatever the operation and whatever the facts say. */
	{"rule 5: create, facts failed with EMFILE", CUR_LINK, NULL,
	 {OP(CREATE), .error = EMFILE}, REFUSE(TLK_R_UNDECIDABLE, EMFILE)},
	{"rule 5: open for writing, EACCES", REV_LINK_A, NULL,
	 {OP(OPEN_WRITE), REG, .error = EACCES},
	 REFUSE(TLK_R_UNDECIDABLE, EACCES)},
	{"rule 5: identical write, but EIO while gathering", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT, .error = EIO}, .view = DA, .base = DA,
	 REFUSE(TLK_R_UNDECIDABLE, EIO)},
	{"rule 5: publish of a new tag, EIO", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), PROT, .error = EIO}, .next = LA,
	 REFUSE(TLK_R_UNDECIDABLE, EIO)},
	{"rule 5: truncate to the same size, ENOMEM", CUR_LINK, NULL,
	 {OP(TRUNCATE), PROT, .error = ENOMEM, .new_size = 71,
	  .current_size = 71}, .cur = LA, REFUSE(TLK_R_UNDECIDABLE, ENOMEM)},
	{"rule 5: remove of an upload, EMFILE", UPLOAD, NULL,
	 {OP(REMOVE), REG, .error = EMFILE}, REFUSE(TLK_R_UNDECIDABLE, EMFILE)},
	{"rule 5: mkdir outside the tree, EACCES", OUT, NULL,
	 {OP(MKDIR), .error = EACCES}, REFUSE(TLK_R_UNDECIDABLE, EACCES)},
	{"rule 5: symlink outside the tree, EIO", OUT, NULL,
	 {OP(SYMLINK), .error = EIO}, REFUSE(TLK_R_UNDECIDABLE, EIO)},
	{"rule 5: hard link outside the tree, ENFILE", OUT, OUT2,
	 {OP(HARDLINK), .error = ENFILE}, REFUSE(TLK_R_UNDECIDABLE, ENFILE)},
	{"rule 5: rename outside the tree, EACCES", OUT, OUT2,
	 {OP(RENAME), REG, .error = EACCES},
	 REFUSE(TLK_R_UNDECIDABLE, EACCES)},
	{"rule 5: readlink, EIO", CUR_LINK, NULL, {OP(FOLLOW), .error = EIO},
	 REFUSE(TLK_R_UNDECIDABLE, EIO)},

	/* CREATE: every new link file is served through a guarded handle */
	{"rule 4: create current/link of a protected tag", CUR_LINK, NULL,
	 {OP(CREATE), PROT}, INSPECT},
	{"rule 4: create current/link of a mutable tag", CUR_LINK, NULL,
	 {OP(CREATE)}, INSPECT},
	{"rule 3: create a revision link", REV_LINK_A, NULL, {OP(CREATE)},
	 INSPECT},
	{"rule 3: create a layer link", LAYER_LINK_A, NULL, {OP(CREATE)},
	 INSPECT},
	{"contract 4: create index link of the digest the tag points to",
	 IDX_LINK_A, NULL, {OP(CREATE), PROT}, .tag_cur = LA, INSPECT},
	{"contract 4: create index link of a protected tag pointing elsewhere",
	 IDX_LINK_B, NULL, {OP(CREATE), PROT}, .tag_cur = LA,
	 REFUSE(TLK_R_INDEX_OTHER, EPERM)},
	{"contract 4: index link when the protected tag holds junk",
	 IDX_LINK_B, NULL, {OP(CREATE), PROT}, .tag_cur = MAL,
	 REFUSE(TLK_R_INDEX_OTHER, EPERM)},
	{"contract 4: index link of a protected tag not created yet",
	 IDX_LINK_B, NULL, {OP(CREATE), PROT}, .tag_cur = ABS, INSPECT},
	{"contract 4: index link of a protected tag with an empty link",
	 IDX_LINK_B, NULL, {OP(CREATE), PROT}, .tag_cur = EMP, INSPECT},
	{"contract 4: index link of a mutable tag pointing elsewhere",
	 IDX_LINK_B, NULL, {OP(CREATE), IMM}, .tag_cur = LA, INSPECT},
	{"rule 4: create the 3.1 temp file of current/link", CUR_TMP, NULL,
	 {OP(CREATE), PROT}, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"create an upload file", UPLOAD, NULL, {OP(CREATE), IMM},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 9: create blob data: published when whole", BLOB_A, NULL,
	 {OP(CREATE)}, INSPECT},
	{"rule 9: rewrite a manifest-sized blob: inspected", BLOB_A, NULL,
	 {OP(OPEN_WRITE), REG, .size = 4u << 20}, INSPECT},
	{"rule 9: open a layer-sized blob for writing", BLOB_A, NULL,
	 {OP(OPEN_WRITE), REG, .size = (4u << 20) + 1},
	 REFUSE(TLK_R_WRITE_ONCE, EPERM)},
	{"rule 9: O_TRUNC open of a blob with content", BLOB_A, NULL,
	 {OP(OPEN_WRITE), REG, .size = 10, .truncating = true},
	 REFUSE(TLK_R_WRITE_ONCE, EPERM)},
	{"rule 9: O_TRUNC open of an empty leftover blob: inspected", BLOB_A,
	 NULL, {OP(OPEN_WRITE), REG, .size = 0, .truncating = true}, INSPECT},
	{"rule 2: open a multi-linked blob for writing", BLOB_A, NULL,
	 {OP(OPEN_WRITE), REG, .size = 10, .multi_linked = true},
	 REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 9: truncate a blob to its own size", BLOB_A, NULL,
	 {OP(TRUNCATE), .new_size = 10, .current_size = 10},
	 ALLOW(TLK_R_IDENTICAL)},
	{"rule 9: truncate a blob", BLOB_A, NULL,
	 {OP(TRUNCATE), .new_size = 0, .current_size = 10},
	 REFUSE(TLK_R_WRITE_ONCE, EPERM)},
	{"rule 9: publish a new blob whose digest matches", BLOB_A, NULL,
	 {OP(PUBLISH_BLOB), .digest_check = TLK_DIGEST_MATCH},
	 ALLOW(TLK_R_CREATE)},
	{"rule 9: publish a new large blob, not hashed", BLOB_A, NULL,
	 {OP(PUBLISH_BLOB), .size = 5u << 20}, ALLOW(TLK_R_CREATE)},
	{"rule 9: publish a new blob whose digest does not match", BLOB_A,
	 NULL, {OP(PUBLISH_BLOB), .digest_check = TLK_DIGEST_MISMATCH},
	 REFUSE(TLK_R_DIGEST_MISMATCH, EPERM)},
	{"rule 9: identical bytes onto an existing blob", BLOB_A, NULL,
	 {OP(PUBLISH_BLOB), .has_content = true,
	  .digest_check = TLK_DIGEST_MATCH}, ALLOW(TLK_R_IDENTICAL)},
	{"rule 9: other bytes onto an existing blob", BLOB_A, NULL,
	 {OP(PUBLISH_BLOB), .has_content = true,
	  .digest_check = TLK_DIGEST_MISMATCH},
	 REFUSE(TLK_R_WRITE_ONCE, EPERM)},
	{"rule 9: unchecked bytes onto an existing blob", BLOB_A, NULL,
	 {OP(PUBLISH_BLOB), .has_content = true},
	 REFUSE(TLK_R_WRITE_ONCE, EPERM)},
	{"rule 9: delete a blob a protected tag needs", BLOB_A, NULL,
	 {OP(REMOVE), REG, .in_use = true}, REFUSE(TLK_R_BLOB_IN_USE, EPERM)},
	{"rule 9: delete a blob nothing protected needs", BLOB_A, NULL,
	 {OP(REMOVE), REG}, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 9: remove the layer link of a protected tag's layer",
	 LAYER_LINK_A, NULL, {OP(REMOVE), REG, IMM, .in_use = true},
	 REFUSE(TLK_R_BLOB_IN_USE, EPERM)},
	{"rule 9: move away the layer link of a protected tag's layer",
	 LAYER_LINK_A, UPLOAD, {OP(RENAME), REG, .in_use = true},
	 REFUSE(TLK_R_MOVE, EPERM)},
	{"rule 9: remove a layer link nothing protected needs", LAYER_LINK_A,
	 NULL, {OP(REMOVE), REG, IMM}, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 9: move away a blob a protected tag needs", BLOB_A, UPLOAD,
	 {OP(RENAME), REG, .in_use = true}, REFUSE(TLK_R_MOVE, EPERM)},
	{"create outside the tree", OUT, NULL, {OP(CREATE)},
	 ALLOW(TLK_R_NOT_TAG_STATE)},

	/* OPEN_WRITE */
	{"rule 4: open current/link for writing", CUR_LINK, NULL,
	 {OP(OPEN_WRITE), PROT, REG}, INSPECT},
	{"rule 4: open current/link of a mutable tag", CUR_LINK, NULL,
	 {OP(OPEN_WRITE), REG}, INSPECT},
	{"rule 3: open an index link for writing", IDX_LINK_A, NULL,
	 {OP(OPEN_WRITE), PROT, REG}, INSPECT},
	{"rule 3: open a revision link for writing", REV_LINK_A, NULL,
	 {OP(OPEN_WRITE), IMM, REG}, INSPECT},
	{"rule 3: open a layer link for writing", LAYER_LINK_A, NULL,
	 {OP(OPEN_WRITE), IMM, REG}, INSPECT},
	{"rule 2: open a multi-linked current/link in an immutable repo",
	 CUR_LINK, NULL, {OP(OPEN_WRITE), PROT, REG, .multi_linked = true},
	 REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: open a multi-linked revision link in an immutable repo",
	 REV_LINK_A, NULL, {OP(OPEN_WRITE), IMM, REG, .multi_linked = true},
	 REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: open a symlink at a layer link in an immutable repo",
	 LAYER_LINK_A, NULL, {OP(OPEN_WRITE), IMM, .type = TLK_FT_SYMLINK},
	 REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: a multi-linked link in a mutable repo is guarded",
	 CUR_LINK, NULL, {OP(OPEN_WRITE), REG, .multi_linked = true},
	 INSPECT},
	{"rule 2: a symlink link in a mutable repo is guarded", REV_LINK_A,
	 NULL, {OP(OPEN_WRITE), .type = TLK_FT_SYMLINK}, INSPECT},
	{"open an upload file for writing", UPLOAD, NULL,
	 {OP(OPEN_WRITE), IMM, REG}, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 2: open a multi-linked upload file (its other name may be a "
	 "link)",
	 UPLOAD, NULL, {OP(OPEN_WRITE), REG, .multi_linked = true},
	 REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: truncate a multi-linked upload file", UPLOAD, NULL,
	 {OP(TRUNCATE), REG, .multi_linked = true}, REFUSE(TLK_R_ALIAS, EPERM)},
	{"open a multi-linked file outside the tree", OUT, NULL,
	 {OP(OPEN_WRITE), REG, .multi_linked = true},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"open the temp file of current/link", CUR_TMP, NULL,
	 {OP(OPEN_WRITE), PROT, REG}, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"open outside the tree", OUT, NULL, {OP(OPEN_WRITE), REG},
	 ALLOW(TLK_R_NOT_TAG_STATE)},

	/* WRITE_LINK on a path-determined link: only its own digest */
	{"rule 3: revision link, nothing written yet", REV_LINK_A, NULL,
	 {OP(WRITE_LINK), IMM}, ALLOW(TLK_R_PENDING)},
	{"rule 3: revision link, a prefix of its own digest", REV_LINK_A,
	 NULL, {OP(WRITE_LINK), IMM}, .view = "sha256:0123",
	 ALLOW(TLK_R_PENDING)},
	{"rule 3: revision link, its own digest complete", REV_LINK_A, NULL,
	 {OP(WRITE_LINK), IMM}, .view = DA, PUBLISH(TLK_R_CREATE)},
	{"rule 3: revision link rewritten with its own digest", REV_LINK_A,
	 NULL, {OP(WRITE_LINK), IMM}, .view = DA, .base = DA,
	 ALLOW(TLK_R_IDENTICAL)},
	{"rule 3: revision link holding junk repaired with its own digest",
	 REV_LINK_A, NULL, {OP(WRITE_LINK), IMM}, .view = DA, .base = DB,
	 PUBLISH(TLK_R_CREATE)},
	{"rule 3: a torn revision link (70 bytes of it) completed", REV_LINK_A,
	 NULL, {OP(WRITE_LINK), IMM}, .view = DA, .base = DA, .base_len = 70,
	 PUBLISH(TLK_R_CREATE)},
	{"rule 3: revision link written with another digest", REV_LINK_A,
	 NULL, {OP(WRITE_LINK), IMM}, .view = DB,
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: revision link, its own digest with one byte changed",
	 REV_LINK_A, NULL, {OP(WRITE_LINK), IMM}, .view = DAX, .base = DA,
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: revision link, its own digest in uppercase", REV_LINK_A,
	 NULL, {OP(WRITE_LINK), IMM}, .view = DAUP,
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: revision link, first byte off", REV_LINK_A, NULL,
	 {OP(WRITE_LINK), IMM}, .view = "t",
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: revision link, another algorithm", REV_LINK_A, NULL,
	 {OP(WRITE_LINK), IMM}, .view = "sha512:",
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: revision link, own digest and a newline (72 bytes)",
	 REV_LINK_A, NULL, {OP(WRITE_LINK), IMM}, .view = DA "\n",
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: revision link closed with a partial view", REV_LINK_A, NULL,
	 {OP(WRITE_LINK), IMM, CLOSING}, .view = "sha256:0123",
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: revision link emptied by ftruncate(0) and closed",
	 REV_LINK_A, NULL, {OP(WRITE_LINK), IMM, CLOSING}, .base = DA,
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: closing a prefix over junk of the same length", REV_LINK_A,
	 NULL, {OP(WRITE_LINK), IMM, CLOSING}, .view = "sha256:01",
	 .base = "garbage!!", REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 4: an untouched 200-byte link closed changes nothing", CUR_LINK,
	 NULL, {OP(WRITE_LINK), PROT, CLOSING}, .view = J71, .view_len = 200,
	 .base = J71, .base_len = 200, ALLOW(TLK_R_IDENTICAL)},
	{"rule 3: revision link closed with nothing written", REV_LINK_A,
	 NULL, {OP(WRITE_LINK), IMM, CLOSING}, ALLOW(TLK_R_PENDING)},
	{"rule 3: revision link closed after the identical rewrite",
	 REV_LINK_A, NULL, {OP(WRITE_LINK), IMM, CLOSING}, .view = DA,
	 .base = DA, ALLOW(TLK_R_IDENTICAL)},
	{"rule 3: own digest only, in a mutable repository too", REV_LINK_A,
	 NULL, {OP(WRITE_LINK)}, .view = DB,
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: index link written with another digest", IDX_LINK_A, NULL,
	 {OP(WRITE_LINK), PROT}, .tag_cur = LA, .view = DB,
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: index link, its own digest complete", IDX_LINK_A, NULL,
	 {OP(WRITE_LINK), PROT}, .tag_cur = LA, .view = DA,
	 PUBLISH(TLK_R_CREATE)},
	{"rule 3: layer link written with another digest", LAYER_LINK_A, NULL,
	 {OP(WRITE_LINK)}, .view = DB, REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: layer link, its own digest complete", LAYER_LINK_A, NULL,
	 {OP(WRITE_LINK)}, .view = DA, PUBLISH(TLK_R_CREATE)},
	{"rule 3: layer link, a prefix of its own digest", LAYER_LINK_A, NULL,
	 {OP(WRITE_LINK)}, .view = "sha256:01234", ALLOW(TLK_R_PENDING)},

	/* WRITE_LINK on a protected tag that points somewhere */
	{"contract 3: protected tag, prefix of its digest (2.8 pieces)",
	 CUR_LINK, NULL, {OP(WRITE_LINK), PROT}, .view = "sha256:0123",
	 .base = DA, ALLOW(TLK_R_PENDING)},
	{"contract 3: protected tag, emptied by ftruncate(0)", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .base = DA, ALLOW(TLK_R_PENDING)},
	{"contract 2: protected tag rewritten with the same digest", CUR_LINK,
	 NULL, {OP(WRITE_LINK), PROT}, .view = DA, .base = DA,
	 ALLOW(TLK_R_IDENTICAL)},
	{"contract 2: same digest, at close", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT, CLOSING}, .view = DA, .base = DA,
	 ALLOW(TLK_R_IDENTICAL)},
	{"contract 3: protected tag written with another digest", CUR_LINK,
	 NULL, {OP(WRITE_LINK), PROT}, .view = DB, .base = DA,
	 REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 3: protected tag, one byte changed", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .view = DAX, .base = DA,
	 REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 3: protected tag, a diverging prefix", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .view = "sha256:0124", .base = DA,
	 REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 3: protected tag, a newline after its digest", CUR_LINK,
	 NULL, {OP(WRITE_LINK), PROT}, .view = DA "\n", .base = DA,
	 REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 3: protected tag closed with a partial view", CUR_LINK,
	 NULL, {OP(WRITE_LINK), PROT, CLOSING}, .view = "sha256:0123",
	 .base = DA, REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 3: protected tag emptied (O_TRUNC) and closed", CUR_LINK,
	 NULL, {OP(WRITE_LINK), PROT, CLOSING}, .base = DA,
	 REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 2: junk link rewritten with the same junk", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .view = "junk", .base = "junk",
	 ALLOW(TLK_R_IDENTICAL)},
	{"contract 3: a junk link is content: a digest over it", CUR_LINK,
	 NULL, {OP(WRITE_LINK), PROT}, .view = DA, .base = "junk",
	 REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 3: a 200-byte junk link is content too", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .view = DA,
	 .base = J71,
	 .base_len = 200, REFUSE(TLK_R_OVERWRITE, EPERM)},

	/* WRITE_LINK on a protected tag with no content yet */
	{"contract 1: new protected tag, a whole digest", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .view = DA, PUBLISH(TLK_R_CREATE)},
	{"contract 1: new protected tag, a whole digest at close", CUR_LINK,
	 NULL, {OP(WRITE_LINK), PROT, CLOSING}, .view = DB,
	 PUBLISH(TLK_R_CREATE)},
	{"contract 1: new protected tag, nothing written", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, ALLOW(TLK_R_IDENTICAL)},
	{"contract 1: new protected tag closed with nothing written",
	 CUR_LINK, NULL, {OP(WRITE_LINK), PROT, CLOSING},
	 ALLOW(TLK_R_IDENTICAL)},
	{"contract 1: new protected tag, a link prefix", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .view = "sha256:01", ALLOW(TLK_R_PENDING)},
	{"contract 1: new protected tag, part of the algorithm", CUR_LINK,
	 NULL, {OP(WRITE_LINK), PROT}, .view = "sha2", ALLOW(TLK_R_PENDING)},
	{"contract 1: new protected tag, garbage", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .view = "hello",
	 REFUSE(TLK_R_MALFORMED, EINVAL)},
	{"contract 1: new protected tag, a non-hex digit", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .view = "sha256:0123g",
	 REFUSE(TLK_R_MALFORMED, EINVAL)},
	{"contract 1: new protected tag, another algorithm", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .view = "sha512:",
	 REFUSE(TLK_R_MALFORMED, EINVAL)},
	{"contract 1: new protected tag, uppercase hex", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .view = DAUP,
	 REFUSE(TLK_R_MALFORMED, EINVAL)},
	{"contract 1: new protected tag, 72 bytes", CUR_LINK, NULL,
	 {OP(WRITE_LINK), PROT}, .view = DA "\n",
	 REFUSE(TLK_R_MALFORMED, EINVAL)},
	{"contract 1: new protected tag closed with a partial view", CUR_LINK,
	 NULL, {OP(WRITE_LINK), PROT, CLOSING}, .view = "sha256:01",
	 REFUSE(TLK_R_MALFORMED, EINVAL)},

	/* WRITE_LINK on a mutable tag: published whole or at close */
	{"rule 4: mutable tag, a new digest is published", CUR_LINK, NULL,
	 {OP(WRITE_LINK), IMM}, .view = DB, .base = DA,
	 PUBLISH(TLK_R_NOT_PROTECTED)},
	{"rule 4: mutable tag, a first digest is published", CUR_LINK, NULL,
	 {OP(WRITE_LINK)}, .view = DA, PUBLISH(TLK_R_NOT_PROTECTED)},
	{"rule 4: mutable tag, the same digest", CUR_LINK, NULL,
	 {OP(WRITE_LINK), IMM}, .view = DA, .base = DA,
	 ALLOW(TLK_R_IDENTICAL)},
	{"rule 4: mutable tag, a partial digest", CUR_LINK, NULL,
	 {OP(WRITE_LINK), IMM}, .view = "sha256:fe", .base = DA,
	 ALLOW(TLK_R_PENDING)},
	{"rule 4: mutable tag, unchanged junk still open", CUR_LINK, NULL,
	 {OP(WRITE_LINK)}, .view = "junk", .base = "junk",
	 ALLOW(TLK_R_PENDING)},
	{"rule 4: mutable tag, unchanged junk at close", CUR_LINK, NULL,
	 {OP(WRITE_LINK), CLOSING}, .view = "junk", .base = "junk",
	 ALLOW(TLK_R_IDENTICAL)},
	{"rule 4: mutable tag closed with garbage: published as is",
	 CUR_LINK, NULL, {OP(WRITE_LINK), CLOSING}, .view = "hello",
	 .base = DA, PUBLISH(TLK_R_NOT_PROTECTED)},
	{"rule 4: mutable tag emptied and closed: published empty", CUR_LINK,
	 NULL, {OP(WRITE_LINK), CLOSING}, .base = DA,
	 PUBLISH(TLK_R_NOT_PROTECTED)},
	{"rule 4: mutable tag, 72 bytes never fit a link", CUR_LINK, NULL,
	 {OP(WRITE_LINK)}, .view = DA "\n", .base = DA,
	 REFUSE(TLK_R_MALFORMED, EINVAL)},
	{"rule 1: a guarded write on something that is no link", CUR_TMP,
	 NULL, {OP(WRITE_LINK), PROT}, .view = DA, REFUSE(TLK_R_SHAPE, EPERM)},

	/* PUBLISH_LINK: a tag link */
	{"rule 2: publish over a symlink at a link of an immutable repo",
	 CUR_LINK, NULL, {OP(PUBLISH_LINK), IMM, .type = TLK_FT_SYMLINK},
	 .cur = MAL, .next = LA, REFUSE(TLK_R_ALIAS, EPERM)},
	{"publish over a symlink at a mutable tag's link", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), .type = TLK_FT_SYMLINK}, .cur = MAL, .next = LA,
	 ALLOW(TLK_R_NOT_PROTECTED)},
	{"a mutable tag link longer than a link is refused", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), .next_len = 72}, .cur = LA, .next = MAL,
	 REFUSE(TLK_R_MALFORMED, EINVAL)},
	{"rule 3: a revision link longer than a link", REV_LINK_A, NULL,
	 {OP(PUBLISH_LINK), .next_len = 72}, .cur = ABS, .next = MAL,
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"contract 1: publish a new protected tag", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), PROT}, .cur = ABS, .next = LA,
	 ALLOW(TLK_R_CREATE)},
	{"contract 1: publish over an empty link", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), PROT}, .cur = EMP, .next = LA,
	 ALLOW(TLK_R_CREATE)},
	{"audit_strict: a new protected tag while the audit log is full",
	 CUR_LINK, NULL, {OP(PUBLISH_LINK), PROT, .audit_error = ENOSPC},
	 .cur = ABS, .next = LA, REFUSE(TLK_R_AUDIT_DOWN, ENOSPC)},
	{"audit_strict: over an empty link while the audit log is full",
	 CUR_LINK, NULL, {OP(PUBLISH_LINK), PROT, .audit_error = EIO},
	 .cur = EMP, .next = LA, REFUSE(TLK_R_AUDIT_DOWN, EIO)},
	{"audit_strict: an identical rewrite changes nothing: allowed",
	 CUR_LINK, NULL, {OP(PUBLISH_LINK), PROT, .audit_error = ENOSPC},
	 .cur = LA, .next = LA, ALLOW(TLK_R_IDENTICAL)},
	{"audit_strict: an overwrite stays an overwrite", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), PROT, .audit_error = ENOSPC}, .cur = LA,
	 .next = LB, REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"audit_strict: a mutable tag is not held up", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), IMM, .audit_error = ENOSPC}, .cur = ABS,
	 .next = LA, ALLOW(TLK_R_NOT_PROTECTED)},
	{"contract 2: publish the same digest", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), PROT, PDEL}, .cur = LA, .next = LA,
	 ALLOW(TLK_R_IDENTICAL)},
	{"contract 3: publish another digest", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), PROT}, .cur = LA, .next = LB,
	 REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 3: publish a digest over a junk link", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), PROT}, .cur = MAL, .next = LA,
	 REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 1: publish junk", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), PROT}, .cur = ABS, .next = MAL,
	 REFUSE(TLK_R_MALFORMED, EINVAL)},
	{"contract 1: publish nothing", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), PROT}, .cur = ABS, .next = EMP,
	 REFUSE(TLK_R_MALFORMED, EINVAL)},
	{"contract 3: publish junk over a digest", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), PROT}, .cur = LA, .next = MAL,
	 REFUSE(TLK_R_MALFORMED, EINVAL)},
	{"rule 4: publish another digest on a mutable tag", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), IMM}, .cur = LA, .next = LB,
	 ALLOW(TLK_R_NOT_PROTECTED)},
	{"rule 4: publish junk on a mutable tag", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK)}, .cur = LA, .next = MAL,
	 ALLOW(TLK_R_NOT_PROTECTED)},
	{"rule 2: publish over a multi-linked current/link", CUR_LINK, NULL,
	 {OP(PUBLISH_LINK), PROT, .multi_linked = true}, .cur = ABS,
	 .next = LA, REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: multi-linked current/link of a mutable repo", CUR_LINK,
	 NULL, {OP(PUBLISH_LINK), .multi_linked = true}, .cur = LA,
	 .next = LB, ALLOW(TLK_R_NOT_PROTECTED)},

	/* PUBLISH_LINK: a path-determined link */
	{"rule 3: publish a revision link with its own digest", REV_LINK_A,
	 NULL, {OP(PUBLISH_LINK), IMM}, .cur = ABS, .next = LA,
	 ALLOW(TLK_R_CREATE)},
	{"rule 3: republish a revision link", REV_LINK_A, NULL,
	 {OP(PUBLISH_LINK), IMM}, .cur = LA, .next = LA,
	 ALLOW(TLK_R_IDENTICAL)},
	{"rule 3: own digest over a junk layer link", LAYER_LINK_A, NULL,
	 {OP(PUBLISH_LINK), IMM}, .cur = MAL, .next = LA,
	 ALLOW(TLK_R_CREATE)},
	{"rule 3: publish a revision link with another digest", REV_LINK_A,
	 NULL, {OP(PUBLISH_LINK), IMM}, .cur = ABS, .next = LB,
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: publish junk on a layer link", LAYER_LINK_A, NULL,
	 {OP(PUBLISH_LINK)}, .cur = LA, .next = MAL,
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"contract 4: publish index link of a protected tag pointing elsewhere",
	 IDX_LINK_B, NULL, {OP(PUBLISH_LINK), PROT}, .tag_cur = LA,
	 .next = LB, REFUSE(TLK_R_INDEX_OTHER, EPERM)},
	{"contract 4: publish index link of the tag's own digest", IDX_LINK_A,
	 NULL, {OP(PUBLISH_LINK), PROT}, .tag_cur = LA, .next = LA,
	 ALLOW(TLK_R_CREATE)},
	{"contract 4: publish index link of a mutable tag", IDX_LINK_B, NULL,
	 {OP(PUBLISH_LINK), IMM}, .tag_cur = LA, .next = LB,
	 ALLOW(TLK_R_CREATE)},
	{"rule 3 before contract 4: index link with a wrong digest",
	 IDX_LINK_B, NULL, {OP(PUBLISH_LINK), PROT}, .tag_cur = LA,
	 .next = LA, REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 2: publish over a multi-linked revision link", REV_LINK_A,
	 NULL, {OP(PUBLISH_LINK), IMM, .multi_linked = true}, .next = LA,
	 REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: multi-linked revision link in a mutable repo", REV_LINK_A,
	 NULL, {OP(PUBLISH_LINK), .multi_linked = true}, .next = LA,
	 ALLOW(TLK_R_CREATE)},
	{"rule 1: publish onto something that is no link", CUR_TMP, NULL,
	 {OP(PUBLISH_LINK), PROT}, .next = LA, REFUSE(TLK_R_SHAPE, EPERM)},

	/* TRUNCATE (truncate(2), no handle) */
	{"truncate an upload file", UPLOAD, NULL,
	 {OP(TRUNCATE), IMM, .new_size = 0, .current_size = 10},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 2: truncate a protected tag to its size", CUR_LINK, NULL,
	 {OP(TRUNCATE), PROT, .new_size = 71, .current_size = 71},
	 .cur = LA, ALLOW(TLK_R_IDENTICAL)},
	{"contract 3: truncate a protected tag to zero", CUR_LINK, NULL,
	 {OP(TRUNCATE), PROT, .new_size = 0, .current_size = 71}, .cur = LA,
	 REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 3: grow a protected tag", CUR_LINK, NULL,
	 {OP(TRUNCATE), PROT, .new_size = 72, .current_size = 71},
	 .cur = LA, REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 3: truncate a junk protected tag", CUR_LINK, NULL,
	 {OP(TRUNCATE), PROT, .new_size = 0, .current_size = 5}, .cur = MAL,
	 REFUSE(TLK_R_OVERWRITE, EPERM)},
	{"contract 1: growing an empty link makes zeros, never a digest",
	 CUR_LINK, NULL,
	 {OP(TRUNCATE), PROT, .new_size = 71, .current_size = 0}, .cur = EMP,
	 REFUSE(TLK_R_MALFORMED, EINVAL)},
	{"contract 1: truncate an empty protected tag to zero", CUR_LINK,
	 NULL, {OP(TRUNCATE), PROT, .new_size = 0, .current_size = 0},
	 .cur = EMP, ALLOW(TLK_R_IDENTICAL)},
	{"rule 4: truncate a mutable tag", CUR_LINK, NULL,
	 {OP(TRUNCATE), IMM, .new_size = 0, .current_size = 71}, .cur = LA,
	 ALLOW(TLK_R_NOT_PROTECTED)},
	{"rule 3: truncate a revision link", REV_LINK_A, NULL,
	 {OP(TRUNCATE), .new_size = 0, .current_size = 71}, .cur = LA,
	 REFUSE(TLK_R_WRONG_DIGEST, EPERM)},
	{"rule 3: truncate a layer link to its size", LAYER_LINK_A, NULL,
	 {OP(TRUNCATE), .new_size = 71, .current_size = 71}, .cur = LA,
	 ALLOW(TLK_R_IDENTICAL)},
	{"rule 2: truncate a multi-linked current/link", CUR_LINK, NULL,
	 {OP(TRUNCATE), PROT, .multi_linked = true, .new_size = 71,
	  .current_size = 71}, .cur = LA, REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: truncate a multi-linked link of a mutable repo", CUR_LINK,
	 NULL, {OP(TRUNCATE), .multi_linked = true, .new_size = 0,
	  .current_size = 71}, .cur = LA, ALLOW(TLK_R_NOT_PROTECTED)},

	/* REMOVE */
	{"contract 3: remove a protected tag (protect_delete)", CUR_LINK, NULL,
	 {OP(REMOVE), PROT, PDEL, REG}, .cur = LA,
	 REFUSE(TLK_R_REMOVE, EPERM)},
	{"contract 3: remove a protected junk link (protect_delete)",
	 CUR_LINK, NULL, {OP(REMOVE), PROT, PDEL, REG}, .cur = MAL,
	 REFUSE(TLK_R_REMOVE, EPERM)},
	{"contract 3: without protect_delete a protected tag may go",
	 CUR_LINK, NULL, {OP(REMOVE), PROT, REG}, .cur = LA,
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 1: an empty protected link may go", CUR_LINK, NULL,
	 {OP(REMOVE), PROT, PDEL, REG}, .cur = EMP,
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 4: remove a mutable tag", CUR_LINK, NULL,
	 {OP(REMOVE), IMM, PDEL, REG}, .cur = LA, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 3: remove the index entry of the current digest",
	 IDX_LINK_A, NULL, {OP(REMOVE), PROT, PDEL, REG}, .tag_cur = LA,
	 REFUSE(TLK_R_REMOVE, EPERM)},
	{"contract 3: the current index entry without protect_delete",
	 IDX_LINK_A, NULL, {OP(REMOVE), PROT, REG}, .tag_cur = LA,
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 3: remove the index entry of an older digest", IDX_LINK_B,
	 NULL, {OP(REMOVE), PROT, PDEL, REG}, .tag_cur = LA,
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 3: index entry of a mutable tag", IDX_LINK_A, NULL,
	 {OP(REMOVE), IMM, PDEL, REG}, .tag_cur = LA,
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 5: remove a revision a protected tag points to",
	 REV_LINK_A, NULL, {OP(REMOVE), IMM, PDEL, REG, .in_use = true},
	 REFUSE(TLK_R_REVISION_IN_USE, EPERM)},
	{"contract 5: a revision in use without protect_delete", REV_LINK_A,
	 NULL, {OP(REMOVE), IMM, REG, .in_use = true},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 5: a revision no protected tag points to", REV_LINK_A,
	 NULL, {OP(REMOVE), IMM, PDEL, REG}, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 2: remove a symlink at current/link of an immutable repo",
	 CUR_LINK, NULL, {OP(REMOVE), IMM, .type = TLK_FT_SYMLINK},
	 REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: remove a multi-linked revision link", REV_LINK_A, NULL,
	 {OP(REMOVE), IMM, REG, .multi_linked = true},
	 REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: remove a symlink standing for _manifests", REPO "_manifests",
	 NULL, {OP(REMOVE), IMM, .type = TLK_FT_SYMLINK},
	 REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: a symlink at current/link of a mutable repo may go",
	 CUR_LINK, NULL, {OP(REMOVE), PDEL, .type = TLK_FT_SYMLINK},
	 .cur = LA, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 2: a multi-linked link of a mutable repo may go", REV_LINK_A,
	 NULL, {OP(REMOVE), REG, .multi_linked = true},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 2: a multi-linked upload file may go", UPLOAD, NULL,
	 {OP(REMOVE), IMM, REG, .multi_linked = true},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"remove blob data", BLOB_A, NULL, {OP(REMOVE), REG, PDEL},
	 ALLOW(TLK_R_NOT_TAG_STATE)},

	/* MKDIR */
	{"rule 1: a directory at current/link", CUR_LINK, NULL, {OP(MKDIR)},
	 REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a directory at a revision link", REV_LINK_A, NULL,
	 {OP(MKDIR)}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a directory at a layer link", LAYER_LINK_A, NULL,
	 {OP(MKDIR)}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a directory at blob data", BLOB_A, NULL, {OP(MKDIR)},
	 REFUSE(TLK_R_SHAPE, EPERM)},
	{"contract 4: index dir for another digest of a protected tag",
	 IDX_DIG_B, NULL, {OP(MKDIR), PROT}, .tag_cur = LA,
	 REFUSE(TLK_R_INDEX_OTHER, EPERM)},
	{"contract 4: index dir for the tag's own digest", IDX_DIG_A, NULL,
	 {OP(MKDIR), PROT}, .tag_cur = LA, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 4: index dir of a protected tag not created yet",
	 IDX_DIG_B, NULL, {OP(MKDIR), PROT}, .tag_cur = ABS,
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 4: index dir for another digest of a mutable tag",
	 IDX_DIG_B, NULL, {OP(MKDIR), IMM}, .tag_cur = LA,
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"mkdir a new tag directory", TAGD, NULL, {OP(MKDIR), PROT},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"mkdir an upload directory", REPO "_uploads/5f2d", NULL, {OP(MKDIR)},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"mkdir outside the tree", OUT, NULL, {OP(MKDIR)},
	 ALLOW(TLK_R_NOT_TAG_STATE)},

	/* CREATE of 3.1's temporary file in an index entry */
	{"contract 4: an index temp file for another digest", IDX_DIG_B
	 "/link.5e1d.tmp", NULL, {OP(CREATE), PROT}, .tag_cur = LA,
	 REFUSE(TLK_R_INDEX_OTHER, EPERM)},
	{"contract 4: an index temp file for the tag's digest", IDX_DIG_A
	 "/link.5e1d.tmp", NULL, {OP(CREATE), PROT}, .tag_cur = LA,
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 4: an index temp file while the tag is empty", IDX_DIG_B
	 "/link.5e1d.tmp", NULL, {OP(CREATE), PROT}, .tag_cur = ABS,
	 ALLOW(TLK_R_NOT_TAG_STATE)},

	/* SWEEP_INDEX: after the first publish of a protected tag (DA), the
	 * index entries of first pushes that lost. */
	{"contract 4: a lost first push's index entry is swept", IDX_LINK_B,
	 NULL, {OP(SWEEP_INDEX), PROT, REG}, .tag_cur = LA,
	 ALLOW(TLK_R_LOST_RACE)},
	{"contract 4: a lost entry without its link yet is swept", IDX_LINK_B,
	 NULL, {OP(SWEEP_INDEX), PROT}, .tag_cur = LA,
	 ALLOW(TLK_R_LOST_RACE)},
	{"contract 4: the published digest's entry is never swept",
	 IDX_LINK_A, NULL, {OP(SWEEP_INDEX), PROT, REG}, .tag_cur = LA,
	 REFUSE(TLK_R_REMOVE, EPERM)},
	{"contract 4: nothing is swept while the tag is empty", IDX_LINK_B,
	 NULL, {OP(SWEEP_INDEX), PROT, REG}, .tag_cur = EMP,
	 REFUSE(TLK_R_REMOVE, EPERM)},
	{"contract 4: a mutable tag's index is history, never swept",
	 IDX_LINK_B, NULL, {OP(SWEEP_INDEX), IMM, REG}, .tag_cur = LA,
	 REFUSE(TLK_R_REMOVE, EPERM)},
	{"contract 4: only index entries are swept", REV_LINK_A, NULL,
	 {OP(SWEEP_INDEX), PROT, REG}, .tag_cur = LB,
	 REFUSE(TLK_R_REMOVE, EPERM)},
	{"rule 2: a symlinked lost entry is not swept", IDX_LINK_B, NULL,
	 {OP(SWEEP_INDEX), PROT, .type = TLK_FT_SYMLINK}, .tag_cur = LA,
	 REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: a multi-linked lost entry is not swept", IDX_LINK_B, NULL,
	 {OP(SWEEP_INDEX), PROT, REG, .multi_linked = true}, .tag_cur = LA,
	 REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 5: a sweep whose facts failed", IDX_LINK_B, NULL,
	 {OP(SWEEP_INDEX), PROT, REG, .error = EIO}, .tag_cur = LA,
	 REFUSE(TLK_R_UNDECIDABLE, EIO)},

	/* MKNOD: judged as a symlink, reported as itself */
	{"rule 1: a fifo at current/link", CUR_LINK, NULL, {OP(MKNOD)},
	 REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a device among uploads", REPO "_uploads/5f2d/x", NULL,
	 {OP(MKNOD)}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a fifo outside the tree", OUT, NULL, {OP(MKNOD)},
	 ALLOW(TLK_R_NOT_TAG_STATE)},

	/* SYMLINK, HARDLINK */
	{"rule 1: a symlink at current/link", CUR_LINK, NULL, {OP(SYMLINK)},
	 REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a symlink among uploads", REPO "_uploads/5f2d/x", NULL,
	 {OP(SYMLINK)}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a symlink named docker at the root", "docker", NULL,
	 {OP(SYMLINK)}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a symlink outside the tree", OUT, NULL, {OP(SYMLINK)},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 1: hard link of a link file out of the tree", CUR_LINK, OUT,
	 {OP(HARDLINK)}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: hard link of blob data to an upload", BLOB_A, UPLOAD,
	 {OP(HARDLINK)}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: hard link with only the destination in the tree", OUT,
	 CUR_LINK, {OP(HARDLINK)}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: hard link outside the tree", OUT, OUT2, {OP(HARDLINK)},
	 ALLOW(TLK_R_NOT_TAG_STATE)},

	/* RENAME */
	{"rule 1: rename a tag directory out of the tree", TAGD, OUT,
	 {OP(RENAME), PROT, .type = TLK_FT_DIR}, REFUSE(TLK_R_MOVE, EPERM)},
	{"rule 1: rename a directory into the tree", OUT,
	 REPO "_manifests/tags/v2", {OP(RENAME), .type = TLK_FT_DIR},
	 REFUSE(TLK_R_MOVE, EPERM)},
	{"rule 1: rename a directory within a mutable repository",
	 REPO "_uploads/5f2d", REPO "_uploads/6a3e",
	 {OP(RENAME), .type = TLK_FT_DIR}, REFUSE(TLK_R_MOVE, EPERM)},
	{"rule 1: rename a directory outside the tree", OUT, OUT2,
	 {OP(RENAME), .type = TLK_FT_DIR}, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 1: exchange in the tree", UPLOAD, CUR_LINK,
	 {OP(RENAME), REG, .dst_type = TLK_FT_REG, .exchange = true},
	 REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: exchange with only the source in the tree", UPLOAD, OUT,
	 {OP(RENAME), REG, .exchange = true}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: exchange outside the tree", OUT, OUT2,
	 {OP(RENAME), REG, .exchange = true}, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 1: a symlink renamed into the tree", OUT, CUR_LINK,
	 {OP(RENAME), .type = TLK_FT_SYMLINK}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a fifo renamed into the tree", OUT, UPLOAD,
	 {OP(RENAME), .type = TLK_FT_SPECIAL}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a multi-linked file renamed into the tree", OUT, REV_LINK_A,
	 {OP(RENAME), REG, .multi_linked = true}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a file renamed onto a tag directory name", UPLOAD, TAGD,
	 {OP(RENAME), REG}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a file renamed onto _manifests", OUT, REPO "_manifests",
	 {OP(RENAME), REG}, REFUSE(TLK_R_SHAPE, EPERM)},
	{"rule 1: a symlink renamed out of the tree", CUR_TMP, OUT,
	 {OP(RENAME), PROT, .type = TLK_FT_SYMLINK},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 3: move a protected current/link away", CUR_LINK, OUT,
	 {OP(RENAME), REG, IMM, .src_tag_protected = true}, .cur = LA,
	 REFUSE(TLK_R_MOVE, EPERM)},
	{"contract 3: move a protected tag away, even without protect_delete",
	 CUR_LINK, CUR_TMP, {OP(RENAME), REG, IMM, .src_tag_protected = true},
	 .cur = LA, REFUSE(TLK_R_MOVE, EPERM)},
	{"contract 3: move an empty protected link away", CUR_LINK, OUT,
	 {OP(RENAME), REG, IMM, .src_tag_protected = true}, .cur = EMP,
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 3: the source's protection decides a move, not dst's", CUR_LINK, OUT,
	 {OP(RENAME), REG, IMM, .tag_protected = true}, .cur = LA,
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"contract 3: move the current index entry away", IDX_LINK_A, OUT,
	 {OP(RENAME), REG, IMM, .src_tag_protected = true}, .tag_cur = LA,
	 REFUSE(TLK_R_MOVE, EPERM)},
	{"contract 5: move a revision link in use away", REV_LINK_A, OUT,
	 {OP(RENAME), REG, IMM, .in_use = true}, REFUSE(TLK_R_MOVE, EPERM)},
	{"contract 5: move a revision link nobody uses", REV_LINK_A, OUT,
	 {OP(RENAME), REG, IMM}, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 2: move a symlink at current/link away", CUR_LINK, OUT,
	 {OP(RENAME), IMM, .type = TLK_FT_SYMLINK}, REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 4: the 3.1 temp file renamed onto current/link", CUR_TMP,
	 CUR_LINK, {OP(RENAME), REG, PROT, .dst_repo_immutable = true,
	  .dst_type = TLK_FT_REG}, INSPECT},
	{"rule 4: a file from outside renamed onto current/link", OUT,
	 CUR_LINK, {OP(RENAME), REG, .dst_repo_immutable = true}, INSPECT},
	{"rule 3: an upload renamed onto a revision link", UPLOAD, REV_LINK_A,
	 {OP(RENAME), REG, .dst_repo_immutable = true}, INSPECT},
	{"rule 3: a temp file renamed onto a layer link",
	 REPO "_layers/sha256/" HA "/link.9.tmp", LAYER_LINK_A,
	 {OP(RENAME), REG}, INSPECT},
	{"rule 2: rename onto a multi-linked current/link", CUR_TMP, CUR_LINK,
	 {OP(RENAME), REG, .dst_repo_immutable = true, .dst_type = TLK_FT_REG,
	  .dst_multi_linked = true}, REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: rename onto a symlink at a revision link", UPLOAD,
	 REV_LINK_A, {OP(RENAME), REG, .dst_repo_immutable = true,
	  .dst_type = TLK_FT_SYMLINK}, REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: onto a multi-linked link of a mutable repo", CUR_TMP,
	 CUR_LINK, {OP(RENAME), REG, .dst_type = TLK_FT_REG,
	  .dst_multi_linked = true}, INSPECT},
	{"rule 9: an upload renamed onto blob data: judged", UPLOAD, BLOB_A,
	 {OP(RENAME), REG, IMM}, INSPECT},
	{"a file renamed into uploads", OUT, UPLOAD, {OP(RENAME), REG},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"a file renamed outside the tree", OUT, OUT2, {OP(RENAME), REG},
	 ALLOW(TLK_R_NOT_TAG_STATE)},
	{"a symlink renamed outside the tree", OUT, OUT2,
	 {OP(RENAME), .type = TLK_FT_SYMLINK, .multi_linked = true},
	 ALLOW(TLK_R_NOT_TAG_STATE)},

	/* WRITE_RAW */
	{"rule 6: a raw handle on a file renamed onto a link", CUR_LINK, NULL,
	 {OP(WRITE_RAW), .sealed = true}, REFUSE(TLK_R_SEALED, EPERM)},
	{"rule 6: a raw handle that was never sealed", UPLOAD, NULL,
	 {OP(WRITE_RAW)}, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"rule 6: a file held by passthrough writers cannot become a link",
	 CUR_TMP, CUR_LINK, {OP(RENAME), REG, .held_hidden = true},
	 REFUSE(TLK_R_HELD, EPERM)},
	{"rule 9: a file held by passthrough writers cannot become a blob",
	 UPLOAD, BLOB_A, {OP(RENAME), REG, .held_hidden = true},
	 REFUSE(TLK_R_HELD, EPERM)},
	{"rule 6: passthrough writers do not matter elsewhere", UPLOAD, OUT,
	 {OP(RENAME), REG, .held_hidden = true}, ALLOW(TLK_R_NOT_TAG_STATE)},
	/* FOLLOW */
	{"rule 2: a symlink at current/link of an immutable repo", CUR_LINK,
	 NULL, {OP(FOLLOW), IMM}, REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: a symlink at a layer link of an immutable repo",
	 LAYER_LINK_A, NULL, {OP(FOLLOW), IMM}, REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: a symlink standing for _manifests", REPO "_manifests", NULL,
	 {OP(FOLLOW), IMM}, REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: a symlink at current/link of a mutable repo is not followed "
	 "either",
	 CUR_LINK, NULL, {OP(FOLLOW)}, REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: a symlink standing for repositories/", V2 "repositories",
	 NULL, {OP(FOLLOW)}, REFUSE(TLK_R_ALIAS, EPERM)},
	{"rule 2: a symlink among uploads of an immutable repo", UPLOAD, NULL,
	 {OP(FOLLOW), IMM}, ALLOW(TLK_R_NOT_TAG_STATE)},
	{"a symlink outside the tree", OUT, NULL, {OP(FOLLOW), IMM},
	 ALLOW(TLK_R_NOT_TAG_STATE)},

	/* an operation the table does not know */
	{"fail closed: an unknown operation", OUT, NULL,
	 {.op = TLK_OP_COUNT}, REFUSE(TLK_R_SHAPE, EPERM)},
};
/* clang-format on */

static void set_link(struct tlk_link *l, enum lk which)
{
	switch (which) {
	case EMP:
		tlk_link_parse("", 0, l);
		break;
	case LA:
		tlk_link_parse(DA, strlen(DA), l);
		break;
	case LB:
		tlk_link_parse(DB, strlen(DB), l);
		break;
	case MAL:
		tlk_link_parse(DA "\n", strlen(DA) + 1, l);
		break;
	case ABS:
	default:
		tlk_link_absent(l);
		break;
	}
}

static void facts_of(const struct row *r, struct tlk_facts *f)
{
	*f = r->f;
	tlk_layout_path(r->node, &f->node);
	if (r->dst)
		tlk_layout_path(r->dst, &f->dst);
	set_link(&f->current, r->cur);
	set_link(&f->tag_current, r->tag_cur);
	set_link(&f->next, r->next);
	f->view = r->view ? r->view : "";
	f->view_len = r->view_len ? r->view_len : strlen(f->view);
	f->base = r->base ? r->base : "";
	f->base_len = r->base_len ? r->base_len : strlen(f->base);
}

static const char *kind_name(enum tlk_verdict_kind kind)
{
	static const char *const names[] = {"allow", "inspect", "publish",
					    "refuse"};

	return (unsigned)kind < 4 ? names[kind] : "?";
}

static void test_decide_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct tlk_facts f;
		struct tlk_verdict v;

		facts_of(r, &f);
		v = tlk_decide(&f);
		if (v.kind == r->kind && v.reason == r->reason &&
		    tlk_verdict_errno(v) == r->err &&
		    (v.kind != TLK_REFUSE || v.error == r->err))
			continue;
		print_error("row %zu \"%s\" (%s of %s): want %s/%s/%d, got "
			    "%s/%s/%d\n",
			    i, r->rule, tlk_op_name(f.op),
			    tlk_layout_kind_name(f.node.kind),
			    kind_name(r->kind), tlk_reason_name(r->reason),
			    r->err, kind_name(v.kind),
			    tlk_reason_name(v.reason), tlk_verdict_errno(v));
		bad++;
	}
	assert_int_equal(bad, 0);
}

/* The table asks every operation and expects every reason at least once,
 * and each row's name is unique, so a failure points at one rule. */
static void test_table_covers_everything(void **state)
{
	bool op_seen[TLK_OP_COUNT] = {false};
	bool reason_seen[TLK_R_COUNT] = {false};
	const size_t n = sizeof(rows) / sizeof(rows[0]);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned)rows[i].f.op < TLK_OP_COUNT)
			op_seen[rows[i].f.op] = true;
		reason_seen[rows[i].reason] = true;
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(rows[i].rule, rows[j].rule);
	}
	for (int op = 0; op < TLK_OP_COUNT; op++)
		if (!op_seen[op]) {
			print_error("no row for %s\n",
				    tlk_op_name((enum tlk_op)op));
			fail();
		}
	for (int r = 0; r < TLK_R_COUNT; r++)
		if (!reason_seen[r]) {
			print_error("no row expects %s\n",
				    tlk_reason_name((enum tlk_reason)r));
			fail();
		}
}

struct path_kind {
	const char *path;
	enum tlk_kind kind;
	bool in_tree;
};

/* The positions the table uses are what their names say. */
static void test_table_positions(void **state)
{
	/* clang-format off */
	static const struct path_kind cases[] = {
		{CUR_LINK, TLK_CURRENT_LINK, true},
		{CUR_TMP, TLK_CURRENT_TMP, true},
		{IDX_DIG_A, TLK_TAG_INDEX_DIG, true},
		{IDX_LINK_A, TLK_TAG_INDEX_LINK, true},
		{IDX_LINK_B, TLK_TAG_INDEX_LINK, true},
		{REV_LINK_A, TLK_REV_LINK, true},
		{LAYER_LINK_A, TLK_LAYER_LINK, true},
		{UPLOAD, TLK_OTHER, true},
		{BLOB_A, TLK_BLOB_DATA, true},
		{TAGD, TLK_TAG_DIR, true},
		{REPO "_manifests", TLK_MANIFESTS, true},
		{OUT, TLK_OTHER, false},
		{OUT2, TLK_OTHER, false},
	};
	/* clang-format on */
	struct tlk_node node;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tlk_layout_path(cases[i].path, &node);
		assert_int_equal(node.kind, cases[i].kind);
		assert_int_equal(node.in_tree, cases[i].in_tree);
	}
}

/* tlk_verdict_errno, for every kind and reason. */
static void test_verdict_errno(void **state)
{
	(void)state;
	for (int r = 0; r < TLK_R_COUNT; r++) {
		for (int k = TLK_ALLOW; k <= TLK_REFUSE; k++) {
			struct tlk_verdict v = {(enum tlk_verdict_kind)k,
						(enum tlk_reason)r, EIO};
			bool refused = k == TLK_REFUSE;

			assert_int_equal(tlk_verdict_errno(v),
					 refused ? EIO : 0);
			v.error = 0;
			assert_int_equal(tlk_verdict_errno(v),
					 refused ? EPERM : 0);
		}
	}
}

struct report_case {
	const char *what;
	enum tlk_op op;
	const char *node;
	bool prot;
	enum tlk_verdict_kind kind;
	enum tlk_reason reason;
	bool reported;
};

/* Worth a log line and an audit record: every refusal, and the publishes
 * (create, identical rewrite) of protected tags; nothing else. */
static void test_verdict_reported(void **state)
{
	/* clang-format off */
	static const struct report_case cases[] = {
		{"publish creates a protected tag", TLK_OP_PUBLISH_LINK,
		 CUR_LINK, true, TLK_ALLOW, TLK_R_CREATE, true},
		{"publish rewrites a protected tag identically",
		 TLK_OP_PUBLISH_LINK, CUR_LINK, true, TLK_ALLOW,
		 TLK_R_IDENTICAL, true},
		{"publish on a mutable tag", TLK_OP_PUBLISH_LINK, CUR_LINK,
		 false, TLK_ALLOW, TLK_R_CREATE, false},
		{"publish of a revision link", TLK_OP_PUBLISH_LINK, REV_LINK_A,
		 true, TLK_ALLOW, TLK_R_CREATE, false},
		{"publish of a layer link, identical", TLK_OP_PUBLISH_LINK,
		 LAYER_LINK_A, true, TLK_ALLOW, TLK_R_IDENTICAL, false},
		{"publish of an index link", TLK_OP_PUBLISH_LINK, IDX_LINK_A,
		 true, TLK_ALLOW, TLK_R_CREATE, false},
		{"a write judged identical is no publish", TLK_OP_WRITE_LINK,
		 CUR_LINK, true, TLK_ALLOW, TLK_R_IDENTICAL, false},
		{"a write judged to publish is no publish yet",
		 TLK_OP_WRITE_LINK, CUR_LINK, true, TLK_PUBLISH, TLK_R_CREATE,
		 false},
		{"a pending write", TLK_OP_WRITE_LINK, CUR_LINK, true,
		 TLK_ALLOW, TLK_R_PENDING, false},
		{"a guarded open", TLK_OP_OPEN_WRITE, CUR_LINK, true,
		 TLK_INSPECT, TLK_R_GUARDED, false},
		{"publish, mutable by policy", TLK_OP_PUBLISH_LINK, CUR_LINK,
		 true, TLK_ALLOW, TLK_R_NOT_PROTECTED, false},
		{"an upload removed", TLK_OP_REMOVE, UPLOAD, false, TLK_ALLOW,
		 TLK_R_NOT_TAG_STATE, false},
		{"a refused overwrite", TLK_OP_WRITE_LINK, CUR_LINK, true,
		 TLK_REFUSE, TLK_R_OVERWRITE, true},
		{"a refused symlink outside any tag", TLK_OP_SYMLINK, UPLOAD,
		 false, TLK_REFUSE, TLK_R_SHAPE, true},
		{"an undecidable rename", TLK_OP_RENAME, OUT, false,
		 TLK_REFUSE, TLK_R_UNDECIDABLE, true},
		{"a lost index entry swept", TLK_OP_SWEEP_INDEX, IDX_LINK_B,
		 true, TLK_ALLOW, TLK_R_LOST_RACE, true},
		{"a refused mknod", TLK_OP_MKNOD, UPLOAD, false, TLK_REFUSE,
		 TLK_R_SHAPE, true},
		{"an allowed mknod outside the tree", TLK_OP_MKNOD, OUT, false,
		 TLK_ALLOW, TLK_R_NOT_TAG_STATE, false},
	};
	/* clang-format on */

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct report_case *c = &cases[i];
		struct tlk_facts f = {.op = c->op,
				      .tag_protected = c->prot,
				      .repo_immutable = c->prot};
		struct tlk_verdict v = {c->kind, c->reason, 0};

		tlk_layout_path(c->node, &f.node);
		if (tlk_verdict_reported(&f, v) == c->reported)
			continue;
		print_error("%s: reported %d, want %d\n", c->what, !c->reported,
			    c->reported);
		fail();
	}
}

/* The words a person reads in the log: the product page's sentence for an
 * overwrite, something non-empty and distinct for everything else. */
static void test_reason_words(void **state)
{
	(void)state;
	assert_non_null(strstr(tlk_reason_text(TLK_R_OVERWRITE), SENTENCE));
	assert_non_null(strstr(tlk_reason_text(TLK_R_INDEX_OTHER), SENTENCE));
	assert_null(strstr(tlk_reason_text(TLK_R_CREATE), SENTENCE));
	assert_string_equal(tlk_reason_name(TLK_R_OVERWRITE), "overwrite");
	assert_string_equal(tlk_reason_name(TLK_R_INDEX_OTHER),
			    "index_other_digest");
	assert_string_equal(tlk_reason_name(TLK_R_UNDECIDABLE), "undecidable");
	for (int i = 0; i < TLK_R_COUNT; i++) {
		const char *text = tlk_reason_text((enum tlk_reason)i);
		const char *name = tlk_reason_name((enum tlk_reason)i);

		assert_non_null(text);
		assert_non_null(name);
		assert_true(strlen(text) > 0 && strlen(name) > 0);
		assert_null(strchr(name, ' '));
		assert_string_not_equal(name, "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(
			    name, tlk_reason_name((enum tlk_reason)j));
	}
	assert_string_equal(tlk_reason_name(TLK_R_COUNT), "unknown");
	assert_non_null(tlk_reason_text(TLK_R_COUNT));
	assert_non_null(tlk_reason_text((enum tlk_reason) - 1));
}

static void test_op_names(void **state)
{
	(void)state;
	assert_string_equal(tlk_op_name(TLK_OP_WRITE_LINK), "write_link");
	/* mknod(2) is no symlink(2): the audit record says which it was. */
	assert_string_equal(tlk_op_name(TLK_OP_MKNOD), "mknod");
	assert_string_equal(tlk_op_name(TLK_OP_SYMLINK), "symlink");
	assert_string_equal(tlk_op_name(TLK_OP_MKDIR), "mkdir");
	assert_string_equal(tlk_op_name(TLK_OP_SWEEP_INDEX), "sweep_index");
	for (int i = 0; i < TLK_OP_COUNT; i++) {
		const char *name = tlk_op_name((enum tlk_op)i);

		assert_non_null(name);
		assert_true(strlen(name) > 0);
		assert_null(strchr(name, ' '));
		assert_string_not_equal(name, "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(name,
						tlk_op_name((enum tlk_op)j));
	}
	assert_string_equal(tlk_op_name(TLK_OP_COUNT), "unknown");
	assert_string_equal(tlk_op_name((enum tlk_op) - 1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decide_table),
	    cmocka_unit_test(test_table_covers_everything),
	    cmocka_unit_test(test_table_positions),
	    cmocka_unit_test(test_verdict_errno),
	    cmocka_unit_test(test_verdict_reported),
	    cmocka_unit_test(test_reason_words),
	    cmocka_unit_test(test_op_names),
	};
	return cmocka_run_group_tests_name("decide", tests, NULL, NULL);
}

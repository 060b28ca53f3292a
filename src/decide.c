/* SPDX-License-Identifier: MIT */
/*
 * decide.c - every verdict the daemon acts on (see decide.h). Each rule
 * cites its number in docs/design.md.
 *
 * Pure: every input is in struct tlk_facts. One function per operation.
 */
#include <errno.h>
#include <string.h>

#include "taglockfs/decide.h"

static struct tlk_verdict verdict(enum tlk_verdict_kind kind,
				  enum tlk_reason reason)
{
	struct tlk_verdict v = {.kind = kind, .reason = reason};

	if (kind == TLK_REFUSE)
		v.error = reason == TLK_R_MALFORMED ? EINVAL : EPERM;
	return v;
}

static struct tlk_verdict refuse(enum tlk_reason reason)
{
	return verdict(TLK_REFUSE, reason);
}

/* A refusal answered with `error` instead of EPERM. */
static struct tlk_verdict refuse_with(enum tlk_reason reason, int error)
{
	struct tlk_verdict v = verdict(TLK_REFUSE, reason);

	v.error = error;
	return v;
}

static struct tlk_verdict allow(enum tlk_reason reason)
{
	return verdict(TLK_ALLOW, reason);
}

static bool has_content(const struct tlk_link *link)
{
	return link->state == TLK_LINK_VALID ||
	       link->state == TLK_LINK_MALFORMED;
}

static enum tlk_link_class link_class(const struct tlk_node *node)
{
	return tlk_layout_link_class(node->kind);
}

/* The digest a node with a hex (digest dirs, path-determined links) names. */
static struct tlk_link own_link(const struct tlk_node *node)
{
	char buf[TLK_LINK_LEN + 1];
	struct tlk_link l;

	memcpy(buf, "sha256:", 7);
	memcpy(buf + 7, node->hex, TLK_HEX_LEN);
	tlk_link_parse(buf, TLK_LINK_LEN, &l);
	return l;
}

/* Rule 4 of the contract ("stray index"): while a protected tag points
 * somewhere, its index gains no entry for another digest. */
static bool index_refused(const struct tlk_facts *f)
{
	struct tlk_link own = own_link(&f->node);

	return f->tag_protected && has_content(&f->tag_current) &&
	       !tlk_link_same(&f->tag_current, &own);
}

/* Rule 2: a link (or a directory on the way to one) of an immutable
 * repository that is a symlink or has another hard link was made behind
 * the daemon's back: it is read-only. */
static bool aliased(const struct tlk_node *node, bool immutable,
		    enum tlk_ftype type, bool multi_linked)
{
	return immutable && tlk_layout_is_repo_state(node->kind) &&
	       (type == TLK_FT_SYMLINK || multi_linked);
}

/* Rule 2: the registry never makes hard links, so a file of its tree
 * with a second one was made behind the daemon's back; its other name
 * may be a link of a protected tag, wherever this one is. */
static bool behind_back(const struct tlk_facts *f)
{
	return f->node.in_tree && f->multi_linked;
}

/* Contract rule 4 after a protected tag's first publish: concurrent first
 * pushes each write their index entry before their current/link, so the
 * losers' entries were made while the tag was still empty. They go, and
 * only they: never the published digest's entry, never an entry made
 * behind the daemon's back (rule 2). */
static struct tlk_verdict decide_sweep_index(const struct tlk_facts *f)
{
	if (f->node.kind != TLK_TAG_INDEX_LINK || !index_refused(f))
		return refuse(TLK_R_REMOVE);
	if (aliased(&f->node, f->repo_immutable, f->type, f->multi_linked))
		return refuse(TLK_R_ALIAS);
	return allow(TLK_R_LOST_RACE);
}

static struct tlk_verdict decide_create(const struct tlk_facts *f)
{
	if (f->node.kind == TLK_BLOB_DATA) /* rule 9: published when whole */
		return verdict(TLK_INSPECT, TLK_R_GUARDED);
	/* Contract rule 4: 3.1's temporary file would only become a stray
	 * index entry. */
	if (f->node.kind == TLK_TAG_INDEX_TMP && index_refused(f))
		return refuse(TLK_R_INDEX_OTHER);
	switch (link_class(&f->node)) {
	case TLK_LINK_TAG:
		return verdict(TLK_INSPECT, TLK_R_GUARDED);
	case TLK_LINK_PATH:
		if (f->node.kind == TLK_TAG_INDEX_LINK && index_refused(f))
			return refuse(TLK_R_INDEX_OTHER);
		return verdict(TLK_INSPECT, TLK_R_GUARDED);
	default:
		/* A file where the registry keeps a directory: not its shape.
		 */
		if (f->node.in_tree &&
		    tlk_layout_is_structural_dir(f->node.kind))
			return refuse(TLK_R_SHAPE);
		return allow(TLK_R_NOT_TAG_STATE);
	}
}

/* Rules 2, 3, 4: every write handle on a link file is guarded. */
static struct tlk_verdict decide_open_write(const struct tlk_facts *f)
{
	if (f->node.kind == TLK_BLOB_DATA) {
		if (behind_back(f))
			return refuse(TLK_R_ALIAS);
		/* Rule 9: only a manifest-sized blob may be rewritten, with
		 * identical bytes (two concurrent manifest PUTs). An O_TRUNC
		 * open truncates: the kernel sets the size to 0 for every
		 * reader of its page cache at once, whatever the daemon does
		 * (distribution truncates with ftruncate, never O_TRUNC). */
		if (f->size > TLK_SMALL_BLOB || (f->truncating && f->size > 0))
			return refuse(TLK_R_WRITE_ONCE);
		return verdict(TLK_INSPECT, TLK_R_GUARDED);
	}
	if (link_class(&f->node) == TLK_LINK_NONE)
		return behind_back(f) ? refuse(TLK_R_ALIAS)
				      : allow(TLK_R_NOT_TAG_STATE);
	if (aliased(&f->node, f->repo_immutable, f->type, f->multi_linked))
		return refuse(TLK_R_ALIAS);
	return verdict(TLK_INSPECT, TLK_R_GUARDED);
}

/* `view` (view_len bytes) is a prefix of `whole` (whole_len bytes). */
static bool is_prefix(const char *view, size_t view_len, const char *whole,
		      size_t whole_len)
{
	return view_len <= whole_len &&
	       (view_len == 0 || memcmp(view, whole, view_len) == 0);
}

/* Could the view still grow into "sha256:<64 hex>"? */
static bool is_link_prefix(const char *view, size_t len)
{
	static const char algo[] = "sha256:";
	size_t i;

	for (i = 0; i < len; i++) {
		char c = view[i];
		if (i < sizeof(algo) - 1
			? c != algo[i]
			: !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* Rule 3: a path-determined link's view may only ever spell its own
 * digest. */
static struct tlk_verdict write_path_link(const struct tlk_facts *f)
{
	char own[TLK_LINK_LEN + 1];
	bool done;

	tlk_layout_own_digest(&f->node, own, sizeof(own));
	if (f->view_len > TLK_LINK_LEN ||
	    !is_prefix(f->view, f->view_len, own, TLK_LINK_LEN))
		return refuse(TLK_R_WRONG_DIGEST);
	done = f->view_len == TLK_LINK_LEN;
	if (done && f->base_len == TLK_LINK_LEN &&
	    memcmp(f->base, own, TLK_LINK_LEN) == 0)
		return allow(TLK_R_IDENTICAL);
	if (done)
		return verdict(TLK_PUBLISH, TLK_R_CREATE);
	if (f->closing &&
	    !(f->view_len == f->base_len &&
	      is_prefix(f->view, f->view_len, f->base, f->base_len)))
		return refuse(TLK_R_WRONG_DIGEST);
	return allow(TLK_R_PENDING);
}

/* Rules 1-3 of the contract on a protected tag, judged at each write with
 * the policy in force (rule 4). */
static struct tlk_verdict write_protected_tag(const struct tlk_facts *f)
{
	struct tlk_link view;

	if (f->base_len > 0) {
		if (f->view_len > f->base_len ||
		    !is_prefix(f->view, f->view_len, f->base, f->base_len))
			return refuse(TLK_R_OVERWRITE);
		if (f->view_len == f->base_len)
			return allow(TLK_R_IDENTICAL);
		return f->closing ? refuse(TLK_R_OVERWRITE)
				  : allow(TLK_R_PENDING);
	}
	tlk_link_parse(f->view, f->view_len, &view);
	if (view.state == TLK_LINK_VALID)
		return verdict(TLK_PUBLISH, TLK_R_CREATE);
	if (f->view_len == 0)
		return allow(TLK_R_IDENTICAL);
	if (!f->closing && is_link_prefix(f->view, f->view_len))
		return allow(TLK_R_PENDING);
	return refuse(TLK_R_MALFORMED);
}

/* A mutable tag: any content, published atomically when it is a whole
 * digest or when the handle is done with it. */
static struct tlk_verdict write_mutable_tag(const struct tlk_facts *f)
{
	struct tlk_link view;
	bool same;

	same = f->view_len == f->base_len &&
	       is_prefix(f->view, f->view_len, f->base, f->base_len);
	tlk_link_parse(f->view, f->view_len, &view);
	if (same && (f->closing || view.state == TLK_LINK_VALID))
		return allow(TLK_R_IDENTICAL);
	if (view.state == TLK_LINK_VALID || f->closing)
		return verdict(TLK_PUBLISH, TLK_R_NOT_PROTECTED);
	return allow(TLK_R_PENDING);
}

/* A view longer than a link can never be a digest, and only its first
 * TLK_LINK_LEN bytes are held (so are a longer base's). */
static struct tlk_verdict decide_write_link(const struct tlk_facts *f)
{
	if (f->view_len > TLK_LINK_LEN) {
		/* Only an untouched view is this long (shadow.h): closing it
		 * changes nothing. */
		if (f->closing && f->view_len == f->base_len &&
		    memcmp(f->view, f->base, TLK_LINK_LEN) == 0)
			return allow(TLK_R_IDENTICAL);
		if (link_class(&f->node) == TLK_LINK_PATH)
			return refuse(TLK_R_WRONG_DIGEST);
		if (f->tag_protected && f->base_len > 0)
			return refuse(TLK_R_OVERWRITE);
		return refuse(TLK_R_MALFORMED);
	}
	switch (link_class(&f->node)) {
	case TLK_LINK_PATH:
		return write_path_link(f);
	case TLK_LINK_TAG:
		return f->tag_protected ? write_protected_tag(f)
					: write_mutable_tag(f);
	default:
		return refuse(TLK_R_SHAPE);
	}
}

/* Rules 1-3 of the contract, rule 3 (path-determined links) and rule 2
 * (an aliased link is not replaced). */
static struct tlk_verdict decide_publish(const struct tlk_facts *f)
{
	struct tlk_link own;

	if (aliased(&f->node, f->repo_immutable, f->type, f->multi_linked))
		return refuse(TLK_R_ALIAS);
	/* A link holds 71 bytes; whatever is longer is not one. */
	if (f->next_len > TLK_LINK_LEN)
		return refuse(link_class(&f->node) == TLK_LINK_PATH
				  ? TLK_R_WRONG_DIGEST
				  : TLK_R_MALFORMED);
	switch (link_class(&f->node)) {
	case TLK_LINK_PATH:
		own = own_link(&f->node);
		if (!tlk_link_same(&f->next, &own))
			return refuse(TLK_R_WRONG_DIGEST);
		if (f->node.kind == TLK_TAG_INDEX_LINK && index_refused(f))
			return refuse(TLK_R_INDEX_OTHER);
		return tlk_link_same(&f->current, &own) ? allow(TLK_R_IDENTICAL)
							: allow(TLK_R_CREATE);
	case TLK_LINK_TAG:
		if (!f->tag_protected)
			return allow(TLK_R_NOT_PROTECTED);
		if (f->next.state != TLK_LINK_VALID)
			return refuse(TLK_R_MALFORMED);
		if (!has_content(&f->current))
			return f->audit_error ? refuse_with(TLK_R_AUDIT_DOWN,
							    f->audit_error)
					      : allow(TLK_R_CREATE);
		if (tlk_link_same(&f->current, &f->next))
			return allow(TLK_R_IDENTICAL);
		return refuse(TLK_R_OVERWRITE);
	default:
		return refuse(TLK_R_SHAPE);
	}
}

static struct tlk_verdict decide_truncate(const struct tlk_facts *f)
{
	enum tlk_link_class lc = link_class(&f->node);

	if (f->node.kind == TLK_BLOB_DATA) { /* rule 9 */
		if (behind_back(f))
			return refuse(TLK_R_ALIAS);
		return f->new_size == f->current_size
			   ? allow(TLK_R_IDENTICAL)
			   : refuse(TLK_R_WRITE_ONCE);
	}
	if (lc == TLK_LINK_NONE)
		return behind_back(f) ? refuse(TLK_R_ALIAS)
				      : allow(TLK_R_NOT_TAG_STATE);
	if (aliased(&f->node, f->repo_immutable, TLK_FT_REG, f->multi_linked))
		return refuse(TLK_R_ALIAS);
	if (f->new_size == f->current_size)
		return allow(TLK_R_IDENTICAL);
	if (lc == TLK_LINK_PATH)
		return refuse(TLK_R_WRONG_DIGEST);
	if (!f->tag_protected)
		return allow(TLK_R_NOT_PROTECTED);
	/* Growing an empty link only makes zeros: never a digest. */
	if (!has_content(&f->current))
		return refuse(TLK_R_MALFORMED);
	return refuse(TLK_R_OVERWRITE);
}

/* What removing the name `f->node` would take away (REMOVE, and the
 * source side of RENAME with `moving`). */
static struct tlk_verdict decide_removal(const struct tlk_facts *f,
					 bool tag_protected, bool moving)
{
	struct tlk_link own;

	if (aliased(&f->node, f->repo_immutable, f->type, f->multi_linked))
		return refuse(TLK_R_ALIAS);
	switch (f->node.kind) {
	case TLK_CURRENT_LINK:
		if (tag_protected && has_content(&f->current) &&
		    (moving || f->protect_delete))
			return refuse(moving ? TLK_R_MOVE : TLK_R_REMOVE);
		break;
	case TLK_TAG_INDEX_LINK:
		own = own_link(&f->node);
		if (tag_protected && has_content(&f->tag_current) &&
		    tlk_link_same(&f->tag_current, &own) &&
		    (moving || f->protect_delete))
			return refuse(moving ? TLK_R_MOVE : TLK_R_REMOVE);
		break;
	case TLK_REV_LINK:
		if (f->in_use && (moving || f->protect_delete))
			return refuse(moving ? TLK_R_MOVE
					     : TLK_R_REVISION_IN_USE);
		break;
	case TLK_LAYER_LINK: /* rule 9 */
		if (f->in_use)
			return refuse(moving ? TLK_R_MOVE : TLK_R_BLOB_IN_USE);
		break;
	case TLK_BLOB_DATA: /* rule 9: `in_use` counts protect_delete */
		if (f->in_use)
			return refuse(moving ? TLK_R_MOVE : TLK_R_BLOB_IN_USE);
		break;
	default:
		break;
	}
	return allow(TLK_R_NOT_TAG_STATE);
}

static struct tlk_verdict decide_mkdir(const struct tlk_facts *f)
{
	if (tlk_layout_must_be_file(f->node.kind))
		return refuse(TLK_R_SHAPE);
	if (f->node.kind == TLK_TAG_INDEX_DIG && index_refused(f))
		return refuse(TLK_R_INDEX_OTHER);
	return allow(TLK_R_NOT_TAG_STATE);
}

/* Rule 1: the registry never renames directories, links files or makes
 * symlinks; a file renamed onto a link position is published as a copy. */
static struct tlk_verdict decide_rename(const struct tlk_facts *f)
{
	bool in_tree = f->node.in_tree || f->dst.in_tree;
	struct tlk_verdict v;

	if (f->exchange && in_tree)
		return refuse(TLK_R_SHAPE);
	if (f->type == TLK_FT_DIR && in_tree)
		return refuse(TLK_R_MOVE);
	if (f->dst.in_tree &&
	    (f->type == TLK_FT_SYMLINK || f->type == TLK_FT_SPECIAL ||
	     f->multi_linked || tlk_layout_is_structural_dir(f->dst.kind)))
		return refuse(TLK_R_SHAPE);
	v = decide_removal(f, f->src_tag_protected, true);
	if (v.kind == TLK_REFUSE)
		return v;
	if (aliased(&f->dst, f->dst_repo_immutable, f->dst_type,
		    f->dst_multi_linked))
		return refuse(TLK_R_ALIAS);
	if (link_class(&f->dst) != TLK_LINK_NONE ||
	    f->dst.kind == TLK_BLOB_DATA)
		return f->held_hidden ? refuse(TLK_R_HELD)
				      : verdict(TLK_INSPECT, TLK_R_GUARDED);
	return allow(TLK_R_NOT_TAG_STATE);
}

/* Rule 9: blob data is write-once, and a small blob appears only with the
 * bytes its name promises. */
static struct tlk_verdict decide_publish_blob(const struct tlk_facts *f)
{
	if (f->has_content)
		return f->digest_check == TLK_DIGEST_MATCH
			   ? allow(TLK_R_IDENTICAL)
			   : refuse(TLK_R_WRITE_ONCE);
	if (f->digest_check == TLK_DIGEST_MISMATCH)
		return refuse(TLK_R_DIGEST_MISMATCH);
	return allow(TLK_R_CREATE);
}

/* Rule 2: a symlink standing where the registry keeps a directory or a
 * link file was made behind the daemon's back; following it would let
 * whatever it points to decide what a tag resolves to. */
static struct tlk_verdict decide_follow(const struct tlk_facts *f)
{
	if (f->node.in_tree && (tlk_layout_is_structural_dir(f->node.kind) ||
				tlk_layout_must_be_file(f->node.kind)))
		return refuse(TLK_R_ALIAS);
	return allow(TLK_R_NOT_TAG_STATE);
}

struct tlk_verdict tlk_decide(const struct tlk_facts *f)
{
	struct tlk_verdict v;

	/* Rule 5, the only place: what cannot be established is refused. */
	if (f->error) {
		v = refuse(TLK_R_UNDECIDABLE);
		v.error = f->error;
		return v;
	}
	switch (f->op) {
	case TLK_OP_CREATE:
		return decide_create(f);
	case TLK_OP_OPEN_WRITE:
		return decide_open_write(f);
	case TLK_OP_WRITE_LINK:
		return decide_write_link(f);
	case TLK_OP_PUBLISH_LINK:
		return decide_publish(f);
	case TLK_OP_TRUNCATE:
		return decide_truncate(f);
	case TLK_OP_REMOVE:
		return decide_removal(f, f->tag_protected, false);
	case TLK_OP_MKDIR:
		return decide_mkdir(f);
	case TLK_OP_SYMLINK:
	case TLK_OP_MKNOD:
		return f->node.in_tree ? refuse(TLK_R_SHAPE)
				       : allow(TLK_R_NOT_TAG_STATE);
	case TLK_OP_SWEEP_INDEX:
		return decide_sweep_index(f);
	case TLK_OP_HARDLINK:
		return f->node.in_tree || f->dst.in_tree
			   ? refuse(TLK_R_SHAPE)
			   : allow(TLK_R_NOT_TAG_STATE);
	case TLK_OP_RENAME:
		return decide_rename(f);
	case TLK_OP_FOLLOW:
		return decide_follow(f);
	case TLK_OP_PUBLISH_BLOB:
		return decide_publish_blob(f);
	case TLK_OP_WRITE_RAW: /* rule 6 */
		return f->sealed ? refuse(TLK_R_SEALED)
				 : allow(TLK_R_NOT_TAG_STATE);
	default:
		return refuse(TLK_R_SHAPE);
	}
}

int tlk_verdict_errno(struct tlk_verdict v)
{
	return v.kind == TLK_REFUSE ? (v.error ? v.error : EPERM) : 0;
}

bool tlk_verdict_reported(const struct tlk_facts *f, struct tlk_verdict v)
{
	if (v.kind == TLK_REFUSE || f->op == TLK_OP_SWEEP_INDEX)
		return true;
	return f->op == TLK_OP_PUBLISH_LINK && f->tag_protected &&
	       link_class(&f->node) == TLK_LINK_TAG &&
	       (v.reason == TLK_R_CREATE || v.reason == TLK_R_IDENTICAL);
}

static const char *const reason_text[TLK_R_COUNT] = {
    [TLK_R_NOT_PROTECTED] = "The tag is not protected by the policy.",
    [TLK_R_NOT_TAG_STATE] = "The operation changes no protected tag.",
    [TLK_R_CREATE] = "The tag is created.",
    [TLK_R_IDENTICAL] = "The tag is rewritten with identical content.",
    [TLK_R_GUARDED] = "A link file: its writes are inspected.",
    [TLK_R_PENDING] = "The new content is still being written.",
    [TLK_R_OVERWRITE] =
	"The requested tag already exists and cannot be overwritten.",
    [TLK_R_MALFORMED] = "The new tag content is not a sha256 digest link.",
    [TLK_R_REMOVE] = "The tag is protected and cannot be deleted.",
    [TLK_R_INDEX_OTHER] =
	"The requested tag already exists and cannot be overwritten.",
    [TLK_R_REVISION_IN_USE] = "The manifest is referenced by a protected "
			      "tag and cannot be deleted.",
    [TLK_R_MOVE] = "The registry never moves this; renaming it would carry "
		   "protected state in or out.",
    [TLK_R_SHAPE] = "The registry never makes hard links, symbolic links, "
		    "devices or directory renames in its tree.",
    [TLK_R_ALIAS] = "The link is reached through a hard or symbolic link "
		    "made behind taglockfs's back; it is read-only.",
    [TLK_R_WRONG_DIGEST] = "This link may only hold the digest of its own "
			   "path.",
    [TLK_R_UNDECIDABLE] = "Could not establish whether a protected tag is "
			  "affected; refused.",
    [TLK_R_SEALED] = "The file was renamed onto a link and published as a "
		     "copy; this descriptor can no longer change it.",
    [TLK_R_HELD] = "The file is held open for writing where taglockfs "
		   "cannot see the writes; it cannot become a link.",
    [TLK_R_WRITE_ONCE] = "Blob data is write-once: an existing blob never "
			 "changes.",
    [TLK_R_DIGEST_MISMATCH] = "The blob's bytes do not match its digest.",
    [TLK_R_BLOB_IN_USE] = "The blob is needed by a protected tag and cannot "
			  "be deleted.",
    [TLK_R_AUDIT_DOWN] = "The audit log cannot be written (audit_strict): "
			 "no new protected tag until it can.",
    [TLK_R_LOST_RACE] = "An index entry of a concurrent first push that "
			"lost the race was removed.",
};

static const char *const reason_name[TLK_R_COUNT] = {
    [TLK_R_NOT_PROTECTED] = "not_protected",
    [TLK_R_NOT_TAG_STATE] = "not_tag_state",
    [TLK_R_CREATE] = "create",
    [TLK_R_IDENTICAL] = "identical",
    [TLK_R_GUARDED] = "guarded",
    [TLK_R_PENDING] = "pending",
    [TLK_R_OVERWRITE] = "overwrite",
    [TLK_R_MALFORMED] = "malformed",
    [TLK_R_REMOVE] = "remove",
    [TLK_R_INDEX_OTHER] = "index_other_digest",
    [TLK_R_REVISION_IN_USE] = "revision_in_use",
    [TLK_R_MOVE] = "move",
    [TLK_R_SHAPE] = "shape",
    [TLK_R_ALIAS] = "alias",
    [TLK_R_WRONG_DIGEST] = "wrong_digest",
    [TLK_R_UNDECIDABLE] = "undecidable",
    [TLK_R_SEALED] = "sealed",
    [TLK_R_HELD] = "held",
    [TLK_R_WRITE_ONCE] = "write_once",
    [TLK_R_DIGEST_MISMATCH] = "digest_mismatch",
    [TLK_R_BLOB_IN_USE] = "blob_in_use",
    [TLK_R_AUDIT_DOWN] = "audit_down",
    [TLK_R_LOST_RACE] = "lost_race",
};

static const char *const op_name[TLK_OP_COUNT] = {
    [TLK_OP_CREATE] = "create",
    [TLK_OP_OPEN_WRITE] = "open_write",
    [TLK_OP_WRITE_LINK] = "write_link",
    [TLK_OP_PUBLISH_LINK] = "publish_link",
    [TLK_OP_TRUNCATE] = "truncate",
    [TLK_OP_REMOVE] = "remove",
    [TLK_OP_MKDIR] = "mkdir",
    [TLK_OP_SYMLINK] = "symlink",
    [TLK_OP_HARDLINK] = "hardlink",
    [TLK_OP_RENAME] = "rename",
    [TLK_OP_FOLLOW] = "follow",
    [TLK_OP_PUBLISH_BLOB] = "publish_blob",
    [TLK_OP_WRITE_RAW] = "write_raw",
    [TLK_OP_MKNOD] = "mknod",
    [TLK_OP_SWEEP_INDEX] = "sweep_index",
};

const char *tlk_reason_text(enum tlk_reason reason)
{
	if ((unsigned)reason >= TLK_R_COUNT)
		return "Unknown reason.";
	return reason_text[reason];
}

const char *tlk_reason_name(enum tlk_reason reason)
{
	if ((unsigned)reason >= TLK_R_COUNT)
		return "unknown";
	return reason_name[reason];
}

const char *tlk_op_name(enum tlk_op op)
{
	if ((unsigned)op >= TLK_OP_COUNT)
		return "unknown";
	return op_name[op];
}

/* SPDX-License-Identifier: MIT */
/*
 * decide.c - the verdict for one operation on tag state (see decide.h).
 *
 * Pure: every input is in struct tlk_facts. One function per operation
 * family keeps each rule readable next to the DESIGN.md rule it enforces.
 */
#include <errno.h>

#include "taglockfs/decide.h"

static struct tlk_verdict verdict(enum tlk_verdict_kind kind,
				  enum tlk_reason reason)
{
	struct tlk_verdict v = {.kind = kind, .reason = reason};
	return v;
}

static bool link_has_content(const struct tlk_link *link)
{
	return link->state == TLK_LINK_VALID ||
	       link->state == TLK_LINK_MALFORMED;
}

/* Rules 1-3: a protected link may be created once, rewritten with the same
 * bytes, and never changed. */
static struct tlk_verdict decide_publish(const struct tlk_facts *f)
{
	if (f->next.state != TLK_LINK_VALID)
		return verdict(TLK_REFUSE, TLK_R_MALFORMED);
	if (!link_has_content(&f->current))
		return verdict(TLK_ALLOW, TLK_R_CREATE);
	if (tlk_link_same(&f->current, &f->next))
		return verdict(TLK_ALLOW, TLK_R_IDENTICAL);
	return verdict(TLK_REFUSE, TLK_R_OVERWRITE);
}

static struct tlk_verdict decide_truncate(const struct tlk_facts *f)
{
	/* Growing an empty link only makes zeros: never a digest. */
	if (!link_has_content(&f->current))
		return f->new_size == 0 ? verdict(TLK_ALLOW, TLK_R_IDENTICAL)
					: verdict(TLK_REFUSE, TLK_R_MALFORMED);
	if (f->new_size == f->current_size)
		return verdict(TLK_ALLOW, TLK_R_IDENTICAL);
	return verdict(TLK_REFUSE, TLK_R_OVERWRITE);
}

/* Rule 4: while a protected tag points somewhere, its index may gain no
 * entry for another digest. Removing the entry of the current digest is
 * removing the tag. */
static struct tlk_verdict decide_index(const struct tlk_facts *f)
{
	bool same = tlk_link_same(&f->current, &f->next);

	if (!link_has_content(&f->current))
		return verdict(TLK_ALLOW, TLK_R_CREATE);
	if (f->op == TLK_OP_INDEX_ADD)
		return same ? verdict(TLK_ALLOW, TLK_R_IDENTICAL)
			    : verdict(TLK_REFUSE, TLK_R_INDEX_OTHER);
	if (same && f->protect_delete)
		return verdict(TLK_REFUSE, TLK_R_REMOVE);
	return verdict(TLK_ALLOW, TLK_R_NOT_TAG_STATE);
}

/* Operations whose facts were gathered over a subtree or a revision. */
static struct tlk_verdict decide_scanned(const struct tlk_facts *f)
{
	switch (f->op) {
	case TLK_OP_REVISION_REMOVE:
		if (f->holds_protected && f->protect_delete)
			return verdict(TLK_REFUSE, TLK_R_REVISION_IN_USE);
		break;
	case TLK_OP_MOVE_AWAY:
		if (f->holds_protected)
			return verdict(TLK_REFUSE, TLK_R_MOVE);
		break;
	case TLK_OP_REMOVE_DIR:
		if (f->holds_protected && f->protect_delete)
			return verdict(TLK_REFUSE, TLK_R_REMOVE);
		break;
	default:
		break;
	}
	return verdict(TLK_ALLOW, TLK_R_NOT_TAG_STATE);
}

struct tlk_verdict tlk_decide(const struct tlk_facts *f)
{
	switch (f->op) {
	case TLK_OP_REVISION_REMOVE:
	case TLK_OP_MOVE_AWAY:
	case TLK_OP_REMOVE_DIR:
		return decide_scanned(f);
	default:
		break;
	}
	if (!f->tag_protected)
		return verdict(TLK_ALLOW, TLK_R_NOT_PROTECTED);

	switch (f->op) {
	case TLK_OP_OPEN_LINK:
		return verdict(TLK_INSPECT, TLK_R_PROTECTED_OPEN);
	case TLK_OP_PUBLISH_LINK:
		return decide_publish(f);
	case TLK_OP_TRUNCATE_LINK:
		return decide_truncate(f);
	case TLK_OP_REMOVE_LINK:
		if (link_has_content(&f->current) && f->protect_delete)
			return verdict(TLK_REFUSE, TLK_R_REMOVE);
		return verdict(TLK_ALLOW, TLK_R_NOT_TAG_STATE);
	case TLK_OP_INDEX_ADD:
	case TLK_OP_INDEX_REMOVE:
		return decide_index(f);
	case TLK_OP_HARDLINK:
	case TLK_OP_SYMLINK:
		return verdict(TLK_REFUSE, TLK_R_LINK_ALIAS);
	default:
		return verdict(TLK_REFUSE, TLK_R_NOT_TAG_STATE);
	}
}

int tlk_verdict_errno(struct tlk_verdict v)
{
	if (v.kind != TLK_REFUSE)
		return 0;
	return v.reason == TLK_R_MALFORMED ? EINVAL : EPERM;
}

static const char *const reason_text[TLK_R_COUNT] = {
    [TLK_R_NOT_PROTECTED] = "The tag is not protected by the policy.",
    [TLK_R_NOT_TAG_STATE] = "The operation changes no protected tag.",
    [TLK_R_CREATE] = "The tag is created.",
    [TLK_R_IDENTICAL] = "The tag is rewritten with identical content.",
    [TLK_R_PROTECTED_OPEN] = "The tag is protected; its writes are inspected.",
    [TLK_R_OVERWRITE] =
	"The requested tag already exists and cannot be overwritten.",
    [TLK_R_MALFORMED] = "The new tag content is not a sha256 digest link.",
    [TLK_R_REMOVE] = "The tag is protected and cannot be deleted.",
    [TLK_R_INDEX_OTHER] =
	"The requested tag already exists and cannot be overwritten.",
    [TLK_R_REVISION_IN_USE] = "The manifest is referenced by a protected "
			      "tag and cannot be deleted.",
    [TLK_R_MOVE] = "The directory holds a protected tag and cannot be "
		   "moved or renamed.",
    [TLK_R_LINK_ALIAS] = "A protected tag link cannot be hard-linked or "
			 "replaced by a symbolic link.",
};

static const char *const reason_name[TLK_R_COUNT] = {
    [TLK_R_NOT_PROTECTED] = "not_protected",
    [TLK_R_NOT_TAG_STATE] = "not_tag_state",
    [TLK_R_CREATE] = "create",
    [TLK_R_IDENTICAL] = "identical",
    [TLK_R_PROTECTED_OPEN] = "protected_open",
    [TLK_R_OVERWRITE] = "overwrite",
    [TLK_R_MALFORMED] = "malformed",
    [TLK_R_REMOVE] = "remove",
    [TLK_R_INDEX_OTHER] = "index_other_digest",
    [TLK_R_REVISION_IN_USE] = "revision_in_use",
    [TLK_R_MOVE] = "move",
    [TLK_R_LINK_ALIAS] = "link_alias",
};

static const char *const op_name[TLK_OP_COUNT] = {
    [TLK_OP_OPEN_LINK] = "open_link",
    [TLK_OP_PUBLISH_LINK] = "publish_link",
    [TLK_OP_TRUNCATE_LINK] = "truncate_link",
    [TLK_OP_REMOVE_LINK] = "remove_link",
    [TLK_OP_INDEX_ADD] = "index_add",
    [TLK_OP_INDEX_REMOVE] = "index_remove",
    [TLK_OP_REVISION_REMOVE] = "revision_remove",
    [TLK_OP_MOVE_AWAY] = "move",
    [TLK_OP_REMOVE_DIR] = "remove_dir",
    [TLK_OP_HARDLINK] = "hardlink",
    [TLK_OP_SYMLINK] = "symlink",
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

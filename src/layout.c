/* SPDX-License-Identifier: MIT */
/*
 * layout.c - classify a node of the registry's storage tree.
 *
 * Every step works on a (pointer, length) component so that
 * tlk_layout_path() can walk a path in place, without copying components
 * or allocating. A node's strings are always NUL-terminated; an OTHER node
 * carries empty strings.
 */
#include <stdlib.h>
#include <string.h>

#include "taglockfs/layout.h"

#define NAME_MAX_LEN 255 /* longest single component on Linux */
#define REPO_NAME_MAX (TLK_REPO_MAX - 1)

static const char *const kind_names[TLK_KIND_COUNT] = {
    [TLK_OTHER] = "other",
    [TLK_ROOT] = "root",
    [TLK_DOCKER] = "docker",
    [TLK_REGISTRY] = "registry",
    [TLK_V2] = "v2",
    [TLK_REPOS] = "repos",
    [TLK_REPO_DIR] = "repo_dir",
    [TLK_MANIFESTS] = "manifests",
    [TLK_TAGS] = "tags",
    [TLK_TAG_DIR] = "tag_dir",
    [TLK_CURRENT] = "current",
    [TLK_CURRENT_LINK] = "current_link",
    [TLK_CURRENT_TMP] = "current_tmp",
    [TLK_CURRENT_OTHER] = "current_other",
    [TLK_TAG_INDEX] = "tag_index",
    [TLK_TAG_INDEX_ALG] = "tag_index_alg",
    [TLK_TAG_INDEX_DIG] = "tag_index_dig",
    [TLK_TAG_INDEX_LINK] = "tag_index_link",
    [TLK_TAG_INDEX_TMP] = "tag_index_tmp",
    [TLK_REVISIONS] = "revisions",
    [TLK_REV_ALG] = "rev_alg",
    [TLK_REV_DIG] = "rev_dig",
    [TLK_REV_LINK] = "rev_link",
    [TLK_REV_TMP] = "rev_tmp",
    [TLK_LAYERS] = "layers",
    [TLK_LAYER_ALG] = "layer_alg",
    [TLK_LAYER_DIG] = "layer_dig",
    [TLK_LAYER_LINK] = "layer_link",
    [TLK_LAYER_TMP] = "layer_tmp",
    [TLK_BLOBS] = "blobs",
    [TLK_BLOB_ALG] = "blob_alg",
    [TLK_BLOB_PREFIX] = "blob_prefix",
    [TLK_BLOB_DIG] = "blob_dig",
    [TLK_BLOB_DATA] = "blob_data",
    [TLK_BLOB_TMP] = "blob_tmp",
};

/* The component (s, n) is exactly the literal `lit`. */
static bool name_is(const char *s, size_t n, const char *lit)
{
	size_t lit_len = strlen(lit);

	return n == lit_len && memcmp(s, lit, n) == 0;
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_tag_char(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c == '.' || c == '-';
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/*
 * One component of a repository name, as distribution's reference grammar
 * has it: runs of [a-z0-9] joined by one separator each, where a separator
 * is ".", "_", "__" or one or more "-".
 */
static bool valid_repo_component(const char *s, size_t n)
{
	size_t i = 0;

	for (;;) {
		size_t run = i;

		while (i < n && is_lower_alnum(s[i]))
			i++;
		/* an empty run: a bad start or two separators in a row */
		if (i == run)
			return false;
		if (i == n)
			return true;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
	}
}

static bool valid_tag_n(const char *s, size_t n)
{
	if (n == 0 || n > TLK_TAG_MAX)
		return false;
	if (s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_tag_char(s[i]))
			return false;
	}
	return true;
}

static bool valid_hex_n(const char *s, size_t n)
{
	if (n != TLK_HEX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_lower_hex(s[i]))
			return false;
	}
	return true;
}

/* "link.<id>.tmp" with at least one byte of id. */
static bool link_tmp_n(const char *s, size_t n)
{
	static const char pre[] = "link.";
	static const char suf[] = ".tmp";
	const size_t pre_len = sizeof(pre) - 1;
	const size_t suf_len = sizeof(suf) - 1;

	if (n < pre_len + 1 + suf_len)
		return false;
	return memcmp(s, pre, pre_len) == 0 &&
	       memcmp(s + n - suf_len, suf, suf_len) == 0;
}

/* Inside a digest directory: "link", or any other name (3.1's
 * link.<uuid>.tmp, a copy tool's temporary file): a file the daemon sees
 * every write of, so that it can become the link (as a copy). */
static enum tlk_kind link_or_tmp(const char *s, size_t n, enum tlk_kind link,
				 enum tlk_kind tmp)
{
	return name_is(s, n, "link") ? link : tmp;
}

static void clear_node(struct tlk_node *out, enum tlk_kind kind)
{
	out->kind = kind;
	out->in_tree = false;
	out->repo[0] = '\0';
	out->tag[0] = '\0';
	out->hex[0] = '\0';
}

/* Copy a bounded NUL-terminated string field of equal size. */
static void copy_field(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Start `out` as a copy of `parent`'s names; a no-op when they alias. */
static void inherit(const struct tlk_node *parent, struct tlk_node *out)
{
	if (out == parent)
		return;
	copy_field(out->repo, parent->repo, sizeof(out->repo));
	copy_field(out->tag, parent->tag, sizeof(out->tag));
	copy_field(out->hex, parent->hex, sizeof(out->hex));
}

/* REPOS/<c>: the first component of a repository name. */
static enum tlk_kind repo_first(struct tlk_node *out, const char *s, size_t n)
{
	if (n > REPO_NAME_MAX || !valid_repo_component(s, n))
		return TLK_OTHER;
	memcpy(out->repo, s, n);
	out->repo[n] = '\0';
	return TLK_REPO_DIR;
}

/* REPO_DIR/<c>: _manifests, another internal directory, or a deeper name. */
static enum tlk_kind repo_next(struct tlk_node *out, const char *s, size_t n)
{
	size_t have;

	if (s[0] == '_') {
		if (name_is(s, n, "_layers"))
			return TLK_LAYERS;
		return name_is(s, n, "_manifests") ? TLK_MANIFESTS : TLK_OTHER;
	}
	if (!valid_repo_component(s, n))
		return TLK_OTHER;
	have = strnlen(out->repo, REPO_NAME_MAX);
	if (have == 0 || have + 1 + n > REPO_NAME_MAX)
		return TLK_OTHER;
	out->repo[have] = '/';
	memcpy(out->repo + have + 1, s, n);
	out->repo[have + 1 + n] = '\0';
	return TLK_REPO_DIR;
}

static enum tlk_kind tag_dir(struct tlk_node *out, const char *s, size_t n)
{
	if (!valid_tag_n(s, n))
		return TLK_OTHER;
	memcpy(out->tag, s, n);
	out->tag[n] = '\0';
	return TLK_TAG_DIR;
}

static enum tlk_kind digest_dir(struct tlk_node *out, const char *s, size_t n,
				enum tlk_kind kind)
{
	if (!valid_hex_n(s, n))
		return TLK_OTHER;
	memcpy(out->hex, s, n);
	out->hex[n] = '\0';
	return kind;
}

/* blobs/sha256/<2 hex>: the prefix is kept in hex until the digest. */
static enum tlk_kind blob_prefix(struct tlk_node *out, const char *s, size_t n)
{
	if (n != 2 || !is_lower_hex(s[0]) || !is_lower_hex(s[1]))
		return TLK_OTHER;
	memcpy(out->hex, s, 2);
	out->hex[2] = '\0';
	return TLK_BLOB_PREFIX;
}

static enum tlk_kind blob_digest(struct tlk_node *out, const char *s, size_t n)
{
	if (!valid_hex_n(s, n) || memcmp(out->hex, s, 2) != 0)
		return TLK_OTHER;
	memcpy(out->hex, s, n);
	out->hex[n] = '\0';
	return TLK_BLOB_DIG;
}

static enum tlk_kind current_child(const char *s, size_t n)
{
	if (name_is(s, n, "link"))
		return TLK_CURRENT_LINK;
	if (link_tmp_n(s, n))
		return TLK_CURRENT_TMP;
	return TLK_CURRENT_OTHER;
}

/* Literal steps: `parent` has exactly one child name of interest. */
static enum tlk_kind fixed_step(enum tlk_kind parent, const char *s, size_t n)
{
	switch (parent) {
	case TLK_ROOT:
		if (name_is(s, n, "docker"))
			return TLK_DOCKER;
		/* a mount at docker/registry/v2 */
		__attribute__((fallthrough));
	case TLK_V2:
		if (name_is(s, n, "blobs"))
			return TLK_BLOBS;
		return name_is(s, n, "repositories") ? TLK_REPOS : TLK_OTHER;
	case TLK_BLOBS:
		return name_is(s, n, "sha256") ? TLK_BLOB_ALG : TLK_OTHER;
	case TLK_BLOB_DIG: /* any other name: a file to become the blob */
		return name_is(s, n, "data") ? TLK_BLOB_DATA : TLK_BLOB_TMP;
	case TLK_DOCKER:
		return name_is(s, n, "registry") ? TLK_REGISTRY : TLK_OTHER;
	case TLK_REGISTRY:
		return name_is(s, n, "v2") ? TLK_V2 : TLK_OTHER;
	case TLK_MANIFESTS:
		if (name_is(s, n, "tags"))
			return TLK_TAGS;
		return name_is(s, n, "revisions") ? TLK_REVISIONS : TLK_OTHER;
	case TLK_TAG_DIR:
		if (name_is(s, n, "current"))
			return TLK_CURRENT;
		return name_is(s, n, "index") ? TLK_TAG_INDEX : TLK_OTHER;
	case TLK_TAG_INDEX:
		return name_is(s, n, "sha256") ? TLK_TAG_INDEX_ALG : TLK_OTHER;
	case TLK_REVISIONS:
		return name_is(s, n, "sha256") ? TLK_REV_ALG : TLK_OTHER;
	case TLK_LAYERS:
		return name_is(s, n, "sha256") ? TLK_LAYER_ALG : TLK_OTHER;
	case TLK_TAG_INDEX_DIG:
		return link_or_tmp(s, n, TLK_TAG_INDEX_LINK, TLK_TAG_INDEX_TMP);
	case TLK_REV_DIG:
		return link_or_tmp(s, n, TLK_REV_LINK, TLK_REV_TMP);
	case TLK_LAYER_DIG:
		return link_or_tmp(s, n, TLK_LAYER_LINK, TLK_LAYER_TMP);
	default:
		return TLK_OTHER;
	}
}

static bool is_dot_name(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') ||
	       (n == 2 && s[0] == '.' && s[1] == '.');
}

static void classify(const struct tlk_node *parent, const char *s, size_t n,
		     struct tlk_node *out)
{
	enum tlk_kind pk = parent->kind;
	bool in_tree = parent->in_tree;
	enum tlk_kind k;

	if (n == 0 || n > NAME_MAX_LEN || is_dot_name(s, n)) {
		clear_node(out, TLK_OTHER);
		out->in_tree = in_tree;
		return;
	}
	inherit(parent, out);
	switch (pk) {
	case TLK_REPOS:
		k = repo_first(out, s, n);
		break;
	case TLK_REPO_DIR:
		k = repo_next(out, s, n);
		break;
	case TLK_TAGS:
		k = tag_dir(out, s, n);
		break;
	case TLK_CURRENT:
		k = current_child(s, n);
		break;
	case TLK_TAG_INDEX_ALG:
		k = digest_dir(out, s, n, TLK_TAG_INDEX_DIG);
		break;
	case TLK_REV_ALG:
		k = digest_dir(out, s, n, TLK_REV_DIG);
		break;
	case TLK_LAYER_ALG:
		k = digest_dir(out, s, n, TLK_LAYER_DIG);
		break;
	case TLK_BLOB_ALG:
		k = blob_prefix(out, s, n);
		break;
	case TLK_BLOB_PREFIX:
		k = blob_digest(out, s, n);
		break;
	default:
		k = fixed_step(pk, s, n);
		break;
	}
	if (k == TLK_OTHER)
		clear_node(out, TLK_OTHER);
	else
		out->kind = k;
	/* Below the root, only docker/ (or, for a mount at v2, repositories/
	 * and blobs/) enter the tree; everything below it stays inside. */
	out->in_tree = in_tree || k != TLK_OTHER;
}

void tlk_layout_root(struct tlk_node *out)
{
	clear_node(out, TLK_ROOT);
}

void tlk_layout_child(const struct tlk_node *parent, const char *name,
		      struct tlk_node *out)
{
	size_t n = name ? strnlen(name, NAME_MAX_LEN + 1) : 0;

	classify(parent, name, n, out);
}

void tlk_layout_path(const char *relpath, struct tlk_node *out)
{
	const char *p = relpath ? relpath : "";

	tlk_layout_root(out);
	while (*p != '\0') {
		const char *end;
		size_t n;

		if (*p == '/') {
			p++;
			continue;
		}
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		p = end;
		if (n == 1 && end[-1] == '.')
			continue;
		classify(out, end - n, n, out);
		/* every descendant of OTHER is OTHER, ".." too */
		if (out->kind == TLK_OTHER)
			return;
	}
}

bool tlk_layout_valid_tag(const char *tag)
{
	if (!tag)
		return false;
	return valid_tag_n(tag, strnlen(tag, TLK_TAG_MAX + 1));
}

bool tlk_layout_valid_hex(const char *s)
{
	if (!s)
		return false;
	return valid_hex_n(s, strnlen(s, TLK_HEX_LEN + 1));
}

bool tlk_layout_is_link_tmp(const char *name)
{
	if (!name)
		return false;
	return link_tmp_n(name, strnlen(name, NAME_MAX_LEN + 1));
}

bool tlk_layout_is_structural_dir(enum tlk_kind kind)
{
	switch (kind) {
	case TLK_ROOT:
	case TLK_DOCKER:
	case TLK_REGISTRY:
	case TLK_V2:
	case TLK_REPOS:
	case TLK_REPO_DIR:
	case TLK_MANIFESTS:
	case TLK_TAGS:
	case TLK_TAG_DIR:
	case TLK_CURRENT:
	case TLK_TAG_INDEX:
	case TLK_TAG_INDEX_ALG:
	case TLK_TAG_INDEX_DIG:
	case TLK_REVISIONS:
	case TLK_REV_ALG:
	case TLK_REV_DIG:
	case TLK_LAYERS:
	case TLK_LAYER_ALG:
	case TLK_LAYER_DIG:
		return true;
	default:
		return false;
	}
}

enum tlk_link_class tlk_layout_link_class(enum tlk_kind kind)
{
	switch (kind) {
	case TLK_CURRENT_LINK:
		return TLK_LINK_TAG;
	case TLK_TAG_INDEX_LINK:
	case TLK_REV_LINK:
	case TLK_LAYER_LINK:
		return TLK_LINK_PATH;
	default:
		return TLK_LINK_NONE;
	}
}

bool tlk_layout_own_digest(const struct tlk_node *node, char *buf, size_t len)
{
	if (tlk_layout_link_class(node->kind) != TLK_LINK_PATH ||
	    !tlk_layout_valid_hex(node->hex) || len < 7 + TLK_HEX_LEN + 1)
		return false;
	memcpy(buf, "sha256:", 7);
	memcpy(buf + 7, node->hex, TLK_HEX_LEN + 1);
	return true;
}

const char *tlk_layout_up_to_tag_dir(enum tlk_kind kind)
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

const char *tlk_layout_revision_to_tags(enum tlk_kind kind)
{
	switch (kind) {
	case TLK_REVISIONS:
		return "../tags";
	case TLK_REV_ALG:
		return "../../tags";
	case TLK_REV_DIG:
		return "../../../tags";
	default:
		return NULL;
	}
}

bool tlk_layout_must_be_file(enum tlk_kind kind)
{
	return tlk_layout_link_class(kind) != TLK_LINK_NONE ||
	       kind == TLK_BLOB_DATA;
}

bool tlk_layout_is_repo_state(enum tlk_kind kind)
{
	if (kind == TLK_ROOT || kind == TLK_DOCKER || kind == TLK_REGISTRY ||
	    kind == TLK_V2 || kind == TLK_REPOS)
		return false;
	return tlk_layout_is_structural_dir(kind) ||
	       tlk_layout_link_class(kind) != TLK_LINK_NONE;
}

int tlk_layout_weight(const struct tlk_node *node)
{
	if (tlk_layout_link_class(node->kind) != TLK_LINK_NONE)
		return 3;
	if (node->kind == TLK_BLOB_DATA)
		return 2;
	return node->in_tree ? 1 : 0;
}

struct tlk_packed_node {
	unsigned char kind;
	bool in_tree;
	unsigned char tag_len;
	unsigned short repo_len;
	char hex[TLK_HEX_LEN + 1];
	char names[]; /* repo, NUL, tag, NUL */
};

struct tlk_packed_node *tlk_layout_pack(const struct tlk_node *node, bool *oom)
{
	size_t rl = strnlen(node->repo, TLK_REPO_MAX - 1);
	size_t tl = strnlen(node->tag, TLK_TAG_MAX);
	struct tlk_packed_node *p;

	*oom = false;
	if (node->kind == TLK_OTHER && !node->in_tree)
		return NULL;
	p = malloc(sizeof(*p) + rl + tl + 2);
	if (!p) {
		*oom = true;
		return NULL;
	}
	p->kind = (unsigned char)node->kind;
	p->in_tree = node->in_tree;
	p->repo_len = (unsigned short)rl;
	p->tag_len = (unsigned char)tl;
	copy_field(p->hex, node->hex, sizeof(p->hex));
	memcpy(p->names, node->repo, rl);
	p->names[rl] = '\0';
	memcpy(p->names + rl + 1, node->tag, tl);
	p->names[rl + 1 + tl] = '\0';
	return p;
}

void tlk_layout_unpack(const struct tlk_packed_node *p, struct tlk_node *out)
{
	if (!p) {
		clear_node(out, TLK_OTHER);
		return;
	}
	out->kind = (enum tlk_kind)p->kind;
	out->in_tree = p->in_tree;
	memcpy(out->repo, p->names, (size_t)p->repo_len + 1);
	memcpy(out->tag, p->names + p->repo_len + 1, (size_t)p->tag_len + 1);
	copy_field(out->hex, p->hex, sizeof(out->hex));
}

bool tlk_layout_is_inspected_file(enum tlk_kind kind)
{
	switch (kind) {
	case TLK_CURRENT_LINK:
	case TLK_CURRENT_TMP:
	case TLK_CURRENT_OTHER:
	case TLK_TAG_INDEX_LINK:
	case TLK_TAG_INDEX_TMP:
	case TLK_REV_LINK:
	case TLK_REV_TMP:
	case TLK_LAYER_LINK:
	case TLK_LAYER_TMP:
	case TLK_BLOB_TMP:
		return true;
	default:
		return false;
	}
}

const char *tlk_layout_kind_name(enum tlk_kind kind)
{
	if ((unsigned)kind >= TLK_KIND_COUNT)
		return "invalid";
	return kind_names[kind];
}

bool tlk_layout_is_blob_data(enum tlk_kind kind)
{
	return kind == TLK_BLOB_DATA;
}

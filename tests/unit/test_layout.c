/* SPDX-License-Identifier: MIT */
/*
 * test_layout.c - the storage layout classifier, checked against the paths
 * a registry really writes and the names that must not fool it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taglockfs/layout.h"

#define H "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H63 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
#define H65 H "0"
#define HUP "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
#define HG "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define V2 "docker/registry/v2/"
#define R V2 "repositories/"
#define LIB R "library/ubuntu/"
#define TAG LIB "_manifests/tags/v1/"
#define REV LIB "_manifests/revisions/"
#define LAY LIB "_layers/"

struct row {
	const char *path;
	enum tlk_kind kind;
	const char *repo;
	const char *tag;
	const char *hex;
};

/* clang-format off */
static const struct row rows[] = {
	/* the way down from the rootdirectory */
	{"", TLK_ROOT, "", "", ""},
	{".", TLK_ROOT, "", "", ""},
	{"/", TLK_ROOT, "", "", ""},
	{"docker", TLK_DOCKER, "", "", ""},
	{"docker/registry", TLK_REGISTRY, "", "", ""},
	{"docker/registry/v2", TLK_V2, "", "", ""},
	{R, TLK_REPOS, "", "", ""},
	{R "library", TLK_REPO_DIR, "library", "", ""},
	{LIB, TLK_REPO_DIR, "library/ubuntu", "", ""},
	{LIB "_manifests", TLK_MANIFESTS, "library/ubuntu", "", ""},
	{LIB "_manifests/tags", TLK_TAGS, "library/ubuntu", "", ""},
	{TAG, TLK_TAG_DIR, "library/ubuntu", "v1", ""},
	{TAG "current", TLK_CURRENT, "library/ubuntu", "v1", ""},
	{TAG "current/link", TLK_CURRENT_LINK, "library/ubuntu", "v1", ""},
	{TAG "current/link.6f1c-a2.tmp", TLK_CURRENT_TMP, "library/ubuntu",
	 "v1", ""},
	{TAG "current/data", TLK_CURRENT_OTHER, "library/ubuntu", "v1", ""},
	{TAG "current/link.tmp", TLK_CURRENT_OTHER, "library/ubuntu", "v1",
	 ""},
	{TAG "index", TLK_TAG_INDEX, "library/ubuntu", "v1", ""},
	{TAG "index/sha256", TLK_TAG_INDEX_ALG, "library/ubuntu", "v1", ""},
	{TAG "index/sha256/" H, TLK_TAG_INDEX_DIG, "library/ubuntu", "v1", H},
	{TAG "index/sha256/" H "/link", TLK_TAG_INDEX_LINK, "library/ubuntu",
	 "v1", H},
	{TAG "index/sha256/" H "/link.x.tmp", TLK_TAG_INDEX_TMP,
	 "library/ubuntu", "v1", H},
	{REV, TLK_REVISIONS, "library/ubuntu", "", ""},
	{REV "sha256", TLK_REV_ALG, "library/ubuntu", "", ""},
	{REV "sha256/" H, TLK_REV_DIG, "library/ubuntu", "", H},
	{REV "sha256/" H "/link", TLK_REV_LINK, "library/ubuntu", "", H},
	{REV "sha256/" H "/link.x.tmp", TLK_REV_TMP, "library/ubuntu", "", H},
	/* layer links: <repo>/_layers/sha256/<hex>/link */
	{LAY, TLK_LAYERS, "library/ubuntu", "", ""},
	{LAY "sha256", TLK_LAYER_ALG, "library/ubuntu", "", ""},
	{LAY "sha256/" H, TLK_LAYER_DIG, "library/ubuntu", "", H},
	{LAY "sha256/" H "/link", TLK_LAYER_LINK, "library/ubuntu", "", H},
	{LAY "sha256/" H "/link.7c1e-44.tmp", TLK_LAYER_TMP, "library/ubuntu",
	 "", H},
	{LAY "sha512", TLK_OTHER, "", "", ""},
	{LAY "sha256/" H63, TLK_OTHER, "", "", ""},
	{LAY "sha256/" HUP "/link", TLK_OTHER, "", "", ""},
	/* any other name in a digest directory is a temporary file */
	{LAY "sha256/" H "/data", TLK_LAYER_TMP, "library/ubuntu", "", H},
	{LAY "sha256/" H "/link.tmp", TLK_LAYER_TMP, "library/ubuntu", "", H},
	{LAY "sha256/" H "/link/link", TLK_OTHER, "", "", ""},
	{LAY "link", TLK_OTHER, "", "", ""},
	{"repositories/a/_layers/sha256/" H "/link", TLK_LAYER_LINK, "a", "",
	 H},
	{LIB "_Layers", TLK_OTHER, "", "", ""},
	/* a mount at docker/registry/v2 */
	{"repositories", TLK_REPOS, "", "", ""},
	{"repositories/a/_manifests/tags/t/current/link", TLK_CURRENT_LINK,
	 "a", "t", ""},
	{"repositories/a/_manifests/revisions/sha256/" H "/link",
	 TLK_REV_LINK, "a", "", H},
	/* separators: repeated, leading, trailing and "." are ignored */
	{"//docker///registry/", TLK_REGISTRY, "", "", ""},
	{"./docker/./registry/.", TLK_REGISTRY, "", "", ""},
	{"/" TAG "/current//link", TLK_CURRENT_LINK, "library/ubuntu", "v1",
	 ""},
	/* ".." anywhere makes the result OTHER */
	{"..", TLK_OTHER, "", "", ""},
	{"../docker", TLK_OTHER, "", "", ""},
	{"docker/..", TLK_OTHER, "", "", ""},
	{"docker/registry/../registry", TLK_OTHER, "", "", ""},
	{TAG "current/..", TLK_OTHER, "", "", ""},
	{TAG "../v1/current/link", TLK_OTHER, "", "", ""},
	{"docker/registry/v2/..x", TLK_OTHER, "", "", ""},
	/* names that are not part of the tree */
	{"v2", TLK_OTHER, "", "", ""},
	{"registry", TLK_OTHER, "", "", ""},
	{"Docker", TLK_OTHER, "", "", ""},
	{"docker/repositories", TLK_OTHER, "", "", ""},
	{"docker/registry/V2", TLK_OTHER, "", "", ""},
	{"docker/registry/v3", TLK_OTHER, "", "", ""},
	{V2 "Repositories", TLK_OTHER, "", "", ""},
	{V2 "blobs", TLK_BLOBS, "", "", ""},
	{V2 "blobs/sha256", TLK_BLOB_ALG, "", "", ""},
	{V2 "blobs/sha256/01", TLK_BLOB_PREFIX, "", "", "01"},
	{V2 "blobs/sha256/01/" H, TLK_BLOB_DIG, "", "", H},
	{V2 "blobs/sha256/01/" H "/data", TLK_BLOB_DATA, "", "", H},
	{"blobs/sha256/01/" H "/data", TLK_BLOB_DATA, "", "", H},
	/* the prefix directory must be the digest's first two hex digits */
	{V2 "blobs/sha256/02/" H "/data", TLK_OTHER, "", "", ""},
	{V2 "blobs/sha256/0/" H, TLK_OTHER, "", "", ""},
	{V2 "blobs/sha256/0A", TLK_OTHER, "", "", ""},
	/* any other name in a blob's directory is its temporary file */
	{V2 "blobs/sha256/01/" H "/datax", TLK_BLOB_TMP, "", "", H},
	{V2 "blobs/sha512", TLK_OTHER, "", "", ""},
	{LIB "_uploads/u/data", TLK_OTHER, "", "", ""},
	{LIB "_uploads/_manifests/tags/v1/current/link", TLK_OTHER, "", "",
	 ""},
	{LIB "_Manifests", TLK_OTHER, "", "", ""},
	{LIB "_manifests/tag", TLK_OTHER, "", "", ""},
	{LIB "_manifests/tags/v1/Current", TLK_OTHER, "", "", ""},
	{LIB "_manifests/tags/v1/links", TLK_OTHER, "", "", ""},
	{TAG "index/sha512", TLK_OTHER, "", "", ""},
	{TAG "index/sha256/" H "/data", TLK_TAG_INDEX_TMP, "library/ubuntu",
	 "v1", H},
	{REV "sha512/" H "/link", TLK_OTHER, "", "", ""},
	{REV "sha256/" H "/data", TLK_REV_TMP, "library/ubuntu", "", H},
	/* names called like the tree's own directories */
	{"repositories/lib/tags/current/_manifests/tags/_manifests/current/"
	 "link",
	 TLK_CURRENT_LINK, "lib/tags/current", "_manifests", ""},
	{R "docker/registry/v2/repositories/_manifests/tags/x", TLK_TAG_DIR,
	 "docker/registry/v2/repositories", "x", ""},
	{R "index/link/sha256/_manifests/tags/index/index/sha256/" H "/link",
	 TLK_TAG_INDEX_LINK, "index/link/sha256", "index", H},
	{R "a/_manifests/tags/link/current/link", TLK_CURRENT_LINK, "a",
	 "link", ""},
	{R "a/_manifests/tags/tags/current", TLK_CURRENT, "a", "tags", ""},
	{R "a/_manifests/tags/revisions", TLK_TAG_DIR, "a", "revisions", ""},
	{R "a/_manifests/tags/sha256/index", TLK_TAG_INDEX, "a", "sha256",
	 ""},
	/* tag grammar */
	{R "a/_manifests/tags/_x", TLK_TAG_DIR, "a", "_x", ""},
	{R "a/_manifests/tags/_", TLK_TAG_DIR, "a", "_", ""},
	{R "a/_manifests/tags/V1.2-rc_3", TLK_TAG_DIR, "a", "V1.2-rc_3", ""},
	{R "a/_manifests/tags/sha256-" H ".sig", TLK_TAG_DIR, "a",
	 "sha256-" H ".sig", ""},
	{R "a/_manifests/tags/.x", TLK_OTHER, "", "", ""},
	{R "a/_manifests/tags/-x", TLK_OTHER, "", "", ""},
	{R "a/_manifests/tags/x:y", TLK_OTHER, "", "", ""},
	{R "a/_manifests/tags/x y", TLK_OTHER, "", "", ""},
	{R "a/_manifests/tags/x+y/current/link", TLK_OTHER, "", "", ""},
	/* digest directories */
	{TAG "index/sha256/" H63, TLK_OTHER, "", "", ""},
	{TAG "index/sha256/" H65, TLK_OTHER, "", "", ""},
	{TAG "index/sha256/" HUP "/link", TLK_OTHER, "", "", ""},
	{TAG "index/sha256/" HG, TLK_OTHER, "", "", ""},
	{REV "sha256/" H63 "/link", TLK_OTHER, "", "", ""},
	{REV "sha256/" H65, TLK_OTHER, "", "", ""},
	{REV "sha256/" HUP, TLK_OTHER, "", "", ""},
	{REV "sha256/" HG "/link", TLK_OTHER, "", "", ""},
	/* temp files of distribution 3.1+ */
	{TAG "current/link.x.tmp", TLK_CURRENT_TMP, "library/ubuntu", "v1",
	 ""},
	{TAG "current/link..tmp", TLK_CURRENT_OTHER, "library/ubuntu", "v1",
	 ""},
	{TAG "current/link.x.tmpx", TLK_CURRENT_OTHER, "library/ubuntu", "v1",
	 ""},
	{TAG "current/xlink.x.tmp", TLK_CURRENT_OTHER, "library/ubuntu", "v1",
	 ""},
	{TAG "current/link.", TLK_CURRENT_OTHER, "library/ubuntu", "v1", ""},
	{TAG "current/Link", TLK_CURRENT_OTHER, "library/ubuntu", "v1", ""},
	{TAG "index/sha256/" H "/link.tmp", TLK_TAG_INDEX_TMP, "library/ubuntu",
	 "v1", H},
	{REV "sha256/" H "/link..tmp", TLK_REV_TMP, "library/ubuntu",
	 "", H},
	/* children of leaves are OTHER */
	{TAG "current/link/x", TLK_OTHER, "", "", ""},
	{TAG "current/link/link", TLK_OTHER, "", "", ""},
	{TAG "current/link.x.tmp/link", TLK_OTHER, "", "", ""},
	{TAG "current/data/link", TLK_OTHER, "", "", ""},
	{TAG "index/sha256/" H "/link/link", TLK_OTHER, "", "", ""},
	{REV "sha256/" H "/link/sha256", TLK_OTHER, "", "", ""},
	/* repository component grammar */
	{R "0", TLK_REPO_DIR, "0", "", ""},
	{R "a.b", TLK_REPO_DIR, "a.b", "", ""},
	{R "a_b", TLK_REPO_DIR, "a_b", "", ""},
	{R "a__b", TLK_REPO_DIR, "a__b", "", ""},
	{R "a-b", TLK_REPO_DIR, "a-b", "", ""},
	{R "a---b", TLK_REPO_DIR, "a---b", "", ""},
	{R "a.b-c_d__e9", TLK_REPO_DIR, "a.b-c_d__e9", "", ""},
	{R "a/b.c/d--e", TLK_REPO_DIR, "a/b.c/d--e", "", ""},
	{R "a..b", TLK_OTHER, "", "", ""},
	{R "a___b", TLK_OTHER, "", "", ""},
	{R "a._b", TLK_OTHER, "", "", ""},
	{R "a_-b", TLK_OTHER, "", "", ""},
	{R "a-.b", TLK_OTHER, "", "", ""},
	{R ".a", TLK_OTHER, "", "", ""},
	{R "-a", TLK_OTHER, "", "", ""},
	{R "_a", TLK_OTHER, "", "", ""},
	{R "_manifests", TLK_OTHER, "", "", ""},
	{R "a-", TLK_OTHER, "", "", ""},
	{R "a.", TLK_OTHER, "", "", ""},
	{R "a_", TLK_OTHER, "", "", ""},
	{R "A", TLK_OTHER, "", "", ""},
	{R "aB", TLK_OTHER, "", "", ""},
	{R "a b", TLK_OTHER, "", "", ""},
	{R "a:5000", TLK_OTHER, "", "", ""},
	{R "caf\xc3\xa9", TLK_OTHER, "", "", ""},
	{R "a/.b", TLK_OTHER, "", "", ""},
	{R "a/-b/_manifests", TLK_OTHER, "", "", ""},
	{R "a/B/_manifests/tags/t", TLK_OTHER, "", "", ""},
};
/* clang-format on */

/* The spec of in_tree, apart from the classifier: a node is in the
 * registry's tree when the first real component of its path is docker/ or,
 * for a mount at docker/registry/v2, repositories/ or blobs/. */
static bool want_in_tree(const char *path)
{
	const char *p = path;
	size_t n;

	for (;;) {
		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n != 1 || p[0] != '.')
			break;
		p++;
	}
	return (n == 6 && memcmp(p, "docker", n) == 0) ||
	       (n == 12 && memcmp(p, "repositories", n) == 0) ||
	       (n == 5 && memcmp(p, "blobs", n) == 0);
}

static void check_node(const char *what, const struct tlk_node *got,
		       enum tlk_kind kind, const char *repo, const char *tag,
		       const char *hex)
{
	if (got->kind == kind && strcmp(got->repo, repo) == 0 &&
	    strcmp(got->tag, tag) == 0 && strcmp(got->hex, hex) == 0)
		return;
	print_error("%s:\n  want %s repo=\"%s\" tag=\"%s\" hex=\"%s\"\n"
		    "  got  %s repo=\"%s\" tag=\"%s\" hex=\"%s\"\n",
		    what, tlk_layout_kind_name(kind), repo, tag, hex,
		    tlk_layout_kind_name(got->kind), got->repo, got->tag,
		    got->hex);
	fail();
}

static void check_in_tree(const char *what, const struct tlk_node *got,
			  bool want)
{
	if (got->in_tree == want)
		return;
	print_error("%s (%s): in_tree %d, want %d\n", what,
		    tlk_layout_kind_name(got->kind), got->in_tree, want);
	fail();
}

static void test_path_table(void **state)
{
	struct tlk_node node;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];

		tlk_layout_path(r->path, &node);
		check_node(r->path, &node, r->kind, r->repo, r->tag, r->hex);
		check_in_tree(r->path, &node, want_in_tree(r->path));
	}
}

/* Walk `path` one component at a time, as the daemon's lookup does. */
static void walk(const char *path, struct tlk_node *node)
{
	char buf[1024];
	char *save = NULL;

	assert_true(strlen(path) < sizeof(buf));
	strcpy(buf, path);
	tlk_layout_root(node);
	for (char *c = strtok_r(buf, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		struct tlk_node next;

		if (strcmp(c, ".") == 0)
			continue;
		tlk_layout_child(node, c, &next);
		*node = next;
	}
}

/* tlk_layout_child step by step agrees with tlk_layout_path. */
static void test_child_walk_matches_path(void **state)
{
	struct tlk_node node;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];

		walk(r->path, &node);
		check_node(r->path, &node, r->kind, r->repo, r->tag, r->hex);
		check_in_tree(r->path, &node, want_in_tree(r->path));
	}
}

struct tree_case {
	const char *path;
	enum tlk_kind kind;
	bool in_tree;
};

/* in_tree spelled out, whatever the kind: the registry's tree includes the
 * names it does not know below v2 (uploads, a stray file), nothing at the
 * root apart from docker/ (and repositories/, blobs/ for a mount at v2). */
static void test_in_tree(void **state)
{
	/* clang-format off */
	static const struct tree_case cases[] = {
		{"", TLK_ROOT, false},
		{".", TLK_ROOT, false},
		{"foo", TLK_OTHER, false},
		{"foo/bar", TLK_OTHER, false},
		{"foo/docker/registry/v2", TLK_OTHER, false},
		{"v2", TLK_OTHER, false},
		{"Docker", TLK_OTHER, false},
		{"..", TLK_OTHER, false},
		{"docker", TLK_DOCKER, true},
		{"docker/registry", TLK_REGISTRY, true},
		{"docker/registry/v2", TLK_V2, true},
		{"docker/foo", TLK_OTHER, true},
		{V2 "foo", TLK_OTHER, true},
		{V2 "foo/bar", TLK_OTHER, true},
		{R, TLK_REPOS, true},
		{R "A", TLK_OTHER, true},
		{LIB, TLK_REPO_DIR, true},
		{LIB "_uploads", TLK_OTHER, true},
		{LIB "_uploads/x", TLK_OTHER, true},
		{LIB "_uploads/5f2d/data", TLK_OTHER, true},
		{TAG "current/link", TLK_CURRENT_LINK, true},
		{TAG "current/link.1.tmp", TLK_CURRENT_TMP, true},
		{TAG "index/sha256/" H "/stray", TLK_TAG_INDEX_TMP, true},
		{V2 "blobs/sha256/01/" H "/data", TLK_BLOB_DATA, true},
		{"repositories", TLK_REPOS, true},
		{"repositories/a/_uploads/x", TLK_OTHER, true},
		{"blobs", TLK_BLOBS, true},
		{"blobs/sha256/zz", TLK_OTHER, true},
	};
	/* clang-format on */
	struct tlk_node node, child;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tree_case *c = &cases[i];

		tlk_layout_path(c->path, &node);
		assert_string_equal(tlk_layout_kind_name(node.kind),
				    tlk_layout_kind_name(c->kind));
		check_in_tree(c->path, &node, c->in_tree);
		walk(c->path, &node);
		check_in_tree(c->path, &node, c->in_tree);
	}

	/* one step at a time: out of the tree stays out, in stays in */
	tlk_layout_root(&node);
	tlk_layout_child(&node, "foo", &child);
	check_in_tree("root/foo", &child, false);
	tlk_layout_child(&child, "docker", &child);
	check_in_tree("root/foo/docker", &child, false);
	tlk_layout_child(&node, "docker", &child);
	check_in_tree("root/docker", &child, true);
	tlk_layout_path(LIB "_uploads", &node);
	tlk_layout_child(&node, "x", &child);
	check_in_tree("_uploads/x", &child, true);
	assert_int_equal(child.kind, TLK_OTHER);
	tlk_layout_child(&child, "link", &child);
	check_in_tree("_uploads/x/link", &child, true);
	assert_int_equal(child.kind, TLK_OTHER);
}

/* out aliasing parent gives the same answer as a separate out. */
static void test_child_in_place(void **state)
{
	static const char *const names[] = {
	    "docker",	  "registry", "v2", "repositories", "my",     "app",
	    "_manifests", "tags",     "_x", "index",	    "sha256", H,
	    "link.1.tmp"};
	struct tlk_node node;

	(void)state;
	tlk_layout_root(&node);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		tlk_layout_child(&node, names[i], &node);
	check_node("in place", &node, TLK_TAG_INDEX_TMP, "my/app", "_x", H);
	assert_true(node.in_tree);
}

/* A separate out is fully written (no stale bytes) and parent untouched. */
static void test_child_separate_out(void **state)
{
	struct tlk_node parent, out;

	(void)state;
	tlk_layout_path(TAG "current", &parent);
	memset(&out, 'Z', sizeof(out));
	tlk_layout_child(&parent, "link", &out);
	check_node("link", &out, TLK_CURRENT_LINK, "library/ubuntu", "v1", "");
	check_node("parent", &parent, TLK_CURRENT, "library/ubuntu", "v1", "");
	assert_true(out.in_tree);

	memset(&out, 'Z', sizeof(out));
	tlk_layout_child(&parent, "..", &out);
	check_node("..", &out, TLK_OTHER, "", "", "");

	tlk_layout_root(&parent);
	memset(&out, 'Z', sizeof(out));
	tlk_layout_child(&parent, "foo", &out);
	check_node("foo", &out, TLK_OTHER, "", "", "");
	assert_false(out.in_tree);
}

/* One node of every kind, for the per-kind checks below. */
/* clang-format off */
static const char *const kind_paths[TLK_KIND_COUNT] = {
	[TLK_OTHER] = V2 "blobz",
	[TLK_ROOT] = "",
	[TLK_DOCKER] = "docker",
	[TLK_REGISTRY] = "docker/registry",
	[TLK_V2] = "docker/registry/v2",
	[TLK_REPOS] = R,
	[TLK_REPO_DIR] = LIB,
	[TLK_MANIFESTS] = LIB "_manifests",
	[TLK_TAGS] = LIB "_manifests/tags",
	[TLK_TAG_DIR] = TAG,
	[TLK_CURRENT] = TAG "current",
	[TLK_CURRENT_LINK] = TAG "current/link",
	[TLK_CURRENT_TMP] = TAG "current/link.a.tmp",
	[TLK_CURRENT_OTHER] = TAG "current/other",
	[TLK_TAG_INDEX] = TAG "index",
	[TLK_TAG_INDEX_ALG] = TAG "index/sha256",
	[TLK_TAG_INDEX_DIG] = TAG "index/sha256/" H,
	[TLK_TAG_INDEX_LINK] = TAG "index/sha256/" H "/link",
	[TLK_TAG_INDEX_TMP] = TAG "index/sha256/" H "/link.b.tmp",
	[TLK_REVISIONS] = REV,
	[TLK_REV_ALG] = REV "sha256",
	[TLK_REV_DIG] = REV "sha256/" H,
	[TLK_REV_LINK] = REV "sha256/" H "/link",
	[TLK_REV_TMP] = REV "sha256/" H "/link.c.tmp",
	[TLK_LAYERS] = LAY,
	[TLK_LAYER_ALG] = LAY "sha256",
	[TLK_LAYER_DIG] = LAY "sha256/" H,
	[TLK_LAYER_LINK] = LAY "sha256/" H "/link",
	[TLK_LAYER_TMP] = LAY "sha256/" H "/link.d.tmp",
	[TLK_BLOBS] = V2 "blobs",
	[TLK_BLOB_ALG] = V2 "blobs/sha256",
	[TLK_BLOB_PREFIX] = V2 "blobs/sha256/01",
	[TLK_BLOB_DIG] = V2 "blobs/sha256/01/" H,
	[TLK_BLOB_DATA] = V2 "blobs/sha256/01/" H "/data",
	[TLK_BLOB_TMP] = V2 "blobs/sha256/01/" H "/data.5c1e.tmp",
};
/* clang-format on */

static void node_of_kind(enum tlk_kind k, struct tlk_node *node)
{
	assert_non_null(kind_paths[k]);
	tlk_layout_path(kind_paths[k], node);
	assert_string_equal(tlk_layout_kind_name(node->kind),
			    tlk_layout_kind_name(k));
}

/* ".", ".." and "" are OTHER below every kind (even inside current/). */
static void test_dot_names_everywhere(void **state)
{
	static const char *const dots[] = {".", "..", ""};
	struct tlk_node parent, out;

	(void)state;
	for (int k = 0; k < TLK_KIND_COUNT; k++) {
		node_of_kind((enum tlk_kind)k, &parent);
		for (size_t d = 0; d < 3; d++) {
			tlk_layout_child(&parent, dots[d], &out);
			check_node(dots[d], &out, TLK_OTHER, "", "", "");
		}
	}
}

/* Leaves and OTHER have no children that matter, whatever the name. */
static void test_children_of_leaves(void **state)
{
	static const enum tlk_kind leaves[] = {
	    TLK_OTHER,	       TLK_CURRENT_LINK,   TLK_CURRENT_TMP,
	    TLK_CURRENT_OTHER, TLK_TAG_INDEX_LINK, TLK_TAG_INDEX_TMP,
	    TLK_REV_LINK,      TLK_REV_TMP,	   TLK_LAYER_LINK,
	    TLK_LAYER_TMP,     TLK_BLOB_DATA};
	static const char *const names[] = {
	    "link", "link.x.tmp", "current", "index",	     "sha256",
	    H,	    "_manifests", "tags",    "repositories", "docker",
	    "a",    "data",	  "_layers", "blobs"};
	struct tlk_node parent, out;

	(void)state;
	for (size_t l = 0; l < sizeof(leaves) / sizeof(leaves[0]); l++) {
		node_of_kind(leaves[l], &parent);
		for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
			tlk_layout_child(&parent, names[n], &out);
			check_node(names[n], &out, TLK_OTHER, "", "", "");
			check_in_tree(names[n], &out, true);
		}
	}
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

__attribute__((format(printf, 2, 3))) static void
classify_fmt(struct tlk_node *node, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	tlk_layout_path(buf, node);
}

/* Repository names are capped at 255 bytes, in one component or many. */
static void test_repo_length_limit(void **state)
{
	char *c255 = repeat('a', 255), *c256 = repeat('a', 256);
	char *c127 = repeat('b', 127), *c128 = repeat('b', 128);
	char want[300];
	struct tlk_node node;

	(void)state;
	classify_fmt(&node, R "%s/_manifests/tags/t", c255);
	check_node("255-byte repo", &node, TLK_TAG_DIR, c255, "t", "");
	classify_fmt(&node, R "%s", c256);
	check_node("256-byte repo", &node, TLK_OTHER, "", "", "");

	snprintf(want, sizeof(want), "%s/%s", c127, c127);
	classify_fmt(&node, R "%s/%s/_manifests/tags/t/current/link", c127,
		     c127);
	check_node("255 = 127/127", &node, TLK_CURRENT_LINK, want, "t", "");
	classify_fmt(&node, R "%s/%s", c127, c128);
	check_node("256 = 127/128", &node, TLK_OTHER, "", "", "");
	classify_fmt(&node, R "%s/%s/_manifests/tags/t", c127, c128);
	check_node("256 below", &node, TLK_OTHER, "", "", "");
	free(c255);
	free(c256);
	free(c127);
	free(c128);
}

/* Tags may be 128 characters, not 129. */
static void test_tag_length_limit(void **state)
{
	char *t128 = repeat('T', 128), *t129 = repeat('T', 129);
	struct tlk_node node;

	(void)state;
	t128[0] = '_';
	t129[0] = '_';
	classify_fmt(&node, R "r/_manifests/tags/%s/current/link", t128);
	check_node("128-char tag", &node, TLK_CURRENT_LINK, "r", t128, "");
	classify_fmt(&node, R "r/_manifests/tags/%s", t129);
	check_node("129-char tag", &node, TLK_OTHER, "", "", "");
	classify_fmt(&node, R "r/_manifests/tags/%s/current/link", t129);
	check_node("129-char tag link", &node, TLK_OTHER, "", "", "");
	assert_true(tlk_layout_valid_tag(t128));
	assert_false(tlk_layout_valid_tag(t129));
	free(t128);
	free(t129);
}

/* A path far longer than any real one ends as OTHER without overflow. */
static void test_huge_path(void **state)
{
	size_t n = 1 << 20;
	char *p = malloc(n + 32);
	struct tlk_node node;
	size_t off;

	(void)state;
	assert_non_null(p);
	off = (size_t)sprintf(p, "repositories/");
	while (off + 2 < n) {
		p[off++] = 'a';
		p[off++] = '/';
	}
	p[off] = '\0';
	tlk_layout_path(p, &node);
	check_node("huge", &node, TLK_OTHER, "", "", "");

	/* one component longer than NAME_MAX */
	memset(p, 'a', 300);
	p[300] = '\0';
	tlk_layout_path(TAG "current", &node);
	tlk_layout_child(&node, p, &node);
	check_node("300-byte name", &node, TLK_OTHER, "", "", "");
	free(p);
}

struct str_case {
	const char *s;
	bool ok;
};

static void check_pred(const char *what, bool (*pred)(const char *),
		       const struct str_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (pred(cases[i].s) == cases[i].ok)
			continue;
		print_error("%s(\"%s\"): want %d\n", what, cases[i].s,
			    cases[i].ok);
		fail();
	}
}

static void test_valid_tag(void **state)
{
	static const struct str_case cases[] = {
	    {"latest", true}, {"v1.2.3", true},	    {"_", true},
	    {"_x", true},     {"9", true},	    {"A-b_c.D", true},
	    {"", false},      {".x", false},	    {"-x", false},
	    {"x/y", false},   {"x:y", false},	    {"x@y", false},
	    {"x\ny", false},  {"t\xc3\xa9", false},
	};

	(void)state;
	check_pred("valid_tag", tlk_layout_valid_tag, cases,
		   sizeof(cases) / sizeof(cases[0]));
	assert_false(tlk_layout_valid_tag(NULL));
}

static void test_valid_hex(void **state)
{
	static const struct str_case cases[] = {
	    {H, true},	 {H63, false}, {H65, false},	     {HUP, false},
	    {HG, false}, {"", false},  {"sha256:" H, false},
	};

	(void)state;
	check_pred("valid_hex", tlk_layout_valid_hex, cases,
		   sizeof(cases) / sizeof(cases[0]));
	assert_false(tlk_layout_valid_hex(NULL));
}

static void test_is_link_tmp(void **state)
{
	static const struct str_case cases[] = {
	    {"link.x.tmp", true},
	    {"link.0f8e2c3a-9d1b-4a55-8c1e-2b3d4e5f6a7b.tmp", true},
	    {"link...tmp", true},
	    {"link.tmp", false},
	    {"link..tmp", false},
	    {"link.x.tmpx", false},
	    {"xlink.x.tmp", false},
	    {"link.x.TMP", false},
	    {"Link.x.tmp", false},
	    {"link", false},
	    {"link.x", false},
	    {"", false},
	};

	(void)state;
	check_pred("is_link_tmp", tlk_layout_is_link_tmp, cases,
		   sizeof(cases) / sizeof(cases[0]));
	assert_false(tlk_layout_is_link_tmp(NULL));
}

struct kind_case {
	enum tlk_kind kind;
	const char *name;
	bool structural;
	bool inspected;
	enum tlk_link_class link_class;
	bool must_be_file;
	bool repo_state;
	const char *up_to_tag_dir;
	const char *revision_to_tags;
};

#define NONE TLK_LINK_NONE
#define TAGL TLK_LINK_TAG
#define PATHL TLK_LINK_PATH

/* kind, name, structural, inspected, link class, must be a file, repo
 * state, up to the tag dir, revision dir to tags/ */
/* clang-format off */
static const struct kind_case kinds[TLK_KIND_COUNT] = {
	{TLK_OTHER, "other", false, false, NONE, false, false, NULL, NULL},
	{TLK_ROOT, "root", true, false, NONE, false, false, NULL, NULL},
	{TLK_DOCKER, "docker", true, false, NONE, false, false, NULL, NULL},
	{TLK_REGISTRY, "registry", true, false, NONE, false, false, NULL,
	 NULL},
	{TLK_V2, "v2", true, false, NONE, false, false, NULL, NULL},
	{TLK_REPOS, "repos", true, false, NONE, false, false, NULL, NULL},
	{TLK_REPO_DIR, "repo_dir", true, false, NONE, false, true, NULL, NULL},
	{TLK_MANIFESTS, "manifests", true, false, NONE, false, true, NULL,
	 NULL},
	{TLK_TAGS, "tags", true, false, NONE, false, true, NULL, NULL},
	{TLK_TAG_DIR, "tag_dir", true, false, NONE, false, true, ".", NULL},
	{TLK_CURRENT, "current", true, false, NONE, false, true, "..", NULL},
	{TLK_CURRENT_LINK, "current_link", false, true, TAGL, true, true, NULL,
	 NULL},
	{TLK_CURRENT_TMP, "current_tmp", false, true, NONE, false, false, NULL,
	 NULL},
	{TLK_CURRENT_OTHER, "current_other", false, true, NONE, false, false,
	 NULL, NULL},
	{TLK_TAG_INDEX, "tag_index", true, false, NONE, false, true, "..",
	 NULL},
	{TLK_TAG_INDEX_ALG, "tag_index_alg", true, false, NONE, false, true,
	 "../..", NULL},
	{TLK_TAG_INDEX_DIG, "tag_index_dig", true, false, NONE, false, true,
	 "../../..", NULL},
	{TLK_TAG_INDEX_LINK, "tag_index_link", false, true, PATHL, true, true,
	 NULL, NULL},
	{TLK_TAG_INDEX_TMP, "tag_index_tmp", false, true, NONE, false, false,
	 NULL, NULL},
	{TLK_REVISIONS, "revisions", true, false, NONE, false, true, NULL,
	 "../tags"},
	{TLK_REV_ALG, "rev_alg", true, false, NONE, false, true, NULL,
	 "../../tags"},
	{TLK_REV_DIG, "rev_dig", true, false, NONE, false, true, NULL,
	 "../../../tags"},
	{TLK_REV_LINK, "rev_link", false, true, PATHL, true, true, NULL, NULL},
	{TLK_REV_TMP, "rev_tmp", false, true, NONE, false, false, NULL, NULL},
	{TLK_LAYERS, "layers", true, false, NONE, false, true, NULL, NULL},
	{TLK_LAYER_ALG, "layer_alg", true, false, NONE, false, true, NULL,
	 NULL},
	{TLK_LAYER_DIG, "layer_dig", true, false, NONE, false, true, NULL,
	 NULL},
	{TLK_LAYER_LINK, "layer_link", false, true, PATHL, true, true, NULL,
	 NULL},
	{TLK_LAYER_TMP, "layer_tmp", false, true, NONE, false, false, NULL,
	 NULL},
	{TLK_BLOBS, "blobs", false, false, NONE, false, false, NULL, NULL},
	{TLK_BLOB_ALG, "blob_alg", false, false, NONE, false, false, NULL,
	 NULL},
	{TLK_BLOB_PREFIX, "blob_prefix", false, false, NONE, false, false, NULL,
	 NULL},
	{TLK_BLOB_DIG, "blob_dig", false, false, NONE, false, false, NULL,
	 NULL},
	{TLK_BLOB_DATA, "blob_data", false, false, NONE, true, false, NULL,
	 NULL},
	{TLK_BLOB_TMP, "blob_tmp", false, true, NONE, false, false, NULL,
	 NULL},
};
/* clang-format on */

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void test_kind_predicates_and_names(void **state)
{
	(void)state;
	for (int i = 0; i < TLK_KIND_COUNT; i++) {
		const struct kind_case *c = &kinds[i];
		const char *up = tlk_layout_up_to_tag_dir(c->kind);
		const char *rt = tlk_layout_revision_to_tags(c->kind);

		assert_int_equal(c->kind, i);
		assert_string_equal(tlk_layout_kind_name(c->kind), c->name);
		if (tlk_layout_is_structural_dir(c->kind) != c->structural ||
		    tlk_layout_is_inspected_file(c->kind) != c->inspected ||
		    tlk_layout_link_class(c->kind) != c->link_class ||
		    tlk_layout_must_be_file(c->kind) != c->must_be_file ||
		    tlk_layout_is_repo_state(c->kind) != c->repo_state ||
		    !same_str(up, c->up_to_tag_dir) ||
		    !same_str(rt, c->revision_to_tags)) {
			print_error("predicates wrong for %s: structural %d "
				    "inspected %d class %d file %d state %d "
				    "up \"%s\" tags \"%s\"\n",
				    c->name,
				    tlk_layout_is_structural_dir(c->kind),
				    tlk_layout_is_inspected_file(c->kind),
				    tlk_layout_link_class(c->kind),
				    tlk_layout_must_be_file(c->kind),
				    tlk_layout_is_repo_state(c->kind),
				    up ? up : "(null)", rt ? rt : "(null)");
			fail();
		}
	}
	for (int i = 0; i < TLK_KIND_COUNT; i++)
		assert_int_equal(tlk_layout_is_blob_data((enum tlk_kind)i),
				 i == TLK_BLOB_DATA);
	assert_non_null(tlk_layout_kind_name(TLK_KIND_COUNT));
	assert_non_null(tlk_layout_kind_name((enum tlk_kind) - 1));
	assert_false(tlk_layout_is_structural_dir(TLK_KIND_COUNT));
	assert_false(tlk_layout_is_inspected_file(TLK_KIND_COUNT));
	assert_int_equal(tlk_layout_link_class(TLK_KIND_COUNT), TLK_LINK_NONE);
	assert_false(tlk_layout_must_be_file(TLK_KIND_COUNT));
	assert_false(tlk_layout_is_repo_state(TLK_KIND_COUNT));
	assert_null(tlk_layout_up_to_tag_dir(TLK_KIND_COUNT));
	assert_null(tlk_layout_revision_to_tags(TLK_KIND_COUNT));
}

/* `base` + "/" + `rel` with "." and ".." resolved, as the kernel would. */
static void resolve(const char *base, const char *rel, char *out, size_t len)
{
	char buf[1024];
	char *save = NULL;
	size_t o = 0;

	assert_true((size_t)snprintf(buf, sizeof(buf), "%s/%s", base, rel) <
		    sizeof(buf));
	out[0] = '\0';
	for (char *c = strtok_r(buf, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			char *slash = strrchr(out, '/');

			assert_true(o > 0);
			o = slash ? (size_t)(slash - out) : 0;
			out[o] = '\0';
			continue;
		}
		assert_true(o + 1 + strlen(c) < len);
		o += (size_t)sprintf(out + o, "%s%s", o ? "/" : "", c);
	}
}

/* The relative paths lead where they say: from every directory of a tag
 * up to the tag directory, from every revision directory to tags/. */
static void test_relative_paths_lead_there(void **state)
{
	char path[1024];
	struct tlk_node from, to;
	int ups = 0, revs = 0;

	(void)state;
	for (int k = 0; k < TLK_KIND_COUNT; k++) {
		const char *up = tlk_layout_up_to_tag_dir((enum tlk_kind)k);
		const char *rt = tlk_layout_revision_to_tags((enum tlk_kind)k);

		node_of_kind((enum tlk_kind)k, &from);
		if (up) {
			resolve(kind_paths[k], up, path, sizeof(path));
			tlk_layout_path(path, &to);
			check_node(path, &to, TLK_TAG_DIR, from.repo, from.tag,
				   "");
			ups++;
		}
		if (rt) {
			resolve(kind_paths[k], rt, path, sizeof(path));
			tlk_layout_path(path, &to);
			check_node(path, &to, TLK_TAGS, from.repo, "", "");
			revs++;
		}
	}
	assert_int_equal(ups, 5);
	assert_int_equal(revs, 3);
}

struct digest_case {
	const char *path;
	const char *want; /* NULL: no own digest */
};

#define H2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void test_own_digest(void **state)
{
	/* clang-format off */
	static const struct digest_case cases[] = {
		{TAG "index/sha256/" H "/link", "sha256:" H},
		{TAG "index/sha256/" H2 "/link", "sha256:" H2},
		{REV "sha256/" H "/link", "sha256:" H},
		{REV "sha256/" H2 "/link", "sha256:" H2},
		{LAY "sha256/" H "/link", "sha256:" H},
		{LAY "sha256/" H2 "/link", "sha256:" H2},
		{"repositories/a/_layers/sha256/" H2 "/link", "sha256:" H2},
		{TAG "current/link", NULL},
		{TAG "index/sha256/" H, NULL},
		{TAG "index/sha256/" H "/link.x.tmp", NULL},
		{REV "sha256/" H "/link.x.tmp", NULL},
		{LAY "sha256/" H "/link.x.tmp", NULL},
		{REV "sha256/" H, NULL},
		{V2 "blobs/sha256/01/" H "/data", NULL},
		{LIB "_uploads/x", NULL},
		{"foo", NULL},
	};
	/* clang-format on */
	char buf[TLK_HEX_LEN + 8 + 16];
	struct tlk_node node;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct digest_case *c = &cases[i];
		bool got;

		tlk_layout_path(c->path, &node);
		memset(buf, 'Z', sizeof(buf));
		got = tlk_layout_own_digest(&node, buf, sizeof(buf));
		if (got != (c->want != NULL) ||
		    (got && strcmp(buf, c->want) != 0)) {
			print_error("own_digest(%s): %d \"%.*s\", want %s\n",
				    c->path, got, got ? 72 : 0, buf,
				    c->want ? c->want : "false");
			fail();
		}
	}

	/* the buffer must hold 71 bytes and a NUL */
	tlk_layout_path(REV "sha256/" H "/link", &node);
	assert_false(tlk_layout_own_digest(&node, buf, 71));
	assert_true(tlk_layout_own_digest(&node, buf, 72));
	assert_string_equal(buf, "sha256:" H);

	/* a node with a link kind but no valid hex names no digest */
	node.hex[0] = '\0';
	assert_false(tlk_layout_own_digest(&node, buf, sizeof(buf)));
	memcpy(node.hex, HUP, TLK_HEX_LEN + 1);
	assert_false(tlk_layout_own_digest(&node, buf, sizeof(buf)));
}

/* When one inode has two names, the daemon keeps the weightier: a link
 * position beats blob data, which beats any other name in the tree, which
 * beats a name outside it. */
static void test_weight_ordering(void **state)
{
	/* clang-format off */
	static const char *const groups[4][6] = {
		{TAG "current/link", TAG "index/sha256/" H "/link",
		 REV "sha256/" H "/link", LAY "sha256/" H "/link", NULL},
		{V2 "blobs/sha256/01/" H "/data", "blobs/sha256/01/" H "/data",
		 NULL},
		{TAG "current/link.1.tmp", LIB "_uploads/x/data", TAG, V2 "foo",
		 REV "sha256/" H "/link.2.tmp", NULL},
		{"", "foo", "foo/bar", "Docker", "v2", NULL},
	};
	/* clang-format on */
	struct tlk_node a, b;

	(void)state;
	for (int g = 0; g < 4; g++)
		for (int h = g + 1; h < 4; h++)
			for (int i = 0; groups[g][i]; i++)
				for (int j = 0; groups[h][j]; j++) {
					tlk_layout_path(groups[g][i], &a);
					tlk_layout_path(groups[h][j], &b);
					if (tlk_layout_weight(&a) >
					    tlk_layout_weight(&b))
						continue;
					print_error("weight(%s) %d <= "
						    "weight(%s) %d\n",
						    groups[g][i],
						    tlk_layout_weight(&a),
						    groups[h][j],
						    tlk_layout_weight(&b));
					fail();
				}
}

static void check_round_trip(const char *what, const struct tlk_node *node)
{
	struct tlk_packed_node *p;
	struct tlk_node out;
	bool oom = true;

	p = tlk_layout_pack(node, &oom);
	assert_false(oom);
	if (node->kind == TLK_OTHER && !node->in_tree)
		assert_null(p);
	else
		assert_non_null(p);
	memset(&out, 'Z', sizeof(out));
	tlk_layout_unpack(p, &out);
	free(p);
	check_node(what, &out, node->kind, node->repo, node->tag, node->hex);
	check_in_tree(what, &out, node->in_tree);
}

/* What the inode table stores is what was classified. */
static void test_pack_round_trip(void **state)
{
	char *c255 = repeat('r', 255), *t128 = repeat('t', 128);
	char *c127 = repeat('b', 127);
	struct tlk_node node;

	(void)state;
	for (int k = 0; k < TLK_KIND_COUNT; k++) {
		node_of_kind((enum tlk_kind)k, &node);
		check_round_trip(kind_paths[k], &node);
	}

	/* outside the tree: nothing stored, and it reads back as such */
	tlk_layout_path("foo/bar", &node);
	assert_int_equal(node.kind, TLK_OTHER);
	assert_false(node.in_tree);
	check_round_trip("foo/bar", &node);
	/* in the tree, unknown: stored, so in_tree survives */
	tlk_layout_path(LIB "_uploads/x", &node);
	check_round_trip("_uploads/x", &node);
	assert_true(node.in_tree);

	/* the longest names */
	classify_fmt(&node, R "%s/_manifests/tags/%s/index/sha256/" H "/link",
		     c255, t128);
	check_node("255-byte repo", &node, TLK_TAG_INDEX_LINK, c255, t128, H);
	check_round_trip("255-byte repo, 128-byte tag", &node);
	classify_fmt(&node, R "%s/%s/_layers/sha256/" H "/link", c127, c127);
	assert_int_equal(strlen(node.repo), 255);
	check_round_trip("255 = 127/127", &node);

	/* the packed copy is a copy */
	{
		struct tlk_packed_node *p;
		struct tlk_node out;
		bool oom;

		tlk_layout_path(TAG "current/link", &node);
		p = tlk_layout_pack(&node, &oom);
		assert_non_null(p);
		memset(&node, 0, sizeof(node));
		tlk_layout_unpack(p, &out);
		free(p);
		check_node("copy", &out, TLK_CURRENT_LINK, "library/ubuntu",
			   "v1", "");
	}
	free(c255);
	free(t128);
	free(c127);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_table),
	    cmocka_unit_test(test_child_walk_matches_path),
	    cmocka_unit_test(test_in_tree),
	    cmocka_unit_test(test_child_in_place),
	    cmocka_unit_test(test_child_separate_out),
	    cmocka_unit_test(test_dot_names_everywhere),
	    cmocka_unit_test(test_children_of_leaves),
	    cmocka_unit_test(test_repo_length_limit),
	    cmocka_unit_test(test_tag_length_limit),
	    cmocka_unit_test(test_huge_path),
	    cmocka_unit_test(test_valid_tag),
	    cmocka_unit_test(test_valid_hex),
	    cmocka_unit_test(test_is_link_tmp),
	    cmocka_unit_test(test_kind_predicates_and_names),
	    cmocka_unit_test(test_relative_paths_lead_there),
	    cmocka_unit_test(test_own_digest),
	    cmocka_unit_test(test_weight_ordering),
	    cmocka_unit_test(test_pack_round_trip),
	};
	return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}

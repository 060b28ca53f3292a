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
	{TAG "index/sha256/" H "/link.x.tmp", TLK_TAG_INDEX_LINK,
	 "library/ubuntu", "v1", H},
	{REV, TLK_REVISIONS, "library/ubuntu", "", ""},
	{REV "sha256", TLK_REV_ALG, "library/ubuntu", "", ""},
	{REV "sha256/" H, TLK_REV_DIG, "library/ubuntu", "", H},
	{REV "sha256/" H "/link", TLK_REV_LINK, "library/ubuntu", "", H},
	{REV "sha256/" H "/link.x.tmp", TLK_REV_LINK, "library/ubuntu", "",
	 H},
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
	{V2 "blobs/sha256/01/" H "/datax", TLK_OTHER, "", "", ""},
	{V2 "blobs/sha512", TLK_OTHER, "", "", ""},
	{LIB "_layers", TLK_OTHER, "", "", ""},
	{LIB "_layers/sha256/" H "/link", TLK_OTHER, "", "", ""},
	{LIB "_uploads/u/data", TLK_OTHER, "", "", ""},
	{LIB "_uploads/_manifests/tags/v1/current/link", TLK_OTHER, "", "",
	 ""},
	{LIB "_Manifests", TLK_OTHER, "", "", ""},
	{LIB "_manifests/tag", TLK_OTHER, "", "", ""},
	{LIB "_manifests/tags/v1/Current", TLK_OTHER, "", "", ""},
	{LIB "_manifests/tags/v1/links", TLK_OTHER, "", "", ""},
	{TAG "index/sha512", TLK_OTHER, "", "", ""},
	{TAG "index/sha256/" H "/data", TLK_OTHER, "", "", ""},
	{REV "sha512/" H "/link", TLK_OTHER, "", "", ""},
	{REV "sha256/" H "/data", TLK_OTHER, "", "", ""},
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
	{TAG "index/sha256/" H "/link.tmp", TLK_OTHER, "", "", ""},
	{REV "sha256/" H "/link..tmp", TLK_OTHER, "", "", ""},
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

static void test_path_table(void **state)
{
	struct tlk_node node;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];

		tlk_layout_path(r->path, &node);
		check_node(r->path, &node, r->kind, r->repo, r->tag, r->hex);
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
	}
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
	check_node("in place", &node, TLK_TAG_INDEX_LINK, "my/app", "_x", H);
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

	memset(&out, 'Z', sizeof(out));
	tlk_layout_child(&parent, "..", &out);
	check_node("..", &out, TLK_OTHER, "", "", "");
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
	[TLK_REVISIONS] = REV,
	[TLK_REV_ALG] = REV "sha256",
	[TLK_REV_DIG] = REV "sha256/" H,
	[TLK_REV_LINK] = REV "sha256/" H "/link",
	[TLK_BLOBS] = V2 "blobs",
	[TLK_BLOB_ALG] = V2 "blobs/sha256",
	[TLK_BLOB_PREFIX] = V2 "blobs/sha256/01",
	[TLK_BLOB_DIG] = V2 "blobs/sha256/01/" H,
	[TLK_BLOB_DATA] = V2 "blobs/sha256/01/" H "/data",
};
/* clang-format on */

static void node_of_kind(enum tlk_kind k, struct tlk_node *node)
{
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
	    TLK_CURRENT_OTHER, TLK_TAG_INDEX_LINK, TLK_REV_LINK};
	static const char *const names[] = {
	    "link",	  "link.x.tmp", "current",	"index",  "sha256", H,
	    "_manifests", "tags",	"repositories", "docker", "a"};
	struct tlk_node parent, out;

	(void)state;
	for (size_t l = 0; l < sizeof(leaves) / sizeof(leaves[0]); l++) {
		node_of_kind(leaves[l], &parent);
		for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
			tlk_layout_child(&parent, names[n], &out);
			check_node(names[n], &out, TLK_OTHER, "", "", "");
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
};

/* clang-format off */
static const struct kind_case kinds[TLK_KIND_COUNT] = {
	{TLK_OTHER, "other", false, false},
	{TLK_ROOT, "root", true, false},
	{TLK_DOCKER, "docker", true, false},
	{TLK_REGISTRY, "registry", true, false},
	{TLK_V2, "v2", true, false},
	{TLK_REPOS, "repos", true, false},
	{TLK_REPO_DIR, "repo_dir", true, false},
	{TLK_MANIFESTS, "manifests", true, false},
	{TLK_TAGS, "tags", true, false},
	{TLK_TAG_DIR, "tag_dir", true, false},
	{TLK_CURRENT, "current", true, false},
	{TLK_CURRENT_LINK, "current_link", false, true},
	{TLK_CURRENT_TMP, "current_tmp", false, true},
	{TLK_CURRENT_OTHER, "current_other", false, true},
	{TLK_TAG_INDEX, "tag_index", true, false},
	{TLK_TAG_INDEX_ALG, "tag_index_alg", true, false},
	{TLK_TAG_INDEX_DIG, "tag_index_dig", true, false},
	{TLK_TAG_INDEX_LINK, "tag_index_link", false, true},
	{TLK_REVISIONS, "revisions", true, false},
	{TLK_REV_ALG, "rev_alg", true, false},
	{TLK_REV_DIG, "rev_dig", true, false},
	{TLK_REV_LINK, "rev_link", false, true},
	{TLK_BLOBS, "blobs", false, false},
	{TLK_BLOB_ALG, "blob_alg", false, false},
	{TLK_BLOB_PREFIX, "blob_prefix", false, false},
	{TLK_BLOB_DIG, "blob_dig", false, false},
	{TLK_BLOB_DATA, "blob_data", false, false},
};
/* clang-format on */

static void test_kind_predicates_and_names(void **state)
{
	(void)state;
	for (int i = 0; i < TLK_KIND_COUNT; i++) {
		const struct kind_case *c = &kinds[i];

		assert_int_equal(c->kind, i);
		assert_string_equal(tlk_layout_kind_name(c->kind), c->name);
		if (tlk_layout_is_structural_dir(c->kind) != c->structural ||
		    tlk_layout_is_inspected_file(c->kind) != c->inspected) {
			print_error("predicates wrong for %s\n", c->name);
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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_table),
	    cmocka_unit_test(test_child_walk_matches_path),
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
	};
	return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}

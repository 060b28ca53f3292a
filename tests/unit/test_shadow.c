/* SPDX-License-Identifier: MIT */
/*
 * test_shadow.c - the image of a link behind a guarded handle: first the
 * buffer alone (candidates, accept, read, committed), then scripts that
 * drive it with tlk_decide the way a guarded handle does, replaying the
 * syscall sequences distribution issues.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "taglockfs/decide.h"
#include "taglockfs/shadow.h"

#define HEX1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define D1 "sha256:" HEX1
#define D2 "sha256:" HEX2
/* D1 with its last byte changed */
#define D1X                                                                    \
	"sha256:"                                                              \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee"
#define L TLK_LINK_LEN
#define NEVER (TLK_SHADOW_MAX + 1) /* a candidate that is never accepted */

#define V2 "docker/registry/v2/"
#define REPO V2 "repositories/team/app/"
#define CUR_LINK REPO "_manifests/tags/v1/current/link"
#define REV_LINK_1 REPO "_manifests/revisions/sha256/" HEX1 "/link"
#define LAYER_LINK_1 REPO "_layers/sha256/" HEX1 "/link"

/* ------------------------------------------------------------------ */
/* The buffer alone                                                    */

enum act { END = 0, WRITE, TRUNC };

struct step {
	enum act act;
	off_t off; /* WRITE: offset; TRUNC: size */
	const char *data;
	size_t n;
	size_t want_len; /* the candidate's length; NEVER: not accepted */
};

struct buf_case {
	const char *what;
	const char *init; /* NULL: no file */
	size_t init_len;
	bool o_trunc;
	struct step steps[5]; /* each tried, then accepted */
	const char *view;     /* the view afterwards */
	size_t view_len;
};

/* clang-format off */
static const char zeros[L];

#define W(o, s, len) {WRITE, o, s, sizeof(s) - 1, len}
#define T(sz, len) {TRUNC, sz, NULL, 0, len}

static const struct buf_case buf_cases[] = {
	{"init: the view is the link", D1, L, false, {{END}}, D1, L},
	{"init with O_TRUNC: the view starts empty", D1, L, true, {{END}},
	 "", 0},
	{"init: no file", NULL, 0, false, {{END}}, "", 0},
	{"init: a short junk link", "junk", 4, false, {{END}}, "junk", 4},
	{"zero bytes past the end change nothing", "abc", 3, false,
	 {W(10, "", 3)}, "abc", 3},
	{"zero bytes far past the end change nothing", "abc", 3, false,
	 {W(100, "", 3)}, "abc", 3},
	{"write into an empty view", NULL, 0, false, {W(0, "abc", 3)},
	 "abc", 3},
	{"write past the end leaves a gap of zeros", NULL, 0, false,
	 {W(5, "xy", 7)}, "\0\0\0\0\0xy", 7},
	{"write in the middle keeps the length", "abcdef", 6, false,
	 {W(2, "Z", 6)}, "abZdef", 6},
	{"write across the end extends", "abcdef", 6, false,
	 {W(4, "WXYZ", 8)}, "abcdWXYZ", 8},
	{"write a whole link over another", D1, L, false, {W(0, D2, L)}, D2,
	 L},
	{"write the last byte of a link", D1, L, false, {W(70, "e", L)}, D1X,
	 L},
	{"zero bytes at the end change nothing", D1, L, false, {W(L, "", L)},
	 D1, L},
	{"zero bytes inside change nothing", "abc", 3, false, {W(1, "", 3)},
	 "abc", 3},
	{"72 bytes at 0: never", NULL, 0, false, {W(0, D1 "\n", NEVER)}, "",
	 0},
	{"one byte at 71: never", D1, L, false, {W(L, "x", NEVER)}, D1, L},
	{"two bytes at 70: never", D1, L, false, {W(70, "ab", NEVER)}, D1, L},
	{"a write far away: never", NULL, 0, false, {W(4096, "x", NEVER)}, "",
	 0},
	{"a negative offset: never", "abc", 3, false, {W(-1, "x", NEVER)},
	 "abc", 3},
	{"pieces in order", NULL, 0, false,
	 {W(0, "sha256:", 7), W(7, HEX1, L)}, D1, L},
	{"pieces out of order", NULL, 0, false,
	 {W(7, HEX1, L), W(0, "sha256:", L)}, D1, L},
	{"truncate shrinks", D1, L, false, {T(10, 10)}, "sha256:012", 10},
	{"truncate to zero (2.8)", D1, L, false, {T(0, 0)}, "", 0},
	{"truncate extends with zeros", "abc", 3, false, {T(6, 6)},
	 "abc\0\0\0", 6},
	{"truncate an empty view to a link's size", NULL, 0, false,
	 {T(L, L)}, zeros, L},
	{"truncate to its own size", D1, L, false, {T(L, L)}, D1, L},
	{"truncate past a link: never", D1, L, false, {T(L + 1, NEVER)}, D1,
	 L},
	{"truncate to a negative size: never", "abc", 3, false,
	 {T(-1, NEVER)}, "abc", 3},
	{"shrink then extend: the cut bytes come back as zeros", "abcdef", 6,
	 false, {T(2, 2), T(5, 5)}, "ab\0\0\0", 5},
	{"shrink then write past the end: zeros, not the old bytes",
	 "abcdef", 6, false, {T(2, 2), W(4, "Z", 5)}, "ab\0\0Z", 5},
	{"2.8: ftruncate(0) then 71 bytes", D1, L, false,
	 {T(0, 0), W(0, D2, L)}, D2, L},
	{"O_TRUNC then 71 bytes", D1, L, true, {W(0, D2, L)}, D2, L},
	{"a refused candidate leaves the view", "abc", 3, false,
	 {W(0, "xyz", 3), W(71, "!", NEVER), T(100, NEVER)}, "xyz", 3},
};
/* clang-format on */

/* Run one case; returns the number of mismatches, printed. */
static int run_buf_case(const struct buf_case *c)
{
	struct tlk_shadow sh;
	struct tlk_shadow_view cand, cur;
	char view[2 * L];
	size_t got, held;
	int bad = 0;

	memset(&sh, 0x5a, sizeof(sh));
	tlk_shadow_init(&sh, c->init, c->init_len, c->o_trunc);
	for (size_t i = 0; i < 5 && c->steps[i].act != END; i++) {
		const struct step *st = &c->steps[i];
		struct tlk_shadow before = sh;

		memset(&cand, 0x5a, sizeof(cand));
		if (st->act == WRITE)
			tlk_shadow_try_write(&sh, st->off, st->data, st->n,
					     &cand);
		else
			tlk_shadow_try_truncate(&sh, st->off, &cand);
		if (cand.len != st->want_len) {
			print_error("%s: step %zu: candidate %zu bytes, want "
				    "%zu\n",
				    c->what, i, cand.len, st->want_len);
			bad++;
		}
		/* trying changes nothing */
		if (memcmp(&before, &sh, sizeof(sh)) != 0) {
			print_error("%s: step %zu: try changed the shadow\n",
				    c->what, i);
			bad++;
		}
		tlk_shadow_accept(&sh, &cand);
		if (cand.len > TLK_SHADOW_MAX &&
		    memcmp(&before, &sh, sizeof(sh)) != 0) {
			print_error("%s: step %zu: accepted a candidate of "
				    "%zu bytes\n",
				    c->what, i, cand.len);
			bad++;
		}
	}
	got = tlk_shadow_read(&sh, 0, view, sizeof(view));
	if (sh.len != c->view_len || got != c->view_len ||
	    memcmp(view, c->view, got) != 0) {
		print_error("%s: view is %zu bytes (read %zu), want %zu\n",
			    c->what, sh.len, got, c->view_len);
		bad++;
	}
	tlk_shadow_current(&sh, &cur);
	if (cur.len != sh.len || memcmp(cur.bytes, c->view, got) != 0) {
		print_error("%s: current() differs from the view\n", c->what);
		bad++;
	}
	/* the base is the link as opened, whatever happened to the view */
	held = c->init_len < TLK_SHADOW_MAX ? c->init_len : TLK_SHADOW_MAX;
	if (sh.base_len != c->init_len ||
	    (held && memcmp(sh.base, c->init, held) != 0)) {
		print_error("%s: base changed\n", c->what);
		bad++;
	}
	return bad;
}

static void test_buffer(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(buf_cases) / sizeof(buf_cases[0]); i++)
		bad += run_buf_case(&buf_cases[i]);
	assert_int_equal(bad, 0);
}

struct read_case {
	off_t off;
	size_t n;
	size_t want;
};

static void test_read(void **state)
{
	static const struct read_case cases[] = {
	    {0, L, L},	{0, 1000, L}, {60, 100, L - 60},
	    {70, 1, 1}, {L, 10, 0},   {200, 10, 0},
	    {0, 0, 0},	{7, 64, 64},  {-1, 10, 0},
	};
	struct tlk_shadow sh;
	struct tlk_shadow_view cand;
	char buf[1000];

	(void)state;
	tlk_shadow_init(&sh, D1, L, false);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct read_case *c = &cases[i];
		size_t got;

		memset(buf, 0, sizeof(buf));
		got = tlk_shadow_read(&sh, c->off, buf, c->n);
		if (got != c->want ||
		    (got && memcmp(buf, D1 + c->off, c->want) != 0)) {
			print_error("read(off %lld, n %zu): %zu bytes, want "
				    "%zu\n",
				    (long long)c->off, c->n, got, c->want);
			fail();
		}
	}
	/* a read follows the view, not the base */
	tlk_shadow_try_truncate(&sh, 10, &cand);
	tlk_shadow_accept(&sh, &cand);
	assert_int_equal(tlk_shadow_read(&sh, 0, buf, sizeof(buf)), 10);
	assert_memory_equal(buf, D1, 10);
	assert_int_equal(tlk_shadow_read(&sh, 10, buf, sizeof(buf)), 0);
	/* nor a candidate that was not accepted */
	tlk_shadow_try_write(&sh, 0, D2, L, &cand);
	assert_int_equal(tlk_shadow_read(&sh, 0, buf, sizeof(buf)), 10);
	assert_memory_equal(buf, D1, 10);
}

/* A link longer than the buffer keeps its real length and its first
 * TLK_SHADOW_MAX bytes; a view of that length is never acceptable, so only
 * a truncate to a link's size makes the handle usable. */
static void test_base_longer_than_max(void **state)
{
	char junk[200];
	struct tlk_shadow sh;
	struct tlk_shadow_view cand;
	char buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)('a' + i % 26);
	tlk_shadow_init(&sh, junk, sizeof(junk), false);
	assert_int_equal(sh.base_len, 200);
	assert_memory_equal(sh.base, junk, TLK_SHADOW_MAX);
	assert_int_equal(sh.len, 200);
	assert_int_equal(tlk_shadow_read(&sh, 0, buf, sizeof(buf)),
			 TLK_SHADOW_MAX);
	assert_memory_equal(buf, junk, TLK_SHADOW_MAX);

	/* a write over its start leaves a 200-byte file: never accepted */
	tlk_shadow_try_write(&sh, 0, D1, L, &cand);
	assert_true(cand.len > TLK_SHADOW_MAX);
	tlk_shadow_accept(&sh, &cand);
	assert_int_equal(sh.len, 200);
	assert_memory_equal(sh.bytes, junk, TLK_SHADOW_MAX);

	/* truncate(0), then a link */
	tlk_shadow_try_truncate(&sh, 0, &cand);
	assert_int_equal(cand.len, 0);
	tlk_shadow_accept(&sh, &cand);
	tlk_shadow_try_write(&sh, 0, D1, L, &cand);
	assert_int_equal(cand.len, L);
	tlk_shadow_accept(&sh, &cand);
	assert_int_equal(tlk_shadow_read(&sh, 0, buf, sizeof(buf)), L);
	assert_memory_equal(buf, D1, L);
	assert_int_equal(sh.base_len, 200);

	/* with O_TRUNC: the view starts empty, the base is kept */
	tlk_shadow_init(&sh, junk, sizeof(junk), true);
	assert_int_equal(sh.len, 0);
	assert_int_equal(sh.base_len, 200);
	assert_memory_equal(sh.base, junk, TLK_SHADOW_MAX);
}

/* After a publish the view is the base; until then the base stays. */
static void test_committed(void **state)
{
	struct tlk_shadow sh;
	struct tlk_shadow_view cand;

	(void)state;
	tlk_shadow_init(&sh, NULL, 0, false);
	tlk_shadow_try_write(&sh, 0, D1, L, &cand);
	tlk_shadow_accept(&sh, &cand);
	assert_int_equal(sh.base_len, 0);
	tlk_shadow_committed(&sh);
	assert_int_equal(sh.base_len, L);
	assert_memory_equal(sh.base, D1, L);
	assert_int_equal(sh.len, L);
	assert_memory_equal(sh.bytes, D1, L);

	/* an emptied view committed (a mutable tag) makes an empty base */
	tlk_shadow_try_truncate(&sh, 0, &cand);
	tlk_shadow_accept(&sh, &cand);
	assert_int_equal(sh.base_len, L);
	tlk_shadow_committed(&sh);
	assert_int_equal(sh.base_len, 0);

	/* a 200-byte link committed: its real length is kept */
	{
		char junk[200];

		memset(junk, 'j', sizeof(junk));
		tlk_shadow_init(&sh, junk, sizeof(junk), false);
		tlk_shadow_committed(&sh);
		assert_int_equal(sh.base_len, 200);
		assert_memory_equal(sh.base, junk, TLK_SHADOW_MAX);
	}
}

/* ------------------------------------------------------------------ */
/* Scripts: the shadow and tlk_decide together, as a guarded handle    */

/* A guarded handle reduced to what the core decides: the link as the
 * registry would see it (`link`), and the handle's shadow. */
struct handle {
	struct tlk_shadow sh;
	struct tlk_node node;
	bool prot;
	bool failed;
	char link[TLK_SHADOW_MAX];
	size_t link_len;
	int publishes;
};

static int judge(struct handle *h, const struct tlk_shadow_view *view,
		 bool closing)
{
	struct tlk_facts f = {.op = TLK_OP_WRITE_LINK, .node = h->node};
	struct tlk_verdict v;

	f.view = view->bytes;
	f.view_len = view->len;
	f.base = h->sh.base;
	f.base_len = h->sh.base_len;
	f.closing = closing;
	f.repo_immutable = true;
	f.tag_protected = h->prot;
	v = tlk_decide(&f);
	switch (v.kind) {
	case TLK_REFUSE:
		if (!closing)
			h->failed = true;
		return -tlk_verdict_errno(v);
	case TLK_PUBLISH:
		tlk_shadow_accept(&h->sh, view);
		memcpy(h->link, h->sh.bytes, h->sh.len);
		h->link_len = h->sh.len;
		h->publishes++;
		tlk_shadow_committed(&h->sh);
		return 0;
	case TLK_ALLOW:
	case TLK_INSPECT:
	default:
		tlk_shadow_accept(&h->sh, view);
		return 0;
	}
}

static int h_write(struct handle *h, off_t off, const char *buf, size_t n)
{
	struct tlk_shadow_view view;

	if (h->failed)
		return -EPERM;
	tlk_shadow_try_write(&h->sh, off, buf, n, &view);
	return judge(h, &view, false);
}

static int h_truncate(struct handle *h, off_t size)
{
	struct tlk_shadow_view view;

	if (h->failed)
		return -EPERM;
	tlk_shadow_try_truncate(&h->sh, size, &view);
	return judge(h, &view, false);
}

static int h_close(struct handle *h)
{
	struct tlk_shadow_view view;

	if (h->failed)
		return -EPERM;
	tlk_shadow_current(&h->sh, &view);
	return judge(h, &view, true);
}

enum sact { SEND = 0, SWRITE, STRUNC, SCLOSE };

struct sstep {
	enum sact act;
	off_t off;
	const char *data;
	size_t n;
	int rc;
	const char *view; /* the view after the step */
	size_t view_len;
};

struct script {
	const char *what;
	const char *node;
	bool prot;
	const char *init; /* NULL: no file */
	size_t init_len;
	bool o_trunc;
	struct sstep steps[5];
	const char *link; /* what the link holds at the end */
	size_t link_len;
	int publishes;
};

/* clang-format off */
#define SW(o, s, rc, v, vl) {SWRITE, o, s, sizeof(s) - 1, rc, v, vl}
#define ST(sz, rc, v, vl) {STRUNC, sz, NULL, 0, rc, v, vl}
#define SC(rc, v, vl) {SCLOSE, 0, NULL, 0, rc, v, vl}

static const struct script scripts[] = {
	/* distribution 2.8 on a protected tag that points somewhere */
	{"2.8 re-push of the same digest passes", CUR_LINK, true, D1, L,
	 false, {ST(0, 0, "", 0), SW(0, D1, 0, D1, L), SC(0, D1, L)},
	 D1, L, 0},
	{"2.8 push of another digest is refused at the write", CUR_LINK,
	 true, D1, L, false,
	 {ST(0, 0, "", 0), SW(0, D2, -EPERM, "", 0), SC(-EPERM, "", 0)},
	 D1, L, 0},
	{"a refused handle stays refused (fsync after the write)", CUR_LINK,
	 true, D1, L, false,
	 {ST(0, 0, "", 0), SW(0, D2, -EPERM, "", 0), SW(0, D1, -EPERM, "", 0),
	  SC(-EPERM, "", 0)},
	 D1, L, 0},
	{"one byte changed in place", CUR_LINK, true, D1, L, false,
	 {SW(70, "e", -EPERM, D1, L)}, D1, L, 0},
	{"an identical piece in place", CUR_LINK, true, D1, L, false,
	 {SW(10, "3456789a", 0, D1, L), SC(0, D1, L)}, D1, L, 0},
	{"a newline after the digest", CUR_LINK, true, D1, L, false,
	 {SW(L, "\n", -EPERM, D1, L)}, D1, L, 0},
	{"O_TRUNC and the same digest", CUR_LINK, true, D1, L, true,
	 {SW(0, D1, 0, D1, L), SC(0, D1, L)}, D1, L, 0},
	{"O_TRUNC and nothing written: refused at close", CUR_LINK, true, D1,
	 L, true, {SC(-EPERM, "", 0)}, D1, L, 0},
	{"a 200-byte junk link cannot be replaced", CUR_LINK, true, NULL, 200,
	 false, {ST(0, 0, "", 0), SW(0, D1, -EPERM, "", 0)}, NULL, 200, 0},

	/* a protected tag with no content yet */
	{"2.8 first push publishes at the write", CUR_LINK, true, NULL, 0,
	 false, {ST(0, 0, "", 0), SW(0, D1, 0, D1, L), SC(0, D1, L)}, D1, L,
	 1},
	{"first push in two pieces", CUR_LINK, true, NULL, 0, false,
	 {SW(0, "sha256:", 0, "sha256:", 7), SW(7, HEX1, 0, D1, L),
	  SC(0, D1, L)},
	 D1, L, 1},
	{"after the first push, another digest is refused", CUR_LINK, true,
	 NULL, 0, false, {SW(0, D1, 0, D1, L), SW(0, D2, -EPERM, D1, L)}, D1,
	 L, 1},
	{"garbage is refused as malformed", CUR_LINK, true, NULL, 0, false,
	 {SW(0, "hello", -EINVAL, "", 0), SC(-EPERM, "", 0)}, "", 0, 0},
	{"a prefix closed is malformed", CUR_LINK, true, NULL, 0, false,
	 {SW(0, "sha256:01", 0, "sha256:01", 9), SC(-EINVAL, "sha256:01", 9)},
	 "", 0, 0},
	{"72 bytes are malformed", CUR_LINK, true, NULL, 0, false,
	 {SW(0, D1 "\n", -EINVAL, "", 0)}, "", 0, 0},
	{"opened and closed, nothing written", CUR_LINK, true, NULL, 0, false,
	 {SC(0, "", 0)}, "", 0, 0},

	/* a mutable tag */
	{"mutable: 2.8 push of another digest publishes", CUR_LINK, false, D1,
	 L, false, {ST(0, 0, "", 0), SW(0, D2, 0, D2, L), SC(0, D2, L)}, D2, L,
	 1},
	{"mutable: the same digest publishes nothing", CUR_LINK, false, D1, L,
	 false, {ST(0, 0, "", 0), SW(0, D1, 0, D1, L), SC(0, D1, L)}, D1, L,
	 0},
	{"mutable: garbage is published at close", CUR_LINK, false, D1, L,
	 false, {ST(0, 0, "", 0), SW(0, "hello", 0, "hello", 5),
	  SC(0, "hello", 5)}, "hello", 5, 1},

	/* path-determined links */
	{"revision link: 2.8 rewrite of its own digest", REV_LINK_1, false,
	 D1, L, false, {ST(0, 0, "", 0), SW(0, D1, 0, D1, L), SC(0, D1, L)},
	 D1, L, 0},
	{"revision link: another digest is refused", REV_LINK_1, false, D1, L,
	 false, {ST(0, 0, "", 0), SW(0, D2, -EPERM, "", 0)}, D1, L, 0},
	{"revision link: emptied and closed is refused", REV_LINK_1, false,
	 D1, L, false, {ST(0, 0, "", 0), SC(-EPERM, "", 0)}, D1, L, 0},
	{"layer link: created with its own digest", LAYER_LINK_1, false,
	 NULL, 0, false, {SW(0, D1, 0, D1, L), SC(0, D1, L)}, D1, L, 1},
	{"layer link: created with another digest", LAYER_LINK_1, false,
	 NULL, 0, false, {SW(0, D2, -EPERM, "", 0)}, "", 0, 0},
};
/* clang-format on */

static int run_script(const struct script *s)
{
	char junk[200];
	const char *init = s->init;
	struct handle h;
	char view[2 * L];
	size_t got;
	int bad = 0;

	if (!init && s->init_len) {
		memset(junk, 'j', sizeof(junk));
		init = junk;
	}
	memset(&h, 0, sizeof(h));
	tlk_layout_path(s->node, &h.node);
	h.prot = s->prot;
	tlk_shadow_init(&h.sh, init, s->init_len, s->o_trunc);
	h.link_len = s->init_len;
	if (s->init_len)
		memcpy(h.link, init,
		       s->init_len < sizeof(h.link) ? s->init_len
						    : sizeof(h.link));
	for (size_t i = 0; i < 5 && s->steps[i].act != SEND; i++) {
		const struct sstep *st = &s->steps[i];
		int rc;

		switch (st->act) {
		case SWRITE:
			rc = h_write(&h, st->off, st->data, st->n);
			break;
		case STRUNC:
			rc = h_truncate(&h, st->off);
			break;
		case SCLOSE:
		default:
			rc = h_close(&h);
			break;
		}
		if (rc != st->rc) {
			print_error("%s: step %zu returned %d, want %d\n",
				    s->what, i, rc, st->rc);
			bad++;
		}
		got = tlk_shadow_read(&h.sh, 0, view, sizeof(view));
		if (h.sh.len != st->view_len || got != st->view_len ||
		    memcmp(view, st->view, got) != 0) {
			print_error("%s: step %zu: view \"%.*s\", want "
				    "\"%s\"\n",
				    s->what, i, (int)got, view, st->view);
			bad++;
		}
	}
	if (h.link_len != s->link_len ||
	    (s->link && memcmp(h.link, s->link, s->link_len) != 0)) {
		print_error("%s: the link holds %zu bytes \"%.*s\"\n", s->what,
			    h.link_len, (int)h.link_len, h.link);
		bad++;
	}
	if (h.publishes != s->publishes) {
		print_error("%s: %d publishes, want %d\n", s->what, h.publishes,
			    s->publishes);
		bad++;
	}
	return bad;
}

static void test_scripts(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
		bad += run_script(&scripts[i]);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buffer),
	    cmocka_unit_test(test_read),
	    cmocka_unit_test(test_base_longer_than_max),
	    cmocka_unit_test(test_committed),
	    cmocka_unit_test(test_scripts),
	};
	return cmocka_run_group_tests_name("shadow", tests, NULL, NULL);
}

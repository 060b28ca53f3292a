/* SPDX-License-Identifier: MIT */
/*
 * test_shadow.c - the write-handle image of a protected link: the syscall
 * sequences distribution issues, replayed as scripts, and what the handle
 * holds afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "taglockfs/shadow.h"

#define HEX1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D1 "sha256:" HEX1
/* D1 with its last byte changed */
#define D1X                                                                    \
	"sha256:"                                                              \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee"
#define D2                                                                     \
	"sha256:"                                                              \
	"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define DUP                                                                    \
	"sha256:"                                                              \
	"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
#define L TLK_LINK_LEN

#define ANY (-1)

enum act { END = 0, WRITE, TRUNC };

struct step {
	enum act act;
	off_t off; /* WRITE: offset; TRUNC: size */
	const char *data;
	size_t n;
	int rc;
};

struct script {
	const char *what;
	const char *init; /* NULL: no file */
	size_t init_len;
	bool o_trunc;
	struct step steps[6];
	const char *view; /* expected bytes of the handle's view */
	size_t view_len;
	int open_state;	 /* tlk_shadow_state(sh, false), or ANY */
	int close_state; /* tlk_shadow_state(sh, true), or ANY */
	int failed;	 /* 0, 1 or ANY */
};

/* clang-format off */
#define W(o, s) {WRITE, o, s, sizeof(s) - 1, 0}
#define WE(o, s, e) {WRITE, o, s, sizeof(s) - 1, e}
#define T(sz) {TRUNC, sz, NULL, 0, 0}
#define TE(sz, e) {TRUNC, sz, NULL, 0, e}

static const struct script scripts[] = {
	/* an existing protected tag */
	{"existing, untouched", D1, L, false, {{END}}, D1, L,
	 TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, false},
	{"2.8 re-push: ftruncate(0) + same 71 bytes", D1, L, false,
	 {T(0), W(0, D1)}, D1, L, TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED,
	 false},
	{"same bytes in two writes", D1, L, false,
	 {T(0), W(0, "sha256:"), W(7, HEX1)}, D1, L, TLK_SHADOW_UNCHANGED,
	 TLK_SHADOW_UNCHANGED, false},
	{"same bytes over the unchanged view", D1, L, false, {W(0, D1)}, D1,
	 L, TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, false},
	{"identical middle piece", D1, L, false, {W(10, "3456789a")}, D1, L,
	 TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, false},
	{"2.8 overwrite: ftruncate(0) + other digest", D1, L, false,
	 {T(0), WE(0, D2, -EPERM)}, "", 0, ANY, TLK_SHADOW_CHANGED, true},
	{"one byte differs", D1, L, false, {T(0), WE(0, D1X, -EPERM)}, "", 0,
	 ANY, TLK_SHADOW_CHANGED, true},
	{"one byte differs, no truncate", D1, L, false, {WE(0, D1X, -EPERM)},
	 D1, L, TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, true},
	{"different byte in the middle", D1, L, false, {WE(10, "x", -EPERM)},
	 D1, L, TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, true},
	{"write past 71 bytes", D1, L, false, {WE(L, "\n", -EPERM)}, D1, L,
	 TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, true},
	{"72 bytes at 0", D1, L, false, {T(0), WE(0, D1 "\n", -EPERM)}, "", 0,
	 ANY, TLK_SHADOW_CHANGED, true},
	{"uppercase hex over lowercase", D1, L, false,
	 {T(0), WE(0, DUP, -EPERM)}, "", 0, ANY, TLK_SHADOW_CHANGED, true},
	{"ftruncate(0) then close", D1, L, false, {T(0)}, "", 0,
	 TLK_SHADOW_PARTIAL, TLK_SHADOW_CHANGED, false},
	{"identical prefix then close", D1, L, false,
	 {T(0), W(0, "sha256:0123")}, "sha256:0123", 11, TLK_SHADOW_PARTIAL,
	 TLK_SHADOW_CHANGED, false},
	{"grow past the link", D1, L, false, {TE(L + 1, -EPERM)}, D1, L,
	 TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, ANY},
	{"truncate to its own size", D1, L, false, {T(L)}, D1, L,
	 TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, false},

	/* O_TRUNC: the view starts empty, the link itself is kept */
	{"O_TRUNC + same bytes", D1, L, true, {W(0, D1)}, D1, L,
	 TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, false},
	{"O_TRUNC + other digest", D1, L, true, {WE(0, D2, -EPERM)}, "", 0,
	 ANY, TLK_SHADOW_CHANGED, true},
	{"O_TRUNC, nothing written", D1, L, true, {{END}}, "", 0, ANY,
	 TLK_SHADOW_CHANGED, false},

	/* a tag with no content yet */
	{"new tag: one write", NULL, 0, false, {W(0, D1)}, D1, L,
	 TLK_SHADOW_PUBLISH, TLK_SHADOW_PUBLISH, false},
	{"new tag: 2.8 sequence", NULL, 0, false, {T(0), W(0, D2)}, D2, L,
	 TLK_SHADOW_PUBLISH, TLK_SHADOW_PUBLISH, false},
	{"empty file: one write", "", 0, false, {W(0, D1)}, D1, L,
	 TLK_SHADOW_PUBLISH, TLK_SHADOW_PUBLISH, false},
	{"new tag: pieces", NULL, 0, false,
	 {W(0, "sha256:"), W(7, "0123456789abcdef0123456789abcdef"),
	  W(39, "0123456789abcdef0123456789abcdef")},
	 D1, L, TLK_SHADOW_PUBLISH, TLK_SHADOW_PUBLISH, false},
	{"new tag: pieces out of order", NULL, 0, false,
	 {W(7, HEX1), W(0, "sha256:")}, D1, L, TLK_SHADOW_PUBLISH,
	 TLK_SHADOW_PUBLISH, false},
	{"new tag: rewrite before close", NULL, 0, false,
	 {W(0, D2), W(0, D1)}, D1, L, TLK_SHADOW_PUBLISH, TLK_SHADOW_PUBLISH,
	 false},
	{"new tag: prefix", NULL, 0, false, {W(0, "sha256:01")}, "sha256:01",
	 9, TLK_SHADOW_PARTIAL, TLK_SHADOW_MALFORMED, false},
	{"new tag: prefix with a non-hex digit", NULL, 0, false,
	 {W(0, "sha256:0123g")}, "sha256:0123g", 12, TLK_SHADOW_MALFORMED,
	 TLK_SHADOW_MALFORMED, false},
	{"new tag: wrong algorithm prefix", NULL, 0, false, {W(0, "sha512:")},
	 "sha512:", 7, TLK_SHADOW_MALFORMED, TLK_SHADOW_MALFORMED, false},
	{"new tag: junk", NULL, 0, false, {W(0, "hello")}, "hello", 5,
	 TLK_SHADOW_MALFORMED, TLK_SHADOW_MALFORMED, false},
	{"new tag: uppercase hex", NULL, 0, false, {W(0, DUP)}, DUP, L,
	 TLK_SHADOW_MALFORMED, TLK_SHADOW_MALFORMED, false},
	{"new tag: 72 bytes", NULL, 0, false, {WE(0, D1 "\n", -EINVAL)}, "",
	 0, ANY, ANY, true},
	{"new tag: newline after the link", NULL, 0, false,
	 {W(0, D1), WE(L, "\n", -EINVAL)}, D1, L, ANY, ANY, true},
	{"new tag: grow past 71", NULL, 0, false, {TE(L + 1, -EINVAL)}, "", 0,
	 ANY, ANY, ANY},
	{"new tag: nothing written", NULL, 0, false, {{END}}, "", 0,
	 TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, false},

	/* a link that holds junk is existing content too */
	{"junk link: same junk", "junk", 4, false, {T(0), W(0, "junk")},
	 "junk", 4, TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, false},
	{"junk link: NUL byte appended", "junk", 4, false,
	 {WE(4, "\0", -EPERM)}, "junk", 4, TLK_SHADOW_UNCHANGED,
	 TLK_SHADOW_UNCHANGED, true},
	{"junk link: grown by truncate", "junk", 4, false, {TE(5, -EPERM)},
	 "junk", 4, TLK_SHADOW_UNCHANGED, TLK_SHADOW_UNCHANGED, ANY},
	{"junk link: valid digest over it", "junk", 4, false,
	 {T(0), WE(0, D1, -EPERM)}, "", 0, ANY, ANY, true},
};
/* clang-format on */

static void show(const char *what, const struct tlk_shadow *sh)
{
	print_error("  %s: view %zu bytes \"%.*s\", failed=%d, state "
		    "open=%d close=%d\n",
		    what, sh->len, (int)sh->len, sh->bytes, sh->failed,
		    tlk_shadow_state(sh, false), tlk_shadow_state(sh, true));
}

/* Run one script; returns the number of mismatches, printed. */
static int run_script(const struct script *s)
{
	struct tlk_shadow sh;
	char view[2 * L];
	size_t got;
	int bad = 0;

	memset(&sh, 0x5a, sizeof(sh));
	tlk_shadow_init(&sh, s->init, s->init_len, s->o_trunc);
	for (size_t i = 0; i < 6 && s->steps[i].act != END; i++) {
		const struct step *st = &s->steps[i];
		int rc = st->act == WRITE
			     ? tlk_shadow_write(&sh, st->off, st->data, st->n)
			     : tlk_shadow_truncate(&sh, st->off);

		if (rc != st->rc) {
			print_error("%s: step %zu returned %d, want %d\n",
				    s->what, i, rc, st->rc);
			bad++;
		}
	}
	got = tlk_shadow_read(&sh, 0, view, sizeof(view));
	if (got != s->view_len || memcmp(view, s->view, got) != 0) {
		print_error("%s: view is %zu bytes, want %zu \"%s\"\n", s->what,
			    got, s->view_len, s->view);
		bad++;
	}
	if (s->open_state != ANY &&
	    (int)tlk_shadow_state(&sh, false) != s->open_state) {
		print_error("%s: open state %d, want %d\n", s->what,
			    tlk_shadow_state(&sh, false), s->open_state);
		bad++;
	}
	if (s->close_state != ANY &&
	    (int)tlk_shadow_state(&sh, true) != s->close_state) {
		print_error("%s: close state %d, want %d\n", s->what,
			    tlk_shadow_state(&sh, true), s->close_state);
		bad++;
	}
	if (s->failed != ANY && (int)sh.failed != s->failed) {
		print_error("%s: failed=%d, want %d\n", s->what, sh.failed,
			    s->failed);
		bad++;
	}
	if (bad)
		show(s->what, &sh);
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

/* A refused write leaves everything as it was, except `failed`. */
static void test_refusal_changes_nothing(void **state)
{
	struct tlk_shadow sh, before;

	(void)state;
	tlk_shadow_init(&sh, D1, L, false);
	assert_int_equal(tlk_shadow_truncate(&sh, 0), 0);
	assert_int_equal(tlk_shadow_write(&sh, 0, "sha256:", 7), 0);
	before = sh;
	assert_int_equal(tlk_shadow_write(&sh, 7, "f", 1), -EPERM);
	assert_true(sh.failed);
	assert_int_equal(sh.len, before.len);
	assert_memory_equal(sh.bytes, before.bytes, before.len);
	assert_int_equal(sh.base.state, TLK_LINK_VALID);
	assert_string_equal(sh.base.digest, D1);
	assert_memory_equal(sh.base_bytes, D1, L);
	assert_int_equal(tlk_shadow_state(&sh, false),
			 tlk_shadow_state(&before, false));
	assert_int_equal(tlk_shadow_state(&sh, true), TLK_SHADOW_CHANGED);
}

/* O_TRUNC on an existing link: the view is empty, the base is kept. */
static void test_init_truncate_keeps_base(void **state)
{
	struct tlk_shadow sh;
	char buf[L];

	(void)state;
	tlk_shadow_init(&sh, D1, L, true);
	assert_int_equal(sh.len, 0);
	assert_int_equal(tlk_shadow_read(&sh, 0, buf, sizeof(buf)), 0);
	assert_int_equal(sh.base.state, TLK_LINK_VALID);
	assert_string_equal(sh.base.digest, D1);
	assert_int_equal(sh.base_len, L);
	assert_memory_equal(sh.base_bytes, D1, L);
	assert_false(sh.failed);
}

static void test_init_states(void **state)
{
	struct tlk_shadow sh;

	(void)state;
	tlk_shadow_init(&sh, NULL, 0, false);
	assert_true(sh.base.state == TLK_LINK_ABSENT ||
		    sh.base.state == TLK_LINK_EMPTY);
	assert_int_equal(sh.base_len, 0);
	assert_int_equal(sh.len, 0);
	assert_false(sh.failed);

	tlk_shadow_init(&sh, "junk", 4, false);
	assert_int_equal(sh.base.state, TLK_LINK_MALFORMED);
	assert_int_equal(sh.base_len, 4);
}

/* A malformed link longer than a link can be keeps its real size. */
static void test_init_oversized_junk(void **state)
{
	char junk[200];
	struct tlk_shadow sh;

	(void)state;
	memset(junk, 'j', sizeof(junk));
	tlk_shadow_init(&sh, junk, sizeof(junk), false);
	assert_int_equal(sh.base.state, TLK_LINK_MALFORMED);
	assert_int_equal(sh.base_len, sizeof(junk));
	assert_true(sh.len <= TLK_SHADOW_MAX);
	assert_int_equal(tlk_shadow_write(&sh, 0, D1, L), -EPERM);
	assert_int_not_equal(tlk_shadow_state(&sh, true), TLK_SHADOW_PUBLISH);
}

/* After a publish the new digest is what the handle must keep. */
static void test_committed(void **state)
{
	struct tlk_shadow sh;
	char buf[L];

	(void)state;
	tlk_shadow_init(&sh, NULL, 0, false);
	assert_int_equal(tlk_shadow_write(&sh, 0, D1, L), 0);
	assert_int_equal(tlk_shadow_state(&sh, true), TLK_SHADOW_PUBLISH);
	tlk_shadow_committed(&sh);
	assert_int_equal(sh.base.state, TLK_LINK_VALID);
	assert_string_equal(sh.base.digest, D1);
	assert_int_equal(sh.base_len, L);
	assert_memory_equal(sh.base_bytes, D1, L);
	assert_int_equal(tlk_shadow_state(&sh, false), TLK_SHADOW_UNCHANGED);
	assert_int_equal(tlk_shadow_state(&sh, true), TLK_SHADOW_UNCHANGED);
	assert_int_equal(tlk_shadow_read(&sh, 0, buf, sizeof(buf)), L);
	assert_memory_equal(buf, D1, L);

	/* same bytes again: fine; another digest: refused */
	assert_int_equal(tlk_shadow_write(&sh, 0, D1, L), 0);
	assert_int_equal(tlk_shadow_write(&sh, 0, D2, L), -EPERM);
	assert_int_equal(tlk_shadow_write(&sh, L, "x", 1), -EPERM);
	assert_int_equal(tlk_shadow_read(&sh, 0, buf, sizeof(buf)), L);
	assert_memory_equal(buf, D1, L);
}

struct read_case {
	off_t off;
	size_t n;
	size_t want;
};

static void test_read(void **state)
{
	static const struct read_case cases[] = {
	    {0, L, L},	{0, 1000, L}, {60, 100, L - 60}, {70, 1, 1},
	    {L, 10, 0}, {200, 10, 0}, {0, 0, 0},	 {7, 64, 64},
	};
	struct tlk_shadow sh;
	char buf[1000];

	(void)state;
	tlk_shadow_init(&sh, D1, L, false);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct read_case *c = &cases[i];
		size_t got;

		memset(buf, 0, sizeof(buf));
		got = tlk_shadow_read(&sh, c->off, buf, c->n);
		if (got != c->want || memcmp(buf, D1 + c->off, c->want) != 0) {
			print_error("read(off %lld, n %zu): %zu bytes, want "
				    "%zu\n",
				    (long long)c->off, c->n, got, c->want);
			fail();
		}
	}
	/* a read follows the view, not the base */
	assert_int_equal(tlk_shadow_truncate(&sh, 10), 0);
	assert_int_equal(tlk_shadow_read(&sh, 0, buf, sizeof(buf)), 10);
	assert_memory_equal(buf, D1, 10);
	assert_int_equal(tlk_shadow_read(&sh, 10, buf, sizeof(buf)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scripts),
	    cmocka_unit_test(test_refusal_changes_nothing),
	    cmocka_unit_test(test_init_truncate_keeps_base),
	    cmocka_unit_test(test_init_states),
	    cmocka_unit_test(test_init_oversized_junk),
	    cmocka_unit_test(test_committed),
	    cmocka_unit_test(test_read),
	};
	return cmocka_run_group_tests_name("shadow", tests, NULL, NULL);
}

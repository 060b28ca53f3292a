/* SPDX-License-Identifier: MIT */
/*
 * test_digest.c - link contents: only the canonical 71-byte form is a
 * digest; everything else is empty or malformed, and malformed never
 * compares equal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "taglockfs/digest.h"

#define H "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define H2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define LINK "sha256:" H
#define LINK2 "sha256:" H2

struct parse_case {
	const char *what;
	const char *bytes;
	size_t len;
	enum tlk_link_state state;
};

/* len is explicit so that embedded NULs and missing terminators count. */
#define CASE(what, s, st)                                                      \
	{                                                                      \
		what, s, sizeof(s) - 1, st                                     \
	}

/* clang-format off */
static const struct parse_case parse_cases[] = {
	CASE("empty", "", TLK_LINK_EMPTY),
	CASE("canonical", LINK, TLK_LINK_VALID),
	CASE("canonical 2", LINK2, TLK_LINK_VALID),
	CASE("all zero digest", "sha256:" "000000000000000000000000000000"
				"0000000000000000000000000000000000",
	     TLK_LINK_VALID),
	CASE("trailing newline", LINK "\n", TLK_LINK_MALFORMED),
	CASE("trailing NUL", LINK "\0", TLK_LINK_MALFORMED),
	CASE("NUL inside", "sha256:0123456789abcdef\0" "123456789abcdef"
			   "0123456789abcdef0123456789abcdef",
	     TLK_LINK_MALFORMED),
	CASE("70 bytes", "sha256:0123456789abcdef0123456789abcdef"
			 "0123456789abcdef0123456789abcde",
	     TLK_LINK_MALFORMED),
	CASE("72 bytes", LINK "0", TLK_LINK_MALFORMED),
	CASE("uppercase hex", "sha256:0123456789ABCDEF0123456789abcdef"
			      "0123456789abcdef0123456789abcdef",
	     TLK_LINK_MALFORMED),
	CASE("uppercase algorithm", "SHA256:" H, TLK_LINK_MALFORMED),
	CASE("non-hex digit", "sha256:g123456789abcdef0123456789abcdef"
			      "0123456789abcdef0123456789abcdef",
	     TLK_LINK_MALFORMED),
	CASE("other algorithm, 71 bytes", "sha512:" H, TLK_LINK_MALFORMED),
	CASE("sha512 digest", "sha512:" H H, TLK_LINK_MALFORMED),
	CASE("no algorithm", H, TLK_LINK_MALFORMED),
	CASE("leading space", " sha256:0123456789abcdef0123456789abcdef"
			      "0123456789abcdef0123456789abcde",
	     TLK_LINK_MALFORMED),
	CASE("prefix only", "sha256:", TLK_LINK_MALFORMED),
	CASE("one NUL byte", "\0", TLK_LINK_MALFORMED),
	CASE("one newline", "\n", TLK_LINK_MALFORMED),
	CASE("71 NUL bytes", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
			     "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
			     "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
	     TLK_LINK_MALFORMED),
};
/* clang-format on */

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
	     i++) {
		const struct parse_case *c = &parse_cases[i];
		struct tlk_link link;

		memset(&link, 'Z', sizeof(link));
		tlk_link_parse(c->bytes, c->len, &link);
		if (link.state != c->state) {
			print_error("%s (%zu bytes): want state %d, got %d\n",
				    c->what, c->len, c->state, link.state);
			fail();
		}
		if (c->state == TLK_LINK_VALID) {
			assert_int_equal(strlen(link.digest), TLK_LINK_LEN);
			assert_memory_equal(link.digest, c->bytes,
					    TLK_LINK_LEN);
			assert_string_equal(tlk_link_show(&link), c->bytes);
		}
	}
	assert_int_equal(sizeof(LINK) - 1, TLK_LINK_LEN);
}

/* The parser reads exactly len bytes: a valid buffer that is not
 * NUL-terminated, and a longer buffer cut at 71, are both valid. */
static void test_parse_uses_len(void **state)
{
	char buf[TLK_LINK_LEN + 8];
	struct tlk_link link;

	(void)state;
	memcpy(buf, LINK, TLK_LINK_LEN);
	memset(buf + TLK_LINK_LEN, 'x', sizeof(buf) - TLK_LINK_LEN);
	tlk_link_parse(buf, TLK_LINK_LEN, &link);
	assert_int_equal(link.state, TLK_LINK_VALID);
	assert_string_equal(link.digest, LINK);

	tlk_link_parse(buf, TLK_LINK_LEN + 1, &link);
	assert_int_equal(link.state, TLK_LINK_MALFORMED);

	tlk_link_parse(NULL, 0, &link);
	assert_int_equal(link.state, TLK_LINK_EMPTY);
}

static void test_absent(void **state)
{
	struct tlk_link link;

	(void)state;
	memset(&link, 'Z', sizeof(link));
	tlk_link_absent(&link);
	assert_int_equal(link.state, TLK_LINK_ABSENT);
	assert_string_equal(tlk_link_show(&link), "(none)");
}

static void make(struct tlk_link *l, const char *what)
{
	if (strcmp(what, "absent") == 0)
		tlk_link_absent(l);
	else if (strcmp(what, "empty") == 0)
		tlk_link_parse("", 0, l);
	else if (strcmp(what, "junk") == 0)
		tlk_link_parse(LINK "\n", TLK_LINK_LEN + 1, l);
	else
		tlk_link_parse(what, strlen(what), l);
}

struct same_case {
	const char *a;
	const char *b;
	bool same;
};

/* clang-format off */
static const struct same_case same_cases[] = {
	{LINK, LINK, true},	    {LINK, LINK2, false},
	{"absent", "absent", true}, {"empty", "empty", true},
	{"absent", "empty", true},  {"absent", LINK, false},
	{"empty", LINK, false},	    {"junk", "junk", false},
	{"junk", "absent", false},  {"junk", "empty", false},
	{"junk", LINK, false},
};
/* clang-format on */

static void test_same_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(same_cases) / sizeof(same_cases[0]);
	     i++) {
		const struct same_case *c = &same_cases[i];
		struct tlk_link a, b;

		make(&a, c->a);
		make(&b, c->b);
		/* symmetric, whichever side is asked first */
		if (tlk_link_same(&a, &b) != c->same ||
		    tlk_link_same(&b, &a) != c->same) {
			print_error("same(%s, %s): want %d\n", c->a, c->b,
				    c->same);
			fail();
		}
	}
}

/* A malformed link is not equal to itself: its bytes are unknown here. */
static void test_malformed_never_same(void **state)
{
	struct tlk_link junk;

	(void)state;
	make(&junk, "junk");
	assert_false(tlk_link_same(&junk, &junk));
}

static void test_show(void **state)
{
	struct tlk_link l;

	(void)state;
	make(&l, "absent");
	assert_string_equal(tlk_link_show(&l), "(none)");
	make(&l, "empty");
	assert_string_equal(tlk_link_show(&l), "(empty)");
	make(&l, "junk");
	assert_string_equal(tlk_link_show(&l), "(malformed)");
	make(&l, LINK2);
	assert_string_equal(tlk_link_show(&l), LINK2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test(test_parse_uses_len),
	    cmocka_unit_test(test_absent),
	    cmocka_unit_test(test_same_table),
	    cmocka_unit_test(test_malformed_never_same),
	    cmocka_unit_test(test_show),
	};
	return cmocka_run_group_tests_name("digest", tests, NULL, NULL);
}

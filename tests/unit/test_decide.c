/* SPDX-License-Identifier: MIT */
/*
 * test_decide.c - the verdict for every operation on tag state, one table
 * row per situation a registry (or an operator) can create.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "taglockfs/decide.h"

#define D1                                                                     \
	"sha256:"                                                              \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D2                                                                     \
	"sha256:"                                                              \
	"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define SENTENCE "The requested tag already exists and cannot be overwritten."

/* Link contents used in the table. */
enum lk { ABS, EMP, V1, V2, MAL };

#define ANY (-1) /* the rules leave the reason open */

struct row {
	enum tlk_op op;
	bool prot;   /* tag_protected */
	bool pdel;   /* protect_delete */
	bool holds;  /* holds_protected */
	enum lk cur; /* current/link now */
	enum lk next;
	size_t new_size;
	size_t cur_size;
	enum tlk_verdict_kind kind;
	int reason;
};

#define ALLOW TLK_ALLOW
#define REFUSE TLK_REFUSE
#define INSPECT TLK_INSPECT

/* Shorthand: op, prot, pdel, holds, cur, next, new_size, cur_size, verdict */
/* clang-format off */
static const struct row rows[] = {
	/* open for writing: a protected link is served through a shadow */
	{TLK_OP_OPEN_LINK, true, true, false, V1, ABS, 0, 0, INSPECT,
	 TLK_R_PROTECTED_OPEN},
	{TLK_OP_OPEN_LINK, true, false, false, ABS, ABS, 0, 0, INSPECT,
	 TLK_R_PROTECTED_OPEN},
	{TLK_OP_OPEN_LINK, false, true, false, V1, ABS, 0, 0, ALLOW,
	 TLK_R_NOT_PROTECTED},

	/* publish (close of a write handle, rename over the link) */
	{TLK_OP_PUBLISH_LINK, false, true, false, V1, V2, 0, 0, ALLOW,
	 TLK_R_NOT_PROTECTED},
	{TLK_OP_PUBLISH_LINK, false, true, false, V1, MAL, 0, 0, ALLOW,
	 TLK_R_NOT_PROTECTED},
	{TLK_OP_PUBLISH_LINK, true, true, false, ABS, V1, 0, 0, ALLOW,
	 TLK_R_CREATE},
	{TLK_OP_PUBLISH_LINK, true, true, false, EMP, V1, 0, 0, ALLOW,
	 TLK_R_CREATE},
	{TLK_OP_PUBLISH_LINK, true, true, false, V1, V1, 0, 0, ALLOW,
	 TLK_R_IDENTICAL},
	{TLK_OP_PUBLISH_LINK, true, false, false, V1, V1, 0, 0, ALLOW,
	 TLK_R_IDENTICAL},
	{TLK_OP_PUBLISH_LINK, true, true, false, V1, V2, 0, 0, REFUSE,
	 TLK_R_OVERWRITE},
	{TLK_OP_PUBLISH_LINK, true, false, false, V1, V2, 0, 0, REFUSE,
	 TLK_R_OVERWRITE},
	{TLK_OP_PUBLISH_LINK, true, true, false, MAL, V1, 0, 0, REFUSE,
	 TLK_R_OVERWRITE},
	{TLK_OP_PUBLISH_LINK, true, true, false, ABS, MAL, 0, 0, REFUSE,
	 TLK_R_MALFORMED},
	{TLK_OP_PUBLISH_LINK, true, true, false, ABS, EMP, 0, 0, REFUSE,
	 TLK_R_MALFORMED},
	{TLK_OP_PUBLISH_LINK, true, true, false, ABS, ABS, 0, 0, REFUSE,
	 TLK_R_MALFORMED},
	{TLK_OP_PUBLISH_LINK, true, true, false, V1, MAL, 0, 0, REFUSE,
	 TLK_R_MALFORMED},
	{TLK_OP_PUBLISH_LINK, true, true, false, V1, EMP, 0, 0, REFUSE,
	 TLK_R_MALFORMED},

	/* truncate(2) */
	{TLK_OP_TRUNCATE_LINK, false, true, false, V1, ABS, 0, 71, ALLOW,
	 TLK_R_NOT_PROTECTED},
	/* An empty link grown by truncate holds zeros, never a digest. */
	{TLK_OP_TRUNCATE_LINK, true, true, false, ABS, ABS, 0, 0, ALLOW,
	 TLK_R_IDENTICAL},
	{TLK_OP_TRUNCATE_LINK, true, true, false, EMP, ABS, 0, 0, ALLOW,
	 TLK_R_IDENTICAL},
	{TLK_OP_TRUNCATE_LINK, true, true, false, EMP, ABS, 71, 0, REFUSE,
	 TLK_R_MALFORMED},
	{TLK_OP_TRUNCATE_LINK, true, true, false, V1, ABS, 71, 71, ALLOW,
	 TLK_R_IDENTICAL},
	{TLK_OP_TRUNCATE_LINK, true, true, false, V1, ABS, 0, 71, REFUSE,
	 TLK_R_OVERWRITE},
	{TLK_OP_TRUNCATE_LINK, true, false, false, V1, ABS, 70, 71, REFUSE,
	 TLK_R_OVERWRITE},
	{TLK_OP_TRUNCATE_LINK, true, true, false, V1, ABS, 72, 71, REFUSE,
	 TLK_R_OVERWRITE},
	{TLK_OP_TRUNCATE_LINK, true, true, false, MAL, ABS, 0, 5, REFUSE,
	 TLK_R_OVERWRITE},
	{TLK_OP_TRUNCATE_LINK, true, true, false, MAL, ABS, 5, 5, ALLOW,
	 TLK_R_IDENTICAL},

	/* unlink of current/link */
	{TLK_OP_REMOVE_LINK, false, true, false, V1, ABS, 0, 0, ALLOW,
	 TLK_R_NOT_PROTECTED},
	{TLK_OP_REMOVE_LINK, true, true, false, ABS, ABS, 0, 0, ALLOW, ANY},
	{TLK_OP_REMOVE_LINK, true, true, false, EMP, ABS, 0, 0, ALLOW, ANY},
	{TLK_OP_REMOVE_LINK, true, true, false, V1, ABS, 0, 0, REFUSE,
	 TLK_R_REMOVE},
	{TLK_OP_REMOVE_LINK, true, true, false, MAL, ABS, 0, 0, REFUSE,
	 TLK_R_REMOVE},
	{TLK_OP_REMOVE_LINK, true, false, false, V1, ABS, 0, 0, ALLOW, ANY},

	/* a new index entry below the tag */
	{TLK_OP_INDEX_ADD, false, true, false, V1, V2, 0, 0, ALLOW,
	 TLK_R_NOT_PROTECTED},
	{TLK_OP_INDEX_ADD, true, true, false, ABS, V1, 0, 0, ALLOW, ANY},
	{TLK_OP_INDEX_ADD, true, true, false, EMP, V1, 0, 0, ALLOW, ANY},
	{TLK_OP_INDEX_ADD, true, true, false, V1, V1, 0, 0, ALLOW,
	 TLK_R_IDENTICAL},
	{TLK_OP_INDEX_ADD, true, true, false, V1, V2, 0, 0, REFUSE,
	 TLK_R_INDEX_OTHER},
	{TLK_OP_INDEX_ADD, true, false, false, V1, V2, 0, 0, REFUSE,
	 TLK_R_INDEX_OTHER},
	{TLK_OP_INDEX_ADD, true, true, false, MAL, V1, 0, 0, REFUSE,
	 TLK_R_INDEX_OTHER},

	/* unlink of an index entry */
	{TLK_OP_INDEX_REMOVE, false, true, false, V1, V1, 0, 0, ALLOW,
	 TLK_R_NOT_PROTECTED},
	{TLK_OP_INDEX_REMOVE, true, true, false, ABS, V1, 0, 0, ALLOW, ANY},
	{TLK_OP_INDEX_REMOVE, true, true, false, EMP, V1, 0, 0, ALLOW, ANY},
	{TLK_OP_INDEX_REMOVE, true, true, false, V1, V2, 0, 0, ALLOW, ANY},
	{TLK_OP_INDEX_REMOVE, true, true, false, V1, V1, 0, 0, REFUSE,
	 TLK_R_REMOVE},
	{TLK_OP_INDEX_REMOVE, true, false, false, V1, V1, 0, 0, ALLOW, ANY},

	/* unlink of a revision link */
	{TLK_OP_REVISION_REMOVE, true, true, true, V1, V1, 0, 0, REFUSE,
	 TLK_R_REVISION_IN_USE},
	{TLK_OP_REVISION_REMOVE, true, false, true, V1, V1, 0, 0, ALLOW, ANY},
	{TLK_OP_REVISION_REMOVE, false, true, false, V1, V1, 0, 0, ALLOW,
	 ANY},
	{TLK_OP_REVISION_REMOVE, true, true, false, ABS, ABS, 0, 0, ALLOW,
	 ANY},

	/* rename of something that holds tag state */
	{TLK_OP_MOVE_AWAY, true, true, true, V1, ABS, 0, 0, REFUSE,
	 TLK_R_MOVE},
	{TLK_OP_MOVE_AWAY, true, false, true, V1, ABS, 0, 0, REFUSE,
	 TLK_R_MOVE},
	{TLK_OP_MOVE_AWAY, true, true, false, ABS, ABS, 0, 0, ALLOW, ANY},
	{TLK_OP_MOVE_AWAY, false, true, false, V1, ABS, 0, 0, ALLOW, ANY},

	/* rmdir of something that holds tag state */
	{TLK_OP_REMOVE_DIR, true, true, true, V1, ABS, 0, 0, REFUSE,
	 TLK_R_REMOVE},
	{TLK_OP_REMOVE_DIR, true, false, true, V1, ABS, 0, 0, ALLOW, ANY},
	{TLK_OP_REMOVE_DIR, true, true, false, ABS, ABS, 0, 0, ALLOW, ANY},
	{TLK_OP_REMOVE_DIR, false, true, false, V1, ABS, 0, 0, ALLOW, ANY},

	/* aliases of a protected link */
	{TLK_OP_HARDLINK, true, true, false, V1, ABS, 0, 0, REFUSE,
	 TLK_R_LINK_ALIAS},
	{TLK_OP_HARDLINK, true, false, false, ABS, ABS, 0, 0, REFUSE,
	 TLK_R_LINK_ALIAS},
	{TLK_OP_HARDLINK, false, true, false, V1, ABS, 0, 0, ALLOW, ANY},
	{TLK_OP_SYMLINK, true, true, false, V1, ABS, 0, 0, REFUSE,
	 TLK_R_LINK_ALIAS},
	{TLK_OP_SYMLINK, true, false, false, ABS, ABS, 0, 0, REFUSE,
	 TLK_R_LINK_ALIAS},
	{TLK_OP_SYMLINK, false, true, false, V1, ABS, 0, 0, ALLOW, ANY},
};
/* clang-format on */

static void set_link(struct tlk_link *l, enum lk which)
{
	switch (which) {
	case ABS:
		tlk_link_absent(l);
		break;
	case EMP:
		tlk_link_parse("", 0, l);
		break;
	case V1:
		tlk_link_parse(D1, strlen(D1), l);
		break;
	case V2:
		tlk_link_parse(D2, strlen(D2), l);
		break;
	case MAL:
	default:
		tlk_link_parse(D1 "\n", strlen(D1) + 1, l);
		break;
	}
}

static const char *const lk_names[] = {"absent", "empty", "d1", "d2",
				       "malformed"};

static void facts_of(const struct row *r, struct tlk_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->op = r->op;
	f->tag_protected = r->prot;
	f->protect_delete = r->pdel;
	f->holds_protected = r->holds;
	set_link(&f->current, r->cur);
	set_link(&f->next, r->next);
	f->new_size = r->new_size;
	f->current_size = r->cur_size;
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
		if (v.kind == r->kind &&
		    (r->reason == ANY || (int)v.reason == r->reason))
			continue;
		print_error("row %zu: %s prot=%d pdel=%d holds=%d cur=%s "
			    "next=%s size %zu->%zu: want %d/%s, got %d/%s\n",
			    i, tlk_op_name(r->op), r->prot, r->pdel, r->holds,
			    lk_names[r->cur], lk_names[r->next], r->cur_size,
			    r->new_size, r->kind,
			    r->reason == ANY
				? "any"
				: tlk_reason_name((enum tlk_reason)r->reason),
			    v.kind, tlk_reason_name(v.reason));
		bad++;
	}
	assert_int_equal(bad, 0);
}

/* Over every combination of facts: nothing is refused where no protected
 * state is involved, only OPEN_LINK inspects, and every answer is in range
 * with a name and a sentence. */
static void test_decide_sweep(void **state)
{
	static const size_t sizes[] = {0, 5, 71, 72};
	struct tlk_facts f;

	(void)state;
	for (int op = 0; op < TLK_OP_COUNT; op++)
		for (int bits = 0; bits < 8; bits++)
			for (int cur = ABS; cur <= MAL; cur++)
				for (int next = ABS; next <= MAL; next++)
					for (size_t s = 0; s < 16; s++) {
						struct tlk_verdict v;
						struct row r = {(enum tlk_op)op,
								bits & 1,
								bits & 2,
								bits & 4,
								(enum lk)cur,
								(enum lk)next,
								sizes[s % 4],
								sizes[s / 4],
								ALLOW,
								ANY};

						facts_of(&r, &f);
						v = tlk_decide(&f);
						assert_true(
						    v.kind == TLK_ALLOW ||
						    v.kind == TLK_INSPECT ||
						    v.kind == TLK_REFUSE);
						assert_true((unsigned)v.reason <
							    TLK_R_COUNT);
						if (v.kind == TLK_INSPECT)
							assert_int_equal(
							    op,
							    TLK_OP_OPEN_LINK);
						if (!r.prot && !r.holds)
							assert_int_not_equal(
							    v.kind, TLK_REFUSE);
						if (v.kind == TLK_REFUSE)
							assert_int_not_equal(
							    tlk_verdict_errno(
								v),
							    0);
						else
							assert_int_equal(
							    tlk_verdict_errno(
								v),
							    0);
					}
}

/* The decision reads only its facts: same facts, same verdict. */
static void test_decide_const(void **state)
{
	struct tlk_facts f, copy;
	struct tlk_verdict a, b;

	(void)state;
	facts_of(&rows[9], &f); /* publish d2 over d1 */
	copy = f;
	a = tlk_decide(&f);
	b = tlk_decide(&f);
	assert_memory_equal(&f, &copy, sizeof(f));
	assert_int_equal(a.kind, b.kind);
	assert_int_equal(a.reason, b.reason);
	assert_int_equal(a.kind, TLK_REFUSE);
}

static void test_verdict_errno(void **state)
{
	(void)state;
	for (int r = 0; r < TLK_R_COUNT; r++) {
		struct tlk_verdict allow = {TLK_ALLOW, (enum tlk_reason)r};
		struct tlk_verdict insp = {TLK_INSPECT, (enum tlk_reason)r};
		struct tlk_verdict refuse = {TLK_REFUSE, (enum tlk_reason)r};
		int want = r == TLK_R_MALFORMED ? EINVAL : EPERM;

		assert_int_equal(tlk_verdict_errno(allow), 0);
		assert_int_equal(tlk_verdict_errno(insp), 0);
		assert_int_equal(tlk_verdict_errno(refuse), want);
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
	for (int i = 0; i < TLK_R_COUNT; i++) {
		const char *text = tlk_reason_text((enum tlk_reason)i);
		const char *name = tlk_reason_name((enum tlk_reason)i);

		assert_non_null(text);
		assert_non_null(name);
		assert_true(strlen(text) > 0 && strlen(name) > 0);
		assert_null(strchr(name, ' '));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(
			    name, tlk_reason_name((enum tlk_reason)j));
	}
	assert_non_null(tlk_reason_text(TLK_R_COUNT));
	assert_non_null(tlk_reason_name(TLK_R_COUNT));
}

static void test_op_names(void **state)
{
	(void)state;
	for (int i = 0; i < TLK_OP_COUNT; i++) {
		const char *name = tlk_op_name((enum tlk_op)i);

		assert_non_null(name);
		assert_true(strlen(name) > 0);
		assert_null(strchr(name, ' '));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(name,
						tlk_op_name((enum tlk_op)j));
	}
	assert_non_null(tlk_op_name(TLK_OP_COUNT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decide_table),
	    cmocka_unit_test(test_decide_sweep),
	    cmocka_unit_test(test_decide_const),
	    cmocka_unit_test(test_verdict_errno),
	    cmocka_unit_test(test_reason_words),
	    cmocka_unit_test(test_op_names),
	};
	return cmocka_run_group_tests_name("decide", tests, NULL, NULL);
}

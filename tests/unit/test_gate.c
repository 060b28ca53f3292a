/* SPDX-License-Identifier: MIT */
/*
 * test_gate.c - the gate's verdict (include/taglockfs/gate.h) as tables.
 *
 * Parsing: which requests are about a tag (PUT /v2/<name>/manifests/<tag>),
 * which are by digest, and which the gate leaves alone (other methods,
 * other paths, names and tags the registry itself refuses).
 *
 * Judging: one row per case the issue lists (digest reference,
 * unprotected repository or tag, new tag, identical body, different body,
 * malformed body, unreadable tag) under a policy given as YAML text; a
 * policy reload between two questions is two rows with the same facts
 * and different policies. Only an overwrite is 403, with the registry's
 * error body; everything else is 418.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taglockfs/gate.h"

/* ------------------------------------------------------------ parsing */

struct parse_row {
	const char *method, *target;
	enum tlk_gate_ask ask;
	const char *repo, *tag;
};

static const struct parse_row parse_rows[] = {
    {"PUT", "/v2/test/example/manifests/v1", TLK_GATE_BY_TAG, "test/example",
     "v1"},
    {"PUT", "/v2/app/manifests/latest", TLK_GATE_BY_TAG, "app", "latest"},
    {"PUT", "/v2/a/b/c/manifests/V_1.2-rc", TLK_GATE_BY_TAG, "a/b/c",
     "V_1.2-rc"},
    /* a name may itself contain "manifests" */
    {"PUT", "/v2/x/manifests/manifests/v1", TLK_GATE_BY_TAG, "x/manifests",
     "v1"},
    {"PUT", "/v2/my-app__x.y/manifests/v1?foo=bar", TLK_GATE_BY_TAG,
     "my-app__x.y", "v1"},
    {"PUT",
     "/v2/test/example/manifests/"
     "sha256:559aead08264d5795d3909718cdd05abd49572e84fe55590eef31a88a08fdffd",
     TLK_GATE_BY_DIGEST, "test/example", ""},
    {"GET", "/v2/test/example/manifests/v1", TLK_GATE_OTHER, "", ""},
    {"HEAD", "/v2/test/example/manifests/v1", TLK_GATE_OTHER, "", ""},
    {"DELETE", "/v2/test/example/manifests/v1", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/test/example/blobs/uploads/x", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/test/example/manifests/", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/test/example/manifests/a/b", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v1/test/manifests/v1", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2//manifests/v1", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/Test/manifests/v1", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/a..b/manifests/v1", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/a/_b/manifests/v1", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/a//b/manifests/v1", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/a/../b/manifests/v1", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/a-/manifests/v1", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/a/manifests/.v1", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/a/manifests/v%31", TLK_GATE_OTHER, "", ""},
    {"PUT", "/v2/a%2Fb/manifests/v1", TLK_GATE_OTHER, "", ""},
};

static void test_parse(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
		const struct parse_row *r = &parse_rows[i];
		struct tlk_gate_target t;

		tlk_gate_parse(r->method, r->target, &t);
		if (t.ask != r->ask || strcmp(t.repo, r->repo) != 0 ||
		    strcmp(t.tag, r->tag) != 0)
			fail_msg("row %zu: %s %s -> ask %d repo '%s' tag '%s'",
				 i, r->method, r->target, t.ask, t.repo, t.tag);
	}
}

static void test_parse_long_names(void **state)
{
	char target[2048], name[300];
	struct tlk_gate_target t;

	(void)state;
	memset(name, 'a', 255);
	name[255] = '\0';
	snprintf(target, sizeof(target), "/v2/%s/manifests/v1", name);
	tlk_gate_parse("PUT", target, &t);
	assert_int_equal(t.ask, TLK_GATE_BY_TAG);
	assert_string_equal(t.repo, name);
	memset(name, 'a', 256); /* one byte over distribution's limit */
	name[256] = '\0';
	snprintf(target, sizeof(target), "/v2/%s/manifests/v1", name);
	tlk_gate_parse("PUT", target, &t);
	assert_int_equal(t.ask, TLK_GATE_OTHER);
	memset(name, 'b', 129); /* a tag of 129 bytes */
	name[129] = '\0';
	snprintf(target, sizeof(target), "/v2/app/manifests/%s", name);
	tlk_gate_parse("PUT", target, &t);
	assert_int_equal(t.ask, TLK_GATE_OTHER);
}

/* ------------------------------------------------------------ judging */

static const char POLICY_LOCKED[] = "version: 1\n"
				    "repositories:\n"
				    "  - name: test/example\n"
				    "    immutable: true\n";
static const char POLICY_OPEN[] = "version: 1\n"
				  "repositories:\n"
				  "  - name: test/example\n"
				  "    immutable: false\n";
static const char POLICY_EXCEPT[] = "version: 1\n"
				    "repositories:\n"
				    "  - name: test/example\n"
				    "    immutable: true\n"
				    "    mutable_tags: [\"dev-*\"]\n";




enum cur { CUR_NONE, CUR_OF_A, CUR_OTHER, CUR_EMPTY, CUR_BAD };

struct judge_row {
	const char *policy;
	const char *target;
	enum cur current;
	const char *body;
	int error; /* reading the tag failed */
	int status;
	enum tlk_reason reason; /* checked when status is 403 or a refusal */
};

static const struct judge_row judge_rows[] = {
    /* by digest: no tag moves */
    {POLICY_LOCKED,
     "/v2/test/example/manifests/"
     "sha256:0000000000000000000000000000000000000000000000000000000000000000",
     CUR_OTHER, "manifest B", 0, 418, TLK_R_NOT_TAG_STATE},
    /* unlisted repository, mutable tag, excepted tag */
    {POLICY_LOCKED, "/v2/other/app/manifests/v1", CUR_OF_A, "manifest B", 0,
     418, TLK_R_NOT_PROTECTED},
    {POLICY_LOCKED, "/v2/test/example/manifests/latest", CUR_OF_A,
     "manifest B", 0, 418, TLK_R_NOT_PROTECTED},
    {POLICY_EXCEPT, "/v2/test/example/manifests/dev-1", CUR_OF_A,
     "manifest B", 0, 418, TLK_R_NOT_PROTECTED},
    /* a new tag; an empty link counts as none */
    {POLICY_LOCKED, "/v2/test/example/manifests/v1", CUR_NONE, "manifest B",
     0, 418, TLK_R_CREATE},
    {POLICY_LOCKED, "/v2/test/example/manifests/v1", CUR_EMPTY, "manifest B",
     0, 418, TLK_R_CREATE},
    /* identical body */
    {POLICY_LOCKED, "/v2/test/example/manifests/v1", CUR_OF_A, "manifest A",
     0, 418, TLK_R_IDENTICAL},
    /* a different body */
    {POLICY_LOCKED, "/v2/test/example/manifests/v1", CUR_OF_A, "manifest B",
     0, 403, TLK_R_OVERWRITE},
    {POLICY_EXCEPT, "/v2/test/example/manifests/v1", CUR_OF_A, "manifest B",
     0, 403, TLK_R_OVERWRITE},
    /* a body that is no manifest at all still has a digest */
    {POLICY_LOCKED, "/v2/test/example/manifests/v1", CUR_OF_A, "{not json", 0,
     403, TLK_R_OVERWRITE},
    {POLICY_LOCKED, "/v2/test/example/manifests/v1", CUR_OF_A, "", 0, 403,
     TLK_R_OVERWRITE},
    /* a policy reload between two questions */
    {POLICY_OPEN, "/v2/test/example/manifests/v1", CUR_OF_A, "manifest B", 0,
     418, TLK_R_NOT_PROTECTED},
    /* what the gate cannot judge, the filesystem will: send on */
    {POLICY_LOCKED, "/v2/test/example/manifests/v1", CUR_OF_A, "manifest B",
     EIO, 418, TLK_R_UNDECIDABLE},
    {POLICY_LOCKED, "/v2/test/example/manifests/v1", CUR_BAD, "manifest B", 0,
     403, TLK_R_OVERWRITE},
};

static void link_of(const char *body, struct tlk_link *out)
{
	struct tlk_gate_target t;
	struct tlk_gate_verdict v;
	struct tlk_gate_found f = {0};
	struct tlk_policy *p;
	struct tlk_policy_error err = {0};

	assert_int_equal(tlk_policy_load_buffer(POLICY_OPEN,
						strlen(POLICY_OPEN), &p, &err),
			 0);
	tlk_gate_parse("PUT", "/v2/x/manifests/v1", &t);
	tlk_link_absent(&f.current);
	assert_int_equal(tlk_gate_judge(&t, p, &f, body, strlen(body), &v), 0);
	*out = v.facts.next;
	tlk_policy_free(p);
}

static void test_judge(void **state)
{
	struct tlk_link dig_a, other;
	size_t i;

	(void)state;
	link_of("manifest A", &dig_a);
	assert_int_equal(dig_a.state, TLK_LINK_VALID);
	tlk_link_parse("sha256:1111111111111111111111111111111111111111111111111"
		       "111111111111111",
		       TLK_LINK_LEN, &other);
	for (i = 0; i < sizeof(judge_rows) / sizeof(judge_rows[0]); i++) {
		const struct judge_row *r = &judge_rows[i];
		struct tlk_policy_error err = {0};
		struct tlk_gate_target t;
		struct tlk_gate_found found = {.error = r->error};
		struct tlk_gate_verdict v;
		struct tlk_policy *p;

		assert_int_equal(tlk_policy_load_buffer(r->policy,
							strlen(r->policy), &p,
							&err),
				 0);
		tlk_gate_parse("PUT", r->target, &t);
		switch (r->current) {
		case CUR_NONE:
			tlk_link_absent(&found.current);
			break;
		case CUR_OF_A:
			found.current = dig_a;
			found.type = TLK_FT_REG;
			break;
		case CUR_OTHER:
			found.current = other;
			found.type = TLK_FT_REG;
			break;
		case CUR_EMPTY:
			tlk_link_parse("", 0, &found.current);
			found.type = TLK_FT_REG;
			break;
		case CUR_BAD:
			tlk_link_parse("garbage", 7, &found.current);
			found.type = TLK_FT_REG;
			break;
		default:
			fail();
		}
		assert_int_equal(tlk_gate_judge(&t, p, &found, r->body,
						strlen(r->body), &v),
				 0);
		if (v.status != r->status || v.verdict.reason != r->reason)
			fail_msg("row %zu (%s): status %d reason %s, want %d %s",
				 i, r->target, v.status,
				 tlk_reason_name(v.verdict.reason), r->status,
				 tlk_reason_name(r->reason));
		tlk_policy_free(p);
	}
}

static void test_denial_body(void **state)
{
	struct tlk_policy_error err = {0};
	struct tlk_gate_found found = {.type = TLK_FT_REG};
	struct tlk_gate_target t;
	struct tlk_gate_verdict v;
	struct tlk_policy *p;
	json_t *doc, *e, *detail;
	char *text;

	(void)state;
	assert_int_equal(tlk_policy_load_buffer(POLICY_LOCKED,
						strlen(POLICY_LOCKED), &p, &err),
			 0);
	link_of("manifest A", &found.current);
	tlk_gate_parse("PUT", "/v2/test/example/manifests/v1", &t);
	assert_int_equal(tlk_gate_judge(&t, p, &found, "manifest B", 10, &v), 0);
	assert_int_equal(v.status, 403);
	text = tlk_gate_denial_json(&t, &v);
	assert_non_null(text);
	doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	e = json_array_get(json_object_get(doc, "errors"), 0);
	assert_string_equal(json_string_value(json_object_get(e, "code")),
			    "DENIED");
	assert_string_equal(
	    json_string_value(json_object_get(e, "message")),
	    "The requested tag already exists and cannot be overwritten.");
	detail = json_object_get(e, "detail");
	assert_string_equal(
	    json_string_value(json_object_get(detail, "repository")),
	    "test/example");
	assert_string_equal(json_string_value(json_object_get(detail, "tag")),
			    "v1");
	assert_string_equal(
	    json_string_value(json_object_get(detail, "current")),
	    found.current.digest);
	assert_string_equal(
	    json_string_value(json_object_get(detail, "attempted")),
	    v.facts.next.digest);
	assert_string_not_equal(found.current.digest, v.facts.next.digest);
	json_decref(doc);
	free(text);
	tlk_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_parse_long_names),
	    cmocka_unit_test(test_judge),
	    cmocka_unit_test(test_denial_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_policy.c - the policy engine: glob matching and validation, loading
 * the YAML policy, the protected-tag answers, and every class of error
 * with the line and column an operator would be sent to.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "taglockfs/policy.h"

#define DATA TLK_TEST_DATA "/policy/"

/* ---- helpers ---------------------------------------------------------- */

static struct tlk_policy *load_ok(const char *yaml)
{
	struct tlk_policy *pol = NULL;
	struct tlk_policy_error err;
	int rc = tlk_policy_load_buffer(yaml, strlen(yaml), &pol, &err);

	if (rc)
		fail_msg("policy refused at %u:%u: %s\n%s", err.line,
			 err.column, err.message, yaml);
	assert_non_null(pol);
	return pol;
}

static struct tlk_policy *load_file_ok(const char *path)
{
	struct tlk_policy *pol = NULL;
	struct tlk_policy_error err;
	int rc = tlk_policy_load_file(path, &pol, &err);

	if (rc)
		fail_msg("%s refused at %u:%u: %s", path, err.line, err.column,
			 err.message);
	assert_non_null(pol);
	return pol;
}

/* An error message reads well after "FILE:LINE:COL: ". */
static void assert_message_style(const char *msg)
{
	size_t len = strlen(msg);

	assert_true(len > 0);
	if (isupper((unsigned char)msg[0]))
		fail_msg("message starts with a capital: %s", msg);
	if (msg[len - 1] == '.' || strchr(msg, '\n'))
		fail_msg("message ends with '.' or has a newline: %s", msg);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- glob matching ---------------------------------------------------- */

struct match_case {
	const char *pattern;
	const char *subject;
	bool match;
};

static const struct match_case tag_cases[] = {
    {"*", "latest", true},
    {"*", "v1.2.3", true},
    {"latest", "latest", true},
    {"latest", "Latest", false},
    {"latest", "latest2", false},
    {"latest", "alatest", false},
    {"v*", "v1.0", true},
    {"v*", "v", true},
    {"v*", "1.0", false},
    {"v?.?", "v1.2", true},
    {"v?.?", "v1.23", false},
    {"v?.?", "v1.", false},
    {"?", "a", true},
    {"?", "ab", false},
    {"sha256-*.sig", "sha256-0123abcd.sig", true},
    {"sha256-*.sig", "sha256-0123abcd.att", false},
    {"sha256-*.sig", "sha256-.sig", true},
    {"*.*.*", "1.2.3", true},
    {"*.*.*", "1.2", false},
    {"a*b*c", "abc", true},
    {"a*b*c", "aXXbYYc", true},
    {"a*b*c", "acb", false},
    {"a*b*c", "abcx", false},
    {"*-rc*", "1.0-rc2", true},
    {"*-rc*", "1.0", false},
    {"**", "anything", true},
    {"*a", "banana", true},
    {"*an", "banana", false},
    {"_build", "_build", true},
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void test_tag_glob_table(void **state)
{
	const struct match_case *cases = tag_cases;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(tag_cases); i++) {
		const struct match_case *c = &cases[i];

		if (tlk_glob_match_tag(c->pattern, c->subject) != c->match)
			fail_msg("tag glob '%s' vs '%s': expected %s",
				 c->pattern, c->subject,
				 c->match ? "match" : "no match");
	}
}

static const struct match_case repo_cases[] = {
    {"test/example", "test/example", true},
    {"test/example", "test/example2", false},
    {"test/example", "test", false},
    {"*", "alpine", true},
    {"*", "library/alpine", false},
    {"team-a/*", "team-a/app", true},
    {"team-a/*", "team-a", false},
    {"team-a/*", "team-a/app/sub", false},
    {"*/*", "a/b", true},
    {"*/*", "a", false},
    {"*/*", "a/b/c", false},
    /* `**` as a whole component: zero or more components */
    {"team-a/**", "team-a/app", true},
    {"team-a/**", "team-a/app/sub/deep", true},
    {"team-a/**", "team-a", true},
    {"team-a/**", "team-ab", false},
    {"team-a/**", "team-ab/app", false},
    {"team-a/**", "team", false},
    {"team-a/**", "other/team-a/app", false},
    {"**", "alpine", true},
    {"**", "a/b/c/d", true},
    {"**/app", "app", true},
    {"**/app", "team/app", true},
    {"**/app", "x/y/app", true},
    {"**/app", "x/y/app2", false},
    {"**/app", "app/x", false},
    {"a/**/b", "a/b", true},
    {"a/**/b", "a/x/b", true},
    {"a/**/b", "a/x/y/b", true},
    {"a/**/b", "a/b/c", false},
    {"a/**/b", "a/x/bb", false},
    {"a/**/b", "b", false},
    {"a/**/b/**", "a/b", true},
    {"a/**/b/**", "a/x/b/y/z", true},
    {"a/**/b/**", "a/x/c/y", false},
    {"**/**", "x/y", true},
    {"**/*", "x", true},
    {"**/*/c", "a/b/c", true},
    {"**/*/c", "c", false},
    /* `?` is one character, never '/' */
    {"a?b", "axb", true},
    {"a?b", "a/b", false},
    {"team-?/app", "team-a/app", true},
    {"team-?/app", "team-ab/app", false},
    {"lib*", "library", true},
    {"lib*", "lib/x", false},
    {"*-prod", "web-prod", true},
    {"*-prod", "web/x-prod", false},
    /* names the storage layout uses as directories are legal */
    {"x/tags/**", "x/tags/current", true},
    {"*/tags", "repo/tags", true},
    {"a/current", "a/current", true},
    {"a/current/**", "a/current/link", true},
    {"index/link", "index/link", true},
    {"my_repo", "my_repo", true},
    {"my_*", "my_repo", true},
    {"my_*", "my-repo", false},
    {"a__b/c", "a__b/c", true},
};

static void test_repo_glob_table(void **state)
{
	const struct match_case *cases = repo_cases;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(repo_cases); i++) {
		const struct match_case *c = &cases[i];

		if (tlk_glob_match_repo(c->pattern, c->subject) != c->match)
			fail_msg("repo glob '%s' vs '%s': expected %s",
				 c->pattern, c->subject,
				 c->match ? "match" : "no match");
	}
}

struct valid_case {
	const char *pattern;
	bool valid;
	const char *why; /* substring of the reason when invalid */
};

static void check_valid_table(const struct valid_case *cases, size_t n,
			      bool (*valid)(const char *, const char **),
			      const char *what)
{
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		bool ok = valid(cases[i].pattern, &why);

		if (ok != cases[i].valid)
			fail_msg("%s '%s': expected %s (%s)", what,
				 cases[i].pattern,
				 cases[i].valid ? "valid" : "invalid",
				 why ? why : "");
		if (ok)
			continue;
		assert_non_null(why);
		assert_message_style(why);
		if (!strstr(why, cases[i].why))
			fail_msg("%s '%s': reason '%s' lacks '%s'", what,
				 cases[i].pattern, why, cases[i].why);
	}
}

static void test_repo_glob_validation(void **state)
{
	static char long_pattern[1100];
	const struct valid_case cases[] = {
	    {"alpine", true, NULL},
	    {"team-a/**", true, NULL},
	    {"**", true, NULL},
	    {"**/app", true, NULL},
	    {"a/**/b", true, NULL},
	    {"lib*", true, NULL},
	    {"team-?/app", true, NULL},
	    {"my_repo", true, NULL},
	    {"a.b/c-d/e__f", true, NULL},
	    {"x/tags/current", true, NULL},
	    {"", false, "empty pattern"},
	    {"/a", false, "empty path component"},
	    {"a/", false, "empty path component"},
	    {"a//b", false, "empty path component"},
	    {"a**b", false, "'**' must be a whole path component"},
	    {"***", false, "'**' must be a whole path component"},
	    {"a/b**", false, "'**' must be a whole path component"},
	    {"**x/y", false, "'**' must be a whole path component"},
	    {"Team/app", false, "lowercase"},
	    {"a b", false, "not allowed"},
	    {"a:b", false, "not allowed"},
	    {"a@sha256", false, "not allowed"},
	    {"caf\xc3\xa9", false, "not allowed"},
	    {"_a", false, "cannot start"},
	    {"a/-b", false, "cannot start"},
	    {"a/.b", false, "cannot start"},
	    {"a-", false, "cannot end"},
	    {long_pattern, false, "longer than"},
	};

	(void)state;
	memset(long_pattern, 'a', sizeof(long_pattern) - 1);
	check_valid_table(cases, sizeof(cases) / sizeof(cases[0]),
			  tlk_glob_valid_repo, "repository glob");
}

static void test_tag_glob_validation(void **state)
{
	static char max_tag[129], too_long[130];
	const struct valid_case cases[] = {
	    {"*", true, NULL},
	    {"latest", true, NULL},
	    {"v1.*", true, NULL},
	    {"_internal", true, NULL},
	    {"A-Z_0.9", true, NULL},
	    {"sha256-*.sig", true, NULL},
	    {"?", true, NULL},
	    {max_tag, true, NULL},
	    {"", false, "empty pattern"},
	    {too_long, false, "longer than 128"},
	    {"a/b", false, "'/'"},
	    {"a:b", false, "not allowed"},
	    {"a b", false, "not allowed"},
	    {"\xc3\xbc", false, "not allowed"},
	    {".hidden", false, "cannot start"},
	    {"-x", false, "cannot start"},
	};

	(void)state;
	memset(max_tag, 'x', sizeof(max_tag) - 1);
	memset(too_long, 'x', sizeof(too_long) - 1);
	check_valid_table(cases, sizeof(cases) / sizeof(cases[0]),
			  tlk_glob_valid_tag, "tag glob");
}

/* The policy's shortcuts (literal names, literal prefixes, catch-alls)
 * answer exactly as the matchers do, on the same tables. */
static void test_policy_matches_like_globs(void **state)
{
	char yaml[512];
	struct tlk_policy *pol;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(repo_cases); i++) {
		const struct match_case *c = &repo_cases[i];

		snprintf(yaml, sizeof(yaml),
			 "version: 1\nrepositories:\n  - name: \"%s\"\n"
			 "    immutable: true\n",
			 c->pattern);
		pol = load_ok(yaml);
		if (tlk_policy_repo_immutable(pol, c->subject) != c->match)
			fail_msg("entry '%s' vs repository '%s': expected %s",
				 c->pattern, c->subject,
				 c->match ? "match" : "no match");
		tlk_policy_free(pol);
	}
	for (size_t i = 0; i < N_ELEMS(tag_cases); i++) {
		const struct match_case *c = &tag_cases[i];

		snprintf(yaml, sizeof(yaml),
			 "version: 1\ndefaults:\n  immutable_tags: [\"%s\"]\n"
			 "  mutable_tags: []\nrepositories:\n"
			 "  - {name: app, immutable: true}\n",
			 c->pattern);
		pol = load_ok(yaml);
		if (tlk_policy_tag_protected(pol, "app", c->subject) !=
		    c->match)
			fail_msg("immutable_tags '%s' vs tag '%s': expected %s",
				 c->pattern, c->subject,
				 c->match ? "match" : "no match");
		tlk_policy_free(pol);
	}
}

/* Patterns that make a backtracking matcher take exponential time. */
static void test_adversarial_globs_are_fast(void **state)
{
	char tag_pat[260], tag[200], repo_pat[4000], repo[4000], comp[600];
	size_t n = 0;
	double start = now();

	(void)state;
	for (int i = 0; i < 60; i++)
		n += (size_t)sprintf(tag_pat + n, "*a");
	strcpy(tag_pat + n, "*b");
	memset(tag, 'a', sizeof(tag) - 1);
	tag[sizeof(tag) - 1] = '\0';
	for (int i = 0; i < 200; i++)
		assert_false(tlk_glob_match_tag(tag_pat, tag));

	/* many `**` components against many components */
	n = 0;
	for (int i = 0; i < 300; i++)
		n += (size_t)sprintf(repo_pat + n, "**/a/");
	strcpy(repo_pat + n, "b");
	n = 0;
	for (int i = 0; i < 700; i++)
		n += (size_t)sprintf(repo + n, "a/");
	strcpy(repo + n, "a");
	for (int i = 0; i < 5; i++)
		assert_false(tlk_glob_match_repo(repo_pat, repo));

	/* `*` runs inside one long component */
	n = 0;
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(comp + n, "*a");
	strcpy(comp + n, "*b");
	memset(repo, 'a', 3000);
	repo[3000] = '\0';
	assert_false(tlk_glob_match_repo(comp, repo));

	if (now() - start > 2.0)
		fail_msg("adversarial globs took %.1f s", now() - start);
	/* and the matcher still matches when it should */
	tag[sizeof(tag) - 2] = 'b';
	assert_true(tlk_glob_match_tag(tag_pat, tag));
}

static void test_glob_null_arguments(void **state)
{
	(void)state;
	assert_false(tlk_glob_match_tag(NULL, "a"));
	assert_false(tlk_glob_match_tag("*", NULL));
	assert_false(tlk_glob_match_repo(NULL, "a"));
	assert_false(tlk_glob_match_repo("**", NULL));
	assert_false(tlk_glob_valid_repo(NULL, NULL));
	assert_false(tlk_glob_valid_tag(NULL, NULL));
}

/* ---- loading valid policies ------------------------------------------- */

struct protect_case {
	const char *repo;
	const char *tag;
	bool protected_;
};

static void check_protect_table(const struct tlk_policy *pol,
				const struct protect_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct protect_case *c = &cases[i];

		if (tlk_policy_tag_protected(pol, c->repo, c->tag) !=
		    c->protected_)
			fail_msg("%s:%s expected %s", c->repo, c->tag,
				 c->protected_ ? "protected" : "mutable");
	}
}

static void test_design_example(void **state)
{
	static const struct protect_case cases[] = {
	    {"test/example", "v1", true},
	    {"test/example", "1.0.0", true},
	    {"test/example", "latest", false},
	    {"test/example", "nightly", true}, /* only team-a overrides */
	    {"test/example2", "v1", false},
	    {"test", "v1", false},
	    {"team-a/scratch", "v1", false},
	    {"team-a/scratch", "latest", false},
	    {"team-a/app", "v1", true},
	    {"team-a/app", "latest", false},
	    {"team-a/app", "nightly", false},
	    {"team-a/app", "sha256-0123abcd.sig", false},
	    {"team-a/app", "sha256-0123abcd.att", true},
	    {"team-a/app", "nightly-2", true},
	    {"team-a/scratch/sub", "v1", true}, /* not the scratch entry */
	    {"team-a/deep/er/app", "1.0", true},
	    {"team-a", "v1", true},
	    {"team-b/app", "v1", false},
	    {"library/alpine", "3.19", false},
	};
	struct tlk_policy *pol = load_file_ok(DATA "design-example.yaml");

	(void)state;
	check_protect_table(pol, cases, sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(tlk_policy_entry_count(pol), 3);
	assert_int_equal(tlk_policy_immutable_count(pol), 2);
	assert_true(tlk_policy_repo_immutable(pol, "test/example"));
	assert_true(tlk_policy_repo_immutable(pol, "team-a/app"));
	assert_false(tlk_policy_repo_immutable(pol, "team-a/scratch"));
	assert_false(tlk_policy_repo_immutable(pol, "library/alpine"));
	assert_true(tlk_policy_protect_delete(pol, "team-a/app"));
	assert_true(tlk_policy_protect_delete(pol, "test/example"));
	tlk_policy_free(pol);
}

static void test_full_file_every_key(void **state)
{
	static const struct protect_case cases[] = {
	    /* the prod entry: immutable_tags ["*"], mutable_tags [] */
	    {"prod/web", "latest", true},
	    {"prod/web", "anything", true},
	    {"prod/web", "x-dev", true},
	    /* the staging entry: the defaults ["v*", "release-*", "stable"]
	     * minus ["*-dev", "latest"] */
	    {"staging/web", "v1.0", true},
	    {"staging/web", "release-7", true},
	    {"staging/web", "stable", true},
	    {"staging/web", "v1-dev", false},
	    {"staging/web", "latest", false},
	    {"staging/web", "nightly", false},
	    {"staging/web/x", "v1.0", false},
	    /* the sandbox entry: immutable: FALSE */
	    {"sandbox/a/b", "v1.0", false},
	    /* lib?: mutable_tags [edge] replaces the default list */
	    {"libx", "v2", true},
	    {"libx", "edge", false},
	    {"libx", "v2-dev", true},
	    {"libx", "nightly", false},
	    {"lib", "v2", false},
	};
	struct tlk_policy *pol = load_file_ok(DATA "full.yaml");

	(void)state;
	check_protect_table(pol, cases, sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(tlk_policy_entry_count(pol), 4);
	assert_int_equal(tlk_policy_immutable_count(pol), 3);
	assert_true(tlk_policy_protect_delete(pol, "prod/web"));
	assert_false(tlk_policy_protect_delete(pol, "staging/web"));
	assert_false(tlk_policy_protect_delete(pol, "libx"));
	assert_false(tlk_policy_protect_delete(pol, "unlisted"));
	tlk_policy_free(pol);
}

static void test_defaults_when_absent(void **state)
{
	struct tlk_policy *pol = load_ok("version: 1\n"
					 "repositories:\n"
					 "  - name: app\n"
					 "    immutable: true\n");

	(void)state;
	/* immutable_tags ["*"], mutable_tags ["latest"], protect_delete */
	assert_true(tlk_policy_tag_protected(pol, "app", "v1"));
	assert_true(tlk_policy_tag_protected(pol, "app", "latest-1"));
	assert_false(tlk_policy_tag_protected(pol, "app", "latest"));
	assert_true(tlk_policy_protect_delete(pol, "app"));
	assert_false(tlk_policy_tag_protected(pol, "other", "v1"));
	tlk_policy_free(pol);
}

static void test_minimal_and_empty_sections(void **state)
{
	static const char *const yamls[] = {
	    "version: 1\n",
	    "version: 1\ndefaults:\nrepositories:\n",
	    "version: 1\ndefaults: {}\nrepositories: []\n",
	    "{version: 1}",
	    "---\nversion: 01\n...\n",
	};
	struct tlk_policy *pol;

	(void)state;
	for (size_t i = 0; i < sizeof(yamls) / sizeof(yamls[0]); i++) {
		pol = load_ok(yamls[i]);
		assert_int_equal(tlk_policy_entry_count(pol), 0);
		assert_false(tlk_policy_repo_immutable(pol, "any"));
		assert_false(tlk_policy_tag_protected(pol, "any", "v1"));
		assert_true(tlk_policy_protect_delete(pol, "any"));
		tlk_policy_free(pol);
	}
	pol = load_file_ok(DATA "minimal.yaml");
	assert_int_equal(tlk_policy_entry_count(pol), 0);
	tlk_policy_free(pol);
}

static void test_first_match_wins(void **state)
{
	struct tlk_policy *pol = load_ok("version: 1\n"
					 "repositories:\n"
					 "  - name: team/open\n"
					 "    immutable: false\n"
					 "  - name: team/**\n"
					 "    immutable: true\n"
					 "  - name: team/closed\n"
					 "    immutable: false\n"
					 "  - name: '**'\n"
					 "    immutable: true\n"
					 "    immutable_tags: [\"v*\"]\n");

	(void)state;
	assert_false(tlk_policy_tag_protected(pol, "team/open", "v1"));
	assert_true(tlk_policy_tag_protected(pol, "team/x", "v1"));
	/* the later, more specific entry never applies */
	assert_true(tlk_policy_tag_protected(pol, "team/closed", "v1"));
	assert_true(tlk_policy_tag_protected(pol, "team/closed", "build7"));
	/* the catch-all applies to the rest, with its own tag list */
	assert_true(tlk_policy_tag_protected(pol, "other/app", "v2"));
	assert_false(tlk_policy_tag_protected(pol, "other/app", "build7"));
	assert_true(tlk_policy_repo_immutable(pol, "anything/at/all"));
	assert_int_equal(tlk_policy_immutable_count(pol), 2);
	tlk_policy_free(pol);
}

static void test_mutable_wins_over_immutable(void **state)
{
	struct tlk_policy *pol = load_ok("version: 1\n"
					 "defaults:\n"
					 "  immutable_tags: [\"v*\", latest]\n"
					 "  mutable_tags: [\"*-rc*\", latest]\n"
					 "repositories:\n"
					 "  - name: app\n"
					 "    immutable: true\n");

	(void)state;
	assert_true(tlk_policy_tag_protected(pol, "app", "v1.0"));
	assert_false(tlk_policy_tag_protected(pol, "app", "v1.0-rc1"));
	assert_false(tlk_policy_tag_protected(pol, "app", "latest"));
	assert_false(tlk_policy_tag_protected(pol, "app", "main"));
	tlk_policy_free(pol);
}

static void test_entry_override_replaces_defaults(void **state)
{
	struct tlk_policy *pol = load_ok("version: 1\n"
					 "defaults:\n"
					 "  immutable_tags: [\"v*\"]\n"
					 "  mutable_tags: [\"v0*\"]\n"
					 "  protect_delete: false\n"
					 "repositories:\n"
					 "  - name: a\n"
					 "    immutable: true\n"
					 "    immutable_tags: [\"rel-*\"]\n"
					 "  - name: b\n"
					 "    immutable: true\n"
					 "    mutable_tags: [nightly]\n"
					 "    protect_delete: true\n"
					 "  - name: c\n"
					 "    immutable: true\n");

	(void)state;
	/* a: own immutable_tags, the default mutable_tags still apply */
	assert_true(tlk_policy_tag_protected(pol, "a", "rel-1"));
	assert_false(tlk_policy_tag_protected(pol, "a", "v1"));
	assert_false(tlk_policy_protect_delete(pol, "a"));
	/* b: own mutable_tags replace ["v0*"], not added to it */
	assert_true(tlk_policy_tag_protected(pol, "b", "v0.9"));
	assert_false(tlk_policy_tag_protected(pol, "b", "nightly"));
	assert_false(tlk_policy_tag_protected(pol, "b", "rel-1"));
	assert_true(tlk_policy_protect_delete(pol, "b"));
	/* c: the file's defaults, which replaced the built-in ones */
	assert_true(tlk_policy_tag_protected(pol, "c", "v1"));
	assert_false(tlk_policy_tag_protected(pol, "c", "v0.1"));
	assert_false(tlk_policy_tag_protected(pol, "c", "latest"));
	tlk_policy_free(pol);
}

static void test_defaults_after_repositories(void **state)
{
	/* key order does not matter: defaults apply to earlier entries */
	struct tlk_policy *pol = load_ok("repositories:\n"
					 "  - {name: app, immutable: true}\n"
					 "defaults: {mutable_tags: [dev]}\n"
					 "version: 1\n");

	(void)state;
	assert_true(tlk_policy_tag_protected(pol, "app", "latest"));
	assert_false(tlk_policy_tag_protected(pol, "app", "dev"));
	tlk_policy_free(pol);
}

static void test_scalar_forms(void **state)
{
	struct tlk_policy *pol = load_ok("version: 1\n"
					 "repositories:\n"
					 "  - name: 'single'\n"
					 "    immutable: True\n"
					 "  - name: \"double\"\n"
					 "    immutable: TRUE\n"
					 "  - name: \"plain\"\n"
					 "    immutable: False\n"
					 "  - name: 2024\n"
					 "    immutable: true\n"
					 "    immutable_tags: [1.0, 2, '3']\n");

	(void)state;
	assert_true(tlk_policy_tag_protected(pol, "single", "v1"));
	assert_true(tlk_policy_tag_protected(pol, "double", "v1"));
	assert_false(tlk_policy_tag_protected(pol, "plain", "v1"));
	assert_true(tlk_policy_tag_protected(pol, "2024", "1.0"));
	assert_true(tlk_policy_tag_protected(pol, "2024", "2"));
	assert_true(tlk_policy_tag_protected(pol, "2024", "3"));
	assert_false(tlk_policy_tag_protected(pol, "2024", "4"));
	tlk_policy_free(pol);
}

static void test_empty_tag_lists(void **state)
{
	struct tlk_policy *pol = load_ok("version: 1\n"
					 "repositories:\n"
					 "  - name: none\n"
					 "    immutable: true\n"
					 "    immutable_tags: []\n"
					 "  - name: all\n"
					 "    immutable: true\n"
					 "    mutable_tags: []\n");

	(void)state;
	assert_false(tlk_policy_tag_protected(pol, "none", "v1"));
	assert_true(tlk_policy_repo_immutable(pol, "none"));
	assert_true(tlk_policy_tag_protected(pol, "all", "latest"));
	tlk_policy_free(pol);
}

/* A large policy loads, and queries stay cheap. */
static void test_many_entries(void **state)
{
	size_t cap = 900 * 1024, n = 0;
	char *yaml = malloc(cap);
	struct tlk_policy *pol;
	double start;

	(void)state;
	assert_non_null(yaml);
	n += (size_t)snprintf(yaml, cap, "version: 1\nrepositories:\n");
	for (int i = 0; i < 10000; i++)
		n += (size_t)snprintf(yaml + n, cap - n,
				      "  - {name: \"team%d/**\", immutable: "
				      "%s}\n",
				      i, i % 2 ? "true" : "false");
	assert_true(n < cap);
	pol = load_ok(yaml);
	free(yaml);
	assert_int_equal(tlk_policy_entry_count(pol), 10000);
	assert_int_equal(tlk_policy_immutable_count(pol), 5000);
	start = now();
	for (int i = 0; i < 20; i++)
		assert_true(tlk_policy_tag_protected(pol, "team9999/x", "v1"));
	assert_false(tlk_policy_tag_protected(pol, "team9998/x", "v1"));
	if (now() - start > 2.0)
		fail_msg("20 queries over 10000 entries took %.1f s",
			 now() - start);
	tlk_policy_free(pol);
}

/* ---- errors ----------------------------------------------------------- */

struct error_case {
	const char *yaml;
	unsigned line, column;
	const char *needle;  /* must appear in the message */
	const char *needle2; /* and this too, when set */
};

static void check_error(const struct error_case *c, size_t len)
{
	struct tlk_policy *pol = (struct tlk_policy *)c; /* must be reset */
	struct tlk_policy_error err;
	int rc = tlk_policy_load_buffer(c->yaml, len, &pol, &err);

	if (rc == 0)
		fail_msg("accepted, expected '%s' at %u:%u:\n%s", c->needle,
			 c->line, c->column, c->yaml);
	assert_int_equal(rc, -EINVAL);
	assert_null(pol);
	if (err.line != c->line || err.column != c->column ||
	    !strstr(err.message, c->needle) ||
	    (c->needle2 && !strstr(err.message, c->needle2)))
		fail_msg("expected %u:%u '%s', got %u:%u '%s' for:\n%s",
			 c->line, c->column, c->needle, err.line, err.column,
			 err.message, c->yaml);
	assert_message_style(err.message);
}

static void run_error_table(const struct error_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check_error(&cases[i], strlen(cases[i].yaml));
}

#define V1 "version: 1\n"
#define REPO "repositories:\n  - name: app\n"

static void test_errors_document(void **state)
{
	static const struct error_case cases[] = {
	    {"", 1, 1, "empty policy", NULL},
	    {"# nothing but a comment\n", 1, 1, "empty policy", NULL},
	    {"---\n", 1, 1, "empty policy", NULL},
	    {"~\n", 1, 1, "empty policy", NULL},
	    {"- version: 1\n", 1, 1, "at the top level, found a list", NULL},
	    {"version 1\n", 1, 1, "found 'version 1'", NULL},
	    {"defaults: {}\nrepositories: []\n", 1, 1,
	     "missing required key 'version'", NULL},
	    {"# policy\n\n  repositories: []\n", 3, 3,
	     "missing required key 'version'", NULL},
	    {"version: 2\n", 1, 10, "unsupported policy version 2", NULL},
	    {"version: 0\n", 1, 10, "unsupported policy version 0", NULL},
	    {"version: \"1\"\n", 1, 10, "expected the integer 1",
	     "quoted string '1'"},
	    {"version: 1.0\n", 1, 10, "expected the integer 1", NULL},
	    {"version: [1]\n", 1, 10, "expected the integer 1", "found a list"},
	    {"version:\n", 1, 9, "found nothing (null)", NULL},
	    {V1 "---\nversion: 1\n", 2, 1, "second YAML document", NULL},
	};

	(void)state;
	run_error_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_errors_keys(void **state)
{
	static const struct error_case cases[] = {
	    {V1 "repos: []\n", 2, 1, "unknown key 'repos' at the top level",
	     "(allowed: version, defaults, repositories)"},
	    {V1 "defaults:\n  immutable: true\n", 3, 3,
	     "unknown key 'immutable' in 'defaults'",
	     "(allowed: immutable_tags, mutable_tags, protect_delete)"},
	    {V1 REPO "    immutable: true\n    mutable-tags: []\n", 5, 5,
	     "unknown key 'mutable-tags' in a repository entry",
	     "(allowed: name, immutable, immutable_tags, mutable_tags, "
	     "protect_delete)"},
	    {V1 "defaults: {}\ndefaults: {}\n", 3, 1,
	     "duplicate key 'defaults' (first at line 2, column 1)", NULL},
	    {"version: 1\nversion: 1\n", 2, 1, "duplicate key 'version'", NULL},
	    {V1 "defaults:\n  protect_delete: true\n  protect_delete: false\n",
	     4, 3, "duplicate key 'protect_delete' (first at line 3", NULL},
	    {V1 REPO "    immutable: true\n    name: other\n", 5, 5,
	     "duplicate key 'name' (first at line 3, column 5)", NULL},
	    {V1 "? [a]\n: b\n", 2, 3, "expected a key name", NULL},
	    {V1 "repositories:\n  - immutable: true\n", 3, 5,
	     "repository entry without 'name'", NULL},
	    {V1 "repositories:\n  - name: x\n    immutable: true\n"
		"  - {name: app}\n",
	     5, 5, "repository entry 'app' without 'immutable'", NULL},
	    {V1 REPO, 3, 5, "without 'immutable'", NULL},
	    {V1 "repositories:\n  - {}\n", 3, 5,
	     "repository entry without 'name'", NULL},
	    {V1 REPO "    immutable: true\n  - name: b\n    immutable: true\n"
		     "  - name: app\n    immutable: false\n",
	     7, 11, "repository 'app' is already listed at line 3", NULL},
	};

	(void)state;
	run_error_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_errors_types(void **state)
{
	static const struct error_case cases[] = {
	    {V1 "defaults: [a]\n", 2, 11, "expected a mapping for 'defaults'",
	     "found a list"},
	    {V1 "defaults: none\n", 2, 11, "expected a mapping", NULL},
	    {V1 "repositories: {app: true}\n", 2, 15,
	     "expected a list of repository entries for 'repositories'",
	     "found a mapping"},
	    {V1 "repositories:\n  - app\n", 3, 5, "expected a repository entry",
	     "found 'app'"},
	    {V1 "repositories:\n  - name: [a, b]\n    immutable: true\n", 3, 11,
	     "expected a repository name or glob for 'name'", "found a list"},
	    {V1 "repositories:\n  - name: ~\n    immutable: true\n", 3, 11,
	     "found nothing (null)", NULL},
	    {V1 REPO "    immutable: \"true\"\n", 4, 16,
	     "expected true or false for 'immutable'", "quoted string 'true'"},
	    {V1 REPO "    immutable: 1\n", 4, 16,
	     "expected true or false for 'immutable', found '1'", NULL},
	    {V1 REPO "    immutable: {}\n", 4, 16, "found a mapping", NULL},
	    {V1 REPO "    immutable: true\n    mutable_tags: latest\n", 5, 19,
	     "expected a list of tag globs for 'mutable_tags'",
	     "found 'latest'"},
	    {V1 "defaults:\n  immutable_tags: \"*\"\n", 3, 19,
	     "expected a list of tag globs for 'immutable_tags'", NULL},
	    {V1 "defaults:\n  mutable_tags: [latest, [x]]\n", 3, 26,
	     "expected a tag glob for 'mutable_tags', found a list", NULL},
	    {V1 "defaults:\n  mutable_tags:\n    - latest\n    -\n", 5, 6,
	     "expected a tag glob for 'mutable_tags', found nothing", NULL},
	    {V1 "defaults:\n  protect_delete: 0\n", 3, 19,
	     "expected true or false for 'protect_delete'", NULL},
	    {V1 "repositories:\n  - name: \"a\\0b\"\n    immutable: true\n", 3,
	     11, "NUL character", NULL},
	};

	(void)state;
	run_error_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_errors_ambiguous_booleans(void **state)
{
	static const struct error_case cases[] = {
	    {V1 REPO "    immutable: yes\n", 4, 16,
	     "ambiguous boolean 'yes' for 'immutable'", "write true or false"},
	    {V1 REPO "    immutable: no\n", 4, 16, "ambiguous boolean 'no'",
	     NULL},
	    {V1 REPO "    immutable: On\n", 4, 16, "ambiguous boolean 'On'",
	     NULL},
	    {V1 REPO "    immutable: OFF\n", 4, 16, "ambiguous boolean 'OFF'",
	     NULL},
	    {V1 REPO "    immutable: y\n", 4, 16, "ambiguous boolean 'y'",
	     NULL},
	    {V1 "defaults: {protect_delete: Yes}\n", 2, 28,
	     "ambiguous boolean 'Yes' for 'protect_delete'", NULL},
	};

	(void)state;
	run_error_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_errors_globs(void **state)
{
	static const struct error_case cases[] = {
	    {V1 "repositories:\n  - name: a//b\n    immutable: true\n", 3, 11,
	     "bad repository glob 'a//b' in 'name'", "empty path component"},
	    {V1 "repositories:\n  - name: /a\n    immutable: true\n", 3, 11,
	     "bad repository glob '/a'", "empty path component"},
	    {V1 "repositories:\n  - name: \"a/\"\n    immutable: true\n", 3, 11,
	     "bad repository glob 'a/'", "empty path component"},
	    {V1 "repositories:\n  - name: \"\"\n    immutable: true\n", 3, 11,
	     "bad repository glob ''", "empty pattern"},
	    {V1 "repositories:\n  - name: \"team-a**\"\n", 3, 11,
	     "'**' must be a whole path component", NULL},
	    {V1 "repositories:\n  - immutable: true\n    name: Team/App\n", 4,
	     11, "bad repository glob 'Team/App'", "lowercase"},
	    {V1 "repositories:\n  - name: \"a b\"\n", 3, 11,
	     "character not allowed in a repository name", NULL},
	    {V1 "defaults:\n  mutable_tags: [latest, \"a/b\"]\n", 3, 26,
	     "bad tag glob 'a/b' in 'mutable_tags'", "'/'"},
	    {V1 REPO "    immutable: true\n    immutable_tags:\n"
		     "      - v1\n      - \"v:2\"\n",
	     7, 9, "bad tag glob 'v:2' in 'immutable_tags'",
	     "character not allowed in a tag"},
	    {V1 "defaults:\n  immutable_tags: ['']\n", 3, 20, "bad tag glob ''",
	     "empty pattern"},
	    {V1 "defaults:\n  immutable_tags: ["
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxx]\n",
	     3, 20, "longer than 128", NULL},
	};

	(void)state;
	run_error_table(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_errors_syntax(void **state)
{
	static const struct error_case cases[] = {
	    /* libyaml's problem mark, 1-based */
	    {V1 "repositories: [\n", 3, 1, "syntax error",
	     "did not find expected node content"},
	    {V1 "defaults:\n\timmutable_tags: []\n", 3, 1, "syntax error",
	     "cannot start any token"},
	    {V1 "repositories:\n  - name: \"app\n", 4, 1, "syntax error",
	     "while scanning a quoted scalar at line 3, column 11"},
	    {V1 "repositories:\n  - name: a\n    immutable: true\n"
		"   - name: b\n",
	     5, 4, "syntax error", "did not find expected '-' indicator"},
	    /* an unquoted `*` is a YAML alias: say how to fix it */
	    {V1 "defaults:\n  immutable_tags: [*]\n", 3, 21, "syntax error",
	     "quote globs that start with '*'"},
	    /* invalid UTF-8: libyaml reports an offset, not a mark */
	    {V1 "defaults: {}\n# caf\xff\n", 3, 6, "syntax error",
	     "invalid leading UTF-8 octet"},
	    /* no anchors, aliases or explicit tags */
	    {"version: &v 1\n", 1, 10, "anchors and aliases are not supported",
	     NULL},
	    {V1 "defaults:\n  immutable_tags: &t [\"*\"]\n  mutable_tags: *t\n",
	     3, 19, "anchors and aliases", NULL},
	    {"version: !!int 1\n", 1, 10, "explicit tags ('!!int')", NULL},
	};

	(void)state;
	run_error_table(cases, sizeof(cases) / sizeof(cases[0]));
}

/* The first error in the file is the one reported. */
static void test_first_error_reported(void **state)
{
	static const struct error_case c = {
	    V1 "repositories:\n  - name: a\n    immutable: maybe\n"
	       "bogus: 1\nversion: 2\n",
	    4, 16, "expected true or false", NULL};

	(void)state;
	check_error(&c, strlen(c.yaml));
}

/* Sizes are explicit: a NUL inside the buffer is content, not the end. */
static void test_buffer_length_is_honoured(void **state)
{
	static const char yaml[] = "version: 1\n\0bogus: 1\n";
	static const struct error_case c = {yaml, 2, 1, "syntax error", NULL};
	struct tlk_policy *pol = NULL;
	struct tlk_policy_error err;

	(void)state;
	check_error(&c, sizeof(yaml) - 1);
	assert_int_equal(tlk_policy_load_buffer(yaml, 11, &pol, &err), 0);
	tlk_policy_free(pol);
}

/* ---- files ------------------------------------------------------------ */

static void check_file_error(const char *name, unsigned line, unsigned col,
			     const char *needle)
{
	char path[512];
	struct tlk_policy *pol = NULL;
	struct tlk_policy_error err;
	int rc;

	snprintf(path, sizeof(path), DATA "%s", name);
	rc = tlk_policy_load_file(path, &pol, &err);
	assert_int_equal(rc, -EINVAL);
	assert_null(pol);
	if (err.line != line || err.column != col ||
	    !strstr(err.message, needle))
		fail_msg("%s: expected %u:%u '%s', got %u:%u '%s'", name, line,
			 col, needle, err.line, err.column, err.message);
	/* the file name is the CLI's prefix, never inside the message */
	assert_null(strstr(err.message, name));
	assert_message_style(err.message);
}

static void test_invalid_files(void **state)
{
	(void)state;
	check_file_error("empty.yaml", 1, 1, "empty policy");
	check_file_error("invalid-unknown-key.yaml", 5, 5,
			 "unknown key 'mutable-tags'");
	check_file_error("invalid-bad-glob.yaml", 5, 11,
			 "bad repository glob 'Team-B/app'");
	check_file_error("invalid-yes.yaml", 3, 19, "ambiguous boolean 'yes'");
	check_file_error("invalid-syntax.yaml", 6, 3,
			 "did not find expected ',' or ']'");
	check_file_error("invalid-missing-immutable.yaml", 7, 5,
			 "repository entry 'test/other' without 'immutable'");
}

static void test_missing_file(void **state)
{
	const char *path = DATA "does-not-exist.yaml";
	struct tlk_policy *pol = (struct tlk_policy *)&pol;
	struct tlk_policy_error err;
	char want[512];

	(void)state;
	assert_int_equal(tlk_policy_load_file(path, &pol, &err), -ENOENT);
	assert_null(pol);
	assert_int_equal(err.line, 0);
	assert_int_equal(err.column, 0);
	snprintf(want, sizeof(want), "cannot open: %s", strerror(ENOENT));
	assert_string_equal(err.message, want);
	assert_int_equal(err.fault, TLK_POLICY_MISSING);
	/* "FILE: reason" for a file-level error, never "FILE:0:0:" */
	tlk_policy_error_format(path, &err, want, sizeof(want));
	assert_string_equal(want, DATA "does-not-exist.yaml: cannot open: "
				  "No such file or directory");
}

/* A policy file error: no position, the fault, the message. */
static void expect_file_fault(const char *path, int rc,
			      enum tlk_policy_fault fault, const char *message)
{
	struct tlk_policy *pol = (struct tlk_policy *)&pol;
	struct tlk_policy_error err;

	assert_int_equal(tlk_policy_load_file(path, &pol, &err), rc);
	assert_null(pol);
	assert_int_equal(err.line, 0);
	assert_int_equal(err.column, 0);
	assert_int_equal(err.fault, fault);
	assert_string_equal(err.message, message);
}

/* Only a regular file is read, after following symlinks; anything else is
 * an error at once. A FIFO with no writer used to block the reader for
 * ever (this test would hang, and meson's timeout fail it). */
static void test_not_regular_files(void **state)
{
	char dir[] = "/tmp/test_policy.XXXXXX", path[128], good[128];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct tlk_policy *pol = NULL;
	struct tlk_policy_error err;
	int sock;

	(void)state;
	assert_non_null(mkdtemp(dir));
	expect_file_fault(dir, -EISDIR, TLK_POLICY_NOT_REGULAR,
			  "not a regular file: a directory");

	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_file_fault(path, -EINVAL, TLK_POLICY_NOT_REGULAR,
			  "not a regular file: a FIFO");
	/* a symlink to it is the same */
	snprintf(good, sizeof(good), "%s/to-fifo", dir);
	assert_int_equal(symlink("fifo", good), 0);
	expect_file_fault(good, -EINVAL, TLK_POLICY_NOT_REGULAR,
			  "not a regular file: a FIFO");
	unlink(good);
	unlink(path);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(sock >= 0);
	assert_int_equal(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	expect_file_fault(sa.sun_path, -EINVAL, TLK_POLICY_NOT_REGULAR,
			  "not a regular file: a socket");
	close(sock);
	unlink(sa.sun_path);

	expect_file_fault("/dev/null", -EINVAL, TLK_POLICY_NOT_REGULAR,
			  "not a regular file: a character device");

	/* a loop of symlinks */
	snprintf(path, sizeof(path), "%s/a", dir);
	snprintf(good, sizeof(good), "%s/b", dir);
	assert_int_equal(symlink("b", path), 0);
	assert_int_equal(symlink("a", good), 0);
	expect_file_fault(path, -ELOOP, TLK_POLICY_UNREADABLE,
			  "cannot open: Too many levels of symbolic links "
			  "(a symlink loop?)");
	unlink(path);
	unlink(good);

	/* a symlink to a regular file is followed */
	snprintf(good, sizeof(good), "%s/real.yaml", dir);
	snprintf(path, sizeof(path), "%s/link.yaml", dir);
	assert_int_equal(symlink(DATA "empty.yaml", path), 0);
	assert_int_equal(tlk_policy_load_file(path, &pol, &err), -EINVAL);
	assert_int_equal(err.fault, TLK_POLICY_INVALID);
	assert_int_equal(err.line, 1);
	unlink(path);
	rmdir(dir);
}

/* Where the error is tied to a position, the line and column follow the
 * file name. */
static void test_error_format(void **state)
{
	struct tlk_policy_error err = {.fault = TLK_POLICY_INVALID,
				       .line = 3,
				       .column = 7,
				       .message = "unknown key 'x'"};
	char buf[128];

	(void)state;
	tlk_policy_error_format("/etc/p.yaml", &err, buf, sizeof(buf));
	assert_string_equal(buf, "/etc/p.yaml:3:7: unknown key 'x'");
	err.line = err.column = 0;
	tlk_policy_error_format("/etc/p.yaml", &err, buf, sizeof(buf));
	assert_string_equal(buf, "/etc/p.yaml: unknown key 'x'");
}

static void test_size_limit(void **state)
{
	size_t big = 1024 * 1024 + 1;
	char *buf = malloc(big), path[] = "/tmp/test_policy.XXXXXX";
	struct tlk_policy *pol = NULL;
	struct tlk_policy_error err;
	int fd;

	(void)state;
	assert_non_null(buf);
	/* a valid policy padded with a comment to just over 1 MiB */
	memset(buf, ' ', big);
	memcpy(buf, "version: 1\n#", 12);
	buf[big - 1] = '\n';
	assert_int_equal(tlk_policy_load_buffer(buf, big, &pol, &err), -EFBIG);
	assert_null(pol);
	assert_non_null(strstr(err.message, "larger than 1 MiB"));
	/* exactly 1 MiB is fine */
	buf[big - 2] = '\n';
	assert_int_equal(tlk_policy_load_buffer(buf, big - 1, &pol, &err), 0);
	tlk_policy_free(pol);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, big), (ssize_t)big);
	close(fd);
	assert_int_equal(tlk_policy_load_file(path, &pol, &err), -EFBIG);
	assert_null(pol);
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.message, "larger than 1 MiB"));
	unlink(path);
	free(buf);
}

static void test_null_policy_queries(void **state)
{
	(void)state;
	assert_false(tlk_policy_tag_protected(NULL, "a", "b"));
	assert_false(tlk_policy_repo_immutable(NULL, "a"));
	assert_int_equal(tlk_policy_entry_count(NULL), 0);
	assert_int_equal(tlk_policy_immutable_count(NULL), 0);
	tlk_policy_free(NULL);
}

/* The metrics' policy_info names the version in force: the first 16 hex
 * of the SHA-256 of the bytes parsed (values from Python's hashlib). */
static void test_policy_hash(void **state)
{
	static const struct {
		const char *yaml, *hash;
	} rows[] = {
	    {"version: 1\nrepositories:\n  - name: a\n    immutable: true\n",
	     "4b94c5707270093b"},
	    {"version: 1\nrepositories:\n  - name: a\n    immutable: false\n",
	     "e0e5c53c7dcaebcc"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct tlk_policy *pol = load_ok(rows[i].yaml);

		assert_string_equal(tlk_policy_hash(pol), rows[i].hash);
		tlk_policy_free(pol);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_hash),
	    cmocka_unit_test(test_tag_glob_table),
	    cmocka_unit_test(test_repo_glob_table),
	    cmocka_unit_test(test_repo_glob_validation),
	    cmocka_unit_test(test_tag_glob_validation),
	    cmocka_unit_test(test_policy_matches_like_globs),
	    cmocka_unit_test(test_adversarial_globs_are_fast),
	    cmocka_unit_test(test_glob_null_arguments),
	    cmocka_unit_test(test_design_example),
	    cmocka_unit_test(test_full_file_every_key),
	    cmocka_unit_test(test_defaults_when_absent),
	    cmocka_unit_test(test_minimal_and_empty_sections),
	    cmocka_unit_test(test_first_match_wins),
	    cmocka_unit_test(test_mutable_wins_over_immutable),
	    cmocka_unit_test(test_entry_override_replaces_defaults),
	    cmocka_unit_test(test_defaults_after_repositories),
	    cmocka_unit_test(test_scalar_forms),
	    cmocka_unit_test(test_empty_tag_lists),
	    cmocka_unit_test(test_many_entries),
	    cmocka_unit_test(test_errors_document),
	    cmocka_unit_test(test_errors_keys),
	    cmocka_unit_test(test_errors_types),
	    cmocka_unit_test(test_errors_ambiguous_booleans),
	    cmocka_unit_test(test_errors_globs),
	    cmocka_unit_test(test_errors_syntax),
	    cmocka_unit_test(test_first_error_reported),
	    cmocka_unit_test(test_buffer_length_is_honoured),
	    cmocka_unit_test(test_invalid_files),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_not_regular_files),
	    cmocka_unit_test(test_error_format),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_null_policy_queries),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_policy.c - tlk_policy_load_buffer() on any bytes: never crashes;
 * returns 0 with a policy that answers queries consistently and frees
 * cleanly, or an error: content errors (-EINVAL) carry a 1-based line and
 * column inside the input and a message. Loading the same bytes twice
 * gives the same result.
 */
#include <errno.h>
#include <string.h>

#include "taglockfs/policy.h"

#include "fuzz.h"

#define POLICY_MAX (1u << 20) /* policy.c: larger is -EFBIG */

static const char *const repos[] = {
    "library/alpine", "team/app",
    "test/example",   "a",
    "a/b/c/d/e",      "docker.io/library/busybox",
};
static const char *const tags[] = {"latest", "v1", "v1.2.3",
				   "1",	     "_",  "stable-2024"};

/* The last line an error can name: one per line break as libyaml counts
 * them (\r\n once, so this is an upper bound), and one more after a last
 * line without a break, where libyaml puts the end of the stream. */
static unsigned last_line(const uint8_t *p, size_t n)
{
	unsigned breaks = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' || p[i] == '\r')
			breaks++;
		else if (p[i] == 0xc2 && i + 1 < n && p[i + 1] == 0x85)
			breaks++; /* NEL */
		else if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x80 &&
			 (p[i + 2] == 0xa8 || p[i + 2] == 0xa9))
			breaks++; /* LS, PS */
	}
	if (n > 0 && p[n - 1] != '\n' && p[n - 1] != '\r')
		breaks++;
	return breaks + 1;
}

/* A query name from the input: its first line, at most max bytes. */
static void name_from(const uint8_t *p, size_t n, char *out, size_t max)
{
	size_t len = 0;

	while (len < n && len < max && p[len] != '\n' && p[len] != '\0')
		len++;
	memcpy(out, p, len);
	out[len] = '\0';
}

static void query(const struct tlk_policy *pol, const char *repo,
		  const char *tag)
{
	bool prot = tlk_policy_tag_protected(pol, repo, tag);
	bool imm = tlk_policy_repo_immutable(pol, repo);

	(void)tlk_policy_protect_delete(pol, repo);
	FUZZ_CHECK(!prot || imm,
		   "tag '%s' of '%s' protected in a mutable repository", tag,
		   repo);
}

static void check_loaded(const struct tlk_policy *pol, const uint8_t *data,
			 size_t size)
{
	char repo[256], tag[129];

	FUZZ_CHECK(pol != NULL, "0 without a policy");
	FUZZ_CHECK(
	    tlk_policy_immutable_count(pol) <= tlk_policy_entry_count(pol),
	    "%zu immutable of %zu entries", tlk_policy_immutable_count(pol),
	    tlk_policy_entry_count(pol));
	for (size_t r = 0; r < sizeof(repos) / sizeof(repos[0]); r++)
		for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++)
			query(pol, repos[r], tags[t]);
	name_from(data, size, repo, sizeof(repo) - 1);
	name_from(data, size, tag, sizeof(tag) - 1);
	query(pol, repo, tag);
	query(pol, repo, "latest");
	query(pol, "team/app", tag);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlk_policy *pol = NULL, *again = NULL;
	struct tlk_policy_error err, err2;
	int rc, rc2;

	memset(&err, 0x5a, sizeof(err));
	rc = tlk_policy_load_buffer((const char *)data, size, &pol, &err);
	FUZZ_CHECK(memchr(err.message, '\0', sizeof(err.message)) != NULL,
		   "message not terminated");
	if (rc == 0) {
		check_loaded(pol, data, size);
	} else if (rc == -EINVAL) {
		FUZZ_CHECK(err.line >= 1 && err.column >= 1,
			   "-EINVAL at line %u column %u: %s", err.line,
			   err.column, err.message);
		FUZZ_CHECK(err.line <= last_line(data, size),
			   "error at line %u, the input ends at line %u: %s",
			   err.line, last_line(data, size), err.message);
		FUZZ_CHECK(err.message[0] != '\0', "-EINVAL without a message");
		FUZZ_CHECK(err.fault == TLK_POLICY_INVALID,
			   "-EINVAL with fault %d: %s", (int)err.fault,
			   err.message);
	} else {
		FUZZ_CHECK(rc == -ENOMEM || (rc == -EFBIG && size > POLICY_MAX),
			   "rc %d (%s) for %zu bytes", rc, err.message, size);
	}

	memset(&err2, 0xa5, sizeof(err2));
	rc2 = tlk_policy_load_buffer((const char *)data, size, &again, &err2);
	FUZZ_CHECK(rc2 == rc, "second load: %d, first %d", rc2, rc);
	if (rc == 0) {
		FUZZ_CHECK(tlk_policy_entry_count(again) ==
				   tlk_policy_entry_count(pol) &&
			       tlk_policy_immutable_count(again) ==
				   tlk_policy_immutable_count(pol),
			   "second load has other counts");
	} else {
		FUZZ_CHECK(err2.line == err.line && err2.column == err.column &&
			       strcmp(err2.message, err.message) == 0,
			   "second load: %u:%u %s, first %u:%u %s", err2.line,
			   err2.column, err2.message, err.line, err.column,
			   err.message);
	}
	if (rc == 0) {
		tlk_policy_free(pol);
		tlk_policy_free(again);
	}
	return 0;
}

#ifndef TLK_LIBFUZZER
int main(int argc, char **argv)
{
	return tlk_fuzz_main(argc, argv);
}
#endif

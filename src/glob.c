/* SPDX-License-Identifier: MIT */
// glob.c - repository and tag glob matching and validation.
//
// Tag globs: `*` matches any run of characters (including none), `?` one
// character, everything else itself.
//
// Repository globs work on '/'-separated path components. Inside a
// component `*` and `?` behave as for tags and so never cross a '/'. A
// component that is exactly `**` matches zero or more whole components.
// Because it may match zero components, `team-a/**` matches `team-a`
// itself as well as everything below it (an operator who protects
// "team-a and below" means the repository team-a too), `**` matches every
// repository, and `a/**/b` matches `a/b`, `a/x/b`, `a/x/y/b`.
// (Written with // because these examples contain comment delimiters.)
/*
 * Both matchers are iterative: a `*` (or `**`) remembers where it started
 * and, on a mismatch, only the most recent one is retried one step further.
 * That is correct because every other pattern item consumes exactly one
 * character (component), and it bounds the work by
 * pattern length x subject length, whatever the pattern. No allocation.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "taglockfs/policy.h"

#define TLK_TAG_GLOB_MAX 128
#define TLK_REPO_GLOB_MAX 1024

/* Match `s` (length sn) against the glob `p` (length pn): `*` and `?`. */
static bool span_match(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0;
	size_t star_p = 0, star_s = 0;
	bool starred = false;

	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			starred = true;
			star_p = ++pi;
			star_s = si;
		} else if (pi < pn && (p[pi] == '?' || p[pi] == s[si])) {
			pi++;
			si++;
		} else if (starred) {
			/* let the last star absorb one more character */
			pi = star_p;
			si = ++star_s;
		} else {
			return false;
		}
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

bool tlk_glob_match_tag(const char *pattern, const char *tag)
{
	if (!pattern || !tag)
		return false;
	return span_match(pattern, strlen(pattern), tag, strlen(tag));
}

/* The component starting at s: its length in *len; returns the start of
 * the next component, or NULL when this one is the last. */
static const char *component(const char *s, size_t *len)
{
	const char *end = strchrnul(s, '/');

	*len = (size_t)(end - s);
	return *end ? end + 1 : NULL;
}

static bool is_globstar(const char *p, size_t len)
{
	return len == 2 && p[0] == '*' && p[1] == '*';
}

/* Only `**` components left in the pattern (or none at all)? */
static bool only_globstars(const char *p)
{
	size_t len;

	while (p) {
		const char *next = component(p, &len);

		if (!is_globstar(p, len))
			return false;
		p = next;
	}
	return true;
}

bool tlk_glob_match_repo(const char *pattern, const char *name)
{
	const char *p = pattern, *n = name;
	const char *star_p = NULL, *star_n = NULL;
	bool starred = false;
	size_t pl, nl;

	if (!pattern || !name)
		return false;
	while (n) {
		if (p) {
			const char *p_next = component(p, &pl);
			const char *n_next;

			if (is_globstar(p, pl)) {
				starred = true;
				star_p = p = p_next;
				star_n = n;
				continue;
			}
			n_next = component(n, &nl);
			if (span_match(p, pl, n, nl)) {
				p = p_next;
				n = n_next;
				continue;
			}
		}
		if (!starred)
			return false;
		/* let the last `**` absorb one more component */
		star_n = component(star_n, &nl);
		n = star_n;
		p = star_p;
	}
	return only_globstars(p);
}

static bool is_repo_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-' || c == '*' || c == '?';
}

static bool is_separator(char c)
{
	return c == '.' || c == '_' || c == '-';
}

/* Check one component of a repository glob; NULL when it is fine. */
static const char *repo_component_problem(const char *c, size_t len)
{
	if (len == 0)
		return "empty path component (leading, trailing or doubled "
		       "'/')";
	if (is_globstar(c, len))
		return NULL;
	if (memmem(c, len, "**", 2))
		return "'**' must be a whole path component, as in 'a/**/b'";
	if (is_separator(c[0]))
		return "a path component cannot start with '.', '_' or '-'";
	if (is_separator(c[len - 1]))
		return "a path component cannot end with '.', '_' or '-'";
	return NULL;
}

bool tlk_glob_valid_repo(const char *pattern, const char **why)
{
	const char *dummy, *p = pattern, *problem = NULL;
	size_t len;

	if (!why)
		why = &dummy;
	if (!pattern || !*pattern) {
		*why = "empty pattern";
		return false;
	}
	if (strlen(pattern) > TLK_REPO_GLOB_MAX) {
		*why = "pattern longer than 1024 characters";
		return false;
	}
	for (const char *s = pattern; *s; s++) {
		if (*s >= 'A' && *s <= 'Z')
			problem = "uppercase letter (repository names are "
				  "lowercase)";
		else if (*s != '/' && !is_repo_char(*s))
			problem = "character not allowed in a repository name "
				  "(allowed: a-z 0-9 . _ - / and the "
				  "wildcards * ?)";
		if (problem) {
			*why = problem;
			return false;
		}
	}
	while (p) {
		const char *next = component(p, &len);

		problem = repo_component_problem(p, len);
		if (problem) {
			*why = problem;
			return false;
		}
		p = next;
	}
	return true;
}

static bool is_tag_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
	       c == '*' || c == '?';
}

bool tlk_glob_valid_tag(const char *pattern, const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	if (!pattern || !*pattern) {
		*why = "empty pattern";
		return false;
	}
	if (strlen(pattern) > TLK_TAG_GLOB_MAX) {
		*why = "pattern longer than 128 characters, the longest tag";
		return false;
	}
	for (const char *s = pattern; *s; s++) {
		if (*s == '/') {
			*why = "'/' is not allowed in a tag";
			return false;
		}
		if (!is_tag_char(*s)) {
			*why =
			    "character not allowed in a tag (allowed: A-Z a-z "
			    "0-9 _ . - and the wildcards * ?)";
			return false;
		}
	}
	if (pattern[0] == '.' || pattern[0] == '-') {
		*why = "a tag cannot start with '.' or '-'";
		return false;
	}
	return true;
}

/* SPDX-License-Identifier: MIT */
/*
 * policy.c - load the version-1 YAML policy and answer tag queries.
 *
 * Parsing is a small recursive descent over libyaml's event stream, so
 * every error can name the exact line and column of the node at fault
 * (libyaml marks are 0-based, ours 1-based). Anchors, aliases and explicit
 * YAML tags are refused: a policy has no use for them and they would make
 * "what does this file say" harder to answer.
 *
 * Choices where the contract is silent:
 *  - `defaults:` or `repositories:` with no value (null) is the same as
 *    leaving the key out.
 *  - Strings may be plain or quoted; a plain scalar such as `123` is the
 *    string "123" (repository and tag names may be numeric). Plain `~`,
 *    `null` and an empty value are null, never a string.
 *  - Booleans are true/True/TRUE/false/False/FALSE, plain. yes/no/on/off
 *    (YAML 1.1 booleans) are refused as ambiguous; quoted "true" is a
 *    string and refused.
 *  - Two entries with exactly the same `name` are an error: the second
 *    could never apply.
 *
 * The loaded policy is never modified, so queries need no lock and make no
 * allocation; literal names and tags are compared with strcmp, `**` and
 * `*` entries match without looking at the name.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "taglockfs/policy.h"

#define POLICY_MAX_BYTES TLK_POLICY_MAX_BYTES
#define SHOW_MAX 40
#define YAML_CORE_PREFIX "tag:yaml.org,2002:"

struct glob {
	char *text;
	bool literal; /* no wildcard: strcmp is enough */
};

struct glob_list {
	struct glob *globs;
	size_t count;
	bool match_all; /* contains a glob that matches every tag */
};

struct entry {
	char *name;
	size_t prefix_len; /* bytes before the first wildcard */
	bool literal;	   /* no wildcard in name */
	bool match_all;	   /* name is made of `**` only */
	bool immutable;
	bool protect_delete; /* resolved: override, else default */
	bool has_name, has_immutable, has_protect_delete;
	bool has_imm, has_mut;
	yaml_mark_t name_mark;
	struct glob_list imm, mut;	 /* per-entry overrides */
	const struct glob_list *eff_imm; /* resolved: imm or default */
	const struct glob_list *eff_mut; /* resolved: mut or default */
};

struct tlk_policy {
	struct entry *entries;
	size_t count, cap;
	size_t immutable_count;
	struct glob_list def_imm, def_mut;
	bool has_def_imm, has_def_mut;
	bool def_protect_delete;
	char hash[17]; /* tlk_policy_hash: of the bytes parsed */
};

/* One parse in progress. `ev` is the current event while have_ev. */
struct parser {
	yaml_parser_t yp;
	yaml_event_t ev;
	bool have_ev;
	const char *buf;
	size_t len;
	struct tlk_policy *pol;
	struct tlk_policy_error *err;
};

/* The keys a mapping accepts, and where each was first seen. */
#define KEYSET_MAX 8
struct keyset {
	const char *where;   /* "at the top level", ... */
	const char *allowed; /* the names joined, for the error message */
	const char *const *names;
	unsigned seen;
	yaml_mark_t first[KEYSET_MAX];
};

/* ---- the policy object ------------------------------------------------ */

static void glob_list_clear(struct glob_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->globs[i].text);
	free(list->globs);
	memset(list, 0, sizeof(*list));
}

/* Append a copy of the first len bytes of text. */
static int glob_list_add(struct glob_list *list, const char *text, size_t len)
{
	struct glob *grown;
	char *copy = strndup(text, len);

	if (!copy)
		return -ENOMEM;
	grown = reallocarray(list->globs, list->count + 1, sizeof(*grown));
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	list->globs = grown;
	list->globs[list->count].text = copy;
	list->globs[list->count].literal = !strpbrk(copy, "*?");
	list->count++;
	if (copy[0] && !copy[strspn(copy, "*")])
		list->match_all = true;
	return 0;
}

static bool glob_list_match(const struct glob_list *list, const char *tag)
{
	if (list->match_all)
		return true;
	for (size_t i = 0; i < list->count; i++) {
		const struct glob *g = &list->globs[i];

		if (g->literal ? strcmp(g->text, tag) == 0
			       : tlk_glob_match_tag(g->text, tag))
			return true;
	}
	return false;
}

void tlk_policy_free(struct tlk_policy *policy)
{
	if (!policy)
		return;
	for (size_t i = 0; i < policy->count; i++) {
		free(policy->entries[i].name);
		glob_list_clear(&policy->entries[i].imm);
		glob_list_clear(&policy->entries[i].mut);
	}
	free(policy->entries);
	glob_list_clear(&policy->def_imm);
	glob_list_clear(&policy->def_mut);
	free(policy);
}

static struct entry *policy_new_entry(struct tlk_policy *pol)
{
	if (pol->count == pol->cap) {
		size_t cap = pol->cap ? pol->cap * 2 : 8;
		struct entry *grown;

		grown = reallocarray(pol->entries, cap, sizeof(*grown));
		if (!grown)
			return NULL;
		pol->entries = grown;
		pol->cap = cap;
	}
	memset(&pol->entries[pol->count], 0, sizeof(pol->entries[0]));
	return &pol->entries[pol->count++];
}

/* ---- error reporting -------------------------------------------------- */

static int fail_at(struct parser *c, yaml_mark_t mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct parser *c, yaml_mark_t mark, const char *fmt, ...)
{
	va_list ap;

	c->err->line = (unsigned)mark.line + 1;
	c->err->column = (unsigned)mark.column + 1;
	va_start(ap, fmt);
	vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Copy a scalar for a message: at most SHOW_MAX bytes, control characters
 * replaced by '?', never cutting a UTF-8 sequence, "..." when cut. */
static const char *show(const char *s, size_t len, char out[SHOW_MAX + 4])
{
	size_t n = len;

	if (n > SHOW_MAX) {
		n = SHOW_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	strcpy(out + n, n < len ? "..." : "");
	return out;
}

static const char *scalar_text(const struct parser *c)
{
	return (const char *)c->ev.data.scalar.value;
}

static size_t scalar_len(const struct parser *c)
{
	return c->ev.data.scalar.length;
}

static bool scalar_is_plain(const struct parser *c)
{
	return c->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool scalar_is(const struct parser *c, const char *text)
{
	return scalar_len(c) == strlen(text) &&
	       memcmp(scalar_text(c), text, scalar_len(c)) == 0;
}

static bool event_is_null(const struct parser *c)
{
	if (c->ev.type != YAML_SCALAR_EVENT || !scalar_is_plain(c))
		return false;
	return scalar_len(c) == 0 || scalar_is(c, "~") ||
	       scalar_is(c, "null") || scalar_is(c, "Null") ||
	       scalar_is(c, "NULL");
}

static const char *scalar_kind(const struct parser *c)
{
	switch (c->ev.data.scalar.style) {
	case YAML_PLAIN_SCALAR_STYLE:
		return "";
	case YAML_LITERAL_SCALAR_STYLE:
	case YAML_FOLDED_SCALAR_STYLE:
		return "the block string ";
	default:
		return "the quoted string ";
	}
}

/* Describe the current node for "expected X, found Y". */
static const char *describe(const struct parser *c, char *out, size_t size)
{
	char shown[SHOW_MAX + 4];

	switch (c->ev.type) {
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SCALAR_EVENT:
		if (event_is_null(c))
			return "nothing (null)";
		snprintf(out, size, "%s'%s'", scalar_kind(c),
			 show(scalar_text(c), scalar_len(c), shown));
		return out;
	default:
		return "something else";
	}
}

static int fail_type(struct parser *c, const char *expected, const char *key)
{
	char found[SHOW_MAX + 32];

	return fail_at(c, c->ev.start_mark, "expected %s for '%s', found %s",
		       expected, key, describe(c, found, sizeof(found)));
}

/* ---- reading events --------------------------------------------------- */

/* Convert libyaml's failure into our error. */
static int fail_syntax(struct parser *c)
{
	yaml_parser_t *yp = &c->yp;
	yaml_mark_t mark = yp->problem_mark;
	const char *hint = "";

	if (yp->error == YAML_MEMORY_ERROR) {
		snprintf(c->err->message, sizeof(c->err->message),
			 "out of memory while parsing");
		return -ENOMEM;
	}
	if (yp->error == YAML_READER_ERROR) {
		/* the reader gives a byte offset, not a mark */
		memset(&mark, 0, sizeof(mark));
		for (size_t i = 0; i < yp->problem_offset && i < c->len; i++) {
			if (c->buf[i] == '\n') {
				mark.line++;
				mark.column = 0;
			} else if (((unsigned char)c->buf[i] & 0xc0) != 0x80) {
				mark.column++;
			}
		}
	}
	if (yp->context && strstr(yp->context, "alias"))
		hint = "; quote globs that start with '*', as in \"*\"";
	if (yp->context && yp->error != YAML_READER_ERROR)
		return fail_at(c, mark,
			       "syntax error: %s (%s at line %zu, "
			       "column %zu)%s",
			       yp->problem, yp->context,
			       yp->context_mark.line + 1,
			       yp->context_mark.column + 1, hint);
	return fail_at(c, mark, "syntax error: %s",
		       yp->problem ? yp->problem : "unknown");
}

/* Refuse what a policy never needs: anchors, aliases, explicit tags. */
static int check_event(struct parser *c)
{
	const yaml_event_t *ev = &c->ev;
	const yaml_char_t *anchor = NULL, *tag = NULL;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		anchor = ev->data.alias.anchor;
		break;
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor)
		return fail_at(c, ev->start_mark,
			       "anchors and aliases are not supported in a "
			       "policy");
	if (tag) {
		const char *t = (const char *)tag;
		bool core =
		    !strncmp(t, YAML_CORE_PREFIX, strlen(YAML_CORE_PREFIX));

		return fail_at(c, ev->start_mark,
			       "explicit tags ('%s%.40s') are not supported in "
			       "a policy",
			       core ? "!!" : "",
			       core ? t + strlen(YAML_CORE_PREFIX) : t);
	}
	return 0;
}

/* Move to the next event. */
static int next(struct parser *c)
{
	if (c->have_ev) {
		yaml_event_delete(&c->ev);
		c->have_ev = false;
	}
	if (!yaml_parser_parse(&c->yp, &c->ev))
		return fail_syntax(c);
	c->have_ev = true;
	return check_event(c);
}

/* The current event is a key of a mapping described by ks: return its
 * index in *idx, or fail on a non-scalar, unknown or repeated key. */
static int take_key(struct parser *c, struct keyset *ks, unsigned *idx)
{
	char shown[SHOW_MAX + 4];
	yaml_mark_t mark = c->ev.start_mark;

	if (c->ev.type != YAML_SCALAR_EVENT)
		return fail_at(
		    c, mark, "expected a key name %s, found %s", ks->where,
		    c->ev.type == YAML_SEQUENCE_START_EVENT ? "a list"
							    : "a mapping");
	show(scalar_text(c), scalar_len(c), shown);
	for (unsigned i = 0; ks->names[i]; i++) {
		if (!scalar_is(c, ks->names[i]))
			continue;
		if (ks->seen & (1u << i))
			return fail_at(c, mark,
				       "duplicate key '%s' (first at line %zu, "
				       "column %zu)",
				       ks->names[i], ks->first[i].line + 1,
				       ks->first[i].column + 1);
		ks->seen |= 1u << i;
		ks->first[i] = mark;
		*idx = i;
		return 0;
	}
	return fail_at(c, mark, "unknown key '%s' %s (allowed: %s)", shown,
		       ks->where, ks->allowed);
}

/* Advance to the next key of the current mapping. Returns 1 with *idx set,
 * 0 at the end of the mapping, or a negative error. On 1, the current
 * event is the key's value. */
static int next_key(struct parser *c, struct keyset *ks, unsigned *idx)
{
	int rc = next(c);

	if (rc)
		return rc;
	if (c->ev.type == YAML_MAPPING_END_EVENT)
		return 0;
	rc = take_key(c, ks, idx);
	if (!rc)
		rc = next(c);
	return rc ? rc : 1;
}

/* ---- typed values ----------------------------------------------------- */

static int read_bool(struct parser *c, const char *key, bool *out)
{
	static const char *const ambiguous[] = {"y",  "n",   "yes", "no",
						"on", "off", NULL};
	char shown[SHOW_MAX + 4];

	if (c->ev.type == YAML_SCALAR_EVENT && scalar_is_plain(c)) {
		if (scalar_is(c, "true") || scalar_is(c, "True") ||
		    scalar_is(c, "TRUE")) {
			*out = true;
			return 0;
		}
		if (scalar_is(c, "false") || scalar_is(c, "False") ||
		    scalar_is(c, "FALSE")) {
			*out = false;
			return 0;
		}
		for (size_t i = 0; ambiguous[i]; i++)
			if (scalar_len(c) == strlen(ambiguous[i]) &&
			    strncasecmp(scalar_text(c), ambiguous[i],
					scalar_len(c)) == 0)
				return fail_at(
				    c, c->ev.start_mark,
				    "ambiguous boolean '%s' for "
				    "'%s': write true or false",
				    show(scalar_text(c), scalar_len(c), shown),
				    key);
	}
	return fail_type(c, "true or false", key);
}

/* The current event must be a non-null scalar without NUL bytes. */
static int check_string(struct parser *c, const char *expected, const char *key)
{
	if (c->ev.type != YAML_SCALAR_EVENT || event_is_null(c))
		return fail_type(c, expected, key);
	if (memchr(scalar_text(c), '\0', scalar_len(c)))
		return fail_at(c, c->ev.start_mark,
			       "the value of '%s' contains a NUL character",
			       key);
	return 0;
}

static int read_version(struct parser *c)
{
	char shown[SHOW_MAX + 4];
	const char *text;
	size_t len;

	if (c->ev.type != YAML_SCALAR_EVENT || !scalar_is_plain(c) ||
	    event_is_null(c))
		return fail_type(c, "the integer 1", "version");
	text = scalar_text(c);
	len = scalar_len(c);
	if (strspn(text, "0123456789") != len)
		return fail_type(c, "the integer 1", "version");
	if (strspn(text, "0") == len - 1 && text[len - 1] == '1')
		return 0;
	return fail_at(c, c->ev.start_mark,
		       "unsupported policy version %s (this taglockfs reads "
		       "version 1)",
		       show(text, len, shown));
}

/* A list of tag globs into an empty list. */
static int read_tag_list(struct parser *c, const char *key,
			 struct glob_list *list)
{
	char shown[SHOW_MAX + 4];
	const char *why;
	int rc;

	if (c->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail_type(c, "a list of tag globs", key);
	while (!(rc = next(c)) && c->ev.type != YAML_SEQUENCE_END_EVENT) {
		rc = check_string(c, "a tag glob", key);
		if (rc)
			return rc;
		if (!tlk_glob_valid_tag(scalar_text(c), &why))
			return fail_at(
			    c, c->ev.start_mark,
			    "bad tag glob '%s' in '%s': %s",
			    show(scalar_text(c), scalar_len(c), shown), key,
			    why);
		rc = glob_list_add(list, scalar_text(c), scalar_len(c));
		if (rc)
			return rc;
	}
	return rc;
}

/* ---- the schema ------------------------------------------------------- */

static const char *const defaults_keys[] = {"immutable_tags", "mutable_tags",
					    "protect_delete", NULL};

static int parse_defaults(struct parser *c)
{
	struct keyset ks = {.where = "in 'defaults'",
			    .allowed = "immutable_tags, mutable_tags, "
				       "protect_delete",
			    .names = defaults_keys};
	struct tlk_policy *pol = c->pol;
	unsigned k;
	int rc;

	if (event_is_null(c))
		return 0;
	if (c->ev.type != YAML_MAPPING_START_EVENT)
		return fail_type(c, "a mapping", "defaults");
	while ((rc = next_key(c, &ks, &k)) == 1) {
		switch (k) {
		case 0:
			rc = read_tag_list(c, "immutable_tags", &pol->def_imm);
			pol->has_def_imm = true;
			break;
		case 1:
			rc = read_tag_list(c, "mutable_tags", &pol->def_mut);
			pol->has_def_mut = true;
			break;
		default:
			rc = read_bool(c, "protect_delete",
				       &pol->def_protect_delete);
			break;
		}
		if (rc)
			return rc;
	}
	return rc;
}

/* Is the repository glob made of `**` components only (matches all)? */
static bool only_globstars(const char *name)
{
	for (const char *p = name; *p; p += 3) {
		if (p[0] != '*' || p[1] != '*' || (p[2] != '/' && p[2] != '\0'))
			return false;
		if (!p[2])
			return true;
	}
	return false;
}

static int read_entry_name(struct parser *c, struct entry *e)
{
	char shown[SHOW_MAX + 4];
	const char *why;
	int rc = check_string(c, "a repository name or glob", "name");

	if (rc)
		return rc;
	if (!tlk_glob_valid_repo(scalar_text(c), &why))
		return fail_at(c, c->ev.start_mark,
			       "bad repository glob '%s' in 'name': %s",
			       show(scalar_text(c), scalar_len(c), shown), why);
	e->name = strndup(scalar_text(c), scalar_len(c));
	if (!e->name)
		return -ENOMEM;
	e->name_mark = c->ev.start_mark;
	e->has_name = true;
	e->prefix_len = strcspn(e->name, "*?");
	e->literal = !e->name[e->prefix_len];
	/* a trailing `**` may match nothing: keep the '/' out of the prefix */
	if (e->prefix_len && e->name[e->prefix_len - 1] == '/')
		e->prefix_len--;
	e->match_all = only_globstars(e->name);
	return 0;
}

static const char *const entry_keys[] = {"name",	   "immutable",
					 "immutable_tags", "mutable_tags",
					 "protect_delete", NULL};

static int parse_entry_key(struct parser *c, struct entry *e, unsigned k)
{
	switch (k) {
	case 0:
		return read_entry_name(c, e);
	case 1:
		e->has_immutable = true;
		return read_bool(c, "immutable", &e->immutable);
	case 2:
		e->has_imm = true;
		return read_tag_list(c, "immutable_tags", &e->imm);
	case 3:
		e->has_mut = true;
		return read_tag_list(c, "mutable_tags", &e->mut);
	default:
		e->has_protect_delete = true;
		return read_bool(c, "protect_delete", &e->protect_delete);
	}
}

static int parse_entry(struct parser *c)
{
	struct keyset ks = {.where = "in a repository entry",
			    .allowed = "name, immutable, immutable_tags, "
				       "mutable_tags, protect_delete",
			    .names = entry_keys};
	char shown[SHOW_MAX + 4];
	yaml_mark_t start = c->ev.start_mark;
	struct entry *e;
	unsigned k;
	int rc;

	if (c->ev.type != YAML_MAPPING_START_EVENT)
		return fail_at(c, start,
			       "expected a repository entry (a mapping with "
			       "'name' and 'immutable'), found %s",
			       describe(c, shown, sizeof(shown)));
	e = policy_new_entry(c->pol);
	if (!e)
		return -ENOMEM;
	while ((rc = next_key(c, &ks, &k)) == 1) {
		rc = parse_entry_key(c, e, k);
		if (rc)
			return rc;
	}
	if (rc)
		return rc;
	if (!e->has_name)
		return fail_at(c, start, "repository entry without 'name'");
	if (!e->has_immutable)
		return fail_at(c, start,
			       "repository entry '%s' without 'immutable' "
			       "(write immutable: true or false)",
			       show(e->name, strlen(e->name), shown));
	return 0;
}

static int parse_repositories(struct parser *c)
{
	int rc;

	if (event_is_null(c))
		return 0;
	if (c->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail_type(c, "a list of repository entries",
				 "repositories");
	while (!(rc = next(c)) && c->ev.type != YAML_SEQUENCE_END_EVENT) {
		rc = parse_entry(c);
		if (rc)
			return rc;
	}
	return rc;
}

static const char *const top_keys[] = {"version", "defaults", "repositories",
				       NULL};

static int parse_top(struct parser *c, yaml_mark_t doc_start)
{
	struct keyset ks = {.where = "at the top level",
			    .allowed = "version, defaults, repositories",
			    .names = top_keys};
	char found[SHOW_MAX + 32];
	yaml_mark_t start = c->ev.start_mark;
	unsigned k;
	int rc;

	if (event_is_null(c))
		return fail_at(c, doc_start,
			       "empty policy: expected a mapping "
			       "starting with 'version: 1'");
	if (c->ev.type != YAML_MAPPING_START_EVENT)
		return fail_at(c, start,
			       "expected a mapping starting with "
			       "'version: 1' at the top level, found %s",
			       describe(c, found, sizeof(found)));
	while ((rc = next_key(c, &ks, &k)) == 1) {
		if (k == 0)
			rc = read_version(c);
		else if (k == 1)
			rc = parse_defaults(c);
		else
			rc = parse_repositories(c);
		if (rc)
			return rc;
	}
	if (!rc && !(ks.seen & 1u))
		return fail_at(c, start,
			       "missing required key 'version' "
			       "(add 'version: 1')");
	return rc;
}

/* stream-start, one document holding the top mapping, stream-end. */
static int parse_stream(struct parser *c)
{
	yaml_mark_t origin = {0, 0, 0}, doc_start;
	int rc;

	if ((rc = next(c)) || (rc = next(c)))
		return rc;
	if (c->ev.type == YAML_STREAM_END_EVENT)
		return fail_at(c, origin,
			       "empty policy: expected a mapping "
			       "starting with 'version: 1'");
	doc_start = c->ev.start_mark;
	if ((rc = next(c)) || (rc = parse_top(c, doc_start)))
		return rc;
	if ((rc = next(c)) || (rc = next(c)))
		return rc;
	if (c->ev.type == YAML_DOCUMENT_START_EVENT)
		return fail_at(c, c->ev.start_mark,
			       "a second YAML document; a policy is a single "
			       "document");
	return 0;
}

/* ---- after parsing ---------------------------------------------------- */

static int cmp_entry_index(const void *a, const void *b, void *arg)
{
	const struct entry *entries = arg;
	size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
	int r = strcmp(entries[ia].name, entries[ib].name);

	if (r)
		return r;
	return ia < ib ? -1 : ia > ib;
}

/* Refuse two entries with the same name; report the earliest repeat
 * against the first entry of its name. */
static int check_duplicates(struct parser *c)
{
	const struct entry *ent = c->pol->entries;
	size_t n = c->pol->count, *order, dup = SIZE_MAX, orig = 0, run = 0;
	char shown[SHOW_MAX + 4];

	if (n < 2)
		return 0;
	order = calloc(n, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), cmp_entry_index, c->pol->entries);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(ent[order[i]].name, ent[order[run]].name) != 0)
			run = i;
		else if (order[i] < dup) {
			dup = order[i];
			orig = order[run];
		}
	}
	free(order);
	if (dup == SIZE_MAX)
		return 0;
	return fail_at(
	    c, ent[dup].name_mark,
	    "repository '%s' is already listed at line %zu; only the "
	    "first matching entry applies",
	    show(ent[dup].name, strlen(ent[dup].name), shown),
	    ent[orig].name_mark.line + 1);
}

/* Fill in what the file left out and point entries at their lists. */
static int resolve(struct tlk_policy *pol)
{
	if (!pol->has_def_imm && glob_list_add(&pol->def_imm, "*", 1))
		return -ENOMEM;
	if (!pol->has_def_mut && glob_list_add(&pol->def_mut, "latest", 6))
		return -ENOMEM;
	for (size_t i = 0; i < pol->count; i++) {
		struct entry *e = &pol->entries[i];

		e->eff_imm = e->has_imm ? &e->imm : &pol->def_imm;
		e->eff_mut = e->has_mut ? &e->mut : &pol->def_mut;
		if (!e->has_protect_delete)
			e->protect_delete = pol->def_protect_delete;
		if (e->immutable)
			pol->immutable_count++;
	}
	return 0;
}

static void error_clear(struct tlk_policy_error *err)
{
	err->fault = TLK_POLICY_OK;
	err->line = 0;
	err->column = 0;
	err->message[0] = '\0';
}

/* ---- loading ---------------------------------------------------------- */

static int run_parser(struct parser *c)
{
	int rc;

	if (!yaml_parser_initialize(&c->yp)) {
		snprintf(c->err->message, sizeof(c->err->message),
			 "out of memory while parsing");
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&c->yp, (const unsigned char *)c->buf,
				     c->len);
	rc = parse_stream(c);
	if (c->have_ev)
		yaml_event_delete(&c->ev);
	yaml_parser_delete(&c->yp);
	if (!rc)
		rc = check_duplicates(c);
	if (!rc)
		rc = resolve(c->pol);
	if (rc == -ENOMEM && !c->err->message[0])
		snprintf(c->err->message, sizeof(c->err->message),
			 "out of memory while loading the policy");
	return rc;
}

static void hash_bytes(const char *buf, size_t len, char out[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0, i;

	if (EVP_Digest(buf, len, md, &md_len, EVP_sha256(), NULL) != 1 ||
	    md_len < 8) {
		snprintf(out, 17, "unknown");
		return;
	}
	for (i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int tlk_policy_load_buffer(const char *buf, size_t len, struct tlk_policy **out,
			   struct tlk_policy_error *err)
{
	struct tlk_policy_error dummy;
	struct parser c = {.buf = buf, .len = len};
	int rc;

	if (!err)
		err = &dummy;
	error_clear(err);
	if (!out || (!buf && len)) {
		snprintf(err->message, sizeof(err->message),
			 "invalid argument");
		return -EINVAL;
	}
	*out = NULL;
	if (len > POLICY_MAX_BYTES) {
		err->fault = TLK_POLICY_INVALID;
		snprintf(err->message, sizeof(err->message),
			 "policy is larger than 1 MiB (%zu bytes)", len);
		return -EFBIG;
	}
	c.err = err;
	c.pol = calloc(1, sizeof(*c.pol));
	if (!c.pol) {
		snprintf(err->message, sizeof(err->message), "out of memory");
		return -ENOMEM;
	}
	c.pol->def_protect_delete = true;
	if (!buf)
		c.buf = "";
	rc = run_parser(&c);
	if (rc) {
		err->fault = rc == -ENOMEM ? TLK_POLICY_UNREADABLE
					   : TLK_POLICY_INVALID;
		tlk_policy_free(c.pol);
		return rc;
	}
	hash_bytes(c.buf, len, c.pol->hash);
	*out = c.pol;
	return 0;
}

/* ---- queries (hot path: no allocation, no lock) ------------------------ */

static const struct entry *first_match(const struct tlk_policy *pol,
				       const char *repo)
{
	for (size_t i = 0; i < pol->count; i++) {
		const struct entry *e = &pol->entries[i];

		if (e->match_all)
			return e;
		if (e->literal) {
			if (strcmp(e->name, repo) == 0)
				return e;
			continue;
		}
		/* cheap reject on the literal text before the first wildcard */
		if (strncmp(e->name, repo, e->prefix_len) == 0 &&
		    tlk_glob_match_repo(e->name, repo))
			return e;
	}
	return NULL;
}

bool tlk_policy_tag_protected(const struct tlk_policy *policy, const char *repo,
			      const char *tag)
{
	const struct entry *e;

	if (!policy || !repo || !tag)
		return false;
	e = first_match(policy, repo);
	if (!e || !e->immutable)
		return false;
	return glob_list_match(e->eff_imm, tag) &&
	       !glob_list_match(e->eff_mut, tag);
}

bool tlk_policy_repo_immutable(const struct tlk_policy *policy,
			       const char *repo)
{
	const struct entry *e;

	if (!policy || !repo)
		return false;
	e = first_match(policy, repo);
	return e && e->immutable;
}

bool tlk_policy_protect_delete(const struct tlk_policy *policy,
			       const char *repo)
{
	const struct entry *e;

	if (!policy)
		return true;
	e = repo ? first_match(policy, repo) : NULL;
	return e ? e->protect_delete : policy->def_protect_delete;
}

size_t tlk_policy_entry_count(const struct tlk_policy *policy)
{
	return policy ? policy->count : 0;
}

const char *tlk_policy_hash(const struct tlk_policy *policy)
{
	return policy ? policy->hash : "none";
}

size_t tlk_policy_immutable_count(const struct tlk_policy *policy)
{
	return policy ? policy->immutable_count : 0;
}

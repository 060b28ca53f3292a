/* SPDX-License-Identifier: MIT */
/*
 * digest.c - classify the bytes of a registry link file.
 *
 * A link is valid only in its canonical form, "sha256:" and 64 lowercase
 * hex digits with nothing after them: any other content is kept apart as
 * MALFORMED so that it can never compare equal to anything.
 */
#include <string.h>

#include "taglockfs/digest.h"

#define ALG_PREFIX "sha256:"
#define ALG_PREFIX_LEN (sizeof(ALG_PREFIX) - 1)

static bool lower_hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static bool canonical_link(const char *s, size_t len)
{
	return len == TLK_LINK_LEN &&
	       memcmp(s, ALG_PREFIX, ALG_PREFIX_LEN) == 0 &&
	       lower_hex_run(s + ALG_PREFIX_LEN, len - ALG_PREFIX_LEN);
}

void tlk_link_parse(const void *buf, size_t len, struct tlk_link *out)
{
	out->digest[0] = '\0';
	if (len == 0) {
		out->state = TLK_LINK_EMPTY;
		return;
	}
	if (!buf || !canonical_link(buf, len)) {
		out->state = TLK_LINK_MALFORMED;
		return;
	}
	out->state = TLK_LINK_VALID;
	memcpy(out->digest, buf, TLK_LINK_LEN);
	out->digest[TLK_LINK_LEN] = '\0';
}

void tlk_link_absent(struct tlk_link *out)
{
	out->state = TLK_LINK_ABSENT;
	out->digest[0] = '\0';
}

static bool no_content(enum tlk_link_state state)
{
	return state == TLK_LINK_ABSENT || state == TLK_LINK_EMPTY;
}

bool tlk_link_same(const struct tlk_link *a, const struct tlk_link *b)
{
	if (a->state == TLK_LINK_VALID && b->state == TLK_LINK_VALID)
		return memcmp(a->digest, b->digest, TLK_LINK_LEN) == 0;
	return no_content(a->state) && no_content(b->state);
}

const char *tlk_link_show(const struct tlk_link *link)
{
	if (!link)
		return "(none)";
	switch (link->state) {
	case TLK_LINK_VALID:
		return link->digest;
	case TLK_LINK_ABSENT:
		return "(none)";
	case TLK_LINK_EMPTY:
		return "(empty)";
	case TLK_LINK_MALFORMED:
		return "(malformed)";
	default:
		return "(malformed)";
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * shadow.c - the in-memory image of a protected link behind a write handle
 * (see shadow.h for why it exists).
 */
#include <errno.h>
#include <string.h>

#include "taglockfs/shadow.h"

static bool base_has_content(const struct tlk_shadow *sh)
{
	return sh->base.state == TLK_LINK_VALID ||
	       sh->base.state == TLK_LINK_MALFORMED;
}

void tlk_shadow_init(struct tlk_shadow *sh, const void *cur, size_t cur_len,
		     bool truncate)
{
	memset(sh, 0, sizeof(*sh));
	tlk_link_parse(cur, cur_len, &sh->base);
	sh->base_len = cur_len;
	if (cur_len == 0 || cur_len > TLK_SHADOW_MAX)
		return; /* nothing to mirror, or MALFORMED and too long */
	memcpy(sh->base_bytes, cur, cur_len);
	if (!truncate) {
		memcpy(sh->bytes, cur, cur_len);
		sh->len = cur_len;
	}
}

/* With content in the base, the view must stay a prefix of it. */
static bool view_is_base_prefix(const char *view, size_t len,
				const struct tlk_shadow *sh)
{
	if (len > sh->base_len || sh->base_len > TLK_SHADOW_MAX)
		return false;
	return memcmp(view, sh->base_bytes, len) == 0;
}

static int refuse(struct tlk_shadow *sh, int err)
{
	sh->failed = true;
	return err;
}

int tlk_shadow_write(struct tlk_shadow *sh, off_t off, const void *buf,
		     size_t n)
{
	char next[TLK_SHADOW_MAX];
	size_t end, len;

	if (off < 0)
		return refuse(sh, -EINVAL);
	if ((size_t)off > TLK_SHADOW_MAX || n > TLK_SHADOW_MAX - (size_t)off)
		return refuse(sh, base_has_content(sh) ? -EPERM : -EINVAL);
	end = (size_t)off + n;
	len = end > sh->len ? end : sh->len;
	memcpy(next, sh->bytes, sh->len);
	if ((size_t)off > sh->len)
		memset(next + sh->len, 0, (size_t)off - sh->len);
	memcpy(next + off, buf, n);
	if (base_has_content(sh) && !view_is_base_prefix(next, len, sh))
		return refuse(sh, -EPERM);
	memcpy(sh->bytes, next, len);
	sh->len = len;
	return 0;
}

int tlk_shadow_truncate(struct tlk_shadow *sh, off_t size)
{
	if (size < 0)
		return -EINVAL;
	if ((size_t)size > TLK_SHADOW_MAX)
		return refuse(sh, base_has_content(sh) ? -EPERM : -EINVAL);
	if ((size_t)size > sh->len) {
		memset(sh->bytes + sh->len, 0, (size_t)size - sh->len);
		if (base_has_content(sh) &&
		    !view_is_base_prefix(sh->bytes, (size_t)size, sh))
			return refuse(sh, -EPERM);
	}
	sh->len = (size_t)size;
	return 0;
}

size_t tlk_shadow_read(const struct tlk_shadow *sh, off_t off, void *buf,
		       size_t n)
{
	if (off < 0 || (size_t)off >= sh->len)
		return 0;
	if (n > sh->len - (size_t)off)
		n = sh->len - (size_t)off;
	memcpy(buf, sh->bytes + off, n);
	return n;
}

/* Could `view` still grow into "sha256:<64 hex>"? */
static bool is_link_prefix(const char *view, size_t len)
{
	static const char algo[] = "sha256:";
	size_t i;

	for (i = 0; i < len; i++) {
		char c = view[i];
		if (i < sizeof(algo) - 1
			? c != algo[i]
			: !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

enum tlk_shadow_state tlk_shadow_state(const struct tlk_shadow *sh,
				       bool at_close)
{
	struct tlk_link view;

	if (base_has_content(sh)) {
		if (sh->len == sh->base_len &&
		    view_is_base_prefix(sh->bytes, sh->len, sh))
			return TLK_SHADOW_UNCHANGED;
		if (!at_close && view_is_base_prefix(sh->bytes, sh->len, sh))
			return TLK_SHADOW_PARTIAL;
		return TLK_SHADOW_CHANGED;
	}
	if (sh->len == 0)
		return TLK_SHADOW_UNCHANGED;
	tlk_link_parse(sh->bytes, sh->len, &view);
	if (view.state == TLK_LINK_VALID)
		return TLK_SHADOW_PUBLISH;
	if (!at_close && is_link_prefix(sh->bytes, sh->len))
		return TLK_SHADOW_PARTIAL;
	return TLK_SHADOW_MALFORMED;
}

void tlk_shadow_committed(struct tlk_shadow *sh)
{
	tlk_link_parse(sh->bytes, sh->len, &sh->base);
	memcpy(sh->base_bytes, sh->bytes, sh->len);
	sh->base_len = sh->len;
}

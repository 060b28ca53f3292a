/* SPDX-License-Identifier: MIT */
/*
 * shadow.c - the in-memory image of a link behind a guarded handle (see
 * shadow.h; the verdicts on it are tlk_decide's).
 */
#include <string.h>

#include "taglockfs/shadow.h"

void tlk_shadow_init(struct tlk_shadow *sh, const void *cur, size_t cur_len,
		     bool truncate)
{
	size_t held = cur_len < TLK_SHADOW_MAX ? cur_len : TLK_SHADOW_MAX;

	memset(sh, 0, sizeof(*sh));
	if (held)
		memcpy(sh->base, cur, held);
	sh->base_len = cur_len;
	if (!truncate) {
		memcpy(sh->bytes, sh->base, held);
		sh->len = cur_len;
	}
}

void tlk_shadow_current(const struct tlk_shadow *sh,
			struct tlk_shadow_view *out)
{
	memcpy(out->bytes, sh->bytes, sizeof(out->bytes));
	out->len = sh->len;
}

void tlk_shadow_try_write(const struct tlk_shadow *sh, off_t off,
			  const void *buf, size_t n,
			  struct tlk_shadow_view *out)
{
	size_t end;

	tlk_shadow_current(sh, out);
	if (n == 0 && off >= 0)
		return; /* a write of nothing changes nothing (POSIX) */
	if (off < 0 || (size_t)off > TLK_SHADOW_MAX ||
	    n > TLK_SHADOW_MAX - (size_t)off) {
		out->len = TLK_SHADOW_MAX + 1; /* never acceptable */
		return;
	}
	end = (size_t)off + n;
	if (out->len < (size_t)off)
		memset(out->bytes + out->len, 0, (size_t)off - out->len);
	if (n)
		memcpy(out->bytes + off, buf, n);
	if (end > out->len)
		out->len = end;
}

void tlk_shadow_try_truncate(const struct tlk_shadow *sh, off_t size,
			     struct tlk_shadow_view *out)
{
	tlk_shadow_current(sh, out);
	if (size < 0 || (size_t)size > TLK_SHADOW_MAX) {
		out->len = TLK_SHADOW_MAX + 1;
		return;
	}
	if ((size_t)size > out->len)
		memset(out->bytes + out->len, 0, (size_t)size - out->len);
	out->len = (size_t)size;
}

void tlk_shadow_accept(struct tlk_shadow *sh,
		       const struct tlk_shadow_view *view)
{
	if (view->len > TLK_SHADOW_MAX)
		return;
	memcpy(sh->bytes, view->bytes, view->len);
	sh->len = view->len;
}

size_t tlk_shadow_read(const struct tlk_shadow *sh, off_t off, void *buf,
		       size_t n)
{
	size_t held = sh->len < TLK_SHADOW_MAX ? sh->len : TLK_SHADOW_MAX;

	if (off < 0 || (size_t)off >= held)
		return 0;
	if (n > held - (size_t)off)
		n = held - (size_t)off;
	memcpy(buf, sh->bytes + off, n);
	return n;
}

void tlk_shadow_committed(struct tlk_shadow *sh)
{
	size_t held = sh->len < TLK_SHADOW_MAX ? sh->len : TLK_SHADOW_MAX;

	memcpy(sh->base, sh->bytes, held);
	sh->base_len = sh->len;
}

/* SPDX-License-Identifier: MIT */
/*
 * shadow.h - the in-memory image of a link file behind a guarded handle
 * (docs/design.md, "Guarded handles").
 *
 * Pure and without verdicts: a guarded handle never writes the backing
 * file; a write or truncate is first applied to a copy of the view
 * (tlk_shadow_try_*), tlk_decide() judges that candidate, and only an
 * accepted candidate becomes the view (tlk_shadow_accept). The backing link
 * changes only when the handle publishes a view (commit.h).
 *
 * `base` holds what the link held when the handle was opened (or last
 * published). A view or base longer than TLK_SHADOW_MAX keeps its real
 * length and only its first TLK_SHADOW_MAX bytes. Not thread-safe: the
 * owner of the handle locks.
 */
#ifndef TAGLOCKFS_SHADOW_H
#define TAGLOCKFS_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "taglockfs/digest.h"

#define TLK_SHADOW_MAX TLK_LINK_LEN

struct tlk_shadow {
	char base[TLK_SHADOW_MAX];  /* bytes of the link at open */
	size_t base_len;	    /* its real length */
	char bytes[TLK_SHADOW_MAX]; /* the handle's view */
	size_t len;		    /* its length */
};

/* A candidate view: what the handle would hold after one more change. */
struct tlk_shadow_view {
	char bytes[TLK_SHADOW_MAX];
	size_t len; /* may exceed TLK_SHADOW_MAX: then never acceptable */
};

/* Start from the link's bytes (cur_len may exceed TLK_SHADOW_MAX; then
 * only the first TLK_SHADOW_MAX bytes are read); `truncate`: the view
 * starts empty (O_TRUNC). */
void tlk_shadow_init(struct tlk_shadow *sh, const void *cur, size_t cur_len,
		     bool truncate);

/* The view after writing n bytes at off (gaps read as zeros). */
void tlk_shadow_try_write(const struct tlk_shadow *sh, off_t off,
			  const void *buf, size_t n,
			  struct tlk_shadow_view *out);

/* The view after truncating (or extending with zeros) to size. */
void tlk_shadow_try_truncate(const struct tlk_shadow *sh, off_t size,
			     struct tlk_shadow_view *out);

/* The view as it is (to judge it at close). */
void tlk_shadow_current(const struct tlk_shadow *sh,
			struct tlk_shadow_view *out);

/* Make an accepted candidate (len <= TLK_SHADOW_MAX) the view. */
void tlk_shadow_accept(struct tlk_shadow *sh,
		       const struct tlk_shadow_view *view);

/* Read from the view; returns bytes copied. */
size_t tlk_shadow_read(const struct tlk_shadow *sh, off_t off, void *buf,
		       size_t n);

/* After a successful publish: the view becomes the base. */
void tlk_shadow_committed(struct tlk_shadow *sh);

#endif

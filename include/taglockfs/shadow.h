/* SPDX-License-Identifier: MIT */
/*
 * shadow.h - the in-memory image of a protected link behind a write handle.
 *
 * Pure. A write handle on a protected current/link never writes the backing
 * file: truncates and writes land here, and the backing link changes only
 * when a complete new digest is published (tlk_link_commit in commit.h),
 * which succeeds only for a tag that has no content yet or for identical
 * bytes. So readers never see the link empty or torn, and distribution 2.8's
 * open + ftruncate(0) + write sequence gets its refusal from write(), not
 * from close().
 *
 * `base` is what the link holds (what the shadow must end up equal to when
 * the link has content). Not thread-safe: the owner of the handle locks.
 */
#ifndef TAGLOCKFS_SHADOW_H
#define TAGLOCKFS_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "taglockfs/digest.h"

#define TLK_SHADOW_MAX TLK_LINK_LEN

struct tlk_shadow {
	struct tlk_link base; /* committed content (ABSENT/EMPTY: none) */
	size_t base_len;      /* bytes in base (71 when VALID) */
	char base_bytes[TLK_SHADOW_MAX]; /* raw bytes of base, base_len of them
					  */
	char bytes[TLK_SHADOW_MAX];	 /* the handle's view */
	size_t len;			 /* bytes in the handle's view */
	bool failed; /* a write was refused: stays refused */
};

/* Start from the link's current bytes (len 0 for absent or empty; a
 * malformed link longer than the buffer is kept as MALFORMED with len 0
 * bytes copied and base_len set to its real size). */
void tlk_shadow_init(struct tlk_shadow *sh, const void *cur, size_t cur_len,
		     bool truncate);

/* Apply a write. Returns 0, -EPERM (would change existing content) or
 * -EINVAL (a new link cannot be this long). On error nothing changes and
 * the shadow is marked failed. */
int tlk_shadow_write(struct tlk_shadow *sh, off_t off, const void *buf,
		     size_t n);

/* Apply a truncate to `size`. Shrinking is a private intermediate state and
 * is allowed; growing past the content is -EPERM (existing) or -EINVAL. */
int tlk_shadow_truncate(struct tlk_shadow *sh, off_t size);

/* Read from the handle's view; returns bytes copied. */
size_t tlk_shadow_read(const struct tlk_shadow *sh, off_t off, void *buf,
		       size_t n);

enum tlk_shadow_state {
	TLK_SHADOW_UNCHANGED, /* view equals base: nothing to publish */
	TLK_SHADOW_PUBLISH,   /* base has no content, view is a valid link */
	TLK_SHADOW_PARTIAL,   /* view is a valid prefix still being written */
	TLK_SHADOW_CHANGED,   /* base has content and the view differs */
	TLK_SHADOW_MALFORMED, /* base has no content, view is not a link */
};

/* What the handle holds now. `at_close`: nothing more will be written, so a
 * prefix is no longer PARTIAL but CHANGED (base has content) or MALFORMED. */
enum tlk_shadow_state tlk_shadow_state(const struct tlk_shadow *sh,
				       bool at_close);

/* After a successful publish: the view becomes the base. */
void tlk_shadow_committed(struct tlk_shadow *sh);

#endif

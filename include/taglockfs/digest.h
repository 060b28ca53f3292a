/* SPDX-License-Identifier: MIT */
/*
 * digest.h - the content of a registry link file.
 *
 * Pure: no I/O. A link holds exactly "sha256:<64 lowercase hex>", 71 bytes,
 * no newline.
 */
#ifndef TAGLOCKFS_DIGEST_H
#define TAGLOCKFS_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define TLK_LINK_LEN 71 /* strlen("sha256:") + 64 */

/* A link's content as the daemon saw it. */
enum tlk_link_state {
	TLK_LINK_ABSENT = 0, /* no file */
	TLK_LINK_EMPTY,	     /* zero bytes: counts as absent for creation */
	TLK_LINK_VALID,	     /* exactly "sha256:<hex>" */
	TLK_LINK_MALFORMED,  /* anything else */
};

struct tlk_link {
	enum tlk_link_state state;
	char digest[TLK_LINK_LEN + 1]; /* NUL-terminated, set when VALID */
};

/* Classify `len` bytes of link content (buf may be NULL when len is 0). */
void tlk_link_parse(const void *buf, size_t len, struct tlk_link *out);

/* The state for a file that does not exist. */
void tlk_link_absent(struct tlk_link *out);

/* Two links hold the same bytes (both VALID with the same digest, or both
 * ABSENT/EMPTY). MALFORMED never equals anything. */
bool tlk_link_same(const struct tlk_link *a, const struct tlk_link *b);

/* Printable form for logs: the digest, "(none)", "(empty)" or
 * "(malformed)". Never NULL. */
const char *tlk_link_show(const struct tlk_link *link);

#endif

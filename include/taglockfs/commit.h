/* SPDX-License-Identifier: MIT */
/*
 * commit.h - publish a tag link in the backing directory, atomically and
 * without replacing different content.
 *
 * The winner of concurrent first pushes is decided by the backing
 * filesystem: the new content is written to an unnamed temporary file
 * (O_TMPFILE, or a named one where that is unsupported), synced, and linked
 * to "link" with linkat(2), which fails with EEXIST when any other writer,
 * on this node or another one sharing the storage, got there first. Then
 * the existing content decides: identical bytes succeed, different bytes
 * are refused. An empty leftover link (a crash of a writer that was not
 * taglockfs) is replaced by rename under the caller's per-tag lock.
 *
 * All functions take a directory fd (the tag's current/ directory) and
 * return 0 or -errno. Not async-signal-safe; thread-safe.
 */
#ifndef TAGLOCKFS_COMMIT_H
#define TAGLOCKFS_COMMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "taglockfs/digest.h"

/* Read the link `name` in `dirfd` (no symlinks followed). ABSENT when the
 * name does not exist. Fills raw[]/raw_len with up to raw_cap bytes
 * (raw may be NULL). Returns 0 or -errno. */
int tlk_link_read(int dirfd, const char *name, struct tlk_link *out, char *raw,
		  size_t raw_cap, size_t *raw_len);

/* Read a regular file by fd from offset 0 (up to cap bytes). */
int tlk_link_read_fd(int fd, struct tlk_link *out, char *raw, size_t cap,
		     size_t *raw_len);

enum tlk_commit_result {
	TLK_COMMIT_CREATED,   /* the link did not exist (or was empty) */
	TLK_COMMIT_IDENTICAL, /* the link already held these bytes */
	TLK_COMMIT_CONFLICT, /* the link holds other content: nothing changed */
};

/* A new file for a link's content, not yet visible under "link":
 * O_TMPFILE in `dirfd`, or a named "link.taglockfs-<pid>-<n>.tmp" where the
 * filesystem has no O_TMPFILE (NFS). */
struct tlk_pending_link {
	int fd;	       /* O_RDWR, owned */
	char name[64]; /* "" for O_TMPFILE */
};

/* Create a pending link file in `dirfd` (mode for the final file). */
int tlk_pending_create(int dirfd, unsigned mode, struct tlk_pending_link *out);

/* Close the pending file and remove its name if it still has one. */
void tlk_pending_discard(int dirfd, struct tlk_pending_link *pending);

/* Publish `content` (len bytes, a valid link) as `dirfd`/link through
 * `pending` (written, synced, then linked with no-replace semantics; the
 * pending file keeps the content either way). *result says what happened;
 * *found receives the link's content when CONFLICT or IDENTICAL. The caller
 * holds the tag's lock. Returns 0 (see *result) or -errno. */
int tlk_link_commit(int dirfd, struct tlk_pending_link *pending,
		    const char *content, size_t len,
		    enum tlk_commit_result *result, struct tlk_link *found);

/* Write `content` to `pending` and make it "link", replacing whatever is
 * there (atomically, by rename): for links whose content may replace any
 * other (a mutable tag; a path-determined link, whose only allowed
 * content is known). `sync`: fsync the file and the directory first
 * (else the caller syncs the file when asked to). The pending file is the
 * link afterwards: never write it again. */
int tlk_link_replace(int dirfd, struct tlk_pending_link *pending,
		     const char *content, size_t len, bool sync);

/* Give the pending file (already written) the name `name` in dirfd
 * unless the name exists (-EEXIST): blob data. */
int tlk_pending_link_as(int dirfd, struct tlk_pending_link *pending,
			const char *name);
/* The same, replacing whatever is at `name` (an empty leftover). */
int tlk_pending_replace_as(int dirfd, struct tlk_pending_link *pending,
			   const char *name);

#endif

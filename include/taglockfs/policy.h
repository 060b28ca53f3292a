/* SPDX-License-Identifier: MIT */
/*
 * policy.h - the version-1 YAML policy: which tags are protected.
 *
 *   version: 1
 *   defaults:
 *     immutable_tags: ["*"]
 *     mutable_tags: ["latest"]
 *     protect_delete: true
 *   repositories:
 *     - name: test/example        # `*` within a component, `**` across
 *       immutable: true
 *       mutable_tags: [...]        # optional per-entry override
 *
 * A tag is protected when the repository's first matching entry has
 * `immutable: true`, the tag matches immutable_tags and none of
 * mutable_tags. A repository matching no entry is mutable.
 *
 * Parsing reads a file (libyaml); the queries are pure. A loaded policy is
 * immutable and may be shared by threads without locking; its lifetime is
 * managed by the caller (see live_policy.h).
 */
#ifndef TAGLOCKFS_POLICY_H
#define TAGLOCKFS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct tlk_policy; /* opaque */

#define TLK_POLICY_MAX_BYTES (1024 * 1024) /* larger files are refused */

/* What was wrong with the policy file, for a log line per change of
 * state (live_policy.c). */
enum tlk_policy_fault {
	TLK_POLICY_OK = 0,
	TLK_POLICY_MISSING,	/* no such file (ENOENT, ENOTDIR) */
	TLK_POLICY_UNREADABLE,	/* cannot be opened or read (EACCES, ELOOP,
				   EIO, ...) */
	TLK_POLICY_NOT_REGULAR, /* a directory, FIFO, socket or device */
	TLK_POLICY_INVALID,	/* read, but not a valid policy */
};

/* Where and why loading failed. line and column are 1-based; 0 when the
 * error is not tied to a position (the file cannot be opened, is not a
 * regular file, ...). The message never names the file: the caller
 * prefixes it (tlk_policy_error_format). */
struct tlk_policy_error {
	enum tlk_policy_fault fault;
	unsigned line;
	unsigned column;
	char message[256];
};

/* Parse a policy file. Only a regular file is read (symlinks followed);
 * opening never blocks, so a FIFO or a device in its place is an error
 * (TLK_POLICY_NOT_REGULAR), never a hang. Returns 0 and sets *out, or a
 * negative errno-like value (-EINVAL for bad content or a file that is
 * not regular, -EISDIR, -errno for I/O) and fills *err. The result is
 * freed with tlk_policy_free(). */
int tlk_policy_load_file(const char *path, struct tlk_policy **out,
			 struct tlk_policy_error *err);

/* "FILE:LINE:COL: message" for a position, "FILE: message" otherwise. */
void tlk_policy_error_format(const char *path,
			     const struct tlk_policy_error *err, char *buf,
			     size_t size);

/* The same from memory (used by tests and by the loader). */
int tlk_policy_load_buffer(const char *buf, size_t len, struct tlk_policy **out,
			   struct tlk_policy_error *err);

void tlk_policy_free(struct tlk_policy *policy);

/* Is `tag` of repository `repo` protected? */
bool tlk_policy_tag_protected(const struct tlk_policy *policy, const char *repo,
			      const char *tag);

/* Does the repository have any protection at all (its first matching entry
 * is immutable)? Cheap pre-check before scanning a repository's tags. */
bool tlk_policy_repo_immutable(const struct tlk_policy *policy,
			       const char *repo);

/* protect_delete in force for the repository (entry override, else the
 * default). Meaningful only when the repository is immutable. */
bool tlk_policy_protect_delete(const struct tlk_policy *policy,
			       const char *repo);

/* Counts for the one-line summary of --check-policy and the log. */
size_t tlk_policy_entry_count(const struct tlk_policy *policy);
size_t tlk_policy_immutable_count(const struct tlk_policy *policy);

/* The first 16 hex digits of the SHA-256 of the bytes this policy was
 * parsed from (the metrics' policy_info): which version is in force. */
const char *tlk_policy_hash(const struct tlk_policy *policy);

/* Glob matching, exported for tests.
 * Repository globs: `*` matches within one path component, `**` matches
 * across components (including none), `?` one character but not '/'.
 * Tag globs: `*` any run, `?` one character. */
bool tlk_glob_match_repo(const char *pattern, const char *name);
bool tlk_glob_match_tag(const char *pattern, const char *tag);

/* Is the pattern well formed? For repositories: non-empty, no empty
 * components, `**` only as a whole component, only characters allowed in
 * repository names plus `*` and `?`. For tags: non-empty, at most 128
 * characters, tag characters plus `*` and `?`. On failure *why is set to a
 * static message. */
bool tlk_glob_valid_repo(const char *pattern, const char **why);
bool tlk_glob_valid_tag(const char *pattern, const char **why);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * audit.h - the append-only, hash-chained JSON-lines log of decisions.
 *
 * One record per line, compact JSON with sorted keys:
 *
 *   {"decision":"refuse","hash":"<sha256 hex>","new":"sha256:...",
 *    "old":"sha256:...","op":"publish_link","pid":123,"comm":"registry",
 *    "prev":"<hash of previous record or 64 zeros>","reason":"overwrite",
 *    "repository":"test/example","seq":7,"tag":"v1",
 *    "time":"2026-11-28T00:00:00.000Z"}
 *
 * `hash` is the SHA-256 (hex) of the record serialised without its `hash`
 * member (compact, sorted keys); `prev` is the previous record's `hash`;
 * `seq` counts from 1. Any edit, deletion, reordering or insertion breaks
 * the chain, which tlk_audit_verify_file() reports.
 *
 * When a write fails (a full disk: ENOSPC), the record is kept in memory,
 * up to TLK_AUDIT_BACKLOG records (beyond that the oldest are dropped and
 * counted). The next write that works first writes a gap record, in the
 * chain like any other:
 *
 *   {"decision":"gap","dropped":0,"error":"No space left on device",
 *    "late":3,"op":"audit","pid":0,"reason":"write_failed",
 *    "since":"<first failure>","time":"<now>",...}
 *
 * then the `late` kept records (each with its own original `time`). A
 * record dropped from a full backlog is never written; the gap's
 * `dropped` says how many were.
 *
 * Thread-safe: appends are serialised by a mutex inside the log; each
 * record is one write(2) of a whole line on an O_APPEND descriptor (a
 * short write is taken back). The log logs its own changes of state
 * (failing, dropping, writable again), once each.
 */
#ifndef TAGLOCKFS_AUDIT_H
#define TAGLOCKFS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tlk_audit; /* opaque */

#define TLK_AUDIT_BACKLOG 1024 /* records kept while writes fail */
#define TLK_AUDIT_GAP "gap"    /* `decision` of a gap record */

/* A gap record, as the verifier found it. */
struct tlk_audit_gap {
	size_t line;	      /* 1-based */
	long long late;	      /* records written late, right after it */
	long long dropped;    /* records lost */
	char error[128];      /* why writing failed */
	char since[40];	      /* first failure */
	char until[40];	      /* the gap record's own time */
};
typedef void (*tlk_audit_gap_fn)(void *ctx, const struct tlk_audit_gap *gap);

/* One decision, as gathered by the caller. Strings may be NULL (omitted). */
struct tlk_audit_event {
	const char *decision; /* "allow" | "refuse" */
	const char *op;	      /* tlk_op_name() */
	const char *reason;   /* tlk_reason_name() */
	const char *repository;
	const char *tag;
	const char *old_digest;
	const char *new_digest;
	pid_t pid;	  /* requesting process, 0 if unknown */
	const char *comm; /* its command name */
};

/* Open (creating, mode 0640) and continue the chain from the last record.
 * Returns 0 or -errno; a file whose last record is bad is -EBADMSG (the
 * daemon refuses to start rather than extend a broken chain). */
int tlk_audit_open(const char *path, struct tlk_audit **out);

/* Append one record, after the backlog if there is one. Returns 0 when
 * written, else -errno: the errno of the failed write (ENOSPC for a full
 * disk; the record is kept in the backlog) or why the record could not be
 * made (-ENOMEM, -EMSGSIZE; not kept). The operation being decided is not
 * changed by an audit failure unless audit_strict asks tlk_audit_ready(). */
int tlk_audit_append(struct tlk_audit *audit,
		     const struct tlk_audit_event *event);

/* Can the next record be written? Writes the backlog if there is one,
 * then reserves room for a record beyond the end of the file
 * (fallocate KEEP_SIZE, where the filesystem has it), so the record of a
 * change allowed now finds its room. 0 or -errno (ENOSPC, ...). */
int tlk_audit_ready(struct tlk_audit *audit);

/* Write the backlog if possible (what cannot be written is logged as
 * lost), give back reserved room, flush and close. */
void tlk_audit_close(struct tlk_audit *audit);

/* Check a whole file. Returns 0 when every record is intact (an empty file
 * is intact), 1 when a record is bad: *bad_line (1-based) and why[] say
 * which and why; -errno when the file cannot be read. `records` (may be
 * NULL) receives the number of good records. */
int tlk_audit_verify_file(const char *path, size_t *records, size_t *bad_line,
			  char *why, size_t why_len);

/* The same, calling on_gap (if not NULL) for every good gap record, in
 * order. A gap record without non-negative `late` and `dropped` counts is
 * a bad record. */
int tlk_audit_verify_gaps(const char *path, size_t *records, size_t *bad_line,
			  char *why, size_t why_len, tlk_audit_gap_fn on_gap,
			  void *ctx);

#endif

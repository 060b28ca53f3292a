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
 * Thread-safe: appends are serialised by a mutex inside the log; each
 * record is one write(2) of a whole line on an O_APPEND descriptor.
 */
#ifndef TAGLOCKFS_AUDIT_H
#define TAGLOCKFS_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tlk_audit; /* opaque */

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

/* Append one record. Returns 0 or -errno (the caller logs; the operation
 * being decided is not changed by an audit failure). */
int tlk_audit_append(struct tlk_audit *audit,
		     const struct tlk_audit_event *event);

void tlk_audit_close(struct tlk_audit *audit);

/* Check a whole file. Returns 0 when every record is intact (an empty file
 * is intact), 1 when a record is bad: *bad_line (1-based) and why[] say
 * which and why; -errno when the file cannot be read. `records` (may be
 * NULL) receives the number of good records. */
int tlk_audit_verify_file(const char *path, size_t *records, size_t *bad_line,
			  char *why, size_t why_len);

#endif

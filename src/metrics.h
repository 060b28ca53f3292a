/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - private to the daemon: what it counts for the operator
 * (docs/design.md, "Metrics"), and the two ways it exports it.
 *
 * Counting (metrics.c) is lock-free: each call is one or two relaxed
 * atomic additions on process-wide counters, safe from any thread, and
 * costs the same whether or not anything is exported. Latency is taken
 * only while an export is configured (tlk_metrics_clock() answers 0
 * otherwise, and tlk_metrics_latency() ignores a 0 start).
 *
 * Labels are bounded by the code, never by the data: operation, verdict,
 * reason and result names come from fixed tables; no repository, tag or
 * digest is ever a label.
 *
 * Rendering (tlk_metrics_render) reads the counters with no lock beyond
 * the one that guards the policy's hash (a leaf lock, taken after the
 * live policy's own: live_policy.c calls in with it held).
 *
 * Exporting (metrics_export.c): tlk_metrics_open binds the listening
 * socket and checks the file's directory before the mount (errors to
 * stderr, start-up fails); start runs a server thread and a writer thread
 * after daemonising; stop ends both. Return convention: 0 or -errno
 * (open: -1 after printing why).
 */
#ifndef TAGLOCKFS_DAEMON_METRICS_H
#define TAGLOCKFS_DAEMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "taglockfs/decide.h"

struct tlk_fs;
struct tlk_policy;

/* The operations whose latency is measured (fs_ops.c times them). */
enum tlk_lat_op {
	TLK_LAT_LOOKUP,
	TLK_LAT_OPEN,
	TLK_LAT_READ,
	TLK_LAT_WRITE,
	TLK_LAT_CREATE,
	TLK_LAT_RENAME,
	TLK_LAT_COUNT
};

/* report.c: one reported verdict (tlk_verdict_reported). */
void tlk_metrics_decision(enum tlk_op op, struct tlk_verdict verdict);

/* live_policy.c, under its lock: a version of the policy file came into
 * force (`counted`: a reload, not the first load), or a new version was
 * rejected (`counted`: not one already rejected). */
void tlk_metrics_policy_loaded(const struct tlk_policy *policy, bool counted);
void tlk_metrics_policy_failed(bool counted);

/* inode.c: the trimmer asked the kernel to forget `entries` entries. */
void tlk_metrics_trim(size_t entries);
/* fs_entry.c: a lookup failed for want of descriptors (EMFILE/ENFILE). */
void tlk_metrics_emfile(void);
/* gate_server.c: the gate answered (denied: 403; else sent on). */
void tlk_metrics_gate(bool denied);

/* A start time for tlk_metrics_latency, or 0 when no export runs. */
uint64_t tlk_metrics_clock(void);
void tlk_metrics_latency(enum tlk_lat_op op, uint64_t start);

/* metrics_export.c, once an export is set up: start measuring latency;
 * `gate`: list the gate's verdicts. */
void tlk_metrics_enable(bool gate);

/* The whole exposition now, malloc'd (its length in *len), or NULL. */
char *tlk_metrics_render(struct tlk_fs *fs, size_t *len);

/* metrics_export.c: `addr` (metrics=: 127.0.0.1:PORT, [::1]:PORT or an
 * absolute unix socket path; NULL: none), `file` (metrics_file=; NULL:
 * none), rewritten every `interval_s` seconds. */
int tlk_metrics_open(struct tlk_fs *fs, const char *addr, const char *file,
		     double interval_s, bool gate);
int tlk_metrics_start(void);
void tlk_metrics_stop(void);

#endif

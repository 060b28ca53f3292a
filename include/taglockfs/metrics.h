/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - Prometheus text exposition (format 0.0.4) from numbers.
 *
 * Pure: no I/O, no global state. The caller declares a family (name, type,
 * help), then writes its samples; the text is built in one growing
 * buffer. The formatter checks what the format requires, so a caller
 * cannot produce text a scraper would reject:
 *   - metric and label names match [a-zA-Z_:][a-zA-Z0-9_:]* and
 *     [a-zA-Z_][a-zA-Z0-9_]* (label names starting "__" are reserved);
 *   - `# HELP` and `# TYPE` are written once per family, before its
 *     samples; a family declared twice is an error (-EEXIST);
 *   - label values escape `\`, `"` and newline; help text `\` and newline;
 *   - a histogram's buckets are written cumulative, in increasing order of
 *     their bounds (which must increase), ending with `le="+Inf"` equal to
 *     `_count`, followed by `_sum` and `_count`; its own labels may not
 *     include `le`.
 * Errors are sticky: the first one is kept, later calls do nothing, and
 * tlk_mtext_finish() returns it (-EINVAL, -EEXIST or -ENOMEM).
 *
 * Not thread-safe: one writer per struct tlk_mtext.
 */
#ifndef TAGLOCKFS_METRICS_H
#define TAGLOCKFS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* The HTTP Content-Type of this text. */
#define TLK_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#define TLK_METRICS_NAME_MAX 128

enum tlk_metric_type {
	TLK_METRIC_COUNTER,
	TLK_METRIC_GAUGE,
	TLK_METRIC_HISTOGRAM,
};

struct tlk_label {
	const char *name;
	const char *value;
};

struct tlk_mtext {
	char *buf; /* owned until finish */
	size_t len, cap;
	int error; /* the first failure, 0 while none */
	char family[TLK_METRICS_NAME_MAX];
	enum tlk_metric_type type;
	char **declared; /* every family name so far (owned) */
	size_t ndeclared;
};

void tlk_mtext_init(struct tlk_mtext *m);

/* Start the family `name`: its HELP and TYPE lines. */
void tlk_mtext_family(struct tlk_mtext *m, const char *name,
		      enum tlk_metric_type type, const char *help);

/* One sample of the current counter or gauge family. */
void tlk_mtext_sample(struct tlk_mtext *m, const struct tlk_label *labels,
		      size_t nlabels, double value);

/* One histogram of the current histogram family: `bounds` (nbounds upper
 * bounds, increasing, finite), `counts` (nbounds + 1 observations per
 * bucket, not cumulative: counts[i] fell in (bounds[i-1], bounds[i]], the
 * last one above every bound) and the sum of the observations. */
void tlk_mtext_histogram(struct tlk_mtext *m, const struct tlk_label *labels,
			 size_t nlabels, const double *bounds, size_t nbounds,
			 const uint64_t *counts, double sum);

/* The text (NUL-terminated, the caller frees it) and its length, and 0;
 * or the first error, with nothing to free. Frees everything else. */
int tlk_mtext_finish(struct tlk_mtext *m, char **out, size_t *len);

/* Free everything after an early end. */
void tlk_mtext_discard(struct tlk_mtext *m);

#endif

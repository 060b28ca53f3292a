/* SPDX-License-Identifier: MIT */
/*
 * plugin_audit.h - count the refused writes a taglockfs audit log records,
 * for the `Status` of VolumeDriver.Get.
 *
 * The log is JSON lines with a "decision" member ("allow"/"refuse"). The
 * counter remembers how far it has read and only parses what was appended
 * since; a log that was replaced or truncated is counted again from the
 * start. A line that does not parse is skipped (it is counted in `bad`).
 *
 * Thread-safe: each counter has its own mutex; a count reads the file with
 * no other lock held.
 */
#ifndef TAGLOCKFS_PLUGIN_AUDIT_H
#define TAGLOCKFS_PLUGIN_AUDIT_H

#include <pthread.h>
#include <sys/types.h>

struct tlk_refusals {
	pthread_mutex_t lock;
	/* protected by lock */
	dev_t dev;
	ino_t ino;
	off_t offset; /* first byte not yet counted */
	unsigned long refused;
	unsigned long records;
	unsigned long bad;
};

void tlk_refusals_init(struct tlk_refusals *c);
void tlk_refusals_destroy(struct tlk_refusals *c);

/* Bring the counts up to date with `path`. A missing file counts zero.
 * Returns 0 or -errno; *refused and *records are set on success. */
int tlk_refusals_update(struct tlk_refusals *c, const char *path,
			unsigned long *refused, unsigned long *records);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * plugin_mount.h - start, stop and probe one taglockfs mount.
 *
 * taglockfs is run as a child (`taglockfs -o policy=..,audit_log=..,
 * allow_other BACKING MNT`); it daemonizes once the mount is up, so the
 * child's exit status says whether mounting worked and its stderr says why
 * not. Unmounting uses umount2(2) directly (the plugin runs as root); the
 * taglockfs process then exits by itself.
 *
 * A stat or statfs on a mount whose taglockfs is stopped (SIGSTOP, a
 * debugger) blocks until it runs again or dies, and no signal short of a
 * fatal one interrupts it. tlk_mnt_probe_within (probe.c) therefore probes
 * from a thread of its own and gives up waiting at a deadline; nothing in
 * the plugin that holds a lock or serves a request calls tlk_mnt_probe
 * directly.
 *
 * Thread-safe: no shared state besides a prober's own lock; the caller
 * serialises operations on one mountpoint (plugin_vol.h's per-volume
 * mutex).
 */
#ifndef TAGLOCKFS_PLUGIN_MOUNT_H
#define TAGLOCKFS_PLUGIN_MOUNT_H

#include <pthread.h>

#include "taglockfs/plugin.h"

enum tlk_mnt_state {
	TLK_MNT_NONE,	 /* nothing mounted on the directory */
	TLK_MNT_LIVE,	 /* a FUSE filesystem answers there */
	TLK_MNT_DEAD,	 /* a FUSE mount whose daemon is gone (ENOTCONN) */
	TLK_MNT_FOREIGN, /* something that is not FUSE is mounted there */
	TLK_MNT_ERROR,	 /* the directory could not be examined */
	TLK_MNT_HUNG,	 /* no answer before the deadline (probe_within) */
};

/* What is mounted on `mnt` right now. Asks the filesystem (stat, statfs),
 * so a hung taglockfs makes this wait, possibly forever. */
enum tlk_mnt_state tlk_mnt_probe(const char *mnt);
const char *tlk_mnt_state_name(enum tlk_mnt_state state);

/* The probe of one mountpoint still running, if any. A probe that missed
 * its deadline stays here while it blocks, so the next caller waits for
 * that one (and gets TLK_MNT_HUNG at once if its deadline has passed)
 * instead of leaving one more thread blocked on the mount. */
struct tlk_probe;
struct tlk_prober {
	pthread_mutex_t lock;
	struct tlk_probe *inflight; /* protected by lock; holds a reference */
};

void tlk_prober_init(struct tlk_prober *pr);
/* Drops the prober's reference; a probe still blocked frees itself when
 * its syscall returns. */
void tlk_prober_destroy(struct tlk_prober *pr);

/* tlk_mnt_probe(mnt) answered within `deadline_ms` of the start of the
 * probe, else TLK_MNT_HUNG. `pr` NULL: a probe of its own for this call.
 * TLK_MNT_ERROR when no thread could be started. */
enum tlk_mnt_state tlk_mnt_probe_within(struct tlk_prober *pr, const char *mnt,
					unsigned deadline_ms);

struct tlk_mnt_args {
	const char *taglockfs; /* binary */
	const char *backing;
	const char *mnt;
	const char *policy;
	const char *audit_log;
	unsigned timeout_s;
	unsigned
	    probe_ms; /* deadline of the check that the new mount answers */
};

/* Mount taglockfs and check that it answers. On failure nothing is left
 * mounted and err carries taglockfs's own message. */
int tlk_mnt_start(const struct tlk_mnt_args *args, struct tlk_perr *err);

/* Unmount: a plain unmount first; `lazy` falls back to MNT_DETACH when the
 * mount is busy. Not mounted is success. */
int tlk_mnt_stop(const char *mnt, int lazy, struct tlk_perr *err);

#endif

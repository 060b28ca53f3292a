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
 * Thread-safe: no shared state; the caller serialises operations on one
 * mountpoint (plugin_vol.h's per-volume mutex).
 */
#ifndef TAGLOCKFS_PLUGIN_MOUNT_H
#define TAGLOCKFS_PLUGIN_MOUNT_H

#include "taglockfs/plugin.h"

enum tlk_mnt_state {
	TLK_MNT_NONE,	 /* nothing mounted on the directory */
	TLK_MNT_LIVE,	 /* a FUSE filesystem answers there */
	TLK_MNT_DEAD,	 /* a FUSE mount whose daemon is gone (ENOTCONN) */
	TLK_MNT_FOREIGN, /* something that is not FUSE is mounted there */
	TLK_MNT_ERROR,	 /* the directory could not be examined */
};

/* What is mounted on `mnt` right now. Asks the filesystem (stat, statfs),
 * so a hung taglockfs makes this wait. */
enum tlk_mnt_state tlk_mnt_probe(const char *mnt);
const char *tlk_mnt_state_name(enum tlk_mnt_state state);

struct tlk_mnt_args {
	const char *taglockfs; /* binary */
	const char *backing;
	const char *mnt;
	const char *policy;
	const char *audit_log;
	unsigned timeout_s;
};

/* Mount taglockfs and check that it answers. On failure nothing is left
 * mounted and err carries taglockfs's own message. */
int tlk_mnt_start(const struct tlk_mnt_args *args, struct tlk_perr *err);

/* Unmount: a plain unmount first; `lazy` falls back to MNT_DETACH when the
 * mount is busy. Not mounted is success. */
int tlk_mnt_stop(const char *mnt, int lazy, struct tlk_perr *err);

#endif

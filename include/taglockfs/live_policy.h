/* SPDX-License-Identifier: MIT */
/*
 * live_policy.h - the policy in force, reloaded without a remount.
 *
 * The file is re-read when it changes: every acquire compares the file's
 * identity (device, inode, size, mtime, ctime, following symlinks, so a
 * Kubernetes ConfigMap `..data` swap counts) with the loaded one, so a
 * change applies to the very next operation; a watcher thread (inotify on
 * the file's directories) and SIGHUP make reloads eager, so errors are
 * logged when they happen. A file that is missing, unreadable, not a
 * regular file (a FIFO, a directory, ...) or not a valid policy keeps the
 * last good policy in force; each change of that state is logged once
 * ("FILE: reason" or "FILE:LINE:COL: reason"), and so is the file being
 * valid again.
 *
 * Thread-safe. acquire/release are cheap (one stat, one mutex round trip);
 * a policy stays valid until its last holder releases it. No lock is held
 * while the file is read and parsed: the new policy is swapped in under
 * the lock afterwards, and of concurrent loads only the newest applies.
 */
#ifndef TAGLOCKFS_LIVE_POLICY_H
#define TAGLOCKFS_LIVE_POLICY_H

#include "taglockfs/policy.h"

struct tlk_live_policy;

/* Load `path` (must parse; an absolute path, since the daemon changes
 * directory when it daemonises) and keep it in force. Returns 0 or
 * -errno/-EINVAL with *err filled. */
int tlk_live_policy_open(const char *path, struct tlk_live_policy **out,
			 struct tlk_policy_error *err);

/* Route SIGHUP to a reload (queued until the watcher runs). Call before
 * the filesystem is mounted: libfuse's own handler would unmount on
 * SIGHUP (docs/design.md, rule 8). Returns 0 or -errno. */
int tlk_live_policy_hook_sighup(struct tlk_live_policy *lp);
/* Start the watcher thread and route SIGHUP to it. Returns 0 or -errno. */
int tlk_live_policy_watch(struct tlk_live_policy *lp);

/* The policy for one decision: acquire fills `hold`, release gives it
 * back. hold->policy is never NULL. */
struct tlk_policy_hold {
	const struct tlk_policy *policy;
	void *ref; /* private */
};
void tlk_live_policy_acquire(struct tlk_live_policy *lp,
			     struct tlk_policy_hold *hold);
void tlk_live_policy_release(struct tlk_policy_hold *hold);

/* Re-read now (SIGHUP does this; a fault is logged even if unchanged).
 * Returns 0 if the file is in force afterwards, -errno/-EINVAL if the last
 * good policy was kept. */
int tlk_live_policy_reload(struct tlk_live_policy *lp);

/* Stop the watcher, free everything (no holder may remain). */
void tlk_live_policy_close(struct tlk_live_policy *lp);

#endif

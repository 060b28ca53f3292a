/* SPDX-License-Identifier: MIT */
/*
 * lifecycle.h - private to the daemon: telling the service manager where
 * the daemon is, and stopping on SIGTERM/SIGINT within a bound
 * (docs/design.md, "Lifecycle").
 */
#ifndef TAGLOCKFS_LIFECYCLE_H
#define TAGLOCKFS_LIFECYCLE_H

#include <fuse_lowlevel.h>

/* Send `state` (e.g. "READY=1") as one datagram to $NOTIFY_SOCKET, the
 * systemd notification protocol: a filesystem path, or an abstract name
 * written with a leading '@'. Without the variable it does nothing.
 * Returns 0, or -errno (the caller logs). */
int tlk_notify(const char *state);

/* Take SIGTERM and SIGINT for `se` (before fuse_set_signal_handlers, which
 * then leaves them alone): the signal ends the session loop. Returns 0 or
 * -1 (logged). Call tlk_stop_finish() before the session is destroyed. */
int tlk_stop_arm(struct fuse_session *se, const char *mnt, double grace);

/* Start the thread that, once a stop signal came, gives the loop and the
 * unmount `grace` seconds; past that it detaches `mnt` lazily and ends the
 * process with status 0. Call after fuse_daemonize (a fork keeps no
 * thread). Returns 0 or -1 (logged). */
int tlk_stop_watch(void);

/* The session loop has returned and the mount is gone: the helper thread
 * stands down; our handlers are removed. Returns the signal that stopped
 * the daemon, or 0. */
int tlk_stop_finish(void);

#endif

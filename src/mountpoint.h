/* SPDX-License-Identifier: MIT */
/*
 * mountpoint.h - private to the daemon: what start-up does to the paths it
 * mounts over (docs/design.md, "Lifecycle").
 *
 * Both functions run in main.c before the mount, single-threaded, and
 * print why they failed to stderr (through tlk_err) themselves.
 */
#ifndef TAGLOCKFS_MOUNTPOINT_H
#define TAGLOCKFS_MOUNTPOINT_H

/* If `path` answers ENOTCONN because a dead taglockfs mount (fstype
 * fuse.taglockfs in /proc/self/mountinfo) sits exactly on it, detach that
 * mount lazily (umount2 MNT_DETACH as root, `fusermount3 -u -z` otherwise)
 * and log one line saying so. Returns 0 when `path` no longer answers
 * ENOTCONN (also when it never did: other errors are left to the caller),
 * -1 when it is dead and not ours to detach, or detaching failed. */
int tlk_mnt_clear_dead(const char *path);

/* Make the empty directory `mnt` refuse new entries while nothing is
 * mounted on it: the immutable attribute (chattr +i, which binds root
 * too), or, as root where it cannot be set, mode 0 (binds every user but
 * root; fusermount3 would refuse a non-root daemon's mount on it). Logs
 * what it did. Returns 0, or -1 when neither could be set. */
int tlk_mnt_guard(const char *mnt);

/* Detach the mount on `path` lazily (as tlk_mnt_clear_dead does). Returns
 * 0 or -errno. Async-signal-unsafe (it may fork). */
int tlk_mnt_detach(const char *path);

#endif

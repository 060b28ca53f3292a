/* SPDX-License-Identifier: MIT */
/*
 * plugin_fs.h - the plugin's own files: the state file, written atomically,
 * and directory trees it creates and deletes.
 *
 * Every call works through file descriptors with O_NOFOLLOW / O_CLOEXEC /
 * AT_SYMLINK_NOFOLLOW, never follows a symlink planted in the state
 * directory and never descends into another mount.
 *
 * Return convention: 0 or -errno. Thread-safe; the caller serialises
 * writers of one file.
 */
#ifndef TAGLOCKFS_PLUGIN_FS_H
#define TAGLOCKFS_PLUGIN_FS_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* Write `doc` to `path` through a temp file, fsync, rename and fsync of the
 * directory: a reader sees the old file or the new one, never a torn one. */
int tlk_fs_save_json(const char *path, json_t *doc);

/* Read and parse `path`; -ENOENT when missing, -EBADMSG when not JSON
 * (then why[] says where). */
int tlk_fs_load_json(const char *path, json_t **doc, char *why, size_t len);

/* mkdir -p with `mode` for the missing components. */
int tlk_fs_mkdir_p(const char *path, mode_t mode);

/* Delete `path` and everything below it, staying on its filesystem
 * (a directory that is a mountpoint is -EBUSY and stops the walk).
 * A missing path is success. */
int tlk_fs_remove_tree(const char *path);

#endif

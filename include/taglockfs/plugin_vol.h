/* SPDX-License-Identifier: MIT */
/*
 * plugin_vol.h - the volume table of taglockfs-plugin and each volume's
 * lifecycle: create (directories + mount), mount IDs, remove, health.
 *
 * Locking (see volume.c): one table mutex guards membership and the small
 * fields Get/List read; it is only ever held for memory operations. Each
 * volume has its own operation mutex, held across the slow steps (starting
 * taglockfs, unmounting, deleting directories, health checks), so a slow
 * mount of one volume never blocks Get/List, nor any call on another
 * volume. Every look at a mount has a deadline (--check-timeout), so a
 * stopped taglockfs holds its volume's mutex no longer than that. Create
 * and Remove of one name are serialised: the name stays taken until
 * Remove has deleted the directory. The state file is rewritten under a
 * third mutex after every change, before the reply is sent.
 *
 * Return convention: 0 or -errno; on error `err` holds a sentence for the
 * person who ran `docker volume ...`.
 */
#ifndef TAGLOCKFS_PLUGIN_VOL_H
#define TAGLOCKFS_PLUGIN_VOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "taglockfs/plugin.h"

#define TLK_VOL_NAME_MAX 128

/* Options of VolumeDriver.Create, after validation. */
struct tlk_vol_opts {
	char *policy;	 /* absolute path, required (or the default policy) */
	char *audit_log; /* absolute path, or NULL: the plugin keeps one */
};

/* Load STATE/state.json (a missing file is an empty table). Must run
 * before the socket answers: an engine forgets volumes the plugin does not
 * report. A state file that cannot be read or parsed is an error, never an
 * empty table. `cfg` must outlive the table. */
int tlk_vol_init(const struct tlk_plugin_config *cfg, struct tlk_perr *err);

/* Validate Create's `Opts` (a JSON object of strings, or NULL). */
int tlk_vol_parse_opts(json_t *opts, struct tlk_vol_opts *out,
		       struct tlk_perr *err);
void tlk_vol_opts_free(struct tlk_vol_opts *opts);

/* A valid volume name: [A-Za-z0-9][A-Za-z0-9_.-]*, at most
 * TLK_VOL_NAME_MAX bytes. */
bool tlk_vol_name_ok(const char *name);

/* Create and mount. Idempotent for the same options; -EEXIST with a
 * message for different ones. Waits for a Remove of the same name to
 * finish. Takes ownership of nothing. */
int tlk_vol_create(const char *name, const struct tlk_vol_opts *opts,
		   struct tlk_perr *err);

/* Refused (-EBUSY) while a mount ID is registered, -ETIMEDOUT while its
 * taglockfs does not answer; otherwise unmounts, forgets the volume
 * (persisted) and deletes its directories. */
int tlk_vol_remove(const char *name, struct tlk_perr *err);

/* Register mount ID `id` (idempotent), make sure the filesystem is
 * mounted (remounting a dead one), and copy the mountpoint into mnt.
 * -ETIMEDOUT, within the check deadline, when its taglockfs does not
 * answer. */
int tlk_vol_mount(const char *name, const char *id, char *mnt, size_t size,
		  struct tlk_perr *err);

/* Forget mount ID `id`; an unknown ID is not an error. The filesystem stays
 * mounted while the volume exists. */
int tlk_vol_unmount(const char *name, const char *id, struct tlk_perr *err);

/* The mountpoint of an existing volume. */
int tlk_vol_path(const char *name, char *mnt, size_t size,
		 struct tlk_perr *err);

/* {"Name","Mountpoint","CreatedAt","Status":{...}} for Get; *out is a new
 * reference. Reads the audit log outside every table lock, never the
 * mount: the health is the last check's. */
int tlk_vol_describe(const char *name, json_t **out, struct tlk_perr *err);

/* [{"Name","Mountpoint"}, ...] of every ready volume; new reference. */
int tlk_vol_list(json_t **out);

/* Prometheus text (metrics.h) of every ready volume: up, mounted,
 * restarts, refusals (from its audit log, read outside every table lock,
 * as Get does). malloc'd; NULL when memory ran out. */
char *tlk_vol_metrics(void);

/* Start the background thread that first recovers every volume and then
 * re-checks them every `interval_ms` (0: recovery only), each volume in a
 * thread of its own: a check finds a hung mount (reported, left alone), a
 * missing one or one whose taglockfs died (mounted again). Returns 0 or
 * -errno. */
int tlk_vol_watch_start(unsigned interval_ms);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * vol_internal.h - the volume record shared by volume.c (lifecycle),
 * vol_state.c (state file) and vol_opts.c (options). Private to the plugin.
 *
 * Lock order: a volume's op_lock, then save_lock, then tab_lock. tab_lock
 * is held only for memory operations, never across a syscall that can
 * block on a filesystem or a child process. op_lock is held across slow
 * steps, but each is bounded: the mount is only ever examined through
 * tlk_mnt_probe_within, so a stopped taglockfs never holds it for longer
 * than the check deadline.
 */
#ifndef TAGLOCKFS_PLUGIN_VOL_INTERNAL_H
#define TAGLOCKFS_PLUGIN_VOL_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "taglockfs/plugin_audit.h"
#include "taglockfs/plugin_mount.h"
#include "taglockfs/plugin_vol.h"

enum vol_state {
	VOL_CREATING, /* being created: invisible to Get/List */
	VOL_READY,
	VOL_REMOVING, /* unmounted, its directory being deleted: invisible,
		       * but its name stays taken until that is done */
	VOL_GONE,     /* removed or failed creation: unlinked from the table */
};

/* What the last look at the mount found (Get's "health"). */
enum vol_health {
	VOL_UNCHECKED, /* loaded from the state file, not looked at yet */
	VOL_HEALTHY,   /* a live taglockfs answered */
	VOL_HUNG,      /* mounted, but no answer within the check deadline */
	VOL_DOWN,      /* not mounted, or its taglockfs died; remount failed */
};

struct vol {
	/* protected by tab_lock */
	struct vol *next;
	unsigned refs; /* the table holds one while linked */
	enum vol_state state;
	enum vol_health health; /* set by create, mount and the checks */
	char health_why[512];	/* for HUNG and DOWN: what was found */
	bool checking;		/* a health check of it is running */
	unsigned long restarts; /* taglockfs started again for it (not by
				   Create) since the plugin started */
	json_t *ids;		/* array of mount IDs (strings) */

	pthread_mutex_t op_lock;  /* serialises create/mount/remove/remount */
	struct tlk_prober prober; /* the probe of mnt still running */
	struct tlk_refusals refusals;

	/* fixed once the record is published */
	char *name;
	char *policy;
	char *user_audit; /* audit_log= as given, or NULL */
	char *audit;	  /* the log taglockfs writes: user_audit or own */
	char *created_at; /* RFC 3339, UTC */
	char *dir, *data, *mnt;
};

extern pthread_mutex_t tlk_vol_tab_lock;
extern struct vol *tlk_vol_table; /* protected by tlk_vol_tab_lock */
extern const struct tlk_plugin_config *tlk_vol_cfg;

/* A new unlinked record with refs = 1, or NULL (out of memory / name too
 * long). `created_at` NULL means now; `ids` NULL means none (stolen). */
struct vol *tlk_vol_new(const char *name, const char *policy,
			const char *user_audit, const char *created_at,
			json_t *ids);
void tlk_vol_free(struct vol *v);

/* A counted reference to the record named `name` (any state), or NULL;
 * tlk_vol_unref drops it and frees an unlinked record with the last one. */
struct vol *tlk_vol_ref(const char *name);
void tlk_vol_unref(struct vol *v);

/* One health check of v (a reference the caller holds): probe the mount
 * within the deadline, record the health, and mount again a volume whose
 * mount is missing or whose taglockfs died. `wait`: wait for a busy
 * op_lock (start-up recovery) instead of leaving it to the next round. */
void tlk_vol_check(struct vol *v, bool wait);

/* "ok", "hung", ... for Get. */
const char *tlk_vol_health_name(enum vol_health h);

/* Rewrite the state file from the READY records. */
int tlk_vol_persist(struct tlk_perr *err);

/* Read the state file into the table (called by tlk_vol_init). */
int tlk_vol_load(const char *path, struct tlk_perr *err);

#endif

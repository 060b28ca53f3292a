/* SPDX-License-Identifier: MIT */
/*
 * volume.c - the volume table and each volume's lifecycle (see
 * plugin_vol.h; the record and the lock order are in vol_internal.h).
 *
 * The table is a short singly linked list: a plugin holds a handful of
 * volumes and every lookup is O(n) under a lock held for microseconds.
 * Records are reference counted so a request can keep one while it waits
 * for its op_lock; a removed record is marked VOL_GONE and whoever waited
 * for it starts over or reports "no such volume".
 *
 * A record keeps its place in the table, and so its name, until its
 * directory is gone: Remove deletes the tree while the record is
 * VOL_REMOVING and unlinks it only then, so a Create of the same name waits
 * on the op_lock instead of building a volume in a directory being deleted.
 *
 * The mount is only ever examined with a deadline (the check deadline,
 * --check-timeout): a stopped taglockfs makes its volume VOL_HUNG, its
 * Mount fails within the deadline, and nothing else waits for it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "taglockfs/log.h"
#include "taglockfs/plugin_fs.h"
#include "taglockfs/plugin_mount.h"
#include "vol_internal.h"

pthread_mutex_t tlk_vol_tab_lock = PTHREAD_MUTEX_INITIALIZER;
struct vol *tlk_vol_table;
const struct tlk_plugin_config *tlk_vol_cfg;

struct vol *tlk_vol_ref(const char *name)
{
	struct vol *v;

	pthread_mutex_lock(&tlk_vol_tab_lock);
	for (v = tlk_vol_table; v != NULL; v = v->next)
		if (strcmp(v->name, name) == 0)
			break;
	if (v != NULL)
		v->refs++;
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	return v;
}

void tlk_vol_unref(struct vol *v)
{
	bool last;

	pthread_mutex_lock(&tlk_vol_tab_lock);
	last = --v->refs == 0;
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	if (last)
		tlk_vol_free(v);
}

/* Unlink v from the table and mark it gone; drops the table's reference
 * (the caller still holds its own). */
static void vol_unlink(struct vol *v)
{
	struct vol **pp;

	pthread_mutex_lock(&tlk_vol_tab_lock);
	for (pp = &tlk_vol_table; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			v->refs--;
			break;
		}
	}
	v->state = VOL_GONE;
	pthread_mutex_unlock(&tlk_vol_tab_lock);
}

static enum vol_state vol_state_of(struct vol *v)
{
	enum vol_state s;

	pthread_mutex_lock(&tlk_vol_tab_lock);
	s = v->state;
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	return s;
}

static enum vol_health vol_health_of(struct vol *v)
{
	enum vol_health h;

	pthread_mutex_lock(&tlk_vol_tab_lock);
	h = v->health;
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	return h;
}

static void set_state(struct vol *v, enum vol_state s)
{
	pthread_mutex_lock(&tlk_vol_tab_lock);
	v->state = s;
	pthread_mutex_unlock(&tlk_vol_tab_lock);
}

const char *tlk_vol_health_name(enum vol_health h)
{
	switch (h) {
	case VOL_HEALTHY:
		return "ok";
	case VOL_HUNG:
		return "hung";
	case VOL_DOWN:
		return "down";
	case VOL_UNCHECKED:
	default:
		return "unchecked";
	}
}

/* Record what the mount was found to be; `why` says it for HUNG and DOWN.
 * A volume that stops answering, or answers again, is logged once. */
static void set_health(struct vol *v, enum vol_health h, const char *why)
{
	enum vol_health was;

	pthread_mutex_lock(&tlk_vol_tab_lock);
	was = v->health;
	v->health = h;
	tlk_pathf(v->health_why, sizeof(v->health_why), "%s", why ? why : "");
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	if (h == VOL_HUNG && was != VOL_HUNG)
		tlk_err("%s; left as it is (Mount is refused until it answers "
			"again or its process dies)",
			why);
	else if (h == VOL_HEALTHY && was == VOL_HUNG)
		tlk_notice("volume %s: taglockfs answers again", v->name);
}

/* The mount's state within the check deadline. */
static enum tlk_mnt_state probe(struct vol *v)
{
	return tlk_mnt_probe_within(&v->prober, v->mnt,
				    tlk_vol_cfg->check_timeout_ms);
}

/* The mount did not answer within the deadline: -ETIMEDOUT. */
static int hung_error(struct vol *v, struct tlk_perr *err)
{
	struct tlk_perr why;

	tlk_perr_set(&why, 0,
		     "volume %s: taglockfs on %s does not answer within %u ms "
		     "(is its process stopped?)",
		     v->name, v->mnt, tlk_vol_cfg->check_timeout_ms);
	set_health(v, VOL_HUNG, why.msg);
	if (err != NULL)
		*err = why;
	return -ETIMEDOUT;
}

/* A failure of ensure_mounted: record it as the volume's health. */
static int down(struct vol *v, int ret, struct tlk_perr *err)
{
	set_health(v, VOL_DOWN, err ? err->msg : strerror(-ret));
	return ret;
}

/* Look a READY volume up and lock its op_lock. NULL (err set) when it
 * does not exist. */
static struct vol *vol_lock_ready(const char *name, struct tlk_perr *err)
{
	struct vol *v = tlk_vol_ref(name);

	if (v != NULL) {
		pthread_mutex_lock(&v->op_lock);
		if (vol_state_of(v) == VOL_READY)
			return v;
		pthread_mutex_unlock(&v->op_lock);
		tlk_vol_unref(v);
	}
	tlk_perr_set(err, -ENOENT, "no such taglockfs volume: %s", name);
	return NULL;
}

static void vol_unlock(struct vol *v)
{
	pthread_mutex_unlock(&v->op_lock);
	tlk_vol_unref(v);
}

static int start_mount(struct vol *v, struct tlk_perr *err)
{
	struct tlk_mnt_args a = {
	    .taglockfs = tlk_vol_cfg->taglockfs,
	    .backing = v->data,
	    .mnt = v->mnt,
	    .policy = v->policy,
	    .audit_log = v->audit,
	    .timeout_s = tlk_vol_cfg->mount_timeout_s,
	    .probe_ms = tlk_vol_cfg->check_timeout_ms,
	};
	int ret = tlk_mnt_start(&a, err);

	if (ret == 0)
		tlk_notice("volume %s: taglockfs mounted on %s (policy %s)",
			   v->name, v->mnt, v->policy);
	return ret;
}

/* Make sure a live taglockfs serves v->mnt; with op_lock held. A dead
 * mount is detached first; `fresh` also replaces a live one (a new volume
 * must run with the options it was just given). A hung one is left alone:
 * -ETIMEDOUT. */
static int ensure_mounted(struct vol *v, bool fresh, struct tlk_perr *err)
{
	enum tlk_mnt_state st = probe(v);
	int ret;

	if (st == TLK_MNT_LIVE && !fresh) {
		set_health(v, VOL_HEALTHY, NULL);
		return 0;
	}
	if (st == TLK_MNT_HUNG)
		return hung_error(v, err);
	if (st == TLK_MNT_FOREIGN || st == TLK_MNT_ERROR)
		return down(v,
			    tlk_perr_set(err, -EBUSY, "volume %s: %s %s",
					 v->name, v->mnt,
					 tlk_mnt_state_name(st)),
			    err);
	if (st != TLK_MNT_NONE) {
		tlk_warn("volume %s: %s is %s; mounting it again", v->name,
			 v->mnt, tlk_mnt_state_name(st));
		if ((ret = tlk_mnt_stop(v->mnt, 1, err)) < 0)
			return down(v, ret, err);
	}
	if ((ret = tlk_fs_mkdir_p(v->data, 0755)) < 0 ||
	    (ret = tlk_fs_mkdir_p(v->mnt, 0755)) < 0)
		return down(v,
			    tlk_perr_set(err, ret,
					 "volume %s: cannot create %s: %s",
					 v->name, v->dir, strerror(-ret)),
			    err);
	ret = start_mount(v, err);
	if (ret < 0)
		return down(v, ret, err);
	if (!fresh) {
		pthread_mutex_lock(&tlk_vol_tab_lock);
		v->restarts++;
		pthread_mutex_unlock(&tlk_vol_tab_lock);
	}
	set_health(v, VOL_HEALTHY, NULL);
	return 0;
}

int tlk_vol_init(const struct tlk_plugin_config *cfg, struct tlk_perr *err)
{
	char path[4096];
	int ret;

	tlk_vol_cfg = cfg;
	if ((ret = tlk_pathf(path, sizeof(path), "%s/volumes",
			     cfg->state_dir)) < 0)
		return tlk_perr_set(err, ret, "state directory path too long");
	if ((ret = tlk_fs_mkdir_p(path, 0700)) < 0)
		return tlk_perr_set(err, ret, "cannot create %s: %s", path,
				    strerror(-ret));
	if ((ret = tlk_pathf(path, sizeof(path), "%s/state.json",
			     cfg->state_dir)) < 0)
		return tlk_perr_set(err, ret, "state directory path too long");
	return tlk_vol_load(path, err);
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Create was called for an existing volume: fine when nothing differs. */
static int compare_existing(struct vol *v, const struct tlk_vol_opts *o,
			    struct tlk_perr *err)
{
	if (same_str(v->policy, o->policy) &&
	    same_str(v->user_audit, o->audit_log))
		return 0;
	return tlk_perr_set(
	    err, -EEXIST,
	    "volume %s already exists with other options "
	    "(policy=%s%s%s); remove it first or use the same options",
	    v->name, v->policy, v->user_audit ? ", audit_log=" : "",
	    v->user_audit ? v->user_audit : "");
}

/* Directories, mount and persistence of a record nobody else can see
 * yet (op_lock held, state VOL_CREATING). */
static int build_new(struct vol *v, struct tlk_perr *err)
{
	bool made_dir = mkdir(v->dir, 0700) == 0;
	int ret;

	if (!made_dir && errno != EEXIST)
		return tlk_perr_set(err, -errno, "cannot create %s: %m",
				    v->dir);
	if (!made_dir)
		tlk_warn("volume %s: reusing the data left in %s", v->name,
			 v->dir);
	ret = ensure_mounted(v, true, err);
	if (ret == 0) {
		set_state(v, VOL_READY);
		ret = tlk_vol_persist(err);
	}
	if (ret < 0) {
		tlk_mnt_stop(v->mnt, 1, NULL);
		if (made_dir)
			tlk_fs_remove_tree(v->dir);
	}
	return ret;
}

static int create_new(const char *name, const struct tlk_vol_opts *o,
		      struct tlk_perr *err)
{
	struct vol *v = tlk_vol_new(name, o->policy, o->audit_log, NULL, NULL);
	struct vol *w;
	int ret;

	if (v == NULL)
		return tlk_perr_set(err, -ENOMEM, "out of memory");
	pthread_mutex_lock(&v->op_lock); /* unpublished: cannot contend */
	pthread_mutex_lock(&tlk_vol_tab_lock);
	for (w = tlk_vol_table; w != NULL && strcmp(w->name, name) != 0;
	     w = w->next)
		;
	if (w == NULL) {
		v->next = tlk_vol_table;
		tlk_vol_table = v;
		v->refs++; /* the table's */
	}
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	if (w != NULL) {
		pthread_mutex_unlock(&v->op_lock);
		tlk_vol_free(v);
		return -EAGAIN; /* lost a race with another Create: retry */
	}
	ret = build_new(v, err);
	if (ret < 0)
		vol_unlink(v);
	else
		tlk_notice("volume %s created", name);
	vol_unlock(v);
	return ret;
}

int tlk_vol_create(const char *name, const struct tlk_vol_opts *o,
		   struct tlk_perr *err)
{
	int ret, tries;

	if (!tlk_vol_name_ok(name))
		return tlk_perr_set(err, -EINVAL, "invalid volume name '%s'",
				    name);
	for (tries = 0; tries < 100; tries++) {
		struct vol *v = tlk_vol_ref(name);

		if (v == NULL) {
			ret = create_new(name, o, err);
			if (ret != -EAGAIN)
				return ret;
			continue;
		}
		pthread_mutex_lock(&v->op_lock);
		ret = vol_state_of(v) == VOL_READY ? compare_existing(v, o, err)
						   : -EAGAIN;
		vol_unlock(v);
		if (ret != -EAGAIN)
			return ret;
	}
	return tlk_perr_set(err, -EBUSY,
			    "volume %s is being created and removed "
			    "concurrently; try again",
			    name);
}

static int check_unused(struct vol *v, struct tlk_perr *err)
{
	size_t n;
	char *ids;

	pthread_mutex_lock(&tlk_vol_tab_lock);
	n = json_array_size(v->ids);
	ids = n ? json_dumps(v->ids, JSON_COMPACT) : NULL;
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	if (n == 0)
		return 0;
	tlk_perr_set(
	    err, -EBUSY,
	    "volume %s is still mounted by %zu container(s) (mount IDs %s); "
	    "stop them first",
	    v->name, n, ids ? ids : "?");
	free(ids);
	return -EBUSY;
}

/* The record stays in the table (VOL_REMOVING: out of Get, List and the
 * state file) until its directory is deleted, and op_lock is held
 * throughout: a Create of the same name waits for the end, then builds a
 * new directory (see the top of this file). */
int tlk_vol_remove(const char *name, struct tlk_perr *err)
{
	struct vol *v = vol_lock_ready(name, err);
	int ret;

	if (v == NULL)
		return -ENOENT;
	/* A hung mount cannot be unmounted (the probe blocked in it holds
	 * it busy): say why rather than "a process still uses it". */
	if ((ret = check_unused(v, err)) < 0 ||
	    (probe(v) == TLK_MNT_HUNG && (ret = hung_error(v, err)) < 0) ||
	    (ret = tlk_mnt_stop(v->mnt, 0, err)) < 0) {
		vol_unlock(v);
		return ret;
	}
	set_health(v, VOL_DOWN, "removed");
	set_state(v, VOL_REMOVING);
	if ((ret = tlk_vol_persist(err)) < 0) {
		/* Keep the volume; the health check mounts it again. */
		set_state(v, VOL_READY);
		vol_unlock(v);
		return ret;
	}
	ret = tlk_fs_remove_tree(v->dir);
	if (ret < 0)
		tlk_err("volume %s removed, but %s could not be deleted: %s",
			name, v->dir, strerror(-ret));
	else
		tlk_notice("volume %s removed and %s deleted", name, v->dir);
	vol_unlink(v);
	vol_unlock(v);
	return 0;
}

static bool has_id(json_t *ids, const char *id)
{
	size_t i;
	json_t *e;

	json_array_foreach(ids, i, e)
	{
		if (strcmp(json_string_value(e), id) == 0)
			return true;
	}
	return false;
}

static int copy_out(const char *s, char *buf, size_t size, struct tlk_perr *err)
{
	if (tlk_pathf(buf, size, "%s", s) < 0)
		return tlk_perr_set(err, -ENAMETOOLONG, "path too long: %s", s);
	return 0;
}

int tlk_vol_mount(const char *name, const char *id, char *mnt, size_t size,
		  struct tlk_perr *err)
{
	struct vol *v = vol_lock_ready(name, err);
	bool added = false;
	int ret;

	if (v == NULL)
		return -ENOENT;
	ret = ensure_mounted(v, false, err);
	if (ret == 0) {
		pthread_mutex_lock(&tlk_vol_tab_lock);
		if (!has_id(v->ids, id)) {
			ret = json_array_append_new(v->ids, json_string(id)) < 0
				  ? tlk_perr_set(err, -ENOMEM, "out of memory")
				  : 0;
			added = ret == 0;
		}
		pthread_mutex_unlock(&tlk_vol_tab_lock);
	}
	if (added && tlk_vol_persist(NULL) < 0)
		tlk_warn("volume %s: mount ID %s is not recorded on disk", name,
			 id);
	if (ret == 0)
		ret = copy_out(v->mnt, mnt, size, err);
	vol_unlock(v);
	return ret;
}

int tlk_vol_unmount(const char *name, const char *id, struct tlk_perr *err)
{
	struct vol *v = tlk_vol_ref(name);
	bool removed = false;
	size_t i;
	json_t *e;

	if (v == NULL || vol_state_of(v) != VOL_READY) {
		if (v != NULL)
			tlk_vol_unref(v);
		return tlk_perr_set(err, -ENOENT,
				    "no such taglockfs volume: %s", name);
	}
	pthread_mutex_lock(&tlk_vol_tab_lock);
	json_array_foreach(v->ids, i, e)
	{
		if (strcmp(json_string_value(e), id) == 0) {
			json_array_remove(v->ids, i);
			removed = true;
			break;
		}
	}
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	if (removed && tlk_vol_persist(NULL) < 0)
		tlk_warn(
		    "volume %s: release of mount ID %s is not recorded on disk",
		    name, id);
	if (!removed)
		tlk_info("volume %s: unmount of unknown ID %s ignored", name,
			 id);
	tlk_vol_unref(v);
	return 0;
}

int tlk_vol_path(const char *name, char *mnt, size_t size, struct tlk_perr *err)
{
	struct vol *v = tlk_vol_ref(name);
	int ret;

	if (v == NULL || vol_state_of(v) != VOL_READY)
		ret = tlk_perr_set(err, -ENOENT, "no such taglockfs volume: %s",
				   name);
	else
		ret = copy_out(v->mnt, mnt, size, err);
	if (v != NULL)
		tlk_vol_unref(v);
	return ret;
}

/* Under op_lock, as every look at the mount: a probe running while Remove
 * unmounts would make the unmount fail with EBUSY. The lock is held for
 * at most the check deadline when the mount is hung. */
void tlk_vol_check(struct vol *v, bool wait)
{
	struct tlk_perr err = {""};

	if (wait)
		pthread_mutex_lock(&v->op_lock);
	else if (pthread_mutex_trylock(&v->op_lock) != 0)
		return; /* busy with a request: the next round looks again */
	if (vol_state_of(v) == VOL_READY &&
	    ensure_mounted(v, false, &err) < 0 && vol_health_of(v) != VOL_HUNG)
		tlk_err("volume %s: cannot mount: %s", v->name, err.msg);
	pthread_mutex_unlock(&v->op_lock);
}

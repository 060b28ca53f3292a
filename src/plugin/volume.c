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

static void set_mounted(struct vol *v, bool mounted)
{
	pthread_mutex_lock(&tlk_vol_tab_lock);
	v->mounted = mounted;
	pthread_mutex_unlock(&tlk_vol_tab_lock);
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
	};
	int ret = tlk_mnt_start(&a, err);

	if (ret == 0)
		tlk_notice("volume %s: taglockfs mounted on %s (policy %s)",
			   v->name, v->mnt, v->policy);
	return ret;
}

/* Make sure a live taglockfs serves v->mnt; with op_lock held. A dead
 * mount is detached first; `fresh` also replaces a live one (a new volume
 * must run with the options it was just given). */
static int ensure_mounted(struct vol *v, bool fresh, struct tlk_perr *err)
{
	enum tlk_mnt_state st = tlk_mnt_probe(v->mnt);
	int ret;

	if (st == TLK_MNT_LIVE && !fresh) {
		set_mounted(v, true);
		return 0;
	}
	if (st == TLK_MNT_FOREIGN || st == TLK_MNT_ERROR) {
		set_mounted(v, false);
		return tlk_perr_set(err, -EBUSY, "volume %s: %s %s", v->name,
				    v->mnt, tlk_mnt_state_name(st));
	}
	if (st != TLK_MNT_NONE) {
		tlk_warn("volume %s: %s is %s; mounting it again", v->name,
			 v->mnt, tlk_mnt_state_name(st));
		if ((ret = tlk_mnt_stop(v->mnt, 1, err)) < 0) {
			set_mounted(v, false);
			return ret;
		}
	}
	if ((ret = tlk_fs_mkdir_p(v->data, 0755)) < 0 ||
	    (ret = tlk_fs_mkdir_p(v->mnt, 0755)) < 0) {
		set_mounted(v, false);
		return tlk_perr_set(err, ret, "volume %s: cannot create %s: %s",
				    v->name, v->dir, strerror(-ret));
	}
	ret = start_mount(v, err);
	set_mounted(v, ret == 0);
	return ret;
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
		pthread_mutex_lock(&tlk_vol_tab_lock);
		v->state = VOL_READY;
		pthread_mutex_unlock(&tlk_vol_tab_lock);
		ret = tlk_vol_persist(err);
	}
	if (ret < 0) {
		tlk_mnt_stop(v->mnt, 1, NULL);
		set_mounted(v, false);
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

int tlk_vol_remove(const char *name, struct tlk_perr *err)
{
	struct vol *v = vol_lock_ready(name, err);
	int ret;

	if (v == NULL)
		return -ENOENT;
	if ((ret = check_unused(v, err)) < 0 ||
	    (ret = tlk_mnt_stop(v->mnt, 0, err)) < 0) {
		vol_unlock(v);
		return ret;
	}
	set_mounted(v, false);
	vol_unlink(v);
	if ((ret = tlk_vol_persist(err)) < 0) {
		/* Keep the volume; the watchdog mounts it again. */
		pthread_mutex_lock(&tlk_vol_tab_lock);
		v->state = VOL_READY;
		v->next = tlk_vol_table;
		tlk_vol_table = v;
		v->refs++;
		pthread_mutex_unlock(&tlk_vol_tab_lock);
		vol_unlock(v);
		return ret;
	}
	ret = tlk_fs_remove_tree(v->dir);
	if (ret < 0)
		tlk_err("volume %s removed, but %s could not be deleted: %s",
			name, v->dir, strerror(-ret));
	else
		tlk_notice("volume %s removed and %s deleted", name, v->dir);
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

/* One volume of the health check; op_lock held. */
static void check_one(struct vol *v)
{
	struct tlk_perr err = {""};

	if (ensure_mounted(v, false, &err) < 0)
		tlk_err("volume %s: cannot mount: %s", v->name, err.msg);
}

void tlk_vol_check_all(bool wait)
{
	struct vol **list = NULL;
	size_t n = 0, i;
	struct vol *v;

	pthread_mutex_lock(&tlk_vol_tab_lock);
	for (v = tlk_vol_table; v != NULL; v = v->next)
		n++;
	list = n ? calloc(n, sizeof(*list)) : NULL;
	n = 0;
	for (v = list ? tlk_vol_table : NULL; v != NULL; v = v->next)
		if (v->state == VOL_READY) {
			v->refs++;
			list[n++] = v;
		}
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	for (i = 0; i < n; i++) {
		v = list[i];
		if (wait)
			pthread_mutex_lock(&v->op_lock);
		else if (pthread_mutex_trylock(&v->op_lock) != 0) {
			tlk_vol_unref(v);
			continue;
		}
		if (vol_state_of(v) == VOL_READY)
			check_one(v);
		vol_unlock(v);
	}
	free(list);
}

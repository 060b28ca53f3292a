/* SPDX-License-Identifier: MIT */
/*
 * vol_info.c - what VolumeDriver.Get and VolumeDriver.List report.
 *
 * Both read only the table (under tab_lock, briefly) and the audit log (with
 * no table lock held), never the mount itself: a volume whose taglockfs is
 * slow, stopped or being remounted still answers at once. `health` and
 * `mounted` are what the last create, mount or health check found:
 * "ok" (mounted: true), "hung" (mounted, but silent past the check
 * deadline), "down" (not mounted; `health_error` says why) or "unchecked"
 * (just loaded from the state file).
 */
#include <errno.h>
#include <string.h>

#include "vol_internal.h"

struct health {
	enum vol_health state;
	char why[sizeof(((struct vol *)0)->health_why)];
};

static json_t *status_of(struct vol *v, const struct health *h, size_t ids)
{
	unsigned long refused = 0, records = 0;
	json_t *st;
	int ret;

	st = json_pack("{s:s, s:s, s:s, s:b, s:s, s:I}", "policy", v->policy,
		       "audit_log", v->audit, "backing_dir", v->data, "mounted",
		       h->state == VOL_HEALTHY, "health",
		       tlk_vol_health_name(h->state), "mount_ids",
		       (json_int_t)ids);
	if (st == NULL)
		return NULL;
	if (h->why[0] != '\0')
		json_object_set_new(st, "health_error", json_string(h->why));
	ret = tlk_refusals_update(&v->refusals, v->audit, &refused, &records);
	if (ret < 0) {
		json_object_set_new(st, "refused_writes", json_null());
		json_object_set_new(st, "audit_error",
				    json_string(strerror(-ret)));
	} else {
		json_object_set_new(st, "refused_writes",
				    json_integer((json_int_t)refused));
		json_object_set_new(st, "audit_records",
				    json_integer((json_int_t)records));
	}
	return st;
}

int tlk_vol_describe(const char *name, json_t **out, struct tlk_perr *err)
{
	struct vol *v;
	struct health h = {VOL_UNCHECKED, ""};
	bool ready = false;
	size_t ids = 0;
	json_t *st;

	v = tlk_vol_ref(name);
	pthread_mutex_lock(&tlk_vol_tab_lock);
	if (v != NULL) {
		ready = v->state == VOL_READY;
		h.state = v->health;
		memcpy(h.why, v->health_why, sizeof(h.why));
		ids = json_array_size(v->ids);
	}
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	if (!ready) {
		*out = NULL;
		tlk_perr_set(err, -ENOENT, "no such taglockfs volume: %s",
			     name);
	} else {
		st = status_of(v, &h, ids);
		*out = st ? json_pack("{s:s, s:s, s:s, s:o}", "Name", v->name,
				      "Mountpoint", v->mnt, "CreatedAt",
				      v->created_at, "Status", st)
			  : NULL;
		if (*out == NULL)
			tlk_perr_set(err, -ENOMEM, "out of memory");
	}
	if (v != NULL)
		tlk_vol_unref(v);
	return *out ? 0 : ready ? -ENOMEM : -ENOENT;
}

int tlk_vol_list(json_t **out)
{
	json_t *arr = json_array();
	struct vol *v;
	int ret = 0;

	if (arr == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&tlk_vol_tab_lock);
	for (v = tlk_vol_table; v != NULL && ret == 0; v = v->next)
		if (v->state == VOL_READY)
			ret = json_array_append_new(
			    arr, json_pack("{s:s, s:s}", "Name", v->name,
					   "Mountpoint", v->mnt));
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	if (ret < 0) {
		json_decref(arr);
		return -ENOMEM;
	}
	*out = arr;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * vol_state.c - volume records and the state file that keeps them across
 * restarts of the plugin.
 *
 *   {"version": 1, "volumes": [{"name": "regdata",
 *     "policy": "/etc/taglockfs/policy.yaml", "audit_log": "/var/log/x",
 *     "created_at": "2026-01-01T00:00:00Z", "mount_ids": ["abc"]}]}
 *
 * `audit_log` is present only when the user chose one. The file is
 * rewritten whole, atomically, after every change; a file that does not
 * parse stops the plugin at start rather than making it forget volumes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "taglockfs/log.h"
#include "taglockfs/plugin_fs.h"
#include "vol_internal.h"

#define STATE_VERSION 1

static pthread_mutex_t save_lock = PTHREAD_MUTEX_INITIALIZER;
static char *state_path; /* set by tlk_vol_load, then read-only */

static char *path_join(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

static char *now_rfc3339(void)
{
	char buf[32];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return strdup(buf);
}

static int fill_paths(struct vol *v)
{
	char *vols = path_join(tlk_vol_cfg->state_dir, "volumes");

	v->dir = vols ? path_join(vols, v->name) : NULL;
	free(vols);
	if (v->dir == NULL)
		return -ENOMEM;
	v->data = path_join(v->dir, "data");
	v->mnt = path_join(v->dir, "mnt");
	v->audit = v->user_audit ? strdup(v->user_audit)
				 : path_join(v->dir, "audit.jsonl");
	return v->data && v->mnt && v->audit ? 0 : -ENOMEM;
}

struct vol *tlk_vol_new(const char *name, const char *policy,
			const char *user_audit, const char *created_at,
			json_t *ids)
{
	struct vol *v = calloc(1, sizeof(*v));

	if (v == NULL) {
		json_decref(ids);
		return NULL;
	}
	pthread_mutex_init(&v->op_lock, NULL);
	tlk_prober_init(&v->prober);
	tlk_refusals_init(&v->refusals);
	v->refs = 1;
	v->state = VOL_CREATING;
	v->ids = ids ? ids : json_array();
	v->name = strdup(name);
	v->policy = strdup(policy);
	v->user_audit = user_audit ? strdup(user_audit) : NULL;
	v->created_at = created_at ? strdup(created_at) : now_rfc3339();
	if (v->ids == NULL || !v->name || !v->policy || !v->created_at ||
	    (user_audit && !v->user_audit) || fill_paths(v) < 0) {
		tlk_vol_free(v);
		return NULL;
	}
	return v;
}

void tlk_vol_free(struct vol *v)
{
	if (v == NULL)
		return;
	json_decref(v->ids);
	pthread_mutex_destroy(&v->op_lock);
	tlk_prober_destroy(&v->prober);
	tlk_refusals_destroy(&v->refusals);
	free(v->name);
	free(v->policy);
	free(v->user_audit);
	free(v->audit);
	free(v->created_at);
	free(v->dir);
	free(v->data);
	free(v->mnt);
	free(v);
}

static json_t *vol_to_json(const struct vol *v)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:O}", "name", v->name, "policy",
			      v->policy, "created_at", v->created_at,
			      "mount_ids", v->ids);

	if (o != NULL && v->user_audit != NULL &&
	    json_object_set_new(o, "audit_log", json_string(v->user_audit)) <
		0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The document for the READY volumes; called with tab_lock held. */
static json_t *snapshot(void)
{
	json_t *arr = json_array();
	json_t *doc;
	struct vol *v;

	if (arr == NULL)
		return NULL;
	for (v = tlk_vol_table; v != NULL; v = v->next) {
		if (v->state == VOL_READY &&
		    json_array_append_new(arr, vol_to_json(v)) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	doc = json_pack("{s:i, s:o}", "version", STATE_VERSION, "volumes", arr);
	return doc;
}

int tlk_vol_persist(struct tlk_perr *err)
{
	json_t *doc;
	int ret;

	pthread_mutex_lock(&save_lock);
	pthread_mutex_lock(&tlk_vol_tab_lock);
	doc = snapshot();
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	ret = doc ? tlk_fs_save_json(state_path, doc) : -ENOMEM;
	pthread_mutex_unlock(&save_lock);
	json_decref(doc);
	if (ret < 0) {
		tlk_err("cannot write %s: %s", state_path, strerror(-ret));
		return tlk_perr_set(err, ret,
				    "cannot record the volume list in %s: %s",
				    state_path, strerror(-ret));
	}
	return 0;
}

static int check_ids(json_t *ids)
{
	size_t i;
	json_t *id;

	if (!json_is_array(ids))
		return -EINVAL;
	json_array_foreach(ids, i, id)
	{
		if (!json_is_string(id))
			return -EINVAL;
	}
	return 0;
}

/* One entry of "volumes" into a READY record linked into the table. */
static int load_one(json_t *e, size_t idx, struct tlk_perr *err)
{
	const char *name = NULL, *policy = NULL, *audit = NULL, *created = NULL;
	json_t *ids = NULL;
	json_error_t jerr = {0};
	struct vol *v;

	if (json_unpack_ex(e, &jerr, JSON_STRICT, "{s:s, s:s, s?s, s:s, s:o}",
			   "name", &name, "policy", &policy, "audit_log",
			   &audit, "created_at", &created, "mount_ids",
			   &ids) < 0 ||
	    !tlk_vol_name_ok(name) || check_ids(ids) < 0)
		return tlk_perr_set(
		    err, -EBADMSG, "%s: volume #%zu is malformed%s%s",
		    state_path, idx + 1, jerr.text[0] ? ": " : "", jerr.text);
	for (v = tlk_vol_table; v != NULL; v = v->next)
		if (strcmp(v->name, name) == 0)
			return tlk_perr_set(err, -EBADMSG,
					    "%s: volume %s is listed twice",
					    state_path, name);
	v = tlk_vol_new(name, policy, audit, created, json_deep_copy(ids));
	if (v == NULL)
		return tlk_perr_set(err, -ENOMEM, "out of memory");
	v->state = VOL_READY;
	v->next = tlk_vol_table;
	tlk_vol_table = v;
	return 0;
}

int tlk_vol_load(const char *path, struct tlk_perr *err)
{
	json_t *doc = NULL, *list;
	char why[256] = "";
	size_t i;
	int ret, version = 0;

	if ((state_path = strdup(path)) == NULL)
		return tlk_perr_set(err, -ENOMEM, "out of memory");
	ret = tlk_fs_load_json(path, &doc, why, sizeof(why));
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return tlk_perr_set(err, ret, "cannot read %s: %s", path,
				    ret == -EBADMSG ? why : strerror(-ret));
	if (json_unpack(doc, "{s:i, s:o}", "version", &version, "volumes",
			&list) < 0 ||
	    version != STATE_VERSION || !json_is_array(list)) {
		json_decref(doc);
		return tlk_perr_set(
		    err, -EBADMSG,
		    "%s is not a version %d taglockfs-plugin state file", path,
		    STATE_VERSION);
	}
	ret = 0;
	for (i = 0; ret == 0 && i < json_array_size(list); i++)
		ret = load_one(json_array_get(list, i), i, err);
	json_decref(doc);
	return ret;
}

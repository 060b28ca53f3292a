/* SPDX-License-Identifier: MIT */
/*
 * api.c - the endpoints of the volume plugin protocol (see plugin_api.h).
 *
 * Each handler takes the parsed request object and fills a reply object;
 * an error is a negative return with a sentence in `err`, which becomes
 * HTTP 500 `{"Err": sentence}`. Bodies are optional only where the
 * protocol has no arguments (Activate, List, Capabilities): Docker sends
 * `null` or nothing there. `GET /metrics` answers Prometheus text
 * (tlk_vol_metrics) for the operator, not for the engine.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "taglockfs/log.h"
#include "taglockfs/plugin_api.h"
#include "taglockfs/http.h"
#include "taglockfs/plugin_vol.h"

typedef int (*handler_fn)(json_t *req, json_t **resp, struct tlk_perr *err);

static int want_string(json_t *req, const char *key, const char **out,
		       struct tlk_perr *err)
{
	json_t *v = json_is_object(req) ? json_object_get(req, key) : NULL;

	if (!json_is_object(req))
		return tlk_perr_set(err, -EINVAL,
				    "request body must be a JSON object");
	if (!json_is_string(v) || json_string_length(v) == 0)
		return tlk_perr_set(err, -EINVAL,
				    "request needs a non-empty \"%s\" string",
				    key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return tlk_perr_set(err, -EINVAL, "\"%s\" contains a NUL byte",
				    key);
	*out = json_string_value(v);
	return 0;
}

static int reply_mountpoint(const char *mnt, json_t **resp)
{
	*resp = json_pack("{s:s}", "Mountpoint", mnt);
	return *resp ? 0 : -ENOMEM;
}

static int h_activate(json_t *req, json_t **resp, struct tlk_perr *err)
{
	*resp = json_pack("{s:[s]}", "Implements", "VolumeDriver");
	return *resp ? 0 : -ENOMEM;
}

static int h_capabilities(json_t *req, json_t **resp, struct tlk_perr *err)
{
	*resp = json_pack("{s:{s:s}}", "Capabilities", "Scope", "local");
	return *resp ? 0 : -ENOMEM;
}

static int h_create(json_t *req, json_t **resp, struct tlk_perr *err)
{
	struct tlk_vol_opts opts;
	const char *name;
	int ret;

	if ((ret = want_string(req, "Name", &name, err)) < 0)
		return ret;
	if (!tlk_vol_name_ok(name))
		return tlk_perr_set(
		    err, -EINVAL,
		    "invalid volume name '%s': use letters, digits, "
		    "'_', '.', '-', starting with a letter or digit",
		    name);
	if ((ret = tlk_vol_parse_opts(json_object_get(req, "Opts"), &opts,
				      err)) < 0)
		return ret;
	ret = tlk_vol_create(name, &opts, err);
	tlk_vol_opts_free(&opts);
	*resp = ret == 0 ? json_object() : NULL;
	return ret;
}

static int h_remove(json_t *req, json_t **resp, struct tlk_perr *err)
{
	const char *name;
	int ret;

	if ((ret = want_string(req, "Name", &name, err)) < 0 ||
	    (ret = tlk_vol_remove(name, err)) < 0)
		return ret;
	*resp = json_object();
	return 0;
}

static int h_mount(json_t *req, json_t **resp, struct tlk_perr *err)
{
	const char *name, *id;
	char mnt[4096];
	int ret;

	if ((ret = want_string(req, "Name", &name, err)) < 0 ||
	    (ret = want_string(req, "ID", &id, err)) < 0 ||
	    (ret = tlk_vol_mount(name, id, mnt, sizeof(mnt), err)) < 0)
		return ret;
	return reply_mountpoint(mnt, resp);
}

static int h_unmount(json_t *req, json_t **resp, struct tlk_perr *err)
{
	const char *name, *id;
	int ret;

	if ((ret = want_string(req, "Name", &name, err)) < 0 ||
	    (ret = want_string(req, "ID", &id, err)) < 0 ||
	    (ret = tlk_vol_unmount(name, id, err)) < 0)
		return ret;
	*resp = json_object();
	return 0;
}

static int h_path(json_t *req, json_t **resp, struct tlk_perr *err)
{
	const char *name;
	char mnt[4096];
	int ret;

	if ((ret = want_string(req, "Name", &name, err)) < 0 ||
	    (ret = tlk_vol_path(name, mnt, sizeof(mnt), err)) < 0)
		return ret;
	return reply_mountpoint(mnt, resp);
}

static int h_get(json_t *req, json_t **resp, struct tlk_perr *err)
{
	const char *name;
	json_t *vol;
	int ret;

	if ((ret = want_string(req, "Name", &name, err)) < 0 ||
	    (ret = tlk_vol_describe(name, &vol, err)) < 0)
		return ret;
	*resp = json_pack("{s:o}", "Volume", vol);
	return *resp ? 0 : -ENOMEM;
}

static int h_list(json_t *req, json_t **resp, struct tlk_perr *err)
{
	json_t *vols;
	int ret;

	if ((ret = tlk_vol_list(&vols)) < 0)
		return tlk_perr_set(err, ret, "out of memory");
	*resp = json_pack("{s:o}", "Volumes", vols);
	return *resp ? 0 : -ENOMEM;
}

static const struct route {
	const char *path;
	handler_fn fn;
	bool args; /* takes a request object */
} routes[] = {
    {"/Plugin.Activate", h_activate, false},
    {"/VolumeDriver.Create", h_create, true},
    {"/VolumeDriver.Remove", h_remove, true},
    {"/VolumeDriver.Mount", h_mount, true},
    {"/VolumeDriver.Unmount", h_unmount, true},
    {"/VolumeDriver.Path", h_path, true},
    {"/VolumeDriver.Get", h_get, true},
    {"/VolumeDriver.List", h_list, false},
    {"/VolumeDriver.Capabilities", h_capabilities, false},
};

static const struct route *find_route(const char *target)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(routes[i].path, target) == 0)
			return &routes[i];
	return NULL;
}

static bool blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* The request body as JSON: `null` when empty. */
static int parse_body(const struct tlk_http_request *req, json_t **out,
		      struct tlk_perr *err)
{
	json_error_t jerr;

	if (req->body == NULL || blank(req->body, req->body_len)) {
		*out = json_null();
		return 0;
	}
	*out = json_loadb(req->body, req->body_len,
			  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (*out == NULL)
		return tlk_perr_set(
		    err, -EINVAL,
		    "request body is not valid JSON (line %d column %d: %s)",
		    jerr.line, jerr.column, jerr.text);
	return 0;
}

static void log_call(const char *target, json_t *body, int status)
{
	const char *name = json_string_value(json_object_get(body, "Name"));
	const char *id = json_string_value(json_object_get(body, "ID"));

	tlk_info("call %s%s%s%s%s -> %d", target + 1, name ? " name=" : "",
		 name ? name : "", id ? " id=" : "", id ? id : "", status);
}

static char *error_body(const char *msg)
{
	json_t *o = json_pack("{s:s}", "Err", msg);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return text;
}

static int run_route(const struct route *r, const struct tlk_http_request *req,
		     json_t **resp, struct tlk_perr *err)
{
	json_t *body = NULL;
	int ret;

	*resp = NULL;
	ret = parse_body(req, &body, err);
	if (ret == 0 && r->args && !json_is_object(body))
		ret = tlk_perr_set(err, -EINVAL, "%s needs a JSON object body",
				   r->path + 1);
	if (ret == 0) {
		ret = r->fn(body, resp, err);
		if (ret == -ENOMEM || (ret == 0 && *resp == NULL))
			ret = tlk_perr_set(err, -ENOMEM, "out of memory");
	}
	log_call(req->target, body, ret < 0 ? 500 : 200);
	if (ret < 0)
		tlk_info("%s: %s", req->target + 1, err->msg);
	json_decref(body);
	return ret;
}

char *tlk_api_handle(const struct tlk_http_request *req, int *status)
{
	const struct route *r = find_route(req->target);
	struct tlk_perr err = {""};
	json_t *resp = NULL;
	char *text;

	if (strcmp(req->target, "/metrics") == 0) {
		*status = strcmp(req->method, "GET") == 0 ? 200 : 405;
		return *status == 200 ? tlk_vol_metrics()
				      : error_body("/metrics takes GET");
	}
	if (r == NULL) {
		*status = 404;
		tlk_perr_set(&err, -ENOENT, "unknown endpoint %s", req->target);
		return error_body(err.msg);
	}
	if (strcmp(req->method, "POST") != 0) {
		*status = 405;
		tlk_perr_set(&err, -EINVAL, "%s takes POST, not %s",
			     req->target, req->method);
		return error_body(err.msg);
	}
	if (run_route(r, req, &resp, &err) < 0) {
		*status = 500;
		return error_body(err.msg);
	}
	*status = 200;
	text = json_dumps(resp, JSON_COMPACT);
	json_decref(resp);
	return text;
}

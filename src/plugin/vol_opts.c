/* SPDX-License-Identifier: MIT */
/*
 * vol_opts.c - validate a volume name and the `Opts` of
 * VolumeDriver.Create (see plugin_vol.h).
 *
 * Paths are handed to taglockfs inside one `-o a=b,c=d` argument, so they
 * must be absolute and free of commas; a policy file must exist now, so a
 * typo is reported by `docker volume create` instead of as a failed mount.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "taglockfs/plugin_vol.h"
#include "vol_internal.h"

bool tlk_vol_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > TLK_VOL_NAME_MAX ||
	    !isalnum((unsigned char)name[0]))
		return false;
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

static int check_path(const char *key, const char *value, struct tlk_perr *err)
{
	if (value[0] != '/')
		return tlk_perr_set(err, -EINVAL,
				    "option %s=%s: give an absolute path", key,
				    value);
	if (strchr(value, ',') != NULL)
		return tlk_perr_set(
		    err, -EINVAL,
		    "option %s=%s: the path may not contain a comma", key,
		    value);
	if (strlen(value) > 1024)
		return tlk_perr_set(err, -ENAMETOOLONG,
				    "option %s: path too long", key);
	return 0;
}

static int check_policy(const char *path, struct tlk_perr *err)
{
	struct stat st;
	int ret;

	if ((ret = check_path("policy", path, err)) < 0)
		return ret;
	if (stat(path, &st) < 0)
		return tlk_perr_set(err, -errno, "policy file %s: %m", path);
	if (!S_ISREG(st.st_mode))
		return tlk_perr_set(
		    err, -EINVAL, "policy file %s is not a regular file", path);
	return 0;
}

static int check_audit(const char *path, struct tlk_perr *err)
{
	char dir[1100];
	struct stat st;
	char *slash;
	int ret;

	if ((ret = check_path("audit_log", path, err)) < 0)
		return ret;
	if (tlk_pathf(dir, sizeof(dir), "%s", path) < 0)
		return tlk_perr_set(err, -ENAMETOOLONG,
				    "audit_log: path too long");
	slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return tlk_perr_set(err, -ENOENT,
				    "audit_log=%s: directory %s does not exist",
				    path, dir);
	return 0;
}

static int set_opt(struct tlk_vol_opts *out, const char *key, json_t *val,
		   struct tlk_perr *err)
{
	char **slot;

	if (strcmp(key, "policy") == 0)
		slot = &out->policy;
	else if (strcmp(key, "audit_log") == 0)
		slot = &out->audit_log;
	else
		return tlk_perr_set(
		    err, -EINVAL,
		    "unknown option '%s' (taglockfs volumes take "
		    "policy=FILE and audit_log=FILE)",
		    key);
	if (!json_is_string(val))
		return tlk_perr_set(err, -EINVAL, "option %s must be a string",
				    key);
	if ((*slot = strdup(json_string_value(val))) == NULL)
		return tlk_perr_set(err, -ENOMEM, "out of memory");
	return 0;
}

int tlk_vol_parse_opts(json_t *opts, struct tlk_vol_opts *out,
		       struct tlk_perr *err)
{
	const char *key;
	json_t *val;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (opts != NULL && !json_is_null(opts) && !json_is_object(opts))
		return tlk_perr_set(err, -EINVAL, "Opts must be a JSON object");
	if (json_is_object(opts))
		json_object_foreach(opts, key, val)
		{
			if ((ret = set_opt(out, key, val, err)) < 0)
				goto fail;
		}
	if (out->policy == NULL && tlk_vol_cfg != NULL &&
	    tlk_vol_cfg->default_policy != NULL &&
	    (out->policy = strdup(tlk_vol_cfg->default_policy)) == NULL) {
		ret = tlk_perr_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (out->policy == NULL) {
		ret = tlk_perr_set(err, -EINVAL,
				   "a taglockfs volume needs a policy: add "
				   "-o policy=/path/to/policy.yaml");
		goto fail;
	}
	if ((ret = check_policy(out->policy, err)) < 0 ||
	    (out->audit_log && (ret = check_audit(out->audit_log, err)) < 0))
		goto fail;
	return 0;
fail:
	tlk_vol_opts_free(out);
	return ret;
}

void tlk_vol_opts_free(struct tlk_vol_opts *opts)
{
	free(opts->policy);
	free(opts->audit_log);
	opts->policy = opts->audit_log = NULL;
}

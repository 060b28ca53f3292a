/* SPDX-License-Identifier: MIT */
/*
 * manifest.c - the digests a manifest references (see manifest.h).
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "taglockfs/manifest.h"

struct collector {
	struct tlk_manifest_refs *out;
	size_t cap;
	int err;
};

/* Add the digest string `s` if it is "sha256:<64 lowercase hex>". */
static void add(struct collector *c, const char *s, bool is_manifest)
{
	struct tlk_manifest_ref *r;

	if (!s || strncmp(s, "sha256:", 7) != 0 ||
	    !tlk_layout_valid_hex(s + 7) || c->err)
		return;
	if (c->out->count == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		r = realloc(c->out->refs, cap * sizeof(*r));
		if (!r) {
			c->err = -ENOMEM;
			return;
		}
		c->out->refs = r;
		c->cap = cap;
	}
	r = &c->out->refs[c->out->count++];
	memcpy(r->hex, s + 7, TLK_HEX_LEN + 1);
	r->is_manifest = is_manifest;
}

/* Every element of the array `key` of `obj`: its `field` string. */
static void add_array(struct collector *c, json_t *obj, const char *key,
		      const char *field, bool is_manifest)
{
	json_t *arr = json_object_get(obj, key), *el;
	size_t i;

	if (!json_is_array(arr))
		return;
	json_array_foreach(arr, i, el)
	{
		if (json_is_object(el))
			add(c, json_string_value(json_object_get(el, field)),
			    is_manifest);
	}
}

int tlk_manifest_refs(const char *buf, size_t len,
		      struct tlk_manifest_refs *out)
{
	struct collector c = {.out = out};
	json_error_t jerr;
	json_t *root, *config;

	out->refs = NULL;
	out->count = 0;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return -EINVAL;
	}
	config = json_object_get(root, "config");
	if (json_is_object(config))
		add(&c, json_string_value(json_object_get(config, "digest")),
		    false);
	add_array(&c, root, "layers", "digest", false);
	add_array(&c, root, "blobs", "digest", false);
	add_array(&c, root, "fsLayers", "blobSum", false);
	add_array(&c, root, "manifests", "digest", true);
	json_decref(root);
	if (c.err) {
		tlk_manifest_refs_free(out);
		return c.err;
	}
	return 0;
}

void tlk_manifest_refs_free(struct tlk_manifest_refs *refs)
{
	free(refs->refs);
	refs->refs = NULL;
	refs->count = 0;
}

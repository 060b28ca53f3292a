/* SPDX-License-Identifier: MIT */
/*
 * manifest.h - what an image manifest or index references.
 *
 * Pure: bytes in, digests out (jansson). Understands OCI and Docker
 * schema 2 manifests and indexes (config, layers, manifests), OCI artifact
 * manifests (blobs) and Docker schema 1 (fsLayers). Only sha256 digests
 * are returned; anything else is ignored. Thread safety: reentrant.
 */
#ifndef TAGLOCKFS_MANIFEST_H
#define TAGLOCKFS_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "taglockfs/layout.h"

/* distribution reads a manifest with this limit: nothing larger can be
 * served as one. */
#define TLK_MANIFEST_MAX (4u << 20)

struct tlk_manifest_ref {
	char hex[TLK_HEX_LEN + 1];
	bool is_manifest; /* listed under "manifests": a child of an index */
};

struct tlk_manifest_refs {
	struct tlk_manifest_ref *refs; /* owned */
	size_t count;
};

/* Parse `len` bytes of a manifest. Returns 0 (refs filled, possibly
 * empty), -EINVAL when the bytes are not a JSON object, -ENOMEM. */
int tlk_manifest_refs(const char *buf, size_t len,
		      struct tlk_manifest_refs *out);
void tlk_manifest_refs_free(struct tlk_manifest_refs *refs);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_layout.c - the storage-layout classifier (include/taglockfs/
 * layout.h) on any path. The contract checked: classifying a path at once
 * and component by component agree; a kind below a repository names one
 * (and a valid tag below a tag directory, 64 lowercase hex below a digest
 * directory); a link's own digest is "sha256:<hex>" of its own path; a
 * node survives pack/unpack unchanged; empty components never matter.
 * ("." and "..", which the kernel never looks up, are left out of the
 * comparison.)
 */
#include <stdlib.h>
#include <string.h>

#include "taglockfs/digest.h"
#include "taglockfs/layout.h"

#include "fuzz.h"

static void same(const struct tlk_node *a, const struct tlk_node *b,
		 const char *what)
{
	FUZZ_CHECK(a->kind == b->kind && a->in_tree == b->in_tree &&
		       strcmp(a->repo, b->repo) == 0 &&
		       strcmp(a->tag, b->tag) == 0 &&
		       strcmp(a->hex, b->hex) == 0,
		   "%s: kind %s/%s repo '%s'/'%s' tag '%s'/'%s'", what,
		   tlk_layout_kind_name(a->kind), tlk_layout_kind_name(b->kind),
		   a->repo, b->repo, a->tag, b->tag);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 1), *copy, *comp, *save = NULL;
	struct tlk_node whole, step, back;
	struct tlk_packed_node *packed;
	char own[TLK_LINK_LEN + 1];
	bool oom = false, dots = false;

	FUZZ_CHECK(path != NULL, "malloc");
	memcpy(path, data, size);
	path[size] = '\0'; /* a NUL inside ends the path, as in C */
	tlk_layout_path(path, &whole);
	/* component by component */
	copy = strdup(path);
	FUZZ_CHECK(copy != NULL, "strdup");
	tlk_layout_root(&step);
	for (comp = strtok_r(copy, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		/* The kernel never looks up "." or "..": the daemon never
		 * classifies them one by one. */
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0)
			dots = true;
		tlk_layout_child(&step, comp, &step);
	}
	free(copy);
	if (!dots)
		same(&whole, &step, "path vs components");
	if (whole.kind >= TLK_REPO_DIR && whole.kind != TLK_BLOBS &&
	    whole.kind < TLK_BLOBS)
		FUZZ_CHECK(whole.repo[0] != '\0', "no repository for %s",
			   tlk_layout_kind_name(whole.kind));
	if (whole.kind >= TLK_TAG_DIR && whole.kind <= TLK_TAG_INDEX_TMP)
		FUZZ_CHECK(tlk_layout_valid_tag(whole.tag), "tag '%s'",
			   whole.tag);
	if (whole.hex[0] && whole.kind != TLK_BLOB_PREFIX)
		FUZZ_CHECK(tlk_layout_valid_hex(whole.hex), "hex '%s'",
			   whole.hex);
	if (whole.kind == TLK_BLOB_PREFIX) /* the two hex of its name */
		FUZZ_CHECK(strlen(whole.hex) == 2, "prefix '%s'", whole.hex);
	if (tlk_layout_own_digest(&whole, own, sizeof(own))) {
		FUZZ_CHECK(tlk_layout_link_class(whole.kind) == TLK_LINK_PATH,
			   "own digest of a %s",
			   tlk_layout_kind_name(whole.kind));
		FUZZ_CHECK(strncmp(own, "sha256:", 7) == 0 &&
			       strcmp(own + 7, whole.hex) == 0,
			   "own digest %s of hex %s", own, whole.hex);
	}
	packed = tlk_layout_pack(&whole, &oom);
	FUZZ_CHECK(!oom, "pack: out of memory");
	tlk_layout_unpack(packed, &back);
	if (whole.kind != TLK_OTHER)
		same(&whole, &back, "pack/unpack");
	free(packed);
	free(path);
	return 0;
}

#ifndef TLK_LIBFUZZER
int main(int argc, char **argv)
{
	return tlk_fuzz_main(argc, argv);
}
#endif

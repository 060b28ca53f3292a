/* SPDX-License-Identifier: MIT */
/*
 * fuzz_manifest.c - tlk_manifest_refs() on any bytes: never crashes,
 * returns 0 or -EINVAL (-ENOMEM aside), and what it returns keeps the
 * promises of manifest.h: each ref is 64 lowercase hex digits, index
 * children come last, every ref is written in the input, a failure leaves
 * nothing to free, free empties the result.
 */
#include <errno.h>
#include <string.h>

#include "taglockfs/manifest.h"

#include "fuzz.h"

static bool lower_hex(const char *s)
{
	return strspn(s, "0123456789abcdef") == TLK_HEX_LEN &&
	       s[TLK_HEX_LEN] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct tlk_manifest_refs refs;
	bool escapes = memchr(data, '\\', size) != NULL;
	int rc;

	memset(&refs, 0xa5, sizeof(refs));
	rc = tlk_manifest_refs(buf, size, &refs);
	if (rc != 0) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "rc %d", rc);
		FUZZ_CHECK(refs.refs == NULL && refs.count == 0,
			   "failure left %zu refs", refs.count);
		tlk_manifest_refs_free(&refs);
		return 0;
	}
	FUZZ_CHECK(refs.count == 0 || refs.refs != NULL, "%zu refs, no array",
		   refs.count);
	/* each ref is its own JSON string of at least "sha256:" and 64 hex
	 * digits between quotes */
	FUZZ_CHECK(refs.count <= size / (7 + TLK_HEX_LEN + 2),
		   "%zu refs from %zu bytes", refs.count, size);
	for (size_t i = 0; i < refs.count; i++) {
		const struct tlk_manifest_ref *r = &refs.refs[i];
		char digest[7 + TLK_HEX_LEN + 1];

		FUZZ_CHECK(lower_hex(r->hex), "ref %zu is not a sha256 hex", i);
		/* "manifests" is read last */
		FUZZ_CHECK(i == 0 || !refs.refs[i - 1].is_manifest ||
			       r->is_manifest,
			   "ref %zu: a blob after an index child", i);
		/* without JSON escapes, the digest is in the input as is */
		if (!escapes) {
			memcpy(digest, "sha256:", 7);
			memcpy(digest + 7, r->hex, TLK_HEX_LEN + 1);
			FUZZ_CHECK(memmem(data, size, digest, 7 + TLK_HEX_LEN),
				   "ref %zu (%s) is not in the input", i,
				   r->hex);
		}
	}
	tlk_manifest_refs_free(&refs);
	FUZZ_CHECK(refs.refs == NULL && refs.count == 0, "free left %zu refs",
		   refs.count);
	tlk_manifest_refs_free(&refs);
	return 0;
}

#ifndef TLK_LIBFUZZER
int main(int argc, char **argv)
{
	return tlk_fuzz_main(argc, argv);
}
#endif

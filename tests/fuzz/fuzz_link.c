/* SPDX-License-Identifier: MIT */
/*
 * fuzz_link.c - tlk_link_parse() on any bytes: reads exactly `len` bytes,
 * and its verdict is the one digest.h states: zero bytes are EMPTY,
 * exactly "sha256:" and 64 lowercase hex digits are VALID (the digest
 * copied, NUL-terminated), everything else is MALFORMED; MALFORMED never
 * equals anything, not even itself.
 */
#include <string.h>

#include "taglockfs/digest.h"

#include "fuzz.h"

/* The contract, written out independently of digest.c. */
static bool canonical(const uint8_t *p, size_t n)
{
	if (n != TLK_LINK_LEN || memcmp(p, "sha256:", 7) != 0)
		return false;
	for (size_t i = 7; i < n; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	}
	return true;
}

static void check_one(const uint8_t *data, size_t size, struct tlk_link *l)
{
	const char *shown;

	memset(l, 0x5a, sizeof(*l));
	tlk_link_parse(data, size, l);
	shown = tlk_link_show(l);
	FUZZ_CHECK(shown != NULL, "show gave NULL");
	if (size == 0) {
		FUZZ_CHECK(l->state == TLK_LINK_EMPTY, "state %d", l->state);
		FUZZ_CHECK(strcmp(shown, "(empty)") == 0, "shown %s", shown);
	} else if (canonical(data, size)) {
		FUZZ_CHECK(l->state == TLK_LINK_VALID, "state %d", l->state);
		FUZZ_CHECK(memcmp(l->digest, data, TLK_LINK_LEN) == 0 &&
			       l->digest[TLK_LINK_LEN] == '\0',
			   "digest not copied");
		FUZZ_CHECK(shown == l->digest, "shown %s", shown);
	} else {
		FUZZ_CHECK(l->state == TLK_LINK_MALFORMED,
			   "state %d of %zu bytes", l->state, size);
		FUZZ_CHECK(strcmp(shown, "(malformed)") == 0, "shown %s",
			   shown);
	}
	FUZZ_CHECK(tlk_link_same(l, l) == (l->state != TLK_LINK_MALFORMED),
		   "same(x, x) for state %d", l->state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tlk_link whole, tail, absent;
	bool same;

	check_one(data, size, &whole);
	/* the input without its first byte: a second link to compare with */
	check_one(size ? data + 1 : data, size ? size - 1 : 0, &tail);
	same = tlk_link_same(&whole, &tail);
	FUZZ_CHECK(same == tlk_link_same(&tail, &whole),
		   "same() not symmetric");
	if (whole.state == TLK_LINK_VALID && tail.state == TLK_LINK_VALID)
		FUZZ_CHECK(same == (strcmp(whole.digest, tail.digest) == 0),
			   "same() of two digests");
	else
		FUZZ_CHECK(same == (whole.state == TLK_LINK_EMPTY &&
				    tail.state == TLK_LINK_EMPTY),
			   "same() of states %d and %d", whole.state,
			   tail.state);
	tlk_link_absent(&absent);
	FUZZ_CHECK(tlk_link_same(&absent, &whole) ==
		       (whole.state == TLK_LINK_EMPTY),
		   "absent vs state %d", whole.state);
	return 0;
}

#ifndef TLK_LIBFUZZER
int main(int argc, char **argv)
{
	return tlk_fuzz_main(argc, argv);
}
#endif

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_guard.c - the guarded-handle state machine (docs/design.md,
 * "Guarded handles") driven by any sequence of writes, truncates and
 * closes, on a protected or a mutable tag, from any starting link.
 *
 * The harness does what guarded.c does with the pure parts: each change
 * is tried on a copy of the view (shadow.h), judged by tlk_decide
 * (WRITE_LINK), accepted or refused; a PUBLISH verdict is published the
 * way tag_ops.c does (PUBLISH_LINK judged against the link as it is, the
 * link replaced only if allowed); a refused handle stays refused. The
 * promise checked after every step: once a protected tag's link holds a
 * digest, it holds that digest for ever; a protected tag's link never
 * holds anything but a whole digest once published; reads of the view
 * stay within it.
 *
 * Input: byte 0 picks the tag (bit 0: protected), O_TRUNC at open
 * (bit 1) and the starting link (bits 2-3: none, digest A, empty,
 * malformed); then steps of 3 bytes (op, offset, length) followed by
 * `length` bytes of data for writes. op % 4: 0 write, 1 truncate,
 * 2 close (judge the view as final), 3 read.
 */
#include <string.h>

#include "taglockfs/decide.h"
#include "taglockfs/layout.h"
#include "taglockfs/shadow.h"

#include "fuzz.h"

#define DIG_A                                                                  \
	"sha256:"                                                              \
	"559aead08264d5795d3909718cdd05abd49572e84fe55590eef31a88a08fdffd"

struct model {
	struct tlk_node node;
	bool protected_tag;
	struct tlk_shadow shadow;
	bool failed;
	char link[TLK_LINK_LEN + 8]; /* the link file as it is */
	size_t link_len;
	bool link_exists;
	char pinned[TLK_LINK_LEN + 1]; /* protected digest, once held */
};

static void link_state(const struct model *m, struct tlk_link *out)
{
	if (!m->link_exists)
		tlk_link_absent(out);
	else
		tlk_link_parse(m->link, m->link_len, out);
}

/* tag_ops.c publish_locked, in short. */
static void publish(struct model *m)
{
	struct tlk_facts f = {.op = TLK_OP_PUBLISH_LINK, .node = m->node};
	struct tlk_verdict v;

	link_state(m, &f.current);
	f.type = m->link_exists ? TLK_FT_REG : TLK_FT_NONE;
	tlk_link_parse(m->shadow.bytes, m->shadow.len, &f.next);
	f.next_len = m->shadow.len;
	tlk_link_absent(&f.tag_current);
	f.repo_immutable = m->protected_tag;
	f.tag_protected = m->protected_tag;
	v = tlk_decide(&f);
	if (v.kind == TLK_REFUSE) {
		m->failed = true;
		if (f.current.state == TLK_LINK_VALID)
			tlk_shadow_init(&m->shadow, f.current.digest,
					TLK_LINK_LEN, false);
		return;
	}
	memcpy(m->link, m->shadow.bytes, m->shadow.len);
	m->link_len = m->shadow.len;
	m->link_exists = true;
	tlk_shadow_committed(&m->shadow);
}

/* guarded.c judge_view, in short. */
static void judge(struct model *m, const struct tlk_shadow_view *view,
		  bool closing)
{
	struct tlk_facts f = {.op = TLK_OP_WRITE_LINK, .node = m->node};
	struct tlk_verdict v;

	f.view = view->bytes;
	f.view_len = view->len;
	f.base = m->shadow.base;
	f.base_len = m->shadow.base_len;
	f.closing = closing;
	f.repo_immutable = m->protected_tag;
	f.tag_protected = m->protected_tag;
	v = tlk_decide(&f);
	FUZZ_CHECK(v.kind != TLK_INSPECT, "WRITE_LINK answered INSPECT");
	if (v.kind == TLK_REFUSE) {
		FUZZ_CHECK(tlk_verdict_errno(v) != 0, "a refusal without errno");
		if (!closing)
			m->failed = true;
		return;
	}
	FUZZ_CHECK(view->len <= TLK_SHADOW_MAX,
		   "a view of %zu bytes accepted", view->len);
	tlk_shadow_accept(&m->shadow, view);
	if (v.kind == TLK_PUBLISH)
		publish(m);
}

static void check(const struct model *m)
{
	struct tlk_link now;

	if (!m->protected_tag)
		return;
	link_state(m, &now);
	if (m->pinned[0]) {
		FUZZ_CHECK(now.state == TLK_LINK_VALID &&
			       strcmp(now.digest, m->pinned) == 0,
			   "a protected link moved from %s to %s", m->pinned,
			   tlk_link_show(&now));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model m;
	struct tlk_link start;
	size_t i = 1;

	if (size < 1)
		return 0;
	memset(&m, 0, sizeof(m));
	m.protected_tag = data[0] & 1;
	tlk_layout_path("docker/registry/v2/repositories/test/example/"
			"_manifests/tags/v1/current/link",
			&m.node);
	FUZZ_CHECK(m.node.kind == TLK_CURRENT_LINK, "layout");
	switch ((data[0] >> 2) & 3) {
	case 1:
		memcpy(m.link, DIG_A, TLK_LINK_LEN);
		m.link_len = TLK_LINK_LEN;
		m.link_exists = true;
		break;
	case 2:
		m.link_exists = true;
		break;
	case 3:
		memcpy(m.link, "sha256:zz", 9);
		m.link_len = 9;
		m.link_exists = true;
		break;
	default:
		break;
	}
	link_state(&m, &start);
	if (m.protected_tag && start.state == TLK_LINK_VALID)
		strcpy(m.pinned, start.digest);
	tlk_shadow_init(&m.shadow, m.link, m.link_len, data[0] & 2);
	while (i + 3 <= size) {
		uint8_t op = data[i] % 4;
		off_t off = data[i + 1] % 96;
		size_t n = data[i + 2] % 96;
		struct tlk_shadow_view view;
		char buf[96];

		i += 3;
		if (op == 0) {
			if (n > size - i)
				n = size - i;
			if (!m.failed) {
				tlk_shadow_try_write(&m.shadow, off, data + i,
						     n, &view);
				judge(&m, &view, false);
			}
			i += n;
		} else if (op == 1) {
			if (!m.failed) {
				tlk_shadow_try_truncate(&m.shadow, off, &view);
				judge(&m, &view, false);
			}
		} else if (op == 2) {
			if (!m.failed) {
				tlk_shadow_current(&m.shadow, &view);
				judge(&m, &view, true);
			}
		} else {
			size_t got = tlk_shadow_read(&m.shadow, off, buf, n);
			FUZZ_CHECK(got <= n, "read %zu of %zu", got, n);
			FUZZ_CHECK((size_t)off >= m.shadow.len ||
				       got == (m.shadow.len - (size_t)off < n
						   ? m.shadow.len - (size_t)off
						   : n),
				   "read %zu at %lld of a %zu-byte view", got,
				   (long long)off, m.shadow.len);
		}
		if (m.protected_tag && !m.pinned[0] && m.link_exists) {
			struct tlk_link now;

			link_state(&m, &now);
			FUZZ_CHECK(now.state == TLK_LINK_VALID ||
				       now.state == TLK_LINK_EMPTY ||
				       start.state == TLK_LINK_MALFORMED,
				   "a protected tag published %s",
				   tlk_link_show(&now));
			if (now.state == TLK_LINK_VALID)
				strcpy(m.pinned, now.digest);
		}
		check(&m);
	}
	return 0;
}

#ifndef TLK_LIBFUZZER
int main(int argc, char **argv)
{
	return tlk_fuzz_main(argc, argv);
}
#endif

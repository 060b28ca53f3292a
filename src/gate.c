/* SPDX-License-Identifier: MIT */
/*
 * gate.c - the verdict for a manifest PUT (see gate.h; docs/design.md,
 * "The gate").
 */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taglockfs/gate.h"

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One separator of distribution's name grammar: ".", "_", "__" or "-"+. */
static bool valid_separator(const char *s, size_t len)
{
	size_t i;

	if (len == 1 && (s[0] == '.' || s[0] == '_'))
		return true;
	if (len == 2 && s[0] == '_' && s[1] == '_')
		return true;
	for (i = 0; i < len; i++)
		if (s[i] != '-')
			return false;
	return len > 0;
}

/* A repository name as distribution accepts it in the API: components of
 * [a-z0-9]+ joined by separators, joined by '/', at most 255 bytes. */
static bool valid_repo(const char *name, size_t len)
{
	size_t i = 0;

	if (len == 0 || len >= TLK_REPO_MAX)
		return false;
	while (i < len) {
		/* One component: alnum (sep alnum)* */
		if (!is_alnum(name[i]))
			return false;
		for (;;) {
			size_t sep;

			while (i < len && is_alnum(name[i]))
				i++;
			if (i == len || name[i] == '/')
				break;
			sep = i;
			while (i < len && !is_alnum(name[i]) && name[i] != '/')
				i++;
			if (!valid_separator(name + sep, i - sep) || i == len ||
			    !is_alnum(name[i]))
				return false;
		}
		if (i < len && ++i == len) /* a trailing '/' */
			return false;
	}
	return true;
}

void tlk_gate_parse(const char *method, const char *target,
		    struct tlk_gate_target *out)
{
	static const char prefix[] = "/v2/", mid[] = "/manifests/";
	const char *name, *ref, *end, *m = NULL, *p;
	size_t name_len, ref_len;

	memset(out, 0, sizeof(*out));
	if (strcmp(method, "PUT") != 0 ||
	    strncmp(target, prefix, sizeof(prefix) - 1) != 0 ||
	    strchr(target, '%') != NULL)
		return;
	name = target + sizeof(prefix) - 1;
	end = name + strcspn(name, "?#");
	for (p = name; (p = strstr(p, mid)) != NULL && p < end; p++)
		m = p; /* the last one: a name may contain "manifests" */
	if (m == NULL)
		return;
	name_len = (size_t)(m - name);
	ref = m + sizeof(mid) - 1;
	ref_len = (size_t)(end - ref);
	if (!valid_repo(name, name_len) || ref_len == 0 ||
	    memchr(ref, '/', ref_len) != NULL || ref_len > TLK_TAG_MAX)
		return;
	memcpy(out->repo, name, name_len);
	out->repo[name_len] = '\0';
	if (memchr(ref, ':', ref_len) != NULL) {
		out->ask = TLK_GATE_BY_DIGEST;
		return;
	}
	memcpy(out->tag, ref, ref_len);
	out->tag[ref_len] = '\0';
	if (tlk_layout_valid_tag(out->tag))
		out->ask = TLK_GATE_BY_TAG;
	else
		memset(out, 0, sizeof(*out));
}

/* "sha256:<hex of SHA-256(body)>" as a link. */
static int body_link(const void *body, size_t len, struct tlk_link *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	char text[TLK_LINK_LEN + 1] = "sha256:";
	unsigned int md_len = 0, i;

	if (EVP_Digest(len ? body : "", len, md, &md_len, EVP_sha256(),
		       NULL) != 1 ||
	    md_len * 2 != TLK_HEX_LEN)
		return -EIO;
	for (i = 0; i < md_len; i++) {
		text[7 + 2 * i] = hex[md[i] >> 4];
		text[8 + 2 * i] = hex[md[i] & 0xf];
	}
	tlk_link_parse(text, TLK_LINK_LEN, out);
	return 0;
}

int tlk_gate_judge(const struct tlk_gate_target *target,
		   const struct tlk_policy *policy,
		   const struct tlk_gate_found *found, const void *body,
		   size_t body_len, struct tlk_gate_verdict *out)
{
	struct tlk_facts *f = &out->facts;
	char path[TLK_REPO_MAX + TLK_TAG_MAX + 96];
	int ret;

	memset(out, 0, sizeof(*out));
	out->status = TLK_GATE_SEND_ON;
	out->verdict.kind = TLK_ALLOW;
	out->verdict.reason = TLK_R_NOT_TAG_STATE;
	if (target->ask != TLK_GATE_BY_TAG)
		return 0; /* a push by digest moves no tag */
	snprintf(path, sizeof(path),
		 "docker/registry/v2/repositories/%s/_manifests/tags/%s/"
		 "current/link",
		 target->repo, target->tag);
	/* The facts the filesystem gathers for this publish
	 * (tag_ops.c, publish_locked). */
	f->op = TLK_OP_PUBLISH_LINK;
	tlk_layout_path(path, &f->node);
	f->error = found->error;
	f->current = found->current;
	f->type = found->type;
	f->multi_linked = found->multi_linked;
	tlk_link_absent(&f->tag_current);
	f->repo_immutable = tlk_policy_repo_immutable(policy, target->repo);
	f->tag_protected =
	    tlk_policy_tag_protected(policy, target->repo, target->tag);
	if ((ret = body_link(body, body_len, &f->next)) < 0)
		return ret;
	f->next_len = TLK_LINK_LEN;
	out->verdict = tlk_decide(f);
	/* Only an overwrite is answered here, in the words the product
	 * promises; any other refusal is the filesystem's to make. */
	if (out->verdict.kind == TLK_REFUSE &&
	    out->verdict.reason == TLK_R_OVERWRITE)
		out->status = TLK_GATE_DENIED;
	return 0;
}

char *tlk_gate_denial_json(const struct tlk_gate_target *target,
			   const struct tlk_gate_verdict *verdict)
{
	const struct tlk_facts *f = &verdict->facts;
	json_t *doc = json_pack(
	    "{s:[{s:s, s:s, s:{s:s, s:s, s:s, s:s}}]}", "errors", "code",
	    "DENIED", "message", tlk_reason_text(TLK_R_OVERWRITE), "detail",
	    "repository", target->repo, "tag", target->tag, "current",
	    tlk_link_show(&f->current), "attempted", tlk_link_show(&f->next));
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	return text;
}

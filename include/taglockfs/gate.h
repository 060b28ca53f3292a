/* SPDX-License-Identifier: MIT */
/*
 * gate.h - the verdict nginx asks for before a manifest PUT reaches the
 * registry (docs/design.md, "The gate").
 *
 * Pure: no I/O. The daemon reads the tag's current link from the backing
 * directory and holds the policy in force; tlk_gate_judge() builds the
 * same facts the filesystem builds for the publish of that tag's
 * current/link and asks the same tlk_decide(). Only an overwrite is
 * turned away here (403 and the registry's error format); everything
 * else is sent on (418: nginx re-sends the request to the registry),
 * where the filesystem stays the guarantee.
 */
#ifndef TAGLOCKFS_GATE_H
#define TAGLOCKFS_GATE_H

#include <stddef.h>

#include "taglockfs/decide.h"
#include "taglockfs/digest.h"
#include "taglockfs/layout.h"
#include "taglockfs/policy.h"

#define TLK_GATE_SEND_ON 418
#define TLK_GATE_DENIED 403

enum tlk_gate_ask {
	TLK_GATE_OTHER = 0, /* not a manifest PUT, or a name the registry
			       itself refuses: send on */
	TLK_GATE_BY_DIGEST, /* PUT /v2/<name>/manifests/<digest>: no tag */
	TLK_GATE_BY_TAG,    /* PUT /v2/<name>/manifests/<tag> */
};

struct tlk_gate_target {
	enum tlk_gate_ask ask;
	char repo[TLK_REPO_MAX];
	char tag[TLK_TAG_MAX + 1];
};

/* What a request asks about, from its method and target. */
void tlk_gate_parse(const char *method, const char *target,
		    struct tlk_gate_target *out);

/* What the daemon found for a BY_TAG request. */
struct tlk_gate_found {
	int error;		 /* reading the tag failed with this errno */
	struct tlk_link current; /* the tag's current/link */
	enum tlk_ftype type;	 /* what is at current/link */
	bool multi_linked;
};

struct tlk_gate_verdict {
	int status; /* TLK_GATE_SEND_ON or TLK_GATE_DENIED */
	struct tlk_facts facts;	  /* as asked (for the log and audit) */
	struct tlk_verdict verdict; /* tlk_decide's answer */
};

/* Judge a manifest PUT of `body` (its SHA-256 is the digest the registry
 * would write) against `policy`. `found` may be NULL unless the target is
 * BY_TAG. Returns 0, or -ENOMEM/-EIO when the body could not be hashed
 * (then the verdict is SEND_ON). */
int tlk_gate_judge(const struct tlk_gate_target *target,
		   const struct tlk_policy *policy,
		   const struct tlk_gate_found *found, const void *body,
		   size_t body_len, struct tlk_gate_verdict *out);

/* The registry's error body for a denial:
 * {"errors":[{"code":"DENIED","message":"The requested tag already exists
 * and cannot be overwritten.","detail":{...}}]}. malloc'd; NULL when out
 * of memory. */
char *tlk_gate_denial_json(const struct tlk_gate_target *target,
			   const struct tlk_gate_verdict *verdict);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * report.c - turn a verdict worth reporting into a log line and an audit
 * record. Deciding happened elsewhere (decide.c); this file only words it,
 * and says (for audit_strict) whether a record can be written at all.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "metrics.h"
#include "taglockfs/log.h"

static void comm_of(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* The link content before and after, as the facts of `op` hold them. */
static void before_after(const struct tlk_facts *f, struct tlk_link *before,
			 struct tlk_link *after)
{
	switch (f->op) {
	case TLK_OP_WRITE_LINK:
		tlk_link_parse(f->base,
			       f->base_len < TLK_LINK_LEN ? f->base_len
							  : TLK_LINK_LEN,
			       before);
		tlk_link_parse(f->view,
			       f->view_len < TLK_LINK_LEN ? f->view_len
							  : TLK_LINK_LEN,
			       after);
		break;
	case TLK_OP_MKDIR:
	case TLK_OP_CREATE: { /* an index entry: the digest it names */
		char own[TLK_LINK_LEN + 1];
		*before = f->tag_current;
		tlk_link_absent(after);
		if (tlk_layout_valid_hex(f->node.hex) &&
		    snprintf(own, sizeof(own), "sha256:%s", f->node.hex) ==
			TLK_LINK_LEN)
			tlk_link_parse(own, TLK_LINK_LEN, after);
		break;
	}
	default:
		*before = f->node.kind == TLK_TAG_INDEX_LINK ? f->tag_current
							     : f->current;
		*after = f->next;
		break;
	}
}

void tlk_report(struct tlk_fs *fs, pid_t pid, const struct tlk_facts *f,
		struct tlk_verdict v)
{
	const struct tlk_node *node = &f->node;
	bool refused = v.kind == TLK_REFUSE;
	struct tlk_link before, after;
	char comm[32];

	if (!tlk_verdict_reported(f, v))
		return;
	tlk_metrics_decision(f->op, v);
	before_after(f, &before, &after);
	comm_of(pid, comm, sizeof(comm));
	if (refused) {
		atomic_fetch_add(&fs->refused, 1);
		tlk_warn("refused %s of %s%s%s%s%s (%s, current %s, attempted "
			 "%s) by pid %d (%s): %s%s%s",
			 tlk_op_name(f->op), node->repo[0] ? node->repo : "",
			 node->tag[0] ? ":" : "", node->tag,
			 node->hex[0] ? (node->repo[0] ? " sha256:" : "sha256:")
				      : "",
			 node->hex, tlk_layout_kind_name(node->kind),
			 tlk_link_show(&before), tlk_link_show(&after),
			 (int)pid, comm, tlk_reason_text(v.reason),
			 f->error ? " " : "",
			 f->error ? strerror(f->error) : "");
	} else {
		atomic_fetch_add(&fs->published, 1);
		tlk_debug("allowed %s of %s:%s (%s) by pid %d (%s): %s",
			  tlk_op_name(f->op), node->repo, node->tag,
			  tlk_link_show(&after), (int)pid, comm,
			  tlk_reason_text(v.reason));
	}
	if (fs->audit) {
		struct tlk_audit_event ev = {
		    .decision = refused ? "refuse" : "allow",
		    .op = tlk_op_name(f->op),
		    .reason = tlk_reason_name(v.reason),
		    .repository = node->repo[0] ? node->repo : "-",
		    .tag = node->tag[0] ? node->tag : NULL,
		    .old_digest = tlk_link_show(&before),
		    .new_digest = tlk_link_show(&after),
		    .pid = pid,
		    .comm = comm,
		};
		/* A failed write is kept and logged by the audit log itself,
		 * once per change of its state (audit.h). */
		(void)tlk_audit_append(fs->audit, &ev);
	}
}

int tlk_report_audit_error(struct tlk_fs *fs, const struct tlk_facts *f)
{
	if (!fs->audit_strict || !fs->audit || !f->tag_protected ||
	    tlk_layout_link_class(f->node.kind) != TLK_LINK_TAG)
		return 0;
	return -tlk_audit_ready(fs->audit);
}

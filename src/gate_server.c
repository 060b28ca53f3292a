/* SPDX-License-Identifier: MIT */
/*
 * gate_server.c - the daemon's gate: nginx asks, before a manifest PUT
 * reaches the registry, whether it would overwrite a protected tag
 * (docs/design.md, "The gate").
 *
 * A handler gathers the facts (the policy in force, the tag's current link
 * read from the backing directory, never through the mount), asks
 * tlk_gate_judge() (which asks tlk_decide(), as the filesystem does),
 * reports a denial with the filesystem's log line and audit record, and
 * answers 403 with the registry's error body, or 418 "send it on". The
 * gate is a courtesy to the client; the filesystem stays the guarantee, so
 * whatever the gate cannot judge it sends on.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"
#include "metrics.h"
#include "taglockfs/gate.h"
#include "taglockfs/http_server.h"
#include "taglockfs/log.h"

#define GATE_BODY_MAX (4u << 20) /* distribution's manifest limit */
#define GATE_DEADLINE_MS 30000
#define GATE_CONN_MAX 64
#define GATE_DRAIN_S 5
#define TLK_GATE_GROUP "www-data" /* Debian's nginx workers */

static struct {
	struct tlk_fs *fs;
	int listen_fd;
	int stop_fd;
	char *path; /* the socket file, removed at stop */
	pthread_t thread;
	bool running;
	struct tlk_http_server srv;
} gate = {.listen_fd = -1, .stop_fd = -1};

/* Open `path` below the backing root without following any symlink or
 * leaving the tree (the registry never makes symlinks there). */
static int open_beneath(int rootfd, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (unsigned long long)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		       RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* The tag's current link, read from the backing directory. A tag that
 * does not exist (at any level) has an absent link. */
static void read_tag(struct tlk_fs *fs, const struct tlk_gate_target *t,
		     struct tlk_gate_found *found)
{
	static const char *const roots[] = {"docker/registry/v2/", ""};
	char path[TLK_REPO_MAX + TLK_TAG_MAX + 96];
	size_t i;
	int fd = -ENOENT, ret;

	memset(found, 0, sizeof(*found));
	tlk_link_absent(&found->current);
	/* The mount root is the registry's rootdirectory, or its v2/
	 * (include/taglockfs/layout.h). */
	for (i = 0; i < 2 && fd == -ENOENT; i++) {
		snprintf(path, sizeof(path),
			 "%srepositories/%s/_manifests/tags/%s", roots[i],
			 t->repo, t->tag);
		fd = open_beneath(fs->root.fd, path, O_PATH | O_DIRECTORY);
	}
	if (fd == -ENOENT)
		return; /* a new tag */
	if (fd < 0) {
		found->error = -fd;
		return;
	}
	ret = tlk_link_read(fd, "current/link", &found->current, NULL, 0,
			    NULL);
	if (ret == 0)
		ret = tlk_facts_type(fd, "current/link", &found->type,
				     &found->multi_linked);
	if (ret < 0)
		found->error = -ret;
	close(fd);
}

static char *handle(void *ctx, const struct tlk_http_request *req,
		    const struct tlk_http_peer *peer, int *status)
{
	struct tlk_fs *fs = ctx;
	struct tlk_gate_target target;
	struct tlk_gate_verdict v;
	struct tlk_gate_found found;
	struct tlk_policy_hold hold;
	int ret;

	*status = TLK_GATE_SEND_ON;
	tlk_gate_parse(req->method, req->target, &target);
	if (target.ask != TLK_GATE_BY_TAG)
		return strdup("");
	read_tag(fs, &target, &found);
	tlk_live_policy_acquire(fs->policy, &hold);
	ret = tlk_gate_judge(&target, hold.policy, &found, req->body,
			     req->body_len, &v);
	tlk_live_policy_release(&hold);
	if (ret < 0) {
		tlk_warn("gate: %s:%s not judged: %s; sent on", target.repo,
			 target.tag, strerror(-ret));
		return strdup("");
	}
	*status = v.status;
	if (v.status != TLK_GATE_DENIED) {
		tlk_debug("gate: %s:%s sent on (%s)", target.repo, target.tag,
			  tlk_reason_name(v.verdict.reason));
		return strdup("");
	}
	tlk_report(fs, peer->pid, &v.facts, v.verdict);
	return tlk_gate_denial_json(&target, &v);
}

/* Every answer counted for the metrics (403 denied, else sent on). */
static char *counted_handle(void *ctx, const struct tlk_http_request *req,
			    const struct tlk_http_peer *peer, int *status)
{
	char *body = handle(ctx, req, peer, status);

	tlk_metrics_gate(*status == TLK_GATE_DENIED);
	return body;
}

/* Whatever the gate cannot read it sends on: the filesystem decides. */
static char *refuse(void *ctx, int *status, const char *why)
{
	tlk_info("gate: %s; sent on", why);
	*status = TLK_GATE_SEND_ON;
	tlk_metrics_gate(false);
	return NULL;
}

static int parse_group(const char *name, gid_t *gid)
{
	struct group *gr;
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(name, &end, 10);
	if (*name && *end == '\0' && errno == 0 && n < (gid_t)-1) {
		*gid = (gid_t)n;
		return 0;
	}
	gr = getgrnam(name);
	if (gr == NULL)
		return -ENOENT;
	*gid = gr->gr_gid;
	return 0;
}

int tlk_gate_open(struct tlk_fs *fs, const char *path, const char *group)
{
	gid_t gid = (gid_t)-1;
	const char *why;
	char *dir, *slash;
	int fd;

	/* Who may ask: the group of Debian's nginx workers by default, so
	 * no other local user can fill the log and the audit with denials. */
	if (group && parse_group(group, &gid) < 0) {
		fprintf(stderr, "taglockfs: gate_group=%s: no such group\n",
			group);
		return -1;
	}
	if (!group && parse_group(TLK_GATE_GROUP, &gid) == 0)
		group = TLK_GATE_GROUP;
	if (!group)
		fprintf(stderr,
			"taglockfs: warning: no group %s: the gate socket %s is "
			"open to every local user (set gate_group=)\n",
			TLK_GATE_GROUP, path);
	/* The socket's directory (/run/taglockfs) is made if missing. */
	dir = strdup(path);
	if (dir && (slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			fprintf(stderr, "taglockfs: gate directory %s: %s\n",
				dir, strerror(errno));
	}
	free(dir);
	fd = tlk_http_listen_unix(path, group ? 0660 : 0666, gid, &why);
	if (fd < 0) {
		fprintf(stderr, "taglockfs: gate %s: %s: %s\n", path, why,
			fd == -EADDRINUSE ? "another process answers there"
					  : strerror(-fd));
		return -1;
	}
	gate.fs = fs;
	gate.listen_fd = fd;
	gate.path = strdup(path);
	return 0;
}

static void *gate_thread(void *arg)
{
	int ret;

	(void)arg;
	ret = tlk_http_serve(&gate.srv, gate.listen_fd, gate.stop_fd,
			     GATE_DRAIN_S);
	gate.listen_fd = -1; /* closed by tlk_http_serve */
	if (ret < 0)
		tlk_err("gate stopped: %s", strerror(-ret));
	return NULL;
}

int tlk_gate_start(void)
{
	sigset_t all, old;
	int ret;

	if (gate.listen_fd < 0)
		return 0;
	gate.srv = (struct tlk_http_server){
	    .name = "gate",
	    .content_type = "application/json; charset=utf-8",
	    .extra = "Docker-Distribution-Api-Version: registry/2.0\r\n",
	    .limits = {.body_max = GATE_BODY_MAX,
		       .deadline_ms = GATE_DEADLINE_MS},
	    .conn_max = GATE_CONN_MAX,
	    .handle = counted_handle,
	    .refuse = refuse,
	    .ctx = gate.fs,
	};
	gate.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (gate.stop_fd < 0)
		return -errno;
	/* Signals stay with the threads that wait for them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = -pthread_create(&gate.thread, NULL, gate_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0)
		return ret;
	gate.running = true;
	return 0;
}

void tlk_gate_stop(void)
{
	uint64_t one = 1;

	if (gate.running) {
		if (write(gate.stop_fd, &one, sizeof(one)) != sizeof(one))
			tlk_warn("gate: cannot stop: %m");
		else
			pthread_join(gate.thread, NULL);
		gate.running = false;
	}
	if (gate.listen_fd >= 0)
		close(gate.listen_fd);
	gate.listen_fd = -1;
	if (gate.stop_fd >= 0)
		close(gate.stop_fd);
	gate.stop_fd = -1;
	if (gate.path)
		unlink(gate.path);
	free(gate.path);
	gate.path = NULL;
}

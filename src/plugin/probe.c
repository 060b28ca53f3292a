/* SPDX-License-Identifier: MIT */
/*
 * probe.c - tlk_mnt_probe with a deadline (see plugin_mount.h).
 *
 * The probe runs in a detached thread that owns a copy of the path and its
 * result; the caller waits on a condition variable until the deadline,
 * counted from the start of the probe. A probe that misses it is left
 * blocked in the kernel and recorded in the volume's prober: every later
 * caller shares it, and answers TLK_MNT_HUNG at once, until the syscall
 * returns (the daemon was continued or died). Only then is a new probe
 * started, so one stopped taglockfs costs the plugin one blocked thread,
 * however long it stays stopped.
 *
 * Locks: a prober's lock is taken before a probe's lock, never the other
 * way; the probe thread takes only its probe's lock, so it may outlive the
 * volume it was started for.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "taglockfs/log.h"
#include "taglockfs/plugin_mount.h"

#define PROBE_STACK (128 * 1024) /* tlk_mnt_probe uses ~4 KiB */

struct tlk_probe {
	pthread_mutex_t lock;
	pthread_cond_t answered;
	/* protected by lock */
	unsigned refs; /* the thread, the prober, each waiting caller */
	bool done;
	enum tlk_mnt_state state;
	/* fixed at creation */
	struct timespec started; /* CLOCK_MONOTONIC */
	char mnt[];
};

static void probe_ref(struct tlk_probe *p)
{
	pthread_mutex_lock(&p->lock);
	p->refs++;
	pthread_mutex_unlock(&p->lock);
}

static void probe_unref(struct tlk_probe *p)
{
	bool last;

	pthread_mutex_lock(&p->lock);
	last = --p->refs == 0;
	pthread_mutex_unlock(&p->lock);
	if (!last)
		return;
	pthread_cond_destroy(&p->answered);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static bool probe_done(struct tlk_probe *p)
{
	bool done;

	pthread_mutex_lock(&p->lock);
	done = p->done;
	pthread_mutex_unlock(&p->lock);
	return done;
}

static void *probe_main(void *arg)
{
	struct tlk_probe *p = arg;
	enum tlk_mnt_state st = tlk_mnt_probe(p->mnt);

	pthread_mutex_lock(&p->lock);
	p->state = st;
	p->done = true;
	pthread_cond_broadcast(&p->answered);
	pthread_mutex_unlock(&p->lock);
	probe_unref(p);
	return NULL;
}

static int init_sync(struct tlk_probe *p)
{
	pthread_condattr_t ca;
	int ret;

	if ((ret = pthread_mutex_init(&p->lock, NULL)) != 0)
		return -ret;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	ret = pthread_cond_init(&p->answered, &ca);
	pthread_condattr_destroy(&ca);
	if (ret != 0) {
		pthread_mutex_destroy(&p->lock);
		return -ret;
	}
	return 0;
}

/* A running probe with two references: its thread's and the caller's.
 * NULL when memory or threads ran out. */
static struct tlk_probe *probe_start(const char *mnt)
{
	size_t len = strlen(mnt) + 1;
	struct tlk_probe *p = calloc(1, sizeof(*p) + len);
	pthread_attr_t attr;
	pthread_t tid;
	int ret;

	if (p == NULL || init_sync(p) < 0) {
		free(p);
		return NULL;
	}
	memcpy(p->mnt, mnt, len);
	p->refs = 2;
	clock_gettime(CLOCK_MONOTONIC, &p->started);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, PROBE_STACK);
	ret = pthread_create(&tid, &attr, probe_main, p);
	pthread_attr_destroy(&attr);
	if (ret != 0) {
		tlk_err("cannot start a probe of %s: %s", mnt, strerror(ret));
		p->refs = 1;
		probe_unref(p);
		return NULL;
	}
	return p;
}

/* The probe's answer, or TLK_MNT_HUNG once deadline_ms have passed since
 * it started. */
static enum tlk_mnt_state probe_wait(struct tlk_probe *p, unsigned deadline_ms)
{
	struct timespec until = p->started;
	enum tlk_mnt_state st;

	until.tv_sec += deadline_ms / 1000;
	until.tv_nsec += (long)(deadline_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->done && pthread_cond_timedwait(&p->answered, &p->lock,
						  &until) != ETIMEDOUT)
		;
	st = p->done ? p->state : TLK_MNT_HUNG;
	pthread_mutex_unlock(&p->lock);
	return st;
}

/* The probe to wait for, with a reference for the caller: the one still
 * blocked from an earlier call, or a new one that the prober keeps. */
static struct tlk_probe *probe_get(struct tlk_prober *pr, const char *mnt)
{
	struct tlk_probe *p, *stale = NULL;

	pthread_mutex_lock(&pr->lock);
	p = pr->inflight;
	if (p != NULL && probe_done(p)) {
		stale = p; /* an old answer: ask again */
		p = pr->inflight = NULL;
	}
	if (p != NULL) {
		probe_ref(p);
	} else if ((p = probe_start(mnt)) != NULL) {
		probe_ref(p);
		pr->inflight = p;
	}
	pthread_mutex_unlock(&pr->lock);
	if (stale != NULL)
		probe_unref(stale);
	return p;
}

/* Forget p in the prober once it answered. */
static void probe_put(struct tlk_prober *pr, struct tlk_probe *p)
{
	bool drop = false;

	pthread_mutex_lock(&pr->lock);
	if (pr->inflight == p && probe_done(p)) {
		pr->inflight = NULL;
		drop = true;
	}
	pthread_mutex_unlock(&pr->lock);
	if (drop)
		probe_unref(p);
	probe_unref(p);
}

enum tlk_mnt_state tlk_mnt_probe_within(struct tlk_prober *pr, const char *mnt,
					unsigned deadline_ms)
{
	struct tlk_probe *p = pr ? probe_get(pr, mnt) : probe_start(mnt);
	enum tlk_mnt_state st;

	if (p == NULL)
		return TLK_MNT_ERROR;
	st = probe_wait(p, deadline_ms);
	if (pr != NULL)
		probe_put(pr, p);
	else
		probe_unref(p);
	return st;
}

void tlk_prober_init(struct tlk_prober *pr)
{
	pthread_mutex_init(&pr->lock, NULL);
	pr->inflight = NULL;
}

void tlk_prober_destroy(struct tlk_prober *pr)
{
	if (pr->inflight != NULL)
		probe_unref(pr->inflight);
	pr->inflight = NULL;
	pthread_mutex_destroy(&pr->lock);
}

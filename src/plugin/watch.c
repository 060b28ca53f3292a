/* SPDX-License-Identifier: MIT */
/*
 * watch.c - the recovery and health checks of taglockfs-plugin.
 *
 * One scheduler thread starts, for every volume, a check thread of its own
 * (tlk_vol_check): at start, to mount every persisted volume again (a
 * stale mount left by a killed taglockfs is detached first) while the
 * socket already answers; then every interval, to find mounts whose
 * taglockfs died and mount them again. Each check looks at its mount only
 * with the check deadline, so a stopped taglockfs makes its own check
 * report "hung" and end, and never delays the checks of the other volumes
 * nor the next round. A volume whose check is still running, or that is
 * busy with a request, is left to the next round.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "taglockfs/log.h"
#include "vol_internal.h"

#define CHECK_STACK (256 * 1024)

static unsigned watch_interval_ms; /* written before the thread starts */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void check_done(struct vol *v)
{
	pthread_mutex_lock(&tlk_vol_tab_lock);
	v->checking = false;
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	tlk_vol_unref(v);
}

static void *check_main(void *arg)
{
	tlk_vol_check(arg, false);
	check_done(arg);
	return NULL;
}

static void *recover_main(void *arg)
{
	tlk_vol_check(arg, true);
	check_done(arg);
	return NULL;
}

/* The READY volumes no check is running for, each marked as checked and
 * with a reference for its check; *n of them. NULL when there are none. */
static struct vol **due_volumes(size_t *n)
{
	struct vol **list = NULL;
	struct vol *v;
	size_t max = 0;

	*n = 0;
	pthread_mutex_lock(&tlk_vol_tab_lock);
	for (v = tlk_vol_table; v != NULL; v = v->next)
		max++;
	list = max ? calloc(max, sizeof(*list)) : NULL;
	for (v = list ? tlk_vol_table : NULL; v != NULL; v = v->next) {
		if (v->state != VOL_READY || v->checking)
			continue;
		v->checking = true;
		v->refs++;
		list[(*n)++] = v;
	}
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	return list;
}

/* Start one check thread per due volume. `recover`: joinable threads
 * (tids[] gets them, *started their number) that wait for busy volumes. */
static void check_round(bool recover, pthread_t **tids, size_t *started)
{
	size_t n, i;
	struct vol **list = due_volumes(&n);
	pthread_attr_t attr;

	*started = 0;
	*tids = recover && n ? calloc(n, sizeof(**tids)) : NULL;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CHECK_STACK);
	if (!recover)
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < n; i++) {
		void *(*fn)(void *) = recover ? recover_main : check_main;
		pthread_t tid;
		int ret = ENOMEM;

		if (!recover || *tids != NULL)
			ret = pthread_create(&tid, &attr, fn, list[i]);
		if (ret != 0) {
			tlk_err("volume %s: cannot start its health check: %s",
				list[i]->name, strerror(ret));
			check_done(list[i]);
		} else if (recover) {
			(*tids)[(*started)++] = tid;
		}
	}
	pthread_attr_destroy(&attr);
	free(list);
}

static void *watch_main(void *arg)
{
	pthread_t *tids;
	size_t n, i;

	(void)arg;
	check_round(true, &tids, &n);
	for (i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	tlk_info("recovery of persisted volumes finished");
	if (watch_interval_ms == 0)
		return NULL;
	for (;;) {
		sleep_ms(watch_interval_ms);
		check_round(false, &tids, &n);
	}
	return NULL;
}

int tlk_vol_watch_start(unsigned interval_ms)
{
	pthread_attr_t attr;
	pthread_t tid;
	int ret;

	watch_interval_ms = interval_ms;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = -pthread_create(&tid, &attr, watch_main, NULL);
	pthread_attr_destroy(&attr);
	return ret;
}

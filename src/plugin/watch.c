/* SPDX-License-Identifier: MIT */
/*
 * watch.c - the recovery and health-check thread of taglockfs-plugin.
 *
 * At start it mounts every persisted volume again (a stale mount left by a
 * killed taglockfs is detached first) while the socket already answers;
 * then, every interval, it finds mounts whose taglockfs died and mounts
 * them again. A volume busy with a request is skipped until the next round.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "taglockfs/log.h"
#include "taglockfs/plugin_vol.h"

static unsigned watch_interval_ms; /* written before the thread starts */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *watch_main(void *arg)
{
	tlk_vol_check_all(true);
	tlk_info("recovery of persisted volumes finished");
	if (watch_interval_ms == 0)
		return NULL;
	for (;;) {
		sleep_ms(watch_interval_ms);
		tlk_vol_check_all(false);
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

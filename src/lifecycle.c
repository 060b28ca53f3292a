/* SPDX-License-Identifier: MIT */
/*
 * lifecycle.c - the daemon's life as a service manager sees it: readiness
 * and stopping sent to $NOTIFY_SOCKET, and a stop on SIGTERM/SIGINT that
 * waits for requests in progress only so long (docs/design.md,
 * "Lifecycle").
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lifecycle.h"
#include "mountpoint.h"
#include "taglockfs/log.h"

int tlk_notify(const char *state)
{
	const char *where = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t len;
	ssize_t sent;
	int fd, err = 0;

	if (!where || !*where)
		return 0;
	len = strlen(where);
	if ((where[0] != '/' && where[0] != '@') ||
	    len >= sizeof(addr.sun_path))
		return -EAFNOSUPPORT; /* vsock: and the like: not spoken here */
	memcpy(addr.sun_path, where, len);
	if (where[0] == '@')
		addr.sun_path[0] = '\0'; /* abstract: no NUL at the end */
	else
		len++; /* a path: the NUL counts */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(
	    fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	if (sent < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Shared between the signal handler, the watch thread and main.c. */
static struct {
	struct fuse_session *se;
	char mnt[PATH_MAX];
	double grace;		      /* seconds the loop gets */
	sem_t wake;		      /* a stop signal came, or finish */
	sem_t done;		      /* the mount is gone (finish) */
	volatile sig_atomic_t signal; /* the first stop signal */
	volatile sig_atomic_t finished;
	pthread_t watcher;
	int armed;    /* our handlers are in place */
	int watching; /* the watcher thread runs */
} stop;

static void on_stop_signal(int sig)
{
	int saved_errno = errno;

	if (!stop.signal) {
		stop.signal = sig;
		sem_post(&stop.wake);
	}
	fuse_session_exit(stop.se);
	errno = saved_errno;
}

static void deadline_after(double seconds, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)seconds;
	ts->tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits for a stop signal, then for the mount to be gone; a request that
 * hangs (a backing filesystem that does not answer) must not keep a
 * stopped service alive: past the grace period, detach and exit. */
static void *watch_stop(void *arg)
{
	struct timespec deadline;
	int ret, err;

	(void)arg;
	while (sem_wait(&stop.wake) < 0 && errno == EINTR)
		;
	if (stop.finished)
		return NULL;
	tlk_notify("STOPPING=1");
	tlk_notice("%s: stopping; requests in progress have %g s to finish",
		   strsignal(stop.signal), stop.grace);
	deadline_after(stop.grace, &deadline);
	while ((ret = sem_clockwait(&stop.done, CLOCK_MONOTONIC, &deadline)) <
		   0 &&
	       errno == EINTR)
		;
	if (ret == 0)
		return NULL;
	err = tlk_mnt_detach(stop.mnt);
	tlk_warn("requests still in progress %g s after %s: %s %s lazily and "
		 "exiting (their callers get an error)%s%s",
		 stop.grace, strsignal(stop.signal),
		 err ? "could not detach" : "detached", stop.mnt,
		 err ? ": " : "", err ? strerror(-err) : "");
	_exit(0);
}

static int take_signal(int sig)
{
	struct sigaction sa = {.sa_handler = on_stop_signal};

	/* No SA_RESTART: the single-threaded loop must see EINTR. */
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

int tlk_stop_arm(struct fuse_session *se, const char *mnt, double grace)
{
	stop.se = se;
	stop.grace = grace;
	snprintf(stop.mnt, sizeof(stop.mnt), "%s", mnt);
	if (sem_init(&stop.wake, 0, 0) < 0 || sem_init(&stop.done, 0, 0) < 0 ||
	    take_signal(SIGTERM) < 0 || take_signal(SIGINT) < 0) {
		tlk_err("SIGTERM/SIGINT handlers: %s", strerror(errno));
		return -1;
	}
	stop.armed = 1;
	return 0;
}

int tlk_stop_watch(void)
{
	sigset_t all, old;
	int ret;

	/* The watcher must never be the thread a signal lands on. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&stop.watcher, NULL, watch_stop, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0) {
		tlk_err("stop watcher: %s", strerror(ret));
		return -1;
	}
	stop.watching = 1;
	return 0;
}

int tlk_stop_finish(void)
{
	if (!stop.armed)
		return stop.signal;
	/* The mount is gone: a late signal must not turn a clean stop into
	 * a death by signal. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	stop.finished = 1;
	sem_post(&stop.done);
	sem_post(&stop.wake);
	if (stop.watching)
		pthread_join(stop.watcher, NULL);
	stop.watching = 0;
	stop.armed = 0;
	return stop.signal;
}

/* SPDX-License-Identifier: MIT */
/*
 * metrics_export.c - the two ways the daemon's metrics leave it
 * (metrics.h, docs/design.md "Metrics"):
 *
 *   metrics=ADDR       `GET /metrics` on a loopback TCP address or a unix
 *                      socket, served by the project's one HTTP server;
 *   metrics_file=PATH  the same text rewritten every few seconds for
 *                      node_exporter's textfile collector: written to a
 *                      temporary file in the same directory, fsynced, and
 *                      renamed over PATH, so a reader sees the old text
 *                      or the new one, never part of one.
 *
 * The endpoint has no authentication, so it binds only to loopback
 * (127.0.0.0/8, ::1) or a unix socket; a scraper elsewhere reaches it
 * through a proxy the operator secures, or reads the textfile.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "metrics.h"
#include "taglockfs/http_server.h"
#include "taglockfs/log.h"
#include "taglockfs/metrics.h"

#define METRICS_DEADLINE_MS 10000
#define METRICS_CONN_MAX 8
#define METRICS_DRAIN_S 2

static struct {
	struct tlk_fs *fs;
	int listen_fd;
	char *socket_path; /* a unix socket, removed at stop */
	char *file, *tmp;  /* metrics_file= and its temporary name */
	unsigned interval_ms;
	int stop_fd;
	pthread_t server, writer;
	bool server_running, writer_running;
	int file_error; /* the last write's errno, logged once per change */
	struct tlk_http_server srv;
} mx = {.listen_fd = -1, .stop_fd = -1};

/* ------------------------------------------------------------ address */

static int parse_port(const char *s, in_port_t *port)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (!*s || *end || errno || n == 0 || n > 65535)
		return -1;
	*port = htons((in_port_t)n);
	return 0;
}

/* 127.0.0.1:PORT or [::1]:PORT into `ss`; -1 with `why` otherwise. */
static int parse_tcp(const char *addr, struct sockaddr_storage *ss,
		     socklen_t *len, const char **why)
{
	char host[64];
	const char *colon, *start = addr;
	size_t hlen;

	*why = "expected 127.0.0.1:PORT, [::1]:PORT or an absolute unix "
	       "socket path";
	if (addr[0] == '[') {
		colon = strstr(addr, "]:");
		start = addr + 1;
	} else {
		colon = strrchr(addr, ':');
	}
	if (!colon || (hlen = (size_t)(colon - start)) >= sizeof(host))
		return -1;
	memcpy(host, start, hlen);
	host[hlen] = '\0';
	colon += addr[0] == '[' ? 2 : 1;
	memset(ss, 0, sizeof(*ss));
	if (addr[0] != '[') {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1 ||
		    parse_port(colon, &in->sin_port) < 0)
			return -1;
		*why = "not a loopback address: the endpoint has no "
		       "authentication (docs/design.md, \"Metrics\")";
		if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
			return -1;
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1 ||
		    parse_port(colon, &in6->sin6_port) < 0)
			return -1;
		*why = "not a loopback address: the endpoint has no "
		       "authentication (docs/design.md, \"Metrics\")";
		if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return -1;
		*len = sizeof(*in6);
	}
	return 0;
}

static int open_listener(const char *addr)
{
	struct sockaddr_storage ss;
	const char *why;
	socklen_t len;
	int fd;

	if (addr[0] == '/') {
		/* Owner and group only: a local agent runs as one of them. */
		fd = tlk_http_listen_unix(addr, 0660, (gid_t)-1, &why);
		if (fd >= 0)
			mx.socket_path = strdup(addr);
	} else if (parse_tcp(addr, &ss, &len, &why) < 0) {
		fprintf(stderr, "taglockfs: metrics=%s: %s\n", addr, why);
		return -1;
	} else {
		fd = tlk_http_listen_tcp((struct sockaddr *)&ss, len, &why);
	}
	if (fd < 0) {
		fprintf(stderr, "taglockfs: metrics=%s: %s: %s\n", addr, why,
			fd == -EADDRINUSE ? "address in use" : strerror(-fd));
		return -1;
	}
	mx.listen_fd = fd;
	return 0;
}

/* ------------------------------------------------------------- server */

static bool is_metrics_path(const char *target)
{
	size_t n = strlen("/metrics");

	return strncmp(target, "/metrics", n) == 0 &&
	       (target[n] == '\0' || target[n] == '?');
}

static char *handle(void *ctx, const struct tlk_http_request *req,
		    const struct tlk_http_peer *peer, int *status)
{
	size_t len;

	(void)peer;
	if (!is_metrics_path(req->target)) {
		*status = 404;
		return strdup("not found: the metrics are at /metrics\n");
	}
	if (strcmp(req->method, "GET") != 0) {
		*status = 405;
		return strdup("/metrics takes GET\n");
	}
	*status = 200;
	return tlk_metrics_render(ctx, &len);
}

static void *server_thread(void *arg)
{
	int ret;

	(void)arg;
	ret =
	    tlk_http_serve(&mx.srv, mx.listen_fd, mx.stop_fd, METRICS_DRAIN_S);
	mx.listen_fd = -1; /* closed by tlk_http_serve */
	if (ret < 0)
		tlk_err("metrics endpoint stopped: %s", strerror(-ret));
	return NULL;
}

/* --------------------------------------------------------------- file */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Temporary file, fsync, rename: a reader never sees part of a text. */
static int write_file(void)
{
	size_t len;
	char *text = tlk_metrics_render(mx.fs, &len);
	int fd, ret;

	if (!text)
		return -ENOMEM;
	fd = open(mx.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	ret = write_all(fd, text, len);
	free(text);
	if (ret == 0 && fchmod(fd, 0644) < 0)
		ret = -errno;
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(mx.tmp, mx.file) < 0)
		ret = -errno;
	if (ret < 0)
		unlink(mx.tmp);
	return ret;
}

static void write_and_log(void)
{
	int ret = write_file();

	if (ret < 0 && -ret != mx.file_error)
		tlk_err("metrics_file %s: %s; trying again every %u ms",
			mx.file, strerror(-ret), mx.interval_ms);
	else if (ret == 0 && mx.file_error)
		tlk_notice("metrics_file %s: written again", mx.file);
	mx.file_error = -ret;
}

static void *writer_thread(void *arg)
{
	struct pollfd pfd = {.fd = mx.stop_fd, .events = POLLIN};

	(void)arg;
	for (;;) {
		int n = poll(&pfd, 1, (int)mx.interval_ms);

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0)
			break; /* stop */
		write_and_log();
	}
	return NULL;
}

/* "DIR/.NAME.tmp": beside the file (rename stays in one filesystem) and
 * not ending in .prom (the textfile collector skips it). */
static int set_file(const char *file)
{
	const char *slash = strrchr(file, '/');
	int dirlen = slash ? (int)(slash - file + 1) : 0;

	if (file[0] != '/' || !slash[1]) {
		fprintf(stderr,
			"taglockfs: metrics_file=%s: expected an "
			"absolute file path\n",
			file);
		return -1;
	}
	mx.file = strdup(file);
	if (!mx.file ||
	    asprintf(&mx.tmp, "%.*s.%s.tmp", dirlen, file, file + dirlen) < 0)
		return -1;
	return 0;
}

/* -------------------------------------------------------------- setup */

int tlk_metrics_open(struct tlk_fs *fs, const char *addr, const char *file,
		     double interval_s, bool gate)
{
	int ret;

	mx.fs = fs;
	if (interval_s < 0.1 || interval_s > 3600) {
		fprintf(stderr,
			"taglockfs: metrics_interval=%g: expected 0.1 "
			"to 3600 seconds\n",
			interval_s);
		return -1;
	}
	mx.interval_ms = (unsigned)(interval_s * 1000);
	tlk_metrics_enable(gate);
	if (file) {
		if (set_file(file) < 0)
			return -1;
		/* The first text now: a bad path fails the start. */
		ret = write_file();
		if (ret < 0) {
			fprintf(stderr, "taglockfs: metrics_file=%s: %s\n",
				file, strerror(-ret));
			return -1;
		}
	}
	return addr ? open_listener(addr) : 0;
}

static int start_thread(pthread_t *t, void *(*fn)(void *))
{
	sigset_t all, old;
	int ret;

	/* Signals stay with the threads that wait for them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(t, NULL, fn, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

int tlk_metrics_start(void)
{
	int ret;

	if (mx.listen_fd < 0 && !mx.file)
		return 0;
	mx.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (mx.stop_fd < 0)
		return -errno;
	if (mx.listen_fd >= 0) {
		mx.srv = (struct tlk_http_server){
		    .name = "metrics",
		    .content_type = TLK_METRICS_CONTENT_TYPE,
		    .limits = {.body_max = 4096,
			       .deadline_ms = METRICS_DEADLINE_MS},
		    .conn_max = METRICS_CONN_MAX,
		    .handle = handle,
		    .ctx = mx.fs,
		};
		if ((ret = start_thread(&mx.server, server_thread)) < 0)
			return ret;
		mx.server_running = true;
	}
	if (mx.file) {
		if ((ret = start_thread(&mx.writer, writer_thread)) < 0)
			return ret;
		mx.writer_running = true;
	}
	return 0;
}

void tlk_metrics_stop(void)
{
	uint64_t one = 1;

	if (mx.stop_fd >= 0 && (mx.server_running || mx.writer_running) &&
	    write(mx.stop_fd, &one, sizeof(one)) != sizeof(one))
		tlk_warn("metrics: cannot stop: %m");
	else {
		if (mx.server_running)
			pthread_join(mx.server, NULL);
		if (mx.writer_running)
			pthread_join(mx.writer, NULL);
	}
	mx.server_running = mx.writer_running = false;
	if (mx.listen_fd >= 0)
		close(mx.listen_fd);
	mx.listen_fd = -1;
	if (mx.stop_fd >= 0)
		close(mx.stop_fd);
	mx.stop_fd = -1;
	if (mx.socket_path)
		unlink(mx.socket_path);
	free(mx.socket_path);
	mx.socket_path = NULL;
	free(mx.file);
	free(mx.tmp);
	mx.file = mx.tmp = NULL;
}

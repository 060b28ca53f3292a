/* SPDX-License-Identifier: MIT */
/*
 * server.c - the plugin's socket and serving loop (see plugin_server.h).
 *
 * The project's HTTP server (http_server.h) does the work; this file
 * gives it the plugin's content type, limits and error body, and stops it
 * on the signalfd (a Create half-way through a mount finishes and
 * persists before the plugin exits).
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "taglockfs/log.h"
#include "taglockfs/plugin_api.h"
#include "taglockfs/plugin_fs.h"
#include "taglockfs/http_server.h"
#include "taglockfs/metrics.h"
#include "taglockfs/plugin_server.h"

static const char content_type[] = "application/vnd.docker.plugins.v1+json";

static int parent_dir(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (slash == NULL)
		return tlk_pathf(dir, size, ".");
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(dir, path, len);
	dir[len] = '\0';
	return 0;
}

int tlk_server_open(const char *path, struct tlk_perr *err)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *why;
	int fd, ret;

	if (strlen(path) >= sizeof(dir) ||
	    parent_dir(path, dir, sizeof(dir)) < 0)
		return tlk_perr_set(err, -ENAMETOOLONG,
				    "socket path %s is too long", path);
	if ((ret = tlk_fs_mkdir_p(dir, 0755)) < 0)
		return tlk_perr_set(err, ret, "cannot create %s: %s", dir,
				    strerror(-ret));
	fd = tlk_http_listen_unix(path, 0660, (gid_t)-1, &why);
	if (fd == -EADDRINUSE)
		return tlk_perr_set(err, fd,
				    "%s is already served by a running plugin",
				    path);
	if (fd < 0)
		return tlk_perr_set(err, fd, "cannot listen on %s: %s: %s", path,
				    why, strerror(-fd));
	return fd;
}

static char *error_body(const char *why)
{
	json_t *obj = json_pack("{s:s}", "Err", why);
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	json_decref(obj);
	return text;
}

static char *refuse(void *ctx, int *status, const char *why)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "taglockfs-plugin: %s", why);
	return error_body(msg);
}

/* Prometheus text for GET /metrics, JSON for everything else. */
static const char *content_type_of(void *ctx,
				   const struct tlk_http_request *req)
{
	(void)ctx;
	return strcmp(req->method, "GET") == 0 &&
			   strcmp(req->target, "/metrics") == 0
		   ? TLK_METRICS_CONTENT_TYPE
		   : NULL;
}

static char *handle(void *ctx, const struct tlk_http_request *req,
		    const struct tlk_http_peer *peer, int *status)
{
	return tlk_api_handle(req, status);
}

int tlk_server_run(int listen_fd, int signal_fd, unsigned drain_s)
{
	static struct tlk_http_server srv = {
	    .name = "plugin API",
	    .content_type = content_type,
	    .limits = {.body_max = TLK_SERVER_BODY_MAX,
		       .deadline_ms = TLK_SERVER_IO_TIMEOUT_S * 1000},
	    .conn_max = TLK_SERVER_CONN_MAX,
	    .handle = handle,
	    .content_type_of = content_type_of,
	    .refuse = refuse,
	};
	struct signalfd_siginfo si;
	int ret;

	ret = tlk_http_serve(&srv, listen_fd, signal_fd, drain_s);
	if (ret < 0)
		return ret;
	if (read(signal_fd, &si, sizeof(si)) != sizeof(si))
		return -EIO;
	return (int)si.ssi_signo;
}

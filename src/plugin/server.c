/* SPDX-License-Identifier: MIT */
/*
 * server.c - accept loop and per-connection threads (see plugin_server.h).
 *
 * The accept loop polls the listening socket and a signalfd, so shutdown
 * needs no signal handler. Connection threads are detached; a counter
 * under `conn_lock` bounds them and lets shutdown wait for the ones in
 * flight (a Create half-way through a mount finishes and persists).
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
#include "taglockfs/plugin_http.h"
#include "taglockfs/plugin_server.h"

static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conn_done = PTHREAD_COND_INITIALIZER;
static unsigned conn_active; /* protected by conn_lock */

static const char oom_body[] = "{\"Err\":\"taglockfs-plugin: out of memory\"}";

static int fill_addr(struct sockaddr_un *addr, const char *path)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	strcpy(addr->sun_path, path);
	return 0;
}

/* Is some process answering on `addr`? */
static int socket_is_live(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live;

	if (fd < 0)
		return -errno;
	live = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(fd);
	return live;
}

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
	struct sockaddr_un addr;
	char dir[sizeof(addr.sun_path)];
	int fd, ret;

	if (fill_addr(&addr, path) < 0 ||
	    parent_dir(path, dir, sizeof(dir)) < 0)
		return tlk_perr_set(err, -ENAMETOOLONG,
				    "socket path %s is too long", path);
	if ((ret = tlk_fs_mkdir_p(dir, 0755)) < 0)
		return tlk_perr_set(err, ret, "cannot create %s: %s", dir,
				    strerror(-ret));
	if (socket_is_live(&addr) == 1)
		return tlk_perr_set(err, -EADDRINUSE,
				    "%s is already served by a running plugin",
				    path);
	if (unlink(path) < 0 && errno != ENOENT)
		return tlk_perr_set(err, -errno, "cannot remove stale %s: %m",
				    path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return tlk_perr_set(err, -errno, "socket: %m");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    chmod(path, 0660) < 0 || listen(fd, 128) < 0) {
		ret = -errno;
		close(fd);
		return tlk_perr_set(err, ret, "cannot listen on %s: %s", path,
				    strerror(-ret));
	}
	return fd;
}

static void set_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = TLK_SERVER_IO_TIMEOUT_S};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void reply_error(int fd, int status, const char *why)
{
	json_t *obj = json_pack("{s:s}", "Err", why);
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	if (text != NULL)
		tlk_http_reply(fd, status, text, strlen(text));
	else
		tlk_http_reply(fd, 500, oom_body, sizeof(oom_body) - 1);
	free(text);
	json_decref(obj);
}

/* After an error reply the peer may still be sending: read and drop what
 * comes (bounded in time and bytes) so closing does not reset the
 * connection before the peer has read the reply. */
static void drain_input(int fd)
{
	struct timeval tv = {.tv_sec = 1};
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	shutdown(fd, SHUT_WR);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (total < 8 * TLK_SERVER_BODY_MAX &&
	       (n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
}

static void serve_one(int fd)
{
	struct tlk_http_request req;
	int status, ret;
	char *body;

	set_timeouts(fd);
	ret = tlk_http_read_request(fd, TLK_SERVER_BODY_MAX, &req, &status);
	if (ret < 0) {
		tlk_debug("request not read: %s", strerror(-ret));
		if (status != 0) {
			reply_error(fd, status,
				    ret == -EMSGSIZE
					? "request too large"
					: "malformed HTTP request");
			drain_input(fd);
		}
		return;
	}
	body = tlk_api_handle(&req, &status);
	if (body != NULL)
		ret = tlk_http_reply(fd, status, body, strlen(body));
	else
		ret = tlk_http_reply(fd, 500, oom_body, sizeof(oom_body) - 1);
	if (ret < 0)
		tlk_warn("reply to %s not delivered: %s", req.target,
			 strerror(-ret));
	free(body);
	tlk_http_request_free(&req);
}

static void conn_finish(void)
{
	pthread_mutex_lock(&conn_lock);
	conn_active--;
	pthread_cond_broadcast(&conn_done);
	pthread_mutex_unlock(&conn_lock);
}

static void *conn_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;

	serve_one(fd);
	/* Half-close first so the peer reads the whole reply before EOF. */
	shutdown(fd, SHUT_WR);
	close(fd);
	conn_finish();
	return NULL;
}

static void start_conn(int fd)
{
	pthread_attr_t attr;
	pthread_t tid;
	bool full;

	pthread_mutex_lock(&conn_lock);
	full = conn_active >= TLK_SERVER_CONN_MAX;
	if (!full)
		conn_active++;
	pthread_mutex_unlock(&conn_lock);
	if (full) {
		set_timeouts(fd);
		reply_error(fd, 503, "taglockfs-plugin is busy, retry");
		close(fd);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, conn_thread, (void *)(intptr_t)fd) !=
	    0) {
		tlk_err("cannot start a connection thread");
		close(fd);
		conn_finish();
	}
	pthread_attr_destroy(&attr);
}

static void drain(unsigned drain_s)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += drain_s;
	pthread_mutex_lock(&conn_lock);
	while (conn_active > 0 &&
	       pthread_cond_timedwait(&conn_done, &conn_lock, &until) == 0)
		;
	if (conn_active > 0)
		tlk_warn("%u request(s) still running at exit", conn_active);
	pthread_mutex_unlock(&conn_lock);
}

int tlk_server_run(int listen_fd, int signal_fd, unsigned drain_s)
{
	struct pollfd pfd[2] = {
	    {.fd = listen_fd, .events = POLLIN},
	    {.fd = signal_fd, .events = POLLIN},
	};
	struct signalfd_siginfo si;

	for (;;) {
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents & POLLIN) {
			if (read(signal_fd, &si, sizeof(si)) != sizeof(si))
				continue;
			break;
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				tlk_warn("accept: %m");
			if (errno == EMFILE || errno == ENFILE)
				poll(NULL, 0, 100); /* let connections finish */
			continue;
		}
		start_conn(fd);
	}
	close(listen_fd);
	drain(drain_s);
	return (int)si.ssi_signo;
}

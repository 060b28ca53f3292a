/* SPDX-License-Identifier: MIT */
/*
 * http_server.c - accept loop and per-connection threads (see
 * http_server.h).
 *
 * The accept loop polls the listening socket and the caller's stop fd, so
 * stopping needs no signal handler. Connection threads are detached; a
 * counter under srv->lock bounds them and lets shutdown wait for the ones
 * in flight.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "taglockfs/http_server.h"
#include "taglockfs/log.h"

#define REPLY_DEADLINE_MS 10000
#define DRAIN_MS 1000
/* The accept loop itself answers when busy: a peer that sends nothing
 * may hold it this long, no longer (a flood of silent connections must
 * not stall the answers to real ones). */
#define BUSY_DRAIN_MS 10

static const char oom_body[] = "out of memory";

/* Is some process answering on `addr`? */
static bool socket_is_live(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
	close(fd);
	return live;
}

int tlk_http_listen_unix(const char *path, mode_t mode, gid_t gid,
			 const char **why)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd, ret;

	*why = "socket path";
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	*why = "socket in use";
	if (socket_is_live(&addr))
		return -EADDRINUSE;
	*why = "remove stale socket";
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	*why = "socket";
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*why = "bind";
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto fail;
	*why = "chown";
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0)
		goto fail;
	*why = "chmod";
	if (chmod(path, mode) < 0)
		goto fail;
	*why = "listen";
	if (listen(fd, 128) < 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

int tlk_http_listen_tcp(const struct sockaddr *addr, socklen_t addr_len,
			const char **why)
{
	int fd, ret, one = 1;

	*why = "socket";
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*why = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	*why = "bind";
	if (bind(fd, addr, addr_len) < 0)
		goto fail;
	*why = "listen";
	if (listen(fd, 128) < 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

static void reply_as(struct tlk_http_server *srv, int fd, int status,
		     const char *body, const char *content_type)
{
	int ret;

	if (body == NULL) {
		status = 500;
		body = oom_body;
	}
	ret = tlk_http_reply(fd, status, content_type, srv->extra, body,
			     strlen(body), REPLY_DEADLINE_MS);
	if (ret < 0)
		tlk_debug("%s: reply %d not delivered: %s", srv->name, status,
			  strerror(-ret));
}

static void reply(struct tlk_http_server *srv, int fd, int status,
		  const char *body)
{
	reply_as(srv, fd, status, body, srv->content_type);
}

/* Answer a request the server turns away itself. */
static void turn_away(struct tlk_http_server *srv, int fd, int status,
		      const char *why, unsigned drain_ms)
{
	char *body = srv->refuse ? srv->refuse(srv->ctx, &status, why) : NULL;

	reply(srv, fd, status, body ? body : "");
	free(body);
	tlk_http_drain(fd, drain_ms, 8 * srv->limits.body_max + 65536);
}

static void serve_one(struct tlk_http_server *srv, int fd)
{
	struct tlk_http_peer peer = {0};
	struct tlk_http_request req;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	const char *ctype;
	int status, ret;
	char *body;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		peer.pid = cred.pid;
		peer.uid = cred.uid;
	}
	ret = tlk_http_read_request(fd, &srv->limits, &req, &status);
	if (ret < 0) {
		tlk_debug("%s: request not read: %s", srv->name,
			  strerror(-ret));
		if (status != 0)
			turn_away(srv, fd, status,
				  ret == -EMSGSIZE    ? "request too large"
				  : ret == -ETIMEDOUT ? "request too slow"
						      : "malformed HTTP request",
				  DRAIN_MS);
		return;
	}
	body = srv->handle(srv->ctx, &req, &peer, &status);
	ctype = srv->content_type_of ? srv->content_type_of(srv->ctx, &req)
				     : NULL;
	reply_as(srv, fd, status, body, ctype ? ctype : srv->content_type);
	free(body);
	tlk_http_request_free(&req);
}

struct conn {
	struct tlk_http_server *srv;
	int fd;
};

static void conn_finish(struct tlk_http_server *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->active--;
	pthread_cond_broadcast(&srv->done);
	pthread_mutex_unlock(&srv->lock);
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;

	serve_one(c->srv, c->fd);
	/* Half-close first so the peer reads the whole reply before EOF. */
	shutdown(c->fd, SHUT_WR);
	close(c->fd);
	conn_finish(c->srv);
	free(c);
	return NULL;
}

static void start_conn(struct tlk_http_server *srv, int fd)
{
	struct conn *c = malloc(sizeof(*c));
	pthread_attr_t attr;
	pthread_t tid;
	bool full;

	pthread_mutex_lock(&srv->lock);
	full = srv->active >= srv->conn_max;
	if (!full && c)
		srv->active++;
	pthread_mutex_unlock(&srv->lock);
	if (full || !c) {
		turn_away(srv, fd, 503, "busy, retry", BUSY_DRAIN_MS);
		close(fd);
		free(c);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, conn_thread, c) != 0) {
		tlk_err("%s: cannot start a connection thread", srv->name);
		turn_away(srv, fd, 503, "busy, retry", BUSY_DRAIN_MS);
		close(fd);
		free(c);
		conn_finish(srv);
	}
	pthread_attr_destroy(&attr);
}

static void drain(struct tlk_http_server *srv, unsigned drain_s)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += drain_s;
	pthread_mutex_lock(&srv->lock);
	while (srv->active > 0 &&
	       pthread_cond_timedwait(&srv->done, &srv->lock, &until) == 0)
		;
	if (srv->active > 0)
		tlk_warn("%s: %u request(s) still running at exit", srv->name,
			 srv->active);
	pthread_mutex_unlock(&srv->lock);
}

int tlk_http_serve(struct tlk_http_server *srv, int listen_fd, int stop_fd,
		   unsigned drain_s)
{
	struct pollfd pfd[2] = {
	    {.fd = listen_fd, .events = POLLIN},
	    {.fd = stop_fd, .events = POLLIN},
	};
	int ret = 0;

	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->done, NULL);
	srv->active = 0;
	for (;;) {
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				tlk_warn("%s: accept: %m", srv->name);
			if (errno == EMFILE || errno == ENFILE)
				poll(NULL, 0, 100); /* let connections finish */
			continue;
		}
		start_conn(srv, fd);
	}
	close(listen_fd);
	drain(srv, drain_s);
	return ret;
}

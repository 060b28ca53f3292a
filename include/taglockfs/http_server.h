/* SPDX-License-Identifier: MIT */
/*
 * http_server.h - the accept loop of the project's one HTTP server (the
 * plugin's API, the daemon's gate): a unix socket (or a loopback TCP
 * socket: the daemon's metrics), one detached thread per
 * connection, one request per connection (http.h reads and replies).
 *
 * Over `conn_max` connections at once, the next one is answered by the
 * accept loop itself (`busy`) and drained briefly, so the peer reads the
 * answer instead of a reset. Stopping: when `stop_fd` becomes readable the
 * loop stops accepting and waits up to `drain_s` seconds for requests in
 * flight (it does not read `stop_fd`).
 *
 * Return convention: 0 or -errno.
 */
#ifndef TAGLOCKFS_HTTP_SERVER_H
#define TAGLOCKFS_HTTP_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "taglockfs/http.h"

/* The process at the other end of a connection (SO_PEERCRED; pid 0 when
 * the kernel would not say). */
struct tlk_http_peer {
	pid_t pid;
	uid_t uid;
};

struct tlk_http_server {
	const char *name;	  /* for log lines */
	const char *content_type; /* of every reply */
	const char *extra;	  /* header lines for every reply, or NULL */
	struct tlk_http_limits limits;
	unsigned conn_max;
	/* Answer one request: *status and a malloc'd body ("" for none);
	 * NULL means out of memory (answered 500). */
	char *(*handle)(void *ctx, const struct tlk_http_request *req,
			const struct tlk_http_peer *peer, int *status);
	/* The Content-Type of the answer to `req` when it is not
	 * `content_type` (optional; NULL: content_type). */
	const char *(*content_type_of)(void *ctx,
				       const struct tlk_http_request *req);
	/* The answer for a request the server itself turns away (malformed,
	 * too large, late, busy): may change *status; a malloc'd body or
	 * NULL for none. */
	char *(*refuse)(void *ctx, int *status, const char *why);
	void *ctx;

	/* Private: connections in flight. */
	pthread_mutex_t lock;
	pthread_cond_t done;
	unsigned active;
};

/* Listen on the unix socket `path` with file mode `mode` (and group `gid`
 * unless it is (gid_t)-1). A stale socket file nobody answers on is
 * replaced; a live one is -EADDRINUSE. The parent directory must exist.
 * Returns the listening fd or -errno; `why` names the step that failed. */
int tlk_http_listen_unix(const char *path, mode_t mode, gid_t gid,
			 const char **why);

/* Listen on the TCP address `addr` (SO_REUSEADDR). Returns the listening
 * fd or -errno; `why` names the step that failed. */
int tlk_http_listen_tcp(const struct sockaddr *addr, socklen_t addr_len,
			const char **why);

/* Serve until `stop_fd` is readable, then drain (see above). The listening
 * fd is closed on return. */
int tlk_http_serve(struct tlk_http_server *srv, int listen_fd, int stop_fd,
		   unsigned drain_s);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * http.h - the one HTTP/1.1 server side of the project (the volume
 * plugin's API and the daemon's gate both use it): read one request from a
 * connected socket, write one reply. The accept loop is http_server.h.
 *
 * Supported: a request line `METHOD TARGET HTTP/1.x`, header lines, a body
 * framed by Content-Length or by chunked transfer coding, and `Expect:
 * 100-continue`. Every reply carries `Connection: close`.
 *
 * Bounded everywhere, so a client can neither grow memory nor hold a
 * thread: the head (TLK_HTTP_HEAD_MAX), the body (the caller's body_max),
 * the chunk framing (chunk-size lines and trailers, TLK_HTTP_FRAMING_MAX,
 * a budget of its own so a body of one-byte chunks cannot pass as small),
 * and time: one deadline for the whole request, however the peer spreads
 * its bytes.
 *
 * Thread-safe: no shared state. The request owns its body (free it with
 * tlk_http_request_free).
 */
#ifndef TAGLOCKFS_HTTP_H
#define TAGLOCKFS_HTTP_H

#include <stddef.h>

#define TLK_HTTP_HEAD_MAX 16384	   /* request line and headers together */
#define TLK_HTTP_FRAMING_MAX 65536 /* chunk-size lines, CRLFs, trailers */
#define TLK_HTTP_TARGET_MAX 1024   /* a 255-byte repository name fits */

struct tlk_http_limits {
	size_t body_max;
	unsigned deadline_ms; /* for the whole request, head and body */
};

struct tlk_http_request {
	char method[16];
	char target[TLK_HTTP_TARGET_MAX];
	char *body; /* NUL-terminated (the NUL is not counted), or NULL */
	size_t body_len;
};

/* Read one request. Returns 0, or:
 *   -EBADMSG     malformed request (reply 400),
 *   -EMSGSIZE    head, body or framing over its limit (413 / 414 / 431),
 *   -ENOTSUP     an HTTP version or transfer coding we do not speak
 *                (501 / 505),
 *   -ETIMEDOUT   the deadline passed before the whole request arrived
 *                (408),
 *   -ECONNRESET  the peer closed before a whole request arrived,
 *   other -errno from read(2) or poll(2).
 * `*status` receives the HTTP status to answer with when the peer should
 * hear about the error (0 when nothing should be sent). */
int tlk_http_read_request(int fd, const struct tlk_http_limits *limits,
			  struct tlk_http_request *req, int *status);

void tlk_http_request_free(struct tlk_http_request *req);

/* Write a whole reply in one buffer: status line, `Content-Type`
 * (omitted when NULL), `extra` header lines (each ending in CRLF, or
 * NULL), `Content-Length`, `Connection: close`, body. Gives up after
 * `deadline_ms`. Returns 0 or -errno. */
int tlk_http_reply(int fd, int status, const char *content_type,
		   const char *extra, const char *body, size_t len,
		   unsigned deadline_ms);

/* After an early reply (an error, busy) the peer may still be sending:
 * half-close, then read and drop what comes for at most `ms` and
 * `max_bytes`, so closing does not reset the connection before the peer
 * has read the reply. */
void tlk_http_drain(int fd, unsigned ms, size_t max_bytes);

/* The reason phrase for a status code ("OK", "Not Found", ...). */
const char *tlk_http_reason(int status);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * plugin_http.h - the small HTTP/1.1 server side the volume plugin needs:
 * read one request from a connected socket, write one reply, close.
 *
 * Supported: a request line `METHOD TARGET HTTP/1.x`, header lines,
 * a body framed by Content-Length or by chunked transfer coding, and
 * `Expect: 100-continue`. Every reply carries `Connection: close`.
 * Sizes are bounded (TLK_HTTP_HEAD_MAX, the caller's body limit), so a
 * client can neither grow memory without bound nor hold a thread forever
 * (the caller sets socket timeouts).
 *
 * Thread-safe: no shared state. The request owns its body (free it with
 * tlk_http_request_free).
 */
#ifndef TAGLOCKFS_PLUGIN_HTTP_H
#define TAGLOCKFS_PLUGIN_HTTP_H

#include <stddef.h>

#define TLK_HTTP_HEAD_MAX 16384 /* request line and headers together */
#define TLK_HTTP_TARGET_MAX 256

struct tlk_http_request {
	char method[16];
	char target[TLK_HTTP_TARGET_MAX];
	char *body; /* NUL-terminated (the NUL is not counted), or NULL */
	size_t body_len;
};

/* Read one request. Returns 0, or:
 *   -EBADMSG       malformed request (reply 400),
 *   -EMSGSIZE      head or body over the limit (reply 413 / 431),
 *   -ENOTSUP       an HTTP version or transfer coding we do not speak
 * (501/505), -ECONNRESET    the peer closed before a whole request arrived,
 *   -EAGAIN        the socket timeout expired,
 *   other -errno   from read(2).
 * `*status` receives the HTTP status to answer with when the return is an
 * error the peer should hear about (0 when nothing should be sent). */
int tlk_http_read_request(int fd, size_t body_max, struct tlk_http_request *req,
			  int *status);

void tlk_http_request_free(struct tlk_http_request *req);

/* Write a whole reply with a JSON body. Returns 0 or -errno. */
int tlk_http_reply(int fd, int status, const char *body, size_t len);

/* The reason phrase for a status code ("OK", "Not Found", ...). */
const char *tlk_http_reason(int status);

#endif

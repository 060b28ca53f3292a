/* SPDX-License-Identifier: MIT */
/*
 * http.c - read one HTTP/1.1 request, write one reply (see http.h).
 *
 * A small buffered reader sits on the socket; the head is read line by
 * line within TLK_HTTP_HEAD_MAX, the body by Content-Length or by chunks
 * within the caller's limit, the chunk framing within its own budget.
 * Every read waits with poll(2) for what is left of the request's one
 * deadline. Anything ambiguous (two different Content-Lengths,
 * Content-Length together with chunked, a bad chunk size) is a 400 rather
 * than a guess.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "taglockfs/http.h"

#define LINE_MAX_LEN 8192
#define HEADERS_MAX 100

struct reader {
	int fd;
	long long deadline_ms; /* CLOCK_MONOTONIC */
	size_t pos, len;
	size_t line_used;  /* bytes read as lines so far... */
	size_t line_limit; /* ...against this budget (head, then framing) */
	char buf[4096];
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until `fd` is ready for `events` or `deadline_ms` has passed. */
static int wait_ready(int fd, short events, long long deadline_ms)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		long long left = deadline_ms - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

struct head {
	bool have_length;
	unsigned long long length;
	bool chunked;
	bool expect_continue;
};

static int rd_fill(struct reader *r)
{
	ssize_t n;
	int ret;

	do {
		if ((ret = wait_ready(r->fd, POLLIN, r->deadline_ms)) < 0)
			return ret;
		n = read(r->fd, r->buf, sizeof(r->buf));
	} while (n < 0 && (errno == EINTR || errno == EAGAIN));
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	r->pos = 0;
	r->len = (size_t)n;
	return 0;
}

/* One line without its CRLF (a bare LF is accepted too) into out[cap]. */
static int rd_line(struct reader *r, char *out, size_t cap, size_t *out_len)
{
	size_t n = 0;
	int ret;

	for (;;) {
		char c;

		if (r->pos == r->len && (ret = rd_fill(r)) < 0)
			return ret;
		c = r->buf[r->pos++];
		if (++r->line_used > r->line_limit)
			return -EMSGSIZE;
		if (c == '\n')
			break;
		if (n + 1 >= cap)
			return -EMSGSIZE;
		out[n++] = c;
	}
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	*out_len = n;
	return 0;
}

static int rd_bytes(struct reader *r, char *out, size_t want)
{
	while (want > 0) {
		size_t take;
		int ret;

		if (r->pos == r->len && (ret = rd_fill(r)) < 0)
			return ret;
		take = r->len - r->pos < want ? r->len - r->pos : want;
		memcpy(out, r->buf + r->pos, take);
		r->pos += take;
		out += take;
		want -= take;
	}
	return 0;
}

static int parse_request_line(char *line, struct tlk_http_request *req,
			      int *status)
{
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	size_t mlen, tlen;

	*status = 400;
	if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL)
		return -EBADMSG;
	mlen = (size_t)(sp1 - line);
	tlen = (size_t)(sp2 - sp1 - 1);
	if (mlen == 0 || tlen == 0 || sp1[1] != '/')
		return -EBADMSG;
	if (mlen >= sizeof(req->method)) {
		*status = 501;
		return -ENOTSUP;
	}
	if (tlen >= sizeof(req->target)) {
		*status = 414;
		return -EMSGSIZE;
	}
	if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)sp2[8]) || sp2[9] != '\0') {
		*status = strncmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400;
		return *status == 505 ? -ENOTSUP : -EBADMSG;
	}
	memcpy(req->method, line, mlen);
	req->method[mlen] = '\0';
	memcpy(req->target, sp1 + 1, tlen);
	req->target[tlen] = '\0';
	*status = 0;
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static int parse_length(const char *v, unsigned long long *out)
{
	unsigned long long n = 0;

	if (*v == '\0')
		return -EBADMSG;
	for (; *v; v++) {
		if (!isdigit((unsigned char)*v) || n > (1ULL << 40))
			return -EBADMSG;
		n = n * 10 + (unsigned)(*v - '0');
	}
	*out = n;
	return 0;
}

/* Apply one header line to *h. Unknown headers are ignored. */
static int parse_header(char *line, struct head *h, int *status)
{
	char *colon = strchr(line, ':');
	char *value;
	unsigned long long n;

	*status = 400;
	if (colon == NULL || colon == line || line[0] == ' ' || line[0] == '\t')
		return -EBADMSG;
	*colon = '\0';
	if (strpbrk(line, " \t") != NULL)
		return -EBADMSG;
	value = trim(colon + 1);
	if (strcasecmp(line, "Content-Length") == 0) {
		if (parse_length(value, &n) < 0 ||
		    (h->have_length && n != h->length))
			return -EBADMSG;
		h->have_length = true;
		h->length = n;
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		if (strcasecmp(value, "chunked") != 0) {
			*status = 501;
			return -ENOTSUP;
		}
		h->chunked = true;
	} else if (strcasecmp(line, "Expect") == 0) {
		if (strcasecmp(value, "100-continue") != 0) {
			*status = 417;
			return -EBADMSG;
		}
		h->expect_continue = true;
	}
	*status = 0;
	return 0;
}

static int read_head(struct reader *r, struct tlk_http_request *req,
		     struct head *h, int *status)
{
	char line[LINE_MAX_LEN];
	size_t len;
	int ret, count = 0;

	/* Tolerate empty lines before the request line (RFC 9112 2.2). */
	do {
		if ((ret = rd_line(r, line, sizeof(line), &len)) < 0)
			goto fail;
	} while (len == 0);
	if ((ret = parse_request_line(line, req, status)) < 0)
		return ret;
	for (;;) {
		if ((ret = rd_line(r, line, sizeof(line), &len)) < 0)
			goto fail;
		if (len == 0)
			break;
		if (++count > HEADERS_MAX) {
			*status = 431;
			return -EMSGSIZE;
		}
		if ((ret = parse_header(line, h, status)) < 0)
			return ret;
	}
	if (h->chunked && h->have_length) {
		*status = 400;
		return -EBADMSG;
	}
	return 0;
fail:
	/* Too long a head is worth telling; a vanished peer is not. */
	*status = ret == -EMSGSIZE ? 431 : 0;
	return ret;
}

static int body_grow(struct tlk_http_request *req, size_t add, size_t max)
{
	char *p;

	if (add > max || req->body_len > max - add)
		return -EMSGSIZE;
	p = realloc(req->body, req->body_len + add + 1);
	if (p == NULL)
		return -ENOMEM;
	req->body = p;
	return 0;
}

static int parse_chunk_size(const char *line, size_t *out)
{
	size_t n = 0;
	const char *p = line;

	if (!isxdigit((unsigned char)*p))
		return -EBADMSG;
	for (; isxdigit((unsigned char)*p); p++) {
		if (n > ((size_t)1 << 40))
			return -EBADMSG;
		n = n * 16 +
		    (size_t)(isdigit((unsigned char)*p)
				 ? *p - '0'
				 : tolower((unsigned char)*p) - 'a' + 10);
	}
	if (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t')
		return -EBADMSG;
	*out = n;
	return 0;
}

static int read_chunked(struct reader *r, struct tlk_http_request *req,
			size_t max)
{
	char line[LINE_MAX_LEN];
	size_t len, size;
	int ret;

	for (;;) {
		if ((ret = rd_line(r, line, sizeof(line), &len)) < 0)
			return ret;
		if ((ret = parse_chunk_size(line, &size)) < 0)
			return ret;
		if (size == 0)
			break;
		if ((ret = body_grow(req, size, max)) < 0)
			return ret;
		if ((ret = rd_bytes(r, req->body + req->body_len, size)) < 0)
			return ret;
		req->body_len += size;
		if ((ret = rd_line(r, line, sizeof(line), &len)) < 0)
			return ret;
		if (len != 0)
			return -EBADMSG;
	}
	/* Trailer fields, ignored, up to the empty line. */
	do {
		if ((ret = rd_line(r, line, sizeof(line), &len)) < 0)
			return ret;
	} while (len != 0);
	return 0;
}

static int send_all(int fd, const char *p, size_t len, long long deadline_ms)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int ret;

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((ret = wait_ready(fd, POLLOUT, deadline_ms)) < 0)
				return ret;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_body(struct reader *r, struct tlk_http_request *req,
		     const struct head *h, size_t max)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	int ret;

	if (h->have_length && h->length > max)
		return -EMSGSIZE;
	if (h->expect_continue && (h->chunked || h->length > 0) &&
	    (ret = send_all(r->fd, cont, sizeof(cont) - 1, r->deadline_ms)) < 0)
		return ret;
	r->line_used = 0; /* chunk framing has a budget of its own */
	r->line_limit = TLK_HTTP_FRAMING_MAX;
	if (h->chunked)
		ret = read_chunked(r, req, max);
	else if ((ret = body_grow(req, (size_t)h->length, max)) == 0 &&
		 (ret = rd_bytes(r, req->body, (size_t)h->length)) == 0)
		req->body_len = (size_t)h->length;
	if (ret == 0 && req->body != NULL)
		req->body[req->body_len] = '\0';
	return ret;
}

int tlk_http_read_request(int fd, const struct tlk_http_limits *limits,
			  struct tlk_http_request *req, int *status)
{
	struct reader *r = calloc(1, sizeof(*r));
	struct head h = {0};
	int ret;

	memset(req, 0, sizeof(*req));
	*status = 0;
	if (r == NULL) {
		*status = 500;
		return -ENOMEM;
	}
	r->fd = fd;
	r->deadline_ms = now_ms() + limits->deadline_ms;
	r->line_limit = TLK_HTTP_HEAD_MAX;
	ret = read_head(r, req, &h, status);
	if (ret == 0) {
		ret = read_body(r, req, &h, limits->body_max);
		if (ret == -EMSGSIZE)
			*status = 413;
		else if (ret == -EBADMSG)
			*status = 400;
		else if (ret == -ENOMEM)
			*status = 500;
	}
	if (ret == -ETIMEDOUT)
		*status = 408;
	free(r);
	if (ret < 0)
		tlk_http_request_free(req);
	return ret;
}

void tlk_http_request_free(struct tlk_http_request *req)
{
	free(req->body);
	req->body = NULL;
	req->body_len = 0;
}

const char *tlk_http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 408:
		return "Request Timeout";
	case 417:
		return "Expectation Failed";
	case 418:
		return "I'm a teapot";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

int tlk_http_reply(int fd, int status, const char *content_type,
		   const char *extra, const char *body, size_t len,
		   unsigned deadline_ms)
{
	char *msg;
	int n, ret;

	/* One buffer, one send: a client that closes once it has the head
	 * must not turn the body's send into EPIPE. */
	n = asprintf(&msg,
		     "HTTP/1.1 %d %s\r\n%s%s%s%s"
		     "Content-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%.*s",
		     status, tlk_http_reason(status),
		     content_type ? "Content-Type: " : "",
		     content_type ? content_type : "", content_type ? "\r\n" : "",
		     extra ? extra : "", len, (int)len, body ? body : "");
	if (n < 0)
		return -ENOMEM;
	ret = send_all(fd, msg, (size_t)n, now_ms() + deadline_ms);
	free(msg);
	return ret;
}

void tlk_http_drain(int fd, unsigned ms, size_t max_bytes)
{
	long long deadline = now_ms() + ms;
	size_t total = 0;
	char buf[4096];

	shutdown(fd, SHUT_WR);
	while (total < max_bytes && wait_ready(fd, POLLIN, deadline) == 0) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * test_http.c - the project's HTTP server (include/taglockfs/http.h,
 * http_server.h) over real socketpairs and a real unix socket:
 *
 *   - one deadline for the whole request: a peer that trickles its bytes
 *     (each read well within any per-read timeout) is cut off at the
 *     deadline with 408;
 *   - chunk framing has its own budget: a small body sent as thousands of
 *     one-byte chunks is refused (413) although the body is within its
 *     limit;
 *   - requests read whole: Content-Length, chunked, Expect: 100-continue;
 *   - over conn_max connections, the next one is answered 503 by the
 *     accept loop and its request drained, so the client reads the answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "taglockfs/http.h"
#include "taglockfs/http_server.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
}

static void put(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Writes one byte of `text` every `gap_ms` from a thread. */
struct trickle {
	int fd;
	const char *text;
	unsigned gap_ms;
};

static void *trickle_thread(void *arg)
{
	struct trickle *t = arg;
	const char *p;

	for (p = t->text; *p; p++) {
		if (send(t->fd, p, 1, MSG_NOSIGNAL) != 1)
			break;
		usleep(t->gap_ms * 1000);
	}
	return NULL;
}

static void test_whole_request_deadline(void **state)
{
	struct tlk_http_limits lim = {.body_max = 1024, .deadline_ms = 300};
	struct tlk_http_request req;
	struct trickle t = {
	    .text = "PUT /v2/x/manifests/v1 HTTP/1.1\r\nHost: a\r\n\r\n",
	    .gap_ms = 50};
	pthread_t tid;
	long long start;
	int sv[2], status, ret;

	(void)state;
	pair(sv);
	t.fd = sv[1];
	assert_int_equal(pthread_create(&tid, NULL, trickle_thread, &t), 0);
	start = now_ms();
	ret = tlk_http_read_request(sv[0], &lim, &req, &status);
	assert_int_equal(ret, -ETIMEDOUT);
	assert_int_equal(status, 408);
	assert_true(now_ms() - start < 1500);
	close(sv[0]);
	pthread_join(tid, NULL);
	close(sv[1]);
}

static void test_framing_budget(void **state)
{
	struct tlk_http_limits lim = {.body_max = 1 << 20, .deadline_ms = 5000};
	struct tlk_http_request req;
	size_t n = 20000, i, len = 0;
	char *msg = malloc(n * 6 + 256);
	int sv[2], status, ret;

	(void)state;
	assert_non_null(msg);
	len += (size_t)sprintf(msg, "PUT /v2/x/manifests/v1 HTTP/1.1\r\n"
				    "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(msg + len, "1\r\nx\r\n");
	strcpy(msg + len, "0\r\n\r\n");
	pair(sv);
	/* 20,000 bytes of body in 100,000 bytes of framing. */
	if (fork() == 0) {
		close(sv[0]);
		(void)!write(sv[1], msg, strlen(msg));
		_exit(0);
	}
	close(sv[1]);
	ret = tlk_http_read_request(sv[0], &lim, &req, &status);
	assert_int_equal(ret, -EMSGSIZE);
	assert_int_equal(status, 413);
	close(sv[0]);
	free(msg);
}

static void test_reads_whole_requests(void **state)
{
	struct tlk_http_limits lim = {.body_max = 64, .deadline_ms = 2000};
	struct tlk_http_request req;
	char buf[64] = {0};
	int sv[2], status;

	(void)state;
	pair(sv);
	put(sv[1], "PUT /v2/a/manifests/v1 HTTP/1.0\r\nContent-Length: 5\r\n"
		   "\r\nhello");
	assert_int_equal(tlk_http_read_request(sv[0], &lim, &req, &status), 0);
	assert_string_equal(req.method, "PUT");
	assert_string_equal(req.target, "/v2/a/manifests/v1");
	assert_int_equal(req.body_len, 5);
	assert_string_equal(req.body, "hello");
	tlk_http_request_free(&req);
	close(sv[0]);
	close(sv[1]);

	pair(sv);
	put(sv[1], "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		   "Expect: 100-continue\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n"
		   "T: 1\r\n\r\n");
	assert_int_equal(tlk_http_read_request(sv[0], &lim, &req, &status), 0);
	assert_string_equal(req.body, "abcde");
	assert_true(read(sv[1], buf, sizeof(buf) - 1) > 0);
	assert_non_null(strstr(buf, "100 Continue"));
	tlk_http_request_free(&req);
	close(sv[0]);
	close(sv[1]);

	pair(sv);
	put(sv[1], "PUT /x HTTP/1.1\r\nContent-Length: 65\r\n\r\n");
	assert_int_equal(tlk_http_read_request(sv[0], &lim, &req, &status),
			 -EMSGSIZE);
	assert_int_equal(status, 413);
	close(sv[0]);
	close(sv[1]);
}

/* ------------------------------------------------------------ server */

static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;

static char *slow_handle(void *ctx, const struct tlk_http_request *req,
			 const struct tlk_http_peer *peer, int *status)
{
	(void)ctx;
	(void)req;
	(void)peer;
	pthread_mutex_lock(&hold_lock); /* held by the test: a busy server */
	pthread_mutex_unlock(&hold_lock);
	*status = 200;
	return strdup("done");
}

static char *refuse(void *ctx, int *status, const char *why)
{
	char *s;

	(void)ctx;
	return asprintf(&s, "refused: %s", why) < 0 ? NULL : s;
}

struct serve_args {
	struct tlk_http_server *srv;
	int lfd, stop;
};

static void *serve_thread(void *arg)
{
	struct serve_args *a = arg;

	tlk_http_serve(a->srv, a->lfd, a->stop, 5);
	return NULL;
}

static int connect_to(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(addr.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)),
			 0);
	return fd;
}

static size_t read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

static void test_busy_answer(void **state)
{
	struct tlk_http_server srv = {
	    .name = "test",
	    .content_type = "text/plain",
	    .limits = {.body_max = 1 << 20, .deadline_ms = 5000},
	    .conn_max = 1,
	    .handle = slow_handle,
	    .refuse = refuse,
	};
	char dir[] = "/tmp/tlk-http-XXXXXX", path[128], buf[4096];
	const char *why;
	struct serve_args a;
	pthread_t tid;
	uint64_t one = 1;
	int first, second;
	char *body = calloc(1, 200000);

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	a.srv = &srv;
	a.lfd = tlk_http_listen_unix(path, 0600, (gid_t)-1, &why);
	assert_true(a.lfd >= 0);
	a.stop = eventfd(0, EFD_CLOEXEC);
	pthread_mutex_lock(&hold_lock);
	assert_int_equal(pthread_create(&tid, NULL, serve_thread, &a), 0);

	first = connect_to(path);
	put(first, "GET /a HTTP/1.1\r\n\r\n");
	usleep(100000); /* the first request is being handled */
	second = connect_to(path);
	/* A body the busy server never wants: it must still answer, not
	 * reset the connection under the client. */
	memset(body, 'x', 199999);
	put(second, "PUT /b HTTP/1.1\r\nContent-Length: 199999\r\n\r\n");
	assert_int_equal(send(second, body, 199999, MSG_NOSIGNAL), 199999);
	read_all(second, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 503 "));
	assert_non_null(strstr(buf, "refused: busy, retry"));
	close(second);

	pthread_mutex_unlock(&hold_lock);
	read_all(first, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
	assert_non_null(strstr(buf, "\r\n\r\ndone"));
	close(first);
	assert_int_equal(write(a.stop, &one, sizeof(one)), sizeof(one));
	pthread_join(tid, NULL);
	close(a.stop);
	unlink(path);
	rmdir(dir);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whole_request_deadline),
	    cmocka_unit_test(test_framing_budget),
	    cmocka_unit_test(test_reads_whole_requests),
	    cmocka_unit_test(test_busy_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

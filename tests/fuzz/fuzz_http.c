/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http.c - the project's HTTP request reader (include/taglockfs/
 * http.h) on any bytes a peer can send, and the gate's reading of the
 * request line it yields (include/taglockfs/gate.h).
 *
 * The bytes are served from a memfd, so every read path of the reader
 * (lines, Content-Length bodies, chunks, trailers) runs as on a socket
 * that then closes. The contract: a request is either read whole (0:
 * method and target NUL-terminated and non-empty, the target starts with
 * '/', the body within body_max and NUL-terminated) or refused with one
 * of the documented errors and nothing allocated; and the gate never
 * names a repository or tag longer than distribution allows.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "taglockfs/gate.h"
#include "taglockfs/http.h"

#include "fuzz.h"

#define BODY_MAX 65536

static bool documented(int ret)
{
	return ret == -EBADMSG || ret == -EMSGSIZE || ret == -ENOTSUP ||
	       ret == -ETIMEDOUT || ret == -ECONNRESET || ret == -ENOTSOCK ||
	       ret == -ENOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tlk_http_limits limits = {.body_max = BODY_MAX,
					       .deadline_ms = 1000};
	struct tlk_http_request req;
	struct tlk_gate_target target;
	int fd = memfd_create("fuzz_http", MFD_CLOEXEC);
	int status, ret;

	FUZZ_CHECK(fd >= 0, "memfd_create failed");
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size,
		   "short write");
	FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
	ret = tlk_http_read_request(fd, &limits, &req, &status);
	close(fd);
	if (ret < 0) {
		FUZZ_CHECK(documented(ret), "undocumented error %d", ret);
		FUZZ_CHECK(req.body == NULL && req.body_len == 0,
			   "body kept after an error");
		FUZZ_CHECK(status == 0 || (status >= 400 && status < 600),
			   "status %d", status);
		return 0;
	}
	FUZZ_CHECK(req.method[0] != '\0' &&
		       memchr(req.method, '\0', sizeof(req.method)) != NULL,
		   "method");
	FUZZ_CHECK(req.target[0] == '/' &&
		       memchr(req.target, '\0', sizeof(req.target)) != NULL,
		   "target");
	FUZZ_CHECK(req.body_len <= BODY_MAX, "body of %zu bytes", req.body_len);
	FUZZ_CHECK(req.body_len == 0 || req.body[req.body_len] == '\0',
		   "body not terminated");
	tlk_gate_parse(req.method, req.target, &target);
	FUZZ_CHECK(strlen(target.repo) < TLK_REPO_MAX &&
		       strlen(target.tag) <= TLK_TAG_MAX,
		   "names too long");
	FUZZ_CHECK(target.ask != TLK_GATE_BY_TAG ||
		       (target.repo[0] && tlk_layout_valid_tag(target.tag)),
		   "a tag question without a valid name and tag");
	tlk_http_request_free(&req);
	return 0;
}

#ifndef TLK_LIBFUZZER
int main(int argc, char **argv)
{
	return tlk_fuzz_main(argc, argv);
}
#endif

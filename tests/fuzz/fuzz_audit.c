/* SPDX-License-Identifier: MIT */
/*
 * fuzz_audit.c - an audit log of any bytes, read the two ways the daemon
 * reads one: tlk_audit_verify_file() (--verify-audit) and
 * tlk_audit_open() (start-up, which checks the last record and continues
 * the chain). audit.h only reads files, so the input is written to a
 * memfd and named by /proc/self/fd/N.
 *
 * Checked: verify returns 0 or 1 (never an error for a readable file);
 * when 1 it names a line, the good records are exactly the lines before
 * it, and `why` says "line N: ..." and is cut safely in a short buffer;
 * when 0 every line is a record. A log verify calls intact opens (unless
 * a record is longer than open reads back). When open accepts the log, one
 * more record can be appended, the log opens again, and verify then says
 * the same as before, with one record more.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "taglockfs/audit.h"

#include "fuzz.h"

#define LINE_MAX_OPEN (64 * 1024) /* audit.c AUDIT_LINE_MAX */

static int log_fd = -1;
static char log_path[64];

/* The file that holds the input: a memfd, or a temp file where memfd_create
 * is missing (removed by main; libFuzzer runs have memfd). */
static void log_setup(void)
{
	if (log_fd >= 0)
		return;
	log_fd = memfd_create("tlk-fuzz-audit", MFD_CLOEXEC);
	if (log_fd >= 0) {
		snprintf(log_path, sizeof(log_path), "/proc/self/fd/%d",
			 log_fd);
	} else {
		snprintf(log_path, sizeof(log_path),
			 "/tmp/tlk-fuzz-audit.XXXXXX");
		log_fd = mkstemp(log_path);
	}
	FUZZ_CHECK(log_fd >= 0, "no file for the log: %s", strerror(errno));
}

static void log_fill(const uint8_t *data, size_t size)
{
	size_t done = 0;

	FUZZ_CHECK(ftruncate(log_fd, 0) == 0, "ftruncate: %s", strerror(errno));
	while (done < size) {
		ssize_t n =
		    pwrite(log_fd, data + done, size - done, (off_t)done);

		FUZZ_CHECK(n > 0, "pwrite: %s", strerror(errno));
		done += (size_t)n;
	}
}

struct verdict {
	int rc;
	size_t records, bad_line;
	char why[512];
};

static void verify(struct verdict *v)
{
	char small[8];
	size_t records = 99, bad = 99;
	int rc;

	memset(v, 0, sizeof(*v));
	v->records = v->bad_line = 77;
	v->rc = tlk_audit_verify_file(log_path, &v->records, &v->bad_line,
				      v->why, sizeof(v->why));
	FUZZ_CHECK(v->rc == 0 || v->rc == 1, "verify: %d", v->rc);
	FUZZ_CHECK(memchr(v->why, '\0', sizeof(v->why)) != NULL,
		   "why not terminated");
	if (v->rc == 0) {
		FUZZ_CHECK(v->bad_line == 0 && v->why[0] == '\0',
			   "intact, yet line %zu: %s", v->bad_line, v->why);
	} else {
		char prefix[32];

		FUZZ_CHECK(v->bad_line >= 1 && v->bad_line == v->records + 1,
			   "bad line %zu after %zu good records", v->bad_line,
			   v->records);
		snprintf(prefix, sizeof(prefix), "line %zu: ", v->bad_line);
		FUZZ_CHECK(strncmp(v->why, prefix, strlen(prefix)) == 0 &&
			       strlen(v->why) > strlen(prefix),
			   "why: %s", v->why);
	}

	/* no counters, a short why: the same answer, cut safely */
	memset(small, 'x', sizeof(small));
	rc = tlk_audit_verify_file(log_path, NULL, NULL, small, sizeof(small));
	FUZZ_CHECK(rc == v->rc, "verify again: %d, first %d", rc, v->rc);
	FUZZ_CHECK(memchr(small, '\0', sizeof(small)) != NULL,
		   "short why not terminated");
	rc = tlk_audit_verify_file(log_path, &records, &bad, NULL, 0);
	FUZZ_CHECK(rc == v->rc && records == v->records && bad == v->bad_line,
		   "verify without why: %d %zu %zu", rc, records, bad);
}

/* Some line is longer than open reads back. */
static bool has_long_line(const uint8_t *data, size_t size)
{
	size_t start = 0;

	for (size_t i = 0; i <= size; i++) {
		if (i == size || data[i] == '\n') {
			if (i - start > LINE_MAX_OPEN)
				return true;
			start = i + 1;
		}
	}
	return false;
}

static size_t count_newlines(const uint8_t *data, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tlk_audit_event ev = {
	    .decision = "refuse",
	    .op = "publish_link",
	    .reason = "overwrite",
	    .repository = "team/app",
	    .tag = "v1",
	    .old_digest = "sha256:"
			  "0123456789abcdef0123456789abcdef"
			  "0123456789abcdef0123456789abcdef",
	    .new_digest = "sha256:"
			  "fedcba9876543210fedcba9876543210"
			  "fedcba9876543210fedcba9876543210",
	    .pid = 4242,
	    .comm = "registry",
	};
	struct verdict before, after;
	struct tlk_audit *audit = NULL;
	int rc;

	log_setup();
	log_fill(data, size);
	verify(&before);
	if (before.rc == 0) {
		FUZZ_CHECK(before.records == count_newlines(data, size) &&
			       (size == 0 || data[size - 1] == '\n'),
			   "intact with %zu records in %zu lines",
			   before.records, count_newlines(data, size));
	}

	rc = tlk_audit_open(log_path, &audit);
	if (rc != 0) {
		FUZZ_CHECK(rc == -EBADMSG || rc == -ENOMEM, "open: %d", rc);
		FUZZ_CHECK(before.rc != 0 || has_long_line(data, size),
			   "open: %d (%s) of a log verify calls intact", rc,
			   strerror(-rc));
		return 0;
	}
	FUZZ_CHECK(audit != NULL, "open: 0 without a log");
	FUZZ_CHECK(size == 0 || data[size - 1] == '\n',
		   "open accepted a log without a final newline");
	rc = tlk_audit_append(audit, &ev);
	if (rc == -EOVERFLOW) { /* the chain is full: nothing was written */
		tlk_audit_close(audit);
		rc = tlk_audit_open(log_path, &audit);
		FUZZ_CHECK(rc == 0, "reopen of a full chain: %d", rc);
		tlk_audit_close(audit);
		return 0;
	}
	FUZZ_CHECK(rc == 0, "append: %d", rc);
	tlk_audit_close(audit);

	/* what the daemon wrote, it can start on again */
	rc = tlk_audit_open(log_path, &audit);
	FUZZ_CHECK(rc == 0, "reopen after append: %d (%s)", rc, strerror(-rc));
	tlk_audit_close(audit);

	verify(&after);
	FUZZ_CHECK(after.rc == before.rc, "after append: %d (%s), before %d",
		   after.rc, after.why, before.rc);
	if (before.rc == 0)
		FUZZ_CHECK(after.records == before.records + 1,
			   "after append: %zu records, before %zu",
			   after.records, before.records);
	else
		FUZZ_CHECK(after.bad_line == before.bad_line,
			   "after append: bad line %zu, before %zu",
			   after.bad_line, before.bad_line);
	return 0;
}

#ifndef TLK_LIBFUZZER
int main(int argc, char **argv)
{
	int rc = tlk_fuzz_main(argc, argv);

	if (log_fd >= 0 && strncmp(log_path, "/tmp/", 5) == 0)
		unlink(log_path);
	return rc;
}
#endif

/* SPDX-License-Identifier: MIT */
/*
 * test_audit.c - the audit log (audit.c) and the logger (log.c).
 *
 * Every test works in its own directory made with mkdtemp under /tmp and
 * removes it afterwards. Tampering is done the way a person would do it:
 * by editing, deleting, swapping or copying lines of the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "taglockfs/audit.h"
#include "taglockfs/log.h"

#define MAX_LINES 64
#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

struct fixture {
	char dir[64];
	char path[128]; /* dir/audit.log, not created */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/tlk-audit-XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/audit.log", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d = opendir(fx->dir);

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* ---- helpers ---- */

static void append_records(const char *path, int first, int count)
{
	struct tlk_audit *audit = NULL;
	char tag[32], digest[80];
	int i;

	assert_int_equal(tlk_audit_open(path, &audit), 0);
	for (i = first; i < first + count; i++) {
		struct tlk_audit_event ev = {
		    .decision = i % 2 ? "refuse" : "allow",
		    .op = "publish_link",
		    .reason = i % 2 ? "overwrite" : "create",
		    .repository = "test/example",
		    .tag = tag,
		    .old_digest = "sha256:" ZEROS,
		    .new_digest = digest,
		    .pid = 1000 + i,
		    .comm = "registry",
		};

		snprintf(tag, sizeof(tag), "v%d", i);
		snprintf(digest, sizeof(digest), "sha256:%064x", i);
		assert_int_equal(tlk_audit_append(audit, &ev), 0);
	}
	tlk_audit_close(audit);
}

/* Read the file into at most MAX_LINES lines, newlines kept. */
static size_t read_lines(const char *path, char **lines)
{
	FILE *f = fopen(path, "r");
	size_t n = 0, cap = 0;
	char *line = NULL;

	assert_non_null(f);
	while (getline(&line, &cap, f) >= 0) {
		assert_true(n < MAX_LINES);
		lines[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	return n;
}

static void write_lines(const char *path, char **lines, size_t n)
{
	FILE *f = fopen(path, "w");
	size_t i;

	assert_non_null(f);
	for (i = 0; i < n; i++)
		fputs(lines[i], f);
	assert_int_equal(fclose(f), 0);
}

static void free_lines(char **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(lines[i]);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Verify and expect failure at `line` with exactly `why`. */
static void expect_bad(const char *path, size_t line, const char *why)
{
	char buf[512];
	size_t bad = 0, good = 99;

	assert_int_equal(
	    tlk_audit_verify_file(path, &good, &bad, buf, sizeof(buf)), 1);
	assert_string_equal(buf, why);
	assert_int_equal(bad, line);
	assert_int_equal(good, line - 1);
}

static void expect_good(const char *path, size_t records)
{
	char why[512] = "";
	size_t bad = 99, good = 0;
	int ret = tlk_audit_verify_file(path, &good, &bad, why, sizeof(why));

	if (ret != 0)
		fail_msg("verify: %d %s", ret, why);
	assert_int_equal(good, records);
	assert_int_equal(bad, 0);
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0, i;

	assert_int_equal(EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL),
			 1);
	for (i = 0; i < md_len; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

/* Recompute a record's hash as a forger who knows the format would. The
 * returned line is malloc'ed and ends in a newline. */
static char *rehash(const char *line)
{
	json_t *obj = json_loads(line, 0, NULL);
	char hash[65], *body, *out;

	assert_non_null(obj);
	json_object_del(obj, "hash");
	body = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	sha256_hex(body, strlen(body), hash);
	free(body);
	json_object_set_new(obj, "hash", json_string(hash));
	body = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	assert_true(asprintf(&out, "%s\n", body) > 0);
	free(body);
	return out;
}

static const char *member(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* ---- the format of a record ---- */

static void record_format(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES], *hash_at, hash[65], body[4096];
	json_t *obj;
	size_t n;

	append_records(fx->path, 1, 2);
	n = read_lines(fx->path, lines);
	assert_int_equal(n, 2);
	/* Compact, sorted keys, hash last-but-not-least in sorted order. */
	assert_non_null(strstr(lines[0], "{\"comm\":\"registry\",\"decision\":"
					 "\"refuse\",\"hash\":\""));
	assert_non_null(strstr(lines[0], "\"prev\":\"" ZEROS "\""));
	assert_non_null(strstr(lines[0], "\"pid\":1001,"));
	assert_non_null(strstr(lines[0], "\"seq\":1,"));

	/* hash = SHA-256 of the same text without the hash member. */
	hash_at = strstr(lines[0], "\"hash\":\"");
	assert_non_null(hash_at);
	memcpy(hash, hash_at + 8, 64);
	hash[64] = '\0';
	snprintf(body, sizeof(body), "%.*s%s", (int)(hash_at - lines[0]),
		 lines[0], hash_at + 8 + 64 + 2);
	body[strlen(body) - 1] = '\0'; /* newline */
	{
		char want[65];

		sha256_hex(body, strlen(body), want);
		assert_string_equal(hash, want);
	}

	/* The second record points at the first. */
	obj = json_loads(lines[1], 0, NULL);
	assert_non_null(obj);
	assert_string_equal(member(obj, "prev"), hash);
	assert_int_equal(json_integer_value(json_object_get(obj, "seq")), 2);
	assert_string_equal(member(obj, "tag"), "v2");
	snprintf(body, sizeof(body), "sha256:%064x", 2);
	assert_string_equal(member(obj, "new"), body);
	json_decref(obj);
	free_lines(lines, n);
}

/* Milliseconds since the epoch of an RFC 3339 UTC time as audit writes
 * it; fails the test when the text has another shape. */
static long long parse_time_ms(const char *when)
{
	struct tm tm = {0};
	regex_t re;
	int ms = -1;

	assert_non_null(when);
	assert_int_equal(regcomp(&re,
				 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}"
				 ":[0-9]{2}\\.[0-9]{3}Z$",
				 REG_EXTENDED | REG_NOSUB),
			 0);
	assert_int_equal(regexec(&re, when, 0, NULL, 0), 0);
	regfree(&re);
	assert_non_null(strptime(when, "%Y-%m-%dT%H:%M:%S", &tm));
	assert_int_equal(sscanf(when + 20, "%3d", &ms), 1);
	return (long long)timegm(&tm) * 1000 + ms;
}

static void record_time_and_omitted_fields(void **state)
{
	struct fixture *fx = *state;
	struct tlk_audit *audit = NULL;
	struct tlk_audit_event ev = {.decision = "allow", .pid = 0};
	struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};
	long long now = (long long)time(NULL) * 1000, t1, t2;
	char *lines[MAX_LINES];
	json_t *a, *b;

	/* Local time five hours off UTC: the record must still say UTC. */
	setenv("TZ", "XYZ5", 1);
	tzset();
	assert_int_equal(tlk_audit_open(fx->path, &audit), 0);
	assert_int_equal(tlk_audit_append(audit, &ev), 0);
	nanosleep(&pause, NULL);
	assert_int_equal(tlk_audit_append(audit, &ev), 0);
	tlk_audit_close(audit);
	unsetenv("TZ");
	tzset();
	assert_int_equal(read_lines(fx->path, lines), 2);
	a = json_loads(lines[0], 0, NULL);
	b = json_loads(lines[1], 0, NULL);
	assert_non_null(a);
	assert_non_null(b);
	/* decision, hash, pid, prev, seq, time: NULL strings are omitted. */
	assert_int_equal(json_object_size(a), 6);
	assert_null(json_object_get(a, "tag"));
	assert_null(json_object_get(a, "comm"));
	assert_true(json_is_integer(json_object_get(a, "pid")));

	t1 = parse_time_ms(member(a, "time"));
	t2 = parse_time_ms(member(b, "time"));
	assert_in_range(t1, now - 5000, now + 5000);
	/* Milliseconds are real: 50 ms apart, give or take a slow machine. */
	assert_in_range(t2 - t1, 40, 900);
	json_decref(a);
	json_decref(b);
	free_lines(lines, 2);
}

static void record_bad_utf8_comm(void **state)
{
	struct fixture *fx = *state;
	struct tlk_audit *audit = NULL;
	struct tlk_audit_event ev = {.decision = "allow",
				     .comm = "reg\xff\xfe"};
	char *lines[MAX_LINES];

	assert_int_equal(tlk_audit_open(fx->path, &audit), 0);
	assert_int_equal(tlk_audit_append(audit, &ev), 0);
	tlk_audit_close(audit);
	assert_int_equal(read_lines(fx->path, lines), 1);
	assert_non_null(strstr(lines[0], "\"comm\":\"reg??\""));
	free_lines(lines, 1);
	expect_good(fx->path, 1);
}

static void created_mode_0640(void **state)
{
	struct fixture *fx = *state;
	mode_t old = umask(022);
	struct stat st;

	append_records(fx->path, 1, 1);
	umask(old);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
}

/* ---- writing and continuing the chain ---- */

static void append_then_verify(void **state)
{
	struct fixture *fx = *state;

	append_records(fx->path, 1, 25);
	expect_good(fx->path, 25);
}

static void reopen_continues_chain(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES];
	json_t *third, *fourth;

	append_records(fx->path, 1, 3);
	append_records(fx->path, 4, 2);
	expect_good(fx->path, 5);
	assert_int_equal(read_lines(fx->path, lines), 5);
	third = json_loads(lines[2], 0, NULL);
	fourth = json_loads(lines[3], 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(fourth, "seq")), 4);
	assert_string_equal(member(fourth, "prev"), member(third, "hash"));
	json_decref(third);
	json_decref(fourth);
	free_lines(lines, 5);
}

static void empty_file(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES];

	write_text(fx->path, "");
	expect_good(fx->path, 0);
	/* Opening an empty file starts the chain at seq 1 with zeros. */
	append_records(fx->path, 1, 1);
	assert_int_equal(read_lines(fx->path, lines), 1);
	assert_non_null(strstr(lines[0], "\"prev\":\"" ZEROS "\""));
	assert_non_null(strstr(lines[0], "\"seq\":1,"));
	free_lines(lines, 1);
}

static void missing_file(void **state)
{
	struct fixture *fx = *state;
	size_t good = 7, bad = 7;
	char why[64];

	assert_int_equal(
	    tlk_audit_verify_file(fx->path, &good, &bad, why, sizeof(why)),
	    -ENOENT);
	assert_int_equal(tlk_audit_verify_file(fx->dir, NULL, NULL, NULL, 0),
			 -EISDIR);
}

static void second_writer_refused(void **state)
{
	struct fixture *fx = *state;
	struct tlk_audit *a = NULL, *b = NULL;

	assert_int_equal(tlk_audit_open(fx->path, &a), 0);
	assert_int_equal(tlk_audit_open(fx->path, &b), -EBUSY);
	assert_null(b);
	tlk_audit_close(a);
	assert_int_equal(tlk_audit_open(fx->path, &b), 0);
	tlk_audit_close(b);
}

struct worker {
	struct tlk_audit *audit;
	int id;
	int failures;
};

static void *append_worker(void *arg)
{
	struct worker *w = arg;
	char tag[32];
	int i;

	for (i = 0; i < 200; i++) {
		struct tlk_audit_event ev = {
		    .decision = "allow",
		    .repository = "team-a/app",
		    .tag = tag,
		    .pid = w->id,
		};

		snprintf(tag, sizeof(tag), "t%d-%d", w->id, i);
		if (tlk_audit_append(w->audit, &ev) != 0)
			w->failures++;
	}
	return NULL;
}

static void concurrent_appends(void **state)
{
	struct fixture *fx = *state;
	struct tlk_audit *audit = NULL;
	struct worker w[8];
	pthread_t th[8];
	int i;

	assert_int_equal(tlk_audit_open(fx->path, &audit), 0);
	for (i = 0; i < 8; i++) {
		w[i] = (struct worker){.audit = audit, .id = i + 1};
		assert_int_equal(
		    pthread_create(&th[i], NULL, append_worker, &w[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	tlk_audit_close(audit);
	expect_good(fx->path, 1600);
}

/* The file may grow to `bytes` at most: RLIMIT_FSIZE makes write(2) fail
 * with EFBIG (or write short) as a full disk fails with ENOSPC; no mock.
 * 0 restores the limit. */
static void limit_file_size(off_t bytes)
{
	static struct rlimit old;
	static bool saved;
	struct rlimit lim;

	if (!saved) {
		getrlimit(RLIMIT_FSIZE, &old);
		saved = true;
	}
	if (bytes == 0) {
		setrlimit(RLIMIT_FSIZE, &old);
		signal(SIGXFSZ, SIG_DFL);
		return;
	}
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)bytes;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* The gap records the verifier reports. */
struct gaps {
	size_t count;
	struct tlk_audit_gap gap[4];
};

static void note_gap(void *ctx, const struct tlk_audit_gap *gap)
{
	struct gaps *g = ctx;

	if (g->count < 4)
		g->gap[g->count] = *gap;
	g->count++;
}

static void expect_good_gaps(const char *path, size_t records,
			     struct gaps *g)
{
	char why[512] = "";
	size_t bad = 99, good = 0;
	int ret;

	memset(g, 0, sizeof(*g));
	ret = tlk_audit_verify_gaps(path, &good, &bad, why, sizeof(why),
				    note_gap, g);
	if (ret != 0)
		fail_msg("verify: %d %s", ret, why);
	assert_int_equal(good, records);
}

static json_t *record_at(const char *path, size_t want)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, n = 0;
	json_t *obj = NULL;

	assert_non_null(f);
	while (getline(&line, &cap, f) >= 0)
		if (++n == want) {
			obj = json_loads(line, 0, NULL);
			break;
		}
	free(line);
	fclose(f);
	assert_non_null(obj);
	return obj;
}

/* A disk that fills up in the middle of a record must not leave a torn
 * line behind, and the write's own errno is answered (EFBIG here, ENOSPC
 * on a full disk; it used to be EIO). The two records are kept and
 * written, behind a gap record, once there is room again. */
static void short_write_leaves_log_intact(void **state)
{
	struct fixture *fx = *state;
	struct tlk_audit_event ev = {.decision = "refuse", .tag = "v9"};
	struct tlk_audit *audit = NULL;
	struct gaps g;
	off_t size;
	json_t *obj;
	int r1, r2, r3;

	append_records(fx->path, 1, 3);
	size = file_size(fx->path);
	assert_int_equal(tlk_audit_open(fx->path, &audit), 0);
	limit_file_size(size + 30); /* room for part of a line */
	r1 = tlk_audit_append(audit, &ev);
	limit_file_size(size); /* no room at all */
	ev.tag = "v10";
	r2 = tlk_audit_append(audit, &ev);
	limit_file_size(0);
	assert_int_equal(r1, -EFBIG);
	assert_int_equal(r2, -EFBIG);
	assert_int_equal(file_size(fx->path), size);
	expect_good(fx->path, 3);
	/* Once there is room again: the gap record, the two kept records in
	 * their order, then the new one. */
	ev.tag = "v11";
	r3 = tlk_audit_append(audit, &ev);
	tlk_audit_close(audit);
	assert_int_equal(r3, 0);
	expect_good_gaps(fx->path, 7, &g);
	assert_int_equal(g.count, 1);
	assert_int_equal(g.gap[0].line, 4);
	assert_int_equal(g.gap[0].late, 2);
	assert_int_equal(g.gap[0].dropped, 0);
	assert_string_equal(g.gap[0].error, strerror(EFBIG));
	assert_true(g.gap[0].since[0] != '\0');
	obj = record_at(fx->path, 4);
	assert_string_equal(member(obj, "decision"), "gap");
	json_decref(obj);
	obj = record_at(fx->path, 5);
	assert_string_equal(member(obj, "tag"), "v9");
	json_decref(obj);
	obj = record_at(fx->path, 6);
	assert_string_equal(member(obj, "tag"), "v10");
	json_decref(obj);
	obj = record_at(fx->path, 7);
	assert_string_equal(member(obj, "tag"), "v11");
	json_decref(obj);
}

/* More failed records than the backlog holds: the oldest are dropped and
 * the gap record counts them; the newest TLK_AUDIT_BACKLOG are written. */
static void backlog_overflow_counts_dropped(void **state)
{
	struct fixture *fx = *state;
	struct tlk_audit *audit = NULL;
	char tag[32];
	struct tlk_audit_event ev = {.decision = "refuse", .tag = tag};
	const int extra = 5;
	struct gaps g;
	json_t *obj;
	int i;

	append_records(fx->path, 1, 1);
	assert_int_equal(tlk_audit_open(fx->path, &audit), 0);
	limit_file_size(file_size(fx->path));
	for (i = 0; i < TLK_AUDIT_BACKLOG + extra; i++) {
		snprintf(tag, sizeof(tag), "late%d", i);
		assert_int_equal(tlk_audit_append(audit, &ev), -EFBIG);
	}
	limit_file_size(0);
	tlk_audit_close(audit); /* closing writes what it holds */
	expect_good_gaps(fx->path, 2 + TLK_AUDIT_BACKLOG, &g);
	assert_int_equal(g.count, 1);
	assert_int_equal(g.gap[0].line, 2);
	assert_int_equal(g.gap[0].late, TLK_AUDIT_BACKLOG);
	assert_int_equal(g.gap[0].dropped, extra);
	obj = record_at(fx->path, 3);
	snprintf(tag, sizeof(tag), "late%d", extra);
	assert_string_equal(member(obj, "tag"), tag);
	json_decref(obj);
}

/* audit_strict asks whether a record can be written: room is reserved
 * beyond the end of the file (the file does not grow), and while records
 * are kept because writing fails, the answer is that write's errno. */
static void ready_reports_no_room(void **state)
{
	struct fixture *fx = *state;
	struct tlk_audit_event ev = {.decision = "allow", .tag = "v1"};
	struct tlk_audit *audit = NULL;
	off_t size;
	int r1, r2, r3;

	append_records(fx->path, 1, 2);
	size = file_size(fx->path);
	assert_int_equal(tlk_audit_open(fx->path, &audit), 0);
	assert_int_equal(tlk_audit_ready(audit), 0);
	assert_int_equal(file_size(fx->path), size); /* reserved, not grown */
	limit_file_size(size);
	r2 = tlk_audit_append(audit, &ev); /* kept */
	r1 = tlk_audit_ready(audit);
	limit_file_size(0);
	r3 = tlk_audit_ready(audit); /* writes the backlog */
	tlk_audit_close(audit);
	assert_int_equal(r1, -EFBIG);
	assert_int_equal(r2, -EFBIG);
	assert_int_equal(r3, 0);
	expect_good(fx->path, 4); /* 2, the gap, the kept record */
	assert_int_equal(file_size(fx->path) > size, 1);
}

/* A gap record must carry its counts; a forged one without them is a bad
 * record even with a correct hash. */
static void gap_record_without_counts(void **state)
{
	struct fixture *fx = *state;
	struct tlk_audit_event ev = {.decision = "allow", .tag = "v1"};
	struct tlk_audit *audit = NULL;
	char *lines[MAX_LINES], *p;
	json_t *obj;
	size_t n;

	append_records(fx->path, 1, 1);
	assert_int_equal(tlk_audit_open(fx->path, &audit), 0);
	limit_file_size(file_size(fx->path));
	assert_int_equal(tlk_audit_append(audit, &ev), -EFBIG);
	limit_file_size(0);
	assert_int_equal(tlk_audit_append(audit, &ev), 0);
	tlk_audit_close(audit);
	n = read_lines(fx->path, lines);
	assert_int_equal(n, 4);
	obj = json_loads(lines[1], 0, NULL);
	assert_non_null(obj);
	json_object_del(obj, "dropped");
	p = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	free(lines[1]);
	lines[1] = rehash(p);
	free(p);
	write_lines(fx->path, lines, n);
	expect_bad(fx->path, 2,
		   "line 2: gap record without \"late\" and \"dropped\" "
		   "counts");
	free_lines(lines, n);
}

/* A log of 10 records; the tamper tests edit it. */
static size_t ten_records(const char *path, char **lines)
{
	append_records(path, 1, 10);
	return read_lines(path, lines);
}

/* ---- tampering, each reported at the right line ---- */

static void tamper_digest_char(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES], *p;
	size_t n = ten_records(fx->path, lines);

	p = strstr(lines[4], "\"new\":\"sha256:");
	assert_non_null(p);
	p += strlen("\"new\":\"sha256:") + 10;
	*p = *p == 'a' ? 'b' : 'a';
	write_lines(fx->path, lines, n);
	expect_bad(fx->path, 5, "line 5: hash mismatch (record was modified)");
	free_lines(lines, n);
}

static void tamper_delete_middle(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES];
	size_t n = ten_records(fx->path, lines);

	free(lines[3]);
	memmove(&lines[3], &lines[4], (n - 4) * sizeof(lines[0]));
	n--;
	write_lines(fx->path, lines, n);
	expect_bad(fx->path, 4,
		   "line 4: seq 5 follows 3 (records missing or reordered)");
	free_lines(lines, n);
}

static void tamper_delete_first(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES];
	size_t n = ten_records(fx->path, lines);

	write_lines(fx->path, lines + 1, n - 1);
	expect_bad(fx->path, 1,
		   "line 1: seq 2 but the log starts at 1 (records missing at "
		   "the start)");
	free_lines(lines, n);
}

static void tamper_swap(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES], *tmp;
	size_t n = ten_records(fx->path, lines);

	tmp = lines[5];
	lines[5] = lines[6];
	lines[6] = tmp;
	write_lines(fx->path, lines, n);
	expect_bad(fx->path, 6,
		   "line 6: seq 7 follows 5 (records missing or reordered)");
	free_lines(lines, n);
}

static void tamper_truncate_last(void **state)
{
	struct fixture *fx = *state;
	struct tlk_audit *audit = NULL;
	struct stat st;

	append_records(fx->path, 1, 10);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(truncate(fx->path, st.st_size - 20), 0);
	expect_bad(fx->path, 10,
		   "line 10: missing trailing newline (torn write)");
	/* The daemon will not extend a torn log. */
	assert_int_equal(tlk_audit_open(fx->path, &audit), -EBADMSG);
	assert_null(audit);
	/* Only the newline lost is still a torn write. */
	assert_int_equal(truncate(fx->path, st.st_size - 1), 0);
	expect_bad(fx->path, 10,
		   "line 10: missing trailing newline (torn write)");
	assert_int_equal(tlk_audit_open(fx->path, &audit), -EBADMSG);
}

static void tamper_insert_copy(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES];
	size_t n = ten_records(fx->path, lines);

	memmove(&lines[8], &lines[7], (n - 7) * sizeof(lines[0]));
	lines[7] = strdup(lines[2]);
	n++;
	write_lines(fx->path, lines, n);
	expect_bad(fx->path, 8,
		   "line 8: seq 3 follows 7 (record duplicated or reordered)");
	free_lines(lines, n);
}

static void tamper_garbage(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES], why[512];
	size_t n = ten_records(fx->path, lines), bad = 0;

	free(lines[1]);
	lines[1] = strdup("this is not a record\n");
	write_lines(fx->path, lines, n);
	assert_int_equal(
	    tlk_audit_verify_file(fx->path, NULL, &bad, why, sizeof(why)), 1);
	assert_int_equal(bad, 2);
	assert_true(strncmp(why, "line 2: not JSON: ", 18) == 0);
	assert_true(strlen(why) > 18); /* jansson's explanation follows */
	free_lines(lines, n);
}

static void tamper_rehashed_record(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES], *p;
	size_t n = ten_records(fx->path, lines);

	/* Change a tag and fix that record's own hash: the next record's
	 * prev no longer matches. */
	p = strstr(lines[4], "\"tag\":\"v5\"");
	assert_non_null(p);
	p[8] = '9';
	p = rehash(lines[4]);
	free(lines[4]);
	lines[4] = p;
	write_lines(fx->path, lines, n);
	expect_bad(fx->path, 6,
		   "line 6: prev is not the hash of line 5 (record replaced or "
		   "chain broken)");
	free_lines(lines, n);
}

static void tamper_reformatted(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES], *p;
	size_t n = ten_records(fx->path, lines);

	/* Same content, different bytes: `{ "comm"...`. */
	p = malloc(strlen(lines[2]) + 2);
	sprintf(p, "{ %s", lines[2] + 1);
	free(lines[2]);
	lines[2] = p;
	write_lines(fx->path, lines, n);
	expect_bad(fx->path, 3,
		   "line 3: not in canonical form (record was reformatted)");
	free_lines(lines, n);
}

static void tamper_duplicate_key(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES], *p, why[512];
	size_t n = ten_records(fx->path, lines), bad = 0;

	/* A second "tag" that some readers would show instead. */
	p = malloc(strlen(lines[3]) + 32);
	sprintf(p, "{\"tag\":\"evil\",%s", lines[3] + 1);
	free(lines[3]);
	lines[3] = p;
	write_lines(fx->path, lines, n);
	assert_int_equal(
	    tlk_audit_verify_file(fx->path, NULL, &bad, why, sizeof(why)), 1);
	assert_int_equal(bad, 4);
	assert_non_null(strstr(why, "line 4: not JSON: duplicate"));
	free_lines(lines, n);
}

static void extra_keys_tolerated(void **state)
{
	struct fixture *fx = *state;
	char *lines[MAX_LINES], *p;
	size_t n;

	/* A future version adds a field and hashes it: still intact. */
	append_records(fx->path, 1, 1);
	n = read_lines(fx->path, lines);
	p = malloc(strlen(lines[0]) + 32);
	sprintf(p, "{\"zz_future\":[1,2],%s", lines[0] + 1);
	free(lines[0]);
	lines[0] = rehash(p);
	free(p);
	write_lines(fx->path, lines, n);
	free_lines(lines, n);
	expect_good(fx->path, 1);
	append_records(fx->path, 2, 1);
	expect_good(fx->path, 2);
}

/* ---- opening a log whose tail is bad ---- */

static void open_tampered_last(void **state)
{
	struct fixture *fx = *state;
	struct tlk_audit *audit = NULL;
	char *lines[MAX_LINES], *p;
	size_t n = ten_records(fx->path, lines);

	p = strstr(lines[9], "\"tag\":\"v10\"");
	p[8] = '2';
	write_lines(fx->path, lines, n);
	assert_int_equal(tlk_audit_open(fx->path, &audit), -EBADMSG);
	assert_null(audit);
	free_lines(lines, n);

	write_text(fx->path, "garbage\n");
	assert_int_equal(tlk_audit_open(fx->path, &audit), -EBADMSG);
}

static void open_reads_only_the_tail(void **state)
{
	struct fixture *fx = *state;
	char other[160], *lines[MAX_LINES];
	struct tlk_audit *audit = NULL;
	struct timespec t0, t1;
	double secs;
	int fd;

	/* A record made elsewhere, placed after 8 GiB of (sparse) zeros:
	 * reading all of that would take many seconds. */
	snprintf(other, sizeof(other), "%s/other.log", fx->dir);
	append_records(other, 1, 3);
	assert_int_equal(read_lines(other, lines), 3);
	fd = open(fx->path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8LL << 30), 0);
	assert_true(pwrite(fd, "\n", 1, 8LL << 30) == 1);
	assert_true(pwrite(fd, lines[2], strlen(lines[2]), (8LL << 30) + 1) ==
		    (ssize_t)strlen(lines[2]));
	close(fd);
	free_lines(lines, 3);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(tlk_audit_open(fx->path, &audit), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 1.0);
	tlk_audit_close(audit);
	/* The chain continued from seq 3. */
	append_records(fx->path, 4, 1);
	fd = open(fx->path, O_RDONLY);
	{
		char tail[128] = "";
		struct stat st;

		fstat(fd, &st);
		assert_true(pread(fd, tail, 100, st.st_size - 100) == 100);
		assert_non_null(strstr(tail, "\"seq\":4,"));
	}
	close(fd);
}

/* ---- the logger ---- */

struct capture {
	int saved;
	char path[160];
};

static void capture_begin(struct capture *c, const char *dir)
{
	int fd;

	snprintf(c->path, sizeof(c->path), "%s/stderr.txt", dir);
	fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

/* Restore stderr; returns what was written (malloc'ed). */
static char *capture_end(struct capture *c)
{
	char *text = calloc(1, 1 << 20);
	int fd;

	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	fd = open(c->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, text, (1 << 20) - 1) >= 0);
	close(fd);
	return text;
}

static void log_levels(void **state)
{
	struct fixture *fx = *state;
	struct capture c;
	char *out;

	tlk_log_init("tlktest", false, false);
	capture_begin(&c, fx->dir);
	tlk_err("disk %s", "full");
	tlk_warn("policy %d ignored", 2);
	tlk_notice("mounted");
	tlk_info("policy reloaded\n");
	tlk_debug("not shown");
	out = capture_end(&c);
	assert_string_equal(out, "tlktest: error: disk full\n"
				 "tlktest: warning: policy 2 ignored\n"
				 "tlktest: mounted\n"
				 "tlktest: policy reloaded\n");
	free(out);

	tlk_log_init("tlktest", false, true);
	capture_begin(&c, fx->dir);
	tlk_debug("lookup %s", "v1");
	out = capture_end(&c);
	assert_string_equal(out, "tlktest: lookup v1\n");
	free(out);
	tlk_log_init("tlktest", false, false);
}

static void log_one_line_and_errno(void **state)
{
	struct fixture *fx = *state;
	struct capture c;
	int saved;
	char *out;

	tlk_log_init("tlktest", false, false);
	capture_begin(&c, fx->dir);
	errno = EXDEV;
	tlk_err("tag %s\nforged: line", "v1");
	saved = errno;
	out = capture_end(&c);
	assert_int_equal(saved, EXDEV);
	assert_string_equal(out, "tlktest: error: tag v1?forged: line\n");
	free(out);

	/* A stderr that cannot be written (EBADF) does not leak its errno. */
	capture_begin(&c, fx->dir);
	{
		int ro = open("/dev/null", O_RDONLY);

		assert_true(ro >= 0);
		assert_int_equal(dup2(ro, STDERR_FILENO), STDERR_FILENO);
		close(ro);
	}
	errno = EXDEV;
	tlk_err("lost");
	saved = errno;
	free(capture_end(&c));
	assert_int_equal(saved, EXDEV);
}

static void log_truncates_long_lines(void **state)
{
	struct fixture *fx = *state;
	char *big = malloc(10001), *out;
	struct capture c;
	size_t len;

	tlk_log_init("tlktest", false, false);
	memset(big, 'x', 10000);
	big[10000] = '\0';
	big[9999] = 'E'; /* must not appear */
	capture_begin(&c, fx->dir);
	tlk_warn("%s", big);
	out = capture_end(&c);
	len = strlen(out);
	assert_true(len > 1000 && len <= 2048);
	assert_string_equal(out + len - 4, "...\n");
	assert_null(strchr(out, 'E'));
	assert_ptr_equal(strchr(out, '\n'), out + len - 1);
	assert_true(strncmp(out, "tlktest: warning: xxx", 21) == 0);
	free(out);
	free(big);
}

static void *log_worker(void *arg)
{
	int id = (int)(intptr_t)arg, i;

	for (i = 0; i < 100; i++)
		tlk_info("thread %d line %d %s", id, i,
			 "padding-padding-padding-padding-padding-padding");
	return NULL;
}

static void log_threads_whole_lines(void **state)
{
	struct fixture *fx = *state;
	int counts[8] = {0}, i, id, num, end;
	char *out, *line, *save = NULL;
	struct capture c;
	pthread_t th[8];

	tlk_log_init("tlktest", false, false);
	capture_begin(&c, fx->dir);
	for (i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, log_worker, (void *)(intptr_t)i);
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	out = capture_end(&c);
	for (line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		end = 0;
		assert_int_equal(sscanf(line,
					"tlktest: thread %d line %d "
					"padding-padding-padding-padding-"
					"padding-padding%n",
					&id, &num, &end),
				 2);
		assert_int_equal((size_t)end, strlen(line));
		assert_in_range(id, 0, 7);
		counts[id]++;
	}
	for (i = 0; i < 8; i++)
		assert_int_equal(counts[i], 100);
	free(out);
}

static void log_syslog_not_stderr(void **state)
{
	struct fixture *fx = *state;
	struct capture c;
	int saved;
	char *out;

	tlk_log_init("tlktest", true, false);
	capture_begin(&c, fx->dir);
	errno = ENOSPC;
	tlk_notice("to syslog");
	saved = errno;
	out = capture_end(&c);
	assert_int_equal(saved, ENOSPC);
	tlk_log_init("tlktest", false, false);
	assert_string_equal(out, "");
	free(out);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(record_format),
	    T(record_time_and_omitted_fields),
	    T(record_bad_utf8_comm),
	    T(created_mode_0640),
	    T(append_then_verify),
	    T(reopen_continues_chain),
	    T(empty_file),
	    T(missing_file),
	    T(second_writer_refused),
	    T(concurrent_appends),
	    T(short_write_leaves_log_intact),
	    T(backlog_overflow_counts_dropped),
	    T(ready_reports_no_room),
	    T(gap_record_without_counts),
	    T(tamper_digest_char),
	    T(tamper_delete_middle),
	    T(tamper_delete_first),
	    T(tamper_swap),
	    T(tamper_truncate_last),
	    T(tamper_insert_copy),
	    T(tamper_garbage),
	    T(tamper_rehashed_record),
	    T(tamper_reformatted),
	    T(tamper_duplicate_key),
	    T(extra_keys_tolerated),
	    T(open_tampered_last),
	    T(open_reads_only_the_tail),
	    T(log_levels),
	    T(log_one_line_and_errno),
	    T(log_truncates_long_lines),
	    T(log_threads_whole_lines),
	    T(log_syslog_not_stderr),
	};

	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}

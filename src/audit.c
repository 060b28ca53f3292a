/* SPDX-License-Identifier: MIT */
/*
 * audit.c - the hash-chained JSON-lines log of decisions (see audit.h).
 *
 * Writing. Each record is built as a JSON object, given its `seq` and
 * `prev`, serialised compact with sorted keys, hashed (SHA-256 over exactly
 * that text), given its `hash`, serialised again and written with its
 * newline in one write(2) on an O_APPEND descriptor, under the log's mutex.
 * A short write is taken back with ftruncate() so no torn line stays in the
 * file; if that fails too the log refuses further records (-EIO) rather
 * than extend a chain it knows is broken.
 *
 * One writer per file: tlk_audit_open() takes flock(LOCK_EX) on the file,
 * so a second daemon pointed at the same log fails with -EBUSY instead of
 * interleaving two chains.
 *
 * Durability: records are not fsync'ed one by one. A refusal is decided
 * while a registry waits on the filesystem call, and a disk flush per
 * decision would put the storage's flush latency on every tag write. The
 * write(2) puts the record in the page cache, so a crash of the daemon loses
 * nothing; a power loss can lose the last records or leave the last line
 * torn, which tlk_audit_open() then reports as -EBADMSG and
 * tlk_audit_verify_file() names, so the loss is visible, never silent.
 * tlk_audit_close() does flush the file.
 *
 * Reading. tlk_audit_open() reads only the tail of the file: it scans
 * backwards from the end in small chunks for the start of the last line, so
 * opening a large log costs the size of one record. tlk_audit_verify_file()
 * streams the file line by line.
 *
 * A record is accepted when it parses as one JSON object without duplicate
 * keys, its `hash` is the SHA-256 of the record without `hash`, and the
 * line is exactly the canonical serialisation (so the hash covers the bytes
 * a reader sees). Keys this version does not know are tolerated.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "taglockfs/audit.h"
#include "taglockfs/log.h"

#define HASH_HEX_LEN 64
#define AUDIT_LINE_MAX (64 * 1024) /* longest record written or read back */
#define TAIL_CHUNK 4096
#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)
#define REASON_MAX 512

struct tlk_audit {
	int fd; /* O_WRONLY | O_APPEND, flock'ed */
	pthread_mutex_t lock;
	/* protected by lock: */
	json_int_t last_seq;		  /* 0 before the first record */
	char last_hash[HASH_HEX_LEN + 1]; /* 64 zeros before the first */
	bool broken;			  /* a torn write could not be undone */
	/* The backlog: records not written yet, oldest first, in a ring of
	 * TLK_AUDIT_BACKLOG; `dropped` counts the oldest ones it lost. */
	json_t *backlog[TLK_AUDIT_BACKLOG];
	size_t head, queued;
	long long dropped;
	int down;	 /* errno of the failed write, 0 while writable */
	char since[40]; /* when it started failing */
};

/* What a self-consistent record says about its place in the chain. */
struct audit_record {
	json_int_t seq;
	char prev[HASH_HEX_LEN + 1];
	char hash[HASH_HEX_LEN + 1];
	bool is_gap;
	struct tlk_audit_gap gap; /* when is_gap (line not set) */
};

/* A change of the log's state, logged after the lock is released. */
struct audit_change {
	int went_down;	   /* errno: writes started failing */
	bool overflowed;   /* the backlog started dropping records */
	bool recovered;	   /* a gap record and the backlog were written */
	long long late, dropped;
};

static void zero_hash(char out[HASH_HEX_LEN + 1])
{
	memset(out, '0', HASH_HEX_LEN);
	out[HASH_HEX_LEN] = '\0';
}

static int sha256_hex(const char *data, size_t len, char out[HASH_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	unsigned int i;

	if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 ||
	    md_len * 2 != HASH_HEX_LEN)
		return -EIO;
	for (i = 0; i < md_len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[HASH_HEX_LEN] = '\0';
	return 0;
}

/* SHA-256 hex of `obj` serialised without its "hash" member. */
static int record_hash(const json_t *obj, char out[HASH_HEX_LEN + 1])
{
	json_t *copy = json_copy((json_t *)obj); /* shallow */
	char *body;
	int ret;

	if (copy == NULL)
		return -ENOMEM;
	json_object_del(copy, "hash");
	body = json_dumps(copy, DUMP_FLAGS);
	json_decref(copy);
	if (body == NULL)
		return -ENOMEM;
	ret = sha256_hex(body, strlen(body), out);
	free(body);
	return ret;
}

static bool is_hash_hex(const char *s)
{
	size_t i;

	for (i = 0; i < HASH_HEX_LEN; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[HASH_HEX_LEN] == '\0';
}

/* Copy member `key` when it is a 64-hex-digit string. */
static bool get_hash_member(const json_t *obj, const char *key,
			    char out[HASH_HEX_LEN + 1])
{
	const char *s = json_string_value(json_object_get(obj, key));

	if (s == NULL || !is_hash_hex(s))
		return false;
	memcpy(out, s, HASH_HEX_LEN + 1);
	return true;
}

/* The line is exactly how this code would have written the record. */
static int is_canonical(const json_t *obj, const char *line, size_t len)
{
	char *text = json_dumps(obj, DUMP_FLAGS);
	int same;

	if (text == NULL)
		return -ENOMEM;
	same = strlen(text) == len && memcmp(text, line, len) == 0;
	free(text);
	return same;
}

/* Fields of a parsed record, and its own hash. 0 when good, 1 when bad
 * (reason[] says why), -errno on failure. */
static int check_fields(const json_t *obj, const char *line, size_t len,
			struct audit_record *rec, char *reason, size_t rsize)
{
	const json_t *seq = json_object_get(obj, "seq");
	char computed[HASH_HEX_LEN + 1];
	int ret;

	if (!json_is_integer(seq) || json_integer_value(seq) < 1) {
		snprintf(reason, rsize, "no \"seq\" counting from 1");
		return 1;
	}
	rec->seq = json_integer_value(seq);
	if (!get_hash_member(obj, "prev", rec->prev)) {
		snprintf(reason, rsize, "no \"prev\" of 64 hex digits");
		return 1;
	}
	if (!get_hash_member(obj, "hash", rec->hash)) {
		snprintf(reason, rsize, "no \"hash\" of 64 hex digits");
		return 1;
	}
	ret = record_hash(obj, computed);
	if (ret < 0)
		return ret;
	if (strcmp(computed, rec->hash) != 0) {
		snprintf(reason, rsize, "hash mismatch (record was modified)");
		return 1;
	}
	ret = is_canonical(obj, line, len);
	if (ret < 0)
		return ret;
	if (!ret) {
		snprintf(reason, rsize,
			 "not in canonical form (record was reformatted)");
		return 1;
	}
	return 0;
}

static void copy_string(char *dst, size_t size, const json_t *obj,
			const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	snprintf(dst, size, "%s", v ? v : "");
}

/* A gap record (decision "gap") must say how many records follow it late
 * and how many were dropped: 0 when good, 1 when bad. */
static int check_gap(const json_t *obj, struct audit_record *rec,
		     char *reason, size_t rsize)
{
	const char *decision =
	    json_string_value(json_object_get(obj, "decision"));
	const json_t *late = json_object_get(obj, "late");
	const json_t *dropped = json_object_get(obj, "dropped");

	rec->is_gap = decision && strcmp(decision, TLK_AUDIT_GAP) == 0;
	if (!rec->is_gap)
		return 0;
	if (!json_is_integer(late) || json_integer_value(late) < 0 ||
	    !json_is_integer(dropped) || json_integer_value(dropped) < 0) {
		snprintf(reason, rsize, "gap record without \"late\" and "
					"\"dropped\" counts");
		return 1;
	}
	memset(&rec->gap, 0, sizeof(rec->gap));
	rec->gap.late = json_integer_value(late);
	rec->gap.dropped = json_integer_value(dropped);
	copy_string(rec->gap.error, sizeof(rec->gap.error), obj, "error");
	copy_string(rec->gap.since, sizeof(rec->gap.since), obj, "since");
	copy_string(rec->gap.until, sizeof(rec->gap.until), obj, "time");
	return 0;
}

/* Parse one line (without its newline) and check the record on its own,
 * chain aside. 0 when good, 1 when bad (reason[] says why), -errno. */
static int check_record(const char *line, size_t len, struct audit_record *rec,
			char *reason, size_t rsize)
{
	json_error_t error;
	json_t *obj;
	int ret;

	obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &error);
	if (obj == NULL) {
		snprintf(reason, rsize, "not JSON: %s", error.text);
		return 1;
	}
	if (!json_is_object(obj)) {
		snprintf(reason, rsize, "not a JSON object");
		ret = 1;
	} else {
		ret = check_fields(obj, line, len, rec, reason, rsize);
		if (ret == 0)
			ret = check_gap(obj, rec, reason, rsize);
	}
	json_decref(obj);
	return ret;
}

/* ---- opening: find and check the last record ---- */

static int pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank under us */
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Offset where the last line of a non-empty file starts. -EBADMSG when the
 * file does not end in a newline or the last line is too long. */
static int find_last_line(int fd, off_t size, off_t *start)
{
	char buf[TAIL_CHUNK];
	off_t end = size - 1; /* bytes before `end` are not searched yet */
	int ret;

	ret = pread_full(fd, buf, 1, end);
	if (ret < 0)
		return ret;
	if (buf[0] != '\n')
		return -EBADMSG; /* torn write */
	while (end > 0) {
		size_t n = end < TAIL_CHUNK ? (size_t)end : TAIL_CHUNK;
		off_t from = end - (off_t)n;
		const char *nl;

		ret = pread_full(fd, buf, n, from);
		if (ret < 0)
			return ret;
		nl = memrchr(buf, '\n', n);
		if (nl != NULL) {
			*start = from + (nl - buf) + 1;
			return 0;
		}
		end = from;
		if (size - 1 - end > AUDIT_LINE_MAX)
			return -EBADMSG;
	}
	*start = 0;
	return 0;
}

static int read_last_record(int fd, off_t size, struct audit_record *rec)
{
	char reason[REASON_MAX];
	off_t start = 0;
	size_t len;
	char *line;
	int ret;

	ret = find_last_line(fd, size, &start);
	if (ret < 0)
		return ret;
	len = (size_t)(size - 1 - start);
	if (len > AUDIT_LINE_MAX)
		return -EBADMSG;
	line = malloc(len + 1);
	if (line == NULL)
		return -ENOMEM;
	ret = pread_full(fd, line, len, start);
	if (ret == 0)
		ret = check_record(line, len, rec, reason, sizeof(reason));
	free(line);
	return ret == 1 ? -EBADMSG : ret;
}

/* Continue the chain of the file behind audit->fd. */
static int load_tail(const char *path, struct tlk_audit *audit)
{
	struct audit_record rec;
	struct stat wst, rst;
	int rfd, ret;

	if (fstat(audit->fd, &wst) < 0)
		return -errno;
	if (!S_ISREG(wst.st_mode))
		return -EINVAL;
	audit->last_seq = 0;
	zero_hash(audit->last_hash);
	if (wst.st_size == 0)
		return 0;
	/* The write descriptor cannot read: open the same file again. */
	rfd = open(path, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	if (fstat(rfd, &rst) < 0)
		ret = -errno;
	else if (rst.st_dev != wst.st_dev || rst.st_ino != wst.st_ino)
		ret = -ESTALE; /* renamed between the two opens */
	else
		ret = read_last_record(rfd, rst.st_size, &rec);
	close(rfd);
	if (ret < 0)
		return ret;
	audit->last_seq = rec.seq;
	memcpy(audit->last_hash, rec.hash, sizeof(rec.hash));
	return 0;
}

int tlk_audit_open(const char *path, struct tlk_audit **out)
{
	struct tlk_audit *audit;
	int ret;

	*out = NULL;
	audit = calloc(1, sizeof(*audit));
	if (audit == NULL)
		return -ENOMEM;
	audit->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (audit->fd < 0) {
		ret = -errno;
		free(audit);
		return ret;
	}
	if (flock(audit->fd, LOCK_EX | LOCK_NB) < 0)
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
	else
		ret = load_tail(path, audit);
	if (ret == 0)
		ret = -pthread_mutex_init(&audit->lock, NULL);
	if (ret < 0) {
		close(audit->fd);
		free(audit);
		return ret;
	}
	*out = audit;
	return 0;
}

static int backlog_flush(struct tlk_audit *audit, struct audit_change *chg);
static void log_change(const struct audit_change *chg);

void tlk_audit_close(struct tlk_audit *audit)
{
	struct audit_change chg = {0};
	struct stat st;

	if (audit == NULL)
		return;
	if (!audit->broken && backlog_flush(audit, &chg) < 0)
		tlk_err("audit log: closing with %zu records never written "
			"(%lld dropped before them): %s",
			audit->queued, audit->dropped, strerror(audit->down));
	log_change(&chg);
	while (audit->queued > 0) {
		json_decref(audit->backlog[audit->head]);
		audit->head = (audit->head + 1) % TLK_AUDIT_BACKLOG;
		audit->queued--;
	}
	/* give back the room reserved beyond the end (tlk_audit_ready) */
	if (fstat(audit->fd, &st) == 0 &&
	    ftruncate(audit->fd, st.st_size) < 0) {
		/* the room stays allocated; the records are intact */
	}
	fdatasync(audit->fd);
	close(audit->fd);
	pthread_mutex_destroy(&audit->lock);
	free(audit);
}

/* ---- appending ---- */

/* RFC 3339 UTC with milliseconds: 2026-11-28T00:00:00.123Z */
static int format_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return -errno;
	if (gmtime_r(&ts.tv_sec, &tm) == NULL)
		return -EOVERFLOW;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0 || size - n < sizeof(".000Z"))
		return -ERANGE;
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
	return 0;
}

/* Add a string member; NULL is omitted. Bytes that are not UTF-8 (a
 * process name can hold anything) are shown as '?'. */
static int set_string(json_t *obj, const char *key, const char *value)
{
	json_t *str;
	char *copy;
	size_t i;

	if (value == NULL)
		return 0;
	str = json_string(value);
	if (str == NULL) {
		copy = strdup(value);
		if (copy == NULL)
			return -ENOMEM;
		for (i = 0; copy[i] != '\0'; i++) {
			if ((unsigned char)copy[i] >= 0x80)
				copy[i] = '?';
		}
		str = json_string(copy);
		free(copy);
	}
	if (str == NULL || json_object_set_new(obj, key, str) < 0)
		return -ENOMEM;
	return 0;
}

static int build_event(const struct tlk_audit_event *ev, json_t **out)
{
	char when[64];
	json_t *obj;
	int ret;

	ret = format_time(when, sizeof(when));
	if (ret < 0)
		return ret;
	obj = json_object();
	if (obj == NULL)
		return -ENOMEM;
	if ((ret = set_string(obj, "decision", ev->decision)) < 0 ||
	    (ret = set_string(obj, "op", ev->op)) < 0 ||
	    (ret = set_string(obj, "reason", ev->reason)) < 0 ||
	    (ret = set_string(obj, "repository", ev->repository)) < 0 ||
	    (ret = set_string(obj, "tag", ev->tag)) < 0 ||
	    (ret = set_string(obj, "old", ev->old_digest)) < 0 ||
	    (ret = set_string(obj, "new", ev->new_digest)) < 0 ||
	    (ret = set_string(obj, "comm", ev->comm)) < 0 ||
	    (ret = set_string(obj, "time", when)) < 0 ||
	    json_object_set_new(obj, "pid", json_integer(ev->pid)) < 0) {
		json_decref(obj);
		return ret < 0 ? ret : -ENOMEM;
	}
	*out = obj;
	return 0;
}

/* The final line of `obj`, newline included, in *line (malloc'ed). */
static int serialize_line(const json_t *obj, char **line, size_t *len)
{
	char *text = json_dumps(obj, DUMP_FLAGS);
	size_t n;
	char *grown;

	if (text == NULL)
		return -ENOMEM;
	n = strlen(text);
	if (n > AUDIT_LINE_MAX) {
		free(text);
		return -EMSGSIZE;
	}
	grown = realloc(text, n + 2);
	if (grown == NULL) {
		free(text);
		return -ENOMEM;
	}
	grown[n] = '\n';
	grown[n + 1] = '\0';
	*line = grown;
	*len = n + 1;
	return 0;
}

/* Take back the `written` bytes of a short write. */
static void undo_short_write(struct tlk_audit *audit, size_t written)
{
	struct stat st;

	if (fstat(audit->fd, &st) < 0 || st.st_size < (off_t)written ||
	    ftruncate(audit->fd, st.st_size - (off_t)written) < 0)
		audit->broken = true;
}

/* Write the whole line or nothing. A short write (the disk filled up in
 * the middle) is continued, so the errno that stops it (ENOSPC, EDQUOT,
 * EFBIG) is the one answered, and its part is taken back. */
static int write_line(struct tlk_audit *audit, const char *line, size_t len)
{
	size_t done = 0;
	ssize_t n;
	int err;

	while (done < len) {
		n = write(audit->fd, line + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done == len)
		return 0;
	err = n < 0 ? errno : EIO;
	if (done > 0)
		undo_short_write(audit, done);
	return -err;
}

/* Chain `obj` after the last record and write it. Caller holds the lock.
 * *wrote says whether the failure (if any) was the write itself. */
static int chain_and_write(struct tlk_audit *audit, json_t *obj, bool *wrote)
{
	json_int_t seq;
	char hash[HASH_HEX_LEN + 1];
	size_t len = 0;
	char *line = NULL;
	int ret;

	*wrote = false;
	if (audit->broken)
		return -EIO;
	/* A chain that reached the largest sequence number can take no
	 * more records (found by fuzzing: a crafted last record). */
	if (audit->last_seq >= (json_int_t)LLONG_MAX)
		return -EOVERFLOW;
	seq = audit->last_seq + 1;

	if (json_object_set_new(obj, "seq", json_integer(seq)) < 0 ||
	    json_object_set_new(obj, "prev", json_string(audit->last_hash)) < 0)
		return -ENOMEM;
	ret = record_hash(obj, hash);
	if (ret < 0)
		return ret;
	if (json_object_set_new(obj, "hash", json_string(hash)) < 0)
		return -ENOMEM;
	ret = serialize_line(obj, &line, &len);
	if (ret < 0)
		return ret;
	*wrote = true;
	ret = write_line(audit, line, len);
	free(line);
	if (ret < 0)
		return ret;
	audit->last_seq++;
	memcpy(audit->last_hash, hash, sizeof(hash));
	return 0;
}

/* ---- the backlog: records kept while the log cannot be written ---- */

/* Keep `obj` (a reference is taken) for later; a full ring drops its
 * oldest record. */
static void backlog_keep(struct tlk_audit *audit, json_t *obj,
			 struct audit_change *chg)
{
	size_t tail;

	if (audit->queued == TLK_AUDIT_BACKLOG) {
		json_decref(audit->backlog[audit->head]);
		audit->head = (audit->head + 1) % TLK_AUDIT_BACKLOG;
		audit->queued--;
		if (audit->dropped++ == 0)
			chg->overflowed = true;
	}
	tail = (audit->head + audit->queued) % TLK_AUDIT_BACKLOG;
	audit->backlog[tail] = json_incref(obj);
	audit->queued++;
}

/* The record that says what happened while the log could not be
 * written: how many records follow it late, how many were lost. */
static int build_gap(const struct tlk_audit *audit, json_t **out)
{
	char when[64];
	json_t *obj;
	int ret = format_time(when, sizeof(when));

	if (ret < 0)
		return ret;
	obj = json_object();
	if (obj == NULL)
		return -ENOMEM;
	if ((ret = set_string(obj, "decision", TLK_AUDIT_GAP)) < 0 ||
	    (ret = set_string(obj, "op", "audit")) < 0 ||
	    (ret = set_string(obj, "reason", "write_failed")) < 0 ||
	    (ret = set_string(obj, "error", strerror(audit->down))) < 0 ||
	    (ret = set_string(obj, "since", audit->since)) < 0 ||
	    (ret = set_string(obj, "time", when)) < 0 ||
	    json_object_set_new(obj, "late",
				json_integer((json_int_t)audit->queued)) < 0 ||
	    json_object_set_new(obj, "dropped",
				json_integer(audit->dropped)) < 0 ||
	    json_object_set_new(obj, "pid", json_integer(0)) < 0) {
		json_decref(obj);
		return ret < 0 ? ret : -ENOMEM;
	}
	*out = obj;
	return 0;
}

/* A write failed: remember since when and why. */
static void note_down(struct tlk_audit *audit, int err,
		      struct audit_change *chg)
{
	if (audit->down == 0) {
		chg->went_down = err;
		if (format_time(audit->since, sizeof(audit->since)) < 0)
			audit->since[0] = '\0';
	}
	audit->down = err;
}

/* Write the gap record and the backlog, oldest first. 0 when nothing is
 * left to write, else -errno (what is left stays, behind a new gap). */
static int backlog_flush(struct tlk_audit *audit, struct audit_change *chg)
{
	json_t *gap = NULL;
	bool wrote;
	int ret;

	if (audit->down == 0 && audit->queued == 0 && audit->dropped == 0)
		return 0;
	ret = build_gap(audit, &gap);
	if (ret == 0)
		ret = chain_and_write(audit, gap, &wrote);
	json_decref(gap);
	if (ret < 0) {
		if (wrote)
			note_down(audit, -ret, chg);
		return ret;
	}
	chg->recovered = true;
	chg->late = (long long)audit->queued;
	chg->dropped = audit->dropped;
	audit->dropped = 0;
	audit->down = 0;
	while (audit->queued > 0) {
		json_t *obj = audit->backlog[audit->head];

		ret = chain_and_write(audit, obj, &wrote);
		if (ret < 0 && wrote) {
			note_down(audit, -ret, chg);
			return ret;
		}
		/* written, or never writable (too large): either way done */
		json_decref(obj);
		audit->head = (audit->head + 1) % TLK_AUDIT_BACKLOG;
		audit->queued--;
	}
	return 0;
}

static void log_change(const struct audit_change *chg)
{
	if (chg->recovered)
		tlk_notice("audit log: writable again; wrote a gap record, "
			   "then %lld records late (%lld dropped)",
			   chg->late, chg->dropped);
	if (chg->went_down)
		tlk_err("audit log: cannot write: %s; keeping up to %d "
			"records in memory until it can",
			strerror(chg->went_down), TLK_AUDIT_BACKLOG);
	if (chg->overflowed)
		tlk_err("audit log: more than %d records not written; "
			"dropping the oldest (the gap record will count them)",
			TLK_AUDIT_BACKLOG);
}

int tlk_audit_append(struct tlk_audit *audit,
		     const struct tlk_audit_event *event)
{
	struct audit_change chg = {0};
	json_t *obj = NULL;
	bool wrote = true;
	int ret;

	if (audit == NULL || event == NULL)
		return -EINVAL;
	ret = build_event(event, &obj);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&audit->lock);
	ret = backlog_flush(audit, &chg);
	if (ret == 0)
		ret = chain_and_write(audit, obj, &wrote);
	if (ret < 0 && wrote && !audit->broken) {
		note_down(audit, -ret, &chg);
		backlog_keep(audit, obj, &chg);
	}
	pthread_mutex_unlock(&audit->lock);
	json_decref(obj);
	log_change(&chg);
	return ret;
}

/* Room for the next record, reserved beyond the end of the file. */
#define RESERVE_BYTES 8192

int tlk_audit_ready(struct tlk_audit *audit)
{
	struct audit_change chg = {0};
	struct stat st;
	int ret;

	pthread_mutex_lock(&audit->lock);
	ret = audit->broken ? -EIO : backlog_flush(audit, &chg);
	if (ret == 0 && fstat(audit->fd, &st) < 0)
		ret = -errno;
	if (ret == 0 && fallocate(audit->fd, FALLOC_FL_KEEP_SIZE, st.st_size,
				  RESERVE_BYTES) < 0 &&
	    errno != EOPNOTSUPP && errno != ENOSYS)
		ret = -errno;
	pthread_mutex_unlock(&audit->lock);
	log_change(&chg);
	return ret;
}

/* ---- verifying a whole file ---- */

struct verify_state {
	json_int_t seq;		     /* of the last good record */
	char hash[HASH_HEX_LEN + 1]; /* of the last good record */
	size_t lineno;		     /* of the line being checked */
	tlk_audit_gap_fn on_gap;     /* may be NULL */
	void *ctx;
};

/* Where `rec` breaks the chain, if it does: 0 or 1 (reason[] says). */
static int check_link(const struct verify_state *vs,
		      const struct audit_record *rec, char *reason,
		      size_t rsize)
{
	long long seq = rec->seq, last = vs->seq;

	if (seq != last + 1) {
		if (last == 0)
			snprintf(reason, rsize,
				 "seq %lld but the log starts at 1 "
				 "(records missing at the start)",
				 seq);
		else if (seq <= last)
			snprintf(reason, rsize,
				 "seq %lld follows %lld "
				 "(record duplicated or reordered)",
				 seq, last);
		else
			snprintf(reason, rsize,
				 "seq %lld follows %lld "
				 "(records missing or reordered)",
				 seq, last);
		return 1;
	}
	if (strcmp(rec->prev, vs->hash) != 0) {
		if (last == 0)
			snprintf(reason, rsize,
				 "prev of the first record is not 64 zeros "
				 "(records missing at the start)");
		else
			snprintf(reason, rsize,
				 "prev is not the hash of line %zu "
				 "(record replaced or chain broken)",
				 vs->lineno - 1);
		return 1;
	}
	return 0;
}

static int verify_line(struct verify_state *vs, const char *line, size_t n,
		       char *reason, size_t rsize)
{
	struct audit_record rec;
	int ret;

	if (n == 0 || line[n - 1] != '\n') {
		snprintf(reason, rsize,
			 "missing trailing newline (torn write)");
		return 1;
	}
	ret = check_record(line, n - 1, &rec, reason, rsize);
	if (ret != 0)
		return ret;
	ret = check_link(vs, &rec, reason, rsize);
	if (ret != 0)
		return ret;
	vs->seq = rec.seq;
	memcpy(vs->hash, rec.hash, sizeof(rec.hash));
	if (rec.is_gap && vs->on_gap) {
		rec.gap.line = vs->lineno;
		vs->on_gap(vs->ctx, &rec.gap);
	}
	return 0;
}

/* Check each line of `f`. 0 when all are good, 1 at the first bad one
 * (vs->lineno and reason[] say which and why), -errno on a read error. */
static int verify_stream(FILE *f, struct verify_state *vs, size_t *good,
			 char *reason, size_t rsize)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ret = 0;

	for (;;) {
		errno = 0;
		n = getline(&line, &cap, f);
		if (n < 0) {
			if (ferror(f))
				ret = errno != 0 ? -errno : -EIO;
			break;
		}
		vs->lineno++;
		ret = verify_line(vs, line, (size_t)n, reason, rsize);
		if (ret != 0)
			break;
		(*good)++;
	}
	free(line);
	return ret;
}

int tlk_audit_verify_file(const char *path, size_t *records, size_t *bad_line,
			  char *why, size_t why_len)
{
	return tlk_audit_verify_gaps(path, records, bad_line, why, why_len,
				     NULL, NULL);
}

int tlk_audit_verify_gaps(const char *path, size_t *records, size_t *bad_line,
			  char *why, size_t why_len, tlk_audit_gap_fn on_gap,
			  void *ctx)
{
	struct verify_state vs = {.on_gap = on_gap, .ctx = ctx};
	char reason[REASON_MAX] = "";
	size_t good = 0;
	FILE *f;
	int ret;

	if (records != NULL)
		*records = 0;
	if (bad_line != NULL)
		*bad_line = 0;
	if (why != NULL && why_len > 0)
		why[0] = '\0';
	f = fopen(path, "re");
	if (f == NULL)
		return -errno;
	zero_hash(vs.hash);
	ret = verify_stream(f, &vs, &good, reason, sizeof(reason));
	fclose(f);
	if (records != NULL)
		*records = good;
	if (ret == 1) {
		if (bad_line != NULL)
			*bad_line = vs.lineno;
		if (why != NULL && why_len > 0)
			snprintf(why, why_len, "line %zu: %s", vs.lineno,
				 reason);
	}
	return ret;
}

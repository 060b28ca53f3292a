/* SPDX-License-Identifier: MIT */
/*
 * audit_count.c - count "refuse" decisions in a taglockfs audit log,
 * incrementally (see plugin_audit.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taglockfs/plugin_audit.h"

void tlk_refusals_init(struct tlk_refusals *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

void tlk_refusals_destroy(struct tlk_refusals *c)
{
	pthread_mutex_destroy(&c->lock);
}

static void count_line(struct tlk_refusals *c, const char *line, size_t len)
{
	json_t *rec = json_loadb(line, len, 0, NULL);
	const char *decision;

	if (rec == NULL || !json_is_object(rec)) {
		c->bad++;
		json_decref(rec);
		return;
	}
	c->records++;
	decision = json_string_value(json_object_get(rec, "decision"));
	if (decision != NULL && strcmp(decision, "refuse") == 0)
		c->refused++;
	json_decref(rec);
}

/* Count every complete line from c->offset on; a last line without its
 * newline is left for next time (it is still being written). */
static int count_from(struct tlk_refusals *c, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (fseeko(f, c->offset, SEEK_SET) < 0)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n')
			break;
		if (n > 1)
			count_line(c, line, (size_t)n - 1);
		c->offset += n;
	}
	free(line);
	return ferror(f) ? -EIO : 0;
}

static void reset(struct tlk_refusals *c, const struct stat *st)
{
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->offset = 0;
	c->refused = c->records = c->bad = 0;
}

int tlk_refusals_update(struct tlk_refusals *c, const char *path,
			unsigned long *refused, unsigned long *records)
{
	struct stat st;
	FILE *f;
	int fd, ret = 0;

	pthread_mutex_lock(&c->lock);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		struct stat none = {0};

		ret = errno == ENOENT ? 0 : -errno;
		if (ret == 0)
			reset(c, &none); /* not written yet, or removed */
		goto out;
	}
	if (fstat(fd, &st) < 0 || (f = fdopen(fd, "r")) == NULL) {
		ret = -errno;
		close(fd);
		goto out;
	}
	if (st.st_dev != c->dev || st.st_ino != c->ino ||
	    st.st_size < c->offset)
		reset(c, &st);
	if (st.st_size > c->offset)
		ret = count_from(c, f);
	fclose(f);
out:
	*refused = c->refused;
	*records = c->records;
	pthread_mutex_unlock(&c->lock);
	return ret;
}

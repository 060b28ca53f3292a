/* SPDX-License-Identifier: MIT */
/*
 * metrics_text.c - Prometheus text exposition 0.0.4 (see metrics.h).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taglockfs/metrics.h"

void tlk_mtext_init(struct tlk_mtext *m)
{
	memset(m, 0, sizeof(*m));
}

static void fail(struct tlk_mtext *m, int err)
{
	if (m->error == 0)
		m->error = err;
}

static bool reserve(struct tlk_mtext *m, size_t more)
{
	size_t cap = m->cap ? m->cap : 4096;
	char *grown;

	if (m->error)
		return false;
	while (cap - m->len <= more)
		cap *= 2;
	if (cap == m->cap)
		return true;
	grown = realloc(m->buf, cap);
	if (!grown) {
		fail(m, -ENOMEM);
		return false;
	}
	m->buf = grown;
	m->cap = cap;
	return true;
}

static void put(struct tlk_mtext *m, const char *s, size_t n)
{
	if (!reserve(m, n))
		return;
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	m->buf[m->len] = '\0';
}

static void put_str(struct tlk_mtext *m, const char *s)
{
	put(m, s, strlen(s));
}

/* `s` with `\` and newline escaped, and `"` too when `quote`. */
static void put_escaped(struct tlk_mtext *m, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			put(m, "\\\\", 2);
		else if (*s == '\n')
			put(m, "\\n", 2);
		else if (*s == '"' && quote)
			put(m, "\\\"", 2);
		else
			put(m, s, 1);
	}
}

static bool name_ok(const char *s, bool colon)
{
	size_t i;

	if (!s || !*s || strlen(s) >= TLK_METRICS_NAME_MAX)
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     c == '_' || (colon && c == ':');

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool label_name_ok(const char *s)
{
	return name_ok(s, false) && strncmp(s, "__", 2) != 0;
}

/* Shortest of %.15g and %.17g that reads back as `v`; the format's
 * spellings of the infinities and NaN. */
static void put_value(struct tlk_mtext *m, double v)
{
	char text[40];

	if (isnan(v))
		snprintf(text, sizeof(text), "NaN");
	else if (isinf(v))
		snprintf(text, sizeof(text), v > 0 ? "+Inf" : "-Inf");
	else {
		snprintf(text, sizeof(text), "%.15g", v);
		if (strtod(text, NULL) != v)
			snprintf(text, sizeof(text), "%.17g", v);
	}
	put_str(m, text);
}

static bool declared(const struct tlk_mtext *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->ndeclared; i++)
		if (strcmp(m->declared[i], name) == 0)
			return true;
	return false;
}

static void remember(struct tlk_mtext *m, const char *name)
{
	char **grown =
	    realloc(m->declared, (m->ndeclared + 1) * sizeof(*m->declared));
	char *copy = strdup(name);

	if (grown)
		m->declared = grown;
	if (!grown || !copy) {
		free(copy);
		fail(m, -ENOMEM);
		return;
	}
	m->declared[m->ndeclared++] = copy;
}

void tlk_mtext_family(struct tlk_mtext *m, const char *name,
		      enum tlk_metric_type type, const char *help)
{
	static const char *const type_name[] = {
	    [TLK_METRIC_COUNTER] = "counter",
	    [TLK_METRIC_GAUGE] = "gauge",
	    [TLK_METRIC_HISTOGRAM] = "histogram",
	};

	if (m->error)
		return;
	if (!name_ok(name, true) || (unsigned)type > TLK_METRIC_HISTOGRAM) {
		fail(m, -EINVAL);
		return;
	}
	if (declared(m, name)) {
		fail(m, -EEXIST);
		return;
	}
	remember(m, name);
	snprintf(m->family, sizeof(m->family), "%s", name);
	m->type = type;
	put_str(m, "# HELP ");
	put_str(m, name);
	put_str(m, " ");
	put_escaped(m, help ? help : "", false);
	put_str(m, "\n# TYPE ");
	put_str(m, name);
	put_str(m, " ");
	put_str(m, type_name[type]);
	put_str(m, "\n");
}

static bool labels_ok(const struct tlk_label *labels, size_t n, bool no_le)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (!label_name_ok(labels[i].name) || !labels[i].value ||
		    (no_le && strcmp(labels[i].name, "le") == 0))
			return false;
		for (j = 0; j < i; j++)
			if (strcmp(labels[i].name, labels[j].name) == 0)
				return false;
	}
	return true;
}

/* name{labels[,le="bound"]} value */
static void put_line(struct tlk_mtext *m, const char *suffix,
		     const struct tlk_label *labels, size_t n, const char *le,
		     double value)
{
	size_t i;

	put_str(m, m->family);
	put_str(m, suffix);
	if (n || le) {
		put_str(m, "{");
		for (i = 0; i < n; i++) {
			put_str(m, i ? "," : "");
			put_str(m, labels[i].name);
			put_str(m, "=\"");
			put_escaped(m, labels[i].value, true);
			put_str(m, "\"");
		}
		if (le) {
			put_str(m, n ? ",le=\"" : "le=\"");
			put_str(m, le);
			put_str(m, "\"");
		}
		put_str(m, "}");
	}
	put_str(m, " ");
	put_value(m, value);
	put_str(m, "\n");
}

void tlk_mtext_sample(struct tlk_mtext *m, const struct tlk_label *labels,
		      size_t nlabels, double value)
{
	if (m->error)
		return;
	if (!m->family[0] || m->type == TLK_METRIC_HISTOGRAM ||
	    !labels_ok(labels, nlabels, false)) {
		fail(m, -EINVAL);
		return;
	}
	put_line(m, "", labels, nlabels, NULL, value);
}

static bool bounds_ok(const double *bounds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isfinite(bounds[i]) ||
		    (i > 0 && bounds[i] <= bounds[i - 1]))
			return false;
	return true;
}

void tlk_mtext_histogram(struct tlk_mtext *m, const struct tlk_label *labels,
			 size_t nlabels, const double *bounds, size_t nbounds,
			 const uint64_t *counts, double sum)
{
	uint64_t total = 0;
	char le[40];
	size_t i;

	if (m->error)
		return;
	if (!m->family[0] || m->type != TLK_METRIC_HISTOGRAM ||
	    !labels_ok(labels, nlabels, true) || !bounds_ok(bounds, nbounds)) {
		fail(m, -EINVAL);
		return;
	}
	for (i = 0; i < nbounds; i++) {
		total += counts[i];
		snprintf(le, sizeof(le), "%.15g", bounds[i]);
		if (strtod(le, NULL) != bounds[i])
			snprintf(le, sizeof(le), "%.17g", bounds[i]);
		put_line(m, "_bucket", labels, nlabels, le, (double)total);
	}
	total += counts[nbounds];
	put_line(m, "_bucket", labels, nlabels, "+Inf", (double)total);
	put_line(m, "_sum", labels, nlabels, NULL, sum);
	put_line(m, "_count", labels, nlabels, NULL, (double)total);
}

static void free_declared(struct tlk_mtext *m)
{
	size_t i;

	for (i = 0; i < m->ndeclared; i++)
		free(m->declared[i]);
	free(m->declared);
	m->declared = NULL;
	m->ndeclared = 0;
}

int tlk_mtext_finish(struct tlk_mtext *m, char **out, size_t *len)
{
	int err;

	free_declared(m);
	if (m->error == 0)
		reserve(m, 1); /* an empty text is still a string */
	err = m->error;
	if (err) {
		free(m->buf);
		*out = NULL;
		*len = 0;
	} else {
		m->buf[m->len] = '\0';
		*out = m->buf;
		*len = m->len;
	}
	memset(m, 0, sizeof(*m));
	return err;
}

void tlk_mtext_discard(struct tlk_mtext *m)
{
	free_declared(m);
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

/* SPDX-License-Identifier: MIT */
/*
 * test_metrics.c - the Prometheus text formatter (include/taglockfs/
 * metrics.h) as tables: label values and help text escaped, values
 * spelled as the format wants them, histograms cumulative with +Inf,
 * _sum and _count, HELP and TYPE once per family, and every input the
 * format cannot carry refused with the error it names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "taglockfs/metrics.h"

/* ------------------------------------------------------------ samples */

struct sample_row {
	const char *label_value;
	double value;
	const char *line; /* the sample line expected */
};

static const struct sample_row sample_rows[] = {
    {"plain", 1, "m_total{k=\"plain\"} 1\n"},
    {"back\\slash", 2, "m_total{k=\"back\\\\slash\"} 2\n"},
    {"a \"quoted\" word", 3, "m_total{k=\"a \\\"quoted\\\" word\"} 3\n"},
    {"two\nlines", 4, "m_total{k=\"two\\nlines\"} 4\n"},
    {"all\\\"\n", 5, "m_total{k=\"all\\\\\\\"\\n\"} 5\n"},
    {"", 0, "m_total{k=\"\"} 0\n"},
    {"utf-8 é", 0.5, "m_total{k=\"utf-8 é\"} 0.5\n"},
    {"big", 18446744073709551616.0,
     "m_total{k=\"big\"} 1.8446744073709552e+19\n"},
    {"third", 1.0 / 3, "m_total{k=\"third\"} 0.33333333333333331\n"},
    {"inf", INFINITY, "m_total{k=\"inf\"} +Inf\n"},
    {"-inf", -INFINITY, "m_total{k=\"-inf\"} -Inf\n"},
    {"nan", NAN, "m_total{k=\"nan\"} NaN\n"},
};

static char *one_sample(const char *value, double v)
{
	struct tlk_label l = {"k", value};
	struct tlk_mtext m;
	char *text;
	size_t len;

	tlk_mtext_init(&m);
	tlk_mtext_family(&m, "m_total", TLK_METRIC_COUNTER, "help");
	tlk_mtext_sample(&m, &l, 1, v);
	assert_int_equal(tlk_mtext_finish(&m, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	return text;
}

static void test_sample_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sample_rows) / sizeof(sample_rows[0]); i++) {
		const struct sample_row *r = &sample_rows[i];
		char *text = one_sample(r->label_value, r->value);
		const char *head =
		    "# HELP m_total help\n# TYPE m_total counter\n";

		assert_true(strncmp(text, head, strlen(head)) == 0);
		assert_string_equal(text + strlen(head), r->line);
		free(text);
	}
}

static void test_help_escaped(void **state)
{
	struct tlk_mtext m;
	char *text;
	size_t len;

	(void)state;
	tlk_mtext_init(&m);
	tlk_mtext_family(&m, "g", TLK_METRIC_GAUGE, "a \\ b\nc \"d\"");
	tlk_mtext_sample(&m, NULL, 0, 7);
	assert_int_equal(tlk_mtext_finish(&m, &text, &len), 0);
	/* In help text a quote stays as it is. */
	assert_string_equal(text, "# HELP g a \\\\ b\\nc \"d\"\n"
				  "# TYPE g gauge\n"
				  "g 7\n");
	free(text);
}

/* ---------------------------------------------------------- histogram */

static void test_histogram_cumulative(void **state)
{
	static const double bounds[] = {0.001, 0.01, 0.5};
	static const uint64_t counts[] = {2, 0, 3, 4}; /* 4 above 0.5 */
	struct tlk_label l = {"op", "read"};
	struct tlk_mtext m;
	char *text;
	size_t len;

	(void)state;
	tlk_mtext_init(&m);
	tlk_mtext_family(&m, "lat_seconds", TLK_METRIC_HISTOGRAM, "latency");
	tlk_mtext_histogram(&m, &l, 1, bounds, 3, counts, 12.25);
	tlk_mtext_histogram(&m, NULL, 0, bounds, 3, counts, 0);
	assert_int_equal(tlk_mtext_finish(&m, &text, &len), 0);
	assert_string_equal(text,
			    "# HELP lat_seconds latency\n"
			    "# TYPE lat_seconds histogram\n"
			    "lat_seconds_bucket{op=\"read\",le=\"0.001\"} 2\n"
			    "lat_seconds_bucket{op=\"read\",le=\"0.01\"} 2\n"
			    "lat_seconds_bucket{op=\"read\",le=\"0.5\"} 5\n"
			    "lat_seconds_bucket{op=\"read\",le=\"+Inf\"} 9\n"
			    "lat_seconds_sum{op=\"read\"} 12.25\n"
			    "lat_seconds_count{op=\"read\"} 9\n"
			    "lat_seconds_bucket{le=\"0.001\"} 2\n"
			    "lat_seconds_bucket{le=\"0.01\"} 2\n"
			    "lat_seconds_bucket{le=\"0.5\"} 5\n"
			    "lat_seconds_bucket{le=\"+Inf\"} 9\n"
			    "lat_seconds_sum 0\n"
			    "lat_seconds_count 9\n");
	free(text);
}

static void test_histogram_empty(void **state)
{
	static const double bounds[] = {5e-05, 1};
	static const uint64_t counts[] = {0, 0, 0};
	struct tlk_mtext m;
	char *text;
	size_t len;

	(void)state;
	tlk_mtext_init(&m);
	tlk_mtext_family(&m, "h", TLK_METRIC_HISTOGRAM, "");
	tlk_mtext_histogram(&m, NULL, 0, bounds, 2, counts, 0);
	assert_int_equal(tlk_mtext_finish(&m, &text, &len), 0);
	assert_string_equal(text, "# HELP h \n# TYPE h histogram\n"
				  "h_bucket{le=\"5e-05\"} 0\n"
				  "h_bucket{le=\"1\"} 0\n"
				  "h_bucket{le=\"+Inf\"} 0\n"
				  "h_sum 0\nh_count 0\n");
	free(text);
}

/* ----------------------------------------------------------- families */

static size_t count_of(const char *text, const char *needle)
{
	size_t n = 0;

	for (; (text = strstr(text, needle)) != NULL; text++)
		n++;
	return n;
}

static void test_help_type_once(void **state)
{
	struct tlk_label a = {"reason", "overwrite"}, b = {"reason", "remove"};
	struct tlk_mtext m;
	char *text;
	size_t len;

	(void)state;
	tlk_mtext_init(&m);
	tlk_mtext_family(&m, "r_total", TLK_METRIC_COUNTER, "refusals");
	tlk_mtext_sample(&m, &a, 1, 1);
	tlk_mtext_sample(&m, &b, 1, 2);
	tlk_mtext_family(&m, "s", TLK_METRIC_GAUGE, "other");
	tlk_mtext_sample(&m, NULL, 0, 3);
	assert_int_equal(tlk_mtext_finish(&m, &text, &len), 0);
	assert_int_equal(count_of(text, "# HELP r_total "), 1);
	assert_int_equal(count_of(text, "# TYPE r_total counter\n"), 1);
	assert_string_equal(text, "# HELP r_total refusals\n"
				  "# TYPE r_total counter\n"
				  "r_total{reason=\"overwrite\"} 1\n"
				  "r_total{reason=\"remove\"} 2\n"
				  "# HELP s other\n# TYPE s gauge\ns 3\n");
	free(text);
}

/* ------------------------------------------------------------- errors */

enum step { FAMILY, SAMPLE, HISTOGRAM };

struct error_row {
	const char *what;
	const char *family; /* declared first (NULL: none) */
	enum tlk_metric_type type;
	enum step step;
	const char *name;   /* FAMILY: the second family's name */
	const char *lname;  /* SAMPLE/HISTOGRAM: one label */
	const char *lname2; /* and a second one, or NULL */
	int bad_bounds;
	int error;
};

static const struct error_row error_rows[] = {
    {"family twice", "f", TLK_METRIC_GAUGE, FAMILY, "f", NULL, NULL, 0,
     -EEXIST},
    {"name with a dash", "f", TLK_METRIC_GAUGE, FAMILY, "a-b", NULL, NULL, 0,
     -EINVAL},
    {"name starting with a digit", "f", TLK_METRIC_GAUGE, FAMILY, "1a", NULL,
     NULL, 0, -EINVAL},
    {"empty name", "f", TLK_METRIC_GAUGE, FAMILY, "", NULL, NULL, 0, -EINVAL},
    {"sample before any family", NULL, TLK_METRIC_GAUGE, SAMPLE, NULL, "k",
     NULL, 0, -EINVAL},
    {"label name with a colon", "f", TLK_METRIC_GAUGE, SAMPLE, NULL, "a:b",
     NULL, 0, -EINVAL},
    {"reserved label name", "f", TLK_METRIC_GAUGE, SAMPLE, NULL, "__x", NULL, 0,
     -EINVAL},
    {"label given twice", "f", TLK_METRIC_GAUGE, SAMPLE, NULL, "k", "k", 0,
     -EINVAL},
    {"plain sample of a histogram", "h", TLK_METRIC_HISTOGRAM, SAMPLE, NULL,
     "k", NULL, 0, -EINVAL},
    {"histogram of a counter", "c", TLK_METRIC_COUNTER, HISTOGRAM, NULL, "k",
     NULL, 0, -EINVAL},
    {"histogram with its own le", "h", TLK_METRIC_HISTOGRAM, HISTOGRAM, NULL,
     "le", NULL, 0, -EINVAL},
    {"bounds not increasing", "h", TLK_METRIC_HISTOGRAM, HISTOGRAM, NULL, "k",
     NULL, 1, -EINVAL},
    {"colon allowed in a metric name", "f", TLK_METRIC_GAUGE, FAMILY, "a:b_c",
     NULL, NULL, 0, 0},
};

static void run_error_row(const struct error_row *r)
{
	static const double good[] = {1, 2}, bad[] = {2, 2};
	static const uint64_t counts[] = {0, 0, 0};
	struct tlk_label l[2] = {{r->lname, "v"}, {r->lname2, "w"}};
	size_t nl = r->lname2 ? 2 : 1;
	struct tlk_mtext m;
	char *text;
	size_t len;

	tlk_mtext_init(&m);
	if (r->family)
		tlk_mtext_family(&m, r->family, r->type, "x");
	switch (r->step) {
	case FAMILY:
		tlk_mtext_family(&m, r->name, TLK_METRIC_GAUGE, "y");
		break;
	case SAMPLE:
		tlk_mtext_sample(&m, l, nl, 1);
		break;
	case HISTOGRAM:
	default:
		tlk_mtext_histogram(&m, l, nl, r->bad_bounds ? bad : good, 2,
				    counts, 0);
		break;
	}
	/* Errors are sticky: what comes after changes nothing. */
	tlk_mtext_family(&m, "later", TLK_METRIC_GAUGE, "z");
	if (tlk_mtext_finish(&m, &text, &len) != r->error)
		fail_msg("%s: expected %d", r->what, r->error);
	if (r->error == 0)
		free(text);
	else
		assert_null(text);
}

static void test_error_rows(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(error_rows) / sizeof(error_rows[0]); i++)
		run_error_row(&error_rows[i]);
}

static void test_discard(void **state)
{
	struct tlk_mtext m;

	(void)state;
	tlk_mtext_init(&m);
	tlk_mtext_family(&m, "f", TLK_METRIC_GAUGE, "x");
	tlk_mtext_sample(&m, NULL, 0, 1);
	tlk_mtext_discard(&m); /* nothing leaks (ASan build) */
	assert_null(m.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sample_rows),
	    cmocka_unit_test(test_help_escaped),
	    cmocka_unit_test(test_histogram_cumulative),
	    cmocka_unit_test(test_histogram_empty),
	    cmocka_unit_test(test_help_type_once),
	    cmocka_unit_test(test_error_rows),
	    cmocka_unit_test(test_discard),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

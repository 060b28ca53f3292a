/* SPDX-License-Identifier: MIT */
/*
 * test_log.c - one call, one line: what tlk_log() writes to stderr, read
 * back from a temporary file standing in for it. Nothing a message carries
 * (a file name, an error text) can start a new line for any reader: ASCII
 * controls, C1 controls and the Unicode separators U+2028 and U+2029 each
 * become '?'; other UTF-8 passes unchanged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "taglockfs/log.h"

/* Log `msg` (as a %s argument) at error level; return what stderr got. */
static char *logged(const char *msg)
{
	FILE *tmp = tmpfile();
	static char buf[4096];
	int saved;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	tlk_log_init("tlk", false, false);
	tlk_err("name %s end", msg);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return buf;
}

static void test_unicode_separators_are_not_line_breaks(void **state)
{
	(void)state;
	assert_string_equal(logged("a\xe2\x80\xa8"
				   "b\xe2\x80\xa9"
				   "c"),
			    "tlk: error: name a?b?c end\n");
}

static void test_c1_controls_shown_as_one_mark(void **state)
{
	(void)state;
	/* NEL (U+0085) and CSI (U+009B) */
	assert_string_equal(logged("a\xc2\x85"
				   "b\xc2\x9b"
				   "c"),
			    "tlk: error: name a?b?c end\n");
}

static void test_ascii_controls_still_marked(void **state)
{
	(void)state;
	assert_string_equal(logged("a\nb\rc\x1b"
				   "d\te"),
			    "tlk: error: name a?b?c?d\te end\n");
}

static void test_other_utf8_unchanged(void **state)
{
	(void)state;
	/* é, €, U+2027 and U+202A (neighbours of the separators), U+00A0 */
	const char *s = "\xc3\xa9\xe2\x82\xac\xe2\x80\xa7\xe2\x80\xaa\xc2\xa0";
	char want[128];

	snprintf(want, sizeof(want), "tlk: error: name %s end\n", s);
	assert_string_equal(logged(s), want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unicode_separators_are_not_line_breaks),
	    cmocka_unit_test(test_c1_controls_shown_as_one_mark),
	    cmocka_unit_test(test_ascii_controls_still_marked),
	    cmocka_unit_test(test_other_utf8_unchanged),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * log.c - one line per call, to stderr or to syslog.
 *
 * Every message is formatted into a buffer on the caller's stack and leaves
 * in a single write(2) (or a single syslog(3) call), so lines from
 * concurrent threads never interleave and no lock is needed. The buffer is
 * smaller than PIPE_BUF, which keeps each line atomic on a pipe as well.
 *
 * A message longer than the buffer is cut on a UTF-8 character boundary and
 * ends in "...". Control characters inside a message (a newline smuggled in
 * through a file name, say), C1 controls and the Unicode line and paragraph
 * separators U+2028/U+2029 are shown as '?', so one call is always exactly
 * one line, for every reader. errno is the same after tlk_log() as before it.
 *
 * The configuration is written by tlk_log_init() before threads start and
 * only read afterwards.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "taglockfs/log.h"

#define LOG_LINE_MAX 2048 /* whole line, prefix and newline included */
#define LOG_IDENT_MAX 64

static char log_ident[LOG_IDENT_MAX] = "taglockfs";
static bool log_to_syslog;
static bool log_debug;

void tlk_log_init(const char *ident, bool to_syslog, bool debug)
{
	if (ident != NULL && ident[0] != '\0')
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	if (log_to_syslog && !to_syslog)
		closelog();
	log_to_syslog = to_syslog;
	log_debug = debug;
	/* openlog() keeps the pointer: log_ident lives for the program. */
	if (to_syslog)
		openlog(log_ident, LOG_PID, LOG_DAEMON);
}

static int syslog_priority(enum tlk_log_level level)
{
	switch (level) {
	case TLK_LOG_ERR:
		return LOG_ERR;
	case TLK_LOG_WARNING:
		return LOG_WARNING;
	case TLK_LOG_NOTICE:
		return LOG_NOTICE;
	case TLK_LOG_INFO:
		return LOG_INFO;
	case TLK_LOG_DEBUG:
		return LOG_DEBUG;
	default:
		return LOG_ERR;
	}
}

static const char *level_word(enum tlk_log_level level)
{
	switch (level) {
	case TLK_LOG_ERR:
		return "error: ";
	case TLK_LOG_WARNING:
		return "warning: ";
	case TLK_LOG_NOTICE:
	case TLK_LOG_INFO:
	case TLK_LOG_DEBUG:
		return "";
	default:
		return "";
	}
}

/* Cut msg[0..len) to at most `room` bytes without splitting a UTF-8
 * sequence, and end it with "...". Returns the new length. */
static size_t truncate_marked(char *msg, size_t len, size_t room)
{
	static const char mark[] = "...";
	size_t cut;

	if (len <= room)
		return len;
	cut = room - (sizeof(mark) - 1);
	/* Step back over continuation bytes so no character is split. */
	while (cut > 0 && ((unsigned char)msg[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(msg + cut, mark, sizeof(mark) - 1);
	return cut + sizeof(mark) - 1;
}

/* Bytes at msg[i..len) that start a character some reader takes as a
 * line break or control: C1 controls (U+0080..U+009F, NEL among them) and
 * the Unicode line and paragraph separators U+2028, U+2029. 0 if none. */
static size_t unicode_break_len(const unsigned char *msg, size_t i, size_t len)
{
	if (i + 1 < len && msg[i] == 0xc2 && msg[i + 1] >= 0x80 &&
	    msg[i + 1] <= 0x9f)
		return 2;
	if (i + 2 < len && msg[i] == 0xe2 && msg[i + 1] == 0x80 &&
	    (msg[i + 2] == 0xa8 || msg[i + 2] == 0xa9))
		return 3;
	return 0;
}

/* Drop trailing newlines and show other control characters, and the
 * Unicode ones above, as one '?' each. Returns the new length. */
static size_t sanitize(char *msg, size_t len)
{
	unsigned char *u = (unsigned char *)msg;
	size_t i = 0, out = 0, n;

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		len--;
	while (i < len) {
		unsigned char c = u[i];

		n = unicode_break_len(u, i, len);
		if (n) {
			msg[out++] = '?';
			i += n;
			continue;
		}
		msg[out++] =
		    (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
		i++;
	}
	return out;
}

/* Format the message part into buf[0..size). Returns its length. */
__attribute__((format(printf, 3, 0))) static size_t
format_message(char *buf, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, size, fmt, ap);

	if (n < 0) {
		snprintf(buf, size, "(unprintable log message)");
		return strlen(buf);
	}
	if ((size_t)n >= size)
		return truncate_marked(buf, (size_t)n, size - 1);
	return (size_t)n;
}

static void write_line(const char *line, size_t len)
{
	ssize_t n;

	do {
		n = write(STDERR_FILENO, line, len);
	} while (n < 0 && errno == EINTR);
	/* A failing stderr leaves nowhere to report to: drop the line. */
}

void tlk_vlog(enum tlk_log_level level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int saved_errno = errno;
	size_t prefix = 0;
	size_t len;

	if (level == TLK_LOG_DEBUG && !log_debug)
		return;
	if (!log_to_syslog) {
		int n = snprintf(line, sizeof(line), "%s: %s", log_ident,
				 level_word(level));

		prefix = n > 0 ? (size_t)n : 0;
	}
	/* Leave one byte for the newline and one for the NUL. */
	len = format_message(line + prefix, sizeof(line) - prefix - 1, fmt, ap);
	len = prefix + sanitize(line + prefix, len);

	if (log_to_syslog) {
		line[len] = '\0';
		syslog(syslog_priority(level), "%s", line);
	} else {
		line[len++] = '\n';
		write_line(line, len);
	}
	errno = saved_errno;
}

void tlk_log(enum tlk_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tlk_vlog(level, fmt, ap);
	va_end(ap);
}

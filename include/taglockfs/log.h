/* SPDX-License-Identifier: MIT */
/*
 * log.h - one logger for the daemon, the plugin and libfuse's own messages.
 *
 * Lines go to stderr while running in the foreground and to syslog
 * (facility daemon, ident from tlk_log_init) otherwise. Thread-safe: each
 * call emits one whole line.
 */
#ifndef TAGLOCKFS_LOG_H
#define TAGLOCKFS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum tlk_log_level {
	TLK_LOG_ERR = 3,
	TLK_LOG_WARNING = 4,
	TLK_LOG_NOTICE = 5,
	TLK_LOG_INFO = 6,
	TLK_LOG_DEBUG = 7,
};

/* Configure once before threads start. `to_syslog` switches from stderr
 * to syslog; `debug` lets TLK_LOG_DEBUG lines through. */
void tlk_log_init(const char *ident, bool to_syslog, bool debug);

void tlk_log(enum tlk_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The same with a va_list (for fuse_set_log_func). */
void tlk_vlog(enum tlk_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define tlk_err(...) tlk_log(TLK_LOG_ERR, __VA_ARGS__)
#define tlk_warn(...) tlk_log(TLK_LOG_WARNING, __VA_ARGS__)
#define tlk_notice(...) tlk_log(TLK_LOG_NOTICE, __VA_ARGS__)
#define tlk_info(...) tlk_log(TLK_LOG_INFO, __VA_ARGS__)
#define tlk_debug(...) tlk_log(TLK_LOG_DEBUG, __VA_ARGS__)

#endif

/* SPDX-License-Identifier: MIT */
/*
 * perr.c - error sentences and checked path formatting (see plugin.h).
 */
#include <errno.h>
#include <stdio.h>

#include "taglockfs/plugin.h"

int tlk_perr_set(struct tlk_perr *err, int ret, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (err != NULL) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return ret;
}

int tlk_pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	return (size_t)n >= size ? -ENAMETOOLONG : 0;
}

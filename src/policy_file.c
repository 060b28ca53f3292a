/* SPDX-License-Identifier: MIT */
/*
 * policy_file.c - read the policy file (policy.h): only a regular file,
 * opened without blocking, at most 1 MiB; errors name no path and say what
 * kind of fault it was, so the caller can log each change of state once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taglockfs/policy.h"

#define POLICY_MAX_BYTES TLK_POLICY_MAX_BYTES

/* Read at most POLICY_MAX_BYTES + 1 bytes of fd into a new buffer. */
static int read_all(int fd, size_t hint, char **out, size_t *len)
{
	size_t cap = hint < POLICY_MAX_BYTES ? hint + 1 : POLICY_MAX_BYTES + 1;
	size_t used = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (used == cap) {
			char *grown;

			if (cap > POLICY_MAX_BYTES)
				break;
			cap = cap * 2 > POLICY_MAX_BYTES + 1
				  ? POLICY_MAX_BYTES + 1
				  : cap * 2;
			grown = realloc(buf, cap);
			if (!grown) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	*out = buf;
	*len = used;
	return 0;
}

static const char *file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "unknown type";
	}
}

/* A file-level fault: no line, no column; the message names no path
 * (the caller prefixes it, see tlk_policy_error_format). */
static int file_fault(struct tlk_policy_error *err, enum tlk_policy_fault f,
		      int rc, const char *what)
{
	err->fault = f;
	snprintf(err->message, sizeof(err->message), "%s", what);
	return rc;
}

static int open_fault(struct tlk_policy_error *err, int e, const char *verb)
{
	char what[160];

	if (e == ELOOP)
		snprintf(what, sizeof(what), "cannot %s: %s (a symlink loop?)",
			 verb, strerror(e));
	else
		snprintf(what, sizeof(what), "cannot %s: %s", verb,
			 strerror(e));
	return file_fault(err,
			  e == ENOENT || e == ENOTDIR ? TLK_POLICY_MISSING
						      : TLK_POLICY_UNREADABLE,
			  -e, what);
}

/* Only a regular file (after following symlinks) is read: a FIFO, a
 * socket or a device could block the reader or answer anything. The type
 * is checked before opening (opening a device can have effects), the open
 * cannot block (O_NONBLOCK), and the descriptor is checked again, since
 * the name may have been replaced in between. */
static int open_regular(const char *path, struct stat *st,
			struct tlk_policy_error *err)
{
	int fd;

	if (stat(path, st) < 0)
		return open_fault(err, errno, "open");
	if (!S_ISREG(st->st_mode))
		goto not_regular;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return open_fault(err, errno, "open");
	if (fstat(fd, st) < 0) {
		int e = errno;

		close(fd);
		return open_fault(err, e, "read");
	}
	if (S_ISREG(st->st_mode))
		return fd;
	close(fd);
not_regular:
	snprintf(err->message, sizeof(err->message), "not a regular file: %s",
		 file_type_name(st->st_mode));
	err->fault = TLK_POLICY_NOT_REGULAR;
	return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
}

int tlk_policy_load_file(const char *path, struct tlk_policy **out,
			 struct tlk_policy_error *err)
{
	struct tlk_policy_error dummy;
	struct stat st;
	size_t len = 0;
	char *buf = NULL;
	int fd, rc;

	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	if (out)
		*out = NULL;
	if (!path || !out) {
		snprintf(err->message, sizeof(err->message),
			 "invalid argument");
		return -EINVAL;
	}
	fd = open_regular(path, &st, err);
	if (fd < 0)
		return fd;
	rc = read_all(fd, (size_t)st.st_size, &buf, &len);
	close(fd);
	if (rc)
		return open_fault(err, -rc, "read");
	if (len > POLICY_MAX_BYTES) {
		free(buf);
		return file_fault(err, TLK_POLICY_INVALID, -EFBIG,
				  "policy file is larger than 1 MiB");
	}
	rc = tlk_policy_load_buffer(buf, len, out, err);
	free(buf);
	return rc;
}

void tlk_policy_error_format(const char *path,
			     const struct tlk_policy_error *err, char *buf,
			     size_t size)
{
	if (err->line)
		snprintf(buf, size, "%s:%u:%u: %s", path, err->line,
			 err->column, err->message);
	else
		snprintf(buf, size, "%s: %s", path, err->message);
}

/* SPDX-License-Identifier: MIT */
/*
 * fs.c - the plugin's own files: atomic state file, mkdir -p, rm -r that
 * stays on one filesystem (see plugin_fs.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "taglockfs/plugin.h"
#include "taglockfs/plugin_fs.h"

static int split_path(const char *path, char *dir, size_t size,
		      const char **base)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL || slash[1] == '\0')
		return -EINVAL;
	*base = slash + 1;
	if (slash == path)
		return tlk_pathf(dir, size, "/");
	if ((size_t)(slash - path) >= size)
		return -ENAMETOOLONG;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write text to dirfd/tmp and fsync it. */
static int write_temp(int dirfd, const char *tmp, const char *text)
{
	int fd, ret;

	fd =
	    openat(dirfd, tmp,
		   O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, text, strlen(text));
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

int tlk_fs_save_json(const char *path, json_t *doc)
{
	char dir[4096], tmp[300];
	const char *base;
	char *text;
	int dirfd, ret;

	if ((ret = split_path(path, dir, sizeof(dir), &base)) < 0)
		return ret;
	if ((ret = tlk_pathf(tmp, sizeof(tmp), ".%s.tmp", base)) < 0)
		return ret;
	text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL)
		return -ENOMEM;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		ret = -errno;
		free(text);
		return ret;
	}
	ret = write_temp(dirfd, tmp, text);
	if (ret == 0 && renameat(dirfd, tmp, dirfd, base) < 0)
		ret = -errno;
	if (ret == 0 && fsync(dirfd) < 0)
		ret = -errno;
	if (ret < 0)
		unlinkat(dirfd, tmp, 0);
	close(dirfd);
	free(text);
	return ret;
}

int tlk_fs_load_json(const char *path, json_t **doc, char *why, size_t len)
{
	json_error_t jerr;
	FILE *f;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return -ENOMEM;
	}
	*doc = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (*doc == NULL) {
		snprintf(why, len, "line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		return -EBADMSG;
	}
	return 0;
}

int tlk_fs_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	char *p;
	int ret;

	if ((ret = tlk_pathf(buf, sizeof(buf), "%s", path)) < 0)
		return ret;
	for (p = buf + 1;; p++) {
		bool end = *p == '\0';

		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		if (end)
			break;
		*p = '/';
	}
	return 0;
}

/* Is dirfd/name a mountpoint? statx knows, whatever the filesystem. */
static bool is_mount_root(int dirfd, const char *name, dev_t parent_dev)
{
	struct statx stx;

	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) <
	    0)
		return false;
	if (makedev(stx.stx_dev_major, stx.stx_dev_minor) != parent_dev)
		return true;
	return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static int remove_at(int dirfd, const char *name, dev_t dev, int depth);

static int remove_children(int fd, dev_t dev, int depth)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int ret = 0;

	if (d == NULL) {
		ret = -errno;
		close(fd);
		return ret;
	}
	while (ret == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		ret = remove_at(dirfd(d), de->d_name, dev, depth + 1);
	}
	if (ret == 0 && errno != 0)
		ret = -errno;
	closedir(d);
	return ret;
}

static int remove_at(int dirfd, const char *name, dev_t dev, int depth)
{
	struct stat st;
	int fd, ret;

	if (depth > 256)
		return -ELOOP;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno
								       : 0;
	if (is_mount_root(dirfd, name, dev))
		return -EBUSY;
	fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((ret = remove_children(fd, dev, depth)) < 0)
		return ret;
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT
		   ? -errno
		   : 0;
}

int tlk_fs_remove_tree(const char *path)
{
	char dir[4096];
	const char *base;
	struct stat st;
	int dirfd, ret;

	if ((ret = split_path(path, dir, sizeof(dir), &base)) < 0)
		return ret;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(dirfd, &st) < 0)
		ret = -errno;
	else
		ret = remove_at(dirfd, base, st.st_dev, 0);
	close(dirfd);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * mountpoint.c - the paths taglockfs mounts over, before it mounts: a dead
 * mount a killed daemon left there is detached, and an empty mount point
 * is made to refuse writes while nothing is mounted on it (docs/design.md,
 * "Lifecycle").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mountpoint.h"
#include "taglockfs/log.h"

extern char **environ;

#define OUR_FSTYPE "fuse.taglockfs"

/* One mount in /proc/self/mountinfo, as far as we need it. */
struct mount_facts {
	char fstype[64];
	char source[PATH_MAX];
};

/* The kernel writes space, tab, newline and backslash in mountinfo paths
 * as \ooo; undo that in place. */
static void unescape_octal(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/* The canonical absolute form of `path` as mountinfo shows it. The last
 * component cannot be resolved (it answers ENOTCONN), so its parent is,
 * and the name appended. Returns 0 or -errno. */
static int canonical_path(const char *path, char *out, size_t size)
{
	char copy[PATH_MAX], parent[PATH_MAX];
	char *slash, *name;
	size_t len;

	len = strlen(path);
	if (len == 0 || len >= sizeof(copy))
		return -ENAMETOOLONG;
	memcpy(copy, path, len + 1);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	slash = strrchr(copy, '/');
	if (!slash) {
		name = copy;
		if (!realpath(".", parent))
			return -errno;
	} else {
		name = slash + 1;
		*slash = '\0';
		if (!realpath(slash == copy ? "/" : copy, parent))
			return -errno;
	}
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (snprintf(out, size, "%s/%s", strcmp(parent, "/") ? parent : "",
		     name) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

/* Fill `facts` from one mountinfo line if it is a mount on `target`.
 * Fields: id parent maj:min root mountpoint options [tags] - fstype
 * source superoptions. */
static int match_line(char *line, const char *target, struct mount_facts *facts)
{
	char *sep = strstr(line, " - ");
	char *save = NULL, *field, *fstype, *source;
	int i;

	if (!sep)
		return 0;
	*sep = '\0';
	field = strtok_r(line, " ", &save);
	for (i = 0; field && i < 4; i++)
		field = strtok_r(NULL, " ", &save);
	if (!field)
		return 0;
	unescape_octal(field);
	if (strcmp(field, target) != 0)
		return 0;
	save = NULL;
	fstype = strtok_r(sep + 3, " ", &save);
	source = strtok_r(NULL, " ", &save);
	if (!fstype)
		return 0;
	snprintf(facts->fstype, sizeof(facts->fstype), "%s", fstype);
	if (source)
		unescape_octal(source);
	snprintf(facts->source, sizeof(facts->source), "%s",
		 source ? source : "?");
	return 1;
}

/* The topmost mount on `target` (mountinfo lists stacked mounts in
 * order, the last one is on top). Returns 1 found, 0 none, -errno. */
static int find_mount(const char *target, struct mount_facts *facts)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (match_line(line, target, facts))
			found = 1;
	}
	free(line);
	fclose(f);
	return found;
}

static int run_fusermount_detach(const char *path)
{
	char *argv[] = {(char *)"fusermount3", (char *)"-u", (char *)"-z",
			(char *)path, NULL};
	int status, ret;
	pid_t pid;

	ret = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (ret != 0)
		return -ret;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

int tlk_mnt_detach(const char *path)
{
	if (geteuid() != 0)
		return run_fusermount_detach(path);
	return umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0 ? 0 : -errno;
}

/* `path` answers as a dead mount (dead_errno): detach the mount on it if
 * it is a dead taglockfs. Returns 0 detached, -1 after saying why not. */
static int detach_dead(const char *path)
{
	struct mount_facts facts;
	char target[PATH_MAX];
	int ret;

	ret = canonical_path(path, target, sizeof(target));
	if (ret == 0)
		ret = find_mount(target, &facts);
	if (ret <= 0) {
		tlk_err("%s: %s, and no mount sits on it to detach%s%s", path,
			strerror(ENOTCONN), ret < 0 ? ": " : "",
			ret < 0 ? strerror(-ret) : "");
		return -1;
	}
	if (strcmp(facts.fstype, OUR_FSTYPE) != 0) {
		tlk_err("%s: %s: a dead %s mount (of %s), not taglockfs's; "
			"left alone (detach it with: fusermount3 -u -z %s)",
			path, strerror(ENOTCONN), facts.fstype, facts.source,
			target);
		return -1;
	}
	ret = tlk_mnt_detach(target);
	if (ret < 0) {
		tlk_err(
		    "%s: cannot detach the dead taglockfs mount (of %s): %s",
		    target, facts.source, strerror(-ret));
		return -1;
	}
	tlk_notice("%s: detached the dead taglockfs mount of %s that a "
		   "stopped daemon left (it answered: %s)",
		   target, facts.source, strerror(ENOTCONN));
	return 0;
}

/* What a FUSE mount whose daemon died answers: ENOTCONN, or
 * ECONNABORTED when it was served over io_uring (the kernel aborts the
 * connection when the rings go away). */
static bool dead_errno(int err)
{
	return err == ENOTCONN || err == ECONNABORTED;
}

/* stat() may answer from attributes the kernel still caches for the
 * root of a dead FUSE mount (up to its attribute timeout); statfs() always
 * asks the daemon, so it is the probe. */
static bool is_dead(const char *path)
{
	struct statfs sf;
	struct stat st;

	if (statfs(path, &sf) < 0 && dead_errno(errno))
		return true;
	return stat(path, &st) < 0 && dead_errno(errno);
}

int tlk_mnt_clear_dead(const char *path)
{
	int round;

	/* Dead mounts can be stacked (a daemon killed while another was
	 * starting); a few rounds, never an endless loop. */
	for (round = 0; round < 4; round++) {
		if (!is_dead(path))
			return 0;
		if (detach_dead(path) < 0)
			return -1;
	}
	tlk_err("%s: still %s after detaching %d dead mounts", path,
		strerror(ENOTCONN), round);
	return -1;
}

/* Entries in the directory `fd` other than . and ..; -errno on error. */
static long count_entries(int fd)
{
	DIR *d;
	struct dirent *de;
	long n = 0;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		int err = errno;
		if (dfd >= 0)
			close(dfd);
		return -err;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* chattr +i through the descriptor. Returns 0 (also when already set) or
 * -errno. */
static int set_immutable(int fd)
{
	int flags;

	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		return -errno;
	if (flags & FS_IMMUTABLE_FL)
		return 0;
	flags |= FS_IMMUTABLE_FL;
	return ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0 ? -errno : 0;
}

int tlk_mnt_guard(const char *mnt)
{
	int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	long entries;
	int ret;

	if (fd < 0) {
		tlk_err("mountpoint %s: %s", mnt, strerror(errno));
		return -1;
	}
	entries = count_entries(fd);
	if (entries > 0)
		tlk_warn("mountpoint %s is not empty (%ld entries): they are "
			 "hidden while taglockfs is mounted, and what lies "
			 "in its subdirectories stays writable when it is not",
			 mnt, entries);
	ret = set_immutable(fd);
	if (ret == 0) {
		tlk_notice(
		    "mountpoint %s is immutable (chattr +i): nothing can "
		    "be written there while taglockfs is not mounted",
		    mnt);
	} else if (geteuid() != 0) {
		/* fusermount3 wants write access to the mount point: mode 0
		 * would stop our own mount. */
		tlk_err("mountpoint %s: guard_mountpoint: cannot set the "
			"immutable attribute (%s), and a daemon that is not "
			"root cannot mount on a mode 0 directory",
			mnt, strerror(-ret));
		ret = -1;
	} else if (fchmod(fd, 0) == 0) {
		tlk_warn(
		    "mountpoint %s: cannot set the immutable attribute "
		    "(%s); mode 0 instead, which stops every user but root "
		    "from writing there while taglockfs is not mounted",
		    mnt, strerror(-ret));
		ret = 0;
	} else {
		tlk_err("mountpoint %s: cannot make it unwritable: chattr +i: "
			"%s; chmod 0: %s",
			mnt, strerror(-ret), strerror(errno));
		ret = -1;
	}
	close(fd);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * mount.c - run taglockfs for one volume, unmount it, tell whether it is
 * alive (see plugin_mount.h).
 *
 * The child is started with posix_spawn (safe in a threaded program) in a
 * new session with default signal handling and an empty mask; every fd of
 * the plugin is O_CLOEXEC, so the long-lived taglockfs daemon never holds
 * the plugin's socket. Its stderr comes back through a pipe; once the
 * child has exited (taglockfs daemonizes after mounting) whatever it wrote
 * is the error message.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "taglockfs/log.h"
#include "taglockfs/plugin_mount.h"

#define FUSE_MAGIC 0x65735546
#define STDERR_KEEP 1024

extern char **environ;

const char *tlk_mnt_state_name(enum tlk_mnt_state state)
{
	switch (state) {
	case TLK_MNT_NONE:
		return "not mounted";
	case TLK_MNT_LIVE:
		return "mounted";
	case TLK_MNT_DEAD:
		return "mounted, but its taglockfs process is gone";
	case TLK_MNT_FOREIGN:
		return "covered by a mount that is not taglockfs";
	case TLK_MNT_ERROR:
		return "cannot be examined";
	case TLK_MNT_HUNG:
		return "mounted, but its taglockfs does not answer "
		       "(stopped or hung)";
	default:
		return "unknown";
	}
}

static bool gone_errno(int e)
{
	return e == ENOTCONN || e == ECONNABORTED;
}

enum tlk_mnt_state tlk_mnt_probe(const char *mnt)
{
	char parent[4096];
	struct stat st, pst;
	struct statfs sf;
	char *slash;

	if (tlk_pathf(parent, sizeof(parent), "%s", mnt) < 0 ||
	    (slash = strrchr(parent, '/')) == NULL || slash == parent)
		return TLK_MNT_ERROR;
	*slash = '\0';
	if (lstat(mnt, &st) < 0)
		return gone_errno(errno) ? TLK_MNT_DEAD
		       : errno == ENOENT ? TLK_MNT_NONE
					 : TLK_MNT_ERROR;
	if (stat(parent, &pst) < 0)
		return TLK_MNT_ERROR;
	if (st.st_dev == pst.st_dev)
		return TLK_MNT_NONE;
	if (statfs(mnt, &sf) < 0)
		return gone_errno(errno) ? TLK_MNT_DEAD : TLK_MNT_ERROR;
	return sf.f_type == FUSE_MAGIC ? TLK_MNT_LIVE : TLK_MNT_FOREIGN;
}

int tlk_mnt_stop(const char *mnt, int lazy, struct tlk_perr *err)
{
	int i;

	/* Repeat: a volume remounted over a dead mount can hold two. */
	for (i = 0; i < 8; i++) {
		if (umount2(mnt, UMOUNT_NOFOLLOW) == 0)
			continue;
		if (errno == EINVAL || errno == ENOENT)
			return 0;
		if (errno == EBUSY && lazy &&
		    umount2(mnt, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
			continue;
		return tlk_perr_set(
		    err, -errno, "cannot unmount %s: %m%s", mnt,
		    errno == EBUSY ? " (a process still uses it)" : "");
	}
	return 0;
}

/* Append what the child wrote, keeping the last STDERR_KEEP bytes. */
static void collect(int fd, char *buf, size_t *len)
{
	char tmp[512];
	ssize_t n;

	while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
		size_t add = (size_t)n;

		if (*len + add > STDERR_KEEP) {
			size_t drop = *len + add - STDERR_KEEP;

			drop = drop > *len ? *len : drop;
			memmove(buf, buf + drop, *len - drop);
			*len -= drop;
			if (add > STDERR_KEEP)
				add = STDERR_KEEP;
		}
		memcpy(buf + *len, tmp + (size_t)n - add, add);
		*len += add;
	}
}

static int spawn_child(const struct tlk_mnt_args *a, int errfd, pid_t *pid)
{
	char opts[8400];
	char *argv[6];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int ret;

	if (tlk_pathf(opts, sizeof(opts), "policy=%s,audit_log=%s,allow_other",
		      a->policy, a->audit_log) < 0)
		return -ENAMETOOLONG;
	argv[0] = (char *)a->taglockfs;
	argv[1] = (char *)"-o";
	argv[2] = opts;
	argv[3] = (char *)a->backing;
	argv[4] = (char *)a->mnt;
	argv[5] = NULL;
	sigemptyset(&none);
	sigfillset(&dfl);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
					    POSIX_SPAWN_SETSIGDEF |
					    POSIX_SPAWN_SETSID);
	ret = -posix_spawn(pid, a->taglockfs, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return ret;
}

/* Wait for the child, gathering its stderr; kill it after timeout_s.
 * Returns its wait status, or -ETIMEDOUT. */
static int wait_child(pid_t pid, int fd, unsigned timeout_s, char *buf,
		      size_t *len)
{
	struct timespec start, now;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid) {
			collect(fd, buf, len);
			return status;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)timeout_s) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			collect(fd, buf, len);
			return -ETIMEDOUT;
		}
		if (poll(&p, 1, 50) > 0)
			collect(fd, buf, len);
	}
}

/* Make the child's words fit in a one-line error. */
static void flatten(char *s, size_t len)
{
	size_t i;

	s[len] = '\0';
	for (i = 0; i < len; i++)
		if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
			s[i] = ' ';
	while (len > 0 && s[len - 1] == ' ')
		s[--len] = '\0';
}

static int explain(const struct tlk_mnt_args *a, int status, char *out,
		   struct tlk_perr *err)
{
	if (status == -ETIMEDOUT)
		return tlk_perr_set(
		    err, -ETIMEDOUT,
		    "taglockfs did not finish mounting %s within %u s%s%s",
		    a->mnt, a->timeout_s, out[0] ? ": " : "", out);
	if (WIFSIGNALED(status))
		return tlk_perr_set(err, -EIO,
				    "taglockfs was killed by signal %d%s%s",
				    WTERMSIG(status), out[0] ? ": " : "", out);
	return tlk_perr_set(err, -EIO,
			    "taglockfs refused to mount (exit %d): %s",
			    WEXITSTATUS(status), out[0] ? out : "no message");
}

int tlk_mnt_start(const struct tlk_mnt_args *a, struct tlk_perr *err)
{
	char out[STDERR_KEEP + 1];
	size_t len = 0;
	int pipefd[2], status, ret;
	enum tlk_mnt_state st;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
		return tlk_perr_set(err, -errno, "pipe: %m");
	ret = spawn_child(a, pipefd[1], &pid);
	close(pipefd[1]);
	if (ret < 0) {
		close(pipefd[0]);
		return tlk_perr_set(err, ret, "cannot run %s: %s", a->taglockfs,
				    strerror(-ret));
	}
	status = wait_child(pid, pipefd[0], a->timeout_s, out, &len);
	close(pipefd[0]);
	flatten(out, len);
	if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		st = tlk_mnt_probe_within(NULL, a->mnt, a->probe_ms);
		if (st == TLK_MNT_LIVE)
			return 0;
		ret = tlk_perr_set(
		    err, -EIO, "taglockfs exited 0 but %s is %s%s%s", a->mnt,
		    tlk_mnt_state_name(st), out[0] ? ": " : "", out);
	} else {
		ret = explain(a, status, out, err);
	}
	st = tlk_mnt_probe_within(NULL, a->mnt, a->probe_ms);
	if (st == TLK_MNT_LIVE || st == TLK_MNT_DEAD || st == TLK_MNT_HUNG)
		tlk_mnt_stop(a->mnt, 1, NULL);
	return ret;
}

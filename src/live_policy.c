/* SPDX-License-Identifier: MIT */
/*
 * live_policy.c - the policy in force, reloaded on change (live_policy.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "taglockfs/live_policy.h"
#include "taglockfs/log.h"

#include "metrics.h"

/* A loaded policy and the number of its holders (the live holder counts). */
struct policy_ref {
	struct tlk_policy *policy;
	atomic_uint refs;
};

/* What identifies one version of the file (stat, following symlinks). */
struct file_id {
	dev_t dev;
	ino_t ino;
	mode_t mode;
	off_t size;
	struct timespec mtime, ctime;
	int error; /* stat failed with this errno: no file to identify */
	bool known; /* a version was seen at all */
};

struct tlk_live_policy {
	char path[PATH_MAX];
	pthread_mutex_t lock; /* protects the fields up to `shown` */
	struct policy_ref *current;
	struct file_id loaded;	 /* the file `current` came from */
	struct file_id rejected; /* last version that failed to load */
	unsigned long settled;	 /* ticket of the newest load applied */
	struct tlk_policy_error shown; /* the fault logged last, if any */
	atomic_ulong tickets;	       /* one per load, in start order */
	pthread_t watcher;
	bool watching;
	int wake[2];	  /* SIGHUP and close -> watcher */
	atomic_bool stop; /* close: the watcher ends */
};

static struct tlk_live_policy *sighup_target;

static void file_id_of(const char *path, struct file_id *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	id->known = true;
	if (stat(path, &st) < 0) {
		id->error = errno;
		return;
	}
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->mode = st.st_mode;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
	id->ctime = st.st_ctim;
}

static bool file_id_equal(const struct file_id *a, const struct file_id *b)
{
	return a->known && b->known && a->error == b->error &&
	       a->dev == b->dev && a->ino == b->ino && a->mode == b->mode &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void ref_put(struct policy_ref *ref)
{
	if (atomic_fetch_sub(&ref->refs, 1) == 1) {
		tlk_policy_free(ref->policy);
		free(ref);
	}
}

static bool same_fault(const struct tlk_policy_error *a,
		       const struct tlk_policy_error *b)
{
	return a->fault == b->fault && a->line == b->line &&
	       a->column == b->column && strcmp(a->message, b->message) == 0;
}

/* What one load found, and what applying it changed. */
struct load_result {
	struct policy_ref *old;	   /* replaced: the caller puts it */
	bool stale;		   /* a newer load was applied first */
	bool log_fault;		   /* a new fault: log it */
	bool recovered;		   /* valid after a logged fault */
	bool changed;		   /* another version than the one in force */
	size_t entries, immutable; /* of `policy`, counted while owned */
};

/* Apply a finished load under the lock: only the newest load counts, so
 * two concurrent loads cannot put an older version back in force. */
static void settle(struct tlk_live_policy *lp, unsigned long ticket,
		   const struct file_id *id, struct policy_ref *ref,
		   const struct tlk_policy_error *err, struct load_result *r)
{
	pthread_mutex_lock(&lp->lock);
	if (ticket < lp->settled) {
		r->stale = true;
	} else if (!ref) {
		lp->settled = ticket;
		tlk_metrics_policy_failed(!file_id_equal(id, &lp->rejected));
		lp->rejected = *id;
		r->log_fault = !same_fault(err, &lp->shown);
		lp->shown = *err;
	} else {
		lp->settled = ticket;
		r->changed = !file_id_equal(id, &lp->loaded);
		r->old = lp->current;
		lp->current = ref;
		lp->loaded = *id;
		r->recovered = lp->shown.fault != TLK_POLICY_OK;
		/* a reload: another version than the first one (no `old`) */
		tlk_metrics_policy_loaded(ref->policy, r->old &&
							   (r->changed ||
							    r->recovered));
		memset(&lp->shown, 0, sizeof(lp->shown));
		/* the same fault coming back is a change again */
		memset(&lp->rejected, 0, sizeof(lp->rejected));
	}
	pthread_mutex_unlock(&lp->lock);
}

/* Read and parse with no lock held (the file may be slow, docs/design.md
 * "Lock order"), then apply. */
static int load(struct tlk_live_policy *lp, struct tlk_policy_error *err,
		struct load_result *r)
{
	unsigned long ticket = atomic_fetch_add(&lp->tickets, 1) + 1;
	struct policy_ref *ref = NULL;
	struct tlk_policy *policy;
	struct file_id id;
	int ret;

	memset(r, 0, sizeof(*r));
	file_id_of(lp->path, &id);
	ret = tlk_policy_load_file(lp->path, &policy, err);
	if (ret == 0 && !(ref = malloc(sizeof(*ref)))) {
		tlk_policy_free(policy);
		err->fault = TLK_POLICY_UNREADABLE;
		snprintf(err->message, sizeof(err->message), "out of memory");
		ret = -ENOMEM;
	}
	if (ref) {
		ref->policy = policy;
		atomic_init(&ref->refs, 1);
		/* once swapped in, another load may free it at any time */
		r->entries = tlk_policy_entry_count(policy);
		r->immutable = tlk_policy_immutable_count(policy);
	}
	settle(lp, ticket, &id, ref, err, r);
	if (r->stale && ref)
		ref_put(ref);
	if (r->old)
		ref_put(r->old);
	return ret;
}

/* Load the file as it is now; on failure keep what is in force. Each
 * change of the file's state is logged once (a new fault, valid again);
 * `always` logs a fault even if it is the one logged last (SIGHUP). */
static int load_now(struct tlk_live_policy *lp, bool at_start, bool always,
		    struct tlk_policy_error *err)
{
	char text[PATH_MAX + 320];
	struct load_result r;
	int ret = load(lp, err, &r);

	if (ret < 0) {
		if (!at_start && !r.stale && (r.log_fault || always)) {
			tlk_policy_error_format(lp->path, err, text,
						sizeof(text));
			tlk_err("policy %s; keeping the last good policy",
				text);
		}
		return ret;
	}
	/* several operations may have loaded one new version at once */
	if (!r.stale && (r.changed || r.recovered || always || at_start))
		tlk_notice(
		    "policy %s %s: %zu repository entries, %zu immutable",
		    lp->path, r.recovered ? "valid again, loaded" : "loaded",
		    r.entries, r.immutable);
	return 0;
}

int tlk_live_policy_reload(struct tlk_live_policy *lp)
{
	struct tlk_policy_error err;

	return load_now(lp, false, true, &err);
}

/* Reload when the file is neither the loaded nor the rejected version. */
static void refresh(struct tlk_live_policy *lp)
{
	struct tlk_policy_error err;
	struct file_id id;
	bool changed;

	file_id_of(lp->path, &id);
	pthread_mutex_lock(&lp->lock);
	changed = !file_id_equal(&id, &lp->loaded) &&
		  !file_id_equal(&id, &lp->rejected);
	pthread_mutex_unlock(&lp->lock);
	if (changed)
		load_now(lp, false, false, &err);
}

int tlk_live_policy_open(const char *path, struct tlk_live_policy **out,
			 struct tlk_policy_error *err)
{
	struct tlk_live_policy *lp = calloc(1, sizeof(*lp));
	int ret;

	if (!lp)
		return -ENOMEM;
	if (strlen(path) >= sizeof(lp->path)) {
		free(lp);
		return -ENAMETOOLONG;
	}
	strcpy(lp->path, path);
	pthread_mutex_init(&lp->lock, NULL);
	lp->wake[0] = lp->wake[1] = -1;
	ret = load_now(lp, true, false, err);
	if (ret < 0) {
		tlk_live_policy_close(lp);
		return ret;
	}
	*out = lp;
	return 0;
}

void tlk_live_policy_acquire(struct tlk_live_policy *lp,
			     struct tlk_policy_hold *hold)
{
	struct policy_ref *ref;

	refresh(lp);
	pthread_mutex_lock(&lp->lock);
	ref = lp->current;
	atomic_fetch_add(&ref->refs, 1);
	pthread_mutex_unlock(&lp->lock);
	hold->policy = ref->policy;
	hold->ref = ref;
}

void tlk_live_policy_release(struct tlk_policy_hold *hold)
{
	if (hold->ref)
		ref_put(hold->ref);
	hold->ref = NULL;
	hold->policy = NULL;
}

static void on_sighup(int sig)
{
	struct tlk_live_policy *lp = sighup_target;
	int saved = errno;

	(void)sig;
	if (lp && lp->wake[1] >= 0 && write(lp->wake[1], "h", 1) < 0) {
		/* a full pipe already holds a wake-up */
	}
	errno = saved;
}

/* Watch the directory of the path and of its resolved target: editors
 * rename over the file, ConfigMaps swap a symlinked directory. */
static void add_watches(int ifd, const char *path)
{
	const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
			      IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MODIFY;
	char dir[PATH_MAX], real[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	inotify_add_watch(ifd, dir, mask);
	if (realpath(path, real)) {
		inotify_add_watch(ifd, real,
				  IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB);
		slash = strrchr(real, '/');
		if (slash && slash != real) {
			*slash = '\0';
			inotify_add_watch(ifd, real, mask);
		}
	}
}

static void *watch_loop(void *arg)
{
	struct tlk_live_policy *lp = arg;
	char buf[4096] __attribute__((aligned(8)));
	int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (ifd >= 0)
		add_watches(ifd, lp->path);
	for (;;) {
		struct pollfd pfd[2] = {{.fd = lp->wake[0], .events = POLLIN},
					{.fd = ifd, .events = POLLIN}};
		int n = poll(pfd, ifd >= 0 ? 2 : 1, 2000);

		if ((n < 0 && errno != EINTR) || atomic_load(&lp->stop))
			break;
		if (pfd[0].revents & POLLIN) {
			char c;
			if (read(lp->wake[0], &c, 1) == 1 && c == 'q')
				break;
			if (atomic_load(&lp->stop))
				break;
			tlk_notice("SIGHUP: reloading policy %s", lp->path);
			tlk_live_policy_reload(lp);
			continue;
		}
		if (n > 0 && (pfd[1].revents & POLLIN)) {
			while (read(ifd, buf, sizeof(buf)) > 0)
				;
			usleep(20000); /* let the editor finish */
			/* Watches follow inodes: re-arm for swapped dirs. */
			close(ifd);
			ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
			if (ifd >= 0)
				add_watches(ifd, lp->path);
		}
		refresh(lp); /* also every 2 s, in case a watch was lost */
	}
	if (ifd >= 0)
		close(ifd);
	return NULL;
}

int tlk_live_policy_hook_sighup(struct tlk_live_policy *lp)
{
	struct sigaction sa = {.sa_handler = on_sighup};

	if (lp->wake[0] < 0 && pipe2(lp->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	sighup_target = lp;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	return sigaction(SIGHUP, &sa, NULL) < 0 ? -errno : 0;
}

int tlk_live_policy_watch(struct tlk_live_policy *lp)
{
	int ret = tlk_live_policy_hook_sighup(lp);
	sigset_t all, old;

	if (ret < 0)
		return ret;

	/* This thread takes SIGHUP and nothing else: a SIGTERM caught here
	 * would not end the session, and a SIGHUP that interrupts the
	 * session loop's wait can race with SIGTERM and lose it. */
	sigfillset(&all);
	sigdelset(&all, SIGHUP);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&lp->watcher, NULL, watch_loop, lp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0)
		return -ret;
	lp->watching = true;
	return 0;
}

void tlk_live_policy_close(struct tlk_live_policy *lp)
{
	if (!lp)
		return;
	if (sighup_target == lp) {
		signal(SIGHUP, SIG_IGN);
		sighup_target = NULL;
	}
	if (lp->watching) {
		atomic_store(&lp->stop, true);
		if (write(lp->wake[1], "q", 1) < 0) {
			/* a full pipe wakes the watcher as well */
		}
		pthread_join(lp->watcher, NULL);
	}
	if (lp->wake[0] >= 0)
		close(lp->wake[0]);
	if (lp->wake[1] >= 0)
		close(lp->wake[1]);
	if (lp->current)
		ref_put(lp->current);
	pthread_mutex_destroy(&lp->lock);
	free(lp);
}

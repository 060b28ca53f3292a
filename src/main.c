/* SPDX-License-Identifier: MIT */
/*
 * main.c - start-up of the taglockfs daemon: parse the command line, load
 * the policy, open the backing directory, mount, serve. Only this file may
 * exit early; once mounted, every failure is a reply to one request.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "lifecycle.h"
#include "mountpoint.h"
#include "metrics.h"
#include "options.h"
#include "taglockfs/log.h"

static int check_policy(const char *path)
{
	struct tlk_policy_error err;
	struct tlk_policy *policy;

	if (tlk_policy_load_file(path, &policy, &err) < 0) {
		if (err.line)
			fprintf(stderr, "%s:%u:%u: %s\n", path, err.line,
				err.column, err.message);
		else
			fprintf(stderr, "%s: %s\n", path, err.message);
		return 1;
	}
	printf("%s: ok: version 1, %zu repository entries (%zu immutable)\n",
	       path, tlk_policy_entry_count(policy),
	       tlk_policy_immutable_count(policy));
	tlk_policy_free(policy);
	return 0;
}

static void show_gap(void *ctx, const struct tlk_audit_gap *gap)
{
	printf("%s:%zu: gap: %lld records written late, %lld dropped "
	       "(audit log not writable from %s to %s: %s)\n",
	       (const char *)ctx, gap->line, gap->late, gap->dropped,
	       gap->since, gap->until, gap->error);
}

static int verify_audit(const char *path)
{
	size_t records = 0, bad = 0;
	char why[512] = "";
	int ret = tlk_audit_verify_gaps(path, &records, &bad, why, sizeof(why),
					show_gap, (void *)path);

	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(-ret));
		return 1;
	}
	if (ret > 0) {
		fprintf(stderr, "%s:%zu: %s\n", path, bad, why);
		return 1;
	}
	printf("%s: ok: %zu records, chain intact\n", path, records);
	return 0;
}

static void route_fuse_log(enum fuse_log_level level, const char *fmt,
			   va_list ap)
{
	tlk_vlog(level <= FUSE_LOG_ERR	     ? TLK_LOG_ERR
		 : level == FUSE_LOG_WARNING ? TLK_LOG_WARNING
		 : level <= FUSE_LOG_INFO    ? TLK_LOG_INFO
					     : TLK_LOG_DEBUG,
		 fmt, ap);
}

/* Every inode the kernel holds is an O_PATH fd here: a registry's tag
 * tree easily passes 20,000. Root may raise the hard limit up to the
 * kernel's nr_open; anyone may raise the soft limit to the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	unsigned long nr_open = 0;
	FILE *f;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	f = fopen("/proc/sys/fs/nr_open", "re");
	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (nr_open > rl.rlim_max) {
		struct rlimit more = {.rlim_cur = nr_open, .rlim_max = nr_open};
		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int open_backing(struct tlk_fs *fs, const char *dir)
{
	struct stat st;

	fs->root.fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->root.fd < 0 || fstat(fs->root.fd, &st) < 0) {
		fprintf(stderr, "taglockfs: backing directory %s: %s\n", dir,
			strerror(errno));
		return -1;
	}
	fs->root.dev = st.st_dev;
	fs->root.ino = st.st_ino;
	fs->root.type = S_IFDIR;
	fs->root.nlookup = 2;
	return 0;
}

/* Just before the backing directory is opened (in place, the bare
 * directory is then exposed only until the mount): a dead mount a killed
 * daemon left on either path is detached, so a restart needs no hand; with
 * guard_mountpoint the separate mount point refuses writes while unmounted
 * (docs/design.md, "Lifecycle"). */
static int prepare_paths(const struct tlk_options *o)
{
	struct stat b, m;

	if (tlk_mnt_clear_dead(o->backing) < 0)
		return -1;
	if (strcmp(o->backing, o->mountpoint) != 0 &&
	    tlk_mnt_clear_dead(o->mountpoint) < 0)
		return -1;
	if (!o->guard_mountpoint)
		return 0;
	if (stat(o->backing, &b) == 0 && stat(o->mountpoint, &m) == 0 &&
	    b.st_dev == m.st_dev && b.st_ino == m.st_ino) {
		tlk_warn("guard_mountpoint: ignored in the in-place form (the "
			 "mount point is the data itself)");
		return 0;
	}
	return tlk_mnt_guard(o->mountpoint);
}

static int setup_fs(struct tlk_fs *fs, const struct tlk_options *o)
{
	struct tlk_policy_error err = {0};
	int ret, i;

	fs->timeout = o->timeout;
	fs->cache_timeout = o->cache_timeout;
	fs->passthrough = TLK_HAVE_PASSTHROUGH && !o->no_passthrough;
	fs->io_uring = o->io_uring;
	for (i = 0; i < TLK_REPO_LOCKS; i++)
		pthread_mutex_init(&fs->repo_locks[i], NULL);
	fs->verify_all_blobs = o->verify_all_blobs;
	fs->audit_strict = o->audit_strict;
	if (tlk_inodes_init(&fs->inodes) < 0 ||
	    tlk_protected_set_new(&fs->protected_set) < 0)
		return -1;
	ret = tlk_live_policy_open(o->policy, &fs->policy, &err);
	if (ret < 0) {
		if (err.line)
			fprintf(stderr, "taglockfs: policy %s:%u:%u: %s\n",
				o->policy, err.line, err.column, err.message);
		else
			fprintf(stderr, "taglockfs: policy %s: %s\n", o->policy,
				err.message);
		return -1;
	}
	if (o->audit_log) {
		ret = tlk_audit_open(o->audit_log, &fs->audit);
		if (ret < 0) {
			fprintf(stderr, "taglockfs: audit log %s: %s\n",
				o->audit_log,
				ret == -EBADMSG ? "last record is damaged; "
						  "check it with --verify-audit"
						: strerror(-ret));
			return -1;
		}
	}
	if (prepare_paths(o) < 0 || open_backing(fs, o->backing) < 0)
		return -1;
	if (o->gate_group && !o->gate) {
		fprintf(stderr, "taglockfs: gate_group= needs gate=\n");
		return -1;
	}
	if (o->gate && tlk_gate_open(fs, o->gate, o->gate_group) < 0)
		return -1;
	if ((o->metrics || o->metrics_file) &&
	    tlk_metrics_open(fs, o->metrics, o->metrics_file,
			     o->metrics_interval, o->gate != NULL) < 0)
		return -1;
	return 0;
}

static void teardown_fs(struct tlk_fs *fs)
{
	tlk_gate_stop();
	tlk_files_drop_all();
	tlk_metrics_stop();
	if (fs->audit)
		tlk_audit_close(fs->audit);
	tlk_live_policy_close(fs->policy);
	tlk_inodes_destroy(&fs->inodes);
	tlk_protected_set_free(fs->protected_set);
	if (fs->root.fd >= 0)
		close(fs->root.fd);
}

/* Options every mount gets: permissions checked by the kernel (the daemon
 * acts as root), and a name in /proc/mounts. */
static int add_mount_options(struct tlk_options *o)
{
	char fsname[PATH_MAX + 16];

	snprintf(fsname, sizeof(fsname), "-ofsname=%s,subtype=taglockfs",
		 o->backing);
	if (fuse_opt_add_arg(&o->fuse_args, "-odefault_permissions") < 0 ||
	    fuse_opt_add_arg(&o->fuse_args, fsname) < 0)
		return -1;
	if (geteuid() == 0 &&
	    fuse_opt_add_arg(&o->fuse_args, "-oallow_other") < 0)
		return -1;
	return 0;
}

/* SIGHUP is the policy watcher's alone (live_policy.c): until it runs, a
 * SIGHUP waits, pending, instead of interrupting this thread. */
static int block_sighup(void)
{
	sigset_t hup;

	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	return pthread_sigmask(SIG_BLOCK, &hup, NULL) == 0 ? 0 : -1;
}

static int run_loop(struct fuse_session *se, const struct tlk_options *o)
{
	struct fuse_loop_config *cfg;
	int ret;

	if (o->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	if (o->threads)
		fuse_loop_cfg_set_max_threads(cfg, o->threads);
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

/* Mounted: start the helpers, tell the service manager, serve. */
static int serve_mounted(struct tlk_fs *fs, struct fuse_session *se,
			 const struct tlk_options *o)
{
	int ret;

	tlk_log_init("taglockfs", !o->foreground, o->debug);
	if (tlk_live_policy_watch(fs->policy) < 0)
		tlk_warn("policy watcher not running: changes apply on the "
			 "next operation only");
	if (tlk_stop_watch() < 0)
		tlk_warn("stop watcher not running: a stop waits for every "
			 "request in progress, however long");
	fs->se = se;
	tlk_trimmer_start(fs);
	if ((ret = tlk_gate_start()) < 0)
		tlk_err("gate not running: %s", strerror(-ret));
	else if (o->gate)
		tlk_notice("gate: answering manifest PUTs on %s", o->gate);
	if ((ret = tlk_metrics_start()) < 0)
		tlk_err("metrics not exported: %s", strerror(-ret));
	tlk_notice("serving %s on %s", o->backing, o->mountpoint);
	/* Requests wait in the kernel until the loop reads them: from here
	 * on, the mount point reaches only us. */
	ret = tlk_notify("READY=1\nSTATUS=serving");
	if (ret < 0)
		tlk_warn("NOTIFY_SOCKET: cannot send READY=1: %s",
			 strerror(-ret));
	ret = run_loop(se, o);
	tlk_notify("STOPPING=1");
	tlk_gate_stop();
	tlk_metrics_stop();
	tlk_trimmer_stop();
	return ret;
}

static int serve(struct tlk_fs *fs, struct tlk_options *o)
{
	char mnt[PATH_MAX];
	struct fuse_session *se;
	int ret = 1, sig;

	/* libfuse's handlers end the session on SIGHUP too, and install
	 * themselves only where a signal has no handler yet: ours (a policy
	 * reload) goes first, before the mount exists (docs/design.md,
	 * rule 8); so do ours for SIGTERM and SIGINT (lifecycle.c). */
	if (tlk_live_policy_hook_sighup(fs->policy) < 0 || block_sighup() < 0)
		return 1;
	if (!realpath(o->mountpoint, mnt)) {
		tlk_err("mountpoint %s: %s", o->mountpoint, strerror(errno));
		return 1;
	}
	se = fuse_session_new(&o->fuse_args, &tlk_fs_ops, sizeof(tlk_fs_ops),
			      fs);
	if (!se)
		return 1; /* libfuse said why (unknown option, ...) */
	if (tlk_stop_arm(se, mnt, o->stop_timeout) < 0 ||
	    fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, o->mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(o->foreground);
	ret = serve_mounted(fs, se, o);
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	sig = tlk_stop_finish();
	fuse_session_destroy(se);
	/* The loop answers the signal that stopped it: a clean stop. */
	if (ret == 0 || ret == SIGTERM || ret == SIGINT) {
		if (sig)
			tlk_notice("stopped by %s; %s unmounted",
				   strsignal(sig), o->mountpoint);
		return 0;
	}
	tlk_err("session ended with %d", ret);
	return 1;
}

int main(int argc, char *argv[])
{
	struct tlk_fs fs = {.root.fd = -1};
	struct tlk_options o;
	int ret;

	if (tlk_options_parse(argc, argv, &o) < 0)
		return 1;
	if (o.show_help || o.show_version || o.check_policy || o.verify_audit) {
		if (o.show_help)
			tlk_options_usage(argv[0]);
		if (o.show_version)
			printf("taglockfs %s (libfuse %s)\n", TLK_VERSION,
			       fuse_pkgversion());
		ret = o.check_policy   ? check_policy(o.check_policy)
		      : o.verify_audit ? verify_audit(o.verify_audit)
				       : 0;
		tlk_options_free(&o);
		return ret;
	}
	tlk_log_init("taglockfs", false, o.debug);
	fuse_set_log_func(route_fuse_log);
	raise_fd_limit();
	ret = setup_fs(&fs, &o) < 0 || add_mount_options(&o) < 0
		  ? 1
		  : serve(&fs, &o);
	teardown_fs(&fs);
	tlk_options_free(&o);
	return ret;
}

/* SPDX-License-Identifier: MIT */
/*
 * options.c - the daemon's command line (see options.h).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

enum {
	KEY_FOREGROUND,
	KEY_DEBUG,
	KEY_SINGLE,
	KEY_HELP,
	KEY_VERSION,
	KEY_IO_URING,
};

static const struct fuse_opt specs[] = {
    {"policy=%s", offsetof(struct tlk_options, policy), 0},
    {"audit_log=%s", offsetof(struct tlk_options, audit_log), 0},
    {"audit_strict", offsetof(struct tlk_options, audit_strict), 1},
    {"timeout=%lf", offsetof(struct tlk_options, timeout), 0},
    {"cache_timeout=%lf", offsetof(struct tlk_options, cache_timeout), 0},
    {"max_threads=%u", offsetof(struct tlk_options, threads), 0},
    {"no_passthrough", offsetof(struct tlk_options, no_passthrough), 1},
    {"verify_blobs=%s", offsetof(struct tlk_options, verify_blobs), 0},
    {"gate=%s", offsetof(struct tlk_options, gate), 0},
    {"gate_group=%s", offsetof(struct tlk_options, gate_group), 0},
    {"stop_timeout=%lf", offsetof(struct tlk_options, stop_timeout), 0},
    {"guard_mountpoint", offsetof(struct tlk_options, guard_mountpoint), 1},
    {"metrics=%s", offsetof(struct tlk_options, metrics), 0},
    {"metrics_file=%s", offsetof(struct tlk_options, metrics_file), 0},
    {"metrics_interval=%lf", offsetof(struct tlk_options, metrics_interval),
     0},
    {"--check-policy %s", offsetof(struct tlk_options, check_policy), 0},
    {"--check-policy=%s", offsetof(struct tlk_options, check_policy), 0},
    {"--verify-audit %s", offsetof(struct tlk_options, verify_audit), 0},
    {"--verify-audit=%s", offsetof(struct tlk_options, verify_audit), 0},
    FUSE_OPT_KEY("-f", KEY_FOREGROUND),
    FUSE_OPT_KEY("-d", KEY_DEBUG),
    FUSE_OPT_KEY("debug", KEY_DEBUG),
    FUSE_OPT_KEY("-s", KEY_SINGLE),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_KEY("io_uring", KEY_IO_URING),
    FUSE_OPT_END,
};

static int take_path(struct tlk_options *o, const char *arg)
{
	char **slot = !o->backing      ? &o->backing
		      : !o->mountpoint ? &o->mountpoint
				       : NULL;

	if (!slot) {
		o->extra_args = 1;
		return 0;
	}
	*slot = strdup(arg);
	return *slot ? 0 : -1;
}

static int on_key(void *data, const char *arg, int key,
		  struct fuse_args *outargs)
{
	struct tlk_options *o = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		return take_path(o, arg);
	case KEY_FOREGROUND:
		o->foreground = 1;
		return 0;
	case KEY_DEBUG:
		o->debug = 1;
		o->foreground = 1;
		return 1; /* libfuse prints requests too */
	case KEY_SINGLE:
		o->singlethread = 1;
		return 0;
	case KEY_HELP:
		o->show_help = 1;
		return 0;
	case KEY_VERSION:
		o->show_version = 1;
		return 0;
	case KEY_IO_URING:
#ifdef FUSE_CAP_OVER_IO_URING
		o->io_uring = 1;
		return 1; /* libfuse (>= 3.18) starts the rings */
#else
		fprintf(stderr, "taglockfs: -o io_uring needs libfuse >= 3.18 "
				"(scripts/build-libfuse.sh --uring)\n");
		return -1;
#endif
	default:
		return 1; /* FUSE_OPT_KEY_OPT: libfuse's own option */
	}
}

/* The daemon changes to / when it daemonises and re-reads the policy
 * later: a relative policy= is made absolute now, against the directory
 * it was given in. Symlinks are kept (a ConfigMap swaps them). */
static int absolute_policy(struct tlk_options *o)
{
	char cwd[PATH_MAX], *abs;

	if (o->policy[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd))) {
		fprintf(stderr, "taglockfs: policy=%s: current directory: %s\n",
			o->policy, strerror(errno));
		return -1;
	}
	if (asprintf(&abs, "%s/%s", strcmp(cwd, "/") ? cwd : "", o->policy) <
	    0)
		return -1;
	free(o->policy);
	o->policy = abs;
	return 0;
}

int tlk_options_parse(int argc, char *argv[], struct tlk_options *o)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);

	memset(o, 0, sizeof(*o));
	o->timeout = 1.0;
	o->cache_timeout = 60.0;
	o->stop_timeout = 10.0;
	o->metrics_interval = 5.0;
	if (fuse_opt_parse(&args, o, specs, on_key) < 0) {
		fuse_opt_free_args(&args);
		return -1;
	}
	o->fuse_args = args;
	if (o->show_help || o->show_version || o->check_policy ||
	    o->verify_audit)
		return 0;
	if (o->extra_args || !o->backing) {
		fprintf(stderr, "taglockfs: %s\n",
			o->extra_args ? "too many arguments"
				      : "missing BACKING_DIR and MOUNTPOINT");
		tlk_options_usage(argv[0]);
		return -1;
	}
	if (!o->mountpoint && !(o->mountpoint = strdup(o->backing)))
		return -1;
	if (!o->policy && !(o->policy = strdup(TLK_DEFAULT_POLICY)))
		return -1;
	if (o->cache_timeout < 0) {
		fprintf(stderr, "taglockfs: cache_timeout must not be negative\n");
		return -1;
	}
	if (absolute_policy(o) < 0)
		return -1;
	if (o->audit_strict && !o->audit_log) {
		fprintf(stderr,
			"taglockfs: audit_strict needs audit_log=FILE\n");
		return -1;
	}
	if (o->timeout < 0 || o->stop_timeout < 0) {
		fprintf(stderr, "taglockfs: %s must not be negative\n",
			o->timeout < 0 ? "timeout" : "stop_timeout");
		return -1;
	}
	if (o->verify_blobs && strcmp(o->verify_blobs, "all") != 0 &&
	    strcmp(o->verify_blobs, "small") != 0) {
		fprintf(stderr,
			"taglockfs: verify_blobs=%s: expected small or all\n",
			o->verify_blobs);
		return -1;
	}
	o->verify_all_blobs =
	    o->verify_blobs && strcmp(o->verify_blobs, "all") == 0;
	return 0;
}

void tlk_options_free(struct tlk_options *o)
{
	free(o->policy);
	free(o->audit_log);
	free(o->backing);
	free(o->mountpoint);
	free(o->check_policy);
	free(o->verify_audit);
	free(o->verify_blobs);
	free(o->gate);
	free(o->gate_group);
	free(o->metrics);
	free(o->metrics_file);
	fuse_opt_free_args(&o->fuse_args);
}

void tlk_options_usage(const char *prog)
{
	fprintf(
	    stderr,
	    "usage: %s [-f] [-d] [-s] [-o OPT[,OPT...]] BACKING_DIR "
	    "MOUNTPOINT\n"
	    "       %s [-f] [-d] [-s] [-o OPT[,OPT...]] DIR   (mount over DIR "
	    "in place)\n"
	    "       %s --check-policy FILE\n"
	    "       %s --verify-audit FILE\n"
	    "       %s --help | --version\n\n"
	    "taglockfs options:\n"
	    "    -o policy=FILE       YAML tag policy (default %s)\n"
	    "    -o audit_log=FILE    append-only JSON-lines decision log\n"
	    "    -o audit_strict      refuse creating a protected tag while "
	    "the audit log\n"
	    "                         cannot be written\n"
	    "    -o timeout=SECONDS   kernel cache of ordinary entries and "
	    "attributes (default 1)\n"
	    "    -o cache_timeout=SECONDS  the same for what cannot change: "
	    "the tree's directories\n"
	    "                         and blob data's attributes "
	    "(default 60)\n"
	    "    -o max_threads=N     worker threads (default libfuse's)\n"
	    "    -o no_passthrough    no kernel passthrough, even where "
	    "available\n"
	    "    -o io_uring          FUSE over io_uring (libfuse >= 3.18 "
	    "built with liburing,\n"
	    "                         kernel: fuse module parameter "
	    "enable_uring=Y)\n"
	    "    -o verify_blobs=all  hash every blob as it appears (default "
	    "small: blobs of at most 4 MiB, those that can be manifests)\n"
	    "    -o gate=SOCKET       answer nginx's manifest-PUT questions on "
	    "this unix socket\n"
	    "    -o gate_group=GROUP  only GROUP may connect to the gate "
	    "(default www-data)\n"
	    "    -o stop_timeout=S    on SIGTERM/SIGINT, wait S seconds for "
	    "requests in progress, then detach (default 10)\n"
	    "    -o guard_mountpoint  make the empty MOUNTPOINT immutable, so "
	    "nothing is written there while unmounted\n"
    "    -o metrics=ADDR      Prometheus metrics at GET /metrics on "
	    "127.0.0.1:PORT,\n"
	    "                         [::1]:PORT or a unix socket path\n"
	    "    -o metrics_file=PATH the same text, rewritten atomically "
	    "every metrics_interval\n"
	    "                         seconds (default 5), for node_exporter's "
	    "textfile collector\n"
	    "    -f                   stay in the foreground, log to stderr\n"
	    "    -d                   debug output (implies -f)\n"
	    "    -s                   single-threaded\n",
	    prog, prog, prog, prog, prog, TLK_DEFAULT_POLICY);
}

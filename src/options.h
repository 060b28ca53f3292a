/* SPDX-License-Identifier: MIT */
/*
 * options.h - private to the daemon: the command line.
 *
 *   taglockfs [-f] [-d] [-s] [-o OPT[,OPT...]] BACKING_DIR MOUNTPOINT
 *   taglockfs [-f] [-d] [-s] [-o OPT[,OPT...]] DIR        (in place)
 *   taglockfs --check-policy FILE | --verify-audit FILE | --help | --version
 *
 * Our options (policy=, audit_log=, timeout=) are taken out of -o; the
 * rest stay in `fuse_args` for libfuse, which rejects what it does not
 * know.
 */
#ifndef TAGLOCKFS_OPTIONS_H
#define TAGLOCKFS_OPTIONS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>

#define TLK_DEFAULT_POLICY "/etc/taglockfs/policy.yaml"

struct tlk_options {
	char *policy;	 /* policy=FILE, made absolute by the parser */
	char *audit_log; /* audit_log=FILE */
	int audit_strict; /* audit_strict: no unrecorded protected change */
	double
	    timeout; /* timeout=SECONDS: entry/attr cache of ordinary nodes */
	double cache_timeout; /* cache_timeout=SECONDS: of immutable ones */
	unsigned threads;   /* max_threads=N */
	char *backing;	    /* first non-option argument */
	char *mountpoint;   /* second (or the first again: in place) */
	char *check_policy; /* --check-policy FILE */
	char *verify_audit; /* --verify-audit FILE */
	int foreground;
	int debug;
	int singlethread;
	int show_help;
	int show_version;
	int extra_args;		    /* more than two paths given */
	int no_passthrough;	    /* -o no_passthrough: classic I/O only */
	int io_uring;		    /* -o io_uring: kept for libfuse too */
	char *verify_blobs;	    /* verify_blobs=small|all */
	char *gate;		    /* gate=SOCKET: nginx's verdict endpoint */
	char *gate_group;	    /* gate_group=GROUP: who may connect */
	char *metrics;		    /* metrics=ADDR: GET /metrics */
	char *metrics_file;	    /* metrics_file=PATH: the same, a file */
	double metrics_interval;    /* metrics_interval=SECONDS */
	bool verify_all_blobs;	    /* verify_blobs=all */
	double stop_timeout;	    /* stop_timeout=SECONDS (default 10) */
	int guard_mountpoint;	    /* guard_mountpoint: chattr +i MOUNTPOINT */
	struct fuse_args fuse_args; /* what libfuse gets */
};

/* Parse argv. Returns 0 or -1 after printing why to stderr. */
int tlk_options_parse(int argc, char *argv[], struct tlk_options *opts);
void tlk_options_free(struct tlk_options *opts);
void tlk_options_usage(const char *prog);

#endif

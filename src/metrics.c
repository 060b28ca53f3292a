/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - the daemon's counters and their exposition (metrics.h,
 * docs/design.md "Metrics").
 *
 * Every counter is a process-wide atomic bumped with a relaxed addition:
 * no lock on any path a FUSE request takes. A scrape reads them one by
 * one, so two counters may be a request apart; each one alone is exact.
 * The policy's identity (hash, entries, time of the last good load) is
 * written rarely and read at scrape under a leaf mutex.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "fs.h"
#include "metrics.h"
#include "taglockfs/metrics.h"

enum verdict_label { V_ALLOWED, V_REFUSED, V_IDENTICAL, V_CREATED, V_COUNT };

static const char *const verdict_name[V_COUNT] = {
    [V_ALLOWED] = "allowed",
    [V_REFUSED] = "refused",
    [V_IDENTICAL] = "identical",
    [V_CREATED] = "created",
};

static const char *const lat_name[TLK_LAT_COUNT] = {
    [TLK_LAT_LOOKUP] = "lookup", [TLK_LAT_OPEN] = "open",
    [TLK_LAT_READ] = "read",	 [TLK_LAT_WRITE] = "write",
    [TLK_LAT_CREATE] = "create", [TLK_LAT_RENAME] = "rename",
};

/* Upper bounds of the latency buckets, in nanoseconds: 10 us to 2.5 s. */
static const uint64_t bound_ns[] = {
    10000,     25000,	  50000,     100000,	 250000,     500000,
    1000000,   2500000,	  5000000,   10000000,	 25000000,   50000000,
    100000000, 250000000, 500000000, 1000000000, 2500000000,
};
#define NBOUNDS (sizeof(bound_ns) / sizeof(bound_ns[0]))

struct latency {
	atomic_ulong buckets[NBOUNDS + 1]; /* the last: above every bound */
	atomic_ulong sum_ns;
};

static struct {
	atomic_ulong decisions[TLK_OP_COUNT][V_COUNT];
	atomic_ulong refusals[TLK_R_COUNT];
	atomic_ulong reloads_ok, reloads_failed;
	atomic_ulong trims, trimmed, emfile;
	atomic_ulong gate_sent_on, gate_denied;
	atomic_bool timing; /* an export runs: measure latency */
	atomic_bool gate_on;
	struct latency lat[TLK_LAT_COUNT];

	pthread_mutex_t policy_lock; /* protects the fields below */
	char policy_hash[17];
	size_t entries, immutable;
	struct timespec good_at; /* CLOCK_MONOTONIC of the last good load */
	bool failing;		 /* the newest version on disk was rejected */
} mx = {.policy_lock = PTHREAD_MUTEX_INITIALIZER};

#define BUMP(counter, n)                                                       \
	atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define READ(counter) atomic_load_explicit(&(counter), memory_order_relaxed)

void tlk_metrics_decision(enum tlk_op op, struct tlk_verdict v)
{
	enum verdict_label label = v.kind == TLK_REFUSE		 ? V_REFUSED
				   : v.reason == TLK_R_CREATE	 ? V_CREATED
				   : v.reason == TLK_R_IDENTICAL ? V_IDENTICAL
								 : V_ALLOWED;

	if ((unsigned)op >= TLK_OP_COUNT || (unsigned)v.reason >= TLK_R_COUNT)
		return;
	BUMP(mx.decisions[op][label], 1);
	if (label == V_REFUSED)
		BUMP(mx.refusals[v.reason], 1);
}

void tlk_metrics_policy_loaded(const struct tlk_policy *policy, bool counted)
{
	if (counted)
		BUMP(mx.reloads_ok, 1);
	pthread_mutex_lock(&mx.policy_lock);
	snprintf(mx.policy_hash, sizeof(mx.policy_hash), "%s",
		 tlk_policy_hash(policy));
	mx.entries = tlk_policy_entry_count(policy);
	mx.immutable = tlk_policy_immutable_count(policy);
	clock_gettime(CLOCK_MONOTONIC, &mx.good_at);
	mx.failing = false;
	pthread_mutex_unlock(&mx.policy_lock);
}

void tlk_metrics_policy_failed(bool counted)
{
	if (counted)
		BUMP(mx.reloads_failed, 1);
	pthread_mutex_lock(&mx.policy_lock);
	mx.failing = true;
	pthread_mutex_unlock(&mx.policy_lock);
}

void tlk_metrics_trim(size_t entries)
{
	if (entries == 0)
		return; /* everything it found is in use: nothing was asked */
	BUMP(mx.trims, 1);
	BUMP(mx.trimmed, entries);
}

void tlk_metrics_emfile(void)
{
	BUMP(mx.emfile, 1);
}

void tlk_metrics_gate(bool denied)
{
	if (denied)
		BUMP(mx.gate_denied, 1);
	else
		BUMP(mx.gate_sent_on, 1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC through the vDSO (no system call, tens of ns);
 * CLOCK_MONOTONIC_COARSE would be cheaper still but ticks every 1-4 ms,
 * longer than most of what is measured here. */
uint64_t tlk_metrics_clock(void)
{
	if (!atomic_load_explicit(&mx.timing, memory_order_relaxed))
		return 0;
	return now_ns();
}

void tlk_metrics_latency(enum tlk_lat_op op, uint64_t start)
{
	uint64_t took;
	size_t i;

	if (start == 0 || (unsigned)op >= TLK_LAT_COUNT)
		return;
	took = now_ns() - start;
	for (i = 0; i < NBOUNDS && took > bound_ns[i]; i++)
		;
	BUMP(mx.lat[op].buckets[i], 1);
	BUMP(mx.lat[op].sum_ns, took);
}

void tlk_metrics_enable(bool gate)
{
	atomic_store(&mx.timing, true);
	atomic_store(&mx.gate_on, gate);
}

/* --------------------------------------------------------------- render */

static void counter(struct tlk_mtext *m, const char *name, const char *help,
		    double value)
{
	tlk_mtext_family(m, name, TLK_METRIC_COUNTER, help);
	tlk_mtext_sample(m, NULL, 0, value);
}

static void gauge(struct tlk_mtext *m, const char *name, const char *help,
		  double value)
{
	tlk_mtext_family(m, name, TLK_METRIC_GAUGE, help);
	tlk_mtext_sample(m, NULL, 0, value);
}

static void render_build(struct tlk_mtext *m, struct tlk_fs *fs)
{
	struct tlk_label l[] = {
	    {"version", TLK_VERSION},
	    {"libfuse", fuse_pkgversion()},
	    {"passthrough", fs->passthrough ? "on" : "off"},
	};

	tlk_mtext_family(m, "taglockfs_build_info", TLK_METRIC_GAUGE,
			 "Always 1: the daemon's version, the libfuse it runs "
			 "with, whether kernel passthrough is on.");
	tlk_mtext_sample(m, l, 3, 1);
}

/* A refusal reason is listed even at 0 (so that increase() sees its
 * first refusal); the reasons that only ever allow, once they count. */
static bool refusal_reason(enum tlk_reason r)
{
	switch (r) {
	case TLK_R_NOT_PROTECTED:
	case TLK_R_NOT_TAG_STATE:
	case TLK_R_CREATE:
	case TLK_R_IDENTICAL:
	case TLK_R_GUARDED:
	case TLK_R_PENDING:
	case TLK_R_LOST_RACE:
		return false;
	default:
		return true;
	}
}

static void render_decisions(struct tlk_mtext *m)
{
	struct tlk_label l[2];
	unsigned op, v, r;

	tlk_mtext_family(m, "taglockfs_decisions_total", TLK_METRIC_COUNTER,
			 "Reported verdicts on protected state, by operation "
			 "and verdict (allowed, refused, identical rewrite, "
			 "created).");
	for (op = 0; op < TLK_OP_COUNT; op++)
		for (v = 0; v < V_COUNT; v++) {
			unsigned long n = READ(mx.decisions[op][v]);

			if (n == 0 && op != TLK_OP_PUBLISH_LINK)
				continue;
			l[0] = (struct tlk_label){"op", tlk_op_name(op)};
			l[1] = (struct tlk_label){"verdict", verdict_name[v]};
			tlk_mtext_sample(m, l, 2, (double)n);
		}
	tlk_mtext_family(m, "taglockfs_refusals_total", TLK_METRIC_COUNTER,
			 "Refused operations, by reason.");
	for (r = 0; r < TLK_R_COUNT; r++) {
		unsigned long n = READ(mx.refusals[r]);

		if (n == 0 && !refusal_reason(r))
			continue;
		l[0] = (struct tlk_label){"reason", tlk_reason_name(r)};
		tlk_mtext_sample(m, l, 1, (double)n);
	}
}

static void render_policy(struct tlk_mtext *m)
{
	struct tlk_label l;
	struct timespec now;
	char hash[17];
	size_t entries, immutable;
	double age;
	bool failing;

	pthread_mutex_lock(&mx.policy_lock);
	memcpy(hash, mx.policy_hash, sizeof(hash));
	entries = mx.entries;
	immutable = mx.immutable;
	failing = mx.failing;
	clock_gettime(CLOCK_MONOTONIC, &now);
	age = (double)(now.tv_sec - mx.good_at.tv_sec) +
	      (double)(now.tv_nsec - mx.good_at.tv_nsec) / 1e9;
	pthread_mutex_unlock(&mx.policy_lock);

	tlk_mtext_family(m, "taglockfs_policy_reloads_total",
			 TLK_METRIC_COUNTER,
			 "Versions of the policy file that came into force "
			 "(ok) or were rejected, the last good one staying "
			 "in force (failed).");
	l = (struct tlk_label){"result", "ok"};
	tlk_mtext_sample(m, &l, 1, (double)READ(mx.reloads_ok));
	l = (struct tlk_label){"result", "failed"};
	tlk_mtext_sample(m, &l, 1, (double)READ(mx.reloads_failed));
	gauge(m, "taglockfs_policy_reload_failing",
	      "1 while the policy file on disk is rejected and an older "
	      "version stays in force.",
	      failing ? 1 : 0);
	gauge(m, "taglockfs_policy_last_good_load_age_seconds",
	      "Seconds since the policy in force was loaded.", age);
	tlk_mtext_family(m, "taglockfs_policy_info", TLK_METRIC_GAUGE,
			 "Always 1: the first 16 hex digits of the SHA-256 "
			 "of the policy file in force.");
	l = (struct tlk_label){"sha256", hash};
	tlk_mtext_sample(m, &l, 1, 1);
	gauge(m, "taglockfs_policy_entries",
	      "Repository entries of the policy in force.", (double)entries);
	gauge(m, "taglockfs_policy_immutable_entries",
	      "Immutable repository entries of the policy in force.",
	      (double)immutable);
}

/* Descriptors open now: the entries of /proc/self/fd, less the one
 * reading it. */
static double open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = -1;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (double)n;
}

static void render_resources(struct tlk_mtext *m, struct tlk_fs *fs)
{
	struct rlimit rl;

	gauge(m, "taglockfs_inodes_cached",
	      "Inodes the kernel holds (one O_PATH descriptor each).",
	      (double)atomic_load(&fs->inodes.count));
	gauge(m, "taglockfs_open_fds", "Descriptors the daemon holds.",
	      open_fds());
	gauge(m, "taglockfs_fd_limit", "RLIMIT_NOFILE (soft) of the daemon.",
	      getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
		  ? (double)rl.rlim_cur
		  : -1);
	counter(m, "taglockfs_trims_total",
		"Trimmer passes that asked the kernel to forget entries "
		"(the table passed three quarters of the descriptor limit).",
		(double)READ(mx.trims));
	counter(m, "taglockfs_trimmed_entries_total",
		"Entries the trimmer asked the kernel to forget.",
		(double)READ(mx.trimmed));
	counter(m, "taglockfs_emfile_total",
		"Lookups that failed for want of descriptors (EMFILE, "
		"ENFILE).",
		(double)READ(mx.emfile));
}

static void render_gate(struct tlk_mtext *m)
{
	struct tlk_label l;

	if (!atomic_load(&mx.gate_on))
		return;
	tlk_mtext_family(m, "taglockfs_gate_verdicts_total", TLK_METRIC_COUNTER,
			 "Gate answers to nginx: sent_on (418) or denied "
			 "(403).");
	l = (struct tlk_label){"verdict", "sent_on"};
	tlk_mtext_sample(m, &l, 1, (double)READ(mx.gate_sent_on));
	l = (struct tlk_label){"verdict", "denied"};
	tlk_mtext_sample(m, &l, 1, (double)READ(mx.gate_denied));
}

static void render_latency(struct tlk_mtext *m)
{
	double bounds[NBOUNDS];
	uint64_t counts[NBOUNDS + 1];
	struct tlk_label l;
	size_t i, op;

	for (i = 0; i < NBOUNDS; i++)
		bounds[i] = (double)bound_ns[i] / 1e9;
	tlk_mtext_family(m, "taglockfs_op_duration_seconds",
			 TLK_METRIC_HISTOGRAM,
			 "Time the daemon spent on one request, by "
			 "operation.");
	for (op = 0; op < TLK_LAT_COUNT; op++) {
		/* the sum first: it never runs ahead of the buckets */
		double sum = (double)READ(mx.lat[op].sum_ns) / 1e9;

		for (i = 0; i <= NBOUNDS; i++)
			counts[i] = READ(mx.lat[op].buckets[i]);
		l = (struct tlk_label){"op", lat_name[op]};
		tlk_mtext_histogram(m, &l, 1, bounds, NBOUNDS, counts, sum);
	}
}

char *tlk_metrics_render(struct tlk_fs *fs, size_t *len)
{
	struct tlk_mtext m;
	char *text;

	tlk_mtext_init(&m);
	render_build(&m, fs);
	render_decisions(&m);
	render_policy(&m);
	render_resources(&m, fs);
	render_gate(&m);
	render_latency(&m);
	return tlk_mtext_finish(&m, &text, len) == 0 ? text : NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * vol_metrics.c - the plugin's Prometheus text (GET /metrics): one series
 * per ready volume and family, the volume's name as the only label (the
 * operator bounds it: one per volume created).
 *
 * Like Get (vol_info.c), it reads the table under tab_lock briefly and the
 * audit logs with no table lock held, never the mounts: a hung volume
 * cannot hold a scrape.
 */
#include <stdlib.h>
#include <string.h>

#include "taglockfs/metrics.h"
#include "vol_internal.h"

/* What one volume shows, copied under tab_lock. */
struct row {
	struct vol *v; /* a reference */
	enum vol_health health;
	unsigned long restarts;
	size_t ids;
	unsigned long refused;
	bool refused_known; /* its audit log could be read */
};

/* References to every ready volume, with what the table says of them. */
static struct row *snapshot(size_t *n)
{
	struct row *rows = NULL, *grown;
	struct vol *v;

	*n = 0;
	pthread_mutex_lock(&tlk_vol_tab_lock);
	for (v = tlk_vol_table; v != NULL; v = v->next) {
		if (v->state != VOL_READY)
			continue;
		grown = realloc(rows, (*n + 1) * sizeof(*rows));
		if (!grown)
			break;
		rows = grown;
		v->refs++;
		rows[(*n)++] = (struct row){
		    .v = v,
		    .health = v->health,
		    .restarts = v->restarts,
		    .ids = json_array_size(v->ids),
		};
	}
	pthread_mutex_unlock(&tlk_vol_tab_lock);
	return rows;
}

static void family(struct tlk_mtext *m, const struct row *rows, size_t n,
		   const char *name, enum tlk_metric_type type,
		   const char *help, double (*value)(const struct row *))
{
	size_t i;

	tlk_mtext_family(m, name, type, help);
	for (i = 0; i < n; i++) {
		struct tlk_label l = {"volume", rows[i].v->name};

		if (value(&rows[i]) >= 0)
			tlk_mtext_sample(m, &l, 1, value(&rows[i]));
	}
}

static double up(const struct row *r)
{
	return r->health == VOL_HEALTHY;
}

/* Mounted: a live taglockfs answered, or one is mounted but silent. */
static double mounted(const struct row *r)
{
	return r->health == VOL_HEALTHY || r->health == VOL_HUNG;
}

static double restarts(const struct row *r)
{
	return (double)r->restarts;
}

static double refusals(const struct row *r)
{
	return r->refused_known ? (double)r->refused : -1;
}

static double audit_readable(const struct row *r)
{
	return r->refused_known;
}

static double mount_ids(const struct row *r)
{
	return (double)r->ids;
}

char *tlk_vol_metrics(void)
{
	struct tlk_mtext m;
	struct row *rows;
	size_t n, i, len;
	char *text;

	rows = snapshot(&n);
	for (i = 0; i < n; i++) {
		unsigned long records;

		rows[i].refused_known =
		    tlk_refusals_update(&rows[i].v->refusals, rows[i].v->audit,
					&rows[i].refused, &records) == 0;
	}
	tlk_mtext_init(&m);
	tlk_mtext_family(&m, "taglockfs_plugin_volumes", TLK_METRIC_GAUGE,
			 "Volumes the plugin serves.");
	tlk_mtext_sample(&m, NULL, 0, (double)n);
	family(&m, rows, n, "taglockfs_plugin_volume_up", TLK_METRIC_GAUGE,
	       "1 when the volume's taglockfs answered the last check.", up);
	family(&m, rows, n, "taglockfs_plugin_volume_mounted", TLK_METRIC_GAUGE,
	       "1 when a taglockfs is mounted for the volume (answering or "
	       "hung).",
	       mounted);
	family(&m, rows, n, "taglockfs_plugin_volume_restarts_total",
	       TLK_METRIC_COUNTER,
	       "Times the plugin started the volume's taglockfs again (found "
	       "dead or missing) since the plugin started.",
	       restarts);
	family(&m, rows, n, "taglockfs_plugin_volume_refusals_total",
	       TLK_METRIC_COUNTER,
	       "Refusals recorded in the volume's audit log (Get's "
	       "refused_writes); absent while the log cannot be read.",
	       refusals);
	family(&m, rows, n, "taglockfs_plugin_volume_audit_readable",
	       TLK_METRIC_GAUGE,
	       "1 when the volume's audit log could be read for the refusal "
	       "count.",
	       audit_readable);
	family(&m, rows, n, "taglockfs_plugin_volume_mount_ids",
	       TLK_METRIC_GAUGE, "Containers (mount IDs) using the volume.",
	       mount_ids);
	for (i = 0; i < n; i++)
		tlk_vol_unref(rows[i].v);
	free(rows);
	return tlk_mtext_finish(&m, &text, &len) == 0 ? text : NULL;
}

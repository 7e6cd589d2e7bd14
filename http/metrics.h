// SPDX-License-Identifier: MIT
/* http/metrics.h: the /metrics page in Prometheus text format 0.0.4 (docs/metrics.md lists every
 * metric): this worker's counters (worker/executor.h's cf_worker_stats, the store's), executors
 * busy and idle, each loop's tick age and, from the one worker holding the healing lease, the
 * fleet's per-queue gauges (http/fleet.h). */
#ifndef CF_HTTP_METRICS_H
#define CF_HTTP_METRICS_H

#include <stdio.h>

#include "worker/observer.h"

/* cf_metrics_render writes the page to out. Blocks for the fleet gauges' Redis round trips. */
void cf_metrics_render(const cf_worker_view *v, FILE *out);

/* cf_metrics_render_process writes the process-wide metrics of common/metrics.h
 * (http/process_metrics.c). */
void cf_metrics_render_process(FILE *out);

/* cf_metrics_hist writes h's _bucket, _sum and _count lines for metric name; labels (may be NULL)
 * is a preformatted, escaped `k="v",...` list put before le. */
struct cf_hist;
void cf_metrics_hist(FILE *out, const char *name, const char *labels, const struct cf_hist *h);

/* cf_metrics_escape_label writes s to out escaped as a label value (\\, \", \n). */
void cf_metrics_escape_label(FILE *out, const char *s);

#endif

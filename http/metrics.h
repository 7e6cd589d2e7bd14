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

/* cf_metrics_escape_label writes s to out escaped as a label value (\\, \", \n). */
void cf_metrics_escape_label(FILE *out, const char *s);

#endif

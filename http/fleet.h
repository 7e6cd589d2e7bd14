// SPDX-License-Identifier: MIT
/* http/fleet.h: the fleet's gauges (per queue: ready, scheduled, in flight, dead, due but not
 * taken, oldest ready age; live workers), exported by one worker only so that N workers don't
 * report N copies: the worker whose id holds the healing lease P:sweeper (worker/sweeper.c) at
 * scrape time exports them and chronoforge_fleet_exporter 1; every other worker exports
 * chronoforge_fleet_exporter 0 and no fleet gauge. Between a lease's expiry and the next claim (up
 * to one sweep-interval) no worker exports them; Prometheus then has a gap, never a double count.
 */
#ifndef CF_HTTP_FLEET_H
#define CF_HTTP_FLEET_H

#include <stdio.h>

#include "worker/config.h"

/* cf_fleet_render writes the fleet section of /metrics to out (its own Redis connection). When
 * Redis cannot be read, writes chronoforge_fleet_exporter 0 and a comment. */
void cf_fleet_render(const cf_config *cfg, const char *worker_id, FILE *out);

#endif

// SPDX-License-Identifier: MIT
/* http/health.h: the answers of /healthz and /readyz. Alive: every loop of the process has
 * iterated within cf_health_bound_ms (common/liveness.h; executors inside a delivery and an idle
 * store writer are exempt, a reconnect wait counts as iterating). Ready: Redis answers PING,
 * Postgres answers and its schema is the one this binary expects (CF_SCHEMA_VERSION). */
#ifndef CF_HTTP_HEALTH_H
#define CF_HTTP_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/config.h"

/* cf_health_bound_ms: how long a loop may go without iterating (cf_config_liveness_bound_ms). */
int64_t cf_health_bound_ms(const cf_config *cfg);

/* cf_health_alive: true when alive; body (cap bytes) gets "ok\n" or "stale: LOOP (N ms)...\n". */
bool cf_health_alive(const cf_config *cfg, char *body, size_t cap);

/* cf_health_ready: true when ready; body (cap bytes) gets "ok\n" or what is not. Blocks (one
 * Redis round trip, one Postgres connection). */
bool cf_health_ready(const cf_config *cfg, char *body, size_t cap);

#endif

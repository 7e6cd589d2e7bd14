// SPDX-License-Identifier: MIT
/* http/server.h: the worker's HTTP endpoints on --metrics-listen ADDR:PORT (libmicrohttpd, one
 * thread per connection): GET /metrics (Prometheus text format, http/metrics.c), /healthz
 * (alive: 200, or 503 naming the stale loop; common/liveness.h) and /readyz (Redis and
 * Postgres reachable, schema current; http/health.c). Off when the setting is empty. */
#ifndef CF_HTTP_SERVER_H
#define CF_HTTP_SERVER_H

#include "worker/observer.h"

/* The observer the CLI's `worker` command installs (worker/observer.h). Its start refuses
 * (CF_ERR_INVALID, logged) a malformed ADDR:PORT and (CF_ERR_UNAVAILABLE) a port it cannot bind. */
extern const cf_worker_observer cf_http_observer;

/* cf_http_parse_listen splits "ADDR:PORT" ("[::1]:9090" for IPv6) into host (cap bytes) and
 * port; CF_ERR_INVALID unless both are present and the port is 1-65535. */
CF_MUST_CHECK cf_status cf_http_parse_listen(const char *listen, char *host, size_t cap, int *port);

#endif

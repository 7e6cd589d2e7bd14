// SPDX-License-Identifier: MIT
/* http/health.c: alive and ready checks of http/health.h. */
#include "http/health.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/liveness.h"
#include "queue/redis_conn.h"
#include "store/migrate.h"

int64_t cf_health_bound_ms(const cf_config *cfg)
{
    return cf_config_liveness_bound_ms(cfg);
}

bool cf_health_alive(const cf_config *cfg, char *body, size_t cap)
{
    char why[512];
    if (cf_liveness_check(cf_clock_mono_ms(), cf_health_bound_ms(cfg), why, sizeof why)) {
        snprintf(body, cap, "ok\n");
        return true;
    }
    snprintf(body, cap, "%s (bound %lld ms)\n", why, (long long)cf_health_bound_ms(cfg));
    return false;
}

static bool redis_ready(const cf_config *cfg, char *why, size_t cap)
{
    cf_redis *r = NULL;
    cf_error err = {0};
    if (cf_redis_new(cfg->redis_url, NULL, &r, &err) != CF_OK) {
        snprintf(why, cap, "redis: %s", err.msg);
        return false;
    }
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    cf_reply *rep = NULL;
    bool ok = cf_redis_exec(r, 1, argv, lens, &rep) == CF_OK && rep->type == CF_REPLY_STATUS;
    if (!ok)
        snprintf(why, cap, "redis: %s", cf_redis_errstr(r));
    cf_reply_free(rep);
    cf_redis_free(r);
    return ok;
}

static bool postgres_ready(const cf_config *cfg, char *why, size_t cap)
{
    cf_error err = {0};
    int v;
    if (cf_store_schema_check(cfg->database_url, &v, &err) != CF_OK) {
        snprintf(why, cap, "postgres: %s", err.msg);
        return false;
    }
    return true;
}

/* one_line turns libpq's multi-line messages into one line (a probe's body is read by people). */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\t')
            *s = ' ';
}

bool cf_health_ready(const cf_config *cfg, char *body, size_t cap)
{
    char r[512] = "", p[512] = "";
    bool redis_ok = redis_ready(cfg, r, sizeof r);
    bool pg_ok = postgres_ready(cfg, p, sizeof p);
    one_line(r);
    one_line(p);
    if (redis_ok && pg_ok)
        snprintf(body, cap, "ok\n");
    else
        snprintf(body, cap, "%s%s%s\n", r, !redis_ok && !pg_ok ? "; " : "", p);
    return redis_ok && pg_ok;
}

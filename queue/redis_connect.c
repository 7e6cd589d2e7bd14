// SPDX-License-Identifier: MIT
/* queue/redis_connect.c: a cf_redis handle's life: making one (plain, a client of a shared
 * connection, a node of a cluster, or a cluster router), connecting (TCP or unix socket, AUTH,
 * SELECT, timeouts, keepalive), reconnecting with capped exponential backoff and jitter, and
 * freeing it with its password wiped. Commands, scripts and pipelines are redis_conn.c's. */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "queue/argv.h"
#include "queue/cluster.h"
#include "queue/mux.h"
#include "queue/redis_conn_impl.h"

static cf_log_limiter g_connect_limiter;

void cf_redis_opts_default(cf_redis_opts *o)
{
    o->connect_timeout_ms = 2000;
    o->read_timeout_ms = 5000;
    o->reconnect_base_ms = 100;
    o->reconnect_cap_ms = 5000;
}

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static cf_status alloc_handle(const char *url, const cf_redis_opts *opts, bool route,
                              cf_redis **out, cf_error *err)
{
    *out = NULL;
    cf_redis *r = cf_calloc(1, sizeof *r);
    if (r == NULL)
        return CF_ERR_NOMEM;
    cf_status st = cf_redis_url_parse(url, &r->url, err);
    if (st != CF_OK) {
        cf_free(r);
        return st;
    }
    if (opts)
        r->opts = *opts;
    else
        cf_redis_opts_default(&r->opts);
    if (route && r->url.cluster && cf_cluster_new(&r->url, &r->opts, &r->cluster) != CF_OK) {
        cf_redis_url_wipe(&r->url);
        cf_free(r);
        return CF_ERR_NOMEM;
    }
    *out = r;
    return CF_OK;
}

cf_status cf_redis_new(const char *url, const cf_redis_opts *opts, cf_redis **out, cf_error *err)
{
    return alloc_handle(url, opts, true, out, err);
}

cf_status cf_redis_new_node(const cf_redis_url *url, const cf_redis_opts *opts, cf_redis **out)
{
    cf_redis *r = cf_calloc(1, sizeof *r);
    *out = r;
    if (r == NULL)
        return CF_ERR_NOMEM;
    r->url = *url;
    r->url.cluster = false;
    r->opts = *opts;
    return CF_OK;
}

cf_status cf_redis_new_client(const char *url, cf_mux *mux, cf_redis **out, cf_error *err)
{
    cf_status st = alloc_handle(url, NULL, false, out, err);
    if (st == CF_OK)
        (*out)->mux = mux;
    return st;
}

void cf_redis_copy_errstr(const cf_redis *r, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", r->errstr);
}

cf_status cf_redis_open(const char *url, const cf_redis_opts *opts, cf_redis **out, cf_error *err)
{
    cf_redis *r;
    cf_status st = alloc_handle(url, opts, true, &r, err);
    if (st != CF_OK)
        return st;
    st = cf_redis_connect(r);
    if (st != CF_OK) {
        cf_error_set(err, cf_status_str(st), "redis_url", "%s", r->errstr);
        cf_redis_free(r);
        return st;
    }
    *out = r;
    return CF_OK;
}

void cf_redis_free(cf_redis *r)
{
    if (r == NULL)
        return;
    if (r->mux == NULL) /* a client leaves the shared connection alone */
        cf_redis_disconnect(r);
    cf_cluster_free(r->cluster);
    cf_redis_url_wipe(&r->url);
    cf_free(r);
}

const char *cf_redis_errstr(const cf_redis *r)
{
    return r->errstr;
}

const char *cf_redis_redacted_url(const cf_redis *r)
{
    return r->url.redacted;
}

bool cf_redis_is_connected(const cf_redis *r)
{
    if (r->mux)
        return cf_mux_connected(r->mux);
    if (r->cluster)
        return cf_cluster_ready(r->cluster);
    return r->c != NULL;
}

void cf_redis_disconnect(cf_redis *r)
{
    if (r->mux) {
        cf_mux_drop(r->mux); /* the next batch reconnects */
        return;
    }
    if (r->cluster) {
        cf_cluster_disconnect(r->cluster); /* and reload the slot map */
        return;
    }
    if (r->c) {
        redisFree(r->c);
        r->c = NULL;
    }
}

cf_status cf_redis_set_timeout(cf_redis *r, int64_t ms)
{
    if (r->cur_timeout_ms == ms)
        return CF_OK;
    if (redisSetTimeout(r->c, tv_ms(ms)) != REDIS_OK)
        return cf_redis_transport_error(r);
    r->cur_timeout_ms = ms;
    return CF_OK;
}

/* handshake_cmd runs one handshake command on the fresh connection. */
static cf_status handshake_cmd(cf_redis *r, const cf_argv *a)
{
    redisReply *rep = redisCommandArgv(r->c, a->argc, (const char **)a->argv, a->lens);
    if (rep == NULL)
        return cf_redis_transport_error(r);
    cf_status st = rep->type == REDIS_REPLY_ERROR ? cf_redis_classify_error(r, rep->str) : CF_OK;
    freeReplyObject(rep);
    return st;
}

/* handshake sends AUTH and SELECT on a fresh connection. */
static cf_status handshake(cf_redis *r)
{
    cf_argv a;
    cf_status st = CF_OK;
    if (r->url.has_password) {
        cf_argv_init(&a);
        cf_argv_str(&a, "AUTH");
        if (r->url.user[0])
            cf_argv_str(&a, r->url.user);
        cf_argv_str(&a, r->url.password);
        st = handshake_cmd(r, &a);
    }
    if (st == CF_OK && r->url.db != 0) {
        cf_argv_init(&a);
        cf_argv_int(cf_argv_str(&a, "SELECT"), r->url.db);
        st = handshake_cmd(r, &a);
    }
    return st;
}

static cf_status connect_once(cf_redis *r)
{
    struct timeval tv = tv_ms(r->opts.connect_timeout_ms);
    if (r->url.transport == CF_REDIS_TCP)
        r->c = redisConnectWithTimeout(r->url.host, r->url.port, tv);
    else
        r->c = redisConnectUnixWithTimeout(r->url.path, tv);
    if (r->c == NULL) {
        cf_redis_set_err(r, "redis %s: out of memory", r->url.redacted);
        return CF_ERR_NOMEM;
    }
    if (r->c->err) {
        cf_redis_set_err(r, "redis %s: connect: %s", r->url.redacted, r->c->errstr);
        cf_redis_disconnect(r);
        return CF_ERR_UNAVAILABLE;
    }
    r->cur_timeout_ms = -1;
    cf_status st = cf_redis_set_timeout(r, r->opts.read_timeout_ms);
    if (st != CF_OK)
        return st;
    if (r->url.transport == CF_REDIS_TCP)
        (void)redisEnableKeepAlive(r->c);
    st = handshake(r);
    if (st != CF_OK)
        cf_redis_disconnect(r);
    return st;
}

cf_status cf_redis_connect(cf_redis *r)
{
    if (r->mux)
        return cf_mux_connected(r->mux)
                   ? CF_OK
                   : cf_mux_submit(r->mux, NULL, 0, NULL, r->errstr, sizeof r->errstr);
    if (r->cluster)
        return cf_cluster_connect(r->cluster, r->errstr, sizeof r->errstr);
    if (r->c)
        return CF_OK;
    int64_t now = cf_clock_mono_ms();
    if (r->failures > 0 && now < r->next_try_mono_ms) {
        cf_redis_set_err(r, "redis %s: unreachable, next try in %lld ms", r->url.redacted,
                         (long long)(r->next_try_mono_ms - now));
        return CF_ERR_UNAVAILABLE;
    }
    cf_status st = connect_once(r);
    if (st == CF_OK) {
        if (r->connected_before) /* /metrics: a connection re-established */
            cf_metrics_add(&cf_metrics_g.redis_reconnects, 1);
        r->connected_before = true;
        if (r->failures > 0)
            cf_logkv(CF_LOG_INFO, NULL, NULL, "redis reconnected to %s after %d failed tries",
                     r->url.redacted, r->failures);
        r->failures = 0;
        return CF_OK;
    }
    r->failures++;
    r->next_try_mono_ms =
        cf_clock_mono_ms() +
        cf_backoff_delay_ms(r->opts.reconnect_base_ms, r->opts.reconnect_cap_ms, r->failures, true);
    int64_t suppressed = 0;
    if (cf_log_ratelimit(&g_connect_limiter, 5000, &suppressed))
        cf_log(CF_LOG_WARN, NULL, "%s (try %d; %lld similar lines suppressed)", r->errstr,
               r->failures, (long long)suppressed);
    return st;
}

cf_status cf_redis_wait_reconnect(cf_redis *r, const atomic_bool *stop)
{
    if (r->mux) /* the shared connection keeps its own backoff */
        return cf_redis_connect(r);
    if (r->cluster)
        return cf_cluster_wait_connect(r->cluster, stop, r->errstr, sizeof r->errstr);
    if (r->c)
        return CF_OK;
    int64_t wait = r->next_try_mono_ms - cf_clock_mono_ms();
    if (r->failures > 0 && wait > 0) {
        if (wait > r->opts.reconnect_cap_ms)
            wait = r->opts.reconnect_cap_ms;
        if (!cf_clock_sleep_ms(wait, stop))
            return CF_ERR_UNAVAILABLE;
    }
    return cf_redis_connect(r);
}

// SPDX-License-Identifier: MIT
/* queue/redis_conn_impl.h: the inside of a cf_redis, shared by the four files that speak
 * hiredis: redis_connect.c (handles, connecting, reconnecting), redis_conn.c (commands, scripts,
 * pipelines), redis_reply.c (hiredis replies into cf_reply trees) and redis_subscribe.c (a
 * subscriber read with a deadline). No other file includes it: hiredis types never leave
 * these four. */
#ifndef CF_QUEUE_REDIS_CONN_IMPL_H
#define CF_QUEUE_REDIS_CONN_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "queue/cluster.h"
#include "queue/redis_conn.h"
#include "queue/redis_conn_internal.h"

#define SHA_CACHE 32

struct cf_redis {
    cf_redis_url url;
    cf_redis_opts opts;
    redisContext *c;
    int64_t cur_timeout_ms; /* the socket timeout currently set on c */
    int failures;           /* consecutive failed connect attempts */
    bool connected_before;  /* a connection was made once: the next one is a reconnect */
    int64_t next_try_mono_ms;
    char errstr[512];
    bool last_noscript; /* the last error reply was NOSCRIPT */
    struct {
        const cf_redis_script *script;
        char sha[48];
    } shas[SHA_CACHE];
    int nshas;
    cf_mux *mux;         /* set: a client of a shared connection (queue/mux.h); c stays NULL */
    cf_cluster *cluster; /* set: a redis+cluster:// handle (queue/cluster.h); c stays NULL */
    int64_t pipe_t0_us;  /* when the pipeline being read was written (its round-trip time) */
};

/* cf_redis_reply_convert copies a hiredis reply into dst (zeroed). Returns false on OOM (dst
 * cleared). */
bool cf_redis_reply_convert(const redisReply *src, cf_reply *dst);

/* cf_redis_set_err records a message (printf format; never a password) for cf_redis_errstr. */
__attribute__((format(printf, 2, 3))) void cf_redis_set_err(cf_redis *r, const char *fmt, ...);

/* cf_redis_classify_error maps an error reply's text to a status and records it. */
cf_status cf_redis_classify_error(cf_redis *r, const char *msg);

/* cf_redis_transport_error turns a failed hiredis call into a status and drops the connection
 * (after an I/O error or a timeout hiredis's context is unusable). */
cf_status cf_redis_transport_error(cf_redis *r);

/* cf_redis_set_timeout sets the socket read/write timeout of the live connection. */
cf_status cf_redis_set_timeout(cf_redis *r, int64_t ms);

#endif

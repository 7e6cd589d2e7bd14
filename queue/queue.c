// SPDX-License-Identifier: MIT
/* queue/queue.c: the queue handle (queue/queue.h): construction, accessors and the error
 * message every queue/ call leaves on it. */
#include "queue/queue.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/mux.h"
#include "queue/queue_internal.h"

static cf_status make(const char *url, cf_mux *mux, const char *prefix, const char *worker_id,
                      const cf_redis_opts *opts, bool connect, cf_queue **out, cf_error *err)
{
    *out = NULL;
    if (prefix == NULL || !cf_prefix_valid(prefix))
        return cf_error_set(err, "bad_value", "prefix",
                            "the key prefix must be 1-%d bytes without braces", CF_PREFIX_MAX);
    if (worker_id && (worker_id[0] == '\0' || strlen(worker_id) >= CF_WORKER_ID_MAX))
        return cf_error_set(err, "bad_value", "worker_id", "a worker id must be 1-%d bytes",
                            CF_WORKER_ID_MAX - 1);
    cf_queue *q = cf_calloc(1, sizeof *q);
    if (q == NULL)
        return CF_ERR_NOMEM;
    snprintf(q->prefix, sizeof q->prefix, "%s", prefix);
    snprintf(q->worker_id, sizeof q->worker_id, "%s", worker_id ? worker_id : "");
    cf_status st = mux       ? cf_mux_client(mux, &q->redis, err)
                   : connect ? cf_redis_open(url, opts, &q->redis, err)
                             : cf_redis_new(url, opts, &q->redis, err);
    if (st != CF_OK) {
        cf_free(q);
        return st;
    }
    *out = q;
    return CF_OK;
}

cf_status cf_queue_open(const char *url, const char *prefix, const char *worker_id,
                        const cf_redis_opts *opts, cf_queue **out, cf_error *err)
{
    return make(url, NULL, prefix, worker_id, opts, true, out, err);
}

cf_status cf_queue_new(const char *url, const char *prefix, const char *worker_id,
                       const cf_redis_opts *opts, cf_queue **out, cf_error *err)
{
    return make(url, NULL, prefix, worker_id, opts, false, out, err);
}

cf_status cf_queue_new_shared(cf_mux *mux, const char *prefix, const char *worker_id,
                              cf_queue **out, cf_error *err)
{
    return make(NULL, mux, prefix, worker_id, NULL, false, out, err);
}

void cf_queue_free(cf_queue *q)
{
    if (q == NULL)
        return;
    cf_redis_free(q->redis);
    cf_free(q);
}

cf_redis *cf_queue_redis(cf_queue *q)
{
    return q->redis;
}

const char *cf_queue_prefix(const cf_queue *q)
{
    return q->prefix;
}

const char *cf_queue_worker_id(const cf_queue *q)
{
    return cf_queue_worker(q);
}

const char *cf_queue_worker(const cf_queue *q)
{
    return q->worker_id[0] ? q->worker_id : NULL;
}

const char *cf_queue_errstr(const cf_queue *q)
{
    return q->errstr[0] ? q->errstr : cf_redis_errstr(q->redis);
}

cf_status cf_queue_fail(cf_queue *q, cf_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->errstr, sizeof q->errstr, fmt, ap);
    va_end(ap);
    return st;
}

static cf_status bad_args(cf_queue *q)
{
    return cf_queue_fail(q, CF_ERR_INVALID, "a key or argument does not fit (name too long?)");
}

cf_status cf_queue_exec(cf_queue *q, const cf_argv *a, cf_reply **out)
{
    *out = NULL;
    return cf_argv_ok(a) ? cf_argv_exec(q->redis, a, out) : bad_args(q);
}

cf_status cf_queue_exec_blocking(cf_queue *q, int64_t block_ms, const cf_argv *a, cf_reply **out)
{
    *out = NULL;
    return cf_argv_ok(a) ? cf_argv_exec_blocking(q->redis, block_ms, a, out) : bad_args(q);
}

cf_status cf_queue_pipeline(cf_queue *q, const cf_argv *cmds, size_t n, cf_reply **replies)
{
    for (size_t i = 0; i < n; i++)
        if (!cf_argv_ok(&cmds[i])) {
            for (size_t j = 0; j < n; j++)
                replies[j] = NULL;
            return bad_args(q);
        }
    return cf_argv_pipeline(q->redis, cmds, n, replies);
}

cf_status cf_queue_begin(cf_queue *q, const char *queue, bool need_worker)
{
    q->errstr[0] = '\0';
    if (queue && !cf_queue_name_valid(queue))
        return cf_queue_fail(q, CF_ERR_INVALID,
                             "bad queue name \"%.64s\" (want [A-Za-z0-9_.-]{1,64})", queue);
    if (need_worker && q->worker_id[0] == '\0')
        return cf_queue_fail(q, CF_ERR_INVALID, "this call needs a queue handle with a worker id");
    return CF_OK;
}

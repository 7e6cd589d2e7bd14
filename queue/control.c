// SPDX-License-Identifier: MIT
/* queue/control.c: control requests in Redis (queue/control.h). Every command touches one
 * queue's slot ({Q}: control, its in-flight lists, dead) or one key used alone (a reply key). */
#include "queue/control.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/clock.h"
#include "queue/envelope.h"
#include "queue/queue_internal.h"
#include "queue/schedule.h"

static const cf_redis_script putback_script = {
    "control_putback", "if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then\n"
                       "  redis.call('RPUSH', KEYS[2], ARGV[1])\n"
                       "  return 1\n"
                       "end\n"
                       "return 0\n"};

static const cf_redis_script answer_script = {"control_answer",
                                              "redis.call('LPUSH', KEYS[1], ARGV[1])\n"
                                              "redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                                              "return 1\n"};

/* run executes a and frees the reply. */
static cf_status run(cf_queue *q, const cf_argv *a)
{
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, a, &rep);
    cf_reply_free(rep);
    return st;
}

cf_status cf_control_take(cf_queue *q, const char *queue, int64_t block_ms, char **raw, size_t *len)
{
    *raw = NULL;
    *len = 0;
    cf_status st = cf_queue_begin(q, queue, true);
    if (st != CF_OK)
        return st;
    char src[CF_KEY_MAX], dst[CF_KEY_MAX], secs[32];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, block_ms > 0 ? "BLMOVE" : "LMOVE");
    cf_argv_key(&a, src, cf_key_control(src, sizeof src, q->prefix, queue));
    cf_argv_key(&a, dst, cf_key_control_inflight(dst, sizeof dst, q->prefix, queue, q->worker_id));
    cf_argv_str(cf_argv_str(&a, "RIGHT"), "LEFT");
    cf_reply *rep = NULL;
    if (block_ms > 0) {
        snprintf(secs, sizeof secs, "%lld.%03lld", (long long)(block_ms / 1000),
                 (long long)(block_ms % 1000));
        cf_argv_str(&a, secs);
        st = cf_queue_exec_blocking(q, block_ms, &a, &rep);
    } else {
        st = cf_queue_exec(q, &a, &rep);
    }
    if (st == CF_OK && rep->type == CF_REPLY_STRING) {
        *raw = cf_reply_take_str(rep, len);
        st = *raw ? CF_OK : CF_ERR_NOMEM;
    } else if (st == CF_OK) {
        st = rep->type == CF_REPLY_NIL ? CF_ERR_NOT_FOUND : CF_ERR_PROTOCOL;
    }
    cf_reply_free(rep);
    return st;
}

cf_status cf_control_ack(cf_queue *q, const char *queue, const void *raw, size_t len)
{
    cf_status st = cf_queue_begin(q, queue, true);
    if (st != CF_OK)
        return st;
    char k[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_key(cf_argv_str(&a, "LREM"), k,
                cf_key_control_inflight(k, sizeof k, q->prefix, queue, q->worker_id));
    cf_argv_buf(cf_argv_int(&a, 1), raw, len);
    return run(q, &a);
}

cf_status cf_control_putback(cf_queue *q, const char *queue, const void *raw, size_t len)
{
    cf_status st = cf_queue_begin(q, queue, true);
    if (st != CF_OK)
        return st;
    char ik[CF_KEY_MAX], ck[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init_script(&a, &putback_script, 2);
    cf_argv_key(&a, ik, cf_key_control_inflight(ik, sizeof ik, q->prefix, queue, q->worker_id));
    cf_argv_key(&a, ck, cf_key_control(ck, sizeof ck, q->prefix, queue));
    cf_argv_buf(&a, raw, len);
    return run(q, &a);
}

cf_status cf_control_dead(cf_queue *q, const char *queue, const void *raw, size_t len,
                          const cf_deadletter_reason *why)
{
    cf_status st = cf_deadletter_push(q, queue, raw, len, why, 0, 0);
    if (st == CF_OK)
        st = cf_control_ack(q, queue, raw, len);
    return st;
}

cf_status cf_control_reply_send(cf_queue *q, const char *reply_key, const cf_control_reply *r)
{
    cf_status st = cf_queue_begin(q, NULL, false);
    if (st != CF_OK)
        return st;
    cf_buf b = CF_BUF_INIT;
    st = cf_control_reply_encode(r, &b);
    if (st == CF_OK) {
        cf_argv a;
        cf_argv_init_script(&a, &answer_script, 1);
        cf_argv_str(&a, reply_key);
        cf_argv_int(cf_argv_buf(&a, b.data, b.len), CF_CONTROL_REPLY_TTL_MS);
        st = run(q, &a);
    }
    cf_buf_deinit(&b);
    return st;
}

cf_status cf_control_push(cf_queue *q, const char *queue, const void *raw, size_t len)
{
    cf_status st = cf_queue_begin(q, queue, false);
    if (st != CF_OK)
        return st;
    char k[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_key(cf_argv_str(&a, "LPUSH"), k, cf_key_control(k, sizeof k, q->prefix, queue));
    cf_argv_buf(&a, raw, len);
    return run(q, &a);
}

cf_status cf_control_wait_reply(cf_queue *q, const char *request_id, int64_t timeout_ms,
                                cf_control_reply *out)
{
    memset(out, 0, sizeof *out);
    cf_status st = cf_queue_begin(q, NULL, false);
    if (st != CF_OK)
        return st;
    char k[CF_KEY_MAX], secs[32];
    snprintf(secs, sizeof secs, "%lld.%03lld", (long long)(timeout_ms / 1000),
             (long long)(timeout_ms % 1000));
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_key(cf_argv_str(&a, "BRPOP"), k, cf_key_reply(k, sizeof k, q->prefix, request_id));
    cf_argv_str(&a, secs);
    cf_reply *rep = NULL;
    st = cf_queue_exec_blocking(q, timeout_ms, &a, &rep);
    if (st == CF_OK && rep->type == CF_REPLY_ARRAY && rep->n == 2 &&
        rep->elem[1].type == CF_REPLY_STRING)
        st = cf_control_reply_decode(rep->elem[1].str, rep->elem[1].len, out);
    else if (st == CF_OK)
        st = CF_ERR_NOT_FOUND;
    cf_reply_free(rep);
    return st;
}

// SPDX-License-Identifier: MIT
/* queue/workers.c: listing the registered workers with their published info, and quiet/resume
 * requests. Read-mostly and for operators: one ZRANGE, then one HGETALL per worker. */
#include "queue/workers.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

static bool field_is(const cf_reply *f, const char *name)
{
    return f->type == CF_REPLY_STRING && f->len == strlen(name) &&
           memcmp(f->str, name, f->len) == 0;
}

/* read_info fills e from HGETALL P:worker:<id>. */
static cf_status read_info(cf_queue *q, cf_worker_entry *e)
{
    char key[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_key(cf_argv_str(&a, "HGETALL"), key,
                cf_key_worker_info(key, sizeof key, q->prefix, e->id));
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st != CF_OK)
        return st;
    for (size_t i = 0; rep->type == CF_REPLY_ARRAY && i + 1 < rep->n; i += 2) {
        const cf_reply *f = &rep->elem[i], *v = &rep->elem[i + 1];
        if (v->type != CF_REPLY_STRING)
            continue;
        e->has_info = true;
        if (field_is(f, "queues")) {
            cf_free(e->queues);
            e->queues = cf_strndup(v->str, v->len);
        } else if (field_is(f, "host")) {
            cf_free(e->host);
            e->host = cf_strndup(v->str, v->len);
        } else if (field_is(f, "pid")) {
            e->pid = strtoll(v->str, NULL, 10);
        } else if (field_is(f, "concurrency")) {
            e->concurrency = atoi(v->str);
        } else if (field_is(f, "busy")) {
            e->busy = atoi(v->str);
        } else if (field_is(f, "quiet")) {
            e->quiet = v->str[0] == '1';
        } else if (field_is(f, "keyspace")) {
            e->keyspace = atoi(v->str);
        } else if (field_is(f, "quiet_request")) {
            e->quiet_wanted = v->str[0] == '1';
        }
    }
    cf_reply_free(rep);
    if (e->queues == NULL || e->host == NULL)
        return cf_queue_fail(q, CF_ERR_NOMEM, "out of memory");
    return CF_OK;
}

cf_status cf_workers_list(cf_queue *q, int64_t lease_ms, cf_worker_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char wk[CF_KEY_MAX];
    cf_status st = cf_queue_begin(q, NULL, false);
    if (st != CF_OK)
        return st;
    int64_t now = 0;
    st = cf_redis_time_ms(q->redis, &now);
    if (st != CF_OK)
        return st;
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_key(cf_argv_str(&a, "ZRANGE"), wk, cf_key_workers(wk, sizeof wk, q->prefix));
    cf_argv_str(cf_argv_str(cf_argv_str(&a, "0"), "-1"), "WITHSCORES");
    cf_reply *rep = NULL;
    st = cf_queue_exec(q, &a, &rep);
    if (st != CF_OK)
        return st;
    size_t count = rep->type == CF_REPLY_ARRAY ? rep->n / 2 : 0;
    cf_worker_entry *list = count ? cf_calloc(count, sizeof *list) : NULL;
    if (count && list == NULL) {
        cf_reply_free(rep);
        return cf_queue_fail(q, CF_ERR_NOMEM, "out of memory");
    }
    size_t got = 0;
    for (size_t i = 0; i < count && st == CF_OK; i++) {
        const cf_reply *id = &rep->elem[2 * i], *score = &rep->elem[2 * i + 1];
        if (id->type != CF_REPLY_STRING || score->type != CF_REPLY_STRING)
            continue;
        cf_worker_entry *e = &list[got++];
        e->id = cf_strndup(id->str, id->len);
        e->queues = cf_strdup("");
        e->host = cf_strdup("");
        if (e->id == NULL) {
            st = cf_queue_fail(q, CF_ERR_NOMEM, "out of memory");
            break;
        }
        e->age_ms = now - (int64_t)strtod(score->str, NULL);
        e->live = e->age_ms < lease_ms;
        st = read_info(q, e);
    }
    cf_reply_free(rep);
    if (st != CF_OK) {
        cf_workers_list_free(list, got);
        return st;
    }
    *out = list;
    *n = got;
    return CF_OK;
}

void cf_workers_list_free(cf_worker_entry *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++) {
        cf_free(list[i].id);
        cf_free(list[i].queues);
        cf_free(list[i].host);
    }
    cf_free(list);
}

cf_status cf_workers_set_quiet(cf_queue *q, const char *worker_id, bool quiet)
{
    char key[CF_KEY_MAX];
    cf_status st = cf_queue_begin(q, NULL, false);
    if (st != CF_OK)
        return st;
    if (worker_id == NULL || worker_id[0] == '\0')
        return cf_queue_fail(q, CF_ERR_INVALID, "which worker? (no worker id given)");
    cf_argv a;
    cf_argv_init_script(&a, &cf_script_worker_quiet, 1);
    cf_argv_key(&a, key, cf_key_worker_info(key, sizeof key, q->prefix, worker_id));
    cf_argv_str(&a, quiet ? "1" : "0");
    cf_reply *rep = NULL;
    st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK && !(rep->type == CF_REPLY_INTEGER && rep->integer == 1))
        st = cf_queue_fail(q, CF_ERR_NOT_FOUND, "worker %.64s publishes no info", worker_id);
    cf_reply_free(rep);
    return st;
}

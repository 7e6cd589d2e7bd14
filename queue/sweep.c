// SPDX-License-Identifier: MIT
/* queue/sweep.c: the pass lease, worker liveness and the suspects hash of queue/sweep.h. A
 * suspect is stored as field "<class>/<key>", value "<first_seen_ms> <lock value>". */
#include "queue/sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"

cf_status cf_sweep_claim(cf_queue *q, int64_t ttl_ms, bool *won)
{
    *won = false;
    char key[CF_KEY_MAX];
    cf_status bst = cf_queue_begin(q, NULL, true);
    if (bst != CF_OK)
        return bst;
    if (ttl_ms <= 0 || cf_key_sweeper(key, sizeof key, q->prefix) < 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "a sweep lease must be > 0");
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(cf_argv_str(cf_argv_str(&a, "SET"), key), q->worker_id);
    cf_argv_int(cf_argv_str(cf_argv_str(&a, "NX"), "PX"), ttl_ms);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK)
        *won = rep->type == CF_REPLY_STATUS;
    cf_reply_free(rep);
    return st;
}

cf_status cf_sweep_worker_liveness(cf_queue *q, const char *worker_id, int64_t lease_ms,
                                   cf_worker_liveness *out)
{
    *out = CF_WORKER_ABSENT;
    char key[CF_KEY_MAX];
    cf_status bst = cf_queue_begin(q, NULL, false);
    if (bst != CF_OK)
        return bst;
    if (worker_id == NULL || cf_key_workers(key, sizeof key, q->prefix) < 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "no worker id given");
    cf_argv cmds[2];
    cf_argv_init(&cmds[0]);
    cf_argv_str(cf_argv_str(cf_argv_str(&cmds[0], "ZSCORE"), key), worker_id);
    cf_argv_init(&cmds[1]);
    cf_argv_str(&cmds[1], "TIME");
    cf_reply *reps[2];
    cf_status st = cf_queue_pipeline(q, cmds, 2, reps);
    if (st == CF_OK) {
        const cf_reply *t = reps[1];
        if (t->type != CF_REPLY_ARRAY || t->n != 2 || t->elem[0].type != CF_REPLY_STRING ||
            t->elem[1].type != CF_REPLY_STRING) {
            st = CF_ERR_PROTOCOL;
        } else if (reps[0]->type == CF_REPLY_STRING) {
            int64_t now_ms =
                strtoll(t->elem[0].str, NULL, 10) * 1000 + strtoll(t->elem[1].str, NULL, 10) / 1000;
            int64_t beat_ms = (int64_t)strtod(reps[0]->str, NULL);
            *out = now_ms - beat_ms > lease_ms ? CF_WORKER_DEAD : CF_WORKER_LIVE;
        }
    }
    cf_reply_free(reps[0]);
    cf_reply_free(reps[1]);
    return st;
}

void cf_sweep_suspects_deinit(cf_sweep_suspects *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        cf_free(s->items[i].lock_id);
        cf_free(s->items[i].value);
    }
    cf_free(s->items);
    memset(s, 0, sizeof *s);
}

static cf_sweep_suspect *find(cf_sweep_suspects *s, const char *lock_id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].lock_id, lock_id) == 0)
            return &s->items[i];
    return NULL;
}

/* append takes ownership of lock_id and value (freed on failure). */
static bool append(cf_sweep_suspects *s, char *lock_id, char *value, int64_t first_seen_ms)
{
    if (lock_id == NULL || value == NULL)
        goto fail;
    if (cf_grow(&s->items, &s->cap, s->n, sizeof *s->items, 8) != 0)
        goto fail;
    s->items[s->n++] = (cf_sweep_suspect){lock_id, value, first_seen_ms, false};
    return true;
fail:
    cf_free(lock_id);
    cf_free(value);
    return false;
}

int64_t cf_sweep_suspects_note(cf_sweep_suspects *s, const char *lock_id, const char *value,
                               int64_t now_ms)
{
    cf_sweep_suspect *it = find(s, lock_id);
    if (it)
        it->touched = true;
    if (it && strcmp(it->value, value) == 0)
        return it->first_seen_ms;
    if (it) {
        char *v = cf_strdup(value);
        if (v == NULL)
            return -1;
        cf_free(it->value);
        it->value = v;
        it->first_seen_ms = now_ms;
        return now_ms;
    }
    if (!append(s, cf_strdup(lock_id), cf_strdup(value), now_ms))
        return -1;
    s->items[s->n - 1].touched = true;
    return now_ms;
}

static void remove_at(cf_sweep_suspects *s, size_t i)
{
    cf_free(s->items[i].lock_id);
    cf_free(s->items[i].value);
    s->items[i] = s->items[--s->n];
}

void cf_sweep_suspects_drop(cf_sweep_suspects *s, const char *lock_id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].lock_id, lock_id) == 0) {
            remove_at(s, i);
            return;
        }
}

void cf_sweep_suspects_expire(cf_sweep_suspects *s, int64_t oldest_ms)
{
    for (size_t i = 0; i < s->n;)
        if (!s->items[i].touched && s->items[i].first_seen_ms < oldest_ms)
            remove_at(s, i);
        else
            i++;
}

cf_status cf_sweep_suspects_load(cf_queue *q, cf_sweep_suspects *s)
{
    cf_sweep_suspects_deinit(s);
    char key[CF_KEY_MAX];
    cf_status bst = cf_queue_begin(q, NULL, false);
    if (bst != CF_OK)
        return bst;
    cf_key_sweeper_suspects(key, sizeof key, q->prefix);
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(cf_argv_str(&a, "HGETALL"), key);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK && rep->type != CF_REPLY_ARRAY)
        st = CF_ERR_PROTOCOL;
    for (size_t i = 0; st == CF_OK && i + 1 < rep->n; i += 2) {
        const cf_reply *f = &rep->elem[i], *v = &rep->elem[i + 1];
        if (f->type != CF_REPLY_STRING || v->type != CF_REPLY_STRING)
            continue;
        char *end;
        long long seen = strtoll(v->str, &end, 10);
        if (end == v->str || *end != ' ' || end[1] == '\0')
            continue;
        if (!append(s, cf_strndup(f->str, f->len), cf_strdup(end + 1), (int64_t)seen))
            st = CF_ERR_NOMEM;
    }
    cf_reply_free(rep);
    if (st != CF_OK)
        cf_sweep_suspects_deinit(s);
    return st;
}

cf_status cf_sweep_suspects_save(cf_queue *q, const cf_sweep_suspects *s, int64_t ttl_ms)
{
    char key[CF_KEY_MAX];
    cf_status bst = cf_queue_begin(q, NULL, false);
    if (bst != CF_OK)
        return bst;
    if (ttl_ms <= 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "a suspects ttl must be > 0");
    cf_key_sweeper_suspects(key, sizeof key, q->prefix);
    /* MULTI, DEL, one HSET per entry, PEXPIRE, EXEC: pipelined and applied atomically */
    size_t n = s->n + 4;
    cf_argv *cmds = cf_calloc(n, sizeof *cmds);
    cf_reply **reps = cf_calloc(n, sizeof *reps);
    char **vals = cf_calloc(s->n + 1, sizeof *vals);
    cf_status st = CF_ERR_NOMEM;
    if (cmds == NULL || reps == NULL || vals == NULL)
        goto out;
    cf_argv_init(&cmds[0]);
    cf_argv_str(&cmds[0], "MULTI");
    cf_argv_init(&cmds[1]);
    cf_argv_str(cf_argv_str(&cmds[1], "DEL"), key);
    for (size_t i = 0; i < s->n; i++) {
        size_t cap = strlen(s->items[i].value) + 24;
        vals[i] = cf_malloc(cap);
        if (vals[i] == NULL)
            goto out;
        snprintf(vals[i], cap, "%lld %s", (long long)s->items[i].first_seen_ms, s->items[i].value);
        cf_argv_init(&cmds[2 + i]);
        cf_argv_str(cf_argv_str(&cmds[2 + i], "HSET"), key);
        cf_argv_str(cf_argv_str(&cmds[2 + i], s->items[i].lock_id), vals[i]);
    }
    cf_argv_init(&cmds[n - 2]);
    cf_argv_int(cf_argv_str(cf_argv_str(&cmds[n - 2], "PEXPIRE"), key), ttl_ms);
    cf_argv_init(&cmds[n - 1]);
    cf_argv_str(&cmds[n - 1], "EXEC");
    if (s->n == 0) {
        st = cf_queue_exec(q, &cmds[1], &reps[0]); /* nothing to keep: just DEL */
        cf_reply_free(reps[0]);
        goto out;
    }
    st = cf_queue_pipeline(q, cmds, n, reps);
    if (st == CF_OK && (reps[n - 1] == NULL || reps[n - 1]->type != CF_REPLY_ARRAY))
        st = CF_ERR_PROTOCOL; /* EXEC aborted */
    for (size_t i = 0; i < n; i++)
        cf_reply_free(reps[i]);
out:
    for (size_t i = 0; vals && i < s->n; i++)
        cf_free(vals[i]);
    cf_free(vals);
    cf_free(reps);
    cf_free(cmds);
    return st;
}

// SPDX-License-Identifier: MIT
/* queue/pause.c: P:{Q}:paused, set, deleted and read (queue/pause.h). */
#include "queue/pause.h"

#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"

cf_status cf_queue_pause_set(cf_queue *q, const char *queue, bool paused, const char *by)
{
    cf_status st = cf_queue_begin(q, queue, false);
    if (st != CF_OK)
        return st;
    char key[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, paused ? "SET" : "DEL");
    cf_argv_key(&a, key, cf_key_paused(key, sizeof key, q->prefix, queue));
    if (paused)
        cf_argv_str(&a, by && *by ? by : "unknown");
    cf_reply *rep = NULL;
    st = cf_queue_exec(q, &a, &rep);
    cf_reply_free(rep);
    return st;
}

cf_status cf_queue_is_paused(cf_queue *q, const char *queue, bool *paused)
{
    *paused = false;
    cf_status st = cf_queue_begin(q, queue, false);
    if (st != CF_OK)
        return st;
    char key[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, "EXISTS");
    cf_argv_key(&a, key, cf_key_paused(key, sizeof key, q->prefix, queue));
    cf_reply *rep = NULL;
    st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK && rep->type != CF_REPLY_INTEGER)
        st = cf_queue_fail(q, CF_ERR_PROTOCOL, "unexpected reply of EXISTS");
    else if (st == CF_OK)
        *paused = rep->integer == 1;
    cf_reply_free(rep);
    return st;
}

// SPDX-License-Identifier: MIT
/* cli/cmd_stats.c: `chronoforge stats`: queue depths (ready, scheduled, in flight, dead), live
 * workers, workflows by state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/args.h"
#include "cli/cmd.h"
#include "cli/connect.h"
#include "queue/enqueue.h"
#include "queue/fetch.h"
#include "queue/keys.h"
#include "queue/recovery.h"
#include "store/query.h"

/* string_list runs a command whose reply is an array of strings; returns a JSON array. */
static json_t *string_list(cf_redis *r, int argc, const char *const *argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    cf_reply *rep = NULL;
    json_t *out = json_array();
    if (cf_redis_exec(r, argc, argv, lens, &rep) == CF_OK && rep->type == CF_REPLY_ARRAY)
        for (size_t i = 0; i < rep->n; i++)
            if (rep->elem[i].type == CF_REPLY_STRING)
                json_array_append_new(out, json_stringn(rep->elem[i].str, rep->elem[i].len));
    cf_reply_free(rep);
    return out;
}

static json_t *queue_stats(cf_queue *qh, const char *queue, json_t *workers)
{
    int64_t ready = 0, scheduled = 0, dead = 0, inflight = 0;
    if (cf_queue_depths(qh, queue, &ready, &scheduled, &dead) != CF_OK)
        return NULL;
    size_t i;
    json_t *w;
    json_array_foreach(workers, i, w)
    {
        int64_t n = 0;
        if (cf_fetch_inflight_count(qh, json_string_value(w), queue, &n) == CF_OK)
            inflight += n;
    }
    return json_pack("{sI sI sI sI}", "ready", (json_int_t)ready, "scheduled",
                     (json_int_t)scheduled, "in_flight", (json_int_t)inflight, "dead",
                     (json_int_t)dead);
}

int cf_cli_cmd_stats(int argc, char **argv)
{
    bool as_json = false;
    const cf_cli_opt opts[] = {{"json", 0, NULL, "print JSON", NULL, &as_json}, {0}};
    const cf_cli_command_spec spec = {
        .usage = "stats [--json]",
        .summary = "Shows queue depths (ready, scheduled, in flight, dead), live workers and "
                   "workflows by state.",
        .opts = opts,
        .scope = CF_CFG_ALL,
    };
    cf_cli_args a;
    int rc = cf_cli_parse(argc, argv, &spec, &a);
    if (rc >= 0)
        return rc;
    cf_queue *qh = NULL;
    if (cf_cli_open_queue("stats", &a.cfg, &qh))
        return 1;
    cf_redis *r = cf_queue_redis(qh);
    char qkey[CF_KEY_MAX], wkey[CF_KEY_MAX];
    cf_key_queues(qkey, sizeof qkey, a.cfg.prefix);
    cf_key_workers(wkey, sizeof wkey, a.cfg.prefix);
    json_t *queues = string_list(r, 2, (const char *const[]){"SMEMBERS", qkey});
    json_t *workers = string_list(r, 4, (const char *const[]){"ZRANGE", wkey, "0", "-1"});
    int64_t live = 0;
    if (cf_recovery_live_workers(qh, a.cfg.lease_ms, &live) != CF_OK)
        live = -1;
    json_t *qs = json_object();
    size_t i;
    json_t *q;
    json_array_foreach(queues, i, q)
    {
        json_t *one = queue_stats(qh, json_string_value(q), workers);
        if (one)
            json_object_set_new(qs, json_string_value(q), one);
    }
    cf_queue_free(qh);
    cf_state_counts c = {0};
    cf_store *store = NULL;
    json_t *states = json_null();
    if (cf_cli_open_store("stats", &a.cfg, &store) == 0) {
        if (cf_store_count_by_state(store, NULL, &c) == CF_OK)
            states = json_pack("{sI sI sI sI sI}", "idle", (json_int_t)c.idle, "running",
                               (json_int_t)c.running, "completed", (json_int_t)c.completed,
                               "failed", (json_int_t)c.failed, "stalled", (json_int_t)c.stalled);
        cf_store_close(store);
    }
    json_t *root = json_pack("{so sI sI so}", "queues", qs, "workers_registered",
                             (json_int_t)json_array_size(workers), "workers_live", (json_int_t)live,
                             "workflows", states);
    if (as_json) {
        json_dumpf(root, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else {
        printf("%-20s %10s %10s %10s %10s\n", "QUEUE", "READY", "SCHEDULED", "IN-FLIGHT", "DEAD");
        const char *name;
        json_t *v;
        json_object_foreach(qs, name, v)
        {
            printf("%-20s %10lld %10lld %10lld %10lld\n", name,
                   (long long)json_integer_value(json_object_get(v, "ready")),
                   (long long)json_integer_value(json_object_get(v, "scheduled")),
                   (long long)json_integer_value(json_object_get(v, "in_flight")),
                   (long long)json_integer_value(json_object_get(v, "dead")));
        }
        printf("workers: %lld live\n", (long long)live);
        if (json_is_object(states))
            printf("workflows: idle=%lld running=%lld completed=%lld failed=%lld stalled=%lld\n",
                   (long long)c.idle, (long long)c.running, (long long)c.completed,
                   (long long)c.failed, (long long)c.stalled);
    }
    int ok = json_is_object(states);
    json_decref(root); /* owns states */
    json_decref(queues);
    json_decref(workers);
    return ok ? 0 : 1;
}

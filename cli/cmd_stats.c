// SPDX-License-Identifier: MIT
/* cli/cmd_stats.c: `chronoforge stats`: queue depths (ready, scheduled, in flight, dead, paused),
 * live and quiet workers, workflows by state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cmd.h"
#include "cli/runner.h"
#include "queue/enqueue.h"
#include "queue/fetch.h"
#include "queue/keys.h"
#include "queue/pause.h"
#include "queue/recovery.h"
#include "queue/workers.h"
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
    bool paused = false;
    if (cf_queue_is_paused(qh, queue, &paused) != CF_OK)
        return NULL;
    return json_pack("{sI sI sI sI sb}", "ready", (json_int_t)ready, "scheduled",
                     (json_int_t)scheduled, "in_flight", (json_int_t)inflight, "dead",
                     (json_int_t)dead, "paused", paused);
}

/* workflow_counts reads workflows by state from its own store connection: stats still shows
 * Redis's side when Postgres is away (then fails with its reason). */
static json_t *workflow_counts(cf_cli_ctx *ctx, cf_state_counts *c)
{
    const cf_config *cfg = &ctx->args.cfg;
    cf_store_config sc = {.dsn = cfg->database_url,
                          .max_connections = 2,
                          .statement_timeout_ms = cfg->statement_timeout_ms,
                          .batch_max = 1,
                          .no_prepared_statements = !cfg->pg_prepared_statements};
    cf_store *store = NULL;
    cf_error why = {0};
    if (cf_store_open(&sc, &store, &why) != CF_OK) {
        cf_cli_refuse(ctx, CF_ERR_UNAVAILABLE, "cannot use Postgres: %s", why.msg);
        return json_null();
    }
    json_t *states = json_null();
    if (cf_store_count_by_state(store, NULL, c) == CF_OK) {
        states = json_object();
        /* every state of the table; unknown only when a newer release stored some */
        for (int st = 0; st < CF_WF_STATE_COUNT; st++)
            if (st != CF_WF_UNKNOWN || c->by_state[st] > 0)
                json_object_set_new(states, cf_wf_state_name((cf_wf_state)st),
                                    json_integer(c->by_state[st]));
    } else {
        snprintf(ctx->why, sizeof ctx->why, "%s", cf_store_errstr(store));
    }
    cf_store_close(store);
    return states;
}

static void print_text(json_t *qs, json_t *states, int64_t live, int64_t quiet)
{
    printf("%-20s %10s %10s %10s %10s\n", "QUEUE", "READY", "SCHEDULED", "IN-FLIGHT", "DEAD");
    const char *name;
    json_t *v;
    json_object_foreach(qs, name, v)
    {
        printf("%-20s %10lld %10lld %10lld %10lld%s\n", name,
               (long long)json_integer_value(json_object_get(v, "ready")),
               (long long)json_integer_value(json_object_get(v, "scheduled")),
               (long long)json_integer_value(json_object_get(v, "in_flight")),
               (long long)json_integer_value(json_object_get(v, "dead")),
               json_is_true(json_object_get(v, "paused")) ? "  paused" : "");
    }
    printf("workers: %lld live, %lld quiet\n", (long long)live, (long long)quiet);
    if (json_is_object(states)) {
        printf("workflows:");
        json_object_foreach(states, name, v)
        {
            printf(" %s=%lld", name, (long long)json_integer_value(v));
        }
        printf("\n");
    }
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    const bool *as_json = arg;
    cf_queue *qh = ctx->queue;
    cf_redis *r = cf_queue_redis(qh);
    const char *prefix = ctx->args.cfg.prefix;
    char qkey[CF_KEY_MAX], wkey[CF_KEY_MAX];
    cf_key_queues(qkey, sizeof qkey, prefix);
    cf_key_workers(wkey, sizeof wkey, prefix);
    json_t *queues = string_list(r, 2, (const char *const[]){"SMEMBERS", qkey});
    json_t *workers = string_list(r, 4, (const char *const[]){"ZRANGE", wkey, "0", "-1"});
    int64_t live = 0, quiet = 0;
    if (cf_recovery_live_workers(qh, ctx->args.cfg.lease_ms, &live) != CF_OK)
        live = -1;
    cf_worker_entry *list = NULL;
    size_t n = 0;
    if (cf_workers_list(qh, ctx->args.cfg.lease_ms, &list, &n) == CF_OK)
        for (size_t i = 0; i < n; i++)
            quiet += list[i].live && list[i].quiet;
    else
        quiet = -1;
    cf_workers_list_free(list, n);
    json_t *qs = json_object();
    size_t i;
    json_t *q;
    json_array_foreach(queues, i, q)
    {
        json_t *one = queue_stats(qh, json_string_value(q), workers);
        if (one)
            json_object_set_new(qs, json_string_value(q), one);
    }
    cf_state_counts c = {0};
    json_t *states = workflow_counts(ctx, &c);
    bool have_counts = json_is_object(states);
    json_t *root = json_pack("{so sI sI sI so}", "queues", qs, "workers_registered",
                             (json_int_t)json_array_size(workers), "workers_live", (json_int_t)live,
                             "workers_quiet", (json_int_t)quiet, "workflows", states);
    if (*as_json) {
        json_dumpf(root, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    } else {
        print_text(qs, states, live, quiet);
    }
    json_decref(root); /* owns qs and states */
    json_decref(queues);
    json_decref(workers);
    return have_counts ? CF_OK : CF_ERR_UNAVAILABLE;
}

int cf_cli_cmd_stats(int argc, char **argv)
{
    bool as_json = false;
    const cf_cli_opt opts[] = {{"json", 0, NULL, "print JSON", NULL, &as_json}, {0}};
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "stats [--json]",
                .summary = "Shows queue depths (ready, scheduled, in flight, dead), live and "
                           "quiet workers, and workflows by state.",
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_REDIS,
        .body = body,
    };
    return cf_cli_run(argc, argv, &r, &as_json);
}

// SPDX-License-Identifier: MIT
/* cli/cmd_workers.c: `chronoforge workers` (the registered workers: heartbeat age, queues,
 * concurrency, busy executors, quiet state) and `chronoforge workers quiet|resume ID|--all`. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cmd.h"
#include "cli/runner.h"
#include "common/duration.h"
#include "queue/workers.h"

typedef struct workers_opts {
    bool all, as_json;
} workers_opts;

/* state_name: how a worker's quiet state reads, "stale" when it missed its lease. */
static const char *state_name(const cf_worker_entry *e)
{
    if (!e->live)
        return "stale";
    if (!e->has_info)
        return "running";
    if (e->quiet != e->quiet_wanted)
        return e->quiet_wanted ? "quieting" : "resuming";
    return e->quiet ? "quiet" : "running";
}

static void print_text(const cf_worker_entry *list, size_t n)
{
    printf("%-40s %9s %-9s %9s  %-24s %s\n", "WORKER", "HEARTBEAT", "STATE", "BUSY", "QUEUES",
           "HOST/PID");
    size_t live = 0, quiet = 0;
    for (size_t i = 0; i < n; i++) {
        const cf_worker_entry *e = &list[i];
        char age[32], busy[32];
        cf_duration_format(e->age_ms < 0 ? 0 : e->age_ms, age, sizeof age);
        snprintf(busy, sizeof busy, "%d/%d", e->busy, e->concurrency);
        printf("%-40s %9s %-9s %9s  %-24s %s/%lld\n", e->id, age, state_name(e),
               e->has_info ? busy : "-", e->has_info ? e->queues : "-", e->has_info ? e->host : "-",
               (long long)e->pid);
        live += e->live;
        quiet += e->live && e->quiet;
    }
    printf("%zu worker%s registered, %zu live, %zu quiet\n", n, n == 1 ? "" : "s", live, quiet);
}

static void print_json(const cf_worker_entry *list, size_t n)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        const cf_worker_entry *e = &list[i];
        json_array_append_new(
            rows, json_pack("{ss sI sb ss ss ss sI si si sb sb si}", "id", e->id,
                            "heartbeat_age_ms", (json_int_t)e->age_ms, "live", e->live, "state",
                            state_name(e), "queues", e->queues, "host", e->host, "pid",
                            (json_int_t)e->pid, "concurrency", e->concurrency, "busy", e->busy,
                            "quiet", e->quiet, "quiet_requested", e->quiet_wanted, "keyspace",
                            e->has_info ? (e->keyspace ? e->keyspace : 1) : 0));
    }
    json_t *root = json_pack("{so}", "workers", rows);
    json_dumpf(root, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(root);
}

static cf_status check(cf_cli_ctx *ctx, void *arg)
{
    const workers_opts *o = arg;
    int npos = ctx->args.npos;
    const char *sub = npos ? ctx->args.pos[0] : NULL;
    if (sub == NULL) {
        if (o->all)
            return cf_cli_usage(ctx, "--all goes with quiet or resume");
        return CF_OK;
    }
    if (strcmp(sub, "quiet") && strcmp(sub, "resume"))
        return cf_cli_usage(ctx, "unknown subcommand '%s' (quiet or resume)", sub);
    if ((npos == 2) == o->all)
        return cf_cli_usage(ctx, "%s takes a worker id or --all", sub);
    return CF_OK;
}

/* set_quiet sends the request to one worker (id) or every live one (id NULL). */
static cf_status set_quiet(cf_cli_ctx *ctx, const char *id, bool quiet)
{
    const cf_config *cfg = &ctx->args.cfg;
    cf_worker_entry *list = NULL;
    size_t n = 0;
    cf_status st = cf_workers_list(ctx->queue, cfg->lease_ms, &list, &n);
    size_t done = 0, found = 0;
    for (size_t i = 0; st == CF_OK && i < n; i++) {
        const cf_worker_entry *e = &list[i];
        if (!e->live || (id && strcmp(e->id, id) != 0))
            continue;
        found++;
        cf_status one = cf_workers_set_quiet(ctx->queue, e->id, quiet);
        if (one == CF_OK) {
            printf("%s requested for %s\n", quiet ? "quiet" : "resume", e->id);
            done++;
        } else if (one == CF_ERR_NOT_FOUND) {
            fprintf(stderr,
                    "chronoforge workers: %s publishes no state (an older release?); "
                    "skipped\n",
                    e->id);
        } else {
            st = one;
        }
    }
    cf_workers_list_free(list, n);
    if (st != CF_OK)
        return st;
    if (id && found == 0)
        return cf_cli_refuse(ctx, CF_ERR_NOT_FOUND, "no live worker '%s' (see chronoforge workers)",
                             id);
    if (done == 0)
        return cf_cli_refuse(ctx, CF_ERR_NOT_FOUND, "no live worker took the request");
    printf("%s: %zu worker%s (applied at each one's next heartbeat)\n",
           quiet ? "quieted" : "resumed", done, done == 1 ? "" : "s");
    return CF_OK;
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    const workers_opts *o = arg;
    if (ctx->args.npos > 0)
        return set_quiet(ctx, ctx->args.npos == 2 ? ctx->args.pos[1] : NULL,
                         strcmp(ctx->args.pos[0], "quiet") == 0);
    cf_worker_entry *list = NULL;
    size_t n = 0;
    cf_status st = cf_workers_list(ctx->queue, ctx->args.cfg.lease_ms, &list, &n);
    if (st != CF_OK)
        return st;
    if (o->as_json)
        print_json(list, n);
    else
        print_text(list, n);
    cf_workers_list_free(list, n);
    return CF_OK;
}

int cf_cli_cmd_workers(int argc, char **argv)
{
    workers_opts o = {0};
    const cf_cli_opt opts[] = {
        {"all", 0, NULL, "quiet/resume: every live worker", NULL, &o.all},
        {"json", 0, NULL, "list: print JSON", NULL, &o.as_json},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "workers [--json] | workers quiet|resume ID|--all",
                .summary = "Lists the registered workers: heartbeat age, state (running, quiet, "
                           "quieting, resuming, stale), busy executors of their concurrency, "
                           "queues, host and pid. quiet makes a worker take no new envelopes "
                           "while it finishes what it runs and stays up (as SIGTSTP does); "
                           "resume undoes it. Both apply at the worker's next heartbeat.",
                .max_positional = 2,
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_REDIS,
        .check = check,
        .body = body,
    };
    return cf_cli_run(argc, argv, &r, &o);
}

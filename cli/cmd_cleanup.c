// SPDX-License-Identifier: MIT
/* cli/cmd_cleanup.c: `chronoforge cleanup --older-than D [--state S,...] [--dry-run]`: deletes
 * finished workflows (completed and cancelled by default; failed only when named) that finished
 * longer ago than D, with their logs, in batches (store/retention.h). Dead letters have their own
 * command
 * (`dead purge --older-than`). */
#include <stdio.h>

#include "cli/cmd.h"
#include "cli/runner.h"
#include "common/clock.h"
#include "common/duration.h"
#include "store/retention.h"

typedef struct cleanup_opts {
    const char *older, *states, *batch, *duty;
    bool dry_run;
    int64_t older_ms;
    cf_wf_state list[CF_WF_STATE_COUNT];
    size_t nlist;
    long batch_n, duty_n;
} cleanup_opts;

static cf_status check(cf_cli_ctx *ctx, void *arg)
{
    cleanup_opts *o = arg;
    cf_error err = {0};
    if (!o->older)
        return cf_cli_usage(ctx, "--older-than is required (e.g. --older-than 30d)");
    if (cf_duration_parse_ms(o->older, &o->older_ms, &err) != CF_OK)
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "--older-than: %s", err.msg);
    const char *bad = o->states;
    if (!cf_wf_states_parse_csv(o->states, o->list, CF_WF_STATE_COUNT, &o->nlist, &bad) ||
        o->nlist == 0)
        return cf_cli_refuse(ctx, CF_ERR_INVALID,
                             "--state: '%s' is not a list of states, each once (at '%s')",
                             o->states, bad);
    for (size_t i = 0; i < o->nlist; i++)
        if (!cf_wf_state_finished(o->list[i]))
            return cf_cli_refuse(ctx, CF_ERR_INVALID,
                                 "--state: %s workflows are not finished; cleanup deletes only "
                                 "finished ones (completed, failed, cancelled)",
                                 cf_wf_state_name(o->list[i]));
    o->batch_n = 1000;
    o->duty_n = 10;
    if (o->batch && cf_cli_parse_count(ctx, "--batch", o->batch, 1, CF_RETENTION_BATCH_MAX,
                                       &o->batch_n) != CF_OK)
        return CF_ERR_INVALID;
    if (o->duty)
        return cf_cli_parse_count(ctx, "--duty", o->duty, 1, 100, &o->duty_n);
    return CF_OK;
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    const cleanup_opts *o = arg;
    cf_retention_req req = {.finished_before_ms = cf_clock_unix_ms() - o->older_ms,
                            .states = o->list,
                            .nstates = o->nlist,
                            .batch = (int)o->batch_n,
                            .dry_run = o->dry_run};
    int64_t total = 0, n = 0, reported = 0;
    cf_status st;
    do {
        int64_t t0 = cf_clock_mono_ms();
        st = cf_store_cleanup_batch(ctx->store, &req, &n);
        if (st == CF_OK)
            total += n;
        if (st == CF_OK && !o->dry_run && n == req.batch) { /* pace: busy duty% of the time */
            cf_clock_sleep_ms((cf_clock_mono_ms() - t0) * (100 - o->duty_n) / o->duty_n, NULL);
            if (total - reported >= 100000) {
                printf("deleted %lld so far\n", (long long)total);
                fflush(stdout);
                reported = total;
            }
        }
    } while (st == CF_OK && !o->dry_run && n == req.batch);
    if (st != CF_OK) {
        if (total > 0)
            fprintf(stderr, "chronoforge cleanup: stopped after deleting %lld\n", (long long)total);
        return cf_cli_refuse(ctx, st, "%s", cf_store_errstr(ctx->store));
    }
    printf("%s %lld %s workflow%s that finished more than %s ago\n",
           o->dry_run ? "would delete" : "deleted", (long long)total, o->states,
           total == 1 ? "" : "s", o->older);
    return CF_OK;
}

int cf_cli_cmd_cleanup(int argc, char **argv)
{
    cleanup_opts o = {.states = "completed,cancelled"};
    const cf_cli_opt opts[] = {
        {"older-than", 0, "DURATION", "delete workflows that finished longer ago than this",
         &o.older, NULL},
        {"state", 0, "STATES",
         "which finished states, comma-separated (default: completed,cancelled)", &o.states, NULL},
        {"batch", 0, "N", "workflows per transaction (default 1000)", &o.batch, NULL},
        {"duty", 0, "PERCENT",
         "keep Postgres busy deleting at most this share of the time "
         "(default 10; 100: as fast as it can)",
         &o.duty, NULL},
        {"dry-run", 0, NULL, "count what would be deleted; delete nothing", NULL, &o.dry_run},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "cleanup --older-than DURATION [--state completed,cancelled,failed] "
                         "[--batch N] "
                         "[--duty PERCENT] [--dry-run]",
                .summary = "Deletes finished workflows, with their execution and error logs, "
                           "that entered their state longer ago than DURATION: completed and "
                           "cancelled ones unless --state names others (failed only when asked; "
                           "stalled, idle "
                           "and running never). Batches are short transactions that skip rows "
                           "in use, paced by --duty so that a running fleet keeps its "
                           "throughput. Enqueueing a deleted key again creates a new workflow.",
                .max_positional = 0,
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_STORE,
        .check = check,
        .body = body,
    };
    return cf_cli_run(argc, argv, &r, &o);
}

// SPDX-License-Identifier: MIT
/* cli/cmd_heal.c: `chronoforge heal [--dry-run]`: one healing pass by hand (worker/sweeper.h),
 * printing each workflow it published again, each stale lock it removed, and why. */
#include <stdio.h>

#include "cli/cmd.h"
#include "cli/runner.h"
#include "worker/sweeper.h"

static void print_event(void *arg, const cf_heal_event *ev)
{
    bool dry = *(const bool *)arg;
    const cf_wf_ref *row = ev->row;
    const char *why = "";
    switch (ev->reason) {
    case CF_HEAL_OVERDUE:
        why = "idle and its wake time passed more than the sweep grace ago";
        break;
    case CF_HEAL_NO_LOCK:
        why = "running, but its run holds no lock in Redis";
        break;
    case CF_HEAL_DEAD_HOLDER:
        why = "running, but the worker holding its lock is not live";
        break;
    case CF_HEAL_STALE_LOCK:
        why = "its Redis lock disagreed with the store for the whole confirmation window";
        break;
    case CF_HEAL_WATCHING:
        why = "its Redis lock disagrees with the store; watching it";
        break;
    }
    const char *verb = ev->published ? (dry ? "would republish" : "republished") : "watching";
    printf("%-16s %s/%s (id %lld, queue %s): %s", verb, row->wf_class, row->key, (long long)row->id,
           row->queue && row->queue[0] ? row->queue : "default", why);
    if (ev->lock_value)
        printf("; lock %s, store locked_by %s", ev->lock_value,
               row->locked_by ? row->locked_by : "none");
    if (ev->lock_removed)
        printf("; %s the lock", dry ? "would remove" : "removed");
    else if (ev->reason == CF_HEAL_WATCHING || (ev->lock_value && ev->watch_left_ms > 0))
        printf("; removable after %llds if unchanged", (long long)(ev->watch_left_ms + 999) / 1000);
    printf("\n");
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    bool *dry_run = arg;
    cf_sweeper *sw = NULL;
    cf_sweep_stats ss = {0};
    cf_status st = cf_sweeper_new(&ctx->args.cfg, ctx->store, ctx->queue, &sw);
    if (st == CF_OK)
        st = cf_sweeper_pass(sw, *dry_run, 60000, print_event, dry_run, &ss);
    if (st != CF_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", cf_store_errstr(ctx->store));
        const char *rerr = cf_queue_errstr(ctx->queue);
        st = cf_cli_refuse(ctx, st, "pass stopped: %s (%s%s%s)", cf_status_str(st), rerr,
                           rerr[0] ? "; " : "", why);
    }
    printf("%s: %lld republished, %lld stale lock%s removed, %lld watched; looked at %lld "
           "overdue and %lld running workflows (%lld already pending, %lld of unknown classes)%s\n",
           *dry_run ? "dry run" : "healed", (long long)ss.republished, (long long)ss.locks_removed,
           ss.locks_removed == 1 ? "" : "s", (long long)ss.watching, (long long)ss.overdue_seen,
           (long long)ss.running_seen, (long long)ss.pending, (long long)ss.unknown_class,
           ss.out_of_time ? "; ran out of time, run it again" : "");
    cf_sweeper_free(sw);
    return st;
}

int cf_cli_cmd_heal(int argc, char **argv)
{
    bool dry_run = false;
    const cf_cli_opt opts[] = {
        {"dry-run", 0, NULL, "report what a pass would do; change nothing", NULL, &dry_run},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "heal [--dry-run]",
                .summary = "Runs one healing pass now (workers run one every --sweep-interval): "
                           "publishes again the idle workflows whose wake time passed more than "
                           "--sweep-grace ago and the running ones whose run is gone, and removes "
                           "Redis locks that disagree with the store (see docs/healing.md).",
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_REDIS | CF_CLI_NEEDS_STORE,
        .body = body,
    };
    return cf_cli_run(argc, argv, &r, &dry_run);
}

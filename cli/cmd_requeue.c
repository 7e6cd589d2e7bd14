// SPDX-License-Identifier: MIT
/* cli/cmd_requeue.c: `chronoforge requeue`: resume stalled or failed workflows. One by KEY
 * (retry_later: recorded in Postgres, then a wake for the next worker), many by --state with
 * filters (bounded batches), or one at once in this process with --now (cli/resume_now.h). Each
 * requeue writes its `$workflow_retry$<ms>` row naming who asked (user@host) and --reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/resume_now.h"
#include "cli/runner.h"
#include "common/backoff.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/duration.h"
#include "queue/envelope.h"
#include "queue/schedule.h"
#include "store/cancel.h"
#include "store/query.h"
#include "store/requeue.h"

#define BULK_BATCH 100

typedef struct requeue_opts {
    const char *wf_class, *reason, *state, *error_class, *older;
    bool now, dry_run, cleanup;
    int64_t older_ms;
    char by[320]; /* user@host */
} requeue_opts;

static cf_status check(cf_cli_ctx *ctx, void *arg)
{
    requeue_opts *o = arg;
    cf_cli_who(o->by, sizeof o->by);
    if (o->state) {
        if (ctx->args.npos > 0 || o->now || o->cleanup)
            return cf_cli_usage(ctx, "--state selects many workflows: give no KEY and no --now");
        if (!cf_wf_state_retryable(cf_wf_state_parse(o->state)))
            return cf_cli_refuse(ctx, CF_ERR_INVALID, "--state takes stalled or failed, not '%s'",
                                 o->state);
        cf_error err;
        if (o->older && cf_duration_parse_ms(o->older, &o->older_ms, &err) != CF_OK)
            return cf_cli_refuse(ctx, CF_ERR_INVALID, "--older-than: %s", err.msg);
        return CF_OK;
    }
    if (ctx->args.npos != 1)
        return cf_cli_usage(ctx, "give a KEY, or --state for many workflows");
    if (o->cleanup && (!o->wf_class || o->now))
        return cf_cli_usage(ctx, "--cleanup takes a KEY and its --class, without --now");
    if (o->error_class || o->older || o->dry_run)
        return cf_cli_usage(ctx, "--error-class, --older-than and --dry-run go with --state");
    return CF_OK;
}

/* wake publishes the workflow's continuation due now. A lost wake loses nothing: the workflow
 * is idle and due in Postgres, and the healing pass republishes it. */
static void wake(cf_cli_ctx *ctx, const cf_requeue_result *res)
{
    cf_status st = cf_continuation_wake(ctx->queue, res->wf_class, res->key, res->queue);
    if (st != CF_OK)
        fprintf(stderr,
                "chronoforge requeue: %s/%s is requeued but its wake was not published (%s); "
                "the healing pass will publish it\n",
                res->wf_class, res->key,
                ctx->queue && cf_queue_errstr(ctx->queue)[0] ? cf_queue_errstr(ctx->queue)
                                                             : cf_status_str(st));
}

/* store_requeue records one requeue. The same request (same requested_at) is recognised by
 * its row, so one whose outcome is unknown (a transient error) is simply sent again. */
static cf_status store_requeue(cf_cli_ctx *ctx, const char *wf_class, const char *key,
                               cf_requeue_req *req, cf_requeue_result *res)
{
    req->requested_at_ms = cf_clock_unix_ms();
    cf_status st;
    for (int attempt = 1;; attempt++) {
        st = cf_store_requeue(ctx->store, wf_class, key, req, res);
        if (!cf_status_is_transient(st) || attempt == 3)
            return st;
        cf_clock_sleep_ms(cf_backoff_delay_ms(200, 2000, attempt, true), NULL);
    }
}

/* requeue_cleanup runs a cancelled workflow's on_cancel again (store/cancel.h). */
static cf_status requeue_cleanup(cf_cli_ctx *ctx, const requeue_opts *o, const char *key)
{
    cf_cancel_req req = {o->by, o->reason, cf_clock_unix_ms()};
    cf_cancel_result res;
    cf_status st;
    for (int attempt = 1;; attempt++) {
        st = cf_store_requeue_cleanup(ctx->store, o->wf_class, key, &req, &res);
        if (!cf_status_is_transient(st) || attempt == 3)
            break;
        cf_clock_sleep_ms(cf_backoff_delay_ms(200, 2000, attempt, true), NULL);
    }
    if (st != CF_OK)
        return st;
    if (!res.accepted)
        return cf_cli_refuse(ctx,
                             strcmp(res.code, "not_found") == 0 ? CF_ERR_NOT_FOUND : CF_ERR_STATE,
                             "%s/%s: %s", o->wf_class, key, res.reason);
    cf_requeue_result w = {0};
    snprintf(w.wf_class, sizeof w.wf_class, "%s", res.wf_class);
    snprintf(w.key, sizeof w.key, "%s", res.key);
    snprintf(w.queue, sizeof w.queue, "%s", res.queue);
    wake(ctx, &w);
    printf("requeued the cleanup of %s/%s (on_cancel runs again)\n", res.wf_class, res.key);
    return CF_OK;
}

static cf_status requeue_one(cf_cli_ctx *ctx, const requeue_opts *o, const char *key)
{
    if (o->cleanup)
        return requeue_cleanup(ctx, o, key);
    cf_requeue_req req = {.requested_by = o->by, .reason = o->reason};
    if (o->now)
        return cf_cli_resume_now(ctx, o->wf_class, key, &req);
    cf_requeue_result res;
    cf_status st = store_requeue(ctx, o->wf_class, key, &req, &res);
    if (st == CF_ERR_NOT_FOUND)
        return cf_cli_refuse(ctx, st, "no workflow with key '%s'%s%s", key,
                             o->wf_class ? " and class " : "", o->wf_class ? o->wf_class : "");
    if (st == CF_ERR_STATE)
        return cf_cli_refuse(
            ctx, st, "workflow %s/%s is %s; only stalled or failed workflows can be requeued",
            res.wf_class[0] ? res.wf_class : (o->wf_class ? o->wf_class : "?"), key,
            cf_wf_state_name(res.previous_state));
    if (st != CF_OK)
        return st;
    wake(ctx, &res);
    printf("requeued %s/%s (was %s)\n", res.wf_class, res.key,
           cf_wf_state_name(res.previous_state));
    return CF_OK;
}

/* requeue_bulk walks the selection in keyset pages of BULK_BATCH and requeues each one. */
static cf_status requeue_bulk(cf_cli_ctx *ctx, const requeue_opts *o)
{
    cf_resumable_filter f = {o->state, o->wf_class, o->error_class, o->older_ms};
    cf_requeue_req req = {.requested_by = o->by, .reason = o->reason};
    int64_t after = 0, done = 0, skipped = 0;
    cf_status st = CF_OK;
    for (;;) {
        cf_wf_ref_list page = {0};
        st = cf_store_select_resumable(ctx->store, &f, after, BULK_BATCH, &page);
        if (st != CF_OK)
            break;
        for (size_t i = 0; i < page.n && st == CF_OK; i++) {
            const cf_wf_ref *w = &page.rows[i];
            after = w->id;
            if (o->dry_run) {
                printf("would requeue %s/%s (id %lld)\n", w->wf_class, w->key, (long long)w->id);
                done++;
                continue;
            }
            cf_requeue_result res;
            cf_status one = store_requeue(ctx, w->wf_class, w->key, &req, &res);
            if (one == CF_OK) {
                wake(ctx, &res);
                done++;
            } else if (one == CF_ERR_STATE || one == CF_ERR_NOT_FOUND) {
                skipped++; /* it changed state (or went away) since the page was read */
            } else {
                st = one;
            }
        }
        size_t n = page.n;
        cf_wf_ref_list_deinit(&page);
        if (st != CF_OK || n < BULK_BATCH)
            break;
        if (!o->dry_run)
            printf("requeued %lld so far\n", (long long)done);
    }
    if (st != CF_OK)
        fprintf(stderr, "chronoforge requeue: stopped after %lld requeued\n", (long long)done);
    else
        printf("%s %lld %s workflow%s%s\n", o->dry_run ? "would requeue" : "requeued",
               (long long)done, o->state, done == 1 ? "" : "s",
               skipped ? " (some changed state meanwhile and were left alone)" : "");
    return st;
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    const requeue_opts *o = arg;
    return o->state ? requeue_bulk(ctx, o) : requeue_one(ctx, o, ctx->args.pos[0]);
}

int cf_cli_cmd_requeue(int argc, char **argv)
{
    requeue_opts o = {0};
    const cf_cli_opt opts[] = {
        {"class", 0, "CLASS", "the workflow class (KEY: when several classes use the key)",
         &o.wf_class, NULL},
        {"reason", 0, "TEXT", "why, recorded with the requeue", &o.reason, NULL},
        {"now", 0, NULL, "run it here at once (retry_now) and print its timeline", NULL, &o.now},
        {"cleanup", 0, NULL, "a cancelled workflow (KEY, --class): run its on_cancel again", NULL,
         &o.cleanup},
        {"state", 0, "STATE", "requeue every stalled or failed workflow that matches", &o.state,
         NULL},
        {"error-class", 0, "CLASS", "--state: whose last error is this class or under it",
         &o.error_class, NULL},
        {"older-than", 0, "DURATION", "--state: in that state for longer than this", &o.older,
         NULL},
        {"dry-run", 0, NULL, "--state: list what would be requeued; change nothing", NULL,
         &o.dry_run},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage =
                    "requeue KEY [--class CLASS] [--reason TEXT] [--now] | requeue --cleanup KEY "
                    "--class CLASS [--reason TEXT] | requeue --state "
                    "stalled|failed [--class CLASS] [--error-class CLASS] [--older-than "
                    "DURATION] [--dry-run] [--reason TEXT]",
                .summary =
                    "Resumes stalled or failed workflows (retry_later): each becomes idle and due "
                    "now with fresh retry budgets (attempt numbers keep counting), and a "
                    "$workflow_retry$<ms> row records who asked and why. KEY: one workflow, run "
                    "by the next worker; with --now, run here at once, printing its timeline "
                    "(exit 0 when it completed or halted healthily, 1 when it stalled or failed "
                    "again). --cleanup: a cancelled workflow's on_cancel runs again (the one "
                    "requeue a cancelled workflow accepts). --state: every match, in batches of "
                    "100, printing how many. Other states are refused and nothing changes.",
                .max_positional = 1,
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_STORE | CF_CLI_NEEDS_REDIS,
        .check = check,
        .body = body,
    };
    return cf_cli_run(argc, argv, &r, &o);
}

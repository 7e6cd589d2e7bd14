// SPDX-License-Identifier: MIT
/* cli/cmd_cancel.c: `chronoforge cancel`: cancel one workflow by KEY and --class, or many by
 * --state (bounded batches; --dry-run lists them). Postgres first (store/cancel.h: the request,
 * who asked (user@host) and why), then the queue effects (worker/cancel.h): the pending
 * continuation is removed and a wake due now published, so on_cancel runs next (a running
 * workflow needs neither: its run stops after the step it is in). A lost wake loses nothing:
 * cancelling is healed like idle. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/runner.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/duration.h"
#include "store/cancel.h"
#include "worker/cancel.h"

#define BULK_BATCH 100

typedef struct cancel_opts {
    const char *wf_class, *reason, *state, *older;
    bool dry_run;
    int64_t older_ms;
    char by[320]; /* user@host */
} cancel_opts;

static bool cancellable_state(const char *s, size_t n)
{
    static const char *const ok[] = {"idle", "stalled", "running"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strlen(ok[i]) == n && strncmp(s, ok[i], n) == 0)
            return true;
    return false;
}

static cf_status check(cf_cli_ctx *ctx, void *arg)
{
    cancel_opts *o = arg;
    cf_cli_who(o->by, sizeof o->by);
    if (o->reason && strlen(o->reason) > 1024)
        return cf_cli_usage(ctx, "--reason is at most 1024 bytes");
    if (o->state) {
        if (ctx->args.npos > 0)
            return cf_cli_usage(ctx, "--state selects many workflows: give no KEY");
        for (const char *p = o->state; *p;) {
            size_t n = strcspn(p, ",");
            if (!cancellable_state(p, n))
                return cf_cli_refuse(ctx, CF_ERR_INVALID,
                                     "--state takes idle, stalled or running (comma-separated), "
                                     "not '%.*s'",
                                     (int)n, p);
            p += n + (p[n] == ',');
        }
        cf_error err;
        if (o->older && cf_duration_parse_ms(o->older, &o->older_ms, &err) != CF_OK)
            return cf_cli_refuse(ctx, CF_ERR_INVALID, "--older-than: %s", err.msg);
        return CF_OK;
    }
    if (ctx->args.npos != 1 || !o->wf_class)
        return cf_cli_usage(ctx, "give a KEY and its --class, or --state for many workflows");
    if (o->older || o->dry_run)
        return cf_cli_usage(ctx, "--older-than and --dry-run go with --state");
    return CF_OK;
}

/* effects publishes the workflow's continuation due now, lowering a pending later one
 * (worker/cancel.h). */
static void effects(cf_cli_ctx *ctx, const cf_cancel_result *res)
{
    cf_status st = cf_cancel_effects(ctx->queue, res);
    if (st != CF_OK)
        fprintf(stderr,
                "chronoforge cancel: %s/%s is cancelling but its wake was not published (%s); "
                "the healing pass will publish it\n",
                res->wf_class, res->key,
                ctx->queue && cf_queue_errstr(ctx->queue)[0] ? cf_queue_errstr(ctx->queue)
                                                             : cf_status_str(st));
}

/* with_retries retries a transient failure; the same request (same requested_at and by) is
 * recognised by its row, so one whose outcome is unknown is simply sent again. */
static cf_status cancel_ids(cf_cli_ctx *ctx, const int64_t *ids, size_t n, cf_cancel_req *req,
                            cf_cancel_result *res)
{
    cf_status st;
    for (int attempt = 1;; attempt++) {
        st = cf_store_cancel_ids(ctx->store, ids, n, req, res);
        if (!cf_status_is_transient(st) || attempt == 3)
            return st;
        cf_clock_sleep_ms(cf_backoff_delay_ms(200, 2000, attempt, true), NULL);
    }
}

static cf_status cancel_one(cf_cli_ctx *ctx, const cancel_opts *o, const char *key)
{
    cf_cancel_result res;
    cf_status st =
        cf_cancel_workflow(ctx->store, ctx->queue, o->wf_class, key, o->reason, o->by, &res);
    if (st != CF_OK)
        return st;
    if (!res.accepted)
        return cf_cli_refuse(
            ctx, strcmp(res.code, "not_found") == 0 ? CF_ERR_NOT_FOUND : CF_ERR_STATE,
            "%s/%s not cancelled (%s): %s", o->wf_class, key, res.code, res.reason);
    printf("cancelled %s/%s (was %s; %s)\n", res.wf_class, res.key,
           cf_wf_state_name(res.previous_state), res.reason);
    return CF_OK;
}

/* cancel_state walks one state's selection in keyset pages of BULK_BATCH, each page cancelled
 * in one transaction. */
static cf_status cancel_state(cf_cli_ctx *ctx, const cancel_opts *o, const char *state,
                              int64_t *done, int64_t *skipped)
{
    cf_cancel_req req = {o->by, o->reason, cf_clock_unix_ms()};
    int64_t after = 0;
    cf_status st = CF_OK;
    for (;;) {
        cf_wf_ref_list page = {0};
        st = cf_store_select_cancellable(ctx->store, state, o->wf_class, o->older_ms, after,
                                         BULK_BATCH, &page);
        if (st != CF_OK)
            break;
        int64_t ids[BULK_BATCH];
        cf_cancel_result res[BULK_BATCH];
        for (size_t i = 0; i < page.n; i++) {
            ids[i] = page.rows[i].id;
            after = ids[i];
            if (o->dry_run)
                printf("would cancel %s/%s (id %lld, %s)\n", page.rows[i].wf_class,
                       page.rows[i].key, (long long)ids[i], state);
        }
        if (o->dry_run) {
            *done += (int64_t)page.n;
        } else if (page.n > 0 && (st = cancel_ids(ctx, ids, page.n, &req, res)) == CF_OK) {
            for (size_t i = 0; i < page.n; i++) {
                if (res[i].accepted) {
                    effects(ctx, &res[i]);
                    (*done)++;
                } else {
                    (*skipped)++; /* it changed state since the page was read */
                }
            }
        }
        size_t n = page.n;
        cf_wf_ref_list_deinit(&page);
        if (st != CF_OK || n < BULK_BATCH)
            break;
    }
    return st;
}

static cf_status cancel_bulk(cf_cli_ctx *ctx, const cancel_opts *o)
{
    int64_t done = 0, skipped = 0;
    cf_status st = CF_OK;
    for (const char *p = o->state; *p && st == CF_OK;) {
        size_t n = strcspn(p, ",");
        char state[16];
        snprintf(state, sizeof state, "%.*s", (int)n, p);
        st = cancel_state(ctx, o, state, &done, &skipped);
        p += n + (p[n] == ',');
    }
    if (st != CF_OK)
        fprintf(stderr, "chronoforge cancel: stopped after %lld cancelled\n", (long long)done);
    else
        printf("%s %lld workflow%s%s\n", o->dry_run ? "would cancel" : "cancelled", (long long)done,
               done == 1 ? "" : "s",
               skipped ? " (some changed state meanwhile and were left alone)" : "");
    return st;
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    const cancel_opts *o = arg;
    return o->state ? cancel_bulk(ctx, o) : cancel_one(ctx, o, ctx->args.pos[0]);
}

int cf_cli_cmd_cancel(int argc, char **argv)
{
    cancel_opts o = {0};
    const cf_cli_opt opts[] = {
        {"class", 0, "CLASS", "the workflow class (required with KEY; a filter with --state)",
         &o.wf_class, NULL},
        {"reason", 0, "TEXT", "why, recorded with the cancel and readable by on_cancel", &o.reason,
         NULL},
        {"state", 0, "STATE[,STATE]",
         "cancel every idle, stalled or running workflow that "
         "matches",
         &o.state, NULL},
        {"older-than", 0, "DURATION", "--state: in that state for longer than this", &o.older,
         NULL},
        {"dry-run", 0, NULL, "--state: list what would be cancelled; change nothing", NULL,
         &o.dry_run},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage = "cancel KEY --class CLASS [--reason TEXT] | cancel --state "
                         "idle|stalled|running[,...] [--class CLASS] [--older-than DURATION] "
                         "[--dry-run] [--reason TEXT]",
                .summary =
                    "Cancels workflows: an idle, waiting or stalled one becomes cancelling and "
                    "its on_cancel runs next; a running one finishes the step it is in, then "
                    "stops and runs on_cancel; then it is cancelled. Who asked (user@host) and "
                    "--reason are recorded. Completed, failed, cancelled or already cancelling "
                    "workflows are refused (exit 1, with the reason). --state: every match, in "
                    "batches of 100, printing how many.",
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

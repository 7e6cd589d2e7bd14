// SPDX-License-Identifier: MIT
/* cli/cmd_dead.c: `chronoforge dead list|retry|purge`: dead letters per queue. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/render.h"
#include "cli/runner.h"
#include "common/clock.h"
#include "common/duration.h"
#include "queue/deadletter.h"

typedef struct dead_opts {
    const char *queue, *limit, *older;
    long n;           /* --limit, 0: not given */
    int64_t older_ms; /* --older-than, 0: not given */
} dead_opts;

static void print_entry(const cf_deadletter *d)
{
    char t[32];
    cf_render_time(d->at_unix_ms, t, sizeof t);
    printf("%s  %-14s field=%-16s worker=%s\n    %s\n    raw: %zu bytes%s\n", t, d->code,
           d->field ? d->field : "-", d->worker ? d->worker : "-", d->reason ? d->reason : "",
           d->raw_len, d->raw_truncated ? " (truncated)" : "");
}

static cf_status check(cf_cli_ctx *ctx, void *arg)
{
    dead_opts *o = arg;
    const char *sub = ctx->args.pos[0];
    if (strcmp(sub, "list") && strcmp(sub, "retry") && strcmp(sub, "purge"))
        return cf_cli_usage(ctx, "unknown subcommand '%s' (list, retry or purge)", sub);
    if (o->limit && cf_cli_parse_count(ctx, "--limit", o->limit, 1, 1000000, &o->n) != CF_OK)
        return CF_ERR_INVALID;
    cf_error err;
    if (o->older && cf_duration_parse_ms(o->older, &o->older_ms, &err) != CF_OK)
        return cf_cli_refuse(ctx, CF_ERR_INVALID, "--older-than: %s", err.msg);
    return CF_OK;
}

static cf_status body(cf_cli_ctx *ctx, void *arg)
{
    const dead_opts *o = arg;
    const char *sub = ctx->args.pos[0];
    cf_status st;
    if (strcmp(sub, "list") == 0) {
        cf_deadletter *list = NULL;
        size_t count = 0;
        st = cf_deadletter_list(ctx->queue, o->queue, 0, o->n ? (size_t)o->n : 20, &list, &count);
        for (size_t i = 0; st == CF_OK && i < count; i++)
            print_entry(&list[i]);
        if (st == CF_OK)
            printf("%zu dead letter%s shown (queue %s)\n", count, count == 1 ? "" : "s", o->queue);
        cf_deadletter_list_free(list, count);
    } else if (strcmp(sub, "retry") == 0) {
        int64_t moved = 0, skipped = 0;
        st = cf_deadletter_retry(ctx->queue, o->queue, o->n, &moved, &skipped);
        if (st == CF_OK)
            printf("retried %lld (skipped %lld truncated or undecodable)\n", (long long)moved,
                   (long long)skipped);
    } else {
        int64_t removed = 0;
        st = cf_deadletter_purge(ctx->queue, o->queue,
                                 o->older ? cf_clock_unix_ms() - o->older_ms : 0, &removed);
        if (st == CF_OK)
            printf("purged %lld\n", (long long)removed);
    }
    return st;
}

int cf_cli_cmd_dead(int argc, char **argv)
{
    dead_opts o = {.queue = "default"};
    const cf_cli_opt opts[] = {
        {"queue", 0, "QUEUE", "the queue (default: default)", &o.queue, NULL},
        {"limit", 0, "N", "list: at most N entries (default 20); retry: at most N", &o.limit, NULL},
        {"older-than", 0, "DURATION", "purge: only entries older than this", &o.older, NULL},
        {0},
    };
    const cf_cli_runner r = {
        .spec =
            {
                .usage =
                    "dead list|retry|purge [--queue QUEUE] [--limit N] [--older-than DURATION]",
                .summary = "Dead letters: envelopes refused with a reason (malformed, unknown "
                           "class). list shows them newest first; retry puts them back on ready; "
                           "purge deletes them.",
                .min_positional = 1,
                .max_positional = 1,
                .opts = opts,
                .scope = CF_CFG_ALL,
            },
        .needs = CF_CLI_NEEDS_REDIS,
        .check = check,
        .body = body,
    };
    return cf_cli_run(argc, argv, &r, &o);
}

// SPDX-License-Identifier: MIT
/* cli/cmd_dead.c: `chronoforge dead list|retry|purge`: dead letters per queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cmd.h"
#include "cli/connect.h"
#include "cli/render.h"
#include "common/clock.h"
#include "common/duration.h"
#include "queue/deadletter.h"

static void print_entry(const cf_deadletter *d)
{
    char t[32];
    cf_render_time(d->at_unix_ms, t, sizeof t);
    printf("%s  %-14s field=%-16s worker=%s\n    %s\n    raw: %zu bytes%s\n", t, d->code,
           d->field ? d->field : "-", d->worker ? d->worker : "-", d->reason ? d->reason : "",
           d->raw_len, d->raw_truncated ? " (truncated)" : "");
}

int cf_cli_cmd_dead(int argc, char **argv)
{
    const char *queue = "default", *limit = NULL, *older = NULL;
    const cf_cli_opt opts[] = {
        {"queue", 0, "QUEUE", "the queue (default: default)", &queue, NULL},
        {"limit", 0, "N", "list: at most N entries (default 20); retry: at most N", &limit, NULL},
        {"older-than", 0, "DURATION", "purge: only entries older than this", &older, NULL},
        {0},
    };
    const cf_cli_command_spec spec = {
        .usage = "dead list|retry|purge [--queue QUEUE] [--limit N] [--older-than DURATION]",
        .summary = "Dead letters: envelopes refused with a reason (malformed, unknown class). "
                   "list shows them newest first; retry puts them back on ready; purge deletes "
                   "them.",
        .min_positional = 1,
        .max_positional = 1,
        .opts = opts,
        .scope = CF_CFG_ALL,
    };
    cf_cli_args a;
    int rc = cf_cli_parse(argc, argv, &spec, &a);
    if (rc >= 0)
        return rc;
    const char *sub = a.pos[0];
    if (strcmp(sub, "list") && strcmp(sub, "retry") && strcmp(sub, "purge")) {
        fprintf(stderr, "chronoforge dead: unknown subcommand '%s' (list, retry or purge)\n", sub);
        return 2;
    }
    long n = 0;
    if (limit) {
        char *end;
        n = strtol(limit, &end, 10);
        if (*end || n < 1)
            return cf_cli_fail("dead", "--limit takes a positive number, not '%s'", limit);
    }
    int64_t older_ms = 0;
    if (older) {
        cf_error err;
        if (cf_duration_parse_ms(older, &older_ms, &err) != CF_OK)
            return cf_cli_fail("dead", "--older-than: %s", err.msg);
    }
    cf_queue *q = NULL;
    if (cf_cli_open_queue("dead", &a.cfg, &q))
        return 1;
    cf_status st;
    if (strcmp(sub, "list") == 0) {
        cf_deadletter *list = NULL;
        size_t count = 0;
        st = cf_deadletter_list(q, queue, 0, n ? (size_t)n : 20, &list, &count);
        for (size_t i = 0; st == CF_OK && i < count; i++)
            print_entry(&list[i]);
        if (st == CF_OK)
            printf("%zu dead letter%s shown (queue %s)\n", count, count == 1 ? "" : "s", queue);
        cf_deadletter_list_free(list, count);
    } else if (strcmp(sub, "retry") == 0) {
        int64_t moved = 0, skipped = 0;
        st = cf_deadletter_retry(q, queue, n, &moved, &skipped);
        if (st == CF_OK)
            printf("retried %lld (skipped %lld truncated or undecodable)\n", (long long)moved,
                   (long long)skipped);
    } else {
        int64_t removed = 0;
        st = cf_deadletter_purge(q, queue, older ? cf_clock_unix_ms() - older_ms : 0, &removed);
        if (st == CF_OK)
            printf("purged %lld\n", (long long)removed);
    }
    rc = st == CF_OK ? 0 : cf_cli_fail("dead", "%s", cf_queue_errstr(q));
    cf_queue_free(q);
    return rc;
}

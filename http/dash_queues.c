// SPDX-License-Identifier: MIT
/* http/dash_queues.c: the queues page: per queue ready, scheduled, in flight and dead
 * envelopes, the age of the oldest ready one, how late the earliest wake is, the live workers
 * taking it, whether it is paused (with the pause and resume actions); with ?queue=Q its newest
 * dead letters (reason, field, worker, raw bytes in hex) and the retry and purge actions. */
#include <stdio.h>
#include <string.h>

#include "http/dash_internal.h"
#include "queue/deadletter.h"
#include "queue/keys.h"
#include "store/queue_flags.h"

#define MAX_QUEUES 256
#define DEAD_SHOWN 50

/* paused_cell writes whether queue is paused (its Postgres mirror, which healing keeps Redis
 * in line with) and the button that flips it. */
static void paused_cell(dash_req *r, const cf_queue_flag_list *flags, const char *queue)
{
    bool paused = flags && cf_queue_flag_paused(flags, queue);
    fputs(paused ? "<td class=\"bad paused\">paused " : "<td>", r->out);
    const char *fields[] = {"queue", queue, NULL};
    if (paused)
        cf_dash_action_button(r, "queue_resume", "Resume", NULL, fields);
    else
        cf_dash_action_button(r, "queue_pause", "Pause",
                              "Pause this queue? Workers stop taking from it within a second; "
                              "its envelopes stay.",
                              fields);
    fputs("</td>", r->out);
}

static void queue_table(dash_req *r, const dash_queue *qs, size_t n)
{
    FILE *o = r->out;
    cf_queue_flag_list flags = {0};
    bool have_flags = cf_store_queue_flags(r->d->store, &flags) == CF_OK;
    fputs("<table id=queues><tr><th>queue</th><th class=n>ready</th><th class=n>scheduled</th>"
          "<th class=n>in flight</th><th class=n>dead</th><th class=n>oldest ready</th>"
          "<th class=n>earliest wake late by</th><th class=n>live workers</th><th>paused</th>"
          "</tr>",
          o);
    for (size_t i = 0; i < n; i++) {
        const dash_queue *q = &qs[i];
        fputs("<tr><td><a href=\"/queues?queue=", o);
        cf_dash_url(o, q->name);
        fputs("\">", o);
        cf_dash_esc(o, q->name);
        fprintf(o,
                "</a></td><td class=n>%lld</td><td class=n>%lld</td><td class=n>%lld</td>"
                "<td class=\"n%s\">%lld</td><td class=n>",
                (long long)q->ready, (long long)q->scheduled, (long long)q->inflight,
                q->dead ? " bad" : "", (long long)q->dead);
        if (q->oldest_ready_ms >= 0)
            cf_dash_ago(o, q->oldest_ready_ms);
        else
            fputs("-", o);
        fputs("</td><td class=n>", o);
        if (q->overdue_wake_ms > 0)
            cf_dash_ago(o, q->overdue_wake_ms);
        else
            fputs("-", o);
        fprintf(o, "</td><td class=n>%d</td>", q->live_workers);
        paused_cell(r, have_flags ? &flags : NULL, q->name);
        fputs("</tr>", o);
    }
    if (n == 0)
        fputs("<tr><td colspan=9 class=muted>no queue is known yet (P:queues is empty)</td></tr>",
              o);
    fputs("</table>", o);
    cf_queue_flag_list_deinit(&flags);
}

static void dead_letters(dash_req *r, const char *queue)
{
    FILE *o = r->out;
    cf_deadletter *list = NULL;
    size_t n = 0;
    fputs("<h2>Dead letters of ", o);
    cf_dash_esc(o, queue);
    fputs("</h2>", o);
    if (cf_deadletter_list(r->d->queue, queue, 0, DEAD_SHOWN, &list, &n) != CF_OK) {
        fputs("<p class=\"msg err\">Redis could not be read.</p>", o);
        return;
    }
    if (n > 0) {
        const char *fields[] = {"queue", queue, NULL};
        cf_dash_action_button(r, "dead_retry", "Retry all", "Put every dead letter back on ready?",
                              fields);
        cf_dash_action_button(r, "dead_purge", "Purge all",
                              "Delete every dead letter of this queue?", fields);
    }
    fputs("<table id=dead><tr><th>when</th><th>code</th><th>reason</th><th>field</th>"
          "<th>worker</th><th>raw bytes</th></tr>",
          o);
    for (size_t i = 0; i < n; i++) {
        const cf_deadletter *e = &list[i];
        fputs("<tr><td>", o);
        cf_dash_time(o, e->at_unix_ms);
        fputs("</td><td><code>", o);
        cf_dash_esc(o, e->code);
        fputs("</code></td><td>", o);
        cf_dash_esc(o, e->reason);
        fputs("</td><td>", o);
        cf_dash_esc(o, e->field ? e->field : "-");
        fputs("</td><td>", o);
        cf_dash_esc(o, e->worker ? e->worker : "-");
        fprintf(o, "</td><td>%zu bytes%s", e->raw_len, e->raw_truncated ? " (truncated)" : "");
        cf_dash_hex(o, e->raw, e->raw_len);
        fputs("</td></tr>", o);
    }
    if (n == 0)
        fputs("<tr><td colspan=6 class=muted>none</td></tr>", o);
    fputs("</table>", o);
    if (n == DEAD_SHOWN)
        fprintf(o, "<p class=muted>The newest %d are shown.</p>", DEAD_SHOWN);
    cf_deadletter_list_free(list, n);
}

void cf_dash_page_queues(dash_req *r)
{
    cf_dash_begin(r, "Queues", "/queues");
    static dash_queue qs[MAX_QUEUES];
    size_t n = 0;
    if (cf_dash_queues_read(r->d, qs, MAX_QUEUES, &n, NULL, NULL) != CF_OK)
        fputs("<p class=\"msg err\">Redis could not be read.</p>", r->out);
    else
        queue_table(r, qs, n);
    const char *q = cf_dash_arg(r, "queue");
    if (q && cf_queue_name_valid(q))
        dead_letters(r, q);
    else if (q)
        fputs("<p class=\"msg err\">A queue name is [A-Za-z0-9_.-]{1,64}.</p>", r->out);
    cf_dash_end(r);
}

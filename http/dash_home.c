// SPDX-License-Identifier: MIT
/* http/dash_home.c: the home page: workflows by state (and by queue and state), completions per
 * minute over the last hour, and the stuck-work panel: runs past their max_duration, overdue
 * wakes, the newest stalled and failed, dead letters, queues whose oldest ready envelope
 * is old or whose wakes are late or that no live worker takes, late and quiet workers. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/duration.h"
#include "http/dash_internal.h"
#include "store/dashboard.h"
#include "store/query.h"
#include "store/queue_flags.h"

#define EXACT_BELOW     100000 /* rows: the completed count is exact below, estimated above */
#define THROUGHPUT_ROWS 50000  /* the throughput reads the newest this many workflows */
#define OLD_READY_MS    60000  /* a ready envelope older than this needs attention */
#define LATE_WAKE_MS    60000  /* a scheduled wake or a due workflow later than this */
#define MAX_QUEUES      256

#define COUNT_CAP 100000 /* a state's count stops here ("100000+"): bounded reads */

static void card(FILE *o, cf_wf_state ws, int64_t n, const char *mark)
{
    const char *name = cf_wf_state_name(ws);
    fprintf(o,
            "<div class=card id=\"count-%s\"><a href=\"/workflows?state=%s\"><b>%s%lld%s</b>%s"
            "</a></div>",
            name, name, strcmp(mark, "≈") == 0 ? mark : "", (long long)n,
            strcmp(mark, "+") == 0 ? mark : "", name);
}

static void by_queue(FILE *o, const cf_dash_counts_out *c)
{
    fputs("<h2>Not completed, by queue</h2><table id=by-queue><tr><th>queue</th>", o);
    for (int ws = 1; ws < CF_WF_STATE_COUNT; ws++)
        if (ws != CF_WF_COMPLETED)
            fprintf(o, "<th class=n>%s</th>", cf_wf_state_name((cf_wf_state)ws));
    fputs("</tr>", o);
    for (size_t i = 0; i < c->nqueue; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(c->by_queue[k].queue, c->by_queue[i].queue) == 0;
        if (seen)
            continue;
        fputs("<tr><td>", o);
        cf_dash_esc(o, c->by_queue[i].queue);
        fputs("</td>", o);
        for (int ws = 1; ws < CF_WF_STATE_COUNT; ws++) {
            if (ws == CF_WF_COMPLETED)
                continue;
            int64_t v = 0;
            for (size_t k = i; k < c->nqueue; k++)
                if (strcmp(c->by_queue[k].queue, c->by_queue[i].queue) == 0 &&
                    strcmp(c->by_queue[k].state, cf_wf_state_name((cf_wf_state)ws)) == 0)
                    v += c->by_queue[k].n;
            fprintf(o, "<td class=n>%lld</td>", (long long)v);
        }
        fputs("</tr>", o);
    }
    fputs("</table>", o);
}

static void counts(dash_req *r)
{
    FILE *o = r->out;
    cf_dash_counts_out c;
    if (cf_dash_counts(r->d->store, COUNT_CAP, EXACT_BELOW, &c) != CF_OK) {
        fputs("<p class=\"msg err\">Postgres could not be read: ", o);
        cf_dash_esc(o, cf_store_errstr(r->d->store));
        fputs("</p>", o);
        return;
    }
    fputs("<div class=cards>", o);
    for (int ws = 1; ws < CF_WF_STATE_COUNT; ws++)
        card(o, (cf_wf_state)ws, c.by_state[ws],
             ws == CF_WF_COMPLETED ? (c.completed_exact ? "" : "≈")
             : c.at_cap[ws]        ? "+"
                                   : "");
    fputs("</div>", o);
    if (c.queues_counted && c.nqueue > 0)
        by_queue(o, &c);
    else if (!c.queues_counted)
        fprintf(o,
                "<p class=muted>By queue: not counted while a state holds %d or more "
                "workflows.</p>",
                COUNT_CAP);
    cf_dash_counts_deinit(&c);
}

/* throughput draws the last hour's completions per minute as an SVG bar chart. */
static void throughput(dash_req *r)
{
    FILE *o = r->out;
    int64_t pm[60];
    if (cf_dash_throughput(r->d->store, cf_clock_unix_ms(), THROUGHPUT_ROWS, pm) != CF_OK)
        return;
    int64_t max = 1, total = 0;
    for (int i = 0; i < 60; i++) {
        max = pm[i] > max ? pm[i] : max;
        total += pm[i];
    }
    fprintf(o, "<h2>Completed in the last 60 minutes: <span id=throughput-total>%lld</span></h2>",
            (long long)total);
    fputs("<svg class=chart width=\"640\" height=\"120\" viewBox=\"0 0 640 120\" role=img "
          "aria-label=\"completions per minute\">",
          o);
    for (int i = 0; i < 60; i++) {
        int h = (int)(pm[i] * 90 / max);
        fprintf(o,
                "<rect x=\"%d\" y=\"%d\" width=\"8\" height=\"%d\"><title>%d min ago: %lld"
                "</title></rect>",
                20 + i * 10, 100 - h, h, 59 - i, (long long)pm[i]);
    }
    fprintf(o,
            "<text x=\"20\" y=\"115\">-60 min</text><text x=\"580\" y=\"115\">now</text>"
            "<text x=\"20\" y=\"10\">max %lld/min</text></svg>",
            (long long)max);
    fprintf(o, "<p class=muted>Among the newest %d workflows (docs/indexes.md).</p>",
            THROUGHPUT_ROWS);
}

static void wf_link(FILE *o, const char *wf_class, const char *key)
{
    fputs("<a href=\"/workflow?class=", o);
    cf_dash_url(o, wf_class);
    fputs("&amp;key=", o);
    cf_dash_url(o, key);
    fputs("\">", o);
    cf_dash_esc(o, wf_class);
    fputc('/', o);
    cf_dash_esc(o, key);
    fputs("</a>", o);
}

/* max_duration_ms: the workflow's options, else the setting (as the worker reads them). */
static int64_t max_duration_ms(const cf_wf_row *w, int64_t dflt)
{
    json_t *md = json_object_get(w->options, "max_duration");
    int64_t ms;
    if (json_is_number(md) && json_number_value(md) > 0)
        return (int64_t)(json_number_value(md) * 1000.0);
    if (json_is_string(md) && cf_duration_parse_ms(json_string_value(md), &ms, NULL) == CF_OK &&
        ms > 0)
        return ms;
    return dflt;
}

static size_t past_max_duration(dash_req *r, int64_t now)
{
    FILE *o = r->out;
    cf_dash_filter f = {.state = "running", .limit = 500};
    cf_dash_list l = {0};
    size_t shown = 0;
    if (cf_dash_list_workflows(r->d->store, &f, &l) != CF_OK)
        return 0;
    for (size_t i = 0; i < l.n; i++) {
        const cf_wf_row *w = &l.rows[i].wf;
        int64_t since = w->locked_at_ms ? w->locked_at_ms : w->updated_at_ms;
        int64_t limit = max_duration_ms(w, r->d->cfg->max_duration_ms);
        if (limit <= 0 || now - since <= limit)
            continue;
        fputs("<li class=bad>past its max_duration: ", o);
        wf_link(o, w->wf_class, w->key);
        fputs(" running for ", o);
        cf_dash_ago(o, now - since);
        fputs(" on ", o);
        cf_dash_esc(o, w->locked_by[0] ? w->locked_by : "(no lock holder)");
        fputs("</li>", o);
        shown++;
    }
    cf_dash_list_deinit(&l);
    return shown;
}

static size_t overdue_wakes(dash_req *r, int64_t now)
{
    /* a paused queue's wakes wait on purpose: not stuck work (SPEC §4, queue pause) */
    cf_queue_flag_list flags = {0};
    const char *paused[64];
    size_t npaused = 0;
    if (cf_store_queue_flags(r->d->store, &flags) == CF_OK)
        for (size_t i = 0; i < flags.n && npaused < 64; i++)
            if (flags.items[i].paused)
                paused[npaused++] = flags.items[i].name;
    cf_wf_ref_list l = {0};
    cf_status st = cf_store_sweep_overdue(r->d->store, LATE_WAKE_MS, 20, paused, npaused, &l);
    cf_queue_flag_list_deinit(&flags);
    if (st != CF_OK)
        return 0;
    for (size_t i = 0; i < l.n; i++) {
        fputs("<li class=warn>wake overdue by ", r->out);
        cf_dash_ago(r->out, now - l.rows[i].next_wake_at_ms);
        fputs(": ", r->out);
        wf_link(r->out, l.rows[i].wf_class, l.rows[i].key);
        fputs("</li>", r->out);
    }
    size_t n = l.n;
    cf_wf_ref_list_deinit(&l);
    return n;
}

static size_t recent(dash_req *r, const char *state)
{
    FILE *o = r->out;
    cf_dash_filter f = {.state = state, .limit = 10};
    cf_dash_list l = {0};
    if (cf_dash_list_workflows(r->d->store, &f, &l) != CF_OK)
        return 0;
    for (size_t i = 0; i < l.n; i++) {
        const cf_dash_row *row = &l.rows[i];
        fprintf(o, "<li class=bad>%s: ", state);
        wf_link(o, row->wf.wf_class, row->wf.key);
        if (row->last_error_class) {
            fputs(" <code>", o);
            cf_dash_esc(o, row->last_error_class);
            fputs("</code> ", o);
            cf_dash_esc(o, row->last_error_message);
        }
        fputs("</li>", o);
    }
    if (l.next_before_id)
        fprintf(o, "<li><a href=\"/workflows?state=%s\">more %s workflows…</a></li>", state, state);
    size_t n = l.n;
    cf_dash_list_deinit(&l);
    return n;
}

static size_t fleet(dash_req *r)
{
    FILE *o = r->out;
    static dash_queue qs[MAX_QUEUES];
    size_t nq = 0, nw = 0, shown = 0;
    cf_worker_entry *ws = NULL;
    if (cf_dash_queues_read(r->d, qs, MAX_QUEUES, &nq, &ws, &nw) != CF_OK) {
        fputs("<li class=bad>Redis could not be read</li>", o);
        return 1;
    }
    cf_queue_flag_list flags = {0};
    bool have_flags = cf_store_queue_flags(r->d->store, &flags) == CF_OK;
    for (size_t i = 0; i < nq; i++) {
        const dash_queue *q = &qs[i];
        const char *why[4] = {0};
        char buf[4][96];
        size_t k = 0;
        /* a paused queue's envelopes and wakes wait on purpose (SPEC §4): only its dead letters
         * are news */
        bool paused = have_flags && cf_queue_flag_paused(&flags, q->name);
        if (q->dead > 0)
            snprintf(buf[k], sizeof buf[k], "%lld dead letter%s", (long long)q->dead,
                     q->dead == 1 ? "" : "s"),
                why[k] = buf[k], k++;
        if (!paused && q->oldest_ready_ms > OLD_READY_MS) {
            char a[32];
            cf_duration_format(q->oldest_ready_ms, a, sizeof a);
            snprintf(buf[k], sizeof buf[k], "oldest ready envelope waits for %s", a);
            why[k] = buf[k], k++;
        }
        if (!paused && q->overdue_wake_ms > LATE_WAKE_MS) {
            char a[32];
            cf_duration_format(q->overdue_wake_ms, a, sizeof a);
            snprintf(buf[k], sizeof buf[k], "a scheduled wake is %s late", a);
            why[k] = buf[k], k++;
        }
        if (!paused && q->live_workers == 0 && (q->ready > 0 || q->scheduled > 0))
            why[k] = "no live worker takes it", k++;
        if (k == 0)
            continue;
        fputs("<li class=warn>queue <a href=\"/queues?queue=", o);
        cf_dash_url(o, q->name);
        fputs("\">", o);
        cf_dash_esc(o, q->name);
        fputs("</a>:", o);
        for (size_t j = 0; j < k; j++)
            fprintf(o, "%s %s", j ? "," : "", why[j]);
        fputs("</li>", o);
        shown++;
    }
    cf_queue_flag_list_deinit(&flags);
    for (size_t i = 0; i < nw; i++) {
        const cf_worker_entry *w = &ws[i];
        const char *state = cf_dash_worker_state(w);
        if (strcmp(state, "running") == 0)
            continue;
        fprintf(o, "<li class=warn>worker <a href=\"/workers\">");
        cf_dash_esc(o, w->id);
        fprintf(o, "</a> is %s (last heartbeat ", state);
        cf_dash_ago(o, w->age_ms);
        fputs(" ago)</li>", o);
        shown++;
    }
    cf_workers_list_free(ws, nw);
    return shown;
}

void cf_dash_page_home(dash_req *r)
{
    cf_dash_begin(r, "Overview", "/");
    FILE *o = r->out;
    counts(r);
    throughput(r);
    int64_t now = cf_clock_unix_ms();
    fputs("<h2>Needs attention</h2><div class=panel id=stuck><ul>", o);
    size_t n = past_max_duration(r, now);
    n += overdue_wakes(r, now);
    n += recent(r, "stalled");
    n += recent(r, "failed");
    n += fleet(r);
    if (n == 0)
        fputs("<li class=muted>Nothing: no stuck run, overdue wake, recent failure, dead letter, "
              "old queue or late worker.</li>",
              o);
    fputs("</ul></div>", o);
    cf_dash_end(r);
}

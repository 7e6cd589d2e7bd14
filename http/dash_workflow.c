// SPDX-License-Identifier: MIT
/* http/dash_workflow.c: one workflow (?class=C&key=K, or ?key=K when one class uses it): its
 * state, lock holder (the row's and the Redis lock) and pending wake, the step timeline (attempts,
 * durations, errors), its branches and children (http/dash_branches.c), every error with its
 * context snapshot, context, kwargs and options; requeue when it is stalled or failed, cancel
 * while it is idle, running or stalled. */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "http/dash_internal.h"
#include "queue/lock.h"
#include "store/query.h"

static void fact(FILE *o, const char *name)
{
    fprintf(o, "<tr><th>%s</th><td>", name);
}

static void facts(dash_req *r, const cf_wf_row *w)
{
    FILE *o = r->out;
    const char *st = cf_wf_state_name(w->state);
    int64_t now = cf_clock_unix_ms();
    fputs("<table id=facts>", o);
    fact(o, "state");
    fprintf(o, "<span class=\"state state-%s\" id=wf-state>%s</span></td></tr>", st, st);
    fact(o, "id");
    fprintf(o, "%lld</td></tr>", (long long)w->id);
    fact(o, "queue");
    cf_dash_esc(o, w->queue);
    fputs("</td></tr>", o);
    fact(o, "attempt");
    fprintf(o, "%d (crashes in a row: %d)</td></tr>", w->attempt, w->crash_count);
    fact(o, "created / started / completed");
    cf_dash_time(o, w->created_at_ms);
    fputs(" / ", o);
    cf_dash_time(o, w->started_at_ms);
    fputs(" / ", o);
    cf_dash_time(o, w->completed_at_ms);
    fputs("</td></tr>", o);
    fact(o, "pending wake");
    if (w->next_wake_at_ms) {
        cf_dash_time(o, w->next_wake_at_ms);
        fputs(w->next_wake_at_ms < now ? " <span class=warn>(due " : " (in ", o);
        cf_dash_ago(o,
                    w->next_wake_at_ms < now ? now - w->next_wake_at_ms : w->next_wake_at_ms - now);
        fputs(w->next_wake_at_ms < now ? " ago)</span>" : ")", o);
    } else {
        fputs(w->state == CF_WF_IDLE ? "none (waits on continue_if, or nothing scheduled)" : "-",
              o);
    }
    fputs("</td></tr>", o);
    fact(o, "lock holder (Postgres)");
    if (w->locked_by[0]) {
        cf_dash_esc(o, w->locked_by);
        fputs(" since ", o);
        cf_dash_time(o, w->locked_at_ms);
    } else {
        fputs("none", o);
    }
    fputs("</td></tr>", o);
    fact(o, "lock (Redis)");
    char lock[512];
    int64_t ttl = -1;
    if (cf_dash_lock_read(r->d, w->wf_class, w->key, lock, sizeof lock, &ttl) != CF_OK) {
        fputs("<span class=bad>Redis could not be read</span>", o);
    } else if (lock[0] == '\0') {
        fputs("free", o);
    } else {
        fputs("<span id=redis-lock>", o);
        cf_dash_esc(o, lock);
        fputs("</span>", o);
        if (cf_lock_is_tombstone(lock))
            fputs(" (a crash tombstone: its holder died)", o);
        if (ttl >= 0) {
            fputs(", expires in ", o);
            cf_dash_ago(o, ttl);
        }
    }
    fputs("</td></tr>", o);
    fact(o, "retry budgets");
    cf_dash_json(o, w->retry_counts);
    fputs("</td></tr></table>", o);
}

static void timeline(dash_req *r, const cf_step_list *steps)
{
    FILE *o = r->out;
    fputs("<h2>Timeline</h2><table id=timeline><tr><th>step</th><th>state</th>"
          "<th class=n>attempts</th><th>started</th><th class=n>took</th><th>error</th></tr>",
          o);
    for (size_t i = 0; i < steps->n; i++) {
        const cf_step_row *s = &steps->rows[i];
        const char *st = cf_step_state_name(s->state);
        fputs("<tr><td>", o);
        cf_dash_esc(o, s->name);
        fprintf(o, "</td><td><span class=\"state state-%s\">%s</span></td><td class=n>%d</td><td>",
                st, st, s->attempts);
        cf_dash_time(o, s->started_at_ms);
        fputs("</td><td class=n>", o);
        int64_t end = s->completed_at_ms ? s->completed_at_ms : s->last_executed_at_ms;
        if (s->started_at_ms && end >= s->started_at_ms)
            cf_dash_ago(o, end - s->started_at_ms);
        else
            fputs("-", o);
        fputs("</td><td>", o);
        if (s->error_class) {
            fputs("<code>", o);
            cf_dash_esc(o, s->error_class);
            fputs("</code> ", o);
            cf_dash_esc(o, s->error_message);
        }
        fputs("</td></tr>", o);
    }
    if (steps->n == 0)
        fputs("<tr><td colspan=6 class=muted>no step has run</td></tr>", o);
    fputs("</table>", o);
}

static void errors(dash_req *r, const cf_wf_detail *d)
{
    FILE *o = r->out;
    if (d->nerrors == 0)
        return;
    fprintf(o,
            "<h2>Errors (%zu)</h2><table id=errors><tr><th>when</th><th>step</th>"
            "<th class=n>attempt</th><th>error</th><th>context then</th></tr>",
            d->nerrors);
    for (size_t i = d->nerrors; i-- > 0;) {
        const cf_error_row *e = &d->errors[i];
        fputs("<tr><td>", o);
        cf_dash_time(o, e->created_at_ms);
        fputs("</td><td>", o);
        cf_dash_esc(o, e->step_name ? e->step_name : "(workflow)");
        fprintf(o, "</td><td class=n>%d</td><td><code>", e->attempt);
        cf_dash_esc(o, e->error_class);
        fputs("</code> <span class=errmsg>", o);
        cf_dash_esc(o, e->error_message);
        fputs("</span>", o);
        if (e->backtrace && *e->backtrace) {
            fputs("<details><summary>backtrace</summary><pre>", o);
            cf_dash_esc(o, e->backtrace);
            fputs("</pre></details>", o);
        }
        fputs("</td><td>", o);
        cf_dash_json(o, e->context);
        fputs("</td></tr>", o);
    }
    fputs("</table>", o);
}

void cf_dash_page_workflow(dash_req *r)
{
    const char *wf_class = cf_dash_arg(r, "class"), *key = cf_dash_arg(r, "key");
    FILE *o = r->out;
    cf_wf_detail d = {0};
    cf_status st = key ? cf_store_show(r->d->store, wf_class, key, 100, &d) : CF_ERR_INVALID;
    if (st != CF_OK) {
        r->status = st == CF_ERR_NOT_FOUND ? 404 : st == CF_ERR_INVALID ? 400 : 503;
        cf_dash_begin(r, "Workflow", "/workflows");
        fputs("<p class=\"msg err\">", o);
        if (key == NULL)
            fputs("Give ?class=CLASS&amp;key=KEY.", o);
        else if (st == CF_ERR_NOT_FOUND)
            fputs("No such workflow.", o);
        else
            cf_dash_esc(o, cf_store_errstr(r->d->store));
        fputs("</p>", o);
        cf_dash_end(r);
        return;
    }
    char title[400];
    snprintf(title, sizeof title, "%s / %s", d.wf.wf_class, d.wf.key);
    cf_dash_begin(r, title, "/workflows");
    const char *fields[] = {"class", d.wf.wf_class, "key", d.wf.key, NULL};
    if (cf_wf_state_retryable(d.wf.state))
        cf_dash_action_button(r, "requeue", "Requeue", NULL, fields);
    if (d.wf.state == CF_WF_IDLE || d.wf.state == CF_WF_RUNNING || d.wf.state == CF_WF_STALLED)
        cf_dash_action_button(r, "cancel", "Cancel",
                              "Cancel this workflow? A running step finishes first; its "
                              "on_cancel cleanup then runs.",
                              fields);
    facts(r, &d.wf);
    timeline(r, &d.steps);
    cf_dash_branches(r, &d.wf);
    errors(r, &d);
    fputs("<h2>Context</h2>", o);
    cf_dash_json(o, d.wf.context);
    fputs("<h2>Kwargs</h2>", o);
    cf_dash_json(o, d.wf.kwargs);
    fputs("<h2>Options</h2>", o);
    cf_dash_json(o, d.wf.options);
    cf_wf_detail_deinit(&d);
    cf_dash_end(r);
}

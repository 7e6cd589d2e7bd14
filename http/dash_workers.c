// SPDX-License-Identifier: MIT
/* http/dash_workers.c: the workers page: every registered worker with its heartbeat age, state
 * (running, quiet, quieting, resuming, stale), busy executors, queues, host and pid; quiet and
 * resume buttons. */
#include <stdio.h>
#include <string.h>

#include "http/dash_internal.h"

void cf_dash_page_workers(dash_req *r)
{
    cf_dash_begin(r, "Workers", "/workers");
    FILE *o = r->out;
    cf_worker_entry *ws = NULL;
    size_t n = 0;
    if (cf_workers_list(r->d->queue, r->d->cfg->lease_ms, &ws, &n) != CF_OK) {
        fputs("<p class=\"msg err\">Redis could not be read.</p>", o);
        cf_dash_end(r);
        return;
    }
    size_t live = 0, quiet = 0, busy = 0, conc = 0;
    for (size_t i = 0; i < n; i++) {
        live += ws[i].live;
        quiet += ws[i].live && ws[i].quiet;
        busy += ws[i].live ? (size_t)ws[i].busy : 0;
        conc += ws[i].live ? (size_t)ws[i].concurrency : 0;
    }
    fprintf(o,
            "<div class=cards><div class=card><b id=live-workers>%zu</b>live</div>"
            "<div class=card><b>%zu</b>quiet</div><div class=card><b>%zu/%zu</b>busy "
            "executors</div><div class=card><b>%zu</b>stale</div></div><h2>Registered</h2>",
            live, quiet, busy, conc, n - live);
    fputs("<table id=workers><tr><th>worker</th><th class=n>heartbeat</th><th>state</th>"
          "<th class=n>busy</th><th>queues</th><th>host/pid</th><th></th></tr>",
          o);
    for (size_t i = 0; i < n; i++) {
        const cf_worker_entry *e = &ws[i];
        const char *state = cf_dash_worker_state(e);
        fputs("<tr><td>", o);
        cf_dash_esc(o, e->id);
        fputs("</td><td class=n>", o);
        cf_dash_ago(o, e->age_ms);
        fprintf(o, " ago</td><td class=\"%s\">%s</td><td class=n>", e->live ? "" : "bad", state);
        if (e->has_info)
            fprintf(o, "%d/%d", e->busy, e->concurrency);
        else
            fputs("-", o);
        fputs("</td><td>", o);
        cf_dash_esc(o, e->has_info ? e->queues : "-");
        fputs("</td><td>", o);
        cf_dash_esc(o, e->has_info ? e->host : "-");
        fprintf(o, "/%lld</td><td>", (long long)e->pid);
        if (e->live && e->has_info) {
            const char *fields[] = {"worker", e->id, NULL};
            if (e->quiet_wanted)
                cf_dash_action_button(r, "worker_resume", "Resume", NULL, fields);
            else
                cf_dash_action_button(r, "worker_quiet", "Quiet",
                                      "Quiet this worker (it takes no new work)?", fields);
        }
        fputs("</td></tr>", o);
    }
    if (n == 0)
        fputs("<tr><td colspan=7 class=muted>no worker is registered</td></tr>", o);
    fputs("</table>", o);
    cf_workers_list_free(ws, n);
    cf_dash_end(r);
}

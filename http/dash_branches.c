// SPDX-License-Identifier: MIT
/* http/dash_branches.c: a workflow's branches on its page (http/dash_workflow.c): each branch's
 * state, children spawned and not finished, its children counted by state, and the first
 * children with links to their pages. */
#include <stdio.h>

#include "common/alloc.h"
#include "http/dash_internal.h"
#include "store/branches.h"

#define CHILDREN_SHOWN 50

static void branch_table(dash_req *r, const cf_branch_row *rows, size_t n)
{
    FILE *o = r->out;
    fputs("<h2>Branches</h2><table id=branches><tr><th>branch</th><th>state</th>"
          "<th class=n>spawned</th><th class=n>not finished</th><th>children by state</th></tr>",
          o);
    for (size_t i = 0; i < n; i++) {
        const cf_branch_row *b = &rows[i];
        fputs("<tr><td>", o);
        cf_dash_esc(o, b->name);
        fprintf(o, "</td><td>%s</td><td class=n>%lld</td><td class=n>%lld</td><td>",
                cf_branch_state_name(b->state), (long long)b->spawned, (long long)b->remaining);
        const char *sep = "";
        for (int st = 0; st < CF_WF_STATE_COUNT; st++) {
            if (b->by_state[st] == 0)
                continue;
            fprintf(o, "%s<span class=\"state state-%s\">%s</span> %lld", sep,
                    cf_wf_state_name((cf_wf_state)st), cf_wf_state_name((cf_wf_state)st),
                    (long long)b->by_state[st]);
            sep = ", ";
        }
        fputs("</td></tr>", o);
    }
    fputs("</table>", o);
}

static void children_table(dash_req *r, const cf_wf_row *parent)
{
    FILE *o = r->out;
    cf_wf_list l = {0};
    if (cf_store_children_of(r->d->store, parent->id, 0, CHILDREN_SHOWN, &l) != CF_OK) {
        fputs("<p class=\"msg err\">Its children could not be read.</p>", o);
        return;
    }
    fputs("<h2>Children</h2><table id=children><tr><th>key</th><th>class</th><th>state</th>"
          "</tr>",
          o);
    for (size_t i = 0; i < l.n; i++) {
        const cf_wf_row *c = &l.rows[i];
        const char *st = cf_wf_state_name(c->state);
        fputs("<tr><td><a href=\"/workflow?class=", o);
        cf_dash_url(o, c->wf_class);
        fputs("&amp;key=", o);
        cf_dash_url(o, c->key);
        fputs("\">", o);
        cf_dash_esc(o, c->key);
        fputs("</a></td><td>", o);
        cf_dash_esc(o, c->wf_class);
        fprintf(o, "</td><td><span class=\"state state-%s\">%s</span></td></tr>", st, st);
    }
    fputs("</table>", o);
    if (l.next_after_id > 0) {
        fprintf(o, "<p class=muted>The first %d are shown: <code>chronoforge list --parent ",
                CHILDREN_SHOWN);
        cf_dash_esc(o, parent->key);
        fputs("</code> pages through all of them.</p>", o);
    }
    cf_wf_list_deinit(&l);
}

void cf_dash_branches(dash_req *r, const cf_wf_row *w)
{
    cf_branch_row *rows = NULL;
    size_t n = 0;
    if (cf_store_branches_of(r->d->store, w->id, &rows, &n) != CF_OK) {
        fputs("<p class=\"msg err\">Its branches could not be read.</p>", r->out);
        return;
    }
    if (n > 0) {
        branch_table(r, rows, n);
        children_table(r, w);
    }
    cf_free(rows);
}

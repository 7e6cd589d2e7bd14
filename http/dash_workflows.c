// SPDX-License-Identifier: MIT
/* http/dash_workflows.c: the workflows page: a filter form (the filter table below: adding a
 * filter is one row there and one field of cf_dash_filter), a page of workflows newest first,
 * a link to the next page (keyset: ?before=<last id>), and, for stalled or failed workflows
 * filtered only by state, class and error class, "requeue all matching". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/dash_internal.h"
#include "store/dashboard.h"
#include "store/query.h"

typedef enum { F_TEXT, F_SELECT, F_TIME } filter_kind;

typedef struct filter_def {
    const char *param, *label;
    filter_kind kind;
    const char *const *choices; /* F_SELECT: NULL-terminated */
    bool bulk_ok;               /* a bulk requeue can honour it (store/query.h resumable) */
} filter_def;

static const char *const state_choices[] = {"idle",   "running",   "stalled",
                                            "failed", "completed", NULL};

static const filter_def filters[] = {
    {"state", "state", F_SELECT, state_choices, true},
    {"class", "class", F_TEXT, NULL, true},
    {"key", "key starts with", F_TEXT, NULL, false},
    {"from", "created from (UTC)", F_TIME, NULL, false},
    {"to", "created before (UTC)", F_TIME, NULL, false},
    {"error", "last error class", F_TEXT, NULL, true},
    {"waits", "waits for", F_SELECT, cf_dash_waits, false},
};
#define NFILTERS (sizeof filters / sizeof filters[0])

/* parse_time reads "YYYY-MM-DDTHH:MM[:SS]" (UTC, the form's datetime-local) as Unix ms. */
static bool parse_time(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M", &tm);
    if (end && *end == ':')
        end = strptime(end, ":%S", &tm);
    if (end == NULL || *end != '\0')
        return false;
    *ms = (int64_t)timegm(&tm) * 1000;
    return true;
}

static void form(dash_req *r, const char *const *vals)
{
    FILE *o = r->out;
    fputs("<form method=get action=\"/workflows\" class=filters id=filters>", o);
    for (size_t i = 0; i < NFILTERS; i++) {
        const filter_def *f = &filters[i];
        fprintf(o, "<label>%s", f->label);
        if (f->kind == F_SELECT) {
            fprintf(o, "<select name=%s><option value=\"\">any</option>", f->param);
            for (size_t k = 0; f->choices[k]; k++)
                fprintf(o, "<option%s>%s</option>",
                        vals[i] && strcmp(vals[i], f->choices[k]) == 0 ? " selected" : "",
                        f->choices[k]);
            fputs("</select>", o);
        } else {
            fprintf(o, "<input name=%s%s value=\"", f->param,
                    f->kind == F_TIME ? " type=datetime-local step=1" : "");
            cf_dash_esc(o, vals[i]);
            fputs("\">", o);
        }
        fputs("</label>", o);
    }
    fputs("<button>Filter</button> <a href=\"/workflows\">clear</a></form>", o);
}

static void next_link(dash_req *r, const char *const *vals, int64_t before)
{
    FILE *o = r->out;
    fputs("<p><a id=next-page href=\"/workflows?", o);
    for (size_t i = 0; i < NFILTERS; i++)
        if (vals[i]) {
            fprintf(o, "%s=", filters[i].param);
            cf_dash_url(o, vals[i]);
            fputs("&amp;", o);
        }
    fprintf(o, "before=%lld\">Older →</a></p>", (long long)before);
}

static void table(dash_req *r, const cf_dash_list *l)
{
    FILE *o = r->out;
    fputs("<table id=workflows><tr><th class=n>id</th><th>class / key</th><th>state</th>"
          "<th>queue</th><th>created</th><th>next wake</th><th>last error</th></tr>",
          o);
    for (size_t i = 0; i < l->n; i++) {
        const cf_dash_row *row = &l->rows[i];
        const cf_wf_row *w = &row->wf;
        const char *st = cf_wf_state_name(w->state);
        fprintf(o, "<tr><td class=n>%lld</td><td><a href=\"/workflow?class=", (long long)w->id);
        cf_dash_url(o, w->wf_class);
        fputs("&amp;key=", o);
        cf_dash_url(o, w->key);
        fputs("\">", o);
        cf_dash_esc(o, w->wf_class);
        fputs(" / <span class=key>", o);
        cf_dash_esc(o, w->key);
        fprintf(o, "</span></a></td><td><span class=\"state state-%s\">%s</span></td><td>", st, st);
        cf_dash_esc(o, w->queue);
        fputs("</td><td>", o);
        cf_dash_time(o, w->created_at_ms);
        fputs("</td><td>", o);
        cf_dash_time(o, w->next_wake_at_ms);
        fputs("</td><td>", o);
        if (row->last_error_class) {
            fputs("<code>", o);
            cf_dash_esc(o, row->last_error_class);
            fputs("</code> ", o);
            cf_dash_esc(o, row->last_error_message);
        }
        fputs("</td></tr>", o);
    }
    fputs("</table>", o);
}

void cf_dash_page_workflows(dash_req *r)
{
    cf_dash_begin(r, "Workflows", "/workflows");
    FILE *o = r->out;
    const char *vals[NFILTERS];
    bool bulk_ok = true;
    for (size_t i = 0; i < NFILTERS; i++) {
        vals[i] = cf_dash_arg(r, filters[i].param);
        bulk_ok = bulk_ok && (vals[i] == NULL || filters[i].bulk_ok);
    }
    form(r, vals);
    cf_dash_filter f = {.state = vals[0],
                        .wf_class = vals[1],
                        .key_prefix = vals[2],
                        .error_class = vals[5],
                        .waits = vals[6],
                        .limit = 50};
    const char *before = cf_dash_arg(r, "before");
    if (before)
        f.before_id = strtoll(before, NULL, 10);
    if ((vals[3] && !parse_time(vals[3], &f.from_ms)) ||
        (vals[4] && !parse_time(vals[4], &f.to_ms))) {
        r->status = 400;
        fputs("<p class=\"msg err\">A time is YYYY-MM-DDTHH:MM[:SS] (UTC).</p>", o);
        cf_dash_end(r);
        return;
    }
    cf_dash_list l = {0};
    if (cf_dash_list_workflows(r->d->store, &f, &l) != CF_OK) {
        r->status = 400;
        fputs("<p class=\"msg err\">", o);
        cf_dash_esc(o, cf_store_errstr(r->d->store));
        fputs("</p>", o);
        cf_dash_end(r);
        return;
    }
    if (bulk_ok && vals[0] && cf_wf_state_retryable(cf_wf_state_parse(vals[0])) && l.n > 0) {
        const char *fields[] = {
            "state", vals[0], "class", vals[1] ? vals[1] : "", "error", vals[5] ? vals[5] : "",
            NULL};
        char label[64];
        snprintf(label, sizeof label, "Requeue every matching %s workflow", vals[0]);
        cf_dash_action_button(r, "requeue_matching", label,
                              "Requeue every workflow this filter matches (all pages)?", fields);
    }
    table(r, &l);
    if (l.n == 0 && !l.scan_limited)
        fputs("<p class=muted id=empty>No workflow matches.</p>", o);
    if (l.scan_limited)
        fprintf(o,
                "<p class=muted>This page stopped after reading %d workflows; older ones may "
                "match too.</p>",
                CF_DASH_SCAN_MAX);
    if (l.next_before_id)
        next_link(r, vals, l.next_before_id);
    cf_dash_list_deinit(&l);
    cf_dash_end(r);
}

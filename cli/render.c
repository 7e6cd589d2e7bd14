// SPDX-License-Identifier: MIT
/* cli/render.c: text and JSON rendering of workflows, steps and errors. */
#include "cli/render.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/duration.h"

void cf_render_time(int64_t ms, char *buf, unsigned cap)
{
    if (ms <= 0)
        snprintf(buf, cap, "-");
    else
        cf_clock_format_iso8601(ms, buf, cap);
}

static json_t *time_json(int64_t ms)
{
    char buf[32];
    if (ms <= 0)
        return json_null();
    cf_clock_format_iso8601(ms, buf, sizeof buf);
    return json_string(buf);
}

static json_t *str_json(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The cancel request on w (store/cancel.h): {requested_at, requested_by, reason}, or null. */
static json_t *cancel_json(const cf_wf_row *w)
{
    if (w->cancel_requested_at_ms <= 0)
        return json_null();
    return json_pack("{so ss so}", "requested_at", time_json(w->cancel_requested_at_ms),
                     "requested_by", w->cancel_by, "reason",
                     w->cancel_reason[0] ? json_string(w->cancel_reason) : json_null());
}

static json_t *row_json(const cf_wf_row *w)
{
    json_t *o = json_pack(
        "{sI sI ss ss ss ss si si so so so sO* sO* ss*}", "id", (json_int_t)w->id, "fence",
        (json_int_t)w->fence, "class", w->wf_class, "key", w->key, "state",
        cf_wf_state_name(w->state), "queue", w->queue, "attempt", w->attempt, "crash_count",
        w->crash_count, "created_at", time_json(w->created_at_ms), "completed_at",
        time_json(w->completed_at_ms), "next_wake_at", time_json(w->next_wake_at_ms), "kwargs",
        w->kwargs, "context", w->context, "locked_by", w->locked_by[0] ? w->locked_by : NULL);
    if (o)
        json_object_set_new(o, "cancel", cancel_json(w));
    return o;
}

json_t *cf_render_detail_obj(const cf_wf_detail *d)
{
    json_t *root = row_json(&d->wf);
    json_t *steps = json_array(), *errors = json_array();
    for (size_t i = 0; i < d->steps.n; i++) {
        const cf_step_row *s = &d->steps.rows[i];
        json_array_append_new(steps,
                              json_pack("{ss ss si so so so sO* so so}", "name", s->name, "state",
                                        cf_step_state_name(s->state), "attempts", s->attempts,
                                        "started_at", time_json(s->started_at_ms),
                                        "last_executed_at", time_json(s->last_executed_at_ms),
                                        "completed_at", time_json(s->completed_at_ms), "metadata",
                                        s->metadata, "error_class", str_json(s->error_class),
                                        "error_message", str_json(s->error_message)));
    }
    for (size_t i = 0; i < d->nerrors; i++) {
        const cf_error_row *e = &d->errors[i];
        json_array_append_new(errors, json_pack("{so si ss ss so}", "step", str_json(e->step_name),
                                                "attempt", e->attempt, "error_class",
                                                e->error_class ? e->error_class : "", "message",
                                                e->error_message ? e->error_message : "", "at",
                                                time_json(e->created_at_ms)));
    }
    json_object_set_new(root, "steps", steps);
    json_object_set_new(root, "errors", errors);
    return root;
}

void cf_render_detail_json(FILE *out, const cf_wf_detail *d)
{
    json_t *root = cf_render_detail_obj(d);
    json_dumpf(root, out, JSON_INDENT(2));
    fputc('\n', out);
    json_decref(root);
}

static void print_ms_since(FILE *out, int64_t from, int64_t to)
{
    if (from > 0 && to >= from) {
        char d[32];
        cf_duration_format(to - from, d, sizeof d);
        fprintf(out, " (%s)", d);
    }
}

void cf_render_detail_text(FILE *out, const cf_wf_detail *d)
{
    const cf_wf_row *w = &d->wf;
    char t1[32], t2[32];
    fprintf(out, "%s/%s  state=%s  queue=%s  id=%lld\n", w->wf_class, w->key,
            cf_wf_state_name(w->state), w->queue, (long long)w->id);
    cf_render_time(w->created_at_ms, t1, sizeof t1);
    cf_render_time(w->completed_at_ms, t2, sizeof t2);
    fprintf(out, "  created %s  completed %s", t1, t2);
    print_ms_since(out, w->created_at_ms, w->completed_at_ms);
    fputc('\n', out);
    if (w->next_wake_at_ms) {
        cf_render_time(w->next_wake_at_ms, t1, sizeof t1);
        fprintf(out, "  next wake %s\n", t1);
    }
    if (w->attempt)
        fprintf(out, "  workflow-level attempts: %d\n", w->attempt);
    if (w->cancel_requested_at_ms > 0) {
        cf_render_time(w->cancel_requested_at_ms, t1, sizeof t1);
        fprintf(out, "  cancel requested %s by %s: %s\n", t1, w->cancel_by,
                w->cancel_reason[0] ? w->cancel_reason : "(no reason given)");
    }
    fprintf(out, "steps:\n");
    for (size_t i = 0; i < d->steps.n; i++) {
        const cf_step_row *s = &d->steps.rows[i];
        cf_render_time(s->started_at_ms, t1, sizeof t1);
        fprintf(out, "  %-40s %-9s attempts=%d started %s", s->name, cf_step_state_name(s->state),
                s->attempts, t1);
        print_ms_since(out, s->started_at_ms, s->completed_at_ms);
        if (s->error_class)
            fprintf(out, "  error %s: %s", s->error_class,
                    s->error_message ? s->error_message : "");
        fputc('\n', out);
    }
    if (d->nerrors) {
        fprintf(out, "errors:\n");
        for (size_t i = 0; i < d->nerrors; i++) {
            const cf_error_row *e = &d->errors[i];
            cf_render_time(e->created_at_ms, t1, sizeof t1);
            fprintf(out, "  %s %s attempt=%d %s: %s\n", t1,
                    e->step_name ? e->step_name : "(workflow)", e->attempt,
                    e->error_class ? e->error_class : "", e->error_message ? e->error_message : "");
        }
    }
    char *ctx = json_dumps(w->context, JSON_COMPACT | JSON_SORT_KEYS);
    fprintf(out, "context: %s\n", ctx ? ctx : "{}");
    free(ctx);
}

json_t *cf_render_list_obj(const cf_wf_list *l)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(rows, row_json(&l->rows[i]));
    return json_pack("{so sI}", "workflows", rows, "next_after", (json_int_t)l->next_after_id);
}

void cf_render_list_json(FILE *out, const cf_wf_list *l)
{
    json_t *root = cf_render_list_obj(l);
    json_dumpf(root, out, JSON_INDENT(2));
    fputc('\n', out);
    json_decref(root);
}

void cf_render_list_text(FILE *out, const cf_wf_list *l)
{
    fprintf(out, "%-8s %-24s %-32s %-10s %s\n", "ID", "CLASS", "KEY", "STATE", "CREATED");
    for (size_t i = 0; i < l->n; i++) {
        const cf_wf_row *w = &l->rows[i];
        char t[32];
        cf_render_time(w->created_at_ms, t, sizeof t);
        fprintf(out, "%-8lld %-24s %-32s %-10s %s", (long long)w->id, w->wf_class, w->key,
                cf_wf_state_name(w->state), t);
        if (w->cancel_requested_at_ms > 0) /* who cancelled it and why */
            fprintf(out, "  cancelled by %s: %s", w->cancel_by,
                    w->cancel_reason[0] ? w->cancel_reason : "(no reason given)");
        fputc('\n', out);
    }
    if (l->next_after_id)
        fprintf(out, "(more: --after %lld)\n", (long long)l->next_after_id);
}
